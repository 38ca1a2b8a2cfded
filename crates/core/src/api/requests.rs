//! JSON requests, one parser for every front door that takes JSON (the C ABI's options, the
//! server's request bodies): start options, list filters, resume policies, new lifecycle
//! records, resume options and cleanup options. Unknown fields are refused, so a misspelt
//! option fails loudly instead of being ignored. A request that does not parse or has the
//! wrong shape is [`Error::InvalidJson`]; a well-formed value out of range is
//! [`Error::InvalidArgument`]. `what` names the argument in messages ("argument `options_json`" for C,
//! "the request body" for HTTP).

use crate::api::lifecycle::{NewLifecycle, ResumePolicy};
use crate::api::manager::cleanup::CleanupOptions;
use crate::api::manager::resume::ResumeOptions;
use crate::api::manager::StartOptions;
use crate::model::duration::{self, optional_secs};
use crate::model::error::{Error, Result};
use crate::model::state::State;
use crate::store::ListFilter;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Parses `json` (the argument named `what`) into `T`.
pub fn parse<T: DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::InvalidJson(format!("{what} is not valid: {e}")))
}

fn bad_json(message: String) -> Error {
    Error::InvalidJson(message)
}

/// `as_manager_start`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartJson {
    /// Required unless `template` names one (then it overrides the template's).
    agent: Option<String>,
    /// `NAME` or `NAME@VERSION` of a launch template; the other fields override it.
    template: Option<String>,
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
    /// Path of an approval policy file.
    policy: Option<PathBuf>,
    /// `{"usd": 2, "tokens": 1000000, "on_budget": "stop"}` (see `model::budget`).
    budget: Option<crate::model::budget::Budget>,
    /// `true` (a branch named for the session), a branch name, or
    /// `{"branch": ..., "root": ...}` (see `model::worktree`).
    worktree: Option<Value>,
}

/// `env` is an object `{"NAME": "value"}` or a list of `"NAME=value"` strings.
fn env_pairs(env: Option<Value>) -> Result<Vec<(String, String)>> {
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

/// A start's `worktree`: `true`/`false`, a branch name, or `{"branch": ..., "root": ...}`.
pub fn worktree_request(
    v: Option<Value>,
) -> Result<Option<crate::model::worktree::WorktreeRequest>> {
    use crate::model::worktree::WorktreeRequest;
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(WorktreeRequest::default())),
        Some(Value::String(branch)) => Ok(Some(WorktreeRequest {
            branch: Some(branch),
            root: None,
        })),
        Some(v @ Value::Object(_)) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| bad_json(format!("options.worktree is not valid: {e}"))),
        Some(other) => Err(bad_json(format!(
            "options.worktree is {other}; use true, a branch name or {{\"branch\": \"...\", \"root\": \"...\"}}"
        ))),
    }
}

/// A start request: the options, and the template they start from, if any.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// `NAME` or `NAME@VERSION`; `None`: the options alone.
    pub template: Option<String>,
    /// The options (with a template: those set override it; an empty `agent` takes its).
    pub options: StartOptions,
}

/// Parses start options, which may name a template.
pub fn start_request(json: &str, what: &str) -> Result<StartRequest> {
    let o: StartJson = parse(json, what)?;
    if o.agent.is_none() && o.template.is_none() {
        return Err(bad_json(format!(
            "{what} needs `agent` (claude, codex, gemini, opencode, custom, ...) or `template`"
        )));
    }
    Ok(StartRequest {
        template: o.template,
        options: StartOptions {
            agent: o.agent.unwrap_or_default(),
            args: o.args,
            cwd: o.cwd,
            task_id: o.task_id,
            name: o.name,
            env: env_pairs(o.env)?,
            cols: o.cols,
            rows: o.rows,
            idle_after: optional_secs(o.idle_after_secs, "options.idle_after_secs")?,
            max_log_bytes: o.max_log_bytes,
            policy: o
                .policy
                .as_deref()
                .map(crate::config::policy_file::load)
                .transpose()?,
            budget: o.budget.map(|b| b.check().map(|()| b)).transpose()?,
            worktree: worktree_request(o.worktree)?,
        },
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
pub fn list_filter(json: Option<&str>, what: &str) -> Result<ListFilter> {
    let Some(json) = json else {
        return Ok(ListFilter::default());
    };
    let f: FilterJson = parse(json, what)?;
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
pub fn resume_policy(json: Option<&str>, what: &str) -> Result<ResumePolicy> {
    let mut policy = ResumePolicy::default();
    let Some(json) = json else {
        return Ok(policy);
    };
    let p: PolicyJson = parse(json, what)?;
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
pub fn new_lifecycle(json: Option<&str>, what: &str) -> Result<NewLifecycle> {
    let Some(json) = json else {
        return Ok(NewLifecycle::default());
    };
    let n: NewJson = parse(json, what)?;
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
pub fn resume_options(json: Option<&str>, what: &str) -> Result<ResumeOptions> {
    let Some(json) = json else {
        return Ok(ResumeOptions::default());
    };
    let r: ResumeJson = parse(json, what)?;
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
    #[serde(default)]
    force: bool,
}

/// Parses `as_manager_cleanup`'s options. The age is required, as `older_than` (`"7d"`,
/// `"12h"`, ...) or `older_than_secs`, never both: a cleanup must not run on a default.
pub fn cleanup_options(json: &str, what: &str) -> Result<CleanupOptions> {
    let c: CleanupJson = parse(json, what)?;
    let older_than = match (c.older_than, c.older_than_secs) {
        (Some(text), None) => duration::parse(&text)?,
        (None, Some(value)) => duration::secs(value, "options.older_than_secs")?,
        (None, None) => {
            return Err(bad_json(
                format!("{what} lacks the age: give \"older_than\" (\"7d\", \"12h\", \"30m\") or \"older_than_secs\""),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(bad_json(
                format!("{what} gives both \"older_than\" and \"older_than_secs\"; give one"),
            ))
        }
    };
    Ok(CleanupOptions {
        older_than,
        states: c
            .states
            .iter()
            .map(|s| s.parse::<State>())
            .collect::<Result<Vec<State>>>()?,
        keep_logs: c.keep_logs,
        dry_run: c.dry_run,
        force: c.force,
    })
}

/// Parses a JSON object argument (metadata, a saved document).
pub fn object(json: &str, what: &str) -> Result<Map<String, Value>> {
    match parse::<Value>(json, what)? {
        Value::Object(m) => Ok(m),
        other => Err(bad_json(format!(
            "{what} must be a JSON object, not {}",
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

    fn start_options(json: &str, what: &str) -> Result<StartOptions> {
        start_request(json, what).map(|r| r.options)
    }

    #[test]
    fn start() {
        let o = start_options(
            r#"{"agent":"custom","args":["cat"],"cwd":"/tmp","task_id":"t","name":"n",
                "env":{"A":"1"},"cols":80,"rows":24,"idle_after_secs":0.5}"#,
            "options_json",
        )
        .unwrap();
        assert_eq!(o.agent, "custom");
        assert_eq!(o.env, vec![("A".into(), "1".into())]);
        assert_eq!(o.idle_after, Some(Duration::from_millis(500)));
        let o = start_options(r#"{"agent":"custom","env":["A=1=2"]}"#, "options_json").unwrap();
        assert_eq!(o.env, vec![("A".into(), "1=2".into())]);
        let r = start_request(r#"{"template":"rev@2","rows":30}"#, "options_json").unwrap();
        assert_eq!(
            (r.template.as_deref(), r.options.agent.as_str()),
            (Some("rev@2"), "")
        );
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
            let e = start_options(bad, "options_json").expect_err(bad);
            assert!(matches!(e, Error::InvalidJson(_)), "{bad}: {e}");
        }
        for bad in ["-1", "1e20"] {
            let json = format!(r#"{{"agent":"custom","idle_after_secs":{bad}}}"#);
            let e = start_options(&json, "options_json").unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}");
            assert!(e.to_string().contains("from 0 to 1000000000"), "{e}");
        }
    }

    #[test]
    fn filters_and_policies() {
        let f = list_filter(
            Some(r#"{"state":"running","agent_type":"custom"}"#),
            "filter_json",
        )
        .unwrap();
        assert_eq!(f.state, Some(State::Running));
        assert_eq!(f.agent_type.as_deref(), Some("custom"));
        let e = list_filter(Some(r#"{"state":"sleepy"}"#), "filter_json").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        let p = resume_policy(
            Some(r#"{"max_idle_secs":60,"max_errors":1}"#),
            "policy_json",
        )
        .unwrap();
        assert_eq!(p.max_idle, Duration::from_secs(60));
        assert_eq!(p.max_errors, 1);
        assert_eq!(
            resume_policy(None, "policy_json").unwrap(),
            ResumePolicy::default()
        );
        assert!(matches!(
            object("[1]", "metadata_json").unwrap_err(),
            Error::InvalidJson(_)
        ));
    }

    #[test]
    fn resume_and_cleanup() {
        let r = resume_options(None, "options_json").unwrap();
        assert!(r.args.is_none() && r.env.is_empty() && r.agent_session_id.is_none());
        let r = resume_options(
            Some(r#"{"args":["-v"],"env":{"A":"1"},"agent_session_id":"abc"}"#),
            "options_json",
        )
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
            let e = resume_options(Some(bad), "options_json").expect_err(bad);
            assert!(matches!(e, Error::InvalidJson(_)), "{bad}: {e}");
        }

        let c = cleanup_options(r#"{"older_than":"7d"}"#, "options_json").unwrap();
        assert_eq!(c.older_than, Duration::from_secs(7 * 86_400));
        assert!(c.states.is_empty() && !c.keep_logs && !c.dry_run);
        let c = cleanup_options(
            r#"{"older_than_secs":1.5,"states":["stopped","suspended"],"keep_logs":true,"dry_run":true}"#,
            "options_json",
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
            let e = cleanup_options(bad, "options_json").expect_err(bad);
            assert!(matches!(e, Error::InvalidJson(_)), "{bad}: {e}");
        }
        for bad in [
            r#"{"older_than":"7 parsecs"}"#,
            r#"{"older_than_secs":-1}"#,
            r#"{"older_than_secs":1e20}"#,
            r#"{"older_than":"1e20s"}"#,
            r#"{"older_than":"1d","states":["sleepy"]}"#,
        ] {
            let e = cleanup_options(bad, "options_json").expect_err(bad);
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e}");
        }
    }
}

/// Parses a snapshot's options (`{name, workspace, max_workspace_bytes, keep}`, all
/// optional; `None` for the defaults).
pub fn snapshot_options(
    json: Option<&str>,
    what: &str,
) -> Result<crate::model::snapshot::SnapshotOptions> {
    match json {
        None => Ok(Default::default()),
        Some(j) => parse(j, what),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreJson {
    cwd: Option<std::path::PathBuf>,
    name: Option<String>,
    env: Option<Value>,
}

/// Parses a restore's options (`{cwd, name, env}`, all optional; `env` as `start` takes it).
pub fn restore_options(
    json: Option<&str>,
    what: &str,
) -> Result<crate::model::snapshot::RestoreOptions> {
    let Some(json) = json else {
        return Ok(Default::default());
    };
    let r: RestoreJson = parse(json, what)?;
    Ok(crate::model::snapshot::RestoreOptions {
        cwd: r.cwd,
        name: r.name,
        env: env_pairs(r.env)?,
    })
}

/// Parses snapshot retention (`{keep, older_than_secs, session_id}`).
pub fn retention(json: &str, what: &str) -> Result<crate::model::snapshot::Retention> {
    parse(json, what)
}
