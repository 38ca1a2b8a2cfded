//! The core API (`SessionManager`) driving real sessions of the fake agent, the same way
//! the Python and C bindings do. Needs the `agent-sessions` binary (the session host) built
//! beside the test binaries, which `cargo test --workspace` does.

mod common;

use agent_sessions::{Error, ErrorKind, ListFilter, SessionManager, StartOptions, State};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn fake_agent() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fake_agents/fake_agent.py")
        .display()
        .to_string()
}

fn manager() -> (tempfile::TempDir, SessionManager) {
    let home = tempfile::tempdir().unwrap();
    let mgr = common::open_manager(home.path());
    (home, mgr)
}

fn fake(extra: &[&str]) -> StartOptions {
    let mut args = vec!["python3".to_string(), fake_agent()];
    args.extend(extra.iter().map(|s| s.to_string()));
    StartOptions {
        agent: "custom".into(),
        args,
        idle_after: Some(Duration::from_millis(500)),
        ..Default::default()
    }
}

fn wait_screen(mgr: &SessionManager, id: &str, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let text = mgr.screen(id).unwrap().text;
        if text.contains(needle) {
            return text;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "screen never showed {needle:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn start_send_read_wait_stop_through_the_api() {
    let (_home, mgr) = manager();
    let rec = mgr.start(&fake(&[])).unwrap();
    assert_eq!(rec.state, State::Running);
    let id = rec.session_id;
    wait_screen(&mgr, &id, "fake>");
    mgr.send(&id, "through the api", true).unwrap();
    wait_screen(&mgr, &id, "echo: through the api");

    // Output reads resume from an offset and end where the log ends.
    let (first, next) = mgr.output(&id, 0, 10).unwrap();
    assert_eq!((first.len(), next), (10, 10));
    let (rest, end) = mgr.output(&id, next, 1 << 20).unwrap();
    let all = [first, rest].concat();
    assert!(String::from_utf8_lossy(&all).contains("echo: through the api"));
    assert_eq!(mgr.output(&id, end, 100).unwrap().0.len(), 0);

    mgr.wait_for(&id, State::WaitingInput, Some(DEADLINE))
        .unwrap();
    mgr.send_keys(&id, &["q", "u", "i", "t", "Enter"]).unwrap();
    let rec = mgr.wait_for(&id, State::Stopped, Some(DEADLINE)).unwrap();
    assert_eq!(rec.exit_code, Some(0));
    assert!(rec.ended_at.is_some());
}

#[test]
fn errors_have_kinds_the_bindings_map() {
    let (_home, mgr) = manager();
    let kind = |e: Error| e.kind();
    assert_eq!(
        kind(mgr.get("../x").unwrap_err()),
        ErrorKind::InvalidSessionId
    );
    assert_eq!(
        kind(mgr.get("agent-20200101-000000-00000000").unwrap_err()),
        ErrorKind::SessionNotFound
    );
    let bad = StartOptions {
        agent: "nope".into(),
        ..Default::default()
    };
    assert_eq!(
        kind(mgr.start(&bad).unwrap_err()),
        ErrorKind::UnsupportedAgent
    );
    let rec = mgr.start(&fake(&["--exit-code", "7"])).unwrap();
    let done = mgr
        .wait_for(&rec.session_id, State::Failed, Some(DEADLINE))
        .unwrap();
    assert_eq!(done.exit_code, Some(7));
    assert_eq!(
        kind(mgr.send(&rec.session_id, "x", true).unwrap_err()),
        ErrorKind::SessionNotRunning
    );
    assert_eq!(
        kind(
            mgr.wait_for(&rec.session_id, State::Running, Some(DEADLINE))
                .unwrap_err()
        ),
        ErrorKind::StateUnreachable
    );
}

#[test]
fn one_manager_is_shared_by_many_threads() {
    let (_home, mgr) = manager();
    let mgr = Arc::new(mgr);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let mgr = mgr.clone();
            std::thread::spawn(move || {
                let rec = mgr
                    .start(&StartOptions {
                        task_id: Some(format!("T{i}")),
                        ..fake(&[])
                    })
                    .unwrap();
                wait_screen(&mgr, &rec.session_id, "fake>");
                mgr.send(&rec.session_id, &format!("thread {i}"), true)
                    .unwrap();
                wait_screen(&mgr, &rec.session_id, &format!("echo: thread {i}"));
                mgr.stop(&rec.session_id, Some(Duration::from_secs(5)), false)
                    .unwrap();
                rec.session_id
            })
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (i, id) in ids.iter().enumerate() {
        let found = mgr
            .list(&ListFilter {
                task_id: Some(format!("T{i}")),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(&found[0].session_id, id);
        assert_eq!(found[0].state, State::Stopped);
    }
    mgr.remove(&ids[0]).unwrap();
    assert_eq!(mgr.list(&ListFilter::default()).unwrap().len(), 3);
}

#[test]
fn lifecycle_records_refuse_process_operations_clearly() {
    let (_home, mgr) = manager();
    let lc = agent_sessions::lifecycle::Lifecycle::open(Some(mgr.home().root())).unwrap();
    let id = lc
        .create_session(&agent_sessions::lifecycle::NewLifecycle {
            agent_id: None,
            agent_name: "planner".into(),
            purpose: serde_json::Value::Null,
            metadata: Default::default(),
        })
        .unwrap();
    let err = mgr.send(&id, "x", true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoProcess);
    assert!(err.to_string().contains("no agent process"), "{err}");
    let err = mgr.stop(&id, None, false).unwrap_err();
    assert!(err.to_string().contains("finalize"), "{err}");
}
