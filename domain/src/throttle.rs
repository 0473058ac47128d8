//! Login throttling (OWASP ASVS 2.2.1): [`MAX_FAILURES`] failed sign-ins for one user name
//! from one client address within [`WINDOW_SECS`] lock further attempts for that name from
//! that address, and [`MAX_FAILURES_PER_ADDRESS`] from one address (whatever the names) lock
//! that address, until the oldest failure in the window has aged out.
//!
//! Never a lock of the name alone: a stranger who fails five times for `admin` would then
//! keep the real admin out from everywhere, again every window. Guessing from many addresses
//! stays slow: each guess is an Argon2 hash and the sign-in path has a per-address rate limit.
//! The same rule throttles a signed-in user's wrong current passwords at a password change.

/// Failures allowed for one (user name, address) inside the window; the next attempt is
/// refused.
pub const MAX_FAILURES: usize = 5;
/// Failures allowed from one address inside the window, across user names.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// The sliding window, 15 minutes.
pub const WINDOW_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Allowed,
    /// Refused until this instant (unix seconds).
    LockedUntil(i64),
}

/// `failures` are the unix times of the failed attempts that count (the caller passes those of
/// the last [`WINDOW_SECS`] at least; older ones are ignored here too).
pub fn check(failures: &[i64], now: i64) -> Throttle {
    check_limit(failures, now, MAX_FAILURES)
}

/// [`check`] for an address's failures across user names.
pub fn check_address(failures: &[i64], now: i64) -> Throttle {
    check_limit(failures, now, MAX_FAILURES_PER_ADDRESS)
}

fn check_limit(failures: &[i64], now: i64, limit: usize) -> Throttle {
    let mut recent: Vec<i64> = failures
        .iter()
        .copied()
        .filter(|&t| t > now - WINDOW_SECS)
        .collect();
    if recent.len() < limit {
        return Throttle::Allowed;
    }
    recent.sort_unstable();
    // Attempts open again when enough failures have left the window that fewer than `limit`
    // remain: that is when the (len - limit + 1)-th oldest leaves it.
    let unlocking = recent[recent.len() - limit];
    Throttle::LockedUntil(unlocking + WINDOW_SECS)
}

/// The stricter of two throttles (the later unlock time).
pub fn stricter(a: Throttle, b: Throttle) -> Throttle {
    match (a, b) {
        (Throttle::LockedUntil(x), Throttle::LockedUntil(y)) => Throttle::LockedUntil(x.max(y)),
        (Throttle::LockedUntil(x), _) | (_, Throttle::LockedUntil(x)) => Throttle::LockedUntil(x),
        _ => Throttle::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    #[test]
    fn five_failures_lock_the_sixth_attempt() {
        let four: Vec<i64> = (0..4).map(|i| NOW - 100 + i).collect();
        assert_eq!(check(&four, NOW), Throttle::Allowed);
        let five: Vec<i64> = (0..5).map(|i| NOW - 100 + i).collect();
        assert_eq!(
            check(&five, NOW),
            Throttle::LockedUntil(NOW - 100 + WINDOW_SECS)
        );
    }

    #[test]
    fn an_address_may_fail_for_several_names_before_it_is_locked() {
        let nineteen: Vec<i64> = (0..19).map(|i| NOW - 100 + i).collect();
        assert_eq!(check_address(&nineteen, NOW), Throttle::Allowed);
        let twenty: Vec<i64> = (0..20).map(|i| NOW - 100 + i).collect();
        assert_eq!(
            check_address(&twenty, NOW),
            Throttle::LockedUntil(NOW - 100 + WINDOW_SECS)
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let old: Vec<i64> = (0..10).map(|i| NOW - WINDOW_SECS - i).collect();
        assert_eq!(check(&old, NOW), Throttle::Allowed);
        // Exactly WINDOW_SECS ago has just left the window.
        let mut edge: Vec<i64> = (0..4).map(|i| NOW - i).collect();
        edge.push(NOW - WINDOW_SECS);
        assert_eq!(check(&edge, NOW), Throttle::Allowed);
    }

    #[test]
    fn unlock_is_when_the_count_drops_below_the_limit() {
        // Seven failures: locked until the third oldest leaves the window.
        let failures = [
            NOW - 700,
            NOW - 600,
            NOW - 500,
            NOW - 400,
            NOW - 300,
            NOW - 200,
            NOW - 100,
        ];
        let until = NOW - 500 + WINDOW_SECS;
        assert_eq!(check(&failures, NOW), Throttle::LockedUntil(until));
        assert_eq!(check(&failures, until - 1), Throttle::LockedUntil(until));
        assert_eq!(check(&failures, until), Throttle::Allowed);
    }

    #[test]
    fn stricter_takes_the_later_lock() {
        assert_eq!(
            stricter(Throttle::Allowed, Throttle::Allowed),
            Throttle::Allowed
        );
        assert_eq!(
            stricter(Throttle::LockedUntil(5), Throttle::Allowed),
            Throttle::LockedUntil(5)
        );
        assert_eq!(
            stricter(Throttle::LockedUntil(5), Throttle::LockedUntil(9)),
            Throttle::LockedUntil(9)
        );
    }
}
