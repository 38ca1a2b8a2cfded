//! Start, observe, send, stop, state and query: each numbered point of the hosted-sessions
//! issue, through the real CLI binary and real processes.

mod common;
use common::*;

#[test]
fn start_prints_an_id_and_records_starting_then_running() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    assert!(id.starts_with("agent-"), "{id}");
    let rec = env.record(&id);
    let states = states_of(&rec);
    assert_eq!(&states[..2], ["starting", "running"], "{rec}");
    for t in rec["transitions"].as_array().unwrap() {
        assert!(t["at"].as_str().unwrap().ends_with('Z'));
        assert!(!t["cause"].as_str().unwrap().is_empty());
    }
    assert_eq!(rec["agent_type"], "custom");
    assert_eq!(
        rec["command"][0]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap(),
        "python3"
    );
    assert!(rec["started_at"].is_string());
    assert!(rec["ended_at"].is_null());
    env.wait_screen(&id, "fake>");
}

#[test]
fn start_json_prints_the_whole_record() {
    let env = Env::new();
    let fake = fake_agent();
    let out = env.ok(&[
        "start",
        "custom",
        "--json",
        "--name",
        "n1",
        "--task",
        "T-7",
        "--cols",
        "100",
        "--rows",
        "30",
        "--",
        "python3",
        fake.to_str().unwrap(),
    ]);
    let rec: serde_json::Value = serde_json::from_str(&out).unwrap();
    for field in [
        "session_id",
        "agent_type",
        "state",
        "started_at",
        "ended_at",
        "exit_code",
        "workspace_path",
        "attached",
        "last_input_at",
        "last_output_at",
        "task_id",
        "command",
        "transitions",
    ] {
        assert!(rec.get(field).is_some(), "missing {field} in {rec}");
    }
    assert_eq!(rec["task_id"], "T-7");
    assert_eq!(rec["name"], "n1");
    assert_eq!(rec["cols"], 100);
    assert_eq!(rec["state"], "running");
}

#[test]
fn unknown_agent_exits_2_naming_the_supported_types() {
    let env = Env::new();
    let err = env.fails(&["start", "nosuchagent"], 2);
    for name in ["claude", "codex", "gemini", "opencode", "custom"] {
        assert!(err.contains(name), "{err}");
    }
    assert_eq!(
        env.ok(&["ls", "--json"]).trim(),
        "[]",
        "nothing may be recorded"
    );
}

#[test]
fn a_missing_binary_fails_clearly_and_leaves_a_failed_record() {
    let env = Env::new();
    let out = env
        .command()
        .env("AGENT_SESSIONS_CLAUDE_BIN", "/nonexistent/claude")
        .args(["start", "claude"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/claude") && err.contains("AGENT_SESSIONS_CLAUDE_BIN"),
        "{err}"
    );
    let list: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    let rec = &list[0];
    assert_eq!(rec["state"], "failed");
    assert!(
        rec["state_reason"].as_str().unwrap().contains("not found"),
        "{rec}"
    );

    let err = env.fails(&["start", "custom", "--", "/no/such/program"], 1);
    assert!(err.contains("/no/such/program"), "{err}");
}

#[test]
fn send_reaches_the_agent_and_screen_and_logs_show_it() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    env.ok(&["send", &id, "hello there"]);
    let screen = env.wait_screen(&id, "echo: hello there");
    assert!(screen.contains("fake agent ready"), "{screen}");
    let plain = env.ok(&["logs", &id, "--plain"]);
    assert!(plain.contains("echo: hello there"), "{plain}");
    assert!(!plain.contains('\x1b'));

    // --no-enter types without submitting; --keys sends Enter.
    env.ok(&["send", &id, "--no-enter", "partial"]);
    env.wait_screen(&id, "fake> partial");
    assert!(!env.screen(&id).contains("echo: partial"));
    env.ok(&["send", &id, "--keys", "Enter"]);
    env.wait_screen(&id, "echo: partial");
    // Activity timestamps reach the store within about a second.
    assert!(poll(|| env.record(&id)["last_input_at"].is_string()));
    assert!(poll(|| env.record(&id)["last_output_at"].is_string()));
}

#[test]
fn raw_logs_keep_escape_sequences() {
    let env = Env::new();
    let id = env.start_fake(&["--prompt", "\x1b[1mbold> \x1b[0m"]);
    env.wait_screen(&id, "bold>");
    let out = env.run(&["logs", &id]);
    assert!(
        out.stdout.windows(4).any(|w| w == b"\x1b[1m"),
        "raw log lost escapes"
    );
}

#[test]
fn stop_ends_in_stopped_and_everything_stays_readable() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    env.ok(&["send", &id, "before stop"]);
    env.wait_screen(&id, "echo: before stop");
    assert_eq!(env.ok(&["stop", &id]).trim(), "stopped");
    let rec = env.record(&id);
    let states = states_of(&rec);
    assert_eq!(states.last().unwrap(), "stopped");
    assert!(states.contains(&"stopping".to_string()), "{states:?}");
    assert!(rec["ended_at"].is_string());
    assert!(env.screen(&id).contains("echo: before stop"));
    assert!(env
        .ok(&["logs", &id, "--plain"])
        .contains("echo: before stop"));
    // Idempotent.
    assert_eq!(env.ok(&["stop", &id]).trim(), "stopped");
    assert_eq!(states_of(&env.record(&id)).len(), states.len());
}

#[test]
fn stop_escalates_to_sigkill_for_an_agent_that_ignores_sigterm() {
    let env = Env::new();
    let id = env.start_fake(&["--ignore-sigterm"]);
    env.wait_screen(&id, "fake>");
    let agent = env.record(&id)["agent_pid"].as_i64().unwrap();
    assert_eq!(env.ok(&["stop", &id, "--timeout", "1"]).trim(), "stopped");
    let rec = env.record(&id);
    assert_eq!(rec["exit_signal"], 9, "{rec}");
    assert!(!pid_alive(agent));
}

#[test]
fn stop_kills_the_whole_process_group() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    env.ok(&["send", &id, "spawn"]);
    env.wait_screen(&id, "spawned");
    env.ok(&["stop", &id, "--timeout", "5"]);
    // The sleeping grandchild shared the agent's process group and got the same signal.
    let dir = env.home().join(&id);
    assert!(dir.join("output.log").exists());
    let out = std::process::Command::new("pgrep")
        .args(["-f", "sleep 300"])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&out.stdout).to_string();
    let agent_pgid = env.record(&id)["agent_pid"].as_i64().unwrap();
    for pid in pids.split_whitespace() {
        let pgid = unsafe { libc::getpgid(pid.parse().unwrap()) };
        assert_ne!(
            pgid as i64, agent_pgid,
            "a child of the agent survived the stop"
        );
    }
}

#[test]
fn force_stop_kills_at_once() {
    let env = Env::new();
    let id = env.start_fake(&["--ignore-sigterm"]);
    env.wait_screen(&id, "fake>");
    let started = std::time::Instant::now();
    assert_eq!(
        env.ok(&["stop", &id, "--force", "--timeout", "60"]).trim(),
        "stopped"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(50));
    assert_eq!(env.record(&id)["exit_signal"], 9);
}

#[test]
fn a_nonzero_exit_ends_in_failed_with_the_code() {
    let env = Env::new();
    let id = env.start_fake(&["--exit-code", "3"]);
    env.wait_state(&id, "failed");
    let rec = env.record(&id);
    assert_eq!(rec["exit_code"], 3);
    assert!(rec["state_reason"].as_str().unwrap().contains("status 3"));
    assert!(env.screen(&id).contains("fake agent ready"));
}

#[test]
fn a_clean_exit_ends_in_stopped() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    env.ok(&["send", &id, "quit"]);
    env.wait_state(&id, "stopped");
    assert_eq!(env.record(&id)["exit_code"], 0);
}

#[test]
fn kill_9_of_the_agent_ends_in_failed_with_the_signal() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    kill9(env.record(&id)["agent_pid"].as_i64().unwrap());
    env.wait_state(&id, "failed");
    let rec = env.record(&id);
    assert_eq!(rec["exit_signal"], 9);
    assert!(
        rec["state_reason"].as_str().unwrap().contains("SIGKILL"),
        "{rec}"
    );
}

#[test]
fn kill_9_of_the_host_reads_unknown_never_running() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    let rec = env.record(&id);
    kill9(rec["host_pid"].as_i64().unwrap());
    assert!(
        poll(|| env.state(&id) == "unknown"),
        "state stayed {}",
        env.state(&id)
    );
    let rec = env.record(&id);
    assert_eq!(states_of(&rec).last().unwrap(), "unknown");
    assert_eq!(
        rec["transitions"].as_array().unwrap().last().unwrap()["source"],
        "liveness"
    );
    // Input to it is refused with its state; screen and logs still read.
    let err = env.fails(&["send", &id, "x"], 4);
    assert!(err.contains("unknown"), "{err}");
    assert!(env.screen(&id).contains("fake>"));
    let agent = rec["agent_pid"].as_i64().unwrap();
    if pid_alive(agent) {
        kill9(agent);
    }
}

#[test]
fn a_session_outlives_the_process_that_started_it_and_another_process_stops_it() {
    let env = Env::new();
    // A short-lived starter: a shell that starts the session and exits.
    let fake = fake_agent();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{BIN} start custom -- python3 {} ; exit 0",
            fake.display()
        ))
        .env("AGENT_SESSIONS_HOME", env.home())
        .output()
        .unwrap();
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    env.wait_screen(&id, "fake>");
    assert_eq!(env.state(&id), "running");
    env.ok(&["send", &id, "still here"]);
    env.wait_screen(&id, "echo: still here");
    assert_eq!(env.ok(&["stop", &id]).trim(), "stopped");
}

#[test]
fn quiet_output_reads_as_waiting_input_and_input_makes_it_running() {
    let env = Env::new();
    let id = env.start_fake_with(&["--idle-after", "0.5"], &[]);
    env.wait_state(&id, "waiting_input");
    let rec = env.record(&id);
    let last = rec["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["source"], "quiet_timer");
    env.ok(&["send", &id, "work 3"]);
    env.wait_screen(&id, "working...");
    // It went back to running on the input and output.
    let rec = env.record(&id);
    assert!(
        states_of(&rec).iter().filter(|s| *s == "running").count() >= 2,
        "{rec}"
    );
    env.wait_state(&id, "waiting_input");
}

#[test]
fn wait_succeeds_times_out_and_refuses_states_that_cannot_come() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.ok(&["wait", &id, "--state", "running", "--timeout", "10"]);
    let err = env.fails(&["wait", &id, "--state", "stopped", "--timeout", "0.3"], 5);
    assert!(err.contains("timed out"), "{err}");
    env.ok(&["stop", &id]);
    let err = env.fails(&["wait", &id, "--state", "running", "--timeout", "10"], 6);
    assert!(err.contains("can never become running"), "{err}");
    let err = env.fails(&["wait", &id, "--state", "sleeping"], 2);
    assert!(err.contains("unknown state"), "{err}");
}

#[test]
fn ls_filters_and_show_and_rm() {
    let env = Env::new();
    let a = env.start_fake_with(&["--task", "T1"], &[]);
    let b = env.start_fake_with(&["--task", "T2"], &["--exit-code", "0"]);
    env.wait_state(&b, "stopped");
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ls", "--json"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&env.ok(&all)).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["session_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&["--task", "T1"]), vec![a.clone()]);
    assert_eq!(ids(&["--state", "stopped"]), vec![b.clone()]);
    assert_eq!(ids(&["--agent", "custom"]).len(), 2);
    assert!(ids(&["--agent", "claude"]).is_empty());
    let table = env.ok(&["ls"]);
    assert!(table.contains(&a) && table.contains("T2"), "{table}");
    let shown = env.ok(&["show", &a]);
    assert!(
        shown.contains("starting") && shown.contains("process spawned"),
        "{shown}"
    );

    let err = env.fails(&["rm", &a], 4);
    assert!(err.contains("stop it first"), "{err}");
    env.ok(&["rm", &b]);
    assert!(!env.home().join(&b).exists());
    env.fails(&["show", &b], 3);
}

#[test]
fn bad_ids_get_clear_errors_and_change_nothing() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    let before = env.ok(&["ls", "--json"]);
    let long = "a".repeat(10_000);
    for bad in ["../x", "/etc/passwd", "a/b", long.as_str()] {
        for cmd in [
            vec!["show", bad],
            vec!["send", bad, "x"],
            vec!["stop", bad],
            vec!["rm", bad],
            vec!["state", bad],
        ] {
            let err = env.fails(&cmd, 2);
            assert!(err.contains("invalid session id"), "{cmd:?}: {err}");
            assert!(
                err.len() < 400,
                "error floods the terminal: {} bytes",
                err.len()
            );
        }
    }
    let err = env.fails(&["show", "agent-20200101-000000-deadbeef"], 3);
    assert!(
        err.contains("no session") && err.contains("agent-sessions ls"),
        "{err}"
    );
    assert!(!env.home().parent().unwrap().join("x").exists());
    let after: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(after[0]["session_id"], before[0]["session_id"]);
    assert_eq!(after.as_array().unwrap().len(), 1);
    env.ok(&["stop", &id]);
}

#[test]
fn sending_to_a_stopped_session_fails_with_its_state() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.ok(&["stop", &id]);
    let err = env.fails(&["send", &id, "hello"], 4);
    assert!(err.contains("stopped") && err.contains(&id), "{err}");
    let err = env.fails(&["send", &id, "--keys", "C-c"], 4);
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn agents_lists_every_type() {
    let env = Env::new();
    let out = env.ok(&["agents"]);
    for name in ["claude", "codex", "gemini", "opencode", "custom"] {
        assert!(out.contains(name), "{out}");
    }
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["agents", "--json"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
}

#[test]
fn env_values_reach_the_agent_but_never_the_store() {
    let env = Env::new();
    let secret = "s3cr3t-value-0xC0FFEE";
    let id = env.start_fake_with(
        &["--env", &format!("MY_TOKEN={secret}")],
        &["--print-env", "MY_TOKEN"],
    );
    env.wait_screen(&id, &format!("MY_TOKEN={secret}"));
    let rec = env.record(&id);
    assert_eq!(rec["env_keys"], serde_json::json!(["MY_TOKEN"]));
    env.ok(&["stop", &id]);
    for f in ["agent-sessions.db", "agent-sessions.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.home().join(f)) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "secret in {f}"
            );
        }
    }
    let hostlog = std::fs::read_to_string(env.home().join(&id).join("host.log")).unwrap();
    assert!(!hostlog.contains(secret));
}

#[test]
fn session_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(env.home()), 0o700);
    assert_eq!(mode(&env.home().join(&id)), 0o700);
    for f in ["output.log", "host.sock", "host.lock"] {
        assert_eq!(mode(&env.home().join(&id).join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&env.home().join("agent-sessions.db")), 0o600);
}

#[test]
fn a_flood_of_output_is_captured_whole() {
    let env = Env::new();
    let n: usize = 20 << 20;
    let id = env.start_fake(&["--flood", &n.to_string()]);
    env.wait_state(&id, "stopped");
    let log = env.home().join(&id).join("output.log");
    let len = std::fs::metadata(&log).unwrap().len() as usize;
    // The PTY turns each \n into \r\n.
    let lines = n / 86 + 1;
    assert!(
        len >= n && len <= n + lines,
        "log has {len} bytes for {n} written"
    );
}

#[test]
fn logs_follow_ends_when_the_session_ends() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    let follow = env
        .command()
        .args(["logs", &id, "--follow", "--plain"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.ok(&["send", &id, "followed line"]);
    env.wait_screen(&id, "echo: followed line");
    env.ok(&["send", &id, "quit"]);
    let out = follow.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("echo: followed line"));
}
