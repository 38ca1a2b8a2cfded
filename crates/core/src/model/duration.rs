//! Seconds and durations as every interface takes them, validated in one place: the CLI's
//! `--timeout`, Python's `timeout=`, the C ABI's `double timeout_secs` and config files all
//! come through here, so the same input gets the same answer (and a huge or NaN number an
//! error that names the allowed range, never a panic).

use crate::model::error::{Error, Result};
use std::time::Duration;

/// The largest number of seconds accepted anywhere (about 31.7 years): far past any wait a
/// person means, far below where `Duration` arithmetic could overflow.
pub const MAX_SECS: f64 = 1e9;

/// `value` seconds as a duration: finite, 0 to [`MAX_SECS`]. `what` names the parameter in
/// the error.
pub fn secs(value: f64, what: &str) -> Result<Duration> {
    if value.is_nan() || value.is_infinite() || !(0.0..=MAX_SECS).contains(&value) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be a number of seconds from 0 to {MAX_SECS:.0}, not {value}"
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

/// [`secs`] for an optional value.
pub fn optional_secs(value: Option<f64>, what: &str) -> Result<Option<Duration>> {
    value.map(|v| secs(v, what)).transpose()
}

/// A wait's limit where a negative number or +infinity means "no limit" (the C ABI's
/// convention): `None` for those, else [`secs`]. NaN is refused.
pub fn limit_secs(value: f64, what: &str) -> Result<Option<Duration>> {
    if value.is_nan() {
        return Err(Error::InvalidArgument(format!(
            "{what} is NaN: pass a number of seconds from 0 to {MAX_SECS:.0}, or a negative number for no limit"
        )));
    }
    if value < 0.0 || value == f64::INFINITY {
        return Ok(None);
    }
    secs(value, what).map(Some)
}

/// A grace period where a negative number means "the default" (`None`); NaN and infinity are
/// refused.
pub fn grace_secs(value: f64, what: &str) -> Result<Option<Duration>> {
    if value < 0.0 && value.is_finite() {
        return Ok(None);
    }
    secs(value, what).map(Some).map_err(|_| {
        Error::InvalidArgument(format!(
            "{what} = {value}: pass a number of seconds from 0 to {MAX_SECS:.0}, or a negative number for the default"
        ))
    })
}

/// Parses durations such as `30s`, `15m`, `12h`, `7d`, `2w`, `1.5h` (a bare number is
/// seconds), up to [`MAX_SECS`].
pub fn parse(text: &str) -> Result<Duration> {
    let bad = || {
        Error::InvalidArgument(format!(
            "invalid duration {text:?}: use a number with s, m, h, d or w, e.g. 7d or 12h"
        ))
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let unit_secs = match unit.trim() {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 7.0 * 86_400.0,
        _ => return Err(bad()),
    };
    secs(n * unit_secs, "a duration").map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_nan_and_negative_numbers_are_errors_naming_the_range() {
        for v in [1e20, f64::NAN, f64::INFINITY, -1.0, f64::MAX] {
            let e = secs(v, "timeout").unwrap_err().to_string();
            assert!(e.contains("from 0 to 1000000000"), "{e}");
        }
        assert_eq!(secs(1.5, "t").unwrap(), Duration::from_millis(1500));
        assert_eq!(secs(MAX_SECS, "t").unwrap().as_secs(), 1_000_000_000);
    }

    #[test]
    fn limits_and_grace_periods_follow_the_c_conventions() {
        assert_eq!(limit_secs(-1.0, "t").unwrap(), None);
        assert_eq!(limit_secs(f64::INFINITY, "t").unwrap(), None);
        assert!(limit_secs(f64::NAN, "t").is_err());
        assert!(limit_secs(1e20, "t").is_err());
        assert_eq!(grace_secs(-1.0, "g").unwrap(), None);
        assert!(grace_secs(f64::INFINITY, "g").is_err());
        assert!(grace_secs(f64::NEG_INFINITY, "g").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(parse("1.5h").unwrap().as_secs(), 5400);
        assert_eq!(parse(" 30 ").unwrap().as_secs(), 30);
        for bad in ["", "x", "-1d", "1e30s", "5y", "NaNs"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
