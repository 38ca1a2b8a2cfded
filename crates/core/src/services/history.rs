//! Reading a conversation from the agent's own records: Claude Code transcripts and Codex
//! rollouts (JSONL), streamed line by line only as far as a page needs.

use crate::model::error::{Error, Result};
use crate::model::message::{Message, MAX_PAGE};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// What a line parser returns: (role, text, time) for each message in the line.
pub type ParsedLine = Vec<(String, String, Option<String>)>;
/// Turns one transcript line into its messages.
pub type LineParser = fn(&Value) -> ParsedLine;

/// Reads messages `offset..offset+limit` from a JSONL transcript, with `parse` turning one
/// line into zero or more messages.
///
/// A line that is not JSON (not valid UTF-8, garbage, or a torn last line the agent is still
/// writing) holds no message and is skipped; the lines after it still count, as in the usage
/// parsers. A file that cannot be read is an error.
pub fn page_from_jsonl(
    path: &Path,
    offset: u64,
    limit: usize,
    parse: LineParser,
) -> Result<(Vec<Message>, Option<u64>)> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut out = Vec::new();
    let mut index = 0u64;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bytes, not `lines()`: one line that is not UTF-8 must not end the page early.
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        for (role, text, at) in parse(&v) {
            if index >= offset {
                if out.len() == limit {
                    return Ok((out, Some(index)));
                }
                out.push(Message {
                    index,
                    role,
                    text,
                    at,
                });
            }
            index += 1;
        }
    }
    Ok((out, None))
}

fn text_of_blocks(content: &Value, kinds: &[&str]) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| {
                b.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| kinds.contains(&t))
            })
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn timestamp(v: &Value) -> Option<String> {
    v.get("timestamp")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Messages of one line of a Claude Code project transcript: `user` and `assistant` lines
/// of the main chain (not sidechains, not meta lines), text blocks as text, tool calls and
/// results as `tool` messages.
pub fn parse_claude_line(v: &Value) -> ParsedLine {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "user" | "assistant")
        || v.get("isSidechain").and_then(Value::as_bool) == Some(true)
        || v.get("isMeta").and_then(Value::as_bool) == Some(true)
    {
        return Vec::new();
    }
    let Some(content) = v.get("message").and_then(|m| m.get("content")) else {
        return Vec::new();
    };
    let at = timestamp(v);
    let mut out = Vec::new();
    let text = text_of_blocks(content, &["text"]);
    if !text.trim().is_empty() {
        out.push((kind.to_string(), text, at.clone()));
    }
    if let Value::Array(blocks) = content {
        for b in blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("tool_use") => {
                    let name = b.get("name").and_then(Value::as_str).unwrap_or("tool");
                    let input = b.get("input").map(Value::to_string).unwrap_or_default();
                    out.push(("tool".into(), format!("{name} {input}"), at.clone()));
                }
                Some("tool_result") => {
                    let text = b
                        .get("content")
                        .map_or(String::new(), |c| text_of_blocks(c, &["text"]));
                    out.push(("tool".into(), text, at.clone()));
                }
                _ => {}
            }
        }
    }
    out
}

/// Messages of one line of a Codex rollout: `response_item` messages, without the
/// context Codex injects itself (environment, instructions).
pub fn parse_codex_line(v: &Value) -> ParsedLine {
    if v.get("type").and_then(Value::as_str) != Some("response_item") {
        return Vec::new();
    }
    let Some(p) = v.get("payload") else {
        return Vec::new();
    };
    if p.get("type").and_then(Value::as_str) != Some("message") {
        return Vec::new();
    }
    let role = p.get("role").and_then(Value::as_str).unwrap_or("");
    if !matches!(role, "user" | "assistant") {
        return Vec::new();
    }
    let text = text_of_blocks(
        p.get("content").unwrap_or(&Value::Null),
        &["input_text", "output_text", "text"],
    );
    let injected = [
        "<environment_context>",
        "<user_instructions>",
        "# AGENTS.md",
    ];
    if text.trim().is_empty() || injected.iter().any(|m| text.trim_start().starts_with(m)) {
        return Vec::new();
    }
    vec![(role.to_string(), text, timestamp(v))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_lines_become_messages() {
        let user: Value = serde_json::from_str(
            r#"{"type":"user","message":{"role":"user","content":"write a haiku"},"timestamp":"T"}"#,
        )
        .unwrap();
        assert_eq!(
            parse_claude_line(&user),
            vec![("user".into(), "write a haiku".into(), Some("T".into()))]
        );
        let side: Value =
            serde_json::from_str(r#"{"type":"user","isSidechain":true,"message":{"content":"x"}}"#)
                .unwrap();
        assert!(parse_claude_line(&side).is_empty());
        let tool: Value = serde_json::from_str(
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"ok"},{"type":"tool_use","name":"Bash","input":{"command":"ls"}}]}}"#,
        )
        .unwrap();
        let m = parse_claude_line(&tool);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].0, "tool");
        assert!(m[1].1.starts_with("Bash "));
    }

    #[test]
    fn codex_context_is_skipped() {
        let ctx: Value = serde_json::from_str(
            r#"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n</environment_context>"}]}}"#,
        )
        .unwrap();
        assert!(parse_codex_line(&ctx).is_empty());
    }

    /// A line that is not UTF-8 (or not JSON) is skipped, not the end of the transcript;
    /// a torn last line is skipped too.
    #[test]
    fn bad_lines_do_not_hide_later_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let user = |text: &str| {
            format!(r#"{{"type":"user","message":{{"role":"user","content":"{text}"}}}}"#)
        };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(user("one").as_bytes());
        bytes.extend_from_slice(b"\n\xff\xfe not utf-8\n");
        // Invalid UTF-8 inside a JSON string.
        bytes.extend_from_slice(b"{\"type\":\"user\",\"message\":{\"content\":\"\xc3\"}}\n");
        bytes.extend_from_slice(b"not json\r\n\n");
        bytes.extend_from_slice(user("two").as_bytes());
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(user("three").as_bytes());
        bytes.extend_from_slice(b"\n{\"type\":\"user\",\"mess"); // torn last line
        std::fs::write(&path, &bytes).unwrap();

        let (page, next) = page_from_jsonl(&path, 0, 10, parse_claude_line).unwrap();
        let texts: Vec<&str> = page.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        assert_eq!(next, None);
        // Paging across the skipped lines keeps the indexes dense.
        let (page, next) = page_from_jsonl(&path, 1, 1, parse_claude_line).unwrap();
        assert_eq!((page[0].index, page[0].text.as_str()), (1, "two"));
        assert_eq!(next, Some(2));
    }
}
