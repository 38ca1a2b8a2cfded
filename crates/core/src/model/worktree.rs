//! Git worktrees of sessions (`start --worktree`): what a caller asks for, what the record
//! keeps, and what a worktree holds now. The git work itself is in
//! `services::worktree`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Environment variable naming the folder new worktrees go under (default: `.worktrees` in
/// the agent-sessions home).
pub const WORKTREE_ROOT_ENV: &str = "AGENT_SESSIONS_WORKTREE_ROOT";

/// The file, at the top of a repository, listing gitignored files a new worktree gets a
/// copy of (`.env`, local settings), one gitignore-style pattern a line.
pub const INCLUDE_FILE: &str = ".worktreeinclude";

/// A request for a worktree at start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorktreeRequest {
    /// The new branch; `None`: `agent-sessions/<session id>`. It must not exist yet.
    #[serde(default)]
    pub branch: Option<String>,
    /// Folder the worktree goes under; `None`: [`WORKTREE_ROOT_ENV`], else `.worktrees` in
    /// the agent-sessions home.
    #[serde(default)]
    pub root: Option<PathBuf>,
}

/// A session's worktree, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worktree {
    /// The repository's top folder (the main worktree).
    pub repo: String,
    /// The branch made for the session.
    pub branch: String,
    /// The commit it was made from (the repository's HEAD at start).
    pub base: String,
    /// The worktree's folder.
    pub path: String,
    /// What it holds now; read from git when the record is read (`null` in the stored
    /// JSON, and when git could not be asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WorktreeStatus>,
}

/// What a worktree holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeStatus {
    /// False when the folder is gone (removed by hand); the other figures are then zero.
    pub exists: bool,
    /// The branch checked out there now (`null` for a detached HEAD).
    pub branch: Option<String>,
    /// The commit checked out there now.
    pub head: Option<String>,
    /// Files with uncommitted changes, untracked ones included (gitignored ones not).
    pub changed_files: u64,
    /// Commits on HEAD that its base does not have.
    pub ahead: u64,
    /// Commits on HEAD that no other branch, remote branch or tag has: they would be lost
    /// with the worktree's branch.
    pub unmerged: u64,
}

impl WorktreeStatus {
    /// Why deleting this worktree would lose work; `None` when nothing would be lost.
    pub fn keep_reason(&self) -> Option<String> {
        if !self.exists {
            return None;
        }
        let mut why = Vec::new();
        if self.changed_files > 0 {
            why.push(format!(
                "{} file{} with uncommitted changes",
                self.changed_files,
                plural(self.changed_files)
            ));
        }
        if self.unmerged > 0 {
            why.push(format!(
                "{} commit{} on no other branch",
                self.unmerged,
                plural(self.unmerged)
            ));
        }
        (!why.is_empty()).then(|| why.join(" and "))
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_reason_names_what_would_be_lost() {
        let mut s = WorktreeStatus {
            exists: true,
            branch: Some("b".into()),
            head: None,
            changed_files: 0,
            ahead: 3,
            unmerged: 0,
        };
        assert_eq!(s.keep_reason(), None, "merged commits are not lost");
        s.changed_files = 1;
        s.unmerged = 2;
        assert_eq!(
            s.keep_reason().unwrap(),
            "1 file with uncommitted changes and 2 commits on no other branch"
        );
        s.exists = false;
        assert_eq!(s.keep_reason(), None);
    }
}
