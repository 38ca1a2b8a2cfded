//! The one error type of the core. Every message says what went wrong and what to do next,
//! because the CLI, Python and C bindings show these messages to people unchanged.

use crate::model::state::{State, States};

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in agent-sessions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent type is neither built in nor defined by the user.
    #[error("unknown agent type '{name}': supported types are {supported}")]
    UnsupportedAgent {
        /// The agent type that was asked for.
        name: String,
        /// The known agent types (built in, then from agents.toml), joined with `", "`.
        supported: String,
    },

    /// A session id failed validation; it never reaches the file system.
    #[error("invalid session id {shown}: {why}; ids look like agent-20261121-230312-1a2b3c4d (see `agent-sessions ls`)")]
    InvalidSessionId {
        /// The id as given, quoted and cut short so a huge id cannot flood the terminal.
        shown: String,
        /// Which rule it broke, e.g. "it is empty".
        why: &'static str,
    },

    /// No session with this id exists in the store. Holds the id that was asked for.
    #[error("no session with id '{0}'; run `agent-sessions ls` to list sessions")]
    SessionNotFound(String),

    /// No snapshot has this id or name. Holds what was asked for.
    #[error("no snapshot '{0}'; run `agent-sessions snapshot ls` to list snapshots")]
    SnapshotNotFound(String),

    /// The operation needs a live agent but the session is in another state.
    #[error("session {id} is {state}, not running, so it cannot {action}")]
    SessionNotRunning {
        /// The session's id.
        id: String,
        /// The state it is in instead.
        state: State,
        /// What was refused, worded to follow "cannot", e.g. "receive input".
        action: &'static str,
    },

    /// The operation needs an agent process, and this session is a lifecycle record only.
    #[error("session {id} is a lifecycle record with no agent process, so it cannot {action}; start a hosted session with `agent-sessions start`")]
    NoProcess {
        /// The lifecycle record's session id.
        id: String,
        /// What was refused, worded to follow "cannot", e.g. "be suspended".
        action: &'static str,
    },

    /// The operation needs an ended session (rm, cleanup).
    #[error("session {id} is still {state}; stop it first with `agent-sessions stop {id}`")]
    SessionActive {
        /// The session's id.
        id: String,
        /// Its current, not yet ended state.
        state: State,
    },

    /// `resume` (or `suspend`) cannot do its job for this session.
    #[error("session {id} cannot be resumed: {reason}")]
    NotResumable {
        /// The session's id.
        id: String,
        /// Why not, for a person (no resume command, no agent session id, still live, ...).
        reason: String,
    },

    /// A task id no session carries. Holds the task id that was asked for.
    #[error("no session has task id '{0}'; run `agent-sessions tasks` to list task ids")]
    TaskNotFound(String),

    /// The agent's binary could not be found or started.
    #[error("cannot start agent '{agent}': {reason}")]
    AgentLaunch {
        /// The agent type (or custom program) that was to be started.
        agent: String,
        /// Why it failed, for a person (not found on PATH, not executable, ...).
        reason: String,
    },

    /// `wait` ran out of time.
    #[error(
        "timed out after {secs:.1}s waiting for session {id} to become {wanted}; it is {current}"
    )]
    Timeout {
        /// The session's id.
        id: String,
        /// The states waited for (any of them would have done).
        wanted: States,
        /// The state the session was in when time ran out.
        current: State,
        /// The timeout that ran out, in seconds.
        secs: f64,
    },

    /// `wait` asked for a state the session can never reach again.
    #[error("session {id} is {current} and can never become {wanted}")]
    StateUnreachable {
        /// The session's id.
        id: String,
        /// The states waited for (any of them would have done).
        wanted: States,
        /// The state the session is in, from which none of `wanted` can come.
        current: State,
    },

    /// A lifecycle phase outside the known set. Holds the phase as given.
    #[error("invalid phase '{0}': valid phases are initializing, investigating, planning, approval, executing, validating, completed, failed, abandoned")]
    InvalidPhase(String),

    /// Any other argument that does not make sense (unknown key name, zero size, ...).
    /// Holds the whole message, which says what to pass instead.
    #[error("{0}")]
    InvalidArgument(String),

    /// A JSON request (C ABI options, a server request body) that does not parse or does not
    /// have the request's shape. Holds the whole message. Its kind is
    /// [`ErrorKind::InvalidArgument`]; the C ABI reports it as `AS_INVALID_JSON`.
    #[error("{0}")]
    InvalidJson(String),

    /// A configuration file could not be used.
    #[error("{path}:{line}: {field}: {message}")]
    Config {
        /// The configuration file (e.g. agents.toml).
        path: String,
        /// 1-based line of the problem; 0 when the parser could not place it.
        line: usize,
        /// Dotted path of the field, e.g. `agents.mybot.busy[1]`; `-` when unknown.
        field: String,
        /// What is wrong with it and what is allowed.
        message: String,
    },

    /// The SQLite store failed.
    #[error("session store {path}: {message}; {}", .code.advice())]
    Store {
        /// The database file (or home folder) being used.
        path: String,
        /// SQLite's own message.
        message: String,
        /// The failure's class, which picks the advice shown and the errno.
        code: StoreCode,
    },

    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. "reading agents.toml".
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The per-session host process could not be started or reached.
    #[error("session host for {id}: {reason}")]
    Host {
        /// The session's id.
        id: String,
        /// What went wrong, for a person (no reply, lock held, refused request, ...).
        reason: String,
    },

    /// The host answered with something this version does not understand. Holds what was
    /// wrong with the reply.
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
            Error::SnapshotNotFound(_) => ErrorKind::SnapshotNotFound,
            Error::SessionNotRunning { .. } => ErrorKind::SessionNotRunning,
            Error::SessionActive { .. } => ErrorKind::SessionActive,
            Error::NoProcess { .. } => ErrorKind::NoProcess,
            Error::NotResumable { .. } => ErrorKind::NotResumable,
            Error::AgentLaunch { .. } | Error::Host { .. } => ErrorKind::Launch,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::StateUnreachable { .. } => ErrorKind::StateUnreachable,
            Error::InvalidPhase(_) => ErrorKind::InvalidPhase,
            Error::InvalidArgument(_) | Error::InvalidJson(_) | Error::Config { .. } => {
                ErrorKind::InvalidArgument
            }
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
    /// The database or its folder cannot be written.
    ReadOnly,
    /// The database file or its folder cannot be opened (missing, no permission).
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
    /// The agent type is neither built in nor in agents.toml.
    UnsupportedAgent,
    /// A session id is malformed (empty, too long, characters outside `[A-Za-z0-9_-]`).
    InvalidSessionId,
    /// No session has the id.
    SessionNotFound,
    /// A task id no session carries.
    TaskNotFound,
    /// No snapshot has the id or name.
    SnapshotNotFound,
    /// The session is not running (ended, paused, stopping) for an action that needs it.
    SessionNotRunning,
    /// The session still runs, for an action that needs it ended (rm, cleanup).
    SessionActive,
    /// A lifecycle record has no agent process to act on.
    NoProcess,
    /// The session cannot be resumed (no resume command, no agent session id, still live).
    NotResumable,
    /// The agent or its session host could not be started or reached
    /// ([`Error::AgentLaunch`], [`Error::Host`]).
    Launch,
    /// A wait ran out of time.
    Timeout,
    /// A wait asked for a state the session can never reach again.
    StateUnreachable,
    /// A lifecycle phase outside the known set.
    InvalidPhase,
    /// A bad argument or configuration file ([`Error::InvalidArgument`], [`Error::Config`]).
    InvalidArgument,
    /// The SQLite store failed; see [`StoreCode`].
    Store,
    /// An operating-system call failed.
    Io,
    /// The session host's reply was not understood (library and host versions differ?).
    Protocol,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::UnsupportedAgent,
        ErrorKind::InvalidSessionId,
        ErrorKind::SessionNotFound,
        ErrorKind::TaskNotFound,
        ErrorKind::SnapshotNotFound,
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
            ErrorKind::SnapshotNotFound => "SnapshotNotFound",
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
