//! The session state machine's states.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a session is in its life. `Unknown` is reported whenever the signals are missing,
/// for example when the host process vanished without recording an ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Starting,
    Running,
    WaitingInput,
    Stopping,
    Stopped,
    Failed,
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
