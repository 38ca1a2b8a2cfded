//! Tasks (sessions grouped by the task they serve, with totals) and retention (removing old
//! ended sessions and their files).

use crate::alloc;
use crate::args::{out, text};
use crate::guard::guard;
use crate::handles::{self, as_manager};
use crate::options;
use crate::result::as_result;
use std::ffi::c_char;

/// Every task with its sessions and totals as a JSON array (the CLI's `tasks --json`), the
/// most recently active first, in `*out_tasks_json` (free it with `as_string_free`). Each
/// element is `{"task_id", "session_count", "sessions": [{"session_id", "agent_type",
/// "state", "phase", "created_at"}], "states": {"running": 1, ...}, "live",
/// "first_created_at", "last_updated_at", "total_tokens", "cost_usd", "cpu_time_ms"}`.
/// Sessions started without a task come last, under `"task_id": null`; totals nothing
/// reported are null.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `out_tasks_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_tasks(
    manager: *const as_manager,
    out_tasks_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_tasks", || {
        let m = handles::manager(manager, "manager")?;
        let out_json = unsafe { out(out_tasks_json, "out_tasks_json") }?;
        let tasks = m.shared.mgr.tasks()?;
        out_json.set(alloc::string(
            &serde_json::to_string(&tasks).expect("tasks serialize"),
        ));
        Ok(())
    })
}

/// The task `task_id` with its sessions (oldest first) and totals, as one JSON object shaped
/// like the elements of `as_manager_tasks` (the CLI's `tasks TASK --json`), in
/// `*out_task_json` (free it with `as_string_free`). Errors: `AS_TASK_NOT_FOUND` when no
/// session carries the task id; `AS_INVALID_ARGUMENT` for an empty id, one over 200
/// characters, or one with control characters.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `task_id` is a NUL-terminated string; `out_task_json` is
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_task(
    manager: *const as_manager,
    task_id: *const c_char,
    out_task_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_task", || {
        let m = handles::manager(manager, "manager")?;
        let task_id = unsafe { text(task_id, "task_id") }?;
        let out_json = unsafe { out(out_task_json, "out_task_json") }?;
        let task = m.shared.mgr.task(task_id)?;
        out_json.set(alloc::string(&task.to_json()));
        Ok(())
    })
}

/// Removes ended sessions older than a given age, with their files, and reports what was
/// freed (the CLI's `cleanup --json`). A session that may still run is never removed.
///
/// `options_json` is an object `{"older_than": "7d", "states": ["stopped"], "keep_logs":
/// false, "dry_run": true}`. The age is required: `older_than` as a number with a unit
/// (`30s`, `15m`, `12h`, `7d`, `2w`) or `older_than_secs` as a number of seconds, not both;
/// a session qualifies when it ended (or, without an end time, was last updated) longer ago.
/// `states` defaults to stopped, failed and unknown and may also name suspended; a state
/// that has not ended gives `AS_INVALID_ARGUMENT`. `keep_logs` leaves the output logs and
/// last screen on disk; `dry_run` reports what would be removed and removes nothing.
///
/// On success `*out_report_json` receives `{"dry_run", "sessions": [{"session_id", "state",
/// "ended_at", "bytes"}], "bytes_freed", "skipped"}` (free it with `as_string_free`);
/// `skipped` counts candidates that changed state meanwhile (resumed, say) and were kept.
///
/// Errors: `AS_INVALID_JSON` (malformed, unknown field, no age or two); `AS_INVALID_ARGUMENT`
/// (bad duration, unknown or live state); `AS_STORE`; `AS_IO`.
///
/// Thread safety: safe from any thread and alongside other processes using the home: each
/// removal is a compare-and-set on the session's state. Session handles of a removed
/// session stay valid handles; calls on them return `AS_SESSION_NOT_FOUND`.
///
/// # Safety
/// `manager` is a manager handle; `options_json` is a NUL-terminated string;
/// `out_report_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_cleanup(
    manager: *const as_manager,
    options_json: *const c_char,
    out_report_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_cleanup", || {
        let m = handles::manager(manager, "manager")?;
        let json = unsafe { text(options_json, "options_json") }?;
        let out_json = unsafe { out(out_report_json, "out_report_json") }?;
        let opts = options::cleanup_options(json)?;
        let report = m.shared.mgr.cleanup(&opts)?;
        out_json.set(alloc::string(&report.to_json()));
        Ok(())
    })
}
