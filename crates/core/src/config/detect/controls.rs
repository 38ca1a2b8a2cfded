//! Per-agent control facts: how to quit and interrupt, and where an agent prints its own
//! session id.

/// How to drive one agent from its terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentControls {
    /// Writes that make the agent exit by itself, each one a separate write (send them with a
    /// short pause between, so a TUI sees typing rather than a paste).
    pub quit: Vec<Vec<u8>>,
    /// Bytes that interrupt the agent's current turn.
    pub interrupt: Vec<u8>,
    /// How many times `interrupt` has to be sent (a few hundred ms apart) to stop a turn:
    /// 1, except opencode, whose first Esc only arms ("esc again to interrupt").
    pub interrupt_presses: u32,
    /// Pause between typed text (once it shows on screen) and its Enter. Codex takes an
    /// Enter within 120 ms of a fast burst of characters as a newline in a paste
    /// (`PASTE_ENTER_SUPPRESS_WINDOW` in its TUI), so it gets 150 ms; the others 50 ms.
    pub enter_delay_ms: u64,
    /// Variables of an inherited environment that would make the agent give up its
    /// terminal interface. Gemini CLI takes `CI=true` or `GITHUB_ACTIONS=true` as headless
    /// mode (`isHeadlessMode` in its core, 0.61), prints no screen and exits when no prompt
    /// is given: a session started from a CI job would end at once. The host leaves these
    /// out of what the agent inherits; a value the caller sets for the session still wins.
    pub headless_env: &'static [&'static str],
}

/// The built-in controls for `claude`, `codex`, `gemini` or `opencode` (ASCII
/// case-insensitive); `None` for any other name.
///
/// - quit: from the captures' README and `raw/*.raw`: `/exit` + Enter (claude), `/quit` +
///   Enter (codex), Ctrl-C twice (gemini, opencode).
/// - interrupt: Esc for all four. claude and codex show "esc to interrupt" while busy
///   \[capture\]. gemini's captured authentication spinner says "Press Esc or Ctrl+C to cancel",
///   and its turn line says "esc to cancel" \[assumed\]; Esc is used because a Ctrl-C that
///   arrives when the turn has already ended arms gemini's exit ("Press Ctrl+C again to
///   exit." \[capture\]). opencode binds Ctrl-C to exit and Esc to interrupt in its default
///   keybinds, and needs Esc twice \[assumed, no busy opencode capture\].
pub fn builtin_controls(agent: &str) -> Option<AgentControls> {
    const ESC: u8 = 0x1b;
    const CTRL_C: u8 = 0x03;
    let (quit, presses): (Vec<Vec<u8>>, u32) = match agent.to_ascii_lowercase().as_str() {
        "claude" => (vec![b"/exit".to_vec(), b"\r".to_vec()], 1),
        "codex" => (vec![b"/quit".to_vec(), b"\r".to_vec()], 1),
        "gemini" => (vec![vec![CTRL_C], vec![CTRL_C]], 1),
        "opencode" => (vec![vec![CTRL_C], vec![CTRL_C]], 2),
        _ => return None,
    };
    let enter_delay_ms = if agent.eq_ignore_ascii_case("codex") {
        150
    } else {
        50
    };
    Some(AgentControls {
        quit,
        interrupt: vec![ESC],
        interrupt_presses: presses,
        enter_delay_ms,
        headless_env: match agent.eq_ignore_ascii_case("gemini") {
            true => &["CI", "GITHUB_ACTIONS"],
            false => &[],
        },
    })
}

/// Texts after which an agent prints its own session id (a UUID), per agent.
///
/// After the marker any run of spaces, tabs, `:` and `"` is skipped, so one marker covers
/// both `Session ID:      <id>` and `"session_id": "<id>"`.
fn session_id_markers(agent: &str) -> Option<&'static [&'static str]> {
    let markers: &'static [&'static str] = match agent.to_ascii_lowercase().as_str() {
        // [capture] raw/claude.raw at exit: "Resume this session with:" /
        // "claude --resume d51bbbc0-…"; structured/claude-print-json.json and
        // claude-print-stream-json.jsonl (`claude -p --output-format json|stream-json`):
        // "session_id":"…".
        "claude" => &["claude --resume", "\"session_id\""],
        // [capture] raw/codex.raw at exit: "To reconnect, run:" / "codex resume 01a2004e-…";
        // structured/codex-exec-json.jsonl: {"type":"thread.started","thread_id":"…"}.
        // [assumed] `codex exec` without --json prints a header line "session id: …".
        "codex" => &["codex resume", "\"thread_id\"", "session id:"],
        // [capture] raw/gemini.raw at exit, in the summary box: "Session ID:   e8fe5584-…" and
        // "To resume this session: gemini --resume e8fe5584-…".
        "gemini" => &["Session ID:", "gemini --resume"],
        // No capture shows an opencode session id (its exit prints nothing).
        "opencode" => &[],
        _ => return None,
    };
    Some(markers)
}

/// The agent's own session id, if `screen_or_output_text` shows one: screen text
/// (`vt100::Screen::contents()`), raw terminal output (escape sequences are skipped), or the
/// agent's machine-readable output. The last one in the text wins. Only UUID-shaped ids are
/// accepted, so a half-drawn id is never returned. `None` for opencode (no capture shows
/// its id) and for unknown agents.
pub fn find_agent_session_id(agent: &str, screen_or_output_text: &str) -> Option<String> {
    let markers = session_id_markers(agent)?;
    if markers.is_empty() {
        return None;
    }
    let stripped;
    let text = if screen_or_output_text.contains('\x1b') {
        stripped = strip_escapes(screen_or_output_text);
        stripped.as_str()
    } else {
        screen_or_output_text
    };
    let mut best: Option<(usize, &str)> = None;
    for marker in markers {
        for (pos, _) in text.match_indices(marker) {
            let rest =
                text[pos + marker.len()..].trim_start_matches([' ', '\t', ':', '"', '\u{a0}']);
            let end = rest
                .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
                .unwrap_or(rest.len());
            let id = &rest[..end];
            if is_uuid(id) && best.is_none_or(|(p, _)| pos > p) {
                best = Some((pos, id));
            }
        }
    }
    best.map(|(_, id)| id.to_ascii_lowercase())
}

/// 8-4-4-4-12 hex digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Drops terminal escape sequences (CSI, OSC, DCS/APC/PM/SOS strings, two-byte escapes).
fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // String sequences: up to BEL or ESC \.
            Some(']' | 'P' | '_' | '^' | 'X') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            // Charset designation: ESC ( B and friends.
            Some('(' | ')' | '*' | '+') => {
                chars.next();
            }
            // Any other two-byte escape (ESC 7, ESC =, ...), or a lone ESC at the end.
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls() {
        let c = builtin_controls("claude").unwrap();
        assert_eq!(c.quit, vec![b"/exit".to_vec(), b"\r".to_vec()]);
        assert_eq!(
            (c.interrupt.as_slice(), c.interrupt_presses),
            (&[0x1b][..], 1)
        );
        let c = builtin_controls("codex").unwrap();
        assert_eq!(c.quit, vec![b"/quit".to_vec(), b"\r".to_vec()]);
        let c = builtin_controls("gemini").unwrap();
        assert_eq!(c.quit, vec![vec![3], vec![3]]);
        assert_eq!(c.interrupt, vec![0x1b]);
        let c = builtin_controls("OpenCode").unwrap();
        assert_eq!(c.quit, vec![vec![3], vec![3]]);
        assert_eq!(c.interrupt_presses, 2);
        assert!(builtin_controls("custom").is_none());
    }

    const ID: &str = "d51bbbc0-eb7d-413a-a6a4-93b5b853bcad";

    #[test]
    fn session_id_from_screen_text() {
        let screen = format!("Resume this session with:\nclaude --resume {ID}\n");
        assert_eq!(
            find_agent_session_id("claude", &screen).as_deref(),
            Some(ID)
        );
        let gemini = format!("│  Session ID:                 {ID}    │");
        assert_eq!(
            find_agent_session_id("gemini", &gemini).as_deref(),
            Some(ID)
        );
        assert_eq!(
            find_agent_session_id("codex", &screen),
            None,
            "other agent's marker"
        );
        assert_eq!(find_agent_session_id("opencode", &screen), None);
        assert_eq!(find_agent_session_id("custom", &screen), None);
    }

    #[test]
    fn session_id_rejects_partial_and_takes_the_last() {
        let partial = "claude --resume d51bbbc0-eb7d-41";
        assert_eq!(find_agent_session_id("claude", partial), None);
        let two = format!(
            "codex resume 01a2004e-2071-7f60-be40-2c1bb9813e41\nsession id: {}",
            ID.to_uppercase()
        );
        assert_eq!(find_agent_session_id("codex", &two).as_deref(), Some(ID));
    }

    #[test]
    fn session_id_from_json_and_raw_output() {
        let json = format!("{{\"type\":\"result\",\"session_id\": \"{ID}\",\"x\":1}}");
        assert_eq!(find_agent_session_id("claude", &json).as_deref(), Some(ID));
        let raw = "\x1b[38;5;74mTo r\x1b[38;5;110mesume this session: gemini\x1b[38;5;104m --re\
                   \x1b[38;5;140msume d51bbbc0-eb\x1b[38;5;139m7d-413a-a6a4-93b5b853bcad\x1b]0;t\x07";
        assert_eq!(find_agent_session_id("gemini", raw).as_deref(), Some(ID));
    }

    #[test]
    fn strip_escapes_handles_common_sequences() {
        let s = "\x1b[1;2Ha\x1b[38;5;1mb\x1b]0;title\x07c\x1b]8;;x\x1b\\d\x1b(Be\x1b7f\x1b";
        assert_eq!(strip_escapes(s), "abcdef");
    }
}
