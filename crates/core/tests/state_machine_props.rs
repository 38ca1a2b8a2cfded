//! Property tests of the state machine against a real store in a temp home: random
//! interleavings of the writers that change a hosted session's state (its host, the user, the
//! starter, the liveness check), first as one random sequence with each writer on its own
//! connection, then on real threads. After every step and at the end:
//!
//! (a) every history row (`Store::transitions`, `SessionRecord.transitions`, the `state`
//!     events) is a move the table allows, and each starts where the one before ended;
//! (b) the session's state is where its last history row ended;
//! (c) an ending is never lost: only a resume leaves an ended state;
//! (d) a refused change writes nothing; every committed move is in the history exactly once.
//!
//! The lock side (readers never call a session with a lock holder `unknown`) is in
//! state_machine_liveness.rs.

mod sm_common;

use agent_sessions::services::state_machine::{self, Change, Outcome};
use agent_sessions::state::{is_legal, Source, State};
use agent_sessions::store::{int, text, Column, NewSession, Store, Updates};
use agent_sessions::SessionKind;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};
use sm_common::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

/// Enough cases to reach the odd corners, few enough that the file runs in seconds.
/// `PROPTEST_CASES=N` runs N cases per property instead, for a longer hunt.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    }
}

/// One writer's request, before it becomes a [`Change`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// The host's detection: the agent waits, or works again.
    Detect(State, Source),
    /// The agent's SessionEnd hook.
    HookEnding,
    /// The agent process ended.
    ProcessEnd(State),
    /// A stop, pause, continue or input request, compared with a (maybe stale) read or not.
    Request(State, bool),
    /// A resume, compared with a (maybe stale) read of an ended state.
    Resume,
    /// The starter's launch outcome: running, or failed.
    Launched(bool),
    /// The liveness check acting on a (maybe stale) read.
    Liveness,
}

impl Op {
    fn writer(self) -> &'static str {
        match self {
            Op::Detect(..) | Op::HookEnding | Op::ProcessEnd(_) => "host",
            Op::Request(..) | Op::Resume => "user",
            Op::Launched(_) => "starter",
            Op::Liveness => "liveness",
        }
    }
}

fn host_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            select(vec![State::Running, State::WaitingInput]),
            select(vec![Source::Screen, Source::AgentHook, Source::QuietTimer]),
        )
            .prop_map(|(s, src)| Op::Detect(s, src)),
        1 => Just(Op::HookEnding),
        2 => select(vec![State::Stopped, State::Failed, State::Suspended]).prop_map(Op::ProcessEnd),
    ]
}

fn user_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            select(vec![State::Stopping, State::Paused, State::Running]),
            any::<bool>(),
        )
            .prop_map(|(s, cas)| Op::Request(s, cas)),
        2 => Just(Op::Resume),
    ]
}

fn starter_op() -> impl Strategy<Value = Op> {
    any::<bool>().prop_map(Op::Launched)
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => host_op(),
        3 => user_op(),
        1 => starter_op(),
        2 => Just(Op::Liveness),
    ]
}

/// The parts of a [`Change`] an op makes, given what its writer last read.
struct Req {
    to: State,
    source: Source,
    reason: Option<&'static str>,
    only_from: Option<State>,
    updates: Updates,
}

fn request(op: Op, seen: State) -> Req {
    let req = |to, source, only_from| Req {
        to,
        source,
        reason: None,
        only_from,
        updates: Vec::new(),
    };
    match op {
        Op::Detect(to, source) => Req {
            reason: (to == State::WaitingInput).then_some("prompt"),
            ..req(to, source, Some(seen))
        },
        Op::HookEnding => req(State::Stopping, Source::AgentHook, Some(seen)),
        Op::ProcessEnd(to) => Req {
            reason: (to == State::Failed).then_some("exited with status 3"),
            updates: vec![
                (Column::EndedAt, text("2026-01-01T00:00:00Z")),
                (Column::ExitCode, int(3)),
            ],
            ..req(to, Source::Process, Some(seen))
        },
        Op::Request(to, cas) => req(to, Source::User, cas.then_some(seen)),
        Op::Resume => Req {
            updates: vec![(Column::EndedAt, rusqlite::types::Value::Null)],
            ..req(State::Starting, Source::User, Some(seen))
        },
        Op::Launched(true) => Req {
            updates: vec![(Column::HostPid, int(4242)), (Column::AgentPid, int(4343))],
            ..req(State::Running, Source::Process, None)
        },
        Op::Launched(false) => Req {
            reason: Some("could not launch"),
            updates: vec![(Column::EndedAt, text("2026-01-01T00:00:00Z"))],
            ..req(State::Failed, Source::Process, None)
        },
        Op::Liveness => Req {
            reason: Some("host vanished"),
            ..req(State::Unknown, Source::Liveness, Some(seen))
        },
    }
}

/// Commits `req` on `store` and checks the outcome against the state it was committed on:
/// (d) a refused change writes nothing, a move adds one history row and one event, staying
/// adds neither. `in_tx` reads the row inside the committing transaction (any writer may run
/// meanwhile otherwise); else `apply` commits and the reads happen around it on `reader`
/// (only when nobody else writes).
fn commit(
    store: &Store,
    reader: Option<&rusqlite::Connection>,
    id: &str,
    req: &Req,
    cause: &str,
) -> Result<(Outcome, Snapshot), String> {
    let only = req.only_from.map(|s| [s]);
    let mut change = Change::new(id, req.to, req.source, cause)
        .reason(req.reason)
        .updates(req.updates.clone());
    if let Some(only) = &only {
        change = change.only_from(only);
    }
    let (before, outcome, after) = match reader {
        None => store
            .write(|tx| {
                let before = snapshot(tx, id)?;
                let outcome = state_machine::commit_in(tx, &change)?;
                Ok((before, outcome, snapshot(tx, id)?))
            })
            .map_err(|e| e.to_string())
            .map(|(b, o, a)| (b, o.expect("the session exists"), a))?,
        Some(conn) => {
            let before = snapshot(conn, id).map_err(|e| e.to_string())?;
            let outcome = state_machine::apply(store, &change).map_err(|e| e.to_string())?;
            (
                before,
                outcome,
                snapshot(conn, id).map_err(|e| e.to_string())?,
            )
        }
    };
    let s = before.state;
    let want = if req.only_from.is_some_and(|o| o != s) {
        "refused"
    } else if s == req.to {
        "same"
    } else if is_legal(SessionKind::Hosted, Some(s), req.to, req.source) {
        "moved"
    } else {
        "refused"
    };
    let what = format!("{} {s} -> {} ({cause}): {outcome:?}", req.source, req.to);
    match &outcome {
        Outcome::Refused(at) => {
            check(want == "refused", || format!("{what}, expected {want}"))?;
            check(*at == s, || format!("{what}: refused at another state"))?;
            check(before == after, || {
                format!("{what} wrote something:\n{before:?}\n{after:?}")
            })?;
        }
        Outcome::Same => {
            check(want == "same", || format!("{what}, expected {want}"))?;
            check(
                after.state == s
                    && after.transitions == before.transitions
                    && after.state_events == before.state_events,
                || format!("{what} added history"),
            )?;
        }
        Outcome::Moved(c) => {
            check(want == "moved", || format!("{what}, expected {want}"))?;
            check(
                c.from == Some(s) && c.to == req.to && c.source == req.source,
                || format!("{what}: committed another move"),
            )?;
            check(
                after.state == req.to
                    && after.transitions == before.transitions + 1
                    && after.state_events == before.state_events + 1,
                || format!("{what}: not one history row and one event"),
            )?;
        }
    }
    Ok((outcome, after))
}

/// What the writers have seen of one session, and what it must still show.
struct Model {
    /// The state after each step (the stale reads pick from these).
    states: Vec<State>,
    /// What the host last recorded or followed.
    host_seen: State,
    /// The causes of every committed move, in order.
    moved: Vec<String>,
}

fn home_with_sessions(n: usize) -> (tempfile::TempDir, agent_sessions::home::Home) {
    let dir = tempfile::tempdir().unwrap();
    let home = agent_sessions::home::Home::resolve(Some(dir.path())).unwrap();
    let store = Store::open(&home).unwrap();
    for id in &IDS[..n] {
        state_machine::insert(&store, &new_session(id), Source::User, &Vec::new()).unwrap();
    }
    (dir, home)
}

/// One random sequence, each writer on its own connection, checked after every step.
fn run_sequence(steps: &[(usize, Op, usize, bool)]) -> Result<(), String> {
    let (_dir, home) = home_with_sessions(IDS.len());
    let stores: Vec<Store> = (0..4).map(|_| Store::open(&home).unwrap()).collect();
    let reader = reader(&home);
    let mut models: Vec<Model> = IDS
        .iter()
        .map(|_| Model {
            states: vec![State::Starting],
            host_seen: State::Starting,
            moved: vec![INSERT_CAUSE.to_string()],
        })
        .collect();
    for (step, &(which, op, stale, via_apply)) in steps.iter().enumerate() {
        let id = IDS[which];
        let m = &mut models[which];
        let read = m.states[m.states.len() - 1 - stale % m.states.len()];
        let seen = if op.writer() == "host" {
            m.host_seen
        } else {
            read
        };
        let req = request(op, seen);
        let store = &stores[["host", "user", "starter", "liveness"]
            .iter()
            .position(|w| *w == op.writer())
            .unwrap()];
        let cause = format!("{} #{step}", op.writer());
        let others_before = other_snapshots(&reader, which);
        let (outcome, after) = commit(store, via_apply.then_some(&reader), id, &req, &cause)?;
        check(other_snapshots(&reader, which) == others_before, || {
            format!("{cause} on {id} changed another session")
        })?;
        match outcome {
            Outcome::Moved(c) => {
                m.moved.push(cause.clone());
                if op == Op::Resume {
                    // A new host starts with the resumed session.
                    m.host_seen = State::Starting;
                } else if op.writer() == "host" {
                    m.host_seen = c.to;
                }
            }
            // The host follows the store when it is refused, as the real one does.
            Outcome::Refused(s) if op.writer() == "host" => m.host_seen = s,
            _ => {}
        }
        // (c) An ended state stays until a resume.
        let last = *m.states.last().unwrap();
        check(
            !last.is_ended() || after.state == last || op == Op::Resume,
            || format!("{cause}: the ending {last} was lost to {}", after.state),
        )?;
        m.states.push(after.state);
        // The other sessions are unchanged (checked above); this one is checked whole.
        let h = history_via_store(&stores[0], id)?;
        check_history(&h).map_err(|e| format!("after {cause}: {id}: {e}"))?;
        check_ledger(&h, &m.moved)?;
    }
    for (id, m) in IDS.iter().zip(&models) {
        let h = history_via_store(&stores[0], id)?;
        check_history(&h).map_err(|e| format!("at the end: {id}: {e}"))?;
        check_ledger(&h, &m.moved)?;
    }
    Ok(())
}

/// The other sessions' rows, which a change to one session must not touch.
fn other_snapshots(reader: &rusqlite::Connection, which: usize) -> Vec<Snapshot> {
    IDS.iter()
        .enumerate()
        .filter(|(i, _)| *i != which)
        .map(|(_, id)| snapshot(reader, id).unwrap())
        .collect()
}

/// (d) The history holds every committed move exactly once, in commit order, and nothing
/// else.
fn check_ledger(h: &History, moved: &[String]) -> Result<(), String> {
    let causes: Vec<&str> = h.transitions.iter().map(|t| t.cause.as_str()).collect();
    let want: Vec<&str> = moved.iter().map(String::as_str).collect();
    check(causes == want, || {
        format!("history {causes:?} is not the committed moves {want:?}")
    })
}

#[test]
fn random_writers_in_sequence_keep_the_history_honest() {
    let steps = prop::collection::vec((0..IDS.len(), any_op(), 0usize..4, any::<bool>()), 1..48);
    TestRunner::new(config(32))
        .run(&steps, |steps| {
            run_sequence(&steps).map_err(TestCaseError::fail)
        })
        .unwrap();
}

/// Any first state by any source: the insert succeeds exactly when the table allows it, and
/// a refused insert leaves no row behind.
#[test]
fn a_session_starts_only_where_the_table_lets_it() {
    let (_dir, home) = home_with_sessions(0);
    let store = Store::open(&home).unwrap();
    let reader = reader(&home);
    let mut n = 0;
    for kind in [SessionKind::Hosted, SessionKind::Record] {
        for state in State::ALL {
            for source in Source::ALL {
                n += 1;
                let id = format!("start-{n}");
                let new = NewSession {
                    kind,
                    state,
                    ..new_session(&id)
                };
                let done = state_machine::insert(&store, &new, source, &Vec::new());
                let legal = is_legal(kind, None, state, source);
                assert_eq!(
                    done.is_ok(),
                    legal,
                    "{} {state} by {source}: {done:?}",
                    kind.as_str()
                );
                let exists = snapshot(&reader, &id).is_ok();
                assert_eq!(exists, legal, "{} {state} by {source}: row", kind.as_str());
                if legal {
                    let h = history_via_store(&store, &id).unwrap();
                    check_history(&h).unwrap();
                }
            }
        }
    }
}

// ---- real threads -------------------------------------------------------------------------

/// Runs one writer's ops on its own connection. The host follows the store; the others
/// read the state fresh, yield `stale` times (letting the others run) and then write.
fn writer_thread(
    home: &agent_sessions::home::Home,
    name: &'static str,
    ops: Vec<(usize, Op, u8)>,
    start: &Barrier,
) -> Result<Vec<(usize, String)>, String> {
    let store = Store::open(home).map_err(|e| e.to_string())?;
    let mut host_seen = [State::Starting; IDS.len()];
    let mut moved = Vec::new();
    start.wait();
    for (step, (which, op, stale)) in ops.into_iter().enumerate() {
        let id = IDS[which];
        let seen = if name == "host" {
            host_seen[which]
        } else {
            store.state(id).map_err(|e| e.to_string())?.unwrap()
        };
        for _ in 0..stale {
            std::thread::yield_now();
        }
        let cause = format!("{name} #{step}");
        let (outcome, _) = commit(&store, None, id, &request(op, seen), &cause)?;
        match outcome {
            Outcome::Moved(c) => {
                if name == "host" {
                    host_seen[which] = c.to;
                }
                moved.push((which, cause));
            }
            Outcome::Refused(s) if name == "host" => host_seen[which] = s,
            _ => {}
        }
    }
    Ok(moved)
}

/// Reads both sessions again and again while the writers run: every read is a consistent
/// snapshot that passes the checks, and each history extends the one read before it.
fn checker_thread(
    home: &agent_sessions::home::Home,
    done: &std::sync::atomic::AtomicBool,
) -> Result<usize, String> {
    let mut conn = reader(home);
    let mut last: Vec<Vec<String>> = vec![Vec::new(); IDS.len()];
    let mut reads = 0;
    loop {
        let finished = done.load(std::sync::atomic::Ordering::Acquire);
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        for (i, id) in IDS.iter().enumerate() {
            let h = history_in(&tx, id).map_err(|e| e.to_string())?;
            check_history(&h).map_err(|e| format!("{id} read while writing: {e}"))?;
            let causes: Vec<String> = h.transitions.iter().map(|t| t.cause.clone()).collect();
            check(causes.starts_with(&last[i]), || {
                format!("{id}: history rewritten: {:?} then {causes:?}", last[i])
            })?;
            last[i] = causes;
        }
        drop(tx);
        reads += 1;
        if finished {
            return Ok(reads);
        }
    }
}

type Script = Vec<(usize, Op, u8)>;

fn run_threads(scripts: [(&'static str, Script); 4]) -> Result<(), String> {
    let (_dir, home) = home_with_sessions(IDS.len());
    let start = Arc::new(Barrier::new(scripts.len()));
    let done = std::sync::atomic::AtomicBool::new(false);
    let (results, checked) = std::thread::scope(|s| {
        let checker = s.spawn(|| checker_thread(&home, &done));
        let writers: Vec<_> = scripts
            .into_iter()
            .map(|(name, ops)| {
                let (home, start) = (&home, start.clone());
                s.spawn(move || writer_thread(home, name, ops, &start))
            })
            .collect();
        let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        done.store(true, std::sync::atomic::Ordering::Release);
        (results, checker.join().unwrap())
    });
    checked?;
    let mut moved: Vec<BTreeSet<String>> = vec![BTreeSet::new(); IDS.len()];
    for r in results {
        for (which, cause) in r? {
            moved[which].insert(cause);
        }
    }
    let store = Store::open(&home).unwrap();
    for (i, id) in IDS.iter().enumerate() {
        let h = history_via_store(&store, id)?;
        check_history(&h).map_err(|e| format!("{id} at the end: {e}"))?;
        // (d) Exactly the committed moves, each once (their order is the commit order, which
        // only the store knows).
        let causes: Vec<&str> = h.transitions[1..]
            .iter()
            .map(|t| t.cause.as_str())
            .collect();
        let set: BTreeSet<String> = causes.iter().map(|c| c.to_string()).collect();
        check(causes.len() == set.len() && set == moved[i], || {
            format!(
                "{id}: history {causes:?} is not the committed moves {:?}",
                moved[i]
            )
        })?;
    }
    Ok(())
}

#[test]
fn random_writers_on_threads_keep_the_history_honest() {
    let script = |op: BoxedStrategy<Op>| prop::collection::vec((0..IDS.len(), op, 0u8..4), 5..30);
    let scripts = (
        script(host_op().boxed()),
        script(user_op().boxed()),
        script(starter_op().boxed()),
        script(Just(Op::Liveness).boxed()),
    );
    TestRunner::new(config(10))
        .run(&scripts, |(host, user, starter, liveness)| {
            run_threads([
                ("host", host),
                ("user", user),
                ("starter", starter),
                ("liveness", liveness),
            ])
            .map_err(TestCaseError::fail)
        })
        .unwrap();
}
