//! Suspend and resume through the core API, with a user-defined agent type that fixes its
//! conversation id at start (`session_id_args`) and resumes with `--resume <id>`, and the
//! agreement between a hosted resume and the lifecycle resume decision (`should_resume`).

mod common;

use agent_sessions::lifecycle::{Lifecycle, ResumePolicy};
use agent_sessions::{CleanupOptions, Error, ResumeOptions, SessionManager, StartOptions, State};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// A tiny agent with a conversation store: `--session-id ID` starts conversation ID,
/// `--resume ID` continues it, or prints what Claude Code prints when it is gone.
const AGENT: &str = r#"
import os, sys
args = sys.argv[1:]
resumed = '--resume' in args
sid = args[args.index('--resume' if resumed else '--session-id') + 1]
store = os.path.join(os.environ['RESUMABLE_STORE'], sid + '.txt')
if resumed and not os.path.exists(store):
    print('No conversation found with session ID: ' + sid, flush=True)
    sys.exit(1)
earlier = open(store).read().split() if resumed else []
open(store, 'a').close()
print(('resumed ' if resumed else 'new ') + sid + ' after ' + ','.join(earlier), flush=True)
while True:
    sys.stdout.write('> ')
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        break
    with open(store, 'a') as f:
        f.write(line.strip() + '\n')
    print('reply to ' + line.strip(), flush=True)
"#;

struct Fixture {
    _home: tempfile::TempDir,
    home: PathBuf,
    store: PathBuf,
    mgr: SessionManager,
}

fn fixture() -> Fixture {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().to_path_buf();
    let store = root.join("conversations");
    std::fs::create_dir_all(&store).unwrap();
    let script = root.join("resumable.py");
    std::fs::write(&script, AGENT).unwrap();
    let mgr = common::open_manager(&root);
    // In agents.toml, so every process (and the lifecycle API) knows the type.
    std::fs::write(
        root.join("agents.toml"),
        format!(
            "[agents.resumable]\ncommand = [\"python3\", {script:?}]\nresume = [\"--resume\", \"{{id}}\"]\nsession_id_args = [\"--session-id\", \"{{id}}\"]\n",
            script = script.display().to_string()
        ),
    )
    .unwrap();
    Fixture {
        _home: home,
        home: root,
        store,
        mgr,
    }
}

impl Fixture {
    fn start(&self) -> String {
        self.mgr
            .start(&StartOptions {
                agent: "resumable".into(),
                cwd: Some(self.home.clone()),
                task_id: Some("T-resume".into()),
                env: vec![("RESUMABLE_STORE".into(), self.store.display().to_string())],
                // Longer than a Python start through a pyenv shim (~0.4 s) on a loaded machine:
                // the agent must print before the quiet timer may call it idle.
                idle_after: Some(Duration::from_millis(1500)),
                ..Default::default()
            })
            .unwrap()
            .session_id
    }

    fn resume_opts(&self) -> ResumeOptions {
        ResumeOptions {
            env: vec![("RESUMABLE_STORE".into(), self.store.display().to_string())],
            ..Default::default()
        }
    }

    fn wait_screen(&self, id: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.mgr.screen(id).unwrap().text;
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

    fn turn(&self, id: &str, text: &str) {
        self.mgr.send(id, text, true).unwrap();
        self.wait_screen(id, &format!("reply to {text}"));
        self.mgr
            .wait_for(id, State::WaitingInput, Some(DEADLINE))
            .unwrap();
    }
}

fn lifecycle(home: &Path) -> Lifecycle {
    Lifecycle::open(Some(home)).unwrap()
}

#[test]
fn suspend_and_resume_keep_the_conversation_and_the_id() {
    let f = fixture();
    let id = f.start();
    let rec = f.mgr.get(&id).unwrap();
    let asid = rec.agent_session_id.clone().expect("fixed at start");
    assert!(!rec.resumable, "a running session is not resumable");
    f.wait_screen(&id, &format!("new {asid}"));
    f.turn(&id, "first");

    let rec = f.mgr.suspend(&id, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(rec.state, State::Suspended);
    assert!(rec.resumable);
    assert!(f.mgr.get(&id).unwrap().resumable);

    let rec = f.mgr.resume(&id, &f.resume_opts()).unwrap();
    assert_eq!(rec.session_id, id);
    assert!(matches!(rec.state, State::Running | State::WaitingInput));
    assert_eq!(rec.agent_session_id.as_deref(), Some(asid.as_str()));
    assert_eq!(rec.task_id.as_deref(), Some("T-resume"));
    f.wait_screen(&id, &format!("resumed {asid} after first"));
    f.turn(&id, "second");

    // The record shows the suspend and the resume.
    let rec = f.mgr.get(&id).unwrap();
    let causes: Vec<(State, String)> = rec
        .transitions
        .iter()
        .map(|t| (t.to, t.cause.clone()))
        .collect();
    assert!(
        causes.iter().any(|(s, _)| *s == State::Suspended),
        "{causes:?}"
    );
    assert!(
        causes
            .iter()
            .any(|(s, c)| *s == State::Starting && c == "resume requested"),
        "{causes:?}"
    );
    let kinds: Vec<String> = f
        .mgr
        .events(&id, 0, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in ["suspend", "resume", "input", "state"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} event in {kinds:?}");
    }
    // History spans both runs (built from input and settled screens).
    let page = f.mgr.history(&id, 0, 100).unwrap();
    let users: Vec<&str> = page
        .messages
        .iter()
        .filter(|m| m.role == "user")
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(users, vec!["first", "second"]);
    f.mgr
        .stop(&id, Some(Duration::from_secs(5)), false)
        .unwrap();
}

#[test]
fn resume_decision_and_hosted_resume_agree() {
    let f = fixture();
    let lc = lifecycle(&f.home);
    let policy = ResumePolicy::default();
    let id = f.start();
    f.mgr
        .wait_for(&id, State::WaitingInput, Some(DEADLINE))
        .unwrap();
    // A resumable phase, but the agent is running: nothing to resume.
    assert!(lc.update_state(&id, Some("planning"), None, None).unwrap());
    assert!(!lc.should_resume(&id, &policy).unwrap());
    let check = lc.resume_check(&id, &policy).unwrap().unwrap();
    assert!(check.why_not.contains("waiting_input"), "{}", check.why_not);

    f.mgr.suspend(&id, None).unwrap();
    assert!(lc.should_resume(&id, &policy).unwrap());
    // What the decision promised works, and phase and history survive it.
    let rec = f.mgr.resume(&id, &f.resume_opts()).unwrap();
    assert_eq!(rec.phase.as_deref(), Some("planning"));
    let doc = lc.get_session(&id).unwrap().unwrap();
    assert_eq!(doc.get("phase").and_then(|p| p.as_str()), Some("planning"));
    assert!(!lc.should_resume(&id, &policy).unwrap(), "running again");
    let phase_events = f
        .mgr
        .events(&id, 0, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "phase")
        .count();
    assert_eq!(phase_events, 1);
    f.mgr
        .stop(&id, Some(Duration::from_secs(5)), false)
        .unwrap();
}

#[test]
fn a_gone_conversation_fails_the_resume_with_the_agents_reason() {
    let f = fixture();
    let id = f.start();
    let asid = f.mgr.get(&id).unwrap().agent_session_id.unwrap();
    f.wait_screen(&id, "new ");
    f.mgr.suspend(&id, None).unwrap();
    std::fs::remove_file(f.store.join(format!("{asid}.txt"))).unwrap();
    f.mgr.resume(&id, &f.resume_opts()).unwrap();
    match f.mgr.wait_for(&id, State::WaitingInput, Some(DEADLINE)) {
        Err(Error::StateUnreachable { current, .. }) => assert_eq!(current, State::Failed),
        other => panic!("expected the resume to fail, got {other:?}"),
    }
    let rec = f.mgr.get(&id).unwrap();
    let reason = rec.state_reason.unwrap();
    assert!(reason.contains("conversation is gone"), "{reason}");
    assert!(reason.contains("No conversation found"), "{reason}");
}

#[test]
fn bad_resumes_and_suspends_say_why() {
    let f = fixture();
    let id = f.start();
    // Running: not resumable.
    let e = f.mgr.resume(&id, &f.resume_opts()).unwrap_err();
    assert!(matches!(e, Error::NotResumable { .. }), "{e}");
    assert!(e.to_string().contains("only a suspended"), "{e}");
    // A custom agent cannot resume, so it refuses to suspend and keeps running.
    let custom = f
        .mgr
        .start(&StartOptions {
            agent: "custom".into(),
            args: vec!["sleep".into(), "600".into()],
            ..Default::default()
        })
        .unwrap()
        .session_id;
    let e = f.mgr.suspend(&custom, None).unwrap_err();
    assert!(e.to_string().contains("no resume command"), "{e}");
    assert!(f.mgr.get(&custom).unwrap().state.is_live());
    f.mgr.stop(&custom, None, true).unwrap();
    let e = f
        .mgr
        .resume(&custom, &ResumeOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("no resume command"), "{e}");
    // Paused sessions suspend too (they are thawed first).
    f.mgr
        .wait_for(&id, State::WaitingInput, Some(DEADLINE))
        .unwrap();
    assert_eq!(f.mgr.pause(&id).unwrap().state, State::Paused);
    assert_eq!(f.mgr.suspend(&id, None).unwrap().state, State::Suspended);
    // Cleanup leaves suspended sessions unless asked for them.
    let report = f
        .mgr
        .cleanup(&CleanupOptions {
            older_than: Duration::ZERO,
            ..Default::default()
        })
        .unwrap();
    let removed: Vec<&str> = report
        .sessions
        .iter()
        .map(|s| s.session_id.as_str())
        .collect();
    assert_eq!(removed, vec![custom.as_str()]);
    assert!(f.mgr.get(&id).is_ok());
    let report = f
        .mgr
        .cleanup(&CleanupOptions {
            older_than: Duration::ZERO,
            states: vec![State::Suspended],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(report.sessions.len(), 1);
    assert!(matches!(f.mgr.get(&id), Err(Error::SessionNotFound(_))));
    assert!(!f.home.join(&id).exists());
}
