//! Whether a session may be resumed: the reference library's four conditions, plus, for a
//! hosted session, whether `agent-sessions resume` could resume it now.

use super::doc::{truthy, LifecycleDoc, RESUMABLE_PHASES};
use super::{time, Lifecycle};
use crate::model::error::Result;
use crate::model::id;
use crate::model::record::SessionKind;
use serde_json::Value;
use std::time::Duration;

/// When a session may be resumed. The defaults are the reference library's.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePolicy {
    /// Last activity must be less than this long ago (30 minutes).
    pub max_idle: Duration,
    /// `error_count` must be below this (3).
    pub max_errors: i64,
    /// The phase must be one of these (approval, investigating, planning).
    pub resumable_phases: Vec<String>,
}

impl Default for ResumePolicy {
    fn default() -> Self {
        ResumePolicy {
            max_idle: Duration::from_secs(30 * 60),
            max_errors: 3,
            resumable_phases: RESUMABLE_PHASES.iter().map(|p| p.to_string()).collect(),
        }
    }
}

/// The answer of [`Lifecycle::resume_check`].
#[derive(Debug, Clone)]
pub struct ResumeCheck {
    /// All four conditions hold.
    pub resumable: bool,
    /// Why not, in words (empty when resumable).
    pub why_not: String,
    /// The document that was judged.
    pub doc: LifecycleDoc,
}

impl Lifecycle {
    /// Judges whether a session may be resumed under `policy`; `None` when it does not exist
    /// (or is a hosted session without a lifecycle document).
    pub fn resume_check(
        &self,
        agent_id: &str,
        policy: &ResumePolicy,
    ) -> Result<Option<ResumeCheck>> {
        let Some(doc) = self.get_session(agent_id)? else {
            return Ok(None);
        };
        let mut why_not = judge(&doc, policy, time::now_us());
        if why_not.is_empty() {
            if let Some(b) = self.hosted_blocker(agent_id)? {
                why_not = format!("the hosted session cannot be resumed: {b}");
            }
        }
        Ok(Some(ResumeCheck {
            resumable: why_not.is_empty(),
            why_not,
            doc,
        }))
    }

    /// True when resume_ready is set, the phase is resumable, the last activity is recent
    /// enough and error_count is below the limit. False for an unknown session.
    pub fn should_resume(&self, agent_id: &str, policy: &ResumePolicy) -> Result<bool> {
        id::validate(agent_id)?;
        let doc = self.with_store(|store| store.lifecycle_doc_without_history(agent_id))?;
        let Some(doc) = doc else {
            return Ok(false);
        };
        let doc = LifecycleDoc::from_map(doc);
        Ok(judge(&doc, policy, time::now_us()).is_empty()
            && self.hosted_blocker(agent_id)?.is_none())
    }

    /// For a hosted session, why `agent-sessions resume` would refuse it now; `None` for a
    /// record (no process to resume: the orchestrator decides) or a resumable session. The
    /// resume decision includes this, so "resumable" always means a resume can work.
    fn hosted_blocker(&self, agent_id: &str) -> Result<Option<String>> {
        let rec = self.with_store(|store| store.get(agent_id))?;
        Ok(match rec {
            Some(rec) if rec.kind == SessionKind::Hosted => {
                crate::api::manager::resume::blocker(&self.home, &rec)
            }
            _ => None,
        })
    }
}

/// Why a document is not resumable, or "" when it is.
fn judge(doc: &LifecycleDoc, policy: &ResumePolicy, now_us: i64) -> String {
    if !truthy(doc.get("resume_ready")) {
        return "resume_ready is not set".into();
    }
    let phase = doc.get("phase").and_then(Value::as_str).unwrap_or("");
    if !policy.resumable_phases.iter().any(|p| p == phase) {
        return format!("phase {phase:?} is not resumable");
    }
    let Some(updated) = doc
        .get("last_updated")
        .and_then(Value::as_str)
        .and_then(time::parse_us)
    else {
        return "last_updated is missing or not a timestamp".into();
    };
    let idle_us = now_us.saturating_sub(updated);
    if idle_us >= policy.max_idle.as_micros().min(i64::MAX as u128) as i64 {
        return format!(
            "last activity {:.1} minutes ago (limit {:.1})",
            idle_us as f64 / 60e6,
            policy.max_idle.as_secs_f64() / 60.0
        );
    }
    let errors = match doc.get("error_count") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    };
    if errors >= policy.max_errors as f64 {
        return format!(
            "error_count {errors} reached the limit of {}",
            policy.max_errors
        );
    }
    String::new()
}
