//! `SessionManager.watch()`: a watch lease as a context manager.

use agent_sessions::telemetry::WatchLease;
use parking_lot::Mutex;
use pyo3::prelude::*;

/// While open, every live session of the home samples its agent each second and writes
/// each sample at once, so telemetry read meanwhile is at most about two seconds old.
/// Without a watcher an idle session samples and writes far less often. Use it as a
/// context manager, or call `close()`.
#[pyclass(frozen, name = "WatchLease", module = "agent_sessions._native")]
pub struct PyWatchLease {
    lease: Mutex<Option<WatchLease>>,
}

impl PyWatchLease {
    pub fn new(lease: WatchLease) -> Self {
        PyWatchLease {
            lease: Mutex::new(Some(lease)),
        }
    }
}

#[pymethods]
impl PyWatchLease {
    /// Stops watching (idempotent); the lease runs out within three seconds.
    fn close(&self, py: Python<'_>) {
        let lease = self.lease.lock().take();
        // Dropping joins the renewing thread: without the GIL.
        py.detach(move || drop(lease));
    }

    /// Whether this lease is still held.
    #[getter]
    fn active(&self) -> bool {
        self.lease.lock().is_some()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("WatchLease(active={})", self.active())
    }
}
