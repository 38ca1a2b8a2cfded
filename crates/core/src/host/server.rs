//! The host's Unix socket: accepts only its own user, then serves attach streams and
//! one-shot requests (see [`crate::model::protocol`]).

use super::shared::{ClientMsg, Shared};
use super::stop;
use crate::model::protocol::{
    read_frame, valid_size, write_frame, AgentEventRequest, AttachRequest, ResizeRequest,
    SendRequest, StopRequest, Tag, FIRST_FRAME_TIMEOUT, MAX_END_WAIT_SECS, MAX_TERMINAL_SIDE,
};
use crate::model::state::State;
use serde_json::json;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a send waits for its text to show on screen before pressing Enter anyway (an
/// agent that does not echo, or hides what is typed).
const ECHO_WAIT: Duration = Duration::from_secs(1);

/// Binds the socket, private to this user. A leftover file from a dead host is removed
/// first; only the holder of the session lock gets here, so it cannot be a live socket.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(parent) = path.parent() {
        crate::config::home::make_private_dir(parent).map_err(io::Error::other)?;
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

pub fn spawn(shared: Arc<Shared>, listener: UnixListener) {
    std::thread::Builder::new()
        .name("accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if !same_user(&stream) {
                    continue; // dropped: only our own user may talk to the session
                }
                let s = shared.clone();
                let _ = std::thread::Builder::new()
                    .name("conn".into())
                    .spawn(move || {
                        if let Err(e) = serve(&s, stream) {
                            if e.kind() != io::ErrorKind::BrokenPipe {
                                eprintln!("agent-sessions host: connection: {e}");
                            }
                        }
                    });
            }
        })
        .expect("spawning the accept thread");
}

/// Checks the peer's credentials (SO_PEERCRED): the socket file's mode already keeps others
/// out, this also covers a file made reachable by mistake.
fn same_user(stream: &UnixStream) -> bool {
    match nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials) {
        Ok(cred) => cred.uid() == nix::unistd::geteuid().as_raw(),
        Err(_) => false,
    }
}

fn serve(shared: &Arc<Shared>, mut stream: UnixStream) -> io::Result<()> {
    // The first frame must arrive whole and soon: a client that connects and sends nothing,
    // or half a frame, would otherwise hold its thread (and, at the end, the host) forever.
    let until = Instant::now() + FIRST_FRAME_TIMEOUT;
    let (tag, payload) = match read_frame(&mut Deadline {
        stream: &stream,
        until,
    }) {
        Ok(Some(frame)) => frame,
        Ok(None) => return Ok(()),
        Err(e) => return refuse(&mut stream, &e),
    };
    if tag == Tag::Attach {
        // An empty payload is the default request; anything else must parse.
        let req = if payload.is_empty() {
            AttachRequest::default()
        } else {
            match serde_json::from_slice::<AttachRequest>(&payload) {
                Ok(req) => req,
                Err(e) => {
                    let reply =
                        json!({"ok": false, "error": format!("malformed attach request: {e}")});
                    return write_frame(&mut stream, Tag::Reply, reply.to_string().as_bytes());
                }
            }
        };
        // Attached, a client may stay idle as long as it likes.
        stream.set_read_timeout(None)?;
        return attach(shared, stream, req);
    }
    // A client that does not read its reply must not hold the thread either.
    stream.set_write_timeout(Some(FIRST_FRAME_TIMEOUT))?;
    shared.pending_replies.fetch_add(1, Ordering::SeqCst);
    let reply = one_shot(shared, tag, &payload);
    let out = write_frame(&mut stream, Tag::Reply, reply.to_string().as_bytes());
    shared.pending_replies.fetch_sub(1, Ordering::SeqCst);
    out
}

/// Reads with one deadline for the whole first frame, not one per `read` call, so a peer
/// that trickles a byte at a time cannot stretch it.
struct Deadline<'a> {
    stream: &'a UnixStream,
    until: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let late = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no complete request within {}s of connecting",
                    FIRST_FRAME_TIMEOUT.as_secs()
                ),
            )
        };
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        self.stream.set_read_timeout(Some(left))?;
        match (&mut &*self.stream).read(buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(late())
            }
            other => other,
        }
    }
}

/// Answers a first frame that could not be read: over its limit, of an unknown tag, or late.
/// The reply says why (best effort: the peer may be gone); the connection then closes, and
/// nothing else happens. A stream cut inside the frame gets no reply.
fn refuse(stream: &mut UnixStream, e: &io::Error) -> io::Result<()> {
    if matches!(
        e.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::TimedOut
    ) {
        let _ = stream.set_write_timeout(Some(FIRST_FRAME_TIMEOUT));
        let reply = json!({"ok": false, "error": e.to_string()});
        let _ = write_frame(stream, Tag::Reply, reply.to_string().as_bytes());
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(())
}

fn bad_size(cols: u16, rows: u16) -> serde_json::Value {
    json!({"ok": false, "error": format!(
        "terminal size {cols}x{rows} is out of range: columns and rows go from 1 to {MAX_TERMINAL_SIDE}"
    )})
}

fn not_running(shared: &Shared, state: State) -> serde_json::Value {
    json!({"ok": false, "state": state, "error": format!("session {} is {state}, not running", shared.id())})
}

fn one_shot(shared: &Arc<Shared>, tag: Tag, payload: &[u8]) -> serde_json::Value {
    let state = shared.state();
    let ok = |extra: serde_json::Value| {
        let mut v = json!({"ok": true, "state": shared.state()});
        if let (Some(obj), serde_json::Value::Object(more)) = (v.as_object_mut(), extra) {
            obj.extend(more);
        }
        v
    };
    let io_err = |e: io::Error| json!({"ok": false, "state": shared.state(), "error": format!("writing to the agent: {e}")});
    match tag {
        Tag::Input | Tag::Send | Tag::Interrupt if !state.accepts_input() => {
            not_running(shared, state)
        }
        Tag::Input => {
            // Keys with an Enter (`send --keys ... Enter`) submit something: the session is
            // running from here, recorded before the agent even sees the key.
            if payload.contains(&b'\r') {
                shared.user_submitted();
            }
            shared.record_input(&String::from_utf8_lossy(payload), false, true);
            match shared.write_input(payload) {
                Ok(()) => ok(json!({})),
                Err(e) => io_err(e),
            }
        }
        Tag::Send => {
            let Ok(req) = serde_json::from_slice::<SendRequest>(payload) else {
                return json!({"ok": false, "error": "malformed send request"});
            };
            shared.record_input(&req.text, req.enter, false);
            let mut result = shared.write_input(req.text.as_bytes());
            if result.is_ok() && req.enter {
                if shared.spec.enter_delay_ms > 0 && !req.text.is_empty() {
                    // A TUI that is still busy reading its input would get the text and the
                    // Enter in one read, as a paste: the Enter then inserts a newline.
                    shared.wait_for_echo(&req.text, ECHO_WAIT);
                    std::thread::sleep(std::time::Duration::from_millis(
                        shared.spec.enter_delay_ms,
                    ));
                }
                // Recorded before the Enter reaches the agent (and so before the reply), so
                // a `wait --state waiting_input` that follows can only see this turn end.
                shared.user_submitted();
                result = shared.write_input(b"\r");
            }
            match result {
                Ok(()) => ok(json!({})),
                Err(e) => io_err(e),
            }
        }
        Tag::Interrupt => {
            shared.record_interrupt();
            match shared.send_interrupt() {
                Ok(()) => ok(json!({})),
                Err(e) => io_err(e),
            }
        }
        Tag::AgentEvent => match serde_json::from_slice::<AgentEventRequest>(payload) {
            Ok(ev) => match shared.on_agent_event(&ev) {
                Some(decision) => ok(json!({ "decision": decision })),
                None => ok(json!({})),
            },
            Err(_) => json!({"ok": false, "error": "malformed agent event"}),
        },
        Tag::Decide => match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(d) if d.get("behavior").and_then(|b| b.as_str()).is_some() => {
                json!({"ok": shared.decide(d)})
            }
            _ => json!({"ok": false, "error": "malformed decision"}),
        },
        Tag::Screen => ok(json!({"screen": shared.snapshot()})),
        Tag::Budget => {
            super::budget::poke();
            ok(json!({}))
        }
        Tag::Pause => match shared.pause() {
            Ok(()) => ok(json!({})),
            Err(e) => json!({"ok": false, "state": shared.state(), "error": e}),
        },
        Tag::Continue => match shared.resume() {
            Ok(()) => ok(json!({})),
            Err(e) => json!({"ok": false, "state": shared.state(), "error": e}),
        },
        Tag::Resize => match serde_json::from_slice::<ResizeRequest>(payload) {
            Ok(r) if !valid_size(r.cols, r.rows) => bad_size(r.cols, r.rows),
            Ok(r) => {
                shared.resize(r.cols, r.rows);
                ok(json!({}))
            }
            Err(_) => json!({"ok": false, "error": "malformed resize request"}),
        },
        Tag::Stop => {
            // A request that does not parse stops nothing: guessing a default here once
            // turned any garbage on the socket into a stop.
            let req = match serde_json::from_slice::<StopRequest>(payload) {
                Ok(req) => req,
                Err(e) => {
                    return json!({"ok": false, "error": format!("malformed stop request: {e}")})
                }
            };
            if let Err(e) = req.check() {
                return json!({"ok": false, "error": e});
            }
            let final_state = stop::request(shared, req);
            json!({"ok": true, "state": final_state})
        }
        Tag::WaitEnd => {
            let secs = serde_json::from_slice::<serde_json::Value>(payload)
                .ok()
                .and_then(|v| v.get("timeout_secs").and_then(|t| t.as_f64()))
                .filter(|t| t.is_finite() && *t >= 0.0)
                .unwrap_or(MAX_END_WAIT_SECS)
                .min(MAX_END_WAIT_SECS);
            let ended = shared.wait_ended(Some(Instant::now() + Duration::from_secs_f64(secs)));
            json!({"ok": true, "state": ended.unwrap_or(shared.state()), "ended": ended.is_some()})
        }
        other => json!({"ok": false, "error": format!("unexpected request {other:?}")}),
    }
}

fn attach(shared: &Arc<Shared>, stream: UnixStream, req: AttachRequest) -> io::Result<()> {
    if !req.read_only {
        // A size out of range is ignored rather than refused: the client still gets its view.
        if let (Some(c), Some(r)) = (req.cols, req.rows) {
            if valid_size(c, r) {
                shared.resize(c, r);
            }
        }
    }
    let (replay, client_id, rx) = shared.attach(req.read_only);
    // A label for the records: printable, at most 100 characters.
    let client: Option<String> = req
        .client
        .as_deref()
        .map(|c| c.chars().filter(|ch| !ch.is_control()).take(100).collect());
    let mut out = stream.try_clone()?;
    let writer = std::thread::Builder::new()
        .name("attach-out".into())
        .spawn(move || -> io::Result<()> {
            write_frame(&mut out, Tag::Replay, &replay)?;
            while let Ok(msg) = rx.recv() {
                match msg {
                    ClientMsg::Output(bytes) => write_frame(&mut out, Tag::Output, &bytes)?,
                    ClientMsg::Exit(state) => {
                        write_frame(&mut out, Tag::Exit, state.as_str().as_bytes())?;
                        break;
                    }
                }
            }
            let _ = out.shutdown(std::net::Shutdown::Both);
            Ok(())
        })?;
    let mut input = stream;
    while let Ok(Some((tag, payload))) = read_frame(&mut input) {
        if req.read_only {
            continue;
        }
        match tag {
            Tag::Input if shared.state().accepts_input() => {
                if let Some(client) = &client {
                    // As `send --keys`: an Enter submits, recorded before the agent sees it.
                    if payload.contains(&b'\r') {
                        shared.user_submitted();
                    }
                    shared.record_client_input(&String::from_utf8_lossy(&payload), client);
                }
                let _ = shared.write_input(&payload);
            }
            Tag::Resize => {
                if let Ok(r) = serde_json::from_slice::<ResizeRequest>(&payload) {
                    if valid_size(r.cols, r.rows) {
                        shared.resize(r.cols, r.rows);
                    }
                }
            }
            _ => {}
        }
    }
    shared.detach(client_id);
    let _ = input.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    Ok(())
}
