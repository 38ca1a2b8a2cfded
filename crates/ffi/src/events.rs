//! A session's events, read from a sequence number (once, or waiting for new ones), and its
//! conversation history, read in pages.

use crate::alloc;
use crate::args::{self, out, Out};
use crate::guard::guard;
use crate::handles::{self, as_session};
use crate::result::as_result;
use agent_sessions::{duration, Event};
use std::ffi::c_char;
use std::time::{Duration, Instant};

/// How long `as_session_events_wait` polls before checking that the session still exists
/// (a removed session would otherwise keep a wait without limit going forever).
const EXISTS_CHECK: Duration = Duration::from_secs(1);

/// Writes a batch of events and the seq to continue from.
fn give_events(events: &[Event], since_seq: i64, out_json: Out<*mut c_char>, out_next: Out<i64>) {
    let next = events.last().map_or(since_seq.max(0), |e| e.seq);
    out_json.set(alloc::string(
        &serde_json::to_string(events).expect("events serialize"),
    ));
    out_next.set(next);
}

/// Reads up to `max` of the session's events with a sequence number above `since_seq`,
/// oldest first, without waiting. Events are numbered per session from 1: every state and
/// phase change, input, stop, pause, continue, suspend and resume, with its time and source.
///
/// On success `*out_events_json` receives a JSON array (free it with `as_string_free`) of
/// `{"session_id", "seq", "at", "source", "kind", "data"}` objects (the lines of the CLI's
/// `events --json`); `kind` is `state` (`data`: from, to, cause), `phase`, `input`, `stop`,
/// `pause`, `continue`, `suspend` or `resume`. `*out_next_seq` receives the seq to pass as
/// `since_seq` next time: the last event's, or `since_seq` (0 if negative) when there was
/// none. Pass 0 to read from the start. `max` must be at least 1; above 10,000 it reads
/// 10,000.
///
/// Thread safety: safe from any thread; a read costs the same however many events the
/// session has. Events stay readable after the session ends, until it is removed.
///
/// # Safety
/// `session` is a session handle; `out_events_json` and `out_next_seq` are valid for writes.
#[no_mangle]
pub unsafe extern "C" fn as_session_events(
    session: *const as_session,
    since_seq: i64,
    max: usize,
    out_events_json: *mut *mut c_char,
    out_next_seq: *mut i64,
) -> as_result {
    guard("as_session_events", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_events_json, "out_events_json") }?;
        let out_next = unsafe { out(out_next_seq, "out_next_seq") }?;
        let max = args::page_size(max, "max")?;
        let events = s.shared.mgr.events(&s.id, since_seq, max)?;
        give_events(&events, since_seq, out_json, out_next);
        Ok(())
    })
}

/// As `as_session_events`, but waits up to `timeout_secs` for the first event after
/// `since_seq` when there is none yet, then returns every event that has come (up to `max`).
/// When none came in time the call still succeeds, with `"[]"` and `*out_next_seq ==
/// since_seq`: call it again to keep following. `timeout_secs` 0 does not wait; < 0 or
/// infinity waits without limit; NaN or more than 1e9 gives `AS_INVALID_ARGUMENT`. A
/// session removed while waiting gives `AS_SESSION_NOT_FOUND` within about a second.
///
/// An ended session gets no new events unless it is resumed, so a follower should stop once
/// it has read the event of the ending (`kind` `state`, `data.to` stopped, failed, unknown
/// or suspended), or check `as_session_state` between calls.
///
/// Thread safety: safe from any thread; it polls the store (2 ms apart at first, backing
/// off to 50 ms, so a new event is seen within 50 ms) and holds no lock while waiting, so
/// other calls on the same handle proceed. There is no cancellation: use a timeout.
///
/// # Safety
/// `session` is a session handle; `out_events_json` and `out_next_seq` are valid for writes.
#[no_mangle]
pub unsafe extern "C" fn as_session_events_wait(
    session: *const as_session,
    since_seq: i64,
    max: usize,
    timeout_secs: f64,
    out_events_json: *mut *mut c_char,
    out_next_seq: *mut i64,
) -> as_result {
    guard("as_session_events_wait", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_events_json, "out_events_json") }?;
        let out_next = unsafe { out(out_next_seq, "out_next_seq") }?;
        let max = args::page_size(max, "max")?;
        let timeout = duration::limit_secs(timeout_secs, "timeout_secs")?;
        let mgr = &s.shared.mgr;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut cursor = mgr.event_cursor(&s.id, since_seq)?;
        loop {
            let slice = match deadline {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(EXISTS_CHECK),
                None => EXISTS_CHECK,
            };
            let batch = cursor.next_batch(mgr, max, Some(slice))?;
            let expired = deadline.is_some_and(|d| Instant::now() >= d);
            if !batch.is_empty() || expired {
                give_events(&batch, since_seq, out_json, out_next);
                return Ok(());
            }
            // Still nothing: fails with AS_SESSION_NOT_FOUND once the session is removed.
            mgr.event_cursor(&s.id, since_seq)?;
        }
    })
}

/// One page of the session's conversation: messages `offset .. offset + limit` (from 0),
/// in `*out_page_json` (free it with `as_string_free`), the CLI's `history --json`:
/// `{"session_id", "source", "offset", "messages": [{"index", "role", "text", "at"}],
/// "next_offset"}`. `role` is `user`, `assistant` or `tool`; `next_offset` is the offset of
/// the next page, or null at the end. `limit` must be at least 1; above 10,000 it reads
/// 10,000.
///
/// `source` says where the messages come from: the agent's own transcript
/// (`claude-transcript`, `codex-rollout`), or `screen`: built by the session host, each text
/// sent with Enter a `user` message and the settled screen of each turn an `assistant`
/// message.
///
/// Thread safety: safe from any thread; a page is read without loading the whole history.
///
/// # Safety
/// `session` is a session handle; `out_page_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn as_session_history(
    session: *const as_session,
    offset: u64,
    limit: usize,
    out_page_json: *mut *mut c_char,
) -> as_result {
    guard("as_session_history", || {
        let s = handles::session(session, "session")?;
        let out_json = unsafe { out(out_page_json, "out_page_json") }?;
        let limit = args::page_size(limit, "limit")?;
        let page = s.shared.mgr.history(&s.id, offset, limit)?;
        out_json.set(alloc::string(&page.to_json()));
        Ok(())
    })
}
