//! The `events` table: appending (inside a transaction, so an event commits with what it
//! describes) and paging by `seq`.

use super::Store;
use crate::model::error::{Error, Result};
use crate::model::event::{kind, Event, MAX_PAGE};
use rusqlite::{params, Connection};
use serde_json::Value;

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
                crate::model::clock::now_iso(),
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
                super::messages::insert_message(tx, session_id, "user", text)?;
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
