//! Arguments the CLI only converts: every flag that takes seconds refuses 1e20, NaN, inf
//! and -1 with exit 2 and one line naming the allowed range (never a panic), and `wait`
//! takes several states.

mod common;
use common::*;

/// The bad numbers every seconds flag must refuse.
const BAD_SECONDS: [&str; 4] = ["1e20", "NaN", "inf", "-1"];

/// Runs `args`, requires exit 2 with a single line on stderr (no panic, no backtrace, no
/// usage block), and returns that line.
fn refused(env: &Env, args: &[&str]) -> String {
    let err = env.fails(args, 2);
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "agent-sessions {args:?}: not one line:\n{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "agent-sessions {args:?} panicked:\n{err}"
    );
    assert!(
        lines[0].starts_with("agent-sessions: "),
        "agent-sessions {args:?}: {err}"
    );
    lines[0].to_string()
}

/// Like [`refused`], and the line names the flag and the range of seconds.
fn refused_seconds(env: &Env, args: &[&str], flag: &str) {
    let line = refused(env, args);
    assert!(
        line.contains(flag) && line.contains("from 0 to 1000000000"),
        "agent-sessions {args:?}: {line}"
    );
}

#[test]
fn every_seconds_flag_refuses_huge_nan_infinite_and_negative_numbers() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    for bad in BAD_SECONDS {
        // FAULT 1: `wait --timeout 1e20` panicked (exit 101) in Duration::from_secs_f64.
        refused_seconds(
            &env,
            &["wait", &id, "--state", "waiting_input", "--timeout", bad],
            "--timeout",
        );
        refused_seconds(&env, &["stop", &id, "--timeout", bad], "--timeout");
        refused_seconds(&env, &["suspend", &id, "--timeout", bad], "--timeout");
        refused_seconds(
            &env,
            &["resume", &id, "--wait", "--timeout", bad],
            "--timeout",
        );
        refused_seconds(&env, &["top", "--once", "--interval", bad], "--interval");
        for flag in [
            "--idle-after",
            "--debounce",
            "--sample-interval",
            "--workspace-interval",
        ] {
            refused_seconds(&env, &["start", "custom", flag, bad, "--", "cat"], flag);
        }
        let line = refused(&env, &["cleanup", "--older-than", bad]);
        assert!(line.contains("invalid duration"), "{line}");
    }
    // Refused before anything happened: the session still runs, and no session was started.
    let state = env.state(&id);
    assert!(state == "running" || state == "waiting_input", "{state}");
    let list: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // The edges of the range are accepted.
    let ready = "running,waiting_input";
    env.ok(&["wait", &id, "--state", ready, "--timeout", "0"]);
    env.ok(&["wait", &id, "--state", ready, "--timeout", "1e9"]);
    env.ok(&["stop", &id, "--timeout", "0"]);
}

#[test]
fn wait_takes_several_states_comma_separated_or_repeated() {
    let env = Env::new();
    let id = env.start_fake_with(&["--idle-after", "0.3"], &[]);
    // The first of them that comes is printed.
    let reached = env.ok(&[
        "wait",
        &id,
        "--state",
        "stopped,waiting_input",
        "--timeout",
        "30",
    ]);
    assert_eq!(reached.trim(), "waiting_input");
    let rec: serde_json::Value = serde_json::from_str(&env.ok(&[
        "wait",
        &id,
        "--state",
        "failed",
        "--state",
        "waiting_input",
        "--json",
    ]))
    .unwrap();
    assert_eq!(rec["state"], "waiting_input", "{rec}");
    let err = env.fails(
        &["wait", &id, "--state", "stopped,failed", "--timeout", "0.3"],
        5,
    );
    assert!(err.contains("timed out"), "{err}");
    let line = refused(&env, &["wait", &id, "--state", "running,sleepy"]);
    assert!(line.contains("sleepy"), "{line}");
    env.ok(&["stop", &id]);
    // None of them can come any more: at once, exit 6.
    let err = env.fails(
        &[
            "wait",
            &id,
            "--state",
            "running,waiting_input",
            "--timeout",
            "30",
        ],
        6,
    );
    assert!(err.contains("can never become"), "{err}");
    let reached = env.ok(&["wait", &id, "--state", "running,stopped"]);
    assert_eq!(reached.trim(), "stopped");
}
