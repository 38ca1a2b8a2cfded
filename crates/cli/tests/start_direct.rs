//! `start` from the CLI forks the session host itself (no `agent-sessions __host` exec; see
//! `agent_sessions::host::fork`). These tests hold that host to what the exec path's host
//! guarantees: the session runs and outlives the starter, its standard streams do not keep
//! the caller's pipes open, a kill -9 of it reads `unknown`, a failed launch is reported
//! with its reason, and nothing of the starter leaks into the host or the agent. The exec
//! path (taken when AGENT_SESSIONS_HOST_BIN names the binary) is checked alongside.

mod common;
use common::*;
use serde_json::Value;

/// The host's command line, NUL-separated arguments joined by spaces.
fn cmdline(pid: i64) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Descriptors a process has open, each as the target of its link.
fn fds(pid: i64) -> Vec<(i32, String)> {
    let mut out: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect();
    out.sort();
    out
}

/// A field of /proc/PID/status.
fn status_field(pid: i64, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn pids(rec: &Value) -> (i64, i64) {
    (
        rec["host_pid"].as_i64().expect("host_pid"),
        rec["agent_pid"].as_i64().expect("agent_pid"),
    )
}

#[test]
fn a_started_session_runs_in_a_forked_host_that_outlives_the_starter() {
    let env = Env::new();
    // `output()` waits for the end of the CLI's stdout and stderr: it returns only because
    // the host let go of both pipes.
    let out = env.ok(&["start", "--json", "custom", "--", "sleep", "100000"]);
    let rec: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rec["state"], "running", "{rec}");
    let id = rec["session_id"].as_str().unwrap();
    let (host, agent) = pids(&rec);
    assert!(pid_alive(host) && pid_alive(agent));
    // Forked, not the host binary's `__host` mode.
    assert!(!cmdline(host).contains("__host"), "{}", cmdline(host));
    // The starter has exited: the host is someone else's child now, and in its own session.
    assert_ne!(status_field(host, "PPid"), std::process::id().to_string());
    assert_eq!(env.state(id), "running");
    // What the exec path's host has, and no more: /dev/null in, /dev/null out, host.log
    // behind a pipe, the lock, the store, the PTY, the socket, the output log.
    let host_fds = fds(host);
    assert_eq!(host_fds[0], (0, "/dev/null".to_string()), "{host_fds:?}");
    assert_eq!(host_fds[1], (1, "/dev/null".to_string()), "{host_fds:?}");
    assert!(
        host_fds.iter().any(|(_, t)| t.ends_with("host.lock")),
        "{host_fds:?}"
    );
    assert!(
        host_fds.iter().all(|(_, t)| !t.contains("as-test")
            || t.contains(id)
            || t.contains("agent-sessions.db")),
        "{host_fds:?}"
    );
    // SIGPIPE ignored, as the Rust runtime sets it for an exec'd host: a client that hangs
    // up must not kill it (the CLI itself restores the default for `ls | head`).
    let ignored = u64::from_str_radix(&status_field(host, "SigIgn"), 16).unwrap();
    assert_ne!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SigIgn {ignored:x}"
    );
    // The agent gets its terminal on 0, 1 and 2 and nothing else of the starter or host.
    let agent_fds = fds(agent);
    assert_eq!(
        agent_fds.iter().map(|(fd, _)| *fd).collect::<Vec<_>>(),
        vec![0, 1, 2],
        "{agent_fds:?}"
    );
    // It serves its socket: input reaches the agent and its output the screen.
    let id2 = env.start_fake(&[]);
    env.wait_screen(&id2, "fake>");
    env.ok(&["send", &id2, "hello"]);
    env.wait_screen(&id2, "hello");
    env.ok(&["stop", id]);
    assert_eq!(env.state(id), "stopped");
    assert!(
        poll(|| !pid_alive(host)),
        "host {host} outlived its session"
    );
}

#[test]
fn a_kill_9_of_a_forked_host_reads_unknown() {
    let env = Env::new();
    let rec: Value =
        serde_json::from_str(&env.ok(&["start", "--json", "custom", "--", "sleep", "100000"]))
            .unwrap();
    let id = rec["session_id"].as_str().unwrap();
    let (host, agent) = pids(&rec);
    kill9(host);
    assert!(poll(|| env.state(id) == "unknown"), "{}", env.state(id));
    // The agent lost its terminal with the host.
    assert!(
        poll(|| !pid_alive(agent)),
        "agent {agent} outlived its host"
    );
}

#[test]
fn a_missing_program_is_refused_with_its_name_and_recorded_failed() {
    let env = Env::new();
    let err = env.fails(&["start", "custom", "--", "no-such-program-anywhere"], 1);
    assert!(
        err.contains("'no-such-program-anywhere' was not found"),
        "{err}"
    );
    let list: Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    let rec = &list.as_array().unwrap()[0];
    assert_eq!(rec["state"], "failed", "{rec}");
    assert!(
        rec["state_reason"]
            .as_str()
            .unwrap_or("")
            .contains("no-such-program-anywhere"),
        "{rec}"
    );
}

#[test]
fn a_start_whose_record_cannot_be_written_leaves_no_agent_running() {
    // The host is forked before the insert; when the insert fails, `start` fails and the
    // agent the host may already have spawned must not live on unseen.
    let env = Env::new();
    // A folder where the store should be: no connection can open it.
    std::fs::create_dir(env.home().join("agent-sessions.db")).unwrap();
    let side = tempfile::tempdir().unwrap();
    let pidfile = side.path().join("agent.pid");
    let script = format!("echo $$ > {}; exec sleep 100000", pidfile.display());
    let err = env.fails(&["start", "custom", "--", "sh", "-c", &script], 1);
    assert!(err.contains("agent-sessions.db"), "{err}");
    // The host says why it ended the agent, in the one session folder there is.
    let dir = std::fs::read_dir(env.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("host.lock").exists())
        .expect("the session folder");
    let log = dir.join("host.log");
    assert!(
        poll(|| std::fs::read_to_string(&log).is_ok_and(|l| l.contains("before recording"))),
        "host.log: {:?}",
        std::fs::read_to_string(&log)
    );
    // If the agent got to run at all, it is gone (the host ended it before it exited).
    if let Some(pid) = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|p| p.trim().parse::<i64>().ok())
    {
        assert!(
            poll(|| !pid_alive(pid)),
            "agent {pid} outlived a failed start"
        );
    }
    // A usable home again, for the cleanup's `ls`.
    std::fs::remove_dir(env.home().join("agent-sessions.db")).unwrap();
}

#[test]
fn the_exec_path_still_runs_when_the_host_binary_is_named() {
    let env = Env::new();
    let out = env
        .command()
        .env("AGENT_SESSIONS_HOST_BIN", BIN)
        .args(["start", "--json", "custom", "--", "sleep", "100000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["state"], "running", "{rec}");
    let (host, _) = pids(&rec);
    assert!(cmdline(host).contains("__host"), "{}", cmdline(host));
    let id = rec["session_id"].as_str().unwrap();
    env.ok(&["stop", id]);
    assert_eq!(env.state(id), "stopped");
}

#[test]
fn the_agent_gets_the_starters_umask_default_signals_and_its_terminal_as_controlling_tty() {
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    let mut cmd = env.command();
    cmd.args(["start", "--json", "custom", "--", "sleep", "100000"]);
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o027);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (host, agent) = pids(&rec);
    // The host keeps its own files private; the agent creates files as its user asked.
    assert_eq!(status_field(host, "Umask"), "0077");
    assert_eq!(status_field(agent, "Umask"), "0027");
    // No standard signal ignored (the host ignores SIGPIPE) and nothing blocked. (glibc's
    // posix_spawn leaves its own two real-time signals, 32 and 33, ignored; the C library
    // of the program it runs takes them over at start.)
    let ignored = u64::from_str_radix(&status_field(agent, "SigIgn"), 16).unwrap();
    assert_eq!(ignored & 0x7fff_ffff, 0, "SigIgn {ignored:x}");
    assert_eq!(status_field(agent, "SigBlk"), "0000000000000000");
    // Its own session, led by itself, with the terminal as controlling terminal and itself
    // in the foreground: Ctrl-C and window-size changes reach it.
    let stat = std::fs::read_to_string(format!("/proc/{agent}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // fields after the name: state ppid pgrp session tty_nr tpgid
    assert_eq!(f[1], host.to_string(), "{stat}");
    assert_eq!(f[3], agent.to_string(), "session: {stat}");
    assert_ne!(f[4], "0", "no controlling terminal: {stat}");
    assert_eq!(f[5], agent.to_string(), "foreground group: {stat}");
    let id = rec["session_id"].as_str().unwrap();
    env.ok(&["stop", id]);
}

/// The CPUs a process may run on, as /proc/PID/status lists them.
fn cpus(pid: i64) -> String {
    status_field(pid, "Cpus_allowed_list")
}

#[test]
fn the_host_and_agent_keep_the_starters_cpu_mask_after_the_host_moves_off_its_cpu() {
    use std::os::unix::process::CommandExt;
    // The forked host narrows its mask for a moment to leave the starter's CPU (see
    // `host::fork::move_off_cpu`); neither it nor the agent may keep the narrowed mask.
    let env = Env::new();
    let start = |mask: Option<Vec<usize>>| {
        let mut cmd = env.command();
        cmd.args(["start", "--json", "custom", "--", "sleep", "100000"]);
        if let Some(cpus) = mask {
            // SAFETY: sched_setaffinity is async-signal-safe; the set is built before.
            let set = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                for c in cpus {
                    libc::CPU_SET(c, &mut set);
                }
                set
            };
            unsafe {
                cmd.pre_exec(move || {
                    match libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) {
                        0 => Ok(()),
                        _ => Err(std::io::Error::last_os_error()),
                    }
                });
            }
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
        rec
    };
    let mine = cpus(std::process::id() as i64);
    let rec = start(None);
    let (host, agent) = pids(&rec);
    assert_eq!(cpus(host), mine);
    assert_eq!(cpus(agent), mine);
    env.ok(&["stop", rec["session_id"].as_str().unwrap()]);
    // A mask the user set (`taskset -c 0`) is kept as it is: one CPU leaves nowhere to move.
    let rec = start(Some(vec![0]));
    let (host, agent) = pids(&rec);
    assert_eq!(cpus(host), "0");
    assert_eq!(cpus(agent), "0");
    env.ok(&["stop", rec["session_id"].as_str().unwrap()]);
}

/// The agent's environment, from `/proc`.
/// The environment the agent process runs with: read once it runs its own program (before
/// its exec, /proc shows the environment of the process that spawns it).
fn environ(pid: i64) -> Vec<String> {
    let execd = poll(|| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            c.split(|b| *b == 0)
                .next()
                .is_some_and(|p| p.ends_with(b"/sleep"))
        })
    });
    assert!(
        execd,
        "the agent {pid} never ran sleep: {:?}",
        std::fs::read(format!("/proc/{pid}/cmdline"))
    );
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn gemini_does_not_inherit_the_ci_variables_that_make_it_headless() {
    // Gemini CLI reads CI=true as headless mode and exits without drawing its screen; a
    // session started from a CI job must still get the interactive agent.
    let env = Env::new();
    let start = |extra: &[&str]| -> (String, i64) {
        let mut args = vec!["start", "--json", "gemini"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "100000"]);
        let out = env
            .command()
            .env("AGENT_SESSIONS_GEMINI_BIN", "/bin/sleep")
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("KEPT_FROM_THE_STARTER", "yes")
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
        let (_, agent) = pids(&rec);
        (rec["session_id"].as_str().unwrap().to_string(), agent)
    };
    let (id, agent) = start(&[]);
    let vars = environ(agent);
    assert!(
        vars.iter().any(|v| v == "KEPT_FROM_THE_STARTER=yes"),
        "{vars:?}"
    );
    assert!(
        !vars
            .iter()
            .any(|v| v.starts_with("CI=") || v.starts_with("GITHUB_ACTIONS=")),
        "{vars:?}"
    );
    env.ok(&["stop", id.as_str()]);
    // Asked for by name, it is the caller's choice.
    let (id, agent) = start(&["--env", "CI=true"]);
    let vars = environ(agent);
    assert!(vars.iter().any(|v| v == "CI=true"), "{vars:?}");
    assert!(
        !vars.iter().any(|v| v.starts_with("GITHUB_ACTIONS=")),
        "{vars:?}"
    );
    env.ok(&["stop", id.as_str()]);
    // Other agents inherit them as they are.
    let out = env
        .command()
        .env("CI", "true")
        .args(["start", "--json", "custom", "--", "sleep", "100000"])
        .output()
        .unwrap();
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, agent) = pids(&rec);
    assert!(environ(agent).iter().any(|v| v == "CI=true"));
    env.ok(&["stop", rec["session_id"].as_str().unwrap()]);
}
