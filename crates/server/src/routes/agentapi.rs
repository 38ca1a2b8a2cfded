//! agentapi's shape for one session, under `/sessions/{id}/agentapi/`, so clients written
//! for agentapi can drive any session: `GET status`, `GET messages`, `POST message` and an
//! SSE `events` stream with `status_change` and `message_update`.
//!
//! The mapping: agentapi's `stable` is our `waiting_input` (the agent takes a message) and
//! every ended state (nothing is running); `running` is everything else. Messages are the
//! session's conversation (`history`), `assistant` and `tool` as agentapi's `agent`, ids
//! their index. A `user` message is `send` with Enter and is refused (409) unless the agent
//! is `stable`, as agentapi does; `raw` writes the content as keystrokes.

use super::{json_body, query};
use crate::error::{Result, ServerError};
use crate::state::AppState;
use agent_sessions::{Message, State as SessionState};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

fn status_of(state: SessionState) -> &'static str {
    match state {
        SessionState::WaitingInput => "stable",
        s if s.is_ended() => "stable",
        _ => "running",
    }
}

fn message_json(m: &Message) -> Value {
    let role = if m.role == "user" { "user" } else { "agent" };
    json!({"id": m.index, "role": role, "content": m.text, "time": m.at})
}

/// `GET /sessions/{id}/agentapi/status`.
pub(crate) async fn status(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let rec = st.core(move |m| m.get(&id)).await?;
    Ok(Json(
        json!({"status": status_of(rec.state), "agent_type": rec.agent_type}),
    ))
}

/// All messages from `from` on (pages of the core's history).
fn messages_from(
    m: &agent_sessions::SessionManager,
    id: &str,
    from: u64,
) -> agent_sessions::Result<Vec<Message>> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let page = m.history(id, offset, 1000)?;
        out.extend(page.messages);
        match page.next_offset {
            Some(next) if next > offset => offset = next,
            _ => return Ok(out),
        }
    }
}

/// `GET /sessions/{id}/agentapi/messages`.
pub(crate) async fn messages(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let msgs = st.core(move |m| messages_from(m, &id, 0)).await?;
    Ok(Json(
        json!({"messages": msgs.iter().map(message_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    #[serde(rename = "type")]
    kind: String,
    content: String,
}

/// `POST /sessions/{id}/agentapi/message` `{"type": "user" | "raw", "content": ...}`.
pub(crate) async fn message(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<Value>> {
    let b: MessageBody = json_body(body)?;
    match b.kind.as_str() {
        "user" => {
            let rec = st
                .core({
                    let id = id.clone();
                    move |m| m.get(&id)
                })
                .await?;
            if rec.state != SessionState::WaitingInput {
                return Err(ServerError::Core(
                    agent_sessions::Error::SessionNotRunning {
                        id: rec.session_id,
                        state: rec.state,
                        action: "take a user message until it is stable (waiting_input)",
                    },
                ));
            }
            st.core(move |m| m.send(&id, &b.content, true)).await?;
        }
        "raw" => {
            st.core(move |m| m.send_bytes(&id, b.content.as_bytes()))
                .await?
        }
        other => {
            return Err(ServerError::bad_request(format!(
                "message type {other:?}: use \"user\" (text and Enter) or \"raw\" (keystrokes)"
            )))
        }
    }
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}

/// `GET /sessions/{id}/agentapi/events`: `status_change` and `message_update` as they
/// happen, starting with the current status and every message so far. Reads the state and
/// the history's tail after each commit to the store (see `state::watch_store`).
pub(crate) async fn events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: std::result::Result<Query<NoQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    query(q)?;
    let first = id.clone();
    st.core(move |m| m.get(&first)).await?;
    let watch = Watch {
        changes: st.changes.clone(),
        _open: st.open_stream(),
        st,
        id,
        status: None,
        next_index: 0,
        last: None,
        queue: Vec::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        let ev = w.next().await?;
        Some((Ok(ev), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Read again after this long even without a change seen.
const FALLBACK: Duration = Duration::from_secs(1);

struct Watch {
    st: AppState,
    id: String,
    status: Option<&'static str>,
    /// The index after the last message sent.
    next_index: u64,
    /// The last message sent, sent again when its text grows (a reply still streaming).
    last: Option<Message>,
    queue: Vec<SseEvent>,
    changes: tokio::sync::watch::Receiver<u64>,
    /// Keeps the store watch looking often while this stream is open.
    _open: crate::state::StreamGuard,
    done: bool,
}

impl Watch {
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if !self.queue.is_empty() {
                return Some(self.queue.remove(0));
            }
            if self.done {
                return None;
            }
            self.changes.borrow_and_update();
            let (id, from) = (
                self.id.clone(),
                self.last.as_ref().map_or(self.next_index, |m| m.index),
            );
            let read = self
                .st
                .core(move |m| Ok((m.get(&id)?.state, messages_from(m, &id, from)?)))
                .await;
            let (state, msgs) = match read {
                Ok(r) => r,
                Err(_) => {
                    self.done = true;
                    continue;
                }
            };
            for msg in msgs {
                if self.last.as_ref() == Some(&msg) {
                    continue;
                }
                self.next_index = msg.index + 1;
                self.queue.push(
                    SseEvent::default()
                        .event("message_update")
                        .data(json!({"id": msg.index, "message": msg.text, "role": message_json(&msg)["role"], "time": msg.at}).to_string()),
                );
                self.last = Some(msg);
            }
            let status = status_of(state);
            if self.status != Some(status) {
                self.status = Some(status);
                self.queue.push(
                    SseEvent::default()
                        .event("status_change")
                        .data(json!({"status": status}).to_string()),
                );
            }
            if state.is_ended() {
                self.done = true;
            }
            if self.queue.is_empty() && !self.done {
                self.st.wait_for_change(&mut self.changes, FALLBACK).await;
            }
        }
    }
}
