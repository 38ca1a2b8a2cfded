//! Regression tests of faults found when the product was tried: a failed launch must keep its
//! reason however many readers look at once (the session lock stays held until `failed` is
//! recorded), and `rm` racing a `resume` must never leave a row without its folder or a
//! running session without its files.

mod common;

use agent_sessions::{Error, ErrorKind, ResumeOptions, SessionManager, StartOptions, State};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// A "host binary" that takes a moment and then fails, as a broken install would: the window
/// in which the old code had dropped the session lock before recording `failed`.
fn failing_host(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("broken-host");
    std::fs::write(&p, "#!/bin/sh\nsleep 0.05\nexit 3\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_failed_launch_keeps_its_reason_while_readers_poll() {
    let home = tempfile::tempdir().unwrap();
    let mgr = Arc::new(common::open_manager(home.path()));
    mgr.set_host_binary(failing_host(home.path()));
    let stop = Arc::new(AtomicBool::new(false));
    // Readers run the liveness check on every session they list, as `ls` and `wait` do.
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (mgr, stop) = (mgr.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = mgr.list(&Default::default());
                }
            })
        })
        .collect();
    let mut ids = Vec::new();
    for _ in 0..15 {
        let e = mgr
            .start(&StartOptions {
                agent: "custom".into(),
                args: vec!["cat".into()],
                cwd: Some(home.path().to_path_buf()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Launch, "{e}");
        let failed = mgr
            .list(&Default::default())
            .unwrap()
            .into_iter()
            .find(|r| !ids.contains(&r.session_id))
            .expect("the failed attempt stays visible");
        ids.push(failed.session_id.clone());
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    for id in &ids {
        let rec = mgr.get(id).unwrap();
        assert_eq!(rec.state, State::Failed, "{id}: {:?}", rec.transitions);
        let reason = rec.state_reason.unwrap_or_default();
        assert!(reason.contains("host exited"), "{id}: reason {reason:?}");
        assert!(
            rec.transitions.iter().all(|t| t.to != State::Unknown),
            "{id} was taken for abandoned: {:?}",
            rec.transitions
        );
    }
}

/// A user type that fixes its conversation id at start and resumes with `--resume <id>`;
/// `cat` ignores both (they land in `$0`'s arguments of `sh -c`).
fn resumable_home(home: &Path) -> SessionManager {
    std::fs::write(
        home.join("agents.toml"),
        "[agents.cat]\ncommand = [\"sh\", \"-c\", \"exec cat\", \"sh\"]\nresume = [\"--resume\", \"{id}\"]\nsession_id_args = [\"--session-id\", \"{id}\"]\n",
    )
    .unwrap();
    common::open_manager(home)
}

#[test]
fn remove_racing_resume_never_loses_a_folder_or_keeps_a_bare_row() {
    let home = tempfile::tempdir().unwrap();
    let mgr = Arc::new(resumable_home(home.path()));
    for round in 0..8 {
        let id = mgr
            .start(&StartOptions {
                agent: "cat".into(),
                cwd: Some(home.path().to_path_buf()),
                ..Default::default()
            })
            .unwrap()
            .session_id;
        let rec = mgr.suspend(&id, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(rec.state, State::Suspended, "round {round}");
        let (a, b) = (mgr.clone(), mgr.clone());
        let (ra, rb) = (id.clone(), id.clone());
        let remover = std::thread::spawn(move || a.remove(&ra));
        let resumer = std::thread::spawn(move || b.resume(&rb, &ResumeOptions::default()));
        let removed = remover.join().unwrap();
        let resumed = resumer.join().unwrap();
        let dir = mgr.home().session_dir(&id).unwrap();
        match (&removed, &resumed) {
            (Ok(()), Err(_)) => {
                assert!(matches!(mgr.get(&id), Err(Error::SessionNotFound(_))));
                assert!(
                    !dir.exists(),
                    "round {round}: removed, but its folder is still there"
                );
            }
            (Err(e), Ok(rec)) => {
                assert_eq!(e.kind(), ErrorKind::SessionActive, "round {round}: {e}");
                assert!(rec.state.is_live(), "round {round}: {:?}", rec.state);
                assert!(
                    dir.join("output.log").exists(),
                    "round {round}: folder lost"
                );
                mgr.stop(&id, Some(Duration::from_secs(5)), true).unwrap();
                mgr.wait_for(&id, State::Stopped, Some(DEADLINE)).unwrap();
            }
            other => panic!("round {round}: remove and resume both {other:?}"),
        }
    }
}
