//! Session events: every change of state or phase, every input, stop, pause, suspend and
//! resume, numbered per session (`seq` 1, 2, ...) with time and source.
//!
//! State changes become events through a trigger on `transitions`, so no writer (host,
//! starter, liveness check, lifecycle record) can forget one; requests (input, stop, ...)
//! are written by whoever handles them. Readers page with `seq > since`, which the primary
//! key serves directly, so the first page of a session with 100,000 events costs the same
//! as one of ten.

use crate::error::{Error, Result};
use crate::store::Store;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Migration 4 of the store (see `store::MIGRATIONS`): events (backfilled from the state
/// history), conversation messages, and the session columns a resume needs.
pub const MIGRATION: &str = "
    ALTER TABLE sessions ADD COLUMN agent_args TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE sessions ADD COLUMN max_log_bytes INTEGER;
    CREATE INDEX sessions_by_ended ON sessions(ended_at);
    CREATE TABLE events (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO events (session_id, seq, at, source, kind, data)
        SELECT session_id, seq, at, source, 'state',
            json_object('from', from_state, 'to', to_state, 'cause', cause)
        FROM transitions;
    CREATE TRIGGER events_from_transitions AFTER INSERT ON transitions BEGIN
        INSERT INTO events (session_id, seq, at, source, kind, data)
        VALUES (NEW.session_id,
            (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE session_id = NEW.session_id),
            NEW.at, NEW.source, 'state',
            json_object('from', NEW.from_state, 'to', NEW.to_state, 'cause', NEW.cause));
    END;
    CREATE TABLE messages (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;";

/// Event kinds, as stored in `kind`.
pub mod kind {
    /// A state change: `{"from", "to", "cause"}`.
    pub const STATE: &str = "state";
    /// A lifecycle phase change: `{"from", "to"}`.
    pub const PHASE: &str = "phase";
    /// Input sent to the agent: `{"text", "enter"}` or `{"bytes"}` (keys, as text).
    pub const INPUT: &str = "input";
    /// A stop request: `{"force", "timeout_secs"}`.
    pub const STOP: &str = "stop";
    pub const PAUSE: &str = "pause";
    pub const CONTINUE: &str = "continue";
    /// A suspend request: `{"timeout_secs"}`.
    pub const SUSPEND: &str = "suspend";
    /// A resume: `{"agent_session_id", "argv"}`.
    pub const RESUME: &str = "resume";
    /// Output the log could not keep (a full disk): `{"offset", "bytes", "total"}`; the
    /// bytes belonged right before log offset `offset` (lost bytes take no offsets).
    pub const OUTPUT_LOST: &str = "output_lost";
}

/// Most events one read returns.
pub const MAX_PAGE: usize = 10_000;

/// One event of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub session_id: String,
    /// 1 for a session's first event, then one more for each.
    pub seq: i64,
    /// ISO 8601 UTC, milliseconds.
    pub at: String,
    /// Who caused it: `user`, `process`, `screen`, `agent_hook`, `quiet_timer`, `liveness`,
    /// `phase`, `lifecycle`.
    pub source: String,
    /// See [`kind`].
    pub kind: String,
    /// Details, by kind.
    pub data: Value,
}

impl Event {
    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event always serializes")
    }
}

/// Appends an event inside a write transaction; returns its seq.
pub(crate) fn insert(
    tx: &Connection,
    session_id: &str,
    source: &str,
    kind: &str,
    data: &Value,
) -> rusqlite::Result<i64> {
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO events (session_id, seq, at, source, kind, data)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE session_id = ?1),
                     ?2, ?3, ?4, ?5)
             RETURNING seq",
        )?
        .query_row(
            params![
                session_id,
                crate::clock::now_iso(),
                source,
                kind,
                data.to_string()
            ],
            |r| r.get(0),
        )?;
    Ok(seq)
}

impl Store {
    /// Records an event for an existing session; returns its seq.
    pub fn record_event(
        &self,
        session_id: &str,
        source: &str,
        kind: &str,
        data: &Value,
    ) -> Result<i64> {
        let seq = self.write(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?
                .exists([session_id])?;
            if !exists {
                return Ok(None);
            }
            insert(tx, session_id, source, kind, data).map(Some)
        })?;
        seq.ok_or_else(|| Error::SessionNotFound(session_id.to_string()))
    }

    /// Records input sent to the agent: an `input` event and, for text sent with Enter, the
    /// `user` message of the conversation, in one transaction (it is on the send path).
    pub fn record_input(
        &self,
        session_id: &str,
        data: &Value,
        message: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            insert(tx, session_id, "user", kind::INPUT, data)?;
            if let Some(text) = message {
                crate::history::insert_message(tx, session_id, "user", text)?;
            }
            Ok(())
        })
    }

    /// Up to `limit` events with `seq > since`, oldest first.
    pub fn events(&self, session_id: &str, since: i64, limit: usize) -> Result<Vec<Event>> {
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT seq, at, source, kind, data FROM events
                 WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(
                params![session_id, since, limit.min(MAX_PAGE) as i64],
                |r| {
                    let data: String = r.get(4)?;
                    Ok(Event {
                        session_id: session_id.to_string(),
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        source: r.get(2)?,
                        kind: r.get(3)?,
                        data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}

impl crate::SessionManager {
    /// Up to `limit` events of a session with `seq > since`, oldest first.
    pub fn events(&self, session_id: &str, since: i64, limit: usize) -> Result<Vec<Event>> {
        crate::id::validate(session_id)?;
        self.with_store(|s| {
            if s.state(session_id)?.is_none() {
                return Err(Error::SessionNotFound(session_id.to_string()));
            }
            s.events(session_id, since, limit)
        })
    }

    /// A cursor for following a session's events from `since` (0: from the start).
    pub fn event_cursor(&self, session_id: &str, since: i64) -> Result<EventCursor> {
        crate::id::validate(session_id)?;
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
    pub session_id: String,
    /// The last seq returned.
    pub seq: i64,
}

impl EventCursor {
    pub fn new(session_id: &str, since: i64) -> EventCursor {
        EventCursor {
            session_id: session_id.to_string(),
            seq: since.max(0),
        }
    }

    /// What a follower needs: up to `max` new events (waiting up to `wait` for the first),
    /// or word that none came, or that the session has ended and all its events were read.
    /// An ended session changes again only if it is resumed, so followers stop there.
    pub fn follow(
        &mut self,
        mgr: &crate::SessionManager,
        max: usize,
        wait: Duration,
    ) -> Result<Followed> {
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
        mgr: &crate::SessionManager,
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
