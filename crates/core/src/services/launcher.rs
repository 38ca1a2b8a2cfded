//! Starting a session host from the library: find the host binary, hand it the launch spec,
//! and wait for its readiness report.

use crate::config::home::Home;
use crate::model::error::{Error, Result};
use crate::services::launch_spec::{LaunchSpec, ReadyReport};
use crate::services::launch_spec::{LOCK_FD, READY_FD};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Environment variable naming the host binary explicitly.
pub const HOST_BIN_ENV: &str = "AGENT_SESSIONS_HOST_BIN";
/// How long a new host may take to report.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Finds the binary that runs session hosts (the `agent-sessions` CLI in its hidden host
/// mode): `$AGENT_SESSIONS_HOST_BIN`, then `agent-sessions` beside the running executable
/// (and one folder up, for test binaries in `target/*/deps`), then on PATH.
pub fn find_host_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(HOST_BIN_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(Error::InvalidArgument(format!(
            "{HOST_BIN_ENV} is set to {}, which is not a file",
            p.display()
        )));
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join("agent-sessions");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    crate::config::agents::resolve_program("agent-sessions").ok_or_else(|| {
        Error::InvalidArgument(format!(
            "cannot find the agent-sessions host binary: install the agent-sessions CLI on PATH or set {HOST_BIN_ENV}"
        ))
    })
}

/// Creates the session folder and takes the session lock, before the record exists, so no
/// reader can ever see a starting session without a lock holder and call it abandoned.
pub fn lock_new_session(home: &Home, id: &str) -> Result<File> {
    let dir = home.create_session_dir(id)?;
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("host.lock"))
        .map_err(|e| Error::io("creating host.lock", e))?;
    if !try_flock(&lock_file, libc::LOCK_EX) {
        return Err(Error::Host {
            id: id.to_string(),
            reason: "session lock is held by another process".into(),
        });
    }
    Ok(lock_file)
}

/// Takes the lock of an existing session for a resume, waiting up to `wait` for the
/// previous host, which records the ending before it exits, to let go of it.
pub fn lock_existing_session(home: &Home, id: &str, wait: Duration) -> Result<File> {
    let deadline = std::time::Instant::now() + wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match lock_new_session(home, id) {
            Ok(f) => return Ok(f),
            Err(Error::Host { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Launches the host for a session whose record already exists in state `starting`, handing
/// it the lock from [`lock_new_session`]. Returns once the agent runs, or with the host's
/// reason when it could not start it. The caller keeps its descriptor of the lock until it
/// has recorded the outcome, and closes it then: the host's inherited descriptor of the same
/// open file keeps the lock held for as long as the host lives.
pub fn launch(home: &Home, host_bin: &Path, spec: &LaunchSpec, lock: &File) -> Result<ReadyReport> {
    let id = &spec.session_id;
    let dir = home.session_dir(id)?;
    let host_err = |reason: String| Error::Host {
        id: id.clone(),
        reason,
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.join("host.log"))
        .map_err(|e| Error::io("creating host.log", e))?;
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating the readiness pipe", e.into()))?;

    let ready_raw = ready_w.as_raw_fd();
    let lock_raw = lock.as_raw_fd();
    let mut cmd = Command::new(host_bin);
    cmd.arg("__host")
        .arg("--home")
        .arg(home.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    // Only dup2 here: it is async-signal-safe, as code between fork and exec must be.
    unsafe {
        cmd.pre_exec(move || {
            // Move both out of the way first: either may already sit on 3 or 4.
            let ready_high = libc::fcntl(ready_raw, libc::F_DUPFD_CLOEXEC, 10);
            let lock_high = libc::fcntl(lock_raw, libc::F_DUPFD_CLOEXEC, 10);
            if ready_high < 0
                || lock_high < 0
                || libc::dup2(ready_high, READY_FD) < 0
                || libc::dup2(lock_high, LOCK_FD) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| host_err(format!("cannot run {}: {e}", host_bin.display())))?;
    let spec_json = serde_json::to_vec(spec).expect("launch spec serializes");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&spec_json)
            .map_err(|e| host_err(format!("sending the launch spec: {e}")))?;
    }
    drop(ready_w);
    // The direct child forks the real host and exits at once.
    let status = child
        .wait()
        .map_err(|e| host_err(format!("waiting for the host: {e}")))?;
    if !status.success() {
        return Err(host_err(format!(
            "host exited with {status}; see {}",
            dir.join("host.log").display()
        )));
    }
    let report = read_report(ready_r)
        .map_err(|reason| host_err(format!("{reason}; see {}", dir.join("host.log").display())))?;
    check_report(report, &spec.agent_type)
}

/// A host's readiness report as the launch outcome: the pids, or why the agent could not
/// start.
pub fn check_report(report: ReadyReport, agent_type: &str) -> Result<ReadyReport> {
    match report {
        r @ ReadyReport {
            ok: true,
            agent_pid: Some(_),
            host_pid: Some(_),
            ..
        } => Ok(r),
        ReadyReport { error, .. } => Err(Error::AgentLaunch {
            agent: agent_type.to_string(),
            reason: error.unwrap_or_else(|| "the host gave no reason".into()),
        }),
    }
}

/// Reads a host's readiness report from its pipe, waiting at most `READY_TIMEOUT`.
pub fn read_report(fd: OwnedFd) -> std::result::Result<ReadyReport, String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let file = File::from(fd);
    let mut pfd = [PollFd::new(
        std::os::fd::AsFd::as_fd(&file),
        PollFlags::POLLIN,
    )];
    let ms = READY_TIMEOUT.as_millis() as i32;
    match poll(
        &mut pfd,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(0) => {
            return Err(format!(
                "no readiness report within {}s",
                READY_TIMEOUT.as_secs()
            ))
        }
        Ok(_) => {}
        Err(e) => return Err(format!("waiting for the readiness report: {e}")),
    }
    let mut line = String::new();
    BufReader::new(file)
        .read_line(&mut line)
        .map_err(|e| format!("reading the readiness report: {e}"))?;
    if line.is_empty() {
        return Err("the host exited before reporting".into());
    }
    serde_json::from_str(&line).map_err(|e| format!("malformed readiness report: {e}"))
}

/// Is the session's host alive? True when its lock is held. Never blocks.
pub fn host_alive(home: &Home, id: &str) -> Result<bool> {
    let path = home.session_dir(id)?.join("host.lock");
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(format!("opening {}", path.display()), e)),
    };
    // A shared lock succeeds only when no host holds its exclusive one; closing the file
    // right after releases our probe.
    Ok(!try_flock(&file, libc::LOCK_SH))
}

/// Non-blocking flock; true when acquired.
fn try_flock(file: &File, op: libc::c_int) -> bool {
    // SAFETY: flock on a descriptor we own for the duration of the call.
    unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) == 0 }
}
