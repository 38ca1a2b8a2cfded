//! Where the settings files given to one agent process live (Gemini's settings layer,
//! opencode's plugin folder).
//!
//! Each file sits in a folder named by the hash of its content, so concurrent starts never
//! rewrite a file another session's agent reads, and the same content is written once. The
//! folder is the first of: the sessions home, `$XDG_RUNTIME_DIR/agent-sessions`,
//! `~/.cache/agent-sessions/hooks`, whose every parent is private enough (not writable by
//! group or others): Gemini CLI refuses a settings file under `/tmp`, where test homes live.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Folders to try, best first.
fn candidate_dirs(home_root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![home_root.join("hooks")];
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        dirs.push(PathBuf::from(run).join("agent-sessions"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        dirs.push(PathBuf::from(home).join(".cache/agent-sessions/hooks"));
    }
    dirs
}

/// True when no existing ancestor of `dir` is writable by group or others.
pub(crate) fn private_enough(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors().all(|a| match std::fs::metadata(a) {
        Ok(m) => m.permissions().mode() & 0o022 == 0,
        Err(_) => true, // created below, private
    })
}

/// Writes `content` to `<folder>/<prefix>-<hash>/<relative>` (once) and returns its path;
/// `None` when no candidate folder is private enough and writable.
pub fn private_file(
    home_root: &Path,
    prefix: &str,
    relative: &str,
    content: &str,
) -> Option<PathBuf> {
    let hash: String = Sha256::digest(content.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    for dir in candidate_dirs(home_root) {
        let path = dir.join(format!("{prefix}-{hash}")).join(relative);
        let Some(parent) = path.parent() else {
            continue;
        };
        if !private_enough(&dir) || crate::config::home::make_private_dir(parent).is_err() {
            continue;
        }
        if path.exists() || write_new(&path, content).is_ok() {
            return Some(path);
        }
    }
    None
}

/// Writes `text` to `path` through a private temporary file and a rename.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
