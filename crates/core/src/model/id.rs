//! Session ids: generation and validation. An id becomes part of a path only after
//! [`validate`] accepted it, so `../x`, absolute paths and oversized ids never touch the disk.

use crate::model::error::{Error, Result};

/// Longest id accepted. Long enough for any generated id and user-chosen lifecycle ids,
/// short enough to keep socket paths and file names sane.
pub const MAX_ID_LEN: usize = 128;

/// Makes a new id shaped `agent-YYYYMMDD-HHMMSS-<8 hex>`, the shape the reference hook library
/// uses, so hosted sessions and lifecycle records share one id space.
pub fn new_id() -> String {
    let now = chrono::Utc::now();
    let mut b = [0u8; 4];
    os_random(&mut b);
    let suffix = u32::from_le_bytes(b);
    format!("agent-{}-{suffix:08x}", now.format("%Y%m%d-%H%M%S"))
}

/// Fills `buf` with random bytes from the operating system. Not a user-space generator: a
/// forked child copies those, and a parent and its child (a hook forked from an orchestrator,
/// Python's `os.fork`) would then make the same ids in the same second.
pub fn os_random(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: writes at most `buf.len() - filled` bytes into our own buffer.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // No getrandom (kernels before 3.17): the same source through its device file,
            // and only if even that is missing, a user-space generator.
            use std::io::Read;
            let rest = &mut buf[filled..];
            if std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(rest))
                .is_err()
            {
                rand::fill(rest);
            }
            return;
        }
    }
}

/// Checks that `id` is safe to use as a file name: ASCII letters, digits, `-` and `_`,
/// starting with a letter or digit, at most [`MAX_ID_LEN`] characters.
pub fn validate(id: &str) -> Result<&str> {
    let bad = |why| Error::InvalidSessionId {
        shown: shorten(id),
        why,
    };
    if id.is_empty() {
        return Err(bad("it is empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(bad("it is longer than 128 characters"));
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(bad("it must start with a letter or digit"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("only letters, digits, '-' and '_' are allowed"));
    }
    Ok(id)
}

/// Quotes an id for an error message, cutting it so a 10,000-character id does not flood the
/// terminal.
fn shorten(id: &str) -> String {
    const SHOWN: usize = 40;
    if id.chars().count() <= SHOWN {
        format!("{id:?}")
    } else {
        let head: String = id.chars().take(SHOWN).collect();
        format!("{head:?}… ({} characters)", id.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_validate_and_differ() {
        let a = new_id();
        let b = new_id();
        assert!(validate(&a).is_ok(), "{a}");
        assert_ne!(a, b);
        assert!(a.starts_with("agent-") && a.len() == 30, "{a}");
    }

    #[test]
    fn rejects_path_tricks_and_oversize() {
        for bad in ["", "../x", "/etc", "a/b", ".hidden", "-x", "a b", "ü"] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
        let long = "a".repeat(10_000);
        let msg = validate(&long).unwrap_err().to_string();
        assert!(msg.contains("10000 characters"), "{msg}");
        assert!(msg.len() < 300);
    }
}
