//! Serving an instance: adopting the broker that runs for it as wanted, or stopping what is
//! left of one and starting a new one, with its certificate, endpoint and users in place.

use super::process::{self, Launch};
use super::{meter, secure, upgrade, BrokerProvisioner, Endpoint};
use crate::domain::kafka_user::Drift;
use crate::server::provisioner::{ProvisionError, Served};
use crate::server::store::instances::InstanceRow;
use anyhow::Context;
use std::time::Duration;

impl BrokerProvisioner {
    /// Adopts the instance's live, answering broker when it runs the configured program with
    /// the endpoint the instance wants, or stops what is left of one and starts a new one.
    /// Its certificate is issued first when due (a new one means a restart: the broker
    /// reads it only at start) and the console's own user made when missing.
    ///
    /// The users of a SCRAM instance are written into its storage before the broker starts
    /// (whoever logs in first meets the console's set; a new storage gets them as soon as
    /// the broker has made its tables) and again once it answers; what differed is returned.
    pub(super) async fn serve(
        &self,
        row: &InstanceRow,
    ) -> Result<(Endpoint, Served, Vec<Drift>), ProvisionError> {
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
                    .context("cannot write the broker's pid file")?;
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
    pub(super) async fn storage_ready(&self, instance_id: i64) -> bool {
        secure::cluster_registered(&self.dir(instance_id), instance_id).await
    }

    /// Writes a SCRAM instance's users into its answering broker's storage; a broker that
    /// has just made its storage may take a moment to register its cluster.
    async fn users_written(
        &self,
        row: &InstanceRow,
        endpoint: &Endpoint,
    ) -> Result<Vec<Drift>, ProvisionError> {
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
}
