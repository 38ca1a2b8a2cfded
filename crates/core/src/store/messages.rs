//! The `messages` table: the conversation the host builds from input and settled screens.

use super::Store;
use crate::model::error::Result;
use crate::model::message::{Message, MAX_PAGE};
use rusqlite::params;

/// Appends a message inside a write transaction.
pub(crate) fn insert_message(
    tx: &rusqlite::Connection,
    session_id: &str,
    role: &str,
    text: &str,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO messages (session_id, seq, role, text, at, source)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages
                      WHERE session_id = ?1), ?2, ?3, ?4, 'screen')",
    )?
    .execute(params![
        session_id,
        role,
        text,
        crate::model::clock::now_iso()
    ])
}

impl Store {
    /// Appends a message the host built (input sent, settled screen).
    pub fn add_message(&self, session_id: &str, role: &str, text: &str) -> Result<()> {
        self.write(|tx| insert_message(tx, session_id, role, text))?;
        Ok(())
    }

    /// Stored messages `offset..offset+limit` and the next offset.
    pub fn messages(
        &self,
        session_id: &str,
        offset: u64,
        limit: usize,
    ) -> Result<(Vec<Message>, Option<u64>)> {
        let limit = limit.clamp(1, MAX_PAGE);
        // seq is an i64: an offset past its range must not wrap to a negative one.
        let after = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT seq, role, text, at FROM messages
                 WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![session_id, after, limit as i64 + 1], |r| {
                Ok(Message {
                    index: r.get::<_, i64>(0)? as u64 - 1,
                    role: r.get(1)?,
                    text: r.get(2)?,
                    at: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        let next = (out.len() > limit).then(|| {
            out.truncate(limit);
            offset.saturating_add(limit as u64)
        });
        Ok((out, next))
    }
}
