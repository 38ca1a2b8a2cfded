//! Every schema migration of the store, in one list, applied in order and tracked with
//! `PRAGMA user_version`. Append new steps; never edit a step that has shipped.

/// Schema migrations, applied in order and tracked with `PRAGMA user_version`.
/// Append new steps; never edit a step that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: sessions and their state transitions.
    "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        agent_type TEXT,
        name TEXT,
        task_id TEXT,
        state TEXT NOT NULL,
        state_reason TEXT,
        state_source TEXT,
        phase TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        exit_code INTEGER,
        exit_signal INTEGER,
        workspace_path TEXT,
        attached_clients INTEGER NOT NULL DEFAULT 0,
        last_input_at TEXT,
        last_output_at TEXT,
        command TEXT NOT NULL DEFAULT '[]',
        env_keys TEXT NOT NULL DEFAULT '[]',
        cols INTEGER NOT NULL DEFAULT 120,
        rows INTEGER NOT NULL DEFAULT 35,
        host_pid INTEGER,
        agent_pid INTEGER,
        agent_session_id TEXT,
        idle_after_secs REAL NOT NULL DEFAULT 2.0
    );
    CREATE INDEX sessions_by_state ON sessions(state);
    CREATE INDEX sessions_by_task ON sessions(task_id);
    CREATE INDEX sessions_by_updated ON sessions(updated_at);
    CREATE TABLE transitions (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        at TEXT NOT NULL,
        cause TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;",
    // 2: lifecycle documents (the reference hook library's state.json records) and their
    // phase history; see `api::lifecycle`. `doc` holds the document's top-level fields
    // except `history`, exactly as last written; the other columns are copies for queries.
    "CREATE TABLE lifecycle (
        id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        doc TEXT NOT NULL,
        agent_name TEXT,
        phase TEXT,
        created_at TEXT,
        last_updated TEXT,
        last_updated_us INTEGER,
        resume_ready INTEGER NOT NULL DEFAULT 0,
        error_count INTEGER NOT NULL DEFAULT 0,
        has_history INTEGER NOT NULL DEFAULT 1
    );
    -- Covers list_sessions: read in order, without the documents and without sorting.
    CREATE INDEX lifecycle_recent ON lifecycle(last_updated_us DESC, id DESC, agent_name,
        phase, created_at, last_updated, resume_ready, error_count);
    CREATE TABLE lifecycle_history (
        session_id TEXT NOT NULL REFERENCES lifecycle(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        from_phase TEXT,
        to_phase TEXT,
        timestamp TEXT,
        raw TEXT,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;",
    // 3: telemetry: resource samples and the per-session summary; see `services::telemetry`.
    TELEMETRY,
    // 4: events, conversation messages, what a resume needs; see `model::event` and
    // `model::message`.
    EVENTS,
    // 5: output the log could not keep (a full disk); see `host::lost`.
    "ALTER TABLE sessions ADD COLUMN output_bytes_lost INTEGER NOT NULL DEFAULT 0;",
    // 6: indexes no query needs. Every index a write touches is one more page in its commit
    // (a lifecycle write is ~0.1 ms, a page ~5 us), and a state change touched all three:
    // no query filters on `state` or `ended_at` through an index (cleanup compares
    // `COALESCE(ended_at, updated_at)` and reads states from a list), and the one range on
    // `updated_at` (cleanup's check of old live sessions) scans a table it reads rarely.
    "DROP INDEX IF EXISTS sessions_by_state;
    DROP INDEX IF EXISTS sessions_by_ended;
    DROP INDEX IF EXISTS sessions_by_updated;",
    // 7: the request a waiting session waits on (JSON, see `model::pending`).
    "ALTER TABLE sessions ADD COLUMN pending TEXT;",
    // 8: the session's approval policy (JSON, see `model::policy`), kept for resume.
    "ALTER TABLE sessions ADD COLUMN policy TEXT;",
    // 9: one order over every session's events, for the all-sessions stream; see
    // `store::feed`.
    FEED,
    // 10: launch templates, every version kept; see `model::template`.
    "CREATE TABLE templates (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (name, version)
    ) WITHOUT ROWID;
    CREATE TABLE template_current (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 11: cost budgets (JSON, see `model::budget`): a session's own, and a task's, which
    // counts all of its sessions.
    "ALTER TABLE sessions ADD COLUMN budget TEXT;
    CREATE TABLE task_budgets (
        task_id TEXT PRIMARY KEY,
        budget TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 12: a session's git worktree (JSON, see `model::worktree`), made by `start --worktree`.
    "ALTER TABLE sessions ADD COLUMN worktree TEXT;",
    // 13: snapshots (see `model::snapshot`; the files are in the home's `.snapshots`), kept
    // apart from `sessions` so that removing a session leaves its snapshots; and where a
    // restored session came from.
    "CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        name TEXT UNIQUE,
        session_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX snapshots_by_session ON snapshots(session_id, created_at);
    ALTER TABLE sessions ADD COLUMN restored_from TEXT;",
    // 14: the template a session was started from (`NAME@VERSION`), which status hooks
    // can filter on.
    "ALTER TABLE sessions ADD COLUMN template TEXT;",
    // 15: a session's token and cost totals over time; see `store::usage_series`.
    USAGE_SERIES,
];

/// Migration 15 of the store (see `store::MIGRATIONS`): `usage_samples` holds a session's
/// running token and cost totals each time its host stored changed figures. Sessions that
/// already had figures get them as their one point.
const USAGE_SERIES: &str = "
    CREATE TABLE usage_samples (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at_ms INTEGER NOT NULL,
        tokens_input INTEGER,
        tokens_output INTEGER,
        tokens_cache_read INTEGER,
        tokens_cache_write INTEGER,
        cost_usd REAL,
        cost_estimated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, at_ms)
    ) WITHOUT ROWID;
    INSERT INTO usage_samples (session_id, at_ms, tokens_input, tokens_output,
            tokens_cache_read, tokens_cache_write, cost_usd, cost_estimated)
        SELECT session_id, usage_at_ms, tokens_input, tokens_output, tokens_cache_read,
            tokens_cache_write, cost_usd, COALESCE(cost_estimated, 0)
        FROM telemetry
        WHERE usage_at_ms IS NOT NULL AND (tokens_input IS NOT NULL OR tokens_output IS NOT NULL
            OR tokens_cache_read IS NOT NULL OR tokens_cache_write IS NOT NULL
            OR cost_usd IS NOT NULL);";

/// Migration 9 of the store (see `store::MIGRATIONS`): `event_feed` numbers every event of
/// every session in commit order. A trigger fills it, so no writer can forget it. Rows of
/// deleted events are left for the reader's join to skip and for `cleanup` to purge: an
/// index to delete them at once would cost every event's commit one more page.
const FEED: &str = "
    CREATE TABLE event_feed (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL
    );
    INSERT INTO event_feed (session_id, seq)
        SELECT session_id, seq FROM events ORDER BY at, session_id, seq;
    CREATE TRIGGER event_feed_from_events AFTER INSERT ON events BEGIN
        INSERT INTO event_feed (session_id, seq) VALUES (NEW.session_id, NEW.seq);
    END;";

/// SQL creating the telemetry tables (idempotent).
///
/// * `resource_samples`: one row per kept sample (see the retention rule in the module docs
///   of `services::telemetry`). Counters are cumulative for the session's tree;
///   `workspace_bytes_used` is set only on samples taken together with a workspace walk.
/// * `telemetry`: one summary row per session, updated by the sampler at every flush and by
///   the session's host through `services::telemetry::usage_for_with` (the token columns,
///   computed at each turn's end and once the agent ended; see `SessionManager::usage`).
///
/// Both cascade on the deletion of the session row, so `rm` needs no extra step.
const TELEMETRY: &str = "CREATE TABLE IF NOT EXISTS resource_samples (
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

/// Migration 4 of the store (see `store::MIGRATIONS`): events (backfilled from the state
/// history), conversation messages, and the session columns a resume needs.
const EVENTS: &str = "
    ALTER TABLE sessions ADD COLUMN agent_args TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE sessions ADD COLUMN max_log_bytes INTEGER;
    CREATE INDEX sessions_by_ended ON sessions(ended_at);
    CREATE TABLE events (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO events (session_id, seq, at, source, kind, data)
        SELECT session_id, seq, at, source, 'state',
            json_object('from', from_state, 'to', to_state, 'cause', cause)
        FROM transitions;
    CREATE TRIGGER events_from_transitions AFTER INSERT ON transitions BEGIN
        INSERT INTO events (session_id, seq, at, source, kind, data)
        VALUES (NEW.session_id,
            (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE session_id = NEW.session_id),
            NEW.at, NEW.source, 'state',
            json_object('from', NEW.from_state, 'to', NEW.to_state, 'cause', NEW.cause));
    END;
    CREATE TABLE messages (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;";
