//! `snapshot` and `restore` through the real CLI binary: a real git repository with
//! tracked, untracked and ignored files; the fake Claude keeps its transcript like the real
//! one; the restored workspace is compared file by file with the original; the agent
//! resumes on the copied conversation even after its own transcript was deleted; and bad
//! input (missing sessions and snapshots, a workspace over the cap, a non-empty target, a
//! damaged archive) is refused with nothing half made.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const FAKE_ARGS: &[&str] = &["--reply-delay", "0.3"];

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `ws` a repository: committed files, an untracked one, ignored ones (a folder and
/// a pattern), a nested folder and an executable script.
fn make_repo(ws: &Path) {
    std::fs::create_dir_all(ws.join("src/deep")).unwrap();
    git(ws, &["init", "-q", "-b", "main"]);
    git(ws, &["config", "user.email", "tests@example.invalid"]);
    git(ws, &["config", "user.name", "Tests"]);
    git(ws, &["config", "commit.gpgsign", "false"]);
    std::fs::write(ws.join("README.md"), "# project\n").unwrap();
    std::fs::write(ws.join("src/deep/lib.rs"), "pub fn f() {}\n").unwrap();
    std::fs::write(ws.join(".gitignore"), "target/\n*.log\n").unwrap();
    std::fs::write(ws.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(ws.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    git(ws, &["add", "."]);
    git(ws, &["commit", "-q", "-m", "first"]);
    std::fs::write(ws.join("notes.txt"), "untracked but kept\n").unwrap();
    std::fs::write(ws.join("src/deep/lib.rs"), "pub fn f() { /* changed */ }\n").unwrap();
    std::fs::create_dir_all(ws.join("target")).unwrap();
    std::fs::write(ws.join("target/big.o"), vec![7u8; 4096]).unwrap();
    std::fs::write(ws.join("debug.log"), "ignored\n").unwrap();
}

/// Every file under `dir` (relative path → content), `.git` left out.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Runs `restore ARGS...`, requires success; returns the new session's id and what it said
/// on stderr (whether it resumed, and why not).
fn restore(cli: &impl Cli, args: &[&str]) -> (String, String) {
    let out = cli.run(&[&["restore"], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    (id, String::from_utf8(out.stderr).unwrap())
}

fn snapshot_dirs(env: &Env) -> Vec<PathBuf> {
    match std::fs::read_dir(env.home().join(".snapshots")) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn session_count(env: &Env) -> usize {
    json(&env.ok(&["ls", "--json"])).as_array().unwrap().len()
}

#[test]
fn a_claude_snapshot_restores_the_workspace_and_resumes_the_copied_conversation() {
    let a = AgentEnv::new(FAKE_ARGS);
    let ws = a.workspace();
    make_repo(&ws);
    let id = a.start("claude", &[]);
    a.wait_state(&id, "waiting_input");
    a.ok(&["send", &id, "first question"]);
    a.wait_screen(&id, "MOCK-REPLY to: first question");
    a.wait_state(&id, "waiting_input");
    let asid = a.record(&id)["agent_session_id"]
        .as_str()
        .unwrap()
        .to_string();

    let snap = json(&a.ok(&["snapshot", &id, "--name", "before-change", "--json"]));
    let snap_id = snap["snapshot_id"].as_str().unwrap().to_string();
    assert!(snap_id.starts_with("snap-"), "{snap}");
    assert_eq!(snap["session_id"], id.as_str());
    let ws_info = &snap["workspace"];
    // .gitignore, README.md, notes.txt, run.sh, src/deep/lib.rs: not target/ nor *.log
    assert_eq!(ws_info["files"], 5, "{snap}");
    assert_eq!(
        ws_info["git_head"].as_str().map(str::len),
        Some(40),
        "{snap}"
    );
    let conv = &snap["conversation"];
    assert_eq!(conv["agent_session_id"], asid.as_str(), "{snap}");
    assert_eq!(conv["file"], format!("{asid}.jsonl"), "{snap}");
    assert!(snap["events"].as_u64().unwrap() >= 3, "{snap}");
    assert!(snap["messages"].as_u64().unwrap() >= 2, "{snap}");
    let events: Vec<Value> = a.ok(&["events", &id, "--json"]).lines().map(json).collect();
    assert!(events
        .iter()
        .any(|e| e["kind"] == "snapshot" && e["data"]["snapshot_id"] == snap_id.as_str()));

    // What the snapshot holds, as files anyone can read.
    let dir = PathBuf::from(snap["path"].as_str().unwrap());
    for f in [
        "snapshot.json",
        "record.json",
        "events.json",
        "history.json",
        "output.log",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
    let history = json(&std::fs::read_to_string(dir.join("history.json")).unwrap());
    assert_eq!(history[0]["text"], "first question", "{history}");

    // The agent's own cleanup deletes the transcript; the session ends.
    a.ok(&["stop", &id]);
    let original_transcript = PathBuf::from(conv["original_path"].as_str().unwrap());
    let saved = std::fs::read(&original_transcript).unwrap();
    std::fs::remove_file(&original_transcript).unwrap();

    // The agent's own folders keep their modes (a restore adds a file, nothing else).
    use std::os::unix::fs::PermissionsExt;
    let projects = a.claude_config_dir().join("projects");
    std::fs::set_permissions(&projects, std::fs::Permissions::from_mode(0o755)).unwrap();
    let target = a.dir.path().join("restored-here");
    let (new_id, note) = restore(&a, &["before-change", "--cwd", target.to_str().unwrap()]);
    assert!(note.contains("resumed"), "{note}");
    assert_ne!(new_id, id);

    // The workspace, file by file: the same as the original minus what git ignores.
    let expected: Vec<(String, Vec<u8>)> = files_of(&ws)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("target/") && !p.ends_with(".log"))
        .collect();
    assert_eq!(files_of(&target), expected);
    let projects_mode = std::fs::metadata(&projects).unwrap().permissions().mode();
    assert_eq!(
        projects_mode & 0o777,
        0o755,
        "the agent's folder is left as it was"
    );
    let mode = std::fs::metadata(target.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "the script stays executable");

    // The agent runs there on the copied conversation.
    a.wait_state(&new_id, "waiting_input");
    let screen = a.screen(&new_id);
    assert!(
        screen.contains("first question") && screen.contains("MOCK-REPLY to: first question"),
        "the restored agent shows the earlier exchange:\n{screen}"
    );
    let rec = a.record(&new_id);
    assert_eq!(
        rec["restored_from"]["snapshot_id"],
        snap_id.as_str(),
        "{rec}"
    );
    assert_eq!(rec["restored_from"]["session_id"], id.as_str(), "{rec}");
    assert_eq!(rec["restored_from"]["resumed"], true, "{rec}");
    // A conversation of its own, forked from the snapshot's: the origin's is never resumed
    // (it may have gone on since) nor touched.
    let fork = rec["agent_session_id"].as_str().unwrap().to_string();
    assert_ne!(fork, asid, "{rec}");
    assert_eq!(
        rec["workspace_path"].as_str().map(PathBuf::from),
        Some(target.canonicalize().unwrap())
    );
    let argv: Vec<String> = rec["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let at = argv.iter().position(|a| a == "--resume").expect("--resume");
    assert_eq!(argv[at + 1], fork);
    // The copy was put where Claude looks for the restored folder's project, under the new
    // id, with the new id in its lines; the deleted original was not recreated.
    let named = |id: &str| -> Vec<PathBuf> {
        walk(&a.claude_config_dir())
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n == format!("{id}.jsonl").as_str())
            })
            .collect()
    };
    assert!(named(&asid).is_empty(), "{:?}", named(&asid));
    let placed = named(&fork);
    assert_eq!(placed.len(), 1, "{placed:?}");
    let text = std::fs::read_to_string(&placed[0]).unwrap();
    let saved = String::from_utf8(saved).unwrap();
    let saved_lines = saved.lines().count();
    assert!(text.lines().count() >= saved_lines, "{text}");
    for (line, old) in text.lines().zip(saved.lines()) {
        let (v, o): (Value, Value) = (json(line), json(old));
        if o.get("sessionId").is_some() {
            assert_eq!(v["sessionId"], fork.as_str(), "{line}");
        }
        assert_eq!(
            v.get("message"),
            o.get("message"),
            "the messages are the same"
        );
    }
    let shown = a.ok(&["show", &new_id]);
    assert!(
        shown.contains("restored_from") && shown.contains("conversation resumed"),
        "{shown}"
    );

    // ls / show / rm
    let list = json(&a.ok(&["snapshot", "ls", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let shown = a.ok(&["snapshot", "show", "before-change"]);
    assert!(
        shown.contains(&snap_id) && shown.contains("5 files"),
        "{shown}"
    );
    let table = a.ok(&["snapshot", "ls"]);
    assert!(table.contains("before-change"), "{table}");
    a.ok(&["stop", &new_id]);
    // Removing the session keeps its snapshots; removing the snapshot removes its files.
    a.ok(&["rm", &id]);
    assert_eq!(
        json(&a.ok(&["snapshot", "ls", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    a.ok(&["snapshot", "rm", &snap_id]);
    assert!(!dir.exists());
    assert_eq!(a.ok(&["snapshot", "ls", "--json"]).trim(), "[]");
    a.stop_all();
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn bad_input_is_refused_and_nothing_is_half_made() {
    let env = Env::new();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("data.bin"), vec![1u8; 64 * 1024]).unwrap();
    let id = env.start_fake_with(&["--cwd", ws.path().to_str().unwrap()], &[]);
    env.wait_state(&id, "waiting_input");

    let err = env.fails(&["snapshot", "agent-20990101-000000-00000000"], 3);
    assert!(err.contains("no session"), "{err}");
    let err = env.fails(&["snapshot", "../etc"], 2);
    assert!(err.contains("invalid session id"), "{err}");
    let err = env.fails(&["snapshot", &id, "--max-size", "10K"], 2);
    assert!(
        err.contains("--max-size") && err.contains("--no-workspace"),
        "{err}"
    );
    let err = env.fails(&["snapshot", &id, "--name", "../x"], 2);
    assert!(err.contains("not a snapshot name"), "{err}");
    assert!(snapshot_dirs(&env).is_empty(), "{:?}", snapshot_dirs(&env));
    assert_eq!(env.ok(&["snapshot", "ls", "--json"]).trim(), "[]");

    let snap = env
        .ok(&["snapshot", &id, "--name", "one"])
        .trim()
        .to_string();
    let err = env.fails(&["snapshot", &id, "--name", "one"], 2);
    assert!(err.contains("already named 'one'"), "{err}");
    let err = env.fails(&["restore", "nope"], 3);
    assert!(err.contains("no snapshot 'nope'"), "{err}");
    let err = env.fails(&["snapshot", "show", "snap-20990101-000000-00000000"], 3);
    assert!(err.contains("snapshot ls"), "{err}");

    // A target that is not empty is refused and left as it was.
    let busy = tempfile::tempdir().unwrap();
    std::fs::write(busy.path().join("mine.txt"), "keep me").unwrap();
    let sessions = session_count(&env);
    let err = env.fails(
        &["restore", "one", "--cwd", busy.path().to_str().unwrap()],
        2,
    );
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(
        files_of(busy.path()),
        [("mine.txt".to_string(), b"keep me".to_vec())]
    );
    assert_eq!(session_count(&env), sessions);

    // A damaged archive: refused before anything is unpacked or started.
    let archive = env
        .home()
        .join(".snapshots")
        .join(&snap)
        .join("workspace.tar.gz");
    let mut bytes = std::fs::read(&archive).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x5a;
    std::fs::write(&archive, bytes).unwrap();
    let target = ws.path().parent().unwrap().join(format!("restore-{snap}"));
    let err = env.fails(&["restore", &snap, "--cwd", target.to_str().unwrap()], 2);
    assert!(err.contains("damaged"), "{err}");
    assert!(!target.exists(), "the folder made for the restore is gone");
    let err = env.fails(&["restore", &snap], 2);
    assert!(err.contains("damaged"), "{err}");
    let restored = env.home().join("restored");
    assert!(
        !restored.exists() || std::fs::read_dir(&restored).unwrap().next().is_none(),
        "no folder left in {}",
        restored.display()
    );
    assert_eq!(session_count(&env), sessions);
    env.stop_all();
}

#[test]
fn retention_keeps_the_newest_and_prune_goes_by_count_and_age() {
    let env = Env::new();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("f.txt"), "x").unwrap();
    let id = env.start_fake_with(&["--cwd", ws.path().to_str().unwrap()], &[]);
    env.wait_state(&id, "waiting_input");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(env.ok(&["snapshot", &id, "--keep", "2"]).trim().to_string());
    }
    let list = json(&env.ok(&["snapshot", "ls", "--session", &id, "--json"]));
    let kept: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["snapshot_id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [ids[1].as_str(), ids[2].as_str()], "the oldest went");
    assert_eq!(snapshot_dirs(&env).len(), 2);

    let dry = env.ok(&["snapshot", "prune", "--keep", "1", "--dry-run"]);
    assert!(dry.contains(&format!("would remove {}", ids[1])), "{dry}");
    assert_eq!(snapshot_dirs(&env).len(), 2, "a dry run removes nothing");
    env.ok(&["snapshot", "prune", "--keep", "1"]);
    let list = json(&env.ok(&["snapshot", "ls", "--json"]));
    assert_eq!(list[0]["snapshot_id"], ids[2].as_str(), "{list}");
    let err = env.fails(&["snapshot", "prune"], 2);
    assert!(err.contains("--keep"), "{err}");
    let err = env.fails(&["snapshot", "prune", "--older-than", "soon"], 2);
    assert!(err.contains("invalid duration"), "{err}");
    // Nothing is older than a week; a --no-workspace snapshot keeps no archive.
    env.ok(&["snapshot", "prune", "--older-than", "7d"]);
    assert_eq!(
        json(&env.ok(&["snapshot", "ls", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bare = json(&env.ok(&["snapshot", &id, "--no-workspace", "--json"]));
    assert!(bare["workspace"].is_null(), "{bare}");
    let dir = PathBuf::from(bare["path"].as_str().unwrap());
    assert!(!dir.join("workspace.tar.gz").exists());
    assert!(
        bare["conversation_note"]
            .as_str()
            .unwrap()
            .contains("custom"),
        "{bare}"
    );

    // A snapshot without a workspace restores in the original folder; a custom agent
    // without a resume command starts fresh, and says so.
    let (new_id, note) = restore(&env, &[bare["snapshot_id"].as_str().unwrap()]);
    assert!(note.contains("no resume command"), "{note}");
    env.wait_state(&new_id, "waiting_input");
    let rec = env.record(&new_id);
    assert_eq!(rec["restored_from"]["resumed"], false, "{rec}");
    assert_eq!(
        rec["workspace_path"].as_str().map(PathBuf::from),
        Some(ws.path().canonicalize().unwrap())
    );
    env.stop_all();
}

#[test]
fn over_http_a_snapshot_is_taken_listed_restored_and_removed() {
    let env = Env::new();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("kept.txt"), "over http").unwrap();
    let id = env.start_fake_with(&["--cwd", ws.path().to_str().unwrap()], &[]);
    env.wait_state(&id, "waiting_input");
    let srv = common::http::Server::start(&env);
    let (status, snap) = srv.post(
        &format!("/sessions/{id}/snapshots"),
        serde_json::json!({"name": "web-one"}),
    );
    assert_eq!(status, 201, "{snap}");
    assert_eq!(snap["workspace"]["files"], 1, "{snap}");
    let (status, e) = srv.post(
        &format!("/sessions/{id}/snapshots"),
        serde_json::json!({"nme": 1}),
    );
    assert_eq!(status, 400, "{e}");
    let (status, e) = srv.post_raw(&format!("/sessions/{id}/snapshots"), "{not json");
    assert_eq!(status, 400, "{e}");
    let (status, list) = srv.get(&format!("/snapshots?session={id}"));
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (status, e) = srv.get("/snapshots/nothing-here");
    assert_eq!(status, 404, "{e}");
    let (status, e) = srv.get("/snapshots/..%2Fx");
    assert_eq!(status, 400, "{e}");

    let target = ws
        .path()
        .parent()
        .unwrap()
        .join(format!("http-restore-{id}"));
    let (status, rec) = srv.post(
        "/snapshots/web-one/restore",
        serde_json::json!({"cwd": target, "name": "from-web"}),
    );
    assert_eq!(status, 201, "{rec}");
    assert_eq!(
        rec["restored_from"]["snapshot_id"], snap["snapshot_id"],
        "{rec}"
    );
    assert_eq!(rec["name"], "from-web");
    assert_eq!(
        std::fs::read_to_string(target.join("kept.txt")).unwrap(),
        "over http"
    );

    let (status, dry) = srv.post(
        "/snapshots/prune",
        serde_json::json!({"keep": 0, "dry_run": true}),
    );
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry.as_array().unwrap().len(), 1, "{dry}");
    let (status, gone) = srv.delete("/snapshots/web-one");
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["snapshot_id"], snap["snapshot_id"], "{gone}");
    let (_, list) = srv.get("/snapshots");
    assert_eq!(list, serde_json::json!([]));
    env.stop_all();
    let _ = std::fs::remove_dir_all(&target);
}

#[test]
fn codex_resumes_on_its_thread_unless_the_thread_went_on_after_the_snapshot() {
    let a = AgentEnv::new(FAKE_ARGS);
    std::fs::write(a.workspace().join("f.txt"), "x").unwrap();
    let id = a.start("codex", &[]);
    a.wait_state(&id, "waiting_input");
    a.ok(&["send", &id, "hello codex"]);
    a.wait_screen(&id, "MOCK-REPLY from responses api");
    a.wait_state(&id, "waiting_input");
    // Codex shows its thread id when it quits.
    assert_eq!(a.ok(&["suspend", &id]).trim(), "suspended");
    let asid = a.record(&id)["agent_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let snap = json(&a.ok(&["snapshot", &id, "--json"]));
    assert_eq!(snap["conversation"]["agent"], "codex", "{snap}");
    let rollout = PathBuf::from(snap["conversation"]["original_path"].as_str().unwrap());

    // Codex's own rollout is as the snapshot has it: resumed on the same thread.
    let (first, _) = restore(&a, &[snap["snapshot_id"].as_str().unwrap()]);
    a.wait_screen(&first, "› hello codex");
    let rec = a.record(&first);
    assert_eq!(rec["restored_from"]["resumed"], true, "{rec}");
    assert_eq!(rec["agent_session_id"], asid.as_str(), "{rec}");
    a.ok(&["stop", &first]);

    // The thread went on after the snapshot: a resume would not go back to it.
    let mut grown = std::fs::read(&rollout).unwrap();
    grown.extend_from_slice(
        b"{\"type\":\"event_msg\",\"payload\":{\"type\":\"user_message\",\"message\":\"later\"}}\n",
    );
    std::fs::write(&rollout, grown).unwrap();
    let (second, note) = restore(&a, &[snap["snapshot_id"].as_str().unwrap()]);
    assert!(note.contains("went on after the snapshot"), "{note}");
    let rec = a.record(&second);
    assert_eq!(rec["restored_from"]["resumed"], false, "{rec}");
    a.wait_state(&second, "waiting_input");

    // Codex's own record gone: the copy is put back and resumed.
    std::fs::remove_file(&rollout).unwrap();
    let (third, _) = restore(&a, &[snap["snapshot_id"].as_str().unwrap()]);
    a.wait_screen(&third, "› hello codex");
    assert_eq!(a.record(&third)["restored_from"]["resumed"], true);
    a.stop_all();
}
