//! `OutputStream` (`Session.stream()`): a session's live output, followed by the core's
//! `OutputCursor`, which also keeps its place across log rotations (so `logs --follow`, C
//! and Python agree on what a rotation does to a follower).

use crate::errors::call;
use agent_sessions::manager::{OutputCursor, OutputFollowed};
use agent_sessions::SessionManager;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;
use std::time::Duration;

/// Largest chunk one step yields.
const STREAM_CHUNK: usize = 64 * 1024;

#[pyclass(frozen, name = "OutputStream", module = "agent_sessions._native")]
pub struct PyOutputStream {
    mgr: Arc<SessionManager>,
    cursor: Mutex<OutputCursor>,
    /// How long one wait without the GIL lasts; signals are checked between waits.
    slice: Duration,
}

impl PyOutputStream {
    pub(crate) fn new(
        mgr: Arc<SessionManager>,
        id: &str,
        offset: u64,
        slice: Duration,
    ) -> PyOutputStream {
        PyOutputStream {
            mgr,
            cursor: Mutex::new(OutputCursor::new(id, offset)),
            slice,
        }
    }
}

#[pymethods]
impl PyOutputStream {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        loop {
            // The lock is taken and released without the GIL, so a thread holding it never
            // waits for the GIL.
            let found = call(py, || {
                self.cursor
                    .lock()
                    .follow(&self.mgr, STREAM_CHUNK, self.slice)
            })?;
            match found {
                OutputFollowed::Bytes { data, .. } => return Ok(Some(PyBytes::new(py, &data))),
                OutputFollowed::Ended => return Ok(None),
                OutputFollowed::Quiet => py.check_signals()?,
            }
        }
    }

    /// The byte offset the next chunk starts at.
    #[getter]
    fn offset(&self, py: Python<'_>) -> u64 {
        py.detach(|| self.cursor.lock().offset)
    }

    /// The session id.
    #[getter]
    fn session_id(&self, py: Python<'_>) -> String {
        py.detach(|| self.cursor.lock().session_id.clone())
    }
}
