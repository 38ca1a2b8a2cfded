//! What makes idle sessions cheap, against real processes and a real store: an idle tree is
//! sampled less and less often, terminal activity brings the active rate back, a watch lease
//! makes samples live, and the totals stay exact through all of it.
//!
//! The configurations are chosen so that a broken mechanism fails the poll's deadline (or a
//! lower bound the sampler guarantees), never so that a slow machine does.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{TempDir, Tree};

use agent_sessions::home::Home;
use agent_sessions::services::state_machine;
use agent_sessions::store::{NewSession, Store};
use agent_sessions::telemetry::{
    is_watched, samples, spawn_sampler, spawn_sampler_for, telemetry_for, SampleRow, SamplerConfig,
    SamplerHost, StopSignal, WatchLease,
};
use agent_sessions::Result;
use agent_sessions::Source;

const DEADLINE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn open_home(dir: &Path) -> (Home, Store) {
    let home = Home::resolve(Some(&dir.join("home"))).unwrap();
    let store = Store::open(&home).unwrap();
    (home, store)
}

fn new_session(store: &Store, id: &str, cwd: &Path) {
    state_machine::insert(
        store,
        &NewSession {
            cause: "test".into(),
            workspace_path: Some(cwd.to_string_lossy().into()),
            ..NewSession::hosted(id, "custom", &["sleep"])
        },
        Source::User,
        &vec![],
    )
    .unwrap();
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rows(store: &Store, id: &str) -> Vec<SampleRow> {
    samples(store, id, 0, 100_000).unwrap()
}

/// Stops the sampler and waits for it, also when the test fails.
struct Running {
    stop: StopSignal,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// A sampler on its own store connection for session `id`, tree `pid`, workspace `ws`.
    fn start(home: &Home, id: &str, pid: u32, ws: &Path, cfg: SamplerConfig) -> Running {
        let stop = StopSignal::new();
        let handle = spawn_sampler(home, id, pid, ws.into(), cfg, stop.clone()).unwrap();
        Running {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn an_idle_tree_is_sampled_less_and_less_often() {
    let dir = TempDir::new("idle-backoff");
    let (home, store) = open_home(dir.path());
    new_session(&store, "s-idle", dir.path());
    let tree = Tree::spawn("exec sleep 120");
    let cfg = SamplerConfig {
        resource_interval: Duration::from_millis(100),
        idle_interval: HOUR,
        workspace_interval: HOUR,
        flush_interval: Duration::from_millis(100),
        idle_flush_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let _run = Running::start(&home, "s-idle", tree.pid(), dir.path(), cfg);
    // 100 ms, then doubling while `sleep` does nothing. The first samples may still see the
    // shell turn into `sleep` (each movement restarts the doubling), so look at nine: at
    // least five in a row find nothing moved, and the fifth of those comes 1.6 s or more
    // after the one before (a wait is never cut short). Without the slowing down every gap
    // would be about 100 ms.
    let got = poll("nine samples", || {
        let r = rows(&store, "s-idle");
        (r.len() >= 9).then_some(r)
    });
    let gaps: Vec<i64> = got
        .windows(2)
        .map(|w| w[1].sample.at_ms - w[0].sample.at_ms)
        .collect();
    let longest = gaps.iter().copied().max().unwrap_or(0);
    assert!(longest >= 1_600, "samples not slowing down: gaps {gaps:?}");
}

/// A host stand-in: opens the store per write, and reports a counter the test bumps,
/// poking the sampler when it asked to be, as a session host does.
struct Activity {
    home: Home,
    seq: AtomicU64,
    armed: AtomicBool,
    signal: StopSignal,
}

impl Activity {
    fn bump(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        if self.armed.swap(false, Ordering::AcqRel) {
            self.signal.poke();
        }
    }
}

impl SamplerHost for Activity {
    fn with_store(&self, write: &mut dyn FnMut(&Store) -> Result<()>) -> Result<()> {
        write(&Store::open(&self.home)?)
    }
    fn activity(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }
    fn arm_activity(&self) {
        self.armed.store(true, Ordering::Release);
    }
}

#[test]
fn terminal_activity_brings_the_active_rate_back() {
    let dir = TempDir::new("idle-activity");
    let (home, store) = open_home(dir.path());
    new_session(&store, "s-act", dir.path());
    let tree = Tree::spawn("exec sleep 120");
    let stop = StopSignal::new();
    let host = Arc::new(Activity {
        home: home.clone(),
        seq: AtomicU64::new(0),
        armed: AtomicBool::new(false),
        signal: stop.clone(),
    });
    let cfg = SamplerConfig {
        resource_interval: Duration::from_millis(100),
        idle_interval: HOUR,
        workspace_interval: HOUR,
        flush_interval: Duration::from_millis(100),
        idle_flush_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let handle = spawn_sampler_for(
        host.clone(),
        &home,
        "s-act",
        tree.pid(),
        dir.path().into(),
        cfg,
        stop.clone(),
    );
    let _run = Running {
        stop,
        handle: Some(handle.unwrap()),
    };
    // Output every 50 ms, as a chatty agent's terminal would show.
    let done = Arc::new(AtomicBool::new(false));
    let bumper = {
        let (host, done) = (host.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                host.bump();
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Idle, the 14th sample would come after 100 ms × (2^13 - 1) = 13.6 min; the activity
    // pokes the sleeping sampler and keeps the active rate.
    poll("fourteen samples while the terminal is busy", || {
        (rows(&store, "s-act").len() >= 14).then_some(())
    });
    done.store(true, Ordering::Relaxed);
    bumper.join().unwrap();
}

#[test]
fn a_watch_lease_makes_an_idle_host_sample_live() {
    let dir = TempDir::new("idle-watch");
    let (home, store) = open_home(dir.path());
    new_session(&store, "s-watch", dir.path());
    let tree = Tree::spawn("exec sleep 120");
    assert!(!is_watched(home.root()));
    // Unwatched, this sampler takes its first sample and then none for an hour.
    let cfg = SamplerConfig {
        resource_interval: HOUR,
        idle_interval: HOUR,
        workspace_interval: HOUR,
        flush_interval: HOUR,
        ..Default::default()
    };
    let run = Running::start(&home, "s-watch", tree.pid(), dir.path(), cfg);
    poll("the first sample", || {
        (rows(&store, "s-watch").len() == 1).then_some(())
    });

    let lease = WatchLease::acquire(&home).unwrap();
    assert!(is_watched(home.root()));
    poll("three more samples, each written at once", || {
        (rows(&store, "s-watch").len() >= 4).then_some(())
    });
    // the lease file is private, like everything in the home
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.root().join("watch"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "lease file mode {mode:o}");
    drop(lease);
    // a dropped lease runs out by itself
    poll("the lease to run out", || {
        (!is_watched(home.root())).then_some(())
    });
    // Stop the sampler (its last sample and write) before comparing rows with the summary:
    // read while it runs, the two reads can fall on either side of a write.
    drop(run);

    // cumulative figures never went backward through the changes of rate
    let r = rows(&store, "s-watch");
    for w in r.windows(2) {
        assert!(w[1].sample.at_ms > w[0].sample.at_ms);
        assert!(w[1].sample.io_read_chars >= w[0].sample.io_read_chars);
    }
    let rec = store.get("s-watch").unwrap().unwrap();
    let t = telemetry_for(&store, &rec).unwrap();
    assert_eq!(t.sample_count as usize, r.len());
}

/// What a new watcher waits on: sessions still live by their stored state whose last
/// sample is older than the watcher's arrival. A session never sampled, or ended, is not
/// waited on.
#[test]
fn a_new_watcher_waits_only_on_live_sessions_with_an_older_sample() {
    let dir = TempDir::new("idle-sampled-before");
    let (home, store) = open_home(dir.path());
    for id in ["s-live", "s-ends", "s-never"] {
        new_session(&store, id, dir.path());
    }
    let cfg = || SamplerConfig {
        resource_interval: HOUR,
        idle_interval: HOUR,
        workspace_interval: HOUR,
        flush_interval: HOUR,
        ..Default::default()
    };
    let (t1, t2) = (Tree::spawn("exec sleep 120"), Tree::spawn("exec sleep 120"));
    let _r1 = Running::start(&home, "s-live", t1.pid(), dir.path(), cfg());
    let _r2 = Running::start(&home, "s-ends", t2.pid(), dir.path(), cfg());
    poll("a first sample of both", || {
        (rows(&store, "s-live").len() == 1 && rows(&store, "s-ends").len() == 1).then_some(())
    });
    let (live_at, ends_at) = (
        rows(&store, "s-live")[0].sample.at_ms,
        rows(&store, "s-ends")[0].sample.at_ms,
    );
    let newest = live_at.max(ends_at);
    let mut both = store.sampled_before(newest + 1).unwrap();
    both.sort();
    // Before both samples: nothing to wait on. After: both (s-never has no sample).
    assert!(store
        .sampled_before(live_at.min(ends_at))
        .unwrap()
        .is_empty());
    assert_eq!(both, vec!["s-ends".to_string(), "s-live".to_string()]);
    // Between the two: only the older one.
    if live_at != ends_at {
        let older = if live_at < ends_at {
            "s-live"
        } else {
            "s-ends"
        };
        assert_eq!(
            store.sampled_before(newest).unwrap(),
            vec![older.to_string()]
        );
    }
    // An ended session is not waited on, whatever its sample's age.
    state_machine::apply(
        &store,
        &state_machine::Change::new(
            "s-ends",
            agent_sessions::State::Stopped,
            Source::Process,
            "test",
        ),
    )
    .unwrap();
    assert_eq!(
        store.sampled_before(newest + 1).unwrap(),
        vec!["s-live".to_string()]
    );
}

#[test]
fn an_idle_parent_still_counts_the_child_it_reaps() {
    // The parent sleeps (nothing moves, so samples skip the /proc listing); its child burns
    // CPU and exits; the parent's reap puts the child's CPU time into its own counters, which
    // the next tracked-only sample reads.
    let dir = TempDir::new("idle-reap");
    let (home, store) = open_home(dir.path());
    new_session(&store, "s-reap", dir.path());
    let tree = Tree::spawn(
        "sleep 3; python3 -c 'import time\nt=time.process_time()\nwhile time.process_time()-t<0.5: pass'; sleep 120",
    );
    let cfg = SamplerConfig {
        resource_interval: Duration::from_millis(100),
        idle_interval: Duration::from_millis(800),
        workspace_interval: HOUR,
        flush_interval: Duration::from_millis(100),
        idle_flush_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let _run = Running::start(&home, "s-reap", tree.pid(), dir.path(), cfg);
    let rec = store.get("s-reap").unwrap().unwrap();
    poll("the child's half second of CPU in the totals", || {
        let t = telemetry_for(&store, &rec).unwrap();
        (t.cpu_time_ms.unwrap_or(0) >= 450).then_some(())
    });
}

#[test]
fn sessions_in_one_folder_share_a_workspace_walk() {
    let dir = TempDir::new("shared-walk");
    let (home, store) = open_home(dir.path());
    let ws = dir.path().join("repo");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.bin"), vec![1u8; 10_000]).unwrap();
    new_session(&store, "s-walk-a", &ws);
    new_session(&store, "s-walk-b", &ws);
    let cfg = SamplerConfig {
        resource_interval: Duration::from_millis(200),
        workspace_interval: Duration::from_secs(30),
        flush_interval: Duration::from_millis(200),
        idle_flush_interval: Duration::from_millis(200),
        ..Default::default()
    };
    let size_of = |id: &str| {
        let rec = store.get(id).unwrap().unwrap();
        telemetry_for(&store, &rec).unwrap().workspace_bytes_used
    };
    let tree_a = Tree::spawn("exec sleep 120");
    let _run_a = Running::start(&home, "s-walk-a", tree_a.pid(), &ws, cfg);
    // A's first walk (5 s after its start) is published in the home.
    poll("A's walk", || {
        (size_of("s-walk-a") == Some(10_000)).then_some(())
    });
    let published: Vec<_> = std::fs::read_dir(home.root().join("walks"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");

    // The folder grows; B starts in it well within A's 30 s interval and, when its own walk
    // is due, takes A's result instead of walking: it reports what A measured.
    std::fs::write(ws.join("b.bin"), vec![2u8; 50_000]).unwrap();
    let tree_b = Tree::spawn("exec sleep 120");
    let _run_b = Running::start(&home, "s-walk-b", tree_b.pid(), &ws, cfg);
    let got = poll("B's workspace size", || size_of("s-walk-b"));
    assert_eq!(got, 10_000, "B walked itself instead of sharing A's walk");
}
