//! Writing `state.json` atomically and cheaply.
//!
//! A new document is written to `.state.json.tmp` and then put in place of `state.json`.
//! Readers only ever open `state.json`, and an inode that has been published there is never
//! modified while anybody may still be reading it, so no reader sees a torn file.
//!
//! On Linux the two names are *exchanged* (`renameat2(RENAME_EXCHANGE)`), so the previous
//! document's inode stays behind as `.state.json.tmp` and the next write reuses it, but only
//! after a write lease (`F_SETLEASE`) proves that no process has it open; otherwise that
//! inode is unlinked (readers keep their whole copy) and a fresh one is made. This keeps the
//! common case free of inode allocation, which on ext4 without a journal slows down sharply
//! when many inodes were freed recently, and of the data flush ext4 forces when a file is
//! replaced by a plain rename (`auto_da_alloc`). Elsewhere: a fresh file and a plain rename.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Writes `bytes` as the complete content of `tmp`, reusing its inode when nobody else has
/// it open, else replacing it by a new file.
pub fn write_tmp(tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(f) = reusable(tmp)? {
        let r = f
            .write_all_at(bytes, 0)
            .and_then(|()| f.set_len(bytes.len() as u64));
        release(&f);
        return r;
    }
    let mut f = match create_new(tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(tmp)?;
            create_new(tmp)?
        }
        other => other?,
    };
    f.write_all(bytes)
}

fn create_new(p: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
}

/// The existing `tmp`, opened for writing and holding a write lease, when it exists and no
/// other open file refers to it. `None` when it must not (or cannot) be reused.
#[cfg(target_os = "linux")]
fn reusable(tmp: &Path) -> std::io::Result<Option<File>> {
    use std::os::fd::AsRawFd;
    let f = match OpenOptions::new().write(true).open(tmp) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // SAFETY: fcntl on a descriptor owned by `f`.
    let leased = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLEASE, libc::F_WRLCK) } == 0;
    if leased {
        Ok(Some(f))
    } else {
        // Someone may still be reading it (or leases are unsupported here): leave that
        // inode to its readers.
        drop(f);
        std::fs::remove_file(tmp).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        })?;
        Ok(None)
    }
}

#[cfg(not(target_os = "linux"))]
fn reusable(_tmp: &Path) -> std::io::Result<Option<File>> {
    Ok(None)
}

fn release(f: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: as above. Closing the file would release the lease too.
        unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = f;
}

/// Atomically puts `from` in place of `to`; on Linux the two are exchanged, leaving the old
/// document in `from` for [`write_tmp`] to reuse.
pub fn replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
        if let (Ok(f), Ok(t)) = (c(from), c(to)) {
            // SAFETY: two valid NUL-terminated paths, used only for the call.
            let r = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    f.as_ptr(),
                    libc::AT_FDCWD,
                    t.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            if r == 0 {
                return Ok(());
            }
            // ENOENT: no state.json yet; EINVAL/ENOSYS/EOPNOTSUPP: no exchange here.
        }
    }
    std::fs::rename(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_only_unopened_inodes() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("lc-mirror-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (tmp, dst) = (dir.join(".t"), dir.join("s"));
        write_tmp(&tmp, b"one").unwrap();
        replace(&tmp, &dst).unwrap();
        write_tmp(&tmp, b"second").unwrap();
        replace(&tmp, &dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"second");
        let first = std::fs::metadata(&tmp).map(|m| m.ino()).ok();
        // Nobody holds the old one: reused in place.
        write_tmp(&tmp, b"3").unwrap();
        replace(&tmp, &dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"3");
        if let Some(ino) = first {
            assert_eq!(std::fs::metadata(&dst).unwrap().ino(), ino);
        }
        // A reader holds the current file: after the next replace, that inode is not reused.
        let reader = File::open(&dst).unwrap();
        let held = reader.metadata().unwrap().ino();
        write_tmp(&tmp, b"four").unwrap();
        replace(&tmp, &dst).unwrap();
        write_tmp(&tmp, b"five!").unwrap();
        assert_ne!(std::fs::metadata(&tmp).unwrap().ino(), held);
        let mut s = String::new();
        use std::io::Read;
        (&reader).read_to_string(&mut s).unwrap();
        assert_eq!(s, "3", "the reader's copy stayed whole");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
