//! Timestamps: ISO 8601 in UTC with millisecond precision everywhere.

/// Now, as `2026-11-21T23:03:26.123Z`.
pub fn now_iso() -> String {
    to_iso(chrono::Utc::now())
}

/// Unix milliseconds as records write times (the Unix epoch when out of range).
pub fn iso_from_ms(ms: i64) -> String {
    to_iso(chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

/// Formats a UTC time the one way records use.
pub fn to_iso(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // chrono writes a sign and more digits out there; keep its exact form.
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // By hand: `format` parses its pattern on every call, and a lifecycle write takes
    // several timestamps (a measurable part of its ~0.08 ms). Same text as the pattern above.
    // A leap second (nanosecond >= 1e9) shows as :60 and the excess, as chrono shows it.
    let ms = (t.nanosecond() % 1_000_000_000) / 1_000_000;
    let mut b = *b"0000-00-00T00:00:00.000Z";
    put(&mut b[0..4], year as u32);
    put(&mut b[5..7], t.month());
    put(&mut b[8..10], t.day());
    put(&mut b[11..13], t.hour());
    put(&mut b[14..16], t.minute());
    put(&mut b[17..19], t.second() + t.nanosecond() / 1_000_000_000);
    put(&mut b[20..23], ms);
    // Only ASCII digits and punctuation were written.
    String::from_utf8(b.to_vec()).unwrap_or_default()
}

/// Writes `n` as decimal digits filling `out` (zero-padded; higher digits dropped).
pub(crate) fn put(out: &mut [u8], mut n: u32) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Parses any RFC 3339 time (with or without fractional seconds).
pub fn parse_iso(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn to_iso_matches_the_pattern() {
        let pattern = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut t = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 58).unwrap();
        for _ in 0..20_000 {
            assert_eq!(to_iso(t), pattern(t));
            t += chrono::Duration::microseconds(123_456_789_013);
        }
        for t in [
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            Utc::now(),
        ] {
            assert_eq!(to_iso(t), pattern(t));
        }
        // A leap second.
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1_250)
            .unwrap()
            .and_utc();
        assert_eq!(to_iso(leap), pattern(leap));
    }
}
