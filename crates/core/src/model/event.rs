//! Session events: every change of state or phase, every input, stop, pause, suspend and
//! resume, numbered per session (`seq` 1, 2, ...) with time and source.
//!
//! State changes become events through a trigger on `transitions`, so no writer (host,
//! starter, liveness check, lifecycle record) can forget one; requests (input, stop, ...)
//! are written by whoever handles them. Readers page with `seq > since`, which the primary
//! key serves directly, so the first page of a session with 100,000 events costs the same
//! as one of ten.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Event kinds, as stored in `kind`.
pub mod kind {
    /// A state change: `{"from", "to", "cause"}`.
    pub const STATE: &str = "state";
    /// A lifecycle phase change: `{"from", "to"}`.
    pub const PHASE: &str = "phase";
    /// Input sent to the agent: `{"text", "enter"}` or `{"bytes"}` (keys, as text).
    pub const INPUT: &str = "input";
    /// A stop request: `{"force", "timeout_secs"}`.
    pub const STOP: &str = "stop";
    /// A pause request (SIGSTOP to the agent's process group): `{}`.
    pub const PAUSE: &str = "pause";
    /// A continue request (SIGCONT after a pause): `{}`.
    pub const CONTINUE: &str = "continue";
    /// A suspend request: `{"timeout_secs"}`.
    pub const SUSPEND: &str = "suspend";
    /// A resume: `{"agent_session_id", "argv"}`.
    pub const RESUME: &str = "resume";
    /// Output the log could not keep (a full disk): `{"offset", "bytes", "total"}`; the
    /// bytes belonged right before log offset `offset` (lost bytes take no offsets).
    pub const OUTPUT_LOST: &str = "output_lost";
    /// What a waiting session waits on (see [`crate::model::pending::PendingRequest`]):
    /// `{"kind", "tool", "input", "options", "source", "since"}`.
    pub const PENDING: &str = "pending";
    /// A permission request the session's approval policy decided (`allow`, `deny` or
    /// `ask`), with the rule that decided it, the tool and its input.
    pub const DECISION: &str = "decision";
    /// Usage reached 80% of a budget: `{"scope": "session"|"task", "owner", "budget",
    /// "spent": {"usd", "tokens", "estimated"}, "share", "estimated"}`.
    pub const BUDGET_WARNING: &str = "budget_warning";
    /// Usage reached a budget's limit: the warning's fields, and `action`, `outcome` (what
    /// the action did) and `repeat` (an `interrupt` acting again on a later turn).
    pub const BUDGET_EXCEEDED: &str = "budget_exceeded";
}

/// Most events one read returns.
pub const MAX_PAGE: usize = 10_000;

/// One event of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The session the event belongs to.
    pub session_id: String,
    /// 1 for a session's first event, then one more for each.
    pub seq: i64,
    /// ISO 8601 UTC, milliseconds.
    pub at: String,
    /// Who caused it: `user`, `process`, `screen`, `agent_hook`, `quiet_timer`, `liveness`,
    /// `phase`, `lifecycle`.
    pub source: String,
    /// See [`kind`].
    pub kind: String,
    /// Details, by kind.
    pub data: Value,
}

impl Event {
    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event always serializes")
    }
}

/// An event in the one order over every session's events (the all-sessions stream): `id`
/// numbers events of all sessions in commit order, so a reader that resumes after an `id`
/// misses nothing and sees nothing twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Place in the order of all events (grows with every commit; never reused).
    pub id: i64,
    /// The event itself.
    #[serde(flatten)]
    pub event: Event,
}

/// Which events of all sessions a reader of the feed wants; an empty field keeps all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedFilter {
    /// Only these sessions.
    pub sessions: Vec<String>,
    /// Only sessions of this task.
    pub task: Option<String>,
    /// Only these kinds (see [`kind`]).
    pub kinds: Vec<String>,
}

/// One read of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    /// The events read, oldest first.
    pub events: Vec<FeedEvent>,
    /// Where the next read starts (past events the filter skipped too).
    pub next: i64,
}
