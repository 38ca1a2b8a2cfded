//! Output streaming: reads from an offset of the session's raw output log, and a blocking
//! follow that hands each new chunk to a callback.

use crate::alloc;
use crate::args::{self, out};
use crate::guard::guard;
use crate::handles::{self, as_session};
use crate::result::{as_result, FfiError};
use agent_sessions::duration;
use agent_sessions::manager::{OutputCursor, OutputFollowed};
use std::ffi::{c_int, c_void};
use std::time::{Duration, Instant};

/// Largest chunk `as_session_output_follow` hands to its callback.
const FOLLOW_CHUNK: usize = 64 * 1024;
/// How long one `OutputCursor::follow` may wait when the caller set no limit: any length
/// does, the loop just asks again after a quiet slice.
const UNLIMITED_SLICE: Duration = Duration::from_secs(60);

/// Reads up to `max` bytes of the session's raw output (every byte the agent wrote to its
/// terminal, escape sequences included) starting at byte `offset`.
///
/// On success `*out_bytes` receives a buffer of `*out_len` bytes (free it with
/// `as_bytes_free`; NULL when `*out_len` is 0) and `*out_next` the offset to read from next
/// (`offset + *out_len`, or further when bytes at `offset` were rotated out of the log).
/// Offsets count from the session's first output byte and stay valid across log rotations
/// (see `max_log_bytes`). Reading at or past the end gives 0 bytes and
/// `*out_next == offset`: poll again later for more. The output stays readable after the
/// session ends.
///
/// Thread safety: safe from any thread; readers never block the session.
///
/// # Safety
/// `session` is a session handle; the three out-pointers are valid for writes.
#[no_mangle]
pub unsafe extern "C" fn as_session_output(
    session: *const as_session,
    offset: u64,
    max: usize,
    out_bytes: *mut *mut u8,
    out_len: *mut usize,
    out_next: *mut u64,
) -> as_result {
    guard("as_session_output", || {
        let s = handles::session(session, "session")?;
        let out_bytes = unsafe { out(out_bytes, "out_bytes") }?;
        let out_len = unsafe { out(out_len, "out_len") }?;
        let out_next = unsafe { out(out_next, "out_next") }?;
        let (bytes, next) = s.shared.mgr.output(&s.id, offset, max)?;
        out_len.set(bytes.len());
        out_next.set(next);
        out_bytes.set(alloc::bytes(&bytes));
        Ok(())
    })
}

/// Receives output chunks from `as_session_output_follow`: `len` bytes (never 0) that begin
/// at byte `offset` of the output. The bytes are valid only during the call. Return 0 to go
/// on, anything else to stop following.
#[allow(non_camel_case_types)]
pub type as_output_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        bytes: *const u8,
        len: usize,
        offset: u64,
    ) -> c_int,
>;

/// Follows the session's output from byte `offset`: calls `callback` with each new chunk,
/// in order, on the calling thread, until the session has ended and every byte has been
/// delivered, or `callback` returns non-zero. Either way the call succeeds and
/// `*out_next` receives the offset after the last delivered byte.
///
/// `timeout_secs` < 0 or infinity follows without limit; NaN or more than 1e9 gives
/// `AS_INVALID_ARGUMENT`. When the limit passes first the call returns `AS_TIMEOUT` (the
/// chunks delivered so far tell where to continue).
/// `user_data` is passed through untouched and may be NULL.
///
/// Thread safety: safe from any thread; it polls (10 to 100 ms apart when quiet) and holds
/// no lock between polls. The callback must not unwind (C++ exceptions, longjmp) through
/// this function.
///
/// # Safety
/// `session` is a session handle; `callback` is a valid function; `out_next` is valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn as_session_output_follow(
    session: *const as_session,
    offset: u64,
    timeout_secs: f64,
    callback: as_output_callback,
    user_data: *mut c_void,
    out_next: *mut u64,
) -> as_result {
    guard("as_session_output_follow", || {
        let s = handles::session(session, "session")?;
        let Some(callback) = callback else {
            return Err(args::null("callback"));
        };
        let out_next = unsafe { out(out_next, "out_next") }?;
        let timeout = duration::limit_secs(timeout_secs, "timeout_secs")?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mgr = &s.shared.mgr;
        let mut cursor = OutputCursor::new(&s.id, offset);
        loop {
            let wait = deadline.map_or(UNLIMITED_SLICE, |d| {
                d.saturating_duration_since(Instant::now())
            });
            match cursor.follow(mgr, FOLLOW_CHUNK, wait)? {
                OutputFollowed::Bytes { data, at } => {
                    // SAFETY: the caller promised a valid callback; the slice outlives the call.
                    let stop = unsafe { callback(user_data, data.as_ptr(), data.len(), at) != 0 };
                    if stop {
                        break;
                    }
                }
                OutputFollowed::Ended => break,
                OutputFollowed::Quiet => {
                    if let (Some(t), Some(d)) = (timeout, deadline) {
                        if Instant::now() >= d {
                            return Err(FfiError::new(
                                as_result::AS_TIMEOUT,
                                format!(
                                    "session {} still running after {:.1}s of following; continue from offset {}",
                                    s.id,
                                    t.as_secs_f64(),
                                    cursor.offset
                                ),
                            ));
                        }
                    }
                }
            }
        }
        out_next.set(cursor.offset);
        Ok(())
    })
}
