//! Snapshots over HTTP (`snapshot ...` and `restore` of the CLI): take one of a session,
//! list, show, remove, prune, and restore one as a new session.

use super::{json_body, query};
use crate::error::{Result, ServerError};
use crate::ops::Op;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

type Body = std::result::Result<Bytes, BytesRejection>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default)]
    session: Option<String>,
}

/// `GET /snapshots[?session=ID]`: every snapshot (of one session), oldest first.
pub(crate) async fn list(
    State(st): State<AppState>,
    q: std::result::Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>> {
    let session = query(q)?.session;
    let all = st.core(move |m| m.snapshots(session.as_deref())).await?;
    Ok(Json(json!(all)))
}

/// `POST /sessions/{id}/snapshots {name?, workspace?, max_workspace_bytes?, keep?}`: 201
/// and the snapshot.
pub(crate) async fn take(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response> {
    let args: Value = json_body(body)?;
    let snap = st.op(Op::Snapshot, id, args).await?;
    Ok((StatusCode::CREATED, Json(snap)).into_response())
}

/// `GET /snapshots/{ref}`: one snapshot, by id or name.
pub(crate) async fn show(
    State(st): State<AppState>,
    Path(reference): Path<String>,
) -> Result<Json<Value>> {
    let snap = st.core(move |m| m.snapshot_info(&reference)).await?;
    Ok(Json(json!(snap)))
}

/// `DELETE /snapshots/{ref}`: the snapshot and its files; returns what it was.
pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(reference): Path<String>,
) -> Result<Json<Value>> {
    let snap = st.core(move |m| m.remove_snapshot(&reference)).await?;
    Ok(Json(json!(snap)))
}

/// `POST /snapshots/prune {keep?, older_than_secs?, session_id?, dry_run?}`: the snapshots
/// removed (or, with `dry_run`, that would be).
pub(crate) async fn prune(State(st): State<AppState>, body: Body) -> Result<Json<Value>> {
    let retention: agent_sessions::Retention = json_body(body)?;
    let gone = st.core(move |m| m.prune_snapshots(&retention)).await?;
    Ok(Json(json!(gone)))
}

/// `POST /snapshots/{ref}/restore {cwd?, name?, env?}`: 201 and the new session's record.
pub(crate) async fn restore(
    State(st): State<AppState>,
    Path(reference): Path<String>,
    body: Body,
) -> Result<Response> {
    let mut args: Value = json_body(body)?;
    match args.as_object_mut() {
        Some(o) if !o.contains_key("snapshot") => {
            o.insert("snapshot".into(), Value::String(reference));
        }
        _ => {
            return Err(ServerError::bad_request(
                "the body is {cwd?, name?, env?}; the snapshot is named in the path",
            ))
        }
    }
    let rec = st.op(Op::Restore, String::new(), args).await?;
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}
