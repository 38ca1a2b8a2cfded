//! `Session` from Python: one session of a `SessionManager`, with the record as last read.
//!
//! Every call that can block (the store, the host's socket, waiting, stopping) runs with the
//! GIL released. `wait_for` waits in short slices and checks for signals between them, so
//! Ctrl-C raises KeyboardInterrupt promptly.

use crate::args;
use crate::convert::{dict_to_map, ser_to_py, to_py};
use crate::errors::{call, to_pyerr, unlocked};
use crate::history::{event_list, PyEventStream, PyHistoryIterator};
use crate::stream::PyOutputStream;
use agent_sessions::{Error, ResumeOptions, SessionManager, SessionRecord};
use parking_lot::Mutex;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one uninterruptible slice of a wait lasts.
const SLICE: Duration = Duration::from_millis(100);

#[pyclass(frozen, name = "Session", module = "agent_sessions._native")]
pub struct PySession {
    mgr: Arc<SessionManager>,
    id: String,
    record: Mutex<SessionRecord>,
}

impl PySession {
    pub(crate) fn new(mgr: Arc<SessionManager>, rec: SessionRecord) -> PySession {
        PySession {
            mgr,
            id: rec.session_id.clone(),
            record: Mutex::new(rec),
        }
    }

    fn set(&self, rec: SessionRecord) {
        *self.record.lock() = rec;
    }

    /// Runs a core call that returns the new record without the GIL, keeps the record and
    /// returns the session.
    fn update<'py>(
        slf: Bound<'py, Self>,
        f: impl FnOnce(&SessionManager, &str) -> agent_sessions::Result<SessionRecord> + Send,
    ) -> PyResult<Bound<'py, Self>> {
        let this = slf.get();
        let rec = crate::errors::call(slf.py(), || f(&this.mgr, &this.id))?;
        this.set(rec);
        Ok(slf)
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
        Self::update(slf, |mgr, id| mgr.get(id))
    }

    /// The record as a dict: the same fields as the CLI's `--json`.
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rec = call(py, || self.mgr.get(&self.id))?;
        let d = ser_to_py(py, &rec)?;
        self.set(rec);
        Ok(d)
    }

    /// What the session waits on, as a dict (kind, tool, input, options, source, since),
    /// read now; None at the prompt and when it is not waiting.
    fn pending<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rec = call(py, || self.mgr.get(&self.id))?;
        let d = ser_to_py(py, &rec.pending)?;
        self.set(rec);
        Ok(d)
    }

    /// The session's own budget as a dict: scope, id, budget (None when unset), spent
    /// (usd, tokens, estimated) and assessment (level, share).
    fn budget<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = call(py, || self.mgr.budget(&self.id))?;
        ser_to_py(py, &s)
    }

    /// Sets the session's budget; its host looks at once (an exceeded budget acts now).
    /// With neither `usd` nor `tokens`, removes it. Returns it as `budget` does.
    #[pyo3(signature = (usd=None, tokens=None, on_budget=None))]
    fn set_budget<'py>(
        &self,
        py: Python<'py>,
        usd: Option<f64>,
        tokens: Option<i64>,
        on_budget: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let b = crate::args::budget(usd, tokens, on_budget, "tokens")?;
        let s = call(py, || self.mgr.set_budget(&self.id, b))?;
        ser_to_py(py, &s)
    }

    /// Types `text` into the agent, then Enter unless `enter` is False.
    #[pyo3(signature = (text, enter=true))]
    fn send(&self, py: Python<'_>, text: &str, enter: bool) -> PyResult<()> {
        call(py, || self.mgr.send(&self.id, text, enter))
    }

    /// Sends named keys: `send_keys("Esc")`, `send_keys("C-c", "Enter")` or a list of names.
    #[pyo3(signature = (*keys))]
    fn send_keys(&self, py: Python<'_>, keys: &Bound<'_, PyTuple>) -> PyResult<()> {
        let mut names = Vec::new();
        for k in keys.iter() {
            if let Ok(s) = k.cast::<PyString>() {
                names.push(s.to_str()?.to_owned());
            } else {
                names.extend(args::strings(Some(&k), "keys")?);
            }
        }
        if names.is_empty() {
            return Err(args::invalid(
                "send_keys needs at least one key name".into(),
            ));
        }
        call(py, || self.mgr.send_keys(&self.id, &names))
    }

    /// Sends raw bytes to the agent's terminal.
    fn send_bytes(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        call(py, || self.mgr.send_bytes(&self.id, data))
    }

    /// Interrupts the agent's current turn (Esc or Ctrl-C, as the agent expects).
    fn interrupt(&self, py: Python<'_>) -> PyResult<()> {
        call(py, || self.mgr.interrupt(&self.id))
    }

    /// Resizes the terminal.
    fn resize(&self, py: Python<'_>, cols: i64, rows: i64) -> PyResult<()> {
        let cols = args::size(Some(cols), "cols")?.unwrap_or(1);
        let rows = args::size(Some(rows), "rows")?.unwrap_or(1);
        call(py, || self.mgr.resize(&self.id, cols, rows))
    }

    /// Raw output from byte `offset`: `(data, next_offset)`.
    #[pyo3(signature = (offset=0, max_bytes=16777216))]
    fn output<'py>(
        &self,
        py: Python<'py>,
        offset: i64,
        max_bytes: i64,
    ) -> PyResult<(Bound<'py, PyBytes>, u64)> {
        let offset = args::non_negative(offset, "offset")?;
        let max =
            usize::try_from(args::non_negative(max_bytes, "max_bytes")?).unwrap_or(usize::MAX);
        let (data, next) = call(py, || self.mgr.output(&self.id, offset, max))?;
        Ok((PyBytes::new(py, &data), next))
    }

    /// An iterator of live output chunks (bytes) from `offset`; it ends when the session has
    /// ended and all its output was read. Output a log rotation dropped before it was read
    /// is skipped (`offset` then jumps ahead). It checks for Ctrl-C at least every
    /// `poll_interval` seconds (at most 1).
    #[pyo3(signature = (offset=0, poll_interval=0.05))]
    fn stream(&self, offset: i64, poll_interval: f64) -> PyResult<PyOutputStream> {
        let offset = args::non_negative(offset, "offset")?;
        let slice = args::slice(poll_interval, "poll_interval", Duration::from_secs(1))?;
        Ok(PyOutputStream::new(
            self.mgr.clone(),
            &self.id,
            offset,
            slice,
        ))
    }

    /// The screen as text, as a person would see it.
    fn screen(&self, py: Python<'_>) -> PyResult<String> {
        call(py, || self.mgr.screen(&self.id)).map(|s| s.text)
    }

    /// Waits until the session is in `state`, or in any of a list of states (e.g.
    /// `["running", "waiting_input"]` for "ready"), and returns the session. Raises
    /// TimeoutError after `timeout` seconds, and StateUnreachableError at once when none of
    /// the states can come any more. Ctrl-C interrupts it.
    #[pyo3(signature = (state, timeout=None))]
    fn wait_for<'py>(
        slf: Bound<'py, Self>,
        state: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        let wanted = args::states(state, "state")?;
        let total = args::optional_secs(timeout, "timeout")?;
        let start = Instant::now();
        loop {
            let slice = match total {
                Some(t) => t.saturating_sub(start.elapsed()).min(SLICE),
                None => SLICE,
            };
            match unlocked(py, || this.mgr.wait_for_any(&this.id, &wanted, Some(slice)))? {
                Ok(rec) => {
                    this.set(rec);
                    return Ok(slf);
                }
                // A slice ran out; the whole wait only once `total` has passed, and then
                // the error names the whole wait.
                Err(Error::Timeout {
                    id,
                    wanted,
                    current,
                    ..
                }) => {
                    if let Some(t) = total.filter(|t| start.elapsed() >= *t) {
                        return Err(to_pyerr(Error::Timeout {
                            id,
                            wanted,
                            current,
                            secs: t.as_secs_f64(),
                        }));
                    }
                    py.check_signals()?;
                }
                Err(e) => return Err(to_pyerr(e)),
            }
        }
    }

    /// Stops the session: quit sequence, SIGTERM, SIGKILL after `timeout` seconds (at once
    /// with `force`). Returns the session. Raises NoProcessError for a lifecycle record.
    #[pyo3(signature = (timeout=None, force=false))]
    fn stop<'py>(
        slf: Bound<'py, Self>,
        timeout: Option<f64>,
        force: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let timeout = args::optional_secs(timeout, "timeout")?;
        Self::update(slf, |mgr, id| mgr.stop(id, timeout, force))
    }

    /// Freezes the agent (SIGSTOP to its process group): the session reads "paused" and
    /// takes no input until `continue_()`. Pausing a paused session changes nothing. Raises
    /// SessionNotRunningError when the session has ended (NoProcessError, a subclass, for a
    /// lifecycle record). Returns the session.
    fn pause<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        Self::update(slf, |mgr, id| mgr.pause(id))
    }

    /// Thaws a paused session (SIGCONT); it reads "running" until its screen or output
    /// silence says otherwise. Continuing a running session changes nothing; any other
    /// state raises SessionNotRunningError. Returns the session. (`continue` is a Python
    /// keyword, hence the underscore.)
    fn continue_<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        Self::update(slf, |mgr, id| mgr.continue_session(id))
    }

    /// Ends the agent cleanly (its quit sequence, then signals after `timeout` seconds) and
    /// keeps what `resume()` needs: the session becomes "suspended". Raises
    /// SessionNotRunningError when the session is not live, and NotResumableError (a
    /// subclass) when its agent type cannot resume (the session is then left running) or
    /// the agent never showed its own session id (the session is then stopped). Returns
    /// the session.
    #[pyo3(signature = (timeout=None))]
    fn suspend<'py>(slf: Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, Self>> {
        let timeout = args::optional_secs(timeout, "timeout")?;
        Self::update(slf, |mgr, id| mgr.suspend(id, timeout))
    }

    /// Approves the permission dialog the session waits on: Enter on its first option (a
    /// yes), or with `always` on its "yes, and don't ask again" option, once the option is
    /// checked on screen under the selection marker; then waits up to `timeout` seconds
    /// (default 10) for the dialog to close. Raises InvalidArgumentError when there is no
    /// such dialog or option. Returns the session.
    #[pyo3(signature = (always=false, timeout=None))]
    fn approve<'py>(
        slf: Bound<'py, Self>,
        always: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, Self>> {
        let timeout = args::optional_secs(timeout, "timeout")?;
        Self::update(slf, |mgr, id| mgr.approve(id, always, timeout))
    }

    /// Denies the permission dialog the session waits on (Esc, once it is checked on
    /// screen) and waits up to `timeout` seconds (default 10) for it to close; with
    /// `message`, sends it as the next prompt (what to do instead). Returns the session.
    #[pyo3(signature = (message=None, timeout=None))]
    fn deny<'py>(
        slf: Bound<'py, Self>,
        message: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, Self>> {
        let timeout = args::optional_secs(timeout, "timeout")?;
        Self::update(slf, |mgr, id| mgr.deny(id, message.as_deref(), timeout))
    }

    /// Answers the question (or permission) dialog the session waits on: one choice per
    /// question, each an option's label (case-insensitive) or number, selected and checked
    /// on screen before Enter. Returns the session once the last dialog is gone.
    #[pyo3(signature = (*choices, timeout=None))]
    fn answer<'py>(
        slf: Bound<'py, Self>,
        choices: Vec<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, Self>> {
        let timeout = args::optional_secs(timeout, "timeout")?;
        Self::update(slf, |mgr, id| mgr.answer(id, &choices, timeout))
    }

    /// Starts an ended (suspended, stopped, failed or unknown) session's agent again on the
    /// same conversation, under the same session id, and returns the session once the agent
    /// runs. `args` replaces the arguments it was started with (repeated by default); `env`
    /// is passed again since values are never stored; `agent_session_id` gives the agent's
    /// own session id when it never showed it. With `wait`, returns only once the agent is
    /// at its prompt (up to `timeout` seconds). Raises NotResumableError (a
    /// SessionNotRunningError), with the reason, when the session cannot be resumed (still
    /// live, no resume command for its agent type, no known conversation) or, with `wait`,
    /// when the agent ends instead (it reported the conversation is gone).
    #[pyo3(signature = (args=None, env=None, agent_session_id=None, wait=false, timeout=None))]
    fn resume<'py>(
        slf: Bound<'py, Self>,
        args: Option<&Bound<'py, PyAny>>,
        env: Option<&Bound<'py, PyAny>>,
        agent_session_id: Option<String>,
        wait: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, Self>> {
        let opts = ResumeOptions {
            args: match args.filter(|a| !a.is_none()) {
                None => None,
                Some(a) => Some(args::strings(Some(a), "args")?),
            },
            env: args::env_pairs(env)?,
            agent_session_id,
        };
        let timeout = args::optional_secs(timeout, "timeout")?;
        Self::update(slf, |mgr, id| match wait {
            true => mgr.resume_and_wait(id, &opts, timeout),
            false => mgr.resume(id, &opts),
        })
    }

    /// Up to `limit` (at most 10000) events with seq greater than `since`, oldest first, as
    /// dicts: session_id, seq (1, 2, ... per session), at (ISO 8601 UTC), source (who
    /// caused it: user, process, screen, agent_hook, ...), kind (state, phase, input, stop,
    /// pause, continue, suspend, resume) and data (details by kind; a state event has
    /// from, to and cause).
    #[pyo3(signature = (since=0, limit=1000))]
    fn events<'py>(&self, py: Python<'py>, since: i64, limit: i64) -> PyResult<Bound<'py, PyList>> {
        args::non_negative(since, "since")?;
        let limit = args::page_size(limit, "limit")?;
        let events = call(py, || self.mgr.events(&self.id, since, limit))?;
        event_list(py, &events)
    }

    /// An iterator of the session's events (dicts, as `events()` returns them) with seq
    /// greater than `since`, yielding each as it is recorded. It ends once the session has
    /// ended (stopped, failed, unknown or suspended) and every event was yielded, or, with
    /// `timeout`, when no new event came for that many seconds. It checks for new events
    /// at least every `poll_interval` seconds (at most 1); Ctrl-C interrupts it. `.seq` is
    /// the seq of the last event yielded.
    #[pyo3(signature = (since=0, timeout=None, poll_interval=0.1))]
    fn follow_events(
        &self,
        py: Python<'_>,
        since: i64,
        timeout: Option<f64>,
        poll_interval: f64,
    ) -> PyResult<PyEventStream> {
        args::non_negative(since, "since")?;
        let timeout = args::optional_secs(timeout, "timeout")?;
        let poll = args::slice(poll_interval, "poll_interval", Duration::from_secs(1))?;
        let cursor = call(py, || self.mgr.event_cursor(&self.id, since))?;
        Ok(PyEventStream::new(self.mgr.clone(), cursor, timeout, poll))
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
        let offset = args::non_negative(offset, "offset")?;
        let limit = args::page_size(limit, "limit")?;
        let page = call(py, || self.mgr.history(&self.id, offset, limit))?;
        ser_to_py(py, &page)
    }

    /// An iterator of every message of the conversation from `offset` (dicts, as in
    /// `history()`), reading `page_size` messages at a time as it goes.
    #[pyo3(signature = (page_size=100, offset=0))]
    fn iter_history(&self, page_size: i64, offset: i64) -> PyResult<PyHistoryIterator> {
        let page = args::page_size(page_size, "page_size")?;
        let offset = args::non_negative(offset, "offset")?;
        Ok(PyHistoryIterator::new(
            self.mgr.clone(),
            self.id.clone(),
            offset,
            page,
        ))
    }

    /// Token usage and cost, the same dict as `agent-sessions usage --json`: tokens_input,
    /// tokens_output, tokens_cache_read, tokens_cache_write, total_tokens, cost_usd,
    /// cost_estimated, source, model, skipped_lines, exact, session_id. Figures from the
    /// agent's own OpenTelemetry export (`exact` true: every request counted) or its own
    /// records (a lower bound), re-read when older than `max_age` seconds (always by default).
    #[pyo3(signature = (max_age=0.0))]
    fn usage<'py>(&self, py: Python<'py>, max_age: f64) -> PyResult<Bound<'py, PyAny>> {
        let age = args::secs(max_age, "max_age")?;
        let report = call(py, || self.mgr.usage_with_max_age(&self.id, age))?;
        ser_to_py(py, &report)
    }

    /// The session's token and cost totals over time, oldest first, as dicts like the lines
    /// of `agent-sessions usage ID --series --json`: at_ms, tokens_input, tokens_output,
    /// tokens_cache_read, tokens_cache_write, total_tokens, cost_usd, cost_estimated. A point
    /// per change (each turn's end, the end); while the session runs the last is the figures
    /// now. `since_ms` (unix ms) leaves out older points; at most `limit` (10000).
    #[pyo3(signature = (since_ms=0, limit=10_000))]
    fn usage_series<'py>(
        &self,
        py: Python<'py>,
        since_ms: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        args::non_negative(since_ms, "since_ms")?;
        let limit = args::page_size(limit, "limit")?;
        let points = call(py, || self.mgr.usage_series(&self.id, since_ms, limit))?;
        ser_to_py(py, &points)
    }

    /// The session's telemetry summary as a dict: duration, CPU and memory figures from the
    /// resource sampler, workspace size, and token usage (refreshed when older than
    /// `max_age` seconds, 10 by default).
    #[pyo3(signature = (max_age=None))]
    fn telemetry<'py>(&self, py: Python<'py>, max_age: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let age = args::optional_secs(max_age, "max_age")?;
        let report = call(py, || match age {
            Some(age) => self.mgr.telemetry_with_max_age(&self.id, age),
            None => self.mgr.telemetry(&self.id),
        })?;
        ser_to_py(py, &report)
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
            Some(m) => {
                Some(dict_to_map(m.cast::<PyDict>().map_err(|_| {
                    PyTypeError::new_err("metadata must be a dict")
                })?)?)
            }
        };
        let (mgr, id) = (&self.mgr, &self.id);
        let rec = call(py, || {
            if !mgr
                .lifecycle()?
                .update_state(id, phase, metadata.as_ref(), error)?
            {
                return Err(Error::SessionNotFound(id.clone()));
            }
            mgr.get(id)
        })?;
        self.set(rec);
        Ok(())
    }

    /// The session's lifecycle document (the reference schema), or None when it has never
    /// been given a phase.
    fn lifecycle<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let (mgr, id) = (&self.mgr, &self.id);
        let doc = call(py, || mgr.lifecycle()?.get_session(id))?;
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
