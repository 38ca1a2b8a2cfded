//! The server's one error type and how each error becomes an HTTP response.
//!
//! Every error is JSON, `{"error": {"kind": ..., "message": ...}}`, so a client never has to
//! parse text. The core's errors keep their kind (`session_not_found`, ...; the names of
//! [`agent_sessions::ErrorKind`] in snake case) and map to a status by what the caller can do
//! about them: 400 fix the request, 404 no such session, 409 the session is in the wrong
//! state, 504 a wait ran out of time, 503/507 the store is busy or the disk full.

use agent_sessions::{ErrorKind, StoreCode};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What can go wrong in the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The core refused or failed the operation.
    #[error(transparent)]
    Core(#[from] agent_sessions::Error),
    /// A request the server itself cannot take (a bad query string, a body too large).
    #[error("{message}")]
    BadRequest {
        /// The status to answer with (400, 413, 415).
        status: StatusCode,
        /// What to send instead.
        message: String,
    },
    /// No token, or not the server's token.
    #[error("{0}")]
    Unauthorized(String),
    /// A browser request from a foreign page or a host name we do not serve (DNS rebinding).
    #[error("{0}")]
    Forbidden(String),
    /// No such route.
    #[error("{0}")]
    NotFound(String),
    /// `serve` cannot start as asked (an address it must not listen on without a flag).
    #[error("{0}")]
    Config(String),
    /// The operating system failed a call (bind, the token file).
    #[error("{context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A blocking task of the server ended without an answer (it panicked: a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand for the server's results.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

impl ServerError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ServerError {
        ServerError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ServerError {
        ServerError::Io {
            context: context.into(),
            source,
        }
    }

    /// The status and the `kind` a client sees.
    pub fn status_and_kind(&self) -> (StatusCode, String) {
        match self {
            ServerError::Core(agent_sessions::Error::InvalidJson(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_json".into())
            }
            ServerError::Core(e) => (core_status(e), snake(e.kind().name())),
            ServerError::BadRequest { status, .. } => (*status, "bad_request".into()),
            ServerError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            ServerError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden".into()),
            ServerError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found".into()),
            ServerError::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "config".into()),
            ServerError::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "io".into()),
            ServerError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal".into()),
        }
    }
}

fn core_status(e: &agent_sessions::Error) -> StatusCode {
    use agent_sessions::Error as E;
    match e.kind() {
        ErrorKind::UnsupportedAgent
        | ErrorKind::InvalidSessionId
        | ErrorKind::InvalidPhase
        | ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::SessionNotFound | ErrorKind::TaskNotFound | ErrorKind::SnapshotNotFound => {
            StatusCode::NOT_FOUND
        }
        ErrorKind::SessionNotRunning
        | ErrorKind::SessionActive
        | ErrorKind::NoProcess
        | ErrorKind::NotResumable
        | ErrorKind::StateUnreachable => StatusCode::CONFLICT,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Store => match e {
            E::Store {
                code: StoreCode::Busy,
                ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            E::Store {
                code: StoreCode::Full,
                ..
            } => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        // The agent could not be started (its binary is missing, the host failed).
        ErrorKind::Launch => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Io => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Protocol => StatusCode::BAD_GATEWAY,
    }
}

/// `SessionNotFound` → `session_not_found`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, kind) = self.status_and_kind();
        let body = json!({"error": {"kind": kind, "message": self.to_string()}});
        (status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_snake_case_and_statuses_follow_what_the_caller_can_do() {
        assert_eq!(snake("SessionNotFound"), "session_not_found");
        assert_eq!(snake("Io"), "io");
        let e = ServerError::from(agent_sessions::Error::SessionNotFound("x".into()));
        assert_eq!(
            e.status_and_kind(),
            (StatusCode::NOT_FOUND, "session_not_found".into())
        );
        let e = ServerError::from(agent_sessions::Error::InvalidJson("bad".into()));
        assert_eq!(e.status_and_kind().0, StatusCode::BAD_REQUEST);
        for kind in ErrorKind::ALL {
            // Every kind has a status that is an error.
            let s = snake(kind.name());
            assert!(!s.is_empty() && !s.contains(char::is_uppercase), "{s}");
        }
    }
}
