//! The audit log's hash chain: each entry carries the hash of the entry before it and a hash
//! over that and its own content, so an edited, removed or reordered entry shows: the chain
//! breaks at the first entry that no longer matches.
//!
//! `hash = hex(SHA-256(prev_hash || "\n" || JSON [id, at, actor, action, target, client_addr,
//! outcome, detail]))`, the first entry's `prev_hash` being [`GENESIS`]. JSON keeps field
//! boundaries unambiguous ("ab" + "c" and "a" + "bc" hash differently).

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The content of one entry that the hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryContent<'a> {
    pub id: i64,
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

pub fn entry_hash(prev_hash: &str, e: &EntryContent<'_>) -> String {
    let content = serde_json::to_string(&(
        e.id,
        e.at,
        e.actor,
        e.action,
        e.target,
        e.client_addr,
        e.outcome,
        e.detail,
    ))
    .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(content.as_bytes());
    crate::digest::hex(&hasher.finalize())
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The entry's content no longer matches its hash: it was edited.
    Edited { id: i64 },
    /// The entry does not follow the one before it: entries between were removed, or the
    /// entry was reordered or inserted.
    Unlinked { id: i64, after: Option<i64> },
    /// The entry has no hash (written outside the console).
    Unsealed { id: i64 },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Edited { id } => write!(
                f,
                "entry {id} does not match its hash: it was changed after it was written"
            ),
            Break::Unlinked { id, after: Some(after) } => write!(
                f,
                "entry {id} does not follow entry {after}: entries between them were removed, or it was inserted"
            ),
            Break::Unlinked { id, after: None } => write!(
                f,
                "entry {id} is the first entry but does not start the chain: earlier entries were removed"
            ),
            Break::Unsealed { id } => write!(f, "entry {id} has no hash: it was written outside the console"),
        }
    }
}

/// One stored entry: its content and the two hashes stored with it.
#[derive(Debug, Clone)]
pub struct StoredEntry<'a> {
    pub content: EntryContent<'a>,
    pub prev_hash: Option<&'a str>,
    pub hash: Option<&'a str>,
}

/// Walks the chain in id order and reports the first break, or the number of entries checked.
pub fn verify<'a>(entries: impl IntoIterator<Item = StoredEntry<'a>>) -> Result<u64, Break> {
    let mut walk = ChainWalk::default();
    for entry in entries {
        walk.check(entry)?;
    }
    Ok(walk.checked())
}

/// A walk along the chain that is fed its entries in id order, a batch at a time (the log
/// may be larger than memory should hold); [`verify`] over everything fed. A walk can be kept
/// and fed the entries appended since.
#[derive(Debug, Default, Clone)]
pub struct ChainWalk {
    previous: Option<(i64, String)>,
    checked: u64,
}

impl ChainWalk {
    /// Checks the next entry against the one before it; the first break found.
    pub fn check(&mut self, entry: StoredEntry<'_>) -> Result<(), Break> {
        let id = entry.content.id;
        let (Some(prev_hash), Some(hash)) = (entry.prev_hash, entry.hash) else {
            return Err(Break::Unsealed { id });
        };
        let expected_prev = self
            .previous
            .as_ref()
            .map(|(_, h)| h.as_str())
            .unwrap_or(GENESIS);
        if prev_hash != expected_prev {
            return Err(Break::Unlinked {
                id,
                after: self.previous.as_ref().map(|(id, _)| *id),
            });
        }
        if entry_hash(prev_hash, &entry.content) != hash {
            return Err(Break::Edited { id });
        }
        self.previous = Some((id, hash.to_string()));
        self.checked += 1;
        Ok(())
    }

    /// How many entries were checked.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The id of the last entry checked (0 before the first).
    pub fn last_id(&self) -> i64 {
        self.previous.as_ref().map_or(0, |(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(id: i64, actor: &'static str) -> EntryContent<'static> {
        EntryContent {
            id,
            at: 1_800_000_000 + id,
            actor,
            action: "login",
            target: None,
            client_addr: Some("127.0.0.1"),
            outcome: "success",
            detail: None,
        }
    }

    /// A sealed chain of `n` entries: (content, prev_hash, hash).
    fn chain(n: i64) -> Vec<(EntryContent<'static>, String, String)> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|id| {
                let c = content(id, "admin");
                let hash = entry_hash(&prev, &c);
                let row = (c, prev.clone(), hash.clone());
                prev = hash;
                row
            })
            .collect()
    }

    fn stored<'a>(rows: &'a [(EntryContent<'static>, String, String)]) -> Vec<StoredEntry<'a>> {
        rows.iter()
            .map(|(c, p, h)| StoredEntry {
                content: c.clone(),
                prev_hash: Some(p),
                hash: Some(h),
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(stored(&chain(5))), Ok(5));
        assert_eq!(verify(Vec::new()), Ok(0));
    }

    #[test]
    fn a_walk_fed_in_batches_finds_what_one_pass_finds() {
        let rows = chain(7);
        let mut walk = ChainWalk::default();
        for batch in stored(&rows).chunks(3) {
            for entry in batch {
                walk.check(entry.clone()).unwrap();
            }
        }
        assert_eq!(walk.checked(), 7);
        // A removed entry at a batch's edge: the link across the edge is still checked.
        let mut rows = chain(7);
        rows.remove(3);
        let mut walk = ChainWalk::default();
        let found = stored(&rows)
            .chunks(3)
            .flat_map(|batch| batch.to_vec())
            .map(|entry| walk.check(entry))
            .find(|checked| checked.is_err());
        assert_eq!(
            found,
            Some(Err(Break::Unlinked {
                id: 5,
                after: Some(3)
            }))
        );
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut rows = chain(5);
        rows[2].0.actor = "mallory";
        assert_eq!(verify(stored(&rows)), Err(Break::Edited { id: 3 }));
    }

    #[test]
    fn a_removed_entry_breaks_the_link_after_it() {
        let mut rows = chain(5);
        rows.remove(2);
        assert_eq!(
            verify(stored(&rows)),
            Err(Break::Unlinked {
                id: 4,
                after: Some(2)
            })
        );
        let mut rows = chain(3);
        rows.remove(0);
        assert_eq!(
            verify(stored(&rows)),
            Err(Break::Unlinked { id: 2, after: None })
        );
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_next_link() {
        // Someone edits entry 2 and recomputes its hash: entry 3 no longer follows it.
        let mut rows = chain(4);
        rows[1].0.detail = Some("forged");
        rows[1].2 = entry_hash(&rows[1].1, &rows[1].0);
        assert_eq!(
            verify(stored(&rows)),
            Err(Break::Unlinked {
                id: 3,
                after: Some(2)
            })
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = content(1, "ab");
        a.action = "c";
        let mut b = content(1, "a");
        b.action = "bc";
        assert_ne!(entry_hash(GENESIS, &a), entry_hash(GENESIS, &b));
    }
}
