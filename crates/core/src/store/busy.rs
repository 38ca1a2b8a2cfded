//! How a connection waits for another connection's lock.
//!
//! SQLite's own busy timeout sleeps 1 ms on the first conflict, then 2, 5, 10 ms and longer.
//! This store's transactions hold the write lock for tens of microseconds (a state change,
//! a sample, a lifecycle write), so that first millisecond was most of the wait, and it
//! landed on whatever collided: a `start` whose insert met its own host's first read took
//! 1–2 ms longer in about one start of fifteen. This handler retries after 20 µs and backs
//! off to SQLite's own steps, with the same bound on the whole wait.

use std::time::Duration;

/// The longest a statement waits for a lock before it fails with "database is locked".
pub(crate) const BUSY_LIMIT: Duration = Duration::from_secs(30);

/// Pause before each retry, in microseconds; the last step repeats.
const STEPS_US: [u64; 12] = [
    20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
];

/// The busy handler given to every store connection: `count` is the number of times it was
/// called before for the same lock. Returns false (give up) once the pauses add up to
/// [`BUSY_LIMIT`].
pub(crate) fn wait(count: i32) -> bool {
    let Ok(count) = usize::try_from(count) else {
        return false;
    };
    let limit = BUSY_LIMIT.as_micros() as u64;
    if waited_us(count) >= limit {
        return false;
    }
    std::thread::sleep(Duration::from_micros(step_us(count)));
    true
}

fn step_us(count: usize) -> u64 {
    STEPS_US[count.min(STEPS_US.len() - 1)]
}

/// The pauses before the `count`-th call, added up.
fn waited_us(count: usize) -> u64 {
    let listed: u64 = STEPS_US.iter().take(count).sum();
    let repeats = count.saturating_sub(STEPS_US.len()) as u64;
    listed.saturating_add(repeats.saturating_mul(STEPS_US[STEPS_US.len() - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_then_repeat_and_stop_at_the_limit() {
        assert_eq!(step_us(0), 20);
        assert_eq!(step_us(5), 1_000);
        assert_eq!(step_us(500), 100_000);
        assert_eq!(waited_us(0), 0);
        assert_eq!(waited_us(2), 70);
        let all: u64 = STEPS_US.iter().sum();
        assert_eq!(waited_us(STEPS_US.len() + 3), all + 3 * 100_000);
        // The first call past the limit gives up, without sleeping.
        let mut n = 0;
        while waited_us(n) < BUSY_LIMIT.as_micros() as u64 {
            n += 1;
        }
        let left = BUSY_LIMIT.as_micros() as u64 - all;
        assert_eq!(n, STEPS_US.len() + left.div_ceil(100_000) as usize);
        assert!(!wait(n as i32));
        assert!(!wait(-1));
    }
}
