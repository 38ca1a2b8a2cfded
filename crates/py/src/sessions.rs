//! `SessionManager`, `Session` and `OutputStream`: hosted sessions from Python.
//!
//! Every call that can block (the store's lock, the host's socket, waiting, stopping) runs
//! with the GIL released. `wait_for` and `stream()` wait in short slices and check for
//! signals between them, so Ctrl-C raises KeyboardInterrupt promptly.

use crate::convert::{ser_to_py, to_py};
use crate::errors::{to_pyerr, IntoPy};
use crate::history::{
    age, event_list, non_negative, page_size, state_list, value, PyEventStream, PyHistoryIterator,
};
use agent_sessions::lifecycle::Lifecycle;
use agent_sessions::telemetry;
use agent_sessions::{
    CleanupOptions, Error, ListFilter, ResumeOptions, SessionManager, SessionRecord, StartOptions,
    State,
};
use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long one uninterruptible slice of a wait lasts.
const SLICE: Duration = Duration::from_millis(100);
/// Largest chunk `stream()` yields.
const STREAM_CHUNK: usize = 64 * 1024;

pub(crate) struct Shared {
    pub(crate) mgr: SessionManager,
    lifecycle: OnceLock<Lifecycle>,
}

impl Shared {
    fn lifecycle(&self) -> agent_sessions::Result<&Lifecycle> {
        if let Some(lc) = self.lifecycle.get() {
            return Ok(lc);
        }
        let lc = Lifecycle::open(Some(self.mgr.home().root()))?;
        Ok(self.lifecycle.get_or_init(|| lc))
    }
}

#[pyclass(frozen, name = "SessionManager", module = "agent_sessions._native")]
pub struct PySessionManager {
    shared: Arc<Shared>,
}

fn parse_state(s: &str) -> PyResult<State> {
    s.parse::<State>().py_err()
}

fn secs(v: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    agent_sessions::duration::optional_secs(v, what).py_err()
}

fn size(v: Option<i64>, what: &str) -> PyResult<Option<u16>> {
    match v {
        None => Ok(None),
        Some(n) => u16::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| PyValueError::new_err(format!("{what} must be between 1 and 65535"))),
    }
}

/// `env` as pairs: a mapping, or an iterable of (name, value) pairs.
fn env_pairs(env: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(env) = env.filter(|e| !e.is_none()) else {
        return Ok(Vec::new());
    };
    let items: Bound<'_, PyAny> = match env.cast::<PyDict>() {
        Ok(d) => d.items().into_any(),
        Err(_) => env.clone(),
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (k, v): (String, String) = item?.extract().map_err(|_| {
            PyTypeError::new_err("env must map variable names (str) to values (str)")
        })?;
        out.push((k, v));
    }
    Ok(out)
}

fn strings(args: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    let Some(args) = args.filter(|a| !a.is_none()) else {
        return Ok(Vec::new());
    };
    if args.cast::<PyString>().is_ok() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a list of strings, not a single string"
        )));
    }
    let mut out = Vec::new();
    for a in args.try_iter()? {
        out.push(
            a?.extract::<String>()
                .map_err(|_| PyTypeError::new_err(format!("{what} must be strings")))?,
        );
    }
    Ok(out)
}

#[pymethods]
impl PySessionManager {
    /// Opens the sessions home `home` (default: $AGENT_SESSIONS_HOME, else the XDG state
    /// folder). `host_binary` is the `agent-sessions` executable that hosts sessions; by
    /// default the one installed with this package.
    #[new]
    #[pyo3(signature = (home=None, *, host_binary=None))]
    fn new(py: Python<'_>, home: Option<PathBuf>, host_binary: Option<PathBuf>) -> PyResult<Self> {
        let host_binary = match host_binary {
            Some(p) => Some(p),
            None => {
                // The binary installed beside this package (see agent_sessions/_host.py).
                let found = py
                    .import("agent_sessions._host")?
                    .call_method0("host_binary")?;
                if found.is_none() {
                    None
                } else {
                    Some(found.extract::<PathBuf>()?)
                }
            }
        };
        let mgr = py
            .detach(|| SessionManager::open(home.as_deref()))
            .py_err()?;
        if let Some(p) = host_binary {
            mgr.set_host_binary(p);
        }
        Ok(PySessionManager {
            shared: Arc::new(Shared {
                mgr,
                lifecycle: OnceLock::new(),
            }),
        })
    }

    /// The sessions home folder.
    #[getter]
    fn home(&self) -> String {
        self.shared.mgr.home().root().display().to_string()
    }

    /// Starts a session and returns it once the agent process runs. `max_log_bytes` caps the
    /// output log on disk (older output is rotated away); None keeps the default cap.
    #[pyo3(signature = (agent, args=None, cwd=None, task_id=None, name=None, env=None, cols=None, rows=None, idle_after=None, max_log_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        py: Python<'_>,
        agent: &str,
        args: Option<&Bound<'_, PyAny>>,
        cwd: Option<PathBuf>,
        task_id: Option<String>,
        name: Option<String>,
        env: Option<&Bound<'_, PyAny>>,
        cols: Option<i64>,
        rows: Option<i64>,
        idle_after: Option<f64>,
        max_log_bytes: Option<i64>,
    ) -> PyResult<PySession> {
        let max_log_bytes = match max_log_bytes {
            Some(n) if n < 1 => {
                return Err(PyValueError::new_err(format!(
                    "max_log_bytes must be a positive number of bytes, got {n}"
                )))
            }
            n => n.map(|n| n as u64),
        };
        let opts = StartOptions {
            agent: agent.to_string(),
            args: strings(args, "args")?,
            cwd,
            task_id,
            name,
            env: env_pairs(env)?,
            cols: size(cols, "cols")?,
            rows: size(rows, "rows")?,
            idle_after: secs(idle_after, "idle_after")?,
            max_log_bytes,
        };
        let shared = &self.shared;
        let rec = py.detach(|| shared.mgr.start(&opts)).py_err()?;
        Ok(PySession::new(self.shared.clone(), rec))
    }

    /// The session with this id.
    fn get(&self, py: Python<'_>, session_id: &str) -> PyResult<PySession> {
        let shared = &self.shared;
        let rec = py.detach(|| shared.mgr.get(session_id)).py_err()?;
        Ok(PySession::new(self.shared.clone(), rec))
    }

    /// Sessions, newest first, optionally only those in `state`, of `agent`, or linked to
    /// `task_id`. Raises SessionNotFoundError when no session at all carries `task_id`.
    #[pyo3(signature = (state=None, agent=None, task_id=None))]
    fn list(
        &self,
        py: Python<'_>,
        state: Option<&str>,
        agent: Option<String>,
        task_id: Option<String>,
    ) -> PyResult<Vec<PySession>> {
        let filter = ListFilter {
            state: state.map(parse_state).transpose()?,
            agent_type: agent,
            task_id,
        };
        let shared = &self.shared;
        let recs = py.detach(|| shared.mgr.list(&filter)).py_err()?;
        Ok(recs
            .into_iter()
            .map(|r| PySession::new(self.shared.clone(), r))
            .collect())
    }

    /// Removes an ended session's record and files.
    fn remove(&self, py: Python<'_>, session_id: &str) -> PyResult<()> {
        let shared = &self.shared;
        py.detach(|| shared.mgr.remove(session_id)).py_err()
    }

    /// Up to `limit` events of a session with seq greater than `since`, oldest first, as
    /// dicts: session_id, seq, at, source, kind, data. See `Session.events`.
    #[pyo3(signature = (session_id, since=0, limit=1000))]
    fn events<'py>(
        &self,
        py: Python<'py>,
        session_id: &str,
        since: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        let since = non_negative(since, "since")? as i64;
        let limit = page_size(limit, "limit")?;
        let shared = &self.shared;
        let events = py
            .detach(|| shared.mgr.events(session_id, since, limit))
            .py_err()?;
        event_list(py, &events)
    }

    /// One page of a session's conversation. See `Session.history`.
    #[pyo3(signature = (session_id, offset=0, limit=100))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        session_id: &str,
        offset: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let offset = non_negative(offset, "offset")?;
        let limit = page_size(limit, "limit")?;
        let shared = &self.shared;
        let page = py
            .detach(|| shared.mgr.history(session_id, offset, limit))
            .py_err()?;
        value!(py, &page)
    }

    /// Every task with its sessions and totals, the most recently active first, as dicts:
    /// task_id, session_count, sessions, states, live, first_created_at, last_updated_at,
    /// total_tokens, cost_usd, cpu_time_ms. Sessions without a task come last, under
    /// task_id None.
    fn tasks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = &self.shared;
        let tasks = py.detach(|| shared.mgr.tasks()).py_err()?;
        value!(py, &tasks)
    }

    /// One task as a dict (see `tasks`). Raises SessionNotFoundError when no session carries
    /// `task_id`.
    fn task<'py>(&self, py: Python<'py>, task_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let shared = &self.shared;
        let task = py.detach(|| shared.mgr.task(task_id)).py_err()?;
        value!(py, &task)
    }

    /// Removes ended sessions that ended longer than `older_than` ago (seconds, a
    /// `datetime.timedelta`, or text such as "12h" or "7d"), with their folders. `states`
    /// limits it to these ended states (default: stopped, failed and unknown; "suspended"
    /// only when named); a live state raises InvalidArgumentError, and a live session is
    /// never removed. `keep_logs` leaves the output logs on disk; `dry_run` removes nothing.
    /// Returns the report as a dict: dry_run, sessions (session_id, state, ended_at,
    /// bytes), bytes_freed, skipped.
    #[pyo3(signature = (older_than, states=None, *, keep_logs=false, dry_run=false))]
    fn cleanup<'py>(
        &self,
        py: Python<'py>,
        older_than: &Bound<'py, PyAny>,
        states: Option<&Bound<'py, PyAny>>,
        keep_logs: bool,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = CleanupOptions {
            older_than: age(older_than)?,
            states: state_list(states)?,
            keep_logs,
            dry_run,
        };
        let shared = &self.shared;
        let report = py.detach(|| shared.mgr.cleanup(&opts)).py_err()?;
        value!(py, &report)
    }

    fn __repr__(&self) -> String {
        format!("SessionManager(home={:?})", self.home())
    }
}

#[pyclass(frozen, name = "Session", module = "agent_sessions._native")]
pub struct PySession {
    shared: Arc<Shared>,
    id: String,
    record: Mutex<SessionRecord>,
}

impl PySession {
    fn new(shared: Arc<Shared>, rec: SessionRecord) -> PySession {
        PySession {
            shared,
            id: rec.session_id.clone(),
            record: Mutex::new(rec),
        }
    }

    fn mgr(&self) -> &SessionManager {
        &self.shared.mgr
    }

    fn set(&self, rec: SessionRecord) {
        *self.record.lock() = rec;
    }
}

#[pymethods]
impl PySession {
    /// The session id.
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// The state when last read (start, get, refresh, wait_for, stop, pause, continue_,
    /// suspend, resume and list read it).
    #[getter]
    fn state(&self) -> &'static str {
        self.record.lock().state.as_str()
    }

    /// The lifecycle phase when last read, if the session carries one.
    #[getter]
    fn phase(&self) -> Option<String> {
        self.record.lock().phase.clone()
    }

    /// Re-reads the record; returns the session.
    fn refresh(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let this = slf.get();
        let rec = py.detach(|| this.mgr().get(&this.id)).py_err()?;
        this.set(rec);
        Ok(slf)
    }

    /// The record as a dict: the same fields as the CLI's `--json`.
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rec = py.detach(|| self.mgr().get(&self.id)).py_err()?;
        let v = serde_json::to_value(&rec).expect("records serialize");
        self.set(rec);
        to_py(py, &v)
    }

    /// Types `text` into the agent, then Enter unless `enter` is False.
    #[pyo3(signature = (text, enter=true))]
    fn send(&self, py: Python<'_>, text: &str, enter: bool) -> PyResult<()> {
        py.detach(|| self.mgr().send(&self.id, text, enter))
            .py_err()
    }

    /// Sends named keys: `send_keys("Esc")`, `send_keys("C-c", "Enter")` or a list of names.
    #[pyo3(signature = (*keys))]
    fn send_keys(&self, py: Python<'_>, keys: &Bound<'_, PyTuple>) -> PyResult<()> {
        let mut names = Vec::new();
        for k in keys.iter() {
            if let Ok(s) = k.cast::<PyString>() {
                names.push(s.to_str()?.to_owned());
            } else {
                names.extend(strings(Some(&k), "keys")?);
            }
        }
        if names.is_empty() {
            return Err(PyValueError::new_err(
                "send_keys needs at least one key name",
            ));
        }
        py.detach(|| self.mgr().send_keys(&self.id, &names))
            .py_err()
    }

    /// Sends raw bytes to the agent's terminal.
    fn send_bytes(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        py.detach(|| self.mgr().send_bytes(&self.id, data)).py_err()
    }

    /// Interrupts the agent's current turn (Esc or Ctrl-C, as the agent expects).
    fn interrupt(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.mgr().interrupt(&self.id)).py_err()
    }

    /// Resizes the terminal.
    fn resize(&self, py: Python<'_>, cols: i64, rows: i64) -> PyResult<()> {
        let cols = size(Some(cols), "cols")?.unwrap_or(1);
        let rows = size(Some(rows), "rows")?.unwrap_or(1);
        py.detach(|| self.mgr().resize(&self.id, cols, rows))
            .py_err()
    }

    /// Raw output from byte `offset`: `(data, next_offset)`.
    #[pyo3(signature = (offset=0, max_bytes=16777216))]
    fn output<'py>(
        &self,
        py: Python<'py>,
        offset: u64,
        max_bytes: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, u64)> {
        let (data, next) = py
            .detach(|| self.mgr().output(&self.id, offset, max_bytes))
            .py_err()?;
        Ok((PyBytes::new(py, &data), next))
    }

    /// An iterator of live output chunks (bytes) from `offset`; it ends when the session has
    /// ended and all its output was read. Ctrl-C interrupts it.
    #[pyo3(signature = (offset=0, poll_interval=0.05))]
    fn stream(&self, offset: u64, poll_interval: f64) -> PyResult<PyOutputStream> {
        let poll = secs(Some(poll_interval), "poll_interval")?
            .unwrap_or_default()
            .max(Duration::from_millis(1));
        Ok(PyOutputStream {
            shared: self.shared.clone(),
            id: self.id.clone(),
            offset: Mutex::new(offset),
            poll,
        })
    }

    /// The screen as text, as a person would see it.
    fn screen(&self, py: Python<'_>) -> PyResult<String> {
        py.detach(|| self.mgr().screen(&self.id))
            .py_err()
            .map(|s| s.text)
    }

    /// Waits until the session is in `state` and returns the session. Raises TimeoutError
    /// after `timeout` seconds, and StateUnreachableError at once when the state can no
    /// longer come. Ctrl-C interrupts it.
    #[pyo3(signature = (state, timeout=None))]
    fn wait_for<'py>(
        slf: Bound<'py, Self>,
        state: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        let wanted = parse_state(state)?;
        let total = secs(timeout, "timeout")?;
        let start = Instant::now();
        loop {
            let slice = match total {
                Some(t) => t.saturating_sub(start.elapsed()).min(SLICE),
                None => SLICE,
            };
            let r = py.detach(|| this.mgr().wait_for(&this.id, wanted, Some(slice)));
            match r {
                Ok(rec) => {
                    this.set(rec);
                    return Ok(slf);
                }
                Err(Error::Timeout { current, .. }) => {
                    if let Some(t) = total {
                        if start.elapsed() >= t {
                            return Err(to_pyerr(Error::Timeout {
                                id: this.id.clone(),
                                wanted,
                                current,
                                secs: t.as_secs_f64(),
                            }));
                        }
                    }
                    py.check_signals()?;
                }
                Err(e) => return Err(to_pyerr(e)),
            }
        }
    }

    /// Stops the session: quit sequence, SIGTERM, SIGKILL after `timeout` seconds (at once
    /// with `force`). Returns the session.
    #[pyo3(signature = (timeout=None, force=false))]
    fn stop<'py>(
        slf: Bound<'py, Self>,
        timeout: Option<f64>,
        force: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        let timeout = secs(timeout, "timeout")?;
        let rec = py
            .detach(|| this.mgr().stop(&this.id, timeout, force))
            .py_err()?;
        this.set(rec);
        Ok(slf)
    }

    /// Freezes the agent (SIGSTOP to its process group): the session reads "paused" and
    /// takes no input until `continue_()`. Pausing a paused session changes nothing. Raises
    /// SessionNotRunningError when the session has ended. Returns the session.
    fn pause<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        let rec = py.detach(|| this.mgr().pause(&this.id)).py_err()?;
        this.set(rec);
        Ok(slf)
    }

    /// Thaws a paused session (SIGCONT); it reads "running" until its screen or output
    /// silence says otherwise. Continuing a running session changes nothing; any other
    /// state raises SessionNotRunningError. Returns the session. (`continue` is a Python
    /// keyword, hence the underscore.)
    fn continue_<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        let rec = py
            .detach(|| this.mgr().continue_session(&this.id))
            .py_err()?;
        this.set(rec);
        Ok(slf)
    }

    /// Ends the agent cleanly (its quit sequence, then signals after `timeout` seconds) and
    /// keeps what `resume()` needs: the session becomes "suspended". Raises
    /// SessionNotRunningError when the session is not live, or when its agent type cannot
    /// resume (the session is then left running) or the agent never showed its own
    /// session id (the session is then stopped). Returns the session.
    #[pyo3(signature = (timeout=None))]
    fn suspend<'py>(slf: Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        let timeout = secs(timeout, "timeout")?;
        let rec = py
            .detach(|| this.mgr().suspend(&this.id, timeout))
            .py_err()?;
        this.set(rec);
        Ok(slf)
    }

    /// Starts an ended (suspended, stopped, failed or unknown) session's agent again on the
    /// same conversation, under the same session id, and returns the session once the agent
    /// runs. `args` replaces the arguments it was started with (repeated by default); `env`
    /// is passed again since values are never stored; `agent_session_id` gives the agent's
    /// own session id when it never showed it. With `wait`, returns only once the agent is
    /// at its prompt (up to `timeout` seconds). Raises SessionNotRunningError, with the
    /// reason, when the session cannot be resumed (still live, no resume command for its
    /// agent type, no known conversation) or, with `wait`, when the agent ends instead (it
    /// reported the conversation is gone).
    #[pyo3(signature = (args=None, env=None, agent_session_id=None, wait=false, timeout=None))]
    fn resume<'py>(
        slf: Bound<'py, Self>,
        args: Option<&Bound<'py, PyAny>>,
        env: Option<&Bound<'py, PyAny>>,
        agent_session_id: Option<String>,
        wait: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        let opts = ResumeOptions {
            args: match args.filter(|a| !a.is_none()) {
                None => None,
                Some(a) => Some(strings(Some(a), "args")?),
            },
            env: env_pairs(env)?,
            agent_session_id,
        };
        let timeout = secs(timeout, "timeout")?;
        let rec = py
            .detach(|| match wait {
                true => this.mgr().resume_and_wait(&this.id, &opts, timeout),
                false => this.mgr().resume(&this.id, &opts),
            })
            .py_err()?;
        this.set(rec);
        Ok(slf)
    }

    /// Up to `limit` (at most 10000) events with seq greater than `since`, oldest first, as
    /// dicts: session_id, seq (1, 2, ... per session), at (ISO 8601 UTC), source (who
    /// caused it: user, process, screen, agent_hook, ...), kind (state, phase, input, stop,
    /// pause, continue, suspend, resume) and data (details by kind; a state event has
    /// from, to and cause).
    #[pyo3(signature = (since=0, limit=1000))]
    fn events<'py>(&self, py: Python<'py>, since: i64, limit: i64) -> PyResult<Bound<'py, PyList>> {
        let since = non_negative(since, "since")? as i64;
        let limit = page_size(limit, "limit")?;
        let events = py
            .detach(|| self.mgr().events(&self.id, since, limit))
            .py_err()?;
        event_list(py, &events)
    }

    /// An iterator of the session's events (dicts, as `events()` returns them) with seq
    /// greater than `since`, yielding each as it is recorded. It ends once the session has
    /// ended (stopped, failed, unknown or suspended) and every event was yielded, or, with
    /// `timeout`, when no new event came for that many seconds. It checks for new events
    /// at least every `poll_interval` seconds; Ctrl-C interrupts it. `.seq` is the seq of
    /// the last event yielded.
    #[pyo3(signature = (since=0, timeout=None, poll_interval=0.1))]
    fn follow_events(
        &self,
        py: Python<'_>,
        since: i64,
        timeout: Option<f64>,
        poll_interval: f64,
    ) -> PyResult<PyEventStream> {
        let since = non_negative(since, "since")? as i64;
        let timeout = secs(timeout, "timeout")?;
        let poll = secs(Some(poll_interval), "poll_interval")?
            .unwrap_or_default()
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        let cursor = py
            .detach(|| self.mgr().event_cursor(&self.id, since))
            .py_err()?;
        Ok(PyEventStream::new(
            self.shared.clone(),
            cursor,
            timeout,
            poll,
        ))
    }

    /// One page of the session's conversation as a dict: session_id, source (where it was
    /// read: "claude-transcript", "codex-rollout", or "screen" for what the host saw: the
    /// input sent and the settled screens), offset, messages (dicts with index, role
    /// (user, assistant or tool), text and at) and next_offset (None on the last page).
    /// `limit` is at most 10000.
    #[pyo3(signature = (offset=0, limit=100))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        offset: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let offset = non_negative(offset, "offset")?;
        let limit = page_size(limit, "limit")?;
        let page = py
            .detach(|| self.mgr().history(&self.id, offset, limit))
            .py_err()?;
        value!(py, &page)
    }

    /// An iterator of every message of the conversation from `offset` (dicts, as in
    /// `history()`), reading `page_size` messages at a time as it goes.
    #[pyo3(signature = (page_size=100, offset=0))]
    fn iter_history(&self, page_size: i64, offset: i64) -> PyResult<PyHistoryIterator> {
        let page = crate::history::page_size(page_size, "page_size")?;
        let offset = non_negative(offset, "offset")?;
        Ok(PyHistoryIterator::new(
            self.shared.clone(),
            self.id.clone(),
            offset,
            page,
        ))
    }

    /// Token usage and cost, the same dict as `agent-sessions usage --json`: tokens_input,
    /// tokens_output, tokens_cache_read, tokens_cache_write, total_tokens, cost_usd,
    /// cost_estimated, source, model, skipped_lines, session_id. Figures read from the
    /// agent's own records (re-read when older than `max_age` seconds; always by default).
    #[pyo3(signature = (max_age=0.0))]
    fn usage<'py>(&self, py: Python<'py>, max_age: f64) -> PyResult<Bound<'py, PyAny>> {
        let age = secs(Some(max_age), "max_age")?.unwrap_or_default();
        let v = py
            .detach(|| self.mgr().usage_with_max_age(&self.id, age))
            .py_err()?;
        ser_to_py(py, &v)
    }

    /// The session's telemetry summary as a dict: duration, CPU and memory figures from the
    /// resource sampler, workspace size, and token usage (refreshed when older than
    /// `max_age` seconds, 10 by default).
    #[pyo3(signature = (max_age=None))]
    fn telemetry<'py>(&self, py: Python<'py>, max_age: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let age = secs(max_age, "max_age")?.unwrap_or(telemetry::USAGE_MAX_AGE);
        let v = py
            .detach(|| self.mgr().telemetry_with_max_age(&self.id, age))
            .py_err()?;
        ser_to_py(py, &v)
    }

    /// Sets the session's lifecycle phase (and merges metadata, records an error) without
    /// touching its process. Raises InvalidPhaseError for an unknown phase.
    #[pyo3(signature = (phase=None, metadata=None, error=None))]
    fn set_phase(
        &self,
        py: Python<'_>,
        phase: Option<&str>,
        metadata: Option<&Bound<'_, PyAny>>,
        error: Option<&str>,
    ) -> PyResult<()> {
        let metadata = match metadata.filter(|m| !m.is_none()) {
            None => None,
            Some(m) => Some(crate::convert::dict_to_map(
                m.cast::<PyDict>()
                    .map_err(|_| PyTypeError::new_err("metadata must be a dict"))?,
            )?),
        };
        let shared = &self.shared;
        let id = &self.id;
        let found = py
            .detach(|| {
                shared
                    .lifecycle()?
                    .update_state(id, phase, metadata.as_ref(), error)
            })
            .py_err()?;
        if !found {
            return Err(to_pyerr(Error::SessionNotFound(self.id.clone())));
        }
        let rec = py.detach(|| self.mgr().get(&self.id)).py_err()?;
        self.set(rec);
        Ok(())
    }

    /// The session's lifecycle document (the reference schema), or None when it has never
    /// been given a phase.
    fn lifecycle<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let shared = &self.shared;
        let id = &self.id;
        let doc = py.detach(|| shared.lifecycle()?.get_session(id)).py_err()?;
        let Some(doc) = doc else { return Ok(None) };
        let d = PyDict::new(py);
        for (k, v) in doc.fields() {
            d.set_item(k, to_py(py, v)?)?;
        }
        Ok(Some(d))
    }

    fn __repr__(&self) -> String {
        let rec = self.record.lock();
        format!(
            "Session(id={:?}, agent={:?}, state={:?})",
            self.id,
            rec.agent_type.as_deref().unwrap_or("-"),
            rec.state.as_str()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PySession>()
            .is_ok_and(|o| o.get().id == self.id)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.id.hash(&mut h);
        h.finish()
    }
}

#[pyclass(frozen, name = "OutputStream", module = "agent_sessions._native")]
pub struct PyOutputStream {
    shared: Arc<Shared>,
    id: String,
    offset: Mutex<u64>,
    poll: Duration,
}

#[pymethods]
impl PyOutputStream {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let mgr = &self.shared.mgr;
        loop {
            let offset = *self.offset.lock();
            // State first, then output: once the session has ended its log is complete, so
            // an empty read after seeing it ended means the end.
            let (ended, data, next) = py
                .detach(|| -> agent_sessions::Result<_> {
                    let ended = mgr.state(&self.id)?.is_ended();
                    let (data, next) = mgr.output(&self.id, offset, STREAM_CHUNK)?;
                    Ok((ended, data, next))
                })
                .py_err()?;
            if !data.is_empty() {
                *self.offset.lock() = next;
                return Ok(Some(PyBytes::new(py, &data)));
            }
            if ended {
                return Ok(None);
            }
            let poll = self.poll;
            let until = Instant::now() + poll;
            while Instant::now() < until {
                let nap = until.saturating_duration_since(Instant::now()).min(SLICE);
                py.detach(|| std::thread::sleep(nap));
                py.check_signals()?;
            }
        }
    }

    /// The byte offset the next chunk starts at.
    #[getter]
    fn offset(&self) -> u64 {
        *self.offset.lock()
    }
}

/// Sessions as a list (used by `SessionManager.list`).
#[allow(dead_code)]
fn to_list<'py>(py: Python<'py>, v: Vec<PySession>) -> PyResult<Bound<'py, PyList>> {
    let l = PyList::empty(py);
    for s in v {
        l.append(Bound::new(py, s)?)?;
    }
    Ok(l)
}
