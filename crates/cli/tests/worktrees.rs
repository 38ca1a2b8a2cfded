//! `start --worktree` against real git repositories made here: the agent runs in a new
//! worktree on a new branch with the gitignored files `.worktreeinclude` lists; `ls` and
//! `show` say what each worktree holds; `rm` and `cleanup` keep a worktree with uncommitted
//! changes or unmerged commits unless `--force`; and every bad input is refused with no
//! worktree, branch or folder left behind.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// Runs git in `dir`; returns stdout, trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository with one commit: tracked files, a `.gitignore`, ignored files (one listed
/// in `.worktreeinclude`, one not) and an untracked file.
struct Repo {
    _dir: tempfile::TempDir,
    top: PathBuf,
    /// Where worktrees go (`--worktree-root`), outside the repository.
    root: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::Builder::new().prefix("as-wt").tempdir().unwrap();
        let top = dir.path().join("proj");
        std::fs::create_dir_all(top.join("sub")).unwrap();
        git(&top, &["init", "-q", "-b", "main"]);
        git(&top, &["config", "user.email", "tests@example.invalid"]);
        git(&top, &["config", "user.name", "Tests"]);
        git(&top, &["config", "commit.gpgsign", "false"]);
        std::fs::write(top.join("a.txt"), "one\n").unwrap();
        std::fs::write(top.join("sub/b.txt"), "two\n").unwrap();
        std::fs::write(top.join(".gitignore"), ".env\nbuild/\nconfig/local.toml\n").unwrap();
        std::fs::write(top.join(".worktreeinclude"), ".env\nconfig/local.toml\n").unwrap();
        git(&top, &["add", "."]);
        git(&top, &["commit", "-q", "-m", "first"]);
        std::fs::write(top.join(".env"), "TOKEN=local-only\n").unwrap();
        std::fs::create_dir_all(top.join("config")).unwrap();
        std::fs::write(top.join("config/local.toml"), "debug = true\n").unwrap();
        std::fs::create_dir_all(top.join("build")).unwrap();
        std::fs::write(top.join("build/out.o"), "binary").unwrap();
        std::fs::write(top.join("notes.txt"), "untracked\n").unwrap();
        let root = dir.path().join("trees");
        Repo {
            _dir: dir,
            top,
            root,
        }
    }

    fn branches(&self) -> Vec<String> {
        git(&self.top, &["branch", "--format=%(refname:short)"])
            .lines()
            .map(String::from)
            .collect()
    }

    fn worktrees(&self) -> usize {
        git(&self.top, &["worktree", "list", "--porcelain"])
            .lines()
            .filter(|l| l.starts_with("worktree "))
            .count()
    }

    fn folders_under_root(&self) -> usize {
        std::fs::read_dir(&self.root)
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// Starts `sh -c SCRIPT` in a new worktree of `repo` (from `cwd`), with `extra` start
/// options; returns the record.
fn start_in(env: &Env, repo: &Repo, cwd: &Path, extra: &[&str], script: &str) -> Value {
    let root = repo.root.to_str().unwrap();
    let mut args = vec![
        "--json",
        "start",
        "custom",
        "--cwd",
        cwd.to_str().unwrap(),
        "--worktree-root",
        root,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    json(&env.ok(&args))
}

#[test]
fn the_agent_runs_in_a_new_worktree_with_the_included_ignored_files() {
    let env = Env::new();
    let repo = Repo::new();
    let head = git(&repo.top, &["rev-parse", "HEAD"]);
    let rec = start_in(
        &env,
        &repo,
        &repo.top.join("sub"),
        &["--worktree"],
        "pwd; echo ready; sleep 60",
    );
    let id = rec["session_id"].as_str().unwrap();
    let wt = &rec["worktree"];
    let path = PathBuf::from(wt["path"].as_str().unwrap());
    assert_eq!(
        wt["repo"],
        repo.top.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(wt["branch"], format!("agent-sessions/{id}"));
    assert_eq!(wt["base"], head.as_str());
    assert!(path.starts_with(&repo.root), "{path:?} is under the root");
    // The agent runs where the caller was, in the worktree.
    let screen = env.wait_screen(id, "ready");
    let cwd = path.join("sub");
    assert!(screen.contains(cwd.to_str().unwrap()), "{screen}");
    assert_eq!(rec["workspace_path"], cwd.to_str().unwrap());

    // Tracked files from HEAD; the ignored files .worktreeinclude lists, copied; other
    // ignored and untracked files not.
    assert_eq!(
        std::fs::read_to_string(path.join("a.txt")).unwrap(),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(path.join(".env")).unwrap(),
        "TOKEN=local-only\n"
    );
    assert_eq!(
        std::fs::read_to_string(path.join("config/local.toml")).unwrap(),
        "debug = true\n"
    );
    assert!(!path.join("build").exists());
    assert!(!path.join("notes.txt").exists());
    assert_eq!(
        git(&path, &["rev-parse", "--abbrev-ref", "HEAD"]),
        wt["branch"]
    );
    assert_eq!(repo.worktrees(), 2);

    // A fresh worktree holds nothing: its status says so, and the main checkout is as it was.
    let shown = env.record(id);
    let status = &shown["worktree"]["status"];
    assert_eq!(status["exists"], true);
    assert_eq!(
        (status["changed_files"].as_u64(), status["ahead"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        git(&repo.top, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "main"
    );

    // A clean worktree goes with its session, and so does the branch made for it.
    env.ok(&["stop", id]);
    env.ok(&["rm", id]);
    assert!(!path.exists());
    assert_eq!(repo.worktrees(), 1);
    assert_eq!(repo.branches(), ["main"]);
}

#[test]
fn ls_and_show_say_what_a_worktree_holds_and_rm_keeps_work_until_forced() {
    let env = Env::new();
    let repo = Repo::new();
    // The agent commits one change and leaves a new file uncommitted.
    let rec = start_in(
        &env,
        &repo,
        &repo.top,
        &["--worktree=feature/agent-one"],
        "echo more >> a.txt && git commit -qam agent && echo new > new.txt && echo done; sleep 60",
    );
    let id = rec["session_id"].as_str().unwrap();
    env.wait_screen(id, "done");
    let path = PathBuf::from(rec["worktree"]["path"].as_str().unwrap());
    let status = env.record(id)["worktree"]["status"].clone();
    assert_eq!(status["branch"], "feature/agent-one");
    assert_eq!(status["changed_files"], 1, "{status}");
    assert_eq!(status["ahead"], 1, "{status}");
    assert_eq!(status["unmerged"], 1, "{status}");
    let ls = env.ok(&["ls"]);
    assert!(ls.contains("WORKTREE"), "{ls}");
    assert!(
        ls.contains("feature/agent-one (1 changed, 1 ahead)"),
        "{ls}"
    );
    let show = env.ok(&["show", id]);
    assert!(
        show.contains("1 file with uncommitted changes and 1 commit on no other branch"),
        "{show}"
    );
    let listed = json(&env.ok(&["ls", "--json"]));
    assert_eq!(listed[0]["worktree"]["status"]["ahead"], 1);

    env.ok(&["stop", id]);
    // The session's end leaves the worktree; rm refuses and says why and what to do.
    assert!(path.join("new.txt").exists());
    let err = env.fails(&["rm", id], 2);
    assert!(err.contains("uncommitted changes"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(path.join("new.txt").exists(), "nothing was removed");
    env.record(id);

    // Committed, the work is still on no other branch; merged into main, nothing is lost.
    git(&path, &["add", "new.txt"]);
    git(&path, &["commit", "-q", "-m", "the new file"]);
    let status = env.record(id)["worktree"]["status"].clone();
    assert_eq!(
        (
            status["changed_files"].as_u64(),
            status["unmerged"].as_u64()
        ),
        (Some(0), Some(2))
    );
    let err = env.fails(&["rm", id], 2);
    assert!(err.contains("2 commits on no other branch"), "{err}");
    git(
        &repo.top,
        &["merge", "-q", "--ff-only", "feature/agent-one"],
    );
    let status = env.record(id)["worktree"]["status"].clone();
    assert_eq!(
        (status["ahead"].as_u64(), status["unmerged"].as_u64()),
        (Some(2), Some(0))
    );
    env.ok(&["rm", id]);
    assert!(!path.exists());
    assert_eq!(
        repo.branches(),
        ["main"],
        "a merged branch goes with its session"
    );
    assert_eq!(
        std::fs::read_to_string(repo.top.join("new.txt")).unwrap(),
        "new\n"
    );
}

#[test]
fn rm_force_deletes_a_dirty_worktree_and_a_worktree_removed_by_hand_is_no_obstacle() {
    let env = Env::new();
    let repo = Repo::new();
    let dirty = start_in(
        &env,
        &repo,
        &repo.top,
        &["--worktree"],
        "echo x > junk.txt; echo done; sleep 60",
    );
    let gone = start_in(
        &env,
        &repo,
        &repo.top,
        &["--worktree=gone"],
        "echo done; sleep 60",
    );
    let (dirty_id, gone_id) = (
        dirty["session_id"].as_str().unwrap(),
        gone["session_id"].as_str().unwrap(),
    );
    env.wait_screen(dirty_id, "done");
    env.ok(&["stop", dirty_id, gone_id]);
    env.ok(&["rm", dirty_id, "--force"]);
    assert!(!Path::new(dirty["worktree"]["path"].as_str().unwrap()).exists());

    // Someone deleted the folder by hand: show says so, and rm tidies git's list.
    std::fs::remove_dir_all(gone["worktree"]["path"].as_str().unwrap()).unwrap();
    assert_eq!(env.record(gone_id)["worktree"]["status"]["exists"], false);
    assert!(env.ok(&["show", gone_id]).contains("(folder gone)"));
    env.ok(&["rm", gone_id]);
    assert_eq!(repo.worktrees(), 1);
    assert_eq!(repo.branches(), ["main"]);
    assert_eq!(repo.folders_under_root(), 0);
}

#[test]
fn cleanup_keeps_sessions_whose_worktree_holds_work_and_says_why() {
    let env = Env::new();
    let repo = Repo::new();
    let clean = start_in(
        &env,
        &repo,
        &repo.top,
        &["--worktree"],
        "echo done; sleep 60",
    );
    let dirty = start_in(
        &env,
        &repo,
        &repo.top,
        &["--worktree"],
        "echo x >> a.txt; echo done; sleep 60",
    );
    let plain = env.start_fake(&[]);
    let (clean_id, dirty_id) = (
        clean["session_id"].as_str().unwrap(),
        dirty["session_id"].as_str().unwrap(),
    );
    env.wait_screen(dirty_id, "done");
    env.ok(&["stop", clean_id, dirty_id, &plain]);

    let dry = json(&env.ok(&["--json", "cleanup", "--older-than", "0s", "--dry-run"]));
    assert_eq!(dry["kept"][0]["session_id"], dirty_id, "{dry}");
    assert_eq!(dry["sessions"].as_array().unwrap().len(), 2, "{dry}");
    assert_eq!(repo.worktrees(), 3, "a dry run removes nothing");

    let out = env.ok(&["cleanup", "--older-than", "0s"]);
    assert!(out.contains(&format!("kept {dirty_id}: ")), "{out}");
    assert!(out.contains("1 file with uncommitted changes"), "{out}");
    let left: Vec<String> = json(&env.ok(&["ls", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["session_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, [dirty_id]);
    assert!(!Path::new(clean["worktree"]["path"].as_str().unwrap()).exists());
    assert!(Path::new(dirty["worktree"]["path"].as_str().unwrap())
        .join("a.txt")
        .exists());

    let forced = json(&env.ok(&["--json", "cleanup", "--older-than", "0s", "--force"]));
    assert_eq!(forced["sessions"][0]["session_id"], dirty_id, "{forced}");
    assert_eq!(forced["kept"].as_array().unwrap().len(), 0);
    assert_eq!(repo.worktrees(), 1);
    assert_eq!(repo.branches(), ["main"]);
}

#[test]
fn a_template_can_ask_for_a_worktree() {
    let env = Env::new();
    let repo = Repo::new();
    env.ok(&[
        "template",
        "add",
        "isolated",
        "custom",
        "--worktree",
        "--worktree-root",
        repo.root.to_str().unwrap(),
        "--",
        "python3",
        "-c",
        "import time; print('done'); time.sleep(60)",
    ]);
    let rec = json(&env.ok(&[
        "--json",
        "start",
        "--template",
        "isolated",
        "--cwd",
        repo.top.to_str().unwrap(),
    ]));
    let path = PathBuf::from(rec["worktree"]["path"].as_str().unwrap());
    assert!(path.starts_with(&repo.root));
    assert_eq!(repo.worktrees(), 2);
    // An option given at start wins over the template's.
    let rec2 = json(&env.ok(&[
        "--json",
        "start",
        "--template",
        "isolated",
        "--cwd",
        repo.top.to_str().unwrap(),
        "--worktree=from-start",
    ]));
    assert_eq!(rec2["worktree"]["branch"], "from-start");
}

#[test]
fn bad_input_is_refused_and_leaves_no_worktree_branch_or_session() {
    let env = Env::new();
    let repo = Repo::new();
    let root = repo.root.to_str().unwrap();
    let top = repo.top.to_str().unwrap();
    let start = |cwd: &str, wt: &str, agent: &[&str]| -> String {
        let mut args = vec![
            "start",
            "custom",
            "--cwd",
            cwd,
            "--worktree-root",
            root,
            wt,
            "--",
        ];
        args.extend_from_slice(agent);
        let out = env.run(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8(out.stderr).unwrap()
    };
    let sleep = ["sleep", "60"];

    let outside = tempfile::tempdir().unwrap();
    let err = start(outside.path().to_str().unwrap(), "--worktree", &sleep);
    assert!(err.contains("needs a git repository"), "{err}");

    let err = start(top, "--worktree=main", &sleep);
    assert!(err.contains("branch main already exists"), "{err}");
    let err = start(top, "--worktree=bad..name", &sleep);
    assert!(err.contains("not a valid branch name"), "{err}");
    let err = start(top, "--worktree=-x", &sleep);
    assert!(err.contains("not a valid branch name"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    git(empty.path(), &["init", "-q"]);
    let err = start(empty.path().to_str().unwrap(), "--worktree", &sleep);
    assert!(err.contains("no commit yet"), "{err}");

    // The worktree was made, then the agent could not start: the worktree and branch go.
    let err = start(top, "--worktree=doomed", &["/nonexistent/agent-binary"]);
    assert!(err.contains("/nonexistent/agent-binary"), "{err}");
    assert_eq!(repo.worktrees(), 1);
    assert_eq!(repo.branches(), ["main"]);
    assert_eq!(repo.folders_under_root(), 0);
    for r in json(&env.ok(&["ls", "--json"])).as_array().unwrap() {
        assert!(
            r.get("worktree").is_none(),
            "a failed start keeps no worktree: {r}"
        );
    }
    // The main checkout is untouched.
    assert_eq!(git(&repo.top, &["status", "--porcelain"]), "?? notes.txt");
    // --worktree-root alone is refused by the parser.
    let out = env.run(&[
        "start",
        "custom",
        "--worktree-root",
        root,
        "--",
        "sleep",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn over_http_a_worktree_is_asked_for_in_the_start_body_and_delete_takes_force() {
    let env = Env::new();
    let repo = Repo::new();
    let srv = common::http::Server::start(&env);
    let (status, rec) = srv.post(
        "/sessions",
        serde_json::json!({
            "agent": "custom",
            "args": ["sh", "-c", "echo x > dirty.txt; echo done; sleep 60"],
            "cwd": repo.top,
            "worktree": {"branch": "http-one", "root": repo.root},
        }),
    );
    assert_eq!(status, 201, "{rec}");
    let id = rec["session_id"].as_str().unwrap().to_string();
    assert_eq!(rec["worktree"]["branch"], "http-one");
    env.wait_screen(&id, "done");
    env.ok(&["stop", &id]);
    let delete = |query: &str| srv.delete(&format!("/sessions/{id}{query}"));
    let (status, e) = delete("");
    assert_eq!(status, 400, "{e}");
    assert!(e.to_string().contains("uncommitted changes"), "{e}");
    let (status, e) = delete("?force=maybe");
    assert_eq!(status, 400, "{e}");
    let (status, e) = delete("?force=true");
    assert_eq!(status, 200, "{e}");
    assert_eq!(repo.worktrees(), 1);
    assert_eq!(repo.branches(), ["main"]);
}
