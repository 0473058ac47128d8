//! The security an instance's broker is started with, and what the console keeps true about
//! it: where it listens (the address of its exposure), its TLS server certificate (issued by
//! the environment's authority, re-issued when its names change or it nears expiry), and its
//! SCRAM users (the console's set, written into the broker's own storage, which the broker
//! reads at every login).
//!
//! The broker lets any authenticated client create, change or delete users, so the console
//! owns the set: whatever a client changes is put back by the control loop, and audited.

use super::process::{CERT_FILE, KEY_FILE};
use super::tls::Authority;
use super::{make_private_dir, meter, probe, BrokerProvisioner};
use crate::domain::certificate::{self, IssueReason};
use crate::domain::instance_spec::{ClientAuth, EndpointExposure, TransitEncryption};
use crate::domain::kafka_user::{self, Credential, Drift, Mechanism, Verifier, CONSOLE_USER};
use crate::server::provisioner::ProvisionError;
use crate::server::store::{self, instances::InstanceRow, kafka_security as keep};
use anyhow::{anyhow, Context};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What a broker is started with, recorded next to its pid file: the control loop probes
/// the broker as it was started, and replaces it when the instance wants another endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub bind: IpAddr,
    pub host: String,
    pub port: u16,
    /// SASL/SCRAM required.
    pub scram: bool,
    /// TLS only.
    pub tls: bool,
}

pub const ENDPOINT_FILE: &str = "endpoint.json";
/// The console's own password for the instance (its SCRAM user), owner-only.
const CONSOLE_SECRET_FILE: &str = "console.secret";

impl Endpoint {
    pub fn bootstrap(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    /// Where the console reaches the broker on this host: the bound address, or loopback
    /// when it binds every address.
    pub fn local_addr(&self) -> SocketAddr {
        let ip = if self.bind.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            self.bind
        };
        SocketAddr::new(ip, self.port)
    }

    /// The names its certificate must carry: the host clients use, and the bound address.
    pub fn certificate_names(&self) -> Vec<String> {
        let bind = (!self.bind.is_unspecified()).then(|| self.bind.to_string());
        let mut of = vec![self.host.as_str()];
        if let Some(bind) = bind.as_deref() {
            of.push(bind);
        }
        certificate::names(&of)
    }
}

/// The endpoint the running broker of `dir` was started with (`None`: not recorded, as for
/// a broker started before this was recorded: it is replaced).
pub fn recorded_endpoint(dir: &Path) -> Option<Endpoint> {
    let text = std::fs::read_to_string(dir.join(ENDPOINT_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn record_endpoint(dir: &Path, endpoint: &Endpoint) -> Result<(), ProvisionError> {
    let text = serde_json::to_string(endpoint)?;
    std::fs::write(dir.join(ENDPOINT_FILE), text).context("cannot record the broker's endpoint")
}

/// Writes a file only the console's user can read (keys and passwords).
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), ProvisionError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

impl BrokerProvisioner {
    /// The endpoint `row` wants: its exposure's listener, its port, its security.
    pub(super) fn wanted_endpoint(&self, row: &InstanceRow) -> Result<Endpoint, ProvisionError> {
        let listener = match row.endpoint_exposure {
            EndpointExposure::Vpc => &self.settings.private,
            EndpointExposure::Internet => {
                self.settings.public.as_ref().context(NO_PUBLIC_ADDRESS)?
            }
        };
        let scram = match row.client_auth {
            ClientAuth::Anonymous => false,
            ClientAuth::SaslScram => true,
            other @ (ClientAuth::SaslPlain | ClientAuth::Mtls) => {
                return Err(anyhow!(
                    "client authentication {} is not served by this broker",
                    other.label()
                ))
            }
        };
        let tls = match row.transit_encryption {
            TransitEncryption::Plaintext => false,
            TransitEncryption::Tls => true,
        };
        Ok(Endpoint {
            bind: listener.bind,
            host: listener.host.clone(),
            port: self.recorded_port(row.id)?,
            scram,
            tls,
        })
    }

    /// The environment's certificate authority (made on first need).
    pub(super) async fn authority(&self) -> Result<Arc<Authority>, ProvisionError> {
        self.authority
            .get_or_try_init(|| async {
                Authority::load_or_create(&self.pool, self.clock.unix())
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// How the console probes the broker of `endpoint`.
    pub(super) async fn probe_target(
        &self,
        endpoint: &Endpoint,
    ) -> Result<probe::Target, ProvisionError> {
        let tls = if endpoint.tls {
            let server_name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
                .with_context(|| format!("{:?} cannot be a TLS server name", endpoint.host))?;
            Some(probe::TlsTarget {
                config: self.authority().await?.client_config(),
                server_name,
            })
        } else {
            None
        };
        Ok(probe::Target {
            addr: endpoint.local_addr(),
            tls,
        })
    }

    /// Issues the instance a server certificate when it has none, its names changed or it
    /// nears expiry (written to its directory, recorded and audited together). Returns why,
    /// when one was issued: a running broker must then restart to load it.
    pub(super) async fn ensure_certificate(
        &self,
        row: &InstanceRow,
        endpoint: &Endpoint,
    ) -> Result<Option<IssueReason>, ProvisionError> {
        let dir = self.dir(row.id);
        let names = endpoint.certificate_names();
        let now = self.clock.unix();
        let issued = keep::certificate(&self.pool, row.id)
            .await
            .context("cannot read the instance's certificate record")?;
        let files = dir.join(CERT_FILE).is_file() && dir.join(KEY_FILE).is_file();
        let reason = match certificate::due(issued.as_ref(), &names, now) {
            None if files => return Ok(None),
            None => IssueReason::First,
            Some(reason) => reason,
        };
        let cert = self.authority().await?.issue(&names, now)?;
        make_private_dir(&dir)?;
        write_private(&dir.join(KEY_FILE), &cert.key_pem)?;
        write_private(&dir.join(CERT_FILE), &cert.cert_pem)?;
        let detail = format!(
            "{} for {}, valid until {} (serial {})",
            reason.as_str(),
            names.join(", "),
            time::OffsetDateTime::from_unix_timestamp(cert.not_after)
                .map_or_else(|_| cert.not_after.to_string(), |t| t.date().to_string()),
            cert.serial
        );
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        keep::record_certificate(
            &mut tx,
            row.id,
            keep::IssuedRecord {
                names: &names,
                serial: &cert.serial,
                not_before: cert.not_before,
                not_after: cert.not_after,
            },
            now,
        )
        .await?;
        store::audit::append_in(
            &mut tx,
            store::audit::Entry::by_console(
                now,
                "certificate_issue",
                &row.name,
                "success",
                &detail,
            ),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(instance = row.id, %detail, "certificate issued");
        Ok(Some(reason))
    }

    /// The console's own SCRAM user of the instance: its password in the instance's
    /// directory (owner-only), its verifier among the instance's users. Made when missing;
    /// a lost password file gets a new password.
    pub(super) async fn ensure_console_user(
        &self,
        row: &InstanceRow,
    ) -> Result<(), ProvisionError> {
        let dir = self.dir(row.id);
        let secret = dir.join(CONSOLE_SECRET_FILE);
        let kept = {
            let mut conn = self.pool.acquire().await?;
            keep::user(&mut conn, row.id, CONSOLE_USER).await?
        };
        if kept.is_some() && secret.is_file() {
            return Ok(());
        }
        let password = super::scram::generate_password();
        let verifier = super::scram::verifier(Mechanism::ScramSha512, &password)?;
        make_private_dir(&dir)?;
        // The new password is put in place only once its verifier is stored: a failure in
        // between leaves the old pair, which still agree.
        let pending = dir.join(format!("{CONSOLE_SECRET_FILE}.new"));
        write_private(&pending, &password)?;
        let now = self.clock.unix();
        let mut conn = self.pool.acquire().await?;
        let credential = Credential {
            username: CONSOLE_USER.into(),
            mechanism: Mechanism::ScramSha512,
            verifier,
        };
        let inserted =
            keep::insert_user(&mut conn, row.id, &credential, true, "system", now).await?;
        if !inserted {
            keep::replace_verifier(&mut conn, row.id, CONSOLE_USER, &credential.verifier, now)
                .await?;
        }
        std::fs::rename(&pending, &secret).context("cannot put the console's password in place")
    }

    /// The console's SCRAM login for the instance, when it authenticates.
    pub(super) fn console_login(
        &self,
        instance_id: i64,
    ) -> Result<(String, String), ProvisionError> {
        let secret = self.dir(instance_id).join(CONSOLE_SECRET_FILE);
        let password = std::fs::read_to_string(&secret)
            .context("the console's password for this instance is unreadable")?;
        Ok((CONSOLE_USER.to_string(), password.trim().to_string()))
    }

    /// Makes the broker's users exactly the console's and says what differed. The broker
    /// must have started once on its storage (it creates the tables and its cluster row).
    pub(super) async fn sync_users(&self, row: &InstanceRow) -> Result<Vec<Drift>, ProvisionError> {
        let wanted: Vec<Credential> = keep::users(&self.pool, row.id)
            .await
            .context("cannot read the instance's users")?
            .into_iter()
            .map(|u| u.credential)
            .collect();
        let file = self.dir(row.id).join(meter::STORAGE_FILE);
        let cluster = cluster_name(row.id);
        let mut conn = SqliteConnectOptions::new()
            .filename(&file)
            .busy_timeout(Duration::from_secs(5))
            .connect()
            .await
            .context("cannot open the broker's storage")?;
        let result = write_users(&mut conn, &cluster, &wanted).await;
        let _ = conn.close().await;
        result.context("cannot write the broker's users")
    }
}

/// Whether the broker's storage in `dir` has its tables and a cluster (the broker makes them
/// at its first start): only then can users be written into it.
pub(super) async fn cluster_registered(dir: &Path, instance_id: i64) -> bool {
    let file = dir.join(meter::STORAGE_FILE);
    if !file.is_file() {
        return false;
    }
    let Ok(mut conn) = SqliteConnectOptions::new()
        .filename(&file)
        .read_only(true)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
    else {
        return false;
    };
    let found: Result<Option<i64>, _> = sqlx::query_scalar(
        "SELECT 1 FROM cluster c JOIN sqlite_schema s ON s.name = 'scram_credential' \
             WHERE c.name = ? LIMIT 1",
    )
    .bind(cluster_name(instance_id))
    .fetch_optional(&mut conn)
    .await;
    let _ = conn.close().await;
    matches!(found, Ok(Some(_)))
}

pub const NO_PUBLIC_ADDRESS: &str = "This console has no public address for Kafka endpoints \
    (serve --broker-public-address, BYOC_BROKER_PUBLIC_ADDRESS): an internet endpoint would \
    not be reachable from the internet. Choose Inside the VPC, or ask the administrator of this \
    host to configure one.";

pub(super) fn cluster_name(instance_id: i64) -> String {
    format!("byoc-{instance_id}")
}

type BrokerUserRow = (String, i64, Vec<u8>, i64, Vec<u8>, Vec<u8>);

/// The broker's users of `cluster`, and those of a mechanism code the console does not know
/// (an error when the broker has not registered the cluster yet).
async fn broker_users(
    conn: &mut SqliteConnection,
    cluster: &str,
) -> Result<(Vec<Credential>, Vec<(String, i64)>), sqlx::Error> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM cluster WHERE name = ?")
        .bind(cluster)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Err(sqlx::Error::Protocol(format!(
            "the broker has not registered its cluster {cluster} yet"
        )));
    }
    let rows: Vec<BrokerUserRow> = sqlx::query_as(
        "SELECT sc.username, sc.mechanism, sc.salt, sc.iterations, sc.stored_key, sc.server_key \
         FROM scram_credential sc JOIN cluster c ON sc.cluster = c.id WHERE c.name = ?",
    )
    .bind(cluster)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = Vec::with_capacity(rows.len());
    let mut unknown_codes = Vec::new();
    for (username, code, salt, iterations, stored_key, server_key) in rows {
        match Mechanism::from_code(code) {
            Some(mechanism) => found.push(Credential {
                username,
                mechanism,
                verifier: Verifier {
                    salt,
                    // Out of range: not what the console wrote, so a difference it rewrites.
                    iterations: u32::try_from(iterations).unwrap_or(0),
                    stored_key,
                    server_key,
                },
            }),
            None => unknown_codes.push((username, code)),
        }
    }
    Ok((found, unknown_codes))
}

/// Reads the broker's users and, when they differ from the console's, in one transaction
/// removes what the console does not keep and writes what differs.
async fn write_users(
    conn: &mut SqliteConnection,
    cluster: &str,
    wanted: &[Credential],
) -> Result<Vec<Drift>, sqlx::Error> {
    // Looked at without a lock first: the control loop does this every 2 s, and most looks
    // find nothing to write, so the broker's writers are not held up.
    let (found, unknown_codes) = broker_users(&mut *conn, cluster).await?;
    if unknown_codes.is_empty() && kafka_user::drift(wanted, &found).is_empty() {
        return Ok(Vec::new());
    }
    // IMMEDIATE: the write lock from the start. A deferred transaction that reads, then
    // writes fails (SQLITE_BUSY_SNAPSHOT, not retried) when the broker commits in between.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let (found, unknown_codes) = broker_users(&mut tx, cluster).await?;
    let fixes = kafka_user::drift(wanted, &found);
    for fix in &fixes {
        match fix {
            Drift::Missing(c) | Drift::Changed(c) => {
                sqlx::query(
                    "INSERT INTO scram_credential \
                     (cluster, username, mechanism, salt, iterations, stored_key, server_key) \
                     SELECT c.id, ?, ?, ?, ?, ?, ? FROM cluster c WHERE c.name = ? \
                     ON CONFLICT (cluster, username, mechanism) DO UPDATE SET \
                     salt = excluded.salt, iterations = excluded.iterations, \
                     stored_key = excluded.stored_key, server_key = excluded.server_key, \
                     last_updated = current_timestamp",
                )
                .bind(&c.username)
                .bind(c.mechanism.code())
                .bind(&c.verifier.salt)
                .bind(i64::from(c.verifier.iterations))
                .bind(&c.verifier.stored_key)
                .bind(&c.verifier.server_key)
                .bind(cluster)
                .execute(&mut *tx)
                .await?;
            }
            Drift::Unknown {
                username,
                mechanism,
            } => {
                delete_user(&mut tx, cluster, username, mechanism.code()).await?;
            }
        }
    }
    // A mechanism code the console does not know cannot log in through this broker either;
    // it is removed all the same, so the table holds the console's set and nothing else.
    for (username, code) in &unknown_codes {
        delete_user(&mut tx, cluster, username, *code).await?;
    }
    tx.commit().await?;
    Ok(fixes)
}

async fn delete_user(
    conn: &mut SqliteConnection,
    cluster: &str,
    username: &str,
    code: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM scram_credential WHERE cluster IN (SELECT id FROM cluster WHERE name = ?) \
         AND username = ? AND mechanism = ?",
    )
    .bind(cluster)
    .bind(username)
    .bind(code)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
