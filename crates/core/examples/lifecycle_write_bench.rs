//! Times the lifecycle writes in the core alone (no Python), for profiling them:
//!
//!     cargo run --release -p agent-sessions --example lifecycle_write_bench -- [N] [DIR] [files]
//!
//! Creates N sessions, then updates each one's phase, then finalizes each, in a fresh home
//! under DIR (default: the temp dir), and prints the median and p90 of each call. `files`
//! mirrors every write into state.json, like `AgentSession(base_path)`.

use agent_sessions::lifecycle::{Lifecycle, NewLifecycle};
use serde_json::{json, Map, Value};
use std::time::Instant;

fn stats(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = v[v.len() / 2];
    let p90 = v[v.len() * 9 / 10];
    println!(
        "{name:32} median {med:.4} ms  p90 {p90:.4} ms  (n={})",
        v.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let base = args
        .get(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let files = args.get(3).is_some_and(|s| s == "files");
    let dir = base.join(format!("lc-bench-{}", std::process::id()));
    let lc = Lifecycle::open_with(Some(&dir), files).expect("open");
    let mut meta = Map::new();
    meta.insert("task_id".into(), json!("T001"));
    meta.insert("tags".into(), json!(["terraform", "infrastructure"]));
    let new = NewLifecycle {
        agent_id: None,
        agent_name: Value::String("a".into()),
        purpose: Value::String("p".into()),
        metadata: meta,
    };
    let time = |f: &mut dyn FnMut(usize)| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let t = Instant::now();
                f(i);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect()
    };
    let mut ids = Vec::new();
    stats(
        "create_session",
        time(&mut |_| ids.push(lc.create_session(&new).expect("create"))),
    );
    let phases = ["investigating", "planning", "approval", "executing"];
    stats(
        "update_state(phase, metadata)",
        time(&mut |i| {
            let mut m = Map::new();
            m.insert("k".into(), json!(i));
            lc.update_state(&ids[i], Some(phases[i % 4]), Some(&m), None)
                .expect("update");
        }),
    );
    stats(
        "finalize_session",
        time(&mut |i| {
            lc.finalize_session(&ids[i], "completed", Some(json!("done")))
                .expect("finalize");
        }),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
