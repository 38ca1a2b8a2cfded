//! A host that has reported ready and then cannot open the store keeps the agent's terminal
//! going (output still reaches output.log, the agent never blocks on a full terminal) and
//! retries until the store opens, then serves the session as usual.
//!
//! The host is launched here the way the library launches it (launch spec on stdin,
//! readiness pipe on fd 3, session lock on fd 4), with a record in `starting`, while a
//! folder stands where the database file belongs, so the host's `Store::open` fails.

mod common;

use agent_sessions::home::Home;
use agent_sessions::protocol::Tag;
use agent_sessions::services::launch_spec::{LaunchSpec, ReadyReport};
use agent_sessions::store::{NewSession, Store};
use agent_sessions::{client, State};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn poll(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn host_binary() -> PathBuf {
    agent_sessions::find_host_binary().unwrap_or_else(|_| {
        let exe = std::env::current_exe().unwrap();
        exe.parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("agent-sessions")
    })
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Kills the agent's process group and the host, however the test ends.
struct Cleanup(Vec<i32>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: plain syscalls on pids this test started.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Moves the database aside and puts a folder in its place (and back).
fn block_store(db: &Path, blocked: bool) {
    let aside = db.with_extension("aside");
    if blocked {
        std::fs::rename(db, &aside).unwrap();
        std::fs::create_dir(db).unwrap();
    } else {
        std::fs::remove_dir(db).unwrap();
        std::fs::rename(&aside, db).unwrap();
    }
}

/// Launches `agent-sessions __host` for `spec` and returns its readiness report.
fn launch(home: &Home, spec: &LaunchSpec) -> ReadyReport {
    let dir = home.create_session_dir(&spec.session_id).unwrap();
    let lock = File::create(dir.join("host.lock")).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array we own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here alone.
    let (ready_r, ready_w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let (ready_raw, lock_raw) = (ready_w.as_raw_fd(), lock.as_raw_fd());
    let mut cmd = Command::new(host_binary());
    cmd.arg("__host")
        .arg("--home")
        .arg(home.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(File::create(dir.join("host.log")).unwrap());
    // SAFETY: only fcntl and dup2 between fork and exec, as the library's launcher does.
    unsafe {
        cmd.pre_exec(move || {
            let ready_high = libc::fcntl(ready_raw, libc::F_DUPFD_CLOEXEC, 10);
            let lock_high = libc::fcntl(lock_raw, libc::F_DUPFD_CLOEXEC, 10);
            if ready_high < 0
                || lock_high < 0
                || libc::dup2(ready_high, 3) < 0
                || libc::dup2(lock_high, 4) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(spec).unwrap())
        .unwrap();
    drop(ready_w);
    // The direct child forks the real host and exits at once.
    assert!(child.wait().unwrap().success());
    let mut line = String::new();
    BufReader::new(ready_r).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("report {line:?}: {e}"))
}

/// Records a `starting` session running `script` and returns its launch spec.
fn new_session(home: &Home, script: &str) -> LaunchSpec {
    let id = agent_sessions::id::new_id();
    let argv: Vec<String> = ["/bin/sh", "-c", script].map(String::from).to_vec();
    agent_sessions::services::state_machine::insert(
        &Store::open(home).unwrap(),
        &NewSession {
            command: argv.clone(),
            cols: 100,
            rows: 30,
            ..NewSession::hosted(&id, "custom", &[])
        },
        agent_sessions::Source::User,
        &vec![],
    )
    .unwrap();
    LaunchSpec {
        session_id: id,
        agent_type: "custom".into(),
        argv,
        cwd: home.root().display().to_string(),
        env: vec![],
        cols: 100,
        rows: 30,
        idle_after_secs: 2.0,
        quit: vec![],
        interrupt: vec![3],
        enter_delay_ms: 0,
        interrupt_presses: 1,
        rules: None,
        debounce_ms: 300,
        session_id_agent: None,
        agent_session_id: None,
        telemetry_ms: None,
        resuming: false,
        max_log_bytes: 50 << 20,
        task_id: None,
        policy: None,
        reports_status: false,
        env_unset: vec![],
        template: None,
    }
}

#[test]
fn a_host_that_cannot_open_the_store_keeps_the_terminal_and_retries() {
    let tmp = common::TempDir::new("store-outage");
    let home = Home::resolve(Some(tmp.path())).unwrap();
    // Much more output than a terminal buffers: unread, the agent would block on it.
    let spec = new_session(
        &home,
        "head -c 300000 /dev/zero | tr '\\000' x; echo; echo WROTE-ALL; exec cat",
    );
    let id = spec.session_id.clone();

    block_store(&home.db_path(), true);
    let report = launch(&home, &spec);
    assert!(report.ok, "{report:?}");
    let (agent_pid, host_pid) = (
        report.agent_pid.unwrap() as i32,
        report.host_pid.unwrap() as i32,
    );
    let _cleanup = Cleanup(vec![agent_pid, host_pid]);
    let dir = home.session_dir(&id).unwrap();

    // Without the store: every byte still reaches the log, and host and agent live on.
    poll("all output in output.log", || {
        std::fs::read_to_string(dir.join("output.log")).is_ok_and(|t| t.contains("WROTE-ALL"))
    });
    poll("the outage in host.log", || {
        std::fs::read_to_string(dir.join("host.log"))
            .is_ok_and(|t| t.contains("cannot open the store"))
    });
    assert!(alive(host_pid) && alive(agent_pid));

    // The store comes back: the host records `running` and serves the socket.
    block_store(&home.db_path(), false);
    let socket = home.socket_path(&id).unwrap();
    let ask = |tag: Tag, payload: &[u8]| {
        client::request(&socket, tag, payload, Some(Duration::from_secs(5)))
            .ok()
            .filter(|r| r["ok"] == true)
    };
    // The host retries every few seconds: give it time, and say what it logged if not.
    let start = Instant::now();
    while ask(Tag::Screen, b"").is_none() {
        if start.elapsed() > 2 * DEADLINE {
            let log = std::fs::read_to_string(dir.join("host.log")).unwrap_or_default();
            panic!("the socket did not answer once the store was back; host.log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let rec = Store::open(&home).unwrap().get(&id).unwrap().unwrap();
    assert_eq!(rec.state, State::Running);
    assert_eq!(rec.agent_pid, Some(agent_pid as u32));
    // Output from the outage reached the screen, and the agent still takes input.
    assert!(ask(Tag::Input, b"typed-after-outage\r").is_some());
    poll("the screen to show both", || {
        ask(Tag::Screen, b"").is_some_and(|r| {
            let text = r["screen"]["text"].as_str().unwrap_or_default().to_string();
            text.contains("WROTE-ALL") && text.contains("typed-after-outage")
        })
    });

    let stopped = client::request(
        &socket,
        Tag::Stop,
        br#"{"timeout_secs":5,"force":false}"#,
        Some(DEADLINE),
    )
    .unwrap();
    assert_eq!(stopped["ok"], true, "{stopped}");
    let store = Store::open(&home).unwrap();
    poll("the ending to be recorded", || {
        store.state(&id).unwrap().is_some_and(|s| s.is_ended())
    });
}

#[test]
fn an_agent_that_ends_during_the_outage_is_recorded_once_the_store_opens() {
    let tmp = common::TempDir::new("store-outage-exit");
    let home = Home::resolve(Some(tmp.path())).unwrap();
    let spec = new_session(&home, "echo said-goodbye; exit 3");
    let id = spec.session_id.clone();
    block_store(&home.db_path(), true);
    let report = launch(&home, &spec);
    assert!(report.ok, "{report:?}");
    let host_pid = report.host_pid.unwrap() as i32;
    let _cleanup = Cleanup(vec![report.agent_pid.unwrap() as i32, host_pid]);
    let dir = home.session_dir(&id).unwrap();
    poll("the output in output.log", || {
        std::fs::read_to_string(dir.join("output.log")).is_ok_and(|t| t.contains("said-goodbye"))
    });
    poll("the outage in host.log", || {
        std::fs::read_to_string(dir.join("host.log"))
            .is_ok_and(|t| t.contains("cannot open the store"))
    });
    assert!(
        alive(host_pid),
        "the host gave up while it could still record the ending"
    );

    block_store(&home.db_path(), false);
    let store = Store::open(&home).unwrap();
    poll("the ending to be recorded", || {
        store.state(&id).unwrap() == Some(State::Failed)
    });
    let rec = store.get(&id).unwrap().unwrap();
    assert_eq!(rec.exit_code, Some(3));
    let screen = std::fs::read_to_string(dir.join("screen.txt")).unwrap();
    assert!(screen.contains("said-goodbye"), "{screen}");
}
