//! Core errors as Python exceptions. The classes live in `agent_sessions/_errors.py`
//! (multiple inheritance with builtins is simpler there); this side picks the kind and errno.

use agent_sessions::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

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
    (e.kind().name(), e.errno())
}
