//! Core errors as Python exceptions. The classes live in `agent_sessions/_errors.py`
//! (multiple inheritance with builtins is simpler there); this side picks the kind and errno.

use agent_sessions::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::io;

static MAKE_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Converts a core error to the matching `agent_sessions` exception.
pub fn to_pyerr(e: Error) -> PyErr {
    Python::attach(|py| {
        let (kind, errno) = classify(&e);
        let message = e.to_string();
        let made = MAKE_ERROR
            .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(py
                    .import("agent_sessions._errors")?
                    .getattr("make_error")?
                    .unbind())
            })
            .and_then(|f| f.bind(py).call1((kind, message.clone(), errno)));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            // The package is broken; still say what went wrong.
            Err(_) => pyo3::exceptions::PyRuntimeError::new_err(message),
        }
    })
}

/// Extension for `Result<T, Error>`.
pub trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_pyerr)
    }
}

fn classify(e: &Error) -> (&'static str, Option<i32>) {
    let kind = match e.kind() {
        ErrorKind::UnsupportedAgent => "UnsupportedAgent",
        ErrorKind::InvalidSessionId => "InvalidSessionId",
        ErrorKind::SessionNotFound => "SessionNotFound",
        ErrorKind::SessionNotRunning => "SessionNotRunning",
        ErrorKind::Launch => "Launch",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::StateUnreachable => "StateUnreachable",
        ErrorKind::InvalidPhase => "InvalidPhase",
        ErrorKind::InvalidArgument => "InvalidArgument",
        ErrorKind::Store => "Store",
        ErrorKind::Io => "Io",
        ErrorKind::Protocol => "Protocol",
    };
    let errno = match e {
        Error::Io { source, .. } => io_errno(source),
        Error::Store { source, .. } => sqlite_errno(source),
        _ => None,
    };
    (kind, errno)
}

fn io_errno(e: &io::Error) -> Option<i32> {
    if let Some(n) = e.raw_os_error() {
        return Some(n);
    }
    use io::ErrorKind as K;
    Some(match e.kind() {
        K::NotFound => libc_errno::ENOENT,
        K::PermissionDenied => libc_errno::EACCES,
        K::AlreadyExists => libc_errno::EEXIST,
        K::ConnectionRefused => libc_errno::ECONNREFUSED,
        K::ConnectionReset => libc_errno::ECONNRESET,
        K::BrokenPipe => libc_errno::EPIPE,
        K::TimedOut => libc_errno::ETIMEDOUT,
        K::Interrupted => libc_errno::EINTR,
        _ => libc_errno::EIO,
    })
}

/// SQLite failures whose cause is the operating system.
fn sqlite_errno(e: &rusqlite_shim::Error) -> Option<i32> {
    use rusqlite_shim::ErrorCode as C;
    match e {
        rusqlite_shim::Error::SqliteFailure(f, _) => match f.code {
            C::CannotOpen => Some(libc_errno::ENOENT),
            C::PermissionDenied | C::ReadOnly => Some(libc_errno::EACCES),
            C::DiskFull => Some(libc_errno::ENOSPC),
            C::SystemIoFailure => Some(libc_errno::EIO),
            _ => None,
        },
        _ => None,
    }
}

/// errno values.
mod libc_errno {
    pub use libc::{
        EACCES, ECONNREFUSED, ECONNRESET, EEXIST, EINTR, EIO, ENOENT, ENOSPC, EPIPE, ETIMEDOUT,
    };
}

/// `rusqlite`, the same crate the core uses.
mod rusqlite_shim {
    pub use rusqlite::{Error, ErrorCode};
}
