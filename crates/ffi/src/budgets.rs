//! Cost budgets (the CLI's `budget ID` and `tasks budget TASK`): show, set and remove a
//! session's or a task's. The session's host enforces them. A budget is
//! `{"usd": 2.5, "tokens": 1000000, "on_budget": "warn"|"interrupt"|"suspend"|"stop"}`
//! (one limit at least; `on_budget` defaults to `stop`). Every answer is the status JSON,
//! shaped as the CLI's `--json`: `{"scope", "id", "budget", "spent": {"usd", "tokens",
//! "estimated"}, "assessment": {"level", "share"}}`.

use crate::alloc;
use crate::args::{opt_text, out, text};
use crate::guard::guard;
use crate::handles::{self, as_manager};
use crate::result::as_result;
use agent_sessions::Budget;
use std::ffi::c_char;

/// A budget argument: NULL is none (removes it). The core checks the limits.
fn budget_arg(json: Option<&str>) -> agent_sessions::Result<Option<Budget>> {
    json.map(|j| agent_sessions::requests::parse(j, "argument `budget_json`"))
        .transpose()
}

/// A session's own budget with what it has spent, in `*out_json` (free it with
/// `as_string_free`). Errors: `AS_INVALID_SESSION_ID`, `AS_SESSION_NOT_FOUND`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `session_id` is a NUL-terminated string; `out_json` is
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_budget(
    manager: *const as_manager,
    session_id: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_budget", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(session_id, "session_id") }?;
        let o = unsafe { out(out_json, "out_json") }?;
        o.set(alloc::json(&m.shared.mgr.budget(id)?));
        Ok(())
    })
}

/// Sets a session's own budget (`budget_json` NULL removes it); a live session's host
/// looks at once, so a budget already exceeded acts now. The status goes to `*out_json`
/// (free it with `as_string_free`).
///
/// Errors: `AS_INVALID_JSON` (malformed, unknown field); `AS_INVALID_ARGUMENT` (a limit
/// that is not a number above 0, NaN or infinite; an unknown action); the session errors
/// of `as_manager_budget`.
///
/// Thread safety: safe from any thread and alongside other processes.
///
/// # Safety
/// `manager` is a manager handle; `session_id` is a NUL-terminated string; `budget_json`
/// is NULL or a NUL-terminated string; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_set_budget(
    manager: *const as_manager,
    session_id: *const c_char,
    budget_json: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_set_budget", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(session_id, "session_id") }?;
        let b = budget_arg(unsafe { opt_text(budget_json, "budget_json") }?)?;
        let o = unsafe { out(out_json, "out_json") }?;
        o.set(alloc::json(&m.shared.mgr.set_budget(id, b)?));
        Ok(())
    })
}

/// A task's budget with what all of its sessions have spent, in `*out_json` (free it with
/// `as_string_free`). Errors: `AS_INVALID_ARGUMENT` (a bad task id), `AS_TASK_NOT_FOUND`
/// (neither a budget nor a session).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `task_id` is a NUL-terminated string; `out_json` is
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_task_budget(
    manager: *const as_manager,
    task_id: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_task_budget", || {
        let m = handles::manager(manager, "manager")?;
        let task = unsafe { text(task_id, "task_id") }?;
        let o = unsafe { out(out_json, "out_json") }?;
        o.set(alloc::json(&m.shared.mgr.task_budget(task)?));
        Ok(())
    })
}

/// Sets a task's budget (`budget_json` NULL removes it): all of its sessions together,
/// also those started later; it may be set before the first. Every live host of the task
/// looks at once. The status goes to `*out_json` (free it with `as_string_free`).
///
/// Errors: as `as_manager_set_budget`, and `AS_TASK_NOT_FOUND` when removing the budget of
/// a task that has neither.
///
/// Thread safety: safe from any thread and alongside other processes.
///
/// # Safety
/// `manager` is a manager handle; `task_id` is a NUL-terminated string; `budget_json` is
/// NULL or a NUL-terminated string; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_set_task_budget(
    manager: *const as_manager,
    task_id: *const c_char,
    budget_json: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_set_task_budget", || {
        let m = handles::manager(manager, "manager")?;
        let task = unsafe { text(task_id, "task_id") }?;
        let b = budget_arg(unsafe { opt_text(budget_json, "budget_json") }?)?;
        let o = unsafe { out(out_json, "out_json") }?;
        o.set(alloc::json(&m.shared.mgr.set_task_budget(task, b)?));
        Ok(())
    })
}
