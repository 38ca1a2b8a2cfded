//! Reading telemetry back: the per-session summary and the stored samples.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::schema::{store_err, tables_exist};
use crate::model::error::Result;
use crate::model::record::SessionRecord;
use crate::services::resources::ResourceSample;
use crate::services::usage::TokenUsage;
use crate::store::Store;

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
    pub exit_code: Option<i32>,
    /// Samples taken (including ones since thinned out of `resource_samples`).
    pub sample_count: u64,
    /// Cumulative CPU time of the tree, including what it used before the first sample.
    pub cpu_time_ms: Option<u64>,
    /// Cumulative I/O of the tree as of the last sample (never decreasing).
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
    pub io_read_chars: Option<u64>,
    pub io_write_chars: Option<u64>,
    /// The last sample taken while the tree had live processes.
    pub last_sample: Option<ResourceSample>,
    pub workspace_bytes_used: Option<u64>,
    /// False when the walk's budget cut it short (`workspace_bytes_used` is a lower bound).
    pub workspace_complete: Option<bool>,
    /// Unix ms of the workspace walk.
    pub workspace_at_ms: Option<i64>,
    pub tokens_input: Option<u64>,
    pub tokens_output: Option<u64>,
    pub tokens_cache_read: Option<u64>,
    pub tokens_cache_write: Option<u64>,
    pub cost_usd: Option<f64>,
    /// True when `cost_usd` comes from the price table rather than from the agent.
    pub cost_estimated: bool,
    /// Where the token figures come from, e.g. `claude-transcript+price-table:2026-11-01`.
    pub usage_source: Option<String>,
    pub usage_model: Option<String>,
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
        }
    }
}

/// One stored sample, with the workspace size when a walk was done with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    #[serde(flatten)]
    pub sample: ResourceSample,
    pub workspace_bytes_used: Option<u64>,
}

fn u(v: Option<i64>) -> Option<u64> {
    v.map(|n| n.max(0) as u64)
}

/// The telemetry of `record`'s session, from the store only (no file is read; token figures
/// are those cached by the last [`super::usage_for`]). Works the same after the session ended.
pub fn telemetry_for(store: &Store, record: &SessionRecord) -> Result<Telemetry> {
    let mut t = Telemetry {
        duration_ms: duration_ms(record),
        exit_code: record.exit_code,
        ..Default::default()
    };
    if !tables_exist(store)? {
        return Ok(t);
    }
    let row = store
        .connection()
        .prepare_cached(
            "SELECT sample_count, cpu_busy_ms, sampled_ms, peak_memory_rss_bytes, last_sample,
                cpu_time_ms, io_read_bytes, io_write_bytes, io_read_chars, io_write_chars,
                workspace_bytes_used, workspace_complete, workspace_at_ms,
                tokens_input, tokens_output, tokens_cache_read, tokens_cache_write, cost_usd,
                cost_estimated, usage_source, usage_model, usage_at_ms
             FROM telemetry WHERE session_id = ?1",
        )
        .and_then(|mut st| {
            st.query_row([&record.session_id], |r| {
                let sample_count: i64 = r.get(0)?;
                let busy: f64 = r.get(1)?;
                let sampled: i64 = r.get(2)?;
                let last: Option<String> = r.get(4)?;
                Ok(Telemetry {
                    sample_count: sample_count.max(0) as u64,
                    avg_cpu_percent: (sampled > 0).then(|| busy / sampled as f64 * 100.0),
                    peak_memory_rss_bytes: u(r.get(3)?),
                    last_sample: last.and_then(|s| serde_json::from_str(&s).ok()),
                    cpu_time_ms: u(r.get(5)?),
                    io_read_bytes: u(r.get(6)?),
                    io_write_bytes: u(r.get(7)?),
                    io_read_chars: u(r.get(8)?),
                    io_write_chars: u(r.get(9)?),
                    workspace_bytes_used: u(r.get(10)?),
                    workspace_complete: r.get::<_, Option<i64>>(11)?.map(|c| c != 0),
                    workspace_at_ms: r.get(12)?,
                    tokens_input: u(r.get(13)?),
                    tokens_output: u(r.get(14)?),
                    tokens_cache_read: u(r.get(15)?),
                    tokens_cache_write: u(r.get(16)?),
                    cost_usd: r.get(17)?,
                    cost_estimated: r.get::<_, Option<i64>>(18)?.unwrap_or(0) != 0,
                    usage_source: r.get(19)?,
                    usage_model: r.get(20)?,
                    usage_at_ms: r.get(21)?,
                    ..Default::default()
                })
            })
            .optional()
        })
        .map_err(|e| store_err(store, e))?;
    if let Some(row) = row {
        t = Telemetry {
            duration_ms: t.duration_ms,
            exit_code: t.exit_code,
            ..row
        };
    }
    Ok(t)
}

/// Stored samples of a session with `at_ms >= since_ms`, oldest first, at most `limit`.
pub fn samples(
    store: &Store,
    session_id: &str,
    since_ms: i64,
    limit: usize,
) -> Result<Vec<SampleRow>> {
    if !tables_exist(store)? {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = store
        .connection()
        .prepare_cached(
            "SELECT at_ms, cpu_percent, memory_rss_bytes, memory_vsz_bytes, io_read_bytes,
                io_write_bytes, io_read_chars, io_write_chars, process_count, workspace_bytes_used
             FROM resource_samples WHERE session_id = ?1 AND at_ms >= ?2
             ORDER BY at_ms LIMIT ?3",
        )
        .map_err(|e| store_err(store, e))?;
    let rows = st
        .query_map(params![session_id, since_ms, limit], |r| {
            Ok(SampleRow {
                sample: ResourceSample {
                    at_ms: r.get(0)?,
                    cpu_percent: r.get(1)?,
                    memory_rss_bytes: u(r.get(2)?).unwrap_or(0),
                    memory_vsz_bytes: u(r.get(3)?).unwrap_or(0),
                    io_read_bytes: u(r.get(4)?).unwrap_or(0),
                    io_write_bytes: u(r.get(5)?).unwrap_or(0),
                    io_read_chars: u(r.get(6)?).unwrap_or(0),
                    io_write_chars: u(r.get(7)?).unwrap_or(0),
                    process_count: r.get::<_, i64>(8)?.clamp(0, u32::MAX as i64) as u32,
                },
                workspace_bytes_used: u(r.get(9)?),
            })
        })
        .map_err(|e| store_err(store, e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| store_err(store, e))
}

/// `started_at` to `ended_at`, or to now when the session has not ended; `None` when it never
/// started.
pub fn duration_ms(record: &SessionRecord) -> Option<i64> {
    let start = record.started_at.as_deref()?;
    let start = crate::model::clock::parse_iso(start)?;
    let end = match record.ended_at.as_deref() {
        Some(e) => crate::model::clock::parse_iso(e)?,
        None if record.state.is_ended() => return None,
        None => chrono::Utc::now(),
    };
    Some((end - start).num_milliseconds().max(0))
}
