//! Launch templates over HTTP (`template ...` of the CLI); a session starts from one with
//! `POST /sessions {"template": "NAME[@VERSION]", ...}`.

use super::{body_bytes, query};
use crate::error::{Result, ServerError};
use crate::state::AppState;
use agent_sessions::template::Template;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

type Body = std::result::Result<Bytes, BytesRejection>;

/// `GET /templates`: the current version of each.
pub(crate) async fn list(State(st): State<AppState>) -> Result<Json<Value>> {
    let all = st.core(|m| m.templates()).await?;
    Ok(Json(json!(all)))
}

/// `GET /templates/{spec}`: `NAME` (its current version) or `NAME@VERSION`.
pub(crate) async fn show(
    State(st): State<AppState>,
    Path(spec): Path<String>,
) -> Result<Json<Value>> {
    let v = st.core(move |m| m.template(&spec)).await?;
    Ok(Json(json!(v)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SaveQuery {
    #[serde(default)]
    force: bool,
}

/// `POST /templates/{name}[?force=true]` with the template's JSON: 201 and the new version.
pub(crate) async fn save(
    State(st): State<AppState>,
    Path(name): Path<String>,
    q: std::result::Result<Query<SaveQuery>, QueryRejection>,
    body: Body,
) -> Result<Response> {
    let force = query(q)?.force;
    let bytes = body_bytes(body)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ServerError::bad_request("the request body is not UTF-8 JSON"))?
        .to_string();
    let v = st
        .core(move |m| {
            let t = Template::from_json(&text, "the request body")?;
            m.save_template(&name, &t, force)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!(v))).into_response())
}

/// `GET /templates/{name}/history`: every version, oldest first.
pub(crate) async fn history(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let all = st.core(move |m| m.template_history(&name)).await?;
    Ok(Json(json!(all)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    version: u32,
}

/// `POST /templates/{name}/rollback {"version"}`: makes that version current again.
pub(crate) async fn rollback(
    State(st): State<AppState>,
    Path(name): Path<String>,
    body: Body,
) -> Result<Json<Value>> {
    let Rollback { version } = super::json_body(body)?;
    let v = st
        .core(move |m| m.rollback_template(&name, version))
        .await?;
    Ok(Json(json!(v)))
}

/// `GET /templates/{spec}/check`: `{ok, problems}` (what would stop it from starting).
pub(crate) async fn check(
    State(st): State<AppState>,
    Path(spec): Path<String>,
) -> Result<Json<Value>> {
    let check = st.core(move |m| m.check_saved_template(&spec)).await?;
    Ok(Json(json!(check)))
}

/// `DELETE /templates/{name}`: the template with every version.
pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let gone = name.clone();
    st.core(move |m| m.remove_template(&name)).await?;
    Ok(Json(json!({"ok": true, "removed": gone})))
}
