//! How many audit entries refusals of access may write. Anyone can cause a 401, 403 or 429, as
//! often as they like and without signing in, so each one cannot be an entry: a flood of
//! them would grow the log (and the database) without bound.
//!
//! The rule: within a window of [`WINDOW_SECS`] per client address, the first refusal of each
//! (actor, action) is logged, up to [`ENTRIES_PER_ADDRESS`] entries; every other refusal is
//! counted, and when the window closes one summary entry says how many were not logged. The
//! path a refusal names is no part of the key (a new path each time would defeat it) and is
//! recorded cut to [`TARGET_CHARS`]. At most [`ADDRESSES`] addresses are tracked at once;
//! refusals from further addresses in that minute are counted under [`OTHER_ADDRESSES`].
//!
//! So one address costs at most `ENTRIES_PER_ADDRESS + 1` entries a minute, each under
//! [`ENTRY_BYTES_MAX`] bytes of text, however it varies paths, names and headers.

use std::collections::{HashMap, HashSet};

pub const WINDOW_SECS: i64 = 60;
pub const ENTRIES_PER_ADDRESS: usize = 10;
pub const ADDRESSES: usize = 20_000;
/// Characters of a refused request's path kept in its entry.
pub const TARGET_CHARS: usize = 200;
/// The key under which refusals from addresses beyond [`ADDRESSES`] are counted.
pub const OTHER_ADDRESSES: &str = "other addresses";
/// An upper bound of one refusal entry's text: actor (a user name, at most 32 characters, or
/// a service account's), action, target, address and the refusal's own message.
pub const ENTRY_BYTES_MAX: usize = 1024;

/// Whether a refusal is to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Log,
    /// Counted, not written.
    Coalesced,
}

/// One closed window with refusals that were not written: the summary entry's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub addr: String,
    pub from: i64,
    pub count: u64,
}

#[derive(Debug, Default)]
struct Window {
    opened_at: i64,
    logged: HashSet<(String, String)>,
    dropped: u64,
}

/// The windows of the addresses refused lately.
#[derive(Debug, Default)]
pub struct RefusalLog {
    windows: HashMap<String, Window>,
}

impl RefusalLog {
    /// Decides for one refusal of `action` to `actor` from `addr` at `now`. A window of `addr`
    /// that has closed is handed back to be summarised first.
    pub fn admit(
        &mut self,
        actor: &str,
        addr: &str,
        action: &str,
        now: i64,
    ) -> (Admit, Option<Dropped>) {
        let closed = match self.windows.get(addr) {
            Some(window) if now - window.opened_at >= WINDOW_SECS => self.close(addr),
            _ => None,
        };
        let key = if self.windows.contains_key(addr) || self.windows.len() < ADDRESSES {
            addr
        } else {
            OTHER_ADDRESSES
        };
        let window = self
            .windows
            .entry(key.to_string())
            .or_insert_with(|| Window {
                opened_at: now,
                ..Window::default()
            });
        let pair = (actor.to_string(), action.to_string());
        let admit = if key == OTHER_ADDRESSES
            || window.logged.len() >= ENTRIES_PER_ADDRESS
            || window.logged.contains(&pair)
        {
            window.dropped += 1;
            Admit::Coalesced
        } else {
            window.logged.insert(pair);
            Admit::Log
        };
        (admit, closed)
    }

    /// Closes every window older than [`WINDOW_SECS`] at `now`; answers those that dropped
    /// refusals (the summaries to write). Called once a minute.
    pub fn sweep(&mut self, now: i64) -> Vec<Dropped> {
        let old: Vec<String> = self
            .windows
            .iter()
            .filter(|(_, w)| now - w.opened_at >= WINDOW_SECS)
            .map(|(addr, _)| addr.clone())
            .collect();
        let mut dropped: Vec<Dropped> = old.iter().filter_map(|addr| self.close(addr)).collect();
        dropped.sort_by(|a, b| a.addr.cmp(&b.addr));
        dropped
    }

    fn close(&mut self, addr: &str) -> Option<Dropped> {
        let window = self.windows.remove(addr)?;
        (window.dropped > 0).then(|| Dropped {
            addr: addr.to_string(),
            from: window.opened_at,
            count: window.dropped,
        })
    }

    /// Addresses with an open window.
    pub fn tracked(&self) -> usize {
        self.windows.len()
    }
}

/// A refused request's path as its entry records it: at most [`TARGET_CHARS`] characters, an
/// ellipsis where it was cut, no control characters.
pub fn target_of(path: &str) -> String {
    let mut chars = path.chars().filter(|c| !c.is_control());
    let kept: String = chars.by_ref().take(TARGET_CHARS).collect();
    if chars.next().is_some() {
        format!("{kept}…")
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_refusal_of_each_actor_and_action_is_logged_once_a_window() {
        let mut log = RefusalLog::default();
        assert_eq!(log.admit("anonymous", "a", "access", 0), (Admit::Log, None));
        assert_eq!(log.admit("anonymous", "a", "access", 1).0, Admit::Coalesced);
        assert_eq!(log.admit("anonymous", "a", "cross_site", 1).0, Admit::Log);
        assert_eq!(log.admit("anonymous", "b", "access", 1).0, Admit::Log);
        // The window closes: a summary of what was dropped, then a fresh window.
        let (admit, closed) = log.admit("anonymous", "a", "access", WINDOW_SECS);
        assert_eq!(admit, Admit::Log);
        assert_eq!(
            closed,
            Some(Dropped {
                addr: "a".into(),
                from: 0,
                count: 1
            })
        );
    }

    #[test]
    fn an_address_writes_at_most_its_allowance_whatever_it_varies() {
        let mut log = RefusalLog::default();
        let logged = (0..10_000)
            .filter(|i| log.admit(&format!("name{i}"), "a", "login", 5).0 == Admit::Log)
            .count();
        assert_eq!(logged, ENTRIES_PER_ADDRESS);
        let dropped = log.sweep(5 + WINDOW_SECS);
        assert_eq!(
            dropped,
            vec![Dropped {
                addr: "a".into(),
                from: 5,
                count: 10_000 - ENTRIES_PER_ADDRESS as u64
            }]
        );
        assert_eq!(log.tracked(), 0);
        // A quiet window leaves no summary.
        log.admit("x", "b", "access", 100);
        assert!(log.sweep(100 + WINDOW_SECS).is_empty());
    }

    #[test]
    fn addresses_beyond_the_limit_are_counted_together() {
        let mut log = RefusalLog::default();
        for i in 0..ADDRESSES {
            assert_eq!(
                log.admit("anonymous", &i.to_string(), "access", 0).0,
                Admit::Log
            );
        }
        assert_eq!(
            log.admit("anonymous", "new", "access", 0).0,
            Admit::Coalesced
        );
        assert_eq!(log.tracked(), ADDRESSES + 1);
        let dropped = log.sweep(WINDOW_SECS);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].addr, OTHER_ADDRESSES);
        assert_eq!(log.tracked(), 0);
    }

    #[test]
    fn targets_are_cut() {
        assert_eq!(target_of("/api/v1/instances/7"), "/api/v1/instances/7");
        let long = format!("/api/v1/instances/{}", "x".repeat(65_000));
        let cut = target_of(&long);
        assert_eq!(cut.chars().count(), TARGET_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(target_of("/a\u{0}b\nc"), "/abc");
    }
}
