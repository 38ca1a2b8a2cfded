//! TreeSampler against real process trees, and workspace_bytes. Timing is never asserted:
//! conditions are polled with generous deadlines.

use std::fs;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

mod common;
use common::{TempDir, Tree};

use agent_sessions::resources::{workspace_bytes, ResourceSample, TreeSampler, WorkspaceBudget};

const DEADLINE: Duration = Duration::from_secs(60);

/// Asserts that no cumulative figure went backward between consecutive samples.
fn assert_monotonic(samples: &[ResourceSample]) {
    for w in samples.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(b.io_read_bytes >= a.io_read_bytes, "{a:?} -> {b:?}");
        assert!(b.io_write_bytes >= a.io_write_bytes, "{a:?} -> {b:?}");
        assert!(b.io_read_chars >= a.io_read_chars, "{a:?} -> {b:?}");
        assert!(b.io_write_chars >= a.io_write_chars, "{a:?} -> {b:?}");
        assert!(b.cpu_percent >= 0.0);
        assert!(b.at_ms >= a.at_ms);
    }
}

fn python3() -> bool {
    Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn tree_memory_io_and_totals_survive_child_exit() {
    if !python3() {
        eprintln!("python3 not available; skipped");
        return;
    }
    let dir = TempDir::new("tree");
    let out = dir.path().join("x");
    let script = format!(
        "python3 -c \"x=bytearray(50_000_000); import time; time.sleep(5)\" & \
         dd if=/dev/zero of='{}' bs=1M count=20 2>/dev/null; wait",
        out.display()
    );
    let mut tree = Tree::spawn(&script);
    let mut sampler = TreeSampler::new(tree.pid());
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut max_rss = 0;
    let mut max_count = 0;
    // while the tree runs: the 50 MB allocation and the 20 MB write become visible
    loop {
        let s = sampler.sample();
        max_rss = max_rss.max(s.memory_rss_bytes);
        max_count = max_count.max(s.process_count);
        samples.push(s);
        if max_rss >= 50_000_000 && s.io_write_chars >= 20 * 1024 * 1024 {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE && !tree.exited(),
            "tree ended or deadline passed before RSS/IO were seen: {samples:#?}"
        );
        sleep(Duration::from_millis(50));
    }
    assert!(max_count >= 2, "sh and python seen: {max_count}");
    let during = *samples.last().unwrap();
    assert!(during.memory_vsz_bytes >= during.memory_rss_bytes);

    // after every process has exited, the totals stay
    while !tree.exited() {
        samples.push(sampler.sample());
        assert!(start.elapsed() < DEADLINE, "tree did not exit");
        sleep(Duration::from_millis(100));
    }
    let after = sampler.sample();
    samples.push(after);
    samples.push(sampler.sample());
    assert_monotonic(&samples);
    assert_eq!(after.process_count, 0);
    assert_eq!(after.memory_rss_bytes, 0);
    assert!(after.io_write_chars >= 20 * 1024 * 1024);
    assert!(after.io_write_chars >= during.io_write_chars);
    assert!(after.io_read_chars >= during.io_read_chars);
    // no double counting of reaped children: dd's 20 MiB plus a little shell/python output
    assert!(
        after.io_write_chars < 21 * 1024 * 1024,
        "{} counted more than once?",
        after.io_write_chars
    );
}

#[test]
fn short_lived_children_are_counted_once() {
    let dir = TempDir::new("short");
    let out = dir.path().join("y");
    // 20 dd processes of 2 MiB each, each reaped by the shell; sampled as fast as possible so
    // that some are seen alive and then vanish
    let script = format!(
        "i=0; while [ $i -lt 20 ]; do dd if=/dev/zero of='{}' bs=1M count=2 2>/dev/null; \
         i=$((i+1)); done; sleep 1",
        out.display()
    );
    let mut tree = Tree::spawn(&script);
    let mut sampler = TreeSampler::new(tree.pid());
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut max_count = 0;
    while !tree.exited() {
        let s = sampler.sample();
        max_count = max_count.max(s.process_count);
        samples.push(s);
        assert!(start.elapsed() < DEADLINE, "tree did not exit");
        sleep(Duration::from_millis(2));
    }
    samples.push(sampler.sample());
    assert_monotonic(&samples);
    let last = samples.last().unwrap();
    let expected = 40 * 1024 * 1024;
    assert!(last.io_write_chars >= expected, "{last:?}");
    assert!(
        last.io_write_chars < expected + 1024 * 1024,
        "double counted: {last:?} (max processes seen {max_count})"
    );
}

#[test]
fn cpu_percent_of_a_busy_child() {
    if !python3() {
        eprintln!("python3 not available; skipped");
        return;
    }
    let mut tree = Tree::spawn(
        "python3 -c \"import time\nt=time.time()\nwhile time.time()-t<30: pass\"; sleep 0",
    );
    let mut sampler = TreeSampler::new(tree.pid());
    let first = sampler.sample();
    assert_eq!(first.cpu_percent, 0.0, "no interval on the first sample");
    let start = Instant::now();
    let mut best = 0.0f64;
    while best < 25.0 {
        sleep(Duration::from_millis(300));
        let s = sampler.sample();
        assert!(s.cpu_percent <= 100.0 * 64.0, "{s:?}");
        best = best.max(s.cpu_percent);
        assert!(
            start.elapsed() < DEADLINE && !tree.exited(),
            "busy loop never showed up as CPU use (best {best:.1}%)"
        );
    }
    assert!(sampler.cpu_time_total() > Duration::ZERO);
}

#[test]
fn vanished_and_bogus_pids_are_handled() {
    // a process that has already exited and been reaped
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    let mut s = TreeSampler::new(pid);
    let a = s.sample();
    let b = s.sample();
    assert_eq!(a.process_count, 0);
    assert_eq!(b.process_count, 0);
    assert_eq!(b.memory_rss_bytes, 0);
    assert_eq!(b.cpu_percent, 0.0);
    for bogus in [0, u32::MAX, 4_194_305] {
        let s = TreeSampler::new(bogus).sample();
        assert_eq!(s.process_count, 0);
        assert_eq!(s.io_write_chars, 0);
    }

    // a tree that disappears between two samples
    let mut tree = Tree::spawn("sleep 30");
    let mut s = TreeSampler::new(tree.pid());
    let start = Instant::now();
    while s.sample().process_count == 0 {
        assert!(start.elapsed() < DEADLINE);
        sleep(Duration::from_millis(20));
    }
    let before = s.sample();
    // SAFETY: plain syscall on the group we created
    unsafe {
        libc::kill(-(tree.pid() as i32), libc::SIGKILL);
    }
    while !tree.exited() {
        assert!(start.elapsed() < DEADLINE);
        sleep(Duration::from_millis(20));
    }
    // The killed children die a moment after the shell is reaped: poll, don't race.
    let mut gone = s.sample();
    while gone.process_count != 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "{} processes still counted",
            gone.process_count
        );
        sleep(Duration::from_millis(20));
        gone = s.sample();
    }
    assert!(gone.io_read_chars >= before.io_read_chars);
    // whatever is still tracked is a zombie (an orphan that init has not reaped yet)
    for p in s.pids() {
        if let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) {
            let state = stat.rsplit_once(')').unwrap().1.split_whitespace().next();
            assert_eq!(state, Some("Z"), "{stat}");
        }
    }
}

#[test]
fn reparented_process_in_the_session_is_tracked() {
    let dir = TempDir::new("reparent");
    let pidfile = dir.path().join("pid");
    // the subshell starts `sleep 30` and exits at once: sleep is re-parented (to init or a
    // subreaper) but stays in the root's session
    let script = format!(
        "( sleep 30 & echo $! > '{}.tmp'; mv '{}.tmp' '{}' ); sleep 30",
        pidfile.display(),
        pidfile.display(),
        pidfile.display()
    );
    let tree = Tree::spawn(&script);
    let start = Instant::now();
    let orphan: u32 = loop {
        if let Ok(s) = fs::read_to_string(&pidfile) {
            if let Ok(p) = s.trim().parse() {
                break p;
            }
        }
        assert!(start.elapsed() < DEADLINE, "no pid file");
        sleep(Duration::from_millis(20));
    };
    // wait until it is no longer the root's child's child (the subshell is gone)
    let ppid = |pid: u32| -> Option<u32> {
        let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        s.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    loop {
        let p = ppid(orphan).expect("orphan alive");
        if p != tree.pid() && ppid(p) != Some(tree.pid()) {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "subshell did not exit");
        sleep(Duration::from_millis(20));
    }
    // a sampler created now sees it only through the session id
    let mut s = TreeSampler::new(tree.pid());
    let sample = s.sample();
    assert!(s.pids().contains(&orphan), "{:?} lacks {orphan}", s.pids());
    assert!(s.pids().contains(&tree.pid()));
    assert!(sample.process_count >= 2, "{sample:?}"); // the root (sh, or the sleep it exec'd) and the orphan
    drop(tree); // kills the process group, orphan included
    let start = Instant::now();
    while ppid(orphan).is_some() {
        assert!(start.elapsed() < DEADLINE, "orphan not killed");
        sleep(Duration::from_millis(20));
    }
}

#[test]
fn workspace_size_is_exact_and_bounded() {
    let dir = TempDir::new("ws");
    let root = dir.path().join("ws");
    let mut expected = 0u64;
    for d in 0..5 {
        let sub = root.join(format!("d{d}/nested"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..20 {
            let len = (d * 1000 + f * 7) as usize;
            fs::write(sub.join(format!("f{f}")), vec![b'a'; len]).unwrap();
            expected += len as u64;
        }
    }
    // a hard link is counted once, a symlink to a big file outside is not followed
    fs::hard_link(root.join("d1/nested/f1"), root.join("d1/link")).unwrap();
    let big = dir.path().join("big");
    fs::write(&big, vec![0u8; 1 << 20]).unwrap();
    std::os::unix::fs::symlink(&big, root.join("big-link")).unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("loop")).unwrap();

    let full = workspace_bytes(&root, WorkspaceBudget::default());
    assert!(full.complete);
    assert_eq!(full.bytes, expected);
    // 5 d*, 5 nested, 100 files, 1 hard link, 2 symlinks
    assert_eq!(full.entries, 113);

    let cut = workspace_bytes(
        &root,
        WorkspaceBudget {
            max_entries: 10,
            max_duration: Duration::from_secs(60),
        },
    );
    assert!(!cut.complete);
    assert_eq!(cut.entries, 10);
    assert!(cut.bytes <= expected);

    let timed = workspace_bytes(
        &root,
        WorkspaceBudget {
            max_entries: u64::MAX,
            max_duration: Duration::ZERO,
        },
    );
    assert!(!timed.complete);

    let missing = workspace_bytes(&dir.path().join("nope"), WorkspaceBudget::default());
    assert_eq!(
        (missing.bytes, missing.entries, missing.complete),
        (0, 0, true)
    );
    let file = workspace_bytes(&big, WorkspaceBudget::default());
    assert_eq!((file.bytes, file.complete), (1 << 20, true));
}

/// Per-sample CPU cost of TreeSampler vs sysinfo for a tree of 5 processes. Run with
/// `cargo test --release --test resources_tree -- --ignored --nocapture sampler_cost`.
#[test]
#[ignore]
fn sampler_cost() {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

    fn thread_cpu() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    let tree = Tree::spawn(
        "sleep 120 & sleep 120 & sleep 120 & python3 -c 'import time; time.sleep(120)' & wait",
    );
    let start = Instant::now();
    let mut s = TreeSampler::new(tree.pid());
    while s.sample().process_count < 5 {
        assert!(start.elapsed() < DEADLINE);
        sleep(Duration::from_millis(20));
    }
    let procs = fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();
    let n = 500u32;
    let report = |name: &str, cpu: Duration| {
        let per = cpu / n;
        println!(
            "{name}: {:.1} µs CPU per sample = {:.4}% of one core at a 2 s interval \
             ({procs} processes on the system)",
            per.as_secs_f64() * 1e6,
            per.as_secs_f64() / 2.0 * 100.0
        );
    };

    // steady state of our sampler (the first sample, which classifies every pid, is above)
    let t0 = thread_cpu();
    for _ in 0..n {
        std::hint::black_box(s.sample());
    }
    report("TreeSampler (/proc, steady state)", thread_cpu() - t0);

    let t0 = thread_cpu();
    for _ in 0..n {
        let mut fresh = TreeSampler::new(tree.pid());
        std::hint::black_box(fresh.sample());
    }
    report(
        "TreeSampler (first sample, every pid classified)",
        thread_cpu() - t0,
    );

    // sysinfo: all processes must be refreshed to discover new children
    let mut sys = System::new().expect("sysinfo System");
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_disk_usage();
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let root = Pid::from_u32(tree.pid());
    let t0 = thread_cpu();
    let mut count = 0;
    for _ in 0..n {
        sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        let mut in_tree = vec![root];
        let mut changed = true;
        while changed {
            changed = false;
            for (pid, p) in sys.processes() {
                if !in_tree.contains(pid)
                    && (p.parent().is_some_and(|pp| in_tree.contains(&pp))
                        || p.session_id() == Some(root))
                {
                    in_tree.push(*pid);
                    changed = true;
                }
            }
        }
        let mut acc = (0f32, 0u64, 0u64);
        for pid in &in_tree {
            if let Some(p) = sys.process(*pid) {
                acc.0 += p.cpu_usage();
                acc.1 += p.memory();
                acc.2 += p.disk_usage().total_written_bytes;
            }
        }
        count = in_tree.len();
        std::hint::black_box(acc);
    }
    report("sysinfo (refresh all + tree walk)", thread_cpu() - t0);

    let pids: Vec<Pid> = s.pids().into_iter().map(Pid::from_u32).collect();
    let t0 = thread_cpu();
    for _ in 0..n {
        sys.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), false, kind);
    }
    report(
        "sysinfo (refresh 5 known pids only, no discovery)",
        thread_cpu() - t0,
    );
    assert_eq!(count, 5);
}
