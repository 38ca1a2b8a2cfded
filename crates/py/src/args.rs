//! Python arguments as core values. Only conversions live here: every rule about what a
//! value may be (seconds, durations, states) is the core's, so Python, the CLI and C give the
//! same answer to the same input. A value Rust's type cannot hold (a negative offset, a
//! terminal size past 65535) is refused here, as InvalidArgumentError like the core's own.

use crate::errors::{to_pyerr, IntoPy};
use agent_sessions::duration;
use agent_sessions::{Error, State};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::time::Duration;

/// Most events or messages one call returns (the core's page limit).
pub const MAX_PAGE: usize = agent_sessions::events::MAX_PAGE;

/// The core's InvalidArgument error as a Python exception.
pub fn invalid(message: String) -> PyErr {
    to_pyerr(Error::InvalidArgument(message))
}

/// A state name.
pub fn state(s: &str) -> PyResult<State> {
    s.parse::<State>().py_err()
}

/// One state name, or an iterable (list, tuple, ...) of them.
pub fn states(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<State>> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(vec![state(s.to_str()?)?]);
    }
    let items = v.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a state name or a list of state names, not {}",
            type_name(v)
        ))
    })?;
    let mut out = Vec::new();
    for item in items {
        let item = item?;
        let name = item
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("{what} must be state names (str)")))?;
        out.push(state(name.to_str()?)?);
    }
    Ok(out)
}

/// `states` of a cleanup: None (the core's default set), one state name, or an iterable.
pub fn state_list(v: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<State>> {
    match v.filter(|v| !v.is_none()) {
        None => Ok(Vec::new()),
        Some(v) => states(v, "states"),
    }
}

/// Seconds as a duration, checked by the core (finite, 0 to its maximum).
pub fn secs(v: f64, what: &str) -> PyResult<Duration> {
    duration::secs(v, what).py_err()
}

/// [`secs`] for an optional value.
pub fn optional_secs(v: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    duration::optional_secs(v, what).py_err()
}

/// A wait slice: seconds as [`secs`] checks them, kept between 1 ms (so a wait cannot spin)
/// and `max` (so Ctrl-C is noticed that often).
pub fn slice(v: f64, what: &str, max: Duration) -> PyResult<Duration> {
    Ok(secs(v, what)?.clamp(Duration::from_millis(1), max))
}

/// An age such as `older_than`: seconds (int or float), a `datetime.timedelta`, or a text
/// duration such as "30s", "15m", "12h", "7d", "2w".
pub fn age(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    if let Ok(s) = v.cast::<PyString>() {
        return duration::parse(s.to_str()?).py_err();
    }
    let seconds: f64 = if v.hasattr("total_seconds")? {
        v.call_method0("total_seconds")?.extract()?
    } else {
        v.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be seconds (a number), a datetime.timedelta or a duration such as \"7d\", not {}",
                type_name(v)
            ))
        })?
    };
    secs(seconds, what)
}

/// A terminal size: 1 to 65535.
pub fn size(v: Option<i64>, what: &str) -> PyResult<Option<u16>> {
    match v {
        None => Ok(None),
        Some(n) => u16::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| invalid(format!("{what} must be between 1 and 65535, got {n}"))),
    }
}

/// A byte count, offset or sequence number: a non-negative integer.
pub fn non_negative(v: i64, what: &str) -> PyResult<u64> {
    u64::try_from(v).map_err(|_| invalid(format!("{what} must not be negative, got {v}")))
}

/// A page size: at least 1; larger than the core's page limit reads as that limit.
pub fn page_size(v: i64, what: &str) -> PyResult<usize> {
    if v < 1 {
        return Err(invalid(format!("{what} must be at least 1, got {v}")));
    }
    Ok(usize::try_from(v).unwrap_or(MAX_PAGE).min(MAX_PAGE))
}

/// `env` as pairs: a mapping, or an iterable of (name, value) pairs. Names are checked by
/// the core.
pub fn env_pairs(env: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(env) = env.filter(|e| !e.is_none()) else {
        return Ok(Vec::new());
    };
    let items: Bound<'_, PyAny> = match env.cast::<PyDict>() {
        Ok(d) => d.items().into_any(),
        Err(_) => env.clone(),
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (k, v): (String, String) = item?.extract().map_err(|_| {
            PyTypeError::new_err("env must map variable names (str) to values (str)")
        })?;
        out.push((k, v));
    }
    Ok(out)
}

/// A list of strings; a single string is refused (it would otherwise be taken letter by
/// letter).
pub fn strings(args: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    let Some(args) = args.filter(|a| !a.is_none()) else {
        return Ok(Vec::new());
    };
    if args.cast::<PyString>().is_ok() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a list of strings, not a single string"
        )));
    }
    let mut out = Vec::new();
    for a in args.try_iter()? {
        out.push(
            a?.extract::<String>()
                .map_err(|_| PyTypeError::new_err(format!("{what} must be strings")))?,
        );
    }
    Ok(out)
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// A budget from Python's keyword arguments (see `Budget::from_options`); `tokens_what`
/// names the token argument in messages.
pub fn budget(
    usd: Option<f64>,
    tokens: Option<i64>,
    on_budget: Option<&str>,
    tokens_what: &str,
) -> PyResult<Option<agent_sessions::Budget>> {
    let tokens = tokens.map(|t| non_negative(t, tokens_what)).transpose()?;
    agent_sessions::Budget::from_options(usd, tokens, on_budget).map_err(crate::errors::to_pyerr)
}
