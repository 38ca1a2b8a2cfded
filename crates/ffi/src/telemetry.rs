//! `as_session_usage`, `as_session_usage_series` and `as_session_telemetry`: what a session
//! cost (tokens and money, and when) and how it behaved (CPU, memory, I/O of its process tree, workspace size).

use crate::alloc;
use crate::args::out;
use crate::guard::guard;
use crate::handles::{self, as_session};
use crate::result::as_result;
use std::ffi::c_char;

/// The session's token usage and cost as JSON, the CLI's `usage --json`:
/// `{"session_id", "tokens_input", "tokens_output", "tokens_cache_read", "tokens_cache_write",
/// "total_tokens", "cost_usd", "cost_estimated", "source", "model", "skipped_lines", "exact"}`,
/// in `*out_json` (free it with `as_string_free`). Token fields are null, not 0, when no token
/// source was found; `cost_estimated` is true when the cost comes from the price table;
/// `exact` is true when every request the agent made is counted (its own OpenTelemetry
/// export), false when the figures are a lower bound.
///
/// The agent's own records are read again unless the figures were computed after the
/// session ended, so this may take as long as parsing a transcript.
///
/// Thread safety: safe from any thread; reads files without holding the store's lock.
///
/// # Safety
/// `session` is a session handle; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_usage(
    session: *const as_session,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_usage", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        out_json.set(alloc::string(&s.shared.mgr.usage(&s.id)?.to_json()));
        Ok(())
    })
}

/// The session's token and cost totals over time as a JSON array, oldest first, the lines of
/// the CLI's `usage ID --series --json`: `[{"at_ms", "tokens_input", "tokens_output",
/// "tokens_cache_read", "tokens_cache_write", "total_tokens", "cost_usd",
/// "cost_estimated"}]` in `*out_json` (free it with `as_string_free`). A point per change
/// (each turn's end, the end); while the session runs the last is the figures now. Points
/// before `since_ms` (unix ms) are left out; at most `max` (1 to 10000; more reads as 10000).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_usage_series(
    session: *const as_session,
    since_ms: i64,
    max: usize,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_usage_series", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        let max = crate::args::page_size(max, "max")?;
        let points = s.shared.mgr.usage_series(&s.id, since_ms, max)?;
        let text = serde_json::to_string(&points).expect("usage points serialize");
        out_json.set(alloc::string(&text));
        Ok(())
    })
}

/// The session's telemetry summary as JSON (the `telemetry` object of the CLI's `show`, with
/// `session_id` and `total_tokens`): duration_ms, avg_cpu_percent, peak_memory_rss_bytes, exit_code, cpu_time_ms, io_*,
/// last_sample, workspace_bytes_used, tokens_*, cost_usd, usage_source, ... in `*out_json`
/// (free it with `as_string_free`). Figures nothing measured are null. Token figures of a
/// running session are at most 10 s old.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `session` is a session handle; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_telemetry(
    session: *const as_session,
    out_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_telemetry", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_json, "out_json") }?;
        out_json.set(alloc::string(&s.shared.mgr.telemetry(&s.id)?.to_json()));
        Ok(())
    })
}
