//! Agent types: how to launch each agent CLI and how to ask it to quit.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

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
    /// Bytes that interrupt the agent's current turn.
    pub interrupt: Vec<u8>,
    /// One-line description for `agent-sessions agents`.
    pub description: String,
}

/// The built-in agent types.
pub fn builtin() -> Vec<AgentSpec> {
    let cli =
        |name: &str, env: &str, quit: Vec<Vec<u8>>, interrupt: Vec<u8>, desc: &str| AgentSpec {
            name: name.into(),
            binary: Some(name.into()),
            binary_env: Some(env.into()),
            default_args: vec![],
            quit,
            interrupt,
            description: desc.into(),
        };
    vec![
        cli(
            "claude",
            "AGENT_SESSIONS_CLAUDE_BIN",
            vec![b"/exit".to_vec(), b"\r".to_vec()],
            vec![0x1b],
            "Claude Code (`claude`); quits with /exit",
        ),
        cli(
            "codex",
            "AGENT_SESSIONS_CODEX_BIN",
            vec![b"/quit".to_vec(), b"\r".to_vec()],
            vec![0x1b],
            "OpenAI Codex CLI (`codex`); quits with /quit",
        ),
        cli(
            "gemini",
            "AGENT_SESSIONS_GEMINI_BIN",
            vec![vec![0x03], vec![0x03]],
            vec![0x1b],
            "Gemini CLI (`gemini`); quits with Ctrl-C twice",
        ),
        cli(
            "opencode",
            "AGENT_SESSIONS_OPENCODE_BIN",
            vec![vec![0x03], vec![0x03]],
            vec![0x1b],
            "opencode (`opencode`); quits with Ctrl-C twice",
        ),
        AgentSpec {
            name: "custom".into(),
            binary: None,
            binary_env: None,
            default_args: vec![],
            quit: vec![],
            interrupt: vec![0x03],
            description: "any command, given after `--`".into(),
        },
    ]
}

/// Finds an agent type by name.
pub fn lookup(name: &str) -> Result<AgentSpec> {
    let all = builtin();
    all.iter()
        .find(|a| a.name == name)
        .cloned()
        .ok_or_else(|| Error::UnsupportedAgent {
            name: name.to_string(),
            supported: all
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
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
