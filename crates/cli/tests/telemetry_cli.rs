//! Telemetry through the CLI: resources of a real process tree, tokens from what the agent
//! itself prints, and `top`.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn resources_are_sampled_live_and_stay_after_the_end() {
    let env = Env::new();
    let id = env
        .ok(&[
            "start",
            "custom",
            "--sample-interval",
            "0.2",
            "--",
            "python3",
            "-c",
            "x = bytearray(40_000_000); import time; time.sleep(60)",
        ])
        .trim()
        .to_string();
    let peak = |env: &Env| {
        env.record(&id)["telemetry"]["peak_memory_rss_bytes"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(
        poll(|| peak(&env) >= 40_000_000),
        "peak RSS never reached 40 MB: {}",
        env.record(&id)["telemetry"]
    );
    let live = env.record(&id)["telemetry"].clone();
    assert!(
        live["last_sample"]["memory_rss_bytes"].as_u64().unwrap() >= 40_000_000,
        "{live}"
    );
    env.ok(&["stop", &id, "--timeout", "5"]);
    let t = env.record(&id)["telemetry"].clone();
    assert!(
        t["peak_memory_rss_bytes"].as_u64().unwrap() >= 40_000_000,
        "{t}"
    );
    assert!(t["duration_ms"].as_i64().unwrap() > 0, "{t}");
    assert!(t["avg_cpu_percent"].is_number(), "{t}");
    // No token source for a plain command: null, not 0.
    let usage: serde_json::Value =
        serde_json::from_str(&env.ok(&["usage", &id, "--json"])).unwrap();
    assert!(
        usage["tokens_input"].is_null() && usage["cost_usd"].is_null(),
        "{usage}"
    );
    let shown = env.ok(&["show", &id]);
    assert!(shown.contains("peak"), "{shown}");
}

#[test]
fn an_orphaned_helper_stays_in_the_tree_through_the_host() {
    // The subshell starts `sleep` in the background and exits: `sleep` is orphaned. The host
    // is a subreaper, so it becomes the host's child (not init's), the sampler finds it there
    // by following children (no /proc listing), and it counts in the session's processes.
    let env = Env::new();
    let id = env
        .ok(&[
            "start",
            "custom",
            "--sample-interval",
            "0.2",
            "--",
            "sh",
            "-c",
            "(sleep 300 &); exec sleep 301",
        ])
        .trim()
        .to_string();
    let rec = env.record(&id);
    let host_pid = rec["host_pid"].as_u64().unwrap();
    let count = |env: &Env| {
        env.record(&id)["telemetry"]["last_sample"]["process_count"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(
        poll(|| count(&env) == 2),
        "the orphan is not counted: {}",
        env.record(&id)["telemetry"]
    );
    // it is the host's child now
    let children = std::fs::read_to_string(format!("/proc/{host_pid}/task/{host_pid}/children"))
        .unwrap_or_default();
    assert_eq!(children.split_whitespace().count(), 2, "{children}");
    // a stop ends the whole process group, the orphan too, and the host reaps it
    env.ok(&["stop", &id, "--timeout", "5"]);
    assert_eq!(env.state(&id), "stopped");
}

#[test]
fn tokens_and_cost_come_from_claude_print_json_output() {
    let env = Env::new();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data/agents/structured/claude-print-json.json");
    let fixture = if fixture.exists() {
        fixture
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/tests/data/usage/claude-print-json.json")
    };
    assert!(fixture.exists(), "fixture missing: {}", fixture.display());
    // A stand-in `claude` that prints what the real `claude -p --output-format json` printed.
    let fake = env.home().join("claude");
    std::fs::write(&fake, format!("#!/bin/sh\ncat '{}'\n", fixture.display())).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env
        .command()
        .env("AGENT_SESSIONS_CLAUDE_BIN", &fake)
        .args([
            "start",
            "claude",
            "--no-hooks",
            "--",
            "-p",
            "--output-format",
            "json",
            "hello",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    env.wait_state(&id, "stopped");
    let u: serde_json::Value = serde_json::from_str(&env.ok(&["usage", &id, "--json"])).unwrap();
    assert_eq!(u["tokens_input"], 1234, "{u}");
    assert_eq!(u["tokens_output"], 56, "{u}");
    assert_eq!(u["tokens_cache_read"], 700, "{u}");
    assert_eq!(u["tokens_cache_write"], 300, "{u}");
    assert_eq!(u["cost_estimated"], false, "{u}");
    assert!(
        (u["cost_usd"].as_f64().unwrap() - 0.009795).abs() < 1e-9,
        "{u}"
    );
    let text = env.ok(&["usage", &id]);
    assert!(text.contains("1234") || text.contains("1,234"), "{text}");
    let rec = env.record(&id);
    assert_eq!(
        rec["telemetry"]["tokens_input"], 1234,
        "{}",
        rec["telemetry"]
    );
}

#[test]
fn top_once_prints_a_frame() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    let frame = env.ok(&["top", "--once"]);
    assert!(frame.contains(&id) && frame.contains("CPU"), "{frame}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["top", "--once", "--json"])).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|r| r.to_string().contains(&id)),
        "{json}"
    );
}
