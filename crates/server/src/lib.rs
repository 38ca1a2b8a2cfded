//! `agent-sessions serve`: the sessions over HTTP, thin over the core like the other
//! bindings (no session logic here: each route is one [`agent_sessions::SessionManager`]
//! call on tokio's blocking pool).
//!
//! Layers, as in the folders: [`auth`] (token file, Host and Origin checks), `routes`
//! (paths → handlers, request parsing), [`state`] (the shared manager), [`error`] (every
//! error as JSON with a status). axum on tokio serves it; see docs/ARCHITECTURE.md
//! ("Server") for why.

pub mod auth;
pub mod error;
pub mod listen;
pub mod mcp;
pub mod openapi;
pub mod ops;
mod routes;
pub mod signin;
pub mod state;

pub use error::{Result, ServerError};
pub use routes::MAX_BODY_BYTES;

use agent_sessions::SessionManager;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The address `serve` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7420";

/// How long a stopping server waits for open streams and requests to finish.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The sessions' home folder; `None`: the default (`AGENT_SESSIONS_HOME`, else
    /// `$XDG_STATE_HOME/agent-sessions`, else `~/.local/state/agent-sessions`).
    pub home: Option<PathBuf>,
    /// Address and port (port 0: any free port; the one taken is printed); `None` with
    /// `unix` set: the Unix socket only.
    pub listen: Option<SocketAddr>,
    /// Also (or only) a Unix socket at this path, for this user's processes (no token).
    pub unix: Option<PathBuf>,
    /// TLS certificate chain and private key (PEM), for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Allow a non-loopback address.
    pub allow_remote: bool,
    /// Serve a non-loopback address over plain HTTP (the token then crosses the network in
    /// the clear); needs `allow_remote`.
    pub insecure_no_tls: bool,
    /// Connections open at once, per listener; one more is refused (503).
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            home: None,
            listen: Some(DEFAULT_LISTEN.parse().expect("a valid address")),
            unix: None,
            tls: None,
            allow_remote: false,
            insecure_no_tls: false,
            max_connections: listen::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A bound server, not yet serving: where it listens and how to reach it.
pub struct Bound {
    listeners: Vec<(listen::Limited, axum::Router)>,
    /// The TCP address taken (the real port when 0 was asked for).
    pub addr: Option<SocketAddr>,
    /// `http://` or `https://` and the address.
    pub url: Option<String>,
    /// A one-time link that signs a browser in to the dashboard (valid 15 minutes).
    pub login_url: Option<String>,
    /// The Unix socket, when asked for (removed when the server stops).
    pub unix: Option<PathBuf>,
    /// Where the token is.
    pub token_path: PathBuf,
}

/// Checks the options, makes or reads the token and binds the addresses.
pub async fn bind(opts: &ServeOptions) -> Result<Bound> {
    if opts.listen.is_none() && opts.unix.is_none() {
        return Err(ServerError::Config(
            "nothing to listen on: give --listen ADDR:PORT or --unix PATH".into(),
        ));
    }
    if let Some(listen) = opts.listen {
        let loopback = listen.ip().is_loopback();
        if !loopback && !opts.allow_remote {
            return Err(ServerError::Config(format!(
                "{listen} is not a loopback address: pass --allow-remote to serve other machines"
            )));
        }
        if !loopback && opts.tls.is_none() && !opts.insecure_no_tls {
            return Err(ServerError::Config(
                "serving other machines needs TLS: pass --tls-cert and --tls-key, or --insecure-no-tls to send the token in the clear".into(),
            ));
        }
    }
    // The TLS files first: a bad certificate fails before anything listens.
    let tls = match &opts.tls {
        Some((cert, key)) => Some(listen::tls_config(cert, key)?),
        None => None,
    };
    let mgr = tokio::task::spawn_blocking({
        let home = opts.home.clone();
        move || SessionManager::open(home.as_deref())
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))??;
    let root = mgr.home().root().to_path_buf();
    let streams = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let changes = state::watch_store(&mgr, streams.clone())?;
    let token = auth::load_or_create_token(&root)?;
    let mgr = Arc::new(mgr);
    let state_with = |gate: auth::Gate| state::AppState {
        mgr: mgr.clone(),
        gate: Arc::new(gate),
        changes: changes.clone(),
        streams: streams.clone(),
    };
    let mut bound = Bound {
        listeners: Vec::new(),
        addr: None,
        url: None,
        login_url: None,
        unix: None,
        token_path: auth::token_path(&root),
    };
    if let Some(listen) = opts.listen {
        let tcp = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ServerError::io(format!("listening on {listen}"), e))?;
        let addr = tcp
            .local_addr()
            .map_err(|e| ServerError::io("reading the bound address", e))?;
        let mut gate = auth::Gate::new(token.clone(), listen.ip().is_loopback(), addr.port());
        gate.signins = Arc::new(signin::SignIns::new(tls.is_some()));
        let code = gate.signins.mint_code();
        let (limited, scheme) = match &tls {
            Some(config) => (
                listen::Limited::tls(tcp, config.clone(), opts.max_connections),
                "https",
            ),
            None => (listen::Limited::tcp(tcp, opts.max_connections), "http"),
        };
        let limited = limited.map_err(|e| ServerError::io("reading the bound address", e))?;
        bound
            .listeners
            .push((limited, routes::router(state_with(gate))));
        bound.addr = Some(addr);
        bound.url = Some(format!("{scheme}://{addr}"));
        bound.login_url = Some(format!("{scheme}://{addr}/auth/link?code={code}"));
    }
    if let Some(path) = &opts.unix {
        let unix = listen::bind_unix(path).await?;
        let limited = listen::Limited::unix(unix, opts.max_connections);
        bound.listeners.push((
            limited,
            routes::router(state_with(auth::Gate::vouched(token.clone()))),
        ));
        bound.unix = Some(path.clone());
    }
    Ok(bound)
}

impl Bound {
    /// Serves until `shutdown` completes; requests in flight are finished first.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut servers = tokio::task::JoinSet::new();
        for (listener, app) in self.listeners {
            let mut stopped = stopped.clone();
            let app = app.into_make_service_with_connect_info::<listen::Peer>();
            servers.spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            });
        }
        let stop = Arc::new(stop);
        let stop_on_signal = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_on_signal.send(true);
        });
        let drain = async {
            let mut result = Ok(());
            while let Some(done) = servers.join_next().await {
                let done = done.map_err(|e| ServerError::Internal(e.to_string()));
                if let Err(e) = done.and_then(|r| r.map_err(|e| ServerError::io("serving", e))) {
                    result = Err(e);
                    let _ = stop.send(true);
                }
            }
            result
        };
        // Streams (SSE, terminals, MCP) stay open as long as their clients do: once stopping,
        // requests get a moment to finish, then the server goes anyway.
        let mut stopping = stopped.clone();
        let result = tokio::select! {
            r = drain => r,
            _ = async {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::sleep(DRAIN_TIMEOUT).await;
            } => Ok(()),
        };
        if let Some(path) = &self.unix {
            let _ = std::fs::remove_file(path);
        }
        result
    }
}

/// Runs the server on a new tokio runtime until SIGINT or SIGTERM. `ready` is called with
/// the bound server's addresses and token path before the first request is taken.
pub fn run(opts: ServeOptions, ready: impl FnOnce(&Bound)) -> Result<()> {
    raise_open_files_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ServerError::io("starting the runtime", e))?;
    rt.block_on(async move {
        let bound = bind(&opts).await?;
        ready(&bound);
        bound.serve(shutdown_signal()).await
    })
}

/// Lets the server hold as many connections as its limit asks: the soft limit on open files
/// (often 1024) up to the hard one.
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, run until killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
