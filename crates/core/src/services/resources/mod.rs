//! Resource use of a session's process tree (Linux `/proc`), and a bounded workspace size.
//!
//! # How the tree is found
//!
//! A sample with a listing lists `/proc` (one `getdents` pass) and classifies each pid
//! **once**, by reading its `/proc/<pid>/stat` the first time it is seen: it belongs to the
//! tree when it is the root, when its parent is in the tree, or — only if the root is a
//! session leader (`sid == root_pid`, as for a pty session) — when it is in the root's session
//! (this catches descendants re-parented to init or a subreaper, e.g. double-forked helpers).
//! Pids found foreign are remembered (a sorted vector) and not read again while they exist,
//! so a steady-state sample reads only the tree's own `stat` and `io` files (two small reads
//! per tree process) plus the `/proc` directory listing.
//!
//! The listing is what grows with the machine: it costs O(processes on the machine), so N
//! hosts listing would cost O(N²). [`TreeSampler::sample_with`] therefore also finds new
//! processes by following `/proc/<pid>/task/<tid>/children` from the tracked processes
//! ([`Discovery::Children`], O(tree); one read per thread) and from an *adopter*
//! ([`TreeSampler::set_adopter`]): the session host is a child subreaper, so the tree's
//! orphans become its children. With both, a listing is never needed; the sampler looks only
//! while the tree moves. Without `CONFIG_PROC_CHILDREN` it lists `/proc` instead, while the
//! tree moves and at most once a minute otherwise. A process an idle tree starts without any
//! of its counters moving is found at the next movement; if it ends before and a tracked
//! parent reaps it, its CPU and I/O are still counted (the parent's `cutime`, `cstime` and
//! `io` include it); only its memory while it lived is missed.
//!
//! A cgroup per session (exact totals, read in O(1)) is not used: it needs a writable
//! cgroup v2 tree with the cpu, memory and io controllers delegated, which neither the
//! development machine (cgroup v1 with an empty v2 hierarchy) nor unprivileged containers
//! commonly have, and the fallback would have to be this sampler anyway. Processes that
//! leave the session *and* the tree (daemons: `setsid` + double fork) are not followed
//! unless they were already tracked.
//!
//! # Counters that never go backward
//!
//! CPU time is `utime + stime + cutime + cstime` per process, and I/O is `/proc/<pid>/io`,
//! which (like `cutime/cstime` for CPU) already includes the I/O of children the process has
//! reaped with `wait`. Per pid the last-seen (maximum) values are kept. When a tracked pid
//! disappears it has been reaped (a zombie stays visible until then):
//!
//! * if its nearest still-present tracked ancestor (following last-known parents through
//!   other vanished tracked pids; a zombie ancestor counts, it may have reaped the child
//!   before exiting) exists, that ancestor's `cutime/cstime` and `io` now contain the
//!   vanished process' final figures, so nothing is added (no double counting, and the
//!   vanished process' last interval is not lost);
//! * otherwise (the root itself, or a re-parented process reaped by init) its last-seen
//!   figures are added to an "exited" sum.
//!
//! Totals are `Σ live + exited`, and the reported totals are additionally ratcheted
//! (`max(previous, current)`), so they never decrease even in the corner cases (a parent that
//! exits without waiting for a child, read races between a parent's reap and our reads); such
//! cases can only delay or lose a process' last interval, never count it twice (when in
//! doubt the sampler undercounts: an undercount is hidden by the ratchet, an overcount
//! would be locked in by it). Processes that
//! start and end between two samples are counted when a tracked parent reaps them (through its
//! `cutime/cstime`/`io`), otherwise not at all.
//!
//! Memory is the sum of RSS and of virtual size over live (non-zombie) tree processes; shared
//! pages are counted once per process, as `ps` does.
//!
//! Processes that vanish mid-read, or whose `/proc` files cannot be read (`io` of another
//! user's process), are skipped without error.

mod children;
mod procfs;
mod workspace;

use procfs::{list_pids, parse_u64, read_io, read_stat};

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use children::supported as children_supported;
pub use workspace::{workspace_bytes, WorkspaceBudget, WorkspaceSize};

/// How a sample finds processes the tree started since the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Read only the tracked processes: finds nothing new (an idle tree's sample).
    TrackedOnly,
    /// Follow `/proc/<pid>/task/<tid>/children` down from the tracked processes: O(tree);
    /// misses only processes re-parented away from the tree.
    Children,
    /// List all of `/proc` and classify what is new (also by session id, which catches
    /// re-parented descendants): O(processes on the machine).
    Listing,
}

pub use crate::model::telemetry::ResourceSample;

/// Cumulative per-process counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counters {
    cpu_ticks: u64,
    rchar: u64,
    wchar: u64,
    read_bytes: u64,
    write_bytes: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.cpu_ticks = self.cpu_ticks.saturating_add(o.cpu_ticks);
        self.rchar = self.rchar.saturating_add(o.rchar);
        self.wchar = self.wchar.saturating_add(o.wchar);
        self.read_bytes = self.read_bytes.saturating_add(o.read_bytes);
        self.write_bytes = self.write_bytes.saturating_add(o.write_bytes);
    }

    fn max_with(&mut self, o: &Counters) {
        self.cpu_ticks = self.cpu_ticks.max(o.cpu_ticks);
        self.rchar = self.rchar.max(o.rchar);
        self.wchar = self.wchar.max(o.wchar);
        self.read_bytes = self.read_bytes.max(o.read_bytes);
        self.write_bytes = self.write_bytes.max(o.write_bytes);
    }
}

/// What `/proc/<pid>/stat` tells us.
#[derive(Debug, Clone, Copy)]
struct Stat {
    zombie: bool,
    ppid: u32,
    sid: i32,
    cpu_ticks: u64,
    start_time: u64,
    vsize: u64,
    rss_pages: u64,
}

#[derive(Debug)]
struct Tracked {
    start_time: u64,
    ppid: u32,
    sid: i32,
    zombie: bool,
    rss_pages: u64,
    vsize: u64,
    last: Counters,
}

/// Samples the resource use of the process tree rooted at a pid. See the module docs.
#[derive(Debug)]
pub struct TreeSampler {
    root_pid: u32,
    /// the root's session id when the root is a session leader
    root_sid: Option<i32>,
    /// the root's start time once seen: a later process reusing the root's pid is not ours
    root_start: Option<u64>,
    ticks_per_sec: f64,
    page_size: u64,
    tracked: HashMap<u32, Tracked>,
    /// pids known not to be ours, sorted; as of the last listing (a sorted vector, not a
    /// hash map: on a machine with 1000 sessions this holds thousands of pids in every host)
    foreign: Vec<u32>,
    exited: Counters,
    reported: Counters,
    last_at: Option<Instant>,
    /// what the last sample saw, to tell whether anything moved since (see [`Self::moved`])
    fingerprint: Option<Fingerprint>,
    moved: bool,
    /// a subreaper whose children may be orphans of the tree (see `set_adopter`)
    adopter: Option<u32>,
    buf: Vec<u8>,
    pids: Vec<u32>,
}

/// The figures whose change means the tree did something between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fingerprint {
    counters: Counters,
    rss_pages: u64,
    processes: usize,
}

impl TreeSampler {
    pub fn new(root_pid: u32) -> Self {
        // SAFETY: sysconf has no memory-safety preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        TreeSampler {
            root_pid,
            root_sid: None,
            root_start: None,
            ticks_per_sec: if hz > 0 { hz as f64 } else { 100.0 },
            page_size: if page > 0 { page as u64 } else { 4096 },
            tracked: HashMap::new(),
            foreign: Vec::new(),
            exited: Counters::default(),
            reported: Counters::default(),
            last_at: None,
            fingerprint: None,
            moved: true,
            adopter: None,
            buf: Vec::with_capacity(1024),
            pids: Vec::with_capacity(512),
        }
    }

    pub fn root_pid(&self) -> u32 {
        self.root_pid
    }

    /// Cumulative CPU time of the tree (all processes ever tracked, plus what they reaped)
    /// as of the last sample.
    pub fn cpu_time_total(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.reported.cpu_ticks as f64 / self.ticks_per_sec)
    }

    /// Pids currently tracked (live or zombie), root first when alive.
    pub fn pids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.tracked.keys().copied().collect();
        v.sort_by_key(|p| (*p != self.root_pid, *p));
        v
    }

    /// Whether the last sample saw the tree do anything since the one before: CPU time, I/O
    /// or resident memory moved, or a process came or went. True until two samples exist.
    pub fn moved(&self) -> bool {
        self.moved
    }

    /// Also looks among `pid`'s children when following children: a subreaper that adopts
    /// the tree's orphans. Its children join the tree by the usual rule (the root's session).
    pub fn set_adopter(&mut self, pid: u32) {
        self.adopter = Some(pid);
    }

    /// Whether any process is tracked yet (the root is found by a listing).
    pub fn is_tracking(&self) -> bool {
        !self.tracked.is_empty()
    }

    /// Takes one sample with a full `/proc` listing. Never fails: a vanished or unreadable
    /// tree gives zero memory and process count, with the cumulative totals kept.
    pub fn sample(&mut self) -> ResourceSample {
        self.sample_with(Discovery::Listing)
    }

    /// Takes one sample, finding new processes as `discovery` says. Without a listing the
    /// cost is O(tree), not O(processes on the machine). A process found by neither way is
    /// found at the next listing, and its figures are not lost meanwhile when a tracked
    /// parent reaps it (see the module docs).
    pub fn sample_with(&mut self, discovery: Discovery) -> ResourceSample {
        let list = discovery == Discovery::Listing;
        let now = Instant::now();
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        if list {
            list_pids(&mut self.pids);
            self.pids.sort_unstable();
        }
        let listed = list.then_some(&self.pids);

        // 1. refresh tracked pids, parents before children (see module docs on read races)
        let mut order: Vec<(u32, u32)> = self.tracked.keys().map(|&p| (self.depth(p), p)).collect();
        order.sort_unstable();
        let mut vanished: HashMap<u32, Tracked> = HashMap::new();
        let mut reborn: Vec<(u32, Stat)> = Vec::new();
        for &(_, pid) in &order {
            let stat = if listed.is_none_or(|l| l.binary_search(&pid).is_ok()) {
                read_stat(pid, &mut self.buf)
            } else {
                None
            };
            let t = self.tracked.get_mut(&pid).expect("tracked pid");
            match stat {
                Some(s) if s.start_time == t.start_time => {
                    t.ppid = s.ppid;
                    t.sid = s.sid;
                    t.zombie = s.zombie;
                    t.rss_pages = if s.zombie { 0 } else { s.rss_pages };
                    t.vsize = if s.zombie { 0 } else { s.vsize };
                    let mut c = t.last;
                    c.cpu_ticks = s.cpu_ticks;
                    if !s.zombie {
                        if let Some(io) = read_io(pid, &mut self.buf) {
                            c.rchar = io.rchar;
                            c.wchar = io.wchar;
                            c.read_bytes = io.read_bytes;
                            c.write_bytes = io.write_bytes;
                        }
                    }
                    t.last.max_with(&c);
                }
                other => {
                    let t = self.tracked.remove(&pid).expect("tracked pid");
                    vanished.insert(pid, t);
                    if let Some(s) = other {
                        // same pid, new process: classify it like any new pid
                        reborn.push((pid, s));
                    }
                }
            }
        }

        // 2. classify pids not seen before
        let mut candidates: Vec<(u32, Stat)> = reborn;
        let mut found = Vec::new();
        if discovery == Discovery::Children {
            self.find_children(&vanished, &mut found);
        }
        let new_pids: &[u32] = match discovery {
            Discovery::Listing => &self.pids,
            Discovery::Children => &found,
            Discovery::TrackedOnly => &[],
        };
        // Without a listing, foreign pids were not seen: all are kept.
        let mut foreign = if list {
            Vec::with_capacity(self.foreign.len())
        } else {
            std::mem::take(&mut self.foreign)
        };
        for &pid in new_pids {
            if self.tracked.contains_key(&pid) || vanished.contains_key(&pid) {
                continue;
            }
            if self.foreign.binary_search(&pid).is_ok() {
                foreign.push(pid);
                continue;
            }
            if let Some(s) = read_stat(pid, &mut self.buf) {
                candidates.push((pid, s));
            }
        }
        if self.root_sid.is_none() {
            if let Some((_, s)) = candidates.iter().find(|(p, _)| *p == self.root_pid) {
                if s.sid == self.root_pid as i32 {
                    self.root_sid = Some(s.sid);
                }
            }
        }
        // A session id is not reused while any process is in the session, so matching by it
        // is safe only while a tracked process is still in it (or before the root was seen).
        let match_sid = self.root_sid.filter(|sid| {
            self.root_start.is_none() || self.tracked.values().any(|t| t.sid == *sid)
        });
        loop {
            let mut changed = false;
            let mut i = 0;
            while i < candidates.len() {
                let (pid, s) = candidates[i];
                let is_root =
                    pid == self.root_pid && self.root_start.is_none_or(|st| st == s.start_time);
                let member =
                    is_root || match_sid == Some(s.sid) || self.tracked.contains_key(&s.ppid);
                if member {
                    candidates.swap_remove(i);
                    if is_root {
                        self.root_start = Some(s.start_time);
                    }
                    let mut last = Counters {
                        cpu_ticks: s.cpu_ticks,
                        ..Default::default()
                    };
                    if !s.zombie {
                        if let Some(io) = read_io(pid, &mut self.buf) {
                            last = Counters {
                                cpu_ticks: s.cpu_ticks,
                                ..io
                            };
                        }
                    }
                    self.tracked.insert(
                        pid,
                        Tracked {
                            start_time: s.start_time,
                            ppid: s.ppid,
                            sid: s.sid,
                            zombie: s.zombie,
                            rss_pages: if s.zombie { 0 } else { s.rss_pages },
                            vsize: if s.zombie { 0 } else { s.vsize },
                            last,
                        },
                    );
                    changed = true;
                } else {
                    i += 1;
                }
            }
            if !changed {
                break;
            }
        }
        foreign.extend(candidates.iter().map(|(pid, _)| *pid));
        foreign.sort_unstable();
        foreign.dedup();
        self.foreign = foreign;

        // 3. vanished processes: absorbed by a live tracked ancestor, or added to `exited`
        for (&pid, t) in &vanished {
            let mut p = t.ppid;
            let mut absorbed = false;
            for _ in 0..64 {
                if p == pid {
                    break;
                }
                if self.tracked.contains_key(&p) {
                    absorbed = true;
                    break;
                }
                match vanished.get(&p) {
                    Some(v) => p = v.ppid,
                    None => break,
                }
            }
            if !absorbed {
                self.exited.add(&t.last);
            }
        }

        // 4. totals
        let mut total = self.exited;
        let mut rss_pages = 0u64;
        let mut vsz = 0u64;
        let mut count = 0u32;
        for t in self.tracked.values() {
            total.add(&t.last);
            rss_pages = rss_pages.saturating_add(t.rss_pages);
            vsz = vsz.saturating_add(t.vsize);
            if !t.zombie {
                count += 1;
            }
        }
        let prev_cpu = self.reported.cpu_ticks;
        self.reported.max_with(&total);
        let cpu_percent = match self.last_at {
            Some(prev) => {
                let secs = now.duration_since(prev).as_secs_f64();
                if secs > 0.0 {
                    (self.reported.cpu_ticks - prev_cpu) as f64 / self.ticks_per_sec / secs * 100.0
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last_at = Some(now);
        let fingerprint = Fingerprint {
            counters: self.reported,
            rss_pages,
            processes: self.tracked.len(),
        };
        self.moved = self.fingerprint != Some(fingerprint);
        self.fingerprint = Some(fingerprint);

        ResourceSample {
            at_ms,
            cpu_percent,
            memory_rss_bytes: rss_pages.saturating_mul(self.page_size),
            memory_vsz_bytes: vsz,
            io_read_bytes: self.reported.read_bytes,
            io_write_bytes: self.reported.write_bytes,
            io_read_chars: self.reported.rchar,
            io_write_chars: self.reported.wchar,
            process_count: count,
        }
    }

    /// New pids below the tracked processes (and the root itself before it is tracked),
    /// following children of children.
    fn find_children(&mut self, vanished: &HashMap<u32, Tracked>, out: &mut Vec<u32>) {
        let mut queue: Vec<u32> = self.tracked.keys().copied().collect();
        if self.root_start.is_none() && !self.tracked.contains_key(&self.root_pid) {
            out.push(self.root_pid);
            queue.push(self.root_pid);
        }
        let mut kids = Vec::new();
        if let Some(a) = self.adopter {
            // its children other than the tracked ones: orphans of the tree (or not ours:
            // classification decides)
            children::children_of(a, &mut self.buf, &mut kids);
            for &k in &kids {
                if !self.tracked.contains_key(&k) && !vanished.contains_key(&k) && !out.contains(&k)
                {
                    out.push(k);
                    queue.push(k);
                }
            }
        }
        // bounded: a fork bomb must not hold the sampler
        while let Some(pid) = queue.pop() {
            if out.len() >= 4096 {
                break;
            }
            kids.clear();
            children::children_of(pid, &mut self.buf, &mut kids);
            for &k in &kids {
                if !self.tracked.contains_key(&k) && !vanished.contains_key(&k) && !out.contains(&k)
                {
                    out.push(k);
                    queue.push(k);
                }
            }
        }
    }

    /// Distance from the root along last-known parents (unknown chains sort last).
    fn depth(&self, pid: u32) -> u32 {
        let mut d = 0;
        let mut p = pid;
        while p != self.root_pid && d < 64 {
            match self.tracked.get(&p) {
                Some(t) => p = t.ppid,
                None => return 64,
            }
            d += 1;
        }
        d
    }
}
