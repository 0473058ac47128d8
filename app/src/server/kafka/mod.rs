//! The Kafka-cluster provisioner: every instance is an Apache Kafka 4.4 KRaft cluster of
//! three combined nodes on this host, made, watched and healed through the engine
//! (`byoc-engine`). This module is the thin adapter between the console's operations and
//! control loop and the engine.
//!
//! It creates, suspends, resumes and deletes instances as clusters (anonymous or SASL/SCRAM
//! clients, plaintext or TLS, inside the network or on the internet address); the control
//! loop adopts clusters that outlived the console, starts a node that died and replaces one
//! that stopped answering (through [`Provisioner::maintain`], audited); topics and SCRAM users
//! go through the Admin API; traffic is read from the nodes' own counters ([`traffic`]).
//! Each cluster has the nodes, heaps and client quotas its AKU buy (`domain::data_plane`), and
//! a scale moves partitions onto or off broker-only nodes while clients produce ([`scale`]).
//! SASL/PLAIN users are salted hashes the console writes into each node's `plain-users`, checked
//! by the console's callback handler ([`plain`]). Mutual TLS: the client listener requires a
//! certificate of the environment's CA whose subject names the instance
//! (`CN=user,OU=byoc-instance-ID`); the console issues one per user.
//!
//! ```text
//! DATA_DIR/kafka/instance-ID/   ports, node.pem, client-listener.pem, console-identity.pem,
//!                               cluster.json,
//!                               node-0/ node-1/ node-2/  (the engine's cluster directory)
//! ```

mod acls;
mod capacity;
mod certs;
mod files;
mod groups;
mod health;
mod messages;
mod offer;
pub mod plain;
mod roll;
mod scale;
pub mod scram;
mod serve;
mod settings;
mod spec;
mod steps;
mod test_message;
pub mod tls;
mod topics;
mod traffic;
mod users;

pub(crate) use files::write_private;
pub use groups::{GROUPS_EXPORTED, LAG_SAMPLE_EVERY};
pub use settings::{KafkaSettings, Listener, NO_PUBLIC_ADDRESS};
pub use traffic::BASIS;

use super::clock::Clock;
use super::provisioner::{
    BrokerCheck, Exit, Maintenance, ProvisionError, Provisioner, Served, StepDone, StepWork,
    SupportedSecurity,
};
use super::store::broker_samples::Counters;
use super::store::instances::InstanceRow;
use crate::domain::instance_spec::{ClientAuth, InstanceSpec, SpecError};
use crate::domain::metering::Traffic;
use crate::domain::offset_reset::{ResetPreview, ResetSpec};
use crate::wire::groups::{GroupDetail, GroupSummary};
use crate::wire::kafka::{LiveTraffic, TopicInfo};
use anyhow::{anyhow, Context};
use byoc_engine::cluster::Cluster;
use byoc_engine::heal::{NodeAction, HUNG_STOP_GRACE, STOP_GRACE};
use byoc_engine::host::local::{KafkaInstall, LocalHost};
use byoc_engine::host::NodeHost;
use byoc_engine::observe::observe_with;
use files::make_private_dir as private_dir;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tls::Authority;

const MTLS_NEEDS_TLS: &str = "Mutual TLS authentication needs TLS transit encryption.";

pub struct KafkaProvisioner {
    settings: KafkaSettings,
    root: PathBuf,
    host: LocalHost,
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    allocating: tokio::sync::Mutex<()>,
    authority: tokio::sync::OnceCell<Arc<Authority>>,
    readings: Mutex<HashMap<i64, traffic::Readings>>,
    /// What the control loop's probes saw of each node (a node is replaced only after
    /// several failed probes in a row).
    probes: byoc_engine::heal::ProbeMemory,
    /// The probes' Admin client of each instance, kept: its connections stay open between
    /// probes (no TLS handshake every 2 s, which a busy host can make slower than a probe
    /// may take).
    probe_admins: Mutex<HashMap<i64, byoc_engine::admin::AdminClient>>,
    /// Rolls this console has begun, by instance (when): for the audit of their end.
    rolls: Mutex<HashMap<i64, std::time::Instant>>,
    /// The last sample of each running cluster's group lag (`groups::spawn_lag_sampling`).
    group_lags: Mutex<HashMap<i64, Vec<(String, i64)>>>,
}

impl KafkaProvisioner {
    pub fn open(
        settings: KafkaSettings,
        data_dir: &Path,
        pool: SqlitePool,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<KafkaProvisioner>, ProvisionError> {
        let root = data_dir.join("kafka");
        private_dir(&root)?;
        let install = KafkaInstall::new(settings.libs.clone(), &root.join("conf"))
            .context("cannot write the Kafka nodes' configuration")?;
        let provisioner = Arc::new(KafkaProvisioner {
            host: LocalHost::new(install),
            settings,
            root,
            pool,
            clock,
            allocating: tokio::sync::Mutex::new(()),
            authority: tokio::sync::OnceCell::new(),
            readings: Mutex::new(HashMap::new()),
            probes: Default::default(),
            probe_admins: Mutex::new(HashMap::new()),
            rolls: Mutex::new(HashMap::new()),
            group_lags: Mutex::new(HashMap::new()),
        });
        traffic::spawn_readings(Arc::downgrade(&provisioner));
        groups::spawn_lag_sampling(Arc::downgrade(&provisioner));
        Ok(provisioner)
    }

    fn dir(&self, instance_id: i64) -> PathBuf {
        self.root.join(format!("instance-{instance_id}"))
    }

    fn cluster(&self, instance_id: i64) -> Cluster<'_> {
        Cluster::new(self.dir(instance_id), &self.host)
    }

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

    async fn authority(&self) -> Result<Arc<Authority>, ProvisionError> {
        self.authority
            .get_or_try_init(|| async {
                Authority::load_or_create(&self.pool, self.clock.unix())
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    async fn halt(&self, instance_id: i64) -> Vec<i32> {
        self.probes.forget(&self.dir(instance_id));
        if let Ok(mut admins) = self.probe_admins.lock() {
            if let Some(admin) = admins.remove(&instance_id) {
                admin.close();
            }
        }
        // All nodes at once: stopped one after another, the last waits minutes for a quorum.
        self.cluster(instance_id).stop_all(STOP_GRACE).await
    }

    async fn admin_of(
        &self,
        row: &InstanceRow,
    ) -> Result<byoc_engine::admin::AdminClient, ProvisionError> {
        let spec = self.spec(row).await?;
        self.admin(&spec).await
    }
}

fn kafka_error(error: byoc_engine::admin::AdminError) -> ProvisionError {
    anyhow!("{error}")
}

#[async_trait::async_trait]
impl Provisioner for KafkaProvisioner {
    fn name(&self) -> &'static str {
        "kafka"
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
        "Data in and data out are counted by Kafka on each node of the instance (what clients \
         produced and fetched, replication excluded); data retained is each partition's data \
         on disk, counted once however many replicas keep it."
    }

    fn is_real(&self) -> bool {
        true
    }

    fn refuses(&self, spec: &InstanceSpec) -> Option<SpecError> {
        self.refusal_of(spec)
    }

    fn supported_security(&self) -> Option<SupportedSecurity> {
        Some(self.security_offered())
    }

    /// The cluster as the control loop sees it ([`health`]).
    async fn check(&self, instance_id: i64, _timeout: Duration) -> Option<BrokerCheck> {
        self.health(instance_id).await
    }

    async fn ensure_serving(&self, instance: &InstanceRow) -> Result<Served, ProvisionError> {
        self.serve(instance).await
    }

    /// Certificates renewed when due ([`certs`]; the pass ends there, the files written);
    /// node by node, a node that died is started again, one that has not answered past its
    /// start grace is replaced; otherwise one step of a roll onto changed files ([`roll`]).
    /// Each is returned for the audit log.
    async fn maintain(&self, instance: &InstanceRow) -> Result<Vec<Maintenance>, ProvisionError> {
        let cluster = self.cluster(instance.id);
        let renewed = self.renew_certificates(instance).await?;
        let spec = self.spec(instance).await?;
        let written = cluster.prepare(&spec).await;
        if !renewed.is_empty() {
            written?;
            return Ok(vec![Maintenance::CertificatesRenewed(renewed)]);
        }
        written?;
        let admin = self.probe_admin(&spec).await?;
        let state = observe_with(&cluster, &spec.layout, &admin, &self.probes).await;
        let mut done = Vec::new();
        for node in &state.nodes {
            match &node.action {
                NodeAction::Keep | NodeAction::Wait => {}
                NodeAction::Start => {
                    let started = std::time::Instant::now();
                    cluster.start_missing(&spec).await?;
                    done.push(Maintenance::Restarted(format!(
                        "node {} had no process: started again ({} ms to start the process; \
                         it rejoins the cluster and catches up its replicas)",
                        node.node_id,
                        started.elapsed().as_millis()
                    )));
                }
                NodeAction::Replace(why) => {
                    let pid = cluster
                        .restart(&spec, node.node_id, HUNG_STOP_GRACE)
                        .await?;
                    done.push(Maintenance::Restarted(format!(
                        "node {} replaced (pid {pid}): {why}",
                        node.node_id
                    )));
                }
            }
        }
        if done.is_empty() {
            done = self.roll_step(instance, &spec, &cluster, &state).await?;
        }
        // Users deleted while the cluster could not be reached go now.
        if instance.client_auth == ClientAuth::SaslScram {
            let said = self.sync_users(instance).await?;
            if said.contains("; removed ") {
                done.push(Maintenance::UsersRestored(vec![said]));
            }
        }
        // The PLAIN users' files, put back when they differ from the console's users.
        if instance.client_auth == ClientAuth::SaslPlain {
            let said = self.write_plain_users(instance).await?;
            if said.contains("file(s) changed") {
                done.push(Maintenance::UsersRestored(vec![said]));
            }
        }
        // Rules changed while the cluster could not be reached, or made behind the console's
        // back, are put right now.
        let (said, removed) = self.sync_acls(instance).await?;
        if removed {
            done.push(Maintenance::AclsRestored(format!(
                "the cluster's access rules differed from the console's and were put back: {said}"
            )));
        }
        Ok(done)
    }

    async fn ensure_stopped(&self, instance_id: i64) {
        self.halt(instance_id).await;
    }

    fn instances_on_host(&self) -> Vec<i64> {
        self.instance_dirs()
    }

    async fn ca_certificate(&self) -> Result<String, ProvisionError> {
        Ok(self.authority().await?.cert_pem().to_string())
    }

    async fn admin_client(
        &self,
        instance: &InstanceRow,
    ) -> Result<Option<byoc_engine::admin::AdminClient>, ProvisionError> {
        Ok(Some(self.admin_of(instance).await?))
    }

    async fn issue_user_certificate(
        &self,
        instance: &InstanceRow,
        username: &str,
        now: i64,
    ) -> Result<tls::ServerCertificate, ProvisionError> {
        let unit = crate::domain::certificate::instance_unit(instance.id);
        self.authority().await?.issue_user(&unit, username, now)
    }

    async fn topics(&self, instance: &InstanceRow) -> Result<Vec<TopicInfo>, ProvisionError> {
        self.list_topics(instance).await
    }

    async fn create_topic(
        &self,
        instance: &InstanceRow,
        name: &str,
        partitions: u32,
        retention_ms: Option<i64>,
    ) -> Result<(), ProvisionError> {
        self.topic_create(instance, name, partitions, retention_ms)
            .await
    }

    async fn set_topic_retention(
        &self,
        instance: &InstanceRow,
        name: &str,
        retention_ms: i64,
    ) -> Result<(), ProvisionError> {
        self.topic_retention(instance, name, retention_ms).await
    }

    async fn delete_topic(&self, instance: &InstanceRow, name: &str) -> Result<(), ProvisionError> {
        self.topic_delete(instance, name).await
    }

    async fn put_credential(
        &self,
        instance: &InstanceRow,
        username: &str,
        mechanism: crate::domain::kafka_user::Mechanism,
        verifier: &crate::domain::kafka_user::Verifier,
        salted_password: &[u8],
    ) -> Result<(), ProvisionError> {
        self.upsert_credential(instance, username, mechanism, verifier, salted_password)
            .await
    }

    async fn read_messages(
        &self,
        instance: &InstanceRow,
        browse: &crate::domain::message_browse::Browse,
    ) -> Result<crate::wire::messages::MessagePage, ProvisionError> {
        self.messages_page(instance, browse).await
    }

    async fn write_test_message(
        &self,
        instance: &InstanceRow,
        message: &crate::domain::test_message::TestMessage,
        now_ms: i64,
    ) -> Result<i64, ProvisionError> {
        self.write_test_message(instance, message, now_ms).await
    }

    async fn apply_acls(&self, instance: &InstanceRow) -> Result<String, ProvisionError> {
        let (said, _) = self.sync_acls(instance).await?;
        Ok(format!("written to the cluster; {said}"))
    }

    async fn apply_users(
        &self,
        instance: &InstanceRow,
        _cut_sessions: bool,
    ) -> Result<String, ProvisionError> {
        if instance.client_auth == ClientAuth::SaslPlain {
            return self.write_plain_users(instance).await;
        }
        if instance.client_auth == ClientAuth::Mtls {
            return Ok(
                "nothing to write on the nodes (a certificate is checked against the \
                CA and the instance's name in it); Kafka cannot revoke a certificate: one \
                already issued logs in until it expires"
                    .into(),
            );
        }
        self.sync_users(instance).await
    }

    async fn consumer_groups(&self, i: &InstanceRow) -> Result<Vec<GroupSummary>, ProvisionError> {
        self.groups_list(i).await
    }

    async fn consumer_group(
        &self,
        i: &InstanceRow,
        g: &str,
    ) -> Result<GroupDetail, ProvisionError> {
        self.group_detail(i, g).await
    }

    async fn preview_group_reset(
        &self,
        i: &InstanceRow,
        g: &str,
        spec: &ResetSpec,
        now_ms: i64,
    ) -> Result<ResetPreview, ProvisionError> {
        self.group_reset_preview(i, g, spec, now_ms).await
    }

    async fn apply_group_reset(
        &self,
        i: &InstanceRow,
        g: &str,
        preview: &ResetPreview,
    ) -> Result<(), ProvisionError> {
        self.group_reset_apply(i, g, preview).await
    }

    async fn delete_group(&self, i: &InstanceRow, g: &str) -> Result<(), ProvisionError> {
        self.group_delete(i, g).await
    }

    fn consumer_group_lags(&self) -> Vec<(i64, Vec<(String, i64)>)> {
        self.lag_samples()
    }

    fn live_traffic(&self, instance: &InstanceRow) -> Option<LiveTraffic> {
        self.live(instance)
    }

    fn latest_reading(&self, instance_id: i64) -> Option<Counters> {
        self.latest(instance_id)
    }

    /// Node exits, as the instance's: the control loop wakes for that instance at once and
    /// its maintenance pass starts the node again.
    fn take_exits(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Exit>> {
        serve::forward_exits(self.host.take_exits()?)
    }

    async fn shutdown(&self, stop_brokers: bool) {
        // A last reading of each, stored for metering; the nodes go on serving.
        for id in self.running_instances() {
            self.read_traffic(id, true).await;
        }
        if stop_brokers {
            for id in self.instance_dirs() {
                self.halt(id).await;
            }
        }
    }
}
