//! `as_manager_*`: opening a sessions home, starting and finding sessions, listing and
//! removing them.

use crate::alloc;
use crate::args::{opt_path, opt_text, out, path, text};
use crate::guard::{guard, guard_value};
use crate::handles::{self, as_manager, as_session, Shared};
use crate::host;
use crate::options;
use crate::result::{as_result, FfiError};
use agent_sessions::SessionManager;
use std::ffi::c_char;
use std::sync::Arc;

/// Opens the sessions home `home` and returns a manager handle in `*out_manager`.
///
/// `home` may be NULL for the default: `$AGENT_SESSIONS_HOME`, else
/// `$XDG_STATE_HOME/agent-sessions`, else `~/.local/state/agent-sessions`. The folder is
/// created (mode 0700) when missing. Paths are taken as bytes, as Unix file names are.
/// Free the handle with `as_manager_free`.
///
/// Thread safety: safe from any thread. The manager is safe to share between threads: every
/// `as_manager_*` and `as_lifecycle_*` call may run concurrently on the same handle.
///
/// # Safety
/// `home` is NULL or a NUL-terminated string; `out_manager` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_open(
    home: *const c_char,
    out_manager: *mut *mut as_manager,
) -> as_result {
    guard("as_manager_open", || {
        let out_manager = unsafe { out(out_manager, "out_manager") }?;
        let home = unsafe { opt_path(home) };
        let mgr = SessionManager::open(home.as_deref())?;
        out_manager.set(handles::new_manager(as_manager {
            shared: Arc::new(Shared::new(mgr)),
        }));
        Ok(())
    })
}

/// Frees a manager handle. NULL, and a handle freed already, are ignored. Session handles
/// obtained from it stay valid until they are freed themselves.
///
/// Thread safety: safe from any thread, also while other threads are inside calls on the
/// same manager (they finish normally; later calls return `AS_USE_AFTER_FREE`).
///
/// # Safety
/// `manager` is NULL or a pointer this library returned.
#[no_mangle]
pub unsafe extern "C" fn as_manager_free(manager: *mut as_manager) {
    guard_value("as_manager_free", (), || {
        handles::free_manager(manager);
    })
}

/// Uses the program at `path` as the session host (the `agent-sessions` CLI binary, which
/// hosts sessions in a hidden mode) instead of searching for it. Without this call each
/// start searches: `$AGENT_SESSIONS_HOST_BIN`; then beside this library (for
/// `PREFIX/lib/libagent_sessions.so.0`: `PREFIX/bin/agent-sessions`,
/// `PREFIX/libexec/agent-sessions`, `PREFIX/lib/agent-sessions`, where
/// scripts/install_c.sh puts it); then `agent-sessions` beside the running executable; then
/// on PATH. Fails with `AS_INVALID_ARGUMENT` when `path` is not a file.
///
/// Thread safety: safe from any thread; starts that are already under way keep the binary
/// they found.
///
/// # Safety
/// `manager` is a manager handle; `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn as_manager_set_host_binary(
    manager: *const as_manager,
    path: *const c_char,
) -> as_result {
    guard("as_manager_set_host_binary", || {
        let m = handles::manager(manager, "manager")?;
        let path = unsafe { self::path(path, "path") }?;
        if !path.is_file() {
            return Err(FfiError::invalid_argument(format!(
                "{} is not a file; pass the path of the agent-sessions binary",
                path.display()
            )));
        }
        m.shared.choose_host(path);
        Ok(())
    })
}

/// The manager's sessions home folder, in `*out_path` (free it with `as_string_free`).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `out_path` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_home(
    manager: *const as_manager,
    out_path: *mut *mut c_char,
) -> as_result {
    guard("as_manager_home", || {
        let m = handles::manager(manager, "manager")?;
        let out_path = unsafe { out(out_path, "out_path") }?;
        let home = m.shared.mgr.home().root().to_string_lossy().into_owned();
        out_path.set(alloc::string(&home));
        Ok(())
    })
}

/// Starts a session and returns its handle in `*out_session` once the agent process runs
/// (free it with `as_session_free`; the session itself keeps running).
///
/// `options_json` is an object:
/// `{"agent": "custom", "args": ["bash", "--norc"], "cwd": "/path", "task_id": "T-1",
///   "name": "n", "env": {"NAME": "value"}, "cols": 120, "rows": 35, "idle_after_secs": 2,
///   "max_log_bytes": 52428800, "policy": "/path/policy.toml",
///   "budget": {"usd": 2, "tokens": 1000000, "on_budget": "stop"}, "template": "NAME[@V]",
///   "worktree": true}`.
/// Only `agent` is required: `claude`, `codex`, `gemini`, `opencode`, `custom` (which runs
/// `args`), or a type defined in the home's `agents.toml`. `cwd` defaults to the current
/// folder; `task_id` defaults to `$AGENT_SESSIONS_TASK` (set inside every session, so a
/// sub-agent joins its parent's task); `env` may also be a list of `"NAME=value"` strings,
/// and its values reach only the agent (the record keeps the names); `idle_after_secs` is the
/// output silence before the state reads waiting_input (0: never); `max_log_bytes` caps the
/// raw output log on disk (default 50 MiB, at least 8 KiB): when the log reaches half the
/// cap it is set aside as one older part and a new log starts, which `as_session_output`
/// reads from offset 0 again. `policy` names an approval policy file (rules deciding claude's
/// and codex's permission requests through their hooks; see the README). `budget` caps what
/// the agent spends (see `as_manager_set_budget`). `worktree` (`true`, a new branch's name,
/// or `{"branch": ..., "root": ...}`) runs the agent in a new git worktree of the
/// repository `cwd` is in (see the README's "Git worktrees").
///
/// Errors: `AS_INVALID_JSON` for malformed JSON, unknown fields or wrong types;
/// `AS_UNSUPPORTED_AGENT`; `AS_INVALID_ARGUMENT` (zero size, bad cwd, no host binary: see
/// `as_manager_set_host_binary` for where it is searched);
/// `AS_LAUNCH` when the agent or the host cannot start (a record in state failed remains,
/// with the reason).
///
/// Thread safety: safe from any thread; blocks until the agent runs (milliseconds).
///
/// # Safety
/// `manager` is a manager handle; `options_json` is a NUL-terminated string;
/// `out_session` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_start(
    manager: *const as_manager,
    options_json: *const c_char,
    out_session: *mut *mut as_session,
) -> as_result {
    guard("as_manager_start", || {
        let m = handles::manager(manager, "manager")?;
        let json = unsafe { text(options_json, "options_json") }?;
        let out_session = unsafe { out(out_session, "out_session") }?;
        let req = options::start_request(json)?;
        let missing = m.shared.prepare_host();
        let rec =
            (m.shared.mgr.start_request(req)).map_err(|e| host::explain(e, missing.as_ref()))?;
        out_session.set(handles::new_session(as_session {
            shared: m.shared.clone(),
            id: rec.session_id,
        }));
        Ok(())
    })
}

/// Returns a handle for the existing session `session_id` in `*out_session` (free it with
/// `as_session_free`). Errors: `AS_INVALID_SESSION_ID`, `AS_SESSION_NOT_FOUND`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `session_id` is a NUL-terminated string; `out_session` is
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_open_session(
    manager: *const as_manager,
    session_id: *const c_char,
    out_session: *mut *mut as_session,
) -> as_result {
    guard("as_manager_open_session", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(session_id, "session_id") }?;
        let out_session = unsafe { out(out_session, "out_session") }?;
        let rec = m.shared.mgr.get(id)?;
        out_session.set(handles::new_session(as_session {
            shared: m.shared.clone(),
            id: rec.session_id,
        }));
        Ok(())
    })
}

/// The record of session `session_id` as JSON (the CLI's `show --json`), in
/// `*out_record_json` (free it with `as_string_free`). A live-looking session whose host is
/// gone reads as unknown.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `session_id` is a NUL-terminated string;
/// `out_record_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_get(
    manager: *const as_manager,
    session_id: *const c_char,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_get", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(session_id, "session_id") }?;
        let out_json = unsafe { out(out_record_json, "out_record_json") }?;
        let rec = m.shared.mgr.get(id)?;
        out_json.set(alloc::string(&rec.to_json()));
        Ok(())
    })
}

/// The records of the sessions matching `filter_json`, newest first, as a JSON array (the
/// CLI's `ls --json`), in `*out_records_json` (free it with `as_string_free`).
///
/// `filter_json` may be NULL (every session) or an object
/// `{"state": "running", "agent": "custom", "task_id": "T-1"}` whose fields are all
/// optional (`agent_type` is accepted for `agent`). A `task_id` no session carries gives
/// `AS_TASK_NOT_FOUND` (not an empty list), so a mistyped id is noticed.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `filter_json` is NULL or a NUL-terminated string;
/// `out_records_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_list(
    manager: *const as_manager,
    filter_json: *const c_char,
    out_records_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_list", || {
        let m = handles::manager(manager, "manager")?;
        let filter = unsafe { opt_text(filter_json, "filter_json") }?;
        let out_json = unsafe { out(out_records_json, "out_records_json") }?;
        let filter = options::list_filter(filter)?;
        let recs = m.shared.mgr.list(&filter)?;
        let json = serde_json::to_string(&recs).expect("records serialize");
        out_json.set(alloc::string(&json));
        Ok(())
    })
}

/// Deletes an ended session's record and files. A session that has not ended gives
/// `AS_SESSION_ACTIVE` (stop it first). A session started with `"worktree"` also loses its
/// git worktree and branch, unless they hold uncommitted changes or commits on no other
/// branch: then nothing is removed and the call gives `AS_INVALID_ARGUMENT` with the reason
/// (commit and merge the work, or remove it with `agent-sessions rm ID --force`).
///
/// Thread safety: safe from any thread. Session handles of a removed session stay valid
/// handles; calls on them return `AS_SESSION_NOT_FOUND`.
///
/// # Safety
/// `manager` is a manager handle; `session_id` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn as_manager_remove(
    manager: *const as_manager,
    session_id: *const c_char,
) -> as_result {
    guard("as_manager_remove", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(session_id, "session_id") }?;
        m.shared.mgr.remove(id)?;
        Ok(())
    })
}

/// The built-in agent types as a JSON array, each as the CLI's `agents --json` shows it
/// (name, source, binary, binary_env, default_args, found, screen_detection, screen_rules,
/// quit, interrupt, interrupt_presses, description), in `*out_json` (free it with
/// `as_string_free`).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_agents(out_json: *mut *mut c_char) -> as_result {
    guard("as_agents", || {
        let out_json = unsafe { out(out_json, "out_json") }?;
        let all: Vec<_> = agent_sessions::agents::builtin()
            .iter()
            .map(agent_sessions::AgentSpec::info)
            .collect();
        out_json.set(alloc::string(
            &serde_json::to_string(&all).expect("serializes"),
        ));
        Ok(())
    })
}
