//! The lifecycle tables: `lifecycle` (one document per session, plus the columns listings
//! filter and sort by) and `lifecycle_history` (its phase history, one row per entry).
//!
//! Writes are functions taking the `&Connection` of the caller's transaction: the Lifecycle
//! API runs them under its writer lock, together with the state machine's change of the
//! `sessions` row and the temporary `state.json`, so a document, its history, its session row
//! and its phase event commit at once. Reads are `impl Store` methods.
//!
//! Documents are JSON objects stored as text; their meaning (phases, resume rules, the mirror
//! file) belongs to the API layer, which hands this module the column values it derives.

use super::Store;
use crate::model::error::{Error, Result};
use crate::model::event::kind;
use crate::model::record::SessionKind;
use crate::model::state::State;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

/// What a write found under an id before changing it.
pub(crate) struct Found {
    pub kind: SessionKind,
    pub state: State,
    pub name: Option<String>,
    pub agent_type: Option<String>,
    pub created_at: String,
    pub phase: Option<String>,
    pub task_id: Option<String>,
    pub ended_at: Option<String>,
    pub state_reason: Option<String>,
    /// The lifecycle document (without history), when the session has one.
    pub doc: Option<Map<String, Value>>,
    /// Its history, when it has one (read before any write of the transaction).
    pub history: Option<Vec<Value>>,
}

/// How a write changes the history table.
pub(crate) enum HistoryChange {
    Keep,
    /// `(from_phase, to_phase, timestamp)`: one more entry, and a phase event.
    Append(Option<String>, String, String),
    /// The whole history as given; `None` for a document saved without one.
    Replace(Option<Vec<Value>>),
}

/// The `lifecycle` row of a document: its text and the fields listings use, as the API layer
/// read them from the document.
pub(crate) struct DocRow<'a> {
    /// The document as JSON (no `history` key unless it is a raw non-list value).
    pub doc: &'a str,
    pub agent_name: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub created_at: Option<&'a str>,
    pub last_updated: Option<&'a str>,
    /// `last_updated` in microseconds since the epoch: the listing order.
    pub last_updated_us: Option<i64>,
    pub resume_ready: bool,
    pub error_count: i64,
}

/// One line of a listing, borrowed from the store's row.
#[derive(Debug, Clone, Copy)]
pub struct SummaryRef<'a> {
    pub agent_id: &'a str,
    pub agent_name: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub created_at: Option<&'a str>,
    pub last_updated: Option<&'a str>,
    pub resume_ready: bool,
    pub error_count: i64,
}

/// Which lifecycle sessions a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    All,
    /// Those whose `resume_ready` is true: the reference hook library's `active_only` (a
    /// session still initializing, or finalized, is not active).
    ResumeReady,
    /// Those not completed, failed or abandoned (the C API's `active_only`).
    Unfinished,
}

impl ListFilter {
    /// The reference's `active_only` flag.
    pub fn active_only(active_only: bool) -> ListFilter {
        if active_only {
            ListFilter::ResumeReady
        } else {
            ListFilter::All
        }
    }

    fn code(self) -> i64 {
        match self {
            ListFilter::All => 0,
            ListFilter::ResumeReady => 1,
            ListFilter::Unfinished => 2,
        }
    }
}

/// A text column of a row, borrowed; `None` for NULL or non-text values.
fn row_text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    })
}

/// A stored document; an unreadable one reads as empty (it was written by this module, so
/// only a damaged database gets here).
fn parse_doc(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The session under `id` with its document, and its history when `with_history` (only the
/// `state.json` mirror needs it), read inside the write transaction.
pub(crate) fn load(
    tx: &Connection,
    id: &str,
    with_history: bool,
) -> rusqlite::Result<Option<Found>> {
    let mut st = tx.prepare_cached(
        "SELECT s.kind, s.state, s.name, s.agent_type, s.created_at, s.phase, l.doc, s.task_id,
            l.has_history, s.ended_at, s.state_reason
         FROM sessions s LEFT JOIN lifecycle l ON l.id = s.id WHERE s.id = ?1",
    )?;
    let found = st
        .query_row([id], |r| {
            let kind: String = r.get(0)?;
            let state: String = r.get(1)?;
            let doc: Option<String> = r.get(6)?;
            Ok(Found {
                kind: super::sessions::kind_of(&kind),
                state: state.parse().unwrap_or(State::Unknown),
                name: r.get(2)?,
                agent_type: r.get(3)?,
                created_at: r.get(4)?,
                phase: r.get(5)?,
                task_id: r.get(7)?,
                ended_at: r.get(9)?,
                state_reason: r.get(10)?,
                doc: doc.map(|d| parse_doc(&d)),
                history: r
                    .get::<_, Option<bool>>(8)?
                    .filter(|h| *h)
                    .map(|_| Vec::new()),
            })
        })
        .optional()?;
    match found {
        Some(mut f) => {
            if f.history.is_some() && with_history {
                f.history = Some(read_history(tx, id)?);
            }
            Ok(Some(f))
        }
        None => Ok(None),
    }
}

/// Reads a whole document with its history.
fn read_doc(tx: &Connection, id: &str) -> rusqlite::Result<Option<Map<String, Value>>> {
    let row: Option<(String, bool)> = tx
        .prepare_cached("SELECT doc, has_history FROM lifecycle WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((doc, has_history)) = row else {
        return Ok(None);
    };
    let mut doc = parse_doc(&doc);
    if has_history && !doc.contains_key("history") {
        doc.insert("history".into(), Value::Array(read_history(tx, id)?));
    }
    Ok(Some(doc))
}

fn read_history(tx: &Connection, id: &str) -> rusqlite::Result<Vec<Value>> {
    let mut st = tx.prepare_cached(
        "SELECT from_phase, to_phase, timestamp, raw FROM lifecycle_history
         WHERE session_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([id], |r| {
        let raw: Option<String> = r.get(3)?;
        if let Some(raw) = raw {
            return Ok(serde_json::from_str(&raw).unwrap_or(Value::String(raw)));
        }
        let opt = |s: Option<String>| s.map_or(Value::Null, Value::String);
        let mut m = Map::new();
        m.insert("from_phase".into(), opt(r.get(0)?));
        m.insert("to_phase".into(), opt(r.get(1)?));
        m.insert("timestamp".into(), opt(r.get(2)?));
        Ok(Value::Object(m))
    })?;
    rows.collect()
}

/// A standard `{from_phase, to_phase, timestamp}` entry as columns, or `None` when the entry
/// has any other shape and must be kept raw.
fn entry_columns(v: &Value) -> Option<(Option<String>, Option<String>, Option<String>)> {
    let m = v.as_object()?;
    if m.len() != 3 {
        return None;
    }
    let col = |k: &str| match m.get(k)? {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    };
    Some((col("from_phase")?, col("to_phase")?, col("timestamp")?))
}

/// Writes the `lifecycle` row of `id` and its history change (an appended entry also records
/// a phase event). `had_doc`: the session had a document before this write, so a replaced
/// history must first drop the old entries. The `sessions` row must exist already.
pub(crate) fn write_doc(
    tx: &Connection,
    id: &str,
    row: &DocRow<'_>,
    history: &HistoryChange,
    had_doc: bool,
) -> rusqlite::Result<()> {
    // Whether the document has a history list: not when it was saved without one, until an
    // append gives it one; unchanged by other writes.
    let has_history: Option<bool> = match history {
        HistoryChange::Keep => None,
        HistoryChange::Append(..) => Some(true),
        HistoryChange::Replace(entries) => Some(entries.is_some()),
    };
    tx.prepare_cached(
        "INSERT INTO lifecycle (id, doc, agent_name, phase, created_at, last_updated,
            last_updated_us, resume_ready, error_count, has_history)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, COALESCE(?10, 1))
         ON CONFLICT(id) DO UPDATE SET doc = ?2, agent_name = ?3, phase = ?4, created_at = ?5,
            last_updated = ?6, last_updated_us = ?7, resume_ready = ?8, error_count = ?9,
            has_history = COALESCE(?10, has_history)",
    )?
    .execute(params![
        id,
        row.doc,
        row.agent_name,
        row.phase,
        row.created_at,
        row.last_updated,
        row.last_updated_us,
        row.resume_ready,
        row.error_count,
        has_history,
    ])?;

    match history {
        HistoryChange::Keep => {}
        HistoryChange::Append(from, to, at) => {
            tx.prepare_cached(
                "INSERT INTO lifecycle_history (session_id, seq, from_phase, to_phase, timestamp)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM lifecycle_history
                              WHERE session_id = ?1), ?2, ?3, ?4)",
            )?
            .execute(params![id, from, to, at])?;
            // The phase event, as `events::insert` writes it, without its `RETURNING` (an
            // ephemeral table per statement; nothing here needs the seq).
            tx.prepare_cached(
                "INSERT INTO events (session_id, seq, at, source, kind, data)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE session_id = ?1),
                         ?2, 'lifecycle', ?3, ?4)",
            )?
            .execute(params![
                id,
                crate::model::clock::now_iso(),
                kind::PHASE,
                serde_json::json!({"from": from, "to": to}).to_string(),
            ])?;
        }
        HistoryChange::Replace(entries) => {
            if had_doc {
                tx.prepare_cached("DELETE FROM lifecycle_history WHERE session_id = ?1")?
                    .execute([id])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO lifecycle_history (session_id, seq, from_phase, to_phase, timestamp,
                    raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (i, e) in entries.iter().flatten().enumerate() {
                let seq = i as i64 + 1;
                match entry_columns(e) {
                    Some((f, t, ts)) => ins.execute(params![id, seq, f, t, ts, None::<String>])?,
                    None => ins.execute(params![
                        id,
                        seq,
                        None::<String>,
                        None::<String>,
                        None::<String>,
                        e.to_string()
                    ])?,
                };
            }
        }
    }
    Ok(())
}

/// Sets the phase of a hosted session's row. Not a state change (a hosted session's state
/// follows its process), so it does not go through the state machine.
pub(crate) fn set_hosted_phase(
    tx: &Connection,
    id: &str,
    phase: Option<&str>,
    now: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE sessions SET phase = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, phase, now])?;
    Ok(())
}

/// Deletes the record-only sessions (row, document, history: the foreign keys cascade) whose
/// document was last updated before `cutoff_us`, and returns their ids. Hosted sessions are
/// never deleted here, and documents whose last_updated could not be read are kept.
pub(crate) fn delete_records_before(
    tx: &Connection,
    cutoff_us: i64,
) -> rusqlite::Result<Vec<String>> {
    let mut st = tx.prepare_cached(
        "DELETE FROM sessions WHERE kind = 'record' AND id IN
            (SELECT id FROM lifecycle WHERE last_updated_us < ?1)
         RETURNING id",
    )?;
    let ids = st
        .query_map([cutoff_us], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

impl Store {
    /// Runs `f` in a `BEGIN IMMEDIATE` transaction and commits it, rolling back on an error,
    /// like [`Store::write`] but with BEGIN and COMMIT as cached statements: parsing them anew
    /// each time is a measurable part of a ~0.1 ms lifecycle write.
    pub(crate) fn write_cached<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let c = self.connection();
        let run = || -> rusqlite::Result<T> {
            c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            let out = f(c).and_then(|out| {
                c.prepare_cached("COMMIT")?.execute([])?;
                Ok(out)
            });
            if out.is_err() && !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
            out
        };
        run().map_err(|e| self.err(e))
    }

    /// A whole lifecycle document, history included; `None` when `id` has none.
    pub fn lifecycle_doc(&self, id: &str) -> Result<Option<Map<String, Value>>> {
        let conn = self.connection();
        // One read transaction, so the document and its history agree.
        let read = || -> rusqlite::Result<Option<Map<String, Value>>> {
            conn.prepare_cached("BEGIN")?.execute([])?;
            let out = read_doc(conn, id);
            conn.prepare_cached("COMMIT")?.execute([])?;
            out
        };
        let out = read();
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        out.map_err(|e| self.err(e))
    }

    /// A lifecycle document without its history table (one query, for judging it).
    pub fn lifecycle_doc_without_history(&self, id: &str) -> Result<Option<Map<String, Value>>> {
        let doc: Option<String> = self
            .connection()
            .prepare_cached("SELECT doc FROM lifecycle WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(doc.map(|d| parse_doc(&d)))
    }

    /// Calls `each` with the summary of every lifecycle document that passes `filter` (and
    /// belongs to `agent_name`, when given), most recently updated first, borrowed from the
    /// row. Stops at the first error `each` returns.
    pub fn for_each_lifecycle_summary<E: From<Error>>(
        &self,
        filter: ListFilter,
        agent_name: Option<&str>,
        mut each: impl FnMut(SummaryRef<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let serr = |e| self.err(e);
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT id, agent_name, phase, created_at, last_updated, resume_ready,
                    error_count
                 FROM lifecycle INDEXED BY lifecycle_recent
                 WHERE (?1 = 0
                        OR (?1 = 1 AND resume_ready)
                        OR (?1 = 2 AND (phase IS NULL
                            OR phase NOT IN ('completed', 'failed', 'abandoned'))))
                   AND (?2 IS NULL OR agent_name = ?2)
                 ORDER BY last_updated_us DESC, id DESC",
            )
            .map_err(serr)?;
        let mut rows = st.query(params![filter.code(), agent_name]).map_err(serr)?;
        while let Some(r) = rows.next().map_err(serr)? {
            let summary = (|| -> rusqlite::Result<SummaryRef<'_>> {
                Ok(SummaryRef {
                    agent_id: row_text(r, 0)?.unwrap_or_default(),
                    agent_name: row_text(r, 1)?,
                    phase: row_text(r, 2)?,
                    created_at: row_text(r, 3)?,
                    last_updated: row_text(r, 4)?,
                    resume_ready: r.get(5)?,
                    error_count: r.get(6)?,
                })
            })()
            .map_err(serr)?;
            each(summary)?;
        }
        Ok(())
    }

    /// The id of the most recently updated lifecycle document (of `agent_name`, when given)
    /// whose metadata has every `(key, value)` of `metadata_match` (string values), optionally
    /// only unfinished ones.
    pub fn find_latest_lifecycle(
        &self,
        agent_name: Option<&str>,
        metadata_match: &[(&str, &str)],
        active_only: bool,
    ) -> Result<Option<String>> {
        let serr = |e| self.err(e);
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT id, doc FROM lifecycle
                 WHERE (?1 IS NULL OR agent_name = ?1)
                   AND (?2 = 0 OR phase IS NULL
                        OR phase NOT IN ('completed', 'failed', 'abandoned'))
                 ORDER BY last_updated_us DESC, id DESC",
            )
            .map_err(serr)?;
        let mut rows = st.query(params![agent_name, active_only]).map_err(serr)?;
        while let Some(r) = rows.next().map_err(serr)? {
            let id: String = r.get(0).map_err(serr)?;
            if metadata_match.is_empty() {
                return Ok(Some(id));
            }
            let doc: String = r.get(1).map_err(serr)?;
            let doc = parse_doc(&doc);
            let meta = doc.get("metadata").and_then(Value::as_object);
            let matches = metadata_match.iter().all(|(k, v)| {
                meta.and_then(|m| m.get(*k))
                    .is_some_and(|x| x.as_str() == Some(*v))
            });
            if matches {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}
