//! The host's socket against confused or hostile clients: oversized frames, half frames,
//! silence and garbage payloads are refused and change nothing; the session goes on.

mod common;

use agent_sessions::protocol::{read_frame, write_frame, Tag};
use agent_sessions::{SessionManager, StartOptions, State};
use serde_json::Value;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Generous: the test machines are small and busy.
const DEADLINE: Duration = Duration::from_secs(30);

/// A running `cat` session, stopped (forcibly) on drop.
struct Session {
    _home: common::TempDir,
    mgr: SessionManager,
    id: String,
}

impl Session {
    fn start(tag: &str) -> Session {
        let home = common::TempDir::new(tag);
        let mgr = common::open_manager(home.path());
        let rec = mgr
            .start(&StartOptions {
                agent: "custom".into(),
                args: vec!["cat".into()],
                ..Default::default()
            })
            .unwrap();
        Session {
            _home: home,
            mgr,
            id: rec.session_id,
        }
    }

    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(self.mgr.socket_path(&self.id).unwrap()).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s
    }

    /// The session still runs and still answers: typed text comes back on its screen.
    fn still_serves(&self, marker: &str) {
        let state = self.mgr.state(&self.id).unwrap();
        assert!(
            matches!(state, State::Running | State::WaitingInput),
            "session is {state}"
        );
        self.mgr.send(&self.id, marker, true).unwrap();
        let start = Instant::now();
        loop {
            let text = self.mgr.screen(&self.id).unwrap().text;
            if text.contains(marker) {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{marker:?} never showed:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.mgr.stop(&self.id, Some(Duration::from_secs(5)), true);
    }
}

/// The host's reply on `stream`, if it sent one before closing.
fn reply(stream: &mut UnixStream) -> Option<Value> {
    match read_frame(stream) {
        Ok(Some((Tag::Reply, body))) => Some(serde_json::from_slice(&body).unwrap()),
        Ok(Some((other, _))) => panic!("expected a reply, got {other:?}"),
        Ok(None) | Err(_) => None,
    }
}

/// True once the host has closed `stream` (end of file or reset), reading out what is left.
fn closed(stream: &mut UnixStream) -> bool {
    loop {
        match read_frame(stream) {
            Ok(Some(_)) => continue,
            Ok(None) => return true,
            Err(e) => {
                assert!(
                    !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "the host kept the connection open for {}s",
                    DEADLINE.as_secs()
                );
                return true;
            }
        }
    }
}

fn header(tag: u8, len: u32) -> Vec<u8> {
    let mut h = vec![tag];
    h.extend_from_slice(&len.to_le_bytes());
    h
}

fn assert_refused(reply: &Value, needle: &str) {
    assert_eq!(reply["ok"], false, "{reply}");
    let error = reply["error"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "{reply}");
}

#[test]
fn oversized_frames_are_refused_and_the_session_runs_on() {
    let s = Session::start("oversize");
    s.still_serves("before-oversize");
    // A 4 GiB stop, a 1 MiB + 1 input, a 64 KiB + 1 screen request and an unknown tag:
    // each is answered with an error and its connection closed, without the payload.
    for (tag, len, needle) in [
        (Tag::Stop as u8, u32::MAX, "over its limit"),
        (Tag::Input as u8, (1 << 20) + 1, "over its limit"),
        (Tag::Screen as u8, (64 << 10) + 1, "over its limit"),
        (0x42, 3, "unknown frame tag"),
    ] {
        let mut c = s.connect();
        c.write_all(&header(tag, len)).unwrap();
        // The reply may be lost to a reset (the host closes with our bytes unread); either
        // way the connection must end.
        if let Some(r) = reply(&mut c) {
            assert_refused(&r, needle);
        }
        assert!(closed(&mut c));
    }
    s.still_serves("after-oversize");
    // The library refuses an over-limit request itself, with what to do.
    let huge = "x".repeat((1 << 20) + 1);
    let e = s.mgr.send(&s.id, &huge, false).unwrap_err();
    assert!(e.to_string().contains("smaller parts"), "{e}");
    s.still_serves("after-huge-send");
}

#[test]
fn half_frames_and_silence_time_out_without_blocking_others() {
    let s = Session::start("half");
    // An attached client, idle from here on: it must outlive the one-shot timeout.
    let mut attached = s.connect();
    write_frame(&mut attached, Tag::Attach, br#"{"read_only":false}"#).unwrap();
    assert!(matches!(
        read_frame(&mut attached).unwrap(),
        Some((Tag::Replay, _))
    ));

    // Half a header, a send whose payload stops short, and a client that says nothing.
    let mut half_header = s.connect();
    half_header.write_all(&[Tag::Screen as u8, 0, 0]).unwrap();
    let mut half_payload = s.connect();
    half_payload
        .write_all(&header(Tag::Send as u8, 100))
        .unwrap();
    half_payload.write_all(br#"{"text":"#).unwrap();
    let mut silent = s.connect();

    // Meanwhile everyone else is served.
    for i in 0..3 {
        s.still_serves(&format!("served-while-stalled-{i}"));
    }

    // The stalled ones are told why and dropped; nothing they began happened.
    for c in [&mut half_header, &mut half_payload, &mut silent] {
        let r = reply(c).expect("a reply before the host closes the connection");
        assert_refused(&r, "no complete request within");
        assert!(closed(c));
    }
    s.still_serves("after-timeouts");

    // The attached client, idle all along, is still attached and still types.
    write_frame(&mut attached, Tag::Input, b"typed-after-idle\r").unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("typed-after-idle") {
        match read_frame(&mut attached).unwrap() {
            Some((Tag::Output, bytes)) => seen.extend_from_slice(&bytes),
            other => panic!("attached client got {other:?}"),
        }
    }
}

#[test]
fn malformed_payloads_get_an_error_and_change_nothing() {
    let s = Session::start("garbage");
    s.still_serves("before-garbage");
    let size = s.mgr.screen(&s.id).unwrap();
    let cases: [(Tag, &[u8], &str); 7] = [
        (Tag::Stop, b"\xffnot json{", "malformed stop request"),
        (Tag::Stop, b"{}", "malformed stop request"),
        (
            Tag::Stop,
            br#"{"timeout_secs":1e300,"force":false}"#,
            "stop timeout",
        ),
        (
            Tag::Stop,
            br#"{"timeout_secs":-1,"force":true}"#,
            "stop timeout",
        ),
        (Tag::Resize, b"garbage", "malformed resize request"),
        (
            Tag::Resize,
            br#"{"cols":65535,"rows":65535}"#,
            "out of range",
        ),
        (Tag::Send, b"[1,2,3]", "malformed send request"),
    ];
    for (tag, payload, needle) in cases {
        let mut c = s.connect();
        write_frame(&mut c, tag, payload).unwrap();
        let r = reply(&mut c).unwrap_or_else(|| panic!("no reply to {tag:?} {payload:?}"));
        assert_refused(&r, needle);
        s.still_serves(&format!("after-{tag:?}-{}", needle.replace(' ', "-")));
    }
    // An attach request that does not parse attaches nothing.
    let mut c = s.connect();
    write_frame(&mut c, Tag::Attach, b"{{{").unwrap();
    assert_refused(&reply(&mut c).unwrap(), "malformed attach request");
    assert!(closed(&mut c));

    let after = s.mgr.screen(&s.id).unwrap();
    assert_eq!((after.cols, after.rows), (size.cols, size.rows));
    assert!(!s.mgr.get(&s.id).unwrap().attached);
    s.still_serves("after-garbage");
}
