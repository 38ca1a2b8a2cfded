//! Snapshots (`agent-sessions snapshot ID`): a point to come back to. What a caller asks
//! for, what the store keeps about each snapshot, and how a restored session points back at
//! its origin. The files themselves (record, events, conversation, workspace archive) are
//! written by `services::snapshot`; the manager's `snapshot`/`restore` tie them together.

use crate::model::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Default cap on the workspace files a snapshot archives (their size before compression):
/// 512 MiB. A bigger workspace is refused with what to do, never cut short.
pub const DEFAULT_MAX_WORKSPACE_BYTES: u64 = 512 * 1024 * 1024;

/// Default retention: snapshots kept per session (the oldest beyond it go when a new one is
/// made).
pub const DEFAULT_KEEP_PER_SESSION: usize = 20;

/// How to take a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotOptions {
    /// A name to find it by (unique; 1 to 64 letters, digits, '.', '_' or '-').
    #[serde(default)]
    pub name: Option<String>,
    /// Archive the workspace (default true); false keeps only the record, events,
    /// history and conversation.
    #[serde(default = "yes")]
    pub workspace: bool,
    /// Cap on the workspace files' total size; default [`DEFAULT_MAX_WORKSPACE_BYTES`].
    #[serde(default)]
    pub max_workspace_bytes: Option<u64>,
    /// Snapshots of the same session kept (the oldest beyond go); default
    /// [`DEFAULT_KEEP_PER_SESSION`], 0 keeps all.
    #[serde(default)]
    pub keep: Option<usize>,
}

fn yes() -> bool {
    true
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            name: None,
            workspace: true,
            max_workspace_bytes: None,
            keep: None,
        }
    }
}

/// One snapshot, as `snapshot ls/show` and every binding return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `snap-YYYYMMDD-HHMMSS-<8 hex>`.
    pub snapshot_id: String,
    /// The name given at `snapshot --name`, if any.
    pub name: Option<String>,
    /// The session it was taken of (which may since have been removed).
    pub session_id: String,
    /// Its agent type.
    pub agent_type: Option<String>,
    /// When it was taken (RFC 3339).
    pub created_at: String,
    /// The session's state then.
    pub state: String,
    /// The session's working folder then.
    pub workspace_path: Option<String>,
    /// The workspace archive; `None` for `--no-workspace`.
    pub workspace: Option<WorkspaceArchive>,
    /// The agent's own conversation file, copied; `None` when there was none to copy.
    pub conversation: Option<Conversation>,
    /// Why no conversation was copied (opencode keeps it in a database; none found yet).
    pub conversation_note: Option<String>,
    /// Events copied (all of the session's, up to the snapshot).
    pub events: u64,
    /// Conversation messages copied (`history`).
    pub messages: u64,
    /// Bytes the snapshot takes on disk (its own `snapshot.json` aside).
    pub bytes: u64,
    /// The snapshot's folder (inside the home's `.snapshots`).
    pub path: String,
}

/// The workspace as archived: every file git would see (tracked and untracked, not
/// ignored), `.git` itself left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceArchive {
    /// Files archived (symbolic links count as files).
    pub files: u64,
    /// Their total size before compression.
    pub bytes: u64,
    /// The archive's size (`workspace.tar.gz`).
    pub archive_bytes: u64,
    /// SHA-256 of the archive, checked before a restore unpacks it.
    pub sha256: String,
    /// The git commit checked out then, when the workspace is in a repository.
    pub git_head: Option<String>,
}

/// The agent's own conversation record, as copied into a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Which agent wrote it (`claude`, `codex`, `gemini`).
    pub agent: String,
    /// The agent's own session id it belongs to.
    pub agent_session_id: Option<String>,
    /// Where it was (the transcript, rollout or chat file).
    pub original_path: String,
    /// Its file name inside the snapshot's `conversation` folder.
    pub file: String,
    /// Its size.
    pub bytes: u64,
}

/// How to restore a snapshot (from JSON: `requests::restore_options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Folder to unpack the workspace into; it must be new or empty. Default: a new folder
    /// `restored/<new session id>` in the agent-sessions home. A snapshot without a
    /// workspace starts in this folder, else in the original one.
    pub cwd: Option<PathBuf>,
    /// A name for the new session.
    pub name: Option<String>,
    /// Environment for the agent (values are never stored).
    pub env: Vec<(String, String)>,
}

/// In a restored session's record: where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredFrom {
    /// The snapshot.
    pub snapshot_id: String,
    /// The session the snapshot was taken of.
    pub session_id: String,
    /// True when the agent was started on the copied conversation.
    pub resumed: bool,
    /// Why it started fresh instead, when it did.
    pub note: Option<String>,
}

/// Which snapshots `snapshot prune` removes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep at most this many per session (the newest).
    #[serde(default)]
    pub keep: Option<usize>,
    /// Remove those older than this many seconds.
    #[serde(default)]
    pub older_than_secs: Option<u64>,
    /// Only snapshots of this session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Say which would go, remove nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A new snapshot id: the session id shape with `snap` in front.
pub fn new_snapshot_id() -> String {
    let id = crate::model::id::new_id();
    format!("snap{}", id.strip_prefix("agent").unwrap_or(&id))
}

/// Checks a snapshot name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter
/// or digit, and not shaped like a snapshot id (so a reference is never ambiguous).
pub fn validate_name(name: &str) -> Result<()> {
    if crate::model::id::is_plain_name(name) && !name.starts_with("snap-") {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{name:?} is not a snapshot name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit and not with 'snap-'"
        )))
    }
}

/// Checks what a snapshot reference (an id or a name) may be before it is looked up.
pub fn validate_ref(reference: &str) -> Result<()> {
    if reference.starts_with("snap-") {
        crate::model::id::validate(reference).map(|_| ()).map_err(|_| {
            Error::InvalidArgument(format!(
                "invalid snapshot id {:?}: ids look like snap-20261203-101500-1a2b3c4d (see `agent-sessions snapshot ls`)",
                shorten(reference)
            ))
        })
    } else {
        validate_name(reference)
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    match u {
        0 => format!("{n} B"),
        _ => format!("{v:.1} {}", UNITS[u]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_never_overlap() {
        let id = new_snapshot_id();
        assert!(id.starts_with("snap-"), "{id}");
        validate_ref(&id).unwrap();
        assert!(validate_name(&id).is_err());
        validate_name("before-refactor").unwrap();
        assert!(validate_name("snap-x").is_err());
        for bad in ["", "../x", "a/b", "-x", "snap-../x", &"n".repeat(65)] {
            assert!(validate_ref(bad).is_err(), "{bad:?}");
        }
    }
}
