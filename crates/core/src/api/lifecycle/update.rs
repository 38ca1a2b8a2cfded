//! Changes to an existing document: phase, metadata, errors, fields and finalizing, all
//! through [`Lifecycle::apply`] (one transaction, one `state.json`).

use super::doc::{
    int_field, normalize_outcome, str_field, validate_phase, INITIAL_PHASE, RESUMABLE_PHASES,
};
use super::persist::persist;
use super::{time, Lifecycle};
use crate::model::error::{Error, Result};
use crate::model::id;
use crate::store::lifecycle::{load, Found, HistoryChange};
use serde_json::{json, Map, Value};

/// Changes for [`Lifecycle::apply`], applied in this order: phase, metadata merge, error,
/// fields, finalize.
#[derive(Debug, Clone, Default)]
pub struct Update<'a> {
    /// The new phase, if it changes (a phase change is a history entry and a `phase` event).
    pub phase: Option<&'a str>,
    /// Fields merged into the document's `metadata`.
    pub metadata: Option<&'a Map<String, Value>>,
    /// An error to record: appended to `errors`, and `error_count` goes up by one.
    pub error: Option<&'a str>,
    /// Top-level fields to set as given (not `history`).
    pub fields: Vec<(&'a str, Value)>,
    /// `(outcome, summary)`: see [`Lifecycle::finalize_session`].
    pub finalize: Option<(&'a str, Value)>,
}

impl Lifecycle {
    /// Updates a session: a new phase (appending a history entry and setting resume_ready
    /// to whether the phase is resumable), metadata merged into the existing metadata, and an
    /// error (raising error_count and setting last_error). Always refreshes last_updated.
    ///
    /// `Ok(false)` when no session has this id; [`Error::InvalidPhase`] (and no change at
    /// all) for an unknown phase.
    pub fn update_state(
        &self,
        agent_id: &str,
        phase: Option<&str>,
        metadata: Option<&Map<String, Value>>,
        error: Option<&str>,
    ) -> Result<bool> {
        self.apply(
            agent_id,
            &Update {
                phase,
                metadata,
                error,
                ..Default::default()
            },
        )
    }

    /// Merges `metadata` into a session's metadata (a shorthand for `update_state` with
    /// metadata only).
    pub fn merge_metadata(&self, agent_id: &str, metadata: &Map<String, Value>) -> Result<bool> {
        self.update_state(agent_id, None, Some(metadata), None)
    }

    /// Applies several changes to one session in one write (one transaction, one
    /// `state.json`). `Ok(false)` for an unknown session. A hosted session without a document
    /// gets one.
    pub fn apply(&self, agent_id: &str, u: &Update<'_>) -> Result<bool> {
        if let Some(p) = u.phase {
            validate_phase(p)?;
        }
        if u.fields.iter().any(|(k, _)| *k == "history") {
            return Err(Error::InvalidArgument(
                "history is kept by the store; use update_state or save_session".into(),
            ));
        }
        id::validate(agent_id)?;
        self.write(|tx, after| {
            let Some(found) = load(tx, agent_id, self.state_files)? else {
                return Ok(false);
            };
            // Timestamps are taken under the write lock, so they follow commit order.
            let now_us = time::now_us();
            let now = time::format_us(now_us);
            let mut doc = found
                .doc
                .clone()
                .unwrap_or_else(|| hosted_doc(agent_id, &found));
            let mut change = HistoryChange::Keep;
            let mut set_phase = |doc: &mut Map<String, Value>, p: &str| {
                // A raw, non-list history (stored as given) gives way to a real one.
                if doc.get("history").is_some_and(|h| !h.is_array()) {
                    doc.remove("history");
                }
                let from = str_field(doc, "phase").map(str::to_string);
                doc.insert("phase".into(), Value::String(p.into()));
                doc.insert(
                    "resume_ready".into(),
                    Value::Bool(RESUMABLE_PHASES.contains(&p)),
                );
                change = HistoryChange::Append(from, p.to_string(), now.clone());
            };
            if let Some(p) = u.phase {
                set_phase(&mut doc, p);
            }
            if let Some(m) = u.metadata {
                merge_metadata(&mut doc, m);
            }
            if let Some(message) = u.error {
                let count = int_field(&doc, "error_count").saturating_add(1);
                doc.insert("error_count".into(), json!(count));
                doc.insert(
                    "last_error".into(),
                    json!({"message": message, "timestamp": now}),
                );
            }
            for (k, v) in &u.fields {
                doc.insert(k.to_string(), v.clone());
            }
            if let Some((outcome, summary)) = &u.finalize {
                let outcome = normalize_outcome(outcome);
                let duration = str_field(&doc, "created_at")
                    .and_then(time::parse_us)
                    .map(|c| ((now_us - c).max(0) as f64 / 1000.0).round() / 1000.0)
                    .map_or(Value::Null, |d| json!(d));
                set_phase(&mut doc, outcome);
                doc.insert("resume_ready".into(), Value::Bool(false));
                doc.insert("finalized_at".into(), Value::String(now.clone()));
                doc.insert("duration_seconds".into(), duration);
                doc.insert("summary".into(), summary.clone());
            }
            doc.insert("last_updated".into(), Value::String(now.clone()));
            persist(
                tx,
                after,
                self.mirror_home(),
                agent_id,
                Some(&found),
                &doc,
                change,
                &now,
                Some(now_us),
                false,
            )?;
            Ok(true)
        })
    }

    /// Ends a session: phase set to `outcome` (completed, failed or abandoned; anything else
    /// records failed), finalized_at, duration_seconds since created_at, summary, and
    /// resume_ready cleared. `Ok(false)` for an unknown session.
    pub fn finalize_session(
        &self,
        agent_id: &str,
        outcome: &str,
        summary: Option<Value>,
    ) -> Result<bool> {
        self.apply(
            agent_id,
            &Update {
                finalize: Some((outcome, summary.unwrap_or(Value::Null))),
                ..Default::default()
            },
        )
    }

    /// Sets a top-level field of a session's document (for example `usage`), without a phase
    /// change. `Ok(false)` for an unknown session.
    pub fn set_field(&self, agent_id: &str, key: &str, value: Value) -> Result<bool> {
        self.apply(
            agent_id,
            &Update {
                fields: vec![(key, value)],
                ..Default::default()
            },
        )
    }
}

fn merge_metadata(doc: &mut Map<String, Value>, m: &Map<String, Value>) {
    match doc.get_mut("metadata") {
        Some(Value::Object(existing)) => {
            for (k, v) in m {
                existing.insert(k.clone(), v.clone());
            }
        }
        _ => {
            doc.insert("metadata".into(), Value::Object(m.clone()));
        }
    }
}

/// The document a hosted session gets when it is first given a phase.
fn hosted_doc(agent_id: &str, found: &Found) -> Map<String, Value> {
    let name = found.name.clone().or_else(|| found.agent_type.clone());
    super::doc::new_doc(
        agent_id,
        name.map_or(Value::Null, Value::String),
        Value::Null,
        &found.created_at,
        found.phase.as_deref().unwrap_or(INITIAL_PHASE),
        Map::new(),
    )
}
