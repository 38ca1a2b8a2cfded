//! Where the server takes connections: TCP, TCP with TLS (rustls), or a Unix socket whose
//! peers must be this user, all under one limit on open connections.
//!
//! axum serves any [`axum::serve::Listener`]; [`Limited`] is ours. Why a listener of our
//! own rather than a TLS front crate: the limit, the TLS handshake and the peer check all
//! happen before axum sees a connection, in one place, and a slow TLS handshake runs in its
//! own task so it never holds up the next client.

use crate::error::{Result, ServerError};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Connections open at once unless `--max-connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is on the other end, as handlers see it (`ConnectInfo<Peer>`).
#[derive(Debug, Clone)]
pub enum Peer {
    /// A TCP client (with or without TLS).
    Tcp(SocketAddr),
    /// A process of this user on the Unix socket.
    Unix {
        /// Its process id, when the kernel tells.
        pid: Option<i32>,
    },
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "{a}"),
            Peer::Unix { pid: Some(p) } => write!(f, "unix pid {p}"),
            Peer::Unix { pid: None } => write!(f, "unix"),
        }
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Limited>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Limited>) -> Peer {
        stream.remote_addr().clone()
    }
}

/// The certificate chain and key `serve` presents (PEM files).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        ServerError::Config(format!("--{what} {}: {e}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| bad("tls-cert", cert, &e))?;
    if chain.is_empty() {
        return Err(bad(
            "tls-cert",
            cert,
            &"no certificate in the file (PEM expected)",
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("tls-key", key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            ServerError::Config(format!("--tls-cert and --tls-key do not go together: {e}"))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Binds a Unix socket at `path`, private to this user. A socket left by a server that is
/// gone is replaced; one that still answers is not.
pub async fn bind_unix(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServerError::Config(format!(
                "--unix {}: something that is not a socket is there; choose another path",
                path.display()
            )));
        }
        if UnixStream::connect(path).await.is_ok() {
            return Err(ServerError::Config(format!(
                "--unix {}: another server listens there",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(|e| {
            ServerError::io(format!("removing the old socket {}", path.display()), e)
        })?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| ServerError::io(format!("listening on {}", path.display()), e))?;
    // Private at once; peers are checked by uid on every connection anyway, which also
    // covers the moment between bind and chmod.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| ServerError::io(format!("making {} private", path.display()), e))?;
    Ok(listener)
}

enum Source {
    Tcp(TcpListener),
    /// Connections whose TLS handshake finished, from the accept task.
    Tls(mpsc::Receiver<(Io, Peer)>),
    Unix(UnixListener),
}

/// A listener that keeps at most `max` connections open: one more is answered with a 503
/// (plain HTTP) or closed (TLS, Unix) and counted, so a flood of clients cannot take the
/// server's file descriptors.
pub struct Limited {
    source: Source,
    slots: Arc<Semaphore>,
    max: usize,
    local: Peer,
}

impl Limited {
    /// Plain TCP.
    pub fn tcp(listener: TcpListener, max: usize) -> io::Result<Limited> {
        let local = Peer::Tcp(listener.local_addr()?);
        Ok(Limited::new(Source::Tcp(listener), max, local))
    }

    /// TCP with TLS: a task accepts and runs each handshake in a task of its own.
    pub fn tls(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        max: usize,
    ) -> io::Result<Limited> {
        let local = Peer::Tcp(listener.local_addr()?);
        let (tx, rx) = mpsc::channel(64);
        let me = Limited::new(Source::Tls(rx), max, local);
        let slots = me.slots.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        pause_after(&e).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    drop(tcp);
                    continue;
                };
                if tx.is_closed() {
                    return;
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let shake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                    if let Ok(Ok(tls)) = shake.await {
                        let io = Io {
                            kind: IoKind::Tls(Box::new(tls)),
                            _slot: slot,
                        };
                        let _ = tx.send((io, Peer::Tcp(addr))).await;
                    }
                });
            }
        });
        Ok(me)
    }

    /// A Unix socket: only processes of this user get in.
    pub fn unix(listener: UnixListener, max: usize) -> Limited {
        Limited::new(Source::Unix(listener), max, Peer::Unix { pid: None })
    }

    fn new(source: Source, max: usize, local: Peer) -> Limited {
        let max = max.max(1);
        Limited {
            source,
            slots: Arc::new(Semaphore::new(max)),
            max,
            local,
        }
    }

    /// The next connection that passes: a free slot, a finished handshake, the right uid.
    async fn next(&mut self) -> Option<(Io, Peer)> {
        match &mut self.source {
            Source::Tls(rx) => rx.recv().await,
            Source::Tcp(l) => loop {
                let (mut tcp, addr) = match l.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        pause_after(&e).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                match self.slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let io = Io {
                            kind: IoKind::Tcp(tcp),
                            _slot: slot,
                        };
                        return Some((io, Peer::Tcp(addr)));
                    }
                    Err(_) => refuse(&mut tcp, self.max).await,
                }
            },
            Source::Unix(l) => loop {
                let (unix, _) = match l.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        pause_after(&e).await;
                        continue;
                    }
                };
                let Ok(cred) = unix.peer_cred() else { continue };
                // SAFETY: geteuid has no preconditions and cannot fail.
                if cred.uid() != unsafe { libc::geteuid() } {
                    continue;
                }
                let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                    continue;
                };
                let io = Io {
                    kind: IoKind::Unix(unix),
                    _slot: slot,
                };
                return Some((io, Peer::Unix { pid: cred.pid() }));
            },
        }
    }
}

impl axum::serve::Listener for Limited {
    type Io = Io;
    type Addr = Peer;

    async fn accept(&mut self) -> (Io, Peer) {
        loop {
            if let Some(c) = self.next().await {
                return c;
            }
            // The TLS accept task is gone (it never returns while the listener lives).
            std::future::pending::<()>().await;
        }
    }

    fn local_addr(&self) -> io::Result<Peer> {
        Ok(self.local.clone())
    }
}

/// A full server's answer on plain HTTP, before the connection is closed.
async fn refuse(tcp: &mut TcpStream, max: usize) {
    let body = serde_json::json!({"error": {"kind": "busy", "message": format!(
        "the server has {max} connections open, its limit: close some, or start it with a higher --max-connections"
    )}})
    .to_string();
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(reply.as_bytes())).await;
}

/// After a failed accept: out of file descriptors (or another resource) is waited out.
async fn pause_after(e: &io::Error) {
    use io::ErrorKind::*;
    if !matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One open connection; its slot is given back when it closes.
pub struct Io {
    kind: IoKind,
    _slot: OwnedSemaphorePermit,
}

enum IoKind {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Unix(UnixStream),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().kind {
            IoKind::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            IoKind::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            IoKind::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().kind {
            IoKind::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            IoKind::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            IoKind::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().kind {
            IoKind::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            IoKind::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            IoKind::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.kind {
            IoKind::Tcp(s) => s.is_write_vectored(),
            IoKind::Tls(s) => s.is_write_vectored(),
            IoKind::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().kind {
            IoKind::Tcp(s) => Pin::new(s).poll_flush(cx),
            IoKind::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            IoKind::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().kind {
            IoKind::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            IoKind::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            IoKind::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
