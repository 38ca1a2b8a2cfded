//! CPU and memory cost of the telemetry samplers, in-process.
//!
//! Starts N small fake agents (`sh -c 'sleep & sleep & wait'`: three processes, each its own
//! session like an agent under a PTY), runs one sampler thread per agent at the default
//! intervals (2 s resources, 30 s workspace, 10 s flush) against a temporary home, and
//! measures this process' CPU time (`getrusage(RUSAGE_SELF)`: only the samplers work) over
//! the wall time, and its RSS growth. Each phase includes the samplers' start (first sample,
//! first workspace walk, first flush) and their stop (last sample, final flush).
//!
//! `cargo run --release -p agent-sessions --example telemetry_bench -- [--secs 60] [--n 10]
//! [--many 200]`

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agent_sessions::home::Home;
use agent_sessions::store::{NewSession, Store};
use agent_sessions::telemetry::{samples, spawn_sampler, telemetry_for, SamplerConfig, StopSignal};

fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn spawn_agent() -> Child {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("sleep 100000 & sleep 100000 & wait")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn().expect("spawn sh")
}

struct Phase {
    n: usize,
    wall: f64,
    cpu: f64,
    rss_growth: u64,
    samples_per_session: f64,
}

fn phase(root: &Path, tag: &str, n: usize, secs: u64) -> Phase {
    let home = Home::resolve(Some(&root.join(format!("home-{tag}")))).expect("home");
    let store = Store::open(&home).expect("store");
    // a small project: 200 files in 10 folders
    let ws = root.join(format!("ws-{tag}"));
    for d in 0..10 {
        let dir = ws.join(format!("d{d}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..20 {
            std::fs::write(dir.join(format!("f{f}.txt")), vec![b'x'; 1000]).expect("write");
        }
    }
    let mut agents = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("bench-{tag}-{i}");
        agent_sessions::services::state_machine::insert(
            &store,
            &NewSession {
                cause: "bench".into(),
                workspace_path: Some(ws.display().to_string()),
                cols: 80,
                rows: 24,
                ..NewSession::hosted(&id, "custom", &["sh"])
            },
            agent_sessions::Source::User,
            &vec![],
        )
        .expect("insert");
        agents.push((id, spawn_agent()));
    }
    // let the trees form (the shells start their sleeps)
    std::thread::sleep(Duration::from_millis(500));

    let stop = StopSignal::new();
    let rss0 = rss_bytes();
    let cpu0 = cpu_secs();
    let t0 = Instant::now();
    let handles: Vec<_> = agents
        .iter()
        .map(|(id, child)| {
            spawn_sampler(
                &home,
                id,
                child.id(),
                ws.clone(),
                SamplerConfig::default(),
                stop.clone(),
            )
            .expect("sampler thread")
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    let rss1 = rss_bytes();
    stop.stop();
    for h in handles {
        h.join().expect("sampler thread");
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;

    let mut total_samples = 0u64;
    for (id, _) in &agents {
        let rec = store.get(id).expect("get").expect("record");
        let t = telemetry_for(&store, &rec).expect("telemetry");
        assert!(t.peak_memory_rss_bytes.is_some(), "{id} was sampled");
        assert_eq!(t.workspace_bytes_used, Some(200_000));
        total_samples += samples(&store, id, 0, usize::MAX).expect("samples").len() as u64;
    }
    for (_, mut child) in agents {
        // SAFETY: the group of the session leader this bench started.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
    }
    Phase {
        n,
        wall,
        cpu,
        rss_growth: rss1.saturating_sub(rss0),
        samples_per_session: total_samples as f64 / n as f64,
    }
}

fn report(name: &str, p: &Phase) {
    let per_core_pct = p.cpu / p.wall * 100.0;
    println!(
        "{name}: {} sessions, {:.1} s: sampler CPU {:.3} s = {:.3} % of one core in total, \
         {:.4} % per session (goal < 0.2 %); RSS growth {:.1} MB ({:.0} KB per session); \
         {:.1} samples stored per session",
        p.n,
        p.wall,
        p.cpu,
        per_core_pct,
        per_core_pct / p.n as f64,
        p.rss_growth as f64 / 1e6,
        p.rss_growth as f64 / 1e3 / p.n as f64,
        p.samples_per_session,
    );
}

fn main() {
    let mut secs = 60u64;
    let mut n = 10usize;
    let mut many = 200usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().and_then(|v| v.parse::<u64>().ok());
        match (a.as_str(), v) {
            ("--secs", Some(v)) => secs = v,
            ("--n", Some(v)) => n = v as usize,
            ("--many", Some(v)) => many = v as usize,
            _ => {
                eprintln!("usage: telemetry_bench [--secs S] [--n N] [--many M]");
                std::process::exit(2);
            }
        }
    }
    let root = std::env::temp_dir().join(format!("telemetry-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("temp dir");
    println!(
        "machine: {} cores; defaults: {:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        SamplerConfig::default()
    );
    if n > 0 {
        let p = phase(&root, "cost", n, secs);
        report("per-session cost", &p);
    }
    if many > 0 {
        let p = phase(&root, "many", many, secs);
        report("many sessions", &p);
    }
    let _ = std::fs::remove_dir_all(&root);
}
