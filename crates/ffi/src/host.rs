//! Finding the session host binary (`agent-sessions`) for C programs.
//!
//! The core looks in `$AGENT_SESSIONS_HOST_BIN`, beside the running executable and on PATH,
//! which suits the CLI and Rust programs. A C program is usually installed apart from the
//! library it links, so each start (when the program chose no host with
//! `as_manager_set_host_binary`) first looks beside the library itself, where
//! scripts/install_c.sh puts the host: `PREFIX/lib/libagent_sessions.so.0` next to
//! `PREFIX/bin/agent-sessions`. The order is
//! 1. `$AGENT_SESSIONS_HOST_BIN` when set (an explicit choice beats any search);
//! 2. beside the library: `../bin/agent-sessions`, `../libexec/agent-sessions`, then
//!    `agent-sessions` in the library's own folder (for a static link the "library" is the
//!    program itself);
//! 3. the core's [`agent_sessions::find_host_binary`]: beside the executable, then PATH.

use agent_sessions::{find_host_binary, Error, HOST_BIN_ENV};
use std::ffi::{c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::result::FfiError;

const HOST_NAME: &str = "agent-sessions";

/// The file this library's code was loaded from, as the dynamic loader recorded it (for a
/// static link: the program). None when the loader cannot say.
pub fn library_path() -> Option<PathBuf> {
    // Any exported function lies in the library's own mapping.
    let addr = crate::as_version as *const c_void;
    // SAFETY: Dl_info is plain data (pointers and integers), valid when zeroed.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables and writes `info`.
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader, valid while the
    // object stays loaded (as it does while its code runs); it is copied at once.
    let bytes = unsafe { CStr::from_ptr(info.dli_fname) }.to_bytes();
    if bytes.is_empty() {
        return None;
    }
    let path = PathBuf::from(OsStr::from_bytes(bytes));
    // A relative name (a relative LD_LIBRARY_PATH entry, or argv[0] for a static program) is
    // trusted only when it still names the file from here.
    if path.is_relative() {
        return path.canonicalize().ok();
    }
    Some(path)
}

/// The folders to search: the library's folder as loaded, then the folder of the file it
/// resolves to when that differs (a library symlinked into place from its own prefix).
fn library_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let Some(lib) = library_path() else {
        return dirs;
    };
    if let Some(dir) = lib.parent() {
        dirs.push(dir.to_path_buf());
    }
    if let Some(dir) = lib.canonicalize().ok().as_deref().and_then(Path::parent) {
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_path_buf());
        }
    }
    dirs
}

/// Where a host would lie for a library in `dir`, in search order. `..` is taken lexically
/// (`PREFIX/lib` gives `PREFIX/bin`), as install layouts mean it.
fn candidates(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::with_capacity(3);
    if let Some(prefix) = dir.parent() {
        out.push(prefix.join("bin").join(HOST_NAME));
        out.push(prefix.join("libexec").join(HOST_NAME));
    }
    out.push(dir.join(HOST_NAME));
    out
}

/// Every place looked at beside the library, in order (for the search and its message).
fn beside_library_candidates() -> Vec<PathBuf> {
    library_dirs().iter().flat_map(|d| candidates(d)).collect()
}

/// Why the default search found no host.
#[derive(Debug)]
pub struct NotFound {
    /// The core's error, as its own start will report it.
    core: String,
    /// What a C programmer should read instead.
    ours: String,
}

/// The host a start should use when the program chose none: see the module comment for the
/// order. `Err(None)`: the core's search will report its own error (e.g.
/// `$AGENT_SESSIONS_HOST_BIN` names no file); `Err(Some(_))`: found nowhere.
pub fn default_host() -> Result<PathBuf, Option<NotFound>> {
    if std::env::var_os(HOST_BIN_ENV).is_some_and(|v| !v.is_empty()) {
        return find_host_binary().map_err(|_| None);
    }
    let beside = beside_library_candidates();
    if let Some(found) = beside.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    find_host_binary().map_err(|e| {
        let looked: Vec<String> = beside.iter().map(|p| p.display().to_string()).collect();
        Some(NotFound {
            core: e.to_string(),
            ours: format!(
                "cannot find the agent-sessions host binary (looked beside the library: {}; \
                 beside the program; on PATH): call as_manager_set_host_binary(), set \
                 {HOST_BIN_ENV}, or install it with the library (scripts/install_c.sh PREFIX \
                 puts it in PREFIX/bin)",
                if looked.is_empty() {
                    "library location unknown".to_string()
                } else {
                    looked.join(", ")
                }
            ),
        })
    })
}

/// The error of a start or resume: the core's "cannot find the host" becomes the C-specific
/// message of the search that failed before it (same search, so the same text), so the
/// reader learns about `as_manager_set_host_binary` and the install layout.
pub fn explain(e: Error, missing: Option<&NotFound>) -> FfiError {
    match missing {
        Some(m) if e.to_string() == m.core => {
            FfiError::new(crate::result::code_for(e.kind()), &m.ours)
        }
        _ => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_knows_where_it_is() {
        // In a unit test the code is linked into the test program itself.
        let lib = library_path().expect("dladdr names the object");
        assert!(lib.is_absolute(), "{}", lib.display());
        assert!(lib.is_file(), "{}", lib.display());
    }

    #[test]
    fn candidates_follow_the_install_layout() {
        let c = candidates(Path::new("/opt/as/lib"));
        assert_eq!(
            c,
            [
                PathBuf::from("/opt/as/bin/agent-sessions"),
                PathBuf::from("/opt/as/libexec/agent-sessions"),
                PathBuf::from("/opt/as/lib/agent-sessions"),
            ]
        );
        assert_eq!(
            candidates(Path::new("/")),
            [PathBuf::from("/agent-sessions")]
        );
    }
}
