//! Launch templates (the CLI's `template ...`): save a version, read, list, history,
//! rollback, remove, check. A session starts from one through `as_manager_start` with
//! `{"template": "NAME[@VERSION]", ...}` in its options. Every answer is JSON, shaped as the
//! CLI's `--json`: a version is `{"name", "version", "created_at", "current", "template"}`.

use crate::alloc;
use crate::args::{out, text};
use crate::guard::guard;
use crate::handles::{self, as_manager};
use crate::result::as_result;
use agent_sessions::template::Template;
use std::ffi::c_char;

/// Saves `template_json` as the next version of the template `name` and makes it current;
/// the version saved goes to `*out_version_json` (free it with `as_string_free`).
///
/// `template_json` is `{"agent", "args", "env": ["NAME", ...], "cwd", "task_prefix",
/// "name", "cols", "rows", "idle_after_secs", "debounce_secs", "no_hooks", "max_log_bytes",
/// "policy", "budget", "description"}` (only `agent` is required). `env` lists variable names only:
/// each start passes the value the starting process has. Unless `force`, the template is
/// checked first (see `as_manager_template_check`) and not saved when it fails.
///
/// Errors: `AS_INVALID_JSON` (malformed, unknown field); `AS_INVALID_ARGUMENT` (a bad name,
/// an `env` entry with a value, a failed check: the message lists what failed).
///
/// Thread safety: safe from any thread and alongside other processes.
///
/// # Safety
/// `manager` is a manager handle; `name` and `template_json` are NUL-terminated strings;
/// `out_version_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_template_save(
    manager: *const as_manager,
    name: *const c_char,
    template_json: *const c_char,
    force: bool,
    out_version_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_template_save", || {
        let m = handles::manager(manager, "manager")?;
        let name = unsafe { text(name, "name") }?;
        let doc = unsafe { text(template_json, "template_json") }?;
        let out_json = unsafe { out(out_version_json, "out_version_json") }?;
        let t = Template::from_json(doc, "argument `template_json`")?;
        let v = m.shared.mgr.save_template(name, &t, force)?;
        out_json.set(alloc::json(&v));
        Ok(())
    })
}

/// A template version, by `NAME` (its current version) or `NAME@VERSION`, in
/// `*out_version_json` (free it with `as_string_free`). Errors: `AS_INVALID_ARGUMENT` for a
/// bad reference or one that names no template or version.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `spec` is a NUL-terminated string; `out_version_json` is
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_template_get(
    manager: *const as_manager,
    spec: *const c_char,
    out_version_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_template_get", || {
        let m = handles::manager(manager, "manager")?;
        let spec = unsafe { text(spec, "spec") }?;
        let out_json = unsafe { out(out_version_json, "out_version_json") }?;
        out_json.set(alloc::json(&m.shared.mgr.template(spec)?));
        Ok(())
    })
}

/// The current version of every template, by name, as a JSON array in `*out_json` (free it
/// with `as_string_free`).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_templates(
    manager: *const as_manager,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_templates", || {
        let m = handles::manager(manager, "manager")?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        out_json.set(alloc::json(&m.shared.mgr.templates()?));
        Ok(())
    })
}

/// Every version of the template `name`, oldest first, as a JSON array in `*out_json` (free
/// it with `as_string_free`). Errors: `AS_INVALID_ARGUMENT` when there is no such template.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `name` is a NUL-terminated string; `out_json` is valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_template_history(
    manager: *const as_manager,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_template_history", || {
        let m = handles::manager(manager, "manager")?;
        let name = unsafe { text(name, "name") }?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        out_json.set(alloc::json(&m.shared.mgr.template_history(name)?));
        Ok(())
    })
}

/// Makes `version` of the template `name` current again (the other versions stay); the
/// version now current goes to `*out_version_json` (free it with `as_string_free`).
/// Errors: `AS_INVALID_ARGUMENT` when there is no such template or version.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `name` is a NUL-terminated string; `out_version_json` is
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_template_rollback(
    manager: *const as_manager,
    name: *const c_char,
    version: u32,
    out_version_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_template_rollback", || {
        let m = handles::manager(manager, "manager")?;
        let name = unsafe { text(name, "name") }?;
        let out_json = unsafe { out(out_version_json, "out_version_json") }?;
        out_json.set(alloc::json(&m.shared.mgr.rollback_template(name, version)?));
        Ok(())
    })
}

/// Removes the template `name` with every version. Errors: `AS_INVALID_ARGUMENT` when there
/// is no such template.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn as_manager_template_remove(
    manager: *const as_manager,
    name: *const c_char,
) -> as_result {
    guard("as_manager_template_remove", || {
        let m = handles::manager(manager, "manager")?;
        let name = unsafe { text(name, "name") }?;
        m.shared.mgr.remove_template(name)?;
        Ok(())
    })
}

/// Checks whether a template (`NAME` or `NAME@VERSION`) could start: its agent type is
/// known, the binary is found and answers `--version`, its folder and policy file exist and
/// parse, its numbers are in range. `*out_json` receives `{"template", "version", "ok",
/// "problems": ["...", ...]}` (free it with `as_string_free`); a failed check is still
/// `AS_OK`, with `ok` false.
///
/// Thread safety: safe from any thread; it runs the agent's binary, for up to 20 s.
///
/// # Safety
/// `manager` is a manager handle; `spec` is a NUL-terminated string; `out_json` is valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_template_check(
    manager: *const as_manager,
    spec: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_template_check", || {
        let m = handles::manager(manager, "manager")?;
        let spec = unsafe { text(spec, "spec") }?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        out_json.set(alloc::json(&m.shared.mgr.check_saved_template(spec)?));
        Ok(())
    })
}
