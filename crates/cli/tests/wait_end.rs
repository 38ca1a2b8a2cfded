//! `wait` for an ending asks the session's host to answer once the ending is recorded (the
//! WaitEnd request) instead of polling the store. These tests start the wait while the agent
//! still runs, then end the session each way it can end, and check the wait returns with the
//! real outcome: stopped, failed, unknown (host killed with SIGKILL), and its own timeout.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `wait` running in the background; killed on drop (a failed assertion leaves nothing).
struct Waiter(Child);

impl Waiter {
    fn start(env: &Env, args: &[&str]) -> Waiter {
        Waiter(
            Command::new(BIN)
                .env("AGENT_SESSIONS_HOME", env.home())
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("running agent-sessions wait"),
        )
    }

    fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    /// Waits (up to the generous deadline) for it to exit; its exit code and stdout.
    fn finish(mut self) -> (Option<i32>, String) {
        let start = Instant::now();
        while self.running() {
            assert!(
                start.elapsed() < DEADLINE,
                "wait did not return after the session ended"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = std::mem::replace(&mut self.0, Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into(),
        )
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An agent that runs until `flag` exists, then exits with `code`.
fn start_until(env: &Env, flag: &Path, code: i32) -> String {
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.02; done; exit {code}",
        flag.display()
    );
    env.ok(&["start", "custom", "--", "sh", "-c", &script])
        .trim()
        .to_string()
}

/// Gives the waiter a moment to reach its request (no correctness depends on it: a wait
/// that starts late sees the ending in the store) while checking it does not return early.
fn still_waiting(w: &mut Waiter) {
    for _ in 0..10 {
        assert!(w.running(), "wait returned before the session ended");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_wait_in_progress_returns_the_recorded_ending() {
    let env = Env::new();
    let flags = tempfile::tempdir().unwrap();
    for (code, wanted, expect_exit, state) in [
        (0, "stopped", Some(0), "stopped"),
        (3, "failed", Some(0), "failed"),
        // Ended otherwise than wanted: refused at once as unreachable.
        (3, "stopped", Some(6), "failed"),
    ] {
        let flag = flags.path().join(format!("go-{code}-{wanted}"));
        let id = start_until(&env, &flag, code);
        // A quiet agent may read as waiting_input (the idle timer): either is live.
        env.wait_state(&id, "running,waiting_input");
        let mut w = Waiter::start(&env, &["wait", &id, "--state", wanted, "--timeout", "60"]);
        still_waiting(&mut w);
        std::fs::write(&flag, b"").unwrap();
        let (exit, _) = w.finish();
        assert_eq!(exit, expect_exit, "waiting for {wanted}, agent exit {code}");
        assert_eq!(env.state(&id), state);
    }
}

#[test]
fn a_wait_in_progress_sees_a_killed_host_as_unknown() {
    let env = Env::new();
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("never");
    let id = start_until(&env, &flag, 0);
    // A quiet agent may read as waiting_input (the idle timer): either is live.
    env.wait_state(&id, "running,waiting_input");
    let rec = env.record(&id);
    let host = rec["host_pid"].as_i64().expect("a host pid");
    let agent = rec["agent_pid"].as_i64().expect("an agent pid");
    // Ends the orphaned agent however the test goes.
    struct KillAgent(i64, std::path::PathBuf);
    impl Drop for KillAgent {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.1, b"");
            kill9(self.0);
        }
    }
    let _agent = KillAgent(agent, flag.clone());
    let mut unknown = Waiter::start(
        &env,
        &["wait", &id, "--state", "unknown", "--timeout", "60"],
    );
    let mut stopped = Waiter::start(
        &env,
        &["wait", &id, "--state", "stopped", "--timeout", "60"],
    );
    still_waiting(&mut unknown);
    assert!(stopped.running());
    kill9(host);
    let (exit, _) = unknown.finish();
    assert_eq!(exit, Some(0), "wait for unknown after the host was killed");
    let (exit, _) = stopped.finish();
    assert_eq!(
        exit,
        Some(6),
        "wait for stopped: unknown makes it unreachable"
    );
    assert_eq!(env.state(&id), "unknown");
}

#[test]
fn a_wait_for_an_ending_keeps_its_own_timeout() {
    let env = Env::new();
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("later");
    let id = start_until(&env, &flag, 0);
    // A quiet agent may read as waiting_input (the idle timer): either is live.
    env.wait_state(&id, "running,waiting_input");
    let (exit, _) = Waiter::start(
        &env,
        &["wait", &id, "--state", "stopped", "--timeout", "0.5"],
    )
    .finish();
    assert_eq!(exit, Some(5), "a wait past its timeout reports the timeout");
    assert!(["running", "waiting_input"].contains(&env.state(&id).as_str()));
    // The host is unharmed by the abandoned request and still records the real ending.
    std::fs::write(&flag, b"").unwrap();
    env.wait_state(&id, "stopped");
}
