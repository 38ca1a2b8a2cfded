//! `GET /sessions/{id}/terminal`: a session's terminal over a WebSocket, the way `attach`
//! shows it in a terminal: the current screen replayed, then live output; input and resize
//! unless `?read_only=true`; any number of viewers at once.
//!
//! The server is one more attach client of the session's host, speaking the host protocol
//! through the core's frame codec (`read_frame`/`write_frame`) on two blocking threads per
//! viewer, bridged to the socket's task by channels. Messages:
//! - server → client: binary messages with terminal output (the replay first); a text
//!   message `{"type": "exit", "state": ...}` when the session ends, then close; a text
//!   `{"type": "error", "message": ...}` for a control message it could not take.
//! - client → server: binary messages are keystrokes, sent as they are; text messages are
//!   JSON: `{"type": "input", "data": "..."}` or `{"type": "resize", "cols": 120, "rows": 35}`.
//!
//! Each viewer attaches under its own name (`ws <peer address>`), so its keystrokes are
//! recorded as `input` events that say which client sent them. A slow viewer never slows the
//! session or the others: the host drops a viewer whose queue is full.

use super::query;
use crate::error::{Result, ServerError};
use crate::state::AppState;
use agent_sessions::protocol::{read_frame, write_frame, AttachRequest, ResizeRequest, Tag};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::os::unix::net::UnixStream;
use tokio::sync::mpsc;

/// The largest WebSocket message taken from a client (keystrokes and pastes).
const MAX_MESSAGE: usize = 256 << 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TerminalQuery {
    #[serde(default)]
    read_only: bool,
    cols: Option<u16>,
    rows: Option<u16>,
}

/// The upgrade: checks the session and reaches its host first, so a missing or ended
/// session is a JSON error, not a socket that closes at once.
pub(crate) async fn terminal(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<crate::listen::Peer>,
    q: std::result::Result<Query<TerminalQuery>, QueryRejection>,
    ws: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    let q = query(q)?;
    let ws = ws.map_err(|r| {
        ServerError::bad_request(format!(
            "this route is a WebSocket: connect with a WebSocket client ({})",
            r.body_text()
        ))
    })?;
    let stream = st
        .core(move |m| {
            let rec = m.get(&id)?;
            if rec.state.is_ended() {
                return Err(agent_sessions::Error::SessionNotRunning {
                    id: rec.session_id,
                    state: rec.state,
                    action: "show its terminal",
                });
            }
            let path = m.socket_path(&id)?;
            agent_sessions::client::connect(&path)
        })
        .await?;
    let req = AttachRequest {
        read_only: q.read_only,
        cols: q.cols,
        rows: q.rows,
        client: Some(format!("ws {peer}")),
    };
    Ok(ws
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| bridge(socket, stream, req)))
}

/// Relays between the viewer's WebSocket and the host until either side ends.
async fn bridge(mut socket: WebSocket, stream: UnixStream, req: AttachRequest) {
    let read_only = req.read_only;
    let (Ok(mut reader), Ok(shutdown)) = (stream.try_clone(), stream.try_clone()) else {
        let _ = socket.send(Message::Close(None)).await;
        return;
    };
    let mut writer = stream;
    // Host → viewer: frames from the host socket.
    let (out_tx, mut out_rx) = mpsc::channel::<(Tag, Vec<u8>)>(64);
    std::thread::spawn(move || {
        while let Ok(Some(frame)) = read_frame(&mut reader) {
            if out_tx.blocking_send(frame).is_err() {
                break;
            }
        }
    });
    // Viewer → host: the attach request, then input and resize frames.
    let (in_tx, mut in_rx) = mpsc::channel::<(Tag, Vec<u8>)>(64);
    let body = serde_json::to_vec(&req).expect("an attach request serializes");
    let _ = in_tx.send((Tag::Attach, body)).await;
    std::thread::spawn(move || {
        while let Some((tag, payload)) = in_rx.blocking_recv() {
            if write_frame(&mut writer, tag, &payload).is_err() {
                break;
            }
        }
    });

    loop {
        tokio::select! {
            frame = out_rx.recv() => match frame {
                Some((Tag::Replay | Tag::Output, bytes)) => {
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                Some((Tag::Exit, state)) => {
                    let state = String::from_utf8_lossy(&state).into_owned();
                    let msg = json!({"type": "exit", "state": state}).to_string();
                    let _ = socket.send(Message::Text(msg.into())).await;
                    break;
                }
                Some(_) => {}
                // The host went away (the session ended and closed its socket).
                None => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(bytes))) => {
                    if !read_only && in_tx.send((Tag::Input, bytes.to_vec())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Text(text))) => match control(&text, read_only) {
                    Ok(Some(frame)) => {
                        if in_tx.send(frame).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(message) => {
                        let msg = json!({"type": "error", "message": message}).to_string();
                        if socket.send(Message::Text(msg.into())).await.is_err() {
                            break;
                        }
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    drop(in_tx);
    let _ = shutdown.shutdown(std::net::Shutdown::Both);
    let _ = socket.send(Message::Close(None)).await;
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Control {
    Input { data: String },
    Resize { cols: u16, rows: u16 },
}

/// A text message from the viewer as a host frame; `Ok(None)` for one a read-only viewer may
/// not send (ignored, as `attach --read-only` ignores keys).
fn control(text: &str, read_only: bool) -> std::result::Result<Option<(Tag, Vec<u8>)>, String> {
    let c: Control = serde_json::from_str(text).map_err(|e| {
        format!("a text message must be {{\"type\": \"input\", \"data\": ...}} or {{\"type\": \"resize\", \"cols\": ..., \"rows\": ...}}: {e}")
    })?;
    if read_only {
        return Ok(None);
    }
    Ok(Some(match c {
        Control::Input { data } => (Tag::Input, data.into_bytes()),
        Control::Resize { cols, rows } => {
            if cols == 0 || rows == 0 {
                return Err("a terminal needs at least 1 column and 1 row".into());
            }
            let body = serde_json::to_vec(&ResizeRequest { cols, rows }).expect("serializes");
            (Tag::Resize, body)
        }
    }))
}
