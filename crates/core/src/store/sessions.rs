//! The `sessions` and `transitions` tables: rows, columns, reads and deletes. A session's
//! state changes only through `services::state_machine`, which uses the two functions at the
//! end of this file inside its transaction.

use super::Store;
use crate::model::clock::now_iso;
use crate::model::error::{Error, Result};
use crate::model::record::{SessionKind, SessionRecord, Transition};
use crate::model::state::State;
use crate::model::telemetry::Telemetry;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

/// Columns a caller may set through [`Store::update`] and with a state change
/// (`services::state_machine`). Listing them
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
    Name,
    TaskId,
    /// The request a waiting session waits on (JSON), or NULL.
    Pending,
    /// The session's approval policy (JSON), or NULL.
    Policy,
    /// The session's cost budget (JSON), or NULL.
    Budget,
    /// The session's git worktree (JSON), or NULL.
    Worktree,
    /// The snapshot a restored session came from (JSON), or NULL.
    RestoredFrom,
    /// The template the session was started from (`NAME@VERSION`), or NULL.
    Template,
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
            Column::Name => "name",
            Column::TaskId => "task_id",
            Column::Pending => "pending",
            Column::Policy => "policy",
            Column::Budget => "budget",
            Column::Worktree => "worktree",
            Column::RestoredFrom => "restored_from",
            Column::Template => "template",
        }
    }
}

/// A list of column assignments.
pub type Updates = Vec<(Column, Value)>;

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
    /// The state reason the session starts with.
    pub reason: Option<String>,
    pub phase: Option<String>,
    /// When the session was created; now when `None` (lifecycle records keep their own).
    pub created_at: Option<String>,
    pub workspace_path: Option<String>,
    pub command: Vec<String>,
    pub env_keys: Vec<String>,
    pub cols: u16,
    pub rows: u16,
    pub idle_after_secs: f64,
}

impl NewSession {
    /// A hosted session of agent type `agent` running `command`, as a starter inserts it
    /// (state starting, the default terminal size and quiet time); set other fields with
    /// struct update syntax.
    pub fn hosted(id: &str, agent: &str, command: &[&str]) -> NewSession {
        NewSession {
            id: id.to_string(),
            kind: SessionKind::Hosted,
            agent_type: Some(agent.to_string()),
            name: None,
            task_id: None,
            state: State::Starting,
            cause: "start requested".into(),
            reason: None,
            phase: None,
            created_at: None,
            workspace_path: None,
            command: command.iter().map(|c| c.to_string()).collect(),
            env_keys: Vec::new(),
            cols: crate::config::defaults::DEFAULT_COLS,
            rows: crate::config::defaults::DEFAULT_ROWS,
            idle_after_secs: crate::config::defaults::DEFAULT_IDLE_AFTER.as_secs_f64(),
        }
    }
}

/// The WHERE clause of a list over `sessions s`, with [`ListFilter`]'s three parameters.
const LIST_FILTER: &str = "(?1 IS NULL OR s.state = ?1) AND (?2 IS NULL OR s.agent_type = ?2)
    AND (?3 IS NULL OR s.task_id = ?3)";

/// A transition read from `from_state, to_state, at, cause, source` starting at column `at`.
fn row_to_transition(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Transition> {
    let from: Option<String> = r.get(at)?;
    let to: String = r.get(at + 1)?;
    Ok(Transition {
        from: from.map(|f| f.parse().unwrap_or(State::Unknown)),
        to: to.parse().unwrap_or(State::Unknown),
        at: r.get(at + 2)?,
        cause: r.get(at + 3)?,
        source: r.get(at + 4)?,
    })
}

/// Filters for [`Store::list`]; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only sessions in this state (`SessionManager::list` also drops those a liveness
    /// check moves out of it).
    pub state: Option<State>,
    /// Only sessions of this agent type (`claude`, `custom`, ...).
    pub agent_type: Option<String>,
    /// Only sessions of this task.
    pub task_id: Option<String>,
}

impl Store {
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
            .query_map([id], |r| row_to_transition(r, 0))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Sessions matching `filter`, newest first, each with its transitions.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<SessionRecord>> {
        Ok(self.list_with_telemetry(filter)?.0)
    }

    /// [`Store::list`] and the telemetry summary rows of the same sessions (by id), read in
    /// one snapshot with three statements whatever the number of sessions: a list of a
    /// thousand must not cost a thousand lookups (each statement outside a transaction takes
    /// and drops SQLite's file locks, and with many hosts holding the store open that lock
    /// list is long).
    pub fn list_with_telemetry(
        &self,
        filter: &ListFilter,
    ) -> Result<(Vec<SessionRecord>, HashMap<String, Telemetry>)> {
        let read = || -> rusqlite::Result<_> {
            // Deferred and never written: dropped (rolled back) at the end, it only holds
            // one read snapshot for the three statements.
            let _snapshot = rusqlite::Transaction::new_unchecked(
                &self.conn,
                rusqlite::TransactionBehavior::Deferred,
            )?;
            let filter_params = params![
                filter.state.map(State::as_str),
                filter.agent_type,
                filter.task_id
            ];
            let mut out = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s WHERE {LIST_FILTER}
                     ORDER BY created_at DESC, id"
                ))?
                .query_map(filter_params, row_to_record)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut transitions: HashMap<String, Vec<Transition>> = HashMap::new();
            let mut st = self.conn.prepare_cached(&format!(
                "SELECT t.session_id, t.from_state, t.to_state, t.at, t.cause, t.source
                 FROM transitions t JOIN sessions s ON s.id = t.session_id
                 WHERE {LIST_FILTER} ORDER BY t.session_id, t.seq"
            ))?;
            let mut rows = st.query(filter_params)?;
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                transitions
                    .entry(id)
                    .or_default()
                    .push(row_to_transition(r, 1)?);
            }
            for rec in &mut out {
                rec.transitions = transitions.remove(&rec.session_id).unwrap_or_default();
            }
            let mut telemetry = HashMap::new();
            let mut st = self.conn.prepare_cached(&format!(
                "SELECT t.session_id, {} FROM telemetry t JOIN sessions s ON s.id = t.session_id
                 WHERE {LIST_FILTER}",
                super::telemetry::TELEMETRY_COLUMNS
            ))?;
            let mut rows = st.query(filter_params)?;
            while let Some(r) = rows.next()? {
                telemetry.insert(r.get(0)?, super::telemetry::row_to_telemetry(r, 1)?);
            }
            Ok((out, telemetry))
        };
        read().map_err(|e| self.err(e))
    }

    /// Deletes a session row and its history.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let n = self.write(|tx| tx.execute("DELETE FROM sessions WHERE id = ?1", [id]))?;
        Ok(n > 0)
    }

    /// Deletes a session row only while it is still in `state` (compare-and-set), so a
    /// resume that started it again meanwhile keeps its record. True when deleted.
    pub fn delete_if(&self, id: &str, state: State) -> Result<bool> {
        let n = self.write(|tx| {
            tx.execute(
                "DELETE FROM sessions WHERE id = ?1 AND state = ?2",
                params![id, state.as_str()],
            )
        })?;
        Ok(n > 0)
    }
}

const SESSION_COLUMNS: &str =
    "id, kind, agent_type, name, task_id, state, state_reason, state_source, phase,
    created_at, updated_at, started_at, ended_at, exit_code, exit_signal, workspace_path,
    attached_clients, last_input_at, last_output_at, command, env_keys, cols, rows, host_pid,
    agent_pid, agent_session_id, idle_after_secs, agent_args, max_log_bytes, output_bytes_lost,
    pending, policy, budget, worktree, restored_from, template";

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let kind: String = r.get(1)?;
    let state: String = r.get(5)?;
    let attached_clients: u32 = r.get(16)?;
    let command: String = r.get(19)?;
    let env_keys: String = r.get(20)?;
    Ok(SessionRecord {
        session_id: r.get(0)?,
        kind: kind_of(&kind),
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
        pending: r
            .get::<_, Option<String>>(30)?
            .and_then(|j| serde_json::from_str(&j).ok()),
        policy: r
            .get::<_, Option<String>>(31)?
            .and_then(|j| serde_json::from_str(&j).ok()),
        budget: r
            .get::<_, Option<String>>(32)?
            .and_then(|j| serde_json::from_str(&j).ok()),
        worktree: r
            .get::<_, Option<String>>(33)?
            .and_then(|j| serde_json::from_str(&j).ok()),
        restored_from: r
            .get::<_, Option<String>>(34)?
            .and_then(|j| serde_json::from_str(&j).ok()),
        template: r.get(35)?,
        resumable: false,
        transitions: Vec::new(),
        telemetry: None,
    })
}

pub(crate) fn apply_updates(
    tx: &Connection,
    id: &str,
    updates: &Updates,
) -> rusqlite::Result<usize> {
    update_row(
        tx,
        id,
        vec![("updated_at", Value::Text(now_iso()))],
        updates,
    )
}

/// One UPDATE of a session row: the `leading` columns, then the caller's `updates` (a
/// column named in both takes the later value, as SQLite does).
fn update_row(
    tx: &Connection,
    id: &str,
    leading: Vec<(&str, Value)>,
    updates: &Updates,
) -> rusqlite::Result<usize> {
    let mut sql = String::from("UPDATE sessions SET ");
    let mut values: Vec<Value> = Vec::with_capacity(leading.len() + updates.len() + 1);
    let columns = leading
        .into_iter()
        .chain(updates.iter().map(|(col, v)| (col.name(), v.clone())));
    for (name, v) in columns {
        values.push(v);
        if values.len() > 1 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("{name} = ?{}", values.len()));
    }
    values.push(Value::Text(id.to_string()));
    sql.push_str(&format!(" WHERE id = ?{}", values.len()));
    // Cached: the same few column sets come back (a host's transitions, lifecycle syncs), and
    // parsing the statement anew would cost more than running it.
    tx.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values))
}

/// The stored `kind` column: `record`, else hosted.
pub(crate) fn kind_of(stored: &str) -> SessionKind {
    if stored == SessionKind::Record.as_str() {
        SessionKind::Record
    } else {
        SessionKind::Hosted
    }
}

/// What the state machine needs to know of a session before it moves it.
pub struct StateRow {
    pub state: State,
    pub kind: SessionKind,
    pub agent_type: Option<String>,
    pub task_id: Option<String>,
    pub reason: Option<String>,
    /// The template it was started from (`NAME@VERSION`), for status hooks.
    pub template: Option<String>,
}

/// Reads the state row of `id` inside a transaction.
pub(crate) fn state_row_in(tx: &Connection, id: &str) -> rusqlite::Result<Option<StateRow>> {
    tx.prepare_cached(
        "SELECT state, kind, agent_type, task_id, state_reason, template FROM sessions WHERE id = ?1",
    )?
    .query_row([id], |r| {
        let state: String = r.get(0)?;
        let kind: String = r.get(1)?;
        Ok(StateRow {
            state: state.parse().unwrap_or(State::Unknown),
            kind: kind_of(&kind),
            agent_type: r.get(2)?,
            task_id: r.get(3)?,
            reason: r.get(4)?,
            template: r.get(5)?,
        })
    })
    .optional()
}

/// Inserts a new session row in state `s.state`, with `more` columns set. Only the state
/// machine calls this, together with [`append_transition_in`].
pub(crate) fn insert_row_in(
    tx: &Connection,
    s: &NewSession,
    source: &str,
    more: &Updates,
) -> rusqlite::Result<()> {
    let now = now_iso();
    let command = serde_json::to_string(&s.command).unwrap_or_else(|_| "[]".into());
    let env_keys = serde_json::to_string(&s.env_keys).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT INTO sessions (id, kind, agent_type, name, task_id, state, state_reason,
            state_source, phase, created_at, updated_at, workspace_path, command, env_keys, cols,
            rows, idle_after_secs, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, COALESCE(?10, ?11), ?11, ?12, ?13, ?14, ?15,
            ?16, ?17, ?18)",
    )?
    .execute(params![
        s.id,
        s.kind.as_str(),
        s.agent_type,
        s.name,
        s.task_id,
        s.state.as_str(),
        s.reason,
        source,
        s.phase,
        s.created_at,
        now,
        s.workspace_path,
        command,
        env_keys,
        s.cols,
        s.rows,
        s.idle_after_secs,
        s.state.is_ended().then_some(&now),
    ])?;
    if !more.is_empty() {
        apply_updates(tx, &s.id, more)?;
    }
    Ok(())
}

/// Appends one entry to a session's state history and sets its state, state source and
/// reason; the `events_from_transitions` trigger adds the event. Only the state machine
/// calls this.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_transition_in(
    tx: &Connection,
    id: &str,
    from: Option<State>,
    to: State,
    cause: &str,
    source: &str,
    reason: Option<&str>,
    updates: &Updates,
) -> rusqlite::Result<()> {
    let now = now_iso();
    tx.prepare_cached(
        "INSERT INTO transitions (session_id, seq, from_state, to_state, at, cause, source)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM transitions WHERE session_id = ?1),
                 ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        from.map(State::as_str),
        to.as_str(),
        now,
        cause,
        source
    ])?;
    if from.is_none() {
        // A new session: its row was inserted with this state, source and reason already.
        if !updates.is_empty() {
            apply_updates(tx, id, updates)?;
        }
        return Ok(());
    }
    // One UPDATE for the state and the caller's columns: each statement rewrites the row's
    // page, and lifecycle writes pay for every page.
    let leading = vec![
        ("state", Value::Text(to.as_str().to_string())),
        ("state_source", Value::Text(source.to_string())),
        (
            "state_reason",
            reason.map_or(Value::Null, |r| Value::Text(r.to_string())),
        ),
        ("updated_at", Value::Text(now)),
    ];
    update_row(tx, id, leading, updates)?;
    Ok(())
}

/// Sets the state reason and source of a session that stays in its state (waiting for a
/// prompt, now for a permission), with `updates`.
pub(crate) fn set_reason_in(
    tx: &Connection,
    id: &str,
    source: &str,
    reason: Option<&str>,
    updates: &Updates,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE sessions SET state_source = ?2, state_reason = ?3 WHERE id = ?1")?
        .execute(params![id, source, reason])?;
    apply_updates(tx, id, updates)?;
    Ok(())
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
