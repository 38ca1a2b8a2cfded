//! Starting a host by forking the starter itself, without running the host binary.
//!
//! Running `agent-sessions __host` costs an exec of the whole binary, its dynamic loading
//! and runtime start, and a second fork to detach: about half of a `start` on a quiet
//! machine. A starter that is the only thread of its process and has not opened the store
//! yet (the CLI) can instead fork the host straight away. The fork then runs beside the
//! starter: the host opens its terminal and spawns the agent while the starter opens the
//! store and inserts the record.
//!
//! What makes this safe, and why only then (see [`can_fork`]):
//! - one thread: after `fork` only the calling thread exists, so a lock another thread held
//!   (the allocator's, stdio's) would stay locked forever in the child;
//! - no store connection opened yet in this process: SQLite keeps per-file state (lock
//!   counts, the shared-memory mapping) in process globals, which a forked child inherits
//!   but does not own, and a connection the child then opened would trust it. Python or C
//!   callers have threads and open connections, so they keep the exec path.
//!
//! The order of a direct start: the starter takes the lock, forks; the host detaches,
//! spawns the agent and reports ready (fd 3); the starter opens the store meanwhile, reads
//! the report, records the session (starting, then running, in one transaction), then
//! writes one byte on the go pipe. The host opens the store only after that byte (or the
//! pipe's end): its writes always find the record, and it does not compete with the starter
//! for SQLite's write lock. A starter that dies before writing the byte leaves the pipe at
//! its end: the host records `running` itself if the record exists (a starter that died
//! just after its commit), and otherwise ends the agent no one can see.

use crate::config::home::Home;
use crate::model::error::{Error, Result};
use crate::services::launch_spec::{LaunchSpec, ReadyReport, LOCK_FD, READY_FD};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// File descriptor of the go pipe in a forked host.
pub(crate) const GO_FD: i32 = 5;
/// The byte the starter writes once it has recorded the launch outcome.
pub(crate) const GO_RECORDED: u8 = b'r';

/// May this process fork a host without an exec? True when it has one thread and has
/// never opened a store connection (see the module notes), and no host binary was named
/// explicitly (`AGENT_SESSIONS_HOST_BIN`), which is then honoured.
pub fn can_fork() -> bool {
    !crate::store::opened_in_this_process()
        && std::env::var_os(crate::services::launcher::HOST_BIN_ENV).is_none_or(|v| v.is_empty())
        && single_threaded()
}

/// One thread in this process? `/proc/self/task` has a link for each thread plus two.
fn single_threaded() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/task").is_ok_and(|m| m.nlink() == 3)
}

/// A host forked by [`fork_host`], until the starter has recorded the outcome.
pub struct ForkedHost {
    ready: Option<OwnedFd>,
    /// Dropped without a byte when the starter fails before recording: the host then sees
    /// the pipe's end.
    go: File,
    log: std::path::PathBuf,
    id: String,
    agent_type: String,
}

impl ForkedHost {
    /// Waits for the host's readiness report: the agent's and host's pids, or why the agent
    /// could not start.
    pub fn wait_ready(&mut self) -> Result<ReadyReport> {
        let host_err = |reason: String| Error::Host {
            id: self.id.clone(),
            reason: format!("{reason}; see {}", self.log.display()),
        };
        let fd = self
            .ready
            .take()
            .ok_or_else(|| host_err("the readiness report was already read".into()))?;
        let report = crate::services::launcher::read_report(fd).map_err(host_err)?;
        crate::services::launcher::check_report(report, &self.agent_type)
    }

    /// Tells the host that the outcome is recorded: it may open the store.
    pub fn recorded(mut self) {
        let _ = self.go.write_all(&[GO_RECORDED]);
    }
}

/// Forks the host of a session whose folder and lock exist (the lock is `lock`, from
/// [`crate::services::launcher::lock_new_session`]). Only when [`can_fork`] said so. The
/// child never returns: it runs the session and exits.
pub fn fork_host(home: &Home, spec: &LaunchSpec, lock: &File) -> Result<ForkedHost> {
    let id = &spec.session_id;
    let dir = home.session_dir(id)?;
    let log_path = dir.join("host.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| Error::io("creating host.log", e))?;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| Error::io("opening /dev/null", e))?;
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::io("creating the host's pipes", e.into()))
    };
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    // SAFETY: one thread and no store connection (`can_fork`): the child runs only code
    // that allocates and locks afresh, and leaves through `_exit`.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let code = child(
                home,
                spec,
                [
                    ready_w.as_raw_fd(),
                    lock.as_raw_fd(),
                    go_r.as_raw_fd(),
                    null.as_raw_fd(),
                    log.as_raw_fd(),
                ],
            );
            // SAFETY: ends the child without running the starter's exit handlers or
            // flushing its buffers, which belong to the starter.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {}
        Err(e) => {
            return Err(Error::Host {
                id: id.clone(),
                reason: format!("cannot fork the host: {e}"),
            })
        }
    }
    drop((ready_w, go_r));
    Ok(ForkedHost {
        ready: Some(ready_r),
        go: File::from(go_w),
        log: log_path,
        id: id.clone(),
        agent_type: spec.agent_type.clone(),
    })
}

/// The forked host: the descriptors set up as the exec path's host finds them, then the
/// session run to its end. Returns the exit code.
fn child(home: &Home, spec: &LaunchSpec, fds: [i32; 5]) -> i32 {
    // SAFETY: descriptor calls on descriptors this process owns. Each is first moved above
    // the targets, since any of them may sit on 0..=5 already.
    unsafe {
        let high = fds.map(|fd| libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10));
        if high.iter().any(|&fd| fd < 0) {
            return 1;
        }
        let [ready, lock, go, null, log] = high;
        for (from, to) in [
            (null, 0),
            (null, 1),
            (log, 2),
            (ready, READY_FD),
            (lock, LOCK_FD),
            (go, GO_FD),
        ] {
            if libc::dup2(from, to) < 0 {
                return 1;
            }
        }
        // Everything else the starter had open (its own pipes, the copies above) is not
        // the host's: the exec path's close-on-exec would have closed it.
        if libc::syscall(libc::SYS_close_range, GO_FD + 1, u32::MAX, 0) != 0 {
            for fd in GO_FD + 1..1024 {
                libc::close(fd);
            }
        }
        // As the Rust runtime sets it for the exec path: a client that hangs up must not
        // kill the host (the CLI sets SIGPIPE to its default for itself).
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // A panic must not unwind into the starter's frames, which this child also holds.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: GO_FD was set up above and has no other owner.
        let go = unsafe { File::from_raw_fd(GO_FD) };
        super::detached(home.root(), spec.clone(), Some(go))
    }))
    .unwrap_or(1)
}

/// What a forked host learned from its go pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Starter {
    /// The starter recorded the launch outcome (running).
    Recorded,
    /// The pipe ended without the byte: the starter failed or died before, or just after, it
    /// committed the record (see [`record_exists`]).
    Vanished,
}

/// Blocks until the starter has recorded the outcome or is gone.
pub(crate) fn wait_go(mut go: File) -> Starter {
    use std::io::Read;
    let mut byte = [0u8; 1];
    loop {
        match go.read(&mut byte) {
            Ok(1) if byte[0] == GO_RECORDED => return Starter::Recorded,
            Ok(1) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => return Starter::Vanished,
        }
    }
}

/// Does the session's record exist, for a host whose starter vanished before saying so? A
/// store that cannot be read says no: the starter most likely failed on that same store,
/// and has told its caller that the start failed, so an agent left running would be one no
/// one knows of.
pub(crate) fn record_exists(home: &Home, id: &str) -> bool {
    crate::store::Store::open(home)
        .and_then(|s| s.get(id))
        .is_ok_and(|r| r.is_some())
}
