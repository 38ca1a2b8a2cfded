//! Telemetry against real processes and a real store: the sampler thread on a live process
//! tree, retention, and token usage from fixture-based fake agent homes and session logs.
//! Timing is never asserted beyond generous deadlines; conditions are polled.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{at, set_mtime, write, TempDir, Tree};

use agent_sessions::home::Home;
use agent_sessions::services::state_machine;
use agent_sessions::store::{self, Column, NewSession, Store};
use agent_sessions::telemetry::{
    cached_usage, enforce_retention, parse_output_log, print_mode, samples, spawn_sampler,
    telemetry_for, usage_for_with, CleanReader, PrintMode, SampleRow, SamplerConfig, StopSignal,
    UsageEnv, MAX_ROWS_PER_SESSION,
};
use agent_sessions::usage::TokenUsage;
use agent_sessions::Source;
use agent_sessions::{SessionManager, SessionRecord, State};

const DEADLINE: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------- helpers

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/usage")
        .join(name)
}

fn read(name: &str) -> String {
    fs::read_to_string(data(name)).unwrap()
}

/// A home with its store and the telemetry tables.
fn open_home(dir: &Path) -> (Home, Store) {
    let home = Home::resolve(Some(&dir.join("home"))).unwrap();
    let store = Store::open(&home).unwrap();
    (home, store)
}

/// Inserts a session row and returns its record.
fn new_session(store: &Store, id: &str, agent: &str, command: &[&str], cwd: &str) -> SessionRecord {
    state_machine::insert(
        store,
        &NewSession {
            cause: "test".into(),
            workspace_path: Some(cwd.into()),
            ..NewSession::hosted(id, agent, command)
        },
        Source::User,
        &vec![],
    )
    .unwrap();
    store.get(id).unwrap().unwrap()
}

fn set_times(store: &Store, id: &str, started: &str, ended: Option<&str>) -> SessionRecord {
    let mut up = vec![(Column::StartedAt, store::text(started))];
    if let Some(e) = ended {
        up.push((Column::EndedAt, store::text(e)));
        state_machine::apply(
            store,
            &state_machine::Change::new(id, State::Stopped, Source::Process, "test").updates(up),
        )
        .unwrap();
    } else {
        store.update(id, &up).unwrap();
    }
    store.get(id).unwrap().unwrap()
}

fn tokens(u: &TokenUsage) -> [Option<u64>; 4] {
    [
        u.tokens_input,
        u.tokens_output,
        u.tokens_cache_read,
        u.tokens_cache_write,
    ]
}

const STANDIN: [Option<u64>; 4] = [Some(1234), Some(56), Some(700), Some(300)];
const CODEX: [Option<u64>; 4] = [Some(534), Some(56), Some(700), Some(0)];
const NONE: [Option<u64>; 4] = [None, None, None, None];

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
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

fn assert_monotonic(rows: &[SampleRow]) {
    for w in rows.windows(2) {
        let (a, b) = (&w[0].sample, &w[1].sample);
        assert!(b.at_ms > a.at_ms, "{a:?} -> {b:?}");
        assert!(b.io_read_bytes >= a.io_read_bytes, "{a:?} -> {b:?}");
        assert!(b.io_write_bytes >= a.io_write_bytes, "{a:?} -> {b:?}");
        assert!(b.io_read_chars >= a.io_read_chars, "{a:?} -> {b:?}");
        assert!(b.io_write_chars >= a.io_write_chars, "{a:?} -> {b:?}");
        assert!(b.cpu_percent >= 0.0);
    }
}

// ------------------------------------------------------------------------------- sampler

#[test]
fn reopening_the_store_migrates_nothing_twice() {
    let dir = TempDir::new("schema");
    let (home, first) = open_home(dir.path());
    drop(first);
    let store = agent_sessions::store::Store::open(&home).unwrap();
    let rec = new_session(&store, "s-empty", "custom", &["true"], "/tmp");
    // a session without samples or usage: nulls, not zeros
    let t = telemetry_for(&store, &rec).unwrap();
    assert_eq!(t.sample_count, 0);
    assert_eq!(t.avg_cpu_percent, None);
    assert_eq!(t.peak_memory_rss_bytes, None);
    assert_eq!(t.last_sample, None);
    assert_eq!(t.workspace_bytes_used, None);
    assert_eq!(t.tokens_input, None);
    assert_eq!(t.cost_usd, None);
    assert_eq!(t.total_tokens(), None);
    assert!(samples(&store, "s-empty", 0, 100).unwrap().is_empty());
}

#[test]
fn sampler_records_a_real_tree_and_its_summary_survives() {
    if !python3() {
        eprintln!("python3 not available; skipped");
        return;
    }
    let dir = TempDir::new("sampler");
    let (home, store) = open_home(dir.path());
    let ws = dir.path().join("ws");
    write(&ws.join("a.bin"), vec![7u8; 100_000]);
    write(&ws.join("sub/b.bin"), vec![7u8; 23_456]);
    let id = "s-tree";
    new_session(&store, id, "custom", &["sh"], ws.to_str().unwrap());

    let tree = Tree::spawn(
        "python3 -c \"x=bytearray(40_000_000); open('/dev/null','wb').write(b'x'*5_000_000); \
         import time; time.sleep(4)\"; true",
    );
    let stop = StopSignal::new();
    let cfg = SamplerConfig {
        resource_interval: Duration::from_millis(200),
        // every 200 ms also while python sleeps: this test counts rows
        idle_interval: Duration::from_millis(200),
        workspace_interval: Duration::from_secs(1),
        flush_interval: Duration::from_millis(500),
        idle_flush_interval: Duration::from_millis(500),
        ..Default::default()
    };
    let handle = spawn_sampler(&home, id, tree.pid(), ws.clone(), cfg, stop.clone()).unwrap();

    // samples land in the database while the tree runs, with the 40 MB allocation
    let rec = store.get(id).unwrap().unwrap();
    // (the first workspace walk comes after a delay, at most the workspace interval)
    let t = poll("a flushed peak RSS of 40 MB and a workspace size", || {
        let t = telemetry_for(&store, &rec).unwrap();
        (t.peak_memory_rss_bytes.unwrap_or(0) >= 40_000_000 && t.workspace_bytes_used.is_some())
            .then_some(t)
    });
    assert!(t.sample_count >= 1);
    assert_eq!(t.workspace_bytes_used, Some(123_456));
    assert_eq!(t.workspace_complete, Some(true));
    let live = samples(&store, id, 0, 10_000).unwrap();
    assert!(!live.is_empty());
    assert!(live.iter().any(|r| r.workspace_bytes_used == Some(123_456)));

    // the tree ends by itself; the sampler notices, flushes and ends too
    poll("the sampler to end with the tree", || {
        handle.is_finished().then_some(())
    });
    handle.join().unwrap();
    stop.stop();
    drop(tree);

    // read back through a fresh connection, as after the session ended
    drop(store);
    let store = Store::open(&home).unwrap();
    let rec = set_times(
        &store,
        id,
        "2026-11-21T22:00:00.000Z",
        Some("2026-11-21T22:00:05.500Z"),
    );
    let t = telemetry_for(&store, &rec).unwrap();
    assert_eq!(t.duration_ms, Some(5_500));
    assert!(t.peak_memory_rss_bytes.unwrap() >= 40_000_000, "{t:?}");
    assert!(t.sample_count >= 10, "{t:?}");
    let avg = t.avg_cpu_percent.expect("an average over several samples");
    assert!((0.0..=400.0).contains(&avg), "{avg}");
    assert!(t.cpu_time_ms.is_some());
    let last = t.last_sample.expect("last live sample");
    assert!(last.process_count >= 1);
    assert!(t.io_read_chars.unwrap() >= last.io_read_chars);
    // python wrote 5 MB to /dev/null; totals keep it after python exited
    assert!(t.io_write_chars.unwrap() >= 5_000_000, "{t:?}");
    let rows = samples(&store, id, 0, 10_000).unwrap();
    assert_eq!(rows.len() as u64, t.sample_count, "nothing thinned yet");
    assert_monotonic(&rows);
    assert_eq!(
        rows.last().unwrap().sample.process_count,
        0,
        "final sample: tree gone"
    );
    assert!(rows.iter().any(|r| r.sample.memory_rss_bytes >= 40_000_000));
    // `since` and `limit`
    let tail = samples(&store, id, rows[2].sample.at_ms, 2).unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0], rows[2]);

    // deleting the session deletes its telemetry
    assert!(store.delete(id).unwrap());
    assert!(samples(&store, id, 0, 10).unwrap().is_empty());
    let t = telemetry_for(&store, &rec).unwrap();
    assert_eq!(t.sample_count, 0);
}

#[test]
fn stop_signal_ends_the_sampler_with_a_final_flush() {
    let dir = TempDir::new("stop");
    let (home, store) = open_home(dir.path());
    let id = "s-stop";
    let rec = new_session(&store, id, "custom", &["sleep"], "/nonexistent");
    let tree = Tree::spawn("sleep 60");
    let stop = StopSignal::new();
    // defaults: 2 s samples, 10 s flushes; the first sample is written at once
    let handle = spawn_sampler(
        &home,
        id,
        tree.pid(),
        PathBuf::from("/nonexistent/ws"),
        SamplerConfig::default(),
        stop.clone(),
    )
    .unwrap();
    poll("the first sample", || {
        (telemetry_for(&store, &rec).unwrap().sample_count >= 1).then_some(())
    });
    let t0 = Instant::now();
    stop.stop();
    handle.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10), "stop is prompt");
    let t = telemetry_for(&store, &rec).unwrap();
    assert!(t.sample_count >= 2, "final sample flushed: {t:?}");
    // a missing workspace is 0 bytes, complete
    assert_eq!(t.workspace_bytes_used, Some(0));
    assert_eq!(t.workspace_complete, Some(true));
    assert!(t.last_sample.unwrap().process_count >= 1);
    drop(tree);
}

#[test]
fn sampler_on_a_vanished_pid_records_nulls_and_ends() {
    let dir = TempDir::new("vanished");
    let (home, store) = open_home(dir.path());
    let rec = new_session(&store, "s-gone", "custom", &["x"], "/tmp");
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    let handle = spawn_sampler(
        &home,
        "s-gone",
        pid,
        dir.path().to_path_buf(),
        SamplerConfig::default(),
        StopSignal::new(),
    )
    .unwrap();
    poll("the sampler to end", || handle.is_finished().then_some(()));
    handle.join().unwrap();
    let t = telemetry_for(&store, &rec).unwrap();
    assert_eq!(t.sample_count, 1);
    assert_eq!(t.peak_memory_rss_bytes, None);
    assert_eq!(t.last_sample, None);
    assert_eq!(t.avg_cpu_percent, None);
}

// ------------------------------------------------------------------------------- retention

fn insert_rows(store: &Store, id: &str, start_ms: i64, step_ms: i64, n: i64) {
    store
        .write(|tx| {
            let mut st = tx.prepare(
                "INSERT INTO resource_samples (session_id, at_ms, cpu_percent, memory_rss_bytes,
                    memory_vsz_bytes, io_read_bytes, io_write_bytes, io_read_chars,
                    io_write_chars, process_count, workspace_bytes_used)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for i in 0..n {
                let ws: Option<i64> = (i % 15 == 0).then_some(i);
                st.execute(rusqlite::params![
                    id,
                    start_ms + i * step_ms,
                    (i % 10) as f64,
                    1_000 + (i % 7) * 100,
                    5_000,
                    i,
                    i,
                    i * 10,
                    i * 10,
                    1 + i % 3,
                    ws,
                ])?;
            }
            tx.execute(
                "INSERT INTO telemetry (session_id, sample_count) VALUES (?1, ?2)
                 ON CONFLICT(session_id) DO UPDATE SET sample_count = excluded.sample_count",
                rusqlite::params![id, n],
            )?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn retention_thins_old_samples_to_one_per_minute() {
    let dir = TempDir::new("retention");
    let (_home, store) = open_home(dir.path());
    let id = "s-ret";
    new_session(&store, id, "custom", &["x"], "/tmp");
    // 40 minutes of 2 s samples, starting on a minute boundary
    let start = 1_800_000_000_000i64;
    assert_eq!(start % 60_000, 0);
    insert_rows(&store, id, start, 2_000, 1_200);
    let newest = start + 1_199 * 2_000;
    let before = samples(&store, id, 0, 100_000).unwrap();
    enforce_retention(&store, id, newest).unwrap();
    let after = samples(&store, id, 0, 100_000).unwrap();

    let cutoff = (newest - 15 * 60_000) / 60_000 * 60_000;
    let recent_before: Vec<_> = before.iter().filter(|r| r.sample.at_ms >= cutoff).collect();
    let recent_after: Vec<_> = after.iter().filter(|r| r.sample.at_ms >= cutoff).collect();
    assert_eq!(
        recent_after, recent_before,
        "the last 15 minutes stay at full rate"
    );
    let old: Vec<_> = after.iter().filter(|r| r.sample.at_ms < cutoff).collect();
    let minutes = (cutoff - start) / 60_000;
    assert_eq!(old.len() as i64, minutes, "one row per older minute");
    assert_monotonic(&after);
    // each kept row sums up its minute
    for row in &old {
        let m = row.sample.at_ms.div_euclid(60_000);
        let group: Vec<_> = before
            .iter()
            .filter(|r| r.sample.at_ms.div_euclid(60_000) == m)
            .collect();
        assert_eq!(group.len(), 30);
        let last = group.last().unwrap();
        assert_eq!(row.sample.at_ms, last.sample.at_ms);
        assert_eq!(row.sample.io_write_chars, last.sample.io_write_chars);
        let peak = group
            .iter()
            .map(|r| r.sample.memory_rss_bytes)
            .max()
            .unwrap();
        assert_eq!(row.sample.memory_rss_bytes, peak);
        let mean = group.iter().map(|r| r.sample.cpu_percent).sum::<f64>() / 30.0;
        assert!(close(row.sample.cpu_percent, mean));
        assert_eq!(row.sample.process_count, 3);
        let ws = group.iter().rev().find_map(|r| r.workspace_bytes_used);
        assert_eq!(row.workspace_bytes_used, ws);
    }
    // running it again changes nothing
    enforce_retention(&store, id, newest).unwrap();
    assert_eq!(samples(&store, id, 0, 100_000).unwrap(), after);
}

#[test]
fn retention_caps_rows_per_session() {
    let dir = TempDir::new("cap");
    let (_home, store) = open_home(dir.path());
    let id = "s-cap";
    new_session(&store, id, "custom", &["x"], "/tmp");
    let n = MAX_ROWS_PER_SESSION as i64 + 50;
    // all within the full-rate window, so only the cap applies
    let start = 1_800_000_000_000i64;
    insert_rows(&store, id, start, 50, n);
    enforce_retention(&store, id, start + (n - 1) * 50).unwrap();
    let rows = samples(&store, id, 0, usize::MAX).unwrap();
    assert_eq!(rows.len(), MAX_ROWS_PER_SESSION);
    assert_eq!(
        rows[0].sample.at_ms,
        start + 50 * 50,
        "the oldest went first"
    );
}

// ------------------------------------------------------------------------------- tokens

const CLAUDE_SID: &str = "d51bbbc0-eb7d-413a-a6a4-93b5b853bcad";
const CODEX_THREAD: &str = "01a2004f-0b0a-7853-a87a-151d4cf74fe7";

#[test]
fn claude_transcript_by_session_id_honours_claude_config_dir() {
    let dir = TempDir::new("claude-id");
    let (home, store) = open_home(dir.path());
    let cfg = dir.path().join("claude-config");
    let transcript = cfg
        .join("projects/-tmp-ws")
        .join(format!("{CLAUDE_SID}.jsonl"));
    write(&transcript, read("claude-project-session.jsonl"));
    let id = "s-claude";
    new_session(&store, id, "claude", &["/usr/bin/claude"], "/tmp/ws");
    store
        .update(id, &vec![(Column::AgentSessionId, store::text(CLAUDE_SID))])
        .unwrap();
    let rec = set_times(
        &store,
        id,
        "2026-11-21T22:50:20.000Z",
        Some("2026-11-21T22:51:00.000Z"),
    );

    // ~/.claude holds nothing: without CLAUDE_CONFIG_DIR there is no source
    let env = UsageEnv::with_home(dir.path().join("user"));
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), NONE);
    assert_eq!(u.source, None);
    assert_eq!(u.cost_usd, None);

    // the session's own --env CLAUDE_CONFIG_DIR=... (known to its host)
    let env = env.with_overrides(&[
        ("CLAUDE_CONFIG_DIR".into(), cfg.display().to_string()),
        ("UNRELATED".into(), "x".into()),
    ]);
    assert_eq!(env.claude_dir(), cfg);
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), STANDIN);
    assert!(u.cost_estimated);
    assert!(close(u.cost_usd.unwrap(), 0.009795), "{u:?}");
    assert_eq!(
        u.source.as_deref(),
        Some("claude-transcript+price-table:2026-11-01")
    );
    assert_eq!(u.model.as_deref(), Some("claude-opus-4-8"));

    // cached with its source, readable from the summary
    let t = telemetry_for(&store, &rec).unwrap();
    assert_eq!(
        [
            t.tokens_input,
            t.tokens_output,
            t.tokens_cache_read,
            t.tokens_cache_write
        ],
        STANDIN
    );
    assert_eq!(t.total_tokens(), Some(1234 + 56 + 700 + 300));
    assert!(t.cost_estimated);
    assert_eq!(t.usage_source, u.source);
    assert_eq!(t.usage_model, u.model);
    let (cached, _) = cached_usage(&store, id).unwrap().unwrap();
    assert_eq!(cached, u);
}

#[test]
fn claude_transcript_by_folder_and_time_window() {
    let dir = TempDir::new("claude-window");
    let (home, store) = open_home(dir.path());
    let user = dir.path().join("user");
    let transcript = user.join(".claude/projects/-tmp-ws/some-other-name.jsonl");
    write(&transcript, read("claude-project-session.jsonl"));
    set_mtime(&transcript, at("2026-11-21T22:50:40Z"));
    // a transcript from the day before in the same folder is not ours
    let old = user.join(".claude/projects/-tmp-ws/old.jsonl");
    write(
        &old,
        read("claude-project-session.jsonl").replace("2026-11-21T22:", "2026-11-20T22:"),
    );
    set_mtime(&old, at("2026-11-20T22:50:40Z"));
    let env = UsageEnv::with_home(&user);

    new_session(&store, "s-win", "claude", &["claude"], "/tmp/ws");
    let rec = set_times(
        &store,
        "s-win",
        "2026-11-21T22:50:20.000Z",
        Some("2026-11-21T22:51:00.000Z"),
    );
    assert_eq!(rec.agent_session_id, None);
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), STANDIN);
    assert!(u.source.unwrap().starts_with("claude-transcript"));

    // a session that ended before the transcript began: no source
    new_session(&store, "s-early", "claude", &["claude"], "/tmp/ws");
    let rec = set_times(
        &store,
        "s-early",
        "2026-11-21T21:00:00.000Z",
        Some("2026-11-21T21:10:00.000Z"),
    );
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), NONE);
    // another folder: no source
    new_session(&store, "s-other", "claude", &["claude"], "/tmp/other");
    let rec = set_times(&store, "s-other", "2026-11-21T22:50:20.000Z", None);
    assert_eq!(
        tokens(&usage_for_with(&store, &home, &rec, &env).unwrap()),
        NONE
    );
}

#[test]
fn codex_rollout_by_thread_id_and_by_window_honours_codex_home() {
    let dir = TempDir::new("codex");
    let (home, store) = open_home(dir.path());
    let codex_home = dir.path().join("codex-home");
    let file = codex_home
        .join("sessions/2026/11/21")
        .join(format!("rollout-2026-11-21T22-51-49-{CODEX_THREAD}.jsonl"));
    write(&file, read("codex-rollout.jsonl"));
    set_mtime(&file, at("2026-11-21T22:51:54.180Z"));
    let mut env = UsageEnv::with_home(dir.path().join("user"));
    env.codex_home = Some(codex_home);

    new_session(&store, "s-codex", "codex", &["/opt/bin/codex"], "/tmp/ws");
    let rec = set_times(
        &store,
        "s-codex",
        "2026-11-21T22:51:48.000Z",
        Some("2026-11-21T22:52:30.000Z"),
    );
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), CODEX);
    assert_eq!(u.model.as_deref(), Some("gpt-5-codex"));
    assert!(u.cost_estimated);
    assert!(close(u.cost_usd.unwrap(), 0.001315), "{u:?}");
    assert_eq!(
        u.source.as_deref(),
        Some("codex-rollout+price-table:2026-11-01")
    );

    let mut by_id = rec.clone();
    by_id.agent_session_id = Some(CODEX_THREAD.into());
    by_id.workspace_path = Some("/somewhere/else".into());
    assert_eq!(
        tokens(&usage_for_with(&store, &home, &by_id, &env).unwrap()),
        CODEX
    );
    // a known thread id that has no rollout: no guessing by folder
    by_id.agent_session_id = Some("no-such-thread".into());
    by_id.workspace_path = Some("/tmp/ws".into());
    assert_eq!(
        tokens(&usage_for_with(&store, &home, &by_id, &env).unwrap()),
        NONE
    );
    // a session that ended before the rollout began
    let mut early = rec.clone();
    early.started_at = Some("2026-11-21T22:40:00.000Z".into());
    early.ended_at = Some("2026-11-21T22:45:00.000Z".into());
    assert_eq!(
        tokens(&usage_for_with(&store, &home, &early, &env).unwrap()),
        NONE
    );
}

/// What the PTY makes of a program's output: `\n` becomes `\r\n`, with terminal set-up
/// sequences around it.
fn pty_bytes(text: &str) -> Vec<u8> {
    let mut out = b"\x1b[?25l\x1b]0;claude\x07".to_vec();
    out.extend_from_slice(text.replace('\n', "\r\n").as_bytes());
    out.extend_from_slice(b"\x1b[?25h\x1b[0m\r\n");
    out
}

#[test]
fn print_mode_reads_the_session_log() {
    let dir = TempDir::new("print");
    let (home, store) = open_home(dir.path());
    let env = UsageEnv::with_home(dir.path().join("nobody"));
    let log = |id: &str, bytes: &[u8]| {
        let d = home.create_session_dir(id).unwrap();
        write(&d.join("output.log"), bytes);
    };

    // claude -p --output-format json: the agent's own cost, kept
    let rec = new_session(
        &store,
        "s-pj",
        "claude",
        &[
            "/usr/bin/claude",
            "--session-id",
            CLAUDE_SID,
            "-p",
            "--output-format",
            "json",
            "write a haiku",
        ],
        "/tmp/ws",
    );
    assert_eq!(print_mode(&rec), Some(PrintMode::ClaudeJson));
    log("s-pj", &pty_bytes(&read("claude-print-json.json")));
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), STANDIN);
    assert_eq!(u.cost_usd, Some(0.009795));
    assert!(!u.cost_estimated);
    assert_eq!(u.source.as_deref(), Some("claude-print-json"));
    assert_eq!(u.skipped_lines, 0);

    // stream-json, with --output-format=stream-json spelling
    let rec = new_session(
        &store,
        "s-ps",
        "claude",
        &[
            "claude",
            "--print",
            "--output-format=stream-json",
            "--verbose",
            "hi",
        ],
        "/tmp/ws",
    );
    assert_eq!(print_mode(&rec), Some(PrintMode::ClaudeStreamJson));
    log("s-ps", &pty_bytes(&read("claude-print-stream-json.jsonl")));
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), STANDIN);
    assert_eq!(u.cost_usd, Some(0.009795));
    assert_eq!(u.source.as_deref(), Some("claude-stream-json"));

    // codex exec --json under a custom type: no model, so no cost
    let rec = new_session(
        &store,
        "s-cx",
        "custom",
        &["/home/u/bin/codex", "exec", "--json", "hello"],
        "/tmp/ws",
    );
    assert_eq!(print_mode(&rec), Some(PrintMode::CodexExecJson));
    log("s-cx", &pty_bytes(&read("codex-exec-json.jsonl")));
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), CODEX);
    assert_eq!(u.cost_usd, None);
    assert_eq!(u.source.as_deref(), Some("codex-exec-json"));

    // gemini -o json
    let gemini_doc = "{\"response\":\"hi\",\"stats\":{\"models\":{\"gemini-2.5-pro\":{\"tokens\":\
        {\"prompt\":1000,\"candidates\":20,\"cached\":400,\"thoughts\":5,\"tool\":0}}}}}\n";
    let rec = new_session(
        &store,
        "s-gm",
        "gemini",
        &["gemini", "-p", "hi", "-o", "json"],
        "/tmp/ws",
    );
    assert_eq!(print_mode(&rec), Some(PrintMode::GeminiJson));
    log("s-gm", &pty_bytes(gemini_doc));
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), [Some(600), Some(25), Some(400), None]);
    assert!(u.cost_estimated);
    assert_eq!(
        u.source.as_deref(),
        Some("gemini-json+price-table:2026-11-01")
    );

    // opencode run --format json
    let oc = "{\"type\":\"step_finish\",\"part\":{\"type\":\"step-finish\",\"cost\":0.5,\
        \"tokens\":{\"input\":10,\"output\":20,\"reasoning\":1,\"cache\":{\"read\":30,\"write\":40}}}}\n";
    let rec = new_session(
        &store,
        "s-oc",
        "opencode",
        &["opencode", "run", "--format", "json", "hi"],
        "/tmp/ws",
    );
    assert_eq!(print_mode(&rec), Some(PrintMode::OpencodeRunJson));
    log("s-oc", &pty_bytes(oc));
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), [Some(10), Some(21), Some(30), Some(40)]);
    assert_eq!(u.cost_usd, Some(0.5));

    // interactive modes are not print modes
    for cmd in [
        &["claude", "--output-format", "json"][..],
        &["claude", "-p", "hi"][..],
        &["codex", "--json"][..],
        &["opencode", "run", "hi"][..],
        &["sh", "-p", "--output-format", "json"][..],
    ] {
        let mut r = rec.clone();
        r.agent_type = Some("custom".into());
        r.command = cmd.iter().map(|s| s.to_string()).collect();
        assert_eq!(print_mode(&r), None, "{cmd:?}");
    }
}

#[test]
fn print_mode_without_a_result_falls_back_to_the_transcript() {
    let dir = TempDir::new("fallback");
    let (home, store) = open_home(dir.path());
    let cfg = dir.path().join("cfg");
    write(
        &cfg.join("projects/-tmp-ws")
            .join(format!("{CLAUDE_SID}.jsonl")),
        read("claude-project-session.jsonl"),
    );
    let mut env = UsageEnv::with_home(dir.path().join("user"));
    env.claude_config_dir = Some(cfg);
    let rec = new_session(
        &store,
        "s-fb",
        "claude",
        &["claude", "-p", "--output-format", "json", "x"],
        "/tmp/ws",
    );
    store
        .update(
            "s-fb",
            &vec![(Column::AgentSessionId, store::text(CLAUDE_SID))],
        )
        .unwrap();
    let rec = SessionRecord {
        agent_session_id: Some(CLAUDE_SID.into()),
        ..rec
    };
    // killed before printing anything but noise; and then no log at all
    let d = home.create_session_dir("s-fb").unwrap();
    write(
        &d.join("output.log"),
        b"\x1b[?25lloading...\r\n{\"type\":\"res",
    );
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), STANDIN);
    assert!(u.source.unwrap().starts_with("claude-transcript"));
    fs::remove_file(d.join("output.log")).unwrap();
    let u = usage_for_with(&store, &home, &rec, &env).unwrap();
    assert_eq!(tokens(&u), STANDIN);
}

#[test]
fn no_source_gives_nulls() {
    let dir = TempDir::new("nosource");
    let (home, store) = open_home(dir.path());
    let env = UsageEnv::with_home(dir.path().join("user"));
    for (id, agent, cmd) in [
        ("s-n1", "custom", "bash"),
        ("s-n2", "claude", "claude"),
        ("s-n3", "codex", "codex"),
        ("s-n4", "gemini", "gemini"),
        ("s-n5", "opencode", "opencode"),
    ] {
        let rec = new_session(&store, id, agent, &[cmd], "/tmp/ws");
        let u = usage_for_with(&store, &home, &rec, &env).unwrap();
        assert_eq!(u, TokenUsage::default(), "{agent}");
        let t = telemetry_for(&store, &rec).unwrap();
        assert_eq!(t.total_tokens(), None);
        assert_eq!(t.cost_usd, None);
        assert_eq!(t.usage_source, None);
        assert!(t.usage_at_ms.is_some(), "the absence is cached too");
    }
}

#[test]
fn session_usage_through_a_manager_is_cached() {
    let dir = TempDir::new("mgr");
    let mgr = SessionManager::open(Some(&dir.path().join("home"))).unwrap();
    let rec = mgr
        .with_store(|s| {
            Ok(new_session(
                s,
                "s-mgr",
                "claude",
                &["claude", "-p", "--output-format", "json", "x"],
                // a folder no real Claude Code transcript can be for (the real env is used)
                dir.path().to_str().unwrap(),
            ))
        })
        .unwrap();
    let d = mgr.home().create_session_dir("s-mgr").unwrap();
    write(
        &d.join("output.log"),
        pty_bytes(&read("claude-print-json.json")),
    );
    let u = mgr
        .usage_with_max_age("s-mgr", Duration::from_secs(3600))
        .unwrap()
        .figures;
    assert_eq!(tokens(&u), STANDIN);
    // while cached and fresh, the log is not read again
    fs::remove_file(d.join("output.log")).unwrap();
    let u2 = mgr
        .usage_with_max_age("s-mgr", Duration::from_secs(3600))
        .unwrap()
        .figures;
    assert_eq!(u2, u);
    let t = mgr
        .telemetry_of(&rec, Duration::from_secs(3600))
        .unwrap()
        .figures;
    assert_eq!(t.cost_usd, Some(0.009795));
    // stale: recomputed (now without a log: no source)
    let u3 = mgr.usage("s-mgr").unwrap().figures;
    assert_eq!(tokens(&u3), NONE);
}

#[test]
fn clean_reader_strips_sequences_split_across_reads() {
    /// Hands out one byte per read.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.split_first() {
                Some((b, rest)) if !buf.is_empty() => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }
    let input = b"\x1b[1;32m{\"a\":\x1b]8;;http://x\x1b\\1}\x1b(B\r\n\x1bPq#0\x1b\\\x07\x08[\xc3\xa9]\x1b7\r\n";
    let mut out = Vec::new();
    CleanReader::new(Trickle(input))
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, "{\"a\":1}\n[é]\n".as_bytes());
    let mut out2 = Vec::new();
    CleanReader::new(&input[..]).read_to_end(&mut out2).unwrap();
    assert_eq!(out2, out);
    // a missing log is no source, not an error
    assert!(
        parse_output_log(Path::new("/nonexistent/output.log"), PrintMode::ClaudeJson)
            .unwrap()
            .is_none()
    );
}
