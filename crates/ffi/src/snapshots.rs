//! Snapshots (the CLI's `snapshot ...` and `restore`): take one of a session, list, read,
//! remove, prune, and restore one as a new session. Every answer is JSON, shaped as the
//! CLI's `--json`: a snapshot is `{"snapshot_id", "name", "session_id", "agent_type",
//! "created_at", "state", "workspace_path", "workspace", "conversation",
//! "conversation_note", "events", "messages", "bytes", "path"}`.

use crate::alloc;
use crate::args::{opt_text, out, text};
use crate::guard::guard;
use crate::handles::{self, as_manager, as_session};
use crate::result::as_result;
use agent_sessions::requests;
use std::ffi::c_char;

/// Takes a snapshot of the session `session_id` (live or ended): its record, events,
/// history, the agent's own conversation file and an archive of its workspace (tracked
/// and untracked files, `.gitignore` honoured, `.git` left out). The snapshot goes to
/// `*out_snapshot_json` (free it with `as_string_free`).
///
/// `options_json` may be NULL, or `{"name", "workspace" (default true),
/// "max_workspace_bytes" (default 512 MiB), "keep" (snapshots of the session kept, default
/// 20, 0 for all)}`.
///
/// Errors: `AS_INVALID_SESSION_ID`, `AS_SESSION_NOT_FOUND`; `AS_INVALID_JSON`;
/// `AS_INVALID_ARGUMENT` (a bad or taken name, a workspace over the cap or gone: nothing is
/// written); `AS_IO` (a full disk: nothing is left half written).
///
/// Thread safety: safe from any thread and alongside other processes.
///
/// # Safety
/// `manager` is a manager handle; `session_id` is a NUL-terminated string; `options_json`
/// is NULL or a NUL-terminated string; `out_snapshot_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_snapshot(
    manager: *const as_manager,
    session_id: *const c_char,
    options_json: *const c_char,
    out_snapshot_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_snapshot", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(session_id, "session_id") }?;
        let opts = unsafe { opt_text(options_json, "options_json") }?;
        let out_json = unsafe { out(out_snapshot_json, "out_snapshot_json") }?;
        let opts = requests::snapshot_options(opts, "argument `options_json`")?;
        out_json.set(alloc::json(&m.shared.mgr.snapshot(id, &opts)?));
        Ok(())
    })
}

/// Every snapshot (of the session `session_id` when it is not NULL), oldest first, as a
/// JSON array in `*out_json` (free it with `as_string_free`).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `session_id` is NULL or a NUL-terminated string;
/// `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_snapshots(
    manager: *const as_manager,
    session_id: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_snapshots", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { opt_text(session_id, "session_id") }?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        out_json.set(alloc::json(&m.shared.mgr.snapshots(id)?));
        Ok(())
    })
}

/// One snapshot, by id or name, in `*out_snapshot_json` (free it with `as_string_free`).
/// Errors: `AS_INVALID_ARGUMENT` for a malformed reference, `AS_SNAPSHOT_NOT_FOUND`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `snapshot` is a NUL-terminated string;
/// `out_snapshot_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_snapshot_get(
    manager: *const as_manager,
    snapshot: *const c_char,
    out_snapshot_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_snapshot_get", || {
        let m = handles::manager(manager, "manager")?;
        let r = unsafe { text(snapshot, "snapshot") }?;
        let out_json = unsafe { out(out_snapshot_json, "out_snapshot_json") }?;
        out_json.set(alloc::json(&m.shared.mgr.snapshot_info(r)?));
        Ok(())
    })
}

/// Removes a snapshot (by id or name) and its files. Errors as `as_manager_snapshot_get`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `snapshot` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn as_manager_snapshot_remove(
    manager: *const as_manager,
    snapshot: *const c_char,
) -> as_result {
    guard("as_manager_snapshot_remove", || {
        let m = handles::manager(manager, "manager")?;
        let r = unsafe { text(snapshot, "snapshot") }?;
        m.shared.mgr.remove_snapshot(r)?;
        Ok(())
    })
}

/// Removes the snapshots `retention_json` selects, `{"keep": N (per session, the newest
/// kept), "older_than_secs": S, "session_id": ID, "dry_run": true}` (`keep` or
/// `older_than_secs` required; `dry_run` removes nothing), and puts those removed (or that
/// would be) in `*out_json` as a JSON array (free it with `as_string_free`).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `retention_json` is a NUL-terminated string; `out_json`
/// is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_snapshot_prune(
    manager: *const as_manager,
    retention_json: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_manager_snapshot_prune", || {
        let m = handles::manager(manager, "manager")?;
        let doc = unsafe { text(retention_json, "retention_json") }?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        let retention = requests::retention(doc, "argument `retention_json`")?;
        out_json.set(alloc::json(&m.shared.mgr.prune_snapshots(&retention)?));
        Ok(())
    })
}

/// Starts a new session from a snapshot (by id or name) and returns its handle in
/// `*out_session` (free it with `as_session_free`): the workspace unpacked into `cwd` (a
/// new or empty folder; default a new folder in the home) and the agent resumed on the
/// copied conversation where the agent allows it (the record's `restored_from` says
/// whether, and why not).
///
/// `options_json` may be NULL, or `{"cwd", "name", "env"}` (`env` as `as_manager_start`
/// takes it; values reach only the agent).
///
/// Errors: `AS_SNAPSHOT_NOT_FOUND`; `AS_INVALID_JSON`; `AS_INVALID_ARGUMENT` (a target that
/// is not empty, a damaged archive: nothing is unpacked or started); `AS_LAUNCH`.
///
/// Thread safety: safe from any thread; blocks until the agent runs.
///
/// # Safety
/// `manager` is a manager handle; `snapshot` is a NUL-terminated string; `options_json` is
/// NULL or a NUL-terminated string; `out_session` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_manager_restore(
    manager: *const as_manager,
    snapshot: *const c_char,
    options_json: *const c_char,
    out_session: *mut *mut as_session,
) -> as_result {
    guard("as_manager_restore", || {
        let m = handles::manager(manager, "manager")?;
        let r = unsafe { text(snapshot, "snapshot") }?;
        let opts = unsafe { opt_text(options_json, "options_json") }?;
        let out_session = unsafe { out(out_session, "out_session") }?;
        let opts = requests::restore_options(opts, "argument `options_json`")?;
        let missing = m.shared.prepare_host();
        let rec = (m.shared.mgr.restore(r, &opts))
            .map_err(|e| crate::host::explain(e, missing.as_ref()))?;
        out_session.set(handles::new_session(as_session {
            shared: m.shared.clone(),
            id: rec.session_id,
        }));
        Ok(())
    })
}
