//! Crash test: rounds of real sessions with CLI readers and writers running at once, and a
//! kill -9 of a session host or of a writer at a random moment. After every round the store
//! must pass SQLite's integrity check and every session must read an honest state: a session
//! whose host is dead reads `unknown` (or an ending it had recorded), never `running` or
//! `waiting_input`; sessions nobody touched still run.
//!
//! The rounds are random; the seed is printed and `CRASH_SEED=N` repeats a run.
//! `CRASH_ROUNDS=N` changes the number of rounds (default 30, cut short after ~50 s).

mod common;
use common::*;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Writers that must end by themselves get this long (the machine is small and busy).
const WRITER_DEADLINE: Duration = Duration::from_secs(30);
/// No new round starts after this; the rounds under way finish.
const TIME_BUDGET: Duration = Duration::from_secs(50);

const LOOP: &str = "while :; do echo x; sleep 0.05; done";

/// States in which a session claims a live host.
const LIVE: &[&str] = &["starting", "running", "waiting_input", "paused", "stopping"];
/// States a session may show after its host was killed.
const ENDED: &[&str] = &["unknown", "stopped", "failed", "suspended"];

// ---- processes ----------------------------------------------------------------------------

/// A process by pid and start time (clock ticks after boot), so a pid the kernel has given
/// to another process since is never signalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Proc {
    pid: i32,
    start: u64,
}

/// (state letter, start time) from /proc/<pid>/stat.
fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

impl Proc {
    fn of(pid: i64) -> Option<Proc> {
        let pid = i32::try_from(pid).ok().filter(|&p| p > 0)?;
        proc_stat(pid).map(|(_, start)| Proc { pid, start })
    }

    fn is_same(&self) -> bool {
        proc_stat(self.pid).is_some_and(|(_, s)| s == self.start)
    }

    /// Still running: the same process, and not yet a zombie that has let go of its files.
    /// A killed process's main thread can read as a zombie while its other threads are
    /// still exiting; the last of them closes the files (and so releases the host's lock),
    /// and a thread leaves `task` only after it did its part.
    fn alive(&self) -> bool {
        proc_stat(self.pid).is_some_and(|(st, s)| {
            s == self.start
                && (!matches!(st, 'Z' | 'X')
                    || std::fs::read_dir(format!("/proc/{}/task", self.pid))
                        .is_ok_and(|d| d.count() > 1))
        })
    }

    fn kill9(&self) {
        if self.is_same() {
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }
}

/// A CLI process running in the background, its output in files (a pipe nobody reads could
/// block it).
struct Writer {
    what: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
    killed: bool,
    status: Option<ExitStatus>,
}

impl Writer {
    fn poll(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("polling a writer");
        }
        self.status.is_some()
    }

    fn kill9(&mut self) {
        if !self.poll() {
            let _ = self.child.kill();
            self.killed = true;
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

/// Everything the test started; killed on drop, also when an assertion fails.
struct Guard {
    env: Env,
    /// Hosts and agents seen, killed at the end if still the same processes.
    procs: BTreeSet<Proc>,
    writers: Vec<Writer>,
    /// Processes started before this test are never ours.
    test_start: u64,
    dir: tempfile::TempDir,
    seq: usize,
}

impl Guard {
    fn new() -> Guard {
        let me = proc_stat(std::process::id() as i32).expect("own /proc entry");
        Guard {
            env: Env::new(),
            procs: BTreeSet::new(),
            writers: Vec::new(),
            test_start: me.1,
            dir: tempfile::Builder::new()
                .prefix("as-crash")
                .tempdir()
                .unwrap(),
            seq: 0,
        }
    }

    /// Remembers a host or agent pid from a record.
    fn track(&mut self, pid: &Value) -> Option<Proc> {
        let p = Proc::of(pid.as_i64()?)?;
        if p.start < self.test_start {
            return None;
        }
        self.procs.insert(p);
        Some(p)
    }

    fn spawn(&mut self, what: String, args: &[String]) -> usize {
        self.seq += 1;
        let out = self.dir.path().join(format!("{}.out", self.seq));
        let err = self.dir.path().join(format!("{}.err", self.seq));
        let child = self
            .env
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .expect("running agent-sessions");
        self.writers.push(Writer {
            what,
            child,
            out,
            err,
            killed: false,
            status: None,
        });
        self.writers.len() - 1
    }

    fn list(&mut self) -> Vec<Value> {
        let v: Value = serde_json::from_str(&self.env.ok(&["ls", "--json"])).unwrap();
        let list = v.as_array().unwrap().clone();
        for r in &list {
            self.track(&r["host_pid"]);
            self.track(&r["agent_pid"]);
        }
        list
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for w in &mut self.writers {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        for p in &self.procs {
            p.kill9();
        }
        // Then `env` drops: `stop --force` for anything left, and the home goes.
    }
}

// ---- sessions -----------------------------------------------------------------------------

#[derive(Debug)]
struct Session {
    id: String,
    bash: bool,
    host: Proc,
    agent: Option<Proc>,
}

fn start_args(bash: bool) -> Vec<String> {
    let mut a: Vec<String> = ["start", "custom", "--"].map(String::from).to_vec();
    if bash {
        a.extend(["bash", "--norc", "--noprofile"].map(String::from));
    } else {
        a.extend(["sh", "-c", LOOP].map(String::from));
    }
    a
}

/// Starts a session and waits until its record names its host.
fn start(g: &mut Guard, bash: bool) -> Session {
    let args = start_args(bash);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = g.env.ok(&args).trim().to_string();
    let mut rec = Value::Null;
    let found = poll(|| {
        rec = g.env.record(&id);
        rec["host_pid"].is_i64() && rec["agent_pid"].is_i64()
    });
    assert!(found, "{id} never recorded its pids: {rec}");
    let host = g.track(&rec["host_pid"]).expect("the host runs");
    let agent = g.track(&rec["agent_pid"]);
    Session {
        id,
        bash,
        host,
        agent,
    }
}

/// A random reader or writer against one of `sessions`.
fn spawn_writer(g: &mut Guard, rng: &mut StdRng, sessions: &[Session], kinds: u32) -> usize {
    let s = sessions.choose(rng).unwrap();
    let id = s.id.clone();
    let args: Vec<String> = match rng.random_range(0..kinds) {
        // The writers first: `kinds` 4 draws only these.
        0 => vec!["send".into(), id, "echo hi".into()],
        1 => vec!["pause".into(), id],
        2 => vec!["continue".into(), id],
        3 => start_args(false),
        4 => vec!["ls".into(), "--json".into()],
        5 => vec!["show".into(), id, "--json".into()],
        6 => vec!["events".into(), id, "--follow".into(), "--json".into()],
        // Ctrl-C would end the loop agent: only bash shrugs it off.
        7 if s.bash => vec!["interrupt".into(), id],
        7 => vec!["state".into(), id],
        8 => vec![
            "wait".into(),
            id,
            "--state".into(),
            "waiting_input".into(),
            "--timeout".into(),
            "1".into(),
        ],
        _ => vec!["send".into(), id, "echo hi".into()],
    };
    g.spawn(args.join(" "), &args)
}

/// The first word of a writer's command line.
fn kind(w: &Writer) -> &str {
    w.what.split(' ').next().unwrap_or("")
}

fn bump(tally: &mut BTreeMap<String, usize>, what: impl Into<String>) {
    *tally.entry(what.into()).or_default() += 1;
}

fn by_id(list: &[Value]) -> BTreeMap<String, Value> {
    list.iter()
        .map(|r| (r["session_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn check_store(g: &Guard, ctx: &str) {
    let db = g.env.home().join("agent-sessions.db");
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(30)).unwrap();
    let rows: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, ["ok"], "{ctx}: integrity_check");
    let orphans: Vec<String> = c
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(orphans.is_empty(), "{ctx}: foreign_key_check {orphans:?}");
}

/// Every listed session: a live state only with a live host.
fn check_honest(g: &mut Guard, ctx: &str) -> Vec<Value> {
    let list = g.list();
    for r in &list {
        let state = r["state"].as_str().unwrap();
        if !LIVE.contains(&state) {
            continue;
        }
        let host = Proc::of(r["host_pid"].as_i64().unwrap_or(0));
        assert!(
            host.is_some_and(|h| h.alive()),
            "{ctx}: {} reads {state} but its host is gone: {r}",
            r["session_id"]
        );
    }
    list
}

/// Waits until every writer but the followers has ended by itself.
fn wait_writers(g: &mut Guard, first: usize, ctx: &str) {
    // (A follower ends with its session, or when the round ends.)
    let deadline = Instant::now() + WRITER_DEADLINE;
    loop {
        let pending: Vec<usize> = (first..g.writers.len())
            .filter(|&i| !g.writers[i].poll() && !g.writers[i].what.starts_with("events"))
            .collect();
        if pending.is_empty() {
            break;
        }
        let hung: Vec<&str> = pending
            .iter()
            .map(|&i| g.writers[i].what.as_str())
            .collect();
        assert!(Instant::now() < deadline, "{ctx}: writers hang: {hung:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The writers' verdicts: no panic, only documented exit codes; a start that finished
/// printed the id of a session that runs.
fn check_writers(
    g: &mut Guard,
    first: usize,
    list: &BTreeMap<String, Value>,
    tally: &mut BTreeMap<String, usize>,
    ctx: &str,
) {
    for w in &mut g.writers[first..] {
        w.kill9(); // followers still running
        let _ = w.child.wait();
        let err = w.stderr();
        assert!(
            !err.contains("panicked"),
            "{ctx}: `{}` panicked: {err}",
            w.what
        );
        if let Some(code) = w.status.and_then(|s| s.code()) {
            assert!(
                (0..=6).contains(&code),
                "{ctx}: `{}` exited {code}: {err}",
                w.what
            );
        }
        if w.killed {
            continue;
        }
        let ok = w.status.is_some_and(|s| s.success());
        bump(tally, if ok { "writer ok" } else { "writer refused" });
        // A start that finished printed its id: that session must run like the others.
        if w.what.starts_with("start") && w.status.is_some_and(|s| s.success()) {
            let id = std::fs::read_to_string(&w.out).unwrap().trim().to_string();
            let state = list
                .get(&id)
                .map(|r| r["state"].as_str().unwrap().to_string());
            assert!(
                state.as_deref().is_some_and(|s| LIVE.contains(&s)),
                "{ctx}: started {id} reads {state:?}"
            );
        }
    }
}

/// Stops what runs and clears what a dead host left behind; then nothing may read live.
fn end_round(g: &mut Guard, sessions: &[Session], list: &BTreeMap<String, Value>, ctx: &str) {
    for (id, r) in list {
        if LIVE.contains(&r["state"].as_str().unwrap()) {
            let out = g.env.run(&["stop", id, "--force", "--timeout", "10"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{ctx}: stop {id}: {err}");
        }
    }
    for s in sessions {
        if let Some(a) = s.agent {
            a.kill9();
        }
    }
    let ended = poll(|| {
        g.list()
            .iter()
            .all(|r| ENDED.contains(&r["state"].as_str().unwrap()))
    });
    assert!(
        ended,
        "{ctx}: sessions still live after stop: {:?}",
        g.list()
    );
    check_honest(g, ctx);
}

#[test]
fn kill_9_at_random_moments_leaves_an_intact_store_and_honest_states() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let rounds: usize = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    eprintln!("crash test seed {seed} (CRASH_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut g = Guard::new();
    let began = Instant::now();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0;
    for round in 0..rounds {
        if began.elapsed() > TIME_BUDGET && round >= 5 {
            break;
        }
        let ctx = format!("seed {seed} round {round}");
        let sessions: Vec<Session> = (0..3)
            .map(|_| start(&mut g, rng.random_bool(0.5)))
            .collect();
        let first_writer = g.writers.len();
        for _ in 0..rng.random_range(3..9) {
            spawn_writer(&mut g, &mut rng, &sessions, 10);
        }
        // Half the rounds, one writer is killed within its first milliseconds, most likely
        // inside its own transaction (a start: between its record and its host's launch).
        if rng.random_bool(0.5) {
            let w = spawn_writer(&mut g, &mut rng, &sessions, 4);
            std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
            g.writers[w].kill9();
            if g.writers[w].killed {
                bump(&mut tally, format!("early kill: {}", kind(&g.writers[w])));
            }
        }
        // The moment: somewhere while the writers run (not for correctness).
        std::thread::sleep(Duration::from_millis(rng.random_range(0..250)));
        let mut killed_host: Option<usize> = None;
        let running: Vec<usize> = (first_writer..g.writers.len())
            .filter(|&i| !g.writers[i].poll())
            .collect();
        if running.is_empty() || rng.random_bool(0.6) {
            let i = rng.random_range(0..sessions.len());
            sessions[i].host.kill9();
            killed_host = Some(i);
            bump(&mut tally, "host killed");
        } else {
            let w = *running.choose(&mut rng).unwrap();
            g.writers[w].kill9();
            bump(&mut tally, format!("killed: {}", kind(&g.writers[w])));
        }

        wait_writers(&mut g, first_writer, &ctx);

        // The killed host: once it is gone, its session reads an ending at once.
        if let Some(i) = killed_host {
            let s = &sessions[i];
            assert!(
                poll(|| !s.host.alive()),
                "{ctx}: host of {} survives kill -9",
                s.id
            );
            let state = g.env.state(&s.id);
            assert!(
                ENDED.contains(&state.as_str()),
                "{ctx}: {} with a dead host reads {state}",
                s.id
            );
            let rec = g.env.record(&s.id);
            assert_eq!(rec["state"].as_str(), Some(state.as_str()), "{ctx}: {rec}");
            bump(
                &mut tally,
                if state == "unknown" {
                    "read unknown"
                } else {
                    "read own ending"
                },
            );
        }
        check_store(&g, &ctx);
        let list = by_id(&check_honest(&mut g, &ctx));
        for (i, s) in sessions.iter().enumerate() {
            if Some(i) == killed_host {
                continue;
            }
            let state = list[&s.id]["state"].as_str().unwrap().to_string();
            assert!(
                s.host.alive() && ["running", "waiting_input", "paused"].contains(&state.as_str()),
                "{ctx}: untouched {} ({}) reads {state}, host alive {}",
                s.id,
                if s.bash { "bash" } else { "loop" },
                s.host.alive()
            );
        }

        check_writers(&mut g, first_writer, &list, &mut tally, &ctx);

        end_round(&mut g, &sessions, &list, &ctx);
        done += 1;
    }
    check_store(&g, &format!("seed {seed} at the end"));
    eprintln!("{done} rounds in {:?}: {tally:?}", began.elapsed());
    assert!(done >= 5, "only {done} rounds ran");
}
