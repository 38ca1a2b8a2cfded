//! Session states as a C enum.

use crate::guard::guard_value;
use agent_sessions::State;
use std::ffi::{c_char, c_int};

/// Where a session is in its life (the record's `state` field).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum as_state {
    /// The host is starting the agent.
    AS_STATE_STARTING = 0,
    /// The agent runs and produces output.
    AS_STATE_RUNNING = 1,
    /// The agent waits for input (prompt, permission question, or quiet output).
    AS_STATE_WAITING_INPUT = 2,
    /// A stop was requested; the agent is being asked to exit.
    AS_STATE_STOPPING = 3,
    /// Ended by a stop request or a clean exit.
    AS_STATE_STOPPED = 4,
    /// Ended by a non-zero exit, a signal or a launch failure.
    AS_STATE_FAILED = 5,
    /// The host vanished without recording an ending.
    AS_STATE_UNKNOWN = 6,
    /// The agent's process group is frozen (`as_session_pause`) until continued.
    AS_STATE_PAUSED = 7,
    /// Ended with its conversation kept; `as_session_resume` starts it again.
    AS_STATE_SUSPENDED = 8,
}

impl From<State> for as_state {
    fn from(s: State) -> as_state {
        match s {
            State::Starting => as_state::AS_STATE_STARTING,
            State::Running => as_state::AS_STATE_RUNNING,
            State::WaitingInput => as_state::AS_STATE_WAITING_INPUT,
            State::Stopping => as_state::AS_STATE_STOPPING,
            State::Stopped => as_state::AS_STATE_STOPPED,
            State::Failed => as_state::AS_STATE_FAILED,
            State::Unknown => as_state::AS_STATE_UNKNOWN,
            State::Paused => as_state::AS_STATE_PAUSED,
            State::Suspended => as_state::AS_STATE_SUSPENDED,
        }
    }
}

/// The name of a state as records and the CLI spell it (`"waiting_input"`), or NULL for a
/// value that is not an `as_state`. The string is static: do not free it.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn as_state_name(state: c_int) -> *const c_char {
    guard_value("as_state_name", std::ptr::null(), || {
        const NAMES: [&std::ffi::CStr; 9] = [
            c"starting",
            c"running",
            c"waiting_input",
            c"stopping",
            c"stopped",
            c"failed",
            c"unknown",
            c"paused",
            c"suspended",
        ];
        usize::try_from(state)
            .ok()
            .and_then(|i| NAMES.get(i))
            .map_or(std::ptr::null(), |n| n.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_match_the_core() {
        for s in State::ALL {
            let c = as_state::from(s) as i32;
            let name = unsafe { CStr::from_ptr(as_state_name(c)) };
            assert_eq!(name.to_str().unwrap(), s.as_str());
        }
        assert!(as_state_name(9).is_null());
        assert!(as_state_name(-1).is_null());
    }
}
