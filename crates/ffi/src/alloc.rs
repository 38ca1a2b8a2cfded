//! Memory handed to the caller. Strings and byte buffers are allocated with `malloc`, so a
//! buffer's free never needs its length and a wrong free cannot corrupt Rust's allocator;
//! callers release them with `as_string_free` and `as_bytes_free`.

use crate::guard::guard_value;
use std::ffi::c_char;

fn malloc_copy(bytes: &[u8], extra: usize) -> *mut u8 {
    let size = bytes.len() + extra;
    // SAFETY: malloc of a non-zero size; checked for NULL below.
    let p = unsafe { libc::malloc(size.max(1)) }.cast::<u8>();
    if p.is_null() {
        std::alloc::handle_alloc_error(
            std::alloc::Layout::array::<u8>(size.max(1)).expect("small layout"),
        );
    }
    // SAFETY: `p` holds `size` bytes and does not overlap `bytes`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    p
}

/// A caller-owned, NUL-terminated copy of `s`. A NUL inside `s` (never in JSON, which
/// escapes it) would end the C string early; screen text is the only source and has none.
pub fn string(s: &str) -> *mut c_char {
    let p = malloc_copy(s.as_bytes(), 1);
    // SAFETY: `p` holds len + 1 bytes.
    unsafe { *p.add(s.len()) = 0 };
    p.cast()
}

/// `v` as JSON, in a string the caller frees with `as_string_free`. Only the library's own
/// answer types come here, and they always serialize.
pub fn json(v: &impl serde::Serialize) -> *mut c_char {
    string(&serde_json::to_string(v).expect("the library's answers serialize"))
}

/// A caller-owned copy of `bytes`; NULL when there are none.
pub fn bytes(bytes: &[u8]) -> *mut u8 {
    if bytes.is_empty() {
        return std::ptr::null_mut();
    }
    malloc_copy(bytes, 0)
}

/// Frees a string this library returned. NULL is a no-op.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not freed yet.
///
/// Thread safety: any thread may free a string, once.
#[no_mangle]
pub unsafe extern "C" fn as_string_free(s: *mut c_char) {
    guard_value("as_string_free", (), || {
        // SAFETY: allocated with malloc by `string` (or NULL).
        unsafe { libc::free(s.cast()) }
    })
}

/// Frees a byte buffer this library returned (from `as_session_output`). NULL is a no-op.
///
/// # Safety
/// `bytes` is NULL or a buffer returned by this library and not freed yet.
///
/// Thread safety: any thread may free a buffer, once.
#[no_mangle]
pub unsafe extern "C" fn as_bytes_free(bytes: *mut u8) {
    guard_value("as_bytes_free", (), || {
        // SAFETY: allocated with malloc by `bytes` (or NULL).
        unsafe { libc::free(bytes.cast()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn round_trip() {
        let s = string("héllo");
        assert_eq!(unsafe { CStr::from_ptr(s) }.to_str().unwrap(), "héllo");
        unsafe { as_string_free(s) };
        assert!(bytes(b"").is_null());
        let b = bytes(b"abc");
        assert_eq!(unsafe { std::slice::from_raw_parts(b, 3) }, b"abc");
        unsafe { as_bytes_free(b) };
        unsafe { as_bytes_free(std::ptr::null_mut()) };
        unsafe { as_string_free(std::ptr::null_mut()) };
    }
}
