//! Whole documents: a new session (`create_session`) and a document stored as given
//! (`save_session`).

use super::doc::INITIAL_PHASE;
use super::persist::persist;
use super::{time, Lifecycle};
use crate::model::clock::now_iso;
use crate::model::error::Result;
use crate::model::id;
use crate::store::lifecycle::{load, HistoryChange};
use serde_json::{Map, Value};

/// What a new lifecycle session starts with. `agent_name` and `purpose` are stored as given
/// (usually strings or null).
#[derive(Debug, Clone, Default)]
pub struct NewLifecycle {
    /// Use this id instead of generating one; an existing lifecycle document under it is
    /// replaced, like the reference library overwrites `state.json`.
    pub agent_id: Option<String>,
    /// The `agent_name` field as given (a string, or null); kept as JSON like the reference library.
    pub agent_name: Value,
    /// The `purpose` field as given (any JSON value).
    pub purpose: Value,
    /// Extra fields merged into the document's `metadata` (`task_id` there becomes the session's task).
    pub metadata: Map<String, Value>,
}

impl Lifecycle {
    /// Creates a session (kind `record`, phase initializing) and returns its id, shaped
    /// `agent-YYYYMMDD-HHMMSS-<8 hex>` unless one was given.
    pub fn create_session(&self, new: &NewLifecycle) -> Result<String> {
        let agent_id = match &new.agent_id {
            Some(given) => id::validate(given)?.to_string(),
            None => id::new_id(),
        };
        self.write(|tx, after| {
            // Timestamps are taken under the write lock, so they follow commit order.
            let now_us = time::now_us();
            let now = time::format_us(now_us);
            let doc = super::doc::new_doc(
                &agent_id,
                new.agent_name.clone(),
                new.purpose.clone(),
                &now,
                INITIAL_PHASE,
                new.metadata.clone(),
            );
            let found = load(tx, &agent_id, self.state_files)?;
            persist(
                tx,
                after,
                self.mirror_home(),
                &agent_id,
                found.as_ref(),
                &doc,
                HistoryChange::Replace(Some(Vec::new())),
                &now,
                Some(now_us),
                true,
            )
        })?;
        Ok(agent_id)
    }

    /// Stores `doc` exactly as given as the session's document (history included), creating
    /// a record-only session when none has this id. Nothing is recomputed: a back-dated
    /// `last_updated` stays back-dated. Used to migrate old state and by tests.
    pub fn save_session(&self, agent_id: &str, doc: Map<String, Value>) -> Result<()> {
        id::validate(agent_id)?;
        let mut doc = doc;
        let history = match doc.remove("history") {
            None => HistoryChange::Replace(None),
            Some(Value::Array(entries)) => HistoryChange::Replace(Some(entries)),
            // Not a list: kept in the document as given, with an empty history table.
            Some(other) => {
                doc.insert("history".into(), other);
                HistoryChange::Replace(Some(Vec::new()))
            }
        };
        self.write(|tx, after| {
            let now = now_iso();
            let found = load(tx, agent_id, self.state_files)?;
            persist(
                tx,
                after,
                self.mirror_home(),
                agent_id,
                found.as_ref(),
                &doc,
                history,
                &now,
                None,
                true,
            )
        })
    }
}
