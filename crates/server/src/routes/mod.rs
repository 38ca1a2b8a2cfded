//! The HTTP routes: which path goes to which handler, and what every request passes first
//! (the gate, the body limit). Handlers are thin: they parse the request, make one core
//! call on the blocking pool and answer with the same JSON as the CLI's `--json`.

mod agentapi;
mod budgets;
mod dashboard;
mod events;
mod feed;
mod reports;
mod sessions;
mod snapshots;
mod templates;
mod terminal;

use crate::error::{Result, ServerError};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The largest request body taken (a start request with a long prompt fits many times).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The server's routes over `state`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/sessions", get(sessions::list).post(sessions::start))
        .route(
            "/sessions/{id}",
            get(sessions::get).delete(sessions::remove),
        )
        .route("/sessions/{id}/state", get(sessions::state))
        .route("/sessions/{id}/screen", get(sessions::screen))
        .route("/sessions/{id}/pending", get(sessions::pending))
        .route("/sessions/{id}/output", get(sessions::output))
        .route("/sessions/{id}/history", get(sessions::history))
        .route("/sessions/{id}/usage", get(sessions::usage))
        .route("/sessions/{id}/usage/series", get(reports::usage_series))
        .route("/sessions/{id}/telemetry", get(sessions::telemetry))
        .route("/sessions/{id}/events", get(events::page))
        .route("/sessions/{id}/events/stream", get(events::stream))
        .route("/sessions/{id}/terminal", get(terminal::terminal))
        .route("/sessions/{id}/agentapi/status", get(agentapi::status))
        .route("/sessions/{id}/agentapi/messages", get(agentapi::messages))
        .route("/sessions/{id}/agentapi/message", post(agentapi::message))
        .route("/sessions/{id}/agentapi/events", get(agentapi::events))
        .route("/sessions/{id}/send", post(sessions::send))
        .route("/sessions/{id}/keys", post(sessions::keys))
        .route("/sessions/{id}/interrupt", post(sessions::interrupt))
        .route("/sessions/{id}/stop", post(sessions::stop))
        .route("/sessions/{id}/wait", post(sessions::wait))
        .route("/sessions/{id}/pause", post(sessions::pause))
        .route("/sessions/{id}/continue", post(sessions::continue_session))
        .route("/sessions/{id}/suspend", post(sessions::suspend))
        .route("/sessions/{id}/resume", post(sessions::resume))
        .route("/sessions/{id}/approve", post(sessions::approve))
        .route("/sessions/{id}/deny", post(sessions::deny))
        .route("/sessions/{id}/answer", post(sessions::answer))
        .route("/events", get(feed::page_or_stream))
        .route("/events/stream", get(feed::stream))
        .route("/tasks", get(sessions::tasks))
        .route("/tasks/{id}", get(sessions::task))
        .route(
            "/tasks/{id}/budget",
            get(budgets::task)
                .post(budgets::set_task)
                .delete(budgets::clear_task),
        )
        .route(
            "/sessions/{id}/budget",
            get(budgets::session)
                .post(budgets::set_session)
                .delete(budgets::clear_session),
        )
        .route("/agents", get(sessions::agents))
        .route("/sessions/{id}/samples", get(reports::samples))
        .route("/usage/report", get(reports::usage_report))
        .route("/sessions/{id}/snapshots", post(snapshots::take))
        .route("/snapshots", get(snapshots::list))
        .route("/snapshots/prune", post(snapshots::prune))
        .route(
            "/snapshots/{id}",
            get(snapshots::show).delete(snapshots::remove),
        )
        .route("/snapshots/{id}/restore", post(snapshots::restore))
        .route("/templates", get(templates::list))
        .route(
            "/templates/{name}",
            get(templates::show)
                .post(templates::save)
                .delete(templates::remove),
        )
        .route("/templates/{name}/history", get(templates::history))
        .route("/templates/{name}/rollback", post(templates::rollback))
        .route("/templates/{name}/check", get(templates::check))
        .route("/auth/me", get(dashboard::me))
        .nest_service("/mcp", mcp_service(&state))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate_with_token,
        ))
        // gzip for clients that ask (a list of 100 records is ~190 KB of JSON); event
        // streams are left alone by the default predicate, so SSE is never buffered.
        .layer(tower_http::compression::CompressionLayer::new());
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/", get(dashboard::index))
        .route("/assets/{*path}", get(dashboard::asset))
        .route("/auth/login", post(dashboard::login))
        .route("/auth/link", get(dashboard::link))
        .route("/auth/logout", post(dashboard::logout))
        .merge(api)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate_browser,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The MCP tools over MCP's streamable HTTP, behind the same gate as the API (which checks
/// Host and Origin, so rmcp's own Host list is turned off: it knows only loopback names).
fn mcp_service(
    state: &AppState,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    crate::mcp::SessionTools,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let mgr = state.mgr.clone();
    let mut config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    config.max_request_body_bytes = MAX_BODY_BYTES;
    StreamableHttpService::new(
        move || Ok(crate::mcp::SessionTools::new(mgr.clone())),
        std::sync::Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// Host and Origin, for every request (also unknown paths and `/health`).
async fn gate_browser(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match st.gate.check(req.headers(), false) {
        Ok(()) => next.run(req).await,
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

/// The token, for every API route.
async fn gate_with_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match st.gate.check(req.headers(), true) {
        Ok(()) => next.run(req).await,
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

/// `GET /health`: the server runs (no token needed, nothing about sessions).
async fn health() -> Json<Value> {
    Json(json!({"ok": true, "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /openapi.json`: the API's OpenAPI document (no token needed: it says nothing about
/// sessions).
async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn not_found(uri: axum::http::Uri) -> ServerError {
    ServerError::NotFound(format!(
        "no route {}; the routes are listed in docs/ARCHITECTURE.md (Server)",
        uri.path()
    ))
}

/// The raw body, or why it could not be read (413 when too large).
pub(crate) fn body_bytes(body: std::result::Result<Bytes, BytesRejection>) -> Result<Bytes> {
    body.map_err(|r| ServerError::BadRequest {
        status: r.status(),
        message: match r.status() {
            axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                format!("the request body is larger than {MAX_BODY_BYTES} bytes")
            }
            _ => format!("the request body could not be read: {}", r.body_text()),
        },
    })
}

/// A JSON body as `T`; an empty body reads as `{}` (every field optional then).
pub(crate) fn json_body<T: DeserializeOwned>(
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<T> {
    let bytes = body_bytes(body)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ServerError::bad_request("the request body is not UTF-8 JSON"))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    Ok(agent_sessions::requests::parse(text, "the request body")?)
}

/// The query string as `T`, with a JSON error when it does not fit.
pub(crate) fn query<T: DeserializeOwned>(
    q: std::result::Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T> {
    q.map(|q| q.0)
        .map_err(|r| ServerError::bad_request(format!("bad query string: {}", r.body_text())))
}
