//! Session ids: generation and validation. An id becomes part of a path only after
//! [`validate`] accepted it, so `../x`, absolute paths and oversized ids never touch the disk.

use crate::model::error::{Error, Result};

/// Longest id accepted. Long enough for any generated id and user-chosen lifecycle ids,
/// short enough to keep socket paths and file names sane.
pub const MAX_ID_LEN: usize = 128;

/// Makes a new id shaped `agent-YYYYMMDD-HHMMSS-<8 hex>`, the shape the reference hook library
/// uses, so hosted sessions and lifecycle records share one id space.
pub fn new_id() -> String {
    use chrono::{Datelike, Timelike};
    let now = chrono::Utc::now();
    let mut b = [0u8; 4];
    os_random(&mut b);
    let suffix = u32::from_le_bytes(b);
    let year = now.year();
    if !(0..=9999).contains(&year) {
        return format!("agent-{}-{suffix:08x}", now.format("%Y%m%d-%H%M%S"));
    }
    // By hand rather than through `format`, which parses its pattern on every call (a
    // measurable part of a lifecycle create). Same text.
    use crate::model::clock::put;
    let mut s = *b"agent-00000000-000000-00000000";
    put(&mut s[6..10], year as u32);
    put(&mut s[10..12], now.month());
    put(&mut s[12..14], now.day());
    put(&mut s[15..17], now.hour());
    put(&mut s[17..19], now.minute());
    // `%S` of a leap second is 60.
    put(
        &mut s[19..21],
        now.second() + now.nanosecond() / 1_000_000_000,
    );
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, d) in s[22..30].iter_mut().enumerate() {
        *d = HEX[((suffix >> (28 - 4 * i)) & 0xf) as usize];
    }
    // Only ASCII was written.
    String::from_utf8(s.to_vec()).unwrap_or_default()
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

/// The rule for user-chosen names (templates, snapshots): 1 to 64 ASCII letters, digits,
/// `.`, `_` or `-`, starting with a letter or digit.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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
        // The time part is now, in the reference's shape; the suffix lowercase hex.
        let before = chrono::Utc::now() - chrono::Duration::seconds(2);
        let c = new_id();
        let t = chrono::NaiveDateTime::parse_from_str(&c[6..21], "%Y%m%d-%H%M%S")
            .unwrap()
            .and_utc();
        assert!(t >= before && t <= chrono::Utc::now(), "{c}");
        assert_eq!(&c[21..22], "-", "{c}");
        assert!(c[22..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
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
