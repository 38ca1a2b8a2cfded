//! `event_feed`: every session's events in one commit order, for readers of all sessions
//! at once (the server's `/events` stream). A trigger on `events` appends to it (see
//! migration 9), so it needs no writer of its own.
//!
//! Why a table and not `at`: a host stamps an event's time before it takes the write lock,
//! so times of two sessions' events can commit out of order and a reader resuming after a
//! time could miss one. The feed's `id` is given inside the write transaction, and SQLite
//! commits one writer at a time, so a snapshot holding id N holds every id below it.

use super::Store;
use crate::model::error::Result;
use crate::model::event::{Event, FeedEvent, FeedFilter, FeedPage, MAX_PAGE};
use rusqlite::{params, TransactionBehavior};
use serde_json::Value;

impl Store {
    /// Up to `limit` events after feed id `since` that pass `filter`, oldest first, and
    /// where the next read starts.
    pub fn feed(&self, since: i64, limit: usize, filter: &FeedFilter) -> Result<FeedPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let list = |v: &[String]| (!v.is_empty()).then(|| serde_json::json!(v).to_string());
        // One snapshot for the page and the head, so "nothing more up to the head" is true.
        let tx =
            rusqlite::Transaction::new_unchecked(self.connection(), TransactionBehavior::Deferred)
                .map_err(|e| self.err(e))?;
        let events = {
            let mut st = tx
                .prepare_cached(
                    "SELECT f.id, e.session_id, e.seq, e.at, e.source, e.kind, e.data
                     FROM event_feed f
                     JOIN events e ON e.session_id = f.session_id AND e.seq = f.seq
                     WHERE f.id > ?1
                       AND (?2 IS NULL OR f.session_id IN (SELECT value FROM json_each(?2)))
                       AND (?3 IS NULL OR e.kind IN (SELECT value FROM json_each(?3)))
                       AND (?4 IS NULL OR f.session_id IN
                            (SELECT id FROM sessions WHERE task_id = ?4))
                     ORDER BY f.id LIMIT ?5",
                )
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map(
                    params![
                        since,
                        list(&filter.sessions),
                        list(&filter.kinds),
                        filter.task,
                        limit as i64
                    ],
                    |r| {
                        let data: String = r.get(6)?;
                        Ok(FeedEvent {
                            id: r.get(0)?,
                            event: Event {
                                session_id: r.get(1)?,
                                seq: r.get(2)?,
                                at: r.get(3)?,
                                source: r.get(4)?,
                                kind: r.get(5)?,
                                data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                            },
                        })
                    },
                )
                .map_err(|e| self.err(e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.err(e))?
        };
        let next = match events.last() {
            Some(last) if events.len() == limit => last.id,
            _ => head(&tx).map_err(|e| self.err(e))?.max(since),
        };
        tx.finish().map_err(|e| self.err(e))?;
        Ok(FeedPage { events, next })
    }

    /// The feed id of the newest event (0: none yet); a reader that starts here gets only
    /// events committed after this call.
    pub fn feed_head(&self) -> Result<i64> {
        head(self.connection()).map_err(|e| self.err(e))
    }

    /// Deletes the feed's rows of events that are gone (removed sessions); returns how
    /// many. Readers skip them anyway; this keeps the table from growing.
    pub fn purge_feed(&self) -> Result<usize> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM event_feed WHERE NOT EXISTS (SELECT 1 FROM events e
                 WHERE e.session_id = event_feed.session_id AND e.seq = event_feed.seq)",
                [],
            )
        })
    }
}

fn head(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM event_feed")?
        .query_row([], |r| r.get(0))
}
