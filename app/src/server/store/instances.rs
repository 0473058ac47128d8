//! Instances and their state history (operations and steps: `store::operations`). Functions that take a
//! `SqliteConnection` run on a pool connection or inside a caller's transaction alike.

use super::decode;
use crate::domain::instance::State;
use crate::domain::instance_spec::{
    ClientAuth, Deployment, EndpointExposure, InstanceSpec, TransitEncryption, WalMode,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};
use std::collections::BTreeMap;

/// An instance as stored, with its values typed: a value on disk that is not one the code
/// knows fails the read with the table, row and value named (`store::decode`).
#[derive(Debug, Clone)]
pub struct InstanceRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub kafka_version: String,
    pub deployment: Deployment,
    zones: Vec<String>,
    pub vpc_id: String,
    subnets: Vec<String>,
    pub data_bucket: String,
    pub wal_mode: WalMode,
    pub client_auth: ClientAuth,
    pub transit_encryption: TransitEncryption,
    pub endpoint_exposure: EndpointExposure,
    tags: BTreeMap<String, String>,
    size_aku: u32,
    target_aku: Option<u32>,
    state: State,
    pub state_reason: Option<String>,
    pub bootstrap: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

impl<'r> sqlx::FromRow<'r, SqliteRow> for InstanceRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        const T: &str = "instances";
        let listed = ListedRow::from_row(row)?;
        let id = listed.id;
        let text = |column: &str| row.try_get::<String, _>(column);
        Ok(InstanceRow {
            id,
            name: listed.name,
            description: text("description")?,
            kafka_version: listed.kafka_version,
            deployment: decode::one_of(
                T,
                id,
                "deployment",
                &text("deployment")?,
                Deployment::ALL,
                Deployment::as_str,
            )?,
            zones: listed.zones,
            vpc_id: text("vpc_id")?,
            subnets: decode::json(T, id, "subnets", &text("subnets")?)?,
            data_bucket: text("data_bucket")?,
            wal_mode: decode::one_of(
                T,
                id,
                "wal_mode",
                &text("wal_mode")?,
                WalMode::ALL,
                WalMode::as_str,
            )?,
            client_auth: decode::one_of(
                T,
                id,
                "client_auth",
                &text("client_auth")?,
                ClientAuth::ALL,
                ClientAuth::as_str,
            )?,
            transit_encryption: decode::one_of(
                T,
                id,
                "transit_encryption",
                &text("transit_encryption")?,
                TransitEncryption::ALL,
                TransitEncryption::as_str,
            )?,
            endpoint_exposure: decode::one_of(
                T,
                id,
                "endpoint_exposure",
                &text("endpoint_exposure")?,
                EndpointExposure::ALL,
                EndpointExposure::as_str,
            )?,
            tags: decode::json(T, id, "tags", &text("tags")?)?,
            size_aku: listed.size_aku,
            target_aku: listed.target_aku,
            state: listed.state,
            state_reason: listed.state_reason,
            bootstrap: listed.bootstrap,
            created_by: text("created_by")?,
            created_at: listed.created_at,
            updated_at: row.try_get("updated_at")?,
            deleted_at: row.try_get("deleted_at")?,
        })
    }
}

/// What a line of the instance list shows: a page of the list reads these 10 columns, not
/// all 23 (each value read is copied and freed by the driver, and the settings' JSON parsed).
#[derive(Debug, Clone)]
pub struct ListedRow {
    pub id: i64,
    pub name: String,
    pub kafka_version: String,
    pub zones: Vec<String>,
    pub size_aku: u32,
    pub target_aku: Option<u32>,
    pub state: State,
    pub state_reason: Option<String>,
    pub bootstrap: String,
    pub created_at: i64,
}

const LISTED_COLUMNS: &str = "id, name, kafka_version, zones, size_aku, target_aku, state, \
    state_reason, bootstrap, created_at";

impl<'r> sqlx::FromRow<'r, SqliteRow> for ListedRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        const T: &str = "instances";
        let id: i64 = row.try_get("id")?;
        let text = |column: &str| row.try_get::<String, _>(column);
        Ok(ListedRow {
            id,
            name: text("name")?,
            kafka_version: text("kafka_version")?,
            zones: decode::json(T, id, "zones", &text("zones")?)?,
            size_aku: decode::count(T, id, "size_aku", row.try_get("size_aku")?)?,
            target_aku: row
                .try_get::<Option<i64>, _>("target_aku")?
                .map(|t| decode::count(T, id, "target_aku", t))
                .transpose()?,
            state: decode::one_of(T, id, "state", &text("state")?, &State::ALL, State::as_str)?,
            state_reason: row.try_get("state_reason")?,
            bootstrap: text("bootstrap")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl InstanceRow {
    /// The columns a line of the list shows.
    pub fn listed(&self) -> ListedRow {
        ListedRow {
            id: self.id,
            name: self.name.clone(),
            kafka_version: self.kafka_version.clone(),
            zones: self.zones.clone(),
            size_aku: self.size_aku,
            target_aku: self.target_aku,
            state: self.state,
            state_reason: self.state_reason.clone(),
            bootstrap: self.bootstrap.clone(),
            created_at: self.created_at,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn zones(&self) -> Vec<String> {
        self.zones.clone()
    }

    pub fn subnets(&self) -> Vec<String> {
        self.subnets.clone()
    }

    pub fn tags(&self) -> Vec<(String, String)> {
        self.tags.clone().into_iter().collect()
    }

    pub fn size(&self) -> u32 {
        self.size_aku
    }

    pub fn target(&self) -> Option<u32> {
        self.target_aku
    }
}

/// A state read from any table (counts, histories), strictly.
pub fn state_of(table: &str, id: i64, value: &str) -> Result<State, sqlx::Error> {
    decode::one_of(table, id, "state", value, &State::ALL, State::as_str)
}

const INSTANCE_COLUMNS: &str = "id, name, description, kafka_version, deployment, zones, vpc_id, subnets, \
    data_bucket, wal_mode, client_auth, transit_encryption, endpoint_exposure, tags, size_aku, target_aku, \
    state, state_reason, bootstrap, created_by, created_at, updated_at, deleted_at";

pub async fn name_taken(conn: &mut SqliteConnection, name: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM instances WHERE name = ? AND state <> 'deleted'")
            .bind(name)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

pub async fn get(conn: &mut SqliteConnection, id: i64) -> Result<Option<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Instances that are not deleted, newest first; only those in `state` when given.
pub async fn list(
    pool: &SqlitePool,
    state: Option<State>,
) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances
         WHERE state <> 'deleted' AND (?1 IS NULL OR state = ?1)
         ORDER BY id DESC"
    ))
    .bind(state.map(State::as_str))
    .fetch_all(pool)
    .await
}

/// One page of the instances that are not deleted, newest first: those older than `before`
/// (an id: the keyset cursor), at most `limit`, filtered by state and by a name containing
/// `name` (case-insensitive) when given.
pub async fn page(
    pool: &SqlitePool,
    state: Option<State>,
    name: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ListedRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LISTED_COLUMNS} FROM instances
         WHERE state <> 'deleted' AND (?1 IS NULL OR state = ?1)
           AND (?2 IS NULL OR instr(lower(name), lower(?2)) > 0)
           AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4"
    ))
    .bind(state.map(State::as_str))
    .bind(name)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The ids of the instances that are not deleted (the control loop's work list).
pub async fn live_ids(pool: &SqlitePool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM instances WHERE state <> 'deleted' ORDER BY id")
        .fetch_all(pool)
        .await
}

/// Every instance ever created, deleted ones included (metering reads their history).
pub async fn all_including_deleted(pool: &SqlitePool) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances ORDER BY id"
    ))
    .fetch_all(pool)
    .await
}

/// Instances in `state` (the license watcher's work list).
pub async fn in_state(pool: &SqlitePool, state: State) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE state = ? ORDER BY id"
    ))
    .bind(state.as_str())
    .fetch_all(pool)
    .await
}

/// The largest instances that are not deleted (for "which are largest" when over quota).
pub async fn largest(pool: &SqlitePool, limit: i64) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE state <> 'deleted'
         ORDER BY MAX(size_aku, COALESCE(target_aku, 0)) DESC, name LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Inserts a new instance in `creating`; returns its id.
pub async fn insert(
    conn: &mut SqliteConnection,
    spec: &InstanceSpec,
    created_by: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let id = sqlx::query_scalar(
        "INSERT INTO instances (name, description, kafka_version, deployment, zones, vpc_id, subnets,
            data_bucket, wal_mode, client_auth, transit_encryption, endpoint_exposure, tags, size_aku,
            state, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'creating', ?, ?, ?)
         RETURNING id",
    )
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(&spec.kafka_version)
    .bind(spec.deployment.as_str())
    .bind(to_json(&spec.zones))
    .bind(&spec.vpc_id)
    .bind(to_json(&spec.subnets))
    .bind(&spec.data_bucket)
    .bind(spec.wal_mode.as_str())
    .bind(spec.client_auth.as_str())
    .bind(spec.transit_encryption.as_str())
    .bind(spec.endpoint_exposure.as_str())
    .bind(to_json(&spec.tags))
    .bind(i64::from(spec.size_aku))
    .bind(created_by)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// JSON text of the spec's list and map fields (strings only: serialising cannot fail).
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Moves an instance to `state` (and its scale target), and appends the state history.
pub async fn set_state(
    conn: &mut SqliteConnection,
    id: i64,
    state: State,
    target_aku: Option<u32>,
    reason: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instances SET state = ?, target_aku = ?, state_reason = ?, updated_at = ? WHERE id = ?",
    )
    .bind(state.as_str())
    .bind(target_aku.map(i64::from))
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    append_history(conn, id, now).await
}

async fn append_history(conn: &mut SqliteConnection, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instance_history (instance_id, at, state, size_aku)
         SELECT id, ?, state, size_aku FROM instances WHERE id = ?",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn record_created(
    conn: &mut SqliteConnection,
    id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    append_history(conn, id, now).await
}

/// Records a new bootstrap address of a running instance (its listener's address was
/// reconfigured), with its audit entry, in one transaction. `Ok(false)`: it had that one.
pub async fn change_bootstrap(
    pool: &SqlitePool,
    instance_id: i64,
    address: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let old: Option<(String, String)> =
        sqlx::query_as("SELECT name, bootstrap FROM instances WHERE id = ?")
            .bind(instance_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((name, old)) = old.filter(|(_, old)| old != address) else {
        return Ok(false);
    };
    set_bootstrap(&mut tx, instance_id, address, now).await?;
    let detail = format!("bootstrap address {old} -> {address}");
    super::audit::append_in(
        &mut tx,
        super::audit::Entry::by_console(now, "instance_endpoint", &name, "success", &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn set_bootstrap(
    conn: &mut SqliteConnection,
    instance_id: i64,
    address: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE instances SET bootstrap = ?, updated_at = ? WHERE id = ?")
        .bind(address)
        .bind(now)
        .bind(instance_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
