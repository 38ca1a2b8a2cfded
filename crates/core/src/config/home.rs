//! Where sessions live on disk. A [`Home`] holds the SQLite store and one private folder per
//! session; every path below it is built from a validated id.

use crate::model::error::{Error, Result};
use crate::model::id;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The environment variable that selects the sessions home.
pub const HOME_ENV: &str = "AGENT_SESSIONS_HOME";
/// File name of the store inside the home.
pub const DB_FILE: &str = "agent-sessions.db";

/// Longest socket path we bind inside the session folder; `sun_path` holds 108 bytes.
const MAX_SOCKET_PATH: usize = 100;

/// A sessions home directory.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Uses `explicit`, else `$AGENT_SESSIONS_HOME`, else `$XDG_STATE_HOME/agent-sessions`,
    /// else `~/.local/state/agent-sessions`. The folder is created private (0700).
    pub fn resolve(explicit: Option<&Path>) -> Result<Home> {
        let root = match explicit {
            Some(p) => p.to_path_buf(),
            None => default_root()?,
        };
        let root = if root.is_relative() {
            std::env::current_dir()
                .map_err(|e| Error::io("reading the current directory", e))?
                .join(root)
        } else {
            root
        };
        make_private_dir(&root)?;
        Ok(Home { root })
    }

    /// The home folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of the SQLite store.
    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    /// The folder of one session (not created).
    pub fn session_dir(&self, session_id: &str) -> Result<PathBuf> {
        Ok(self.root.join(id::validate(session_id)?))
    }

    /// Creates the session folder, private to this user.
    pub fn create_session_dir(&self, session_id: &str) -> Result<PathBuf> {
        let dir = self.session_dir(session_id)?;
        make_private_dir(&dir)?;
        Ok(dir)
    }

    /// Where the session host listens. Inside the session folder when the path fits in a
    /// `sockaddr_un`; otherwise in a private per-user folder under the temp dir, named by a
    /// hash of the session folder so every process computes the same path.
    pub fn socket_path(&self, session_id: &str) -> Result<PathBuf> {
        let dir = self.session_dir(session_id)?;
        let inside = dir.join("host.sock");
        if inside.as_os_str().len() <= MAX_SOCKET_PATH {
            return Ok(inside);
        }
        let uid = nix::unistd::getuid();
        let short_dir = std::env::temp_dir().join(format!("agent-sessions-{uid}"));
        let hash = fnv1a(dir.as_os_str().as_encoded_bytes());
        Ok(short_dir.join(format!("{hash:016x}.sock")))
    }
}

fn default_root() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p).join("agent-sessions"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/state/agent-sessions")),
        None => Err(Error::InvalidArgument(
            "cannot find a sessions home: set AGENT_SESSIONS_HOME or pass --home DIR".into(),
        )),
    }
}

/// Creates `dir` (and parents) with mode 0700, and refuses a folder owned by someone else,
/// since sockets and logs inside it must stay private.
pub fn make_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let meta = fs::metadata(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    if meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(Error::InvalidArgument(format!(
            "{} belongs to another user; choose a home of your own with --home",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("making {} private", dir.display()), e))?;
    }
    Ok(())
}

/// 64-bit FNV-1a: stable across builds, unlike std's hasher, which matters because the
/// library and the host must agree on the socket name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
