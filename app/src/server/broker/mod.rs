//! The broker-backed provisioner: every instance is a real Kafka endpoint on this host, one
//! `nisshi` broker process per instance (`process`), its storage under the console's data
//! directory (`DATA_DIR/brokers/instance-ID/`, owner-only), its port from a configured range,
//! its listener, certificate and SCRAM users kept by `secure`.
//! Topics go through a Kafka client (`client`); traffic is read from the broker's storage
//! (`meter`) every few seconds, kept in memory for the page and once a minute in the
//! console's database for metering.

use crate::server::provisioner::ProvisionError;
use anyhow::{anyhow, Context};
mod client;
pub mod meter;
mod ports;
pub mod probe;
pub mod process;
mod readings;
pub mod scram;
mod secure;
mod serve;
mod steps;
pub mod tls;
mod topic_config;
pub mod upgrade;

pub use readings::BASIS;
pub(crate) use secure::write_private;
pub use secure::{Endpoint, NO_PUBLIC_ADDRESS};

use super::clock::Clock;
use super::provisioner::{
    reason, BrokerCheck, Exit, Maintenance, Provisioner, Served, StepDone, StepWork,
    SupportedSecurity,
};
use super::store::{self, instances::InstanceRow};
use crate::domain::instance_spec::{ClientAuth, EndpointExposure, InstanceSpec, SpecError};
use crate::domain::kafka_user::Drift;
use crate::domain::metering::Traffic;
use crate::domain::operation::StepId;
use crate::domain::topic::Retention;
use crate::wire::kafka::{LiveTraffic, TopicInfo};
use readings::{spawn_readings, Readings};
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steps::with_found;
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
    ) -> Result<Arc<BrokerProvisioner>, ProvisionError> {
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

    /// The live broker of the instance's directory, if one runs.
    fn find(&self, instance_id: i64) -> Option<process::Found> {
        process::find(&self.dir(instance_id), &self.settings.bin)
    }

    /// How the console's own client reaches the instance: its bootstrap address, TLS trusting
    /// the console's authority, and the console's SCRAM user.
    async fn reach(&self, row: &InstanceRow) -> Result<client::Reach, ProvisionError> {
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
}

const SASL_PLAIN_REFUSED: &str = "This host's broker (nisshi 0.8.1) offers SASL/SCRAM only, \
    not SASL/PLAIN: choose SASL/SCRAM (SHA-512 or SHA-256 per user).";
const MTLS_REFUSED: &str = "This host's broker (nisshi 0.8.1) does not verify client \
    certificates: choose SASL/SCRAM over TLS. The console will not show mutual TLS on an \
    endpoint that does not require it.";

pub(crate) fn make_private_dir(dir: &Path) -> Result<(), ProvisionError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

#[async_trait::async_trait]
impl Provisioner for BrokerProvisioner {
    fn name(&self) -> &'static str {
        "broker"
    }

    async fn run_step(&self, work: &StepWork<'_>) -> Result<StepDone, ProvisionError> {
        self.step(work).await
    }

    async fn traffic(
        &self,
        instance: &InstanceRow,
        hour_start: i64,
        _size_aku: u32,
    ) -> Result<Traffic, ProvisionError> {
        self.hour_traffic(instance, hour_start).await
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
            (Some(_), None, None) => Err(anyhow!("no port recorded")),
            (None, _, _) => Err(anyhow!("no broker process")),
        };
        Some(BrokerCheck {
            alive: found.is_some(),
            answer: answer.map_err(|e| reason(&e)),
            right_program: found.is_none_or(|f| f.right_program),
            port,
            recorded_pid: process::recorded_pid(&dir),
        })
    }

    async fn ensure_serving(&self, instance: &InstanceRow) -> Result<Served, ProvisionError> {
        self.serve(instance).await.map(|(_, served, _)| served)
    }

    async fn maintain(&self, instance: &InstanceRow) -> Result<Vec<Maintenance>, ProvisionError> {
        self.maintenance(instance).await
    }

    async fn apply_users(
        &self,
        instance: &InstanceRow,
        cut_sessions: bool,
    ) -> Result<String, ProvisionError> {
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

    async fn ca_certificate(&self) -> Result<String, ProvisionError> {
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

    async fn topics(&self, instance: &InstanceRow) -> Result<Vec<TopicInfo>, ProvisionError> {
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
    ) -> Result<(), ProvisionError> {
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
    ) -> Result<(), ProvisionError> {
        topic_config::set_retention(&self.dir(instance.id), instance.id, name, retention_ms).await
    }

    async fn delete_topic(&self, instance: &InstanceRow, name: &str) -> Result<(), ProvisionError> {
        client::delete_topic(&self.reach(instance).await?, name).await
    }

    fn live_traffic(&self, instance: &InstanceRow) -> Option<LiveTraffic> {
        self.live(instance)
    }

    fn latest_reading(&self, instance_id: i64) -> Option<meter::Counters> {
        let readings = self.readings.lock().ok()?;
        readings
            .get(&instance_id)?
            .live
            .back()
            .map(|(_, counters)| *counters)
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
