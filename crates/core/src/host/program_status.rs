//! The agent's own status, as it writes it to its terminal: `ESC ] 7501 ; state=S : app=A
//! [: kind=K] ST` (the "program status" escape, ST being `ESC \` or BEL).
//!
//! Codex 0.171 writes one whenever its state changes (captures in
//! `tests/data/agents/codex-0.171/`): `working` once a turn starts, `blocked` with
//! `kind=permission` while its approval dialog is up, `done` when a turn ends, `idle` at its
//! prompt (also after an interrupt), `error` when a turn failed. Its busy line disappears
//! while a reply streams, so its screen alone read idle mid-turn; this status does not. Other
//! terminal programs use the same escape, so any agent that writes it is understood.
//!
//! [`Scanner`] finds the sequences in the raw output stream, split across reads however they
//! come, and never holds more than [`MAX_SEQUENCE`] bytes of a sequence it has not seen end.

use crate::config::detect::WaitReason;
use crate::model::state::State;

/// A sequence longer than this is not one we read (the payload is a few fields).
pub const MAX_SEQUENCE: usize = 512;

const INTRO: &[u8] = b"\x1b]7501;";

/// One status the agent reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramStatus {
    /// `idle`, `working`, `done`, `blocked`, `error` or `clear` (others are kept as they
    /// are and mean nothing to us).
    pub state: String,
    /// What a `blocked` program waits for: `permission`, `question`, `auth`, ...
    pub kind: Option<String>,
}

impl ProgramStatus {
    /// Parses a payload such as `state=blocked:app=codex:kind=permission`; `None` without a
    /// `state` field.
    pub fn parse(payload: &[u8]) -> Option<ProgramStatus> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut state = None;
        let mut kind = None;
        for field in text.split(':') {
            match field.split_once('=') {
                Some(("state", v)) if !v.is_empty() => state = Some(v.to_string()),
                Some(("kind", v)) if !v.is_empty() => kind = Some(v.to_string()),
                _ => {}
            }
        }
        Some(ProgramStatus {
            state: state?,
            kind,
        })
    }

    /// What the status means for the session: the state, the reason of a wait, and the
    /// cause to record. `None` for `clear` and for states we do not know: the other sources
    /// decide again.
    pub fn meaning(&self) -> Option<(State, Option<WaitReason>, String)> {
        let wait =
            |r: WaitReason, cause: &str| Some((State::WaitingInput, Some(r), cause.to_string()));
        match self.state.as_str() {
            "working" => Some((State::Running, None, "the agent reports it works".into())),
            "idle" => wait(
                WaitReason::Prompt,
                "the agent reports it is idle at its prompt",
            ),
            "done" => wait(WaitReason::Prompt, "the agent reports its turn is done"),
            "error" => wait(WaitReason::Prompt, "the agent reports its turn failed"),
            "blocked" => {
                let reason = match self.kind.as_deref() {
                    Some("permission" | "approval") => WaitReason::Permission,
                    Some("question" | "input") => WaitReason::Question,
                    Some("auth" | "login") => WaitReason::Login,
                    Some("trust") => WaitReason::Trust,
                    _ => WaitReason::Other,
                };
                let cause = format!(
                    "the agent reports it waits for {}",
                    self.kind.as_deref().unwrap_or("the user")
                );
                Some((State::WaitingInput, Some(reason), cause))
            }
            _ => None,
        }
    }

    /// `clear`: the agent withdrew its status.
    pub fn is_clear(&self) -> bool {
        self.state == "clear"
    }
}

/// Finds program-status sequences in output that arrives in pieces.
#[derive(Debug, Default)]
pub struct Scanner {
    /// The start of a sequence (or of its introducer) seen at the end of the last piece.
    partial: Vec<u8>,
}

impl Scanner {
    /// The statuses completed in `chunk`, in order.
    pub fn scan(&mut self, chunk: &[u8]) -> Vec<ProgramStatus> {
        let mut out = Vec::new();
        if self.partial.is_empty() && !chunk.contains(&0x1b) {
            return out; // the common case: no escape at all
        }
        let mut data = std::mem::take(&mut self.partial);
        data.extend_from_slice(chunk);
        let mut at = 0;
        while let Some(off) = data[at..].iter().position(|&b| b == 0x1b) {
            let start = at + off;
            let rest = &data[start..];
            if rest.len() < INTRO.len() {
                if INTRO.starts_with(rest) {
                    self.partial = rest.to_vec(); // maybe the introducer, cut
                }
                break;
            }
            if !rest.starts_with(INTRO) {
                at = start + 1;
                continue;
            }
            let body = &rest[INTRO.len()..];
            match terminator(body) {
                Some((end, len, complete)) => {
                    if complete {
                        out.extend(ProgramStatus::parse(&body[..end]));
                    }
                    at = start + INTRO.len() + end + len;
                }
                None if rest.len() <= MAX_SEQUENCE => {
                    self.partial = rest.to_vec();
                    break;
                }
                // Too long to be a status: skip its introducer and read on.
                None => at = start + INTRO.len(),
            }
        }
        out
    }
}

/// Where the sequence's payload ends in `body`, the terminator's length (BEL, or ESC `\`),
/// and whether it ended properly. A lone ESC at the end may be the first half of ESC `\`:
/// not an end yet.
fn terminator(body: &[u8]) -> Option<(usize, usize, bool)> {
    for (i, &b) in body.iter().enumerate().take(MAX_SEQUENCE) {
        match b {
            0x07 => return Some((i, 1, true)),
            0x1b if body.get(i + 1) == Some(&b'\\') => return Some((i, 2, true)),
            // Any other escape ends the sequence without a terminator: it is dropped, and
            // the escape is read on its own.
            0x1b if i + 1 < body.len() => return Some((i, 0, false)),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(s: &mut Scanner, chunk: &[u8]) -> Vec<String> {
        s.scan(chunk).into_iter().map(|p| p.state).collect()
    }

    #[test]
    fn finds_statuses_with_either_terminator() {
        let mut s = Scanner::default();
        let out = s.scan(b"a\x1b]7501;state=working:app=codex\x1b\\b\x1b]7501;state=blocked:app=codex:kind=permission\x07c");
        assert_eq!(
            out,
            vec![
                ProgramStatus {
                    state: "working".into(),
                    kind: None
                },
                ProgramStatus {
                    state: "blocked".into(),
                    kind: Some("permission".into())
                },
            ]
        );
    }

    #[test]
    fn a_sequence_split_at_every_byte_is_found_once() {
        let seq = b"xx\x1b]7501;state=done:app=codex\x1b\\yy";
        for cut in 0..seq.len() {
            let mut s = Scanner::default();
            let mut got = states(&mut s, &seq[..cut]);
            got.extend(states(&mut s, &seq[cut..]));
            assert_eq!(got, vec!["done"], "cut at {cut}");
            assert!(s.partial.is_empty(), "cut at {cut}");
        }
    }

    #[test]
    fn other_escapes_and_junk_are_ignored_and_nothing_grows() {
        let mut s = Scanner::default();
        assert!(s
            .scan(b"\x1b[31mred\x1b]0;title\x07\x1b]7501;nostate\x1b\\")
            .is_empty());
        // An introducer that never ends is dropped once it is too long to be a status.
        let mut long = b"\x1b]7501;state=".to_vec();
        long.extend(std::iter::repeat_n(b'w', 4 * MAX_SEQUENCE));
        assert!(s.scan(&long).is_empty());
        assert!(s.partial.len() <= MAX_SEQUENCE);
        assert_eq!(states(&mut s, b"\x1b]7501;state=idle\x07"), vec!["idle"]);
    }

    #[test]
    fn meanings() {
        let m = |p: &[u8]| ProgramStatus::parse(p).and_then(|s| s.meaning());
        assert_eq!(m(b"state=working:app=codex").unwrap().0, State::Running);
        let (st, r, _) = m(b"state=blocked:app=codex:kind=permission").unwrap();
        assert_eq!((st, r), (State::WaitingInput, Some(WaitReason::Permission)));
        assert_eq!(
            m(b"state=blocked:kind=question").unwrap().1,
            Some(WaitReason::Question)
        );
        assert_eq!(
            m(b"state=done:app=codex").unwrap().1,
            Some(WaitReason::Prompt)
        );
        assert!(m(b"state=clear").is_none());
        assert!(ProgramStatus::parse(b"state=clear").unwrap().is_clear());
        assert!(m(b"state=\xff").is_none());
    }

    #[test]
    fn the_real_codex_captures_read_as_recorded() {
        // Raw PTY bytes of Codex 0.171 (see the README beside them), fed in 100-byte pieces.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/agents/codex-0.171");
        for (file, want) in [
            (
                "approve-then-done.raw",
                &["working", "idle", "working", "blocked", "working", "done"][..],
            ),
            ("interrupt.raw", &["idle", "working", "idle"][..]),
            (
                "stream-error.raw",
                &["idle", "working", "idle", "working", "error"][..],
            ),
        ] {
            let bytes = std::fs::read(format!("{dir}/{file}")).unwrap();
            let mut s = Scanner::default();
            let got: Vec<String> = bytes.chunks(100).flat_map(|c| states(&mut s, c)).collect();
            assert_eq!(got, want, "{file}");
        }
    }
}
