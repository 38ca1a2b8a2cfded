//! Who may talk to the server: the bearer token, and the browser checks against DNS
//! rebinding and cross-site requests.
//!
//! The token is 32 random bytes (hex), made on the first `serve` in `<home>/server.token`
//! with mode 0600, and read again by later runs; a token file that others can read is
//! refused rather than used. Every request but `GET /health` carries it as
//! `Authorization: Bearer <token>`, SSE and WebSocket requests too. It is compared in
//! constant time and never logged.
//!
//! A browser sends `Host` and, on cross-origin requests, `Origin`. On a loopback address
//! only loopback host names are served (a DNS-rebinding page reaches us under its own name),
//! and an `Origin` must be this server itself.

use crate::error::{Result, ServerError};
use axum::http::{header, HeaderMap};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The token file's name in the home folder.
pub const TOKEN_FILE: &str = "server.token";

/// The token file of `home`.
pub fn token_path(home: &Path) -> PathBuf {
    home.join(TOKEN_FILE)
}

/// Reads the server token of `home`, making it first when there is none.
pub fn load_or_create_token(home: &Path) -> Result<String> {
    let path = token_path(home);
    match std::fs::metadata(&path) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(ServerError::Config(format!(
                    "{} can be read by other users; remove it (a new token is made) or run `chmod 600 {}`",
                    path.display(),
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ServerError::io(format!("reading {}", path.display()), e))?;
            let token = text.trim().to_string();
            if token.len() < 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ServerError::Config(format!(
                    "{} does not hold a token; remove it and a new one is made",
                    path.display()
                )));
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_token(&path),
        Err(e) => Err(ServerError::io(format!("reading {}", path.display()), e)),
    }
}

fn create_token(path: &Path) -> Result<String> {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written under a temporary name and renamed, so a reader never sees half a token;
    // create_new, so a concurrent first start cannot have its file replaced under it.
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| ServerError::io(format!("creating {}", tmp.display()), e))?;
    f.write_all(format!("{token}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| ServerError::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| ServerError::io(format!("creating {}", path.display()), e))?;
    Ok(token)
}

/// What a request is checked against.
#[derive(Debug, Clone)]
pub struct Gate {
    token: String,
    /// Host header values served (`127.0.0.1:7420`, `localhost:7420`, ...); `None`: any
    /// (a non-loopback listener, where the token and TLS are the protection).
    hosts: Option<Vec<String>>,
    /// The kernel vouched for every peer (the Unix socket lets in this user only): no
    /// token is asked for.
    vouched: bool,
    /// Browsers signed in with a cookie instead of the token.
    pub signins: std::sync::Arc<crate::signin::SignIns>,
}

impl Gate {
    /// A gate for `token`, serving the loopback names of `port` when `loopback`.
    pub fn new(token: String, loopback: bool, port: u16) -> Gate {
        let hosts = loopback.then(|| {
            ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .map(|h| format!("{h}:{port}"))
                .collect()
        });
        Gate {
            token,
            hosts,
            vouched: false,
            signins: Default::default(),
        }
    }

    /// The gate of the Unix socket: its peers are this user (checked by uid on accept), so
    /// no token is needed; Host is not checked (no browser reaches a Unix socket), Origin
    /// still is.
    pub fn vouched(token: String) -> Gate {
        Gate {
            token,
            hosts: None,
            vouched: true,
            signins: Default::default(),
        }
    }

    /// Checks the Host, the Origin and the token of a request.
    pub fn check(&self, headers: &HeaderMap, needs_token: bool) -> Result<()> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.to_ascii_lowercase());
        if let (Some(hosts), Some(host)) = (&self.hosts, &host) {
            if !hosts.iter().any(|h| h == host) {
                return Err(ServerError::Forbidden(format!(
                    "this server answers to {} only, not to host {host:?}",
                    hosts.join(", ")
                )));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
            let same = host.as_ref().is_some_and(|h| {
                origin == format!("http://{h}") || origin == format!("https://{h}")
            });
            if !same {
                return Err(ServerError::Forbidden(format!(
                    "requests from the page {origin:?} are refused: only this server's own pages may call it"
                )));
            }
        }
        if !needs_token || self.vouched {
            return Ok(());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given.is_none()
            && crate::signin::cookie_value(headers).is_some_and(|c| self.signins.is_open(&c))
        {
            return Ok(());
        }
        match given {
            None => Err(ServerError::Unauthorized(
                "this server needs its token: send `Authorization: Bearer <token>` (the token is in <home>/server.token), or sign in at / in a browser".into(),
            )),
            Some(t) if constant_time_eq(t.trim().as_bytes(), self.token.as_bytes()) => Ok(()),
            Some(_) => Err(ServerError::Unauthorized(
                "wrong token: use the one in <home>/server.token".into(),
            )),
        }
    }
}

/// Equal without an early exit, so timing does not tell how much of a guess was right.
impl Gate {
    /// Is `t` this server's token (compared in constant time)?
    pub fn is_token(&self, t: &str) -> bool {
        constant_time_eq(t.trim().as_bytes(), self.token.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_token_is_made_once_private_and_read_again() {
        let d = tempfile::tempdir().unwrap();
        let t = load_or_create_token(d.path()).unwrap();
        assert_eq!(t.len(), 64);
        let mode = std::fs::metadata(token_path(d.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_token(d.path()).unwrap(), t);
        std::fs::set_permissions(token_path(d.path()), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let e = load_or_create_token(d.path()).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn host_origin_and_token_are_checked() {
        let g = Gate::new("a".repeat(64), true, 7420);
        let ok = format!("Bearer {}", "a".repeat(64));
        let good = headers(&[
            (header::HOST, "127.0.0.1:7420"),
            (header::AUTHORIZATION, &ok),
        ]);
        assert!(g.check(&good, true).is_ok());
        let rebound = headers(&[
            (header::HOST, "evil.example:7420"),
            (header::AUTHORIZATION, &ok),
        ]);
        assert!(matches!(
            g.check(&rebound, true),
            Err(ServerError::Forbidden(_))
        ));
        let cross = headers(&[
            (header::HOST, "localhost:7420"),
            (header::ORIGIN, "http://evil.example"),
            (header::AUTHORIZATION, &ok),
        ]);
        assert!(matches!(
            g.check(&cross, true),
            Err(ServerError::Forbidden(_))
        ));
        let same = headers(&[
            (header::HOST, "localhost:7420"),
            (header::ORIGIN, "http://localhost:7420"),
            (header::AUTHORIZATION, &ok),
        ]);
        assert!(g.check(&same, true).is_ok());
        let none = headers(&[(header::HOST, "localhost:7420")]);
        assert!(matches!(
            g.check(&none, true),
            Err(ServerError::Unauthorized(_))
        ));
        assert!(g.check(&none, false).is_ok());
        let wrong = headers(&[
            (header::HOST, "localhost:7420"),
            (header::AUTHORIZATION, "Bearer b"),
        ]);
        assert!(matches!(
            g.check(&wrong, true),
            Err(ServerError::Unauthorized(_))
        ));
    }
}
