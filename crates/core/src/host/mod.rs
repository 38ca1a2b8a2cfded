//! The session host: one small process per session, in the manner of dtach and abduco.
//!
//! It owns the pseudo-terminal master, appends every output byte to the session's log, keeps
//! a screen model, serves a Unix socket (attach, input, resize, screen, stop), records state
//! changes in the store and reaps the agent. It runs detached from whoever started it, so a
//! session outlives a 50 ms hook, and a crash of one host touches no other session.
//!
//! Threads, all blocking (no polling, so an idle host uses no CPU):
//! - the main thread waits for the agent to exit and then finishes the session;
//! - a reader thread copies PTY output to the log and attached clients, and queues it for
//!   the screen;
//! - a screen thread applies queued output to the screen model (at most every 25 ms) and,
//!   for agents with screen rules, classifies the screen and drives the state
//!   ([`detector`]);
//! - an idle-timer thread flips running ⇄ waiting_input on output silence (for agents
//!   without screen rules, or whose screen shows nothing recognised) and flushes activity
//!   timestamps;
//! - an accept thread, plus one thread per connection.

mod detector;
mod diag;
pub(crate) mod lost;
mod reader;
mod screen;
mod server;
mod shared;
pub mod spec;
mod stop;
mod timer;
pub(crate) mod trim;

pub use reader::{read_log_base, LOG_BASE_NAME, LOG_NAME, OLD_LOG_NAME};
pub use screen::render_stream;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::state::State;
use crate::store::{self, Column, Guard, Store};
use portable_pty::{CommandBuilder, PtySize};
use shared::Shared;
use spec::{LaunchSpec, ReadyReport};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::sync::Arc;

/// File descriptor on which a new host reports readiness.
pub const READY_FD: i32 = 3;
/// File descriptor of the session's lock file, locked by the starter, held by the host for
/// its whole life. A free lock on a live-looking session means the host is gone.
pub const LOCK_FD: i32 = 4;

/// Entry point of the hidden `agent-sessions __host` command. Reads the [`LaunchSpec`] from
/// standard input, detaches into its own process session, runs the session to its end and
/// returns the process exit code.
pub fn host_main(home_dir: &Path) -> i32 {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("agent-sessions host: reading launch spec: {e}");
        return 1;
    }
    let spec: LaunchSpec = match serde_json::from_str(&input) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agent-sessions host: bad launch spec: {e}");
            return 1;
        }
    };
    // Fork so the starter can reap its direct child at once while the session lives on in a
    // grandchild that no one needs to wait for. Safe: no threads exist yet.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            eprintln!("agent-sessions host: fork: {e}");
            return 1;
        }
    }
    let _ = nix::unistd::setsid();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    // Neither the agent nor anything it starts may inherit these.
    for fd in [READY_FD, LOCK_FD] {
        let _ = nix::fcntl::fcntl(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    let ready = unsafe { File::from_raw_fd(READY_FD) };
    // Held open (and so locked) until this process exits.
    let _lock = unsafe { File::from_raw_fd(LOCK_FD) };
    // Before any thread starts: from here on no log line can take the host down.
    let stderr = diag::guard_stderr();
    let code = match run(home_dir, spec, ready) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("agent-sessions host: {e}");
            1
        }
    };
    if let Some(guard) = stderr {
        guard.finish();
    }
    code
}

fn report(mut ready: File, report: &ReadyReport) {
    let mut line = serde_json::to_vec(report).expect("report serializes");
    line.push(b'\n');
    let _ = ready.write_all(&line);
}

fn run(home_dir: &Path, spec: LaunchSpec, ready: File) -> Result<()> {
    let home = Home::resolve(Some(home_dir))?;
    let id = spec.session_id.clone();
    // Failures before the agent runs are only reported: the starter records them, so the
    // store stays off the start-up path.
    let fail = |ready: File, reason: String| -> Result<()> {
        report(
            ready,
            &ReadyReport {
                ok: false,
                error: Some(reason),
                agent_pid: None,
                host_pid: None,
            },
        );
        Ok(())
    };

    let dir = home.create_session_dir(&id)?;
    let socket_path = home.socket_path(&id)?;
    let listener = match server::bind(&socket_path) {
        Ok(l) => l,
        Err(e) => {
            return fail(
                ready,
                format!("cannot listen on {}: {e}", socket_path.display()),
            )
        }
    };
    let log = reader::OutputLog::open(&dir, spec.max_log_bytes)
        .map_err(|e| Error::io("opening output.log", e))?;

    let pty = match portable_pty::native_pty_system().openpty(PtySize {
        rows: spec.rows,
        cols: spec.cols,
        pixel_width: 0,
        pixel_height: 0,
    }) {
        Ok(p) => p,
        Err(e) => return fail(ready, format!("cannot open a pseudo-terminal: {e}")),
    };
    let mut cmd = CommandBuilder::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..]);
    cmd.cwd(&spec.cwd);
    if std::env::var_os("TERM").is_none_or(|t| t.is_empty() || t == "dumb") {
        cmd.env("TERM", "xterm-256color");
    }
    // Hooks the agent runs (Claude Code's) find their session through these.
    cmd.env(crate::claude_hooks::SESSION_ENV, &id);
    cmd.env(crate::home::HOME_ENV, home.root());
    if let Some(task) = &spec.task_id {
        cmd.env(crate::tasks::TASK_ENV, task);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let child = match pty.slave.spawn_command(cmd) {
        Ok(c) => c,
        Err(e) => {
            return fail(ready, format!("cannot run {}: {e}", spec.argv[0]));
        }
    };
    // The agent has its own copy of the slave; ours would keep the PTY open after it exits
    // and the reader would never see end of file.
    drop(pty.slave);
    let agent_pid = child.process_id().expect("a spawned unix child has a pid");
    // We reap with waitpid ourselves (to learn the signal number); the handle is not needed.
    drop(child);

    let reader = pty.master.try_clone_reader().map_err(|e| Error::Host {
        id: id.clone(),
        reason: format!("cloning the PTY reader: {e}"),
    })?;
    let writer = pty.master.take_writer().map_err(|e| Error::Host {
        id: id.clone(),
        reason: format!("taking the PTY writer: {e}"),
    })?;

    let started_at = crate::clock::now_iso();
    // Report first: the starter records `running` with its open connection, so `start`
    // returns without waiting for this process to open the store.
    report(
        ready,
        &ReadyReport {
            ok: true,
            error: None,
            agent_pid: Some(agent_pid),
            host_pid: Some(std::process::id()),
        },
    );
    let store = Store::open(&home)?;
    // The same transition, in case the starter died before recording it; whichever comes
    // second changes nothing.
    store.transition(
        &id,
        State::Running,
        "process spawned",
        "process",
        Guard::From(&[State::Starting]),
        &running_updates(&started_at, std::process::id(), agent_pid),
    )?;

    let telemetry_stop = crate::telemetry::StopSignal::new();
    let telemetry = crate::telemetry::spawn_sampler(
        &home,
        &id,
        agent_pid,
        std::path::PathBuf::from(&spec.cwd),
        spec.telemetry_config(),
        telemetry_stop.clone(),
    )
    .map_err(|e| eprintln!("agent-sessions host: no telemetry: {e}"))
    .ok();
    // Token sources the agent sees through its own --env (CLAUDE_CONFIG_DIR, CODEX_HOME).
    let usage_env = crate::telemetry::UsageEnv::from_env().with_overrides(&spec.env);
    let shared = Arc::new(Shared::new(spec, store, pty.master, writer, agent_pid));
    let reader_done = reader::spawn(shared.clone(), reader, log);
    timer::spawn(shared.clone());
    let screen_shared = shared.clone();
    std::thread::Builder::new()
        .name("screen".into())
        .spawn(move || screen_shared.run_screen_thread())
        .map_err(|e| Error::io("spawning the screen thread", e))?;
    server::spawn(shared.clone(), listener);

    let status = wait_agent(agent_pid);
    // Last sample and flush before the ending is recorded, so a reader who sees the session
    // ended also sees its final figures.
    telemetry_stop.stop();
    if let Some(t) = telemetry {
        let _ = t.join();
    }
    shared.finish(status, reader_done, &dir);
    // Nobody can talk to an ended session; remove the socket before the slower work below.
    let _ = std::fs::remove_file(&socket_path);
    // Final token figures, read with the session's own environment.
    if let Ok(store) = Store::open(&home) {
        if let Ok(Some(rec)) = store.get(&id) {
            let _ = crate::telemetry::usage_for_with(&store, &home, &rec, &usage_env);
        }
    }
    Ok(())
}

/// How the agent ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AgentExit {
    Code(i32),
    Signal(i32),
}

fn wait_agent(pid: u32) -> AgentExit {
    use nix::sys::wait::{waitpid, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return AgentExit::Code(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return AgentExit::Signal(sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            // ECHILD: someone else reaped it; we cannot know how it ended.
            Err(_) => return AgentExit::Code(-1),
        }
    }
}

/// What the `running` transition sets, recorded by whichever of starter and host gets there
/// first.
pub(crate) fn running_updates(
    started_at: &str,
    host_pid: u32,
    agent_pid: u32,
) -> crate::store::Updates {
    vec![
        (Column::StartedAt, store::text(started_at)),
        (Column::HostPid, store::int(host_pid)),
        (Column::AgentPid, store::int(agent_pid)),
    ]
}
