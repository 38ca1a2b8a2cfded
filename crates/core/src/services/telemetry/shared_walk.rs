//! One workspace walk per folder, shared by every session working in it.
//!
//! Orchestrators start many agents in one repository; each host walking the same tree every
//! 30 s would multiply the costliest thing a host does by the number of sessions. So the
//! result of a walk is published in the home (`walks/<hash of the folder>`, a small JSON
//! file replaced by rename, private to the user) and a host whose walk is due first looks
//! there: a result for its folder younger than its walk interval is taken as its own, and
//! only otherwise does it walk (and publish). Hosts start at different times, so their
//! deadlines are spread and one walk per folder per interval is what remains. A corrupt,
//! foreign or unreadable file is ignored (the host walks); nothing depends on it.

use crate::config::home::Home;
use crate::services::resources::WorkspaceSize;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Folder of the published walks inside the home.
pub const WALKS_DIR: &str = "walks";

#[derive(Debug, Serialize, Deserialize)]
struct Published {
    /// the walked folder, to tell hash collisions apart
    folder: PathBuf,
    size: WorkspaceSize,
    at_ms: i64,
}

fn file_for(home: &Home, folder: &Path) -> PathBuf {
    // FNV-1a: stable across builds and processes (std's hasher promises neither).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in folder.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    home.root().join(WALKS_DIR).join(format!("{h:016x}.json"))
}

/// A walk of `folder` published less than `max_age` before `now_ms`, with its time.
pub fn recent(
    home: &Home,
    folder: &Path,
    max_age: Duration,
    now_ms: i64,
) -> Option<(WorkspaceSize, i64)> {
    let bytes = std::fs::read(file_for(home, folder)).ok()?;
    let p: Published = serde_json::from_slice(&bytes).ok()?;
    let age = now_ms.saturating_sub(p.at_ms);
    let fresh = p.folder == folder && (0..=max_age.as_millis() as i64).contains(&age);
    fresh.then_some((p.size, p.at_ms))
}

/// Publishes a walk of `folder` for the other sessions in it; best effort.
pub fn publish(home: &Home, folder: &Path, size: WorkspaceSize, at_ms: i64) {
    let path = file_for(home, folder);
    let Some(dir) = path.parent() else {
        return;
    };
    if crate::config::home::make_private_dir(dir).is_err() {
        return;
    }
    let body = Published {
        folder: folder.to_path_buf(),
        size,
        at_ms,
    };
    let Ok(json) = serde_json::to_vec(&body) else {
        return;
    };
    // A unique temporary name, then rename: readers see the old file or the new one whole.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy()),
        std::process::id()
    ));
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&json));
    if written.is_err() || std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
