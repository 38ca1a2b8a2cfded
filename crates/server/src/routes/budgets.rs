//! Cost budgets over HTTP (`budget ID` and `tasks budget TASK` of the CLI): show, set,
//! remove. The session's host enforces them; setting one makes the hosts look at once.

use super::json_body;
use crate::error::Result;
use crate::state::AppState;
use agent_sessions::Budget;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

type Body = std::result::Result<Bytes, BytesRejection>;

/// A budget body: `{usd, tokens, on_budget}` (the core checks the limits).
fn budget(body: Body) -> Result<Budget> {
    json_body(body)
}

/// `GET /sessions/{id}/budget`.
pub(crate) async fn session(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let s = st.core(move |m| m.budget(&id)).await?;
    Ok(Json(json!(s)))
}

/// `POST /sessions/{id}/budget {usd, tokens, on_budget}`.
pub(crate) async fn set_session(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>> {
    let b = budget(body)?;
    let s = st.core(move |m| m.set_budget(&id, Some(b))).await?;
    Ok(Json(json!(s)))
}

/// `DELETE /sessions/{id}/budget`.
pub(crate) async fn clear_session(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let s = st.core(move |m| m.set_budget(&id, None)).await?;
    Ok(Json(json!(s)))
}

/// `GET /tasks/{id}/budget`.
pub(crate) async fn task(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let s = st.core(move |m| m.task_budget(&id)).await?;
    Ok(Json(json!(s)))
}

/// `POST /tasks/{id}/budget {usd, tokens, on_budget}`.
pub(crate) async fn set_task(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>> {
    let b = budget(body)?;
    let s = st.core(move |m| m.set_task_budget(&id, Some(b))).await?;
    Ok(Json(json!(s)))
}

/// `DELETE /tasks/{id}/budget`.
pub(crate) async fn clear_task(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let s = st.core(move |m| m.set_task_budget(&id, None)).await?;
    Ok(Json(json!(s)))
}
