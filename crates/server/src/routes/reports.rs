//! Figures for charts and exports: a session's resource samples and usage over time, and
//! the usage report of all sessions (JSON, or CSV made by the core, so every export has the same columns).

use super::query;
use crate::error::Result;
use crate::state::AppState;
use agent_sessions::usage_table::UsageGroup;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SamplesQuery {
    #[serde(default)]
    since_ms: i64,
    limit: Option<usize>,
}

/// `GET /sessions/{id}/samples?since_ms=&limit=`: stored resource samples, oldest first.
pub(crate) async fn samples(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: std::result::Result<Query<SamplesQuery>, QueryRejection>,
) -> Result<Response> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(2_000);
    let rows = st.core(move |m| m.samples(&id, q.since_ms, limit)).await?;
    Ok(Json(rows).into_response())
}

/// `GET /sessions/{id}/usage/series?since_ms=&limit=`: the session's token and cost totals
/// over time, oldest first (see `SessionManager::usage_series`).
pub(crate) async fn usage_series(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: std::result::Result<Query<SamplesQuery>, QueryRejection>,
) -> Result<Response> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(2_000);
    let points = st
        .core(move |m| m.usage_series(&id, q.since_ms, limit))
        .await?;
    Ok(Json(points).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    by: Option<String>,
    format: Option<String>,
}

/// `GET /usage/report?by=day|agent|task&format=json|csv`: tokens and cost of every session,
/// summed (see `agent_sessions::usage_table`).
pub(crate) async fn usage_report(
    State(st): State<AppState>,
    q: std::result::Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response> {
    let q = query(q)?;
    let by: UsageGroup = q.by.as_deref().unwrap_or("day").parse()?;
    let csv = match q.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => {
            return Err(crate::error::ServerError::bad_request(format!(
                "format is json or csv, not {other:?}"
            )))
        }
    };
    let table = st.core(move |m| m.usage_report(by)).await?;
    if !csv {
        return Ok(Json(table).into_response());
    }
    let name = format!(
        "attachment; filename=\"agent-sessions-usage-by-{}.csv\"",
        q.by.as_deref().unwrap_or("day")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        table.to_csv(),
    )
        .into_response())
}
