//! Output streaming: reads from an offset of the session's raw output log, and a blocking
//! follow that hands each new chunk to a callback.

use crate::alloc;
use crate::args::{self, out};
use crate::guard::guard;
use crate::handles::{self, as_session};
use crate::result::{as_result, FfiError};
use std::ffi::{c_int, c_void};
use std::time::{Duration, Instant};

/// Largest chunk `as_session_output_follow` hands to its callback.
const FOLLOW_CHUNK: usize = 64 * 1024;
/// Longest pause between polls while following a quiet session.
const FOLLOW_MAX_PAUSE: Duration = Duration::from_millis(100);

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
/// `timeout_secs` < 0 or infinity follows without limit; when the limit passes first the
/// call returns `AS_TIMEOUT` (the chunks delivered so far tell where to continue).
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
        let timeout = args::timeout(timeout_secs, "timeout_secs")?;
        let mgr = &s.shared.mgr;
        let start = Instant::now();
        let mut offset = offset;
        let mut pause = Duration::from_millis(10);
        // Delivers one chunk; true when the callback asked to stop.
        let deliver = |bytes: &[u8], at: u64| -> bool {
            // SAFETY: the caller promised a valid callback; the slice outlives the call.
            unsafe { callback(user_data, bytes.as_ptr(), bytes.len(), at) != 0 }
        };
        loop {
            let (bytes, next) = mgr.output(&s.id, offset, FOLLOW_CHUNK)?;
            if !bytes.is_empty() {
                // `next` may be past `offset` when a log rotation dropped bytes.
                let stop = deliver(&bytes, next - bytes.len() as u64);
                offset = next;
                if stop {
                    break;
                }
                pause = Duration::from_millis(10);
                continue;
            }
            if mgr.state(&s.id)?.is_ended() {
                // Output written just before the ending.
                loop {
                    let (bytes, next) = mgr.output(&s.id, offset, FOLLOW_CHUNK)?;
                    if bytes.is_empty() {
                        break;
                    }
                    // `next` may be past `offset` when a log rotation dropped bytes.
                    let stop = deliver(&bytes, next - bytes.len() as u64);
                    offset = next;
                    if stop {
                        break;
                    }
                }
                break;
            }
            if let Some(t) = timeout {
                let elapsed = start.elapsed();
                if elapsed >= t {
                    return Err(FfiError::new(
                        as_result::AS_TIMEOUT,
                        format!(
                            "session {} still running after {:.1}s of following; continue from offset {offset}",
                            s.id,
                            t.as_secs_f64()
                        ),
                    ));
                }
                pause = pause.min(t - elapsed);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(FOLLOW_MAX_PAUSE);
        }
        out_next.set(offset);
        Ok(())
    })
}
