//! Tokens, cost and resource figures of a session, as every interface returns them: one
//! [`UsageReport`] / [`TelemetryReport`] shape for the CLI's `--json`, Python's dicts and the
//! C ABI's JSON.

use super::SessionManager;
use crate::model::error::Result;
use crate::model::record::SessionRecord;
use crate::model::telemetry::{TelemetryReport, TokenUsage, UsageReport};
use crate::model::usage_table::{UsageGroup, UsageTable};
use crate::services::telemetry::{self, UsageEnv};
use std::collections::HashMap;
use std::time::Duration;

pub use crate::services::telemetry::USAGE_MAX_AGE;

impl SessionManager {
    /// Tokens and cost of a session, read now from what the agent reports.
    pub fn usage(&self, session_id: &str) -> Result<UsageReport> {
        self.usage_with_max_age(session_id, Duration::ZERO)
    }

    /// [`SessionManager::usage`], reusing figures computed less than `max_age` ago.
    pub fn usage_with_max_age(&self, session_id: &str, max_age: Duration) -> Result<UsageReport> {
        let rec = self.get(session_id)?;
        let u = self.record_usage(&rec, max_age)?;
        Ok(UsageReport::new(rec.session_id, u))
    }

    /// Resources and tokens of a session; token figures are re-read from the agent's own
    /// records when older than [`USAGE_MAX_AGE`] (and final once computed after the end).
    pub fn telemetry(&self, session_id: &str) -> Result<TelemetryReport> {
        self.telemetry_with_max_age(session_id, USAGE_MAX_AGE)
    }

    /// [`SessionManager::telemetry`] with the token figures' allowed age.
    pub fn telemetry_with_max_age(
        &self,
        session_id: &str,
        max_age: Duration,
    ) -> Result<TelemetryReport> {
        let rec = self.get(session_id)?;
        self.telemetry_of(&rec, max_age)
    }

    /// Starts watching this home's sessions: while the returned lease is held (by this or
    /// any process) every live host samples at least once a second and writes each sample
    /// at once, so telemetry read here is at most about two seconds old; without a watcher an
    /// idle host samples and writes far less often (see `services::telemetry::watch`). Drop
    /// it to stop.
    ///
    /// Returns once every live session has a sample taken after the lease began (at most
    /// [`telemetry::LIVE_WAIT`]), so even the first read is live.
    pub fn watch(&self) -> Result<telemetry::WatchLease> {
        let since_ms = telemetry::now_ms();
        let lease = telemetry::WatchLease::acquire(self.home())?;
        let deadline = std::time::Instant::now() + telemetry::LIVE_WAIT;
        while std::time::Instant::now() < deadline {
            // The stored states first (one cheap statement); the few left are checked for
            // liveness, so a host that died without a word does not hold the wait.
            let stale = self.with_store(|s| s.sampled_before(since_ms))?;
            if stale.len() <= LIVENESS_CHECKED
                && !stale
                    .iter()
                    .any(|id| self.get(id).is_ok_and(|r| !r.state.is_ended()))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(lease)
    }

    /// The telemetry of a record already in hand (for `top`, which lists first): the stored
    /// summary with the token figures a reader gets (see [`SessionManager::usage`]).
    pub fn telemetry_of(&self, rec: &SessionRecord, max_age: Duration) -> Result<TelemetryReport> {
        let (u, at) = self.reader_usage(rec, max_age)?;
        let mut t = self.with_store(|s| telemetry::telemetry_for(s, rec))?;
        t.tokens_input = u.tokens_input;
        t.tokens_output = u.tokens_output;
        t.tokens_cache_read = u.tokens_cache_read;
        t.tokens_cache_write = u.tokens_cache_write;
        t.cost_usd = u.cost_usd;
        t.cost_estimated = u.cost_estimated;
        t.usage_source = u.source;
        t.usage_model = u.model;
        t.usage_exact = u.exact;
        t.usage_at_ms = Some(at);
        Ok(TelemetryReport::new(rec.session_id.clone(), t))
    }

    pub(super) fn record_usage(
        &self,
        record: &SessionRecord,
        max_age: Duration,
    ) -> Result<TokenUsage> {
        self.reader_usage(record, max_age).map(|(u, _)| u)
    }

    /// The usage of a session for a reader (any process but the session's host): `show`,
    /// `usage`, `top`, the bindings; with the unix ms the figures were computed at.
    ///
    /// # Who stores token figures
    ///
    /// Only the session's host. It runs with the agent's own environment (the `--env` values
    /// of `HOME`, `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`, `XDG_DATA_HOME`,
    /// which the store never keeps), and it stores the figures at the end of each of the
    /// agent's turns (each one a point of the usage series, see
    /// [`SessionManager::usage_series`]), at each look of a budget watcher, and once after
    /// the agent ended; figures computed after the end are final. A reader may run in another environment,
    /// where the agent's records are elsewhere or someone else's, so it never stores what it
    /// computes, it only returns it: no reader can overwrite the figures of a session's
    /// host, and a read writes nothing (it works on a full disk or a read-only store).
    ///
    /// What a reader gets:
    /// - the stored figures, when computed after the session ended (final);
    /// - else figures computed now with this process' environment, unless those find no
    ///   source at all while stored figures exist (a resumed session's figures from the end
    ///   of its last run): then the stored ones;
    /// - a result this process computed less than `max_age` ago is reused (kept in memory
    ///   per manager, keyed by session), so `top` does not re-read transcripts
    ///   every frame.
    ///
    /// The files are read without holding the store lock.
    fn reader_usage(&self, record: &SessionRecord, max_age: Duration) -> Result<(TokenUsage, i64)> {
        let stored = self.with_store(|s| s.cached_usage(&record.session_id))?;
        if let Some((u, at)) = &stored {
            let end = telemetry::iso_ms(record.ended_at.as_deref());
            if record.state.is_ended() && end.is_some_and(|end| *at >= end) {
                return Ok((u.clone(), *at));
            }
        }
        let key = record.session_id.clone();
        let now = telemetry::now_ms();
        let recent = self
            .usage_cache
            .lock()
            .get(&key)
            .filter(|(_, at)| now - at < max_age.as_millis() as i64)
            .cloned();
        let (u, at) = match recent {
            Some(hit) => hit,
            None => {
                let u = telemetry::compute_usage(self.home(), record, &UsageEnv::from_env());
                let mut cache = self.usage_cache.lock();
                cache.retain(|_, (_, at)| now - *at < READ_CACHE_KEEP_MS);
                cache.insert(key, (u.clone(), now));
                (u, now)
            }
        };
        match stored {
            Some(s) if u.source.is_none() && s.0.source.is_some() => Ok(s),
            _ => Ok((u, at)),
        }
    }
}

/// Usage a manager computed as a reader, by session id, with when (see `reader_usage`).
pub(crate) type UsageCache = HashMap<String, (TokenUsage, i64)>;
/// A new watcher checks the liveness of the sessions it still waits on once this few are
/// left (each check is a record read and a lock probe); before that the stored states
/// stand.
const LIVENESS_CHECKED: usize = 32;
/// Entries older than this are dropped (no reader asks for figures this old).
const READ_CACHE_KEEP_MS: i64 = 10 * 60 * 1000;

impl SessionManager {
    /// Tokens and cost of every session summed by day, agent or task (see
    /// [`UsageTable`]); each session's figures are those its `usage` gives.
    pub fn usage_report(&self, by: UsageGroup) -> Result<UsageTable> {
        let records = self.list(&crate::store::ListFilter::default())?;
        let usages = records
            .iter()
            .map(|r| self.record_usage(r, USAGE_MAX_AGE))
            .collect::<Result<Vec<_>>>()?;
        Ok(UsageTable::new(by, records.iter().zip(usages.iter())))
    }

    /// A session's token and cost totals over time with `at_ms >= since_ms`, oldest first,
    /// at most `limit`: the points its host stored at each change (see
    /// [`UsagePoint`](crate::model::telemetry::UsagePoint)), then, while the session runs,
    /// the figures a reader computes now (see [`SessionManager::usage`], reused for up to
    /// [`USAGE_MAX_AGE`]) when they differ from the last stored point and do not go below
    /// it, so the last point is current.
    pub fn usage_series(
        &self,
        session_id: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::model::telemetry::UsagePoint>> {
        use crate::model::telemetry::UsagePoint;
        let limit = limit.min(crate::store::usage_series::MAX_POINTS);
        let rec = self.get(session_id)?;
        let mut points = self.with_store(|s| s.usage_points(&rec.session_id, since_ms, limit))?;
        if rec.state.is_ended() || points.len() >= limit {
            return Ok(points);
        }
        let (u, at) = self.reader_usage(&rec, USAGE_MAX_AGE)?;
        let now = UsagePoint::new(at, &u);
        let figures = now.total_tokens.is_some() || now.cost_usd.is_some();
        let last = points.last();
        let grew = last.is_none_or(|l| {
            !l.same_figures(&now)
                && now.total_tokens >= l.total_tokens
                && now.cost_usd.unwrap_or(0.0) >= l.cost_usd.unwrap_or(0.0)
        });
        if figures && grew && at >= since_ms {
            let at = last.map_or(at, |l| at.max(l.at_ms.saturating_add(1)));
            points.push(UsagePoint { at_ms: at, ..now });
        }
        Ok(points)
    }

    /// A session's stored resource samples taken at or after `since_ms` (unix ms), oldest
    /// first, at most `limit`: what charts of its CPU and memory draw.
    pub fn samples(
        &self,
        session_id: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::model::telemetry::SampleRow>> {
        let rec = self.get(session_id)?;
        self.with_store(|s| telemetry::samples(s, &rec.session_id, since_ms, limit.min(10_000)))
    }
}
