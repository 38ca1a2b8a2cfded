//! JSON arguments: start options, list filters, resume policies, new lifecycle records,
//! resume options and cleanup options. Unknown fields are refused, so a misspelt option
//! fails loudly instead of being ignored.

use crate::result::{as_result, FfiError, FfiResult};
use agent_sessions::duration::{self, optional_secs};
use agent_sessions::lifecycle::{NewLifecycle, ResumePolicy};
use agent_sessions::{CleanupOptions, ListFilter, ResumeOptions, StartOptions, State};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Parses `json` (the argument named `what`) into `T`.
pub fn parse<T: DeserializeOwned>(json: &str, what: &str) -> FfiResult<T> {
    serde_json::from_str(json).map_err(|e| {
        FfiError::new(
            as_result::AS_INVALID_JSON,
            format!("argument `{what}` is not valid: {e}"),
        )
    })
}

fn bad_json(message: String) -> FfiError {
    FfiError::new(as_result::AS_INVALID_JSON, message)
}

/// `as_manager_start`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartJson {
    agent: String,
    #[serde(default)]
    args: Vec<String>,
    cwd: Option<PathBuf>,
    task_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    env: Option<Value>,
    cols: Option<u16>,
    rows: Option<u16>,
    idle_after_secs: Option<f64>,
    max_log_bytes: Option<u64>,
}

/// `env` is an object `{"NAME": "value"}` or a list of `"NAME=value"` strings.
fn env_pairs(env: Option<Value>) -> FfiResult<Vec<(String, String)>> {
    match env {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Err(bad_json(format!(
                    "options.env.{k} is {other}; environment values must be strings"
                ))),
            })
            .collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item.as_str().and_then(|s| s.split_once('=')) {
                Some((k, v)) => Ok((k.to_string(), v.to_string())),
                None => Err(bad_json(format!(
                    "options.env item {item} is not a \"NAME=value\" string"
                ))),
            })
            .collect(),
        Some(other) => Err(bad_json(format!(
            "options.env is {other}; use an object {{\"NAME\": \"value\"}} or a list of \"NAME=value\" strings"
        ))),
    }
}

/// Parses start options.
pub fn start_options(json: &str) -> FfiResult<StartOptions> {
    let o: StartJson = parse(json, "options_json")?;
    Ok(StartOptions {
        agent: o.agent,
        args: o.args,
        cwd: o.cwd,
        task_id: o.task_id,
        name: o.name,
        env: env_pairs(o.env)?,
        cols: o.cols,
        rows: o.rows,
        idle_after: optional_secs(o.idle_after_secs, "options.idle_after_secs")?,
        max_log_bytes: o.max_log_bytes,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterJson {
    state: Option<String>,
    #[serde(alias = "agent_type")]
    agent: Option<String>,
    task_id: Option<String>,
}

/// Parses a list filter; NULL (None) lists everything.
pub fn list_filter(json: Option<&str>) -> FfiResult<ListFilter> {
    let Some(json) = json else {
        return Ok(ListFilter::default());
    };
    let f: FilterJson = parse(json, "filter_json")?;
    Ok(ListFilter {
        state: f.state.as_deref().map(str::parse::<State>).transpose()?,
        agent_type: f.agent,
        task_id: f.task_id,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyJson {
    max_idle_secs: Option<f64>,
    max_errors: Option<i64>,
    resumable_phases: Option<Vec<String>>,
}

/// Parses a resume policy; NULL gives the reference library's defaults.
pub fn resume_policy(json: Option<&str>) -> FfiResult<ResumePolicy> {
    let mut policy = ResumePolicy::default();
    let Some(json) = json else {
        return Ok(policy);
    };
    let p: PolicyJson = parse(json, "policy_json")?;
    if let Some(idle) = optional_secs(p.max_idle_secs, "policy.max_idle_secs")? {
        policy.max_idle = idle;
    }
    if let Some(n) = p.max_errors {
        policy.max_errors = n;
    }
    if let Some(phases) = p.resumable_phases {
        policy.resumable_phases = phases;
    }
    Ok(policy)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJson {
    agent_id: Option<String>,
    #[serde(default)]
    agent_name: Value,
    #[serde(default)]
    purpose: Value,
    metadata: Option<Map<String, Value>>,
}

/// Parses the options of a new lifecycle record; NULL gives an anonymous one.
pub fn new_lifecycle(json: Option<&str>) -> FfiResult<NewLifecycle> {
    let Some(json) = json else {
        return Ok(NewLifecycle::default());
    };
    let n: NewJson = parse(json, "options_json")?;
    Ok(NewLifecycle {
        agent_id: n.agent_id,
        agent_name: n.agent_name,
        purpose: n.purpose,
        metadata: n.metadata.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeJson {
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Value>,
    agent_session_id: Option<String>,
}

/// Parses `as_session_resume`'s options; NULL resumes with the arguments the session was
/// started with and no extra environment.
pub fn resume_options(json: Option<&str>) -> FfiResult<ResumeOptions> {
    let Some(json) = json else {
        return Ok(ResumeOptions::default());
    };
    let r: ResumeJson = parse(json, "options_json")?;
    Ok(ResumeOptions {
        args: r.args,
        env: env_pairs(r.env)?,
        agent_session_id: r.agent_session_id,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CleanupJson {
    older_than: Option<String>,
    older_than_secs: Option<f64>,
    #[serde(default)]
    states: Vec<String>,
    #[serde(default)]
    keep_logs: bool,
    #[serde(default)]
    dry_run: bool,
}

/// Parses `as_manager_cleanup`'s options. The age is required, as `older_than` (`"7d"`,
/// `"12h"`, ...) or `older_than_secs`, never both: a cleanup must not run on a default.
pub fn cleanup_options(json: &str) -> FfiResult<CleanupOptions> {
    let c: CleanupJson = parse(json, "options_json")?;
    let older_than = match (c.older_than, c.older_than_secs) {
        (Some(text), None) => duration::parse(&text)?,
        (None, Some(value)) => duration::secs(value, "options.older_than_secs")?,
        (None, None) => {
            return Err(bad_json(
                "argument `options_json` lacks the age: give \"older_than\" (\"7d\", \"12h\", \"30m\") or \"older_than_secs\""
                    .into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(bad_json(
                "argument `options_json` gives both \"older_than\" and \"older_than_secs\"; give one"
                    .into(),
            ))
        }
    };
    Ok(CleanupOptions {
        older_than,
        states: c
            .states
            .iter()
            .map(|s| s.parse::<State>())
            .collect::<agent_sessions::Result<Vec<State>>>()?,
        keep_logs: c.keep_logs,
        dry_run: c.dry_run,
    })
}

/// Parses a JSON object argument (metadata, a saved document).
pub fn object(json: &str, what: &str) -> FfiResult<Map<String, Value>> {
    match parse::<Value>(json, what)? {
        Value::Object(m) => Ok(m),
        other => Err(bad_json(format!(
            "argument `{what}` must be a JSON object, not {}",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn start() {
        let o = start_options(
            r#"{"agent":"custom","args":["cat"],"cwd":"/tmp","task_id":"t","name":"n",
                "env":{"A":"1"},"cols":80,"rows":24,"idle_after_secs":0.5}"#,
        )
        .unwrap();
        assert_eq!(o.agent, "custom");
        assert_eq!(o.env, vec![("A".into(), "1".into())]);
        assert_eq!(o.idle_after, Some(Duration::from_millis(500)));
        let o = start_options(r#"{"agent":"custom","env":["A=1=2"]}"#).unwrap();
        assert_eq!(o.env, vec![("A".into(), "1=2".into())]);
        for bad in [
            "{",
            "[]",
            r#"{"args":["x"]}"#,
            r#"{"agent":"custom","bogus":1}"#,
            r#"{"agent":"custom","cols":70000}"#,
            r#"{"agent":"custom","env":{"A":1}}"#,
            r#"{"agent":"custom","env":["A"]}"#,
            r#"{"agent":"custom","env":5}"#,
        ] {
            let e = start_options(bad).expect_err(bad);
            assert_eq!(e.code, as_result::AS_INVALID_JSON, "{bad}: {}", e.message);
        }
        for bad in ["-1", "1e20"] {
            let json = format!(r#"{{"agent":"custom","idle_after_secs":{bad}}}"#);
            let e = start_options(&json).unwrap_err();
            assert_eq!(e.code, as_result::AS_INVALID_ARGUMENT, "{bad}");
            assert!(e.message.contains("from 0 to 1000000000"), "{}", e.message);
        }
    }

    #[test]
    fn filters_and_policies() {
        let f = list_filter(Some(r#"{"state":"running","agent_type":"custom"}"#)).unwrap();
        assert_eq!(f.state, Some(State::Running));
        assert_eq!(f.agent_type.as_deref(), Some("custom"));
        let e = list_filter(Some(r#"{"state":"sleepy"}"#)).unwrap_err();
        assert_eq!(e.code, as_result::AS_INVALID_ARGUMENT);
        let p = resume_policy(Some(r#"{"max_idle_secs":60,"max_errors":1}"#)).unwrap();
        assert_eq!(p.max_idle, Duration::from_secs(60));
        assert_eq!(p.max_errors, 1);
        assert_eq!(resume_policy(None).unwrap(), ResumePolicy::default());
        assert_eq!(
            object("[1]", "metadata_json").unwrap_err().code,
            as_result::AS_INVALID_JSON
        );
    }

    #[test]
    fn resume_and_cleanup() {
        let r = resume_options(None).unwrap();
        assert!(r.args.is_none() && r.env.is_empty() && r.agent_session_id.is_none());
        let r = resume_options(Some(
            r#"{"args":["-v"],"env":{"A":"1"},"agent_session_id":"abc"}"#,
        ))
        .unwrap();
        assert_eq!(r.args, Some(vec!["-v".to_string()]));
        assert_eq!(r.env, vec![("A".into(), "1".into())]);
        assert_eq!(r.agent_session_id.as_deref(), Some("abc"));
        for bad in [
            "[]",
            r#"{"argv":[]}"#,
            r#"{"env":{"A":2}}"#,
            r#"{"args":"x"}"#,
        ] {
            let e = resume_options(Some(bad)).expect_err(bad);
            assert_eq!(e.code, as_result::AS_INVALID_JSON, "{bad}: {}", e.message);
        }

        let c = cleanup_options(r#"{"older_than":"7d"}"#).unwrap();
        assert_eq!(c.older_than, Duration::from_secs(7 * 86_400));
        assert!(c.states.is_empty() && !c.keep_logs && !c.dry_run);
        let c = cleanup_options(
            r#"{"older_than_secs":1.5,"states":["stopped","suspended"],"keep_logs":true,"dry_run":true}"#,
        )
        .unwrap();
        assert_eq!(c.older_than, Duration::from_millis(1500));
        assert_eq!(c.states, vec![State::Stopped, State::Suspended]);
        assert!(c.keep_logs && c.dry_run);
        for bad in [
            "{}",
            r#"{"older_than":"1d","older_than_secs":5}"#,
            r#"{"older_than":"1d","bogus":true}"#,
            r#"{"older_than":7}"#,
        ] {
            let e = cleanup_options(bad).expect_err(bad);
            assert_eq!(e.code, as_result::AS_INVALID_JSON, "{bad}: {}", e.message);
        }
        for bad in [
            r#"{"older_than":"7 parsecs"}"#,
            r#"{"older_than_secs":-1}"#,
            r#"{"older_than_secs":1e20}"#,
            r#"{"older_than":"1e20s"}"#,
            r#"{"older_than":"1d","states":["sleepy"]}"#,
        ] {
            let e = cleanup_options(bad).expect_err(bad);
            assert_eq!(
                e.code,
                as_result::AS_INVALID_ARGUMENT,
                "{bad}: {}",
                e.message
            );
        }
    }
}
