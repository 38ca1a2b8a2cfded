//! Reading and following a session's events (see [`crate::model::event`]).

use crate::api::manager::SessionManager;
use crate::model::error::{Error, Result};
pub use crate::model::event::{kind, Event, FeedEvent, FeedFilter, FeedPage, MAX_PAGE};
use std::time::{Duration, Instant};

impl SessionManager {
    /// Up to `limit` events of a session with `seq > since`, oldest first.
    pub fn events(&self, session_id: &str, since: i64, limit: usize) -> Result<Vec<Event>> {
        crate::model::id::validate(session_id)?;
        self.with_store(|s| {
            if s.state(session_id)?.is_none() {
                return Err(Error::SessionNotFound(session_id.to_string()));
            }
            s.events(session_id, since, limit)
        })
    }

    /// A cursor for following a session's events from `since` (0: from the start).
    pub fn event_cursor(&self, session_id: &str, since: i64) -> Result<EventCursor> {
        crate::model::id::validate(session_id)?;
        if self.with_store(|s| s.state(session_id))?.is_none() {
            return Err(Error::SessionNotFound(session_id.to_string()));
        }
        Ok(EventCursor::new(session_id, since))
    }
}

/// What [`EventCursor::follow`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// New events, oldest first.
    Events(Vec<Event>),
    /// None within the wait; the session may still change.
    Quiet,
    /// The session has ended and every event was read: a follower is done.
    Ended,
}

/// Where a reader of a session's events is: the next read returns events after `seq`.
/// Used by `events --follow`, Python's iterator and the C ABI's read-from-seq call.
#[derive(Debug, Clone)]
pub struct EventCursor {
    /// The session whose events are read.
    pub session_id: String,
    /// The last seq returned.
    pub seq: i64,
}

impl EventCursor {
    /// A cursor whose first read returns the events after `since` (0, or a negative
    /// number: from the first event).
    pub fn new(session_id: &str, since: i64) -> EventCursor {
        EventCursor {
            session_id: session_id.to_string(),
            seq: since.max(0),
        }
    }

    /// What a follower needs: up to `max` new events (waiting up to `wait` for the first),
    /// or word that none came, or that the session has ended and all its events were read.
    /// An ended session changes again only if it is resumed, so followers stop there.
    pub fn follow(&mut self, mgr: &SessionManager, max: usize, wait: Duration) -> Result<Followed> {
        let batch = self.next_batch(mgr, max, Some(wait))?;
        if !batch.is_empty() {
            return Ok(Followed::Events(batch));
        }
        // State first, then one more read: once the session has ended, its events (those
        // recorded with the ending too) are complete.
        if !mgr.state(&self.session_id)?.is_ended() {
            return Ok(Followed::Quiet);
        }
        let rest = self.next_batch(mgr, max, None)?;
        Ok(if rest.is_empty() {
            Followed::Ended
        } else {
            Followed::Events(rest)
        })
    }

    /// Up to `max` events after the cursor, waiting up to `wait` for the first one. Returns
    /// an empty list when none came in time. The store has no notification channel between
    /// processes, so this polls it, starting at 2 ms and backing off to 25 ms: a new event
    /// is seen within 25 ms, and a quiet follower costs ~40 index reads a second.
    pub fn next_batch(
        &mut self,
        mgr: &SessionManager,
        max: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<Event>> {
        let deadline = wait.map(|w| Instant::now() + w);
        let mut pause = Duration::from_millis(2);
        loop {
            let batch = mgr.with_store(|s| s.events(&self.session_id, self.seq, max.max(1)))?;
            if let Some(last) = batch.last() {
                self.seq = last.seq;
                return Ok(batch);
            }
            match deadline {
                Some(d) if Instant::now() < d => {
                    std::thread::sleep(pause.min(d.saturating_duration_since(Instant::now())));
                    pause = (pause * 2).min(Duration::from_millis(25));
                }
                _ => return Ok(batch),
            }
        }
    }
}

impl SessionManager {
    /// Up to `limit` events of all sessions after feed id `since` that pass `filter`,
    /// oldest first (see [`crate::model::event::FeedEvent`]). Ids in the filter are checked.
    pub fn feed(&self, since: i64, limit: usize, filter: &FeedFilter) -> Result<FeedPage> {
        for id in &filter.sessions {
            crate::model::id::validate(id)?;
        }
        self.with_store(|s| s.feed(since, limit, filter))
    }

    /// The feed id of the newest event: a reader starting there gets only newer events.
    pub fn feed_head(&self) -> Result<i64> {
        self.with_store(|s| s.feed_head())
    }
}
