//! The host's screen model: a vt100 emulator fed every output byte, which also answers the
//! terminal queries TUIs send at start-up (cursor position, device attributes) when no
//! interactive client is attached to answer them.

use crate::model::protocol::ScreenReply;
use std::num::NonZeroU16;

/// Collects answers to terminal queries seen in the output.
#[derive(Default)]
pub struct QueryAnswers {
    pending: Vec<u8>,
}

impl vt100::Callbacks for QueryAnswers {
    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        _i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first()).copied().unwrap_or(0);
        match (i1, c, first) {
            // DSR 6: cursor position report, 1-based.
            (None, 'n', 6) => {
                let (row, col) = screen.cursor_position();
                self.pending
                    .extend(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
            }
            // DSR 5: "terminal OK".
            (None, 'n', 5) => self.pending.extend(b"\x1b[0n"),
            // DA1: claim a VT220-class terminal with no extras, like tmux does.
            (None, 'c', 0) => self.pending.extend(b"\x1b[?62;22c"),
            _ => {}
        }
    }
}

/// The emulated terminal of one session.
pub struct Screen {
    parser: vt100::Parser<QueryAnswers>,
}

fn nz(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n.max(1)).expect("max(1) is non-zero")
}

impl Screen {
    pub fn new(rows: u16, cols: u16) -> Screen {
        Screen {
            parser: vt100::Parser::new_with_callbacks(
                nz(rows),
                nz(cols),
                0,
                QueryAnswers::default(),
            ),
        }
    }

    /// Feeds output bytes.
    pub fn process(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// Takes the answers owed to queries seen so far.
    pub fn take_query_answers(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.parser.callbacks_mut().pending)
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.set_size(nz(rows), nz(cols));
    }

    /// Escape sequences that paint this screen on a fresh terminal: used to replay the
    /// screen to a client that attaches.
    pub fn replay_bytes(&self) -> Vec<u8> {
        let s = self.parser.screen();
        let mut out = Vec::new();
        if s.alternate_screen() {
            out.extend_from_slice(b"\x1b[?1049h");
        }
        out.extend_from_slice(b"\x1b[H\x1b[2J");
        out.extend_from_slice(s.state_formatted().as_bytes());
        out
    }

    /// The visible text as the detector reads it (`vt100::Screen::contents()`).
    pub fn text(&self) -> String {
        self.parser.screen().contents()
    }

    /// The visible text, as a person would read it.
    pub fn snapshot(&self) -> ScreenReply {
        let s = self.parser.screen();
        let (rows, cols) = s.size();
        let (cursor_row, cursor_col) = s.cursor_position();
        ScreenReply {
            text: visible_text(s),
            cols: cols.get(),
            rows: rows.get(),
            cursor_row,
            cursor_col,
        }
    }
}

/// Screen rows with trailing blanks trimmed and trailing empty rows dropped.
fn visible_text(s: &vt100::Screen) -> String {
    let contents = s.contents();
    let mut lines: Vec<&str> = contents.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// Replays a byte stream through a fresh emulator and returns the final screen text; used
/// for sessions whose host ended without saving a screen.
pub fn render_stream(bytes: &[u8], rows: u16, cols: u16) -> ScreenReply {
    let mut screen = Screen::new(rows, cols);
    screen.process(bytes);
    screen.snapshot()
}
