//! `subagent_stop`: finalizing a delegated session, for the reference task info and for
//! Claude Code's `SubagentStop` (with the subagent's usage from its transcript).

use super::{kind, opt_str, opt_text, truncate, Answer, IntoAnswer, Ordered};
use crate::api::lifecycle::{Lifecycle, NewLifecycle, Update};
use serde_json::{json, Map, Value};

/// Longest summary taken from a subagent's output or last message.
const MAX_SUMMARY_CHARS: usize = 4000;

/// The reference task info: finalize on success and on failure.
pub(super) fn subagent_stop(lc: &Lifecycle, input: &Map<String, Value>) -> Answer {
    let agent_id = opt_str(input, "agent_id")?.ok_or("missing field agent_id")?;
    crate::model::id::validate(agent_id).map_err(|e| format!("field agent_id: {e}"))?;
    let task_id = opt_text(input, "task_id")?;
    let agent = opt_str(input, "agent")?;
    let exit_code: i64 = match input.get("exit_code") {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(b)) => i64::from(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => i,
            None => n
                .as_f64()
                .filter(|f| f.fract() == 0.0)
                .map(|f| f as i64)
                .ok_or_else(|| format!("field exit_code must be an integer, not {n}"))?,
        },
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("field exit_code must be an integer, not {s:?}"))?,
        Some(other) => {
            return Err(format!(
                "field exit_code must be an integer, not {}",
                kind(other)
            ))
        }
    };
    let output = match input.get("output") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let outcome = if exit_code == 0 {
        "completed"
    } else {
        "failed"
    };
    let summary = match output.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(out) => truncate(out, MAX_SUMMARY_CHARS),
        None => format!(
            "{}{} finished with exit code {exit_code}",
            agent.unwrap_or("agent"),
            task_id
                .as_deref()
                .map(|t| format!(" (task {t})"))
                .unwrap_or_default()
        ),
    };
    let mut meta = Map::new();
    meta.insert("exit_code".into(), json!(exit_code));
    let finalized = lc
        .apply(
            agent_id,
            &Update {
                metadata: Some(&meta),
                finalize: Some((outcome, json!(summary))),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
    let reason = if finalized {
        "finalized"
    } else {
        "session_not_found"
    };
    let task = task_id.map_or(Value::Null, Value::String);
    Ok((
        Ordered(vec![
            ("finalized", Value::Bool(finalized)),
            ("reason", json!(reason)),
            ("agent_id", json!(agent_id)),
            (
                "outcome",
                if finalized {
                    json!(outcome)
                } else {
                    Value::Null
                },
            ),
            ("task_id", task),
        ])
        .boxed(),
        format!("{agent_id}: {reason} as {outcome} (exit code {exit_code})"),
    ))
}

/// Claude Code's SubagentStop: the subagent's token usage from its transcript, then finalize
/// its session as completed with its last message as summary.
pub(super) fn claude_subagent_stop(lc: &Lifecycle, input: &Map<String, Value>) -> Answer {
    let session_id = opt_str(input, "session_id")?.ok_or("missing field session_id")?;
    let claude_agent = opt_str(input, "agent_id")?;
    let agent_type = opt_str(input, "agent_type")?.filter(|s| !s.is_empty());
    let transcript = opt_str(input, "agent_transcript_path")?;
    let last_message = opt_str(input, "last_assistant_message")?;

    let mut id = match claude_agent {
        Some(a) => lc
            .find_latest(None, &[("claude_agent_id", a)], false)
            .map_err(|e| e.to_string())?,
        None => None,
    };
    if id.is_none() {
        id = lc
            .find_latest(agent_type, &[("claude_session_id", session_id)], true)
            .map_err(|e| e.to_string())?;
    }
    let mut notes = Vec::new();
    let id = match id {
        Some(id) => id,
        None => {
            let mut metadata = Map::new();
            metadata.insert("source".into(), json!("claude-code"));
            metadata.insert("claude_session_id".into(), json!(session_id));
            notes.push("no tracked session: created one".to_string());
            lc.create_session(&NewLifecycle {
                agent_id: None,
                agent_name: json!(agent_type.unwrap_or("unknown")),
                purpose: Value::Null,
                metadata,
            })
            .map_err(|e| e.to_string())?
        }
    };
    let mut fields = Vec::new();
    let usage_note = match transcript {
        Some(path) => transcript_usage(path, &mut fields, &mut notes),
        None => Some("no agent_transcript_path: usage not recorded".to_string()),
    };
    if let Some(n) = &usage_note {
        // In the record too, so a missing usage is explained where it is missing.
        fields.push(("usage_note", json!(n)));
        notes.push(n.clone());
    } else if lc
        .get_session(&id)
        .map_err(|e| e.to_string())?
        .is_some_and(|d| d.get("usage_note").is_some_and(|n| !n.is_null()))
    {
        // The hook ran again and got the usage this time: the old note is wrong now.
        fields.push(("usage_note", Value::Null));
    }
    let mut meta = Map::new();
    if let Some(a) = claude_agent {
        meta.insert("claude_agent_id".into(), json!(a));
    }
    if let Some(p) = transcript {
        meta.insert("agent_transcript_path".into(), json!(p));
    }
    let summary = last_message.map_or(Value::Null, |m| json!(truncate(m, MAX_SUMMARY_CHARS)));
    lc.apply(
        &id,
        &Update {
            metadata: Some(&meta),
            fields,
            finalize: Some(("completed", summary)),
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let mut log = format!(
        "{}: finalized {id} as completed",
        agent_type.unwrap_or("subagent")
    );
    if !notes.is_empty() {
        log.push_str(&format!(" ({})", notes.join("; ")));
    }
    Ok((json!({}).boxed(), log))
}

/// Waits for the subagent's transcript to be complete (see `transcript_wait`), then
/// pushes its usage onto `fields`. Returns a note when the usage is missing or may be
/// incomplete; other remarks go to `notes`.
fn transcript_usage(
    path: &str,
    fields: &mut Vec<(&'static str, Value)>,
    notes: &mut Vec<String>,
) -> Option<String> {
    use crate::api::lifecycle::transcript_wait::{
        deadline_from_env, wait_for_final_message, Outcome,
    };
    let (deadline, warning) = deadline_from_env();
    notes.extend(warning);
    let started = std::time::Instant::now();
    let outcome = wait_for_final_message(std::path::Path::new(path), deadline);
    let waited = format!("{:.1} s", started.elapsed().as_secs_f64());
    match crate::services::usage::claude_transcript_usage(std::path::Path::new(path)) {
        Ok(Some(mut u)) if u.has_tokens() => {
            crate::services::usage::fill_cost(&mut u);
            let mut v = serde_json::to_value(&u).expect("usage serializes");
            v["total_tokens"] = json!(u.total_tokens());
            fields.push(("usage", v));
            (outcome == Outcome::TimedOut).then(|| {
                format!(
                    "usage may be incomplete: transcript {path} did not end with the subagent's final message within {waited}"
                )
            })
        }
        Ok(Some(_)) => Some(format!(
            "usage not recorded: transcript {path} had no assistant message with usage after {waited}"
        )),
        Ok(None) => Some(format!(
            "usage not recorded: transcript {path} does not exist (waited {waited})"
        )),
        Err(e) => Some(format!("usage not recorded: {e}")),
    }
}
