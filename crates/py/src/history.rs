//! Events, conversation history, tasks and cleanup from Python: argument checks, the
//! conversions to dicts, and the two lazy iterators `EventStream` (`Session.follow_events`)
//! and `HistoryIterator` (`Session.iter_history`).
//!
//! Like the rest of the binding, every store read runs with the GIL released. The event
//! follower waits in slices of at most `poll_interval` and checks for signals between them,
//! so Ctrl-C raises KeyboardInterrupt promptly.

use crate::errors::IntoPy;
use crate::sessions::Shared;
use agent_sessions::events::Followed;
use agent_sessions::{Event, EventCursor, HistoryPage, Message, State};
use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most events or messages one call returns (the core's page limit).
pub const MAX_PAGE: usize = agent_sessions::events::MAX_PAGE;
/// Events one read of a follower fetches.
const FOLLOW_BATCH: usize = 1000;

/// Any serializable core value as Python objects (dicts, lists, ...). A macro because this
/// crate does not name serde's trait.
macro_rules! value {
    ($py:expr, $v:expr) => {
        $crate::convert::to_py(
            $py,
            &serde_json::to_value($v).expect("core values serialize"),
        )
    };
}
pub(crate) use value;

/// Events as a list of dicts.
pub fn event_list<'py>(py: Python<'py>, events: &[Event]) -> PyResult<Bound<'py, PyList>> {
    let l = PyList::empty(py);
    for e in events {
        l.append(value!(py, e)?)?;
    }
    Ok(l)
}

/// A sequence number or offset: a non-negative integer.
pub fn non_negative(v: i64, what: &str) -> PyResult<u64> {
    u64::try_from(v)
        .map_err(|_| PyValueError::new_err(format!("{what} must not be negative, got {v}")))
}

/// A page size: at least 1; larger than the core's page limit reads as that limit.
pub fn page_size(v: i64, what: &str) -> PyResult<usize> {
    if v < 1 {
        return Err(PyValueError::new_err(format!(
            "{what} must be at least 1, got {v}"
        )));
    }
    Ok(usize::try_from(v).unwrap_or(MAX_PAGE).min(MAX_PAGE))
}

/// `older_than` of a cleanup: seconds (int or float), a `datetime.timedelta`, or a text
/// duration such as "30s", "15m", "12h", "7d", "2w".
pub fn age(v: &Bound<'_, PyAny>) -> PyResult<Duration> {
    if let Ok(s) = v.cast::<PyString>() {
        return agent_sessions::retention::parse_duration(s.to_str()?).py_err();
    }
    let secs: f64 = if v.hasattr("total_seconds")? {
        v.call_method0("total_seconds")?.extract()?
    } else {
        v.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "older_than must be seconds (a number), a datetime.timedelta or a duration such as \"7d\", not {}",
                v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })?
    };
    if !secs.is_finite() || !(0.0..=1e11).contains(&secs) {
        return Err(PyValueError::new_err(format!(
            "older_than must be a non-negative number of seconds, got {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `states` of a cleanup: None (the default set), one state name, or an iterable of them.
pub fn state_list(v: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<State>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(vec![s.to_str()?.parse::<State>().py_err()?]);
    }
    let mut out = Vec::new();
    for item in v.try_iter()? {
        let item = item?;
        let name = item
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("states must be state names (str)"))?;
        out.push(name.to_str()?.parse::<State>().py_err()?);
    }
    Ok(out)
}

struct Follow {
    cursor: EventCursor,
    queue: VecDeque<Event>,
    /// The seq of the last event handed out.
    yielded: i64,
    done: bool,
}

/// What one step of a follower found.
enum Step {
    Event(Event),
    /// Nothing new within one slice; keep waiting.
    Nothing,
    End,
}

/// The live events of a session (`Session.follow_events`).
#[pyclass(frozen, name = "EventStream", module = "agent_sessions._native")]
pub struct PyEventStream {
    shared: Arc<Shared>,
    state: Mutex<Follow>,
    timeout: Option<Duration>,
    poll: Duration,
}

impl PyEventStream {
    pub(crate) fn new(
        shared: Arc<Shared>,
        cursor: EventCursor,
        timeout: Option<Duration>,
        poll: Duration,
    ) -> PyEventStream {
        PyEventStream {
            shared,
            state: Mutex::new(Follow {
                yielded: cursor.seq,
                cursor,
                queue: VecDeque::new(),
                done: false,
            }),
            timeout,
            poll,
        }
    }

    /// Waits up to `wait` for the next event. Runs without the GIL, and holds the lock only
    /// here, so the lock is never held by a thread that needs the GIL.
    fn step(&self, wait: Duration) -> agent_sessions::Result<Step> {
        let mgr = &self.shared.mgr;
        let mut f = self.state.lock();
        if let Some(e) = f.queue.pop_front() {
            f.yielded = e.seq;
            return Ok(Step::Event(e));
        }
        if f.done {
            return Ok(Step::End);
        }
        match f.cursor.follow(mgr, FOLLOW_BATCH, wait)? {
            Followed::Events(batch) => f.queue.extend(batch),
            Followed::Quiet => return Ok(Step::Nothing),
            Followed::Ended => {
                f.done = true;
                return Ok(Step::End);
            }
        }
        match f.queue.pop_front() {
            Some(e) => {
                f.yielded = e.seq;
                Ok(Step::Event(e))
            }
            None => Ok(Step::Nothing),
        }
    }
}

#[pymethods]
impl PyEventStream {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let started = Instant::now();
        loop {
            let wait = match self.timeout {
                Some(t) => {
                    let left = t.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        // Quiet for `timeout`: the iteration ends (it can be resumed by
                        // iterating again).
                        return Ok(None);
                    }
                    left.min(self.poll)
                }
                None => self.poll,
            };
            match py.detach(|| self.step(wait)).py_err()? {
                Step::Event(e) => return value!(py, &e).map(Some),
                Step::End => return Ok(None),
                Step::Nothing => py.check_signals()?,
            }
        }
    }

    /// The seq of the last event yielded (at first, the `since` it was made with): the
    /// next event has a greater one, and `follow_events(since=stream.seq)` picks up here.
    #[getter]
    fn seq(&self, py: Python<'_>) -> i64 {
        py.detach(|| self.state.lock().yielded)
    }

    /// The session id.
    #[getter]
    fn session_id(&self, py: Python<'_>) -> String {
        py.detach(|| self.state.lock().cursor.session_id.clone())
    }
}

struct Pages {
    next: Option<u64>,
    queue: VecDeque<Message>,
}

/// Every message of a session's history, read page by page (`Session.iter_history`).
#[pyclass(frozen, name = "HistoryIterator", module = "agent_sessions._native")]
pub struct PyHistoryIterator {
    shared: Arc<Shared>,
    id: String,
    page: usize,
    state: Mutex<Pages>,
}

impl PyHistoryIterator {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: String,
        offset: u64,
        page: usize,
    ) -> PyHistoryIterator {
        PyHistoryIterator {
            shared,
            id,
            page,
            state: Mutex::new(Pages {
                next: Some(offset),
                queue: VecDeque::new(),
            }),
        }
    }

    fn step(&self) -> agent_sessions::Result<Option<Message>> {
        let mut p = self.state.lock();
        loop {
            if let Some(m) = p.queue.pop_front() {
                return Ok(Some(m));
            }
            let Some(offset) = p.next else {
                return Ok(None);
            };
            let HistoryPage {
                messages,
                next_offset,
                ..
            } = self.shared.mgr.history(&self.id, offset, self.page)?;
            // A page with no messages ends the history even if it names a next page.
            p.next = next_offset.filter(|_| !messages.is_empty());
            p.queue.extend(messages);
        }
    }
}

#[pymethods]
impl PyHistoryIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match py.detach(|| self.step()).py_err()? {
            Some(m) => value!(py, &m).map(Some),
            None => Ok(None),
        }
    }

    /// The offset of the next page to read, or None once the last page was read.
    #[getter]
    fn next_offset(&self, py: Python<'_>) -> Option<u64> {
        py.detach(|| self.state.lock().next)
    }
}
