//! The per-session sampler thread: samples the agent's process tree, walks the workspace now
//! and then, and writes both to the store in batches. See the module docs of
//! [`crate::services::telemetry`] for the intervals and the retention rule.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::home::Home;
use crate::model::error::Result;
use crate::services::resources::{
    children_supported, workspace_bytes, Discovery, ResourceSample, TreeSampler, WorkspaceBudget,
};
use crate::store::telemetry::TelemetryDelta as Delta;
pub use crate::store::telemetry::{FULL_RATE_WINDOW, MAX_ROWS_PER_SESSION, THIN_BUCKET};
use crate::store::Store;

use super::shared_walk;
pub use super::wake::StopSignal;
use super::wake::{LeasePage, Woke};
use super::watch::{lease_path, LEASE_CHECK, LIVE_INTERVAL};

/// Limits of the walk at the end of a session that never had one.
const FINAL_WALK_BUDGET: WorkspaceBudget = WorkspaceBudget {
    max_entries: 5_000,
    // Every stop and suspend waits for it: keep it well under what a person or a resume
    // notices (a cut walk is recorded as incomplete, a lower bound).
    max_duration: Duration::from_millis(10),
};

/// Delay before the first workspace walk.
pub const FIRST_WALK_DELAY: Duration = Duration::from_secs(5);

/// Runs this thread at nice 19: measuring must never slow the agent or other sessions
/// (a workspace walk is the costliest thing a host does). Not SCHED_IDLE, which a busy
/// machine could starve of samples altogether.
fn lower_thread_priority() {
    // SAFETY: setpriority on this thread's own id (Linux threads have their own nice value).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// The next workspace walk waits at least this many times as long as the last walk took, so
/// walking costs at most 0.1 % of a core whatever the workspace's size.
pub const WORKSPACE_DUTY_FACTOR: u32 = 1_000;
/// Samples held in memory while the store cannot be written, at most.
const MAX_PENDING: usize = 2_000;

/// How often a sampler samples and writes. Per session: the host passes the session's own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// Process-tree sample interval while the tree is active (default 2 s; at least 100 ms).
    pub resource_interval: Duration,
    /// Longest interval between samples of an idle tree (default 30 s; at least
    /// `resource_interval`): each sample that finds nothing moved doubles the interval up to
    /// this, any movement or terminal activity brings it back to `resource_interval`. Equal to
    /// `resource_interval` switches the slowing down off.
    pub idle_interval: Duration,
    /// Workspace walk interval (default 30 s; at least 1 s), stretched after slow walks (see
    /// [`WORKSPACE_DUTY_FACTOR`]).
    pub workspace_interval: Duration,
    /// How often buffered samples are written, in one transaction (default 10 s).
    pub flush_interval: Duration,
    /// How often they are written while the tree is idle and nobody watches (default 5 min;
    /// at least `flush_interval`): an idle tree's figures do not change, and each write
    /// costs the host ~1 ms of CPU, which 1000 idle hosts would pay 30 times a second.
    pub idle_flush_interval: Duration,
    /// Limits of one workspace walk (default 200 000 entries or 1 s).
    pub workspace_budget: WorkspaceBudget,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            resource_interval: Duration::from_secs(2),
            idle_interval: Duration::from_secs(30),
            workspace_interval: Duration::from_secs(30),
            flush_interval: Duration::from_secs(10),
            idle_flush_interval: Duration::from_secs(300),
            workspace_budget: WorkspaceBudget {
                max_entries: 200_000,
                max_duration: Duration::from_secs(1),
            },
        }
    }
}

impl SamplerConfig {
    /// The defaults with the three intervals given in milliseconds (0 keeps a default). A
    /// sample interval given explicitly holds while the tree is idle too (no slowing down,
    /// no rarer writes): whoever asks for it watches closely.
    pub fn from_millis(resource_ms: u64, workspace_ms: u64, flush_ms: u64) -> Self {
        let d = SamplerConfig::default();
        let pick = |ms: u64, def: Duration| {
            if ms == 0 {
                def
            } else {
                Duration::from_millis(ms)
            }
        };
        let resource_interval = pick(resource_ms, d.resource_interval);
        let flush_interval = pick(flush_ms, d.flush_interval);
        let explicit = resource_ms > 0;
        SamplerConfig {
            resource_interval,
            idle_interval: if explicit {
                resource_interval
            } else {
                d.idle_interval
            },
            workspace_interval: pick(workspace_ms, d.workspace_interval),
            flush_interval,
            idle_flush_interval: if explicit {
                flush_interval
            } else {
                d.idle_flush_interval
            },
            ..d
        }
    }

    /// The configuration with every interval raised to its minimum.
    pub fn clamped(self) -> Self {
        let resource_interval = self.resource_interval.max(Duration::from_millis(100));
        SamplerConfig {
            resource_interval,
            idle_interval: self.idle_interval.max(resource_interval),
            idle_flush_interval: self
                .idle_flush_interval
                .max(self.flush_interval.max(Duration::from_millis(100))),
            workspace_interval: self.workspace_interval.max(Duration::from_secs(1)),
            flush_interval: self.flush_interval.max(Duration::from_millis(100)),
            ..self
        }
    }
}

/// What a sampler needs from whoever runs it: a store connection to write through, and
/// (for a host) a counter of terminal activity.
pub trait SamplerHost: Send + Sync {
    /// Runs `write` with a connection to the store.
    fn with_store(&self, write: &mut dyn FnMut(&Store) -> Result<()>) -> Result<()>;
    /// A counter bumped on every terminal output or input; a change wakes an idle sampler
    /// back to its active rate. The default never changes.
    fn activity(&self) -> u64 {
        0
    }
    /// A process that adopts the tree's orphans (a subreaper): its children are looked at
    /// too, so with children to follow no `/proc` listing is ever needed. None by default.
    fn adopter(&self) -> Option<u32> {
        None
    }
    /// Asks to be poked (through the sampler's [`StopSignal`], which the host was given)
    /// at the next terminal activity: called before each sleep. The default never pokes.
    fn arm_activity(&self) {}
    /// Gives back idle memory of the connection (see `Store::release_memory`); the
    /// default has nothing to give back.
    fn release_memory(&self) {}
}

/// A sampler on its own: opens the store for each write and closes it again (an idle open
/// connection costs ~150 KB of RSS). A host passes itself instead, to share its connection.
struct OwnStore(Home);

impl SamplerHost for OwnStore {
    fn with_store(&self, write: &mut dyn FnMut(&Store) -> Result<()>) -> Result<()> {
        write(&Store::open(&self.0)?)
    }
}

/// Starts the sampler thread of one session. The host starts it right after the agent
/// spawned and, at the session's end, calls [`StopSignal::stop`] and joins the handle (the
/// thread then takes a final sample and flushes). The thread also ends by itself once the
/// tree has no live process left. Store errors never end it: samples stay buffered (at most
/// 2 000) and the write is retried at the next flush; errors go to standard error (the host's
/// `host.log`). Fails only when the thread cannot be created; a host should then go on
/// without telemetry rather than fail the session.
pub fn spawn_sampler(
    home: &Home,
    session_id: &str,
    agent_pid: u32,
    workspace: PathBuf,
    cfg: SamplerConfig,
    stop: StopSignal,
) -> std::io::Result<JoinHandle<()>> {
    let own = Arc::new(OwnStore(home.clone()));
    spawn_sampler_for(own, home, session_id, agent_pid, workspace, cfg, stop)
}

/// [`spawn_sampler`] writing through `host` (its store connection and activity counter).
pub fn spawn_sampler_for(
    host: Arc<dyn SamplerHost>,
    home: &Home,
    session_id: &str,
    agent_pid: u32,
    workspace: PathBuf,
    cfg: SamplerConfig,
    stop: StopSignal,
) -> std::io::Result<JoinHandle<()>> {
    let mut s = Sampler::new(
        host,
        home.clone(),
        session_id.to_string(),
        agent_pid,
        workspace,
        cfg,
    );
    std::thread::Builder::new()
        .name("telemetry".into())
        // Its deepest frames are a /proc read and a SQLite write: 256 KB is ample, and a
        // smaller reservation keeps 1000 hosts' address space and page tables small.
        .stack_size(256 * 1024)
        .spawn(move || s.run(&stop))
}

/// A `/proc` listing (to find processes the tree started, also those re-parented away from
/// it) is taken at least this often; otherwise new processes are looked for only while the
/// tree moves, by following its children (O(tree)) where the kernel lists them, else by a
/// listing. Idle samples read only the tree's own files.
pub const FULL_LISTING_EVERY: Duration = Duration::from_secs(60);
/// ... and this often where children can be followed: the listing then only catches
/// processes that left the tree's parentage (double-forked helpers).
pub const FULL_LISTING_WITH_CHILDREN: Duration = Duration::from_secs(600);

fn listing_pause() -> Duration {
    if children_supported() {
        FULL_LISTING_WITH_CHILDREN
    } else {
        FULL_LISTING_EVERY
    }
}
/// ... and at least this many times as long as the last listing took apart, so that listing
/// costs a host at most 0.001 % of a core however many processes the machine runs (with
/// N hosts on the machine each listing grows with N: without this, N hosts would cost N²).
const LISTING_DUTY_FACTOR: u32 = 100_000;

struct Sampler {
    host: Arc<dyn SamplerHost>,
    home: Home,
    id: String,
    workspace: PathBuf,
    cfg: SamplerConfig,
    tree: TreeSampler,
    pending: Vec<(ResourceSample, Option<u64>)>,
    delta: Delta,
    prev_at_ms: Option<i64>,
    /// consecutive store failures, to avoid flooding the log
    failures: u32,
    /// A workspace walk has run at least once.
    walked: bool,
    /// when the size this session reports was measured (its own walk or one it adopted)
    walked_at_ms: Option<i64>,
    /// samples in a row that found nothing moved (the interval doubles with each)
    idle_streak: u32,
    /// the tree moved since the last workspace walk
    moved_since_walk: bool,
    next_listing: Instant,
}

impl Sampler {
    fn new(
        host: Arc<dyn SamplerHost>,
        home: Home,
        id: String,
        pid: u32,
        workspace: PathBuf,
        cfg: SamplerConfig,
    ) -> Self {
        Sampler {
            host,
            home,
            id,
            workspace,
            cfg: cfg.clamped(),
            tree: TreeSampler::new(pid),
            pending: Vec::new(),
            delta: Delta::default(),
            prev_at_ms: None,
            failures: 0,
            walked: false,
            walked_at_ms: None,
            idle_streak: 0,
            moved_since_walk: true,
            // With children to follow, the first listing waits: a burst of starts must not
            // have every new host read every process on the machine at once.
            next_listing: Instant::now()
                + if children_supported() {
                    FULL_LISTING_EVERY
                } else {
                    Duration::ZERO
                },
        }
    }

    /// The interval to the next sample: the active rate, doubled per idle sample up to the
    /// idle rate, and never above [`LIVE_INTERVAL`] while watched.
    fn interval(&self, watched: bool) -> Duration {
        let base = self.cfg.resource_interval;
        let slowed = base
            .saturating_mul(1u32 << self.idle_streak.min(16))
            .min(self.cfg.idle_interval);
        if watched {
            slowed.min(LIVE_INTERVAL)
        } else {
            slowed
        }
    }

    fn run(&mut self, stop: &StopSignal) {
        lower_thread_priority();
        if let Some(adopter) = self.host.adopter().filter(|_| children_supported()) {
            // Every process of the tree is reachable by children links from the agent or
            // from the adopting host: the O(machine) listing is never needed.
            self.tree.set_adopter(adopter);
            self.next_listing = Instant::now() + Duration::from_secs(u32::MAX as u64);
        }
        // Where the kernel allows, sleep until something is due (see `wake`); otherwise
        // look at the lease every LEASE_CHECK.
        let page = LeasePage::open(&lease_path(self.home.root()), false).ok();
        let can_wait = page.as_ref().is_some_and(LeasePage::can_wait);
        let start = Instant::now();
        let mut next_sample = start;
        let mut last_sample = start;
        // Not at once: a session's start (and a burst of starts) must not compete with a
        // workspace walk that can take up to its whole budget.
        let mut next_walk = start + FIRST_WALK_DELAY.min(self.cfg.workspace_interval);
        let mut next_flush = start; // the first sample is written at once: `top` shows it
        let mut last_flush = start;
        let mut activity = self.host.activity();
        let mut watched = false;
        loop {
            // Read before looking at the lease: an announcement after this wakes the wait.
            let lease_seq = page.as_ref().map(LeasePage::seq);
            let now = Instant::now();
            let was = watched;
            let now_ms = crate::services::usage::system_time_ms(std::time::SystemTime::now());
            watched = page.as_ref().is_some_and(|p| p.is_live(now_ms));
            if watched && !was {
                // a watcher just came: give it a fresh sample now
                next_sample = now;
            }
            let seen = self.host.activity();
            let active = seen != activity;
            if active {
                activity = seen;
                self.idle_streak = 0;
                next_sample = next_sample.min(last_sample + self.cfg.resource_interval);
            }
            let mut alive = true;
            let mut sampled = false;
            if now >= next_sample {
                let look = active || !self.tree.is_tracking() || self.tree.moved();
                alive = self.sample(look) > 0;
                sampled = true;
                if self.tree.moved() || active {
                    self.idle_streak = 0;
                    self.moved_since_walk = true;
                } else {
                    self.idle_streak = self.idle_streak.saturating_add(1);
                }
                last_sample = now;
                next_sample = now + self.interval(watched);
            }
            if now >= next_walk && alive {
                let wait = if self.adopt_shared_walk() {
                    self.cfg.workspace_interval
                } else if self.walked && !self.moved_since_walk {
                    // An idle tree did not change its workspace: the last size stands.
                    self.cfg.workspace_interval
                } else {
                    let took = self.walk();
                    self.moved_since_walk = false;
                    self.cfg
                        .workspace_interval
                        .max(took.saturating_mul(WORKSPACE_DUTY_FACTOR))
                };
                next_walk = Instant::now() + wait;
            }
            // Watched: every sample is written at once. Otherwise in batches, rarely while
            // the tree is idle.
            let idle = self.idle_streak > 0;
            let due = if idle {
                last_flush + self.cfg.idle_flush_interval
            } else {
                next_flush
            };
            if !alive || (watched && sampled) || (now >= due && !self.pending.is_empty()) {
                self.flush(!watched && idle);
                last_flush = Instant::now();
                next_flush = last_flush + self.cfg.flush_interval;
            }
            if !alive {
                return; // nothing left to sample
            }
            // An idle tree wakes for its next sample only; the walk and the write that fall
            // due meanwhile wait for that wake (the figures do not change while idle).
            let mut wake = next_sample;
            if self.idle_streak == 0 || watched {
                wake = wake.min(next_walk);
                if !self.pending.is_empty() {
                    wake = wake.min(next_flush);
                }
            }
            let lease_wait = match (&page, lease_seq) {
                (Some(page), Some(seq)) if can_wait => Some((page, seq)),
                _ => {
                    wake = wake.min(Instant::now() + LEASE_CHECK);
                    None
                }
            };
            self.host.arm_activity();
            if stop.wait(wake, lease_wait) == Woke::Stopped {
                break;
            }
        }
        self.sample(true);
        if !self.walked {
            // A session shorter than the first walk's delay still gets a size, from a short
            // walk (marked incomplete when cut) so the ending is not held up.
            self.walk_within(FINAL_WALK_BUDGET);
        }
        self.flush(false);
    }

    /// Takes one sample; `look` asks to look for new processes (the tree moved), which
    /// follows children where the kernel lists them and lists `/proc` otherwise; a full
    /// listing also comes when its safety interval is due. Returns the live process count.
    fn sample(&mut self, look: bool) -> u32 {
        let now = Instant::now();
        let discovery = if now >= self.next_listing {
            Discovery::Listing
        } else if !look {
            Discovery::TrackedOnly
        } else if children_supported() {
            Discovery::Children
        } else {
            Discovery::Listing
        };
        let s = self.tree.sample_with(discovery);
        if discovery == Discovery::Listing {
            let took = now.elapsed().saturating_mul(LISTING_DUTY_FACTOR);
            self.next_listing = Instant::now() + listing_pause().max(took);
        }
        let d = &mut self.delta;
        if let Some(prev) = self.prev_at_ms {
            let dt = (s.at_ms - prev).max(0);
            d.sampled_ms += dt;
            d.busy_ms += s.cpu_percent / 100.0 * dt as f64;
        }
        self.prev_at_ms = Some(s.at_ms);
        d.samples += 1;
        d.first_ms.get_or_insert(s.at_ms);
        d.last_ms = Some(s.at_ms);
        if s.process_count > 0 {
            d.peak_rss = Some(d.peak_rss.unwrap_or(0).max(s.memory_rss_bytes));
            d.last_live = Some(s);
        }
        d.totals = Some(s);
        d.cpu_time_ms = Some(self.tree.cpu_time_total().as_millis() as u64);
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push((s, None));
        s.process_count
    }

    /// Walks the workspace and publishes the result for other sessions in the same folder;
    /// its size goes on the latest pending sample. Returns the time taken.
    fn walk(&mut self) -> Duration {
        let took = self.walk_within(self.cfg.workspace_budget);
        if let Some((bytes, entries, complete, at_ms)) = self.delta.workspace {
            let size = crate::services::resources::WorkspaceSize {
                bytes,
                entries,
                complete,
            };
            shared_walk::publish(&self.home, &self.workspace, size, at_ms);
        }
        took
    }

    /// A workspace size goes on the latest unwritten sample row; when every row was written
    /// already, a sample is taken for it, so the size and its row are written together.
    fn ensure_pending_row(&mut self) {
        if self.pending.is_empty() {
            let look = self.tree.moved() || !self.tree.is_tracking();
            self.sample(look);
        }
    }

    /// Takes another session's walk of the same folder when it is newer than this
    /// session's and younger than the walk interval (see `shared_walk`).
    fn adopt_shared_walk(&mut self) -> bool {
        let now_ms = crate::services::usage::system_time_ms(std::time::SystemTime::now());
        let max_age = self.cfg.workspace_interval;
        let Some((w, at_ms)) = shared_walk::recent(&self.home, &self.workspace, max_age, now_ms)
        else {
            return false;
        };
        if self.walked_at_ms.is_some_and(|mine| mine >= at_ms) {
            return false;
        }
        self.ensure_pending_row();
        self.walked = true;
        self.walked_at_ms = Some(at_ms);
        self.moved_since_walk = false;
        self.delta.workspace = Some((w.bytes, w.entries, w.complete, at_ms));
        if let Some(last) = self.pending.last_mut() {
            last.1 = Some(w.bytes);
        }
        true
    }

    fn walk_within(&mut self, budget: WorkspaceBudget) -> Duration {
        self.ensure_pending_row();
        self.walked = true;
        let t = Instant::now();
        let w = workspace_bytes(&self.workspace, budget);
        let took = t.elapsed();
        let at_ms = crate::services::usage::system_time_ms(std::time::SystemTime::now());
        self.delta.workspace = Some((w.bytes, w.entries, w.complete, at_ms));
        self.walked_at_ms = Some(at_ms);
        if let Some(last) = self.pending.last_mut() {
            last.1 = Some(w.bytes);
        }
        took
    }

    /// Writes what is pending; `trim` then gives the code pages back (not while watched:
    /// the next write, a second later, would fault them straight back in).
    fn flush(&mut self, trim: bool) {
        if self.pending.is_empty() && self.delta.is_empty() {
            return;
        }
        if let Err(e) = self.try_flush() {
            self.failures += 1;
            if self.failures == 1 || self.failures.is_power_of_two() {
                eprintln!(
                    "agent-sessions telemetry {}: writing samples failed ({} times): {e}",
                    self.id, self.failures
                );
            }
            return;
        }
        self.failures = 0;
        self.pending.clear();
        self.delta = Delta::default();
        // Writing faulted SQLite's code back in; give those pages back until the next flush
        // (see host::trim), so a sampled idle host stays small.
        if trim {
            self.host.release_memory();
            crate::services::trim::release_code_pages();
        }
    }

    /// Writes the pending samples and the summary's changes in one transaction, through
    /// the host's connection.
    fn try_flush(&self) -> Result<()> {
        let id = &self.id;
        let pending = &self.pending;
        let d = &self.delta;
        self.host
            .with_store(&mut |store| store.write_telemetry_batch(id, pending, d))
    }
}
