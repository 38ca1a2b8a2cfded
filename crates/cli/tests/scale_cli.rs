//! Many sessions at once and big floods, through the real CLI: `stop --all` and `stop ID...`
//! (parallel stops), `ls --json` (one read of the store, states checked against the hosts),
//! and output arriving byte-exact in output.log, also across rotations.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Kills (SIGKILL) every process it was told about that is still alive when dropped: the
/// last line of cleanup after `Env`'s own `stop` of everything, also when a test fails.
/// Declared before the `Env` so that it drops after it.
#[derive(Default)]
struct Pids(Vec<i64>);

impl Pids {
    fn track(&mut self, rec: &Value) {
        for key in ["host_pid", "agent_pid"] {
            if let Some(p) = rec[key].as_i64() {
                self.0.push(p);
            }
        }
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        for &p in &self.0 {
            if pid_alive(p) {
                kill9(p);
            }
        }
    }
}

fn list(env: &Env, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["ls", "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str::<Value>(&env.ok(&args))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn by_id(recs: &[Value]) -> BTreeMap<String, Value> {
    recs.iter()
        .map(|r| (r["session_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// A zombie (exited, not yet reaped by its parent) counts as gone.
/// Has the process exited and let go of its files? A killed process's main thread can read
/// as a zombie while its other threads are still exiting, and the last of them to exit
/// closes the files (and so releases the host's lock); a thread is gone from `task` only
/// after it did its part.
fn gone(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => {
            let zombie = s
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|state| state == "Z" || state == "X");
            zombie
                && std::fs::read_dir(format!("/proc/{pid}/task")).map_or(true, |d| d.count() <= 1)
        }
    }
}

fn start_sleeps(env: &Env, pids: &mut Pids, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n)
        .map(|_| {
            env.ok(&["start", "custom", "--", "sleep", "1000"])
                .trim()
                .to_string()
        })
        .collect();
    for r in list(env, &[]) {
        pids.track(&r);
    }
    ids
}

#[test]
fn stop_all_ends_every_session_stopped_with_its_history() {
    let mut pids = Pids::default();
    let env = Env::new();
    let ids = start_sleeps(&env, &mut pids, 20);
    let out = env.ok(&["stop", "--all"]);
    let lines: BTreeMap<&str, &str> = out
        .lines()
        .map(|l| l.split_once(' ').expect("ID STATE"))
        .collect();
    assert_eq!(lines.len(), 20, "one line per session: {out}");
    let recs = by_id(&list(&env, &[]));
    for id in &ids {
        assert_eq!(lines[id.as_str()], "stopped", "{out}");
        let rec = &recs[id];
        assert_eq!(rec["state"], "stopped", "{rec}");
        let states = states_of(rec);
        assert_eq!(
            states[states.len() - 2..],
            ["stopping", "stopped"],
            "{id}: {states:?}"
        );
        assert!(rec["ended_at"].is_string(), "{rec}");
        // The user's request is in the session's events, as with a single `stop`.
        let events = env.ok(&["events", id, "--json"]);
        assert!(events.contains("\"stop\""), "{id}: {events}");
    }
    // Nothing left running: every host and agent exits.
    assert!(
        poll(|| pids.0.iter().all(|&p| gone(p))),
        "processes left: {:?}",
        pids.0.iter().filter(|&&p| !gone(p)).collect::<Vec<_>>()
    );
    // Nothing live: nothing to do, and that is no error.
    assert_eq!(env.ok(&["stop", "--all"]), "");
}

#[test]
fn stop_of_several_ids_stops_each_and_names_what_it_could_not() {
    let mut pids = Pids::default();
    let env = Env::new();
    let ids = start_sleeps(&env, &mut pids, 3);
    env.ok(&["stop", &ids[2]]);
    let missing = "agent-20000101-000000-00000000";
    let out = env.run(&["stop", "--json", &ids[0], missing, &ids[1], &ids[2]]);
    // The first failure's exit status (3: no such session), and the others still stopped.
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(missing), "{stderr}");
    let recs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["session_id"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    // In the order given; the one already stopped is reported as it is.
    assert_eq!(
        states,
        [
            (ids[0].as_str(), "stopped"),
            (ids[1].as_str(), "stopped"),
            (ids[2].as_str(), "stopped")
        ]
    );
    // Ids and --all do not mix; neither given is an error too.
    env.fails(&["stop", "--all", &ids[0]], 2);
    env.fails(&["stop"], 2);
}

#[test]
fn ls_reports_real_states_for_live_stopped_and_killed_hosts() {
    let mut pids = Pids::default();
    let env = Env::new();
    let ids = start_sleeps(&env, &mut pids, 4);
    let (live, stopped, killed) = (&ids[0], &ids[1], &ids[2]);
    env.ok(&["stop", stopped]);
    let host = env.record(killed)["host_pid"].as_i64().unwrap();
    kill9(host);
    assert!(poll(|| gone(host)));

    let recs = by_id(&list(&env, &[]));
    assert_eq!(recs.len(), 4);
    let live_rec = &recs[live];
    assert!(
        ["running", "waiting_input"].contains(&live_rec["state"].as_str().unwrap()),
        "{live_rec}"
    );
    // Each record carries its history and telemetry, as `show --json` does.
    assert_eq!(states_of(live_rec)[..2], ["starting", "running"]);
    assert!(live_rec["telemetry"].is_object(), "{live_rec}");
    assert!(live_rec["telemetry"]["duration_ms"].is_i64(), "{live_rec}");
    assert_eq!(recs[stopped]["state"], "stopped");
    assert_eq!(recs[stopped]["resumable"], false);
    assert_eq!(recs[killed]["state"], "unknown", "{}", recs[killed]);
    assert_eq!(recs[killed]["state_reason"], "host vanished");
    // The correction was stored: `show` agrees, and it is in the history.
    assert_eq!(env.state(killed), "unknown");
    assert_eq!(states_of(&env.record(killed)).last().unwrap(), "unknown");

    // A state filter sees the checked states.
    let unknown = list(&env, &["--state", "unknown"]);
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["session_id"], killed.as_str());
    // The table shows the same states.
    let table = env.ok(&["ls"]);
    for (id, rec) in &recs {
        let line = table.lines().find(|l| l.starts_with(id.as_str())).unwrap();
        assert!(
            line.contains(&format!(" {} ", rec["state"].as_str().unwrap())),
            "{line}"
        );
    }
}

/// `n` bytes of lines of varied length, so reads and batches end anywhere in them.
fn flood_text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 200);
    let mut i = 0u64;
    while out.len() < n {
        i += 1;
        let len = (i * 7919 % 173) as usize;
        out.extend(format!("{i:08} ").bytes());
        out.extend((0..len).map(|k| b'a' + ((i as usize + k) % 26) as u8));
        out.push(b'\n');
    }
    out
}

/// What the terminal makes of it: the PTY's output processing turns `\n` into `\r\n`.
fn as_terminal(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for &b in text {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn flood(env: &Env, pids: &mut Pids, dir: &Path, max_log: &str, bytes: usize) -> (String, Vec<u8>) {
    let text = flood_text(bytes);
    let file = dir.join("flood.txt");
    std::fs::write(&file, &text).unwrap();
    let id = env
        .ok(&[
            "start",
            "custom",
            "--max-log-size",
            max_log,
            "--",
            "cat",
            file.to_str().unwrap(),
        ])
        .trim()
        .to_string();
    pids.track(&env.record(&id));
    env.ok(&["wait", &id, "--state", "stopped", "--timeout", "120"]);
    (id, as_terminal(&text))
}

#[test]
fn a_flood_reaches_output_log_byte_exact() {
    let mut pids = Pids::default();
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let (id, want) = flood(&env, &mut pids, dir.path(), "1G", 24 << 20);
    let log = std::fs::read(env.home().join(&id).join("output.log")).unwrap();
    assert_eq!(log.len(), want.len());
    assert!(log == want, "output.log differs from what the agent wrote");
    let rec = env.record(&id);
    assert_eq!(rec["output_bytes_lost"], 0);
    // `logs` reads the same bytes.
    let out = env.command().args(["logs", &id]).output().unwrap();
    assert!(out.stdout == want);
}

#[test]
fn a_flood_across_rotations_keeps_the_latest_bytes_in_order() {
    let mut pids = Pids::default();
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let (id, want) = flood(&env, &mut pids, dir.path(), "1M", 8 << 20);
    let sdir = env.home().join(&id);
    let current = std::fs::read(sdir.join("output.log")).unwrap();
    let older = std::fs::read(sdir.join("output.log.1")).unwrap();
    let base: usize = std::fs::read_to_string(sdir.join("output.log.base"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // output.log starts at `base`, right after output.log.1, and ends with the last byte.
    assert_eq!(base + current.len(), want.len());
    assert!(current[..] == want[base..], "output.log is not the tail");
    assert!(
        older[..] == want[base - older.len()..base],
        "output.log.1 is not what came right before output.log"
    );
    // About the cap on disk, never more than it plus one batch.
    assert!(older.len() + current.len() <= (1 << 20) + (64 << 10));
}
