//! The Kafka-cluster provisioner's steps: what each step of an operation does on this host.
//! Every step is idempotent (a step cut off by a console restart runs again).

use super::KafkaProvisioner;
use crate::domain::operation::StepId;
use crate::server::provisioner::{ProvisionError, Served, StepDone, StepWork};
use crate::server::store;
use anyhow::{anyhow, Context};

impl KafkaProvisioner {
    pub(super) async fn step(&self, work: &StepWork<'_>) -> Result<StepDone, ProvisionError> {
        let id = work.instance.id;
        let detail = |text: String| {
            Ok(StepDone {
                bootstrap: None,
                detail: Some(text),
            })
        };
        match work.step.id {
            StepId::AllocateNetwork => {
                let first = self.allocate_ports(id, work.instance.size()).await?;
                detail(format!(
                    "ports {first}-{} (client, internal, controller and metrics of each node)",
                    first + byoc_engine::layout::PORTS_PER_INSTANCE - 1
                ))
            }
            StepId::ProvisionCompute => {
                let jar = self.settings.libs.join("kafka_2.13-4.4.0.jar");
                if !jar.exists() {
                    return Err(anyhow!(
                        "Kafka 4.4.0 is not installed: {} is missing (scripts/setup.sh fetches \
                         it from Maven Central)",
                        jar.display()
                    ));
                }
                let java = tokio::process::Command::new("java")
                    .arg("-version")
                    .output()
                    .await
                    .context("java cannot be run (scripts/setup.sh installs OpenJDK 17)")?;
                let quota_jar = self.settings.libs.join(byoc_engine::config::QUOTA_JAR);
                if !quota_jar.exists() {
                    return Err(anyhow!(
                        "the console's Kafka quota plug-in is not installed: {} is missing \
                         (scripts/setup.sh builds it with scripts/build_kafka_plugins.sh)",
                        quota_jar.display()
                    ));
                }
                let version = String::from_utf8_lossy(&java.stderr);
                let plane = self.plane(work.instance.size());
                let (produce, fetch) = plane.quotas_text();
                detail(format!(
                    "Apache Kafka 4.4.0 for {} AKU: {} nodes (3 broker and controller, {} broker \
                     only), {} MiB heap each; clients limited to {produce} MiB/s of produce and \
                     {fetch} MiB/s of fetch in all; on {}",
                    plane.aku,
                    plane.nodes(),
                    plane.broker_only,
                    plane.heap_mib,
                    version.lines().next().unwrap_or("java").trim()
                ))
            }
            StepId::AttachStorage => {
                let spec = self.spec(work.instance).await?;
                let ids = self.cluster(id).prepare(&spec).await?;
                detail(format!(
                    "{} node directories under {} formatted (cluster id {})",
                    spec.layout.nodes.len(),
                    self.dir(id).display(),
                    ids.cluster_id
                ))
            }
            StepId::StartBrokers => {
                let started = std::time::Instant::now();
                let served = self.serve(work.instance).await?;
                let spec = self.spec(work.instance).await?;
                let said = match served {
                    Served::Started(_) => format!(
                        "{} nodes answering on {} after {} ms; replication factor 3, \
                         min.insync.replicas 2",
                        spec.layout.nodes.len(),
                        spec.layout.bootstrap(&spec.client.host),
                        started.elapsed().as_millis()
                    ),
                    Served::Adopted => format!(
                        "the {} nodes already serving are kept",
                        spec.layout.nodes.len()
                    ),
                };
                detail(format!(
                    "{said}; {}",
                    if spec.client.protocol.tls() {
                        "TLS, no client authentication"
                    } else {
                        "plaintext, no client authentication"
                    }
                ))
            }
            StepId::PublishEndpoint => {
                let spec = self.spec(work.instance).await?;
                Ok(StepDone {
                    bootstrap: Some(spec.layout.bootstrap(&spec.client.host)),
                    detail: None,
                })
            }
            StepId::PlanCapacity => self.plan_capacity(work).await,
            StepId::ResizeBrokers => self.add_brokers(work).await,
            StepId::RebalancePartitions => self.rebalance(work).await,
            StepId::RetireBrokers => self.retire_brokers(work).await,
            StepId::ApplyQuotas => self.apply_quotas(work).await,
            StepId::StopBrokers => {
                let stopped = self.halt(id).await;
                detail(format!(
                    "{} node(s) stopped (SIGTERM together: a controlled shutdown each)",
                    stopped.len()
                ))
            }
            StepId::ReleaseStorage => {
                for node in 0..byoc_engine::layout::MAX_NODES {
                    let dir = self.cluster(id).node_dir(node);
                    match std::fs::remove_dir_all(&dir) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(anyhow::Error::new(e)
                                .context(format!("cannot remove {}", dir.display())))
                        }
                    }
                }
                detail("the nodes' data is removed".into())
            }
            StepId::ReleaseNetwork => {
                let first = self.first_port(id);
                store::kafka_security::forget_instance(&self.pool, id)
                    .await
                    .context("cannot remove the instance's Kafka users")?;
                let dir = self.dir(id);
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(anyhow::Error::new(e)
                            .context(format!("cannot remove {}", dir.display())))
                    }
                }
                detail(match first {
                    Some(first) => format!("ports from {first} released"),
                    None => "no ports were held".into(),
                })
            }
        }
    }
}
