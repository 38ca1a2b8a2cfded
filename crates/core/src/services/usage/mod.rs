//! Token usage and cost of an agent session, read from what the agents themselves write.
//!
//! Two kinds of sources:
//!
//! * the agents' machine-readable output modes (`claude -p --output-format json|stream-json`,
//!   `codex exec --json`, `gemini --output-format json`, `opencode run --format json`), parsed
//!   from a string or a reader;
//! * the agents' own session records on disk (Claude Code project transcripts, Codex rollout
//!   files, Gemini CLI chat files, opencode's SQLite database), located and parsed by path.
//!
//! # Conventions (the same for every agent)
//!
//! * `tokens_input` counts **uncached** prompt tokens only, i.e. the tokens billed at the plain
//!   input rate. Cache reads and cache writes are reported separately in `tokens_cache_read` /
//!   `tokens_cache_write` and are *not* part of `tokens_input`. This is Anthropic's convention
//!   (Claude's `input_tokens` already excludes the cache). Codex and Gemini report an input
//!   figure that *includes* the cached tokens, so for them `tokens_input = input - cached`
//!   (saturating). The whole prompt size is therefore always
//!   `tokens_input + tokens_cache_read + tokens_cache_write`.
//!   Example from the captured fixtures (stand-in API: input 1234, cache read 700, cache write
//!   300, output 56): Claude gives input 1234 / read 700 / write 300; Codex reported
//!   `input_tokens 1234, cached_input_tokens 700`, which becomes input 534 / read 700 / write 0.
//! * `tokens_output` counts every billed output token, reasoning/thinking tokens included
//!   (Codex' `output_tokens` already includes `reasoning_output_tokens`; Gemini's `thoughts` and
//!   opencode's `reasoning` are added).
//! * A field is `None` when the source has no figure for it; with no token source at all every
//!   token field is `None` (never a made-up 0).
//! * `cost_usd` is the agent's own figure when it reports one (`cost_estimated == false`);
//!   [`fill_cost`] adds an estimate from the embedded price table otherwise. A reported figure
//!   that is negative, not finite or past the believable (over a billion USD) is not a cost:
//!   it counts as not reported. Figures that add up past that make the cost unknown, and
//!   `source` gets `+cost-unknown:sum-too-large` (see `cost.rs`).
//! * `source` names where the tokens came from (`claude-otel`, `codex-otel`, `gemini-otel`,
//!   `claude-print-json`, `claude-stream-json`, `claude-transcript`, `codex-exec-json`,
//!   `codex-rollout`, `gemini-json`, `gemini-chat`, `opencode-run-json`, `opencode-db`);
//!   [`fill_cost`] appends `+price-table:<version>`.
//! * `exact` is true only for the `*-otel` sources (every request the agent made, each as
//!   the agent reported it; see `otlp.rs`) when nothing is known to be missing; the other
//!   sources are the agent's own records, which miss requests (titles, routing, interrupted
//!   turns), so their figures are a lower bound.
//! * `skipped_lines` counts input lines (or documents) that were not valid JSON. They are
//!   skipped, never fatal. Valid JSON of an unknown or irrelevant shape is ignored silently
//!   and not counted. An unterminated last line that does not parse (a file still being
//!   written) is counted like any other malformed line. A line holding a cost figure that is
//!   not a cost (above) is counted too (once), its other figures still used.
//!
//! # Errors
//!
//! String parsers never fail (a malformed document gives all-`None` tokens and
//! `skipped_lines == 1`). Reader parsers fail only on I/O errors of the reader. Functions that
//! take a path return `Ok(None)` when the file (or database, or table) does not exist, and
//! the core's [`Error::Io`] (naming the file) when it exists but cannot be read. A record that exists but holds no usage
//! yet gives `Ok(Some(usage))` with all token fields `None`.

mod claude;
mod claude_paths;
mod codex;
mod cost;
mod gemini;
mod interrupts;
mod opencode;
mod otel_file;
mod otlp;
mod prices;

use crate::model::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

pub use crate::model::telemetry::TokenUsage;
pub use claude::{claude_transcript_usage, parse_claude_print_json, parse_claude_stream_json};
pub use claude_paths::{claude_project_slug, claude_transcript_path, find_claude_transcript};
pub use codex::{codex_rollout_usage, find_codex_rollout, parse_codex_exec_jsonl};
pub use gemini::{find_gemini_chat, gemini_chat_usage, parse_gemini_json};
pub use interrupts::records_show_interrupt;
pub use opencode::{
    find_opencode_session, opencode_db_path, opencode_db_usage, parse_opencode_run_jsonl,
};
pub use otel_file::{
    ended_line, lost_line, otel_usage, prompt_lines, request_lines, OtelLost, OTEL_FILE,
};
pub use otlp::{parse_logs, LogBatch, OtelAgent, OtelPrompt, OtelRequest};
pub use prices::{estimate_cost, fill_cost, price_table, ModelPrice, PriceTable};

impl TokenUsage {
    fn with_source(source: &str) -> Self {
        TokenUsage {
            source: Some(source.to_string()),
            ..Default::default()
        }
    }

    fn apply(&mut self, t: &Tokens) {
        self.tokens_input = t.input;
        self.tokens_output = t.output;
        self.tokens_cache_read = t.cache_read;
        self.tokens_cache_write = t.cache_write;
    }
}

/// Internal accumulator of the four token figures (None = no figure seen).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Tokens {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
}

impl Tokens {
    pub(crate) fn add(&mut self, o: &Tokens) {
        add_opt(&mut self.input, o.input);
        add_opt(&mut self.output, o.output);
        add_opt(&mut self.cache_read, o.cache_read);
        add_opt(&mut self.cache_write, o.cache_write);
    }

    pub(crate) fn max_with(&mut self, o: &Tokens) {
        max_opt(&mut self.input, o.input);
        max_opt(&mut self.output, o.output);
        max_opt(&mut self.cache_read, o.cache_read);
        max_opt(&mut self.cache_write, o.cache_write);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_none()
            && self.output.is_none()
            && self.cache_read.is_none()
            && self.cache_write.is_none()
    }

    /// Weight used to pick the dominant model of a mixed session.
    pub(crate) fn weight(&self) -> u64 {
        [self.input, self.output, self.cache_read, self.cache_write]
            .iter()
            .map(|v| v.unwrap_or(0))
            .fold(0u64, u64::saturating_add)
    }
}

pub(crate) fn add_opt(acc: &mut Option<u64>, v: Option<u64>) {
    if let Some(v) = v {
        *acc = Some(acc.unwrap_or(0).saturating_add(v));
    }
}

fn max_opt(acc: &mut Option<u64>, v: Option<u64>) {
    if let Some(v) = v {
        *acc = Some(acc.map_or(v, |a| a.max(v)));
    }
}

/// A JSON value as a token count: non-negative integers (or integral floats) only.
pub(crate) fn json_u64(v: Option<&serde_json::Value>) -> Option<u64> {
    let v = v?;
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f >= 0.0 => Some(f as u64),
        _ => None,
    }
}

/// Picks the model with the largest weight; ties keep the first seen.
pub(crate) struct ModelTally {
    models: Vec<(String, u64)>,
}

impl ModelTally {
    pub(crate) fn new() -> Self {
        ModelTally { models: Vec::new() }
    }

    pub(crate) fn add(&mut self, model: &str, weight: u64) {
        let model = model.trim();
        if model.is_empty() || model == "<synthetic>" {
            return;
        }
        if let Some(e) = self.models.iter_mut().find(|(m, _)| m == model) {
            e.1 = e.1.saturating_add(weight);
        } else {
            self.models.push((model.to_string(), weight));
        }
    }

    pub(crate) fn best(&self) -> Option<String> {
        let mut best: Option<&(String, u64)> = None;
        for e in &self.models {
            if best.is_none_or(|b| e.1 > b.1) {
                best = Some(e);
            }
        }
        best.map(|b| b.0.clone())
    }
}

/// Calls `f` with every non-blank line of `reader` (without the line terminator). `f` returns
/// `false` when the line is not valid JSON; such lines are counted and the count is returned.
/// Lines need not be valid UTF-8 (invalid ones are simply malformed JSON).
pub(crate) fn for_each_line<R: BufRead>(
    mut reader: R,
    mut f: impl FnMut(&[u8]) -> bool,
) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut skipped = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        let line = trim_ascii(&buf);
        if line.is_empty() {
            continue;
        }
        if !f(line) {
            skipped += 1;
        }
    }
    Ok(skipped)
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Opens a file for reading; a missing file is `Ok(None)`.
pub(crate) fn open_optional(path: &Path) -> Result<Option<BufReader<File>>> {
    match File::open(path) {
        Ok(f) => Ok(Some(BufReader::with_capacity(256 * 1024, f))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// A record file that exists but cannot be read.
pub(crate) fn io_err(path: &Path, source: io::Error) -> Error {
    Error::io(format!("cannot read {}", path.display()), source)
}

/// Reads the first line of a file, at most `cap` bytes of it.
pub(crate) fn read_first_line(path: &Path, cap: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = File::open(path).ok()?;
    let mut r = BufReader::new(f).take(cap as u64);
    let mut buf = Vec::new();
    r.read_until(b'\n', &mut buf).ok()?;
    Some(buf)
}

/// Compares two paths as given and, when both exist, canonicalized.
pub(crate) fn same_path(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    let strip = |p: &Path| PathBuf::from(p.to_string_lossy().trim_end_matches('/'));
    if strip(a) == strip(b) {
        return true;
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Unix milliseconds of an RFC 3339 timestamp.
pub(crate) fn rfc3339_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

pub(crate) fn system_time_ms(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Tolerance applied to "started after" comparisons (clock granularity, write latency).
pub(crate) const START_SLACK_MS: i64 = 5_000;
