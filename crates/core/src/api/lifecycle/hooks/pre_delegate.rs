//! `pre_delegate`: whether a delegation should resume an existing session, for the reference
//! delegation context and for Claude Code's `PreToolUse` of the Task tool.

use super::{kind, opt_str, opt_text, truncate, Answer, IntoAnswer, Ordered};
use crate::api::lifecycle::{Lifecycle, LifecycleDoc, NewLifecycle, ResumePolicy};
use serde_json::{json, Map, Value};

/// Longest resume context handed to Claude Code.
const MAX_CONTEXT_CHARS: usize = 6000;

fn resume_metadata(doc: &LifecycleDoc) -> Value {
    let g = |k: &str| doc.get(k).cloned().unwrap_or(Value::Null);
    Ordered(vec![
        ("previous_phase", g("phase")),
        ("created_at", g("created_at")),
        ("last_updated", g("last_updated")),
        ("history", g("history")),
        ("session_metadata", g("metadata")),
    ])
    .to_value()
}

/// The reference delegation context.
pub(super) fn pre_delegate(
    lc: &Lifecycle,
    input: &Map<String, Value>,
    policy: &ResumePolicy,
) -> Answer {
    let agent_name = opt_str(input, "agent_name")?
        .filter(|s| !s.trim().is_empty())
        .ok_or("missing field agent_name")?;
    let given_id = opt_str(input, "agent_id")?;
    let task_id = opt_text(input, "task_id")?;
    match input.get("metadata") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(format!(
                "field metadata must be an object, not {}",
                kind(other)
            ))
        }
    }
    opt_str(input, "task_description")?;

    let candidate = match (given_id, &task_id) {
        (Some(id), _) => {
            crate::model::id::validate(id).map_err(|e| format!("field agent_id: {e}"))?;
            Some(id.to_string())
        }
        (None, Some(task)) => lc
            .find_latest(Some(agent_name), &[("task_id", task.as_str())], true)
            .map_err(|e| e.to_string())?,
        (None, None) => None,
    };
    let original = Value::Object(input.clone());
    let answer = |resume: bool, reason: &str, id: Option<&str>, meta: Value, detail: &str| {
        let mut fields = vec![
            ("should_resume", Value::Bool(resume)),
            ("reason", json!(reason)),
            ("agent_id", id.map_or(Value::Null, |s| json!(s))),
            ("resume_metadata", meta),
            ("original_context", original.clone()),
        ];
        if !detail.is_empty() {
            fields.push(("detail", json!(detail)));
        }
        Ordered(fields)
    };
    let Some(id) = candidate else {
        let detail = match &task_id {
            Some(t) => format!("no unfinished session of {agent_name} for task {t}"),
            None => "no agent_id or task_id to look a session up by".to_string(),
        };
        let log = format!("{agent_name}: no_existing_session ({detail})");
        return Ok((
            answer(false, "no_existing_session", given_id, Value::Null, &detail).boxed(),
            log,
        ));
    };
    let Some(check) = lc.resume_check(&id, policy).map_err(|e| e.to_string())? else {
        let detail = format!("no session {id}");
        let log = format!("{agent_name}: no_existing_session ({detail})");
        return Ok((
            answer(
                false,
                "no_existing_session",
                Some(&id),
                Value::Null,
                &detail,
            )
            .boxed(),
            log,
        ));
    };
    let owner = check.doc.get("agent_name").and_then(Value::as_str);
    let why_not = match owner {
        Some(o) if o != agent_name => format!("session belongs to agent {o}"),
        _ => check.why_not.clone(),
    };
    if why_not.is_empty() {
        let log = format!("{agent_name}: session_resumable {id}");
        Ok((
            answer(
                true,
                "session_resumable",
                Some(&id),
                resume_metadata(&check.doc),
                "",
            )
            .boxed(),
            log,
        ))
    } else {
        let log = format!("{agent_name}: session_not_resumable {id} ({why_not})");
        Ok((
            answer(
                false,
                "session_not_resumable",
                Some(&id),
                Value::Null,
                &why_not,
            )
            .boxed(),
            log,
        ))
    }
}

/// Claude Code's PreToolUse for the Task tool: resume context when this Claude session has a
/// resumable session of the same subagent type, otherwise a new tracked session.
pub(super) fn claude_pre_tool_use(
    lc: &Lifecycle,
    input: &Map<String, Value>,
    policy: &ResumePolicy,
) -> Answer {
    let tool = opt_str(input, "tool_name")?.unwrap_or("");
    if tool != "Task" && tool != "Agent" {
        return Ok((
            json!({}).boxed(),
            format!("ignored PreToolUse for tool {tool:?}"),
        ));
    }
    let session_id = opt_str(input, "session_id")?.ok_or("missing field session_id")?;
    let tool_input = match input.get("tool_input") {
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                "field tool_input must be an object, not {}",
                kind(other)
            ))
        }
        None => return Err("missing field tool_input".into()),
    };
    let subagent = opt_str(tool_input, "subagent_type")?
        .filter(|s| !s.is_empty())
        .unwrap_or("general-purpose");
    let description = opt_str(tool_input, "description")?;
    opt_str(tool_input, "prompt")?;

    let existing = lc
        .find_latest(Some(subagent), &[("claude_session_id", session_id)], true)
        .map_err(|e| e.to_string())?;
    if let Some(id) = existing {
        if let Some(check) = lc.resume_check(&id, policy).map_err(|e| e.to_string())? {
            if check.resumable {
                let doc = &check.doc;
                let history = match doc.get("history") {
                    Some(Value::Array(h)) => {
                        Value::Array(h.iter().rev().take(10).rev().cloned().collect())
                    }
                    other => other.cloned().unwrap_or(Value::Null),
                };
                let saved = json!({
                    "purpose": doc.get("purpose"),
                    "metadata": doc.get("metadata"),
                    "recent_history": history,
                });
                let text = format!(
                    "agent-sessions: subagent '{subagent}' has a resumable session {id} (phase {}, last updated {}). Continue from its saved state rather than starting over. Saved state: {}",
                    doc.get("phase").and_then(Value::as_str).unwrap_or("?"),
                    doc.get("last_updated").and_then(Value::as_str).unwrap_or("?"),
                    saved
                );
                return Ok((
                    claude_context(&truncate(&text, MAX_CONTEXT_CHARS)).boxed(),
                    format!("{subagent}: session_resumable {id} (Claude session {session_id})"),
                ));
            }
        }
    }
    let mut metadata = Map::new();
    metadata.insert("source".into(), json!("claude-code"));
    metadata.insert("claude_session_id".into(), json!(session_id));
    for (key, from) in [
        ("transcript_path", input),
        ("cwd", input),
        ("tool_use_id", input),
    ] {
        if let Some(v) = from.get(key).filter(|v| v.is_string()) {
            metadata.insert(key.into(), v.clone());
        }
    }
    if let Some(d) = description {
        metadata.insert("description".into(), json!(d));
    }
    let id = lc
        .create_session(&NewLifecycle {
            agent_id: None,
            agent_name: json!(subagent),
            purpose: description.map_or(Value::Null, |d| json!(d)),
            metadata,
        })
        .map_err(|e| e.to_string())?;
    let text = format!(
        "agent-sessions: this '{subagent}' delegation is tracked as lifecycle session {id}."
    );
    Ok((
        claude_context(&text).boxed(),
        format!("{subagent}: new session {id} (Claude session {session_id})"),
    ))
}

fn claude_context(text: &str) -> Value {
    json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "additionalContext": text,
        }
    })
}
