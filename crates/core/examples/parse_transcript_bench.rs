//! Throughput of `claude_transcript_usage` on a ~100 MB Claude Code transcript built by
//! repeating the captured fixture's lines (each repetition's assistant message gets a unique
//! id, so every copy counts).
//!
//! `cargo run --release -p agent-sessions --example parse_transcript_bench [-- <MB>]`

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use agent_sessions::usage::claude_transcript_usage;

const FIXTURE: &str = include_str!("../tests/data/usage/claude-project-session.jsonl");
const FIXTURE_MSG_ID: &str = "msg_758e4abf62a245a6b1ee";

fn main() {
    let target_mb: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let target = target_mb * 1_000_000;
    let path = std::env::temp_dir().join(format!(
        "parse-transcript-bench-{}.jsonl",
        std::process::id()
    ));

    let mut w = BufWriter::with_capacity(1 << 20, File::create(&path).expect("create"));
    let mut written = 0u64;
    let mut reps = 0u64;
    while written < target {
        for line in FIXTURE.lines() {
            let line = if line.contains(FIXTURE_MSG_ID) {
                line.replace(FIXTURE_MSG_ID, &format!("msg_bench_{reps:012}"))
            } else {
                line.to_string()
            };
            w.write_all(line.as_bytes()).expect("write");
            w.write_all(b"\n").expect("write");
            written += line.len() as u64 + 1;
        }
        reps += 1;
    }
    w.flush().expect("flush");
    drop(w);

    // one warm-up pass (page cache), then timed passes
    let _ = claude_transcript_usage(&path);
    let mut best = f64::MAX;
    let mut usage = None;
    for _ in 0..3 {
        let t = Instant::now();
        usage = claude_transcript_usage(&path).expect("parse");
        best = best.min(t.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_file(&path);

    let u = usage.expect("file exists");
    assert_eq!(
        u.tokens_input,
        Some(1234 * reps),
        "each message counted once"
    );
    assert_eq!(u.tokens_output, Some(56 * reps));
    assert_eq!(u.skipped_lines, 0);
    let mb = written as f64 / 1e6;
    println!(
        "parsed {mb:.1} MB ({} lines, {reps} assistant messages) in {:.3} s: {:.0} MB/s",
        reps * FIXTURE.lines().count() as u64,
        best,
        mb / best
    );
}
