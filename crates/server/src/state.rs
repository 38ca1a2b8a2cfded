//! What every request handler shares: the one session manager and the gate.

use crate::auth::Gate;
use crate::error::{Result, ServerError};
use crate::ops::Op;
use agent_sessions::SessionManager;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The server's shared state. Cloning is cheap (two `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The core; every operation goes through it.
    pub mgr: Arc<SessionManager>,
    /// Token, Host and Origin checks.
    pub gate: Arc<Gate>,
    /// Bumped whenever anything was committed to the store (see [`watch_store`]); streams
    /// wait on it instead of polling their sessions.
    pub changes: tokio::sync::watch::Receiver<u64>,
    /// How many streams are open; the watch looks often only while some are.
    pub streams: Arc<AtomicUsize>,
}

/// Counts one open stream for as long as it lives.
pub struct StreamGuard(Arc<AtomicUsize>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AppState {
    /// Registers an open stream (the store watch looks often while any is open).
    pub fn open_stream(&self) -> StreamGuard {
        self.streams.fetch_add(1, Ordering::SeqCst);
        StreamGuard(self.streams.clone())
    }

    /// Waits until something was committed since `rx` last looked, at most `limit`.
    pub async fn wait_for_change(
        &self,
        rx: &mut tokio::sync::watch::Receiver<u64>,
        limit: std::time::Duration,
    ) {
        let _ = tokio::time::timeout(limit, rx.changed()).await;
    }
}

/// How often the store is looked at while some stream is open, and while none is.
const WATCHED: std::time::Duration = std::time::Duration::from_millis(3);
const UNWATCHED: std::time::Duration = std::time::Duration::from_millis(100);

/// Starts the one thread that notices commits to the store (by the hosts, other processes or
/// this server) and bumps the returned watch. It reads SQLite's `data_version` (no table
/// read) every 3 ms while a stream is open, every 100 ms while none is, so a new event
/// reaches a stream within a few milliseconds and idle streams cost nothing each.
pub fn watch_store(
    mgr: &SessionManager,
    streams: Arc<AtomicUsize>,
) -> agent_sessions::Result<tokio::sync::watch::Receiver<u64>> {
    let mut changes = mgr.store_changes()?;
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    std::thread::Builder::new()
        .name("store-watch".into())
        .spawn(move || loop {
            let pause = if streams.load(Ordering::SeqCst) > 0 {
                WATCHED
            } else {
                UNWATCHED
            };
            std::thread::sleep(pause);
            match changes.changed() {
                Ok(true) => tx.send_modify(|v| *v = v.wrapping_add(1)),
                Ok(false) => {}
                // A store that cannot be read now (busy, full disk): streams fall back to
                // their own timeout; try again later.
                Err(_) => std::thread::sleep(UNWATCHED),
            }
            if tx.is_closed() {
                return;
            }
        })
        .map_err(|e| agent_sessions::Error::io("starting the store watch", e))?;
    Ok(rx)
}

impl AppState {
    /// Runs a core call on tokio's blocking pool: the core is synchronous (SQLite, the
    /// hosts' sockets) and may wait, which must not hold an async worker.
    pub async fn core<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&SessionManager) -> agent_sessions::Result<T> + Send + 'static,
    {
        self.blocking(move |m| f(m).map_err(ServerError::from))
            .await
    }

    /// Runs a shared operation (see [`crate::ops`]) on the blocking pool.
    pub async fn op(&self, op: Op, id: String, args: Value) -> Result<Value> {
        self.blocking(move |m| crate::ops::run(m, op, &id, &args))
            .await
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&SessionManager) -> Result<T> + Send + 'static,
    {
        let mgr = self.mgr.clone();
        match tokio::task::spawn_blocking(move || f(&mgr)).await {
            Ok(r) => r,
            Err(e) => Err(ServerError::Internal(format!(
                "a core call did not finish: {e}"
            ))),
        }
    }
}
