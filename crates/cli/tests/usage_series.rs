//! A session's usage over time: its host stores the totals at the end of each turn, with
//! no budget set, and `usage --series` / `GET /sessions/{id}/usage/series` return them.
//! Real sessions of the fake Claude Code (each reply reports 2290 tokens in its transcript),
//! the real store and server.

mod common;
use common::http::Server;
use common::*;
use serde_json::Value;

/// Tokens one reply of the fake Claude reports (tests/fake_agents/claude_like.py).
const TOKENS_PER_REPLY: u64 = 1234 + 300 + 700 + 56;

fn series(a: &AgentEnv, id: &str) -> Vec<Value> {
    a.ok(&["usage", id, "--series", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn totals(points: &[Value]) -> Vec<u64> {
    points
        .iter()
        .map(|p| p["total_tokens"].as_u64().unwrap_or(0))
        .collect()
}

fn turn(a: &AgentEnv, id: &str, prompt: &str) {
    a.ok(&["send", id, prompt]);
    a.wait_screen(id, &format!("MOCK-REPLY to: {prompt}"));
    a.wait_state(id, "waiting_input");
}

#[test]
fn each_turn_of_a_session_without_a_budget_adds_a_point_to_its_usage_series() {
    let a = AgentEnv::new(&["--reply-delay", "0.2"]);
    let id = a.start("claude", &[]);
    a.wait_state(&id, "waiting_input");
    assert!(
        series(&a, &id).is_empty(),
        "no turn yet, no point: {:?}",
        series(&a, &id)
    );
    turn(&a, &id, "one");
    turn(&a, &id, "two");
    // What the host stored shows once the session ended (a reader adds no live point then).
    let mut points = Vec::new();
    let stored = poll(|| {
        points = series(&a, &id);
        totals(&points).contains(&(2 * TOKENS_PER_REPLY))
    });
    assert!(stored, "the second turn's totals: {points:?}");
    a.ok(&["stop", &id]);
    a.wait_state(&id, "stopped");
    let points = series(&a, &id);
    assert_eq!(
        totals(&points),
        vec![TOKENS_PER_REPLY, 2 * TOKENS_PER_REPLY],
        "a point per turn, none for the unchanged end: {points:?}"
    );
    let at: Vec<i64> = points
        .iter()
        .map(|p| p["at_ms"].as_i64().unwrap())
        .collect();
    assert!(at[0] < at[1], "oldest first: {points:?}");
    for (turns, p) in (1u64..).zip(&points) {
        assert!(p["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{p}");
        assert_eq!(p["tokens_input"], 1234 * turns, "running totals: {p}");
    }
    assert!(points[1]["cost_usd"].as_f64() > points[0]["cost_usd"].as_f64());
    // The last point is what `usage` says.
    let usage: Value = serde_json::from_str(&a.ok(&["usage", &id, "--json"])).unwrap();
    assert_eq!(usage["total_tokens"], points[1]["total_tokens"], "{usage}");
    assert_eq!(usage["cost_usd"], points[1]["cost_usd"], "{usage}");

    // The same over HTTP, with `since_ms` leaving out the first point.
    let server = Server::start(&a.env);
    let (status, body) = server.get(&format!("/sessions/{id}/usage/series"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap(), &points, "{body}");
    let (status, body) = server.get(&format!("/sessions/{id}/usage/series?since_ms={}", at[1]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(totals(body.as_array().unwrap()), vec![2 * TOKENS_PER_REPLY]);
    let (status, body) = server.get(&format!("/sessions/{id}/usage/series?since_ms=soon"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.get("/sessions/no-such/usage/series");
    assert_eq!(status, 404, "{body}");
}

#[test]
fn a_running_session_s_series_ends_with_its_figures_now() {
    let a = AgentEnv::new(&["--reply-delay", "0.2"]);
    let id = a.start("claude", &[]);
    a.wait_state(&id, "waiting_input");
    turn(&a, &id, "one");
    let mut points = Vec::new();
    let ok = poll(|| {
        points = series(&a, &id);
        totals(&points).last() == Some(&TOKENS_PER_REPLY)
    });
    assert!(ok, "{points:?}");
    assert_eq!(totals(&points), vec![TOKENS_PER_REPLY], "{points:?}");
    let text = a.ok(&["usage", &id, "--series"]);
    assert!(text.starts_with("AT"), "{text}");
    assert!(text.contains(&TOKENS_PER_REPLY.to_string()), "{text}");
    a.ok(&["stop", &id]);
}
