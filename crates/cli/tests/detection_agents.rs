//! Agent-aware state detection end to end: each fake agent (tests/fake_agents/*_like.py,
//! drawn after captures of the real CLIs) runs as a real session of its built-in agent type,
//! through `AGENT_SESSIONS_<AGENT>_BIN` pointing at a wrapper script, and the record must
//! follow its screens: waiting at the prompt, running during a turn (also through long
//! silent stretches), waiting for a permission or a folder trust, interrupted turns, and a
//! stop through the agent's own quit sequence.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fakes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fake_agents")
        .canonicalize()
        .unwrap()
}

/// A session of one built-in agent type, run by its fake.
struct Fake {
    env: Env,
    dir: tempfile::TempDir,
    agent: &'static str,
    bin: PathBuf,
}

impl Fake {
    /// `fake_args` go to the fake on every launch (e.g. `--reply-delay 0.5`).
    fn new(agent: &'static str, fake_args: &[&str]) -> Fake {
        let dir = tempfile::Builder::new()
            .prefix("as-fake")
            .tempdir()
            .unwrap();
        let bin = dir.path().join(format!("{agent}-bin"));
        let mut script = format!(
            "#!/bin/sh\nexec python3 '{}'",
            fakes_dir().join(format!("{agent}_like.py")).display()
        );
        for a in fake_args {
            script.push_str(&format!(" '{a}'"));
        }
        script.push_str(" \"$@\"\n");
        std::fs::write(&bin, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fake {
            env: Env::new(),
            dir,
            agent,
            bin,
        }
    }

    fn start(&self, start_args: &[&str]) -> String {
        let out = self
            .env
            .command()
            .env(
                format!("AGENT_SESSIONS_{}_BIN", self.agent.to_uppercase()),
                &self.bin,
            )
            .args(["start", self.agent, "--cwd"])
            .arg(self.dir.path())
            .args(start_args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "start {}: {}",
            self.agent,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

/// (to, source, state_reason-less cause) of every transition.
fn history(env: &Env, id: &str) -> Vec<(String, String, String)> {
    env.record(id)["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["to"].as_str().unwrap().to_string(),
                t["source"].as_str().unwrap().to_string(),
                t["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Waits for waiting_input and returns the record.
fn wait_waiting(env: &Env, id: &str) -> Value {
    env.ok(&["wait", id, "--state", "waiting_input", "--timeout", "30"]);
    env.record(id)
}

fn assert_waiting(rec: &Value, reason: &str, source: &str) {
    assert_eq!(rec["state"], "waiting_input", "{rec}");
    assert_eq!(rec["state_reason"], reason, "{rec}");
    assert_eq!(rec["state_source"], source, "{rec}");
}

/// Sends `text` and checks that the session reads running at once, marked by the user.
fn send_and_expect_running(env: &Env, id: &str, text: &str) -> usize {
    let before = history(env, id).len();
    env.ok(&["send", id, text]);
    let st: Value = serde_json::from_str(&env.ok(&["state", id, "--json"])).unwrap();
    assert_eq!(st["state"], "running", "right after send: {st}");
    before
}

/// The transitions recorded since index `from`, as (to, source).
fn since(env: &Env, id: &str, from: usize) -> Vec<(String, String)> {
    history(env, id)[from..]
        .iter()
        .map(|(to, src, _)| (to.clone(), src.clone()))
        .collect()
}

fn pair(to: &str, source: &str) -> (String, String) {
    (to.to_string(), source.to_string())
}

struct Look {
    busy: &'static str,
    interrupted: &'static str,
}

fn look(agent: &str) -> Look {
    match agent {
        "claude" => Look {
            busy: "esc to interrupt",
            interrupted: "Interrupted",
        },
        "codex" => Look {
            busy: "esc to interrupt",
            interrupted: "Conversation interrupted",
        },
        "gemini" => Look {
            busy: "esc to cancel",
            interrupted: "Request cancelled",
        },
        "opencode" => Look {
            busy: "esc interrupt",
            interrupted: "The operation was aborted",
        },
        _ => unreachable!(),
    }
}

/// The whole life of one agent's session, screen detection only:
/// start → waiting_input/prompt; a turn that opens a permission dialog →
/// waiting_input/permission; approve → running → waiting_input/prompt with the reply on
/// screen; a long turn interrupted → waiting_input/prompt; stop → the agent quits by itself
/// (exit status 0, no signal).
fn life_of(agent: &'static str, start_args: &[&str]) {
    life_with(agent, &[], start_args, "screen");
}

/// [`life_of`] with extra fake arguments, and `src` the source expected to decide the waits.
fn life_with(agent: &'static str, fake_args: &[&str], start_args: &[&str], src: &str) {
    let mut args = vec!["--reply-delay", "0.5", "--permission"];
    args.extend_from_slice(fake_args);
    let fake = Fake::new(agent, &args);
    let env = &fake.env;
    let l = look(agent);
    let id = fake.start(start_args);

    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", src);
    assert_eq!(
        history(env, &id)
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        ["starting", "running", "waiting_input"]
    );

    // The first turn asks for a permission.
    let n = send_and_expect_running(env, &id, "first task");
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "permission", src);
    assert_eq!(rec["pending"]["kind"], "permission", "{rec}");
    assert_eq!(rec["pending"]["source"], src, "{rec}");
    assert_eq!(
        since(env, &id, n),
        [pair("running", "user"), pair("waiting_input", src)]
    );

    // Approve: running at once, waiting at the prompt after the reply, and `wait` never
    // returns before the reply is on screen.
    let n = history(env, &id).len();
    env.ok(&["send", &id, "--keys", "Enter"]);
    let rec = wait_waiting(env, &id);
    assert!(
        env.screen(&id).contains("MOCK-REPLY"),
        "{}",
        env.screen(&id)
    );
    assert_waiting(&rec, "prompt", src);
    assert_eq!(
        since(env, &id, n),
        [pair("running", "user"), pair("waiting_input", src)],
        "one running and one waiting per turn: no flapping"
    );

    // A plain turn.
    let n = send_and_expect_running(env, &id, "second task");
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", src);
    assert_eq!(
        since(env, &id, n),
        [pair("running", "user"), pair("waiting_input", src)]
    );

    // A 30 s turn, interrupted.
    send_and_expect_running(env, &id, "sleep 30");
    env.wait_screen(&id, l.busy);
    env.ok(&["interrupt", &id]);
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", src);
    assert!(
        env.screen(&id).contains(l.interrupted),
        "{}",
        env.screen(&id)
    );
    // The interrupt is in the history as input (no hook of the agent reports it).
    let interrupts: Vec<Value> = env
        .ok(&["events", &id, "--json"])
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "input" && e["data"]["interrupt"] == true)
        .collect();
    assert_eq!(interrupts.len(), 1, "{interrupts:?}");
    assert_eq!(interrupts[0]["source"], "user", "{interrupts:?}");

    // Stop: the agent's own quit sequence ends it (SIGTERM would give 143).
    assert_eq!(env.ok(&["stop", &id, "--timeout", "20"]).trim(), "stopped");
    let rec = env.record(&id);
    assert_eq!(rec["exit_code"], 0, "{rec}");
    assert!(rec["exit_signal"].is_null(), "{rec}");
}

#[test]
fn claude_life_on_screen_detection_alone() {
    life_of("claude", &["--no-hooks"]);
}

#[test]
fn codex_life_from_the_status_it_reports() {
    // The fake writes Codex 0.171's program-status escape on every change, as the real one
    // does (tests/data/agents/codex-0.171): it decides every wait.
    life_with("codex", &[], &[], "agent_status");
}

#[test]
fn deny_answers_a_codex_approval_and_nothing_else() {
    let fake = Fake::new("codex", &["--reply-delay", "0.5", "--permission"]);
    let env = &fake.env;
    let id = fake.start(&[]);
    wait_waiting(env, &id);
    // At the prompt there is nothing to answer: refused, no key sent.
    let err = env.fails(&["approve", &id], 2);
    assert!(err.contains("waits on no permission dialog"), "{err}");
    let err = env.fails(&["deny", &id], 2);
    assert!(err.contains("waits on no permission dialog"), "{err}");
    send_and_expect_running(env, &id, "first task");
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "permission", "agent_status");
    assert!(poll(
        || env.record(&id)["pending"]["options"][0] == "Yes, proceed (y)"
    ));
    env.ok(&["deny", &id]);
    let screen = env.screen(&id);
    assert!(!screen.contains("Would you like to run"), "{screen}");
    // The turn ended without running the command: back at the prompt, nothing pending.
    assert!(
        poll(|| env.record(&id)["state_reason"] == "prompt"),
        "{}",
        env.record(&id)
    );
    let rec = env.record(&id);
    assert_eq!(rec["state"], "waiting_input", "{rec}");
    assert!(rec["pending"].is_null(), "{rec}");
    assert!(
        !env.screen(&id).contains("MOCK-REPLY"),
        "{}",
        env.screen(&id)
    );
}

#[test]
fn codex_reply_streaming_with_long_pauses_stays_running_until_done() {
    // Codex 0.171 draws no busy line while a reply streams; with pauses longer than the
    // debounce its screen alone read idle mid-turn. Its status says working until done.
    let fake = Fake::new("codex", &["--stream-pauses", "3"]);
    let env = &fake.env;
    let id = fake.start(&[]);
    wait_waiting(env, &id);
    let n = send_and_expect_running(env, &id, "write a long answer");
    let rec = wait_waiting(env, &id);
    assert!(
        env.screen(&id).contains("MOCK-REPLY from responses api"),
        "waiting before the whole reply was on screen: {}",
        env.screen(&id)
    );
    assert_waiting(&rec, "prompt", "agent_status");
    let h = history(env, &id);
    assert_eq!(
        since(env, &id, n),
        [
            pair("running", "user"),
            pair("waiting_input", "agent_status")
        ],
        "{:?}",
        &h[n..]
    );
    assert!(h[h.len() - 1].2.contains("turn is done"), "{:?}", &h[n..]);
}

#[test]
fn codex_life_on_screen_detection_alone() {
    life_with("codex", &["--no-status"], &[], "screen");
}

#[test]
fn gemini_life() {
    life_of("gemini", &[]);
}

#[test]
fn opencode_life_with_two_esc_presses_to_interrupt() {
    life_of("opencode", &[]);
}

#[test]
fn an_agent_that_has_drawn_nothing_yet_is_not_waiting() {
    // opencode draws its first frame seconds after it starts; the quiet timer used to take
    // that blank screen for a wait ("other"), and text sent then was lost.
    let fake = Fake::new("opencode", &["--start-delay", "4"]);
    let env = &fake.env;
    let id = fake.start(&["--idle-after", "1"]);
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", "screen");
    assert_eq!(
        history(env, &id)
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        ["starting", "running", "waiting_input"],
        "{:?}",
        history(env, &id)
    );
}

#[test]
fn gemini_folder_trust_dialog_reads_waiting_for_trust() {
    let fake = Fake::new("gemini", &["--reply-delay", "0.3", "--trust"]);
    let env = &fake.env;
    let id = fake.start(&[]);
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "trust", "screen");
    assert!(env
        .screen(&id)
        .contains("Do you trust the files in this folder?"));
    env.ok(&["send", &id, "--keys", "Enter"]);
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", "screen");
}

/// A reply with a long stretch of no output at all (a long tool call): the busy footer stays
/// on screen, so the session must stay running even though the quiet timer (1 s here) would
/// call it idle.
fn silent_busy_stretch(agent: &'static str, start_args: &[&str], src: &str) {
    let fake = Fake::new(agent, &["--reply-delay", "0.3", "--silent", "4"]);
    let env = &fake.env;
    let mut args = vec!["--idle-after", "1"];
    args.extend_from_slice(start_args);
    let id = fake.start(&args);
    wait_waiting(env, &id);
    let n = send_and_expect_running(env, &id, "long tool call");
    // Watch the whole turn: running until the reply shows.
    let mut seen = Vec::new();
    let done = poll(|| {
        let st = env.state(&id);
        if !seen.contains(&st) {
            seen.push(st.clone());
        }
        env.screen(&id).contains("MOCK-REPLY")
    });
    assert!(done, "the reply never came");
    // (A status arrives right behind the reply's frame, so a state read just before the
    // screen may already be the wait; the history below covers that case.)
    if src == "screen" {
        assert_eq!(seen, ["running"], "states seen before the reply");
    }
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", src);
    assert_eq!(
        since(env, &id, n),
        [pair("running", "user"), pair("waiting_input", src)],
        "the silent stretch must not read as idle"
    );
}

#[test]
fn claude_silent_busy_stretch_stays_running() {
    silent_busy_stretch("claude", &["--no-hooks"], "screen");
}

#[test]
fn codex_silent_busy_stretch_stays_running() {
    silent_busy_stretch("codex", &[], "agent_status");
}

#[test]
fn claude_hooks_report_turns_and_permissions() {
    // A 5 s debounce: only the hooks can make the session wait within the test's timings.
    let fake = Fake::new("claude", &["--reply-delay", "0.5", "--permission"]);
    let env = &fake.env;
    let id = fake.start(&["--debounce", "5"]);
    let rec = env.record(&id);
    // The library chose Claude's session id and passed it with --session-id.
    let asid = rec["agent_session_id"].as_str().unwrap().to_string();
    let cmd: Vec<&str> = rec["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let at = cmd.iter().position(|a| *a == "--session-id").unwrap();
    assert_eq!(cmd[at + 1], asid);
    let settings = cmd[cmd.iter().position(|a| *a == "--settings").unwrap() + 1];
    let settings: Value = serde_json::from_str(settings).unwrap();
    assert!(settings["hooks"]["Stop"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .ends_with("__hook stop"));

    // Starting: no hook says "idle", the screen does (after the long debounce).
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", "screen");

    // The permission dialog is reported by its PermissionRequest hook, long before the screen
    // debounce could.
    let n = send_and_expect_running(env, &id, "list /tmp");
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "permission", "agent_hook");
    let h = history(env, &id);
    assert!(
        h[h.len() - 1].2.contains("PermissionRequest hook: Bash"),
        "{:?}",
        &h[n..]
    );
    // What it waits on: the hook's tool and input, and the dialog's options from the screen
    // (the hook can come before the dialog is drawn: they follow).
    let pending =
        || -> Value { serde_json::from_str(&env.ok(&["pending", &id, "--json"])).unwrap() };
    assert!(
        poll(|| pending()["options"]
            .as_array()
            .is_some_and(|o| !o.is_empty())),
        "{}",
        pending()
    );
    let p = pending();
    assert_eq!(p["kind"], "permission", "{p}");
    assert_eq!(p["tool"], "Bash", "{p}");
    assert_eq!(p["input"]["command"], "ls /tmp", "{p}");
    assert_eq!(p["source"], "agent_hook", "{p}");
    assert_eq!(p["options"][0], "Yes", "{p}");
    assert_eq!(env.record(&id)["pending"], p);
    let human = env.ok(&["pending", &id]);
    assert!(human.starts_with("permission: Bash"), "{human}");

    // Approve (checked on screen, then Enter); the Stop hook ends the turn.
    let n = history(env, &id).len();
    env.ok(&["approve", &id]);
    assert!(!env.screen(&id).contains("Do you want to proceed?"));
    let rec = wait_waiting(env, &id);
    assert_waiting(&rec, "prompt", "agent_hook");
    assert!(rec["pending"].is_null(), "{rec}");
    assert_eq!(env.ok(&["pending", &id, "--json"]).trim(), "null");
    // The Stop hook may come before the reply's last frame (see below).
    env.wait_screen(&id, "MOCK-REPLY to: list /tmp");
    assert_eq!(
        since(env, &id, n),
        [pair("running", "user"), pair("waiting_input", "agent_hook")]
    );
    // The hooks reported the same Claude session id.
    assert_eq!(env.record(&id)["agent_session_id"], asid.as_str());

    // The agent quits by itself: SessionEnd marks stopping, the exit marks stopped.
    env.ok(&["send", &id, "/exit"]);
    env.ok(&["wait", &id, "--state", "stopped", "--timeout", "30"]);
    let h = history(env, &id);
    let tail: Vec<_> = h[h.len() - 2..]
        .iter()
        .map(|(to, src, _)| (to.as_str(), src.as_str()))
        .collect();
    assert_eq!(tail, [("stopping", "agent_hook"), ("stopped", "process")]);
    assert_eq!(env.record(&id)["exit_code"], 0);
}

#[test]
fn claude_hooks_deliver_turn_end_fast_and_stop_quits_with_exit() {
    let fake = Fake::new("claude", &["--reply-delay", "0.3"]);
    let env = &fake.env;
    let id = fake.start(&["--debounce", "0.3"]);
    wait_waiting(env, &id);
    for i in 0..3 {
        let n = send_and_expect_running(env, &id, &format!("turn {i}"));
        let rec = wait_waiting(env, &id);
        // The Stop hook runs as the reply is done, before its last frame is drawn (as
        // Claude Code's does): the reply shows on screen soon after, not necessarily yet.
        env.wait_screen(&id, &format!("MOCK-REPLY to: turn {i}"));
        assert_eq!(rec["state_reason"], "prompt");
        // Stop hook first; the screen's agreeing verdict adds nothing.
        assert_eq!(
            since(env, &id, n),
            [pair("running", "user"), pair("waiting_input", "agent_hook")]
        );
    }
    assert_eq!(env.ok(&["stop", &id]).trim(), "stopped");
    let rec = env.record(&id);
    assert_eq!(
        (rec["exit_code"].as_i64(), rec["exit_signal"].as_i64()),
        (Some(0), None)
    );
}

#[test]
fn codex_prints_its_thread_id_at_exit_and_the_record_keeps_it() {
    let fake = Fake::new(
        "codex",
        &[
            "--reply-delay",
            "0.2",
            "--session-id",
            "01a2004e-2071-7f60-be40-2c1bb9813e41",
        ],
    );
    let env = &fake.env;
    let id = fake.start(&[]);
    wait_waiting(env, &id);
    assert!(env.record(&id)["agent_session_id"].is_null());
    env.ok(&["stop", &id]);
    assert_eq!(
        env.record(&id)["agent_session_id"],
        "01a2004e-2071-7f60-be40-2c1bb9813e41"
    );
}

#[test]
fn stop_during_a_turn_interrupts_it_then_quits() {
    let fake = Fake::new("gemini", &["--reply-delay", "0.3"]);
    let env = &fake.env;
    let id = fake.start(&[]);
    wait_waiting(env, &id);
    env.ok(&["send", &id, "sleep 60"]);
    env.wait_screen(&id, "esc to cancel");
    assert_eq!(env.ok(&["stop", &id, "--timeout", "20"]).trim(), "stopped");
    let rec = env.record(&id);
    assert_eq!(rec["exit_code"], 0, "{rec}");
    assert!(rec["exit_signal"].is_null(), "{rec}");
}
