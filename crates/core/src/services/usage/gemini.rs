//! Gemini CLI: `gemini --output-format json` and the chat records
//! `~/.gemini/tmp/<project>/chats/session-*.json[l]`.
//!
//! No capture available; shape from public docs/source (Gemini CLI's headless-mode docs and
//! its `chatRecordingService`: `TokensSummary {input, output, cached, thoughts?, tool?, total}`
//! where `input` is the API's `promptTokenCount`, which includes the cached tokens). The
//! parsers are deliberately tolerant: unknown or missing fields are ignored.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::model::error::Result;

use super::{
    json_u64, open_optional, read_first_line, rfc3339_ms, same_path, system_time_ms, ModelTally,
    TokenUsage, Tokens, START_SLACK_MS,
};

/// Converts one `stats.models.<model>.tokens` object of `--output-format json`.
/// Newer versions carry `input` (= prompt - cached); older ones only `prompt`.
/// `tool` (tool-use prompt tokens) is billed as input and added to it; `thoughts` are billed
/// as output and added to it.
fn stats_tokens(t: &Value) -> Tokens {
    let cached = json_u64(t.get("cached"));
    let prompt = json_u64(t.get("prompt"));
    let input =
        json_u64(t.get("input")).or_else(|| prompt.map(|p| p.saturating_sub(cached.unwrap_or(0))));
    let tool = json_u64(t.get("tool"));
    let candidates = json_u64(t.get("candidates"));
    let thoughts = json_u64(t.get("thoughts"));
    Tokens {
        input: input.map(|i| i.saturating_add(tool.unwrap_or(0))),
        output: candidates.map(|c| c.saturating_add(thoughts.unwrap_or(0))),
        cache_read: cached.or(input.map(|_| 0)),
        cache_write: None,
    }
}

/// Parses `gemini --output-format json` (`{"response": ..., "stats": {"models": {"<model>":
/// {"tokens": {...}}}}}`), summing over models; `model` is the one with the most tokens.
/// No capture available; shape from public docs/source.
///
/// Also accepts `--output-format stream-json` text (JSONL): the last `result` event's flat
/// `stats` (`input_tokens`, `output_tokens`, `cached`, `input`) is used and malformed lines
/// are counted in `skipped_lines`. Gemini reports no cost.
pub fn parse_gemini_json(json: &str) -> TokenUsage {
    let mut u = TokenUsage::with_source("gemini-json");
    match serde_json::from_str::<Value>(json.trim()) {
        Ok(v) => apply_stats(v.get("stats"), &mut u),
        Err(_) => {
            // maybe stream-json (one event per line)
            let mut last_result: Option<Value> = None;
            let mut skipped = 0;
            let mut any = false;
            for line in json.lines().map(str::trim).filter(|l| !l.is_empty()) {
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => {
                        any = true;
                        if v.get("type").and_then(Value::as_str) == Some("result") {
                            last_result = Some(v);
                        }
                    }
                    Err(_) => skipped += 1,
                }
            }
            if !any {
                u.skipped_lines = 1;
                return u;
            }
            u.skipped_lines = skipped;
            if let Some(r) = last_result {
                apply_stats(r.get("stats"), &mut u);
            }
        }
    }
    u
}

fn apply_stats(stats: Option<&Value>, u: &mut TokenUsage) {
    let Some(stats) = stats else { return };
    if let Some(models) = stats.get("models").and_then(Value::as_object) {
        let mut total = Tokens::default();
        let mut tally = ModelTally::new();
        for (model, m) in models {
            if let Some(t) = m.get("tokens").filter(|t| t.is_object()) {
                let t = stats_tokens(t);
                total.add(&t);
                tally.add(model, t.weight());
            }
        }
        u.apply(&total);
        u.model = tally.best();
    } else if stats.get("input_tokens").is_some() || stats.get("output_tokens").is_some() {
        // stream-json `result` stats
        let cached = json_u64(stats.get("cached"));
        let input = json_u64(stats.get("input")).or_else(|| {
            json_u64(stats.get("input_tokens")).map(|i| i.saturating_sub(cached.unwrap_or(0)))
        });
        u.apply(&Tokens {
            input,
            output: json_u64(stats.get("output_tokens")),
            cache_read: cached.or(input.map(|_| 0)),
            cache_write: None,
        });
    }
}

/// Tokens of one `type: "gemini"` chat message (`tokens.input` includes `tokens.cached`).
fn chat_tokens(t: &Value) -> Tokens {
    let cached = json_u64(t.get("cached"));
    let input = json_u64(t.get("input"));
    let tool = json_u64(t.get("tool"));
    let output = json_u64(t.get("output"));
    let thoughts = json_u64(t.get("thoughts"));
    Tokens {
        input: input.map(|i| {
            i.saturating_sub(cached.unwrap_or(0))
                .saturating_add(tool.unwrap_or(0))
        }),
        output: output.map(|o| o.saturating_add(thoughts.unwrap_or(0))),
        cache_read: cached.or(input.map(|_| 0)),
        cache_write: None,
    }
}

/// Usage recorded in a Gemini CLI chat file: either one JSON document
/// (`{"sessionId", "startTime", "messages": [...]}`, older versions) or JSONL (a header line,
/// one line per message, `{"$set": {...}}` update lines; newer versions). Messages of type
/// `gemini` with `tokens` are summed, each message `id` once (a message written again
/// replaces the earlier copy; messages dropped by a later `$set` still count, their tokens
/// were spent). No capture available; shape from public docs/source. Missing file: `Ok(None)`.
pub fn gemini_chat_usage(path: &Path) -> Result<Option<TokenUsage>> {
    let Some(mut reader) = open_optional(path)? else {
        return Ok(None);
    };
    let mut raw = Vec::new();
    reader
        .read_to_end(&mut raw)
        .map_err(|e| super::io_err(path, e))?;
    let mut u = TokenUsage::with_source("gemini-chat");
    let mut msgs = ChatMessages::default();
    match serde_json::from_slice::<Value>(&raw) {
        Ok(v) if v.get("messages").is_some() => {
            if let Some(arr) = v.get("messages").and_then(Value::as_array) {
                for m in arr {
                    msgs.add(m);
                }
            }
        }
        _ => {
            u.skipped_lines = super::for_each_line(&raw[..], |line| {
                let Ok(v) = serde_json::from_slice::<Value>(line) else {
                    return false;
                };
                if let Some(set) = v.get("$set") {
                    if let Some(arr) = set.get("messages").and_then(Value::as_array) {
                        for m in arr {
                            msgs.add(m);
                        }
                    }
                } else if v.get("type").is_some() {
                    msgs.add(&v);
                }
                true
            })
            .map_err(|e| super::io_err(path, e))?;
        }
    }
    let (total, model) = msgs.finish();
    u.apply(&total);
    u.model = model;
    Ok(Some(u))
}

#[derive(Default)]
struct ChatMessages {
    by_id: HashMap<String, (Tokens, Option<String>)>,
    anonymous: Vec<(Tokens, Option<String>)>,
}

impl ChatMessages {
    fn add(&mut self, m: &Value) {
        if m.get("type").and_then(Value::as_str) != Some("gemini") {
            return;
        }
        let Some(t) = m.get("tokens").filter(|t| t.is_object()) else {
            return;
        };
        let entry = (
            chat_tokens(t),
            m.get("model").and_then(Value::as_str).map(str::to_string),
        );
        match m.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {
                self.by_id.insert(id.to_string(), entry);
            }
            _ => self.anonymous.push(entry),
        }
    }

    fn finish(self) -> (Tokens, Option<String>) {
        let mut total = Tokens::default();
        let mut tally = ModelTally::new();
        for (t, m) in self.by_id.values().chain(self.anonymous.iter()) {
            total.add(t);
            if let Some(m) = m {
                tally.add(m, t.weight());
            }
        }
        (total, tally.best())
    }
}

/// Finds a Gemini CLI chat file under `gemini_dir` (`~/.gemini`; pass the right directory when
/// `GEMINI_CLI_HOME` is set), searching `tmp/<project>/chats/session-*.json[l]`.
///
/// * With `session_id`: the chat whose `sessionId` is that id (file names carry its first 8
///   characters).
/// * Without: among project directories whose `.project_root` file names `cwd` (directories
///   without that file, the older hash-named layout, are accepted too since the hash is not
///   recomputed here), the chat with the earliest `startTime` not before `started_after`
///   (minus slack). Ambiguous if several sessions start in one directory at once.
///
/// No capture available; layout from public docs/source.
pub fn find_gemini_chat(
    gemini_dir: &Path,
    session_id: Option<&str>,
    cwd: &Path,
    started_after: SystemTime,
) -> Option<PathBuf> {
    let tmp = gemini_dir.join("tmp");
    let after_ms = system_time_ms(started_after);
    let mut best: Option<(i64, PathBuf)> = None;
    for project in std::fs::read_dir(&tmp).ok()?.flatten() {
        let pdir = project.path();
        let chats = pdir.join("chats");
        let Ok(rd) = std::fs::read_dir(&chats) else {
            continue;
        };
        if session_id.is_none() {
            if let Ok(root) = std::fs::read_to_string(pdir.join(".project_root")) {
                if !same_path(Path::new(root.trim()), cwd) {
                    continue;
                }
            }
        }
        for f in rd.flatten() {
            let name = f.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with("session-")
                || !(name.ends_with(".json") || name.ends_with(".jsonl"))
            {
                continue;
            }
            let path = f.path();
            if let Some(id) = session_id {
                let short: String = id.chars().take(8).collect();
                if !name.contains(&short) {
                    continue;
                }
                if chat_header(&path).is_some_and(|(sid, _)| sid == id) {
                    return Some(path);
                }
                continue;
            }
            let recent = f
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| system_time_ms(t) >= after_ms - START_SLACK_MS)
                .unwrap_or(true);
            if !recent {
                continue;
            }
            let Some((_, Some(start))) = chat_header(&path) else {
                continue;
            };
            if start + START_SLACK_MS < after_ms {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| start < *b) {
                best = Some((start, path));
            }
        }
    }
    best.map(|b| b.1)
}

/// `(sessionId, startTime ms)` of a chat file, read from its beginning only.
fn chat_header(path: &Path) -> Option<(String, Option<i64>)> {
    let head = read_first_line(path, 64 * 1024)?;
    if let Ok(v) = serde_json::from_slice::<Value>(&head) {
        // JSONL header line, or a one-line JSON document
        let sid = v.get("sessionId")?.as_str()?.to_string();
        let start = v
            .get("startTime")
            .and_then(Value::as_str)
            .and_then(rfc3339_ms);
        return Some((sid, start));
    }
    // pretty-printed JSON document: pick the fields out of its first bytes
    let text = String::from_utf8_lossy(&head).into_owned();
    let text = if text.contains("\"sessionId\"") {
        text
    } else {
        let mut buf = vec![0u8; 4096];
        let mut f = std::fs::File::open(path).ok()?;
        let n = f.read(&mut buf).ok()?;
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let sid = string_field(&text, "sessionId")?;
    let start = string_field(&text, "startTime").and_then(|s| rfc3339_ms(&s));
    Some((sid, start))
}

fn string_field(text: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\"");
    let rest = &text[text.find(&pat)? + pat.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}
