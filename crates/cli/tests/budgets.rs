//! Cost budgets enforced by the session's host, with the fake Claude Code: each of its
//! replies reports 1234 + 300 + 700 + 56 = 2290 tokens in its transcript, so a budget trips
//! at a known turn. Real sessions, real transcripts, the real store and hooks.

mod common;
use common::*;
use serde_json::Value;

/// Tokens one reply of the fake Claude reports (tests/fake_agents/claude_like.py).
const TOKENS_PER_REPLY: u64 = 1234 + 300 + 700 + 56;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn turn(a: &AgentEnv, id: &str, prompt: &str) {
    a.ok(&["send", id, prompt]);
    a.wait_screen(id, &format!("MOCK-REPLY to: {prompt}"));
}

fn events(a: &AgentEnv, id: &str, kind: &str) -> Vec<Value> {
    a.ok(&["events", id, "--json"])
        .lines()
        .map(json)
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Polls until `id` has an event of `kind`; returns the first.
fn wait_event(a: &AgentEnv, id: &str, kind: &str) -> Value {
    let mut found = Vec::new();
    let ok = poll(|| {
        found = events(a, id, kind);
        !found.is_empty()
    });
    assert!(
        ok,
        "no {kind} event; events: {}",
        a.ok(&["events", id, "--json"])
    );
    found.remove(0)
}

/// An `[[on_event]]` hook that appends each budget event's kind and data to `log`.
fn event_hook(a: &AgentEnv, log: &std::path::Path) {
    let script = a.dir.path().join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s %s %s\\n' \"$AGENT_SESSIONS_EVENT\" \"$AGENT_SESSIONS_ID\" \"$AGENT_SESSIONS_EVENT_DATA\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        a.home().join("hooks.toml"),
        format!(
            "[[on_event]]\nkinds = [\"budget_warning\", \"budget_exceeded\"]\ncommand = [\"{}\"]\n",
            script.display()
        ),
    )
    .unwrap();
}

#[test]
fn a_token_budget_warns_at_80_percent_then_stops_the_session_at_its_limit() {
    let a = AgentEnv::new(&["--reply-delay", "0.3"]);
    let log = a.dir.path().join("events.log");
    event_hook(&a, &log);
    // 2800 tokens: the first reply (2290) is 82% of it, the second passes it.
    let id = a.start(
        "claude",
        &["--budget-tokens", "2800", "--on-budget", "stop"],
    );
    let rec = a.record(&id);
    assert_eq!(rec["budget"]["tokens"], 2800, "{rec}");
    assert_eq!(rec["budget"]["on_budget"], "stop", "{rec}");
    a.wait_state(&id, "waiting_input");

    turn(&a, &id, "first");
    let w = wait_event(&a, &id, "budget_warning");
    assert_eq!(w["data"]["scope"], "session", "{w}");
    assert_eq!(w["data"]["spent"]["tokens"], TOKENS_PER_REPLY, "{w}");
    assert!(
        (w["data"]["share"].as_f64().unwrap() - 0.818).abs() < 0.01,
        "{w}"
    );
    assert!(events(&a, &id, "budget_exceeded").is_empty());
    a.wait_state(&id, "waiting_input");
    let status = json(&a.ok(&["budget", &id, "--json"]));
    assert_eq!(status["assessment"]["level"], "warning", "{status}");

    turn(&a, &id, "second");
    let x = wait_event(&a, &id, "budget_exceeded");
    assert_eq!(x["data"]["spent"]["tokens"], 2 * TOKENS_PER_REPLY, "{x}");
    assert_eq!(x["data"]["action"], "stop", "{x}");
    assert_eq!(x["data"]["outcome"], "stopping", "{x}");
    assert_eq!(x["data"]["budget"]["tokens"], 2800, "{x}");
    a.wait_state(&id, "stopped");
    let rec = a.record(&id);
    let stopping = rec["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["to"] == "stopping")
        .unwrap_or_else(|| panic!("no stopping transition: {rec}"));
    assert!(
        stopping["cause"].as_str().unwrap().contains("budget"),
        "{stopping}"
    );
    // One warning, one exceeded, each passed to the hook with its figures.
    assert_eq!(events(&a, &id, "budget_warning").len(), 1);
    assert_eq!(events(&a, &id, "budget_exceeded").len(), 1);
    let mut lines = Vec::new();
    assert!(poll(|| {
        lines = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        lines.len() == 2
    }));
    assert!(
        lines[0].starts_with(&format!("budget_warning {id} {{")),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!("budget_exceeded {id} {{")),
        "{lines:?}"
    );
    let data = json(lines[1].splitn(3, ' ').nth(2).unwrap());
    assert_eq!(data["action"], "stop");
}

#[test]
fn a_task_budget_counts_every_session_and_interrupts_the_one_that_is_working() {
    let a = AgentEnv::new(&["--reply-delay", "0.3"]);
    // Set before the task's first session: 4000 tokens for all of them, interrupting.
    let s = json(&a.ok(&[
        "--json",
        "tasks",
        "budget",
        "T-BUDGET",
        "--tokens",
        "4000",
        "--on-budget",
        "interrupt",
    ]));
    assert_eq!(s["budget"]["on_budget"], "interrupt", "{s}");
    let busy = a.start("claude", &["--task", "T-BUDGET"]);
    let spender = a.start("claude", &["--task", "T-BUDGET"]);
    a.wait_state(&busy, "waiting_input");
    a.wait_state(&spender, "waiting_input");
    // A long turn that reports nothing until it ends.
    a.ok(&["send", &busy, "sleep 120"]);
    a.wait_state(&busy, "running");

    turn(&a, &spender, "one");
    a.wait_state(&spender, "waiting_input");
    assert!(events(&a, &busy, "budget_exceeded").is_empty());
    turn(&a, &spender, "two"); // the task passes 4000: 4580
    let x = wait_event(&a, &busy, "budget_exceeded");
    assert_eq!(x["data"]["scope"], "task", "{x}");
    assert_eq!(x["data"]["owner"], "T-BUDGET", "{x}");
    assert_eq!(x["data"]["spent"]["tokens"], 2 * TOKENS_PER_REPLY, "{x}");
    assert_eq!(x["data"]["outcome"], "interrupted", "{x}");
    // The interrupt ended the long turn well before its two minutes.
    a.wait_state(&busy, "waiting_input");
    let interrupts: Vec<Value> = events(&a, &busy, "input")
        .into_iter()
        .filter(|e| e["data"]["interrupt"] == true)
        .collect();
    assert_eq!(interrupts.len(), 1, "{interrupts:?}");
    // The spender was at its prompt: nothing to interrupt, and it says so.
    let y = wait_event(&a, &spender, "budget_exceeded");
    assert!(
        y["data"]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("nothing to interrupt"),
        "{y}"
    );
    let t = json(&a.ok(&["--json", "tasks", "budget", "T-BUDGET"]));
    assert_eq!(t["spent"]["tokens"], 2 * TOKENS_PER_REPLY, "{t}");
    assert_eq!(t["assessment"]["level"], "exceeded", "{t}");
}

#[test]
fn a_dollar_budget_set_on_a_live_session_acts_at_once_and_says_it_used_an_estimate() {
    let a = AgentEnv::new(&["--reply-delay", "0.3"]);
    let id = a.start("claude", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "first");
    a.wait_state(&id, "waiting_input");
    assert!(a.record(&id)["budget"].is_null());
    // The fake reports tokens and no cost: the price table's estimate counts.
    a.ok(&["budget", &id, "--usd", "0.000001", "--on-budget", "suspend"]);
    let x = wait_event(&a, &id, "budget_exceeded");
    assert_eq!(x["data"]["estimated"], true, "{x}");
    assert_eq!(x["data"]["action"], "suspend", "{x}");
    a.wait_state(&id, "suspended");
    assert_eq!(a.record(&id)["budget"]["usd"], 0.000001);
    // Cleared, the record has none; show still works.
    a.ok(&["budget", &id, "--clear"]);
    assert!(a.record(&id)["budget"].is_null());
    let s = json(&a.ok(&["budget", &id, "--json"]));
    assert!(s["budget"].is_null() && s["assessment"].is_null(), "{s}");
}

#[test]
fn templates_carry_budgets_and_bad_budgets_are_refused_with_nothing_started() {
    let a = AgentEnv::new(&[]);
    let ws = a.workspace();
    let ws = ws.to_str().unwrap();
    a.ok(&[
        "template",
        "add",
        "capped",
        "custom",
        "--budget-usd",
        "2.5",
        "--on-budget",
        "warn",
        "--",
        "sleep",
        "60",
    ]);
    let shown = json(&a.ok(&["--json", "template", "show", "capped"]));
    assert_eq!(shown["template"]["budget"]["usd"], 2.5, "{shown}");
    let id = a
        .ok(&["start", "--template", "capped", "--cwd", ws])
        .trim()
        .to_string();
    let rec = a.record(&id);
    assert_eq!(rec["budget"]["usd"], 2.5, "{rec}");
    assert_eq!(rec["budget"]["on_budget"], "warn", "{rec}");
    // A start's own budget overrides the template's.
    let id2 = a
        .ok(&[
            "start",
            "--template",
            "capped",
            "--cwd",
            ws,
            "--budget-tokens",
            "10",
        ])
        .trim()
        .to_string();
    assert_eq!(a.record(&id2)["budget"]["tokens"], 10);
    assert!(a.record(&id2)["budget"]["usd"].is_null());

    let before = json(&a.ok(&["ls", "--json"])).as_array().unwrap().len();
    for (args, says) in [
        (vec!["--budget-usd", "nan"], "dollar budget"),
        (vec!["--budget-usd", "-3"], "dollar budget"),
        (vec!["--budget-usd", "1e300"], "dollar budget"),
        (vec!["--budget-tokens", "0"], "token budget"),
        (vec!["--on-budget", "stop"], "needs a limit"),
        (
            vec!["--budget-usd", "1", "--on-budget", "explode"],
            "warn, interrupt",
        ),
    ] {
        let mut cmd = vec!["start", "custom", "--cwd", ws];
        cmd.extend(args.iter().copied());
        cmd.extend(["--", "sleep", "60"]);
        let err = a.fails(&cmd, 2);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let after = json(&a.ok(&["ls", "--json"])).as_array().unwrap().len();
    assert_eq!(before, after, "a refused start left a session");
    assert!(a
        .fails(&["budget", &id, "--usd", "inf"], 2)
        .contains("dollar budget"));
    assert!(a
        .fails(&["budget", "no-such-session"], 3)
        .contains("no-such-session"));
    assert!(a
        .fails(&["tasks", "budget", "T-NONE"], 3)
        .contains("T-NONE"));
    assert!(a
        .fails(&["budget", "../x"], 2)
        .contains("invalid session id"));
    // A template with a bad budget is refused too.
    let bad = a.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"agent": "custom", "budget": {"usd": -1}}"#).unwrap();
    let err = a.fails(
        &["template", "add", "bad", "--file", bad.to_str().unwrap()],
        2,
    );
    assert!(err.contains("dollar budget"), "{err}");
}
