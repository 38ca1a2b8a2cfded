//! Core errors as Python exceptions. The classes live in `agent_sessions/_errors.py`
//! (multiple inheritance with builtins is simpler there); this side picks the kind and errno.
//!
//! Every call into the core goes through [`call`] (or [`unlocked`]): it runs without the GIL,
//! and a panic in it is contained and raised as `InternalError`, an `AgentSessionsError`.
//! Left alone, pyo3 would raise `PanicException`, which derives from `BaseException` and so
//! escapes the `except Exception` of every hook and caller.

use agent_sessions::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

static MAKE_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Converts a core error to the matching `agent_sessions` exception.
pub fn to_pyerr(e: Error) -> PyErr {
    make(e.kind().name(), e.to_string(), e.errno())
}

/// The exception `agent_sessions._errors.make_error` builds for this kind.
fn make(kind: &str, message: String, errno: Option<i32>) -> PyErr {
    Python::attach(|py| {
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

/// A panic caught on its way to Python, as `InternalError`.
fn panicked(payload: Box<dyn Any + Send>) -> PyErr {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with no message".to_string()
    };
    make(
        "Internal",
        format!("internal error (panic): {text}; please report this as a bug"),
        None,
    )
}

/// Runs `f` with the GIL held, containing a panic (see the module docs).
pub fn contained<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panicked)
}

/// Runs `f` without the GIL, containing a panic (see the module docs).
pub fn unlocked<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(panicked)
}

/// A core call: without the GIL, its error as the matching exception, a panic contained.
pub fn call<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> agent_sessions::Result<T> + Send,
) -> PyResult<T> {
    unlocked(py, f)?.map_err(to_pyerr)
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
