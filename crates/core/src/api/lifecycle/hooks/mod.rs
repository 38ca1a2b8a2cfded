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

mod options;
mod pre_delegate;
mod subagent_stop;

pub use options::{
    HookOptions, HOOK_LOG_ENV, MAX_ERRORS_ENV, RESUMABLE_PHASES_ENV, RESUME_MINUTES_ENV,
    TRANSCRIPT_WAIT_ENV,
};
use pre_delegate::{claude_pre_tool_use, pre_delegate};
use subagent_stop::{claude_subagent_stop, subagent_stop};

use crate::api::lifecycle::Lifecycle;
use crate::config::home::Home;
use crate::model::clock::now_iso;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;

/// The hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Before a task is delegated to a sub-agent: starts or resumes its lifecycle record.
    PreDelegate,
    /// After a sub-agent stopped: finalizes its record with its summary and usage.
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

    /// The hook's name as the command line and the log write it (`pre_delegate`, `subagent_stop`).
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::PreDelegate => "pre_delegate",
            Hook::SubagentStop => "subagent_stop",
        }
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
