//! Git worktrees for sessions, through the `git` program.
//!
//! Why the program and not a crate: the worktree is for the user's own git (their hooks,
//! config, credentials and version), and `git worktree` is what they would run by hand;
//! libgit2 (git2) needs a C build and lags behind on worktree features, and gix does not
//! yet add or remove worktrees. Every call is argv, never a shell; git reads no terminal.
//!
//! A start that fails after the worktree was made takes it away again (with its branch), so
//! no half-made worktree stays behind.

use crate::model::error::{Error, Result};
use crate::model::worktree::{Worktree, WorktreeRequest, WorktreeStatus, INCLUDE_FILE};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs git in `dir`; its trimmed stdout on success, its stderr in the error otherwise.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        // Never ask for a password or an editor: there is no one to answer.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_EDITOR", "true")
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::InvalidArgument(
                "worktrees need the git program; install git (e.g. apt-get install git)".into(),
            ),
            _ => Error::io("running git", e),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(Error::InvalidArgument(format!(
            "git {} failed in {}: {}",
            args.first().copied().unwrap_or(""),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// True when git succeeds (for questions answered by the exit status).
fn git_ok(dir: &Path, args: &[&str]) -> bool {
    git(dir, args).is_ok()
}

/// The top folder of the repository `cwd` is in, or a clear error.
fn repo_top(cwd: &Path) -> Result<PathBuf> {
    match git(cwd, &["rev-parse", "--show-toplevel"]) {
        Ok(top) if !top.is_empty() => Ok(PathBuf::from(top)),
        _ => Err(Error::InvalidArgument(format!(
            "--worktree needs a git repository, and {} is not inside one; start without \
             --worktree or in a repository",
            cwd.display()
        ))),
    }
}

/// Keeps a repository's folder name readable in a path: anything but letters, digits, `.`,
/// `_` and `-` becomes `_`.
fn path_part(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "._-".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    match s.trim_start_matches('.') {
        "" => "repo".into(),
        t => t.to_string(),
    }
}

/// A worktree made for a session, and the folder to run the agent in (the caller's folder's
/// place inside it).
pub struct Made {
    /// What the record keeps.
    pub worktree: Worktree,
    /// Where the agent runs.
    pub cwd: PathBuf,
}

/// Makes a worktree for session `session_id` from the repository `cwd` is in: a new branch
/// from HEAD under `default_root` (or the request's root), with the gitignored files that
/// `.worktreeinclude` lists copied in. Undone on any failure.
pub fn create(
    cwd: &Path,
    req: &WorktreeRequest,
    default_root: &Path,
    session_id: &str,
) -> Result<Made> {
    let top = repo_top(cwd)?;
    let base = git(&top, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]).map_err(|_| {
        Error::InvalidArgument(format!(
            "the repository {} has no commit yet; commit once before starting with --worktree",
            top.display()
        ))
    })?;
    let branch = req
        .branch
        .clone()
        .unwrap_or_else(|| format!("agent-sessions/{session_id}"));
    if branch.starts_with('-') || git(&top, &["check-ref-format", "--branch", &branch]).is_err() {
        return Err(Error::InvalidArgument(format!(
            "{branch:?} is not a valid branch name (see `git check-ref-format`)"
        )));
    }
    let refname = format!("refs/heads/{branch}");
    if git_ok(&top, &["show-ref", "--verify", "--quiet", &refname]) {
        return Err(Error::InvalidArgument(format!(
            "branch {branch} already exists in {}; name a new one with --worktree=BRANCH",
            top.display()
        )));
    }
    let root = match &req.root {
        Some(r) if r.is_relative() => cwd.join(r),
        Some(r) => r.clone(),
        None => default_root.to_path_buf(),
    };
    std::fs::create_dir_all(&root)
        .map_err(|e| Error::io(format!("creating the worktree root {}", root.display()), e))?;
    let repo_name = top.file_name().map(|n| n.to_string_lossy().into_owned());
    let path = root.join(format!(
        "{}-{session_id}",
        path_part(repo_name.as_deref().unwrap_or("repo"))
    ));
    if path.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} already exists; remove it or choose another --worktree-root",
            path.display()
        )));
    }
    let path_str = path.to_string_lossy().into_owned();
    git(
        &top,
        &[
            "worktree", "add", "--quiet", "-b", &branch, &path_str, &base,
        ],
    )?;
    let worktree = Worktree {
        repo: top.to_string_lossy().into_owned(),
        branch,
        base,
        path: path_str,
        status: None,
    };
    let finish = || -> Result<PathBuf> {
        copy_included(&top, &path)?;
        // The caller's place in the repository, in the worktree (when it exists there).
        let inside = cwd.strip_prefix(&top).ok().map(|rel| path.join(rel));
        Ok(inside
            .filter(|p| p.is_dir())
            .unwrap_or_else(|| path.clone()))
    };
    match finish() {
        Ok(cwd) => Ok(Made { worktree, cwd }),
        Err(e) => {
            let _ = remove(&worktree, true);
            Err(e)
        }
    }
}

/// Copies into `dest` the gitignored files of `top` that `.worktreeinclude` lists: git
/// itself matches both pattern lists, so the rules are exactly gitignore's.
fn copy_included(top: &Path, dest: &Path) -> Result<()> {
    let include = top.join(INCLUDE_FILE);
    if !include.is_file() {
        return Ok(());
    }
    let listed = |exclude: &str| -> Result<Vec<String>> {
        let out = git(top, &["ls-files", "-z", "--others", "--ignored", exclude])?;
        Ok(out
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect())
    };
    let ignored: std::collections::HashSet<String> =
        listed("--exclude-standard")?.into_iter().collect();
    let wanted = listed(&format!("--exclude-from={}", include.display()))?;
    for rel in wanted.iter().filter(|f| ignored.contains(*f)) {
        let from = top.join(rel);
        let to = dest.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        let meta = std::fs::symlink_metadata(&from)
            .map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
        let copied = if meta.file_type().is_symlink() {
            std::fs::read_link(&from).and_then(|t| std::os::unix::fs::symlink(t, &to))
        } else {
            std::fs::copy(&from, &to).map(|_| ())
        };
        copied.map_err(|e| {
            Error::io(
                format!("copying {} (listed in {INCLUDE_FILE})", from.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// What the worktree holds now.
pub fn status(wt: &Worktree) -> Result<WorktreeStatus> {
    let path = Path::new(&wt.path);
    if !path.is_dir() {
        return Ok(WorktreeStatus {
            exists: false,
            branch: None,
            head: None,
            changed_files: 0,
            ahead: 0,
            unmerged: 0,
        });
    }
    let head = git(path, &["rev-parse", "--verify", "--quiet", "HEAD"])?;
    let branch = git(path, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok();
    let changes = git(
        path,
        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    )?;
    let changed_files = porcelain_files(&changes);
    let count = |args: &[&str]| -> Result<u64> { Ok(git(path, args)?.trim().parse().unwrap_or(0)) };
    let ahead = count(&["rev-list", "--count", &format!("{}..HEAD", wt.base)])?;
    // Commits no other ref has: everything but the worktree's own branch counts as "kept".
    let exclude = format!("--exclude={}", branch.as_deref().unwrap_or(""));
    let unmerged = count(&[
        "rev-list",
        "--count",
        "HEAD",
        "--not",
        &exclude,
        "--branches",
        "--remotes",
        "--tags",
    ])?;
    Ok(WorktreeStatus {
        exists: true,
        branch,
        head: Some(head),
        changed_files,
        ahead,
        unmerged,
    })
}

/// Files in `git status --porcelain=v1 -z` output: entries are "XY path", and a rename or
/// copy (X or Y is R or C) is followed by one more entry, its old path.
fn porcelain_files(out: &str) -> u64 {
    let mut entries = out.split('\0').filter(|e| !e.is_empty());
    let mut n = 0;
    while let Some(e) = entries.next() {
        n += 1;
        if e.len() > 1 && e[..2].contains(['R', 'C']) {
            entries.next();
        }
    }
    n
}

/// Removes the worktree and the branch made for it. Without `force`, refuses (saying why)
/// when that would lose uncommitted changes or commits no other branch has.
pub fn remove(wt: &Worktree, force: bool) -> Result<()> {
    let repo = Path::new(&wt.repo);
    if !force {
        if let Some(why) = status(wt)?.keep_reason() {
            return Err(Error::InvalidArgument(format!(
                "the worktree {} has {why}; commit and merge or push them, or pass --force to \
                 delete it anyway",
                wt.path
            )));
        }
    }
    if Path::new(&wt.path).exists() {
        git(repo, &["worktree", "remove", "--force", &wt.path])?;
    } else if repo.is_dir() {
        // Removed by hand: let git forget it.
        git(repo, &["worktree", "prune"])?;
    }
    if repo.is_dir() {
        let refname = format!("refs/heads/{}", wt.branch);
        if git_ok(repo, &["show-ref", "--verify", "--quiet", &refname]) {
            git(repo, &["branch", "--quiet", "-D", &wt.branch])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{path_part, porcelain_files};

    #[test]
    fn renames_count_once() {
        assert_eq!(porcelain_files(""), 0);
        assert_eq!(porcelain_files(" M a.txt\0?? b c\0R  new\0old\0"), 3);
    }

    #[test]
    fn path_parts_stay_plain() {
        assert_eq!(path_part("my repo/../x"), "my_repo_.._x");
        assert_eq!(path_part("..."), "repo");
        assert_eq!(path_part("app-1.2"), "app-1.2");
    }
}
