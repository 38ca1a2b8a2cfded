//! Checked conversions of C arguments: NULL checks, UTF-8 checks and out-parameters that are
//! written only once the whole call has succeeded.

use crate::result::{as_result, FfiError, FfiResult};
use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::ptr::NonNull;

/// The error for a NULL where a pointer is required.
pub fn null(what: &str) -> FfiError {
    FfiError::new(
        as_result::AS_NULL_ARGUMENT,
        format!("argument `{what}` is NULL; pass a valid pointer"),
    )
}

/// A required NUL-terminated UTF-8 string.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub unsafe fn text<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    match unsafe { opt_text(p, what) }? {
        Some(s) => Ok(s),
        None => Err(null(what)),
    }
}

/// An optional NUL-terminated UTF-8 string (NULL means "not given").
///
/// # Safety
/// As [`text`].
pub unsafe fn opt_text<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map(Some).map_err(|e| {
        FfiError::new(
            as_result::AS_INVALID_UTF8,
            format!(
                "argument `{what}` is not valid UTF-8 (bad byte at offset {}); pass UTF-8 text",
                e.valid_up_to()
            ),
        )
    })
}

/// A required path: any bytes but NUL, as Unix file names are.
///
/// # Safety
/// As [`text`].
pub unsafe fn path(p: *const c_char, what: &str) -> FfiResult<PathBuf> {
    match unsafe { opt_path(p) } {
        Some(path) => Ok(path),
        None => Err(null(what)),
    }
}

/// An optional path (NULL means "not given").
///
/// # Safety
/// As [`text`].
pub unsafe fn opt_path(p: *const c_char) -> Option<PathBuf> {
    if p.is_null() {
        return None;
    }
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// A required out-parameter, checked before the call does anything and written last.
pub struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Writes the value (without reading or dropping what was there: C callers often pass
    /// uninitialised variables).
    pub fn set(self, value: T) {
        // SAFETY: the caller of `out`/`opt_out` promised a valid, writable pointer.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Checks a required out-parameter.
///
/// # Safety
/// `p` is NULL or valid for a write of `T` until the call returns.
pub unsafe fn out<T>(p: *mut T, what: &str) -> FfiResult<Out<T>> {
    NonNull::new(p).map(Out).ok_or_else(|| null(what))
}

/// An out-parameter the caller may leave NULL when it does not want the value.
///
/// # Safety
/// As [`out`].
pub unsafe fn opt_out<T>(p: *mut T) -> Option<Out<T>> {
    NonNull::new(p).map(Out)
}

/// A page size: at least 1 (a zero-sized page could never make progress).
pub fn page_size(n: usize, what: &str) -> FfiResult<usize> {
    if n == 0 {
        return Err(FfiError::invalid_argument(format!(
            "`{what}` is 0; pass at least 1"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(unsafe { text(c"hi".as_ptr(), "x") }.unwrap(), "hi");
        let e = unsafe { text(std::ptr::null(), "x") }.unwrap_err();
        assert_eq!(e.code, as_result::AS_NULL_ARGUMENT);
        assert!(e.message.contains("`x`"));
        let bad = c"a\xffb";
        let e = unsafe { text(bad.as_ptr(), "y") }.unwrap_err();
        assert_eq!(e.code, as_result::AS_INVALID_UTF8);
        assert!(e.message.contains("offset 1"), "{}", e.message);
        assert_eq!(unsafe { opt_text(std::ptr::null(), "z") }.unwrap(), None);
        assert_eq!(
            unsafe { path(bad.as_ptr(), "p") }
                .unwrap()
                .as_os_str()
                .len(),
            3
        );
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(3, "max").unwrap(), 3);
        assert_eq!(
            page_size(0, "max").unwrap_err().code,
            as_result::AS_INVALID_ARGUMENT
        );
    }

    #[test]
    fn outs() {
        let mut v = 0u64;
        unsafe { out(&mut v, "v") }.unwrap().set(5);
        assert_eq!(v, 5);
        assert!(unsafe { out::<u64>(std::ptr::null_mut(), "v") }.is_err());
        assert!(unsafe { opt_out::<u64>(std::ptr::null_mut()) }.is_none());
    }
}
