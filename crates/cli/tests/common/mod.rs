//! Helpers for the CLI integration tests: each test gets its own sessions home and runs the
//! real `agent-sessions` binary against real processes.
#![allow(dead_code)]

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

    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("AGENT_SESSIONS_HOME", self.home.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("running agent-sessions")
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
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
    pub fn fails(&self, args: &[&str], code: i32) -> String {
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
