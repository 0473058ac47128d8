//! The totals over all instances (how many per state, the AKU they hold) and the number that
//! changes with them (migration 0010: triggers on `instances`).

use super::decode;
use super::instances::state_of;
use crate::domain::instance::State;
use crate::domain::quota::{self, Holding};
use sqlx::SqliteConnection;

/// How many live instances hold each (state, size, target): a handful of groups for any
/// number of instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    groups: Vec<(State, Holding, u32)>,
}

impl Totals {
    /// AKU in use, by the domain's quota rule.
    pub fn used_aku(&self) -> u32 {
        quota::used_aku(
            self.groups
                .iter()
                .flat_map(|(_, holding, n)| std::iter::repeat_n(*holding, *n as usize)),
        )
    }

    /// Instances per state, the states in their string order; states with none are left out.
    pub fn by_state(&self) -> Vec<(State, u32)> {
        let mut counts: Vec<(State, u32)> = Vec::new();
        for (state, _, n) in &self.groups {
            match counts.iter_mut().find(|(s, _)| s == state) {
                Some((_, total)) => *total += n,
                None => counts.push((*state, *n)),
            }
        }
        counts.sort_by_key(|(state, _)| state.as_str());
        counts
    }
}

/// The number the totals were last changed at (it moves in the transaction that changes them).
pub async fn version(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM instance_totals_version")
        .fetch_one(conn)
        .await
}

/// The version, then a group's lowest id, state, size, target and count (all None when no
/// instance is live).
type GroupRow = (
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The totals and the version they belong to, read by one statement: one snapshot, so the
/// pair is consistent even when another connection commits meanwhile.
pub async fn totals(conn: &mut SqliteConnection) -> Result<(i64, Totals), sqlx::Error> {
    let rows: Vec<GroupRow> = sqlx::query_as(
        "SELECT v.version, g.id, g.state, g.size_aku, g.target_aku, g.n
             FROM instance_totals_version v LEFT JOIN (
                 SELECT MIN(id) AS id, state, size_aku, target_aku, COUNT(*) AS n FROM instances
                 WHERE state <> 'deleted' GROUP BY state, size_aku, target_aku
             ) g",
    )
    .fetch_all(conn)
    .await?;
    let version = rows.first().map(|row| row.0).unwrap_or(0);
    let mut groups = Vec::with_capacity(rows.len());
    for (_, id, state, size, target, n) in rows {
        // The id a value that does not decode is named by is the group's lowest.
        let (Some(id), Some(state), Some(size), Some(n)) = (id, state, size, n) else {
            continue; // no live instance: the join's one empty row
        };
        const T: &str = "instances";
        groups.push((
            state_of(T, id, &state)?,
            Holding {
                size_aku: decode::count(T, id, "size_aku", size)?,
                target_aku: target
                    .map(|t| decode::count(T, id, "target_aku", t))
                    .transpose()?,
                deleted: false,
            },
            decode::count(T, id, "COUNT(*)", n)?,
        ));
    }
    Ok((version, Totals { groups }))
}
