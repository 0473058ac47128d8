//! Consumer groups' committed offsets and SCRAM users of a storage file.

use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use super::{bad, int, kind, sql, text, Group, ReadError, ScramUser};
use std::collections::BTreeMap;

pub(super) async fn groups_of(pool: &SqlitePool, cluster: i64) -> Result<Vec<Group>, ReadError> {
    let rows = sqlx::query(
        "SELECT g.name, typeof(g.name) AS name_t, t.name AS topic, tp.partition, \
         o.committed_offset, typeof(o.committed_offset) AS committed_offset_t \
         FROM consumer_group g \
         LEFT JOIN consumer_offset o ON o.consumer_group = g.id \
         LEFT JOIN topition tp ON tp.id = o.topition \
         LEFT JOIN topic t ON t.id = tp.topic \
         WHERE g.cluster = ? ORDER BY g.name, t.name, tp.partition",
    )
    .bind(cluster)
    .fetch_all(pool)
    .await
    .map_err(sql("consumer_offset"))?;
    let mut out: Vec<Group> = Vec::new();
    for row in &rows {
        let name = text(row, "name", "consumer_group.name", &|| "a group".into())?;
        if out.last().is_none_or(|g| g.name != name) {
            out.push(Group {
                name: name.clone(),
                offsets: BTreeMap::new(),
            });
        }
        let topic: Option<String> = row.try_get("topic").map_err(|_| {
            bad(
                "topic.name",
                format!("not text, a topic group {name} commits to"),
            )
        })?;
        let partition: Option<i64> = row.try_get("partition").map_err(|_| {
            bad(
                "topition.partition",
                format!("not an integer, a partition group {name} commits to"),
            )
        })?;
        let (topic, partition) = match (topic, partition) {
            (Some(t), Some(p)) => (t, p as i32),
            _ => {
                // A group without a commit; an offset whose partition is gone is refused.
                if kind(row, "committed_offset") != "null" {
                    return Err(bad(
                        "consumer_offset.topition",
                        format!("group {name} commits to a partition the file does not have"),
                    ));
                }
                continue;
            }
        };
        let place = || format!("group {name}, {topic}-{partition}");
        let offset = int(
            row,
            "committed_offset",
            "consumer_offset.committed_offset",
            true,
            &place,
        )?;
        match offset {
            // -1 (or NULL): nothing committed.
            None | Some(-1) => {}
            Some(o) if o >= 0 => {
                let group = out.last_mut().expect("pushed above");
                group.offsets.insert((topic, partition), o);
            }
            Some(o) => {
                return Err(bad(
                    "consumer_offset.committed_offset",
                    format!("{o} at {}; 0 or more (-1: none)", place()),
                ))
            }
        }
    }
    Ok(out)
}

pub(super) async fn scram_users_of(
    pool: &SqlitePool,
    cluster: i64,
) -> Result<Vec<ScramUser>, ReadError> {
    let rows = sqlx::query(
        "SELECT username, typeof(username) AS username_t, mechanism, \
         typeof(mechanism) AS mechanism_t, iterations, typeof(iterations) AS iterations_t \
         FROM scram_credential WHERE cluster = ? ORDER BY username, mechanism",
    )
    .bind(cluster)
    .fetch_all(pool)
    .await
    .map_err(sql("scram_credential"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let username = text(row, "username", "scram_credential.username", &|| {
            "a user".into()
        })?;
        let place = || format!("user {username}");
        let mechanism = match int(
            row,
            "mechanism",
            "scram_credential.mechanism",
            false,
            &place,
        )? {
            Some(1) => "SCRAM-SHA-256",
            Some(2) => "SCRAM-SHA-512",
            other => {
                return Err(bad(
                    "scram_credential.mechanism",
                    format!("{other:?} at {}; 1 (SHA-256) or 2 (SHA-512)", place()),
                ))
            }
        };
        let iterations = int(
            row,
            "iterations",
            "scram_credential.iterations",
            false,
            &place,
        )?
        .unwrap_or(0);
        out.push(ScramUser {
            username,
            mechanism,
            iterations,
        });
    }
    Ok(out)
}
