//! Per-session telemetry: what the agent's process tree uses (CPU, memory, I/O), how big the
//! workspace is, and the session's tokens and cost, all stored with the session and readable
//! after it ended.
//!
//! # Resources
//!
//! The host starts one sampler thread per session ([`spawn_sampler_for`]) right after the
//! agent spawned and stops it when the session ends (a last sample and a final flush). It
//! samples the agent's whole process tree with [`crate::services::resources::TreeSampler`]
//! (Linux `/proc`; cumulative counters never decrease, also when children exit) and sleeps on
//! a condition variable between samples, never polling.
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `resource_interval` | 2 s (min 100 ms) | one tree sample while the tree is active |
//! | `idle_interval` | 30 s | longest interval between samples of an idle tree |
//! | `workspace_interval` | 30 s (min 1 s) | one workspace walk, at most 200 000 entries or 1 s; the next walk waits at least 1 000 × the last walk's time, so walking costs ≤ 0.1 % of a core whatever the workspace's size (a million-file tree: the walk stops at 200 000 entries, ~0.45 s with a warm cache, and is marked incomplete; the next one comes ~7 min later); skipped while the tree has not moved since the last walk |
//! | `flush_interval` | 10 s | buffered samples written in one transaction (the first sample is written at once) |
//!
//! # Idle is (nearly) free
//!
//! A session that waits for its user is most of a session's life, and 1000 of them must not
//! load a 2-core machine. So:
//!
//! * each sample that finds the tree did nothing (no CPU time, I/O, memory or process change)
//!   doubles the interval to the next, up to `idle_interval`; any movement, or terminal output
//!   or input seen by the host ([`SamplerHost::activity`]), brings back `resource_interval`;
//! * samples of an unmoved tree read only its own `/proc` files, no `/proc` listing (see
//!   `services::resources`): O(tree), not O(machine);
//! * writes go through the host's own store connection, which drops its caches when idle;
//! * the thread wakes once a second to look at the watch lease (one `stat`) and the host's
//!   activity counter.
//!
//! # Live figures for watchers
//!
//! A watcher (`top`, `SessionManager::watch`) holds a [`WatchLease`];
//! while one is held every host samples at least every [`LIVE_INTERVAL`] and writes each
//! sample at once, so what a watcher reads is at most about two seconds old. See `watch.rs`.
//!
//! Each session may pass its own [`SamplerConfig`].
//!
//! ## Retention and downsampling
//!
//! * The last 15 minutes (before the newest sample) are kept at full rate (450 rows at 2 s).
//! * Older samples are thinned to one row per minute: the row at the minute's last sample
//!   time, with the mean CPU percent, the peak RSS, VSZ and process count, the last
//!   cumulative counters and the last workspace size of that minute.
//! * At most 10 000 rows per session (~6.6 days at one per minute); the oldest go first.
//! * The summary row (`telemetry` table) is never thinned: sample count, time-weighted
//!   average CPU, peak RSS, cumulative CPU time and I/O, the last sample taken while the tree
//!   was alive, the last workspace size, and the token figures.
//! * Samples and summary are deleted with the session (`ON DELETE CASCADE`).
//!
//! # Tokens and cost
//!
//! [`usage_for`] (the host) / `SessionManager::usage` (readers); which source wins is
//! documented on [`compute_usage`].
//! The session's host computes the figures with the agent's own environment once the agent
//! ended and stores them in the summary row with their source; they are final. Readers
//! compute live figures themselves and never store them (see `SessionManager::usage` in
//! `api/manager/usage.rs` for the rule).
//!
//! # Bad input
//!
//! Malformed transcript lines are skipped and counted (`skipped_lines`); missing files and
//! unreadable ones give no source (all token fields `null`); a process vanishing mid-read or
//! an unreadable `/proc` entry is skipped by the tree sampler; a session without samples has
//! `null` resource figures.

mod sampler;
mod shared_walk;
mod wake;
mod watch;

mod otel_tokens;
mod summary;
mod tokens;

pub use sampler::{
    spawn_sampler, spawn_sampler_for, SamplerConfig, SamplerHost, StopSignal, FULL_LISTING_EVERY,
    FULL_RATE_WINDOW, MAX_ROWS_PER_SESSION, THIN_BUCKET, WORKSPACE_DUTY_FACTOR,
};
pub use watch::{
    is_watched, lease_path, WatchLease, LEASE_CHECK, LEASE_REFRESH, LEASE_TTL, LIVE_INTERVAL,
    LIVE_WAIT, WATCH_FILE,
};

pub use summary::{duration_ms, samples, telemetry_for, telemetry_joined, SampleRow, Telemetry};
pub use tokens::{
    cached_usage, compute_usage, find_claude_transcript_in_window, iso_ms, now_ms,
    parse_output_log, print_mode, record_file, store_usage, usage_agent, usage_agent_of, usage_for,
    usage_for_with, CleanReader, PrintMode, UsageAgent, UsageEnv,
};

use crate::model::error::Result;
use crate::store::Store;
use std::time::Duration;

/// How old cached token figures of a running session may be before
/// `SessionManager::telemetry` reads the agent's records again.
pub const USAGE_MAX_AGE: Duration = Duration::from_secs(10);

/// Applies the retention rule (see the module docs) to one session's stored samples as if
/// the newest sample were taken at `newest_ms`. The sampler does this at every flush.
pub fn enforce_retention(store: &Store, session_id: &str, newest_ms: i64) -> Result<()> {
    store.enforce_telemetry_retention(session_id, newest_ms)
}
