//! Tasks: the orchestrator's unit of work. Every session carries the task it serves
//! (`--task`, or inherited through `AGENT_SESSIONS_TASK` from the session that started it).

use crate::model::error::{Error, Result};
use crate::model::state::State;
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
    /// The session's id.
    pub session_id: String,
    /// Its agent type; `null` for lifecycle records.
    pub agent_type: Option<String>,
    /// Its current state (a live-looking session whose host is gone reads `unknown`).
    pub state: State,
    /// Its lifecycle phase; `null` when it carries none.
    pub phase: Option<String>,
    /// When it was created, ISO 8601 UTC.
    pub created_at: String,
}

/// A task with its sessions and totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// `null` groups the sessions started without a task.
    pub task_id: Option<String>,
    /// How many sessions carry the task (the length of `sessions`).
    pub session_count: u64,
    /// Oldest first.
    pub sessions: Vec<TaskSession>,
    /// How many sessions are in each state.
    pub states: BTreeMap<String, u64>,
    /// Sessions whose agent may be running (starting, running, waiting_input, paused,
    /// stopping).
    pub live: u64,
    /// When the task's oldest session was created, ISO 8601 UTC.
    pub first_created_at: String,
    /// The latest `updated_at` of its sessions, ISO 8601 UTC.
    pub last_updated_at: String,
    /// Sums over the sessions that report them; `null` when none does. Tokens count input,
    /// output and cache reads and writes.
    pub total_tokens: Option<u64>,
    /// Summed cost in US dollars (some of it may be estimated); `null` when no session
    /// reports one.
    pub cost_usd: Option<f64>,
    /// Summed CPU time of the agents' processes, in milliseconds; `null` when none was
    /// measured.
    pub cpu_time_ms: Option<u64>,
}

impl TaskSummary {
    /// The summary as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a task summary always serializes")
    }
}
