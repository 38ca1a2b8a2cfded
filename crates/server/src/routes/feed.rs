//! Every session's events: a page (`GET /events`) and a live stream over SSE
//! (`GET /events/stream`, or `GET /events` asking for `text/event-stream`, as a browser's
//! `EventSource` does).
//!
//! Events come in the store's one order over all sessions (`event_feed`, see
//! `agent_sessions::store::feed`): each SSE message has `id:` the event's feed id, `event:`
//! its kind and `data:` the event's JSON with its `id`, so `Last-Event-ID` resumes exactly.
//! Filters: `?session=` (ids, comma-separated), `?task=`, `?kind=` (comma-separated). A
//! stream without `since` or `Last-Event-ID` starts with the events committed after it
//! opened; `?since=0` replays everything kept. The stream never ends by itself: sessions
//! come and go.

use super::query;
use crate::error::{Result, ServerError};
use crate::state::AppState;
use agent_sessions::{FeedEvent, FeedFilter};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedQuery {
    since: Option<i64>,
    limit: Option<usize>,
    session: Option<String>,
    task: Option<String>,
    kind: Option<String>,
}

impl FeedQuery {
    fn filter(&self) -> FeedFilter {
        FeedFilter {
            sessions: super::events::list(&self.session),
            task: self.task.clone().filter(|t| !t.trim().is_empty()),
            kinds: super::events::list(&self.kind),
        }
    }
}

/// `GET /events`: one page (`{"events": [...], "next": id}`; pass `next` as `since` for
/// the following page), or the live stream when the client asks for `text/event-stream`.
pub(crate) async fn page_or_stream(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: std::result::Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response> {
    if super::events::wants_stream(&headers) {
        return stream(State(st), headers, q)
            .await
            .map(IntoResponse::into_response);
    }
    let q = query(q)?;
    let filter = q.filter();
    let since = q.since.unwrap_or(0);
    let limit = q.limit.unwrap_or(agent_sessions::events::MAX_PAGE);
    let page = st.core(move |m| m.feed(since, limit, &filter)).await?;
    Ok(Json(json!({"events": page.events, "next": page.next})).into_response())
}

/// `GET /events/stream`: the live stream of every session's events (see the module notes).
pub(crate) async fn stream(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: std::result::Result<Query<FeedQuery>, QueryRejection>,
) -> Result<
    Sse<impl futures_util::Stream<Item = std::result::Result<SseEvent, std::convert::Infallible>>>,
> {
    let q = query(q)?;
    let filter = q.filter();
    // Ids are checked before the stream starts (a 400 then, not an error message later).
    for id in &filter.sessions {
        agent_sessions::id::validate(id).map_err(ServerError::Core)?;
    }
    let since = match super::events::last_event_id(&headers)? {
        Some(id) => id,
        None => match q.since {
            Some(since) => since,
            None => st.core(|m| m.feed_head()).await?,
        },
    };
    let follow = FeedFollow {
        changes: st.changes.clone(),
        _open: st.open_stream(),
        st,
        since,
        filter,
        queue: Vec::new().into_iter(),
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        let item = f.next().await?;
        Some((Ok(item), f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One client's place in the feed.
struct FeedFollow {
    st: AppState,
    since: i64,
    filter: FeedFilter,
    changes: tokio::sync::watch::Receiver<u64>,
    _open: crate::state::StreamGuard,
    queue: std::vec::IntoIter<FeedEvent>,
}

impl FeedFollow {
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.queue.next() {
                let data = serde_json::to_string(&e).unwrap_or_default();
                return Some(
                    SseEvent::default()
                        .id(e.id.to_string())
                        .event(e.event.kind)
                        .data(data),
                );
            }
            // Seen before the read: a commit after it wakes the wait below.
            self.changes.borrow_and_update();
            let (since, filter) = (self.since, self.filter.clone());
            match self.st.core(move |m| m.feed(since, 200, &filter)).await {
                Ok(page) => {
                    self.since = page.next;
                    if page.events.is_empty() {
                        self.st
                            .wait_for_change(&mut self.changes, super::events::FALLBACK)
                            .await;
                    } else {
                        self.queue = page.events.into_iter();
                    }
                }
                Err(e) => {
                    // The store failed: say so and end (the client reconnects with its
                    // Last-Event-ID and misses nothing).
                    let (_, kind) = e.status_and_kind();
                    let body = json!({"error": {"kind": kind, "message": e.to_string()}});
                    return Some(SseEvent::default().event("error").data(body.to_string()));
                }
            }
        }
    }
}
