//! The per-session sampler thread: samples the agent's process tree, walks the workspace now
//! and then, and writes both to the store in batches. See the module docs of
//! [`crate::services::telemetry`] for the intervals and the retention rule.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rusqlite::{params, OptionalExtension, Transaction};

use super::schema::ensure_schema;
use crate::config::home::Home;
use crate::model::error::Result;
use crate::services::resources::{workspace_bytes, ResourceSample, TreeSampler, WorkspaceBudget};
use crate::store::Store;

/// Samples newer than this (relative to the newest sample) are kept at full rate.
pub const FULL_RATE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Older samples are thinned to one row per bucket of this length.
pub const THIN_BUCKET: Duration = Duration::from_secs(60);
/// Stored rows per session at most; the oldest go first.
pub const MAX_ROWS_PER_SESSION: usize = 10_000;
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
    /// Process-tree sample interval (default 2 s; at least 100 ms).
    pub resource_interval: Duration,
    /// Workspace walk interval (default 30 s; at least 1 s), stretched after slow walks (see
    /// [`WORKSPACE_DUTY_FACTOR`]).
    pub workspace_interval: Duration,
    /// How often buffered samples are written, in one transaction (default 10 s).
    pub flush_interval: Duration,
    /// Limits of one workspace walk (default 200 000 entries or 1 s).
    pub workspace_budget: WorkspaceBudget,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            resource_interval: Duration::from_secs(2),
            workspace_interval: Duration::from_secs(30),
            flush_interval: Duration::from_secs(10),
            workspace_budget: WorkspaceBudget {
                max_entries: 200_000,
                max_duration: Duration::from_secs(1),
            },
        }
    }
}

impl SamplerConfig {
    /// The defaults with the three intervals given in milliseconds (0 keeps a default).
    pub fn from_millis(resource_ms: u64, workspace_ms: u64, flush_ms: u64) -> Self {
        let d = SamplerConfig::default();
        let pick = |ms: u64, def: Duration| {
            if ms == 0 {
                def
            } else {
                Duration::from_millis(ms)
            }
        };
        SamplerConfig {
            resource_interval: pick(resource_ms, d.resource_interval),
            workspace_interval: pick(workspace_ms, d.workspace_interval),
            flush_interval: pick(flush_ms, d.flush_interval),
            ..d
        }
    }

    /// The configuration with every interval raised to its minimum.
    pub fn clamped(self) -> Self {
        SamplerConfig {
            resource_interval: self.resource_interval.max(Duration::from_millis(100)),
            workspace_interval: self.workspace_interval.max(Duration::from_secs(1)),
            flush_interval: self.flush_interval.max(Duration::from_millis(100)),
            ..self
        }
    }
}

/// Tells a sampler to finish: it takes a last sample, flushes and returns.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every sampler holding a clone of this signal to stop (idempotent).
    pub fn stop(&self) {
        let (m, cv) = &*self.inner;
        *m.lock() = true;
        cv.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.inner.0.lock()
    }

    /// Sleeps until `deadline` or until stopped; returns true when stopped.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let (m, cv) = &*self.inner;
        let mut stopped = m.lock();
        while !*stopped {
            if cv.wait_until(&mut stopped, deadline).timed_out() {
                break;
            }
        }
        *stopped
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
    let mut s = Sampler::new(
        home.clone(),
        session_id.to_string(),
        agent_pid,
        workspace,
        cfg,
    );
    std::thread::Builder::new()
        .name("telemetry".into())
        .spawn(move || s.run(&stop))
}

/// What changed since the last flush; added to the summary row.
#[derive(Debug, Default)]
struct Delta {
    samples: u64,
    busy_ms: f64,
    sampled_ms: i64,
    peak_rss: Option<u64>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    last_live: Option<ResourceSample>,
    totals: Option<ResourceSample>,
    cpu_time_ms: Option<u64>,
    workspace: Option<(u64, u64, bool, i64)>,
}

impl Delta {
    fn is_empty(&self) -> bool {
        self.samples == 0 && self.workspace.is_none()
    }
}

struct Sampler {
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
}

impl Sampler {
    fn new(home: Home, id: String, pid: u32, workspace: PathBuf, cfg: SamplerConfig) -> Self {
        Sampler {
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
        }
    }

    fn run(&mut self, stop: &StopSignal) {
        lower_thread_priority();
        let start = Instant::now();
        let mut next_sample = start;
        // Not at once: a session's start (and a burst of starts) must not compete with a
        // workspace walk that can take up to its whole budget.
        let mut next_walk = start + FIRST_WALK_DELAY.min(self.cfg.workspace_interval);
        let mut next_flush = start; // the first sample is written at once: `top` shows it
        loop {
            let now = Instant::now();
            let mut alive = true;
            if now >= next_sample {
                alive = self.sample() > 0;
                next_sample = advance(next_sample, self.cfg.resource_interval, now);
            }
            if now >= next_walk && alive {
                let took = self.walk();
                let wait = self
                    .cfg
                    .workspace_interval
                    .max(took.saturating_mul(WORKSPACE_DUTY_FACTOR));
                next_walk = Instant::now() + wait;
            }
            if now >= next_flush || !alive {
                self.flush();
                next_flush = Instant::now() + self.cfg.flush_interval;
            }
            if !alive {
                return; // nothing left to sample
            }
            if stop.wait_until(next_sample.min(next_walk).min(next_flush)) {
                break;
            }
        }
        self.sample();
        if !self.walked {
            // A session shorter than the first walk's delay still gets a size, from a short
            // walk (marked incomplete when cut) so the ending is not held up.
            self.walk_within(FINAL_WALK_BUDGET);
        }
        self.flush();
    }

    /// Takes one sample; returns the live process count.
    fn sample(&mut self) -> u32 {
        let s = self.tree.sample();
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

    /// Walks the workspace; its size goes on the latest pending sample. Returns the time taken.
    fn walk(&mut self) -> Duration {
        self.walk_within(self.cfg.workspace_budget)
    }

    fn walk_within(&mut self, budget: WorkspaceBudget) -> Duration {
        self.walked = true;
        let t = Instant::now();
        let w = workspace_bytes(&self.workspace, budget);
        let took = t.elapsed();
        let at_ms = crate::services::usage::system_time_ms(std::time::SystemTime::now());
        self.delta.workspace = Some((w.bytes, w.entries, w.complete, at_ms));
        if let Some(last) = self.pending.last_mut() {
            last.1 = Some(w.bytes);
        }
        took
    }

    fn flush(&mut self) {
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
        crate::host::trim::release_code_pages();
    }

    /// Opens the store, writes, closes it. The connection is not kept between flushes: an
    /// open SQLite connection costs ~150 KB of RSS per session (measured), far more than
    /// reopening it every flush costs in CPU.
    fn try_flush(&self) -> Result<()> {
        let store = Store::open(&self.home)?;
        ensure_schema(&store)?;
        let id = &self.id;
        let pending = &self.pending;
        let d = &self.delta;
        store.write(|tx| write_batch(tx, id, pending, d))
    }
}

/// The next deadline after `prev`, skipping missed ticks rather than bursting.
fn advance(prev: Instant, every: Duration, now: Instant) -> Instant {
    let next = prev + every;
    if next <= now {
        now + every
    } else {
        next
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn write_batch(
    tx: &Transaction<'_>,
    id: &str,
    pending: &[(ResourceSample, Option<u64>)],
    d: &Delta,
) -> rusqlite::Result<()> {
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR REPLACE INTO resource_samples (session_id, at_ms, cpu_percent,
                memory_rss_bytes, memory_vsz_bytes, io_read_bytes, io_write_bytes, io_read_chars,
                io_write_chars, process_count, workspace_bytes_used)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for (s, ws) in pending {
            ins.execute(params![
                id,
                s.at_ms,
                s.cpu_percent,
                int(s.memory_rss_bytes),
                int(s.memory_vsz_bytes),
                int(s.io_read_bytes),
                int(s.io_write_bytes),
                int(s.io_read_chars),
                int(s.io_write_chars),
                s.process_count,
                ws.map(int),
            ])?;
        }
    }
    let last_live = d
        .last_live
        .map(|s| serde_json::to_string(&s).expect("a sample serializes"));
    let t = d.totals;
    let (ws_bytes, ws_entries, ws_complete, ws_at) = match d.workspace {
        Some((b, e, c, at)) => (Some(int(b)), Some(int(e)), Some(c as i64), Some(at)),
        None => (None, None, None, None),
    };
    tx.prepare_cached(
        "INSERT INTO telemetry (session_id, sample_count, cpu_busy_ms, sampled_ms,
            peak_memory_rss_bytes, first_sample_ms, last_sample_ms, last_sample, cpu_time_ms,
            io_read_bytes, io_write_bytes, io_read_chars, io_write_chars,
            workspace_bytes_used, workspace_entries, workspace_complete, workspace_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT(session_id) DO UPDATE SET
            sample_count = sample_count + excluded.sample_count,
            cpu_busy_ms = cpu_busy_ms + excluded.cpu_busy_ms,
            sampled_ms = sampled_ms + excluded.sampled_ms,
            peak_memory_rss_bytes = CASE
                WHEN excluded.peak_memory_rss_bytes IS NULL THEN peak_memory_rss_bytes
                ELSE MAX(COALESCE(peak_memory_rss_bytes, 0), excluded.peak_memory_rss_bytes) END,
            first_sample_ms = COALESCE(first_sample_ms, excluded.first_sample_ms),
            last_sample_ms = COALESCE(excluded.last_sample_ms, last_sample_ms),
            last_sample = COALESCE(excluded.last_sample, last_sample),
            cpu_time_ms = MAX(COALESCE(cpu_time_ms, 0), COALESCE(excluded.cpu_time_ms, 0)),
            io_read_bytes = MAX(COALESCE(io_read_bytes, 0), COALESCE(excluded.io_read_bytes, 0)),
            io_write_bytes = MAX(COALESCE(io_write_bytes, 0), COALESCE(excluded.io_write_bytes, 0)),
            io_read_chars = MAX(COALESCE(io_read_chars, 0), COALESCE(excluded.io_read_chars, 0)),
            io_write_chars = MAX(COALESCE(io_write_chars, 0), COALESCE(excluded.io_write_chars, 0)),
            workspace_bytes_used = COALESCE(excluded.workspace_bytes_used, workspace_bytes_used),
            workspace_entries = COALESCE(excluded.workspace_entries, workspace_entries),
            workspace_complete = COALESCE(excluded.workspace_complete, workspace_complete),
            workspace_at_ms = COALESCE(excluded.workspace_at_ms, workspace_at_ms)",
    )?
    .execute(params![
        id,
        int(d.samples),
        d.busy_ms,
        d.sampled_ms,
        d.peak_rss.map(int),
        d.first_ms,
        d.last_ms,
        last_live,
        d.cpu_time_ms.map(int),
        t.map(|t| int(t.io_read_bytes)),
        t.map(|t| int(t.io_write_bytes)),
        t.map(|t| int(t.io_read_chars)),
        t.map(|t| int(t.io_write_chars)),
        ws_bytes,
        ws_entries,
        ws_complete,
        ws_at,
    ])?;
    if let Some(newest) = pending.last().map(|p| p.0.at_ms) {
        apply_retention(tx, id, newest)?;
    }
    Ok(())
}

/// Thins samples older than [`FULL_RATE_WINDOW`] (before `newest_ms`) to one row per
/// [`THIN_BUCKET`] and enforces [`MAX_ROWS_PER_SESSION`]. Each bucket is handled once: the
/// summary row remembers up to where thinning is done.
pub(crate) fn apply_retention(
    tx: &Transaction<'_>,
    id: &str,
    newest_ms: i64,
) -> rusqlite::Result<()> {
    let bucket = THIN_BUCKET.as_millis() as i64;
    let cutoff = (newest_ms - FULL_RATE_WINDOW.as_millis() as i64).div_euclid(bucket) * bucket;
    let (done, count): (Option<i64>, i64) = tx
        .prepare_cached(
            "SELECT thinned_until_ms, sample_count FROM telemetry WHERE session_id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((None, 0));
    let from = done.unwrap_or(i64::MIN);
    if cutoff > from {
        thin(tx, id, from, cutoff, bucket)?;
        tx.prepare_cached("UPDATE telemetry SET thinned_until_ms = ?2 WHERE session_id = ?1")?
            .execute(params![id, cutoff])?;
    }
    // rows <= samples taken, so the cap needs checking only once that many were taken
    if count > MAX_ROWS_PER_SESSION as i64 {
        let oldest_kept: Option<i64> = tx
            .prepare_cached(
                "SELECT at_ms FROM resource_samples WHERE session_id = ?1
                 ORDER BY at_ms DESC LIMIT 1 OFFSET ?2",
            )?
            .query_row(params![id, MAX_ROWS_PER_SESSION as i64 - 1], |r| r.get(0))
            .optional()?;
        if let Some(t) = oldest_kept {
            tx.prepare_cached("DELETE FROM resource_samples WHERE session_id = ?1 AND at_ms < ?2")?
                .execute(params![id, t])?;
        }
    }
    Ok(())
}

/// Replaces the rows of each bucket in `[from, to)` that holds more than one row by a single
/// row at the bucket's last sample time: mean CPU, peak memory and process count, the last
/// cumulative counters and the last workspace size.
fn thin(tx: &Transaction<'_>, id: &str, from: i64, to: i64, bucket: i64) -> rusqlite::Result<()> {
    let rows: Vec<(ResourceSample, Option<i64>)> = {
        let mut st = tx.prepare_cached(
            "SELECT at_ms, cpu_percent, memory_rss_bytes, memory_vsz_bytes, io_read_bytes,
                io_write_bytes, io_read_chars, io_write_chars, process_count, workspace_bytes_used
             FROM resource_samples WHERE session_id = ?1 AND at_ms >= ?2 AND at_ms < ?3
             ORDER BY at_ms",
        )?;
        let it = st.query_map(params![id, from, to], |r| {
            let g = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
            Ok((
                ResourceSample {
                    at_ms: r.get(0)?,
                    cpu_percent: r.get(1)?,
                    memory_rss_bytes: g(2)?,
                    memory_vsz_bytes: g(3)?,
                    io_read_bytes: g(4)?,
                    io_write_bytes: g(5)?,
                    io_read_chars: g(6)?,
                    io_write_chars: g(7)?,
                    process_count: g(8)?.min(u32::MAX as u64) as u32,
                },
                r.get(9)?,
            ))
        })?;
        it.collect::<rusqlite::Result<_>>()?
    };
    let mut i = 0;
    while i < rows.len() {
        let b = rows[i].0.at_ms.div_euclid(bucket);
        let mut j = i + 1;
        while j < rows.len() && rows[j].0.at_ms.div_euclid(bucket) == b {
            j += 1;
        }
        let group = &rows[i..j];
        if group.len() > 1 {
            let last = group[group.len() - 1];
            let mut agg = last.0;
            agg.cpu_percent =
                group.iter().map(|g| g.0.cpu_percent).sum::<f64>() / group.len() as f64;
            agg.memory_rss_bytes = group
                .iter()
                .map(|g| g.0.memory_rss_bytes)
                .max()
                .unwrap_or(0);
            agg.memory_vsz_bytes = group
                .iter()
                .map(|g| g.0.memory_vsz_bytes)
                .max()
                .unwrap_or(0);
            agg.process_count = group.iter().map(|g| g.0.process_count).max().unwrap_or(0);
            let ws = group.iter().rev().find_map(|g| g.1);
            tx.prepare_cached(
                "DELETE FROM resource_samples WHERE session_id = ?1 AND at_ms >= ?2 AND at_ms <= ?3",
            )?
            .execute(params![id, group[0].0.at_ms, last.0.at_ms])?;
            tx.prepare_cached(
                "INSERT INTO resource_samples (session_id, at_ms, cpu_percent, memory_rss_bytes,
                    memory_vsz_bytes, io_read_bytes, io_write_bytes, io_read_chars,
                    io_write_chars, process_count, workspace_bytes_used)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                id,
                agg.at_ms,
                agg.cpu_percent,
                int(agg.memory_rss_bytes),
                int(agg.memory_vsz_bytes),
                int(agg.io_read_bytes),
                int(agg.io_write_bytes),
                int(agg.io_read_chars),
                int(agg.io_write_chars),
                agg.process_count,
                ws,
            ])?;
        }
        i = j;
    }
    Ok(())
}
