//! Telemetry figures: token usage and cost, process-tree resource samples, and the
//! per-session summary, as every interface serializes them.

use serde::{Deserialize, Serialize};

/// Token counts and cost of one session, by the same conventions for every agent: a
/// figure is `null` when its source has none (never a made-up 0), and the whole prompt is
/// `tokens_input + tokens_cache_read + tokens_cache_write`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Uncached prompt tokens only (billed at the plain input rate; for agents that count
    /// cached tokens as input, the cached part is subtracted).
    pub tokens_input: Option<u64>,
    /// Output tokens, reasoning/thinking tokens included.
    pub tokens_output: Option<u64>,
    /// Prompt tokens read from the cache.
    pub tokens_cache_read: Option<u64>,
    /// Prompt tokens written to the cache.
    pub tokens_cache_write: Option<u64>,
    /// Cost in US dollars: the agent's own figure, or an estimate from the price table
    /// (see `cost_estimated`); `null` when neither is known.
    pub cost_usd: Option<f64>,
    /// True when `cost_usd` is estimated from the embedded price table rather than reported
    /// by the agent.
    pub cost_estimated: bool,
    /// e.g. "claude-print-json", "claude-transcript", "codex-rollout",
    /// "claude-transcript+price-table:2026-11-01"
    /// `null` when no token source was found.
    pub source: Option<String>,
    /// The model the tokens were spent on (the main one when there were several); `null`
    /// when the source does not say.
    pub model: Option<String>,
    /// Lines (or documents) of the source that were not valid JSON and were skipped.
    pub skipped_lines: u64,
    /// True when the token figures count every request the agent made, each as the agent
    /// itself reported it to the session's host over OpenTelemetry (`source` `claude-otel`,
    /// `codex-otel`, `gemini-otel`); while the session runs, as of the agent's last export.
    /// False: a lower bound (the agent's own records miss requests, such as title or
    /// routing requests, and interrupted turns). Derived from `source` (see
    /// [`source_is_exact`]).
    #[serde(default)]
    pub exact: bool,
}

/// The `source` tag an OpenTelemetry figure set ends its first part with (`claude-otel`).
pub const OTEL_SOURCE_SUFFIX: &str = "-otel";
/// Appended to an OpenTelemetry `source` (after a `+`) when some of the agent's requests may
/// be missing from it: `+lower-bound:<why>`.
pub const LOWER_BOUND_TAG: &str = "lower-bound";

/// Whether figures from `source` are exact (see [`TokenUsage::exact`]): an OpenTelemetry
/// source with no `lower-bound` part.
pub fn source_is_exact(source: Option<&str>) -> bool {
    let Some(s) = source else {
        return false;
    };
    let mut parts = s.split('+');
    parts
        .next()
        .is_some_and(|first| first.ends_with(OTEL_SOURCE_SUFFIX))
        && parts.all(|p| !p.starts_with(LOWER_BOUND_TAG))
}

impl TokenUsage {
    /// True when at least one token figure is known.
    pub fn has_tokens(&self) -> bool {
        self.tokens_input.is_some()
            || self.tokens_output.is_some()
            || self.tokens_cache_read.is_some()
            || self.tokens_cache_write.is_some()
    }

    /// Sum of all known token figures (prompt incl. cache, plus output).
    pub fn total_tokens(&self) -> Option<u64> {
        if !self.has_tokens() {
            return None;
        }
        Some(
            [
                self.tokens_input,
                self.tokens_output,
                self.tokens_cache_read,
                self.tokens_cache_write,
            ]
            .iter()
            .map(|v| v.unwrap_or(0))
            .fold(0u64, u64::saturating_add),
        )
    }
}

/// One sample of a process tree. Byte and I/O figures are cumulative totals since the sampler
/// was created (I/O: since each process started); `cpu_percent` is the average over the
/// interval since the previous sample (100 = one core fully busy; 0 on the first sample).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// Unix time in milliseconds.
    pub at_ms: i64,
    /// Average CPU of the tree since the previous sample (100 = one core; 0 on the first).
    pub cpu_percent: f64,
    /// Resident memory summed over the live tree processes, in bytes (as `ps` counts it).
    pub memory_rss_bytes: u64,
    /// Virtual memory size summed over the live tree processes, in bytes.
    pub memory_vsz_bytes: u64,
    /// Bytes fetched from storage (`read_bytes`).
    pub io_read_bytes: u64,
    /// Bytes sent to storage (`write_bytes`).
    pub io_write_bytes: u64,
    /// Bytes passed to read-like syscalls (`rchar`, includes pipes/ttys/page cache).
    pub io_read_chars: u64,
    /// Bytes passed to write-like syscalls (`wchar`).
    pub io_write_chars: u64,
    /// Live (non-zombie) processes in the tree.
    pub process_count: u32,
}

/// What a session cost and how it behaved. Every figure is `null` when nothing measured it
/// (no sampler ran, no token source was found); nothing is a made-up 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    /// `started_at` to `ended_at` (to now while the session runs).
    pub duration_ms: Option<i64>,
    /// Time-weighted average CPU of the process tree over the sampled time (100 = one core).
    pub avg_cpu_percent: Option<f64>,
    /// Highest tree RSS seen in any sample.
    pub peak_memory_rss_bytes: Option<u64>,
    /// The agent's exit status, as in the record; `null` while it runs or when a signal
    /// killed it.
    pub exit_code: Option<i32>,
    /// Samples taken (including ones since thinned out of `resource_samples`).
    pub sample_count: u64,
    /// Cumulative CPU time of the tree, including what it used before the first sample.
    pub cpu_time_ms: Option<u64>,
    /// Cumulative I/O of the tree as of the last sample (never decreasing).
    /// Bytes fetched from storage (see [`ResourceSample::io_read_bytes`]).
    pub io_read_bytes: Option<u64>,
    /// Bytes sent to storage (see [`ResourceSample::io_write_bytes`]).
    pub io_write_bytes: Option<u64>,
    /// Bytes passed to read-like syscalls (see [`ResourceSample::io_read_chars`]).
    pub io_read_chars: Option<u64>,
    /// Bytes passed to write-like syscalls (see [`ResourceSample::io_write_chars`]).
    pub io_write_chars: Option<u64>,
    /// The last sample taken while the tree had live processes.
    pub last_sample: Option<ResourceSample>,
    /// Apparent size in bytes of the regular files under `workspace_path` at the last
    /// walk; `null` before the first walk.
    pub workspace_bytes_used: Option<u64>,
    /// False when the walk's budget cut it short (`workspace_bytes_used` is a lower bound).
    pub workspace_complete: Option<bool>,
    /// Unix ms of the workspace walk.
    pub workspace_at_ms: Option<i64>,
    /// Uncached prompt tokens (see [`TokenUsage::tokens_input`]).
    pub tokens_input: Option<u64>,
    /// Output tokens, reasoning included.
    pub tokens_output: Option<u64>,
    /// Prompt tokens read from the cache.
    pub tokens_cache_read: Option<u64>,
    /// Prompt tokens written to the cache.
    pub tokens_cache_write: Option<u64>,
    /// Cost in US dollars (see `cost_estimated`); `null` when not known.
    pub cost_usd: Option<f64>,
    /// True when `cost_usd` comes from the price table rather than from the agent.
    pub cost_estimated: bool,
    /// Where the token figures come from, e.g. `claude-transcript+price-table:2026-11-01`.
    pub usage_source: Option<String>,
    /// The model the tokens were spent on (JSON `usage_model`; [`TokenUsage::model`]).
    pub usage_model: Option<String>,
    /// The token figures count every request (see [`TokenUsage::exact`]); false: a lower
    /// bound, or no figures.
    #[serde(default)]
    pub usage_exact: bool,
    /// Unix ms at which the token figures were read; `null` when never computed.
    pub usage_at_ms: Option<i64>,
}

impl Telemetry {
    /// Sum of the known token figures, `None` when none is known.
    pub fn total_tokens(&self) -> Option<u64> {
        let f = [
            self.tokens_input,
            self.tokens_output,
            self.tokens_cache_read,
            self.tokens_cache_write,
        ];
        if f.iter().all(Option::is_none) {
            return None;
        }
        Some(
            f.iter()
                .map(|v| v.unwrap_or(0))
                .fold(0, u64::saturating_add),
        )
    }

    /// The token part as a [`TokenUsage`].
    pub fn usage(&self) -> TokenUsage {
        TokenUsage {
            tokens_input: self.tokens_input,
            tokens_output: self.tokens_output,
            tokens_cache_read: self.tokens_cache_read,
            tokens_cache_write: self.tokens_cache_write,
            cost_usd: self.cost_usd,
            cost_estimated: self.cost_estimated,
            source: self.usage_source.clone(),
            model: self.usage_model.clone(),
            skipped_lines: 0,
            exact: self.usage_exact,
        }
    }
}

/// One stored sample, with the workspace size when a walk was done with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    /// The sample; its fields appear at the top level of the row's JSON.
    #[serde(flatten)]
    pub sample: ResourceSample,
    /// Apparent size in bytes of the workspace's files when a walk was done with this
    /// sample (for a thinned row: the minute's last); `null` otherwise.
    pub workspace_bytes_used: Option<u64>,
}

/// A session's token and cost totals at one moment: the points of its usage over time.
///
/// The session's host stores one whenever the figures it computes change: at the end of
/// each of the agent's turns (its move to `waiting_input`), at each look of a budget
/// watcher, and once after the agent ended. Each point is a running total, as the agent's
/// records gave it then (see [`TokenUsage`] for what the figures count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsagePoint {
    /// When the figures were computed, unix ms.
    pub at_ms: i64,
    /// Uncached prompt tokens so far.
    pub tokens_input: Option<u64>,
    /// Output tokens so far.
    pub tokens_output: Option<u64>,
    /// Prompt tokens read from the cache so far.
    pub tokens_cache_read: Option<u64>,
    /// Prompt tokens written to the cache so far.
    pub tokens_cache_write: Option<u64>,
    /// Sum of the known token figures; `null` when none is known.
    pub total_tokens: Option<u64>,
    /// Cost so far in US dollars; `null` when unknown.
    pub cost_usd: Option<f64>,
    /// True when `cost_usd` is estimated from the price table.
    pub cost_estimated: bool,
}

impl UsagePoint {
    /// The point of `u` at `at_ms`.
    pub fn new(at_ms: i64, u: &TokenUsage) -> Self {
        UsagePoint {
            at_ms,
            tokens_input: u.tokens_input,
            tokens_output: u.tokens_output,
            tokens_cache_read: u.tokens_cache_read,
            tokens_cache_write: u.tokens_cache_write,
            total_tokens: u.total_tokens(),
            cost_usd: u.cost_usd.filter(|c| c.is_finite()),
            cost_estimated: u.cost_estimated,
        }
    }

    /// Whether the two points hold the same figures (whenever they were taken).
    pub fn same_figures(&self, other: &UsagePoint) -> bool {
        UsagePoint {
            at_ms: 0,
            ..self.clone()
        } == UsagePoint {
            at_ms: 0,
            ..other.clone()
        }
    }
}

/// A figure set of one session as the interfaces return it: the figures plus `session_id`
/// and `total_tokens` (the sum of the known token figures, `null` when none is known), so
/// the CLI's `--json`, Python's dicts and the C ABI's JSON are one shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report<T> {
    /// The session the figures belong to.
    pub session_id: String,
    /// The figures; their fields appear at the top level of the JSON.
    #[serde(flatten)]
    pub figures: T,
    /// Sum of the known token figures; `null` when none is known.
    pub total_tokens: Option<u64>,
}

/// `agent-sessions usage --json`, `Session.usage()`, `as_session_usage`.
pub type UsageReport = Report<TokenUsage>;
/// `agent-sessions telemetry`, `Session.telemetry()`, `as_session_telemetry`.
pub type TelemetryReport = Report<Telemetry>;

impl UsageReport {
    /// The usage of `session_id` with its total.
    pub fn new(session_id: impl Into<String>, figures: TokenUsage) -> Self {
        let total_tokens = figures.total_tokens();
        Report {
            session_id: session_id.into(),
            figures,
            total_tokens,
        }
    }
}

impl TelemetryReport {
    /// The telemetry of `session_id` with its total.
    pub fn new(session_id: impl Into<String>, figures: Telemetry) -> Self {
        let total_tokens = figures.total_tokens();
        Report {
            session_id: session_id.into(),
            figures,
            total_tokens,
        }
    }
}

impl<T: Serialize> Report<T> {
    /// The JSON text every interface prints.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
