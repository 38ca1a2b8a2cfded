//! The one result enum of the C ABI and the error value every export carries internally.

use agent_sessions::{Error, ErrorKind};
use std::ffi::{c_char, c_int};
use std::fmt::Display;

/// What every fallible function returns. `AS_OK` is 0; every error lies in 7001..=7099, a
/// range no errno value or other common library code uses, so a stray integer is easy to
/// recognise. When a function returns anything but `AS_OK`, its out-parameters are left
/// untouched and `as_last_error_message()` says what went wrong and what to do.
///
/// `as_result` is a signed 32-bit type under every compiler (`int32_t` in C before C23, an
/// enum with `int32_t` underlying type in C++ and C23; the values are the enumerators
/// below), so `!= AS_OK`, `< 0` and `== -1` comparisons compile cleanly with
/// `-Wsign-compare`. No code is negative.
// `repr(i32)` rather than `repr(C)`: a C enum with no negative enumerator is `unsigned int`
// under GCC, which made comparisons with -1 warn. Same size and values as before.
#[repr(i32)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum as_result {
    /// Success.
    AS_OK = 0,
    /// A pointer argument that must not be NULL was NULL.
    AS_NULL_ARGUMENT = 7001,
    /// A string argument was not valid UTF-8.
    AS_INVALID_UTF8 = 7002,
    /// A JSON argument was malformed or had the wrong shape (unknown field, wrong type).
    AS_INVALID_JSON = 7003,
    /// The library panicked; the message holds the panic's text. Please report it.
    AS_PANIC = 7004,
    /// A handle that is not live: already freed, never returned by this library, or a
    /// handle of the other type (detected without touching the memory it points to).
    AS_USE_AFTER_FREE = 7005,
    /// The agent type is neither built in nor defined by the user.
    AS_UNSUPPORTED_AGENT = 7010,
    /// A session id that can never be valid (empty, `../x`, too long, bad characters).
    AS_INVALID_SESSION_ID = 7011,
    /// No session has this id.
    AS_SESSION_NOT_FOUND = 7012,
    /// The session's agent is not running, for an action that needs it (send to a stopped
    /// session, pause an ended one).
    AS_SESSION_NOT_RUNNING = 7013,
    /// The agent or its session host could not be started or reached.
    AS_LAUNCH = 7014,
    /// A wait ran out of time.
    AS_TIMEOUT = 7015,
    /// A wait asked for a state the session can never reach.
    AS_STATE_UNREACHABLE = 7016,
    /// A lifecycle phase outside the known set; nothing was changed.
    AS_INVALID_PHASE = 7017,
    /// Any other argument that makes no sense (unknown state or key name, zero size, NaN).
    AS_INVALID_ARGUMENT = 7018,
    /// The SQLite store failed.
    AS_STORE = 7019,
    /// An operating-system call failed.
    AS_IO = 7020,
    /// The session host answered with something this library does not understand.
    AS_PROTOCOL = 7021,
    /// No session carries this task id.
    AS_TASK_NOT_FOUND = 7022,
    /// The session still runs, for an action that needs it ended (remove, cleanup).
    AS_SESSION_ACTIVE = 7023,
    /// The session is a lifecycle record with no agent process to act on.
    AS_NO_PROCESS = 7024,
    /// The session cannot be resumed (no resume command, no agent session id, still live).
    AS_NOT_RESUMABLE = 7025,
    /// No snapshot has this id or name.
    AS_SNAPSHOT_NOT_FOUND = 7026,
}

use as_result::*;

/// Every value, for `as_result_name` and the tests (private, so cbindgen leaves it out).
const ALL: [as_result; 23] = [
    AS_OK,
    AS_NULL_ARGUMENT,
    AS_INVALID_UTF8,
    AS_INVALID_JSON,
    AS_PANIC,
    AS_USE_AFTER_FREE,
    AS_UNSUPPORTED_AGENT,
    AS_INVALID_SESSION_ID,
    AS_SESSION_NOT_FOUND,
    AS_SESSION_NOT_RUNNING,
    AS_LAUNCH,
    AS_TIMEOUT,
    AS_STATE_UNREACHABLE,
    AS_INVALID_PHASE,
    AS_INVALID_ARGUMENT,
    AS_STORE,
    AS_IO,
    AS_PROTOCOL,
    AS_TASK_NOT_FOUND,
    AS_SESSION_ACTIVE,
    AS_NO_PROCESS,
    AS_NOT_RESUMABLE,
    AS_SNAPSHOT_NOT_FOUND,
];

impl as_result {
    /// The variant's name, NUL-terminated.
    pub fn name(self) -> &'static std::ffi::CStr {
        match self {
            AS_OK => c"AS_OK",
            AS_NULL_ARGUMENT => c"AS_NULL_ARGUMENT",
            AS_INVALID_UTF8 => c"AS_INVALID_UTF8",
            AS_INVALID_JSON => c"AS_INVALID_JSON",
            AS_PANIC => c"AS_PANIC",
            AS_USE_AFTER_FREE => c"AS_USE_AFTER_FREE",
            AS_UNSUPPORTED_AGENT => c"AS_UNSUPPORTED_AGENT",
            AS_INVALID_SESSION_ID => c"AS_INVALID_SESSION_ID",
            AS_SESSION_NOT_FOUND => c"AS_SESSION_NOT_FOUND",
            AS_SESSION_NOT_RUNNING => c"AS_SESSION_NOT_RUNNING",
            AS_LAUNCH => c"AS_LAUNCH",
            AS_TIMEOUT => c"AS_TIMEOUT",
            AS_STATE_UNREACHABLE => c"AS_STATE_UNREACHABLE",
            AS_INVALID_PHASE => c"AS_INVALID_PHASE",
            AS_INVALID_ARGUMENT => c"AS_INVALID_ARGUMENT",
            AS_STORE => c"AS_STORE",
            AS_IO => c"AS_IO",
            AS_PROTOCOL => c"AS_PROTOCOL",
            AS_TASK_NOT_FOUND => c"AS_TASK_NOT_FOUND",
            AS_SESSION_ACTIVE => c"AS_SESSION_ACTIVE",
            AS_NO_PROCESS => c"AS_NO_PROCESS",
            AS_NOT_RESUMABLE => c"AS_NOT_RESUMABLE",
            AS_SNAPSHOT_NOT_FOUND => c"AS_SNAPSHOT_NOT_FOUND",
        }
    }
}

/// The code for each kind of core error.
pub fn code_for(kind: ErrorKind) -> as_result {
    match kind {
        ErrorKind::UnsupportedAgent => AS_UNSUPPORTED_AGENT,
        ErrorKind::InvalidSessionId => AS_INVALID_SESSION_ID,
        ErrorKind::SessionNotFound => AS_SESSION_NOT_FOUND,
        ErrorKind::SessionNotRunning => AS_SESSION_NOT_RUNNING,
        ErrorKind::TaskNotFound => AS_TASK_NOT_FOUND,
        ErrorKind::SnapshotNotFound => AS_SNAPSHOT_NOT_FOUND,
        ErrorKind::SessionActive => AS_SESSION_ACTIVE,
        ErrorKind::NoProcess => AS_NO_PROCESS,
        ErrorKind::NotResumable => AS_NOT_RESUMABLE,
        ErrorKind::Launch => AS_LAUNCH,
        ErrorKind::Timeout => AS_TIMEOUT,
        ErrorKind::StateUnreachable => AS_STATE_UNREACHABLE,
        ErrorKind::InvalidPhase => AS_INVALID_PHASE,
        ErrorKind::InvalidArgument => AS_INVALID_ARGUMENT,
        ErrorKind::Store => AS_STORE,
        ErrorKind::Io => AS_IO,
        ErrorKind::Protocol => AS_PROTOCOL,
    }
}

/// A failed call: its code and the message `as_last_error_message` will return.
#[derive(Debug)]
pub struct FfiError {
    pub code: as_result,
    pub message: String,
}

impl FfiError {
    pub fn new(code: as_result, message: impl Display) -> FfiError {
        FfiError {
            code,
            message: message.to_string(),
        }
    }

    pub fn invalid_argument(message: impl Display) -> FfiError {
        FfiError::new(AS_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        let code = match e {
            // Its kind is InvalidArgument; C has a code of its own for a bad JSON argument.
            Error::InvalidJson(_) => AS_INVALID_JSON,
            _ => code_for(e.kind()),
        };
        FfiError::new(code, e)
    }
}

/// Shorthand for the body of an export.
pub type FfiResult<T = ()> = Result<T, FfiError>;

/// Name of a result code, e.g. `"AS_SESSION_NOT_FOUND"`; NULL for a value that is not an
/// `as_result`. The string is static: do not free it.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn as_result_name(code: c_int) -> *const c_char {
    crate::guard::guard_value("as_result_name", std::ptr::null(), || {
        ALL.into_iter()
            .find(|r| *r as c_int == code)
            .map_or(std::ptr::null(), |r| r.name().as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_and_range() {
        for r in ALL {
            let name = unsafe { CStr::from_ptr(as_result_name(r as c_int)) };
            assert_eq!(name.to_str().unwrap(), format!("{r:?}"));
            assert!(r == as_result::AS_OK || (7001..=7099).contains(&(r as c_int)));
        }
        assert!(as_result_name(1).is_null());
    }
}
