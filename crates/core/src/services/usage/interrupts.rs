//! Whether an agent's own session record shows an interrupted request: one whose stream was
//! cut off, which the API bills (what it processed) but which the agent reports to no one
//! (see `services::telemetry::otel_tokens`). Shapes as the pinned versions write them:
//!
//! | agent | record | the interrupt |
//! |---|---|---|
//! | Claude Code 2.1.197 | project transcript | a `user` message whose text is `[Request interrupted by user]` (not `... for tool use`, written when a tool, not a request, was cut off) |
//! | Codex 0.171.0 | rollout | an `event_msg` of type `turn_aborted` (also when a tool was cut off: a request may or may not have been in flight) |
//! | Gemini CLI 0.61.0 | chat | an `info` message `Request cancelled.` |
//!
//! A cheap substring test comes first; only matching lines are parsed. Unreadable files and
//! malformed lines show no interrupt.

use std::path::Path;

use serde_json::Value;

use super::{for_each_line, open_optional, OtelAgent};

const CLAUDE_MARK: &str = "[Request interrupted by user]";
const CODEX_MARK: &str = "turn_aborted";
const GEMINI_MARK: &str = "Request cancelled.";

/// See the module docs.
pub fn records_show_interrupt(agent: OtelAgent, path: &Path) -> bool {
    let Ok(Some(reader)) = open_optional(path) else {
        return false;
    };
    let mark = match agent {
        OtelAgent::Claude => CLAUDE_MARK,
        OtelAgent::Codex => CODEX_MARK,
        OtelAgent::Gemini => GEMINI_MARK,
    };
    let mut found = false;
    let _ = for_each_line(reader, |line| {
        if found || !contains(line, mark.as_bytes()) {
            return true;
        }
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            return false;
        };
        found = match agent {
            OtelAgent::Claude => claude_interrupt(&v),
            OtelAgent::Codex => {
                v.get("type").and_then(Value::as_str) == Some("event_msg")
                    && v.pointer("/payload/type").and_then(Value::as_str) == Some(CODEX_MARK)
            }
            OtelAgent::Gemini => {
                v.get("type").and_then(Value::as_str) == Some("info")
                    && v.get("content").and_then(Value::as_str) == Some(GEMINI_MARK)
            }
        };
        true
    });
    found
}

fn claude_interrupt(v: &Value) -> bool {
    if v.get("type").and_then(Value::as_str) != Some("user") {
        return false;
    }
    let is_mark = |t: Option<&str>| t.is_some_and(|t| t.trim() == CLAUDE_MARK);
    match v.pointer("/message/content") {
        Some(Value::String(s)) => is_mark(Some(s)),
        Some(Value::Array(parts)) => parts
            .iter()
            .any(|p| is_mark(p.get("text").and_then(Value::as_str))),
        _ => false,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(lines: &[&str]) -> (tempfile_dir::Dir, std::path::PathBuf) {
        let d = tempfile_dir::Dir::new();
        let p = d.0.join("r.jsonl");
        std::fs::write(&p, lines.join("\n")).unwrap();
        (d, p)
    }

    mod tempfile_dir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let p =
                    std::env::temp_dir().join(format!("as-interrupts-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn each_agents_mark() {
        let (_d, p) = file(&[
            r#"{"type":"user","message":{"content":"HOLD"}}"#,
            r#"{"type":"user","message":{"content":[{"type":"text","text":"[Request interrupted by user]"}]}}"#,
        ]);
        assert!(records_show_interrupt(OtelAgent::Claude, &p));
        let (_d, p) = file(&[
            r#"{"type":"user","message":{"content":[{"type":"text","text":"[Request interrupted by user for tool use]"}]}}"#,
            r#"{"type":"assistant","message":{"content":"[Request interrupted by user]"}}"#,
        ]);
        assert!(!records_show_interrupt(OtelAgent::Claude, &p));
        let (_d, p) = file(&[
            r#"{"type":"event_msg","payload":{"type":"turn_aborted","reason":"interrupted"}}"#,
        ]);
        assert!(records_show_interrupt(OtelAgent::Codex, &p));
        let (_d, p) = file(&[
            r#"{"type":"response_item","payload":{"text":"turn_aborted"}}"#,
            "{bad",
        ]);
        assert!(!records_show_interrupt(OtelAgent::Codex, &p));
        let (_d, p) = file(&[r#"{"id":"x","type":"info","content":"Request cancelled."}"#]);
        assert!(records_show_interrupt(OtelAgent::Gemini, &p));
        assert!(!records_show_interrupt(
            OtelAgent::Gemini,
            Path::new("/nonexistent/chat.jsonl")
        ));
    }
}
