//! The session host's socket protocol.
//!
//! Every message is a frame: one tag byte, a little-endian u32 payload length, the payload.
//! The first frame a client sends fixes the connection's kind:
//! - [`Tag::Attach`] opens a streaming connection: the host answers with one
//!   [`Tag::Replay`] frame (the current screen as escape sequences), then [`Tag::Output`]
//!   frames as the agent writes, and a final [`Tag::Exit`] frame. The client may send
//!   [`Tag::Input`] and [`Tag::Resize`] frames; they get no reply.
//! - Any other tag is a one-shot request answered by exactly one [`Tag::Reply`] frame
//!   carrying JSON: `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.
//!
//! Limits, so that no peer can make the host allocate or wait without bound: each tag has a
//! largest payload ([`Tag::max_payload`]: 1 MiB for input and send, 64 KiB for the other
//! client frames); a client must send its first frame whole within a few seconds of
//! connecting ([`FIRST_FRAME_TIMEOUT`]), after which only an attach connection may stay
//! idle. A request over its limit, of an unknown tag, late, or with a payload that does not
//! parse gets an `{"ok": false, ...}` reply where the connection still allows one, and
//! changes nothing.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// How long the host waits for a connection's first frame to arrive whole.
pub const FIRST_FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Largest payload of any frame: the bound for what the host sends (replays, output, JSON
/// replies), which clients trust more than the host trusts them.
pub const MAX_FRAME: usize = 16 << 20;
/// Largest payload of a frame that carries the agent's input: raw [`Tag::Input`] bytes and
/// [`Tag::Send`] text. 1 MiB is far more than anyone types or pastes at once; longer input
/// goes in several requests.
pub const MAX_INPUT_FRAME: usize = 1 << 20;
/// Largest payload of the other client frames (attach, resize, screen, stop, interrupt, pause,
/// continue, agent events): small JSON or nothing, so a bigger length is a confused or hostile
/// peer, refused before anything is allocated for it.
pub const MAX_CONTROL_FRAME: usize = 64 << 10;
/// Largest side of a terminal the host accepts (columns or rows): the screen model keeps
/// every cell, so a size such as 65535x65535 would take all the memory there is.
pub const MAX_TERMINAL_SIDE: u16 = 1000;
/// Longest stop timeout accepted, in seconds (a week).
pub const MAX_STOP_TIMEOUT_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// Frame tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// Client → host: start streaming. Payload: [`AttachRequest`] JSON.
    Attach = 1,
    /// Client → host: raw bytes for the agent's terminal.
    Input = 2,
    /// Client → host: [`ResizeRequest`] JSON.
    Resize = 3,
    /// Client → host: current screen. Reply: [`ScreenReply`] JSON.
    Screen = 4,
    /// Client → host: [`StopRequest`] JSON. Replied once the agent has been reaped.
    Stop = 5,
    /// Client → host: [`SendRequest`] JSON (text, then Enter as a separate write).
    Send = 6,
    /// Client → host: interrupt the agent's current turn.
    Interrupt = 7,
    /// Client → host: an event the agent reported about itself (a Claude Code hook).
    /// Payload: [`AgentEventRequest`] JSON.
    AgentEvent = 8,
    /// Freeze the agent's process group (SIGSTOP).
    Pause = 9,
    /// Thaw it (SIGCONT).
    Continue = 10,
    /// Client → host: reply once the session's ending is recorded, or after the payload's
    /// `timeout_secs` (JSON, at most [`MAX_END_WAIT_SECS`]). Reply: `{"ok", "state", "ended"}`.
    /// Lets `wait` learn of the ending at once instead of polling the store.
    WaitEnd = 11,
    /// Client → host: a decision for the permission request a hook holds open (opencode's
    /// plugin waits for one). Payload `{"behavior": "allow"|"always"|"deny", "message"?}`.
    /// Reply `{"ok": true}` when a hook took it, `{"ok": false}` when none waits.
    Decide = 12,
    /// Client → host: the session's or its task's budget changed; the host looks at its
    /// budgets now (starting its watcher if none ran). No payload; reply `{"ok": true}`.
    Budget = 13,
    /// Host → client: JSON answer to a one-shot request.
    Reply = 0x80,
    /// Host → attached client: the screen as it is now, as escape sequences.
    Replay = 0x81,
    /// Host → attached client: bytes the agent wrote.
    Output = 0x82,
    /// Host → attached client: the agent ended; payload is the final state's name.
    Exit = 0x83,
}

/// Longest a host holds one [`Tag::WaitEnd`] request (a waiter that gave up must not hold
/// a host thread for the session's life); a longer wait asks again.
pub const MAX_END_WAIT_SECS: f64 = 60.0;

impl Tag {
    /// Largest payload a frame with this tag may carry (see [`MAX_INPUT_FRAME`],
    /// [`MAX_CONTROL_FRAME`], [`MAX_FRAME`]).
    pub fn max_payload(self) -> usize {
        match self {
            Tag::Input | Tag::Send => MAX_INPUT_FRAME,
            Tag::Attach
            | Tag::Resize
            | Tag::Screen
            | Tag::Stop
            | Tag::Interrupt
            | Tag::AgentEvent
            | Tag::Pause
            | Tag::Continue
            | Tag::WaitEnd
            | Tag::Decide
            | Tag::Budget => MAX_CONTROL_FRAME,
            Tag::Reply | Tag::Replay | Tag::Output | Tag::Exit => MAX_FRAME,
        }
    }

    fn from_u8(b: u8) -> Option<Tag> {
        Some(match b {
            1 => Tag::Attach,
            2 => Tag::Input,
            3 => Tag::Resize,
            4 => Tag::Screen,
            5 => Tag::Stop,
            6 => Tag::Send,
            7 => Tag::Interrupt,
            8 => Tag::AgentEvent,
            9 => Tag::Pause,
            10 => Tag::Continue,
            11 => Tag::WaitEnd,
            12 => Tag::Decide,
            13 => Tag::Budget,
            0x80 => Tag::Reply,
            0x81 => Tag::Replay,
            0x82 => Tag::Output,
            0x83 => Tag::Exit,
            _ => return None,
        })
    }
}

/// Writes one frame with a single `write_all` so concurrent writers never interleave halves.
pub fn write_frame(w: &mut impl Write, tag: Tag, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(tag as u8);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)
}

/// Parses a frame header (tag byte, u32 LE length): the tag and the payload length, or an
/// `InvalidData` error for an unknown tag or a length over that tag's
/// [`Tag::max_payload`]. Pure, so the limits are checked before anything is allocated.
pub fn parse_header(head: [u8; 5]) -> io::Result<(Tag, usize)> {
    let tag = Tag::from_u8(head[0]).ok_or_else(|| bad(format!("unknown frame tag {}", head[0])))?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > tag.max_payload() {
        return Err(bad(format!(
            "a {tag:?} frame of {len} bytes is over its limit of {} bytes",
            tag.max_payload()
        )));
    }
    Ok((tag, len))
}

/// First allocation for a payload; it grows as bytes arrive, never past the announced length,
/// so a peer that announces a large frame and sends little costs little.
const READ_CHUNK: usize = 64 << 10;

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame starts. Over a byte
/// slice (`read_frame(&mut &bytes[..])`) it is a pure decoder: a frame, or an error, never a
/// panic, and never an allocation over the tag's limit.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(Tag, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..])?;
    let (tag, len) = parse_header(head)?;
    let mut payload = Vec::with_capacity(len.min(READ_CHUNK));
    while payload.len() < len {
        let have = payload.len();
        if have == payload.capacity() {
            // Doubling, capped at the announced length: exact sizes, few copies.
            payload.reserve_exact((len - have).min(have.max(READ_CHUNK)));
        }
        payload.resize(payload.capacity().min(len), 0);
        match r.read(&mut payload[have..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the stream ended inside a {tag:?} frame"),
                ))
            }
            Ok(n) => payload.truncate(have + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => payload.truncate(have),
            Err(e) => return Err(e),
        }
    }
    Ok(Some((tag, payload)))
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Payload of [`Tag::Attach`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AttachRequest {
    /// No input or resize from this client.
    pub read_only: bool,
    /// The client's terminal width in columns; the host resizes the agent to it (with
    /// `rows`) unless read-only. `None` keeps the current size.
    pub cols: Option<u16>,
    /// The client's terminal height in rows; `None` keeps the current size.
    pub rows: Option<u16>,
    /// Who this client is (the server's WebSocket terminals: `ws <peer address>`). When
    /// given, the host records the client's input as `input` events naming it, as it does
    /// for `send`; `attach` in a terminal gives none (a person's own keystrokes).
    #[serde(default)]
    pub client: Option<String>,
}

/// Payload of [`Tag::Resize`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ResizeRequest {
    /// New width in columns (1 to [`MAX_TERMINAL_SIDE`]).
    pub cols: u16,
    /// New height in rows (1 to [`MAX_TERMINAL_SIDE`]).
    pub rows: u16,
}

/// Is `cols` x `rows` a terminal size the host accepts (1 to [`MAX_TERMINAL_SIDE`] each)?
pub fn valid_size(cols: u16, rows: u16) -> bool {
    (1..=MAX_TERMINAL_SIDE).contains(&cols) && (1..=MAX_TERMINAL_SIDE).contains(&rows)
}

/// Payload of [`Tag::Stop`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct StopRequest {
    /// Seconds the agent gets to quit (its quit command, then SIGTERM) before SIGKILL.
    pub timeout_secs: f64,
    /// SIGKILL the agent's processes at once, without the quit command or SIGTERM.
    pub force: bool,
    /// End the agent but keep its conversation: the session becomes suspended (when the
    /// agent's own session id is known) instead of stopped.
    #[serde(default)]
    pub suspend: bool,
}

impl StopRequest {
    /// Checks the values JSON cannot: the timeout is a finite number of seconds from 0 to
    /// [`MAX_STOP_TIMEOUT_SECS`] (a bigger one would overflow the host's clock arithmetic).
    pub fn check(&self) -> Result<(), String> {
        let t = self.timeout_secs;
        if t.is_finite() && (0.0..=MAX_STOP_TIMEOUT_SECS).contains(&t) {
            Ok(())
        } else {
            Err(format!(
                "stop timeout {t} is not a number of seconds from 0 to {MAX_STOP_TIMEOUT_SECS}"
            ))
        }
    }
}

/// Payload of [`Tag::Send`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendRequest {
    /// Text typed into the agent's terminal as is.
    pub text: String,
    /// Press Enter (a carriage return) after the text, submitting it.
    pub enter: bool,
}

/// Payload of [`Tag::AgentEvent`]: what the agent's own hook reported. Only `event` is
/// required; the rest is copied from the hook's input when present.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AgentEventRequest {
    /// `user_prompt_submit`, `stop`, `permission_request`, `notification`, `session_start`
    /// or `session_end`.
    pub event: String,
    /// The agent's own session id (Claude's `session_id`).
    #[serde(default)]
    pub agent_session_id: Option<String>,
    /// Notification kind (`permission_prompt`, `idle_prompt`, ...).
    #[serde(default)]
    pub notification_type: Option<String>,
    /// Notification text.
    #[serde(default)]
    pub message: Option<String>,
    /// Why a session ended or started (`clear`, `logout`, `prompt_input_exit`, ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// The tool a permission request is for (`Bash`, `Edit`, `AskUserQuestion`, ...).
    #[serde(default)]
    pub tool_name: Option<String>,
    /// That tool's input (the command, the file, the questions).
    #[serde(default)]
    pub tool_input: Option<serde_json::Value>,
    /// The agent's id of the request (opencode's permission id), for its decision channel.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Reply to [`Tag::Screen`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScreenReply {
    /// The visible screen, rows joined with `\n`, trailing blanks trimmed.
    pub text: String,
    /// Screen width in columns.
    pub cols: u16,
    /// Screen height in rows.
    pub rows: u16,
    /// The cursor's row, from 0 at the top.
    pub cursor_row: u16,
    /// The cursor's column, from 0 at the left.
    pub cursor_col: u16,
}
