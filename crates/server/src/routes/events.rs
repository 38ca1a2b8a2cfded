//! A session's events: a page (`GET /sessions/{id}/events`) and a live stream over SSE
//! (`GET /sessions/{id}/events/stream`).
//!
//! The stream sends each event as an SSE message with `id:` its seq, `event:` its kind and
//! `data:` the event's JSON (the line `events --json` prints), and resumes after the seq in
//! `Last-Event-ID` (or `?since=`), so a reconnecting client misses nothing. It ends with an
//! `end` message once the session has ended and every event was sent. `?kind=` keeps one
//! kind (repeat or comma-separate for several).
//!
//! How new events are found: the store has no notification between processes (hosts write
//! their own events), so one thread of the server watches SQLite's `data_version` for any
//! commit (`state::watch_store`) and each stream reads its session's events only after one,
//! or after a second without any. An idle stream costs nothing of its own.

use super::query;
use crate::error::{Result, ServerError};
use crate::state::AppState;
use agent_sessions::{Event, EventCursor};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    #[serde(default)]
    since: i64,
    limit: Option<usize>,
    kind: Option<String>,
}

/// A comma-separated query value as a list (empty: no filter).
pub(super) fn list(q: &Option<String>) -> Vec<String> {
    q.iter()
        .flat_map(|k| k.split(','))
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// `GET /sessions/{id}/events?since=&limit=&kind=` (`events --json`, one page), or the
/// live stream when the client asks for `text/event-stream`.
pub(crate) async fn page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: std::result::Result<Query<EventsQuery>, QueryRejection>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    if wants_stream(&headers) {
        return stream(State(st), Path(id), headers, q)
            .await
            .map(IntoResponse::into_response);
    }
    let q = query(q)?;
    let limit = q
        .limit
        .unwrap_or(agent_sessions::events::MAX_PAGE)
        .min(agent_sessions::events::MAX_PAGE);
    let wanted = list(&q.kind);
    let mut events = st.core(move |m| m.events(&id, q.since, limit)).await?;
    if !wanted.is_empty() {
        events.retain(|e| wanted.contains(&e.kind));
    }
    Ok(Json(events).into_response())
}

/// `GET /sessions/{id}/events/stream`: the live stream (see the module notes).
pub(crate) async fn stream(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: std::result::Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let q = query(q)?;
    let since = last_event_id(&headers)?.unwrap_or(q.since);
    let wanted = list(&q.kind);
    // Checks the id and that the session exists before the stream starts (a 404 then).
    let first = id.clone();
    let cursor = st.core(move |m| m.event_cursor(&first, since)).await?;
    let stream = futures_util::stream::unfold(
        Follow {
            changes: st.changes.clone(),
            _open: st.open_stream(),
            st,
            cursor,
            queue: Vec::new().into_iter(),
            ended: false,
            wanted,
        },
        |mut f| async move {
            let item = f.next().await?;
            Some((Ok(item), f))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The `Last-Event-ID` a reconnecting client sends, if any.
pub(super) fn last_event_id(headers: &HeaderMap) -> Result<Option<i64>> {
    headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ServerError::bad_request("Last-Event-ID must be the id of an event (a number)")
                })
        })
        .transpose()
}

/// Does the client ask for an event stream (`Accept: text/event-stream`, as `EventSource`
/// sends)?
pub(super) fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
}

/// Read again after this long even without a change seen (a store watch that failed).
pub(super) const FALLBACK: Duration = Duration::from_secs(1);

/// One client's place in a session's events.
struct Follow {
    st: AppState,
    cursor: EventCursor,
    changes: tokio::sync::watch::Receiver<u64>,
    /// Keeps the store watch looking often while this stream is open.
    _open: crate::state::StreamGuard,
    queue: std::vec::IntoIter<Event>,
    ended: bool,
    wanted: Vec<String>,
}

impl Follow {
    /// The next message to send; `None` ends the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.queue.next() {
                if !self.wanted.is_empty() && !self.wanted.contains(&e.kind) {
                    continue;
                }
                return Some(
                    SseEvent::default()
                        .id(e.seq.to_string())
                        .event(e.kind.clone())
                        .data(e.to_json()),
                );
            }
            if self.ended {
                return None;
            }
            // Seen before the read: a commit after it wakes the wait below.
            self.changes.borrow_and_update();
            let mut cursor = self.cursor.clone();
            let read = self
                .st
                .core(move |m| {
                    let got = cursor.follow(m, 200, Duration::ZERO)?;
                    Ok((cursor, got))
                })
                .await;
            match read {
                Ok((cursor, got)) => {
                    self.cursor = cursor;
                    match got {
                        agent_sessions::Followed::Events(batch) => {
                            self.queue = batch.into_iter();
                        }
                        agent_sessions::Followed::Quiet => {
                            self.st.wait_for_change(&mut self.changes, FALLBACK).await;
                        }
                        agent_sessions::Followed::Ended => {
                            self.ended = true;
                            return Some(SseEvent::default().event("end").data(format!(
                                "{{\"session_id\":\"{}\"}}",
                                self.cursor.session_id
                            )));
                        }
                    }
                }
                Err(e) => {
                    // The session was removed, or the store failed: say so and end.
                    self.ended = true;
                    let (_, kind) = e.status_and_kind();
                    let body =
                        serde_json::json!({"error": {"kind": kind, "message": e.to_string()}});
                    return Some(SseEvent::default().event("error").data(body.to_string()));
                }
            }
        }
    }
}
