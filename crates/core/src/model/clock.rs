//! Timestamps: ISO 8601 in UTC with millisecond precision everywhere.

/// Now, as `2026-11-21T23:03:26.123Z`.
pub fn now_iso() -> String {
    to_iso(chrono::Utc::now())
}

/// Formats a UTC time the one way records use.
pub fn to_iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses any RFC 3339 time (with or without fractional seconds).
pub fn parse_iso(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
