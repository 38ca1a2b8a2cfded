//! Agent types: how to launch each agent CLI, how to read its screen, how to interrupt it
//! and how to ask it to quit. The per-agent facts themselves live in [`crate::config::detect`]
//! (screen rules, quit and interrupt sequences, where the session id shows); this module
//! puts them together with the launch facts, and adds the user-defined types
//! ([`crate::config::agent_config`]).

use crate::config::detect::{self, ScreenRules};
use crate::model::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where an agent type was defined.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentOrigin {
    /// One of the types built into the library (claude, codex, gemini, opencode, custom).
    Builtin,
    /// `agents.toml` at this path.
    File(PathBuf),
    /// `SessionManager::define_agent`.
    Api,
}

impl AgentOrigin {
    /// `builtin`, the file's path, or `api`.
    pub fn describe(&self) -> String {
        match self {
            AgentOrigin::Builtin => "builtin".into(),
            AgentOrigin::File(p) => p.display().to_string(),
            AgentOrigin::Api => "api".into(),
        }
    }
}

/// How one agent type is launched and controlled.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    /// The type name used on the command line and in records.
    pub name: String,
    /// Binary looked up on PATH (None for `custom`, which takes its command after `--`).
    pub binary: Option<String>,
    /// Environment variable that overrides the binary path.
    pub binary_env: Option<String>,
    /// Arguments put before the user's own.
    pub default_args: Vec<String>,
    /// Writes that ask the agent to exit by itself, each sent separately; empty when unknown.
    pub quit: Vec<Vec<u8>>,
    /// Bytes that interrupt the agent's current turn (one press).
    pub interrupt: Vec<u8>,
    /// Presses of `interrupt` needed to stop a turn (opencode: 2).
    pub interrupt_presses: u32,
    /// Screen patterns; `None` means no screen detection (the quiet timer decides).
    pub rules: Option<ScreenRules>,
    /// How long a waiting screen must hold before the session reads waiting_input; `None`
    /// for the default ([`crate::config::defaults::DEFAULT_DEBOUNCE`]).
    pub debounce: Option<Duration>,
    /// Name under which [`detect::find_agent_session_id`] knows this agent's session id.
    pub session_id_agent: Option<String>,
    /// Arguments that resume a conversation, `{id}` standing for the agent's own session
    /// id, put before the user's arguments; `None` when the agent cannot resume.
    pub resume: Option<Vec<String>>,
    /// Arguments that start a conversation under an id we choose (`{id}`), put before the
    /// user's arguments; `None` when the agent picks its own id.
    pub session_id_args: Option<Vec<String>>,
    /// One-line description for `agent-sessions agents`.
    pub description: String,
    /// Where the definition comes from.
    pub origin: AgentOrigin,
}

/// An agent type as `agent-sessions agents --json`, Python and the C ABI's `as_agents` show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentInfo {
    /// The type name.
    pub name: String,
    /// `built-in`, `agents.toml (...)` or `API`: where the definition comes from.
    pub source: String,
    /// The binary looked up on PATH; `null` for `custom`.
    pub binary: Option<String>,
    /// The environment variable that overrides the binary.
    pub binary_env: Option<String>,
    /// Arguments put before the user's own.
    pub default_args: Vec<String>,
    /// Whether the binary (or its override) is found now; `null` for `custom`.
    pub found: Option<bool>,
    /// Whether the screen is classified (screen rules exist).
    pub screen_detection: bool,
    /// The screen rules, when there are any.
    pub screen_rules: Option<ScreenRules>,
    /// What asks the agent to quit, each write as text.
    pub quit: Vec<String>,
    /// What interrupts its turn (one press), as text.
    pub interrupt: String,
    /// Presses of `interrupt` a turn needs.
    pub interrupt_presses: u32,
    /// One-line description.
    pub description: String,
}

impl AgentSpec {
    /// The binary a session of this type would run: the override variable when set and not
    /// empty, else the name; `None` for `custom`.
    pub fn program(&self) -> Option<String> {
        let bin = self.binary.clone()?;
        Some(
            self.binary_env
                .as_deref()
                .and_then(|v| std::env::var(v).ok())
                .filter(|v| !v.is_empty())
                .unwrap_or(bin),
        )
    }

    /// The type as every interface shows it, with whether its binary is found now.
    pub fn info(&self) -> AgentInfo {
        AgentInfo {
            name: self.name.clone(),
            source: self.origin.describe(),
            binary: self.binary.clone(),
            binary_env: self.binary_env.clone(),
            default_args: self.default_args.clone(),
            found: self.program().map(|b| resolve_program(&b).is_some()),
            screen_detection: self.rules.is_some(),
            screen_rules: self.rules.clone(),
            quit: self
                .quit
                .iter()
                .map(|q| String::from_utf8_lossy(q).into_owned())
                .collect(),
            interrupt: String::from_utf8_lossy(&self.interrupt).into_owned(),
            interrupt_presses: self.interrupt_presses,
            description: self.description.clone(),
        }
    }
}

/// The built-in agent types.
pub fn builtin() -> Vec<AgentSpec> {
    let cli = |name: &str, env: &str, desc: &str, resume: &[&str]| {
        let controls = detect::builtin_controls(name).expect("built-in agents have controls");
        AgentSpec {
            name: name.into(),
            binary: Some(name.into()),
            binary_env: Some(env.into()),
            default_args: vec![],
            quit: controls.quit,
            interrupt: controls.interrupt,
            interrupt_presses: controls.interrupt_presses,
            rules: ScreenRules::builtin(name),
            debounce: None,
            session_id_agent: Some(name.into()),
            resume: Some(resume.iter().map(|a| a.to_string()).collect()),
            // Claude's `--session-id` is handled with its hooks (see agent_hooks::claude).
            session_id_args: None,
            description: desc.into(),
            origin: AgentOrigin::Builtin,
        }
    };
    vec![
        cli(
            "claude",
            "AGENT_SESSIONS_CLAUDE_BIN",
            "Claude Code (`claude`); quits with /exit, reports through its hooks",
            &["--resume", "{id}"],
        ),
        cli(
            "codex",
            "AGENT_SESSIONS_CODEX_BIN",
            "OpenAI Codex CLI (`codex`); quits with /quit, reports through its hooks and status escapes",
            &["resume", "{id}"],
        ),
        cli(
            "gemini",
            "AGENT_SESSIONS_GEMINI_BIN",
            "Gemini CLI (`gemini`); quits with Ctrl-C twice",
            &["--resume", "{id}"],
        ),
        cli(
            "opencode",
            "AGENT_SESSIONS_OPENCODE_BIN",
            "opencode (`opencode`); quits with Ctrl-C, interrupts with Esc twice",
            &["--session", "{id}"],
        ),
        AgentSpec {
            name: "custom".into(),
            binary: None,
            binary_env: None,
            default_args: vec![],
            quit: vec![],
            interrupt: vec![0x03],
            interrupt_presses: 1,
            rules: None,
            debounce: None,
            session_id_agent: None,
            resume: None,
            session_id_args: None,
            description: "any command, given after `--`; waiting_input after output is quiet"
                .into(),
            origin: AgentOrigin::Builtin,
        },
    ]
}

/// Finds a built-in agent type by name.
pub fn lookup(name: &str) -> Result<AgentSpec> {
    find(name, &[]).ok_or_else(|| unknown(name, &[]))
}

/// Finds an agent type among the built-in ones, then `user` (user-defined types, earlier
/// entries winning).
pub fn find(name: &str, user: &[AgentSpec]) -> Option<AgentSpec> {
    builtin()
        .into_iter()
        .chain(user.iter().cloned())
        .find(|a| a.name == name)
}

/// The error for an agent type that is neither built in nor in `user`, naming all of them.
pub fn unknown(name: &str, user: &[AgentSpec]) -> Error {
    let mut names: Vec<String> = builtin().into_iter().map(|a| a.name).collect();
    for a in user {
        if !names.contains(&a.name) {
            names.push(a.name.clone());
        }
    }
    Error::UnsupportedAgent {
        name: name.to_string(),
        supported: names.join(", "),
    }
}

/// Quotes argv for display only (it is never run through a shell).
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl AgentSpec {
    /// The full argv for a launch: binary (resolved to a path), default args, user args.
    /// For `custom`, the user's first argument is the program.
    pub fn argv(&self, user_args: &[String]) -> Result<Vec<String>> {
        let (program, rest): (String, &[String]) = match &self.binary {
            Some(bin) => {
                let chosen = self
                    .binary_env
                    .as_deref()
                    .and_then(|v| std::env::var(v).ok())
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| bin.clone());
                (chosen, user_args)
            }
            None => match user_args.split_first() {
                Some((p, rest)) => (p.clone(), rest),
                None => {
                    return Err(Error::InvalidArgument(
                        "the custom agent needs a command: agent-sessions start custom -- PROGRAM [ARGS...]"
                            .into(),
                    ))
                }
            },
        };
        let resolved = resolve_program(&program).ok_or_else(|| Error::AgentLaunch {
            agent: self.name.clone(),
            reason: match &self.binary_env {
                Some(env) => format!(
                    "'{program}' was not found on PATH; install it or set {env} to its path"
                ),
                None => format!(
                    "'{program}' was not found (not a path to an executable and not on PATH)"
                ),
            },
        })?;
        let mut argv = vec![resolved.display().to_string()];
        argv.extend(self.default_args.iter().cloned());
        argv.extend(rest.iter().cloned());
        Ok(argv)
    }
}

/// Resolves a program the way `execvp` would, so a missing binary is reported before any
/// process starts.
pub fn resolve_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_take_their_controls_from_detect() {
        for name in detect::BUILTIN_AGENTS {
            let a = lookup(name).unwrap();
            let c = detect::builtin_controls(name).unwrap();
            assert_eq!(
                (a.quit, a.interrupt, a.interrupt_presses),
                (c.quit, c.interrupt, c.interrupt_presses)
            );
            assert_eq!(a.rules, ScreenRules::builtin(name));
        }
        assert_eq!(lookup("opencode").unwrap().interrupt_presses, 2);
        let custom = lookup("custom").unwrap();
        assert!(custom.rules.is_none() && custom.quit.is_empty());
    }

    #[test]
    fn unknown_names_every_type() {
        let mut user = lookup("custom").unwrap();
        user.name = "aider".into();
        let e = unknown("nope", &[user]).to_string();
        for n in ["claude", "codex", "gemini", "opencode", "custom", "aider"] {
            assert!(e.contains(n), "{e}");
        }
    }
}
