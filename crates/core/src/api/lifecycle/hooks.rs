//! The ready hooks, `pre_delegate` and `subagent_stop`: the whole logic, so the Python
//! modules (and any other front end) only pass stdin in and print the answer.
//!
//! Each hook understands two inputs:
//!
//! * the reference hook library's own: a delegation context
//!   `{agent_name, task_id, agent_id?, task_description, metadata}` for `pre_delegate`, task
//!   info `{task_id, agent, agent_id, exit_code?, output?}` for `subagent_stop`;
//! * Claude Code's hook input (recognized by `hook_event_name`): `PreToolUse` for the Task
//!   tool, and `SubagentStop`. For those the answer is in Claude Code's hook output format.
//!
//! A hook never blocks the orchestrator: malformed JSON, empty input, missing or mistyped
//! fields and store failures all give a JSON answer with `reason: "error"` (and exit status 0
//! in the front ends), and the problem goes to the hook log: `$AGENT_SESSIONS_HOOK_LOG`, else
//! `<home>/hooks.log`, one JSON object per line.
//!
//! For Claude Code's `SubagentStop`, the subagent's usage is read from its transcript
//! (`agent_transcript_path`) after waiting for Claude Code to append the last message, which
//! it does only after running the hook: usually no wait at all, at most 3 s
//! (`$AGENT_SESSIONS_TRANSCRIPT_WAIT` seconds, up to 30). When the usage cannot be had (or may
//! be incomplete) the record gets a `usage_note` saying why, and so does the log.

use super::{Lifecycle, NewLifecycle, ResumePolicy, Update};
use crate::config::home::Home;
use crate::model::clock::now_iso;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable naming the hook log file.
pub const HOOK_LOG_ENV: &str = "AGENT_SESSIONS_HOOK_LOG";
/// Environment variables overriding the resume thresholds for hooks.
pub const RESUME_MINUTES_ENV: &str = "AGENT_SESSIONS_RESUME_MINUTES";
pub const MAX_ERRORS_ENV: &str = "AGENT_SESSIONS_MAX_ERRORS";
pub const RESUMABLE_PHASES_ENV: &str = "AGENT_SESSIONS_RESUMABLE_PHASES";
/// Environment variable overriding how long `SubagentStop` waits for the transcript.
pub use super::transcript_wait::TRANSCRIPT_WAIT_ENV;

/// Longest summary taken from a subagent's output or last message.
const MAX_SUMMARY_CHARS: usize = 4000;
/// Longest resume context handed to Claude Code.
const MAX_CONTEXT_CHARS: usize = 6000;

/// The hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    PreDelegate,
    SubagentStop,
}

impl Hook {
    /// `pre_delegate` / `subagent_stop` (dashes accepted too).
    pub fn parse(name: &str) -> Option<Hook> {
        match name.replace('-', "_").as_str() {
            "pre_delegate" => Some(Hook::PreDelegate),
            "subagent_stop" => Some(Hook::SubagentStop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Hook::PreDelegate => "pre_delegate",
            Hook::SubagentStop => "subagent_stop",
        }
    }
}

/// Where the hooks keep sessions and logs, and when they resume.
#[derive(Debug, Clone, Default)]
pub struct HookOptions {
    /// Sessions home; the default home when `None`.
    pub home: Option<PathBuf>,
    /// Log file; `$AGENT_SESSIONS_HOOK_LOG` or `<home>/hooks.log` when `None`.
    pub log_path: Option<PathBuf>,
    pub policy: ResumePolicy,
}

impl HookOptions {
    /// Defaults, with the resume thresholds overridable by `AGENT_SESSIONS_RESUME_MINUTES`,
    /// `AGENT_SESSIONS_MAX_ERRORS` and `AGENT_SESSIONS_RESUMABLE_PHASES` (comma-separated).
    /// Unreadable values are ignored (and reported in the returned warnings).
    pub fn from_env() -> (HookOptions, Vec<String>) {
        let mut warnings = Vec::new();
        let mut policy = ResumePolicy::default();
        if let Ok(v) = std::env::var(RESUME_MINUTES_ENV) {
            match v.trim().parse::<f64>() {
                Ok(m) if m.is_finite() && m >= 0.0 => {
                    policy.max_idle = Duration::from_secs_f64(m * 60.0)
                }
                _ => warnings.push(format!("ignoring {RESUME_MINUTES_ENV}={v:?}")),
            }
        }
        if let Ok(v) = std::env::var(MAX_ERRORS_ENV) {
            match v.trim().parse::<i64>() {
                Ok(n) => policy.max_errors = n,
                _ => warnings.push(format!("ignoring {MAX_ERRORS_ENV}={v:?}")),
            }
        }
        if let Ok(v) = std::env::var(RESUMABLE_PHASES_ENV) {
            let phases: Vec<String> = v
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            if phases.iter().all(|p| super::validate_phase(p).is_ok()) {
                policy.resumable_phases = phases;
            } else {
                warnings.push(format!("ignoring {RESUMABLE_PHASES_ENV}={v:?}"));
            }
        }
        (
            HookOptions {
                home: None,
                log_path: None,
                policy,
            },
            warnings,
        )
    }
}

/// Runs `hook` on its raw standard input and returns the JSON text to print. Never fails and
/// never panics on any input; problems are logged and answered with `reason: "error"`.
pub fn run_hook(hook: Hook, input: &[u8], opts: &HookOptions) -> String {
    run_hook_with(hook, input, opts, &[])
}

/// [`run_hook`], also logging `warnings` (from [`HookOptions::from_env`]).
pub fn run_hook_with(hook: Hook, input: &[u8], opts: &HookOptions, warnings: &[String]) -> String {
    let mut log = HookLog::new(hook);
    for w in warnings {
        log.line("warning", w, None);
    }
    let parsed = parse_input(input);
    let lc = match &parsed {
        Ok(_) => match Lifecycle::open(opts.home.as_deref()) {
            Ok(lc) => Some(lc),
            Err(e) => {
                log.line(
                    "error",
                    &format!("cannot open the session store: {e}"),
                    None,
                );
                None
            }
        },
        Err(_) => None,
    };
    let answer = match (parsed, &lc) {
        (Err(msg), _) => {
            log.line("error", &msg, Some(excerpt(input)));
            error_answer(hook, None, &msg)
        }
        (Ok(v), None) => error_answer(hook, Some(&v), "cannot open the session store"),
        (Ok(v), Some(lc)) => {
            let obj = v.as_object().expect("parse_input returns objects");
            let event = obj.get("hook_event_name").and_then(Value::as_str);
            let result = match (hook, event) {
                (Hook::PreDelegate, Some("PreToolUse")) => {
                    claude_pre_tool_use(lc, obj, &opts.policy)
                }
                (Hook::SubagentStop, Some("SubagentStop")) => claude_subagent_stop(lc, obj),
                (_, Some(other)) => Ok((
                    json!({}).boxed(),
                    format!("ignored Claude Code event {other:?}: this hook does not handle it"),
                )),
                (Hook::PreDelegate, None) => pre_delegate(lc, obj, &opts.policy),
                (Hook::SubagentStop, None) => subagent_stop(lc, obj),
            };
            match result {
                Ok((answer, msg)) => {
                    log.line("info", &msg, None);
                    answer.to_string()
                }
                Err(msg) => {
                    log.line("error", &msg, Some(excerpt(input)));
                    error_answer(hook, Some(&v), &msg)
                }
            }
        }
    };
    let home_log = || {
        opts.home
            .clone()
            .map(Ok)
            .unwrap_or_else(|| Home::resolve(None).map(|h| h.root().to_path_buf()))
            .ok()
            .map(|h| h.join("hooks.log"))
    };
    let path = opts
        .log_path
        .clone()
        .or_else(|| {
            std::env::var_os(HOOK_LOG_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| lc.as_ref().map(|lc| lc.home().root().join("hooks.log")))
        .or_else(home_log);
    log.flush(path);
    answer
}

fn parse_input(input: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(input).map_err(|e| format!("input is not UTF-8: {e}"))?;
    if text.trim().is_empty() {
        return Err("empty input: expected a JSON object on stdin".into());
    }
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("malformed JSON on stdin: {e}"))?;
    if !v.is_object() {
        return Err("input must be a JSON object".into());
    }
    Ok(v)
}

fn excerpt(input: &[u8]) -> String {
    let s = String::from_utf8_lossy(&input[..input.len().min(500)]).into_owned();
    if input.len() > 500 {
        format!("{s}…")
    } else {
        s
    }
}

/// Collects log lines and appends them to the log file in one write.
struct HookLog {
    hook: Hook,
    lines: Vec<u8>,
}

impl HookLog {
    fn new(hook: Hook) -> HookLog {
        HookLog {
            hook,
            lines: Vec::new(),
        }
    }

    fn line(&mut self, level: &str, message: &str, input: Option<String>) {
        let mut v = json!({
            "at": now_iso(),
            "hook": self.hook.as_str(),
            "pid": std::process::id(),
            "level": level,
            "message": message,
        });
        if let Some(i) = input {
            v["input"] = Value::String(i);
        }
        self.lines.extend_from_slice(v.to_string().as_bytes());
        self.lines.push(b'\n');
    }

    fn flush(self, path: Option<PathBuf>) {
        if self.lines.is_empty() {
            return;
        }
        let written = path.is_some_and(|p| {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(p)
                .and_then(|mut f| f.write_all(&self.lines))
                .is_ok()
        });
        if !written {
            let _ = std::io::stderr().write_all(&self.lines);
        }
    }
}

/// A JSON object with keys in the given order.
struct Ordered(Vec<(&'static str, Value)>);

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl std::fmt::Display for Ordered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).expect("JSON values serialize"))
    }
}

/// An answer and what to log about it.
type Answer = Result<(Box<dyn std::fmt::Display>, String), String>;

trait IntoAnswer {
    fn boxed(self) -> Box<dyn std::fmt::Display>;
}

impl IntoAnswer for Ordered {
    fn boxed(self) -> Box<dyn std::fmt::Display> {
        Box::new(self)
    }
}

impl IntoAnswer for Value {
    fn boxed(self) -> Box<dyn std::fmt::Display> {
        Box::new(self)
    }
}

fn error_answer(hook: Hook, input: Option<&Value>, msg: &str) -> String {
    let given_id = input
        .and_then(|v| v.get("agent_id"))
        .and_then(Value::as_str)
        .map_or(Value::Null, |s| Value::String(s.into()));
    match hook {
        Hook::PreDelegate => Ordered(vec![
            ("should_resume", Value::Bool(false)),
            ("reason", json!("error")),
            ("agent_id", given_id),
            ("resume_metadata", Value::Null),
            ("original_context", input.cloned().unwrap_or(Value::Null)),
            ("error", json!(msg)),
        ]),
        Hook::SubagentStop => Ordered(vec![
            ("finalized", Value::Bool(false)),
            ("reason", json!("error")),
            ("agent_id", given_id),
            ("outcome", Value::Null),
            ("error", json!(msg)),
        ]),
    }
    .to_string()
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("field {key} must be a string, not {}", kind(other))),
    }
}

/// A string or a number, as text (task ids come both ways).
fn opt_text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!(
            "field {key} must be a string or a number, not {}",
            kind(other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

fn resume_metadata(doc: &super::LifecycleDoc) -> Value {
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

impl Ordered {
    /// As a value (key order is lost), for embedding in another answer.
    fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }
}

/// The reference delegation context.
fn pre_delegate(lc: &Lifecycle, input: &Map<String, Value>, policy: &ResumePolicy) -> Answer {
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
fn claude_pre_tool_use(
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

/// The reference task info: finalize on success and on failure.
fn subagent_stop(lc: &Lifecycle, input: &Map<String, Value>) -> Answer {
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
fn claude_subagent_stop(lc: &Lifecycle, input: &Map<String, Value>) -> Answer {
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

/// Waits for the subagent's transcript to be complete (see [`super::transcript_wait`]), then
/// pushes its usage onto `fields`. Returns a note when the usage is missing or may be
/// incomplete; other remarks go to `notes`.
fn transcript_usage(
    path: &str,
    fields: &mut Vec<(&'static str, Value)>,
    notes: &mut Vec<String>,
) -> Option<String> {
    use super::transcript_wait::{deadline_from_env, wait_for_final_message, Outcome};
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
