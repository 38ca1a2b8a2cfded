//! A tour of the Rust API: start an agent (here a plain shell) as a session, type into it,
//! wait until it is ready again, read its screen, its events and what it cost, stop it, and
//! read its record after the end. The README's Rust quick start is this file.
//!
//!     cargo build -p agent-sessions-cli   # the session host binary
//!     cargo run -p agent-sessions --example quickstart
//!
//! It uses a private sessions home under the temp folder (removed at the end), so it never
//! touches your own sessions.

use agent_sessions::{SessionManager, StartOptions, State};
use std::time::Duration;

fn main() -> agent_sessions::Result<()> {
    let home =
        std::env::temp_dir().join(format!("agent-sessions-quickstart-{}", std::process::id()));
    let mgr = SessionManager::open(Some(&home))?;

    // Any agent type: "claude", "codex", "gemini", "opencode", your own from agents.toml, or
    // "custom" with the program and its arguments (always argv, never through a shell).
    let rec = mgr.start(&StartOptions {
        agent: "custom".into(),
        args: vec!["sh".into()],
        task_id: Some("T-42".into()),
        idle_after: Some(Duration::from_millis(500)),
        ..Default::default()
    })?;
    let id = rec.session_id;
    println!("started {id}: {}", rec.state);

    mgr.send(&id, "echo hello from the session", true)?;
    // "Ready" is either state an agent takes input in.
    let ready = [State::Running, State::WaitingInput];
    mgr.wait_for_any(&id, &ready, Some(Duration::from_secs(30)))?;
    mgr.wait_for(&id, State::WaitingInput, Some(Duration::from_secs(30)))?;
    println!("--- screen ---\n{}", mgr.screen(&id)?.text.trim_end());

    for event in mgr.events(&id, 0, 100)? {
        println!("event {} {} {}", event.seq, event.kind, event.data);
    }
    // Tokens and cost come from what the agent reports; a shell reports none (nulls).
    println!("usage: {}", mgr.usage(&id)?.to_json());

    let rec = mgr.stop(&id, Some(Duration::from_secs(5)), false)?;
    println!("stopped: {} ({})", rec.state, rec.transitions.len());
    let rec = mgr.get(&id)?;
    println!("record: {}", rec.to_json());

    mgr.remove(&id)?;
    drop(mgr);
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}
