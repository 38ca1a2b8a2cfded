//! The liveness check against real locks: a "host" thread holds the session's host.lock (as
//! the starter and the host do, through `launcher::lock_new_session`) and records states
//! while readers call `SessionManager::get`, `state` and `list`, each of which checks the
//! lock. A session whose lock is held never reads `unknown`; a host that records its ending
//! before letting go of the lock keeps that ending; a host that lets go without one (a crash)
//! is found out and the session moves to `unknown`, once.

mod sm_common;

use agent_sessions::home::Home;
use agent_sessions::services::launcher;
use agent_sessions::services::state_machine::{self, Change, Outcome};
use agent_sessions::state::{Source, State};
use agent_sessions::store::Store;
use agent_sessions::{Error, ListFilter, SessionManager};
use sm_common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// What the readers know of the lock: `generation` counts every take and every release, so
/// it is odd while the lock is held, and a read that began and ended in the same odd
/// generation ran wholly while a host held the lock.
#[derive(Default)]
struct Lock {
    generation: AtomicU64,
    /// The host thread is finished (its last release is done).
    done: AtomicBool,
}

impl Lock {
    fn taken(&self) {
        assert_eq!(self.generation.fetch_add(1, Ordering::SeqCst) % 2, 0);
    }
    /// Call just before the lock file is closed.
    fn released(&self) {
        assert_eq!(self.generation.fetch_add(1, Ordering::SeqCst) % 2, 1);
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    home: Home,
    mgr: SessionManager,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::resolve(Some(dir.path())).unwrap();
    let mgr = SessionManager::open(Some(dir.path())).unwrap();
    Fixture {
        _dir: dir,
        home,
        mgr,
    }
}

/// A host's recorded move: it compares with what it recorded last, as the real one does.
fn record(store: &Store, id: &str, from: State, to: State, source: Source) -> State {
    let cause = format!("{from} to {to}");
    match state_machine::apply(
        store,
        &Change::new(id, to, source, &cause).only_from(&[from]),
    )
    .unwrap()
    {
        Outcome::Moved(_) => to,
        other => panic!("host {from} -> {to} by {source}: {other:?}; nobody else writes here"),
    }
}

/// A host's life while it holds the lock: running, then turns of waiting and working, a
/// pause and a continue. Returns the state it is in.
fn host_life(store: &Store, id: &str, turns: usize, at: State) -> State {
    let mut s = record(store, id, at, State::Running, Source::Process);
    for turn in 0..turns {
        s = record(store, id, s, State::WaitingInput, Source::Screen);
        let back = if turn % 2 == 0 {
            Source::QuietTimer
        } else {
            Source::User
        };
        s = record(store, id, s, State::Running, back);
        if turn % 5 == 4 {
            s = record(store, id, s, State::Paused, Source::User);
            s = record(store, id, s, State::Running, Source::User);
        }
    }
    s
}

/// Reads `id` through the manager until the host thread is done and one more read is in;
/// returns the states seen. A read wholly inside a held lock must not be `unknown`.
fn reader(mgr: &SessionManager, lock: &Lock, id: &str, how: usize) -> Result<Vec<State>, String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let last = lock.done.load(Ordering::SeqCst);
        let g = lock.generation.load(Ordering::SeqCst);
        let read = match how % 3 {
            0 => mgr.get(id).map(|r| Some(r.state)),
            1 => mgr.state(id).map(Some),
            _ => mgr
                .list(&ListFilter::default())
                .map(|l| l.iter().find(|r| r.session_id == id).map(|r| r.state)),
        };
        let state = match read {
            Ok(s) => s,
            // Not inserted yet.
            Err(Error::SessionNotFound(_)) => None,
            Err(e) => return Err(format!("reading {id}: {e}")),
        };
        if let Some(s) = state {
            let held_throughout = g % 2 == 1 && lock.generation.load(Ordering::SeqCst) == g;
            check(!(s == State::Unknown && held_throughout), || {
                format!("{id} read unknown while its host held the lock (reads before: {seen:?})")
            })?;
            if seen.last() != Some(&s) {
                seen.push(s);
            }
        }
        if last {
            return Ok(seen);
        }
        check(Instant::now() < deadline, || {
            format!("{id}: the host thread never finished")
        })?;
    }
}

/// Runs `host` beside three readers (one each of get, state, list); returns what each saw.
fn with_readers(f: &Fixture, id: &str, host: impl FnOnce(&Lock) + Send) -> Vec<Vec<State>> {
    let lock = Lock::default();
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|how| {
                let (mgr, lock) = (&f.mgr, &lock);
                s.spawn(move || reader(mgr, lock, id, how))
            })
            .collect();
        let host = s.spawn(|| {
            host(&lock);
            lock.done.store(true, Ordering::SeqCst);
        });
        // A panicking host must not leave the readers spinning.
        let hosted = host.join();
        lock.done.store(true, Ordering::SeqCst);
        let seen: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        if let Err(p) = hosted {
            std::panic::resume_unwind(p);
        }
        seen.into_iter().map(|r| r.unwrap()).collect()
    })
}

fn liveness_rows(store: &Store, id: &str) -> usize {
    let h = history_via_store(store, id).unwrap();
    check_history(&h).unwrap();
    h.transitions
        .iter()
        .filter(|t| t.source == Source::Liveness.as_str())
        .count()
}

#[test]
fn a_host_that_records_its_ending_before_letting_go_keeps_it() {
    let f = fixture();
    let id = IDS[0];
    for (i, ending) in [State::Stopped, State::Failed, State::Suspended]
        .into_iter()
        .enumerate()
    {
        let id = format!("{id}{i}");
        let seen = with_readers(&f, &id, |lock| {
            let file = launcher::lock_new_session(&f.home, &id).unwrap();
            lock.taken();
            let store = Store::open(&f.home).unwrap();
            state_machine::insert(&store, &new_session(&id), Source::User, &Vec::new()).unwrap();
            let s = host_life(&store, &id, 40, State::Starting);
            let s = if ending == State::Suspended {
                record(&store, &id, s, State::Stopping, Source::User)
            } else {
                s
            };
            record(&store, &id, s, ending, Source::Process);
            lock.released();
            drop(file);
        });
        for s in &seen {
            assert!(
                !s.contains(&State::Unknown),
                "{id}: a reader saw unknown: {s:?}"
            );
            assert_eq!(
                s.last(),
                Some(&ending),
                "{id}: the last read is not the ending"
            );
        }
        let store = Store::open(&f.home).unwrap();
        assert_eq!(f.mgr.get(&id).unwrap().state, ending);
        assert_eq!(
            liveness_rows(&store, &id),
            0,
            "{id}: the liveness check moved it"
        );
    }
}

#[test]
fn a_host_that_crashes_is_found_out_from_every_live_state() {
    let f = fixture();
    let live = [
        State::Starting,
        State::Running,
        State::WaitingInput,
        State::Paused,
        State::Stopping,
    ];
    for (i, last) in live.into_iter().enumerate() {
        let id = format!("{}{i}", IDS[1]);
        let seen = with_readers(&f, &id, |lock| {
            let file = launcher::lock_new_session(&f.home, &id).unwrap();
            lock.taken();
            let store = Store::open(&f.home).unwrap();
            state_machine::insert(&store, &new_session(&id), Source::User, &Vec::new()).unwrap();
            if last != State::Starting {
                let s = host_life(&store, &id, 20, State::Starting);
                if last != State::Running {
                    let by = if last == State::WaitingInput {
                        Source::Screen
                    } else {
                        Source::User
                    };
                    record(&store, &id, s, last, by);
                }
            }
            // The crash: the lock goes with the process, no ending recorded.
            lock.released();
            drop(file);
        });
        // Every reader's last read came after the crash, so each found the host gone.
        for s in &seen {
            assert_eq!(
                s.last(),
                Some(&State::Unknown),
                "{id} crashed in {last}: {s:?}"
            );
        }
        let store = Store::open(&f.home).unwrap();
        let h = history_via_store(&store, &id).unwrap();
        let t = h.transitions.last().unwrap();
        assert_eq!((t.from, t.to), (Some(last), State::Unknown), "{id}: {t:?}");
        // Many readers found it; the compare-and-set let one of them record it.
        assert_eq!(liveness_rows(&store, &id), 1, "{id}: {:?}", h.transitions);
    }
}

/// A host ends, a resume takes the lock again and a new host runs, many times over, while
/// readers check the lock. Every ending is recorded before its lock goes, so no reader may
/// ever record `unknown`; in particular not a reader that read the previous host's
/// `running`, found its lock free, and writes after the next host recorded `running` again.
#[test]
fn resumes_racing_readers_never_lose_a_live_session() {
    let f = fixture();
    let id = IDS[0];
    let seen = with_readers(&f, id, |lock| {
        let mut file = launcher::lock_new_session(&f.home, id).unwrap();
        lock.taken();
        let store = Store::open(&f.home).unwrap();
        state_machine::insert(&store, &new_session(id), Source::User, &Vec::new()).unwrap();
        let mut s = State::Starting;
        for _ in 0..60 {
            s = host_life(&store, id, 1, s);
            let ended = record(&store, id, s, State::Stopped, Source::Process);
            lock.released();
            drop(file);
            // The resume: the lock first, then starting.
            file = launcher::lock_existing_session(&f.home, id, DEADLINE).unwrap();
            lock.taken();
            let now = store.state(id).unwrap().unwrap();
            assert_eq!(now, ended, "the session left its ending while no host ran");
            s = record(&store, id, now, State::Starting, Source::User);
        }
        record(&store, id, s, State::Failed, Source::Process);
        lock.released();
        drop(file);
    });
    for s in &seen {
        assert!(!s.contains(&State::Unknown), "a reader saw unknown: {s:?}");
    }
    assert_eq!(liveness_rows(&Store::open(&f.home).unwrap(), id), 0);
}

/// The race above, step by step, with the manager's liveness check taken apart: a reader
/// reads `running`, the host records its ending and lets go of the lock, the reader finds
/// the lock free, a resume takes the lock and its host records `running` again, and only
/// then does the reader write `unknown`, compared with the `running` it read. That
/// `running` is the new host's: the change must be refused.
#[test]
fn a_stale_liveness_check_cannot_end_a_resumed_session() {
    let f = fixture();
    let id = IDS[1];
    let store = Store::open(&f.home).unwrap();
    let file = launcher::lock_new_session(&f.home, id).unwrap();
    state_machine::insert(&store, &new_session(id), Source::User, &Vec::new()).unwrap();
    let s = host_life(&store, id, 1, State::Starting);
    // The reader reads, and its host_alive says yes.
    let read = f.mgr.get(id).unwrap().state;
    assert_eq!(read, State::Running);
    let ended = record(&store, id, s, State::Stopped, Source::Process);
    drop(file);
    // The reader's lock probe comes now: the ended host's lock is free.
    assert!(!launcher::host_alive(&f.home, id).unwrap());
    let file = launcher::lock_existing_session(&f.home, id, DEADLINE).unwrap();
    let s = record(&store, id, ended, State::Starting, Source::User);
    let s = record(&store, id, s, State::Running, Source::Process);
    assert_eq!(s, read, "the same state again, a new host's");
    // The reader's compare-and-set, as `SessionManager::get` writes it.
    let written = state_machine::apply(
        &store,
        &Change::new(
            id,
            State::Unknown,
            Source::Liveness,
            "session host vanished",
        )
        .reason(Some("host vanished"))
        .only_from(&[read]),
    )
    .unwrap();
    assert_eq!(
        written,
        Outcome::Refused(State::Running),
        "a live host's session ended"
    );
    assert_eq!(f.mgr.get(id).unwrap().state, State::Running);
    assert_eq!(liveness_rows(&store, id), 0);
    // With the lock gone for good, the same check stands.
    drop(file);
    assert_eq!(f.mgr.get(id).unwrap().state, State::Unknown);
    assert_eq!(liveness_rows(&store, id), 1);
}
