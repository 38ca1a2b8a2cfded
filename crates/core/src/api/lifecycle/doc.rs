//! The lifecycle document: the reference hook library's `state.json` record, its phases and
//! its key order.

use crate::model::error::{Error, Result};
use crate::model::state::State;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// A new document with the reference library's fields, nothing finalized yet.
pub fn new_doc(
    agent_id: &str,
    agent_name: Value,
    purpose: Value,
    created_at: &str,
    phase: &str,
    metadata: Map<String, Value>,
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("agent_id".into(), Value::String(agent_id.into()));
    doc.insert("agent_name".into(), agent_name);
    doc.insert("purpose".into(), purpose);
    doc.insert("created_at".into(), Value::String(created_at.into()));
    doc.insert("last_updated".into(), Value::String(created_at.into()));
    doc.insert("phase".into(), Value::String(phase.into()));
    doc.insert("metadata".into(), Value::Object(metadata));
    doc.insert("resume_ready".into(), Value::Bool(false));
    doc.insert("error_count".into(), Value::from(0));
    doc.insert("last_error".into(), Value::Null);
    doc.insert("finalized_at".into(), Value::Null);
    doc.insert("duration_seconds".into(), Value::Null);
    doc.insert("summary".into(), Value::Null);
    doc
}

/// Every valid phase, in lifecycle order.
pub const PHASES: [&str; 9] = [
    "initializing",
    "investigating",
    "planning",
    "approval",
    "executing",
    "validating",
    "completed",
    "failed",
    "abandoned",
];

/// Phases a session may be resumed from (by default).
pub const RESUMABLE_PHASES: [&str; 3] = ["approval", "investigating", "planning"];

/// Phases that end a session; `finalize_session` outcomes.
pub const FINAL_PHASES: [&str; 3] = ["completed", "failed", "abandoned"];

/// The phase a new session starts in.
pub const INITIAL_PHASE: &str = "initializing";

/// Top-level keys of the reference schema, in its order. Other keys follow, sorted.
pub const SCHEMA_KEYS: [&str; 15] = [
    "agent_id",
    "agent_name",
    "purpose",
    "created_at",
    "last_updated",
    "phase",
    "metadata",
    "resume_ready",
    "history",
    "error_count",
    "last_error",
    "finalized_at",
    "duration_seconds",
    "summary",
    // Not in the reference schema; present when a hook recorded the agent's token usage.
    "usage",
];

/// Accepts a valid phase, or says which phases are valid.
pub fn validate_phase(phase: &str) -> Result<&str> {
    if PHASES.contains(&phase) {
        Ok(phase)
    } else {
        Err(Error::InvalidPhase(shorten(phase)))
    }
}

/// True for completed, failed and abandoned.
pub fn is_final(phase: &str) -> bool {
    FINAL_PHASES.contains(&phase)
}

/// The session state a record-only session has in `phase`.
pub fn phase_state(phase: Option<&str>) -> State {
    match phase {
        Some("initializing" | "investigating" | "planning" | "executing" | "validating") => {
            State::Running
        }
        Some("approval") => State::WaitingInput,
        Some("completed" | "abandoned") => State::Stopped,
        Some("failed") => State::Failed,
        _ => State::Unknown,
    }
}

/// `finalize_session`'s outcome: completed, failed or abandoned; anything else is failed.
pub fn normalize_outcome(outcome: &str) -> &'static str {
    match outcome {
        "completed" => "completed",
        "abandoned" => "abandoned",
        _ => "failed",
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        let head: String = s.chars().take(40).collect();
        format!("{head}…")
    }
}

/// A lifecycle document: top-level fields in schema order, then any others sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleDoc {
    fields: Vec<(String, Value)>,
}

impl LifecycleDoc {
    /// Orders the fields of `map` (which may or may not hold `history`).
    pub fn from_map(mut map: Map<String, Value>) -> LifecycleDoc {
        let mut fields = Vec::with_capacity(map.len());
        for key in SCHEMA_KEYS {
            if let Some(v) = map.remove(key) {
                fields.push((key.to_string(), v));
            }
        }
        // serde_json's Map is sorted, so the rest comes out sorted.
        fields.extend(map);
        LifecycleDoc { fields }
    }

    /// Fields in order.
    pub fn fields(&self) -> &[(String, Value)] {
        &self.fields
    }

    /// Takes the fields.
    pub fn into_fields(self) -> Vec<(String, Value)> {
        self.fields
    }

    /// One field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The document as a JSON value (key order is lost in serde_json's sorted map).
    pub fn to_value(&self) -> Value {
        Value::Object(self.fields.iter().cloned().collect())
    }

    /// Compact JSON, keys in order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("JSON values serialize")
    }

    /// Indented JSON (two spaces, like `json.dump(..., indent=2)`), keys in order.
    pub fn to_json_pretty(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            serde_json::ser::PrettyFormatter::with_indent(b"  "),
        );
        self.serialize(&mut ser).expect("JSON values serialize");
        out.push(b'\n');
        out
    }
}

impl Serialize for LifecycleDoc {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// One line of `list_sessions`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionSummary {
    /// The session id (the document's `agent_id`).
    pub agent_id: String,
    /// The agent name, when the document has one.
    pub agent_name: Option<String>,
    /// The current phase (`initializing`, ..., `completed`), when set.
    pub phase: Option<String>,
    /// When the document was created, as written in it (ISO 8601).
    pub created_at: Option<String>,
    /// When it was last written, as written in it (ISO 8601).
    pub last_updated: Option<String>,
    /// The document's `resume_ready` flag: the session may be resumed.
    pub resume_ready: bool,
    /// How many errors were recorded on it (`error_count`).
    pub error_count: i64,
}

/// A string field of a document, if it is a string.
pub fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// Python-like truthiness, for `resume_ready` values stored as given.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// An integer field (`error_count`), 0 when absent or not a number.
pub fn int_field(map: &Map<String, Value>, key: &str) -> i64 {
    match map.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Some(Value::Bool(b)) => i64::from(*b),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orders_schema_keys_first() {
        let Value::Object(m) = json!({"zeta": 1, "summary": null, "agent_id": "a", "alpha": 2,
            "history": []})
        else {
            unreachable!()
        };
        let d = LifecycleDoc::from_map(m);
        let keys: Vec<&str> = d.fields().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["agent_id", "history", "summary", "alpha", "zeta"]);
        assert!(String::from_utf8(d.to_json_pretty())
            .unwrap()
            .starts_with("{\n  \"agent_id\": \"a\",\n"));
    }

    #[test]
    fn phases() {
        assert!(validate_phase("approval").is_ok());
        assert!(validate_phase("Approval").is_err());
        assert_eq!(phase_state(Some("approval")), State::WaitingInput);
        assert_eq!(phase_state(Some("failed")), State::Failed);
        assert_eq!(normalize_outcome("weird"), "failed");
    }
}
