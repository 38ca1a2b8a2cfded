//! The host's own diagnostics (its standard error, which the starter points at `host.log`).
//!
//! `eprintln!` panics when writing to standard error fails, and on a full disk it does
//! (ENOSPC). A panic in the PTY reader stops it draining the terminal, and the agent then
//! blocks writing to it forever; one in the main thread loses the session's ending. So the
//! host's standard error becomes a pipe, drained by a small thread into the real target:
//! writing to a pipe does not fail for lack of space, and what the drain cannot write is
//! counted, dropped and noted in the log once writing works again. Logging never blocks the
//! host on the disk and never takes it down.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// How long [`StderrGuard::finish`] waits for the last lines to reach the log.
const FINISH_WAIT: Duration = Duration::from_secs(1);

/// The drain thread behind the host's standard error.
pub struct StderrGuard {
    drained: Receiver<()>,
}

/// Replaces standard error with a pipe drained into what it was. Call it before any other
/// thread exists. `None` (and standard error unchanged) when the pipe or thread cannot be
/// made.
pub fn guard_stderr() -> Option<StderrGuard> {
    // SAFETY: plain descriptor calls on descriptors this process owns; the results are
    // checked, and each new descriptor gets exactly one owner below.
    let target = unsafe { libc::fcntl(libc::STDERR_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
    if target < 0 {
        return None;
    }
    let target = unsafe { File::from_raw_fd(target) };
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    let pipe = File::from(read_end);
    let (done_tx, drained) = channel();
    std::thread::Builder::new()
        .name("host-log".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            drain(pipe, target);
            let _ = done_tx.send(());
        })
        .ok()?;
    // SAFETY: as above. From here on, fd 2 is the pipe's write end (without CLOEXEC: dup2
    // clears it, which is harmless, since every child gets its own standard error).
    if unsafe { libc::dup2(write_end.as_raw_fd(), libc::STDERR_FILENO) } < 0 {
        return None;
    }
    drop(write_end);
    Some(StderrGuard { drained })
}

impl StderrGuard {
    /// Closes the pipe and gives the drain a moment to write what is left, so the host's
    /// last lines are not lost when it exits.
    pub fn finish(self) {
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            // SAFETY: replaces fd 2 with /dev/null; the pipe's last write end closes.
            unsafe { libc::dup2(null.as_raw_fd(), libc::STDERR_FILENO) };
        }
        // Bounded: something the host started may still hold a copy of the write end.
        let _ = self.drained.recv_timeout(FINISH_WAIT);
    }
}

fn drain(mut pipe: File, mut target: File) {
    let mut buf = vec![0u8; 8192];
    let mut lost: u64 = 0;
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if lost > 0 {
            let note = format!("agent-sessions host: {lost} bytes of this log were lost\n");
            if target.write_all(note.as_bytes()).is_ok() {
                lost = 0;
            }
        }
        if lost > 0 || target.write_all(&buf[..n]).is_err() {
            lost += n as u64;
        }
    }
}
