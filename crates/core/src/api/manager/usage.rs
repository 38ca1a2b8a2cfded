//! Tokens, cost and resource figures of a session, as every interface returns them: one
//! [`UsageReport`] / [`TelemetryReport`] shape for the CLI's `--json`, Python's dicts and the
//! C ABI's JSON.

use super::SessionManager;
use crate::model::error::Result;
use crate::model::record::SessionRecord;
use crate::model::telemetry::{TelemetryReport, TokenUsage, UsageReport};
use crate::services::telemetry::{self, UsageEnv};
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

    /// The telemetry of a record already in hand (for `top`, which lists first).
    pub fn telemetry_of(&self, rec: &SessionRecord, max_age: Duration) -> Result<TelemetryReport> {
        self.record_usage(rec, max_age)?;
        let t = self.with_store(|s| telemetry::telemetry_for(s, rec))?;
        Ok(TelemetryReport::new(rec.session_id.clone(), t))
    }

    /// The usage of a session, recomputed only when needed: a cached result is reused when it
    /// was computed after the session ended (it is final), or, while the session runs, when
    /// it is younger than `max_age`. The files are read without holding the store lock.
    fn record_usage(&self, record: &SessionRecord, max_age: Duration) -> Result<TokenUsage> {
        let cached = self.with_store(|s| s.cached_usage(&record.session_id))?;
        let now = telemetry::now_ms();
        if let Some((u, at)) = cached {
            let fresh = if record.state.is_ended() {
                telemetry::iso_ms(record.ended_at.as_deref()).is_some_and(|end| at >= end)
                    || (record.ended_at.is_none() && now - at < max_age.as_millis() as i64)
            } else {
                now - at < max_age.as_millis() as i64
            };
            if fresh {
                return Ok(u);
            }
        }
        let u = telemetry::compute_usage(self.home(), record, &UsageEnv::from_env());
        self.with_store(|s| s.store_usage(&record.session_id, &u, now))?;
        Ok(u)
    }
}
