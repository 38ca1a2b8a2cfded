//! The SQLite store: the source of truth for sessions and their history.
//!
//! One database file per home, in WAL mode so many processes (hooks, hosts, the CLI) read
//! and write at once. Every write runs in a `BEGIN IMMEDIATE` transaction, so writers queue
//! on SQLite's lock (with a generous busy timeout) instead of failing or losing updates.

use crate::clock::now_iso;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::record::{SessionKind, SessionRecord, Transition};
use crate::state::State;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::PathBuf;
use std::time::Duration;

/// Schema migrations, applied in order and tracked with `PRAGMA user_version`.
/// Append new steps; never edit a step that has shipped.
const MIGRATIONS: &[&str] = &[
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
    // phase history; see `crate::lifecycle`. `doc` holds the document's top-level fields
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
    // 3: telemetry: resource samples and the per-session summary; see crate::telemetry.
    crate::telemetry::MIGRATION,
    // 4: events, conversation messages, what a resume needs; see crate::events and
    // crate::history.
    crate::events::MIGRATION,
    // 5: output the log could not keep (a full disk); see crate::host::lost.
    "ALTER TABLE sessions ADD COLUMN output_bytes_lost INTEGER NOT NULL DEFAULT 0;",
];

/// Columns a caller may set through [`Store::update`] and [`Store::transition`]. Listing them
/// keeps SQL text static: values are always bound parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    StateReason,
    StateSource,
    Phase,
    StartedAt,
    EndedAt,
    ExitCode,
    ExitSignal,
    AttachedClients,
    LastInputAt,
    LastOutputAt,
    HostPid,
    AgentPid,
    AgentSessionId,
    Cols,
    Rows,
    /// The arguments the user gave (JSON list), repeated on resume.
    AgentArgs,
    MaxLogBytes,
    /// The argv last launched (JSON list).
    Command,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::StateReason => "state_reason",
            Column::StateSource => "state_source",
            Column::Phase => "phase",
            Column::StartedAt => "started_at",
            Column::EndedAt => "ended_at",
            Column::ExitCode => "exit_code",
            Column::ExitSignal => "exit_signal",
            Column::AttachedClients => "attached_clients",
            Column::LastInputAt => "last_input_at",
            Column::LastOutputAt => "last_output_at",
            Column::HostPid => "host_pid",
            Column::AgentPid => "agent_pid",
            Column::AgentSessionId => "agent_session_id",
            Column::Cols => "cols",
            Column::Rows => "rows",
            Column::AgentArgs => "agent_args",
            Column::MaxLogBytes => "max_log_bytes",
            Column::Command => "command",
        }
    }
}

/// A list of column assignments.
pub type Updates = Vec<(Column, Value)>;

/// Which current states a transition may start from.
#[derive(Debug, Clone, Copy)]
pub enum Guard<'a> {
    /// Only from a state that has not ended (the usual case for hosts).
    NotEnded,
    /// Only from exactly one of these states (compare-and-set).
    From(&'a [State]),
    /// From anything.
    Any,
}

/// What a new session starts with.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub kind: SessionKind,
    pub agent_type: Option<String>,
    pub name: Option<String>,
    pub task_id: Option<String>,
    pub state: State,
    pub cause: String,
    pub phase: Option<String>,
    pub workspace_path: Option<String>,
    pub command: Vec<String>,
    pub env_keys: Vec<String>,
    pub cols: u16,
    pub rows: u16,
    pub idle_after_secs: f64,
}

/// Filters for [`Store::list`]; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<State>,
    pub agent_type: Option<String>,
    pub task_id: Option<String>,
}

/// An open connection to a home's store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The home's folder, for status hooks fired after a transition commits.
    home_root: PathBuf,
    /// Opened for reading only because the disk is full (see [`crate::store_fallback`]).
    read_only: bool,
}

impl Store {
    /// Opens (creating and migrating if needed) the store of `home`.
    pub fn open(home: &Home) -> Result<Store> {
        let path = home.db_path();
        let conn = Connection::open(&path).map_err(|e| store_err(&path, e))?;
        let store = Store {
            conn,
            path,
            home_root: home.root().to_path_buf(),
            read_only: false,
        };
        if let Err(e) = store.configure() {
            if !crate::store_fallback::is_full(&e) {
                return Err(e);
            }
            // Closed first: connections of one process share SQLite's shared-memory state.
            drop(store);
            return Store::open_read_only(home).map_err(|_| e);
        }
        store.migrate()?;
        Ok(store)
    }

    /// Opens the store for reading only, for a full disk (see [`crate::store_fallback`]).
    fn open_read_only(home: &Home) -> Result<Store> {
        let path = home.db_path();
        let conn = crate::store_fallback::open_read_only(&path).map_err(|e| store_err(&path, e))?;
        let store = Store {
            conn,
            path,
            home_root: home.root().to_path_buf(),
            read_only: true,
        };
        store
            .conn
            .busy_timeout(Duration::from_secs(30))
            .and_then(|()| store.conn.execute_batch("PRAGMA foreign_keys=ON;"))
            .map_err(|e| store.err(e))?;
        store.migrate()?;
        Ok(store)
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> Error {
        store_err(&self.path, e)
    }

    fn configure(&self) -> Result<()> {
        // Busy timeout first: even switching to WAL can meet a lock held by another process.
        self.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(|e| self.err(e))?;
        // WAL lets readers run beside one writer; NORMAL sync keeps commits cheap while WAL
        // still guarantees a killed process never leaves a torn database. The mode is
        // persistent: set it only when it is not WAL yet, so opening a store to read writes
        // nothing (and works on a full disk).
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            self.conn
                .execute_batch("PRAGMA journal_mode=WAL;")
                .map_err(|e| self.err(e))?;
        }
        self.conn
            .execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(|e| self.err(e))?;
        restrict_file_mode(&self.path);
        Ok(())
    }

    fn migrate(&self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version as usize >= MIGRATIONS.len() {
            return Ok(());
        }
        self.write(|tx| {
            // Re-read inside the write lock: another process may have migrated meanwhile.
            let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.execute_batch(step)?;
                tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            }
            Ok(())
        })
    }

    /// Runs `f` in an immediate (write-locked) transaction and commits it.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        if self.read_only {
            return Err(self.err(crate::store_fallback::full_error()));
        }
        // `unchecked_transaction` because the store is used through `&self`; the connection is
        // never shared between threads without the manager's mutex.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let out = f(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// The raw connection, for modules (lifecycle, telemetry) that keep their own tables.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Inserts a new session with its first transition.
    pub fn insert(&self, s: &NewSession) -> Result<()> {
        self.insert_with(s, &Updates::new())
    }

    /// [`Store::insert`] setting more columns in the same transaction.
    pub fn insert_with(&self, s: &NewSession, more: &Updates) -> Result<()> {
        let now = now_iso();
        let command = serde_json::to_string(&s.command).expect("strings serialize");
        let env_keys = serde_json::to_string(&s.env_keys).expect("strings serialize");
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions (id, kind, agent_type, name, task_id, state, state_source, phase,
                    created_at, updated_at, workspace_path, command, env_keys, cols, rows, idle_after_secs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'user', ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    s.id,
                    s.kind.as_str(),
                    s.agent_type,
                    s.name,
                    s.task_id,
                    s.state.as_str(),
                    s.phase,
                    now,
                    s.workspace_path,
                    command,
                    env_keys,
                    s.cols,
                    s.rows,
                    s.idle_after_secs,
                ],
            )?;
            tx.execute(
                "INSERT INTO transitions (session_id, seq, from_state, to_state, at, cause, source)
                 VALUES (?1, 1, NULL, ?2, ?3, ?4, 'user')",
                params![s.id, s.state.as_str(), now, s.cause],
            )?;
            if !more.is_empty() {
                apply_updates(tx, &s.id, more)?;
            }
            Ok(())
        })
    }

    /// Moves a session to `to` if `guard` allows it from the current state, applying
    /// `updates` in the same transaction. Returns the state before, or `None` when the guard
    /// refused (the session was already elsewhere) or the state did not change.
    pub fn transition(
        &self,
        id: &str,
        to: State,
        cause: &str,
        source: &str,
        guard: Guard<'_>,
        updates: &Updates,
    ) -> Result<Option<State>> {
        let found = self.write(|tx| {
            let current: Option<String> = tx
                .query_row("SELECT state FROM sessions WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(current) = current else {
                return Ok(Err(()));
            };
            let from: State = current.parse().unwrap_or(State::Unknown);
            let allowed = match guard {
                Guard::NotEnded => !from.is_ended(),
                Guard::From(states) => states.contains(&from),
                Guard::Any => true,
            };
            if !allowed || from == to {
                if allowed {
                    apply_updates(tx, id, updates)?;
                }
                return Ok(Ok(None));
            }
            let now = now_iso();
            let seq: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM transitions WHERE session_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO transitions (session_id, seq, from_state, to_state, at, cause, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, seq, from.as_str(), to.as_str(), now, cause, source],
            )?;
            tx.execute(
                "UPDATE sessions SET state = ?2, state_source = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, to.as_str(), source, now],
            )?;
            apply_updates(tx, id, updates)?;
            Ok(Ok(Some(from)))
        })?;
        let from = found.map_err(|()| Error::SessionNotFound(id.to_string()))?;
        if let Some(from) = from {
            // After the commit: a hook sees the state it is told about.
            crate::status_hooks::fire(&self.home_root, self, id, from, to, cause, source);
        }
        Ok(from)
    }

    /// Sets columns without changing the state.
    pub fn update(&self, id: &str, updates: &Updates) -> Result<()> {
        let n = self.write(|tx| apply_updates(tx, id, updates))?;
        if n == 0 {
            return Err(Error::SessionNotFound(id.to_string()));
        }
        Ok(())
    }

    /// One session with its transitions.
    pub fn get(&self, id: &str) -> Result<Option<SessionRecord>> {
        let rec = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
            ))
            .and_then(|mut st| st.query_row([id], row_to_record).optional())
            .map_err(|e| self.err(e))?;
        let Some(mut rec) = rec else { return Ok(None) };
        rec.transitions = self.transitions(id)?;
        Ok(Some(rec))
    }

    /// Just the state, cheaply.
    pub fn state(&self, id: &str) -> Result<Option<State>> {
        let s: Option<String> = self
            .conn
            .prepare_cached("SELECT state FROM sessions WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(s.map(|s| s.parse().unwrap_or(State::Unknown)))
    }

    /// The transition history of one session, oldest first.
    pub fn transitions(&self, id: &str) -> Result<Vec<Transition>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT from_state, to_state, at, cause, source FROM transitions
                 WHERE session_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], |r| {
                let from: Option<String> = r.get(0)?;
                let to: String = r.get(1)?;
                Ok(Transition {
                    from: from.map(|f| f.parse().unwrap_or(State::Unknown)),
                    to: to.parse().unwrap_or(State::Unknown),
                    at: r.get(2)?,
                    cause: r.get(3)?,
                    source: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Sessions matching `filter`, newest first, each with its transitions.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<SessionRecord>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions
                 WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR agent_type = ?2)
                   AND (?3 IS NULL OR task_id = ?3)
                 ORDER BY created_at DESC, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(
                params![
                    filter.state.map(State::as_str),
                    filter.agent_type,
                    filter.task_id
                ],
                row_to_record,
            )
            .map_err(|e| self.err(e))?;
        let mut out = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        for rec in &mut out {
            rec.transitions = self.transitions(&rec.session_id)?;
        }
        Ok(out)
    }

    /// Deletes a session row and its history.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let n = self.write(|tx| tx.execute("DELETE FROM sessions WHERE id = ?1", [id]))?;
        Ok(n > 0)
    }
}

const SESSION_COLUMNS: &str =
    "id, kind, agent_type, name, task_id, state, state_reason, state_source, phase,
    created_at, updated_at, started_at, ended_at, exit_code, exit_signal, workspace_path,
    attached_clients, last_input_at, last_output_at, command, env_keys, cols, rows, host_pid,
    agent_pid, agent_session_id, idle_after_secs, agent_args, max_log_bytes, output_bytes_lost";

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let kind: String = r.get(1)?;
    let state: String = r.get(5)?;
    let attached_clients: u32 = r.get(16)?;
    let command: String = r.get(19)?;
    let env_keys: String = r.get(20)?;
    Ok(SessionRecord {
        session_id: r.get(0)?,
        kind: if kind == "record" {
            SessionKind::Record
        } else {
            SessionKind::Hosted
        },
        agent_type: r.get(2)?,
        name: r.get(3)?,
        task_id: r.get(4)?,
        state: state.parse().unwrap_or(State::Unknown),
        state_reason: r.get(6)?,
        state_source: r.get(7)?,
        phase: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        started_at: r.get(11)?,
        ended_at: r.get(12)?,
        exit_code: r.get(13)?,
        exit_signal: r.get(14)?,
        workspace_path: r.get(15)?,
        attached: attached_clients > 0,
        attached_clients,
        last_input_at: r.get(17)?,
        last_output_at: r.get(18)?,
        command: serde_json::from_str(&command).unwrap_or_default(),
        env_keys: serde_json::from_str(&env_keys).unwrap_or_default(),
        cols: r.get(21)?,
        rows: r.get(22)?,
        host_pid: r.get(23)?,
        agent_pid: r.get(24)?,
        agent_session_id: r.get(25)?,
        idle_after_secs: r.get(26)?,
        agent_args: serde_json::from_str(&r.get::<_, String>(27)?).unwrap_or_default(),
        max_log_bytes: r.get::<_, Option<i64>>(28)?.map(|v| v.max(0) as u64),
        output_bytes_lost: r.get::<_, i64>(29)?.max(0) as u64,
        resumable: false,
        transitions: Vec::new(),
        telemetry: None,
    })
}

fn apply_updates(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    updates: &Updates,
) -> rusqlite::Result<usize> {
    let mut sql = String::from("UPDATE sessions SET updated_at = ?1");
    let mut values: Vec<Value> = vec![Value::Text(now_iso())];
    for (col, v) in updates {
        values.push(v.clone());
        sql.push_str(&format!(", {} = ?{}", col.name(), values.len()));
    }
    values.push(Value::Text(id.to_string()));
    sql.push_str(&format!(" WHERE id = ?{}", values.len()));
    tx.execute(&sql, rusqlite::params_from_iter(values))
}

fn store_err(path: &std::path::Path, source: rusqlite::Error) -> Error {
    Error::Store {
        path: path.display().to_string(),
        source,
    }
}

/// Keeps the database and its WAL files private; SQLite creates them with the umask.
fn restrict_file_mode(db: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
}

/// Shorthand for building [`Updates`] values.
pub fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// Shorthand for an integer value.
pub fn int(n: impl Into<i64>) -> Value {
    Value::Integer(n.into())
}

/// Shorthand for an optional text value.
pub fn opt_text(s: Option<impl Into<String>>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.into()))
}
