//! Panic containment and the thread-local last-error message.
//!
//! Every export runs its body through [`guard`] (functions returning `as_result`) or
//! [`guard_value`] (the few that return something else). A panic never unwinds into C: it
//! becomes `AS_PANIC` (or the function's neutral value) with the panic's text as the last
//! error.

use crate::result::{as_result, FfiResult};
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error. Interior NULs (impossible in our own
/// messages, possible in echoed input) are shown as `\0`.
pub fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // During thread teardown the slot may be gone; the message is then simply lost.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c);
}

/// The text of a panic payload.
pub fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic with no message"
    }
}

/// Runs the body of the export `func`: `AS_OK`, its error code, or `AS_PANIC`, with the
/// last-error message set on failure.
pub fn guard(func: &'static str, body: impl FnOnce() -> FfiResult) -> as_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => as_result::AS_OK,
        Ok(Err(e)) => {
            set_last_error(&format!("{func}: {}", e.message));
            e.code
        }
        Err(payload) => {
            set_last_error(&format!(
                "{func}: internal error (panic): {}; please report this as a bug",
                panic_text(payload.as_ref())
            ));
            as_result::AS_PANIC
        }
    }
}

/// Runs the body of an export that returns a plain value; a panic gives `fallback` and sets
/// the last error.
pub fn guard_value<T>(func: &'static str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&format!(
                "{func}: internal error (panic): {}; please report this as a bug",
                panic_text(payload.as_ref())
            ));
            fallback
        }
    }
}

/// The message of the most recent failed call on the calling thread, or `""` when none has
/// failed yet. Never NULL.
///
/// Ownership: the string belongs to the library. It stays valid until the next failing
/// call on the same thread (or the thread's exit); copy it to keep it. Do not free it.
/// Successful calls leave it unchanged, so read it only after a call returned an error.
///
/// Thread safety: safe from any thread; each thread has its own message.
#[no_mangle]
pub extern "C" fn as_last_error_message() -> *const c_char {
    guard_value("as_last_error_message", c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ptr())
            .unwrap_or(c"".as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::FfiError;
    use std::ffi::CStr;

    fn last() -> String {
        unsafe { CStr::from_ptr(as_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panic_becomes_code_and_message() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let code = guard("as_test", || panic!("boom {}", 42));
        let v = guard_value("as_test_value", 7, || -> i32 { panic!("bang") });
        std::panic::set_hook(prev);
        assert_eq!(v, 7);
        assert!(last().contains("bang"), "{}", last());
        assert_eq!(code, as_result::AS_PANIC);
    }

    #[test]
    fn error_sets_message_and_success_keeps_it() {
        let code = guard("as_test", || {
            Err(FfiError::new(as_result::AS_TIMEOUT, "too slow"))
        });
        assert_eq!(code, as_result::AS_TIMEOUT);
        assert_eq!(last(), "as_test: too slow");
        assert_eq!(guard("as_test", || Ok(())), as_result::AS_OK);
        assert_eq!(last(), "as_test: too slow");
    }

    #[test]
    fn messages_are_per_thread() {
        set_last_error("main");
        std::thread::spawn(|| {
            assert_eq!(last(), "");
            set_last_error("other\0nul");
            assert_eq!(last(), "other\\0nul");
        })
        .join()
        .unwrap();
        assert_eq!(last(), "main");
    }
}
