//! The broker provisioner's steps (what an operation does on this host) and its maintenance
//! pass (what the control loop has it check on each serving broker).

use super::*;
use crate::server::provisioner::ProvisionError;
use anyhow::{anyhow, Context};

/// What was done, and what else was found differing on the broker (a user a client added).
pub(super) fn with_found(done: &str, drift: &[Drift]) -> String {
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
) -> Result<bool, ProvisionError> {
    let issued = store::kafka_security::certificate(pool, instance_id)
        .await
        .context("cannot read the instance's certificate record")?;
    Ok(
        crate::domain::certificate::due(issued.as_ref(), &endpoint.certificate_names(), now)
            .is_some(),
    )
}

impl BrokerProvisioner {
    /// Runs one step of an operation: every step id has its arm.
    pub(super) async fn step(&self, work: &StepWork<'_>) -> Result<StepDone, ProvisionError> {
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
                    Ok(out) => Err(anyhow!(
                        "the broker program {} does not run ({})",
                        bin.display(),
                        out.status
                    )),
                    Err(e) => Err(anyhow!(
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
                        Err(e) => {
                            return Err(anyhow::Error::new(e)
                                .context(format!("cannot remove {}", file.display())))
                        }
                    }
                }
                detail("the broker's data is removed".into())
            }
            StepId::ReleaseNetwork => {
                let port = self.port_of(id);
                store::kafka_security::forget_instance(&self.pool, id)
                    .await
                    .context("cannot remove the instance's Kafka users")?;
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(anyhow::Error::new(e)
                            .context(format!("cannot remove {}", dir.display())))
                    }
                }
                detail(match port {
                    Some(port) => format!("port {port} released"),
                    None => "no port was held".into(),
                })
            }
        }
    }

    /// The control loop's pass over one serving broker: certificates due, users that drifted,
    /// cuts still pending.
    pub(super) async fn maintenance(
        &self,
        instance: &InstanceRow,
    ) -> Result<Vec<Maintenance>, ProvisionError> {
        let endpoint = match self.wanted_endpoint(instance) {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                // Its exposure is no longer configured (the public address was removed): a
                // broker left on the old address would be exposed where nothing says so.
                self.halt(instance.id).await;
                return Err(anyhow!("broker stopped: {reason}"));
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
            .context("cannot record the new bootstrap address")?;
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
                let mut pending = self.cut_pending.lock().map_err(|e| anyhow!("{e}"))?;
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
}
