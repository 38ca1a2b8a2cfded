//! `subagent_stop` on Claude Code's `SubagentStop`: Claude Code appends the subagent's last
//! message to its transcript only after it ran the hook, so the hook waits for it.

mod common;

use agent_sessions::lifecycle::hooks::{run_hook, Hook, HookOptions};
use agent_sessions::lifecycle::{Lifecycle, ResumePolicy};
use common::TempDir;
use serde_json::{json, Value};
use std::fs::{File, FileTimes, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

fn opts(home: &Path) -> HookOptions {
    HookOptions {
        home: Some(home.to_path_buf()),
        log_path: Some(home.join("hooks.log")),
        policy: ResumePolicy::default(),
    }
}

fn hook(home: &Path, h: Hook, input: &Value) -> Value {
    serde_json::from_str(&run_hook(h, input.to_string().as_bytes(), &opts(home))).unwrap()
}

/// Transcript lines in Claude Code's format (as in shared/fixtures/agents/transcripts).
fn line(kind: &str, message: Value) -> String {
    let mut v = json!({
        "parentUuid": null, "isSidechain": true, "type": kind, "message": message,
        "uuid": format!("u-{}", rand()), "timestamp": "2026-11-21T22:50:36.118Z",
        "userType": "external", "entrypoint": "cli", "cwd": "/tmp/ws",
        "sessionId": "claude-7", "version": "2.1.197", "gitBranch": "HEAD",
    });
    if kind == "user" {
        v["promptId"] = json!("p-1");
    }
    format!("{v}\n")
}

fn rand() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

fn assistant(id: &str, stop: &str, usage: [u64; 4]) -> String {
    line(
        "assistant",
        json!({
            "id": id, "type": "message", "role": "assistant", "model": "claude-opus-4-8",
            "content": [{"type": "text", "text": "MOCK-REPLY"}],
            "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1],
                      "cache_read_input_tokens": usage[2],
                      "cache_creation_input_tokens": usage[3], "service_tier": "standard"},
        }),
    )
}

/// A transcript that has been written but not read yet: its access time is set a day before
/// its modification time, so the first read moves it (relatime) and the writer can tell.
fn start_transcript(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("agent-7.jsonl");
    std::fs::write(&p, text).unwrap();
    let m = std::fs::metadata(&p).unwrap().modified().unwrap();
    File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_times(
            FileTimes::new()
                .set_accessed(m - Duration::from_secs(86_400))
                .set_modified(m),
        )
        .unwrap();
    p
}

/// Appends `text` once the hook has read the transcript (or after 1 s where access times are
/// not kept), plus Claude Code's lag: the race of the real CLI, made certain.
fn append_after_first_read(path: PathBuf, text: String) -> std::thread::JoinHandle<()> {
    let atime = |p: &Path| std::fs::metadata(p).unwrap().accessed().unwrap();
    let before: SystemTime = atime(&path);
    std::thread::spawn(move || {
        let start = Instant::now();
        while atime(&path) == before && start.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(2));
        }
        // Not a wait for a condition: this is the writer being late, as Claude Code is.
        std::thread::sleep(Duration::from_millis(150));
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    })
}

fn claude_pre(home: &Path) -> String {
    hook(
        home,
        Hook::PreDelegate,
        &json!({"session_id": "claude-7", "hook_event_name": "PreToolUse", "tool_name": "Task",
                "tool_input": {"description": "Fix it", "prompt": "Fix it",
                               "subagent_type": "gitops-operator"}}),
    );
    let lc = Lifecycle::open(Some(home)).unwrap();
    lc.find_latest(Some("gitops-operator"), &[], true)
        .unwrap()
        .expect("PreToolUse created a session")
}

fn stop_input(transcript: &Path) -> Value {
    json!({"session_id": "claude-7", "transcript_path": "/tmp/main.jsonl",
           "hook_event_name": "SubagentStop", "stop_hook_active": false,
           "agent_id": "a7", "agent_type": "gitops-operator",
           "agent_transcript_path": transcript, "last_assistant_message": "MOCK-REPLY"})
}

fn doc(home: &Path, id: &str) -> Value {
    let lc = Lifecycle::open(Some(home)).unwrap();
    let d = lc.get_session(id).unwrap().unwrap();
    Value::Object(d.into_fields().into_iter().collect())
}

fn tokens(d: &Value) -> [Value; 4] {
    let u = &d["usage"];
    [
        u["tokens_input"].clone(),
        u["tokens_output"].clone(),
        u["tokens_cache_read"].clone(),
        u["tokens_cache_write"].clone(),
    ]
}

#[test]
fn subagent_stop_waits_for_the_last_message() {
    let dir = TempDir::new("usage-wait");
    let id = claude_pre(dir.path());
    // The subagent called a tool (usage so far: msg_1) and got its result; its final answer
    // (msg_2) is appended after the hook started.
    let mut text = line("user", json!({"role": "user", "content": "Fix it"}));
    text += &assistant("msg_1", "tool_use", [10, 5, 100, 20]);
    text += &line(
        "user",
        json!({"role": "user", "content": [{"type": "tool_result", "content": "ok"}]}),
    );
    let path = start_transcript(dir.path(), &text);
    let writer = append_after_first_read(
        path.clone(),
        assistant("msg_2", "end_turn", [1234, 56, 700, 300]),
    );
    let answer = hook(dir.path(), Hook::SubagentStop, &stop_input(&path));
    writer.join().unwrap();
    assert_eq!(answer, json!({}));
    let d = doc(dir.path(), &id);
    assert_eq!(d["phase"], "completed");
    assert_eq!(tokens(&d), [json!(1244), json!(61), json!(800), json!(320)]);
    assert!(d.get("usage_note").is_none(), "{d}");
}

#[test]
fn subagent_stop_notes_a_transcript_without_usage() {
    let dir = TempDir::new("usage-none");
    let id = claude_pre(dir.path());
    let path = start_transcript(
        dir.path(),
        &line("user", json!({"role": "user", "content": "Fix it"})),
    );
    let answer = hook(dir.path(), Hook::SubagentStop, &stop_input(&path));
    assert_eq!(answer, json!({}));
    let d = doc(dir.path(), &id);
    assert_eq!(d["phase"], "completed");
    assert!(d.get("usage").is_none(), "{d}");
    let note = d["usage_note"].as_str().expect("a usage note");
    assert!(note.contains("no assistant message with usage"), "{note}");
    let log = std::fs::read_to_string(dir.path().join("hooks.log")).unwrap();
    assert!(log.contains("no assistant message with usage"), "{log}");

    // Fed again once the transcript is complete, the usage is recorded and the note goes.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(assistant("msg_1", "end_turn", [1234, 56, 700, 300]).as_bytes())
        .unwrap();
    hook(dir.path(), Hook::SubagentStop, &stop_input(&path));
    let d = doc(dir.path(), &id);
    assert_eq!(tokens(&d), [json!(1234), json!(56), json!(700), json!(300)]);
    assert_eq!(d["usage_note"], Value::Null);
}
