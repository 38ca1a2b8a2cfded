//! The session record: what `show --json`, Python's `record()` and the C ABI return.
//! Field names follow the product's telemetry schema wherever one applies.

use crate::model::state::State;
use serde::{Deserialize, Serialize};

/// Whether a session runs a hosted agent process or is a lifecycle record only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// An agent CLI running in a pseudo-terminal under a session host.
    Hosted,
    /// A lifecycle record with no process; its state derives from its phase.
    Record,
}

impl SessionKind {
    /// The kind's name as stored and in JSON (`kind`): `hosted` or `record`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Hosted => "hosted",
            SessionKind::Record => "record",
        }
    }
}

/// One step in a session's state history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The state before; `null` for the first entry.
    pub from: Option<State>,
    /// The state entered.
    pub to: State,
    /// ISO 8601 UTC.
    pub at: String,
    /// Human-readable cause, e.g. "process spawned", "exited with status 3".
    pub cause: String,
    /// What decided the transition: user, process, quiet_timer, liveness, screen, agent_hook, phase.
    pub source: String,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's id, e.g. `agent-20261121-230312-1a2b3c4d`; also its folder's name.
    pub session_id: String,
    /// `hosted` (an agent process) or `record` (a lifecycle record only).
    pub kind: SessionKind,
    /// `claude`, `codex`, `gemini`, `opencode`, `custom`, or a user-defined type; `null` for
    /// lifecycle records.
    pub agent_type: Option<String>,
    /// The free-form name given at start (`--name`); `null` when none was.
    pub name: Option<String>,
    /// The task the session serves (`--task` or inherited from `AGENT_SESSIONS_TASK`);
    /// `null` when it has none.
    pub task_id: Option<String>,
    /// The current state.
    pub state: State,
    /// Why the session is waiting (`prompt`: at its input; `permission`: a tool-approval
    /// dialog; `question`: a question with options; `trust`: a folder-trust dialog; `login`: a sign-in screen; `other`: decided by
    /// output silence, not by a recognised screen), or why it failed; `null` otherwise.
    pub state_reason: Option<String>,
    /// What decided the current state, most certain first: `agent_hook` (the agent reported
    /// it, Claude Code hooks), `process` (spawn, exit), `user` (a request: send, stop),
    /// `screen` (the agent's screen matched its rules, debounced), `quiet_timer` (output
    /// silence only), `liveness` (the host vanished).
    pub state_source: Option<String>,
    /// Lifecycle phase, when the session carries one.
    pub phase: Option<String>,
    /// When the session was created, ISO 8601 UTC.
    pub created_at: String,
    /// When the row last changed (state, counters, pids, ...), ISO 8601 UTC.
    pub updated_at: String,
    /// When the host spawned the agent for the latest run, ISO 8601 UTC; `null` until
    /// then and for lifecycle records.
    pub started_at: Option<String>,
    /// When the session ended, ISO 8601 UTC; `null` while it may still run (cleared again
    /// by `resume`).
    pub ended_at: Option<String>,
    /// The agent's exit status; `null` while it runs or when a signal killed it.
    pub exit_code: Option<i32>,
    /// The signal number that killed the agent (9 for SIGKILL); `null` unless one did.
    pub exit_signal: Option<i32>,
    /// The agent's working folder, absolute; `null` for lifecycle records.
    pub workspace_path: Option<String>,
    /// True while at least one client is attached (`attached_clients > 0`).
    pub attached: bool,
    /// How many clients are attached right now.
    pub attached_clients: u32,
    /// When input was last sent to the agent, ISO 8601 UTC; `null` before the first.
    pub last_input_at: Option<String>,
    /// When the agent last wrote output, ISO 8601 UTC; `null` before the first.
    pub last_output_at: Option<String>,
    /// argv: the program, then its arguments. Never run through a shell.
    pub command: Vec<String>,
    /// Names of the variables given with `--env`; their values are never stored.
    pub env_keys: Vec<String>,
    /// Terminal width in columns.
    pub cols: u16,
    /// Terminal height in rows.
    pub rows: u16,
    /// Process id of the session host; `null` before it runs and for lifecycle records.
    pub host_pid: Option<u32>,
    /// Process id of the agent; `null` before it is spawned and for lifecycle records.
    pub agent_pid: Option<u32>,
    /// The agent's own session id (Claude session id, Codex thread id) once known.
    pub agent_session_id: Option<String>,
    /// Seconds of output silence after which a running session reads as waiting_input.
    pub idle_after_secs: f64,
    /// The arguments the user gave the agent (without what the library adds); a resume
    /// repeats them unless given new ones.
    #[serde(default)]
    pub agent_args: Vec<String>,
    /// Output log cap in bytes (the log rotates at half of it, keeping one older part);
    /// `null` for the default (50 MiB).
    #[serde(default)]
    pub max_log_bytes: Option<u64>,
    /// Output bytes the agent wrote that the log could not keep (the disk was full), over
    /// all runs of the session; each gap is an `output_lost` event. Log offsets count kept
    /// bytes only.
    #[serde(default)]
    pub output_bytes_lost: u64,
    /// The request a waiting session waits on (its dialog's tool, input and options);
    /// `null` at the prompt and when not waiting.
    #[serde(default)]
    pub pending: Option<crate::model::pending::PendingRequest>,
    /// The approval policy the session was started with (`start --policy`); `null` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::model::policy::Policy>,
    /// The session's cost budget (`start --budget-usd/--budget-tokens`, `budget ID`); `null`
    /// for none. A task's budget is the task's (`tasks budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::model::budget::Budget>,
    /// The session's git worktree (`start --worktree`): repository, branch, base commit,
    /// path, and what it holds now; absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<crate::model::worktree::Worktree>,
    /// The snapshot this session was restored from (`restore`), and whether the agent was
    /// resumed on its conversation; absent for a session started afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<crate::model::snapshot::RestoredFrom>,
    /// The launch template the session was started from (`NAME@VERSION`); absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// True when `resume` can start this session again now: it has ended (suspended,
    /// stopped, failed or unknown), the agent's own session id is known and its agent type
    /// knows how to resume.
    #[serde(default)]
    pub resumable: bool,
    /// Oldest first.
    pub transitions: Vec<Transition>,
    /// Resources and tokens: duration_ms, avg_cpu_percent, peak_memory_rss_bytes, the last
    /// sample, workspace size, tokens and cost with their source (see
    /// [`crate::model::telemetry::Telemetry`]); figures not measured are `null`.
    #[serde(default)]
    pub telemetry: Option<crate::model::telemetry::Telemetry>,
}

impl SessionRecord {
    /// The record as the JSON every interface prints.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a record always serializes")
    }
}
