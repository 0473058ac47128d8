//! The provisioner: the work behind each step of an operation (`domain::operation`), behind
//! one trait so that a cloud or broker-backed provisioner plugs in where the simulated one is.

use super::store::broker_samples::Counters;
use super::store::instances::InstanceRow;
use crate::domain::instance_spec::{EndpointExposure, InstanceSpec, SpecError, TransitEncryption};
use crate::domain::metering::Traffic;
use crate::domain::offset_reset::{ResetPreview, ResetSpec};
use crate::domain::operation::{OperationKind, Step, StepId};
use crate::wire::groups::{GroupDetail, GroupSummary};
use crate::wire::kafka::{LiveTraffic, TopicInfo};
use std::time::Duration;

/// A node the console started that exited: which instance, its pid, and how (exit status).
#[derive(Debug, Clone)]
pub struct Exit {
    pub instance_id: i64,
    pub pid: i32,
    pub how: String,
}

/// Why the provisioner could not do something: what it was doing, with every cause under it
/// (the I/O, SQL, TLS or Kafka error that stopped it), kept as a chain rather than flattened
/// into a string where it happened.
pub type ProvisionError = anyhow::Error;

/// A broker's refusal that is about the topic named (the page shows it next to the topic's
/// field): told apart from other failures by its type, not its words.
#[derive(Debug, thiserror::Error)]
pub enum TopicRefusal {
    #[error("A topic named {0} exists already.")]
    Exists(String),
    #[error("There is no topic named {0}.")]
    Missing(String),
}

/// A cluster's refusal about a consumer group or its reset (the page shows it next to the
/// field named): told apart from other failures by its type, not its words.
#[derive(Debug, thiserror::Error)]
pub enum GroupRefusal {
    /// The group has active members: its offsets cannot be reset, nor the group deleted.
    #[error("{0}")]
    NotEmpty(String),
    #[error("There is no consumer group {0}.")]
    Missing(String),
    /// The reset's rule refused it (`domain::offset_reset`), naming the field.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// A request the cluster's state refuses, naming the field (an offset past a partition's
/// end, a partition the topic does not have).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FieldRefusal {
    pub field: &'static str,
    pub message: String,
}

/// The words an operator reads for a provisioner's error (on the instance, in a form's
/// notice, in the log): what it was doing, then each cause, "starting the broker: cannot
/// write …: Permission denied (os error 13)".
pub fn reason(error: &ProvisionError) -> String {
    format!("{error:#}")
}

/// What the control loop sees of an instance's broker in one probe.
#[derive(Debug, Clone)]
pub struct BrokerCheck {
    /// A live process is this instance's broker (pid file, working directory, command line).
    pub alive: bool,
    /// The answer to a Kafka `ApiVersions` request (only asked when alive).
    pub answer: Result<(), String>,
    /// It runs the configured broker program.
    pub right_program: bool,
    pub port: Option<u16>,
    /// The pid the instance's pid file names, alive or not.
    pub recorded_pid: Option<i32>,
}

/// What [`Provisioner::ensure_serving`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// A live, answering broker was there already and is kept (no restart).
    Adopted,
    /// A broker was started (pid).
    Started(i32),
}

/// What the control loop did to keep a serving instance as it should be (it audits each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Maintenance {
    /// The broker was restarted (a new certificate, another endpoint): why, and the gap.
    Restarted(String),
    /// The broker's users differed from the console's and were put back: what differed.
    UsersRestored(Vec<String>),
    /// Certificates were issued again (near their end, or for new names): which, and why.
    CertificatesRenewed(Vec<String>),
    /// A step of a rolling restart (one node restarted onto new files), or its end.
    Rolled(String),
    /// The cluster's access rules differed from the console's and were put back.
    AclsRestored(String),
}

/// The security settings a provisioner can put in force: each choice of the create form,
/// with the reason when it is refused; and why an internet endpoint is refused, if it is.
#[derive(Debug, Clone)]
pub struct SupportedSecurity {
    pub client_auth: Vec<(&'static str, Option<&'static str>)>,
    pub transit_encryption: Vec<(&'static str, Option<&'static str>)>,
    pub internet: Option<&'static str>,
}

/// What the simulated provisioner answers where a real broker is needed.
pub const NOT_REAL: &str = "This console runs the simulated provisioner (--provisioner \
    simulated): no Kafka broker serves this instance, so it has no topics or traffic to show.";

/// One step of one operation, as handed to the provisioner.
pub struct StepWork<'a> {
    pub instance: &'a InstanceRow,
    pub kind: OperationKind,
    pub step: &'static Step,
    /// 0-based position of the step in the operation.
    pub index: usize,
    /// 1 the first time; more when a restart cut the step off and it runs again.
    pub attempt: i64,
    /// The operation is a retry of a failed one (started from `abnormal`).
    pub retry: bool,
    /// The size the instance has when the operation succeeds.
    pub target_aku: u32,
}

/// What a completed step reports.
#[derive(Debug, Default)]
pub struct StepDone {
    /// The instance's bootstrap address, once the provisioner knows it.
    pub bootstrap: Option<String>,
    pub detail: Option<String>,
}

/// The work of each step. Implementations must make every step idempotent: a step that was
/// cut off by a restart (the console records a step only once it returns) runs again.
#[async_trait::async_trait]
pub trait Provisioner: Send + Sync {
    /// A short name for logs and the README ("simulated", "kafka").
    fn name(&self) -> &'static str;

    /// Does the step. An `Err` is the reason the operator reads on the instance.
    async fn run_step(&self, work: &StepWork<'_>) -> Result<StepDone, ProvisionError>;

    /// The instance's traffic over the whole hour starting at `hour_start`, when it was
    /// `size_aku` large (metering counts the billed part of the hour). Estimated figures are
    /// allowed; [`Provisioner::traffic_basis`] says so.
    async fn traffic(
        &self,
        instance: &InstanceRow,
        hour_start: i64,
        size_aku: u32,
    ) -> Result<Traffic, ProvisionError>;

    /// How the traffic figures are obtained, which are counted and which estimated (the usage
    /// page says so).
    fn traffic_basis(&self) -> &'static str;

    /// True when a Kafka client can connect to the instances (a real broker serves them).
    fn is_real(&self) -> bool {
        false
    }

    /// A setting of a new instance this provisioner cannot put in force, with the field and
    /// why. The console refuses such an instance rather than show a setting that is not true.
    fn refuses(&self, _spec: &InstanceSpec) -> Option<SpecError> {
        None
    }

    /// The choices of the create form this provisioner can put in force (`None`: all).
    fn supported_security(&self) -> Option<SupportedSecurity> {
        None
    }

    /// What runs for the instance on the data plane now, probed with a Kafka request that
    /// may take `timeout`. `None`: this provisioner runs nothing outside the console.
    async fn check(&self, _instance_id: i64, _timeout: Duration) -> Option<BrokerCheck> {
        None
    }

    /// Makes the instance served: adopts its live, answering broker of the configured
    /// program, or stops whatever is left of one and starts a new one. Idempotent.
    async fn ensure_serving(&self, _instance: &InstanceRow) -> Result<Served, ProvisionError> {
        Ok(Served::Adopted)
    }

    /// Stops the instance's broker if one runs (SIGTERM, then SIGKILL). Its data stays.
    async fn ensure_stopped(&self, _instance_id: i64) {}

    /// Instances that have something on this host (a broker directory), whatever the
    /// database says: the control loop also looks at these, so nothing runs unwatched.
    fn instances_on_host(&self) -> Vec<i64> {
        Vec::new()
    }

    /// Brokers the console started that exited (once; the control loop takes it).
    fn take_exits(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Exit>> {
        None
    }

    /// Keeps a serving instance as it should be: its certificate current, its endpoint the
    /// configured one, its users the console's. Called by the control loop, under the
    /// instance's lock; returns what it had to do.
    async fn maintain(&self, _instance: &InstanceRow) -> Result<Vec<Maintenance>, ProvisionError> {
        Ok(Vec::new())
    }

    /// Puts the console's users of the instance in force now (after a change in the console).
    /// With `cut_sessions`, connections opened with credentials that are no longer valid are
    /// cut too. Returns what was done, for the audit entry.
    async fn apply_users(
        &self,
        _instance: &InstanceRow,
        _cut_sessions: bool,
    ) -> Result<String, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// A page of a topic's messages ([`FieldRefusal`] naming the field the cluster's state
    /// refuses).
    async fn read_messages(
        &self,
        _instance: &InstanceRow,
        _browse: &crate::domain::message_browse::Browse,
    ) -> Result<crate::wire::messages::MessagePage, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// Writes a test message (as the cluster's super user); answers its offset
    /// ([`FieldRefusal`] for a topic or partition that does not exist).
    async fn write_test_message(
        &self,
        _instance: &InstanceRow,
        _message: &crate::domain::test_message::TestMessage,
        _now_ms: i64,
    ) -> Result<i64, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// Makes the cluster's access rules exactly the console's now (after a change in the
    /// console). Returns what was done, for the page.
    async fn apply_acls(&self, _instance: &InstanceRow) -> Result<String, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// A new or rotated user's credential, for brokers that derive their own keys (Kafka's
    /// AlterUserScramCredentials takes the salt, the iterations and the salted password, which
    /// is password-equivalent: sent once, never kept). Brokers that take the console's
    /// verifiers ([`Provisioner::apply_users`]) have nothing to do here.
    async fn put_credential(
        &self,
        _instance: &InstanceRow,
        _username: &str,
        _mechanism: crate::domain::kafka_user::Mechanism,
        _verifier: &crate::domain::kafka_user::Verifier,
        _salted_password: &[u8],
    ) -> Result<(), ProvisionError> {
        Ok(())
    }

    /// A mutual TLS user's client certificate for `instance`, its key made for this one
    /// download (see [`super::kafka::tls::Authority::issue_user`]).
    async fn issue_user_certificate(
        &self,
        _instance: &InstanceRow,
        _username: &str,
        _now: i64,
    ) -> Result<super::kafka::tls::ServerCertificate, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// The certificate of the authority that signs the instances' TLS certificates (PEM).
    async fn ca_certificate(&self) -> Result<String, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// The Admin client of a Kafka-cluster instance (its internal listener, the console's
    /// certificate), for moving data into it; `None` where there is no cluster.
    async fn admin_client(
        &self,
        _instance: &InstanceRow,
    ) -> Result<Option<byoc_engine::admin::AdminClient>, ProvisionError> {
        Ok(None)
    }

    async fn delete_topic(
        &self,
        _instance: &InstanceRow,
        _name: &str,
    ) -> Result<(), ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    async fn topics(&self, _instance: &InstanceRow) -> Result<Vec<TopicInfo>, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// Creates a topic; `retention_ms` is Kafka's `retention.ms` (`None`: the broker's default).
    async fn create_topic(
        &self,
        _instance: &InstanceRow,
        _name: &str,
        _partitions: u32,
        _retention_ms: Option<i64>,
    ) -> Result<(), ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    async fn set_topic_retention(
        &self,
        _instance: &InstanceRow,
        _name: &str,
        _retention_ms: i64,
    ) -> Result<(), ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// The instance's consumer groups, each with its state, protocol, members and total lag.
    async fn consumer_groups(
        &self,
        _instance: &InstanceRow,
    ) -> Result<Vec<GroupSummary>, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// One group: its members and, per partition, committed offset, end offset and lag
    /// ([`GroupRefusal::Missing`] when there is no such group).
    async fn consumer_group(
        &self,
        _instance: &InstanceRow,
        _group: &str,
    ) -> Result<GroupDetail, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// What resetting `group`'s offsets by `spec` would do at `now_ms`; nothing changes
    /// ([`GroupRefusal::Invalid`] naming the field when the rule refuses it).
    async fn preview_group_reset(
        &self,
        _instance: &InstanceRow,
        _group: &str,
        _spec: &ResetSpec,
        _now_ms: i64,
    ) -> Result<ResetPreview, ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// Commits a preview's new offsets; [`GroupRefusal::NotEmpty`] while the group has
    /// members (Kafka refuses then).
    async fn apply_group_reset(
        &self,
        _instance: &InstanceRow,
        _group: &str,
        _preview: &ResetPreview,
    ) -> Result<(), ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// Deletes an empty group and its committed offsets ([`GroupRefusal::NotEmpty`] while
    /// it has members, [`GroupRefusal::Missing`] when there is none).
    async fn delete_group(
        &self,
        _instance: &InstanceRow,
        _group: &str,
    ) -> Result<(), ProvisionError> {
        Err(anyhow::anyhow!(NOT_REAL))
    }

    /// The last background sample of each instance's consumer-group lag (instance id, then
    /// group and total lag, largest first, at most a stated number of groups), for `/metrics`.
    fn consumer_group_lags(&self) -> Vec<(i64, Vec<(String, i64)>)> {
        Vec::new()
    }

    /// The last minutes of measured traffic, when a broker serves the instance.
    fn live_traffic(&self, _instance: &InstanceRow) -> Option<LiveTraffic> {
        None
    }

    /// The instance's latest traffic reading held in memory (seconds old; the stored ones
    /// are up to a minute old), when this process has read its broker.
    fn latest_reading(&self, _instance_id: i64) -> Option<Counters> {
        None
    }

    /// At console shutdown: a last traffic reading; the brokers go on serving unless
    /// `stop_brokers` (`serve --stop-brokers-on-exit`, for uninstalling).
    async fn shutdown(&self, _stop_brokers: bool) {}
}

/// The tag that makes the simulated provisioner fail a step, for tests and demos:
/// `simulate-failure=start-brokers` fails the first attempt of that step; a retry succeeds.
pub const SIMULATE_FAILURE_TAG: &str = "simulate-failure";

/// The default provisioner: runs inside the console and only takes time, so that people see
/// an operation's progress. Nothing outside the console is created.
pub struct SimulatedProvisioner {
    pub step_duration: Duration,
}

#[async_trait::async_trait]
impl Provisioner for SimulatedProvisioner {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn run_step(&self, work: &StepWork<'_>) -> Result<StepDone, ProvisionError> {
        tokio::time::sleep(self.step_duration).await;
        let fail_here = work
            .instance
            .tags()
            .iter()
            .any(|(k, v)| k == SIMULATE_FAILURE_TAG && v == work.step.id.as_str());
        if fail_here && !work.retry {
            return Err(anyhow::anyhow!(
                "{} failed (simulated by the tag {SIMULATE_FAILURE_TAG}={})",
                work.step.label,
                work.step.id.as_str()
            ));
        }
        let bootstrap = (work.step.id == StepId::PublishEndpoint).then(|| {
            let port = if work.instance.transit_encryption == TransitEncryption::Tls {
                9093
            } else {
                9092
            };
            let scope = if work.instance.endpoint_exposure == EndpointExposure::Internet {
                "public"
            } else {
                "internal"
            };
            format!(
                "{}.{}.kafka.{scope}:{port}",
                work.instance.name, work.instance.vpc_id
            )
        });
        let detail = match work.kind {
            OperationKind::Scale if work.step.id == StepId::ResizeBrokers => {
                Some(format!("{} AKU", work.target_aku))
            }
            _ => None,
        };
        Ok(StepDone { bootstrap, detail })
    }

    async fn traffic(
        &self,
        instance: &InstanceRow,
        hour_start: i64,
        size_aku: u32,
    ) -> Result<Traffic, ProvisionError> {
        Ok(simulated_traffic(instance.id, size_aku, hour_start))
    }

    fn traffic_basis(&self) -> &'static str {
        "Data figures come from the simulated provisioner: estimated, not counted."
    }
}

const GIB: u64 = 1 << 30;

/// The simulated provisioner's load: plausible, and predictable from the instance id, its
/// size and the hour. Each hour a level from 1 to 5 (a hash of id and hour): `level × size`
/// GiB written (at most 5 GiB per AKU-hour, about 1.4 MiB/s per AKU: far below the 30 MiB/s an
/// AKU serves), twice that read, and 100 GiB retained per AKU.
pub fn simulated_traffic(instance_id: i64, size_aku: u32, hour_start: i64) -> Traffic {
    let level =
        1 + splitmix64((instance_id as u64) ^ (hour_start as u64 / 3600).rotate_left(17)) % 5;
    let written = level * u64::from(size_aku) * GIB;
    Traffic {
        bytes_in: written,
        bytes_out: 2 * written,
        bytes_retained: 100 * u64::from(size_aku) * GIB,
    }
}

/// SplitMix64: a tiny, well-known mixing function (deterministic, no dependency).
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
