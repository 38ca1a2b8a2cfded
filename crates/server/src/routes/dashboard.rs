//! The dashboard: its files at `/` and `/assets/...` (embedded in the binary at build time,
//! so it works offline and a `pip install` needs nothing else), and the browser sign-in
//! routes under `/auth/` (see [`crate::signin`]).
//!
//! The page itself holds no data and needs no token; everything it shows comes from the
//! API, which asks for the cookie. Its answers carry a Content-Security-Policy that lets it
//! load and connect to this server only.

use super::json_body;
use crate::error::{Result, ServerError};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

/// What the page may load and reach: this server only (styles inline too: xterm.js writes
/// its own `<style>` element).
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Text files are sent gzip-compressed to browsers that take it (all of them): compressed
/// once, on first request, and kept.
fn gzipped(path: &str, data: &[u8]) -> std::sync::Arc<Vec<u8>> {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
        return hit.clone();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let packed = enc
        .write_all(data)
        .and_then(|()| enc.finish())
        .map(Arc::new)
        .unwrap_or_else(|_| Arc::new(Vec::new()));
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_string(), packed.clone());
    packed
}

fn file(path: &str, req: &HeaderMap) -> Result<Response> {
    let Some(f) = Assets::get(path) else {
        return Err(ServerError::NotFound(format!("no dashboard file {path}")));
    };
    let etag = format!(
        "\"{}\"",
        f.metadata
            .sha256_hash()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let ctype = content_type(path);
    let text = ctype.starts_with("text/") || ctype.ends_with("json") || ctype.ends_with("+xml");
    let gzip = text
        && req
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("gzip"));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let body = gzipped(path, &f.data);
        let mut r = (StatusCode::OK, body.as_ref().clone()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        (StatusCode::OK, f.data.into_owned()).into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header value"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(r)
}

/// `GET /`: the dashboard's page.
pub(crate) async fn index(headers: HeaderMap) -> Result<Response> {
    file("index.html", &headers)
}

/// `GET /assets/{*path}`: one of its files.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response> {
    if path.split('/').any(|part| part == ".." || part.is_empty()) {
        return Err(ServerError::NotFound(format!("no dashboard file {path}")));
    }
    file(&path, &headers)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    token: String,
}

fn signed_in(st: &AppState, status: StatusCode) -> Response {
    let value = st.gate.signins.open();
    let mut r = (status, Json(json!({"ok": true}))).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&st.gate.signins.set_cookie(&value)).expect("a valid cookie"),
    );
    r
}

/// `POST /auth/login {"token"}`: the token, pasted once, for a cookie.
pub(crate) async fn login(
    State(st): State<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let Login { token } = json_body(body)?;
    if !st.gate.is_token(&token) {
        return Err(ServerError::Unauthorized(
            "wrong token: paste the one in <home>/server.token".into(),
        ));
    }
    Ok(signed_in(&st, StatusCode::OK))
}

#[derive(Deserialize)]
pub(crate) struct Link {
    code: Option<String>,
}

/// `GET /auth/link?code=`: the one-time link `serve` prints; signs in and goes to `/`.
pub(crate) async fn link(State(st): State<AppState>, q: Query<Link>) -> Result<Response> {
    let code = q.0.code.unwrap_or_default();
    if !st.gate.signins.redeem_code(&code) {
        return Err(ServerError::Unauthorized(
            "this sign-in link was used already or has expired: restart `serve` for a new one, or paste the token from <home>/server.token at /".into(),
        ));
    }
    let mut r = signed_in(&st, StatusCode::SEE_OTHER);
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/"));
    Ok(r)
}

/// `POST /auth/logout`: forgets this browser's cookie.
pub(crate) async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(c) = crate::signin::cookie_value(&headers) {
        st.gate.signins.close(&c);
    }
    let mut r = Json(json!({"ok": true})).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&st.gate.signins.clear_cookie()).expect("a valid cookie"),
    );
    r
}

/// `GET /auth/me`: 200 when the request is signed in (cookie or token), else the gate's 401.
pub(crate) async fn me() -> Json<serde_json::Value> {
    Json(json!({"ok": true}))
}
