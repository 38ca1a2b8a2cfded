//! `serve` and `mcp`: run the HTTP server or the MCP server (crates/server) in this process.

use crate::cli::ServeArgs;
use agent_sessions::{Error, Result};
use agent_sessions_server::{ServeOptions, ServerError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Serves until SIGINT or SIGTERM. Prints where it listens once it takes requests: a line
/// on stderr, and with `--json` one JSON line on stdout (`url`, `token_path`) for programs
/// that start it on port 0.
pub fn serve(home: Option<PathBuf>, a: ServeArgs, json: bool) -> Result<ExitCode> {
    let listen = match (&a.listen, &a.unix) {
        (None, Some(_)) => None,
        (listen, _) => {
            let text = listen
                .as_deref()
                .unwrap_or(agent_sessions_server::DEFAULT_LISTEN);
            Some(text.parse().map_err(|_| {
                Error::InvalidArgument(format!(
                    "--listen {text:?} is not an address and port, e.g. 127.0.0.1:7420"
                ))
            })?)
        }
    };
    if a.max_connections == 0 {
        return Err(Error::InvalidArgument(
            "--max-connections must be at least 1".into(),
        ));
    }
    let opts = ServeOptions {
        home,
        listen,
        unix: a.unix,
        tls: a.tls_cert.zip(a.tls_key),
        allow_remote: a.allow_remote,
        insecure_no_tls: a.insecure_no_tls,
        max_connections: a.max_connections,
    };
    let ready = |b: &agent_sessions_server::Bound| {
        if let (Some(url), Some(addr)) = (&b.url, b.addr) {
            if !addr.ip().is_loopback() && url.starts_with("http:") {
                eprintln!(
                    "agent-sessions: WARNING: serving {url} over plain HTTP: the token crosses the network unencrypted"
                );
            }
            eprintln!(
                "agent-sessions: serving {url} (token in {})",
                b.token_path.display()
            );
        }
        if let Some(link) = &b.login_url {
            eprintln!(
                "agent-sessions: dashboard: open {link} to sign in (works once, for 15 minutes)"
            );
        }
        if let Some(path) = &b.unix {
            eprintln!(
                "agent-sessions: serving unix:{} (your own processes only, no token)",
                path.display()
            );
        }
        if json {
            let line = serde_json::json!({"url": b.url, "login_url": b.login_url, "unix": b.unix, "token_path": b.token_path});
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    };
    finish(agent_sessions_server::run(opts, ready))
}

/// `mcp`: the MCP tools on stdin and stdout until the client closes them.
pub fn mcp(home: Option<PathBuf>) -> Result<ExitCode> {
    finish(agent_sessions_server::mcp::run_stdio(home))
}

fn finish(r: agent_sessions_server::Result<()>) -> Result<ExitCode> {
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(ServerError::Core(e)) => Err(e),
        Err(ServerError::Io { context, source }) => Err(Error::io(context, source)),
        Err(e) => Err(Error::InvalidArgument(e.to_string())),
    }
}
