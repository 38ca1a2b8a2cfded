//! A sessions home on a full disk: a small tmpfs (root only; skipped otherwise), filled up
//! while an agent prints ~10 MB.
//!
//! The host must keep draining the terminal (else the agent blocks forever), count what the
//! log could not keep, record the agent's ending once the store can be written again, log
//! again once space returns, and reads (`show`, `ls`) must work while the disk is full, with
//! a live host and without one. Afterwards the store is intact.

mod common;
use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Generous: a 10 MB flood through a PTY on a small, busy machine, plus the host's backoff
/// (at most 5 s between tries) once space returns.
const LONG: Duration = Duration::from_secs(120);

fn poll_long(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < LONG {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// The test's home mounted as a 3 MB tmpfs, with everything the test started; Drop frees
/// the space, stops the sessions, kills what is left and unmounts.
struct FullDisk {
    env: Env,
    /// Outside the tmpfs: the agents' go-files and signals.
    side: tempfile::TempDir,
    pids: Vec<i64>,
}

impl FullDisk {
    /// `None` (after saying why) when the tmpfs cannot be mounted.
    fn mount() -> Option<FullDisk> {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let env = Env::new();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs"])
            .arg(env.home())
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!(
                    "skipped: mount -t tmpfs failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                return None;
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                return None;
            }
        }
        Some(FullDisk {
            env,
            side: tempfile::tempdir().unwrap(),
            pids: Vec::new(),
        })
    }

    fn side(&self, name: &str) -> PathBuf {
        self.side.path().join(name)
    }

    /// Fills the tmpfs up with `name` until the kernel refuses more.
    fn fill(&self, name: &str) {
        let mut f = std::fs::File::create(self.env.home().join(name)).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        // What a page-sized write left: down to single bytes.
        while f.write_all(&[0]).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self, name: &str) {
        let _ = std::fs::remove_file(self.env.home().join(name));
    }

    fn track(&mut self, rec: &Value) {
        for k in ["host_pid", "agent_pid"] {
            if let Some(p) = rec[k].as_i64() {
                self.pids.push(p);
            }
        }
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        for f in ["filler", "filler2", "filler3"] {
            self.free(f);
        }
        self.env.stop_all();
        for &p in &self.pids {
            if pid_alive(p) {
                kill9(p);
            }
        }
        let home = self.env.home().to_path_buf();
        let unmounted = Command::new("umount")
            .arg(&home)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Something still has a file open there: detach it now, freed when closed.
            let _ = Command::new("umount").arg("-l").arg(&home).status();
        }
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn wait_file(path: &Path, what: &str) {
    assert!(
        poll_long(|| path.exists()),
        "{what}: {} never appeared",
        path.display()
    );
}

#[test]
fn a_full_disk_loses_output_but_never_the_session() {
    let Some(mut disk) = FullDisk::mount() else {
        return;
    };
    let (go1, printed, go2) = (disk.side("go1"), disk.side("printed"), disk.side("go2"));
    // Prints ~10 MB (7.5 MB of random bytes in base64) once told to, then after a second
    // signal one line, and exits 0.
    let script = format!(
        "while [ ! -e '{g1}' ]; do sleep 0.05; done; \
         head -c 7500000 /dev/urandom | base64; touch '{p}'; \
         while [ ! -e '{g2}' ]; do sleep 0.05; done; echo AFTER-SPACE-CAME-BACK; exit 0",
        g1 = go1.display(),
        p = printed.display(),
        g2 = go2.display()
    );
    let id = disk
        .env
        .ok(&["start", "custom", "--", "sh", "-c", &script])
        .trim()
        .to_string();
    let rec = disk.env.record(&id);
    disk.track(&rec);
    let agent_pid = rec["agent_pid"].as_i64().unwrap();

    disk.fill("filler");
    std::fs::write(&go1, b"").unwrap();
    // The whole flood went through the terminal: the host kept draining it although not a
    // byte of it could be logged.
    wait_file(&printed, "the agent never got its output out");

    // Reads work while the disk is full, and tell the truth: the agent still runs.
    let rec = json(&disk.env.ok(&["show", &id, "--json"]));
    assert!(
        ["running", "waiting_input"].contains(&rec["state"].as_str().unwrap()),
        "{rec}"
    );
    let list = json(&disk.env.ok(&["ls", "--json"]));
    assert_eq!(list[0]["session_id"], id.as_str(), "{list}");
    assert!(pid_alive(agent_pid));

    // Space comes back: the same session logs again, and its ending is recorded.
    disk.free("filler");
    std::fs::write(&go2, b"").unwrap();
    let mut rec = Value::Null;
    let ended = poll_long(|| {
        rec = json(&disk.env.ok(&["show", &id, "--json"]));
        rec["state"] == "stopped"
    });
    assert!(ended, "the ending was never recorded: {rec}");
    assert_eq!(rec["exit_code"], 0, "{rec}");
    let lost = rec["output_bytes_lost"].as_u64().unwrap();
    assert!(lost > 5_000_000, "lost {lost} bytes of ~10 MB: {rec}");
    let log = disk.env.ok(&["logs", &id]);
    assert!(log.contains("AFTER-SPACE-CAME-BACK"), "{log:?}");
    // The log holds exactly what was kept: its offsets count kept bytes only.
    let log_len = std::fs::metadata(disk.env.home().join(&id).join("output.log"))
        .unwrap()
        .len();
    assert_eq!(log.len() as u64, log_len);
    let events: Vec<Value> = disk
        .env
        .ok(&["events", &id, "--json"])
        .lines()
        .map(json)
        .collect();
    let gaps: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "output_lost")
        .collect();
    assert!(!gaps.is_empty(), "{events:?}");
    let in_gaps: u64 = gaps
        .iter()
        .map(|e| e["data"]["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(in_gaps, lost, "{gaps:?}");
    assert!(
        gaps.iter()
            .all(|e| e["data"]["offset"].as_u64().unwrap() <= log_len),
        "{gaps:?}"
    );

    // Full again with no host running (so no connection keeps SQLite's shared memory):
    // reads still work.
    let host_pid = rec["host_pid"].as_i64().unwrap();
    assert!(poll_long(|| !pid_alive(host_pid)), "the host never exited");
    disk.fill("filler2");
    let rec = json(&disk.env.ok(&["show", &id, "--json"]));
    assert_eq!(rec["state"], "stopped", "{rec}");
    let list = json(&disk.env.ok(&["ls", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let err = disk.env.fails(&["start", "custom", "--", "true"], 1);
    assert!(err.contains("disk") && err.contains("full"), "{err}");
    disk.free("filler2");

    // A host killed outright, then the disk fills: the liveness check cannot store its
    // correction, and the read still says what is true.
    let id3 = disk
        .env
        .ok(&["start", "custom", "--", "cat"])
        .trim()
        .to_string();
    let rec3 = disk.env.record(&id3);
    disk.track(&rec3);
    let (host3, agent3) = (
        rec3["host_pid"].as_i64().unwrap(),
        rec3["agent_pid"].as_i64().unwrap(),
    );
    kill9(host3);
    kill9(agent3);
    assert!(poll_long(|| !pid_alive(host3) && !pid_alive(agent3)));
    disk.fill("filler3");
    let rec3 = json(&disk.env.ok(&["show", &id3, "--json"]));
    assert_eq!(rec3["state"], "unknown", "{rec3}");
    assert_eq!(rec3["state_reason"], "host vanished", "{rec3}");
    disk.free("filler3");

    // A new session logs normally, and the store is intact.
    let id2 = disk
        .env
        .ok(&[
            "start",
            "custom",
            "--",
            "sh",
            "-c",
            "echo SECOND-SESSION; exit 0",
        ])
        .trim()
        .to_string();
    disk.track(&disk.env.record(&id2));
    disk.env.wait_state(&id2, "stopped");
    let log = disk.env.ok(&["logs", &id2]);
    assert!(log.contains("SECOND-SESSION"), "{log:?}");
    let rec2 = disk.env.record(&id2);
    assert_eq!(rec2["output_bytes_lost"], 0, "{rec2}");
    let db = rusqlite::Connection::open(disk.env.home().join("agent-sessions.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
