//! Where the hooks keep sessions and logs, and when they resume: [`HookOptions`] and the
//! environment variables that override its defaults.

use crate::api::lifecycle::{validate_phase, ResumePolicy};
use std::path::PathBuf;

/// Environment variable naming the hook log file.
pub const HOOK_LOG_ENV: &str = "AGENT_SESSIONS_HOOK_LOG";
/// Environment variables overriding the resume thresholds for hooks.
pub const RESUME_MINUTES_ENV: &str = "AGENT_SESSIONS_RESUME_MINUTES";
/// Environment variable: errors after which a session is no longer resumed (an integer).
pub const MAX_ERRORS_ENV: &str = "AGENT_SESSIONS_MAX_ERRORS";
/// Environment variable: the phases a session may be resumed from, comma-separated.
pub const RESUMABLE_PHASES_ENV: &str = "AGENT_SESSIONS_RESUMABLE_PHASES";
/// Environment variable overriding how long `SubagentStop` waits for the transcript.
pub use crate::api::lifecycle::transcript_wait::TRANSCRIPT_WAIT_ENV;

/// Where the hooks keep sessions and logs, and when they resume.
#[derive(Debug, Clone, Default)]
pub struct HookOptions {
    /// Sessions home; the default home when `None`.
    pub home: Option<PathBuf>,
    /// Log file; `$AGENT_SESSIONS_HOOK_LOG` or `<home>/hooks.log` when `None`.
    pub log_path: Option<PathBuf>,
    /// When `pre_delegate` resumes an existing session instead of starting a new one.
    pub policy: ResumePolicy,
}

impl HookOptions {
    /// Defaults, with the resume thresholds overridable by `AGENT_SESSIONS_RESUME_MINUTES`,
    /// `AGENT_SESSIONS_MAX_ERRORS` and `AGENT_SESSIONS_RESUMABLE_PHASES` (comma-separated).
    /// Unreadable values are ignored (and reported in the returned warnings).
    pub fn from_env() -> (HookOptions, Vec<String>) {
        let mut warnings = Vec::new();
        let mut policy = ResumePolicy::default();
        if let Ok(v) = std::env::var(RESUME_MINUTES_ENV) {
            match v
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|m| crate::model::duration::secs(m * 60.0, RESUME_MINUTES_ENV).ok())
            {
                Some(d) => policy.max_idle = d,
                None => warnings.push(format!("ignoring {RESUME_MINUTES_ENV}={v:?}")),
            }
        }
        if let Ok(v) = std::env::var(MAX_ERRORS_ENV) {
            match v.trim().parse::<i64>() {
                Ok(n) => policy.max_errors = n,
                _ => warnings.push(format!("ignoring {MAX_ERRORS_ENV}={v:?}")),
            }
        }
        if let Ok(v) = std::env::var(RESUMABLE_PHASES_ENV) {
            let phases: Vec<String> = v
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            if phases.iter().all(|p| validate_phase(p).is_ok()) {
                policy.resumable_phases = phases;
            } else {
                warnings.push(format!("ignoring {RESUMABLE_PHASES_ENV}={v:?}"));
            }
        }
        (
            HookOptions {
                home: None,
                log_path: None,
                policy,
            },
            warnings,
        )
    }
}
