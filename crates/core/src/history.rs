//! Conversation history: a session's messages (role, text, time), read in pages.
//!
//! Taken from the agent's own records where they exist: Claude Code's project transcript
//! (`~/.claude/projects/<slug>/<session-id>.jsonl`) and Codex's rollout
//! (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*-<id>.jsonl`); see
//! `fixtures/agents/transcripts/`. Otherwise built by the session host: each text sent with
//! Enter is a `user` message, and the screen once the agent settles back to waiting is the
//! `assistant` message of that turn (table `messages`).
//!
//! Pages are read by streaming: a transcript file is read line by line only as far as the
//! page needs, and the stored messages by primary key, so a long history is never loaded
//! whole.

use crate::error::{Error, Result};
use crate::store::Store;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Most messages one page holds.
pub const MAX_PAGE: usize = 10_000;

/// Where a history came from.
pub mod source {
    pub const CLAUDE_TRANSCRIPT: &str = "claude-transcript";
    pub const CODEX_ROLLOUT: &str = "codex-rollout";
    /// Built by the host from input and settled screens.
    pub const SCREEN: &str = "screen";
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Position in the whole history, from 0.
    pub index: u64,
    /// `user`, `assistant` or `tool` (a tool call or its result).
    pub role: String,
    pub text: String,
    /// ISO 8601 UTC when known.
    pub at: Option<String>,
}

/// One page of a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub session_id: String,
    /// See [`source`].
    pub source: String,
    pub offset: u64,
    pub messages: Vec<Message>,
    /// The offset of the next page; `null` at the end.
    pub next_offset: Option<u64>,
}

impl HistoryPage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a history page always serializes")
    }
}

/// What a line parser returns: (role, text, time) for each message in the line.
pub type ParsedLine = Vec<(String, String, Option<String>)>;
/// Turns one transcript line into its messages.
pub type LineParser = fn(&Value) -> ParsedLine;

/// Reads messages `offset..offset+limit` from a JSONL transcript, with `parse` turning one
/// line into zero or more messages.
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
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break }; // a torn last line (agent still writing)
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
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

/// Appends a message inside a write transaction.
pub(crate) fn insert_message(
    tx: &rusqlite::Connection,
    session_id: &str,
    role: &str,
    text: &str,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO messages (session_id, seq, role, text, at, source)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages
                      WHERE session_id = ?1), ?2, ?3, ?4, 'screen')",
    )?
    .execute(params![session_id, role, text, crate::clock::now_iso()])
}

impl Store {
    /// Appends a message the host built (input sent, settled screen).
    pub fn add_message(&self, session_id: &str, role: &str, text: &str) -> Result<()> {
        self.write(|tx| insert_message(tx, session_id, role, text))?;
        Ok(())
    }

    /// Stored messages `offset..offset+limit` and the next offset.
    pub fn messages(
        &self,
        session_id: &str,
        offset: u64,
        limit: usize,
    ) -> Result<(Vec<Message>, Option<u64>)> {
        let limit = limit.clamp(1, MAX_PAGE);
        // seq is an i64: an offset past its range must not wrap to a negative one.
        let after = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT seq, role, text, at FROM messages
                 WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![session_id, after, limit as i64 + 1], |r| {
                Ok(Message {
                    index: r.get::<_, i64>(0)? as u64 - 1,
                    role: r.get(1)?,
                    text: r.get(2)?,
                    at: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        let next = (out.len() > limit).then(|| {
            out.truncate(limit);
            offset.saturating_add(limit as u64)
        });
        Ok((out, next))
    }
}

impl crate::SessionManager {
    /// Messages `offset..offset+limit` of a session's conversation (see the module docs for
    /// where they come from).
    pub fn history(&self, session_id: &str, offset: u64, limit: usize) -> Result<HistoryPage> {
        let rec = self.get(session_id)?;
        let env = crate::telemetry::UsageEnv::from_env();
        let cwd = std::path::PathBuf::from(rec.workspace_path.clone().unwrap_or_default());
        let asid = rec.agent_session_id.as_deref().filter(|s| !s.is_empty());
        let agent = rec.agent_type.as_deref().unwrap_or("");
        let own: Option<(&str, std::path::PathBuf, LineParser)> = match (agent, asid) {
            ("claude", Some(id)) => crate::usage::find_claude_transcript(
                env.claude_config_dir.as_deref(),
                &env.user_home,
                &cwd,
                id,
            )
            .map(|p| {
                (
                    source::CLAUDE_TRANSCRIPT,
                    p,
                    parse_claude_line as LineParser,
                )
            }),
            ("codex", Some(id)) => {
                let started = rec
                    .started_at
                    .as_deref()
                    .and_then(crate::clock::parse_iso)
                    .map(std::time::SystemTime::from)
                    .unwrap_or(std::time::UNIX_EPOCH);
                crate::usage::find_codex_rollout(&env.codex_home(), Some(id), &cwd, started)
                    .map(|p| (source::CODEX_ROLLOUT, p, parse_codex_line as LineParser))
            }
            _ => None,
        };
        let (source, (messages, next_offset)) = match own {
            Some((name, path, parse)) => (name, page_from_jsonl(&path, offset, limit, parse)?),
            None => (
                source::SCREEN,
                self.with_store(|s| s.messages(session_id, offset, limit))?,
            ),
        };
        Ok(HistoryPage {
            session_id: rec.session_id,
            source: source.to_string(),
            offset,
            messages,
            next_offset,
        })
    }
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
}
