//! `agent_sessions._native.Lifecycle`: the lifecycle records of one home. The Python
//! `AgentSession` class (the reference library's API) is a thin layer over it.

use crate::convert::{dict_to_map, to_json, to_py};
use crate::errors::{call, contained, unlocked, IntoPy};
use agent_sessions::lifecycle::hooks::{run_hook_with, Hook, HookOptions};
use agent_sessions::lifecycle::{Lifecycle, NewLifecycle, ResumePolicy};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Errors of the list callback: the core's or Python's.
enum ListError {
    Core(agent_sessions::Error),
    Py(PyErr),
}

impl From<agent_sessions::Error> for ListError {
    fn from(e: agent_sessions::Error) -> Self {
        ListError::Core(e)
    }
}

impl From<PyErr> for ListError {
    fn from(e: PyErr) -> Self {
        ListError::Py(e)
    }
}

#[pyclass(frozen, name = "Lifecycle", module = "agent_sessions._native")]
pub struct PyLifecycle {
    inner: Arc<Lifecycle>,
}

fn metadata_arg(m: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Map<String, Value>>> {
    match m {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => match o.cast::<PyDict>() {
            Ok(d) => dict_to_map(d).map(Some),
            Err(_) => Err(PyTypeError::new_err(format!(
                "metadata must be a dict, not {}",
                o.get_type().name()?
            ))),
        },
    }
}

/// A value given as "anything" (agent_name, purpose, summary): stored as given.
fn any_arg(v: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    match v {
        None => Ok(Value::Null),
        Some(o) => to_json(o),
    }
}

/// Text of a value given as "a string, usually" (error messages, outcomes).
fn text_arg(v: &Bound<'_, PyAny>) -> PyResult<String> {
    match v.cast::<PyString>() {
        Ok(s) => Ok(s.to_str()?.to_owned()),
        Err(_) => Ok(v.str()?.to_str()?.to_owned()),
    }
}

#[pymethods]
impl PyLifecycle {
    /// Opens the lifecycle records of `home` (the default sessions home when None);
    /// `state_files`: mirror every document into `<home>/<id>/state.json`.
    #[new]
    #[pyo3(signature = (home=None, state_files=true))]
    fn new(py: Python<'_>, home: Option<PathBuf>, state_files: bool) -> PyResult<Self> {
        let lc = call(py, || Lifecycle::open_with(home.as_deref(), state_files))?;
        Ok(PyLifecycle {
            inner: Arc::new(lc),
        })
    }

    /// Whether writes mirror documents into state.json.
    #[getter]
    fn state_files(&self) -> bool {
        self.inner.state_files()
    }

    /// The sessions home folder.
    #[getter]
    fn home(&self) -> String {
        self.inner.home().root().display().to_string()
    }

    /// Path of a session's state.json (it may not exist).
    fn state_path(&self, agent_id: &str) -> PyResult<String> {
        Ok(self
            .inner
            .state_path(agent_id)
            .py_err()?
            .display()
            .to_string())
    }

    #[pyo3(signature = (agent_id=None, agent_name=None, purpose=None, metadata=None))]
    fn create_session(
        &self,
        py: Python<'_>,
        agent_id: Option<String>,
        agent_name: Option<&Bound<'_, PyAny>>,
        purpose: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let new = NewLifecycle {
            agent_id,
            agent_name: any_arg(agent_name)?,
            purpose: any_arg(purpose)?,
            metadata: metadata_arg(metadata)?.unwrap_or_default(),
        };
        let lc = &self.inner;
        call(py, || lc.create_session(&new))
    }

    #[pyo3(signature = (agent_id, phase=None, metadata=None, error=None))]
    fn update_state(
        &self,
        py: Python<'_>,
        agent_id: &str,
        phase: Option<&str>,
        metadata: Option<&Bound<'_, PyAny>>,
        error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let metadata = metadata_arg(metadata)?;
        let error = match error {
            Some(e) if !e.is_none() => Some(text_arg(e)?),
            _ => None,
        };
        let lc = &self.inner;
        call(py, || {
            lc.update_state(agent_id, phase, metadata.as_ref(), error.as_deref())
        })
    }

    /// True when the session may be resumed: resume_ready, a resumable phase, last activity
    /// less than `max_idle_seconds` ago and fewer than `max_errors` errors.
    #[pyo3(signature = (agent_id, max_idle_seconds=1800.0, max_errors=3, resumable_phases=None))]
    fn should_resume(
        &self,
        py: Python<'_>,
        agent_id: &str,
        max_idle_seconds: f64,
        max_errors: i64,
        resumable_phases: Option<Vec<String>>,
    ) -> PyResult<bool> {
        let mut policy = ResumePolicy {
            max_idle: crate::args::secs(max_idle_seconds, "max_idle_seconds")?,
            max_errors,
            ..ResumePolicy::default()
        };
        if let Some(p) = resumable_phases {
            policy.resumable_phases = p;
        }
        let lc = &self.inner;
        call(py, || lc.should_resume(agent_id, &policy))
    }

    /// The whole document, or None.
    fn get_session<'py>(
        &self,
        py: Python<'py>,
        agent_id: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let lc = &self.inner;
        let Some(doc) = call(py, || lc.get_session(agent_id))? else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        for (k, v) in doc.fields() {
            d.set_item(k, to_py(py, v)?)?;
        }
        Ok(Some(d))
    }

    #[pyo3(signature = (agent_id, outcome, summary=None))]
    fn finalize_session(
        &self,
        py: Python<'_>,
        agent_id: &str,
        outcome: &Bound<'_, PyAny>,
        summary: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let outcome = text_arg(outcome)?;
        let summary = any_arg(summary)?;
        let lc = &self.inner;
        call(py, || {
            lc.finalize_session(agent_id, &outcome, Some(summary))
        })
    }

    #[pyo3(signature = (hours=24.0))]
    fn cleanup_old_sessions(&self, py: Python<'_>, hours: f64) -> PyResult<usize> {
        let lc = &self.inner;
        call(py, || lc.cleanup_old_sessions(hours))
    }

    #[pyo3(signature = (active_only=false, agent_name=None))]
    fn list_sessions<'py>(
        &self,
        py: Python<'py>,
        active_only: bool,
        agent_name: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        // Built straight from the store's rows: a read in WAL mode does not wait for writers,
        // so the GIL stays held for these few milliseconds instead of copying every row.
        let k_id = intern!(py, "agent_id");
        let k_name = intern!(py, "agent_name");
        let k_phase = intern!(py, "phase");
        let k_created = intern!(py, "created_at");
        let k_updated = intern!(py, "last_updated");
        let k_ready = intern!(py, "resume_ready");
        let k_errors = intern!(py, "error_count");
        let list = PyList::empty(py);
        // Names and phases repeat: make each distinct one once.
        let mut seen: Vec<(String, Bound<'py, PyString>)> = Vec::new();
        let mut repeated = |s: Option<&str>| -> Bound<'py, PyAny> {
            let Some(s) = s else {
                return py.None().into_bound(py);
            };
            if let Some((_, p)) = seen.iter().find(|(k, _)| k == s) {
                return p.clone().into_any();
            }
            let p = PyString::new(py, s);
            if seen.len() < 64 {
                seen.push((s.to_string(), p.clone()));
            }
            p.into_any()
        };
        let opt = |s: Option<&str>| -> Bound<'py, PyAny> {
            match s {
                Some(s) => PyString::new(py, s).into_any(),
                None => py.None().into_bound(py),
            }
        };
        contained(|| {
            self.inner
                .for_each_summary(active_only, agent_name, |r| -> Result<(), ListError> {
                    let d = PyDict::new(py);
                    d.set_item(k_id, r.agent_id)?;
                    d.set_item(k_name, repeated(r.agent_name))?;
                    d.set_item(k_phase, repeated(r.phase))?;
                    d.set_item(k_created, opt(r.created_at))?;
                    d.set_item(k_updated, opt(r.last_updated))?;
                    d.set_item(k_ready, r.resume_ready)?;
                    d.set_item(k_errors, r.error_count)?;
                    list.append(d)?;
                    Ok(())
                })
        })?
        .map_err(|e| match e {
            ListError::Core(e) => crate::errors::to_pyerr(e),
            ListError::Py(e) => e,
        })?;
        Ok(list)
    }

    /// Stores `state` exactly as given (history included).
    fn save_session(
        &self,
        py: Python<'_>,
        agent_id: &str,
        state: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let Ok(d) = state.cast::<PyDict>() else {
            return Err(PyTypeError::new_err(format!(
                "the session state must be a dict, not {}",
                state.get_type().name()?
            )));
        };
        let map = dict_to_map(d)?;
        let lc = &self.inner;
        call(py, || lc.save_session(agent_id, map))
    }

    fn __repr__(&self) -> String {
        format!("Lifecycle(home={:?})", self.home())
    }
}

/// Runs a ready hook (`pre_delegate` or `subagent_stop`) on its raw stdin and returns the
/// JSON text to print. Never raises for bad input: that is answered with reason "error".
#[pyfunction]
#[pyo3(signature = (name, stdin, home=None))]
pub fn run_hook(
    py: Python<'_>,
    name: &str,
    stdin: &[u8],
    home: Option<PathBuf>,
) -> PyResult<String> {
    let hook = Hook::parse(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown hook {name:?}: hooks are pre_delegate and subagent_stop"
        ))
    })?;
    let input = stdin.to_vec();
    unlocked(py, move || {
        let (mut opts, warnings) = HookOptions::from_env();
        opts.home = home;
        run_hook_with(hook, &input, &opts, &warnings)
    })
}
