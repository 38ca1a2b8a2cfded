//! `as_lifecycle_*`: the lifecycle records of the reference hook library (`agent_session.py`
//! and the Python package's `AgentSession`), in the same store as hosted sessions.
//!
//! The return conventions follow the reference: updates report through a `bool` whether a
//! session had the id, `should_resume` is false for an unknown session, and `get` gives NULL
//! JSON for one. Documents are JSON objects in the reference schema (agent_id, agent_name,
//! purpose, created_at, last_updated, phase, metadata, resume_ready, history, error_count,
//! last_error, finalized_at, duration_seconds, summary), keys in that order.

use crate::alloc;
use crate::args::{opt_text, out, text};
use crate::guard::guard;
use crate::handles::{self, as_manager};
use crate::options;
use crate::result::as_result;
use agent_sessions::lifecycle::ListFilter;
use serde_json::Value;
use std::ffi::c_char;

/// Creates a lifecycle record (no process; phase initializing) and returns its id in
/// `*out_agent_id` (free it with `as_string_free`), shaped `agent-YYYYMMDD-HHMMSS-<8 hex>`.
///
/// `options_json` may be NULL or an object `{"agent_id": "...", "agent_name": "...",
/// "purpose": "...", "metadata": {...}}`, every field optional. A given `agent_id` replaces
/// an existing lifecycle document under that id, as the reference does.
///
/// Thread safety: safe from any thread and from many processes at once.
///
/// # Safety
/// `manager` is a manager handle; `options_json` is NULL or a NUL-terminated string;
/// `out_agent_id` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_create(
    manager: *const as_manager,
    options_json: *const c_char,
    out_agent_id: *mut *mut c_char,
) -> as_result {
    guard("as_lifecycle_create", || {
        let m = handles::manager(manager, "manager")?;
        let json = unsafe { opt_text(options_json, "options_json") }?;
        let out_id = unsafe { out(out_agent_id, "out_agent_id") }?;
        let new = options::new_lifecycle(json)?;
        let id = m.shared.mgr.lifecycle()?.create_session(&new)?;
        out_id.set(alloc::string(&id));
        Ok(())
    })
}

/// Updates a session: `phase` (appends a history entry and sets resume_ready to whether the
/// phase is resumable), `metadata_json` (an object merged into the metadata), `error` (raises
/// error_count and sets last_error). Each of the three may be NULL; last_updated is always
/// refreshed. Works on hosted sessions too, without touching their process.
///
/// `*out_updated` is false when no session has the id (the reference returns False). An
/// invalid phase changes nothing and returns `AS_INVALID_PHASE` (the reference's False),
/// with the valid phases in the message.
///
/// Thread safety: safe from any thread and from many processes at once; no update is lost.
///
/// # Safety
/// `manager` is a manager handle; `agent_id` is a NUL-terminated string; `phase`,
/// `metadata_json` and `error` are NULL or NUL-terminated strings; `out_updated` is valid for
/// a write.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_update(
    manager: *const as_manager,
    agent_id: *const c_char,
    phase: *const c_char,
    metadata_json: *const c_char,
    error: *const c_char,
    out_updated: *mut bool,
) -> as_result {
    guard("as_lifecycle_update", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(agent_id, "agent_id") }?;
        let phase = unsafe { opt_text(phase, "phase") }?;
        let metadata = unsafe { opt_text(metadata_json, "metadata_json") }?;
        let error = unsafe { opt_text(error, "error") }?;
        let out_updated = unsafe { out(out_updated, "out_updated") }?;
        let metadata = metadata
            .map(|j| options::object(j, "metadata_json"))
            .transpose()?;
        let found = m
            .shared
            .mgr
            .lifecycle()?
            .update_state(id, phase, metadata.as_ref(), error)?;
        out_updated.set(found);
        Ok(())
    })
}

/// Whether the session may be resumed, in `*out_resume`: resume_ready is set, the phase is
/// resumable, the last activity is recent enough and error_count is below the limit. False
/// for an unknown session.
///
/// `policy_json` may be NULL (the reference's defaults: 30 minutes, 3 errors, phases
/// approval, investigating, planning) or an object `{"max_idle_secs": 1800, "max_errors": 3,
/// "resumable_phases": ["approval", ...]}`, every field optional.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `agent_id` is a NUL-terminated string; `policy_json` is
/// NULL or a NUL-terminated string; `out_resume` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_should_resume(
    manager: *const as_manager,
    agent_id: *const c_char,
    policy_json: *const c_char,
    out_resume: *mut bool,
) -> as_result {
    guard("as_lifecycle_should_resume", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(agent_id, "agent_id") }?;
        let policy = unsafe { opt_text(policy_json, "policy_json") }?;
        let out_resume = unsafe { out(out_resume, "out_resume") }?;
        let policy = options::resume_policy(policy)?;
        let resume = m.shared.mgr.lifecycle()?.should_resume(id, &policy)?;
        out_resume.set(resume);
        Ok(())
    })
}

/// The session's whole document, history included, as JSON in `*out_json` (free it with
/// `as_string_free`); `*out_json` is set to NULL when no session has a document under the id
/// (the reference returns None).
///
/// Thread safety: safe from any thread; the document and its history are read in one
/// transaction.
///
/// # Safety
/// `manager` is a manager handle; `agent_id` is a NUL-terminated string; `out_json` is valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_get(
    manager: *const as_manager,
    agent_id: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_lifecycle_get", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(agent_id, "agent_id") }?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        let doc = m.shared.mgr.lifecycle()?.get_session(id)?;
        out_json.set(doc.map_or(std::ptr::null_mut(), |d| alloc::string(&d.to_json())));
        Ok(())
    })
}

/// Ends a session: phase set to `outcome` (completed, failed or abandoned; anything else
/// records failed), finalized_at, duration_seconds, `summary` (may be NULL) and resume_ready
/// cleared. `*out_finalized` is false when no session has the id.
///
/// Thread safety: safe from any thread and from many processes at once.
///
/// # Safety
/// `manager` is a manager handle; `agent_id` and `outcome` are NUL-terminated strings;
/// `summary` is NULL or a NUL-terminated string; `out_finalized` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_finalize(
    manager: *const as_manager,
    agent_id: *const c_char,
    outcome: *const c_char,
    summary: *const c_char,
    out_finalized: *mut bool,
) -> as_result {
    guard("as_lifecycle_finalize", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(agent_id, "agent_id") }?;
        let outcome = unsafe { text(outcome, "outcome") }?;
        let summary = unsafe { opt_text(summary, "summary") }?;
        let out_finalized = unsafe { out(out_finalized, "out_finalized") }?;
        let summary = summary.map(|s| Value::String(s.to_string()));
        let found = m
            .shared
            .mgr
            .lifecycle()?
            .finalize_session(id, outcome, summary)?;
        out_finalized.set(found);
        Ok(())
    })
}

/// Deletes record-only sessions whose last activity is more than `hours` ago and returns
/// how many in `*out_removed`. Hosted sessions are never deleted here (use
/// `as_manager_remove`). `hours` must be finite.
///
/// Thread safety: safe from any thread and from many processes at once.
///
/// # Safety
/// `manager` is a manager handle; `out_removed` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_cleanup(
    manager: *const as_manager,
    hours: f64,
    out_removed: *mut usize,
) -> as_result {
    guard("as_lifecycle_cleanup", || {
        let m = handles::manager(manager, "manager")?;
        let out_removed = unsafe { out(out_removed, "out_removed") }?;
        let n = m.shared.mgr.lifecycle()?.cleanup_old_sessions(hours)?;
        out_removed.set(n);
        Ok(())
    })
}

/// Summaries of the lifecycle sessions, most recently updated first, as a JSON array of
/// `{agent_id, agent_name, phase, created_at, last_updated, resume_ready, error_count}` in
/// `*out_json` (free it with `as_string_free`). `active_only` leaves out completed, failed
/// and abandoned sessions; `agent_name` (may be NULL) keeps only that agent's.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `manager` is a manager handle; `agent_name` is NULL or a NUL-terminated string;
/// `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_list(
    manager: *const as_manager,
    active_only: bool,
    agent_name: *const c_char,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_lifecycle_list", || {
        let m = handles::manager(manager, "manager")?;
        let name = unsafe { opt_text(agent_name, "agent_name") }?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        // This API's documented active_only: not finalized (unlike the reference's).
        let filter = if active_only {
            ListFilter::Unfinished
        } else {
            ListFilter::All
        };
        let list = m
            .shared
            .mgr
            .lifecycle()?
            .list_sessions_filtered(filter, name)?;
        out_json.set(alloc::string(
            &serde_json::to_string(&list).expect("summaries serialize"),
        ));
        Ok(())
    })
}

/// Stores `doc_json` (a JSON object, history included) exactly as given as the session's
/// document, creating a record-only session when none has the id: the reference's
/// `_save_session`, for migrating old state.json files. Nothing is recomputed.
///
/// Thread safety: safe from any thread and from many processes at once.
///
/// # Safety
/// `manager` is a manager handle; `agent_id` and `doc_json` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn as_lifecycle_save(
    manager: *const as_manager,
    agent_id: *const c_char,
    doc_json: *const c_char,
) -> as_result {
    guard("as_lifecycle_save", || {
        let m = handles::manager(manager, "manager")?;
        let id = unsafe { text(agent_id, "agent_id") }?;
        let doc = unsafe { text(doc_json, "doc_json") }?;
        let doc = options::object(doc, "doc_json")?;
        m.shared.mgr.lifecycle()?.save_session(id, doc)?;
        Ok(())
    })
}
