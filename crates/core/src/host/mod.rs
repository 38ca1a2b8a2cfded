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
//!   (`detector`);
//! - an idle-timer thread flips running ⇄ waiting_input on output silence (for agents
//!   without screen rules, or whose screen shows nothing recognised) and flushes activity
//!   timestamps;
//! - an accept thread, plus one thread per connection;
//! - for Claude Code, Codex and Gemini CLI, an OpenTelemetry receiver (`otlp`): a thread
//!   blocked in `accept` on 127.0.0.1, plus one per export while it is read.

mod budget;
mod detector;
mod diag;
pub mod fork;
pub(crate) mod lost;
mod otlp;
mod otlp_http;
pub mod program_status;
mod reader;
mod screen;
mod server;
mod shared;
mod spawn;
mod stop;
mod timer;

pub use reader::{read_log_base, LOG_BASE_NAME, LOG_NAME, OLD_LOG_NAME};
pub use screen::render_stream;

use crate::config::home::Home;
use crate::model::error::{Error, Result};
use crate::model::state::State;
use crate::services::launch_spec::{LaunchSpec, ReadyReport};
use crate::store::{self, Column, Store};
use nix::sys::stat::Mode;
use portable_pty::PtySize;
use shared::Shared;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::services::launch_spec::{LOCK_FD, READY_FD};

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
    detached(home_dir, spec, None)
}

/// The host from its detach on, in the grandchild of `__host` or in the child the starter
/// forked (`fork`, with the go pipe `go`). Returns the process exit code.
fn detached(home_dir: &Path, spec: LaunchSpec, go: Option<File>) -> i32 {
    let _ = nix::unistd::setsid();
    // One malloc arena for all threads: glibc would give each thread its own (each with its
    // own free lists and slack), which costs an idle host ~40 KB; the threads rarely allocate
    // at the same time. Before any thread starts.
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt with a valid parameter, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    // The host's files are private; the agent gets the starter's umask back (see `spawn`).
    let user_umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
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
    let code = match run(home_dir, spec, ready, go, user_umask) {
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

fn run(
    home_dir: &Path,
    spec: LaunchSpec,
    ready: File,
    go: Option<File>,
    user_umask: Mode,
) -> Result<()> {
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
    let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> = Vec::new();
    if std::env::var_os("TERM").is_none_or(|t| t.is_empty() || t == "dumb") {
        env.push(("TERM".into(), "xterm-256color".into()));
    }
    // Hooks the agent runs (Claude Code's) find their session through these.
    env.push((
        crate::services::agent_hooks::SESSION_ENV.into(),
        id.clone().into(),
    ));
    env.push((
        crate::config::home::HOME_ENV.into(),
        home.root().as_os_str().to_owned(),
    ));
    if let Some(task) = &spec.task_id {
        env.push((crate::model::task::TASK_ENV.into(), task.into()));
    }
    for (k, v) in &spec.env {
        env.push((k.into(), v.into()));
    }
    // The agent's own per-request token reports come to this host (see `otlp`).
    let mut argv = spec.argv.clone();
    let otel = otlp::arm(
        &spec.agent_type,
        &dir,
        Path::new(&spec.cwd),
        &mut argv,
        &mut env,
    );
    // Orphaned descendants of the agent (a helper whose parent exited) are re-parented to
    // this host, not to init: the sampler finds them among the host's children and the
    // main thread reaps them (see `wait_agent`).
    // SAFETY: prctl with an integer argument.
    let subreaper = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
    let command = spawn::AgentCommand {
        argv: &argv,
        cwd: &spec.cwd,
        env,
        unset: &spec.env_unset,
        umask: user_umask,
    };
    let agent_pid = match spawn::spawn_agent(&pty, &command) {
        Ok(pid) => pid,
        Err(e) => return fail(ready, format!("cannot run {}: {e}", spec.argv[0])),
    };
    // The agent has its own copy of the slave; ours would keep the PTY open after it exits
    // and the reader would never see end of file.
    drop(pty.slave);

    let reader = reader::clone_master(&*pty.master).map_err(|e| Error::Host {
        id: id.clone(),
        reason: format!("cloning the PTY reader: {e}"),
    })?;
    let writer = pty.master.take_writer().map_err(|e| Error::Host {
        id: id.clone(),
        reason: format!("taking the PTY writer: {e}"),
    })?;

    let started_at = crate::model::clock::now_iso();
    // Reading starts now, before the store opens, so the agent never blocks on a full
    // terminal however long that takes (see `open_store`).
    let sink = reader::Sink::new();
    let lost = Arc::new(lost::LostOutput::default());
    let reader_done = reader::spawn(sink.clone(), lost.clone(), reader, log);
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
    // A forked host opens its connection while its starter records the outcome (reading
    // only: the schema check and the WAL index, which the starter's open connection keeps
    // valid), then waits for it (see `fork`).
    let early = go.as_ref().and_then(|_| Store::open(&home).ok());
    let starter = go.map(fork::wait_go);
    if starter == Some(fork::Starter::Vanished) && !fork::record_exists(&home, &id) {
        // The starter died before the record existed: no one can see or stop this agent.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(agent_pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = std::fs::remove_file(&socket_path);
        return Err(Error::Host {
            id,
            reason: "the starter ended before recording the session; the agent was ended".into(),
        });
    }
    let recorded = starter == Some(fork::Starter::Recorded);
    let (store, reader_done) = match open_store(
        &home,
        &id,
        &started_at,
        agent_pid,
        reader_done,
        recorded,
        early,
    ) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = std::fs::remove_file(&socket_path);
            return Err(e);
        }
    };

    // Token sources the agent sees through its own --env (CLAUDE_CONFIG_DIR, CODEX_HOME).
    let usage_env = crate::services::telemetry::UsageEnv::from_env().with_overrides(&spec.env);
    let shared = Arc::new(Shared::new(
        spec, store, pty.master, writer, agent_pid, lost,
    ));
    sink.go_live(shared.clone());
    // Samples go through the host's own connection (no second one per host), and terminal
    // activity wakes an idle sampler.
    let telemetry_stop = crate::services::telemetry::StopSignal::new();
    shared.set_sampler_wake(telemetry_stop.clone());
    let telemetry = crate::services::telemetry::spawn_sampler_for(
        Arc::new(SamplerLink(shared.clone(), subreaper)),
        &home,
        &id,
        agent_pid,
        std::path::PathBuf::from(&shared.spec.cwd),
        shared.spec.telemetry_config(),
        telemetry_stop.clone(),
    )
    .map_err(|e| eprintln!("agent-sessions host: no telemetry: {e}"))
    .ok();
    timer::spawn(shared.clone());
    // After the report: not on the start's critical path.
    let mut has_budget = false;
    let _ = shared.with_store(&mut |s| {
        has_budget = s.session_budget(&id)?.is_some();
        Ok(())
    });
    budget::install(shared.clone(), home.clone(), usage_env.clone(), has_budget);
    let screen_shared = shared.clone();
    std::thread::Builder::new()
        .name("screen".into())
        .spawn(move || screen_shared.run_screen_thread())
        .map_err(|e| Error::io("spawning the screen thread", e))?;
    server::spawn(shared.clone(), listener);

    let status = wait_agent(agent_pid);
    if let Some(o) = &otel {
        o.agent_ended(matches!(status, AgentExit::Signal(_)));
    }
    // Last sample and flush before the ending is recorded, so a reader who sees the session
    // ended also sees its final figures.
    telemetry_stop.stop();
    if let Some(t) = telemetry {
        let _ = t.join();
    }
    shared.finish(status, reader_done, &dir);
    // Nobody can talk to an ended session; remove the socket before the slower work below.
    let _ = std::fs::remove_file(&socket_path);
    // Final token figures, read with the session's own environment; after any figures the
    // budget thread is still storing.
    budget::finalizing(&shared);
    if let Ok(store) = Store::open(&home) {
        if let Ok(Some(rec)) = store.get(&id) {
            let _ = crate::services::telemetry::usage_for_with(&store, &home, &rec, &usage_env);
        }
    }
    Ok(())
}

/// What the sampler needs from the host: its store connection and its activity counter.
/// The bool: this host is a subreaper (orphans of the tree become its children).
struct SamplerLink(Arc<Shared>, bool);

impl crate::services::telemetry::SamplerHost for SamplerLink {
    fn with_store(&self, write: &mut dyn FnMut(&Store) -> Result<()>) -> Result<()> {
        self.0.with_store(write)
    }

    fn activity(&self) -> u64 {
        self.0.activity_seq()
    }

    fn arm_activity(&self) {
        self.0.arm_sampler_wake();
    }

    fn adopter(&self) -> Option<u32> {
        self.1.then(std::process::id)
    }

    fn release_memory(&self) {
        let _ = self.0.with_store(&mut |store| {
            store.release_memory();
            Ok(())
        });
    }
}

/// Longest pause between two tries at opening the store.
const STORE_RETRY_MAX: Duration = Duration::from_secs(5);
/// How long the host goes on trying once the agent is gone, to record how it ended.
const STORE_GRACE_AFTER_EXIT: Duration = Duration::from_secs(60);

/// Opens the store and records `running` (the same transition the starter records, in case
/// it died first; whichever comes second changes nothing). Returns the store and the
/// reader's end-of-file channel, which may already have fired.
///
/// This runs after `ready` was reported: the agent runs and the caller of `start` was told
/// so. Giving up here would drop the PTY master and hang up on an agent that may be doing
/// real work, so a failure (a locked, full or unreadable database) does not end the session:
/// the reader goes on copying the terminal to output.log (and keeps its tail for the
/// screen), and the host retries with backoff for as long as the agent's terminal is open.
/// Meanwhile the socket is not served (the shared state records through the store):
/// requests wait in the listen queue and are answered once the store opens. Once the
/// agent's terminal has closed the host tries for [`STORE_GRACE_AFTER_EXIT`] more to record
/// the ending, then gives up and exits; its lock frees, and the next reader of the record
/// sees the host gone. Every step is logged to host.log. (Stopping the agent instead was
/// the other choice: it would turn a passing database fault into lost work.)
///
/// `recorded`: the starter has recorded `running` already (a forked host's go byte), so
/// the store is only opened.
fn open_store(
    home: &Home,
    id: &str,
    started_at: &str,
    agent_pid: u32,
    reader_done: Receiver<()>,
    recorded: bool,
    mut early: Option<Store>,
) -> Result<(Store, Receiver<()>)> {
    let updates = running_updates(started_at, std::process::id(), agent_pid);
    let mut pause = Duration::from_millis(50);
    let mut failures = 0u32;
    let mut agent_gone: Option<Instant> = None;
    loop {
        // The same transition as the starter's, in case the starter died before recording
        // it; whichever comes second changes nothing.
        let opened = early
            .take()
            .map_or_else(|| Store::open(home), Ok)
            .and_then(|store| {
                if recorded {
                    return Ok(store);
                }
                crate::services::state_machine::apply(
                    &store,
                    &crate::services::state_machine::Change::new(
                        id,
                        State::Running,
                        crate::model::state::Source::Process,
                        "process spawned",
                    )
                    .updates(updates.clone()),
                )?;
                Ok(store)
            });
        let e = match opened {
            Ok(store) => {
                if failures > 0 {
                    eprintln!(
                        "agent-sessions host: store open after {failures} failed tries; serving the session"
                    );
                }
                // The reader's end of file, if it came during the retries, is passed on.
                let reader_done = match agent_gone {
                    Some(_) => {
                        let (tx, rx) = channel();
                        let _ = tx.send(());
                        rx
                    }
                    None => reader_done,
                };
                return Ok((store, reader_done));
            }
            Err(e) => e,
        };
        failures += 1;
        if agent_gone.is_some_and(|t| t.elapsed() >= STORE_GRACE_AFTER_EXIT) {
            eprintln!(
                "agent-sessions host: giving up on the store; the agent has ended and its output is in output.log"
            );
            return Err(e);
        }
        // The first failure, then about every minute and a half: host.log stays small.
        if failures == 1 || failures % 20 == 0 {
            eprintln!(
                "agent-sessions host: cannot open the store ({e}); the agent keeps running and its output goes to output.log; retrying (try {failures})"
            );
        }
        if agent_gone.is_none() {
            match reader_done.recv_timeout(pause) {
                Err(RecvTimeoutError::Timeout) => {}
                // End of file (or a reader that died): the agent is gone.
                _ => agent_gone = Some(Instant::now()),
            }
        } else {
            std::thread::sleep(pause);
        }
        pause = (pause * 2).min(STORE_RETRY_MAX);
    }
}

/// How the agent ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AgentExit {
    Code(i32),
    Signal(i32),
}

/// Waits for the agent to exit. Any child is reaped on the way: the host is a subreaper,
/// so orphans of the agent's tree end here (their ending is not the session's), as do the
/// status hook commands it spawned (whose waiting threads then see ECHILD, harmlessly).
fn wait_agent(pid: u32) -> AgentExit {
    use nix::sys::wait::{waitpid, WaitStatus};
    let agent = nix::unistd::Pid::from_raw(pid as i32);
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(p, code)) if p == agent => return AgentExit::Code(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == agent => {
                return AgentExit::Signal(sig as i32)
            }
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
