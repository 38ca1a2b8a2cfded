//! Spawning the agent on the session's terminal.
//!
//! The host runs the agent with `posix_spawn`, which glibc implements with
//! `clone(CLONE_VM | CLONE_VFORK)`: no copy of the host's page tables and no copy-on-write
//! faults in a child that only sets up its terminal and calls exec. portable-pty's own
//! spawn forks the whole host, lists `/dev/fd` and allocates in the child (which a
//! process with threads must not do between fork and exec), and took about half of a
//! session's start. The terminal becomes the agent's controlling terminal the standard way:
//! the child starts a new session (`POSIX_SPAWN_SETSID`), then opens the terminal by its
//! name, without `O_NOCTTY`. Where the terminal has no name to open (no devpts path),
//! portable-pty's spawn is used instead.
//!
//! What the agent gets, either way: the host's environment with the session's variables
//! over it, `SHELL` set (from the password database when the host has none, as portable-pty
//! does), every signal at its default disposition and none blocked, no descriptor beyond the
//! terminal on 0, 1 and 2, and the umask of whoever started the session (the host itself
//! runs with 077).

use nix::sys::stat::Mode;
use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// What to run and how, in the terms both spawn paths take.
pub(crate) struct AgentCommand<'a> {
    pub argv: &'a [String],
    pub cwd: &'a str,
    /// Set over the host's own environment, in order (a later value for a name wins).
    pub env: Vec<(OsString, OsString)>,
    /// Names left out of the host's own environment before `env` is laid over it.
    pub unset: &'a [String],
    /// The starter's umask, for the agent.
    pub umask: Mode,
}

/// Spawns the agent with the terminal of `pty` as its controlling terminal and returns its
/// pid. Returns once the agent's program runs (exec succeeded) or with why it could not.
pub(crate) fn spawn_agent(pty: &portable_pty::PtyPair, cmd: &AgentCommand<'_>) -> io::Result<u32> {
    let env = environment(&cmd.env, cmd.unset);
    match pty.master.tty_name() {
        Some(tty) => with_umask(cmd.umask, || posix_spawn(&tty, cmd, &env)),
        None => with_umask(cmd.umask, || portable_spawn(pty, cmd, env)),
    }
}

/// Runs `f` with the process umask set to `mask`, then puts the host's back. The child
/// inherits the umask in effect when it is created; the host's other threads create no
/// files meanwhile (only the log writer runs this early, on an open descriptor).
fn with_umask<T>(mask: Mode, f: impl FnOnce() -> T) -> T {
    let host = nix::sys::stat::umask(mask);
    let out = f();
    nix::sys::stat::umask(host);
    out
}

/// The agent's environment: the host's without `unset`, then `over` in order, and `SHELL`
/// when missing.
fn environment(over: &[(OsString, OsString)], unset: &[String]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !unset.iter().any(|u| k.as_bytes() == u.as_bytes()))
        .collect();
    for (k, v) in over {
        env.retain(|(have, _)| have != k);
        env.push((k.clone(), v.clone()));
    }
    let has_shell = env
        .iter()
        .any(|(k, v)| k == "SHELL" && is_executable(Path::new(v)));
    if !has_shell {
        env.retain(|(k, _)| k != "SHELL");
        env.push(("SHELL".into(), login_shell()));
    }
    env
}

fn is_executable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// The user's shell from the password database, else `/bin/sh`.
fn login_shell() -> OsString {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.shell.into_os_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into())
}

fn cstring(bytes: Vec<u8>, what: &str) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

/// Owned `posix_spawn` attributes and file actions, destroyed on drop.
struct SpawnSetup {
    attr: libc::posix_spawnattr_t,
    actions: libc::posix_spawn_file_actions_t,
}

impl SpawnSetup {
    fn new() -> io::Result<Box<SpawnSetup>> {
        // Boxed: glibc's objects must not move once initialised.
        // SAFETY: zeroed storage that the init calls below fill in before any other use.
        let mut s: Box<SpawnSetup> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: valid pointers to storage owned by `s`.
        unsafe {
            check(libc::posix_spawnattr_init(&mut s.attr))?;
            if let Err(e) = check(libc::posix_spawn_file_actions_init(&mut s.actions)) {
                libc::posix_spawnattr_destroy(&mut s.attr);
                return Err(e);
            }
        }
        Ok(s)
    }
}

impl Drop for SpawnSetup {
    fn drop(&mut self) {
        // SAFETY: both were initialised in `new`.
        unsafe {
            libc::posix_spawn_file_actions_destroy(&mut self.actions);
            libc::posix_spawnattr_destroy(&mut self.attr);
        }
    }
}

/// posix_spawn functions return the error number instead of setting errno.
fn check(code: libc::c_int) -> io::Result<()> {
    match code {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

fn posix_spawn(
    tty: &Path,
    cmd: &AgentCommand<'_>,
    env: &[(OsString, OsString)],
) -> io::Result<u32> {
    let program = cstring(
        cmd.argv
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no program to run"))?
            .clone()
            .into_bytes(),
        "the program",
    )?;
    let args = cmd
        .argv
        .iter()
        .map(|a| cstring(a.clone().into_bytes(), "an argument"))
        .collect::<io::Result<Vec<_>>>()?;
    let envs = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(kv, "an environment variable")
        })
        .collect::<io::Result<Vec<_>>>()?;
    let tty = cstring(tty.as_os_str().as_bytes().to_vec(), "the terminal's name")?;
    let cwd = cstring(cmd.cwd.as_bytes().to_vec(), "the working folder")?;
    let mut argv: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr() as *mut _).collect();
    argv.push(std::ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> = envs.iter().map(|e| e.as_ptr() as *mut _).collect();
    envp.push(std::ptr::null_mut());

    let mut s = SpawnSetup::new()?;
    // SAFETY: the attribute and file-action objects are initialised (SpawnSetup), every
    // pointer handed over is a NUL-terminated string or a NULL-terminated array that lives
    // until posix_spawn returns, and the signal sets are initialised by sigfillset and
    // sigemptyset before use.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        check(libc::posix_spawnattr_setsigdefault(&mut s.attr, &all))?;
        check(libc::posix_spawnattr_setsigmask(&mut s.attr, &none))?;
        // libc declares SETSID as the C short the call takes and the others as int; all are
        // small bits.
        let flags = libc::POSIX_SPAWN_SETSID
            | libc::POSIX_SPAWN_SETSIGDEF as libc::c_short
            | libc::POSIX_SPAWN_SETSIGMASK as libc::c_short;
        check(libc::posix_spawnattr_setflags(&mut s.attr, flags))?;
        // After setsid (glibc applies the attributes first): opening the terminal without
        // O_NOCTTY makes it the new session's controlling terminal.
        check(libc::posix_spawn_file_actions_addopen(
            &mut s.actions,
            0,
            tty.as_ptr(),
            libc::O_RDWR,
            0,
        ))?;
        check(libc::posix_spawn_file_actions_adddup2(&mut s.actions, 0, 1))?;
        check(libc::posix_spawn_file_actions_adddup2(&mut s.actions, 0, 2))?;
        check(libc::posix_spawn_file_actions_addchdir_np(
            &mut s.actions,
            cwd.as_ptr(),
        ))?;
        // The host's descriptors are close-on-exec already; this also covers any that are
        // not (a library's), as portable-pty's spawn did.
        check(libc::posix_spawn_file_actions_addclosefrom_np(
            &mut s.actions,
            3,
        ))?;
        let mut pid: libc::pid_t = 0;
        check(libc::posix_spawnp(
            &mut pid,
            program.as_ptr(),
            &s.actions,
            &s.attr,
            argv.as_ptr(),
            envp.as_ptr(),
        ))?;
        Ok(pid as u32)
    }
}

/// portable-pty's spawn, for a terminal without a name to open.
fn portable_spawn(
    pty: &portable_pty::PtyPair,
    cmd: &AgentCommand<'_>,
    env: Vec<(OsString, OsString)>,
) -> io::Result<u32> {
    let mut builder = portable_pty::CommandBuilder::new(&cmd.argv[0]);
    builder.args(&cmd.argv[1..]);
    builder.cwd(cmd.cwd);
    builder.env_clear();
    for (k, v) in env {
        builder.env(k, v);
    }
    let child = pty
        .slave
        .spawn_command(builder)
        .map_err(|e| io::Error::other(e.to_string()))?;
    // We reap with waitpid ourselves (to learn the signal number); the handle is not needed.
    child
        .process_id()
        .ok_or_else(|| io::Error::other("the spawned agent has no pid"))
}
