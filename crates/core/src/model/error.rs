//! The one error type of the core. Every message says what went wrong and what to do next,
//! because the CLI, Python and C bindings show these messages to people unchanged.

use crate::model::state::State;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in agent-sessions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent type is neither built in nor defined by the user.
    #[error("unknown agent type '{name}': supported types are {supported}")]
    UnsupportedAgent { name: String, supported: String },

    /// A session id failed validation; it never reaches the file system.
    #[error("invalid session id {shown}: {why}; ids look like agent-20261121-230312-1a2b3c4d (see `agent-sessions ls`)")]
    InvalidSessionId { shown: String, why: &'static str },

    /// No session with this id exists in the store.
    #[error("no session with id '{0}'; run `agent-sessions ls` to list sessions")]
    SessionNotFound(String),

    /// The operation needs a live agent but the session is in another state.
    #[error("session {id} is {state}, not running, so it cannot {action}")]
    SessionNotRunning {
        id: String,
        state: State,
        action: &'static str,
    },

    /// The operation needs an agent process, and this session is a lifecycle record only.
    #[error("session {id} is a lifecycle record with no agent process, so it cannot {action}; start a hosted session with `agent-sessions start`")]
    NoProcess { id: String, action: &'static str },

    /// The operation needs an ended session (rm, cleanup).
    #[error("session {id} is still {state}; stop it first with `agent-sessions stop {id}`")]
    SessionActive { id: String, state: State },

    /// `resume` (or `suspend`) cannot do its job for this session.
    #[error("session {id} cannot be resumed: {reason}")]
    NotResumable { id: String, reason: String },

    /// A task id no session carries.
    #[error("no session has task id '{0}'; run `agent-sessions tasks` to list task ids")]
    TaskNotFound(String),

    /// The agent's binary could not be found or started.
    #[error("cannot start agent '{agent}': {reason}")]
    AgentLaunch { agent: String, reason: String },

    /// `wait` ran out of time.
    #[error(
        "timed out after {secs:.1}s waiting for session {id} to become {wanted}; it is {current}"
    )]
    Timeout {
        id: String,
        wanted: State,
        current: State,
        secs: f64,
    },

    /// `wait` asked for a state the session can never reach again.
    #[error("session {id} is {current} and can never become {wanted}")]
    StateUnreachable {
        id: String,
        wanted: State,
        current: State,
    },

    /// A lifecycle phase outside the known set.
    #[error("invalid phase '{0}': valid phases are initializing, investigating, planning, approval, executing, validating, completed, failed, abandoned")]
    InvalidPhase(String),

    /// Any other argument that does not make sense (unknown key name, zero size, ...).
    #[error("{0}")]
    InvalidArgument(String),

    /// A configuration file could not be used.
    #[error("{path}:{line}: {field}: {message}")]
    Config {
        path: String,
        line: usize,
        field: String,
        message: String,
    },

    /// The SQLite store failed.
    #[error("session store {path}: {message}; {}", .code.advice())]
    Store {
        path: String,
        message: String,
        code: StoreCode,
    },

    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The per-session host process could not be started or reached.
    #[error("session host for {id}: {reason}")]
    Host { id: String, reason: String },

    /// The host answered with something this version does not understand.
    #[error("protocol error talking to the session host: {0}; are the library and the host binary the same version?")]
    Protocol(String),
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A short stable name for the kind of error, used by the bindings to pick an exception
    /// class or result code. Each kind maps one to one onto a Python exception and a C
    /// result code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedAgent { .. } => ErrorKind::UnsupportedAgent,
            Error::InvalidSessionId { .. } => ErrorKind::InvalidSessionId,
            Error::SessionNotFound(_) => ErrorKind::SessionNotFound,
            Error::TaskNotFound(_) => ErrorKind::TaskNotFound,
            Error::SessionNotRunning { .. } => ErrorKind::SessionNotRunning,
            Error::SessionActive { .. } => ErrorKind::SessionActive,
            Error::NoProcess { .. } => ErrorKind::NoProcess,
            Error::NotResumable { .. } => ErrorKind::NotResumable,
            Error::AgentLaunch { .. } | Error::Host { .. } => ErrorKind::Launch,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::StateUnreachable { .. } => ErrorKind::StateUnreachable,
            Error::InvalidPhase(_) => ErrorKind::InvalidPhase,
            Error::InvalidArgument(_) | Error::Config { .. } => ErrorKind::InvalidArgument,
            Error::Store { .. } => ErrorKind::Store,
            Error::Io { .. } => ErrorKind::Io,
            Error::Protocol(_) => ErrorKind::Protocol,
        }
    }

    /// The operating-system error number behind an I/O or store failure, when there is one
    /// (`ENOSPC` for a full disk, `EACCES`, ...). Python's `OSError.errno` comes from here.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => Some(io_errno(source)),
            Error::Store { code, .. } => code.errno(),
            _ => None,
        }
    }
}

fn io_errno(e: &std::io::Error) -> i32 {
    if let Some(n) = e.raw_os_error() {
        return n;
    }
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => libc::ENOENT,
        K::PermissionDenied => libc::EACCES,
        K::AlreadyExists => libc::EEXIST,
        K::ConnectionRefused => libc::ECONNREFUSED,
        K::ConnectionReset => libc::ECONNRESET,
        K::BrokenPipe => libc::EPIPE,
        K::TimedOut => libc::ETIMEDOUT,
        K::Interrupted => libc::EINTR,
        _ => libc::EIO,
    }
}

/// What kind of store failure an [`Error::Store`] is, so callers can react (retry on
/// `Busy`, free space on `Full`) without knowing SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCode {
    /// Another process held the database locked past the busy timeout.
    Busy,
    /// The disk (or the file system's quota) is full.
    Full,
    /// The database or its folder cannot be written or opened.
    ReadOnly,
    CannotOpen,
    /// The database file is damaged or not a database.
    Corrupt,
    /// The operating system failed an I/O call.
    Io,
    /// Anything else (a constraint, a bug).
    Other,
}

impl StoreCode {
    /// What a person can do about it.
    pub fn advice(self) -> &'static str {
        match self {
            StoreCode::Busy => "another process holds the store locked; try again",
            StoreCode::Full => "the disk is full; free some space and try again (nothing was lost)",
            StoreCode::ReadOnly | StoreCode::CannotOpen => {
                "check that the home folder is writable by you and not on a network file system"
            }
            StoreCode::Corrupt => {
                "the database file is damaged; move it aside and let agent-sessions create a new one"
            }
            StoreCode::Io | StoreCode::Other => {
                "check that the home folder is writable and not on a network file system"
            }
        }
    }

    fn errno(self) -> Option<i32> {
        match self {
            StoreCode::Full => Some(libc::ENOSPC),
            StoreCode::ReadOnly => Some(libc::EACCES),
            StoreCode::CannotOpen => Some(libc::ENOENT),
            StoreCode::Io => Some(libc::EIO),
            StoreCode::Busy | StoreCode::Corrupt | StoreCode::Other => None,
        }
    }
}

/// Coarse classification of [`Error`] for bindings and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    UnsupportedAgent,
    InvalidSessionId,
    SessionNotFound,
    /// A task id no session carries.
    TaskNotFound,
    /// The session is not running (ended, paused, stopping) for an action that needs it.
    SessionNotRunning,
    /// The session still runs, for an action that needs it ended (rm, cleanup).
    SessionActive,
    /// A lifecycle record has no agent process to act on.
    NoProcess,
    /// The session cannot be resumed (no resume command, no agent session id, still live).
    NotResumable,
    Launch,
    Timeout,
    StateUnreachable,
    InvalidPhase,
    InvalidArgument,
    Store,
    Io,
    Protocol,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::UnsupportedAgent,
        ErrorKind::InvalidSessionId,
        ErrorKind::SessionNotFound,
        ErrorKind::TaskNotFound,
        ErrorKind::SessionNotRunning,
        ErrorKind::SessionActive,
        ErrorKind::NoProcess,
        ErrorKind::NotResumable,
        ErrorKind::Launch,
        ErrorKind::Timeout,
        ErrorKind::StateUnreachable,
        ErrorKind::InvalidPhase,
        ErrorKind::InvalidArgument,
        ErrorKind::Store,
        ErrorKind::Io,
        ErrorKind::Protocol,
    ];

    /// The kind's stable name: `SessionNotFound` is Python's `SessionNotFoundError`, C's
    /// `AS_SESSION_NOT_FOUND`, the server's `"kind": "session_not_found"`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::UnsupportedAgent => "UnsupportedAgent",
            ErrorKind::InvalidSessionId => "InvalidSessionId",
            ErrorKind::SessionNotFound => "SessionNotFound",
            ErrorKind::TaskNotFound => "TaskNotFound",
            ErrorKind::SessionNotRunning => "SessionNotRunning",
            ErrorKind::SessionActive => "SessionActive",
            ErrorKind::NoProcess => "NoProcess",
            ErrorKind::NotResumable => "NotResumable",
            ErrorKind::Launch => "Launch",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::StateUnreachable => "StateUnreachable",
            ErrorKind::InvalidPhase => "InvalidPhase",
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::Store => "Store",
            ErrorKind::Io => "Io",
            ErrorKind::Protocol => "Protocol",
        }
    }
}
