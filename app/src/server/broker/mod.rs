//! The broker-backed provisioner: every instance is a real Kafka endpoint on this host, one
//! `tansu` broker process per instance (`process`), its storage under the console's data
//! directory (`DATA_DIR/brokers/instance-ID/`, owner-only), its port from a configured range.
//! Topics go through a Kafka client (`client`); traffic is read from the broker's storage
//! (`meter`) every few seconds, kept in memory for the page and once a minute in the
//! console's database for metering.

mod client;
pub mod meter;
pub mod probe;
pub mod process;

use super::clock::Clock;
use super::provisioner::{BrokerCheck, Exit, Provisioner, Served, StepDone, StepWork};
use super::store::{self, instances::InstanceRow};
use crate::api::kafka::{LiveTraffic, TopicInfo, TrafficPoint};
use crate::domain::instance_spec::{InstanceSpec, SpecError};
use crate::domain::metering::{Traffic, HOUR};
use crate::domain::operation::OperationKind;
use crate::domain::sizing;
use meter::Counters;
use process::Launch;
use sqlx::SqlitePool;
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// How the console runs brokers (flags of `serve`).
#[derive(Clone, Debug)]
pub struct BrokerSettings {
    /// The `tansu` binary.
    pub bin: PathBuf,
    /// The ports instances get, first to last (inclusive).
    pub ports: (u16, u16),
    /// The host clients are told to connect to (the bootstrap address).
    pub host: String,
}

/// Readings of each broker's traffic this often.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Readings kept in memory for the page (10 minutes).
const LIVE_POINTS: usize = 120;
/// One reading a minute goes to the database for metering.
const PERSIST_EVERY_S: i64 = 60;
const PORT_FILE: &str = "port";

pub const BASIS: &str = "Messages in and bytes in are counted from the broker's records; \
    messages out are counted from consumer groups' committed offsets (consumers that never \
    commit are not seen); bytes out are estimated as messages out times the mean record size; \
    data retained is the broker's storage on disk.";

struct Readings {
    live: VecDeque<(i64, Counters)>,
    persisted_at: i64,
}

pub struct BrokerProvisioner {
    settings: BrokerSettings,
    root: PathBuf,
    /// Where the brokers the console started report their exit (the reaper of each).
    exits: mpsc::UnboundedSender<Exit>,
    exits_receiver: Mutex<Option<mpsc::UnboundedReceiver<Exit>>>,
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    readings: Mutex<HashMap<i64, Readings>>,
    /// Port choice is one at a time (two creates must not take the same port).
    allocating: tokio::sync::Mutex<()>,
}

impl BrokerProvisioner {
    /// Prepares `DATA_DIR/brokers` and starts the traffic readings. Brokers left running by
    /// an earlier console are not touched here: the control loop adopts those that should
    /// serve and stops the others.
    pub async fn open(
        settings: BrokerSettings,
        data_dir: &Path,
        pool: SqlitePool,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<BrokerProvisioner>, String> {
        let root = data_dir.join("brokers");
        make_private_dir(&root)?;
        let (exits, exits_receiver) = mpsc::unbounded_channel();
        let provisioner = Arc::new(BrokerProvisioner {
            settings,
            root,
            exits,
            exits_receiver: Mutex::new(Some(exits_receiver)),
            pool,
            clock,
            readings: Mutex::new(HashMap::new()),
            allocating: tokio::sync::Mutex::new(()),
        });
        spawn_readings(Arc::downgrade(&provisioner));
        Ok(provisioner)
    }

    pub fn dir(&self, instance_id: i64) -> PathBuf {
        self.root.join(format!("instance-{instance_id}"))
    }

    fn port_of(&self, instance_id: i64) -> Option<u16> {
        std::fs::read_to_string(self.dir(instance_id).join(PORT_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The instance's port: the one recorded in its directory, or the first port of the
    /// range that no other instance holds and nothing on the host answers or holds.
    async fn allocate_port(&self, instance_id: i64) -> Result<u16, String> {
        let _one_at_a_time = self.allocating.lock().await;
        if let Some(port) = self.port_of(instance_id) {
            return Ok(port);
        }
        let held: Vec<u16> = std::fs::read_dir(&self.root)
            .map_err(|e| format!("cannot read {}: {e}", self.root.display()))?
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join(PORT_FILE)).ok())
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        let (first, last) = self.settings.ports;
        for port in first..=last {
            if held.contains(&port) || process::answers(port).await {
                continue;
            }
            if std::net::TcpListener::bind(("0.0.0.0", port)).is_err() {
                continue;
            }
            let dir = self.dir(instance_id);
            make_private_dir(&dir)?;
            std::fs::write(dir.join(PORT_FILE), port.to_string())
                .map_err(|e| format!("cannot record the port: {e}"))?;
            return Ok(port);
        }
        Err(format!(
            "no free port left in {first}-{last} (--broker-ports): every port is held by an \
             instance or in use on this host"
        ))
    }

    fn bootstrap(&self, port: u16) -> String {
        format!("{}:{port}", self.settings.host)
    }

    fn recorded_port(&self, instance_id: i64) -> Result<u16, String> {
        self.port_of(instance_id).ok_or_else(|| {
            format!(
                "this instance's broker directory {} has no port recorded (was it removed?)",
                self.dir(instance_id).display()
            )
        })
    }

    /// The live broker of the instance's directory, if one runs.
    fn find(&self, instance_id: i64) -> Option<process::Found> {
        process::find(&self.dir(instance_id), &self.settings.bin)
    }

    /// Adopts the instance's live, answering broker of the configured program, or stops what
    /// is left of one and starts a new one; returns the port and what was done.
    async fn serve(&self, instance_id: i64) -> Result<(u16, Served), String> {
        let dir = self.dir(instance_id);
        let port = self.recorded_port(instance_id)?;
        if let Some(found) = process::find_even_unrecorded(&dir, &self.settings.bin) {
            if found.right_program && process::answers_as_itself(found.pid, port).await {
                // A broker whose pid file was never written (its console was killed just
                // after starting it) is recorded now, so that probes find it.
                std::fs::write(dir.join(process::PID_FILE), found.pid.to_string())
                    .map_err(|e| format!("cannot write the broker's pid file: {e}"))?;
                return Ok((port, Served::Adopted));
            }
            process::stop(std::slice::from_ref(&dir), &self.settings.bin).await;
        }
        let loopback = matches!(self.settings.host.as_str(), "127.0.0.1" | "localhost");
        let pid = process::spawn(
            &self.settings.bin,
            Launch {
                instance_id,
                dir: &dir,
                port,
                listen_host: if loopback { "127.0.0.1" } else { "0.0.0.0" },
                advertised_host: &self.settings.host,
            },
            self.exits.clone(),
        )
        .await?;
        Ok((port, Served::Started(pid)))
    }

    /// Stops the broker after a last reading of its traffic (kept for metering).
    async fn halt(&self, instance_id: i64) {
        if self.find(instance_id).is_some() {
            self.read_traffic(instance_id, true).await;
        }
        process::stop(&[self.dir(instance_id)], &self.settings.bin).await;
        if let Ok(mut readings) = self.readings.lock() {
            readings.remove(&instance_id);
        }
    }

    /// Instances with a broker directory under `DATA_DIR/brokers`.
    fn instance_dirs(&self) -> Vec<i64> {
        std::fs::read_dir(&self.root)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix("instance-")?
                            .parse()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Instances whose broker is alive now.
    fn serving(&self) -> Vec<i64> {
        self.instance_dirs()
            .into_iter()
            .filter(|id| self.find(*id).is_some())
            .collect()
    }

    /// One reading of the broker's counters, kept in memory and (once a minute, or when
    /// `persist`) in the database.
    async fn read_traffic(&self, instance_id: i64, persist: bool) {
        let now = self.clock.unix();
        let last = self
            .readings
            .lock()
            .ok()
            .and_then(|r| r.get(&instance_id).and_then(|r| r.live.back().copied()));
        let (previous, persisted_at) = match last {
            Some((_, counters)) => (counters, None),
            // First reading since this console started: go on from the last stored one.
            None => (
                store::broker_samples::latest(&self.pool, instance_id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                Some(0),
            ),
        };
        let counters = match meter::read(&self.dir(instance_id), previous).await {
            Ok(counters) => counters,
            Err(error) => {
                tracing::debug!(instance = instance_id, %error, "no traffic reading");
                return;
            }
        };
        let due = {
            let Ok(mut readings) = self.readings.lock() else {
                return;
            };
            let entry = readings.entry(instance_id).or_insert(Readings {
                live: VecDeque::new(),
                persisted_at: persisted_at.unwrap_or(0),
            });
            entry.live.push_back((now, counters));
            while entry.live.len() > LIVE_POINTS {
                entry.live.pop_front();
            }
            // Also the first reading of each hour, so that every hour has a reading near
            // its end for metering.
            let due = persist
                || now - entry.persisted_at >= PERSIST_EVERY_S
                || now.div_euclid(HOUR) != entry.persisted_at.div_euclid(HOUR);
            if due {
                entry.persisted_at = now;
            }
            due
        };
        if due {
            if let Err(error) =
                store::broker_samples::insert(&self.pool, instance_id, now, &counters).await
            {
                tracing::warn!(instance = instance_id, %error, "traffic reading not stored");
            }
        }
    }
}

fn make_private_dir(dir: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Reads every running broker's traffic every few seconds, for as long as the provisioner
/// lives.
fn spawn_readings(provisioner: Weak<BrokerProvisioner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(provisioner) = provisioner.upgrade() else {
                return;
            };
            for id in provisioner.serving() {
                provisioner.read_traffic(id, false).await;
            }
        }
    });
}

fn difference(later: &Counters, earlier: &Counters) -> Traffic {
    Traffic {
        bytes_in: later.bytes_in.saturating_sub(earlier.bytes_in),
        bytes_out: later.bytes_out.saturating_sub(earlier.bytes_out),
        bytes_retained: later.bytes_retained,
    }
}

const MIB: u64 = 1024 * 1024;

#[async_trait::async_trait]
impl Provisioner for BrokerProvisioner {
    fn name(&self) -> &'static str {
        "broker"
    }

    async fn run_step(&self, work: &StepWork<'_>) -> Result<StepDone, String> {
        let id = work.instance.id;
        let dir = self.dir(id);
        let detail = |text: String| {
            Ok(StepDone {
                bootstrap: None,
                detail: Some(text),
            })
        };
        match (work.kind, work.step.id) {
            (OperationKind::Create, "allocate-network") => {
                let port = self.allocate_port(id).await?;
                detail(format!("port {port}"))
            }
            (OperationKind::Create, "provision-compute") => {
                let bin = &self.settings.bin;
                match tokio::process::Command::new(bin)
                    .arg("--version")
                    .output()
                    .await
                {
                    Ok(out) if out.status.success() => detail(format!(
                        "{} ({})",
                        String::from_utf8_lossy(&out.stdout).trim(),
                        bin.display()
                    )),
                    Ok(out) => Err(format!(
                        "the broker program {} does not run ({})",
                        bin.display(),
                        out.status
                    )),
                    Err(e) => Err(format!(
                        "the broker program {} cannot be run: {e} (install it with \
                         scripts/setup.sh, or give its path with --broker-bin)",
                        bin.display()
                    )),
                }
            }
            (OperationKind::Create, "attach-storage") => {
                make_private_dir(&dir)?;
                detail(format!(
                    "{} (SQLite, owner-only)",
                    dir.join(meter::STORAGE_FILE).display()
                ))
            }
            (OperationKind::Create | OperationKind::Resume, "start-brokers") => {
                let (port, served) = self.serve(id).await?;
                // The first reading: the traffic shown and metered starts from here.
                self.read_traffic(id, false).await;
                detail(match served {
                    Served::Started(pid) => {
                        format!("one broker process (pid {pid}), answering on port {port}")
                    }
                    Served::Adopted => {
                        format!("the broker already answering on port {port} is kept")
                    }
                })
            }
            (OperationKind::Create, "publish-endpoint") => {
                let port = self
                    .port_of(id)
                    .ok_or("the instance's port was not recorded")?;
                Ok(StepDone {
                    bootstrap: Some(self.bootstrap(port)),
                    detail: None,
                })
            }
            (OperationKind::Scale, "resize-brokers") => detail(format!(
                "{} AKU recorded; this host runs one broker process per instance, whatever \
                 its size",
                work.target_aku
            )),
            (OperationKind::Scale, _) => Ok(StepDone::default()),
            (OperationKind::Delete | OperationKind::Suspend, "stop-brokers") => {
                self.halt(id).await;
                detail("broker stopped".into())
            }
            (OperationKind::Delete, "release-storage") => {
                for suffix in ["", "-wal", "-shm"] {
                    let file = dir.join(format!("{}{suffix}", meter::STORAGE_FILE));
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(format!("cannot remove {}: {e}", file.display())),
                    }
                }
                detail("the broker's data is removed".into())
            }
            (OperationKind::Delete, "release-network") => {
                let port = self.port_of(id);
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("cannot remove {}: {e}", dir.display())),
                }
                detail(match port {
                    Some(port) => format!("port {port} released"),
                    None => "no port was held".into(),
                })
            }
            (kind, step) => Err(format!(
                "the broker provisioner has no step {step} for a {} operation",
                kind.as_str()
            )),
        }
    }

    async fn traffic(
        &self,
        instance: &InstanceRow,
        hour_start: i64,
        _size_aku: u32,
    ) -> Result<Traffic, String> {
        let at = |t| store::broker_samples::at_or_before(&self.pool, instance.id, t);
        let start = at(hour_start).await.map_err(|e| e.to_string())?;
        let end = at(hour_start + HOUR).await.map_err(|e| e.to_string())?;
        let start = start.unwrap_or_default();
        Ok(end.map_or(Traffic::default(), |end| difference(&end, &start)))
    }

    fn traffic_basis(&self) -> &'static str {
        "Data in and data retained are counted from each instance's broker; data out is \
         estimated (messages consumed, by committed offsets, times the mean record size)."
    }

    fn is_real(&self) -> bool {
        true
    }

    fn refuses(&self, spec: &InstanceSpec) -> Option<SpecError> {
        if spec.client_auth != "anonymous" {
            return Some(SpecError {
                field: "client_auth",
                message: "This host's broker (tansu 0.6.0) does not enforce client \
                    authentication: choose Anonymous. The console will not show SASL or mutual \
                    TLS on an endpoint that does not require them."
                    .into(),
            });
        }
        if spec.transit_encryption != "plaintext" {
            return Some(SpecError {
                field: "transit_encryption",
                message: "This host's broker (tansu 0.6.0) serves plaintext only: choose \
                    Plaintext. The console will not show TLS on an endpoint that does not use it."
                    .into(),
            });
        }
        None
    }

    fn supported_security(&self) -> Option<(&'static [&'static str], &'static [&'static str])> {
        Some((&["anonymous"], &["plaintext"]))
    }

    async fn check(&self, instance_id: i64, timeout: Duration) -> Option<BrokerCheck> {
        let port = self.port_of(instance_id);
        let found = self.find(instance_id);
        let answer = match (found, port) {
            (Some(_), Some(port)) => probe::api_versions(port, timeout).await,
            (Some(_), None) => Err("no port recorded".into()),
            (None, _) => Err("no broker process".into()),
        };
        Some(BrokerCheck {
            alive: found.is_some(),
            answer,
            right_program: found.is_none_or(|f| f.right_program),
            port,
            recorded_pid: process::recorded_pid(&self.dir(instance_id)),
        })
    }

    async fn ensure_serving(&self, instance: &InstanceRow) -> Result<Served, String> {
        self.serve(instance.id).await.map(|(_, served)| served)
    }

    async fn ensure_stopped(&self, instance_id: i64) {
        self.halt(instance_id).await;
    }

    fn instances_on_host(&self) -> Vec<i64> {
        self.instance_dirs()
    }

    fn take_exits(&self) -> Option<mpsc::UnboundedReceiver<Exit>> {
        self.exits_receiver.lock().ok()?.take()
    }

    async fn topics(&self, instance: &InstanceRow) -> Result<Vec<TopicInfo>, String> {
        let port = self.port_of(instance.id).ok_or("no port recorded")?;
        client::topics(port).await
    }

    async fn create_topic(
        &self,
        instance: &InstanceRow,
        name: &str,
        partitions: u32,
    ) -> Result<(), String> {
        let port = self.port_of(instance.id).ok_or("no port recorded")?;
        client::create_topic(port, name, partitions).await
    }

    fn live_traffic(&self, instance: &InstanceRow) -> Option<LiveTraffic> {
        let readings = self.readings.lock().ok()?;
        let live = &readings.get(&instance.id)?.live;
        let (_, last) = live.back()?;
        let points = live
            .iter()
            .zip(live.iter().skip(1))
            .filter(|((t0, _), (t1, _))| t1 > t0)
            .map(|((t0, a), (t1, b))| {
                let seconds = (t1 - t0) as f64;
                let rate =
                    |later: u64, earlier: u64| later.saturating_sub(earlier) as f64 / seconds;
                TrafficPoint {
                    at: *t1,
                    messages_in_s: rate(b.messages_in, a.messages_in),
                    bytes_in_s: rate(b.bytes_in, a.bytes_in),
                    messages_out_s: rate(b.messages_out, a.messages_out),
                    bytes_out_s: rate(b.bytes_out, a.bytes_out),
                }
            })
            .collect();
        let (write, read) = sizing::capacity(instance.size());
        Some(LiveTraffic {
            points,
            messages_in_total: last.messages_in,
            bytes_in_total: last.bytes_in,
            messages_out_total: last.messages_out,
            bytes_retained: last.bytes_retained,
            write_capacity_bytes_s: u64::from(write) * MIB,
            read_capacity_bytes_s: u64::from(read) * MIB,
            basis: BASIS.into(),
        })
    }

    async fn shutdown(&self, stop_brokers: bool) {
        // A last reading of each (kept for metering); the brokers go on serving.
        let serving = self.serving();
        for id in &serving {
            self.read_traffic(*id, true).await;
        }
        if stop_brokers {
            let dirs: Vec<PathBuf> = serving.iter().map(|id| self.dir(*id)).collect();
            let stopped = process::stop(&dirs, &self.settings.bin).await;
            tracing::info!(brokers = stopped.len(), "brokers stopped with the console");
        }
    }
}
