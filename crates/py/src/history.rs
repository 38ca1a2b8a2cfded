//! Events and conversation history from Python: the two lazy iterators `EventStream`
//! (`Session.follow_events`, over the core's `EventCursor`) and `HistoryIterator`
//! (`Session.iter_history`).
//!
//! Like the rest of the binding, every store read runs with the GIL released. The event
//! follower waits in slices of at most `poll_interval` and checks for signals between them,
//! so Ctrl-C raises KeyboardInterrupt promptly.

use crate::convert::ser_to_py;
use crate::errors::call;
use agent_sessions::events::Followed;
use agent_sessions::{Event, EventCursor, HistoryPage, Message, SessionManager};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events one read of a follower fetches.
const FOLLOW_BATCH: usize = 1000;

/// Events as a list of dicts.
pub fn event_list<'py>(py: Python<'py>, events: &[Event]) -> PyResult<Bound<'py, PyList>> {
    let l = PyList::empty(py);
    for e in events {
        l.append(ser_to_py(py, e)?)?;
    }
    Ok(l)
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
    mgr: Arc<SessionManager>,
    state: Mutex<Follow>,
    timeout: Option<Duration>,
    poll: Duration,
}

impl PyEventStream {
    pub(crate) fn new(
        mgr: Arc<SessionManager>,
        cursor: EventCursor,
        timeout: Option<Duration>,
        poll: Duration,
    ) -> PyEventStream {
        PyEventStream {
            mgr,
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
        let mgr = &self.mgr;
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
            match call(py, || self.step(wait))? {
                Step::Event(e) => return ser_to_py(py, &e).map(Some),
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
    mgr: Arc<SessionManager>,
    id: String,
    page: usize,
    state: Mutex<Pages>,
}

impl PyHistoryIterator {
    pub(crate) fn new(
        mgr: Arc<SessionManager>,
        id: String,
        offset: u64,
        page: usize,
    ) -> PyHistoryIterator {
        PyHistoryIterator {
            mgr,
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
            } = self.mgr.history(&self.id, offset, self.page)?;
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
        match call(py, || self.step())? {
            Some(m) => ser_to_py(py, &m).map(Some),
            None => Ok(None),
        }
    }

    /// The offset of the next page to read, or None once the last page was read.
    #[getter]
    fn next_offset(&self, py: Python<'_>) -> Option<u64> {
        py.detach(|| self.state.lock().next)
    }
}
