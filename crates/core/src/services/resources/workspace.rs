//! Bounded size of a workspace directory.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Limits of one [`workspace_bytes`] walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceBudget {
    /// Directory entries to look at (files, directories, links, ...) before giving up.
    pub max_entries: u64,
    /// Wall time before giving up (checked every 256 entries and after each directory read).
    pub max_duration: Duration,
}

impl Default for WorkspaceBudget {
    /// 200 000 entries or 2 seconds, whichever comes first.
    fn default() -> Self {
        WorkspaceBudget {
            max_entries: 200_000,
            max_duration: Duration::from_secs(2),
        }
    }
}

/// Result of [`workspace_bytes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSize {
    /// Apparent size (`st_size`) of the regular files counted, each hard-linked file once.
    pub bytes: u64,
    /// Directory entries looked at.
    pub entries: u64,
    /// False when the budget cut the walk short (`bytes` is then a lower bound).
    pub complete: bool,
}

/// Sums the sizes of the regular files under `path` without following symbolic links or
/// crossing into other file systems, within `budget`. Unreadable directories and entries that
/// vanish during the walk are skipped (they do not make the result incomplete). A `path` that
/// is a file gives that file's size; a missing `path` gives 0 bytes, complete.
pub fn workspace_bytes(path: &Path, budget: WorkspaceBudget) -> WorkspaceSize {
    let start = Instant::now();
    let mut out = WorkspaceSize {
        bytes: 0,
        entries: 0,
        complete: true,
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return out;
    };
    if !meta.is_dir() {
        if meta.is_file() {
            out.bytes = meta.len();
            out.entries = 1;
        }
        return out;
    }
    let root_dev = meta.dev();
    let mut seen_links: HashSet<(u64, u64)> = HashSet::new();
    let mut stack: Vec<PathBuf> = vec![path.to_path_buf()];
    let over_time = |start: &Instant| start.elapsed() >= budget.max_duration;
    while let Some(dir) = stack.pop() {
        if over_time(&start) {
            out.complete = false;
            return out;
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in rd {
            let Ok(entry) = entry else { continue };
            if out.entries >= budget.max_entries {
                out.complete = false;
                return out;
            }
            out.entries += 1;
            if out.entries % 256 == 0 && over_time(&start) {
                out.complete = false;
                return out;
            }
            // d_type from readdir: no stat for directories and links
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                match entry.metadata() {
                    Ok(m) if m.dev() == root_dev => stack.push(entry.path()),
                    _ => {}
                }
            } else if ft.is_file() {
                let Ok(m) = entry.metadata() else { continue };
                if m.nlink() > 1 && !seen_links.insert((m.dev(), m.ino())) {
                    continue;
                }
                out.bytes = out.bytes.saturating_add(m.len());
            }
        }
    }
    out
}
