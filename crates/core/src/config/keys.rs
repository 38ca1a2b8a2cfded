//! Named keys (`Enter`, `Esc`, `C-c`, `Up`, ...) translated to the bytes a terminal sends.

use crate::model::error::{Error, Result};

/// The bytes for one key name. Names are case-insensitive; `C-x` / `Ctrl-x` / `^x` give
/// control characters; a single character is sent literally.
pub fn key_bytes(name: &str) -> Result<Vec<u8>> {
    let lower = name.to_ascii_lowercase();
    let fixed: Option<&[u8]> = match lower.as_str() {
        "enter" | "return" | "cr" => Some(b"\r"),
        "lf" | "newline" => Some(b"\n"),
        "esc" | "escape" => Some(b"\x1b"),
        "tab" => Some(b"\t"),
        "btab" | "s-tab" | "backtab" => Some(b"\x1b[Z"),
        "space" => Some(b" "),
        "bspace" | "backspace" => Some(b"\x7f"),
        "up" => Some(b"\x1b[A"),
        "down" => Some(b"\x1b[B"),
        "right" => Some(b"\x1b[C"),
        "left" => Some(b"\x1b[D"),
        "home" => Some(b"\x1b[H"),
        "end" => Some(b"\x1b[F"),
        "pageup" | "pgup" => Some(b"\x1b[5~"),
        "pagedown" | "pgdn" => Some(b"\x1b[6~"),
        "delete" | "del" => Some(b"\x1b[3~"),
        "insert" => Some(b"\x1b[2~"),
        _ => None,
    };
    if let Some(b) = fixed {
        return Ok(b.to_vec());
    }
    let ctrl = lower
        .strip_prefix("c-")
        .or_else(|| lower.strip_prefix("ctrl-"))
        .or_else(|| lower.strip_prefix('^'));
    if let Some(rest) = ctrl {
        if let [c] = rest.as_bytes() {
            if let Some(b) = control_byte(*c) {
                return Ok(vec![b]);
            }
        }
    }
    if name.chars().count() == 1 {
        return Ok(name.as_bytes().to_vec());
    }
    Err(Error::InvalidArgument(format!(
        "unknown key '{name}': use Enter, Esc, Tab, BTab, Space, BSpace, Up, Down, Left, Right, Home, End, PageUp, PageDown, Delete, C-<letter> (e.g. C-c), or a single character"
    )))
}

/// Ctrl + a key, as a terminal encodes it.
fn control_byte(c: u8) -> Option<u8> {
    match c {
        b'a'..=b'z' => Some(c - b'a' + 1),
        b'@' | b' ' => Some(0),
        b'[' => Some(0x1b),
        b'\\' => Some(0x1c),
        b']' => Some(0x1d),
        b'^' => Some(0x1e),
        b'_' => Some(0x1f),
        b'?' => Some(0x7f),
        _ => None,
    }
}

/// The bytes for a list of key names, concatenated.
pub fn keys_bytes<S: AsRef<str>>(names: &[S]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for n in names {
        out.extend(key_bytes(n.as_ref())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_terminal_bytes() {
        assert_eq!(key_bytes("Enter").unwrap(), b"\r");
        assert_eq!(key_bytes("C-c").unwrap(), [3]);
        assert_eq!(key_bytes("ctrl-D").unwrap(), [4]);
        assert_eq!(key_bytes("^\\").unwrap(), [0x1c]);
        assert_eq!(key_bytes("Up").unwrap(), b"\x1b[A");
        assert_eq!(key_bytes("x").unwrap(), b"x");
        assert!(key_bytes("Hyper")
            .unwrap_err()
            .to_string()
            .contains("unknown key"));
    }
}
