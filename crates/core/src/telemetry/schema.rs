//! The telemetry tables. [`MIGRATION`] is meant to be appended to the store's migration list;
//! every statement is `IF NOT EXISTS`, so it is also safe to run on a database where
//! [`ensure_schema`] already created the tables.

use crate::error::Result;
use crate::store::Store;

/// SQL creating the telemetry tables (idempotent).
///
/// * `resource_samples`: one row per kept sample (see the retention rule in the module docs
///   of [`crate::telemetry`]). Counters are cumulative for the session's tree;
///   `workspace_bytes_used` is set only on samples taken together with a workspace walk.
/// * `telemetry`: one summary row per session, updated by the sampler at every flush and by
///   the session's host through [`crate::telemetry::usage_for_with`] (the token columns,
///   computed once the agent ended; see [`crate::telemetry::session_usage`]).
///
/// Both cascade on the deletion of the session row, so `rm` needs no extra step.
pub const MIGRATION: &str = "CREATE TABLE IF NOT EXISTS resource_samples (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at_ms INTEGER NOT NULL,
        cpu_percent REAL NOT NULL,
        memory_rss_bytes INTEGER NOT NULL,
        memory_vsz_bytes INTEGER NOT NULL,
        io_read_bytes INTEGER NOT NULL,
        io_write_bytes INTEGER NOT NULL,
        io_read_chars INTEGER NOT NULL,
        io_write_chars INTEGER NOT NULL,
        process_count INTEGER NOT NULL,
        workspace_bytes_used INTEGER,
        PRIMARY KEY (session_id, at_ms)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS telemetry (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        sample_count INTEGER NOT NULL DEFAULT 0,
        cpu_busy_ms REAL NOT NULL DEFAULT 0,
        sampled_ms INTEGER NOT NULL DEFAULT 0,
        peak_memory_rss_bytes INTEGER,
        first_sample_ms INTEGER,
        last_sample_ms INTEGER,
        last_sample TEXT,
        cpu_time_ms INTEGER,
        io_read_bytes INTEGER,
        io_write_bytes INTEGER,
        io_read_chars INTEGER,
        io_write_chars INTEGER,
        thinned_until_ms INTEGER,
        workspace_bytes_used INTEGER,
        workspace_entries INTEGER,
        workspace_complete INTEGER,
        workspace_at_ms INTEGER,
        tokens_input INTEGER,
        tokens_output INTEGER,
        tokens_cache_read INTEGER,
        tokens_cache_write INTEGER,
        cost_usd REAL,
        cost_estimated INTEGER,
        usage_source TEXT,
        usage_model TEXT,
        usage_skipped_lines INTEGER,
        usage_at_ms INTEGER
    );";

/// Creates the telemetry tables when they are missing (a store whose migration list does not
/// include [`MIGRATION`] yet). Costs one read of `sqlite_master` when they exist.
pub fn ensure_schema(store: &Store) -> Result<()> {
    if tables_exist(store)? {
        return Ok(());
    }
    store.write(|tx| tx.execute_batch(MIGRATION))
}

/// True when both telemetry tables exist.
pub fn tables_exist(store: &Store) -> Result<bool> {
    let n: i64 = store
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'
             AND name IN ('resource_samples', 'telemetry')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| store_err(store, e))?;
    Ok(n == 2)
}

pub(crate) fn store_err(store: &Store, source: rusqlite::Error) -> crate::Error {
    crate::Error::Store {
        path: store
            .connection()
            .path()
            .unwrap_or("(in memory)")
            .to_string(),
        source,
    }
}
