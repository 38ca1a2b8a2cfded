//! opencode: `opencode run --format json` events and the SQLite database
//! `~/.local/share/opencode/opencode.db` (`$XDG_DATA_HOME/opencode/opencode.db`).
//!
//! No capture available; shape from public docs/source (opencode's session processor and its
//! drizzle schema: tables `session(id, parent_id, directory, time_created, ...)`,
//! `message(id, session_id, time_created, time_updated, data)` and
//! `part(id, message_id, session_id, time_created, time_updated, data)`, `data` being JSON).
//! opencode's token figures already follow the Claude convention: `tokens.input` excludes
//! `tokens.cache.read`/`write` (opencode subtracts them for providers that include them).
//! Each model step writes a `step-finish` part with that step's `tokens` and `cost`; the
//! assistant message keeps the accumulated `cost` but only the *last* step's `tokens`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::model::error::{Error, Result};

use super::cost::{note_sum_too_large, CostSum};
use super::{
    for_each_line, json_u64, system_time_ms, ModelTally, TokenUsage, Tokens, START_SLACK_MS,
};

/// `{input, output, reasoning, cache: {read, write}}` → Tokens (reasoning added to output).
fn opencode_tokens(t: &Value) -> Tokens {
    let output = json_u64(t.get("output"));
    let reasoning = json_u64(t.get("reasoning"));
    Tokens {
        input: json_u64(t.get("input")),
        output: match (output, reasoning) {
            (None, None) => None,
            (o, r) => Some(o.unwrap_or(0).saturating_add(r.unwrap_or(0))),
        },
        cache_read: json_u64(t.pointer("/cache/read")),
        cache_write: json_u64(t.pointer("/cache/write")),
    }
}

/// Sums opencode's per-step cost figures. A total of 0 with non-zero tokens means opencode had
/// no price for the model (local/unknown providers report 0), so it is treated as unknown
/// (`None`) and [`super::fill_cost`] may estimate it. A sum past the believable is unknown
/// too, and `source` says so (see `usage::cost`).
fn finish_cost(u: &mut TokenUsage, cost: &CostSum, tokens: &Tokens) {
    if cost.too_large() {
        note_sum_too_large(u);
    }
    u.cost_usd = match cost.total() {
        Some(c) if c > 0.0 || tokens.weight() == 0 => Some(c),
        _ => None,
    };
    u.cost_estimated = false;
}

/// Parses `opencode run --format json` output: every `step_finish` event
/// (`{"type":"step_finish","part":{"type":"step-finish","tokens":{...},"cost":...}}`) is one
/// model step, and steps are summed. No capture available; shape from public docs/source.
pub fn parse_opencode_run_jsonl<R: BufRead>(reader: R) -> std::io::Result<TokenUsage> {
    let mut total = Tokens::default();
    let mut cost = CostSum::default();
    let mut tally = ModelTally::new();
    let skipped = for_each_line(reader, |line| {
        let v: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(_) => return false,
        };
        let ty = v.get("type").and_then(Value::as_str).unwrap_or("");
        let part = v.get("part").unwrap_or(&v);
        let pty = part.get("type").and_then(Value::as_str).unwrap_or("");
        if ty == "step_finish" || ty == "step-finish" || pty == "step-finish" {
            if let Some(t) = part.get("tokens").filter(|t| t.is_object()) {
                let t = opencode_tokens(t);
                total.add(&t);
                if let Some(m) = part
                    .get("modelID")
                    .or_else(|| v.get("modelID"))
                    .and_then(Value::as_str)
                {
                    tally.add(m, t.weight());
                }
            }
            // A cost that is not one leaves the line's tokens counted, the line malformed.
            return cost.add(part.get("cost"));
        }
        true
    })?;
    let mut u = TokenUsage::with_source("opencode-run-json");
    u.apply(&total);
    finish_cost(&mut u, &cost, &total);
    u.model = tally.best();
    u.skipped_lines = skipped;
    Ok(u)
}

/// opencode's database: `<data_home>/opencode/opencode.db` where `data_home` is
/// `$XDG_DATA_HOME` when set, else `<home>/.local/share`.
pub fn opencode_db_path(data_home: Option<&Path>, home: &Path) -> PathBuf {
    match data_home {
        Some(d) if !d.as_os_str().is_empty() => d.join("opencode").join("opencode.db"),
        _ => home.join(".local/share/opencode/opencode.db"),
    }
}

fn open_db(path: &Path) -> Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_err(path, e))?;
    // opencode writes concurrently (WAL); wait briefly instead of failing on a busy database
    let _ = conn.busy_timeout(Duration::from_millis(1000));
    Ok(Some(conn))
}

/// An opencode database that exists but cannot be read (not SQLite, locked too long, ...).
fn sql_err(path: &Path, source: rusqlite::Error) -> Error {
    Error::io(
        format!("cannot read opencode database {}", path.display()),
        std::io::Error::other(source),
    )
}

/// "no such table" / "no such column": the schema is not what we expect (older or newer
/// opencode, or a database that was never migrated).
fn is_schema_error(e: &rusqlite::Error) -> bool {
    let s = e.to_string();
    s.contains("no such table") || s.contains("no such column")
}

/// Reads `SELECT <one text column>` rows; `Ok(None)` when the schema does not fit.
fn query_strings(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Option<Vec<String>>> {
    let mut stmt = match conn.prepare(sql) {
        Ok(s) => s,
        Err(e) if is_schema_error(&e) => return Ok(None),
        Err(e) => return Err(sql_err(path, e)),
    };
    let rows = stmt
        .query_map(params, |r| {
            // data may be stored as TEXT or BLOB
            let v: rusqlite::types::Value = r.get(0)?;
            Ok(match v {
                rusqlite::types::Value::Text(s) => s,
                rusqlite::types::Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Real(f) => f.to_string(),
                rusqlite::types::Value::Null => String::new(),
            })
        })
        .map_err(|e| sql_err(path, e))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r.map_err(|e| sql_err(path, e))?);
    }
    Ok(Some(out))
}

/// Usage of an opencode session (and of its sub-agent child sessions, via `session.parent_id`)
/// read from opencode's SQLite database, opened read-only.
///
/// Tokens and cost are the sum of the session's `step-finish` parts (one per model step); when
/// there are none (older layout), the assistant messages' `tokens`/`cost` are summed instead
/// (their `tokens` then only cover each message's last step). `model` is the assistant
/// messages' `modelID` with the most tokens. Parts or messages whose `data` is not valid JSON,
/// or whose `cost` is not a cost (see `usage::cost`), are counted in `skipped_lines`.
///
/// `Ok(None)` when the database file does not exist, or lacks the `message`/`part` tables.
/// No capture available; shape from public docs/source.
pub fn opencode_db_usage(db: &Path, session_id: &str) -> Result<Option<TokenUsage>> {
    let Some(conn) = open_db(db)? else {
        return Ok(None);
    };
    // the session and its descendants (sub-agents); plain id when there is no parent_id column
    let tree = "WITH RECURSIVE tree(id) AS (SELECT ?1 UNION \
                SELECT s.id FROM session s JOIN tree t ON s.parent_id = t.id)";
    let sessions: Vec<String> = match query_strings(
        &conn,
        db,
        &format!("{tree} SELECT id FROM tree"),
        &[&session_id],
    )? {
        Some(ids) => ids,
        None => vec![session_id.to_string()],
    };

    let mut u = TokenUsage::with_source("opencode-db");
    let mut skipped = 0u64;
    let mut any_table = false;

    // messages: model, and the fallback figures
    let mut msg_tokens = Tokens::default();
    let mut msg_cost = CostSum::default();
    let mut tally = ModelTally::new();
    let mut part_tokens = Tokens::default();
    let mut part_cost = CostSum::default();
    let mut parts_seen = 0u64;
    for sid in &sessions {
        if let Some(rows) = query_strings(
            &conn,
            db,
            "SELECT data FROM message WHERE session_id = ?1 ORDER BY time_created, id",
            &[sid],
        )? {
            any_table = true;
            for data in rows {
                let Ok(v) = serde_json::from_str::<Value>(&data) else {
                    skipped += 1;
                    continue;
                };
                if v.get("role").and_then(Value::as_str) != Some("assistant") {
                    continue;
                }
                let t = v
                    .get("tokens")
                    .filter(|t| t.is_object())
                    .map(opencode_tokens)
                    .unwrap_or_default();
                msg_tokens.add(&t);
                if !msg_cost.add(v.get("cost")) {
                    skipped += 1;
                }
                if let Some(m) = v
                    .get("modelID")
                    .and_then(Value::as_str)
                    .or_else(|| v.pointer("/model/modelID").and_then(Value::as_str))
                {
                    tally.add(m, t.weight().max(1));
                }
            }
        }
        if let Some(rows) = query_strings(
            &conn,
            db,
            "SELECT data FROM part WHERE session_id = ?1 AND data LIKE '%step-finish%' \
             ORDER BY id",
            &[sid],
        )? {
            any_table = true;
            for data in rows {
                let Ok(v) = serde_json::from_str::<Value>(&data) else {
                    skipped += 1;
                    continue;
                };
                if v.get("type").and_then(Value::as_str) != Some("step-finish") {
                    continue;
                }
                parts_seen += 1;
                if let Some(t) = v.get("tokens").filter(|t| t.is_object()) {
                    part_tokens.add(&opencode_tokens(t));
                }
                if !part_cost.add(v.get("cost")) {
                    skipped += 1;
                }
            }
        }
    }
    if !any_table {
        return Ok(None);
    }
    let (tokens, cost) = if parts_seen > 0 {
        (part_tokens, part_cost)
    } else {
        (msg_tokens, msg_cost)
    };
    u.apply(&tokens);
    if !tokens.is_empty() || cost.seen() {
        finish_cost(&mut u, &cost, &tokens);
    }
    u.model = tally.best();
    u.skipped_lines = skipped;
    Ok(Some(u))
}

/// The opencode session started in `cwd` at or after `started_after` (minus slack), the
/// earliest such top-level session (`parent_id IS NULL`). `Ok(None)` when there is none, no
/// database, or no `session` table. Ambiguous if several sessions start in one directory at
/// once. No capture available; shape from public docs/source.
pub fn find_opencode_session(
    db: &Path,
    cwd: &Path,
    started_after: SystemTime,
) -> Result<Option<String>> {
    let Some(conn) = open_db(db)? else {
        return Ok(None);
    };
    let after = system_time_ms(started_after) - START_SLACK_MS;
    let dir = cwd.to_string_lossy().into_owned();
    let canon = cwd
        .canonicalize()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| dir.clone());
    for sql in [
        "SELECT id FROM session WHERE directory IN (?1, ?2) AND time_created >= ?3 \
         AND parent_id IS NULL ORDER BY time_created, id LIMIT 1",
        "SELECT id FROM session WHERE directory IN (?1, ?2) AND time_created >= ?3 \
         ORDER BY time_created, id LIMIT 1",
    ] {
        match query_strings(&conn, db, sql, &[&dir, &canon, &after])? {
            Some(ids) => return Ok(ids.into_iter().next()),
            None => continue,
        }
    }
    Ok(None)
}
