//! Helpers for the CLI integration tests: each test gets its own sessions home and runs the
//! real `agent-sessions` binary against real processes.
#![allow(dead_code)]

pub mod http;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_agent-sessions");

/// Generous: the test machines are small and busy.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn fake_agent() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fake_agents/fake_agent.py")
}

/// Running the real CLI against a test's own home: `command()` says how, the rest follows.
pub trait Cli {
    fn command(&self) -> Command;

    fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("running agent-sessions")
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "agent-sessions {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs, requires failure with `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "agent-sessions {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

pub struct Env {
    pub home: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            home: tempfile::Builder::new()
                .prefix("as-test")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Starts the fake agent with extra fake-agent arguments; returns the id.
    pub fn start_fake(&self, fake_args: &[&str]) -> String {
        self.start_fake_with(&[], fake_args)
    }

    pub fn start_fake_with(&self, start_args: &[&str], fake_args: &[&str]) -> String {
        let fake = fake_agent();
        let mut args = vec!["start", "custom"];
        args.extend_from_slice(start_args);
        args.extend_from_slice(&["--", "python3", fake.to_str().unwrap()]);
        args.extend_from_slice(fake_args);
        self.ok(&args).trim().to_string()
    }

    pub fn record(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["show", id, "--json"])).unwrap()
    }

    pub fn state(&self, id: &str) -> String {
        self.ok(&["state", id]).trim().to_string()
    }

    pub fn screen(&self, id: &str) -> String {
        self.ok(&["screen", id])
    }

    /// Polls until the screen contains `needle`.
    pub fn wait_screen(&self, id: &str, needle: &str) -> String {
        let mut last = String::new();
        let found = poll(|| {
            last = self.screen(id);
            last.contains(needle)
        });
        assert!(
            found,
            "screen never showed {needle:?}; last screen:\n{last}"
        );
        last
    }

    pub fn wait_state(&self, id: &str, state: &str) {
        self.ok(&["wait", id, "--state", state, "--timeout", "30"]);
    }

    /// Stops every session left so no process outlives the test.
    pub fn stop_all(&self) {
        if let Ok(list) = serde_json::from_str::<Value>(&self.ok(&["ls", "--json"])) {
            for r in list.as_array().unwrap() {
                let id = r["session_id"].as_str().unwrap();
                let _ = self.run(&["stop", id, "--force"]);
            }
        }
    }
}

impl Cli for Env {
    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("AGENT_SESSIONS_HOME", self.home.path());
        c
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Polls `cond` every 20 ms until it holds or [`DEADLINE`] passes.
pub fn poll(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

pub fn states_of(rec: &Value) -> Vec<String> {
    rec["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap().to_string())
        .collect()
}

pub fn pid_alive(pid: i64) -> bool {
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

pub fn kill9(pid: i64) {
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
}

/// The folder of the fake agent CLIs (tests/fake_agents).
pub fn fakes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fake_agents")
        .canonicalize()
        .unwrap()
}

/// An [`Env`] whose commands also run the fake agent CLIs for the built-in agent types
/// (`AGENT_SESSIONS_<AGENT>_BIN` → a wrapper around `<agent>_like.py` with `fake_args`), and
/// keep every record the fakes write in this test's own folders: `CLAUDE_CONFIG_DIR`,
/// `CODEX_HOME` and `FAKE_AGENTS_HOME` point into a temp dir (the hosts and agents inherit
/// the CLI's environment), so nothing reaches the real ~/.claude or ~/.codex. An inherited
/// `AGENT_SESSIONS_TASK` is removed. Use its own `run`/`ok`/`fails`/`command` for anything
/// that starts an agent or reads its records (start, resume, history).
pub struct AgentEnv {
    pub env: Env,
    pub dir: tempfile::TempDir,
}

impl AgentEnv {
    pub fn new(fake_args: &[&str]) -> AgentEnv {
        let dir = tempfile::Builder::new()
            .prefix("as-agents")
            .tempdir()
            .unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        for agent in ["claude", "codex", "gemini", "opencode"] {
            let mut script = format!(
                "#!/bin/sh\nexec python3 '{}'",
                fakes_dir().join(format!("{agent}_like.py")).display()
            );
            for a in fake_args {
                script.push_str(&format!(" '{a}'"));
            }
            script.push_str(" \"$@\"\n");
            let path = bin.join(agent);
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        AgentEnv {
            env: Env::new(),
            dir,
        }
    }

    pub fn claude_config_dir(&self) -> PathBuf {
        self.dir.path().join("claude")
    }

    pub fn codex_home(&self) -> PathBuf {
        self.dir.path().join("codex")
    }

    pub fn fake_agents_home(&self) -> PathBuf {
        self.dir.path().join("fake-agents")
    }

    /// The sessions' working folder (pass it with `--cwd`).
    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// Starts a built-in agent type (run by its fake) in [`AgentEnv::workspace`]; returns
    /// the id.
    pub fn start(&self, agent: &str, start_args: &[&str]) -> String {
        let ws = self.workspace();
        let mut args = vec!["start", agent, "--cwd", ws.to_str().unwrap()];
        args.extend_from_slice(start_args);
        self.ok(&args).trim().to_string()
    }
}

impl Cli for AgentEnv {
    fn command(&self) -> Command {
        let mut c = self.env.command();
        c.env("CLAUDE_CONFIG_DIR", self.claude_config_dir())
            .env("CODEX_HOME", self.codex_home())
            .env("FAKE_AGENTS_HOME", self.fake_agents_home())
            .env_remove("AGENT_SESSIONS_TASK");
        for agent in ["claude", "codex", "gemini", "opencode"] {
            c.env(
                format!("AGENT_SESSIONS_{}_BIN", agent.to_uppercase()),
                self.dir.path().join("bin").join(agent),
            );
        }
        c
    }
}

impl std::ops::Deref for AgentEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}
