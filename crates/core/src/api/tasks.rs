//! Tasks: the orchestrator's unit of work. Every session carries the task it serves
//! (`--task`, or inherited through `AGENT_SESSIONS_TASK` from the session that started it),
//! and [`SessionManager::tasks`] groups sessions by task with their totals.

use crate::model::error::{Error, Result};
use crate::model::record::SessionKind;
use crate::model::state::State;
use crate::store::Store;
use crate::SessionManager;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Set in every agent's environment to its session's task id, and read by `start` when no
/// task is given: a sub-agent or hook started from inside a session joins its task.
pub const TASK_ENV: &str = "AGENT_SESSIONS_TASK";

/// Longest task id accepted.
pub const MAX_TASK_ID: usize = 200;

/// Checks a task id: 1 to 200 characters, no control characters.
pub fn validate_task_id(task: &str) -> Result<&str> {
    if task.is_empty() || task.chars().count() > MAX_TASK_ID {
        return Err(Error::InvalidArgument(format!(
            "invalid task id: give 1 to {MAX_TASK_ID} characters"
        )));
    }
    if task.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            "invalid task id: it may not contain control characters".into(),
        ));
    }
    Ok(task)
}

/// The task of the session this process runs in, if any (and valid).
pub fn inherited_task() -> Option<String> {
    std::env::var(TASK_ENV)
        .ok()
        .filter(|t| validate_task_id(t).is_ok())
}

/// One session of a task, in [`TaskSummary::sessions`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSession {
    pub session_id: String,
    pub agent_type: Option<String>,
    pub state: State,
    pub phase: Option<String>,
    pub created_at: String,
}

/// A task with its sessions and totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// `null` groups the sessions started without a task.
    pub task_id: Option<String>,
    pub session_count: u64,
    /// Oldest first.
    pub sessions: Vec<TaskSession>,
    /// How many sessions are in each state.
    pub states: BTreeMap<String, u64>,
    /// Sessions whose agent may be running (starting, running, waiting_input, paused,
    /// stopping).
    pub live: u64,
    pub first_created_at: String,
    pub last_updated_at: String,
    /// Sums over the sessions that report them; `null` when none does.
    pub total_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub cpu_time_ms: Option<u64>,
}

impl TaskSummary {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a task summary always serializes")
    }
}

impl Store {
    /// Whether any session carries `task`.
    pub fn task_exists(&self, task: &str) -> Result<bool> {
        self.connection()
            .prepare_cached("SELECT 1 FROM sessions WHERE task_id = ?1 LIMIT 1")
            .and_then(|mut st| st.exists([task]))
            .map_err(|e| self.err(e))
    }
}

struct Row {
    task: Option<String>,
    session: TaskSession,
    kind: String,
    updated_at: String,
    tokens: Option<u64>,
    cost: Option<f64>,
    cpu: Option<u64>,
}

impl SessionManager {
    /// Every task with its sessions and totals, the most recently active first; sessions
    /// without a task come last, under `task_id: null`.
    pub fn tasks(&self) -> Result<Vec<TaskSummary>> {
        self.task_rows(None)
    }

    /// One task. An id no session carries is [`Error::TaskNotFound`].
    pub fn task(&self, task_id: &str) -> Result<TaskSummary> {
        validate_task_id(task_id)?;
        self.task_rows(Some(task_id))?
            .into_iter()
            .next()
            .ok_or_else(|| Error::TaskNotFound(task_id.to_string()))
    }

    fn task_rows(&self, only: Option<&str>) -> Result<Vec<TaskSummary>> {
        let rows = self.with_store(|store| {
            let mut st = store
                .connection()
                .prepare_cached(
                    "SELECT s.task_id, s.id, s.agent_type, s.state, s.phase, s.created_at,
                        s.updated_at, s.kind,
                        t.tokens_input + t.tokens_output + COALESCE(t.tokens_cache_read, 0)
                            + COALESCE(t.tokens_cache_write, 0),
                        t.cost_usd, t.cpu_time_ms
                     FROM sessions s LEFT JOIN telemetry t ON t.session_id = s.id
                     WHERE ?1 IS NULL OR s.task_id = ?1
                     ORDER BY s.created_at, s.id",
                )
                .map_err(|e| store.err(e))?;
            let rows = st
                .query_map([only], |r| {
                    let state: String = r.get(3)?;
                    Ok(Row {
                        task: r.get(0)?,
                        session: TaskSession {
                            session_id: r.get(1)?,
                            agent_type: r.get(2)?,
                            state: state.parse().unwrap_or(State::Unknown),
                            phase: r.get(4)?,
                            created_at: r.get(5)?,
                        },
                        updated_at: r.get(6)?,
                        kind: r.get(7)?,
                        tokens: r.get::<_, Option<i64>>(8)?.map(|v| v.max(0) as u64),
                        cost: r.get(9)?,
                        cpu: r.get::<_, Option<i64>>(10)?.map(|v| v.max(0) as u64),
                    })
                })
                .map_err(|e| store.err(e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| store.err(e))
        })?;
        let mut groups: BTreeMap<Option<String>, TaskSummary> = BTreeMap::new();
        for mut row in rows {
            // Honest states: a live-looking hosted session whose host is gone is unknown.
            if row.kind == SessionKind::Hosted.as_str() && !row.session.state.is_ended() {
                row.session.state = self.state(&row.session.session_id)?;
            }
            let g = groups
                .entry(row.task.clone())
                .or_insert_with(|| TaskSummary {
                    task_id: row.task.clone(),
                    session_count: 0,
                    sessions: Vec::new(),
                    states: BTreeMap::new(),
                    live: 0,
                    first_created_at: row.session.created_at.clone(),
                    last_updated_at: row.updated_at.clone(),
                    total_tokens: None,
                    cost_usd: None,
                    cpu_time_ms: None,
                });
            g.session_count += 1;
            *g.states.entry(row.session.state.to_string()).or_default() += 1;
            if row.session.state.is_live() {
                g.live += 1;
            }
            if row.updated_at > g.last_updated_at {
                g.last_updated_at = row.updated_at.clone();
            }
            if let Some(t) = row.tokens {
                g.total_tokens = Some(g.total_tokens.unwrap_or(0) + t);
            }
            if let Some(c) = row.cost {
                g.cost_usd = Some(g.cost_usd.unwrap_or(0.0) + c);
            }
            if let Some(c) = row.cpu {
                g.cpu_time_ms = Some(g.cpu_time_ms.unwrap_or(0) + c);
            }
            g.sessions.push(row.session);
        }
        let mut out: Vec<TaskSummary> = groups.into_values().collect();
        out.sort_by(|a, b| {
            (a.task_id.is_none(), &b.last_updated_at)
                .cmp(&(b.task_id.is_none(), &a.last_updated_at))
        });
        Ok(out)
    }
}
