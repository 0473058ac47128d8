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
                let first = self.allocate_ports(id).await?;
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
                let version = String::from_utf8_lossy(&java.stderr);
                detail(format!(
                    "Apache Kafka 4.4.0, three nodes (broker and controller), {} MiB heap each, \
                     on {}",
                    byoc_engine::layout::HEAP_MIB,
                    version.lines().next().unwrap_or("java").trim()
                ))
            }
            StepId::AttachStorage => {
                let spec = self.spec(work.instance).await?;
                let ids = self.cluster(id).prepare(&spec).await?;
                detail(format!(
                    "three node directories under {} formatted (cluster id {})",
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
                        "three nodes answering on {} after {} ms; replication factor 3, \
                         min.insync.replicas 2",
                        spec.layout.bootstrap(&spec.client.host),
                        started.elapsed().as_millis()
                    ),
                    Served::Adopted => "the three nodes already serving are kept".to_string(),
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
            StepId::ResizeBrokers => detail(format!(
                "{} AKU recorded; the cluster keeps its three nodes (AKU in force is the next \
                 step)",
                work.target_aku
            )),
            StepId::PlanCapacity | StepId::RebalancePartitions => Ok(StepDone::default()),
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
