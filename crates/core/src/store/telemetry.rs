//! The telemetry tables: resource samples with their retention rule, and the per-session
//! summary row (resources, workspace size, cached token figures).

use super::Store;
use crate::model::error::Result;
use crate::model::telemetry::{ResourceSample, SampleRow, Telemetry, TokenUsage};
use rusqlite::{params, OptionalExtension, Transaction};
use std::time::Duration;

/// Samples newer than this (relative to the newest sample) are kept at full rate.
pub const FULL_RATE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Older samples are thinned to one row per bucket of this length.
pub const THIN_BUCKET: Duration = Duration::from_secs(60);
/// Stored rows per session at most; the oldest go first.
pub const MAX_ROWS_PER_SESSION: usize = 10_000;
/// What changed since the last flush; added to the summary row.
#[derive(Debug, Default)]
pub struct TelemetryDelta {
    pub samples: u64,
    pub busy_ms: f64,
    pub sampled_ms: i64,
    pub peak_rss: Option<u64>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub last_live: Option<ResourceSample>,
    pub totals: Option<ResourceSample>,
    pub cpu_time_ms: Option<u64>,
    pub workspace: Option<(u64, u64, bool, i64)>,
}

impl TelemetryDelta {
    pub fn is_empty(&self) -> bool {
        self.samples == 0 && self.workspace.is_none()
    }
}

impl Store {
    /// Writes one sampler flush: the new samples and the summary's changes, then applies
    /// the retention rule, in one transaction.
    pub fn write_telemetry_batch(
        &self,
        id: &str,
        pending: &[(ResourceSample, Option<u64>)],
        delta: &TelemetryDelta,
    ) -> Result<()> {
        self.write(|tx| write_batch(tx, id, pending, delta))
    }

    /// Applies the retention rule to one session's samples as if the newest sample were
    /// taken at `newest_ms`.
    pub fn enforce_telemetry_retention(&self, id: &str, newest_ms: i64) -> Result<()> {
        self.write(|tx| apply_retention(tx, id, newest_ms))
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn write_batch(
    tx: &Transaction<'_>,
    id: &str,
    pending: &[(ResourceSample, Option<u64>)],
    d: &TelemetryDelta,
) -> rusqlite::Result<()> {
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR REPLACE INTO resource_samples (session_id, at_ms, cpu_percent,
                memory_rss_bytes, memory_vsz_bytes, io_read_bytes, io_write_bytes, io_read_chars,
                io_write_chars, process_count, workspace_bytes_used)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for (s, ws) in pending {
            ins.execute(params![
                id,
                s.at_ms,
                s.cpu_percent,
                int(s.memory_rss_bytes),
                int(s.memory_vsz_bytes),
                int(s.io_read_bytes),
                int(s.io_write_bytes),
                int(s.io_read_chars),
                int(s.io_write_chars),
                s.process_count,
                ws.map(int),
            ])?;
        }
    }
    let last_live = d
        .last_live
        .map(|s| serde_json::to_string(&s).expect("a sample serializes"));
    let t = d.totals;
    let (ws_bytes, ws_entries, ws_complete, ws_at) = match d.workspace {
        Some((b, e, c, at)) => (Some(int(b)), Some(int(e)), Some(c as i64), Some(at)),
        None => (None, None, None, None),
    };
    tx.prepare_cached(
        "INSERT INTO telemetry (session_id, sample_count, cpu_busy_ms, sampled_ms,
            peak_memory_rss_bytes, first_sample_ms, last_sample_ms, last_sample, cpu_time_ms,
            io_read_bytes, io_write_bytes, io_read_chars, io_write_chars,
            workspace_bytes_used, workspace_entries, workspace_complete, workspace_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT(session_id) DO UPDATE SET
            sample_count = sample_count + excluded.sample_count,
            cpu_busy_ms = cpu_busy_ms + excluded.cpu_busy_ms,
            sampled_ms = sampled_ms + excluded.sampled_ms,
            peak_memory_rss_bytes = CASE
                WHEN excluded.peak_memory_rss_bytes IS NULL THEN peak_memory_rss_bytes
                ELSE MAX(COALESCE(peak_memory_rss_bytes, 0), excluded.peak_memory_rss_bytes) END,
            first_sample_ms = COALESCE(first_sample_ms, excluded.first_sample_ms),
            last_sample_ms = COALESCE(excluded.last_sample_ms, last_sample_ms),
            last_sample = COALESCE(excluded.last_sample, last_sample),
            cpu_time_ms = MAX(COALESCE(cpu_time_ms, 0), COALESCE(excluded.cpu_time_ms, 0)),
            io_read_bytes = MAX(COALESCE(io_read_bytes, 0), COALESCE(excluded.io_read_bytes, 0)),
            io_write_bytes = MAX(COALESCE(io_write_bytes, 0), COALESCE(excluded.io_write_bytes, 0)),
            io_read_chars = MAX(COALESCE(io_read_chars, 0), COALESCE(excluded.io_read_chars, 0)),
            io_write_chars = MAX(COALESCE(io_write_chars, 0), COALESCE(excluded.io_write_chars, 0)),
            workspace_bytes_used = COALESCE(excluded.workspace_bytes_used, workspace_bytes_used),
            workspace_entries = COALESCE(excluded.workspace_entries, workspace_entries),
            workspace_complete = COALESCE(excluded.workspace_complete, workspace_complete),
            workspace_at_ms = COALESCE(excluded.workspace_at_ms, workspace_at_ms)",
    )?
    .execute(params![
        id,
        int(d.samples),
        d.busy_ms,
        d.sampled_ms,
        d.peak_rss.map(int),
        d.first_ms,
        d.last_ms,
        last_live,
        d.cpu_time_ms.map(int),
        t.map(|t| int(t.io_read_bytes)),
        t.map(|t| int(t.io_write_bytes)),
        t.map(|t| int(t.io_read_chars)),
        t.map(|t| int(t.io_write_chars)),
        ws_bytes,
        ws_entries,
        ws_complete,
        ws_at,
    ])?;
    if let Some(newest) = pending.last().map(|p| p.0.at_ms) {
        apply_retention(tx, id, newest)?;
    }
    Ok(())
}

/// Thins samples older than [`FULL_RATE_WINDOW`] (before `newest_ms`) to one row per
/// [`THIN_BUCKET`] and enforces [`MAX_ROWS_PER_SESSION`]. Each bucket is handled once: the
/// summary row remembers up to where thinning is done.
pub(crate) fn apply_retention(
    tx: &Transaction<'_>,
    id: &str,
    newest_ms: i64,
) -> rusqlite::Result<()> {
    let bucket = THIN_BUCKET.as_millis() as i64;
    let cutoff = (newest_ms - FULL_RATE_WINDOW.as_millis() as i64).div_euclid(bucket) * bucket;
    let (done, count): (Option<i64>, i64) = tx
        .prepare_cached(
            "SELECT thinned_until_ms, sample_count FROM telemetry WHERE session_id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((None, 0));
    let from = done.unwrap_or(i64::MIN);
    if cutoff > from {
        thin(tx, id, from, cutoff, bucket)?;
        tx.prepare_cached("UPDATE telemetry SET thinned_until_ms = ?2 WHERE session_id = ?1")?
            .execute(params![id, cutoff])?;
    }
    // rows <= samples taken, so the cap needs checking only once that many were taken
    if count > MAX_ROWS_PER_SESSION as i64 {
        let oldest_kept: Option<i64> = tx
            .prepare_cached(
                "SELECT at_ms FROM resource_samples WHERE session_id = ?1
                 ORDER BY at_ms DESC LIMIT 1 OFFSET ?2",
            )?
            .query_row(params![id, MAX_ROWS_PER_SESSION as i64 - 1], |r| r.get(0))
            .optional()?;
        if let Some(t) = oldest_kept {
            tx.prepare_cached("DELETE FROM resource_samples WHERE session_id = ?1 AND at_ms < ?2")?
                .execute(params![id, t])?;
        }
    }
    Ok(())
}

/// Replaces the rows of each bucket in `[from, to)` that holds more than one row by a single
/// row at the bucket's last sample time: mean CPU, peak memory and process count, the last
/// cumulative counters and the last workspace size.
fn thin(tx: &Transaction<'_>, id: &str, from: i64, to: i64, bucket: i64) -> rusqlite::Result<()> {
    let rows: Vec<(ResourceSample, Option<i64>)> = {
        let mut st = tx.prepare_cached(
            "SELECT at_ms, cpu_percent, memory_rss_bytes, memory_vsz_bytes, io_read_bytes,
                io_write_bytes, io_read_chars, io_write_chars, process_count, workspace_bytes_used
             FROM resource_samples WHERE session_id = ?1 AND at_ms >= ?2 AND at_ms < ?3
             ORDER BY at_ms",
        )?;
        let it = st.query_map(params![id, from, to], |r| {
            let g = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
            Ok((
                ResourceSample {
                    at_ms: r.get(0)?,
                    cpu_percent: r.get(1)?,
                    memory_rss_bytes: g(2)?,
                    memory_vsz_bytes: g(3)?,
                    io_read_bytes: g(4)?,
                    io_write_bytes: g(5)?,
                    io_read_chars: g(6)?,
                    io_write_chars: g(7)?,
                    process_count: g(8)?.min(u32::MAX as u64) as u32,
                },
                r.get(9)?,
            ))
        })?;
        it.collect::<rusqlite::Result<_>>()?
    };
    let mut i = 0;
    while i < rows.len() {
        let b = rows[i].0.at_ms.div_euclid(bucket);
        let mut j = i + 1;
        while j < rows.len() && rows[j].0.at_ms.div_euclid(bucket) == b {
            j += 1;
        }
        let group = &rows[i..j];
        if group.len() > 1 {
            let last = group[group.len() - 1];
            let mut agg = last.0;
            agg.cpu_percent =
                group.iter().map(|g| g.0.cpu_percent).sum::<f64>() / group.len() as f64;
            agg.memory_rss_bytes = group
                .iter()
                .map(|g| g.0.memory_rss_bytes)
                .max()
                .unwrap_or(0);
            agg.memory_vsz_bytes = group
                .iter()
                .map(|g| g.0.memory_vsz_bytes)
                .max()
                .unwrap_or(0);
            agg.process_count = group.iter().map(|g| g.0.process_count).max().unwrap_or(0);
            let ws = group.iter().rev().find_map(|g| g.1);
            tx.prepare_cached(
                "DELETE FROM resource_samples WHERE session_id = ?1 AND at_ms >= ?2 AND at_ms <= ?3",
            )?
            .execute(params![id, group[0].0.at_ms, last.0.at_ms])?;
            tx.prepare_cached(
                "INSERT INTO resource_samples (session_id, at_ms, cpu_percent, memory_rss_bytes,
                    memory_vsz_bytes, io_read_bytes, io_write_bytes, io_read_chars,
                    io_write_chars, process_count, workspace_bytes_used)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                id,
                agg.at_ms,
                agg.cpu_percent,
                int(agg.memory_rss_bytes),
                int(agg.memory_vsz_bytes),
                int(agg.io_read_bytes),
                int(agg.io_write_bytes),
                int(agg.io_read_chars),
                int(agg.io_write_chars),
                agg.process_count,
                ws,
            ])?;
        }
        i = j;
    }
    Ok(())
}

fn u(v: Option<i64>) -> Option<u64> {
    v.map(|n| n.max(0) as u64)
}

/// The summary row's columns, in the order [`row_to_telemetry`] reads them.
pub(crate) const TELEMETRY_COLUMNS: &str = "sample_count, cpu_busy_ms, sampled_ms,
    peak_memory_rss_bytes, last_sample, cpu_time_ms, io_read_bytes, io_write_bytes,
    io_read_chars, io_write_chars, workspace_bytes_used, workspace_complete, workspace_at_ms,
    tokens_input, tokens_output, tokens_cache_read, tokens_cache_write, cost_usd,
    cost_estimated, usage_source, usage_model, usage_at_ms";

/// A summary row read from [`TELEMETRY_COLUMNS`] starting at column `at` (a batch read puts
/// the session id first).
pub(crate) fn row_to_telemetry(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Telemetry> {
    let sample_count: i64 = r.get(at)?;
    let busy: f64 = r.get(at + 1)?;
    let sampled: i64 = r.get(at + 2)?;
    let last: Option<String> = r.get(at + 4)?;
    Ok(Telemetry {
        sample_count: sample_count.max(0) as u64,
        avg_cpu_percent: (sampled > 0).then(|| busy / sampled as f64 * 100.0),
        peak_memory_rss_bytes: u(r.get(at + 3)?),
        last_sample: last.and_then(|s| serde_json::from_str(&s).ok()),
        cpu_time_ms: u(r.get(at + 5)?),
        io_read_bytes: u(r.get(at + 6)?),
        io_write_bytes: u(r.get(at + 7)?),
        io_read_chars: u(r.get(at + 8)?),
        io_write_chars: u(r.get(at + 9)?),
        workspace_bytes_used: u(r.get(at + 10)?),
        workspace_complete: r.get::<_, Option<i64>>(at + 11)?.map(|c| c != 0),
        workspace_at_ms: r.get(at + 12)?,
        tokens_input: u(r.get(at + 13)?),
        tokens_output: u(r.get(at + 14)?),
        tokens_cache_read: u(r.get(at + 15)?),
        tokens_cache_write: u(r.get(at + 16)?),
        cost_usd: r.get(at + 17)?,
        cost_estimated: r.get::<_, Option<i64>>(at + 18)?.unwrap_or(0) != 0,
        usage_source: r.get(at + 19)?,
        usage_model: r.get(at + 20)?,
        usage_at_ms: r.get(at + 21)?,
        ..Default::default()
    })
    .map(|mut t| {
        t.usage_exact = crate::model::telemetry::source_is_exact(t.usage_source.as_deref());
        t
    })
}

impl Store {
    /// Sessions whose stored state is not an ended one and whose last sample was taken
    /// before `since_ms` (sessions never sampled are not listed): what a new watcher waits
    /// on (see `SessionManager::watch`). One statement over the summary rows, so a watcher can
    /// poll it while 1000 hosts answer: a whole listing (liveness probes included) took ~25
    /// ms of the CPU those hosts need, every 50 ms.
    pub fn sampled_before(&self, since_ms: i64) -> Result<Vec<String>> {
        let ended = crate::model::state::State::ALL
            .iter()
            .filter(|s| s.is_ended())
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        self.connection()
            .prepare_cached(&format!(
                "SELECT t.session_id FROM telemetry t JOIN sessions s ON s.id = t.session_id
                 WHERE s.state NOT IN ({ended})
                   AND json_extract(t.last_sample, '$.at_ms') < ?1"
            ))
            .and_then(|mut st| {
                st.query_map([since_ms], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(|e| self.err(e))
    }

    /// The telemetry of `record`'s session, from the store only (no file is read; token figures
    /// are those cached by the last [`super::usage_for`]). Works the same after the session ended.
    pub fn telemetry_row(&self, session_id: &str) -> Result<Option<Telemetry>> {
        self.connection()
            .prepare_cached(&format!(
                "SELECT {TELEMETRY_COLUMNS} FROM telemetry WHERE session_id = ?1"
            ))
            .and_then(|mut st| {
                st.query_row([session_id], |r| row_to_telemetry(r, 0))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Stored samples of a session with `at_ms >= since_ms`, oldest first, at most `limit`.
    pub fn telemetry_samples(
        &self,
        session_id: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<SampleRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT at_ms, cpu_percent, memory_rss_bytes, memory_vsz_bytes, io_read_bytes,
                    io_write_bytes, io_read_chars, io_write_chars, process_count, workspace_bytes_used
                 FROM resource_samples WHERE session_id = ?1 AND at_ms >= ?2
                 ORDER BY at_ms LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Writes computed token figures to the session's summary row, and appends them to its
    /// usage series when they changed (see [`super::usage_series`]).
    pub fn store_usage(&self, session_id: &str, u: &TokenUsage, at_ms: i64) -> Result<()> {
        let n = |v: Option<u64>| v.map(|x| i64::try_from(x).unwrap_or(i64::MAX));
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO telemetry (session_id, tokens_input, tokens_output, tokens_cache_read,
                    tokens_cache_write, cost_usd, cost_estimated, usage_source, usage_model,
                    usage_skipped_lines, usage_at_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
                 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)
                 ON CONFLICT(session_id) DO UPDATE SET
                    tokens_input = excluded.tokens_input,
                    tokens_output = excluded.tokens_output,
                    tokens_cache_read = excluded.tokens_cache_read,
                    tokens_cache_write = excluded.tokens_cache_write,
                    cost_usd = excluded.cost_usd,
                    cost_estimated = excluded.cost_estimated,
                    usage_source = excluded.usage_source,
                    usage_model = excluded.usage_model,
                    usage_skipped_lines = excluded.usage_skipped_lines,
                    usage_at_ms = excluded.usage_at_ms",
            )?
            .execute(params![
                session_id,
                n(u.tokens_input),
                n(u.tokens_output),
                n(u.tokens_cache_read),
                n(u.tokens_cache_write),
                u.cost_usd,
                u.cost_estimated as i64,
                u.source,
                u.model,
                n(Some(u.skipped_lines)),
                at_ms,
            ])?;
            super::usage_series::append_in(tx, session_id, u, at_ms)
        })
    }

    /// The token figures last stored for a session, with the unix ms they were computed at.
    pub fn cached_usage(&self, session_id: &str) -> Result<Option<(TokenUsage, i64)>> {
        let u = |v: Option<i64>| v.map(|x| x.max(0) as u64);
        self.connection()
            .prepare_cached(
                "SELECT tokens_input, tokens_output, tokens_cache_read, tokens_cache_write, cost_usd,
                    cost_estimated, usage_source, usage_model, usage_skipped_lines, usage_at_ms
                 FROM telemetry WHERE session_id = ?1 AND usage_at_ms IS NOT NULL",
            )
            .and_then(|mut st| {
                st.query_row([session_id], |r| {
                    Ok((
                        TokenUsage {
                            tokens_input: u(r.get(0)?),
                            tokens_output: u(r.get(1)?),
                            tokens_cache_read: u(r.get(2)?),
                            tokens_cache_write: u(r.get(3)?),
                            cost_usd: r.get(4)?,
                            cost_estimated: r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
                            source: r.get(6)?,
                            model: r.get(7)?,
                            skipped_lines: u(r.get(8)?).unwrap_or(0),
                            exact: false,
                        },
                        r.get(9)?,
                    ))
                })
                .optional()
            })
            .map(|found| {
                found.map(|(mut u, at): (TokenUsage, i64)| {
                    u.exact = crate::model::telemetry::source_is_exact(u.source.as_deref());
                    (u, at)
                })
            })
            .map_err(|e| self.err(e))
    }
}
