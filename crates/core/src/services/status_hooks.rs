//! Status hooks: a user's command run when a session changes state.
//!
//! Defined in `hooks.toml` in the sessions home:
//!
//! ```toml
//! [[on_state]]
//! states = ["waiting_input", "failed"]   # new states that fire it; all when absent
//! from = ["running"]                     # old states; any when absent
//! agent = "claude"                       # only sessions of this agent type (optional)
//! task = "T-42"                          # only sessions of this task (optional)
//! template = "reviewer"                  # only sessions started from this template, any
//!                                        # version ("reviewer@2": that one) (optional)
//! command = ["notify-send", "agent needs you"]   # argv, never a shell
//! ```
//!
//! Events other than state changes (so far the budgets' `budget_warning` and
//! `budget_exceeded`) fire `[[on_event]]` entries:
//!
//! ```toml
//! [[on_event]]
//! kinds = ["budget_exceeded"]            # required
//! task = "T-42"                          # agent, task and template filters as above
//! command = ["notify-send", "over budget"]
//! ```
//!
//! with `AGENT_SESSIONS_ID`, `AGENT_SESSIONS_EVENT` (the kind), `AGENT_SESSIONS_EVENT_DATA`
//! (the event's JSON), `AGENT_SESSIONS_AGENT`, `AGENT_SESSIONS_TASK`,
//! `AGENT_SESSIONS_TEMPLATE` and `AGENT_SESSIONS_HOME`.
//!
//! A state hook's command gets the session in its environment: `AGENT_SESSIONS_ID`,
//! `AGENT_SESSIONS_OLD_STATE`, `AGENT_SESSIONS_NEW_STATE`, `AGENT_SESSIONS_CAUSE`,
//! `AGENT_SESSIONS_SOURCE`, `AGENT_SESSIONS_AGENT`, `AGENT_SESSIONS_TASK`,
//! `AGENT_SESSIONS_TEMPLATE` (`NAME@VERSION`, empty for none) and `AGENT_SESSIONS_HOME`
//! (`AGENT_SESSIONS_OLD_STATE` is `none` for a new session's first state); its output goes to `status-hooks.log` in the home.
//!
//! Whichever process records a transition (a session host, the CLI, a Python or C caller)
//! runs the hooks right after the commit, detached: a slow hook never delays a session,
//! and a broken `hooks.toml` is reported in `status-hooks.log` rather than failing the transition.

use crate::model::state::{Committed, State};
use parking_lot::Mutex;
use serde::Deserialize;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// File name of the hook definitions inside the sessions home.
pub const HOOKS_FILE: &str = "hooks.toml";
/// Where hooks' output and hook errors go, inside the sessions home.
pub const HOOKS_LOG: &str = "status-hooks.log";

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HooksFile {
    #[serde(default)]
    on_state: Vec<StateHook>,
    #[serde(default)]
    on_event: Vec<EventHook>,
}

/// One `[[on_event]]` entry.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct EventHook {
    pub kinds: Vec<String>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    pub command: Vec<String>,
}

/// Everything a home's `hooks.toml` defines.
#[derive(Debug, Default, Clone)]
pub struct Hooks {
    /// `[[on_state]]`
    pub on_state: Vec<StateHook>,
    /// `[[on_event]]`
    pub on_event: Vec<EventHook>,
}

/// An event just recorded, as the event hooks get it.
pub struct FiredEvent<'a> {
    pub session_id: &'a str,
    pub kind: &'a str,
    pub agent: Option<&'a str>,
    pub task: Option<&'a str>,
    /// The template the session came from (`NAME@VERSION`).
    pub template: Option<&'a str>,
    pub data: &'a serde_json::Value,
}

/// One `[[on_state]]` entry.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct StateHook {
    #[serde(default)]
    pub states: Option<Vec<String>>,
    #[serde(default)]
    pub from: Option<Vec<String>>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    pub command: Vec<String>,
}

/// Whether a hook's `template` filter (`NAME` for any version, or `NAME@VERSION`) takes a
/// session started from `session` (`NAME@VERSION`, or `None`).
fn template_matches(filter: Option<&str>, session: Option<&str>) -> bool {
    let Some(f) = filter else {
        return true;
    };
    let Some(s) = session else {
        return false;
    };
    s == f || s.split_once('@').is_some_and(|(name, _)| name == f)
}

/// The hooks defined in `home`'s `hooks.toml`, or why they cannot be read. No file: none.
pub fn load(home_root: &Path) -> std::result::Result<Hooks, String> {
    let path = home_root.join(HOOKS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Hooks::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let file: HooksFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for (i, h) in file.on_state.iter().enumerate() {
        if h.command.is_empty() || h.command[0].is_empty() {
            return Err(format!(
                "{}: on_state[{i}].command must name a program",
                path.display()
            ));
        }
        for s in h.states.iter().flatten().chain(h.from.iter().flatten()) {
            if s.parse::<State>().is_err() {
                return Err(format!(
                    "{}: on_state[{i}]: unknown state '{s}'",
                    path.display()
                ));
            }
        }
    }
    for (i, h) in file.on_event.iter().enumerate() {
        if h.command.is_empty() || h.command[0].is_empty() {
            return Err(format!(
                "{}: on_event[{i}].command must name a program",
                path.display()
            ));
        }
        if h.kinds.is_empty() {
            return Err(format!(
                "{}: on_event[{i}].kinds must name the events (budget_warning, budget_exceeded)",
                path.display()
            ));
        }
    }
    Ok(Hooks {
        on_state: file.on_state,
        on_event: file.on_event,
    })
}

/// What identifies one version of `hooks.toml` without reading it.
#[derive(Clone, PartialEq, Eq)]
struct FileKey {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// The last `hooks.toml` this process read: its path, version and what `load` made of it.
type Cached = (PathBuf, FileKey, std::result::Result<Arc<Hooks>, String>);

static CACHE: Mutex<Option<Cached>> = Mutex::new(None);

/// A file whose change time is this close to now may still change within the same
/// timestamp tick (file times are as coarse as the kernel's clock tick), so it is not cached.
const SETTLED: Duration = Duration::from_secs(2);

/// `load`, remembered per process by the file's identity, size and times: a process that
/// records many transitions (a Python caller, a host) pays one `stat` per transition instead
/// of a read and a TOML parse. No file costs one failed `stat`, as the open did before.
fn load_cached(home_root: &Path) -> std::result::Result<Arc<Hooks>, String> {
    use std::os::unix::fs::MetadataExt;
    let path = home_root.join(HOOKS_FILE);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Arc::new(Hooks::default()))
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    let key = FileKey {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
    };
    let mut cache = CACHE.lock();
    if let Some((p, k, hooks)) = cache.as_ref() {
        if *p == path && *k == key {
            return hooks.clone();
        }
    }
    let hooks = load(home_root).map(Arc::new);
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let settled = now_ns - key.mtime_ns.max(key.ctime_ns) > SETTLED.as_nanos() as i128;
    *cache = settled.then(|| (path, key, hooks.clone()));
    hooks
}

/// Runs the hooks that match a transition just committed. Never fails: problems go to
/// `status-hooks.log`.
pub fn fire(home_root: &Path, c: &Committed) {
    let hooks = match load_cached(home_root) {
        Ok(h) if h.on_state.is_empty() => return,
        Ok(h) => h,
        Err(e) => {
            log(home_root, &format!("hooks not run: {e}"));
            return;
        }
    };
    let (agent, task) = (c.agent_type.as_ref(), c.task_id.as_ref());
    // A new session's first state comes from nothing; `from` filters match "none".
    let from_name = c.from.map_or("none", State::as_str);
    for h in hooks.on_state.iter() {
        let wanted = |list: &Option<Vec<String>>, s: State| {
            list.as_ref()
                .is_none_or(|l| l.iter().any(|x| x == s.as_str()))
        };
        if !wanted(&h.states, c.to)
            || !h
                .from
                .as_ref()
                .is_none_or(|l| l.iter().any(|x| x == from_name))
            || h.agent.as_ref().is_some_and(|a| Some(a) != agent)
            || h.task.as_ref().is_some_and(|t| Some(t) != task)
            || !template_matches(h.template.as_deref(), c.template.as_deref())
        {
            continue;
        }
        run(
            home_root,
            &h.command,
            &[
                ("AGENT_SESSIONS_ID", &c.session_id),
                ("AGENT_SESSIONS_OLD_STATE", from_name),
                ("AGENT_SESSIONS_NEW_STATE", c.to.as_str()),
                ("AGENT_SESSIONS_CAUSE", &c.cause),
                ("AGENT_SESSIONS_SOURCE", c.source.as_str()),
                ("AGENT_SESSIONS_AGENT", agent.map_or("", String::as_str)),
                ("AGENT_SESSIONS_TASK", task.map_or("", String::as_str)),
                (
                    "AGENT_SESSIONS_TEMPLATE",
                    c.template.as_deref().unwrap_or(""),
                ),
            ],
        );
    }
}

/// Runs the `[[on_event]]` hooks that match an event just recorded. Never fails.
pub fn fire_event(home_root: &Path, e: &FiredEvent<'_>) {
    let hooks = match load_cached(home_root) {
        Ok(h) if h.on_event.is_empty() => return,
        Ok(h) => h,
        Err(err) => {
            log(home_root, &format!("hooks not run: {err}"));
            return;
        }
    };
    let data = e.data.to_string();
    for h in hooks.on_event.iter() {
        if !h.kinds.iter().any(|k| k == e.kind)
            || h.agent.as_deref().is_some_and(|a| Some(a) != e.agent)
            || h.task.as_deref().is_some_and(|t| Some(t) != e.task)
            || !template_matches(h.template.as_deref(), e.template)
        {
            continue;
        }
        run(
            home_root,
            &h.command,
            &[
                ("AGENT_SESSIONS_ID", e.session_id),
                ("AGENT_SESSIONS_EVENT", e.kind),
                ("AGENT_SESSIONS_EVENT_DATA", &data),
                ("AGENT_SESSIONS_AGENT", e.agent.unwrap_or("")),
                ("AGENT_SESSIONS_TASK", e.task.unwrap_or("")),
                ("AGENT_SESSIONS_TEMPLATE", e.template.unwrap_or("")),
            ],
        );
    }
}

fn open_log(home_root: &Path) -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(home_root.join(HOOKS_LOG))
        .ok()
}

fn log(home_root: &Path, line: &str) {
    if let Some(mut f) = open_log(home_root) {
        let _ = writeln!(f, "{} {line}", crate::model::clock::now_iso());
    }
}

fn run(home_root: &Path, argv: &[String], env: &[(&str, &str)]) {
    let out = open_log(home_root);
    let err = out.as_ref().and_then(|f| f.try_clone().ok());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .envs(env.iter().copied())
        .env(crate::config::home::HOME_ENV, home_root)
        .stdin(Stdio::null())
        .stdout(out.map_or_else(Stdio::null, Stdio::from))
        .stderr(err.map_or_else(Stdio::null, Stdio::from))
        // Its own process group: a Ctrl-C meant for the caller does not reach it.
        .process_group(0);
    match cmd.spawn() {
        Ok(mut child) => {
            // Reaped in the background, so a long-lived caller (a host, a Python process)
            // collects no zombies and never waits for the hook.
            let _ = std::thread::Builder::new()
                .name("status-hook".into())
                .spawn(move || child.wait());
        }
        Err(e) => log(home_root, &format!("cannot run {:?}: {e}", argv[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets a file's modification time `secs` seconds into the past (its change time moves to
    /// now, as on every write).
    fn backdate(path: &Path, secs: i64) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        let t = libc::timespec {
            tv_sec: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                - secs,
            tv_nsec: 0,
        };
        // SAFETY: a valid C string and two timespecs.
        assert_eq!(
            unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), 0) },
            0
        );
    }

    fn hook(cmd: &str) -> String {
        format!("[[on_state]]\ncommand = [\"{cmd}\"]\n")
    }

    #[test]
    fn the_cached_hooks_follow_every_change_of_the_file() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(HOOKS_FILE);
        let first = |h: &std::result::Result<Arc<Hooks>, String>| {
            h.as_ref().unwrap().on_state[0].command[0].clone()
        };
        assert!(load_cached(home.path()).unwrap().on_state.is_empty());

        std::fs::write(&path, hook("aaa")).unwrap();
        // Fresh: read every time until it settles.
        assert_eq!(first(&load_cached(home.path())), "aaa");
        backdate(&path, 60);
        assert_eq!(first(&load_cached(home.path())), "aaa");
        assert_eq!(first(&load_cached(home.path())), "aaa");

        // Same size, and even the same modification time: the change time still moves.
        std::fs::write(&path, hook("bbb")).unwrap();
        backdate(&path, 60);
        assert_eq!(first(&load_cached(home.path())), "bbb");

        std::fs::write(&path, "not toml [").unwrap();
        assert!(load_cached(home.path()).is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(load_cached(home.path()).unwrap().on_state.is_empty());
    }
}
