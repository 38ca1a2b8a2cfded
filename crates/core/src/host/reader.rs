//! The PTY reader thread: every byte the agent writes goes to the log first, then to the
//! screen model and attached clients.

use super::shared::Shared;
use parking_lot::Mutex;
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
/// rotation: `output.log` starts at this offset, `output.log.1` right before it. Output the
/// log could not keep (a full disk) takes no offsets; see `host::lost`.
pub const LOG_BASE_NAME: &str = "output.log.base";

/// The next base while a rotation is under way.
const BASE_TMP_NAME: &str = ".output.log.base.tmp";

/// The start offset of `output.log` in `dir` (0 before any rotation).
pub fn read_log_base(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join(LOG_BASE_NAME))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Largest piece the rotation rule is applied to (see `OutputLog::append`).
const ROTATE_STEP: usize = 4096;

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
        // A host killed in the middle of a rotation (see `rotate`) left the new base in the
        // temporary file: finish the rotation if the log was already moved, else drop it.
        let tmp = dir.join(BASE_TMP_NAME);
        if tmp.exists() {
            if dir.join(LOG_NAME).exists() {
                std::fs::remove_file(&tmp)?;
            } else {
                std::fs::rename(&tmp, dir.join(LOG_BASE_NAME))?;
            }
        }
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

    #[cfg(test)]
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.append(bytes) {
            (_, None) => Ok(()),
            (_, Some(e)) => Err(e),
        }
    }

    /// Appends as much of `bytes` as the disk takes: returns how many bytes were kept (a
    /// prefix) and the error that stopped the rest. What was kept is counted exactly, so the
    /// offsets stay right after a partial write.
    fn append(&mut self, bytes: &[u8]) -> (usize, Option<std::io::Error>) {
        let mut done = 0;
        while done < bytes.len() {
            // The rotation rule applies per piece of at most ROTATE_STEP bytes (a PTY read's
            // size): a part passes the mark by less than that however much the reader
            // gathered into one batch.
            let end = bytes.len().min(done + ROTATE_STEP);
            if self.len > 0 && self.len + (end - done) as u64 > self.rotate_at {
                if let Err(e) = self.rotate() {
                    return (done, Some(e));
                }
            }
            match self.file.write(&bytes[done..end]) {
                Ok(0) => return (done, Some(ErrorKind::WriteZero.into())),
                Ok(n) => {
                    done += n;
                    self.len += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (done, Some(e)),
            }
        }
        (done, None)
    }

    /// The offset the next kept byte will have.
    fn end(&self) -> u64 {
        self.base + self.len
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        // Each step is an atomic rename, in an order readers can check: a reader reads the
        // base before and after opening output.log and retries when it changed (see
        // SessionManager::output); while output.log is missing it finds nothing new yet.
        let base = self.base + self.len;
        let tmp = self.dir.join(BASE_TMP_NAME);
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

/// Where output goes after the log. The reader starts before the store is open (the host
/// must keep reading the terminal even while it cannot open the store, see
/// `super::open_store`), and the shared state is built around the open store; until it
/// exists, output waits here and is then handed over in order.
pub struct Sink(Mutex<SinkState>);

enum SinkState {
    Early(Vec<u8>),
    Live(Arc<Shared>),
}

/// Output kept while no shared state exists: only the screen model needs it (the log has
/// every byte), and this is plenty to paint any screen.
const EARLY_TAIL: usize = 256 << 10;

impl Sink {
    pub fn new() -> Arc<Sink> {
        Arc::new(Sink(Mutex::new(SinkState::Early(Vec::new()))))
    }

    fn deliver(&self, chunk: &[u8]) {
        match &mut *self.0.lock() {
            SinkState::Live(shared) => shared.on_output(chunk),
            SinkState::Early(early) => {
                early.extend_from_slice(chunk);
                if early.len() > 2 * EARLY_TAIL {
                    // Keep the tail from a line start, led by CAN (which ends any escape
                    // sequence cut in half), as the screen's own queue does when it trims.
                    let cut = early.len() - EARLY_TAIL;
                    let start = early[cut..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(cut, |i| cut + i + 1);
                    early.drain(..start);
                    early.insert(0, 0x18);
                }
            }
        }
    }

    /// Hands what came so far, then everything that follows, to `shared`.
    pub fn go_live(&self, shared: Arc<Shared>) {
        let mut state = self.0.lock();
        if let SinkState::Early(early) = &*state {
            if !early.is_empty() {
                shared.on_output(early);
            }
        }
        *state = SinkState::Live(shared);
    }
}

/// Bytes gathered from the terminal before they are written out. A PTY hands over at most
/// about 4 KiB per read; writing each read to the log on its own costs a syscall and a
/// filesystem round per 4 KiB, which in a flood is most of the host's work.
const BATCH: usize = 64 * 1024;

/// Room below which a batch is written out rather than read into further (no tiny reads).
const MIN_READ: usize = 4 * 1024;

/// The reader's own descriptor of the PTY master (close-on-exec), a plain file so it can be
/// asked how much is waiting (`FIONREAD`) as well as read.
pub fn clone_master(master: &dyn portable_pty::MasterPty) -> std::io::Result<File> {
    use std::os::fd::FromRawFd;
    let fd = master
        .as_raw_fd()
        .ok_or_else(|| std::io::Error::other("the PTY master has no descriptor"))?;
    // SAFETY: duplicating a descriptor the master keeps open for this call; the new one is
    // ours alone and owned by the returned File.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh descriptor nothing else owns.
    Ok(unsafe { File::from_raw_fd(dup) })
}

/// Bytes the terminal has ready to read now (0 when unknown).
fn waiting(pty: &File) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which is valid for the call.
    let rc = unsafe { libc::ioctl(pty.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

/// Starts the reader; the returned channel fires when the PTY reached end of file.
pub fn spawn(
    sink: Arc<Sink>,
    lost: Arc<super::lost::LostOutput>,
    mut pty: File,
    mut log: OutputLog,
) -> Receiver<()> {
    let (done_tx, done_rx) = channel();
    std::thread::Builder::new()
        .name("pty-reader".into())
        .spawn(move || {
            let mut buf = vec![0u8; BATCH];
            let mut filled = 0;
            // The log is the record of truth: written before anything else, and written out
            // as soon as the terminal has nothing more ready, so `logs` readers see output
            // at once. What it cannot keep (a full disk) is counted, and the terminal is
            // drained anyway: an agent must never block on our disk.
            let mut write_out = |bytes: &[u8]| {
                match log.append(bytes) {
                    (_, None) => lost.kept(),
                    (kept, Some(e)) => lost.lose(log.end(), (bytes.len() - kept) as u64, &e),
                }
                sink.deliver(bytes);
            };
            loop {
                match pty.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => {
                        filled += n;
                        // More is already waiting (a flood): read it into this batch first,
                        // one log write per batch. Never waits: when nothing is ready, the
                        // batch goes out now.
                        if buf.len() - filled >= MIN_READ && waiting(&pty) > 0 {
                            continue;
                        }
                        write_out(&buf[..filled]);
                        filled = 0;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // Linux reports EIO once the last slave descriptor closes: that is EOF.
                    Err(_) => break,
                }
            }
            if filled > 0 {
                write_out(&buf[..filled]);
            }
            let _ = done_tx.send(());
        })
        .expect("spawning the reader thread");
    done_rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn rotation_keeps_offsets_and_one_older_part() {
        let d = dir();
        let mut log = OutputLog::open(d.path(), 8192).unwrap();
        for _ in 0..5 {
            log.write(&[b'x'; 3000]).unwrap();
        }
        // Rotates at 4096: each 3000-byte write after the first starts a new part.
        assert_eq!(read_log_base(d.path()), 12_000);
        assert_eq!(
            std::fs::metadata(d.path().join(LOG_NAME)).unwrap().len(),
            3000
        );
        assert_eq!(
            std::fs::metadata(d.path().join(OLD_LOG_NAME))
                .unwrap()
                .len(),
            3000
        );
        // Reopened (a resumed session), it carries on from the same base.
        drop(log);
        let mut log = OutputLog::open(d.path(), 8192).unwrap();
        log.write(&[b'y'; 3000]).unwrap();
        assert_eq!(read_log_base(d.path()), 15_000);
    }

    #[test]
    fn a_full_disk_loses_bytes_without_moving_offsets() {
        let d = dir();
        // /dev/full fails every write with ENOSPC, as a full disk does.
        std::os::unix::fs::symlink("/dev/full", d.path().join(LOG_NAME)).unwrap();
        let mut log = OutputLog::open(d.path(), 8192).unwrap();
        let (kept, err) = log.append(b"lost");
        assert_eq!(kept, 0);
        assert_eq!(err.unwrap().kind(), ErrorKind::StorageFull);
        assert_eq!(log.end(), 0);
    }

    #[test]
    fn a_rotation_cut_short_is_finished_or_undone() {
        // Killed after moving the log, before publishing the base: finished on open.
        let d = dir();
        std::fs::write(d.path().join(OLD_LOG_NAME), b"old").unwrap();
        std::fs::write(d.path().join(BASE_TMP_NAME), b"42").unwrap();
        OutputLog::open(d.path(), 8192).unwrap();
        assert_eq!(read_log_base(d.path()), 42);
        assert!(!d.path().join(BASE_TMP_NAME).exists());
        // Killed before moving the log: the base stays.
        let d = dir();
        std::fs::write(d.path().join(LOG_NAME), b"current").unwrap();
        std::fs::write(d.path().join(BASE_TMP_NAME), b"42").unwrap();
        OutputLog::open(d.path(), 8192).unwrap();
        assert_eq!(read_log_base(d.path()), 0);
        assert!(!d.path().join(BASE_TMP_NAME).exists());
    }
}
