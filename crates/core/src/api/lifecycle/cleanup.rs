//! Deleting old record-only sessions.

use super::{time, AfterCommit, Lifecycle};
use crate::model::error::{Error, Result};

impl Lifecycle {
    /// Deletes record-only sessions whose last activity is more than `hours` ago (row,
    /// history and folder) and returns how many. Hosted sessions are never deleted here
    /// (`agent-sessions rm` does that), and documents whose last_updated cannot be read are
    /// kept.
    pub fn cleanup_old_sessions(&self, hours: f64) -> Result<usize> {
        if !hours.is_finite() {
            return Err(Error::InvalidArgument(
                "hours must be a finite number".into(),
            ));
        }
        // Any finite number is an age (a negative one reaches into the future, as in the
        // reference library); saturating, so no size of it can overflow.
        let span_us = (hours * 3_600_000_000.0) as i64; // `as` saturates at the i64 range
        let cutoff = time::now_us().saturating_sub(span_us);
        let ids: Vec<String> = self.write(|tx, after| {
            let ids = crate::store::lifecycle::delete_records_before(tx, cutoff)?;
            for id in &ids {
                // Ids in the store were validated when they were written.
                after.push(AfterCommit::RemoveDir(self.home.root().join(id)));
            }
            Ok(ids)
        })?;
        Ok(ids.len())
    }
}
