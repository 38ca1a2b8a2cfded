//! # agent-sessions C ABI
//!
//! `include/agent_sessions.h` (generated from this crate by cbindgen) over
//! `libagent_sessions_ffi.so` / `libagent_sessions_ffi.a`. See docs/C_API.md.
//!
//! Conventions, after rustls-ffi:
//! - opaque handles (`as_manager`, `as_session`) with create/free pairs; `free(NULL)` is a
//!   no-op and a stale handle is detected ([`handles`]);
//! - one result enum, [`as_result`], `AS_OK` = 0 and errors from 7001;
//! - out-parameters written only on success;
//! - a thread-local last-error message, [`guard::as_last_error_message`];
//! - strings and buffers handed out are owned by the caller and freed with
//!   `as_string_free` / `as_bytes_free`;
//! - rich records are JSON strings, the same JSON as the CLI's `--json`;
//! - every export catches panics and checks every pointer.

#![deny(unsafe_op_in_unsafe_fn)]

// The order of these groups is the order of the header.
pub mod guard;
pub mod result;

pub mod alloc;

pub mod manager;

pub mod session;

pub mod output;

pub mod telemetry;

pub mod resume;

pub mod events;

pub mod tasks;
// Launch templates.
pub mod templates;
// Snapshots and restore.
pub mod snapshots;
// Cost budgets.
pub mod budgets;

pub mod lifecycle;

pub mod state;

// Internal helpers (no exports).
pub mod args;
pub mod handles;
pub mod host;
pub mod options;

pub use handles::{as_manager, as_session};
pub use output::as_output_callback;
pub use result::as_result;
pub use state::as_state;

use std::ffi::c_char;

/// Major version of this library (matches the crate version; checked by the tests).
pub const AS_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const AS_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const AS_VERSION_PATCH: u32 = 0;
// cbindgen cannot export string constants: the header builds AS_VERSION_STRING from the
// three numbers (see `after_includes` in cbindgen.toml).

/// The version of the library actually linked, e.g. `"0.1.0"`: compare it with
/// `AS_VERSION_STRING` (the header's) to catch a header/library mismatch. The string is
/// static: do not free it.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn as_version() -> *const c_char {
    guard::guard_value("as_version", std::ptr::null(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo() {
        assert_eq!(
            AS_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            AS_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            AS_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        let linked = unsafe { std::ffi::CStr::from_ptr(as_version()) };
        assert_eq!(
            linked.to_str().unwrap(),
            format!("{AS_VERSION_MAJOR}.{AS_VERSION_MINOR}.{AS_VERSION_PATCH}")
        );
    }
}
