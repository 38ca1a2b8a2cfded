//! `as_session_*`: one session's state, record, input, screen, waits and stop.

use crate::alloc;
use crate::args::{self, opt_out, out, text};
use crate::guard::{guard, guard_value};
use crate::handles::{self, as_session};
use crate::result::{as_result, FfiError};
use crate::state::as_state;
use agent_sessions::{duration, State};
use std::ffi::c_char;

/// Frees a session handle; the session itself keeps running (stop it with
/// `as_session_stop`). NULL, and a handle freed already, are ignored.
///
/// Thread safety: safe from any thread, also while other threads are inside calls on the
/// same handle (they finish normally; later calls return `AS_USE_AFTER_FREE`).
///
/// # Safety
/// `session` is NULL or a pointer this library returned.
#[no_mangle]
pub unsafe extern "C" fn as_session_free(session: *mut as_session) {
    guard_value("as_session_free", (), || {
        handles::free_session(session);
    })
}

/// The session's id (shaped `agent-YYYYMMDD-HHMMSS-<8 hex>`), in `*out_id` (free it with
/// `as_string_free`).
///
/// Thread safety: safe from any thread; a session handle may be shared between threads.
///
/// # Safety
/// `session` is a session handle; `out_id` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_id(
    session: *const as_session,
    out_id: *mut *mut c_char,
) -> as_result {
    guard("as_session_id", || {
        let s = handles::session(session, "session")?;
        let out_id = unsafe { out(out_id, "out_id") }?;
        out_id.set(alloc::string(&s.id));
        Ok(())
    })
}

/// The session's current state, checked against reality (a live-looking session whose host
/// is gone reads `AS_STATE_UNKNOWN`), in `*out_state`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `out_state` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_state(
    session: *const as_session,
    out_state: *mut as_state,
) -> as_result {
    guard("as_session_state", || {
        let s = handles::session(session, "session")?;
        let out_state = unsafe { out(out_state, "out_state") }?;
        let state = s.shared.mgr.state(&s.id)?;
        out_state.set(state.into());
        Ok(())
    })
}

/// The session's record as JSON (the CLI's `show --json`: session_id, agent_type, state,
/// started_at, ended_at, exit_code, transitions, ...), in `*out_record_json` (free it with
/// `as_string_free`).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `out_record_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_record(
    session: *const as_session,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_record", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_record_json, "out_record_json") }?;
        let rec = s.shared.mgr.get(&s.id)?;
        out_json.set(alloc::string(&rec.to_json()));
        Ok(())
    })
}

/// Types `text` into the agent, then Enter when `enter` is true. A session that is not
/// running gives `AS_SESSION_NOT_RUNNING`, with its state in the message; a lifecycle record
/// (no agent process) `AS_NO_PROCESS`.
///
/// Thread safety: safe from any thread; concurrent sends to one session are delivered one
/// after the other, in no guaranteed order.
///
/// # Safety
/// `session` is a session handle; `text` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn as_session_send(
    session: *const as_session,
    text: *const c_char,
    enter: bool,
) -> as_result {
    guard("as_session_send", || {
        let s = handles::session(session, "session")?;
        let text = unsafe { self::text(text, "text") }?;
        s.shared.mgr.send(&s.id, text, enter)?;
        Ok(())
    })
}

/// Sends `count` named keys, in order: `Enter`, `Esc`, `Tab`, `BTab`, `Space`, `BSpace`,
/// `Up`, `Down`, `Left`, `Right`, `Home`, `End`, `PageUp`, `PageDown`, `Delete`, `C-<key>`
/// (e.g. `C-c`, `C-d`), or a single character. An unknown name gives `AS_INVALID_ARGUMENT`
/// and sends nothing.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `keys` points to `count` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn as_session_send_keys(
    session: *const as_session,
    keys: *const *const c_char,
    count: usize,
) -> as_result {
    guard("as_session_send_keys", || {
        let s = handles::session(session, "session")?;
        if keys.is_null() {
            return Err(args::null("keys"));
        }
        // SAFETY: the caller promised `count` readable entries.
        let ptrs = unsafe { std::slice::from_raw_parts(keys, count) };
        let mut names = Vec::with_capacity(count);
        for (i, p) in ptrs.iter().enumerate() {
            names.push(unsafe { text(*p, &format!("keys[{i}]")) }?);
        }
        s.shared.mgr.send_keys(&s.id, &names)?;
        Ok(())
    })
}

/// Sends `len` raw bytes to the agent's terminal, as typed.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `bytes` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn as_session_send_bytes(
    session: *const as_session,
    bytes: *const u8,
    len: usize,
) -> as_result {
    guard("as_session_send_bytes", || {
        let s = handles::session(session, "session")?;
        if bytes.is_null() {
            return Err(args::null("bytes"));
        }
        // SAFETY: the caller promised `len` readable bytes.
        let data = unsafe { std::slice::from_raw_parts(bytes, len) };
        s.shared.mgr.send_bytes(&s.id, data)?;
        Ok(())
    })
}

/// Interrupts the agent's current turn (Esc or Ctrl-C, as the agent expects); the agent
/// keeps running.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle.
#[no_mangle]
pub unsafe extern "C" fn as_session_interrupt(session: *const as_session) -> as_result {
    guard("as_session_interrupt", || {
        let s = handles::session(session, "session")?;
        s.shared.mgr.interrupt(&s.id)?;
        Ok(())
    })
}

/// Resizes the session's terminal; both sizes must be at least 1.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle.
#[no_mangle]
pub unsafe extern "C" fn as_session_resize(
    session: *const as_session,
    cols: u16,
    rows: u16,
) -> as_result {
    guard("as_session_resize", || {
        let s = handles::session(session, "session")?;
        if cols == 0 || rows == 0 {
            return Err(FfiError::invalid_argument(
                "cols and rows must be at least 1",
            ));
        }
        s.shared.mgr.resize(&s.id, cols, rows)?;
        Ok(())
    })
}

/// The screen as a person would see it, rows joined with `\n` (the CLI's `screen`), in
/// `*out_text` (free it with `as_string_free`). An ended session gives its last screen.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `out_text` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_screen(
    session: *const as_session,
    out_text: *mut *mut c_char,
) -> as_result {
    guard("as_session_screen", || {
        let s = handles::session(session, "session")?;
        let out_text = unsafe { out(out_text, "out_text") }?;
        let screen = s.shared.mgr.screen(&s.id)?;
        out_text.set(alloc::string(&screen.text));
        Ok(())
    })
}

/// The screen as JSON (the CLI's `screen --json`: text, cols, rows, cursor_row,
/// cursor_col), in `*out_json` (free it with `as_string_free`).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_screen_json(
    session: *const as_session,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_screen_json", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        let screen = s.shared.mgr.screen(&s.id)?;
        out_json.set(alloc::string(
            &serde_json::to_string(&screen).expect("screens serialize"),
        ));
        Ok(())
    })
}

/// Blocks until the session is in `state` (`"running"`, `"waiting_input"`, `"stopped"`,
/// ...). `timeout_secs` < 0 or infinity waits without limit. Errors: `AS_TIMEOUT`;
/// `AS_STATE_UNREACHABLE` at once when the session ended in another state;
/// `AS_INVALID_ARGUMENT` for an unknown state name or a NaN or too large (over 1e9) timeout.
///
/// On success, `*out_record_json` receives the record (free it with `as_string_free`)
/// unless `out_record_json` is NULL.
///
/// Thread safety: safe from any thread; it polls the store and holds no lock while waiting,
/// so other calls on the same handle proceed. There is no cancellation: use a timeout.
///
/// # Safety
/// `session` is a session handle; `state` is a NUL-terminated string; `out_record_json` is
/// NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_wait(
    session: *const as_session,
    state: *const c_char,
    timeout_secs: f64,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_wait", || {
        let s = handles::session(session, "session")?;
        let wanted: State = unsafe { text(state, "state") }?.parse()?;
        let timeout = duration::limit_secs(timeout_secs, "timeout_secs")?;
        let out_json = unsafe { opt_out(out_record_json) };
        let rec = s.shared.mgr.wait_for(&s.id, wanted, timeout)?;
        if let Some(o) = out_json {
            o.set(alloc::string(&rec.to_json()));
        }
        Ok(())
    })
}

/// Blocks until the session is in any of the `n_states` states named in `states`, e.g.
/// `{"running", "waiting_input"}` for "ready". `timeout_secs` < 0 or infinity waits
/// without limit. Errors: `AS_TIMEOUT`; `AS_STATE_UNREACHABLE` at once when the session
/// ended in a state not among them; `AS_NULL_ARGUMENT` when `states` or one of its entries
/// is NULL; `AS_INVALID_ARGUMENT` when `n_states` is 0, for an unknown state name or a NaN
/// or too large (over 1e9) timeout (nothing is waited for then).
///
/// On success, `*out_record_json` receives the record, whose `state` says which state was
/// reached (free it with `as_string_free`), unless `out_record_json` is NULL.
///
/// Thread safety: as `as_session_wait`: safe from any thread, holds no lock while waiting,
/// no cancellation (use a timeout).
///
/// # Safety
/// `session` is a session handle; `states` points to `n_states` NUL-terminated strings;
/// `out_record_json` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_wait_any(
    session: *const as_session,
    states: *const *const c_char,
    n_states: usize,
    timeout_secs: f64,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_wait_any", || {
        let s = handles::session(session, "session")?;
        if states.is_null() {
            return Err(args::null("states"));
        }
        if n_states == 0 {
            return Err(FfiError::invalid_argument(
                "`n_states` is 0; pass at least one state to wait for",
            ));
        }
        // SAFETY: the caller promised `n_states` readable entries.
        let ptrs = unsafe { std::slice::from_raw_parts(states, n_states) };
        let mut wanted = Vec::with_capacity(n_states);
        for (i, p) in ptrs.iter().enumerate() {
            let name = unsafe { text(*p, &format!("states[{i}]")) }?;
            let state: State = name
                .parse()
                .map_err(|e| FfiError::invalid_argument(format!("states[{i}]: {e}")))?;
            wanted.push(state);
        }
        let timeout = duration::limit_secs(timeout_secs, "timeout_secs")?;
        let out_json = unsafe { opt_out(out_record_json) };
        let rec = s.shared.mgr.wait_for_any(&s.id, &wanted, timeout)?;
        if let Some(o) = out_json {
            o.set(alloc::string(&rec.to_json()));
        }
        Ok(())
    })
}

/// Stops the session: the agent's own quit sequence, then SIGTERM to its process group,
/// then SIGKILL after `timeout_secs` (at once when `force`). `timeout_secs` < 0 uses the
/// default, 10 s; NaN, infinity and more than 1e9 give `AS_INVALID_ARGUMENT`, a lifecycle
/// record (nothing to stop: finalize it) `AS_NO_PROCESS`. Returns once the session has
/// ended. Stopping an ended session succeeds and changes nothing. The output, last screen
/// and record stay readable afterwards.
///
/// On success, `*out_record_json` receives the final record (free it with
/// `as_string_free`) unless `out_record_json` is NULL.
///
/// Thread safety: safe from any thread; blocks up to about `timeout_secs`.
///
/// # Safety
/// `session` is a session handle; `out_record_json` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_stop(
    session: *const as_session,
    timeout_secs: f64,
    force: bool,
    out_record_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_stop", || {
        let s = handles::session(session, "session")?;
        let timeout = duration::grace_secs(timeout_secs, "timeout_secs")?;
        let out_json = unsafe { opt_out(out_record_json) };
        let rec = s.shared.mgr.stop(&s.id, timeout, force)?;
        if let Some(o) = out_json {
            o.set(alloc::string(&rec.to_json()));
        }
        Ok(())
    })
}
