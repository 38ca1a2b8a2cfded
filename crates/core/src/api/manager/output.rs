//! A session's raw output: reading by offset across log rotations, and following it.

use super::SessionManager;
use crate::model::error::{Error, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

impl SessionManager {
    /// Path of the session's raw output log.
    pub fn log_path(&self, session_id: &str) -> Result<PathBuf> {
        Ok(self.home.session_dir(session_id)?.join("output.log"))
    }

    /// Reads up to `max` bytes of raw output starting at `offset`; returns the bytes and the
    /// offset to continue from. Offsets count from the session's first output byte (bytes a
    /// full disk kept out of the log take none: see `output_bytes_lost`) and stay valid
    /// across log rotations: an offset in the older part reads from it, and one whose
    /// bytes were rotated away continues at the oldest byte kept.
    pub fn output(&self, session_id: &str, offset: u64, max: usize) -> Result<(Vec<u8>, u64)> {
        self.get(session_id)?; // existence and id validation
        let dir = self.home.session_dir(session_id)?;
        let open = |name: &str| -> Result<Option<std::fs::File>> {
            match std::fs::File::open(dir.join(name)) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(format!("opening {name}"), e)),
            }
        };
        // A rotation renames output.log to output.log.1, then moves the base, then makes a
        // new output.log (see host::reader). The base read before and after opening both
        // parts must agree, both parts must be different files, and output.log must exist
        // while output.log.1 does: otherwise a rotation is under way, and we look again (it
        // takes microseconds; the bound only guards against a host killed mid-rotation).
        let mut tries = 0;
        let (base, current, older) = loop {
            let before = crate::host::read_log_base(&dir);
            let current = open(crate::host::LOG_NAME)?;
            let older = open(crate::host::OLD_LOG_NAME)?;
            let settled = crate::host::read_log_base(&dir) == before
                && match (&current, &older) {
                    (Some(c), Some(o)) => !same_file(c, o),
                    (None, Some(_)) => false,
                    _ => true,
                };
            tries += 1;
            if settled || tries > 1000 {
                break (before, current, older);
            }
            if tries > 10 {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let read_from = |f: std::fs::File, at: u64, max: u64| -> Result<Vec<u8>> {
            let mut f = f;
            f.seek(SeekFrom::Start(at))
                .map_err(|e| Error::io("seeking in the output log", e))?;
            let mut buf = Vec::new();
            f.take(max)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("reading the output log", e))?;
            Ok(buf)
        };
        if offset < base {
            if let Some(old) = older {
                let old_len = old.metadata().map_or(0, |m| m.len());
                let old_start = base.saturating_sub(old_len);
                let at = offset.max(old_start);
                let want = (max as u64).min(base - at);
                let buf = read_from(old, at - old_start, want)?;
                let next = at + buf.len() as u64;
                return Ok((buf, next));
            }
        }
        let Some(current) = current else {
            return Ok((Vec::new(), offset.max(base)));
        };
        let at = offset.max(base);
        let buf = read_from(current, at - base, max as u64)?;
        let next = at + buf.len() as u64;
        Ok((buf, next))
    }

    /// Where the session's output ends now (the offset the next byte will have).
    pub fn output_end(&self, session_id: &str) -> Result<u64> {
        let dir = self.home.session_dir(session_id)?;
        let len = std::fs::metadata(dir.join(crate::host::LOG_NAME)).map_or(0, |m| m.len());
        Ok(crate::host::read_log_base(&dir) + len)
    }

    pub(crate) fn output_tail(&self, session_id: &str, max: u64) -> Result<(Vec<u8>, u64)> {
        let end = self.output_end(session_id)?;
        self.output(session_id, end.saturating_sub(max), max as usize)
    }
}

/// Whether two open files are the same file (the same inode on the same device).
fn same_file(a: &std::fs::File, b: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// What [`OutputCursor::follow`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFollowed {
    /// New output; `at` is the offset of its first byte (past `offset` when a log rotation
    /// dropped bytes the follower had not read).
    Bytes {
        /// The bytes, exactly as the agent wrote them (escape sequences included).
        data: Vec<u8>,
        /// Log offset of `data[0]`.
        at: u64,
    },
    /// Nothing new within the wait; the session may still write.
    Quiet,
    /// The session has ended and everything it wrote was read: a follower is done.
    Ended,
}

/// Where a follower of a session's output is. Used by `logs --follow`, Python's `stream()`
/// and the C ABI's `as_session_output_follow`, so all three handle a rotation the same way.
#[derive(Debug, Clone)]
pub struct OutputCursor {
    /// The session whose output is read.
    pub session_id: String,
    /// The offset the next byte read will have.
    pub offset: u64,
}

impl OutputCursor {
    /// A cursor whose first read starts at log offset `offset` (0: the oldest output kept;
    /// [`SessionManager::output_end`]: only new output).
    pub fn new(session_id: &str, offset: u64) -> OutputCursor {
        OutputCursor {
            session_id: session_id.to_string(),
            offset,
        }
    }

    /// Up to `max` new bytes, waiting up to `wait` for some; or word that none came, or that
    /// the session ended and all its output was read. The log is a file written by another
    /// process, so this polls it (10 ms, backing off to 100 ms while nothing comes).
    pub fn follow(
        &mut self,
        mgr: &SessionManager,
        max: usize,
        wait: Duration,
    ) -> Result<OutputFollowed> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(found) = self.read(mgr, max)? {
                return Ok(found);
            }
            // State first, then one more read: once the session has ended its log is
            // complete, so an empty read after seeing it ended means the end.
            if mgr.state(&self.session_id)?.is_ended() {
                return Ok(self.read(mgr, max)?.unwrap_or(OutputFollowed::Ended));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(OutputFollowed::Quiet);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// One read; `None` when nothing new is there. An empty read whose offset moved (a
    /// rotation dropped bytes) moves the cursor and reads again.
    fn read(&mut self, mgr: &SessionManager, max: usize) -> Result<Option<OutputFollowed>> {
        loop {
            let (data, next) = mgr.output(&self.session_id, self.offset, max.max(1))?;
            let moved = next != self.offset;
            self.offset = next;
            if !data.is_empty() {
                let at = next - data.len() as u64;
                return Ok(Some(OutputFollowed::Bytes { data, at }));
            }
            if !moved {
                return Ok(None);
            }
        }
    }
}
