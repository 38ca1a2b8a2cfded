//! User-defined agent types: `agents.toml` in the sessions home and
//! `SessionManager::define_agent`, with their screen patterns, quit and interrupt sequences,
//! and the errors a broken definition gets.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn claude_like() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fake_agents/claude_like.py")
        .canonicalize()
        .unwrap()
}

/// A user-defined type "mycli" running the Claude look-alike with the user's own patterns.
fn agents_toml() -> String {
    format!(
        r#"# my own agents
[agents.mycli]
description = "my CLI"
command = ["python3", "{fake}", "--reply-delay", "0.4"]
busy = ["esc to interrupt"]
prompt = ["? for shortcuts", "^❯ "]
permission = ["Do you want to proceed?"]
quit = ["'/exit'", "Enter"]
interrupt = ["Esc"]
debounce_secs = 0.5
"#,
        fake = claude_like().display()
    )
}

#[test]
fn a_user_defined_agent_from_agents_toml_is_detected_and_quits_by_itself() {
    let env = Env::new();
    std::fs::write(env.home().join("agents.toml"), agents_toml()).unwrap();

    let list = env.ok(&["agents"]);
    assert!(list.contains("mycli") && list.contains("my CLI"), "{list}");
    let json: Value = serde_json::from_str(&env.ok(&["agents", "--json"])).unwrap();
    let mine = json
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "mycli")
        .unwrap();
    assert!(mine["source"].as_str().unwrap().ends_with("agents.toml"));
    assert_eq!(mine["screen_detection"], true);
    assert_eq!(mine["quit"], serde_json::json!(["/exit", "\r"]));

    let id = env.ok(&["start", "mycli"]).trim().to_string();
    let rec = env.record(&id);
    assert_eq!(rec["agent_type"], "mycli");
    env.wait_state(&id, "waiting_input");
    let rec = env.record(&id);
    assert_eq!(
        (rec["state_reason"].as_str(), rec["state_source"].as_str()),
        (Some("prompt"), Some("screen"))
    );
    // The debounce of the definition is used.
    let last = rec["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(last["cause"].as_str().unwrap().contains("0.5s"), "{last}");

    env.ok(&["send", &id, "hello"]);
    assert_eq!(env.state(&id), "running");
    env.wait_state(&id, "waiting_input");
    assert!(env.screen(&id).contains("MOCK-REPLY to: hello"));

    env.ok(&["send", &id, "sleep 30"]);
    env.wait_screen(&id, "esc to interrupt");
    env.ok(&["interrupt", &id]);
    env.wait_state(&id, "waiting_input");
    assert!(env.screen(&id).contains("Interrupted"));

    assert_eq!(env.ok(&["stop", &id]).trim(), "stopped");
    let rec = env.record(&id);
    assert_eq!(rec["exit_code"], 0, "quit through its own /exit: {rec}");
    assert!(rec["exit_signal"].is_null());
}

#[test]
fn a_broken_agents_toml_names_file_line_and_field() {
    let env = Env::new();
    let file = env.home().join("agents.toml");
    std::fs::write(
        &file,
        "[agents.mine]\ncommand = [\"python3\"]\nbusy = [\n  \"Working\",\n  \"\",\n]\n",
    )
    .unwrap();
    let want = format!("{}:5: agents.mine.busy[1]:", file.display());
    let err = env.fails(&["agents"], 2);
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("empty pattern"), "{err}");
    let err = env.fails(&["start", "mine"], 2);
    assert!(err.contains(&want), "{err}");

    // A typo in a key, and a TOML syntax error.
    std::fs::write(
        &file,
        "[agents.mine]\ncommand = [\"python3\"]\nbussy = [\"x\"]\n",
    )
    .unwrap();
    let err = env.fails(&["agents"], 2);
    assert!(
        err.contains(&format!("{}:3: agents.mine.bussy:", file.display())),
        "{err}"
    );
    std::fs::write(&file, "[agents.mine]\ncommand = [\"python3\"\n").unwrap();
    let err = env.fails(&["agents"], 2);
    assert!(err.contains(&format!("{}:2:", file.display())), "{err}");
    // A quit key that is not a key.
    std::fs::write(
        &file,
        "[agents.mine]\ncommand = [\"python3\"]\nquit = [\"Enter\", \"/quit\"]\n",
    )
    .unwrap();
    let err = env.fails(&["agents"], 2);
    assert!(
        err.contains(&format!("{}:3: agents.mine.quit[1]:", file.display())),
        "{err}"
    );

    // Built-in types never read the file: a mistake there cannot stop them.
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
}

#[test]
fn unknown_agent_errors_list_user_defined_types() {
    let env = Env::new();
    std::fs::write(env.home().join("agents.toml"), agents_toml()).unwrap();
    let err = env.fails(&["start", "nosuch"], 2);
    for name in ["claude", "codex", "gemini", "opencode", "custom", "mycli"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn agent_types_defined_through_the_api() {
    use agent_sessions::{AgentDef, SessionManager, StartOptions, State};
    let env = Env::new();
    let mgr = SessionManager::open(Some(env.home())).unwrap();
    mgr.set_host_binary(BIN);

    let mut def = AgentDef {
        name: "apicli".into(),
        command: vec![
            "python3".into(),
            claude_like().display().to_string(),
            "--reply-delay".into(),
            "0.3".into(),
        ],
        quit: vec!["'/exit'".into(), "Enter".into()],
        interrupt: vec!["Esc".into()],
        ..Default::default()
    };
    def.rules.busy = vec!["esc to interrupt".into()];
    def.rules.prompt = vec!["\n".into()];
    let err = mgr.define_agent(&def).unwrap_err().to_string();
    assert!(err.contains("apicli") && err.contains("prompt[0]"), "{err}");
    def.rules.prompt = vec!["? for shortcuts".into()];
    def.debounce = Some(Duration::from_millis(400));
    mgr.define_agent(&def).unwrap();
    assert!(mgr.agents().unwrap().iter().any(|a| a.name == "apicli"));

    let rec = mgr
        .start(&StartOptions {
            agent: "apicli".into(),
            ..Default::default()
        })
        .unwrap();
    let id = rec.session_id;
    let rec = mgr
        .wait_for(&id, State::WaitingInput, Some(DEADLINE))
        .unwrap();
    assert_eq!(rec.state_reason.as_deref(), Some("prompt"));
    mgr.send(&id, "via the api", true).unwrap();
    assert_eq!(mgr.state(&id).unwrap(), State::Running);
    mgr.wait_for(&id, State::WaitingInput, Some(DEADLINE))
        .unwrap();
    assert!(mgr
        .screen(&id)
        .unwrap()
        .text
        .contains("MOCK-REPLY to: via the api"));
    let rec = mgr.stop(&id, None, false).unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Stopped, Some(0)));
}

#[test]
fn an_unrecognised_screen_falls_back_to_the_quiet_timer_with_reason_other() {
    let env = Env::new();
    std::fs::write(
        env.home().join("agents.toml"),
        format!(
            "[agents.plain]\ncommand = [\"python3\", \"{}\"]\nbusy = [\"NEVER-SHOWN-BUSY\"]\nprompt = [\"NEVER-SHOWN-PROMPT\"]\n",
            fake_agent().display()
        ),
    )
    .unwrap();
    let id = env
        .ok(&["start", "plain", "--idle-after", "1"])
        .trim()
        .to_string();
    env.wait_state(&id, "waiting_input");
    let rec = env.record(&id);
    assert_eq!(
        (rec["state_reason"].as_str(), rec["state_source"].as_str()),
        (Some("other"), Some("quiet_timer")),
        "{rec}"
    );
    env.ok(&["send", &id, "hello"]);
    assert_eq!(env.state(&id), "running");
    env.wait_screen(&id, "echo: hello");
    env.wait_state(&id, "waiting_input");
    assert_eq!(env.record(&id)["state_source"], "quiet_timer");
}
