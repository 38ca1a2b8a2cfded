//! The `snapshots` table: one row per snapshot, its document (see `model::snapshot`) as
//! JSON. The files live in the home's `.snapshots/<id>`; a row is inserted only once its
//! folder is complete, and deleted before its folder goes.

use super::Store;
use crate::model::error::{Error, Result};
use crate::model::snapshot::Snapshot;
use rusqlite::{params, OptionalExtension};

fn doc_of(id: &str, doc: &str) -> Result<Snapshot> {
    serde_json::from_str(doc).map_err(|e| {
        Error::InvalidArgument(format!(
            "snapshot {id} in the store does not read ({e}); remove it with `agent-sessions snapshot rm {id}`"
        ))
    })
}

impl Store {
    /// Adds a snapshot. A name already taken fails with what to do.
    pub fn insert_snapshot(&self, s: &Snapshot) -> Result<()> {
        let doc = serde_json::to_string(s).expect("a snapshot serializes");
        let taken = self.write(|tx| {
            if let Some(name) = &s.name {
                let n: i64 = tx
                    .prepare_cached("SELECT COUNT(*) FROM snapshots WHERE name = ?1")?
                    .query_row([name], |r| r.get(0))?;
                if n > 0 {
                    return Ok(true);
                }
            }
            tx.prepare_cached(
                "INSERT INTO snapshots (id, name, session_id, created_at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                s.snapshot_id,
                s.name,
                s.session_id,
                s.created_at,
                doc
            ])?;
            Ok(false)
        })?;
        if taken {
            return Err(name_taken(s.name.as_deref().unwrap_or_default()));
        }
        Ok(())
    }

    /// Whether a snapshot has this name.
    pub fn snapshot_name_taken(&self, name: &str) -> Result<bool> {
        let n: i64 = self
            .connection()
            .prepare_cached("SELECT COUNT(*) FROM snapshots WHERE name = ?1")
            .and_then(|mut st| st.query_row([name], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// The snapshot with this id or name.
    pub fn snapshot(&self, reference: &str) -> Result<Option<Snapshot>> {
        let found: Option<(String, String)> = self
            .connection()
            .prepare_cached("SELECT id, doc FROM snapshots WHERE id = ?1 OR name = ?1")
            .and_then(|mut st| {
                st.query_row([reference], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        found.map(|(id, doc)| doc_of(&id, &doc)).transpose()
    }

    /// Every snapshot (of one session when `session_id` is given), oldest first (in the order
    /// taken, also within one millisecond).
    pub fn snapshots(&self, session_id: Option<&str>) -> Result<Vec<Snapshot>> {
        let rows: Vec<(String, String)> = self
            .connection()
            .prepare_cached(
                "SELECT id, doc FROM snapshots WHERE ?1 IS NULL OR session_id = ?1
                 ORDER BY created_at, rowid",
            )
            .and_then(|mut st| {
                st.query_map([session_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))?;
        rows.iter().map(|(id, doc)| doc_of(id, doc)).collect()
    }

    /// Deletes a snapshot's row; false when there was none.
    pub fn delete_snapshot(&self, id: &str) -> Result<bool> {
        let n = self.write(|tx| {
            tx.prepare_cached("DELETE FROM snapshots WHERE id = ?1")?
                .execute([id])
        })?;
        Ok(n > 0)
    }
}

/// The error for a snapshot name another snapshot has.
pub fn name_taken(name: &str) -> Error {
    Error::InvalidArgument(format!(
        "a snapshot is already named '{name}': choose another --name, or remove it with `agent-sessions snapshot rm {name}`"
    ))
}
