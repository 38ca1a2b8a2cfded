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
//! The order of a direct start: the starter takes the lock, forks; the host moves to
//! another CPU (see `move_off_cpu`), detaches, spawns the agent and reports ready (fd 3);
//! the starter opens the store meanwhile and inserts the record (starting), reads the
//! report, records running, then writes one byte on the go pipe. The host opens its own
//! connection as soon as it has reported, but writes only after that byte (or the pipe's
//! end): its writes always find the record, and it does not compete with the starter for
//! SQLite's write lock. A starter that dies before writing the byte leaves the pipe at its
//! end: the host records `running` itself if the record exists (a starter that died just
//! after its commit), and otherwise ends the agent no one can see.
//!
//! A starter that exits right after its start (the CLI, which says so to its manager)
//! writes `GO_RECORDED_EXITING` instead and leaves the pipe open until its exit; the host
//! waits for that end before the rest of its start-up (threads, the first sample), which
//! would otherwise take the CPU the starter's exit and its caller's wake-up need.

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
/// The same, from a starter that exits next (the CLI's `start`): the host waits for the go
/// pipe's end before its own start-up (see [`wait_go`]).
pub(crate) const GO_RECORDED_EXITING: u8 = b'x';
/// How long a host waits for an exiting starter to be gone.
const STARTER_EXIT_WAIT_MS: u16 = 100;

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

    /// Tells the host that the outcome is recorded: it may open the store. `exiting`: this
    /// process exits next; the go pipe then stays open until it does, and the host waits for
    /// that before its start-up burst (the store's open, the first sample, its threads),
    /// which on a two-core machine otherwise competes with the starter's exit and its
    /// caller's wake-up (measured: 0.8 ms of a 5 ms `start`).
    pub fn recorded(mut self, exiting: bool) {
        let byte = if exiting {
            GO_RECORDED_EXITING
        } else {
            GO_RECORDED
        };
        let _ = self.go.write_all(&[byte]);
        if exiting {
            // Closed by the exit itself.
            std::mem::forget(self.go);
        }
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
    // SAFETY: no arguments; -1 on failure, which `move_off_cpu` ignores.
    let starter_cpu = unsafe { libc::sched_getcpu() };
    // SAFETY: one thread and no store connection (`can_fork`): the child runs only code
    // that allocates and locks afresh, and leaves through `_exit`.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            move_off_cpu(starter_cpu);
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

/// Moves the just-forked host off the starter's CPU, `cpu`, onto another one it may use.
///
/// Why: measured on a two-core VM, the kernel placed every forked child on its parent's CPU
/// and left it queued there while the other core idled, so the host's set-up (terminal,
/// agent spawn) waited for the starter's own work (the store's open and first insert)
/// instead of running beside it: 0.7 ms of a 4 ms start. Narrowing the affinity mask makes
/// the kernel migrate this process at once; putting the mask back straight after leaves it
/// where it now runs, and the agent inherits the original mask. The user's own mask (from
/// `taskset`) is respected: only CPUs in it are used, and nothing changes when it holds no
/// other CPU.
fn move_off_cpu(cpu: i32) {
    let Ok(cpu) = usize::try_from(cpu) else {
        return;
    };
    // SAFETY: cpu_set_t is plain data; the calls get its size and a valid pointer.
    unsafe {
        let mut original: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if cpu >= libc::CPU_SETSIZE as usize
            || libc::sched_getaffinity(0, size, &mut original) != 0
            || !libc::CPU_ISSET(cpu, &original)
        {
            return;
        }
        let mut others = original;
        libc::CPU_CLR(cpu, &mut others);
        if libc::CPU_COUNT(&others) == 0 || libc::sched_setaffinity(0, size, &others) != 0 {
            return;
        }
        libc::sched_setaffinity(0, size, &original);
    }
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

/// Blocks until the starter has recorded the outcome or is gone; after an exiting
/// starter's byte, also until it has exited (at most `STARTER_EXIT_WAIT_MS`).
pub(crate) fn wait_go(mut go: File) -> Starter {
    use std::io::Read;
    let mut byte = [0u8; 1];
    loop {
        match go.read(&mut byte) {
            Ok(1) if byte[0] == GO_RECORDED => return Starter::Recorded,
            Ok(1) if byte[0] == GO_RECORDED_EXITING => {
                wait_end(&go);
                return Starter::Recorded;
            }
            Ok(1) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => return Starter::Vanished,
        }
    }
}

/// Waits for the go pipe's end (the starter's exit closes it), at most
/// `STARTER_EXIT_WAIT_MS`: a starter that lingers only delays this host's start-up.
fn wait_end(go: &File) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(STARTER_EXIT_WAIT_MS.into());
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let mut pfd = [PollFd::new(std::os::fd::AsFd::as_fd(go), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(left.as_millis().max(1) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut pfd, ms) {
            Err(nix::errno::Errno::EINTR) => continue,
            // Readable (only its end can follow the byte), hung up, or an error: go on.
            _ => return,
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
