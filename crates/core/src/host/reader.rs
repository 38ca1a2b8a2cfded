//! The PTY reader thread: every byte the agent writes goes to the log first, then to the
//! screen model and attached clients.

use super::shared::Shared;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

/// Name of the current output log in the session folder.
pub const LOG_NAME: &str = "output.log";
/// Name of the previous part once the log has rotated.
pub const OLD_LOG_NAME: &str = "output.log.1";
/// How many bytes the rotations have moved out of `output.log` (decimal text). Offsets into
/// a session's output count from its very first byte, so a reader keeps its place across a
/// rotation: `output.log` starts at this offset, `output.log.1` right before it.
pub const LOG_BASE_NAME: &str = "output.log.base";

/// The start offset of `output.log` in `dir` (0 before any rotation).
pub fn read_log_base(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join(LOG_BASE_NAME))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// The output log with its size cap: when the current part reaches half the cap it becomes
/// `output.log.1` (replacing an older one) and a new `output.log` starts, so a session never
/// keeps more than about the cap on disk, and always keeps the latest half of it.
pub struct OutputLog {
    file: File,
    dir: PathBuf,
    len: u64,
    /// Offset of the current part's first byte in the whole output.
    base: u64,
    rotate_at: u64,
}

impl OutputLog {
    /// Opens (appending to) the session's log.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<OutputLog> {
        let file = open_append(&dir.join(LOG_NAME))?;
        let len = file.metadata()?.len();
        Ok(OutputLog {
            file,
            dir: dir.to_path_buf(),
            len,
            base: read_log_base(dir),
            // A tiny cap still rotates sensibly.
            rotate_at: (max_bytes / 2).max(4096),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.len > 0 && self.len + bytes.len() as u64 > self.rotate_at {
            self.rotate()?;
        }
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        // Each step is an atomic rename, in an order readers can check: a reader reads the
        // base before and after opening output.log and retries when it changed (see
        // SessionManager::output); while output.log is missing it finds nothing new yet.
        let base = self.base + self.len;
        let tmp = self.dir.join(".output.log.base.tmp");
        std::fs::write(&tmp, base.to_string())?;
        std::fs::rename(self.dir.join(LOG_NAME), self.dir.join(OLD_LOG_NAME))?;
        std::fs::rename(&tmp, self.dir.join(LOG_BASE_NAME))?;
        self.file = open_append(&self.dir.join(LOG_NAME))?;
        self.base = base;
        self.len = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Starts the reader; the returned channel fires when the PTY reached end of file.
pub fn spawn(
    shared: Arc<Shared>,
    mut pty: Box<dyn Read + Send>,
    mut log: OutputLog,
) -> Receiver<()> {
    let (done_tx, done_rx) = channel();
    std::thread::Builder::new()
        .name("pty-reader".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match pty.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // The log is the record of truth: written before anything else, and
                        // unbuffered so `logs` readers see output at once.
                        if let Err(e) = log.write(&buf[..n]) {
                            eprintln!("agent-sessions host: writing output.log: {e}");
                        }
                        shared.on_output(&buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // Linux reports EIO once the last slave descriptor closes: that is EOF.
                    Err(_) => break,
                }
            }
            let _ = done_tx.send(());
        })
        .expect("spawning the reader thread");
    done_rx
}
