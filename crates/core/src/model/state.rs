//! The session state machine, declared in one place: the states, the sources that may change
//! them, and the table of legal moves. `services::state_machine` is the one function
//! that commits a move; it refuses anything this table does not list.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a session is in its life. `Unknown` is reported whenever the signals are missing,
/// for example when the host process vanished without recording an ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Requested (by `start` or `resume`); the host is launching the agent. `starting`.
    Starting,
    /// The agent is working (busy screen, its prompt hook, activity, or input submitted).
    /// `running`.
    Running,
    /// The agent waits for the user: a prompt or dialog on screen (see the record's
    /// `state_reason`), its Stop/Notification hook, or output silence. `waiting_input`.
    WaitingInput,
    /// A stop or suspend was requested (or the agent reported it is ending) and the agent
    /// has not exited yet. `stopping`.
    Stopping,
    /// The agent exited with status 0, or on request. `stopped`.
    Stopped,
    /// The agent exited non-zero, was killed, or could not be launched. `failed`.
    Failed,
    /// The host vanished without recording an ending, so nobody knows how the agent ended.
    /// `unknown`.
    Unknown,
    /// The agent's process group is frozen (SIGSTOP) until `continue`.
    Paused,
    /// The agent ended on request with its conversation kept; `resume` starts it again on
    /// the same conversation under the same session id.
    Suspended,
}

impl State {
    /// All states, in lifecycle order.
    pub const ALL: [State; 9] = [
        State::Starting,
        State::Running,
        State::WaitingInput,
        State::Stopping,
        State::Stopped,
        State::Failed,
        State::Unknown,
        State::Paused,
        State::Suspended,
    ];

    /// The name used in records, the CLI and the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::WaitingInput => "waiting_input",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
            State::Unknown => "unknown",
            State::Paused => "paused",
            State::Suspended => "suspended",
        }
    }

    /// True once no agent process runs and the session can never change state again by
    /// itself. A suspended session has ended in this sense; only a `resume` request starts
    /// it again.
    pub fn is_ended(self) -> bool {
        matches!(
            self,
            State::Stopped | State::Failed | State::Unknown | State::Suspended
        )
    }

    /// True when the agent takes input (text, keys, interrupts, a pause): it has started and
    /// is neither paused, stopping nor ended. The one definition the manager, the host and
    /// the bindings use.
    pub fn accepts_input(self) -> bool {
        matches!(self, State::Starting | State::Running | State::WaitingInput)
    }

    /// True while an agent process may be alive (accepting input, or paused).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            State::Starting
                | State::Running
                | State::WaitingInput
                | State::Stopping
                | State::Paused
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = crate::model::error::Error;
    fn from_str(s: &str) -> crate::model::error::Result<State> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                crate::model::error::Error::InvalidArgument(format!(
                    "unknown state '{s}': states are starting, running, waiting_input, stopping, stopped, failed, unknown, paused, suspended"
                ))
            })
    }
}

/// What decided a state change. Stored as its name in `transitions.source`, `events.source`
/// and `sessions.state_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A request: start, stop, pause, continue, suspend, resume, input.
    User,
    /// The agent process itself: spawned, exited, killed, failed to launch.
    Process,
    /// The screen rules' debounced verdict.
    Screen,
    /// The agent's own hook (Claude Code's UserPromptSubmit, Stop, Notification, ...).
    AgentHook,
    /// The status the agent writes to its own terminal (the program-status escape Codex
    /// writes: working, blocked, done, idle; see `host::program_status`).
    AgentStatus,
    /// Output silence (agents without screen rules, or screens the rules do not know), and
    /// the first activity after it.
    QuietTimer,
    /// A reader found a live-looking session whose host holds no lock: the host is gone.
    Liveness,
    /// A lifecycle record's phase (records have no process; their state follows the phase).
    Phase,
}

impl Source {
    /// All sources.
    pub const ALL: [Source; 8] = [
        Source::User,
        Source::Process,
        Source::Screen,
        Source::AgentHook,
        Source::AgentStatus,
        Source::QuietTimer,
        Source::Liveness,
        Source::Phase,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::User => "user",
            Source::Process => "process",
            Source::Screen => "screen",
            Source::AgentHook => "agent_hook",
            Source::AgentStatus => "agent_status",
            Source::QuietTimer => "quiet_timer",
            Source::Liveness => "liveness",
            Source::Phase => "phase",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of [`TRANSITIONS`]: `to` may be reached from any state in `from` (from nothing,
/// the session's first state, when `from` is empty) by any of `sources`, for sessions of
/// kind `kind`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The kind of session the rule applies to.
    pub kind: crate::model::record::SessionKind,
    /// States the move may start from; empty for a new session's first state.
    pub from: &'static [State],
    /// The state the move reaches.
    pub to: State,
    /// Who may make the move.
    pub sources: &'static [Source],
    /// Why this move exists, for the docs' table.
    pub why: &'static str,
}

use crate::model::record::SessionKind::{Hosted, Record};
use Source::{AgentHook, AgentStatus, Liveness, Phase, Process, QuietTimer, Screen, User};
use State::{
    Failed, Paused, Running, Starting, Stopped, Stopping, Suspended, Unknown, WaitingInput,
};

/// States in which a hosted agent process may be alive.
const LIVE: &[State] = &[Starting, Running, WaitingInput, Paused, Stopping];
/// Ended states a resume may start again.
const RESUMABLE: &[State] = &[Stopped, Failed, Unknown, Suspended];
/// The states a lifecycle record's phase maps to.
const RECORD_STATES: &[State] = &[Running, WaitingInput, Stopped, Failed, Unknown];

/// Every legal move. Anything else is refused by the state machine, whoever asks.
pub const TRANSITIONS: &[Rule] = &[
    Rule { kind: Hosted, from: &[], to: Starting, sources: &[User], why: "start requested" },
    Rule { kind: Hosted, from: &[Starting], to: Running, sources: &[Process], why: "the agent process was spawned" },
    Rule { kind: Hosted, from: &[Starting, Running, WaitingInput], to: WaitingInput, sources: &[Screen, AgentHook, AgentStatus, QuietTimer], why: "the agent waits: a prompt or dialog on screen, its Stop/Notification hook, the status it reports, or output silence" },
    Rule { kind: Hosted, from: &[Starting, WaitingInput], to: Running, sources: &[Screen, AgentHook, AgentStatus, QuietTimer, User], why: "the agent works again: busy screen, its prompt hook, the status it reports, activity after silence, or input submitted" },
    Rule { kind: Hosted, from: &[Paused], to: Running, sources: &[User], why: "continue requested" },
    Rule { kind: Hosted, from: &[Starting, Running, WaitingInput], to: Paused, sources: &[User], why: "pause requested (SIGSTOP)" },
    Rule { kind: Hosted, from: &[Starting, Running, WaitingInput, Paused], to: Stopping, sources: &[User], why: "stop or suspend requested" },
    Rule { kind: Hosted, from: &[Running, WaitingInput], to: Stopping, sources: &[AgentHook], why: "the agent reports it is ending (Claude Code's SessionEnd hook)" },
    Rule { kind: Hosted, from: LIVE, to: Stopped, sources: &[Process], why: "the agent exited with status 0, or on request" },
    Rule { kind: Hosted, from: LIVE, to: Failed, sources: &[Process], why: "the agent exited non-zero, was killed, or could not be launched" },
    Rule { kind: Hosted, from: LIVE, to: Suspended, sources: &[Process], why: "the agent quit on a suspend request with its conversation kept" },
    Rule { kind: Hosted, from: LIVE, to: Unknown, sources: &[Liveness], why: "the host is gone without recording an ending" },
    Rule { kind: Hosted, from: RESUMABLE, to: Starting, sources: &[User], why: "resume requested" },
    Rule { kind: Record, from: &[], to: Running, sources: &[Phase], why: "record created in a working phase" },
    Rule { kind: Record, from: &[], to: WaitingInput, sources: &[Phase], why: "record created in phase approval" },
    Rule { kind: Record, from: &[], to: Stopped, sources: &[Phase], why: "record created completed or abandoned" },
    Rule { kind: Record, from: &[], to: Failed, sources: &[Phase], why: "record created failed" },
    Rule { kind: Record, from: &[], to: Unknown, sources: &[Phase], why: "record created without a known phase" },
    Rule { kind: Record, from: RECORD_STATES, to: Running, sources: &[Phase], why: "phase set to a working phase" },
    Rule { kind: Record, from: RECORD_STATES, to: WaitingInput, sources: &[Phase], why: "phase set to approval" },
    Rule { kind: Record, from: RECORD_STATES, to: Stopped, sources: &[Phase], why: "phase set to completed or abandoned (finalized)" },
    Rule { kind: Record, from: RECORD_STATES, to: Failed, sources: &[Phase], why: "phase set to failed" },
    Rule { kind: Record, from: RECORD_STATES, to: Unknown, sources: &[Phase], why: "phase cleared or not a known phase" },
];

/// Whether `source` may move a session of `kind` from `from` (`None`: a new session) to
/// `to`. Staying in the same state is not a move and is not listed.
pub fn is_legal(
    kind: crate::model::record::SessionKind,
    from: Option<State>,
    to: State,
    source: Source,
) -> bool {
    // The table writes some self-loops (`RECORD_STATES -> Running`) for brevity; they are
    // not moves, as the doc above says.
    from != Some(to)
        && TRANSITIONS.iter().any(|r| {
            r.kind == kind
                && r.to == to
                && r.sources.contains(&source)
                && match from {
                    None => r.from.is_empty(),
                    Some(f) => r.from.contains(&f),
                }
        })
}

/// A move that was committed; the status hooks get it after the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The session that moved.
    pub session_id: String,
    /// `None` for a new session.
    pub from: Option<State>,
    /// The state now committed.
    pub to: State,
    /// Human-readable cause, as in [`crate::model::record::Transition::cause`].
    pub cause: String,
    /// What decided the move.
    pub source: Source,
    /// The session's agent type; `None` for lifecycle records.
    pub agent_type: Option<String>,
    /// The session's task; `None` when it has none.
    pub task_id: Option<String>,
    /// The template it was started from (`NAME@VERSION`); `None` for none.
    pub template: Option<String>,
}

/// One or more states a wait is for, shown as "running or waiting_input".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct States(pub Vec<State>);

impl fmt::Display for States {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}
