//! Timestamps of lifecycle documents.
//!
//! Documents written by this module carry `crate::model::clock` timestamps (ISO 8601, UTC, with
//! milliseconds and a `Z`). Documents stored with `save_session` may carry anything; the
//! reference library and the tests written for it back-date `last_updated` with Python's
//! `isoformat()`, which has no zone when the datetime is naive. Such zone-less timestamps are
//! read as UTC, like every timestamp of the reference schema.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

/// Parses an ISO 8601 timestamp (RFC 3339 with a zone, or zone-less read as UTC) into
/// microseconds since the epoch. `None` when it is not a timestamp.
pub fn parse_us(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).timestamp_micros());
    }
    // Zone-less forms: Python's isoformat() of a naive datetime ("T" or " " separator),
    // with or without fractional seconds.
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    // "2026-01-08T18:05:30+0000" and other offsets without a colon.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc).timestamp_micros());
        }
    }
    None
}

/// Formats microseconds since the epoch the way records do.
pub fn format_us(us: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    crate::model::clock::to_iso(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_hooks_write() {
        let z = parse_us("2026-01-08T18:05:30Z").unwrap();
        assert_eq!(parse_us("2026-01-08T18:05:30.000Z"), Some(z));
        assert_eq!(parse_us("2026-01-08T18:05:30+00:00"), Some(z));
        assert_eq!(parse_us("2026-01-08T18:05:30"), Some(z));
        assert_eq!(parse_us("2026-01-08 18:05:30.000000"), Some(z));
        assert_eq!(parse_us("2026-01-08T19:05:30+01:00"), Some(z));
        assert_eq!(parse_us("2026-01-08T19:05:30+0100"), Some(z));
        assert_eq!(parse_us("2026-01-08T18:05:30.5Z"), Some(z + 500_000));
        assert_eq!(parse_us("yesterday"), None);
        assert_eq!(parse_us(""), None);
    }

    #[test]
    fn formats_back() {
        let z = parse_us("2026-01-08T18:05:30.123Z").unwrap();
        assert_eq!(format_us(z), "2026-01-08T18:05:30.123Z");
    }
}
