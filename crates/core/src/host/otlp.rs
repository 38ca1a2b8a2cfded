//! The session's OpenTelemetry receiver: the agent's own log export (see
//! [`crate::services::otel_launch`]) posts every API request it makes here, and each one is
//! appended to `<session dir>/otel.jsonl`, from which every reader sums the session's tokens
//! (see [`crate::services::usage::otel_usage`]).
//!
//! A small HTTP/1.1 server with std only, for one route: `POST /v1/logs` with an OTLP/HTTP
//! JSON body (what all three agents send). `/v1/metrics` and `/v1/traces` are answered 200
//! and thrown away, so an exporter never retries them. It listens on 127.0.0.1 only, on a
//! port the kernel picks, and answers 401 to any request without this session's secret
//! (`authorization: Bearer <secret>`): other local users and processes can reach the port,
//! not the figures. Bodies: `Content-Length` or chunked (Claude Code and Gemini CLI send
//! chunked, Codex a length), at most [`MAX_BODY`] (413 beyond), no content encoding (415).
//! Every response closes its connection (the exporters reconnect for the next export), so
//! there is no keep-alive state to get wrong.
//!
//! Threads: one blocking in `accept` (no timer, no polling: an idle agent costs nothing),
//! and one per connection while it lasts, at most [`MAX_CONNECTIONS`] at once, each with
//! read and write timeouts so a stalled client cannot hold one. A hand-written server was
//! chosen over a crate (tiny_http, hyper) because one route needs ~300 lines, the crates
//! bring thread pools with timed waits (or an async runtime) into a process that must idle
//! at zero CPU, and nothing else in the host speaks HTTP.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::otlp_http::{read_body, read_head, respond, same_secret, Reject};
use crate::services::otel_launch::{self, Exporter, Plan};
use crate::services::usage::{self, OtelAgent};

/// Largest request body accepted.
pub const MAX_BODY: usize = 4 << 20;
/// Connections served at once; more are closed at once (the exporters retry).
pub const MAX_CONNECTIONS: usize = 8;
/// Stack of a connection's thread.
const CONNECTION_STACK: usize = 256 << 10;
/// How long a connection may stay silent.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Fingerprints kept for spotting a retried export; forgotten past this many (a retry
/// follows its first try closely).
const MAX_SEEN: usize = 1 << 20;

/// The receiver of one session, once armed.
pub(crate) struct Receiver {
    state: Arc<State>,
}

struct State {
    agent: OtelAgent,
    /// `Bearer <secret>`.
    expected: Vec<u8>,
    path: PathBuf,
    book: Mutex<Book>,
    connections: AtomicUsize,
}

/// What was written, under one lock so two exports never interleave their lines.
#[derive(Default)]
struct Book {
    file: Option<File>,
    seen: HashSet<u64>,
    /// Losses already noted in the file (each once).
    noted: Vec<&'static str>,
    write_failed: bool,
}

/// Binds the receiver and gives the agent its settings (environment and arguments), unless
/// the agent is not one that exports its requests, or the user's own OpenTelemetry settings
/// are to be left alone (see [`otel_launch`]). `env` is what the host sets over its own
/// environment for the agent. Never fails: without a receiver the session's tokens come
/// from the agent's records, as a lower bound, and host.log says why.
pub(crate) fn arm(
    agent_type: &str,
    dir: &Path,
    cwd: &Path,
    argv: &mut Vec<String>,
    env: &mut Vec<(OsString, OsString)>,
) -> Option<Receiver> {
    let agent = OtelAgent::from_type(agent_type)?;
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("agent-sessions host: no OpenTelemetry receiver (cannot listen on 127.0.0.1: {e}); tokens come from the agent's records, a lower bound");
            return None;
        }
    };
    let port = listener.local_addr().ok()?.port();
    let mut raw = [0u8; 24];
    crate::model::id::os_random(&mut raw);
    let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let exporter = Exporter {
        base_url: format!("http://127.0.0.1:{port}"),
        secret,
    };
    // The agent's environment as it will start: the host's, then the session's.
    let mut whole: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| (lossy(&k), lossy(&v)))
        .collect();
    whole.extend(env.iter().map(|(k, v)| (lossy(k), lossy(v))));
    let launch = match otel_launch::plan(agent, argv, &whole, cwd, &exporter) {
        Plan::Arm(l) => l,
        Plan::Leave(why) => {
            eprintln!("agent-sessions host: the agent's OpenTelemetry export is left to the user ({why}); tokens come from the agent's records, a lower bound");
            return None;
        }
    };
    let state = Arc::new(State {
        agent,
        expected: format!("Bearer {}", exporter.secret).into_bytes(),
        path: dir.join(usage::OTEL_FILE),
        book: Mutex::new(Book::default()),
        connections: AtomicUsize::new(0),
    });
    let accept_state = state.clone();
    let spawned = std::thread::Builder::new()
        .name("otlp".into())
        .stack_size(64 * 1024)
        .spawn(move || accept_loop(listener, accept_state));
    if let Err(e) = spawned {
        eprintln!("agent-sessions host: no OpenTelemetry receiver (cannot start its thread: {e}); tokens come from the agent's records, a lower bound");
        return None;
    }
    for (k, v) in launch.env {
        env.push((k.into(), v.into()));
    }
    let at = 1.min(argv.len());
    argv.splice(at..at, launch.args);
    eprintln!("agent-sessions host: receiving the agent's OpenTelemetry logs on 127.0.0.1:{port}");
    Some(Receiver { state })
}

fn lossy(s: &std::ffi::OsStr) -> String {
    s.to_string_lossy().into_owned()
}

impl Receiver {
    /// The agent has exited: its export is complete, unless a signal killed it before it
    /// could send its last one (then the figures become a lower bound).
    pub(crate) fn agent_ended(&self, by_signal: bool) {
        if by_signal {
            self.state.note_lost("agent-signalled");
        }
        let mut book = self.state.book.lock();
        self.state.append(&mut book, &usage::ended_line());
    }
}

impl State {
    /// Appends lines under the lock (the caller holds it).
    fn append(&self, book: &mut Book, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if book.file.is_none() {
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(f) => book.file = Some(f),
                Err(e) => return self.write_failed(book, &e),
            }
        }
        if let Some(f) = book.file.as_mut() {
            if let Err(e) = f.write_all(bytes) {
                self.write_failed(book, &e);
            }
        }
    }

    fn write_failed(&self, book: &mut Book, e: &io::Error) {
        if !book.write_failed {
            book.write_failed = true;
            eprintln!(
                "agent-sessions host: cannot write {}: {e}; some of the agent's requests are not counted",
                self.path.display()
            );
        }
    }

    fn note_lost(&self, reason: &'static str) {
        let mut book = self.book.lock();
        if !book.noted.contains(&reason) {
            book.noted.push(reason);
            self.append(&mut book, &usage::lost_line(reason));
        }
    }

    /// Counts the new requests of one export.
    fn take(&self, body: &[u8]) -> std::result::Result<(), String> {
        let batch = usage::parse_logs(self.agent, body)?;
        if batch.requests.is_empty() && batch.prompts.is_empty() {
            return Ok(());
        }
        let mut book = self.book.lock();
        if book.seen.len() > MAX_SEEN {
            book.seen.clear();
        }
        // Prompts first: a prompt and its request in one export stay in that order.
        let prompts: Vec<_> = batch
            .prompts
            .iter()
            .filter(|(fp, _)| book.seen.insert(*fp))
            .map(|(_, p)| p)
            .collect();
        let mut lines = usage::prompt_lines(prompts);
        let fresh: Vec<_> = batch
            .requests
            .iter()
            .filter(|(fp, _)| book.seen.insert(*fp))
            .map(|(_, r)| r)
            .collect();
        lines.extend(usage::request_lines(fresh));
        self.append(&mut book, &lines);
        Ok(())
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else {
            // EMFILE and the like: the next accept may work; accept blocks, so no spin.
            continue;
        };
        if state.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            state.connections.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closed at once
        }
        let st = state.clone();
        let spawned = std::thread::Builder::new()
            .name("otlp-conn".into())
            // serde_json nests at most 128 levels; this leaves room in debug builds too
            // (see the test `the_deepest_document_fits_the_stack`).
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                serve(conn, &st);
                st.connections.fetch_sub(1, Ordering::SeqCst);
                // An export's body and parse are freed; give that heap back, or an idle
                // Gemini CLI (it exports metrics every 10 s) keeps ~100 KB more resident.
                // SAFETY: malloc_trim only returns free memory; safe at any time.
                #[cfg(target_env = "gnu")]
                unsafe {
                    libc::malloc_trim(0);
                }
            });
        if spawned.is_err() {
            state.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve(conn: TcpStream, state: &State) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut r = BufReader::with_capacity(16 << 10, conn);
    let (status, msg) = match handle(&mut r, &write_half, state) {
        Ok(()) => (200, ""),
        Err(Reject::Gone) => return,
        Err(Reject::Status(s, m)) => (s, m),
    };
    respond(&write_half, status, msg);
}

/// Reads and answers one request: `Ok` for a 200.
fn handle(
    r: &mut BufReader<TcpStream>,
    conn: &TcpStream,
    state: &State,
) -> std::result::Result<(), Reject> {
    let head = read_head(r)?;
    let authorized = head
        .authorization
        .as_deref()
        .is_some_and(|a| same_secret(a.trim_ascii(), &state.expected));
    if !authorized {
        return Err(Reject::Status(401, "unauthorized"));
    }
    if head.method != "POST" {
        return Err(Reject::Status(405, "only POST"));
    }
    let logs = match head.path.as_str() {
        "/v1/logs" => true,
        "/v1/metrics" | "/v1/traces" => false,
        _ => return Err(Reject::Status(404, "no such route")),
    };
    if head
        .content_encoding
        .as_deref()
        .is_some_and(|e| !e.eq_ignore_ascii_case("identity"))
    {
        if logs {
            state.note_lost("unsupported-encoding");
        }
        return Err(Reject::Status(415, "no content encoding is supported"));
    }
    if logs
        && !head.content_type.as_deref().is_some_and(|t| {
            t.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    {
        state.note_lost("not-json");
        return Err(Reject::Status(415, "OTLP/HTTP JSON only"));
    }
    if head.expect_continue {
        let _ = (&*conn).write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let body = match read_body(r, &head, if logs { MAX_BODY } else { 0 }) {
        Ok(b) => b,
        Err(Reject::Status(413, m)) if logs => {
            state.note_lost("batch-too-large");
            return Err(Reject::Status(413, m));
        }
        Err(e) => return Err(e),
    };
    if logs {
        // The agent's own exporter sent it: the parser's message would add nothing.
        if state.take(&body).is_err() {
            state.note_lost("bad-batch");
            return Err(Reject::Status(400, "not an OTLP JSON logs export"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_document_fits_the_stack() {
        // As deep as serde_json goes (128 levels with the envelope), in a log record's body
        // and attribute.
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let doc = format!(
            "{{\"resourceLogs\":[{{\"scopeLogs\":[{{\"logRecords\":[{{\"body\":{},\"attributes\":[{{\"key\":\"k\",\"value\":{}}}]}}]}}]}}]}}",
            deep(118),
            deep(118)
        );
        let t = std::thread::Builder::new()
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                for agent in [OtelAgent::Claude, OtelAgent::Codex, OtelAgent::Gemini] {
                    let _ = usage::parse_logs(agent, doc.as_bytes());
                }
                usage::parse_logs(OtelAgent::Claude, doc.as_bytes()).map(|b| b.records)
            })
            .unwrap();
        assert_eq!(t.join().unwrap(), Ok(1));
    }
}
