//! A session's token and cost totals over time (`usage_samples`), for charts of what a
//! session spent and when.
//!
//! Points are appended in the same transaction that stores a session's figures
//! ([`Store::store_usage`]), and only when they differ from the last point, so the series
//! has one point per change and never two with the same figures in a row. A session with
//! no figure at all has no point. Rows cascade on the deletion of the session.

use super::Store;
use crate::model::error::Result;
use crate::model::telemetry::{TokenUsage, UsagePoint};
use rusqlite::{params, Transaction};

/// Most points one read returns.
pub const MAX_POINTS: usize = 10_000;

/// Appends the point of `u` at `at_ms` to the series of `session_id` unless it holds no
/// figure or the same figures as the series' last point (or the session does not exist).
pub(super) fn append_in(
    tx: &Transaction<'_>,
    session_id: &str,
    u: &TokenUsage,
    at_ms: i64,
) -> rusqlite::Result<()> {
    let point = UsagePoint::new(at_ms, u);
    if point.total_tokens.is_none() && point.cost_usd.is_none() {
        return Ok(());
    }
    let last = tx
        .prepare_cached(
            "SELECT at_ms, tokens_input, tokens_output, tokens_cache_read, tokens_cache_write,
                cost_usd, cost_estimated
             FROM usage_samples WHERE session_id = ?1 ORDER BY at_ms DESC LIMIT 1",
        )?
        .query_map([session_id], point_of)?
        .next()
        .transpose()?;
    if last.as_ref().is_some_and(|l| l.same_figures(&point)) {
        return Ok(());
    }
    // A point never goes before the last one (a clock set back): it takes the last's time
    // plus one, so the series stays in order and the key stays unique.
    let at = last.map_or(at_ms, |l| at_ms.max(l.at_ms.saturating_add(1)));
    let n = |v: Option<u64>| v.map(|x| i64::try_from(x).unwrap_or(i64::MAX));
    tx.prepare_cached(
        "INSERT INTO usage_samples (session_id, at_ms, tokens_input, tokens_output,
            tokens_cache_read, tokens_cache_write, cost_usd, cost_estimated)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
         WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
    )?
    .execute(params![
        session_id,
        at,
        n(point.tokens_input),
        n(point.tokens_output),
        n(point.tokens_cache_read),
        n(point.tokens_cache_write),
        point.cost_usd,
        point.cost_estimated as i64,
    ])?;
    Ok(())
}

fn point_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<UsagePoint> {
    let u = |v: Option<i64>| v.map(|x| x.max(0) as u64);
    let usage = TokenUsage {
        tokens_input: u(r.get(1)?),
        tokens_output: u(r.get(2)?),
        tokens_cache_read: u(r.get(3)?),
        tokens_cache_write: u(r.get(4)?),
        cost_usd: r.get(5)?,
        cost_estimated: r.get::<_, i64>(6)? != 0,
        ..TokenUsage::default()
    };
    Ok(UsagePoint::new(r.get(0)?, &usage))
}

impl Store {
    /// The usage points of a session with `at_ms >= since_ms`, oldest first, at most
    /// `limit` (and at most [`MAX_POINTS`]).
    pub fn usage_points(
        &self,
        session_id: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<UsagePoint>> {
        let limit = limit.min(MAX_POINTS) as i64;
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT at_ms, tokens_input, tokens_output, tokens_cache_read, tokens_cache_write,
                    cost_usd, cost_estimated
                 FROM usage_samples WHERE session_id = ?1 AND at_ms >= ?2
                 ORDER BY at_ms LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![session_id, since_ms, limit], point_of)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}
