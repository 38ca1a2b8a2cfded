//! Token figures of a session whose agent sees another environment than its readers: the
//! agent's `CLAUDE_CONFIG_DIR` comes with `--env` (the host knows it, the store only keeps
//! its name), and every reader here has a different one. Only the host stores figures;
//! readers compute and return theirs and never overwrite the host's.

mod common;
use common::*;
use serde_json::Value;

/// What one reply of the fake Claude reports (tests/fake_agents/claude_like.py).
const INPUT_PER_REPLY: u64 = 1234;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn turn(a: &AgentEnv, id: &str, prompt: &str) {
    a.ok(&["send", id, prompt]);
    a.wait_screen(id, &format!("MOCK-REPLY to: {prompt}"));
    a.wait_state(id, "waiting_input");
}

/// The telemetry of `id` as stored (`ls --json` reads the store only).
fn stored(a: &AgentEnv, id: &str) -> Value {
    let list = json(&a.ok(&["ls", "--json"]));
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["session_id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))["telemetry"]
        .clone()
}

#[test]
fn readers_in_another_environment_never_overwrite_the_hosts_token_figures() {
    let a = AgentEnv::new(&["--reply-delay", "0.3"]);
    // The agent's own records; the readers' CLAUDE_CONFIG_DIR (AgentEnv's) stays empty.
    let agent_config = a.dir.path().join("agent-claude");
    let env_arg = format!("CLAUDE_CONFIG_DIR={}", agent_config.display());
    let id = a.start("claude", &["--env", &env_arg]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "first");

    // At the turn's end the host stores the figures, computed with the agent's environment.
    let mut t = Value::Null;
    let found = poll(|| {
        t = stored(&a, &id);
        t["tokens_input"] == INPUT_PER_REPLY
    });
    assert!(found, "the host never stored the turn's figures: {t}");
    let host_at = t["usage_at_ms"].as_i64().unwrap();

    // A reader here finds no record of this agent: it returns the host's figures and
    // stores nothing.
    let u = json(&a.ok(&["usage", &id, "--json"]));
    assert_eq!(u["tokens_input"], INPUT_PER_REPLY, "{u}");
    assert!(u["source"].is_string(), "{u}");
    assert_eq!(
        stored(&a, &id)["usage_at_ms"],
        host_at,
        "a reader stored figures"
    );
    // One with the agent's environment computes them (and stores nothing either).
    let own = a
        .command()
        .env("CLAUDE_CONFIG_DIR", &agent_config)
        .args(["usage", &id, "--json"])
        .output()
        .unwrap();
    let own = json(&String::from_utf8_lossy(&own.stdout));
    assert_eq!(own["tokens_input"], INPUT_PER_REPLY, "{own}");
    assert_eq!(
        stored(&a, &id)["usage_at_ms"],
        host_at,
        "a reader stored figures"
    );

    // At the end the host stores them once more: final.
    a.ok(&["stop", &id]);
    a.wait_state(&id, "stopped");
    let found = poll(|| {
        t = stored(&a, &id);
        t["usage_at_ms"] != host_at
    });
    assert!(found, "the host never stored its final figures: {t}");
    assert_eq!(t["tokens_input"], INPUT_PER_REPLY, "{t}");

    // Resumed, the session is live again; its next turn's end brings the host's figures of
    // both replies. Readers here recompute (they find nothing) and must leave those alone.
    a.ok(&[
        "resume",
        &id,
        "--env",
        &env_arg,
        "--wait",
        "--timeout",
        "30",
    ]);
    turn(&a, &id, "second");
    let found = poll(|| {
        t = stored(&a, &id);
        t["tokens_input"] == 2 * INPUT_PER_REPLY
    });
    assert!(
        found,
        "the host never stored the second turn's figures: {t}"
    );
    let host_at = t["usage_at_ms"].clone();
    let u = json(&a.ok(&["usage", &id, "--json"]));
    assert_eq!(
        u["tokens_input"],
        2 * INPUT_PER_REPLY,
        "finding nothing, a reader returns the stored figures: {u}"
    );
    let rec = json(&a.ok(&["show", &id, "--json"]));
    assert_eq!(
        rec["telemetry"]["tokens_input"],
        2 * INPUT_PER_REPLY,
        "{rec}"
    );
    a.ok(&["top", "--once", "--json"]);
    t = stored(&a, &id);
    assert_eq!(t["tokens_input"], 2 * INPUT_PER_REPLY, "{t}");
    assert_eq!(
        t["usage_at_ms"], host_at,
        "a reader overwrote the host's figures: {t}"
    );
    a.ok(&["stop", &id]);
    a.wait_state(&id, "stopped");
    let points = a.ok(&["usage", &id, "--series", "--json"]);
    assert_eq!(points.lines().count(), 2, "a point per turn: {points}");
}
