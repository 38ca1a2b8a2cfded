//! What the library hands a new host on its standard input. Environment values travel this
//! way, never on the command line or in the store, so secrets stay out of `ps` and records.

use crate::config::detect::ScreenRules;
use serde::{Deserialize, Serialize};

/// File descriptor on which a new host reports readiness.
pub const READY_FD: i32 = 3;
/// File descriptor of the session's lock file, locked by the starter, held by the host for
/// its whole life. A free lock on a live-looking session means the host is gone.
pub const LOCK_FD: i32 = 4;

/// Everything a host needs to launch and drive one agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchSpec {
    pub session_id: String,
    pub agent_type: String,
    /// Program (already resolved to a path) and its arguments.
    pub argv: Vec<String>,
    pub cwd: String,
    /// Extra environment for the agent, on top of the starter's environment.
    pub env: Vec<(String, String)>,
    pub cols: u16,
    pub rows: u16,
    /// Output silence after which a running session reads as waiting_input.
    pub idle_after_secs: f64,
    /// Writes that ask the agent to quit, sent one by one before any signal.
    pub quit: Vec<Vec<u8>>,
    /// Bytes that interrupt the current turn.
    pub interrupt: Vec<u8>,
    /// Pause between typed text and its Enter, for TUIs that treat a fast burst as a paste.
    pub enter_delay_ms: u64,
    /// Presses of `interrupt` needed to stop a turn, sent a short pause apart.
    #[serde(default = "one")]
    pub interrupt_presses: u32,
    /// Screen patterns of the agent; `None`: no screen detection, the quiet timer decides.
    #[serde(default)]
    pub rules: Option<ScreenRules>,
    /// How long a waiting screen must hold before the session reads waiting_input.
    #[serde(default = "default_debounce_ms")]
    pub debounce_ms: u64,
    /// The name under which `detect::find_agent_session_id` knows the agent, if it does.
    #[serde(default)]
    pub session_id_agent: Option<String>,
    /// The agent's own session id when the launch fixed it (claude `--session-id`).
    #[serde(default)]
    pub agent_session_id: Option<String>,
    /// Telemetry intervals in ms (resources, workspace, flush); `None`: the defaults.
    #[serde(default)]
    pub telemetry_ms: Option<(u64, u64, u64)>,
    /// This launch resumes an earlier conversation: an early failure that the agent
    /// explains as a missing conversation is recorded as such.
    #[serde(default)]
    pub resuming: bool,
    /// Output log cap; the log rotates at half of it, keeping one older part.
    #[serde(default = "default_max_log")]
    pub max_log_bytes: u64,
    /// The session's task, passed to the agent as `AGENT_SESSIONS_TASK` so sessions it
    /// starts link to the same task.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The session's approval policy: decides permission requests the agent's hooks report.
    #[serde(default)]
    pub policy: Option<crate::model::policy::Policy>,
    /// The agent reports its own busy and idle (see `agent_hooks::HookLaunch`).
    #[serde(default)]
    pub reports_status: bool,
    /// Names the agent must not inherit from the starter's environment (see
    /// `AgentControls::headless_env`); `env` may still set them.
    #[serde(default)]
    pub env_unset: Vec<String>,
    /// The template the session came from (`NAME@VERSION`), for event hooks' filter.
    #[serde(default)]
    pub template: Option<String>,
}

pub use crate::config::defaults::DEFAULT_MAX_LOG_BYTES;

fn default_max_log() -> u64 {
    DEFAULT_MAX_LOG_BYTES
}

impl LaunchSpec {
    /// The parts that come from the agent type (quit and interrupt keys, screen rules,
    /// debounce, where its session id shows), with the rest empty: callers fill in the
    /// session's own fields with struct update syntax.
    pub fn for_agent(
        spec: &crate::config::agents::AgentSpec,
        debounce: std::time::Duration,
    ) -> Self {
        LaunchSpec {
            session_id: String::new(),
            agent_type: spec.name.clone(),
            argv: Vec::new(),
            cwd: String::new(),
            env: Vec::new(),
            cols: 0,
            rows: 0,
            idle_after_secs: 0.0,
            quit: spec.quit.clone(),
            interrupt: spec.interrupt.clone(),
            // TUIs treat a fast burst as a paste; a plain command does not care.
            enter_delay_ms: match crate::config::detect::builtin_controls(&spec.name) {
                Some(c) => c.enter_delay_ms,
                None if spec.name == "custom" => 0,
                None => 50,
            },
            interrupt_presses: spec.interrupt_presses,
            rules: spec.rules.clone(),
            debounce_ms: debounce.as_millis() as u64,
            session_id_agent: spec.session_id_agent.clone(),
            agent_session_id: None,
            telemetry_ms: None,
            resuming: false,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            task_id: None,
            policy: None,
            reports_status: false,
            env_unset: crate::config::detect::builtin_controls(&spec.name)
                .map(|c| c.headless_env.iter().map(|n| n.to_string()).collect())
                .unwrap_or_default(),
            template: None,
        }
    }

    /// The sampler's settings for this session.
    pub fn telemetry_config(&self) -> crate::services::telemetry::SamplerConfig {
        self.telemetry_ms
            .map_or_else(Default::default, |(r, w, f)| {
                crate::services::telemetry::SamplerConfig::from_millis(r, w, f)
            })
    }
}

fn one() -> u32 {
    1
}

fn default_debounce_ms() -> u64 {
    crate::config::defaults::DEFAULT_DEBOUNCE.as_millis() as u64
}

/// The host's first and only message on the readiness pipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyReport {
    pub ok: bool,
    pub error: Option<String>,
    pub agent_pid: Option<u32>,
    #[serde(default)]
    pub host_pid: Option<u32>,
}
