//! The one place a session's state changes. Every writer (the starter's insert, the host, the
//! manager's launch outcome and liveness check, resume, the lifecycle records) builds a
//! [`Change`] and commits it here: the move is checked against the table in
//! [`crate::model::state::TRANSITIONS`], compared-and-set against the stored state, written
//! with its history entry (and, through a trigger, its event) in one transaction, and the
//! status hooks run after the commit, outside every lock.

use crate::config::home::Home;
use crate::model::error::{Error, Result};
use crate::model::record::SessionKind;
pub use crate::model::state::Committed;
use crate::model::state::{is_legal, Source, State};
use crate::services::{launcher, status_hooks};
use crate::store::sessions::{append_transition_in, insert_row_in, set_reason_in, state_row_in};
use crate::store::{NewSession, Store, Updates};
use rusqlite::Connection;
use std::path::Path;

/// A requested state change.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub session_id: &'a str,
    pub to: State,
    pub source: Source,
    /// Why, in words: "exited with status 3", "no output for 2.0s".
    pub cause: &'a str,
    /// The state reason stored with the new state (the waiting reason, a failure's reason);
    /// `None` clears it.
    pub reason: Option<&'a str>,
    /// Compare-and-set: move only when the stored state is one of these (the state the caller
    /// read). `None`: whatever the table allows.
    pub only_from: Option<&'a [State]>,
    /// Other columns written in the same transaction when the change is applied.
    pub updates: Updates,
}

impl<'a> Change<'a> {
    /// A change to `to` by `source`, with no reason, no compare-and-set and no other columns.
    pub fn new(session_id: &'a str, to: State, source: Source, cause: &'a str) -> Self {
        Change {
            session_id,
            to,
            source,
            cause,
            reason: None,
            only_from: None,
            updates: Updates::new(),
        }
    }

    pub fn reason(mut self, reason: Option<&'a str>) -> Self {
        self.reason = reason;
        self
    }

    pub fn only_from(mut self, states: &'a [State]) -> Self {
        self.only_from = Some(states);
        self
    }

    pub fn updates(mut self, updates: Updates) -> Self {
        self.updates = updates;
        self
    }
}

/// What became of a [`Change`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The state changed.
    Moved(Committed),
    /// The session was already in the state: its reason, source and the updates were
    /// written, without a history entry.
    Same,
    /// The stored state did not allow it (the table or the compare-and-set); nothing was
    /// written. Carries the state the session is in.
    Refused(State),
}

impl Outcome {
    /// The committed move, if there was one.
    pub fn moved(&self) -> Option<&Committed> {
        match self {
            Outcome::Moved(c) => Some(c),
            _ => None,
        }
    }
}

/// Commits `change` inside the caller's transaction. `Ok(None)`: no such session. The caller
/// must run [`after_commit`] with a `Moved` outcome once its transaction has committed.
pub fn commit_in(tx: &Connection, change: &Change<'_>) -> rusqlite::Result<Option<Outcome>> {
    let Some(row) = state_row_in(tx, change.session_id)? else {
        return Ok(None);
    };
    let from = row.state;
    if change
        .only_from
        .is_some_and(|states| !states.contains(&from))
    {
        return Ok(Some(Outcome::Refused(from)));
    }
    if from == change.to {
        // Same state: only a new reason (and the source that gave it) is news.
        if change.reason.is_some() && change.reason != row.reason.as_deref() {
            set_reason_in(
                tx,
                change.session_id,
                change.source.as_str(),
                change.reason,
                &change.updates,
            )?;
        } else if !change.updates.is_empty() {
            crate::store::sessions::apply_updates(tx, change.session_id, &change.updates)?;
        }
        return Ok(Some(Outcome::Same));
    }
    if !is_legal(row.kind, Some(from), change.to, change.source) {
        return Ok(Some(Outcome::Refused(from)));
    }
    append_transition_in(
        tx,
        change.session_id,
        Some(from),
        change.to,
        change.cause,
        change.source.as_str(),
        change.reason,
        &change.updates,
    )?;
    Ok(Some(Outcome::Moved(Committed {
        session_id: change.session_id.to_string(),
        from: Some(from),
        to: change.to,
        cause: change.cause.to_string(),
        source: change.source,
        agent_type: row.agent_type,
        task_id: row.task_id,
        template: row.template,
    })))
}

/// Inserts a new session in its first state inside the caller's transaction. The first state
/// must be one the table allows a new session of its kind to start in.
pub fn insert_in(
    tx: &Connection,
    new: &NewSession,
    source: Source,
    more: &Updates,
) -> rusqlite::Result<std::result::Result<Committed, IllegalStart>> {
    if !is_legal(new.kind, None, new.state, source) {
        return Ok(Err(IllegalStart {
            kind: new.kind,
            state: new.state,
            source,
        }));
    }
    insert_row_in(tx, new, source.as_str(), more)?;
    append_transition_in(
        tx,
        &new.id,
        None,
        new.state,
        &new.cause,
        source.as_str(),
        new.reason.as_deref(),
        &Updates::new(),
    )?;
    Ok(Ok(Committed {
        session_id: new.id.clone(),
        from: None,
        to: new.state,
        cause: new.cause.clone(),
        source,
        agent_type: new.agent_type.clone(),
        task_id: new.task_id.clone(),
        // A start from a template sets it with the first row.
        template: more.iter().find_map(|(c, v)| match (c, v) {
            (crate::store::Column::Template, rusqlite::types::Value::Text(t)) => Some(t.clone()),
            _ => None,
        }),
    }))
}

/// A new session asked to start in a state the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IllegalStart {
    pub kind: SessionKind,
    pub state: State,
    pub source: Source,
}

impl IllegalStart {
    fn into_error(self, id: &str) -> Error {
        Error::InvalidArgument(format!(
            "session {id}: a {} session cannot start in state {} by {}",
            self.kind.as_str(),
            self.state,
            self.source
        ))
    }
}

/// Commits `change` in its own transaction, then runs the status hooks. The caller holds no
/// lock: its connection is its own (a `SessionManager` takes one per call from its pool).
/// A liveness change is refused while a host holds the session's lock.
pub fn apply(store: &Store, change: &Change<'_>) -> Result<Outcome> {
    let home = match change.source {
        Source::Liveness => Some(Home::resolve(Some(store.home_root()))?),
        _ => None,
    };
    let outcome = store
        .write(|tx| {
            if let Some(home) = &home {
                if let Some(held) = host_lock_held_in(tx, home, change.session_id)? {
                    return Ok(Some(Outcome::Refused(held)));
                }
            }
            commit_in(tx, change)
        })?
        .ok_or_else(|| Error::SessionNotFound(change.session_id.to_string()))?;
    if let Outcome::Moved(c) = &outcome {
        after_commit(store.home_root(), c);
    }
    Ok(outcome)
}

/// For a liveness change (a reader found the host's lock free): the lock looked at again,
/// under the store's write lock. `Some(state)` when a host holds it (or it cannot be looked
/// at): the change must be refused. Looked at before the transaction only, the free lock may
/// have been an ended host's while the state compared is already a resumed host's (the same
/// `running` again). Under the write lock the pair is consistent: a host takes its lock before
/// its first write and lets go only after its ending is written.
fn host_lock_held_in(tx: &Connection, home: &Home, id: &str) -> rusqlite::Result<Option<State>> {
    let Some(row) = state_row_in(tx, id)? else {
        return Ok(None);
    };
    Ok((!matches!(launcher::host_alive(home, id), Ok(false))).then_some(row.state))
}

/// Inserts a new session in its own transaction, then runs the status hooks.
pub fn insert(store: &Store, new: &NewSession, source: Source, more: &Updates) -> Result<()> {
    let committed = store
        .write(|tx| insert_in(tx, new, source, more))?
        .map_err(|e| e.into_error(&new.id))?;
    after_commit(store.home_root(), &committed);
    Ok(())
}

/// Runs the status hooks for a committed move. Call it after the commit and outside every
/// lock: a hook sees the state it is told about, and a slow hook holds nobody up.
pub fn after_commit(home_root: &Path, committed: &Committed) {
    status_hooks::fire(home_root, committed);
}
