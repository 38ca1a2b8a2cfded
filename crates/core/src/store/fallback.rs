//! Reading the store when its disk is full.
//!
//! A WAL database is read through its shared-memory file (`-shm`), which SQLite creates and
//! sizes on first use; on a full disk that fails ("disk I/O error") while no other process
//! has the store open, so even `ls` would fail. A read needs no space, so the store then
//! opens read-only with `readonly_shm`: SQLite keeps the WAL index in its own memory and
//! writes nothing. Writes through such a store fail with a "disk was full" error that says
//! what to do. It stays read-only for its whole life: in one process, connections to a file
//! share SQLite's shared-memory state, so a writable one cannot be opened beside it; a new
//! store (a new command, a new manager) writes again once there is space.

use crate::model::error::{Error, StoreCode};
use rusqlite::{ffi, Connection, OpenFlags};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// True for the errors a full disk gives while opening the store.
pub(crate) fn is_full(e: &Error) -> bool {
    matches!(
        e,
        Error::Store {
            code: StoreCode::Full | StoreCode::Io,
            ..
        }
    )
}

/// Opens `db` for reading only, writing nothing to the disk.
pub(crate) fn open_read_only(db: &Path) -> rusqlite::Result<Connection> {
    // `readonly_shm` needs the -shm file to exist; an empty one takes an inode, no space.
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&shm);
    Connection::open_with_flags(
        format!("file:{}?mode=ro&readonly_shm=1", uri_path(db)),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// What a write through a read-only store reports.
pub(crate) fn full_error() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        ffi::Error::new(ffi::SQLITE_FULL),
        Some(
            "the disk was full when the store was opened, so it is open for reading only: \
             free some space, then try again (a new command, or a new SessionManager)"
                .into(),
        ),
    )
}

/// `path` for a `file:` URI: every byte but unreserved characters and `/` percent-encoded.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn uri_paths_are_escaped() {
        assert_eq!(
            super::uri_path(std::path::Path::new("/a b/c?d#e%f/x.db")),
            "/a%20b/c%3Fd%23e%25f/x.db"
        );
    }
}
