//! Codex CLI: `codex exec --json` events and the rollout files
//! `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread-id>.jsonl`.
//! Shapes checked against real captures (Codex CLI 0.169.0).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::model::error::Result;

use super::{
    for_each_line, json_u64, open_optional, read_first_line, rfc3339_ms, same_path, system_time_ms,
    TokenUsage, Tokens, START_SLACK_MS,
};

/// Converts a Codex usage object. Codex' `input_tokens` *includes* `cached_input_tokens`
/// (capture: input 1234 of which 700 cached), so the uncached input is
/// `input_tokens - cached_input_tokens - cache_write_input_tokens` (saturating) and the cached
/// part goes to `tokens_cache_read`, matching the Claude convention (see the module docs).
/// `cache_write_input_tokens` is assumed to be part of `input_tokens` as well; no capture with
/// a non-zero value was available. `output_tokens` already includes `reasoning_output_tokens`.
fn codex_tokens(us: &Value) -> Tokens {
    let input = json_u64(us.get("input_tokens"));
    let cached = json_u64(us.get("cached_input_tokens"));
    let write = json_u64(us.get("cache_write_input_tokens"));
    Tokens {
        input: input.map(|i| {
            i.saturating_sub(cached.unwrap_or(0))
                .saturating_sub(write.unwrap_or(0))
        }),
        output: json_u64(us.get("output_tokens")),
        cache_read: cached.or(input.map(|_| 0)),
        cache_write: write,
    }
}

/// Parses `codex exec --json` output. `turn.completed.usage` is cumulative since the thread
/// started (Codex fills it from its running total), so the **last** `turn.completed` wins;
/// turns are not summed. The output names no model (`model` stays `None`) and no cost.
pub fn parse_codex_exec_jsonl<R: BufRead>(reader: R) -> std::io::Result<TokenUsage> {
    let mut last: Option<Tokens> = None;
    let skipped = for_each_line(reader, |line| {
        let v: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(_) => return false,
        };
        if v.get("type").and_then(Value::as_str) == Some("turn.completed") {
            if let Some(us) = v.get("usage").filter(|u| u.is_object()) {
                last = Some(codex_tokens(us));
            }
        }
        true
    })?;
    let mut u = TokenUsage::with_source("codex-exec-json");
    if let Some(t) = last {
        u.apply(&t);
    }
    u.skipped_lines = skipped;
    Ok(u)
}

/// Usage recorded in a Codex rollout file. `token_count` events carry the thread's cumulative
/// `info.total_token_usage`; the last one is taken. Files without any `token_count` fall back
/// to the last `token_usage_record.thread_token_usage` (also cumulative). `model` comes from
/// the last `turn_context` (else `thread_settings_applied`, else the session's base
/// instructions). No cost is recorded. Missing file: `Ok(None)`.
pub fn codex_rollout_usage(path: &Path) -> Result<Option<TokenUsage>> {
    let Some(reader) = open_optional(path)? else {
        return Ok(None);
    };
    let mut last_count: Option<Tokens> = None;
    let mut last_record: Option<Tokens> = None;
    let mut model_ctx: Option<String> = None;
    let mut model_other: Option<String> = None;
    let skipped = for_each_line(reader, |line| {
        let v: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(_) => return false,
        };
        let ty = v.get("type").and_then(Value::as_str).unwrap_or("");
        let payload = v.get("payload").unwrap_or(&Value::Null);
        let pty = payload.get("type").and_then(Value::as_str).unwrap_or("");
        match (ty, pty) {
            ("event_msg", "token_count") => {
                if let Some(t) = payload
                    .pointer("/info/total_token_usage")
                    .filter(|x| x.is_object())
                {
                    last_count = Some(codex_tokens(t));
                }
            }
            ("token_usage_record", _) => {
                if let Some(t) = payload.get("thread_token_usage").filter(|x| x.is_object()) {
                    last_record = Some(codex_tokens(t));
                }
            }
            ("turn_context", _) => {
                if let Some(m) = payload.get("model").and_then(Value::as_str) {
                    model_ctx = Some(m.to_string());
                }
            }
            ("event_msg", "thread_settings_applied") => {
                if let Some(m) = payload
                    .pointer("/thread_settings/model")
                    .and_then(Value::as_str)
                {
                    model_other = Some(m.to_string());
                }
            }
            ("session_meta", _) if model_other.is_none() => {
                if let Some(m) = payload
                    .pointer("/base_instructions/provenance/model")
                    .or_else(|| payload.get("model"))
                    .and_then(Value::as_str)
                {
                    model_other = Some(m.to_string());
                }
            }
            _ => {}
        }
        true
    })
    .map_err(|e| super::io_err(path, e))?;
    let mut u = TokenUsage::with_source("codex-rollout");
    if let Some(t) = last_count.or(last_record) {
        u.apply(&t);
    }
    u.model = model_ctx.or(model_other);
    u.skipped_lines = skipped;
    Ok(Some(u))
}

/// Finds the rollout file of a Codex session under `codex_home` (`$CODEX_HOME`, default
/// `~/.codex`).
///
/// * With `thread_id` (Codex' own id, e.g. from `thread.started` or `session_meta`): the file
///   `sessions/**/rollout-*-<thread_id>.jsonl` (then `archived_sessions/`), in any date
///   directory.
/// * Without: the rollout whose `session_meta` has this `cwd` and the earliest start time not
///   before `started_after` (minus a few seconds of slack). Only date directories from the day
///   before `started_after` on are read, and only files modified since then. When several
///   Codex sessions start in the same directory at the same moment this can pick the wrong
///   one; pass the thread id whenever it is known.
pub fn find_codex_rollout(
    codex_home: &Path,
    thread_id: Option<&str>,
    cwd: &Path,
    started_after: SystemTime,
) -> Option<PathBuf> {
    let sessions = codex_home.join("sessions");
    if let Some(id) = thread_id.filter(|id| !id.is_empty() && !id.contains('/')) {
        let suffix = format!("-{id}.jsonl");
        let matches = |name: &str| name.starts_with("rollout-") && name.ends_with(&suffix);
        for root in [sessions, codex_home.join("archived_sessions")] {
            // newest date directories first: a thread id is unique, the first hit is it
            for file in rollout_files(&root, None) {
                if file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(matches)
                {
                    return Some(file);
                }
            }
        }
        return None;
    }
    let after_ms = system_time_ms(started_after);
    let min_day = day_number(after_ms - 86_400_000);
    let mut best: Option<(i64, PathBuf)> = None;
    for file in rollout_files(&sessions, Some(min_day)) {
        let recent = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .map(|t| system_time_ms(t) >= after_ms - START_SLACK_MS)
            .unwrap_or(true);
        if !recent {
            continue;
        }
        let Some(line) = read_first_line(&file, 4 << 20) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        let meta = match v.get("payload") {
            Some(p) if v.get("type").and_then(Value::as_str) == Some("session_meta") => p,
            _ => &v, // early rollout format: the meta object is the first line itself
        };
        let Some(meta_cwd) = meta.get("cwd").and_then(Value::as_str) else {
            continue;
        };
        if !same_path(Path::new(meta_cwd), cwd) {
            continue;
        }
        let ts = meta
            .get("timestamp")
            .and_then(Value::as_str)
            .or_else(|| v.get("timestamp").and_then(Value::as_str))
            .and_then(rfc3339_ms);
        let Some(ts) = ts else { continue };
        if ts + START_SLACK_MS < after_ms {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| ts < *b) {
            best = Some((ts, file));
        }
    }
    best.map(|b| b.1)
}

/// Days since 1970-01-01 (UTC) of a unix-ms instant.
fn day_number(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

fn civil_day_number(y: i64, m: i64, d: i64) -> i64 {
    // days from civil (Howard Hinnant's algorithm)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `rollout-*.jsonl` files under `root/YYYY/MM/DD/`, newest date first. With `min_day`, date
/// directories before that day are not read. Unreadable directories are skipped.
fn rollout_files(root: &Path, min_day: Option<i64>) -> Vec<PathBuf> {
    fn numeric_dirs(p: &Path) -> Vec<(i64, PathBuf)> {
        let mut v: Vec<(i64, PathBuf)> = match std::fs::read_dir(p) {
            Ok(rd) => rd
                .flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_str()?.parse::<i64>().ok()?;
                    Some((n, e.path()))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort_by_key(|e| std::cmp::Reverse(e.0));
        v
    }
    let mut out = Vec::new();
    let mut flat: Vec<PathBuf> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root) {
        // some layouts (archived_sessions) keep files flat
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "jsonl") {
                flat.push(p);
            }
        }
    }
    for (y, yp) in numeric_dirs(root) {
        if min_day.is_some_and(|md| civil_day_number(y, 12, 31) < md) {
            continue;
        }
        for (m, mp) in numeric_dirs(&yp) {
            if min_day.is_some_and(|md| civil_day_number(y, m, days_in_month(y, m)) < md) {
                continue;
            }
            for (d, dp) in numeric_dirs(&mp) {
                if min_day.is_some_and(|md| civil_day_number(y, m, d) < md) {
                    continue;
                }
                let mut files: Vec<PathBuf> = match std::fs::read_dir(&dp) {
                    Ok(rd) => rd
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with("rollout-") && n.ends_with(".jsonl"))
                        })
                        .collect(),
                    Err(_) => Vec::new(),
                };
                files.sort_by(|a, b| b.cmp(a));
                out.extend(files);
            }
        }
    }
    flat.sort_by(|a, b| b.cmp(a));
    out.extend(flat);
    out
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(civil_day_number(1970, 1, 1), 0);
        assert_eq!(civil_day_number(2000, 3, 1), 11_017);
        let ms = rfc3339_ms("2026-11-21T22:51:49.968Z").unwrap();
        assert_eq!(day_number(ms), civil_day_number(2026, 11, 21));
    }
}
