//! The broker-backed provisioner: every instance is a real Kafka endpoint on this host, one
//! `nisshi` broker process per instance (`process`), its storage under the console's data
//! directory (`DATA_DIR/brokers/instance-ID/`, owner-only), its port from a configured range,
//! its listener, certificate and SCRAM users kept by `secure`.
//! Topics go through a Kafka client (`client`); traffic is read from the broker's storage
//! (`meter`) every few seconds, kept in memory for the page and once a minute in the
//! console's database for metering.

mod client;
pub mod meter;
pub mod probe;
pub mod process;
pub mod scram;
mod secure;
pub mod tls;
mod topic_config;
pub mod upgrade;

pub use secure::{Endpoint, NO_PUBLIC_ADDRESS};

use super::clock::Clock;
use super::provisioner::{
    BrokerCheck, Exit, Maintenance, Provisioner, Served, StepDone, StepWork, SupportedSecurity,
};
use super::store::{self, instances::InstanceRow};
use crate::domain::instance_spec::{ClientAuth, EndpointExposure, InstanceSpec, SpecError};
use crate::domain::kafka_user::Drift;
use crate::domain::metering::{Traffic, HOUR};
use crate::domain::operation::StepId;
use crate::domain::sizing;
use crate::domain::topic::Retention;
use crate::wire::kafka::{LiveTraffic, TopicInfo, TrafficPoint};
use meter::Counters;
use process::Launch;
use sqlx::SqlitePool;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// How the console runs brokers (flags of `serve`).
#[derive(Clone, Debug)]
pub struct BrokerSettings {
    /// The broker program (`nisshi`).
    pub bin: PathBuf,
    /// The ports instances get, first to last (inclusive).
    pub ports: (u16, u16),
    /// Where instances exposed inside the network listen.
    pub private: Listener,
    /// Where internet-facing instances listen; none configured: such instances are refused.
    pub public: Option<Listener>,
    /// How often each broker applies its topics' retention (its maintenance pass).
    pub maintenance_every: Duration,
}

/// nisshi's own default maintenance interval.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);

/// One exposure's listener: the address brokers bind, and the host name or address clients
/// are told to use (in the bootstrap address and the TLS certificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub bind: IpAddr,
    pub host: String,
}

impl Listener {
    /// Loopback only: the default, reachable from this host alone.
    pub fn loopback() -> Listener {
        Listener {
            bind: IpAddr::from([127, 0, 0, 1]),
            host: "127.0.0.1".into(),
        }
    }
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
    /// The environment's certificate authority, loaded (or made) on first need.
    authority: tokio::sync::OnceCell<Arc<tls::Authority>>,
    /// Instances whose broker must restart to cut connections of users it no longer has
    /// (kept until a restart succeeds, so that a failed one is tried again).
    cut_pending: Mutex<std::collections::HashSet<i64>>,
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
            authority: tokio::sync::OnceCell::new(),
            cut_pending: Mutex::new(std::collections::HashSet::new()),
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
            let loopback = SocketAddr::from(([127, 0, 0, 1], port));
            if held.contains(&port) || process::answers(loopback).await {
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

    /// Adopts the instance's live, answering broker when it runs the configured program with
    /// the endpoint the instance wants, or stops what is left of one and starts a new one.
    /// Its certificate is issued first when due (a new one means a restart: the broker
    /// reads it only at start) and the console's own user made when missing.
    ///
    /// The users of a SCRAM instance are written into its storage before the broker starts
    /// (whoever logs in first meets the console's set; a new storage gets them as soon as
    /// the broker has made its tables) and again once it answers; what differed is returned.
    async fn serve(&self, row: &InstanceRow) -> Result<(Endpoint, Served, Vec<Drift>), String> {
        let dir = self.dir(row.id);
        let endpoint = self.wanted_endpoint(row)?;
        let reissued = if endpoint.tls {
            self.ensure_certificate(row, &endpoint).await?
        } else {
            None
        };
        if endpoint.scram {
            self.ensure_console_user(row).await?;
        }
        let target = self.probe_target(&endpoint).await?;
        if let Some(found) = process::find_even_unrecorded(&dir, &self.settings.bin) {
            let as_wanted =
                reissued.is_none() && secure::recorded_endpoint(&dir).as_ref() == Some(&endpoint);
            if found.right_program
                && as_wanted
                && process::answers_as_itself(found.pid, &target).await
            {
                // A broker whose pid file was never written (its console was killed just
                // after starting it) is recorded now, so that probes find it.
                std::fs::write(dir.join(process::PID_FILE), found.pid.to_string())
                    .map_err(|e| format!("cannot write the broker's pid file: {e}"))?;
                let drift = self.users_written(row, &endpoint).await?;
                return Ok((endpoint, Served::Adopted, drift));
            }
            process::stop(std::slice::from_ref(&dir), &self.settings.bin).await;
        }
        // No broker has the storage open now: a file tansu 0.6.0 wrote is brought to
        // nisshi's schema before nisshi opens it (once; a no-op on a current file).
        if let upgrade::Migration::Migrated { headers } =
            upgrade::migrate_storage(&dir.join(meter::STORAGE_FILE)).await?
        {
            tracing::info!(
                instance = row.id,
                headers,
                "broker storage migrated from tansu 0.6.0"
            );
        }
        let mut drift = Vec::new();
        if endpoint.scram && self.storage_ready(row.id).await {
            drift = self.sync_users(row).await?;
        }
        secure::record_endpoint(&dir, &endpoint)?;
        let pid = process::spawn(
            &self.settings.bin,
            Launch {
                instance_id: row.id,
                dir: &dir,
                port: endpoint.port,
                listen: endpoint.bind,
                advertised_host: &endpoint.host,
                authentication: endpoint.scram,
                tls: endpoint.tls,
                maintenance_every: self.settings.maintenance_every,
                probe: &target,
            },
            self.exits.clone(),
        )
        .await?;
        let after = self.users_written(row, &endpoint).await?;
        drift.extend(after);
        Ok((endpoint, Served::Started(pid), drift))
    }

    /// Whether the broker's storage has its tables and cluster (made at its first start).
    async fn storage_ready(&self, instance_id: i64) -> bool {
        secure::cluster_registered(&self.dir(instance_id), instance_id).await
    }

    /// Writes a SCRAM instance's users into its answering broker's storage; a broker that
    /// has just made its storage may take a moment to register its cluster.
    async fn users_written(
        &self,
        row: &InstanceRow,
        endpoint: &Endpoint,
    ) -> Result<Vec<Drift>, String> {
        if !endpoint.scram {
            return Ok(Vec::new());
        }
        for _ in 0..20 {
            if self.storage_ready(row.id).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.sync_users(row).await
    }

    /// How the console's own client reaches the instance: its bootstrap address, TLS trusting
    /// the console's authority, and the console's SCRAM user.
    async fn reach(&self, row: &InstanceRow) -> Result<client::Reach, String> {
        let endpoint = self.wanted_endpoint(row)?;
        let tls = if endpoint.tls {
            Some(self.authority().await?.client_config())
        } else {
            None
        };
        let login = if endpoint.scram {
            Some(self.console_login(row.id)?)
        } else {
            None
        };
        Ok(client::Reach {
            bootstrap: endpoint.bootstrap(),
            tls,
            login,
        })
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
    /// `persist`) in the database. False when the storage could not be read.
    async fn read_traffic(&self, instance_id: i64, persist: bool) -> bool {
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
                return false;
            }
        };
        let due = {
            let Ok(mut readings) = self.readings.lock() else {
                return false;
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
        true
    }
}

const SASL_PLAIN_REFUSED: &str = "This host's broker (nisshi 0.8.1) offers SASL/SCRAM only, \
    not SASL/PLAIN: choose SASL/SCRAM (SHA-512 or SHA-256 per user).";
const MTLS_REFUSED: &str = "This host's broker (nisshi 0.8.1) does not verify client \
    certificates: choose SASL/SCRAM over TLS. The console will not show mutual TLS on an \
    endpoint that does not require it.";

/// What was done, and what else was found differing on the broker (a user a client added).
fn with_found(done: &str, drift: &[Drift]) -> String {
    let unknown: Vec<String> = drift
        .iter()
        .filter(|d| matches!(d, Drift::Unknown { .. }))
        .map(Drift::describe)
        .collect();
    if unknown.is_empty() {
        done.to_string()
    } else {
        format!("{done}; also removed: {}", unknown.join("; "))
    }
}

/// How the step reports the security in force.
fn security_said(endpoint: &Endpoint) -> String {
    match (endpoint.scram, endpoint.tls) {
        (true, true) => "; SASL/SCRAM and TLS required".into(),
        (true, false) => "; SASL/SCRAM required, plaintext".into(),
        (false, true) => "; TLS, no client authentication".into(),
        (false, false) => "; plaintext, no client authentication".into(),
    }
}

async fn certificate_due(
    pool: &SqlitePool,
    instance_id: i64,
    endpoint: &Endpoint,
    now: i64,
) -> Result<bool, String> {
    let issued = store::kafka_security::certificate(pool, instance_id)
        .await
        .map_err(|e| format!("cannot read the instance's certificate record: {e}"))?;
    Ok(
        crate::domain::certificate::due(issued.as_ref(), &endpoint.certificate_names(), now)
            .is_some(),
    )
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
        match work.step.id {
            StepId::AllocateNetwork => {
                let port = self.allocate_port(id).await?;
                detail(format!("port {port}"))
            }
            StepId::ProvisionCompute => {
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
            StepId::AttachStorage => {
                make_private_dir(&dir)?;
                detail(format!(
                    "{} (SQLite, owner-only)",
                    dir.join(meter::STORAGE_FILE).display()
                ))
            }
            StepId::StartBrokers => {
                let (endpoint, served, drift) = self.serve(work.instance).await?;
                // The first reading: the traffic shown and metered starts from here. A new
                // broker creates its tables just after it answers: give it a moment.
                for _ in 0..20 {
                    if self.read_traffic(id, false).await {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let mut said = match served {
                    Served::Started(pid) => format!(
                        "one broker process (pid {pid}), answering on {}",
                        endpoint.bootstrap()
                    ),
                    Served::Adopted => format!(
                        "the broker already answering on {} is kept",
                        endpoint.bootstrap()
                    ),
                };
                said.push_str(&security_said(&endpoint));
                if !drift.is_empty() {
                    let users: Vec<String> = drift.iter().map(Drift::describe).collect();
                    said.push_str(&format!("; users written: {}", users.join("; ")));
                }
                detail(said)
            }
            StepId::PublishEndpoint => {
                let endpoint = self.wanted_endpoint(work.instance)?;
                Ok(StepDone {
                    bootstrap: Some(endpoint.bootstrap()),
                    detail: None,
                })
            }
            StepId::ResizeBrokers => detail(format!(
                "{} AKU recorded; this host runs one broker process per instance, whatever \
                 its size",
                work.target_aku
            )),
            StepId::PlanCapacity | StepId::RebalancePartitions => Ok(StepDone::default()),
            StepId::StopBrokers => {
                self.halt(id).await;
                detail("broker stopped".into())
            }
            StepId::ReleaseStorage => {
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
            StepId::ReleaseNetwork => {
                let port = self.port_of(id);
                store::kafka_security::forget_instance(&self.pool, id)
                    .await
                    .map_err(|e| format!("cannot remove the instance's Kafka users: {e}"))?;
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
        let refuse = |field, message: &str| {
            Some(SpecError {
                field,
                message: message.into(),
            })
        };
        match spec.client_auth {
            ClientAuth::Anonymous | ClientAuth::SaslScram => {}
            ClientAuth::SaslPlain => return refuse("client_auth", SASL_PLAIN_REFUSED),
            ClientAuth::Mtls => return refuse("client_auth", MTLS_REFUSED),
        }
        if spec.endpoint_exposure == EndpointExposure::Internet && self.settings.public.is_none() {
            return refuse("endpoint_exposure", NO_PUBLIC_ADDRESS);
        }
        None
    }

    fn supported_security(&self) -> Option<SupportedSecurity> {
        Some(SupportedSecurity {
            client_auth: vec![
                ("anonymous", None),
                ("sasl_scram", None),
                ("sasl_plain", Some(SASL_PLAIN_REFUSED)),
                ("mtls", Some(MTLS_REFUSED)),
            ],
            transit_encryption: vec![("tls", None), ("plaintext", None)],
            internet: match self.settings.public {
                Some(_) => None,
                None => Some(NO_PUBLIC_ADDRESS),
            },
        })
    }

    async fn check(&self, instance_id: i64, timeout: Duration) -> Option<BrokerCheck> {
        let dir = self.dir(instance_id);
        let port = self.port_of(instance_id);
        let found = self.find(instance_id);
        // Probed as it was started (TLS or not, on its address).
        let started_as = secure::recorded_endpoint(&dir);
        let answer = match (found, port, started_as) {
            (Some(_), _, Some(endpoint)) => match self.probe_target(&endpoint).await {
                Ok(target) => probe::api_versions(&target, timeout).await,
                Err(e) => Err(e),
            },
            (Some(_), Some(port), None) => {
                let target = probe::Target {
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    tls: None,
                };
                probe::api_versions(&target, timeout).await
            }
            (Some(_), None, None) => Err("no port recorded".into()),
            (None, _, _) => Err("no broker process".into()),
        };
        Some(BrokerCheck {
            alive: found.is_some(),
            answer,
            right_program: found.is_none_or(|f| f.right_program),
            port,
            recorded_pid: process::recorded_pid(&dir),
        })
    }

    async fn ensure_serving(&self, instance: &InstanceRow) -> Result<Served, String> {
        self.serve(instance).await.map(|(_, served, _)| served)
    }

    async fn maintain(&self, instance: &InstanceRow) -> Result<Vec<Maintenance>, String> {
        let endpoint = match self.wanted_endpoint(instance) {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                // Its exposure is no longer configured (the public address was removed): a
                // broker left on the old address would be exposed where nothing says so.
                self.halt(instance.id).await;
                return Err(format!("broker stopped: {reason}"));
            }
        };
        let dir = self.dir(instance.id);
        let mut done = Vec::new();
        // A certificate due, or a broker started with another endpoint (the addresses of
        // this console changed): serving again restarts it with what it should have.
        let due = endpoint.tls
            && certificate_due(&self.pool, instance.id, &endpoint, self.clock.unix()).await?;
        let mut drift = Vec::new();
        if due || secure::recorded_endpoint(&dir).as_ref() != Some(&endpoint) {
            let started = std::time::Instant::now();
            self.read_traffic(instance.id, true).await;
            let (_, served, found) = self.serve(instance).await?;
            drift = found;
            if let Served::Started(pid) = served {
                done.push(Maintenance::Restarted(format!(
                    "{} (pid {pid}), answering again after {} ms",
                    if due {
                        "restarted to load its new certificate"
                    } else {
                        "restarted with the endpoint this console now configures"
                    },
                    started.elapsed().as_millis()
                )));
            }
        }
        // The address clients are told follows the configured listener (the certificate and
        // the broker's advertised address already do, by the restart above).
        if !instance.bootstrap.is_empty() && instance.bootstrap != endpoint.bootstrap() {
            store::instances::change_bootstrap(
                &self.pool,
                instance.id,
                &endpoint.bootstrap(),
                self.clock.unix(),
            )
            .await
            .map_err(|e| format!("cannot record the new bootstrap address: {e}"))?;
        }
        if endpoint.scram {
            self.ensure_console_user(instance).await?;
            drift.extend(self.sync_users(instance).await?);
            if !drift.is_empty() {
                done.push(Maintenance::UsersRestored(
                    drift.iter().map(Drift::describe).collect(),
                ));
            }
            let cut = {
                let mut pending = self.cut_pending.lock().map_err(|e| e.to_string())?;
                if drift.iter().any(Drift::may_have_sessions) {
                    pending.insert(instance.id);
                }
                pending.contains(&instance.id)
            };
            if cut {
                // A user removed or given another password behind the console's back (or a
                // change of the console's that was not applied) may have connections open:
                // the broker checks credentials only at login, so a restart cuts them.
                let started = std::time::Instant::now();
                self.read_traffic(instance.id, true).await;
                process::stop(std::slice::from_ref(&dir), &self.settings.bin).await;
                match self.serve(instance).await {
                    Ok((_, served, _)) => {
                        if let Ok(mut pending) = self.cut_pending.lock() {
                            pending.remove(&instance.id);
                        }
                        if let Served::Started(pid) = served {
                            done.push(Maintenance::Restarted(format!(
                                "restarted to cut the connections of users it no longer has \
                                 (pid {pid}), answering again after {} ms",
                                started.elapsed().as_millis()
                            )));
                        }
                    }
                    // What was put right is still reported; the restart is tried again at
                    // the next pass (or the loop starts the broker, as for any stopped one).
                    Err(reason) => done.push(Maintenance::Restarted(format!(
                        "a restart to cut the connections of users it no longer has failed \
                         ({reason}); tried again"
                    ))),
                }
            }
        }
        Ok(done)
    }

    async fn apply_users(
        &self,
        instance: &InstanceRow,
        cut_sessions: bool,
    ) -> Result<String, String> {
        if instance.client_auth != ClientAuth::SaslScram {
            return Ok(String::new());
        }
        let running = self.find(instance.id).is_some();
        if !running {
            // Taken from the storage at the broker's next start (written before it starts).
            if self.storage_ready(instance.id).await {
                self.sync_users(instance).await?;
            }
            return Ok("the broker takes it when it starts".into());
        }
        if !cut_sessions {
            let drift = self.sync_users(instance).await?;
            return Ok(with_found("written to the broker", &drift));
        }
        // The broker checks a password only at login: connections already open go on. It is
        // stopped first, then the users are written, then it starts again: no client can
        // log in (or put a user back) in between, and every open connection is cut.
        let started = std::time::Instant::now();
        self.read_traffic(instance.id, true).await;
        process::stop(&[self.dir(instance.id)], &self.settings.bin).await;
        let (_, _, drift) = self.serve(instance).await?;
        let done = format!(
            "written to the broker; its open connections were cut (restart, serving again \
             after {} ms)",
            started.elapsed().as_millis()
        );
        Ok(with_found(&done, &drift))
    }

    async fn ca_certificate(&self) -> Result<String, String> {
        Ok(self.authority().await?.cert_pem().to_string())
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
        let mut topics = client::topics(&self.reach(instance).await?).await?;
        let set = topic_config::retentions(&self.dir(instance.id), instance.id).await?;
        for topic in &mut topics {
            topic.retention = Retention::describe_ms(set.get(&topic.name).copied());
        }
        Ok(topics)
    }

    async fn create_topic(
        &self,
        instance: &InstanceRow,
        name: &str,
        partitions: u32,
        retention_ms: Option<i64>,
    ) -> Result<(), String> {
        client::create_topic(&self.reach(instance).await?, name, partitions).await?;
        if let Some(ms) = retention_ms {
            topic_config::set_retention(&self.dir(instance.id), instance.id, name, ms).await?;
        }
        Ok(())
    }

    async fn set_topic_retention(
        &self,
        instance: &InstanceRow,
        name: &str,
        retention_ms: i64,
    ) -> Result<(), String> {
        topic_config::set_retention(&self.dir(instance.id), instance.id, name, retention_ms).await
    }

    async fn delete_topic(&self, instance: &InstanceRow, name: &str) -> Result<(), String> {
        client::delete_topic(&self.reach(instance).await?, name).await
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
