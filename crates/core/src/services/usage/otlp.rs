//! Token usage from the agents' own OpenTelemetry log exports: every API request the agent
//! made, as it reported each one to the session's host (see `host::otlp`), which keeps them
//! one per line in `<session dir>/otel.jsonl`.
//!
//! The events, as the pinned versions send them over OTLP/HTTP JSON (captures in
//! `crates/core/tests/data/otlp/`):
//!
//! | agent | log record | figures |
//! |---|---|---|
//! | Claude Code 2.1.197 | body `claude_code.api_request` (`event.name` `api_request`) | `input_tokens` (uncached), `output_tokens`, `cache_read_tokens`, `cache_creation_tokens`, `cost_usd`, `model`, `query_source` |
//! | Codex 0.171.0 | `event.name` `codex.sse_event`, `event.kind` `response.completed`, with token counts (a twin record without them is ignored) | `input_token_count` (includes the cached), `cached_token_count`, `cache_write_token_count`, `output_token_count` (includes reasoning), `model` |
//! | Gemini CLI 0.61.0 | `event.name` `gemini_cli.api_response` | `input_token_count` (includes the cached), `cached_content_token_count`, `tool_token_count`, `output_token_count`, `thoughts_token_count`, `model`, `role` |
//!
//! Claude's title request, Codex's thread-title request (another thread than the rollout's)
//! and Gemini's routing classifier (`role` `utility_router`) are all among them, which is why
//! these figures are exact where the agents' session records are a lower bound.
//!
//! Figures follow the conventions of [`super`]: `input` is uncached input, `output`
//! includes reasoning. Numbers come as JSON numbers or strings (`intValue` is a string in
//! proto3 JSON; Codex sends `stringValue` digits); negative, fractional-infinite or
//! unparsable figures are no figure. A cost that is not a cost (negative, NaN, past
//! [`super::cost::MAX_COST_USD`]) is dropped and counted in `rejected`.

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::cost::{self, Figure};
use super::Tokens;

/// The agents whose OpenTelemetry exports the host understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtelAgent {
    Claude,
    Codex,
    Gemini,
}

impl OtelAgent {
    /// The built-in agent type of that name.
    pub fn from_type(agent_type: &str) -> Option<Self> {
        match agent_type {
            "claude" => Some(OtelAgent::Claude),
            "codex" => Some(OtelAgent::Codex),
            "gemini" => Some(OtelAgent::Gemini),
            _ => None,
        }
    }

    /// The `source` of figures from its exports.
    pub fn source(self) -> &'static str {
        match self {
            OtelAgent::Claude => "claude-otel",
            OtelAgent::Codex => "codex-otel",
            OtelAgent::Gemini => "gemini-otel",
        }
    }
}

/// One API request as the agent reported it, in the conventions of [`super`]; also one line
/// of [`super::OTEL_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OtelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<u64>,
    /// The agent's own cost of the request (Claude Code only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// What the request was for, as the agent says: Claude's `query_source`
    /// (`repl_main_thread`, ...), Gemini's `role` (`main`, `utility_router`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The user prompt it serves (Claude's `prompt.id`, Gemini's `prompt_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// When the agent logged it, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// A prompt the user submitted (Claude Code's `user_prompt` that is not a slash command,
/// Gemini's `gemini_cli.user_prompt`), or one the API answered with an error
/// (`api_error`): the sum checks that every prompt got its request (see
/// [`otel_usage`](super::otel_usage)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OtelPrompt {
    /// The prompt's id.
    pub id: String,
    /// An `api_error` for it, not its submission.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub errored: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

impl OtelRequest {
    pub(crate) fn tokens(&self) -> Tokens {
        Tokens {
            input: self.input,
            output: self.output,
            cache_read: self.cache_read,
            cache_write: self.cache_write,
        }
    }
}

/// What one export (`POST /v1/logs` body) held.
#[derive(Debug, Default)]
pub struct LogBatch {
    /// The token-bearing requests, each with a fingerprint of its log record (an exporter
    /// that retries sends the same record again; the host counts each fingerprint once).
    pub requests: Vec<(u64, OtelRequest)>,
    /// Prompts submitted or answered with an error, fingerprinted the same way.
    pub prompts: Vec<(u64, OtelPrompt)>,
    /// Log records in the batch, of any kind.
    pub records: usize,
    /// Figures dropped as not plausible (a negative or non-finite cost).
    pub rejected: u64,
}

/// Parses an OTLP/HTTP JSON logs export (`ExportLogsServiceRequest`) from `agent`. Records
/// of other shapes are ignored. Fails only when the body is not such a document.
pub fn parse_logs(agent: OtelAgent, body: &[u8]) -> std::result::Result<LogBatch, String> {
    let doc: LogsData = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut batch = LogBatch::default();
    for rl in &doc.resource_logs {
        for sl in &rl.scope_logs {
            for rec in &sl.log_records {
                batch.records += 1;
                if let Some(req) = request_of(agent, rec, &mut batch.rejected) {
                    batch.requests.push((fingerprint(rec), req));
                } else if let Some(p) = prompt_of(agent, rec) {
                    batch.prompts.push((fingerprint(rec), p));
                }
            }
        }
    }
    Ok(batch)
}

/// A prompt record (see [`OtelPrompt`]); Codex's carry no id to match, so none.
fn prompt_of(agent: OtelAgent, rec: &LogRecord) -> Option<OtelPrompt> {
    let name = rec.attr("event.name").and_then(any_str);
    let body = rec.body.as_ref().and_then(any_str);
    let text = |k: &str| rec.attr(k).and_then(any_str).map(str::to_string);
    let (id, errored) = match agent {
        OtelAgent::Claude => {
            let is = |n: &str| name == Some(n) || body == Some(&format!("claude_code.{n}"));
            if is("user_prompt") && rec.attr("command_name").is_none() {
                (text("prompt.id")?, false)
            } else if is("api_error") {
                (text("prompt.id")?, true)
            } else {
                return None;
            }
        }
        OtelAgent::Gemini => match name {
            Some("gemini_cli.user_prompt") => (text("prompt_id")?, false),
            Some("gemini_cli.api_error") => (text("prompt_id")?, true),
            _ => return None,
        },
        OtelAgent::Codex => return None,
    };
    Some(OtelPrompt {
        id,
        errored,
        at_ms: rec.at_ms(),
    })
}

fn request_of(agent: OtelAgent, rec: &LogRecord, rejected: &mut u64) -> Option<OtelRequest> {
    let name = rec.attr("event.name").and_then(any_str);
    let body = rec.body.as_ref().and_then(any_str);
    let num = |k: &str| rec.attr(k).and_then(any_u64);
    let text = |k: &str| rec.attr(k).and_then(any_str).map(str::to_string);
    let mut req = OtelRequest {
        model: text("model").filter(|m| !m.trim().is_empty()),
        at_ms: rec.at_ms(),
        ..Default::default()
    };
    match agent {
        OtelAgent::Claude => {
            if name != Some("api_request") && body != Some("claude_code.api_request") {
                return None;
            }
            req.input = num("input_tokens");
            req.output = num("output_tokens");
            req.cache_read = num("cache_read_tokens");
            req.cache_write = num("cache_creation_tokens");
            req.kind = text("query_source");
            req.prompt = text("prompt.id");
            let reported = rec.attr("cost_usd").and_then(any_f64).map(|c| {
                // A non-finite figure has no JSON number: keep it one that is rejected.
                serde_json::Number::from_f64(c).map_or(Value::from(-1), Value::Number)
            });
            match cost::figure(reported.as_ref()) {
                Figure::Cost(c) => req.cost_usd = Some(c),
                Figure::Rejected => *rejected += 1,
                Figure::Absent => {}
            }
        }
        OtelAgent::Codex => {
            let kind = rec.attr("event.kind").and_then(any_str);
            if name != Some("codex.sse_event") || kind != Some("response.completed") {
                return None;
            }
            let input = num("input_token_count");
            let cached = num("cached_token_count");
            let write = num("cache_write_token_count");
            req.input = input.map(|i| {
                i.saturating_sub(cached.unwrap_or(0))
                    .saturating_sub(write.unwrap_or(0))
            });
            req.output = num("output_token_count");
            req.cache_read = cached.or(input.map(|_| 0));
            req.cache_write = write;
        }
        OtelAgent::Gemini => {
            if name != Some("gemini_cli.api_response") {
                return None;
            }
            let input = num("input_token_count");
            let cached = num("cached_content_token_count");
            let tool = num("tool_token_count");
            req.input = input.map(|i| {
                i.saturating_sub(cached.unwrap_or(0))
                    .saturating_add(tool.unwrap_or(0))
            });
            req.output = num("output_token_count")
                .map(|o| o.saturating_add(num("thoughts_token_count").unwrap_or(0)));
            req.cache_read = cached.or(input.map(|_| 0));
            req.kind = text("role");
            req.prompt = text("prompt_id");
        }
    }
    // A record of the right name without any figure is not a billed request (Codex logs
    // each completion twice, once without counts).
    (!req.tokens().is_empty()).then_some(req)
}

/// A fingerprint of a log record: its times, body and attributes.
fn fingerprint(rec: &LogRecord) -> u64 {
    // DefaultHasher::new() has fixed keys: the same record always gives the same value.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    rec.time_unix_nano.to_string().hash(&mut h);
    rec.observed_time_unix_nano.to_string().hash(&mut h);
    rec.body.as_ref().map(Value::to_string).hash(&mut h);
    for a in &rec.attributes {
        a.key.hash(&mut h);
        a.value.as_ref().map(Value::to_string).hash(&mut h);
    }
    h.finish()
}

// OTLP/HTTP JSON (opentelemetry-proto's JSON mapping): lowerCamelCase names, snake_case
// accepted too; unknown fields ignored; `null` where a list belongs reads as empty.

#[derive(Deserialize)]
struct LogsData {
    #[serde(
        rename = "resourceLogs",
        alias = "resource_logs",
        default,
        deserialize_with = "list"
    )]
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Deserialize)]
struct ResourceLogs {
    #[serde(
        rename = "scopeLogs",
        alias = "scope_logs",
        default,
        deserialize_with = "list"
    )]
    scope_logs: Vec<ScopeLogs>,
}

#[derive(Deserialize)]
struct ScopeLogs {
    #[serde(
        rename = "logRecords",
        alias = "log_records",
        default,
        deserialize_with = "list"
    )]
    log_records: Vec<LogRecord>,
}

#[derive(Deserialize)]
struct LogRecord {
    #[serde(rename = "timeUnixNano", alias = "time_unix_nano", default)]
    time_unix_nano: Value,
    #[serde(
        rename = "observedTimeUnixNano",
        alias = "observed_time_unix_nano",
        default
    )]
    observed_time_unix_nano: Value,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default, deserialize_with = "list")]
    attributes: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct KeyValue {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<Value>,
}

fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl LogRecord {
    /// The first attribute named `key`.
    fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref())
    }

    /// The record's time in unix ms: `timeUnixNano`, else (when 0 or absent, as Codex sends
    /// it) `observedTimeUnixNano`.
    fn at_ms(&self) -> Option<i64> {
        [&self.time_unix_nano, &self.observed_time_unix_nano]
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .find(|&ns| ns > 0)
            .and_then(|ns| i64::try_from(ns / 1_000_000).ok())
    }
}

/// An `AnyValue`'s string.
fn any_str(v: &Value) -> Option<&str> {
    v.get("stringValue").and_then(Value::as_str)
}

/// An `AnyValue` as a count: `intValue` (a number or a string of digits), an integral
/// `doubleValue`, or a `stringValue` of digits. Negative or fractional: none.
fn any_u64(v: &Value) -> Option<u64> {
    if let Some(i) = v.get("intValue").or_else(|| v.get("stringValue")) {
        return match i {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
    }
    let f = any_f64(v)?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64)
}

/// An `AnyValue` as a number: `doubleValue` (a number, or a string such as "NaN" as proto3
/// JSON writes non-finite doubles), `intValue` or a numeric `stringValue`.
fn any_f64(v: &Value) -> Option<f64> {
    let x = v
        .get("doubleValue")
        .or_else(|| v.get("intValue"))
        .or_else(|| v.get("stringValue"))?;
    match x {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(attrs: &[(&str, Value)]) -> Value {
        serde_json::json!({
            "timeUnixNano": "1796190472120000000",
            "attributes": attrs.iter().map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect::<Vec<_>>(),
        })
    }

    fn doc(records: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}),
        )
        .unwrap()
    }

    #[test]
    fn numbers_in_every_encoding() {
        let s = |x: &str| serde_json::json!({ "stringValue": x });
        let i = |x: Value| serde_json::json!({ "intValue": x });
        let d = |x: Value| serde_json::json!({ "doubleValue": x });
        assert_eq!(any_u64(&s("1020")), Some(1020));
        assert_eq!(any_u64(&i(Value::from(7))), Some(7));
        assert_eq!(any_u64(&i(Value::from("300"))), Some(300));
        assert_eq!(any_u64(&i(Value::from(-3))), None);
        assert_eq!(any_u64(&i(Value::from("-3"))), None);
        assert_eq!(any_u64(&i(Value::from("99999999999999999999999"))), None);
        assert_eq!(any_u64(&d(Value::from(12.0))), Some(12));
        assert_eq!(any_u64(&d(Value::from(12.5))), None);
        assert_eq!(any_u64(&d(Value::from("NaN"))), None);
        assert_eq!(any_u64(&s("many")), None);
        assert!(any_f64(&d(Value::from("Infinity"))).is_some_and(|f| f.is_infinite()));
    }

    #[test]
    fn codex_counts_only_the_record_with_figures() {
        let name = serde_json::json!({"stringValue": "codex.sse_event"});
        let kind = serde_json::json!({"stringValue": "response.completed"});
        let body = doc(vec![
            rec(&[("event.name", name.clone()), ("event.kind", kind.clone())]),
            rec(&[
                ("event.name", name),
                ("event.kind", kind),
                (
                    "input_token_count",
                    serde_json::json!({"stringValue": "1020"}),
                ),
                ("cached_token_count", serde_json::json!({"intValue": "300"})),
                (
                    "output_token_count",
                    serde_json::json!({"stringValue": "22"}),
                ),
                (
                    "cache_write_token_count",
                    serde_json::json!({"intValue": "0"}),
                ),
                ("model", serde_json::json!({"stringValue": "gpt-standin"})),
            ]),
        ]);
        let b = parse_logs(OtelAgent::Codex, &body).unwrap();
        assert_eq!(b.records, 2);
        assert_eq!(b.requests.len(), 1);
        let r = &b.requests[0].1;
        assert_eq!(
            (r.input, r.cache_read, r.cache_write, r.output),
            (Some(720), Some(300), Some(0), Some(22))
        );
        assert_eq!(r.at_ms, Some(1796190472120));
        // Another agent's parser sees nothing in it.
        assert!(parse_logs(OtelAgent::Claude, &body)
            .unwrap()
            .requests
            .is_empty());
    }

    #[test]
    fn bad_documents_fail_and_odd_records_are_ignored() {
        assert!(parse_logs(OtelAgent::Claude, b"").is_err());
        assert!(parse_logs(OtelAgent::Claude, b"[1,2]").is_err());
        assert!(parse_logs(OtelAgent::Claude, b"{\"resourceLogs\": 5}").is_err());
        let b = parse_logs(OtelAgent::Claude, b"{\"resourceLogs\": null}").unwrap();
        assert_eq!(b.records, 0);
        let b = parse_logs(
            OtelAgent::Claude,
            b"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"attributes\":null,\"body\":null}]}]}]}",
        )
        .unwrap();
        assert_eq!((b.records, b.requests.len()), (1, 0));
    }
}
