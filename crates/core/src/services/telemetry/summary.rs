//! Reading telemetry back: the per-session summary and the stored samples.

use crate::model::error::Result;
use crate::model::record::SessionRecord;
use crate::store::Store;

pub use crate::model::telemetry::{SampleRow, Telemetry};

/// The telemetry of `record`'s session, from the store only (no file is read; token figures
/// are those cached by the last [`super::usage_for`]). Works the same after the session ended.
pub fn telemetry_for(store: &Store, record: &SessionRecord) -> Result<Telemetry> {
    Ok(telemetry_joined(
        record,
        store.telemetry_row(&record.session_id)?,
    ))
}

/// [`telemetry_for`] with the summary row already read (a list reads them all at once).
pub fn telemetry_joined(record: &SessionRecord, row: Option<Telemetry>) -> Telemetry {
    Telemetry {
        duration_ms: duration_ms(record),
        exit_code: record.exit_code,
        ..row.unwrap_or_default()
    }
}

/// Stored samples of a session with `at_ms >= since_ms`, oldest first, at most `limit`.
pub fn samples(
    store: &Store,
    session_id: &str,
    since_ms: i64,
    limit: usize,
) -> Result<Vec<SampleRow>> {
    store.telemetry_samples(session_id, since_ms, limit)
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
