//! Helpers shared by the core's integration tests: private temp folders and real process
//! trees.
#![allow(dead_code)]

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A fresh empty directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "as-core-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A `sh -c` process tree whose root is a session leader, like an agent under a PTY.
/// Dropping it kills the whole group and reaps the root.
pub struct Tree {
    child: Child,
}

impl Tree {
    pub fn spawn(script: &str) -> Tree {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Tree {
            child: cmd.spawn().expect("spawn sh"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True once the root has exited (and is reaped).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // SAFETY: plain syscall; the group id is the pid of the session leader we spawned.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a file, creating its folder.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// An RFC 3339 time as a `SystemTime`.
pub fn at(rfc3339: &str) -> SystemTime {
    let ms = chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis();
    UNIX_EPOCH + Duration::from_millis(ms as u64)
}

/// Sets a file's modification time.
pub fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// A manager on `home` that runs the session host built beside the test binaries (which
/// `cargo test --workspace` builds) unless one is found the usual way.
pub fn open_manager(home: &Path) -> agent_sessions::SessionManager {
    let mgr = agent_sessions::SessionManager::open(Some(home)).unwrap();
    if agent_sessions::find_host_binary().is_err() {
        let exe = std::env::current_exe().unwrap();
        let bin = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("agent-sessions");
        assert!(
            bin.exists(),
            "build the host first: cargo build -p agent-sessions-cli"
        );
        mgr.set_host_binary(bin);
    }
    mgr
}
