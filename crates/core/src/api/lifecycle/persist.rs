//! The one write of a document: the `sessions` row kept in step (through the state machine
//! for records), the `lifecycle` rows (see `store::lifecycle`), and the `state.json` mirror.

use super::doc::{int_field, phase_state, str_field, truthy, LifecycleDoc};
use super::{mirror, time, AfterCommit, STATE_FILE, STATE_TMP};
use crate::config::home::Home;
use crate::model::record::SessionKind;
use crate::model::state::Source;
use crate::services::state_machine::{self, Change, Outcome};
use crate::store::lifecycle::{DocRow, Found, HistoryChange};
use crate::store::{self, Column, NewSession, Updates};
use rusqlite::Connection;
use serde_json::{Map, Value};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Writes `doc` (no `history` key unless it is a raw non-list value) and its history change,
/// keeps the `sessions` row in step, and mirrors the result into `state.json`.
#[allow(clippy::too_many_arguments)]
pub(super) fn persist(
    tx: &Connection,
    after: &mut Vec<AfterCommit>,
    // Where to mirror `state.json`; `None`: no state files.
    mirror: Option<&Home>,
    id: &str,
    found: Option<&Found>,
    doc: &Map<String, Value>,
    history: HistoryChange,
    now: &str,
    // The exact time behind `now` when this write set last_updated to it (orders writes
    // within one millisecond); `None` when last_updated is as given.
    updated_us: Option<i64>,
    new_folder: bool,
) -> rusqlite::Result<()> {
    // The sessions row first: the lifecycle row references it.
    sync_session_row(tx, after, id, found, doc, now)?;
    let last_updated = str_field(doc, "last_updated");
    let doc_text = serde_json::to_string(doc).expect("JSON values serialize");
    let row = DocRow {
        doc: &doc_text,
        agent_name: str_field(doc, "agent_name"),
        phase: str_field(doc, "phase"),
        created_at: str_field(doc, "created_at"),
        last_updated,
        last_updated_us: updated_us.or_else(|| last_updated.and_then(time::parse_us)),
        resume_ready: truthy(doc.get("resume_ready")),
        error_count: int_field(doc, "error_count"),
    };
    store::lifecycle::write_doc(
        tx,
        id,
        &row,
        &history,
        found.is_some_and(|f| f.doc.is_some()),
    )?;

    let Some(home) = mirror else {
        return Ok(());
    };
    // The document as the file shows it: history from what was read before the writes.
    let history = match history {
        HistoryChange::Keep => match found {
            Some(f) if f.doc.is_some() => f.history.clone(),
            // A document made just now (hosted session) starts with an empty history.
            _ => Some(Vec::new()),
        },
        HistoryChange::Append(from, to, at) => {
            let mut h = found.and_then(|f| f.history.clone()).unwrap_or_default();
            let mut e = Map::new();
            e.insert("from_phase".into(), from.map_or(Value::Null, Value::String));
            e.insert("to_phase".into(), Value::String(to));
            e.insert("timestamp".into(), Value::String(at));
            h.push(Value::Object(e));
            Some(h)
        }
        HistoryChange::Replace(entries) => entries,
    };
    write_state_file(after, home, id, doc, history, new_folder)
}

/// Creates or updates the `sessions` row: record sessions follow their phase (through the
/// state machine, like every state change); hosted ones only get the phase.
fn sync_session_row(
    tx: &Connection,
    after: &mut Vec<AfterCommit>,
    id: &str,
    found: Option<&Found>,
    doc: &Map<String, Value>,
    now: &str,
) -> rusqlite::Result<()> {
    let phase = str_field(doc, "phase");
    let state = phase_state(phase);
    let name = str_field(doc, "agent_name");
    let task_id = doc
        .get("metadata")
        .and_then(|m| m.get("task_id"))
        .and_then(Value::as_str);
    let reason = phase.map(|p| format!("phase {p}"));
    let ended_at = state.is_ended().then_some(now);
    match found {
        None => {
            let created = str_field(doc, "created_at")
                .and_then(time::parse_us)
                .map_or_else(|| now.to_string(), time::format_us);
            let new = NewSession {
                id: id.to_string(),
                kind: SessionKind::Record,
                agent_type: None,
                name: name.map(str::to_string),
                task_id: task_id.map(str::to_string),
                state,
                cause: "lifecycle record created".into(),
                reason: reason.clone(),
                phase: phase.map(str::to_string),
                created_at: Some(created),
                workspace_path: None,
                command: Vec::new(),
                env_keys: Vec::new(),
                cols: crate::config::defaults::DEFAULT_COLS,
                rows: crate::config::defaults::DEFAULT_ROWS,
                idle_after_secs: crate::config::defaults::DEFAULT_IDLE_AFTER.as_secs_f64(),
            };
            match state_machine::insert_in(tx, &new, Source::Phase, &Updates::new())? {
                Ok(committed) => after.push(AfterCommit::Fire(committed)),
                Err(illegal) => return Err(refused(format!("{illegal:?}"))),
            }
        }
        Some(f)
            if f.kind == SessionKind::Record
                && f.state == state
                && (f.phase.as_deref() != phase
                    || f.name.as_deref() != name
                    || f.task_id.as_deref() != task_id) =>
        {
            // The state stays, so this is no transition: what the state machine does for a
            // change to the same state (a new reason, with its source, and the columns), read
            // from the row `load` just read in this transaction, in one statement instead of
            // its read and two updates.
            let mut updates = Updates::new();
            if reason.is_some() && reason != f.state_reason {
                updates.push((Column::StateSource, store::text(Source::Phase.as_str())));
                updates.push((Column::StateReason, store::opt_text(reason.as_deref())));
            }
            updates.extend(changed_columns(f, name, task_id, phase, ended_at));
            store::sessions::apply_updates(tx, id, &updates)?;
        }
        Some(f)
            if f.kind == SessionKind::Record
                && (f.state != state
                    || f.phase.as_deref() != phase
                    || f.name.as_deref() != name
                    || f.task_id.as_deref() != task_id) =>
        {
            let cause = reason.clone().unwrap_or_else(|| "phase cleared".into());
            let change = Change {
                session_id: id,
                to: state,
                source: Source::Phase,
                cause: &cause,
                reason: reason.as_deref(),
                only_from: None,
                updates: changed_columns(f, name, task_id, phase, ended_at),
            };
            match state_machine::commit_in(tx, &change)? {
                Some(Outcome::Moved(committed)) => after.push(AfterCommit::Fire(committed)),
                Some(Outcome::Same) => {}
                Some(Outcome::Refused(stored)) => {
                    return Err(refused(format!(
                        "record {id} is {stored}; the state machine refused {state}"
                    )))
                }
                None => return Err(rusqlite::Error::QueryReturnedNoRows),
            }
        }
        // A record whose row already says all this: leave the row (and its indexes) alone.
        Some(f) if f.kind == SessionKind::Record => {}
        Some(f) => {
            if f.phase.as_deref() != phase {
                store::lifecycle::set_hosted_phase(tx, id, phase, now)?;
            }
        }
    }
    Ok(())
}

/// The columns of a record's row this write changes. Only those: setting an indexed column,
/// even to its old value, rewrites its index entry, one more page in the commit.
fn changed_columns(
    f: &Found,
    name: Option<&str>,
    task_id: Option<&str>,
    phase: Option<&str>,
    ended_at: Option<&str>,
) -> Updates {
    let mut updates = Updates::new();
    if f.name.as_deref() != name {
        updates.push((Column::Name, store::opt_text(name)));
    }
    if f.task_id.as_deref() != task_id {
        updates.push((Column::TaskId, store::opt_text(task_id)));
    }
    if f.phase.as_deref() != phase {
        updates.push((Column::Phase, store::opt_text(phase)));
    }
    // An ended record's end moves to this write, as it always did; an unended one clears it.
    if ended_at.is_some() || f.ended_at.is_some() {
        updates.push((Column::EndedAt, store::opt_text(ended_at)));
    }
    updates
}

/// A state change the state machine refused, carried out of the transaction as an error (it
/// cannot happen for phases, which map onto states every record may take).
fn refused(message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
        Some(message),
    )
}

/// Mirrors the document into `<home>/<id>/state.json`: writes a temporary file now (so a
/// full disk aborts the transaction) and queues its rename for after the commit.
fn write_state_file(
    after: &mut Vec<AfterCommit>,
    home: &Home,
    id: &str,
    doc: &Map<String, Value>,
    history: Option<Vec<Value>>,
    new_folder: bool,
) -> rusqlite::Result<()> {
    let dir = home.root().join(id); // `id` was validated by every caller.
    let mut full = doc.clone();
    if let Some(h) = history {
        if !full.contains_key("history") {
            full.insert("history".into(), Value::Array(h));
        }
    }
    let bytes = LifecycleDoc::from_map(full).to_json_pretty();
    let write = |dir: &Path| mirror::write_tmp(&dir.join(STATE_TMP), &bytes);
    let mkdir = |dir: &Path| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    };
    if new_folder {
        mkdir(&dir).map_err(|e| tunnel(format!("creating {}", dir.display()), e))?;
    }
    match write(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !new_folder => {
            // The folder was removed behind our back: make it again.
            mkdir(&dir).map_err(|e| tunnel(format!("creating {}", dir.display()), e))?;
            write(&dir)
        }
        other => other,
    }
    .map_err(|e| tunnel(format!("writing {}", dir.join(STATE_TMP).display()), e))?;
    after.push(AfterCommit::Rename(
        dir.join(STATE_TMP),
        dir.join(STATE_FILE),
    ));
    Ok(())
}

fn tunnel(context: String, source: std::io::Error) -> rusqlite::Error {
    crate::store::io_in_tx(context, source)
}
