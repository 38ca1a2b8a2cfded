//! Talking to a session host over its socket.

use crate::model::error::{Error, Result};
use crate::model::protocol::{read_frame, write_frame, Tag};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Connects to a host's socket.
pub fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).map_err(|e| Error::io(format!("connecting to {}", path.display()), e))
}

/// Sends one request and returns the host's JSON reply. `timeout` bounds the wait for the
/// reply (none for stop, which answers when the agent is gone).
pub fn request(
    path: &Path,
    tag: Tag,
    payload: &[u8],
    timeout: Option<Duration>,
) -> Result<serde_json::Value> {
    if payload.len() > tag.max_payload() {
        // The host would refuse it; say so here, with what to do.
        return Err(Error::InvalidArgument(format!(
            "a {tag:?} request of {} bytes is over the host's limit of {} bytes; send the input in smaller parts",
            payload.len(),
            tag.max_payload()
        )));
    }
    let mut stream = connect(path)?;
    stream
        .set_read_timeout(timeout)
        .map_err(|e| Error::io("setting a socket timeout", e))?;
    write_frame(&mut stream, tag, payload)
        .map_err(|e| Error::io("sending to the session host", e))?;
    match read_frame(&mut stream).map_err(|e| Error::io("reading the session host's reply", e))? {
        Some((Tag::Reply, body)) => {
            serde_json::from_slice(&body).map_err(|e| Error::Protocol(e.to_string()))
        }
        Some((other, _)) => Err(Error::Protocol(format!("expected a reply, got {other:?}"))),
        None => Err(Error::Protocol(
            "the session host closed the connection without replying".into(),
        )),
    }
}
