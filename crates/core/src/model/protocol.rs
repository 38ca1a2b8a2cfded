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

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Largest payload accepted; a bigger length means a confused or hostile peer.
pub const MAX_FRAME: usize = 16 << 20;

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
    /// Host → client: JSON answer to a one-shot request.
    Reply = 0x80,
    /// Host → attached client: the screen as it is now, as escape sequences.
    Replay = 0x81,
    /// Host → attached client: bytes the agent wrote.
    Output = 0x82,
    /// Host → attached client: the agent ended; payload is the final state's name.
    Exit = 0x83,
}

impl Tag {
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

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(Tag, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..])?;
    let tag = Tag::from_u8(head[0]).ok_or_else(|| bad(format!("unknown frame tag {}", head[0])))?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(bad(format!("frame of {len} bytes is over the limit")));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
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
    /// The client's terminal size; the host resizes the agent to it unless read-only.
    pub cols: Option<u16>,
    pub rows: Option<u16>,
}

/// Payload of [`Tag::Resize`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ResizeRequest {
    pub cols: u16,
    pub rows: u16,
}

/// Payload of [`Tag::Stop`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct StopRequest {
    pub timeout_secs: f64,
    pub force: bool,
    /// End the agent but keep its conversation: the session becomes suspended (when the
    /// agent's own session id is known) instead of stopped.
    #[serde(default)]
    pub suspend: bool,
}

/// Payload of [`Tag::Send`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendRequest {
    pub text: String,
    pub enter: bool,
}

/// Payload of [`Tag::AgentEvent`]: what the agent's own hook reported. Only `event` is
/// required; the rest is copied from the hook's input when present.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AgentEventRequest {
    /// `user_prompt_submit`, `stop`, `notification`, `session_start` or `session_end`.
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
}

/// Reply to [`Tag::Screen`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScreenReply {
    /// The visible screen, rows joined with `\n`, trailing blanks trimmed.
    pub text: String,
    pub cols: u16,
    pub rows: u16,
    pub cursor_row: u16,
    pub cursor_col: u16,
}
