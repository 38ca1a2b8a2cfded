//! The session host's OpenTelemetry receiver, with real sessions whose `claude`, `codex` or
//! `gemini` is `tests/fake_agents/otlp_poster.py`: it finds the export settings the host gave
//! it the way each agent does and posts the real CLIs' captured exports
//! (`crates/core/tests/data/otlp/`), plus everything a receiver must refuse.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn capture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data/otlp")
        .join(name)
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// A sessions home plus a private home for the agents (no user settings can interfere) and
/// one poster per agent type, each with its own plan.
struct Posters {
    env: Env,
    dir: tempfile::TempDir,
}

impl Posters {
    fn new() -> Posters {
        let dir = tempfile::Builder::new()
            .prefix("as-otel")
            .tempdir()
            .unwrap();
        for d in ["bin", "home", "ws"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Posters {
            env: Env::new(),
            dir,
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Starts `agent` run by the poster with `plan`; returns the id.
    fn start(&self, agent: &str, plan: Value, start_args: &[&str]) -> String {
        let plan_file = self.dir.path().join(format!("{agent}-plan.json"));
        std::fs::write(&plan_file, plan.to_string()).unwrap();
        let script = format!(
            "#!/bin/sh\nexec python3 '{}' --agent {agent} --plan '{}' \"$@\"\n",
            fakes_dir().join("otlp_poster.py").display(),
            plan_file.display()
        );
        let bin = self.dir.path().join("bin").join(agent);
        std::fs::write(&bin, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ws = self.dir.path().join("ws");
        let mut args = vec!["start", agent, "--cwd", ws.to_str().unwrap()];
        args.extend_from_slice(start_args);
        self.ok(&args).trim().to_string()
    }

    fn usage(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["usage", id, "--json"])).unwrap()
    }

    fn host_log(&self, id: &str) -> String {
        std::fs::read_to_string(self.env.home().join(id).join("host.log")).unwrap_or_default()
    }

    /// Ends the poster: "exit" (it exits 0) or "kill" (SIGKILL).
    fn end(&self, id: &str, how: &str) {
        self.ok(&["send", id, how]);
        self.ok(&["wait", id, "--state", "stopped,failed", "--timeout", "30"]);
    }
}

impl Cli for Posters {
    fn command(&self) -> Command {
        let mut c = self.env.command();
        // Whatever OpenTelemetry settings the machine running the tests has stay out.
        for (k, _) in std::env::vars() {
            if k.starts_with("OTEL_")
                || k.starts_with("GEMINI_TELEMETRY_")
                || k == "CLAUDE_CODE_ENABLE_TELEMETRY"
            {
                c.env_remove(k);
            }
        }
        let home = self.home();
        c.env("HOME", &home)
            .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
            .env("CODEX_HOME", home.join(".codex"))
            .env("GEMINI_CLI_HOME", &home)
            .env_remove("AGENT_SESSIONS_TASK");
        for agent in ["claude", "codex", "gemini"] {
            c.env(
                format!("AGENT_SESSIONS_{}_BIN", agent.to_uppercase()),
                self.dir.path().join("bin").join(agent),
            );
        }
        c
    }
}

impl std::ops::Deref for Posters {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

/// The statuses the poster printed for its steps, once it is done.
fn statuses(p: &Posters, id: &str, steps: usize) -> Vec<String> {
    let screen = p.wait_screen(id, "poster: done");
    (0..steps)
        .map(|i| {
            let tag = format!("step {i}: ");
            screen
                .lines()
                .find_map(|l| l.trim().strip_prefix(&tag).map(|s| s.trim().to_string()))
                .unwrap_or_else(|| panic!("no {tag:?} on screen:\n{screen}"))
        })
        .collect()
}

fn assert_close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

#[test]
fn every_request_is_counted_once_and_the_figures_are_exact() {
    let p = Posters::new();
    let (one, two) = (
        capture("claude-2.1.197-logs-1.json"),
        capture("claude-2.1.197-logs-2.json"),
    );
    let plan = json!([
        {"file": one},
        {"file": two, "chunked": true},
        {"file": two, "chunked": true},          // a retried export: counted once
        {"file": capture("gemini-0.61.0-metrics.json"), "path": "/v1/metrics", "chunked": true},
        {"body": "{}", "path": "/v1/traces"},
        {"file": one, "auth": "wrong"},
        {"file": one, "auth": "none"},
        {"method": "GET", "path": "/v1/logs"},
        {"body": "{}", "path": "/v1/other"},
        {"raw": "hello\r\n\r\n"},
        {"raw": "POST /v1/logs HTTP/1.1\r\ncontent-length: 10\r\n"},
        {"raw": format!("POST /v1/logs HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(20_000))},
        {"idle": true},
        {"idle": true},
        {"file": one},                           // still served, and still counted once
    ]);
    let id = p.start("claude", plan, &[]);
    assert_eq!(
        statuses(&p, &id, 15),
        [
            "200", "200", "200", "200", "200", "401", "401", "405", "404", "400", "400", "431",
            "open", "open", "200"
        ]
    );
    // Live: exact as of the agent's last export.
    let u = p.usage(&id);
    assert_eq!(u["tokens_input"], 1010 + 1020, "{u}");
    assert_eq!(u["tokens_output"], 21 + 22, "{u}");
    assert_eq!(u["tokens_cache_read"], 600, "{u}");
    assert_eq!(u["tokens_cache_write"], 80, "{u}");
    assert_close(&u["cost_usd"], 0.0035849999999999996 + 0.00363);
    assert_eq!(u["cost_estimated"], false, "{u}");
    assert_eq!(u["source"], "claude-otel", "{u}");
    assert_eq!(u["exact"], true, "{u}");
    assert!(p.ok(&["usage", &id]).contains("exact               yes"));

    p.end(&id, "exit");
    let u = p.usage(&id);
    assert_eq!(
        (u["tokens_input"].clone(), u["exact"].clone()),
        (json!(2030), json!(true)),
        "{u}"
    );
    // The stored summary says the same.
    let t = &p.record(&id)["telemetry"];
    assert_eq!(t["usage_source"], "claude-otel", "{t}");
    assert_eq!(t["usage_exact"], true, "{t}");

    // The secret reached neither the record nor the host's log.
    let log = p.host_log(&id);
    assert!(
        log.contains("receiving the agent's OpenTelemetry logs"),
        "{log}"
    );
    assert!(!log.contains("Bearer"), "{log}");
    assert!(!p.ok(&["show", &id, "--json"]).contains("Bearer"));
}

#[test]
fn what_could_not_be_counted_makes_the_figures_a_lower_bound() {
    let p = Posters::new();
    let plan = json!([
        {"file": capture("claude-2.1.197-logs-1.json")},
        {"size": 5 << 20},
        {"body": "{not json", "chunked": true},
        {"body": "{}", "ctype": "application/x-protobuf"},
    ]);
    let id = p.start("claude", plan, &[]);
    assert_eq!(statuses(&p, &id, 4), ["200", "413", "400", "415"]);
    // Killed, the agent cannot send its last export either.
    p.end(&id, "kill");
    let u = p.usage(&id);
    assert_eq!(u["tokens_input"], 1010, "{u}");
    assert_eq!(u["exact"], false, "{u}");
    let source = u["source"].as_str().unwrap();
    for why in [
        "batch-too-large",
        "bad-batch",
        "not-json",
        "agent-signalled",
    ] {
        assert!(source.contains(&format!("+lower-bound:{why}")), "{source}");
    }
    assert!(p.ok(&["usage", &id]).contains("exact               no"));
}

#[test]
fn codex_and_gemini_get_their_own_settings() {
    let p = Posters::new();
    let codex = p.start(
        "codex",
        json!([
            {"file": capture("codex-0.171.0-logs-1.json")},
            {"file": capture("codex-0.171.0-logs-2.json")},
        ]),
        &[],
    );
    assert_eq!(statuses(&p, &codex, 2), ["200", "200"]);
    // The endpoint came on Codex's command line, which the record does not show.
    let rec = p.record(&codex);
    assert!(
        !rec["command"].to_string().contains("otel.exporter"),
        "{rec}"
    );
    p.end(&codex, "exit");
    let u = p.usage(&codex);
    assert_eq!(u["tokens_input"], 710 + 720 + 730, "{u}");
    assert_eq!(u["tokens_output"], 21 + 22 + 23, "{u}");
    assert_eq!(u["tokens_cache_read"], 900, "{u}");
    assert_eq!(u["tokens_cache_write"], 0, "{u}");
    assert_eq!(u["source"], "codex-otel", "{u}");
    assert_eq!(u["exact"], true, "{u}");

    let gemini = p.start(
        "gemini",
        json!([{"file": capture("gemini-0.61.0-logs.json"), "chunked": true}]),
        &[],
    );
    assert_eq!(statuses(&p, &gemini, 1), ["200"]);
    p.end(&gemini, "exit");
    let u = p.usage(&gemini);
    assert_eq!(u["tokens_input"], 710 + 720, "{u}");
    assert_eq!(u["tokens_output"], 43, "{u}");
    assert_eq!(u["tokens_cache_read"], 600, "{u}");
    assert!(u["tokens_cache_write"].is_null(), "{u}");
    assert!(
        u["source"].as_str().unwrap().starts_with("gemini-otel"),
        "{u}"
    );
    assert_eq!(u["exact"], true, "{u}");
}

#[test]
fn the_users_own_opentelemetry_settings_are_left_alone() {
    let p = Posters::new();
    let id = p.start(
        "claude",
        json!([]),
        &["--env", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9"],
    );
    p.wait_screen(&id, "poster: not armed");
    let log = p.host_log(&id);
    assert!(
        log.contains("left to the user (the environment sets OTEL_EXPORTER_OTLP_ENDPOINT)"),
        "{log}"
    );
    p.end(&id, "exit");

    // In the agent's own settings: Claude Code's settings.json `env`, Codex's `[otel]`.
    let claude_dir = p.home().join(".claude");
    std::fs::create_dir_all(&claude_dir).unwrap();
    std::fs::write(
        claude_dir.join("settings.json"),
        r#"{"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1"}}"#,
    )
    .unwrap();
    let id = p.start("claude", json!([]), &[]);
    p.wait_screen(&id, "poster: not armed");
    p.end(&id, "exit");
    let codex_dir = p.home().join(".codex");
    std::fs::create_dir_all(&codex_dir).unwrap();
    std::fs::write(
        codex_dir.join("config.toml"),
        "[otel]\nexporter = { otlp-http = { endpoint = \"http://collector:4318/v1/logs\", protocol = \"binary\" } }\n",
    )
    .unwrap();
    let id = p.start("codex", json!([]), &[]);
    p.wait_screen(&id, "poster: not armed");
    assert!(p.host_log(&id).contains("sets otel.exporter"));
    p.end(&id, "exit");
}

#[test]
fn a_resumed_session_adds_each_runs_requests() {
    let p = Posters::new();
    let id = p.start(
        "claude",
        json!([{"file": capture("claude-2.1.197-logs-1.json")}]),
        &[],
    );
    assert_eq!(statuses(&p, &id, 1), ["200"]);
    p.end(&id, "exit");
    // The next run posts the second capture (the wrapper reads its plan at each start).
    std::fs::write(
        p.dir.path().join("claude-plan.json"),
        json!([{"file": capture("claude-2.1.197-logs-2.json")}]).to_string(),
    )
    .unwrap();
    p.ok(&["resume", &id, "--wait", "--timeout", "30"]);
    assert_eq!(statuses(&p, &id, 1), ["200"]);
    // Live, the first run's end closes only its own prompts.
    let u = p.usage(&id);
    assert_eq!(
        (u["tokens_input"].clone(), u["exact"].clone()),
        (json!(2030), json!(true)),
        "{u}"
    );
    p.end(&id, "exit");
    let u = p.usage(&id);
    assert_eq!(u["tokens_input"], 2030, "{u}");
    assert_eq!(u["source"], "claude-otel", "{u}");
    assert_eq!(u["exact"], true, "{u}");
}
