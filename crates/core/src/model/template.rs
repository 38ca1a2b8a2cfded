//! Launch templates: a named, versioned setup to start sessions from in one word
//! (`start --template reviewer`), with any option of the start overriding it.
//!
//! A template keeps environment variable *names* only: the values come from the starting
//! process's environment at each start, so no secret is ever stored. Every saved version is
//! kept; one is current (the newest, unless a rollback chose an older one).

use crate::model::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a template sets; every field but `agent` may be left out. The JSON shape is what
/// every front door takes (`template add --file`, Python, C, HTTP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Agent type: `claude`, `codex`, `gemini`, `opencode`, `custom`, or one of agents.toml.
    pub agent: String,
    /// Arguments; for `custom`, the program and its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Names of environment variables passed to the agent, each with the value it has in
    /// the starting process (a start fails when one is not set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Working folder (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Put before the task id given at start (`PROJ-` and `--task 42` make `PROJ-42`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_prefix: Option<String>,
    /// The sessions' name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Terminal size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u16>,
    /// Terminal size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u16>,
    /// Output silence before waiting_input (seconds; 0 turns quiet detection off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_after_secs: Option<f64>,
    /// Screen settle time before a state is read from it (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce_secs: Option<f64>,
    /// Do not install the agent's own hooks (Claude Code, Codex).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hooks: bool,
    /// Output log cap in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_log_bytes: Option<u64>,
    /// Path of an approval policy file (see `model::policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Cost budget of each session started from it (see `model::budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::model::budget::Budget>,
    /// Each session gets its own git worktree (a branch named for it unless one is given;
    /// see `model::worktree`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<crate::model::worktree::WorktreeRequest>,
    /// What the template is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Template {
    /// Parses a template's JSON (`what` names it in messages).
    pub fn from_json(json: &str, what: &str) -> Result<Template> {
        let t: Template = serde_json::from_str(json)
            .map_err(|e| Error::InvalidJson(format!("{what} is not valid: {e}")))?;
        for name in &t.env {
            if name.contains('=') {
                return Err(Error::InvalidArgument(format!(
                    "template env holds names only, not {name:?}: the value comes from the environment at each start, so no secret is stored"
                )));
            }
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::InvalidArgument(format!(
                    "template env names an odd variable {name:?}: use letters, digits and _"
                )));
            }
        }
        if let Some(b) = &t.budget {
            b.check()?;
        }
        Ok(t)
    }
}

/// One saved version of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    /// The template's name.
    pub name: String,
    /// 1 for the first save, then one more for each.
    pub version: u32,
    /// When this version was saved (ISO 8601 UTC).
    pub created_at: String,
    /// Is this the version a start uses when none is named?
    pub current: bool,
    /// What it sets.
    pub template: Template,
}

/// Checks a template name: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit (names become neither paths nor commands, but they are typed).
pub fn validate_name(name: &str) -> Result<()> {
    if crate::model::id::is_plain_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{name:?} is not a template name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

/// Splits `NAME[@VERSION]`.
pub fn parse_ref(spec: &str) -> Result<(String, Option<u32>)> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => {
            let v: u32 = v.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{spec:?}: the version after @ is a number from 1, e.g. reviewer@2"
                ))
            })?;
            (n, Some(v))
        }
        None => (spec, None),
    };
    validate_name(name)?;
    Ok((name.to_string(), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refs_and_env_names_are_checked() {
        assert!(validate_name("reviewer-2.b_c").is_ok());
        for bad in ["", "-x", "../x", "a b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_ref("r@3").unwrap(), ("r".into(), Some(3)));
        assert_eq!(parse_ref("r").unwrap(), ("r".into(), None));
        assert!(parse_ref("r@0").is_err() && parse_ref("r@x").is_err());
        assert!(Template::from_json(r#"{"agent":"claude","env":["A=b"]}"#, "t").is_err());
        assert!(Template::from_json(r#"{"agent":"claude","bogus":1}"#, "t").is_err());
        let t =
            Template::from_json(r#"{"agent":"claude","env":["ANTHROPIC_API_KEY"]}"#, "t").unwrap();
        assert_eq!(t.env, ["ANTHROPIC_API_KEY"]);
    }
}
