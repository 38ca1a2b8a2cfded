//! Traceable, resumable sessions through the real CLI binary and real processes: pause and
//! continue, suspend and resume (the fake agent CLIs keep their conversations like the real
//! ones), events, conversation history, tasks, cleanup, status hooks and log rotation.
//!
//! Every CLI call is its own process, so a resume here really is a later process picking
//! up a session another one suspended.

mod common;
use common::*;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Fast turns for the fake agent CLIs.
const FAKE_ARGS: &[&str] = &["--reply-delay", "0.3"];

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// (role, text) of every message of a `history --json` page.
fn messages(page: &Value) -> Vec<(String, String)> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn history_page(a: &AgentEnv, id: &str) -> Value {
    json(&a.ok(&["history", id, "--json"]))
}

/// Polls `history --json` until `cond` holds for its page; returns that page.
fn wait_history(a: &AgentEnv, id: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let ok = poll(|| {
        last = history_page(a, id);
        cond(&last)
    });
    assert!(ok, "history never showed {what}; last page: {last}");
    last
}

fn has(msgs: &[(String, String)], role: &str, needle: &str) -> bool {
    msgs.iter().any(|(r, t)| r == role && t.contains(needle))
}

/// Every event of a session, from `events --json` (one object per line).
fn events(env: &Env, id: &str) -> Vec<Value> {
    env.ok(&["events", id, "--json"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(json)
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Sends a prompt to a fake agent CLI and waits until its reply is on screen and the
/// session reads waiting_input again.
fn turn(a: &AgentEnv, id: &str, prompt: &str, reply: &str) {
    a.ok(&["send", id, prompt]);
    a.wait_screen(id, reply);
    a.wait_state(id, "waiting_input");
}

/// The process state letter of `pid` (R, S, T, ...) from /proc/<pid>/stat.
fn proc_state(pid: i64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the comm may hold spaces and parentheses; the state follows the
    // last ')'.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

fn agent_pid(env: &Env, id: &str) -> i64 {
    let rec = env.record(id);
    rec["agent_pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no agent_pid: {rec}"))
}

/// Files named `name` anywhere under `root`.
fn find_named(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()) == Some(name) {
                out.push(p);
            }
        }
    }
    out
}

/// Files under `root` whose names end with `suffix`.
fn find_suffix(root: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out
}

/// The agent's command line of the latest resume (the `resume` event's argv).
fn resume_argv(env: &Env, id: &str) -> Vec<String> {
    let evs = events(env, id);
    let e = evs
        .iter()
        .rev()
        .find(|e| e["kind"] == "resume")
        .unwrap_or_else(|| panic!("no resume event: {evs:?}"));
    let argv: Vec<String> = e["data"]["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("no argv: {e}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    // The record's command is what runs now.
    let rec: Value = serde_json::from_str(&env.ok(&["show", id, "--json"])).unwrap();
    let command: Vec<String> = serde_json::from_value(rec["command"].clone()).unwrap();
    assert_eq!(command, argv, "show --json command after resume");
    argv
}

/// Index of the first transition to `to` at or after `from`, if any.
fn transition_after(rec: &Value, from: usize, to: &str) -> Option<usize> {
    states_of(rec)
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, s)| s.as_str() == to)
        .map(|(i, _)| i)
}

// ---- suspend and resume ------------------------------------------------------------------

#[test]
fn claude_suspends_and_resumes_on_its_conversation_across_processes() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start("claude", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "first question", "MOCK-REPLY to: first question");
    let asid = a.record(&id)["agent_session_id"]
        .as_str()
        .expect("claude's session id is chosen at launch")
        .to_string();

    assert_eq!(a.ok(&["suspend", &id]).trim(), "suspended");
    let rec = a.record(&id);
    assert_eq!(rec["state"], "suspended", "{rec}");
    assert_eq!(rec["resumable"], true, "{rec}");
    assert_eq!(rec["agent_session_id"], asid.as_str(), "{rec}");

    // The transcript is Claude's own, in the project folder of the session's cwd.
    let transcripts = find_named(&a.claude_config_dir(), &format!("{asid}.jsonl"));
    assert_eq!(transcripts.len(), 1, "{transcripts:?}");
    let page = history_page(&a, &id);
    assert_eq!(page["source"], "claude-transcript", "{page}");
    let msgs = messages(&page);
    assert_eq!(
        msgs,
        [
            ("user".to_string(), "first question".to_string()),
            (
                "assistant".to_string(),
                "MOCK-REPLY to: first question".to_string()
            )
        ],
        "{page}"
    );
    let suspended_at = states_of(&rec).len() - 1;

    // A later process resumes it.
    let out = a.ok(&["resume", &id]);
    assert!(
        ["running", "waiting_input"].contains(&out.trim()),
        "resume printed {out:?}"
    );
    a.wait_state(&id, "waiting_input");
    let rec = a.record(&id);
    assert_eq!(rec["agent_session_id"], asid.as_str(), "{rec}");
    let args = resume_argv(&a, &id);
    let at = args.iter().position(|a| a == "--resume").expect("--resume");
    assert_eq!(args[at + 1], asid, "{args:?}");
    assert!(!args.contains(&"--session-id".to_string()), "{args:?}");
    let screen = a.screen(&id);
    assert!(
        screen.contains("❯ first question") && screen.contains("MOCK-REPLY to: first question"),
        "the resumed agent shows the earlier exchange:\n{screen}"
    );
    let transitions = rec["transitions"].as_array().unwrap();
    assert_eq!(transitions[suspended_at]["to"], "suspended", "{rec}");
    let restart = transition_after(&rec, suspended_at, "starting").expect("starting again");
    assert_eq!(transitions[restart]["cause"], "resume requested", "{rec}");
    assert!(
        transition_after(&rec, restart, "running").is_some(),
        "{rec}"
    );

    // The conversation goes on in the same transcript.
    turn(&a, &id, "second question", "MOCK-REPLY to: second question");
    let page = wait_history(&a, &id, "the second exchange", |p| messages(p).len() == 4);
    assert_eq!(page["source"], "claude-transcript");
    let msgs = messages(&page);
    assert_eq!(msgs[2], ("user".into(), "second question".into()), "{page}");
    assert_eq!(
        msgs[3],
        ("assistant".into(), "MOCK-REPLY to: second question".into()),
        "{page}"
    );
    assert_eq!(
        find_named(&a.claude_config_dir(), &format!("{asid}.jsonl")),
        transcripts
    );

    let evs = events(&a, &id);
    let k = kinds(&evs);
    assert!(k.contains(&"suspend".to_string()), "{k:?}");
    assert!(k.contains(&"resume".to_string()), "{k:?}");
    let resume = evs.iter().find(|e| e["kind"] == "resume").unwrap();
    assert_eq!(
        resume["data"]["agent_session_id"],
        asid.as_str(),
        "{resume}"
    );
    let seqs: Vec<i64> = evs.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
}

#[test]
fn codex_suspends_with_the_thread_id_it_prints_at_quit_and_resumes() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start("codex", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "hello codex", "MOCK-REPLY from responses api");
    assert!(
        a.record(&id)["agent_session_id"].is_null(),
        "codex shows its id only when it quits"
    );

    assert_eq!(a.ok(&["suspend", &id]).trim(), "suspended");
    let rec = a.record(&id);
    assert_eq!(rec["resumable"], true, "{rec}");
    let asid = rec["agent_session_id"]
        .as_str()
        .expect("learned from 'codex resume <id>'")
        .to_string();
    assert_eq!(
        find_suffix(&a.codex_home().join("sessions"), &format!("-{asid}.jsonl")).len(),
        1
    );
    let page = history_page(&a, &id);
    assert_eq!(page["source"], "codex-rollout", "{page}");
    assert_eq!(
        messages(&page),
        [
            ("user".to_string(), "hello codex".to_string()),
            (
                "assistant".to_string(),
                "MOCK-REPLY from responses api".to_string()
            )
        ]
    );

    a.ok(&["resume", &id, "--wait", "--timeout", "30"]);
    let rec = a.record(&id);
    assert_eq!(rec["state"], "waiting_input", "{rec}");
    assert_eq!(rec["agent_session_id"], asid.as_str());
    let args = resume_argv(&a, &id);
    // Codex's own hooks come as a root option (`-c hooks={...}`), then the subcommand, as
    // the real Codex 0.171 takes them (tests/real_agents/test_codex.py resumes one).
    assert_eq!(args[1], "-c", "{args:?}");
    assert!(args[2].starts_with("hooks={"), "{args:?}");
    assert_eq!(
        args[3..5],
        ["resume", asid.as_str()],
        "the subcommand right after: {args:?}"
    );
    a.wait_screen(&id, "› hello codex");

    turn(&a, &id, "and again", "› and again");
    let page = wait_history(&a, &id, "the second exchange", |p| messages(p).len() == 4);
    assert_eq!(messages(&page)[2], ("user".into(), "and again".into()));
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
    assert_eq!(a.record(&id)["agent_session_id"], asid.as_str());
}

#[test]
fn gemini_suspends_and_resumes_with_the_session_id_of_its_summary() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start("gemini", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "hello gemini", "MOCK-REPLY to: hello gemini");
    assert_eq!(a.ok(&["suspend", &id]).trim(), "suspended");
    let asid = a.record(&id)["agent_session_id"]
        .as_str()
        .expect("learned from 'Session ID:'")
        .to_string();
    assert!(a
        .fake_agents_home()
        .join("gemini")
        .join(format!("{asid}.json"))
        .is_file());

    a.ok(&["resume", &id, "--wait", "--timeout", "30"]);
    a.wait_screen(&id, "MOCK-REPLY to: hello gemini");
    let rec = a.record(&id);
    assert_eq!(rec["agent_session_id"], asid.as_str());
    // gemini's records are not read: its history is built from input and settled screens,
    // and goes on after the resume.
    turn(&a, &id, "after resume", "MOCK-REPLY to: after resume");
    let page = wait_history(&a, &id, "both prompts", |p| {
        let m = messages(p);
        has(&m, "user", "hello gemini") && has(&m, "user", "after resume")
    });
    assert_eq!(page["source"], "screen");
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
}

#[test]
fn opencode_never_shows_its_id_so_resume_takes_it_from_the_caller() {
    let known = "ses_0123456789abcdefOPENCODE";
    let a = AgentEnv::new(&["--reply-delay", "0.3", "--session-id", known]);
    let id = a.start("opencode", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "hello opencode", "MOCK-REPLY to: hello opencode");

    // Without its session id there is nothing to resume: suspend says so and the session
    // ends stopped.
    let err = a.fails(&["suspend", &id], 4);
    assert!(err.contains("session id"), "{err}");
    let rec = a.record(&id);
    assert_eq!(rec["state"], "stopped", "{rec}");
    assert_eq!(rec["resumable"], false, "{rec}");
    let err = a.fails(&["resume", &id], 4);
    assert!(err.contains("--agent-session-id"), "{err}");

    a.ok(&[
        "resume",
        &id,
        "--agent-session-id",
        known,
        "--wait",
        "--timeout",
        "30",
    ]);
    a.wait_screen(&id, "MOCK-REPLY to: hello opencode");
    let rec = a.record(&id);
    assert_eq!(rec["agent_session_id"], known, "{rec}");
    let args = resume_argv(&a, &id);
    let at = args
        .iter()
        .position(|a| a == "--session")
        .expect("--session");
    assert_eq!(args[at + 1], known, "{args:?}");
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
}

#[test]
fn resume_fails_when_the_agent_reports_the_conversation_is_gone() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start("claude", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "remember this", "MOCK-REPLY to: remember this");
    assert_eq!(a.ok(&["suspend", &id]).trim(), "suspended");
    let asid = a.record(&id)["agent_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    for t in find_named(&a.claude_config_dir(), &format!("{asid}.jsonl")) {
        std::fs::remove_file(t).unwrap();
    }

    let out = a.run(&["resume", &id, "--wait", "--timeout", "30"]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conversation"), "{err}");
    assert!(poll(|| a.state(&id) == "failed"), "{}", a.record(&id));
    let rec = a.record(&id);
    let reason = rec["state_reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("the agent reports the conversation is gone")
            && reason.contains("No conversation found with session ID"),
        "{rec}"
    );
    assert_eq!(
        rec["resumable"], true,
        "a failed session stays resumable: {rec}"
    );
}

#[test]
fn codex_resume_of_a_rollout_that_is_gone_fails_with_codex_reason() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start("codex", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "soon gone", "MOCK-REPLY from responses api");
    assert_eq!(a.ok(&["suspend", &id]).trim(), "suspended");
    let asid = a.record(&id)["agent_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let rollouts = find_suffix(&a.codex_home(), &format!("-{asid}.jsonl"));
    assert_eq!(rollouts.len(), 1);
    std::fs::remove_file(&rollouts[0]).unwrap();

    let err = a.fails(&["resume", &id, "--wait", "--timeout", "30"], 4);
    assert!(err.contains("conversation"), "{err}");
    assert!(poll(|| a.state(&id) == "failed"), "{}", a.record(&id));
    let rec = a.record(&id);
    let reason = rec["state_reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("the agent reports the conversation is gone")
            && reason.contains(&format!("No saved session found with ID {asid}")),
        "{rec}"
    );
    // Nothing to read any more: the history falls back to what the host recorded.
    assert_eq!(history_page(&a, &id)["source"], "screen");
}

// ---- refusals ----------------------------------------------------------------------------

#[test]
fn wrong_states_exit_4_with_a_clear_message() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start_fake(&[]);
    a.wait_screen(&id, "fake>");
    let err = a.fails(&["resume", &id], 4);
    assert!(
        err.contains(&id) && err.contains("only a suspended, stopped, failed or unknown"),
        "{err}"
    );
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
    let err = a.fails(&["pause", &id], 4);
    assert!(err.contains("stopped"), "{err}");
    let err = a.fails(&["continue", &id], 4);
    assert!(err.contains("stopped"), "{err}");
    let err = a.fails(&["suspend", &id], 4);
    assert!(err.contains("stopped"), "{err}");
    // A stopped custom session has no resume command.
    let err = a.fails(&["resume", &id], 4);
    assert!(err.contains("no resume command"), "{err}");
}

#[test]
fn suspend_of_an_agent_that_cannot_resume_is_refused_and_it_keeps_running() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start_fake(&[]);
    a.wait_screen(&id, "fake>");
    let pid = agent_pid(&a, &id);
    let err = a.fails(&["suspend", &id], 4);
    assert!(err.contains("no resume command"), "{err}");
    let state = a.state(&id);
    assert!(
        ["running", "waiting_input"].contains(&state.as_str()),
        "{state}"
    );
    assert!(pid_alive(pid));
    a.ok(&["send", &id, "still here"]);
    a.wait_screen(&id, "echo: still here");
    assert!(!kinds(&events(&a, &id)).contains(&"suspend".to_string()));
}

#[test]
fn unknown_tasks_exit_3_and_bad_cleanup_arguments_exit_2() {
    let a = AgentEnv::new(FAKE_ARGS);
    let err = a.fails(&["ls", "--task", "nope"], 3);
    assert!(err.contains("nope"), "{err}");
    let err = a.fails(&["tasks", "nope"], 3);
    assert!(err.contains("nope"), "{err}");
    let err = a.fails(&["cleanup", "--older-than", "1d", "--state", "running"], 2);
    assert!(err.contains("running"), "{err}");
    let err = a.fails(&["cleanup", "--older-than", "soon"], 2);
    assert!(err.contains("soon"), "{err}");
    a.fails(&["cleanup"], 2);
    let err = a.fails(&["history", "agent-x", "--limit", "0"], 2);
    assert!(err.contains("--limit"), "{err}");
}

#[test]
fn malformed_ids_exit_2_for_every_new_command() {
    let a = AgentEnv::new(FAKE_ARGS);
    let long = "a".repeat(10_000);
    for bad in ["../x", "a/b", long.as_str(), ""] {
        for cmd in [
            vec!["pause", bad],
            vec!["continue", bad],
            vec!["suspend", bad],
            vec!["resume", bad],
            vec!["history", bad],
            vec!["events", bad],
            vec!["events", bad, "--follow"],
        ] {
            let err = a.fails(&cmd, 2);
            assert!(!err.is_empty(), "{cmd:?}");
            assert!(
                err.len() < 2_000,
                "{cmd:?}: a huge id is not echoed whole: {err}"
            );
        }
    }
    // Well-formed but unknown: 3.
    for cmd in [
        "pause", "continue", "suspend", "resume", "history", "events",
    ] {
        a.fails(&[cmd, "agent-nosuchsession"], 3);
    }
    // A bad --agent-session-id or --env for resume: 2, whatever the session.
    let id = a.start_fake(&["--exit-code", "0"]);
    assert!(poll(|| a.state(&id) == "stopped"));
    for asid in ["../x", "", long.as_str()] {
        let err = a.fails(&["resume", &id, "--agent-session-id", asid], 2);
        assert!(err.contains("agent session id"), "{err}");
    }
    a.fails(&["resume", &id, "--env", "NOEQUALS"], 2);
    a.fails(&["resume", &id, "--timeout", "5"], 2); // --timeout needs --wait
    a.fails(&["suspend", &id, "--timeout", "-1"], 2);
    a.fails(&["events", &id, "--since", "x"], 2);
    assert_eq!(a.state(&id), "stopped");
}

// ---- pause and continue ------------------------------------------------------------------

#[test]
fn pause_freezes_the_agent_and_continue_thaws_it() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start_fake(&[]);
    a.wait_screen(&id, "fake>");
    a.ok(&["send", &id, "work 100"]);
    a.wait_screen(&id, "working...");
    let pid = agent_pid(&a, &id);
    assert_ne!(proc_state(pid), Some('T'));

    assert_eq!(a.ok(&["pause", &id]).trim(), "paused");
    assert_eq!(a.state(&id), "paused");
    assert!(
        poll(|| proc_state(pid) == Some('T')),
        "agent not stopped: {:?}",
        proc_state(pid)
    );
    // Pausing again changes nothing.
    assert_eq!(a.ok(&["pause", &id]).trim(), "paused");
    // A paused agent stays paused, whatever its silence.
    assert_eq!(a.state(&id), "paused");

    let out = a.ok(&["continue", &id]);
    assert!(
        ["running", "waiting_input"].contains(&out.trim()),
        "continue printed {out:?}"
    );
    assert!(
        poll(|| proc_state(pid) != Some('T')),
        "agent still stopped: {:?}",
        proc_state(pid)
    );
    let rec = a.record(&id);
    let paused = transition_after(&rec, 0, "paused").expect("paused");
    assert!(transition_after(&rec, paused, "running").is_some(), "{rec}");
    let k = kinds(&events(&a, &id));
    assert!(
        k.contains(&"pause".into()) && k.contains(&"continue".into()),
        "{k:?}"
    );

    // A paused session can be stopped.
    assert_eq!(a.ok(&["pause", &id]).trim(), "paused");
    assert!(poll(|| proc_state(pid) == Some('T')));
    assert_eq!(a.ok(&["stop", &id, "--timeout", "10"]).trim(), "stopped");
    assert!(poll(|| !pid_alive(pid)), "agent {pid} survived the stop");
}

#[test]
fn a_paused_busy_loop_uses_no_cpu_until_continued() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.ok(&[
        "start",
        "custom",
        "--",
        "sh",
        "-c",
        "echo spinning; while :; do :; done",
    ]);
    let id = id.trim();
    a.wait_screen(id, "spinning");
    let pid = agent_pid(&a, id);
    assert_eq!(a.ok(&["pause", id]).trim(), "paused");
    assert!(poll(|| proc_state(pid) == Some('T')));
    a.ok(&["continue", id]);
    assert!(poll(|| matches!(proc_state(pid), Some('R') | Some('S'))));
    assert_eq!(a.ok(&["stop", id]).trim(), "stopped");
}

// ---- events ------------------------------------------------------------------------------

#[test]
fn a_follower_sees_every_change_in_order_and_exits_when_the_session_ends() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start_fake(&[]);
    a.wait_screen(&id, "fake>");
    let mut child = a
        .command()
        .args(["events", &id, "--follow", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    a.ok(&["send", &id, "followed input"]);
    a.wait_screen(&id, "echo: followed input");
    a.ok(&["pause", &id]);
    a.ok(&["continue", &id]);
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");

    // The follower ends by itself once the session has ended.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("events --follow did not exit after the session stopped");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    reader.join().unwrap();
    assert!(status.success(), "{status}");
    let lines: Vec<Value> = rx.try_iter().map(|l| json(&l)).collect();
    let seqs: Vec<i64> = lines.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(seqs.first(), Some(&1), "{seqs:?}");
    let pos = |pred: &dyn Fn(&Value) -> bool, what: &str| {
        lines
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("no {what} event in {lines:?}"))
    };
    let input = pos(
        &|e| e["kind"] == "input" && e["data"]["text"] == "followed input",
        "input",
    );
    let pause = pos(&|e| e["kind"] == "pause", "pause");
    let paused = pos(
        &|e| e["kind"] == "state" && e["data"]["to"] == "paused",
        "state paused",
    );
    let cont = pos(&|e| e["kind"] == "continue", "continue");
    let stop = pos(&|e| e["kind"] == "stop", "stop");
    let stopped = pos(
        &|e| e["kind"] == "state" && e["data"]["to"] == "stopped",
        "state stopped",
    );
    assert!(
        input < pause && pause < paused && paused < cont && cont < stop && stop < stopped,
        "{lines:?}"
    );
    assert_eq!(
        stopped,
        lines.len() - 1,
        "the ending is the last event: {lines:?}"
    );
    for e in &lines {
        assert_eq!(e["session_id"], id.as_str());
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    // The same events, read afterwards, and from a later point.
    assert_eq!(events(&a, &id), lines);
    let since = lines[pause]["seq"].as_i64().unwrap().to_string();
    let later: Vec<Value> = a
        .ok(&["events", &id, "--json", "--since", &since])
        .lines()
        .map(json)
        .collect();
    assert_eq!(later, lines[pause + 1..]);
    // The human form has one line per event.
    assert_eq!(a.ok(&["events", &id]).lines().count(), lines.len());
}

// ---- history -----------------------------------------------------------------------------

#[test]
fn a_custom_agent_history_is_built_from_input_and_settled_screens() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.ok(&[
        "start",
        "custom",
        "--idle-after",
        "0.5",
        "--",
        "bash",
        "--norc",
        "-i",
    ]);
    let id = id.trim();
    a.wait_state(id, "waiting_input");
    a.ok(&["send", id, "echo hi"]);
    let page = wait_history(&a, id, "the reply to echo hi", |p| messages(p).len() >= 2);
    assert_eq!(page["source"], "screen", "{page}");
    let msgs = messages(&page);
    assert_eq!(msgs[0], ("user".into(), "echo hi".into()), "{page}");
    assert_eq!(msgs[1].0, "assistant", "{page}");
    assert!(
        msgs[1].1.lines().any(|l| l.trim() == "hi"),
        "the settled screen shows the output: {page}"
    );
    for m in page["messages"].as_array().unwrap() {
        assert!(m["at"].as_str().unwrap().ends_with('Z'), "{m}");
    }

    a.ok(&["send", id, "echo second"]);
    wait_history(&a, id, "the second exchange", |p| messages(p).len() >= 4);

    // Paged: one message at a time, with a hint to the next page.
    let one = a.ok(&["history", id, "--limit", "1"]);
    assert!(one.contains("echo hi"), "{one}");
    assert!(one.contains("--offset 1"), "{one}");
    let second = a.ok(&["history", id, "--limit", "1", "--offset", "1"]);
    assert!(second.contains("--offset 2"), "{second}");
    let page = json(&a.ok(&["history", id, "--json", "--limit", "1", "--offset", "2"]));
    assert_eq!(page["offset"], 2);
    assert_eq!(page["messages"][0]["index"], 2);
    assert_eq!(page["messages"][0]["text"], "echo second");
    assert_eq!(page["next_offset"], 3);

    // --all prints every page.
    let all: Vec<Value> = a
        .ok(&["history", id, "--all", "--json", "--limit", "1"])
        .lines()
        .map(json)
        .collect();
    let whole = history_page(&a, id);
    let joined: Vec<(String, String)> = all.iter().flat_map(messages).collect();
    assert_eq!(joined, messages(&whole));
    assert!(all.last().unwrap()["next_offset"].is_null());
    let text = a.ok(&["history", id, "--all", "--limit", "1"]);
    assert!(!text.contains("--offset"), "{text}");
    assert!(text.contains("echo second"), "{text}");
    // Beyond the end: an empty page.
    let page = json(&a.ok(&["history", id, "--json", "--offset", "1000"]));
    assert!(page["messages"].as_array().unwrap().is_empty());
    assert!(page["next_offset"].is_null());
}

// ---- tasks -------------------------------------------------------------------------------

#[test]
fn tasks_group_sessions_with_totals_and_the_task_is_inherited_from_the_environment() {
    let a = AgentEnv::new(FAKE_ARGS);
    let s1 = a.start_fake_with(&["--task", "T1"], &[]);
    let s2 = a.start_fake_with(&["--task", "T1"], &["--exit-code", "0"]);
    let s3 = a.start_fake_with(&["--task", "T2"], &[]);
    let fake = fake_agent();
    let out = a
        .command()
        .env("AGENT_SESSIONS_TASK", "T3")
        .args(["start", "custom", "--", "python3", fake.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s4 = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(a.record(&s4)["task_id"], "T3");
    assert!(poll(|| a.state(&s2) == "stopped"));

    let all = json(&a.ok(&["tasks", "--json"]));
    let task = |name: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|t| t["task_id"] == name)
            .unwrap_or_else(|| panic!("no {name} in {all}"))
            .clone()
    };
    let t1 = task("T1");
    assert_eq!(t1["session_count"], 2, "{t1}");
    assert_eq!(t1["live"], 1, "{t1}");
    assert_eq!(t1["states"]["stopped"], 1, "{t1}");
    assert_eq!(task("T2")["session_count"], 1);
    assert_eq!(task("T3")["session_count"], 1);

    let one = json(&a.ok(&["tasks", "T1", "--json"]));
    let ids: Vec<&str> = one["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [s1.as_str(), s2.as_str()], "oldest first: {one}");
    let text = a.ok(&["tasks", "T1"]);
    assert!(
        text.contains(&s1) && text.contains(&s2) && !text.contains(&s3),
        "{text}"
    );
    let text = a.ok(&["tasks"]);
    for t in ["T1", "T2", "T3"] {
        assert!(text.contains(t), "{text}");
    }

    let listed = json(&a.ok(&["ls", "--task", "T1", "--json"]));
    let mut ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["session_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![s1.as_str(), s2.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let t3 = json(&a.ok(&["tasks", "T3", "--json"]));
    assert_eq!(t3["sessions"][0]["session_id"], s4.as_str());
}

// ---- cleanup -----------------------------------------------------------------------------

fn ended_session(env: &Env) -> String {
    let id = env.start_fake(&["--exit-code", "0"]);
    assert!(poll(|| env.state(&id) == "stopped"), "{}", env.record(&id));
    id
}

#[test]
fn cleanup_racing_with_starts_never_touches_a_starting_or_live_session() {
    let a = AgentEnv::new(FAKE_ARGS);
    let old: Vec<String> = (0..3).map(|_| ended_session(&a)).collect();
    let done = AtomicBool::new(false);
    let (started, reports) = std::thread::scope(|s| {
        let starter = s.spawn(|| {
            let ids: Vec<String> = (0..10).map(|_| a.start_fake(&[])).collect();
            done.store(true, Ordering::SeqCst);
            ids
        });
        let cleaner = s.spawn(|| {
            let mut reports = Vec::new();
            // At least one pass after the last start.
            loop {
                let last = done.load(Ordering::SeqCst);
                reports.push(json(&a.ok(&["cleanup", "--older-than", "0s", "--json"])));
                if last {
                    break reports;
                }
            }
        });
        (starter.join().unwrap(), cleaner.join().unwrap())
    });
    let removed: Vec<&str> = reports
        .iter()
        .flat_map(|r| r["sessions"].as_array().unwrap())
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    for id in &started {
        assert!(
            !removed.contains(&id.as_str()),
            "{id} was removed: {reports:?}"
        );
        let rec = a.record(id);
        let state = rec["state"].as_str().unwrap();
        assert!(
            ["starting", "running", "waiting_input"].contains(&state),
            "{id}: {rec}"
        );
        assert!(pid_alive(rec["agent_pid"].as_i64().unwrap()), "{rec}");
        assert!(a.home().join(id).join("output.log").is_file(), "{id}");
    }
    for id in &old {
        a.fails(&["show", id], 3);
        assert!(removed.contains(&id.as_str()), "{id}: {reports:?}");
        assert!(!a.home().join(id).exists(), "{id}'s folder is left");
    }
    // They all still work.
    a.ok(&["send", &started[9], "after the race"]);
    a.wait_screen(&started[9], "echo: after the race");
}

#[test]
fn cleanup_dry_run_removes_nothing_and_keep_logs_leaves_the_output() {
    let a = AgentEnv::new(FAKE_ARGS);
    let x = ended_session(&a);
    let y = ended_session(&a);
    let live = a.start_fake(&[]);

    let report = json(&a.ok(&["cleanup", "--older-than", "0s", "--dry-run", "--json"]));
    assert_eq!(report["dry_run"], true);
    let listed: Vec<&str> = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&x.as_str()) && listed.contains(&y.as_str()),
        "{report}"
    );
    assert!(!listed.contains(&live.as_str()), "{report}");
    a.record(&x);
    a.record(&y);
    assert!(a.home().join(&x).join("output.log").is_file());
    let text = a.ok(&["cleanup", "--older-than", "0s", "--dry-run"]);
    assert!(text.contains("would remove") && text.contains(&x), "{text}");
    a.record(&x);

    // Not old enough: nothing.
    let report = json(&a.ok(&["cleanup", "--older-than", "7d", "--json"]));
    assert!(
        report["sessions"].as_array().unwrap().is_empty(),
        "{report}"
    );

    let report = json(&a.ok(&["cleanup", "--older-than", "0s", "--keep-logs", "--json"]));
    assert_eq!(report["dry_run"], false);
    a.fails(&["show", &x], 3);
    a.fails(&["show", &y], 3);
    assert!(
        a.home().join(&x).join("output.log").is_file(),
        "--keep-logs keeps output.log"
    );
    a.fails(&["logs", &x], 3);

    let z = ended_session(&a);
    a.ok(&["cleanup", "--older-than", "0s"]);
    a.fails(&["show", &z], 3);
    assert!(
        !a.home().join(&z).exists(),
        "the folder goes with the record"
    );
    let state = a.state(&live);
    assert!(
        ["running", "waiting_input"].contains(&state.as_str()),
        "{state}"
    );
}

// ---- status hooks ------------------------------------------------------------------------

#[test]
fn a_status_hook_runs_with_the_transition_in_its_environment() {
    let a = AgentEnv::new(FAKE_ARGS);
    let out = a.dir.path().join("hook-env.json");
    let script = "import json, os, sys\n\
                  env = {k: v for k, v in os.environ.items() if k.startswith('AGENT_SESSIONS_')}\n\
                  tmp = sys.argv[1] + '.tmp'\n\
                  open(tmp, 'w').write(json.dumps(env))\n\
                  os.replace(tmp, sys.argv[1])\n";
    let toml = format!(
        "[[on_state]]\nstates = [\"stopped\"]\nfrom = [\"stopping\", \"running\", \"waiting_input\"]\ncommand = [\"python3\", \"-c\", {}, {}]\n",
        toml_string(script),
        toml_string(out.to_str().unwrap())
    );
    std::fs::write(a.home().join("hooks.toml"), toml).unwrap();
    let id = a.start_fake_with(&["--task", "HOOKED"], &[]);
    a.wait_screen(&id, "fake>");
    assert!(!out.exists(), "no hook for the start");
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
    assert!(poll(|| out.is_file()), "the hook never ran");
    let env = json(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(env["AGENT_SESSIONS_ID"], id.as_str(), "{env}");
    assert_eq!(env["AGENT_SESSIONS_OLD_STATE"], "stopping", "{env}");
    assert_eq!(env["AGENT_SESSIONS_NEW_STATE"], "stopped", "{env}");
    assert_eq!(env["AGENT_SESSIONS_AGENT"], "custom", "{env}");
    assert_eq!(env["AGENT_SESSIONS_TASK"], "HOOKED", "{env}");
    assert!(
        !env["AGENT_SESSIONS_CAUSE"].as_str().unwrap().is_empty(),
        "{env}"
    );
    assert!(
        !env["AGENT_SESSIONS_SOURCE"].as_str().unwrap().is_empty(),
        "{env}"
    );
    assert_eq!(
        env["AGENT_SESSIONS_HOME"],
        a.home().to_str().unwrap(),
        "{env}"
    );
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn a_broken_hooks_file_never_breaks_a_session() {
    let a = AgentEnv::new(FAKE_ARGS);
    std::fs::write(
        a.home().join("hooks.toml"),
        "[[on_state]\nstates = [\"stopped\"\n",
    )
    .unwrap();
    let id = a.start_fake(&[]);
    a.wait_screen(&id, "fake>");
    a.ok(&["send", &id, "hello"]);
    a.wait_screen(&id, "echo: hello");
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
    let log = a.home().join("status-hooks.log");
    assert!(poll(|| log.is_file()), "no status-hooks.log");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("hooks.toml"), "{text}");

    // A hook that names a missing program is reported too.
    std::fs::write(
        a.home().join("hooks.toml"),
        "[[on_state]]\ncommand = [\"/no/such/hook-program\"]\n",
    )
    .unwrap();
    let id = a.start_fake(&[]);
    a.wait_screen(&id, "fake>");
    assert_eq!(a.ok(&["stop", &id]).trim(), "stopped");
    assert!(
        poll(|| std::fs::read_to_string(&log)
            .unwrap()
            .contains("/no/such/hook-program")),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
}

// ---- log rotation ------------------------------------------------------------------------

#[test]
fn the_output_log_rotates_at_half_the_cap() {
    let a = AgentEnv::new(FAKE_ARGS);
    let id = a.start_fake_with(&["--max-log-size", "64K"], &["--flood", "300000"]);
    a.wait_state(&id, "stopped");
    let dir = a.home().join(&id);
    let cur = dir.join("output.log");
    let old = dir.join("output.log.1");
    assert!(
        cur.is_file() && old.is_file(),
        "{:?}",
        std::fs::read_dir(&dir)
    );
    let limit = 32 * 1024 + 64 * 1024;
    for p in [&cur, &old] {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len <= limit, "{} is {len} bytes", p.display());
    }
    let total = std::fs::metadata(&cur).unwrap().len() + std::fs::metadata(&old).unwrap().len();
    assert!(total < 300_000);
    let kept = std::fs::read_to_string(&old).unwrap() + &std::fs::read_to_string(&cur).unwrap();
    assert!(kept.contains("fake-agent-output-line"));
    // `logs` prints what is kept: the older part, then the current one.
    let raw = a.run(&["logs", &id]);
    assert!(raw.status.success(), "{raw:?}");
    let mut both = std::fs::read(&old).unwrap();
    both.extend(std::fs::read(&cur).unwrap());
    assert_eq!(raw.stdout, both);
    a.ok(&["logs", &id, "--plain"]);
    a.ok(&["logs", &id, "--follow"]);
}
