//! Sessions, tasks and agent types: one handler per CLI command. Most are one shared
//! operation ([`crate::ops`]) with the path's id and the body's object; the rest read query
//! strings (output, history) or have no session (tasks, agents). Answers are the CLI's
//! `--json` shapes.

use super::{json_body, query};
use crate::error::Result;
use crate::ops::Op;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

type Body = std::result::Result<Bytes, BytesRejection>;
type Q<T> = std::result::Result<Query<T>, QueryRejection>;

/// An operation on the session in the path with the body's object.
async fn with_body(st: AppState, op: Op, id: String, body: Body) -> Result<Json<Value>> {
    let args: Value = json_body(body)?;
    Ok(Json(st.op(op, id, args).await?))
}

/// An operation on the session in the path that takes no arguments.
async fn plain(st: AppState, op: Op, id: String) -> Result<Json<Value>> {
    Ok(Json(st.op(op, id, Value::Null).await?))
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(alias = "agent_type", skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
}

/// The newest event id when a list was read, as a header of `GET /sessions`: a client
/// that opens the feed (`/events?since=` this id) after it got the list misses nothing.
pub(crate) const FEED_HEAD_HEADER: &str = "x-feed-head";

/// `GET /sessions[?state=&agent=&task_id=]` (`ls --json`), with the feed's head at the
/// time of reading in [`FEED_HEAD_HEADER`].
pub(crate) async fn list(State(st): State<AppState>, q: Q<ListQuery>) -> Result<Response> {
    let filter = serde_json::to_value(query(q)?).expect("a filter serializes");
    // Read before the list: every change after it is in the feed after this id.
    let head = st.core(|m| m.feed_head()).await?;
    let list = st.op(Op::List, String::new(), filter).await?;
    let mut r = Json(list).into_response();
    r.headers_mut().insert(
        FEED_HEAD_HEADER,
        header::HeaderValue::from_str(&head.to_string()).expect("digits are a valid header"),
    );
    Ok(r)
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

/// `DELETE /sessions/{id}[?force=true]` (`rm [--force] --json`): an ended session's record
/// and files, and its git worktree unless that holds work (`force` removes it anyway).
pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Q<RemoveQuery>,
) -> Result<Json<Value>> {
    let args = serde_json::to_value(query(q)?).expect("the options serialize");
    Ok(Json(st.op(Op::Remove, id, args).await?))
}

/// `POST /sessions` with the start options (as the C ABI's `as_manager_start` takes them):
/// 201 and the record once the agent runs (`start --json`).
pub(crate) async fn start(State(st): State<AppState>, body: Body) -> Result<Response> {
    let args: Value = json_body(body)?;
    let rec = st.op(Op::Start, String::new(), args).await?;
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}

macro_rules! plain_routes {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        pub(crate) async fn $name(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>> {
            plain(st, $op, id).await
        }
    )*};
}

macro_rules! body_routes {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        pub(crate) async fn $name(State(st): State<AppState>, Path(id): Path<String>, body: Body) -> Result<Json<Value>> {
            with_body(st, $op, id, body).await
        }
    )*};
}

plain_routes! {
    /// `GET /sessions/{id}` (`show --json`).
    get => Op::Get;
    /// `GET /sessions/{id}/state` (`state --json`).
    state => Op::State;
    /// `GET /sessions/{id}/screen` (`screen --json`).
    screen => Op::Screen;
    /// `GET /sessions/{id}/pending` (`pending --json`): `null` when nothing is pending.
    pending => Op::Pending;
    /// `GET /sessions/{id}/usage` (`usage --json`).
    usage => Op::Usage;
    /// `GET /sessions/{id}/telemetry` (`telemetry --json`).
    telemetry => Op::Telemetry;
    /// `POST /sessions/{id}/pause` (SIGSTOP to the agent's tree).
    pause => Op::Pause;
    /// `POST /sessions/{id}/continue`.
    continue_session => Op::Continue;
}

body_routes! {
    /// `POST /sessions/{id}/send` `{"text": ..., "enter": true}`.
    send => Op::Send;
    /// `POST /sessions/{id}/keys` `{"keys": ["Enter", "C-c", ...]}` (`send-keys`).
    keys => Op::Keys;
    /// `POST /sessions/{id}/interrupt`.
    interrupt => Op::Interrupt;
    /// `POST /sessions/{id}/stop` `{"timeout_secs": 10, "force": false}`: the ended record.
    stop => Op::Stop;
    /// `POST /sessions/{id}/wait` `{"state": "waiting_input", "timeout_secs": 30}` (or
    /// `"states": [...]`): the record once reached; 504 on the timeout, 409 when the state
    /// can never come.
    wait => Op::Wait;
    /// `POST /sessions/{id}/suspend` `{"timeout_secs": ...}`.
    suspend => Op::Suspend;
    /// `POST /sessions/{id}/resume` with the resume options (`args`, `env`,
    /// `agent_session_id`, as the C ABI's `as_session_resume`).
    resume => Op::Resume;
    /// `POST /sessions/{id}/approve` `{"always": false}`: the record once the answer took.
    approve => Op::Approve;
    /// `POST /sessions/{id}/deny` `{"message": "why"}`.
    deny => Op::Deny;
    /// `POST /sessions/{id}/answer` `{"choices": ["Yes"]}`.
    answer => Op::Answer;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputQuery {
    #[serde(default)]
    offset: u64,
    max: Option<usize>,
}

/// `GET /sessions/{id}/output?offset=&max=`: the raw bytes of the output log from `offset`
/// (at most `max`, 64 KiB by default, 1 MiB at most); `X-Next-Offset` says where to go on.
pub(crate) async fn output(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Q<OutputQuery>,
) -> Result<Response> {
    let q = query(q)?;
    let max = q.max.unwrap_or(64 << 10).min(1 << 20);
    let (bytes, next) = st.core(move |m| m.output(&id, q.offset, max)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static("x-next-offset"),
                next.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    #[serde(default)]
    offset: u64,
    limit: Option<usize>,
}

/// `GET /sessions/{id}/history?offset=&limit=` (`history --json`, one page).
pub(crate) async fn history(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Q<PageQuery>,
) -> Result<Response> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(100).min(agent_sessions::events::MAX_PAGE);
    let page = st.core(move |m| m.history(&id, q.offset, limit)).await?;
    Ok(Json(page).into_response())
}

/// `GET /tasks` (`tasks --json`).
pub(crate) async fn tasks(State(st): State<AppState>) -> Result<Response> {
    Ok(Json(st.core(|m| m.tasks()).await?).into_response())
}

/// `GET /tasks/{id}` (`tasks show --json`).
pub(crate) async fn task(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(st.core(move |m| m.task(&id)).await?).into_response())
}

/// `GET /agents` (`agents --json`).
pub(crate) async fn agents(State(st): State<AppState>) -> Result<Response> {
    let infos = st
        .core(|m| {
            let specs = m.agents()?;
            Ok(specs
                .iter()
                .map(agent_sessions::AgentSpec::info)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(infos).into_response())
}
