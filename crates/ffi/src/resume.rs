//! Pause and continue (freeze and thaw the agent's process group), suspend and resume (end
//! the agent with its conversation kept, then start it again on the same conversation under
//! the same session id).

use crate::alloc;
use crate::args::{opt_out, opt_text};
use crate::guard::guard;
use crate::handles::{self, as_session};
use crate::options;
use crate::result::as_result;
use agent_sessions::{duration, SessionRecord};
use std::ffi::c_char;

/// Hands `rec` to an optional record out-parameter.
///
/// # Safety
/// `out_record_json` is NULL or valid for a write.
unsafe fn give_record(out_record_json: *mut *mut c_char, rec: &SessionRecord) {
    if let Some(o) = unsafe { opt_out(out_record_json) } {
        o.set(alloc::string(&rec.to_json()));
    }
}

/// Freezes the agent's process group (SIGSTOP): the session reads `AS_STATE_PAUSED` and
/// takes no input until `as_session_continue`. Pausing a paused session succeeds and changes
/// nothing. Errors: `AS_SESSION_NOT_RUNNING` for a session that has ended or is stopping,
/// with the state in the message; `AS_NO_PROCESS` for a lifecycle record (no process).
///
/// On success, `*out_record_json` receives the updated record (free it with
/// `as_string_free`) unless `out_record_json` is NULL.
///
/// Thread safety: safe from any thread; blocks until the session host has frozen the agent
/// (milliseconds).
///
/// # Safety
/// `session` is a session handle; `out_record_json` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_pause(
    session: *const as_session,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_pause", || {
        let s = handles::session(session, "session")?;
        let rec = s.shared.mgr.pause(&s.id)?;
        unsafe { give_record(out_record_json, &rec) };
        Ok(())
    })
}

/// Thaws a paused session (SIGCONT); it reads running until its screen or output silence
/// says otherwise. Continuing a running or waiting session succeeds and changes nothing.
/// Errors: `AS_SESSION_NOT_RUNNING` for an ended session; `AS_NO_PROCESS` for a lifecycle
/// record.
///
/// On success, `*out_record_json` receives the updated record (free it with
/// `as_string_free`) unless `out_record_json` is NULL.
///
/// Thread safety: safe from any thread; blocks until the session host has thawed the agent
/// (milliseconds).
///
/// # Safety
/// `session` is a session handle; `out_record_json` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_continue(
    session: *const as_session,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_continue", || {
        let s = handles::session(session, "session")?;
        let rec = s.shared.mgr.continue_session(&s.id)?;
        unsafe { give_record(out_record_json, &rec) };
        Ok(())
    })
}

/// Ends the agent cleanly (its quit sequence, then SIGTERM and SIGKILL after `timeout_secs`)
/// and keeps what a resume needs: the session becomes `AS_STATE_SUSPENDED`, to be started
/// again with `as_session_resume`. `timeout_secs` < 0 uses the default, 10 s; NaN and
/// infinity give `AS_INVALID_ARGUMENT`.
///
/// Errors: `AS_SESSION_NOT_RUNNING` when the session is not live; `AS_NO_PROCESS` for a
/// lifecycle record; `AS_NOT_RESUMABLE`, with the reason in the message, when it could not
/// be resumed afterwards: at once (nothing changed) for an agent type without a resume
/// command, or after ending it (the session then stays stopped) when the agent never showed
/// its own session id. `AS_INVALID_ARGUMENT` for a NaN, infinite or too large timeout.
///
/// On success, `*out_record_json` receives the final record (free it with
/// `as_string_free`) unless `out_record_json` is NULL.
///
/// Thread safety: safe from any thread; blocks until the agent has ended, up to about
/// `timeout_secs`.
///
/// # Safety
/// `session` is a session handle; `out_record_json` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_suspend(
    session: *const as_session,
    timeout_secs: f64,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_suspend", || {
        let s = handles::session(session, "session")?;
        let timeout = duration::grace_secs(timeout_secs, "timeout_secs")?;
        let rec = s.shared.mgr.suspend(&s.id, timeout)?;
        unsafe { give_record(out_record_json, &rec) };
        Ok(())
    })
}

/// Starts an ended session's agent again on the same conversation, under the same session
/// id (same folder, terminal size, task, phase, events and history), and returns once the
/// agent runs. A suspended session is the usual case; a stopped, failed or unknown one can
/// be resumed too when its agent's own session id is known. If the agent then finds the
/// conversation gone, the session ends failed with that reason: wait for `waiting_input`
/// with `as_session_wait` to be sure it took.
///
/// `options_json` may be NULL or an object `{"args": ["--model", "x"], "env": {"NAME":
/// "value"}, "agent_session_id": "..."}`, every field optional: `args` replaces the
/// arguments the session was started with (which are repeated by default); `env` (also a
/// list of `"NAME=value"` strings) reaches only the agent, and since values are never
/// stored, pass them again; `agent_session_id` is the agent's own conversation id, for an
/// agent that never showed it.
///
/// Errors: `AS_NOT_RESUMABLE` with the reason when the session cannot be resumed (it is
/// still live, it is a lifecycle record, its agent type has no resume command, or the
/// agent's session id is unknown); `AS_INVALID_JSON`; `AS_INVALID_ARGUMENT` (a bad
/// environment name or agent session id); `AS_LAUNCH`.
///
/// On success, `*out_record_json` receives the record (free it with `as_string_free`)
/// unless `out_record_json` is NULL.
///
/// Thread safety: safe from any thread; blocks until the agent runs (milliseconds; up to
/// 10 s while a previous host is still exiting). Concurrent resumes of one session: one
/// wins, the others get `AS_NOT_RESUMABLE`.
///
/// # Safety
/// `session` is a session handle; `options_json` is NULL or a NUL-terminated string;
/// `out_record_json` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_resume(
    session: *const as_session,
    options_json: *const c_char,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_resume", || {
        let s = handles::session(session, "session")?;
        let json = unsafe { opt_text(options_json, "options_json") }?;
        let opts = options::resume_options(json)?;
        let missing = s.shared.prepare_host();
        let rec = (s.shared.mgr.resume(&s.id, &opts))
            .map_err(|e| crate::host::explain(e, missing.as_ref()))?;
        unsafe { give_record(out_record_json, &rec) };
        Ok(())
    })
}
