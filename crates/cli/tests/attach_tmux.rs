//! `attach` in a real terminal: tmux runs the attach client, send-keys types into it and
//! capture-pane reads what a person would see.

mod common;
use common::*;
use std::process::Command;

/// A private tmux server per test, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is required for the attach tests (the CI script installs it)"
        );
        Tmux {
            socket: format!("as-test-{name}-{}", std::process::id()),
        }
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// Opens a 120x35 window running `command` (kept visible after it exits).
    fn window(&self, env: &Env, name: &str, command: &str) {
        let full = format!("AGENT_SESSIONS_HOME='{}' {command}", env.home().display());
        let args = ["-x", "120", "-y", "35", "-n", name, full.as_str()];
        let out = if self.cmd(&["has-session"]).status.success() {
            self.cmd(&[&["new-window", "-d"][..], &args[4..]].concat())
        } else {
            let o = self.cmd(&[&["new-session", "-d"][..], &args[..]].concat());
            self.cmd(&["set-option", "-g", "remain-on-exit", "on"]);
            o
        };
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn capture(&self, window: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", window]).stdout).to_string()
    }

    fn keys(&self, window: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", window];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    #[track_caller]
    fn wait_for(&self, window: &str, needle: &str) -> String {
        let mut last = String::new();
        let ok = poll(|| {
            last = self.capture(window);
            last.contains(needle)
        });
        assert!(
            ok,
            "window {window} never showed {needle:?}; it shows:\n{last}"
        );
        last
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn attach_replays_the_screen_passes_keys_and_detaches() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.ok(&["send", &id, "said before attach"]);
    env.wait_screen(&id, "echo: said before attach");

    let tmux = Tmux::new("attach");
    tmux.window(&env, "main", &format!("{BIN} attach {id}"));
    // The replay shows what was on screen before we attached.
    let screen = tmux.wait_for("main", "echo: said before attach");
    assert!(screen.contains("fake agent ready"), "{screen}");

    // Keystrokes pass through to the agent.
    tmux.keys("main", &["typed through attach", "Enter"]);
    env.wait_screen(&id, "echo: typed through attach");
    tmux.wait_for("main", "echo: typed through attach");
    // Live output from elsewhere streams in.
    env.ok(&["send", &id, "sent from another process"]);
    tmux.wait_for("main", "echo: sent from another process");
    assert!(poll(|| env.record(&id)["attached"] == true));

    // Ctrl-\ detaches and leaves the session running.
    tmux.keys("main", &["C-\\"]);
    tmux.wait_for("main", "detached from");
    assert_eq!(env.state(&id), "running");
    assert!(poll(|| env.record(&id)["attached"] == false));
    env.ok(&["send", &id, "after detach"]);
    env.wait_screen(&id, "echo: after detach");
}

#[test]
fn read_only_and_multiple_attachments() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    let tmux = Tmux::new("multi");
    tmux.window(&env, "rw", &format!("{BIN} attach {id}"));
    tmux.window(&env, "ro", &format!("{BIN} attach --read-only {id}"));
    tmux.wait_for("rw", "fake agent ready");
    tmux.wait_for("ro", "fake agent ready");
    assert!(poll(|| env.record(&id)["attached_clients"] == 2));

    // The read-only client's keys never reach the agent...
    tmux.keys("ro", &["ignored keys", "Enter"]);
    // ...while the other client's do, and both see the answer.
    tmux.keys("rw", &["from rw", "Enter"]);
    tmux.wait_for("ro", "echo: from rw");
    tmux.wait_for("rw", "echo: from rw");
    env.ok(&["send", &id, "marker"]);
    env.wait_screen(&id, "echo: marker");
    assert!(!env.screen(&id).contains("ignored keys"));
    assert!(!env.ok(&["logs", &id, "--plain"]).contains("ignored keys"));
}

#[test]
fn attach_ends_when_the_session_ends_and_custom_detach_key_works() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    let tmux = Tmux::new("end");
    tmux.window(&env, "a", &format!("{BIN} attach --detach-key C-a {id}"));
    tmux.wait_for("a", "fake agent ready");
    // Ctrl-\ is now an ordinary key for the agent; Ctrl-a detaches.
    tmux.keys("a", &["C-a"]);
    tmux.wait_for("a", "detached from");
    tmux.window(&env, "b", &format!("{BIN} attach {id}"));
    tmux.wait_for("b", "fake agent ready");
    env.ok(&["send", &id, "quit"]);
    tmux.wait_for("b", "ended: stopped");
    env.fails(&["attach", &id], 4);
}

/// The pids whose parent is `pid` (from /proc, which every Linux has).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if rest.split_whitespace().nth(1) == Some(pid.to_string().as_str()) {
            out.extend(
                entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok()),
            );
        }
    }
    out
}

#[test]
fn a_signal_ends_attach_with_the_terminal_back_in_cooked_mode() {
    let env = Env::new();
    let id = env.start_fake(&[]);
    env.wait_screen(&id, "fake>");
    let tmux = Tmux::new("signal");
    for (sig, name) in [
        (libc::SIGTERM, "term"),
        (libc::SIGHUP, "hup"),
        (libc::SIGINT, "int"),
    ] {
        // A plain `sh -c` script, not an interactive shell: bash with job control restores
        // the terminal after a job killed by a signal and would hide the fault. After attach
        // the script shows the terminal's mode and reads a typed line.
        tmux.window(
            &env,
            name,
            &format!(
                "{BIN} attach {id}; echo attach-exit:$?; stty -a; echo stty-done; read line; echo read:$line"
            ),
        );
        tmux.wait_for(name, "fake agent ready");
        assert!(poll(|| env.record(&id)["attached"] == true));
        let out = tmux.cmd(&["display-message", "-p", "-t", name, "#{pane_pid}"]);
        let shell: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let mut attach = Vec::new();
        assert!(poll(|| {
            attach = children(shell);
            attach.len() == 1
        }));
        // SAFETY: a signal to the attach process this test started (through tmux).
        unsafe {
            libc::kill(attach[0] as i32, sig);
        }

        let screen = tmux.wait_for(name, "stty-done");
        let after = &screen[screen.find("attach-exit:").expect("attach's status")..];
        assert!(
            after.starts_with(&format!("attach-exit:{}", 128 + sig)),
            "{after}"
        );
        let modes: Vec<&str> = after.split_whitespace().collect();
        for mode in ["icanon", "echo", "icrnl", "isig"] {
            assert!(
                modes.contains(&mode) && !modes.contains(&format!("-{mode}").as_str()),
                "after SIG{}, {mode} is not back:\n{after}",
                name.to_uppercase()
            );
        }
        // A typed line is echoed and ends at Enter, as a cooked terminal does.
        tmux.keys(name, &["typed-after-attach", "Enter"]);
        let screen = tmux.wait_for(name, "read:typed-after-attach");
        assert!(screen.contains("attach ended by SIG"), "{screen}");
        assert!(poll(|| env.record(&id)["attached"] == false));
        assert_eq!(env.state(&id), "running");
    }
}
