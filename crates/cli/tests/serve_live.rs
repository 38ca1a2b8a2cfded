//! `agent-sessions serve`, live: the SSE event streams, the WebSocket terminal and the
//! agentapi-shaped endpoints, with real clients against the real binary.

mod common;
use common::http::*;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};

#[test]
fn the_event_stream_delivers_new_events_and_resumes_after_last_event_id() {
    let env = Env::new();
    let srv = Server::start(&env);
    let (_, rec) = srv.post("/sessions", start_body());
    let id = rec["session_id"].as_str().unwrap().to_string();
    env.wait_screen(&id, "fake>");

    let open = |last: Option<&str>| {
        let mut req = srv
            .http
            .get(format!("{}/sessions/{id}/events/stream", srv.url))
            .header("Authorization", srv.auth());
        if let Some(l) = last {
            req = req.header("Last-Event-ID", l);
        }
        let r = req.call().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        BufReader::new(r.into_body().into_reader())
    };
    // From the start: the session's first events, in order.
    let mut first = open(None);
    let start = read_sse(&mut first, |(_, _, d)| d["data"]["to"] == "running");
    let seqs: Vec<i64> = start.iter().map(|(i, _, _)| i.parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(seqs[0], 1);
    let last = start.last().unwrap().0.clone();

    // A new event while connected arrives (the input we send).
    env.ok(&["send", &id, "live"]);
    let live = read_sse(&mut first, |(_, k, _)| k == "input");
    assert!(live.iter().any(|(_, k, _)| k == "input"), "{live:?}");

    // Reconnecting after `last` starts right after it.
    let mut again = open(Some(&last));
    let resumed = read_sse(&mut again, |_| true);
    assert_eq!(
        resumed[0].0.parse::<i64>().unwrap(),
        last.parse::<i64>().unwrap() + 1
    );

    // The stream ends with `end` once the session has ended.
    env.ok(&["stop", &id]);
    let rest = read_sse(&mut again, |(_, k, _)| k == "end");
    assert_eq!(rest.last().unwrap().1, "end", "{rest:?}");
}

#[test]
fn the_all_sessions_stream_orders_filters_and_resumes() {
    let env = Env::new();
    let srv = Server::start(&env);
    let open = |query: &str, last: Option<&str>| {
        // `/events` itself, as a browser's EventSource asks for it.
        let mut headers = vec![("Accept", "text/event-stream")];
        if let Some(l) = last {
            headers.push(("Last-Event-ID", l));
        }
        let r = srv.get_response(&format!("/events{query}"), &headers);
        assert_eq!(r.status().as_u16(), 200);
        BufReader::new(r.into_body().into_reader())
    };
    // Opened before the sessions start: without `since` it sends only what comes next.
    let mut all = open("", None);
    let mut only_b = open("?task=T-b&kind=input", None);
    let start = |task: &str| {
        let mut body = start_body();
        body["task_id"] = json!(task);
        let (status, rec) = srv.post("/sessions", body);
        assert_eq!(status, 201, "{rec}");
        let id = rec["session_id"].as_str().unwrap().to_string();
        env.wait_screen(&id, "fake>");
        id
    };
    let a = start("T-a");
    let b = start("T-b");
    env.ok(&["send", &a, "to a"]);
    env.ok(&["send", &b, "to b"]);

    // Both sessions' events on one stream, ids growing, each event's data carrying its id.
    let got = read_sse(&mut all, |(_, k, d)| {
        k == "input" && d["session_id"] == b.as_str()
    });
    let ids: Vec<i64> = got.iter().map(|(i, _, _)| i.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for (i, _, d) in &got {
        assert_eq!(d["id"].to_string(), *i);
    }
    let sessions: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|(_, _, d)| d["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(sessions, [a.as_str(), b.as_str()].into_iter().collect());
    assert!(got
        .iter()
        .any(|(_, k, d)| k == "input" && d["session_id"] == a.as_str()));

    // The filtered stream saw b's input and nothing else.
    let filtered = read_sse(&mut only_b, |_| true);
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert_eq!(filtered[0].1, "input");
    assert_eq!(filtered[0].2["session_id"], b.as_str());
    assert_eq!(filtered[0].2["data"]["text"], "to b");

    // Resuming after the first event sent everything after it, in the same order.
    let mut again = open("", Some(&got[0].0));
    let resumed = read_sse(&mut again, |(i, _, _)| *i == got.last().unwrap().0);
    let resumed_ids: Vec<i64> = resumed.iter().map(|(i, _, _)| i.parse().unwrap()).collect();
    assert_eq!(resumed_ids, ids[1..]);

    // The page form: the same events, and `next` to go on from.
    let (status, page) = srv.get(&format!("/events?since={}&session={b}", ids[0] - 1));
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().unwrap();
    assert!(!events.is_empty() && events.iter().all(|e| e["session_id"] == b.as_str()));
    assert!(page["next"].as_i64().unwrap() >= *ids.last().unwrap());
    // A bad id in the filter is a 400 before any stream starts.
    let (status, err) = srv.get("/events?session=../x");
    assert_eq!(status, 400, "{err}");
    let r = srv
        .http
        .get(format!("{}/events/stream?session=..%2Fx", srv.url))
        .header("Authorization", srv.auth())
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    env.ok(&["stop", &a]);
    env.ok(&["stop", &b]);
}

#[test]
fn the_list_says_where_the_feed_goes_on_so_a_client_misses_nothing() {
    let env = Env::new();
    let srv = Server::start(&env);
    let (status, rec) = srv.post("/sessions", start_body());
    assert_eq!(status, 201, "{rec}");
    let id = rec["session_id"].as_str().unwrap().to_string();
    env.wait_screen(&id, "fake>");
    // The dashboard reads the list, then opens the feed after the list's head.
    let list = |srv: &Server| {
        let mut r = srv.get_response("/sessions", &[]);
        let head: i64 = r
            .headers()
            .get("x-feed-head")
            .expect("GET /sessions has an X-Feed-Head")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = body_json(r.body_mut().read_to_string().unwrap());
        (head, body)
    };
    let (head, body) = list(&srv);
    assert_eq!(body[0]["session_id"], id.as_str());
    let (_, page) = srv.get("/events?since=0");
    let newest = page["events"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        head, newest,
        "the head is the newest event when the list was read"
    );
    // Something happens before the feed is open: the feed from the head still has it.
    env.ok(&["send", &id, "between"]);
    let r = srv.get_response(
        &format!("/events?since={head}"),
        &[("Accept", "text/event-stream")],
    );
    let mut feed = BufReader::new(r.into_body().into_reader());
    let got = read_sse(&mut feed, |(_, k, _)| k == "input");
    assert!(
        got.iter().all(|(i, _, _)| i.parse::<i64>().unwrap() > head),
        "{got:?}"
    );
    assert_eq!(got.last().unwrap().2["data"]["text"], "between", "{got:?}");
    let (head2, _) = list(&srv);
    assert!(head2 > head);
    env.ok(&["stop", &id]);
}

mod terminal {
    use super::*;
    use std::time::{Duration, Instant};
    use tungstenite::client::IntoClientRequest;
    use tungstenite::stream::MaybeTlsStream;
    use tungstenite::Message;

    type Ws = tungstenite::WebSocket<MaybeTlsStream<std::net::TcpStream>>;

    fn connect(srv: &Server, id: &str, query: &str, token: bool) -> Result<Ws, tungstenite::Error> {
        let url = format!(
            "{}/sessions/{id}/terminal{query}",
            srv.url.replace("http://", "ws://")
        );
        let mut req = url.into_client_request().unwrap();
        if token {
            req.headers_mut()
                .insert("Authorization", srv.auth().parse().unwrap());
        }
        let (ws, _) = tungstenite::connect(req)?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
        }
        Ok(ws)
    }

    /// Reads until the output seen so far contains `needle` (or a text message does);
    /// returns everything read.
    fn read_until(ws: &mut Ws, seen: &mut String, needle: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if seen.contains(needle) {
                return true;
            }
            match ws.read() {
                Ok(Message::Binary(b)) => seen.push_str(&String::from_utf8_lossy(&b)),
                Ok(Message::Text(t)) => seen.push_str(t.as_str()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return seen.contains(needle),
            }
        }
        seen.contains(needle)
    }

    #[test]
    fn viewers_get_the_replay_then_live_output_and_only_a_writer_types() {
        let env = Env::new();
        let srv = Server::start(&env);
        let (_, rec) = srv.post("/sessions", start_body());
        let id = rec["session_id"].as_str().unwrap().to_string();
        env.wait_screen(&id, "fake>");

        // Both see the screen as it is, replayed.
        let mut rw = connect(&srv, &id, "", true).unwrap();
        let mut ro = connect(&srv, &id, "?read_only=true", true).unwrap();
        let (mut seen_rw, mut seen_ro) = (String::new(), String::new());
        assert!(
            read_until(&mut rw, &mut seen_rw, "fake agent ready"),
            "{seen_rw}"
        );
        assert!(
            read_until(&mut ro, &mut seen_ro, "fake agent ready"),
            "{seen_ro}"
        );

        // Keys from the writer reach the agent, and both viewers see its answer live.
        rw.send(Message::Binary(b"typed over ws\r".to_vec().into()))
            .unwrap();
        env.wait_screen(&id, "echo: typed over ws");
        assert!(read_until(&mut rw, &mut seen_rw, "echo: typed over ws"));
        assert!(read_until(&mut ro, &mut seen_ro, "echo: typed over ws"));
        // The same as a JSON text message.
        rw.send(Message::Text(
            json!({"type": "input", "data": "as json\r"})
                .to_string()
                .into(),
        ))
        .unwrap();
        env.wait_screen(&id, "echo: as json");

        // The read-only viewer's keys go nowhere; a bad control message gets an error.
        ro.send(Message::Binary(b"from the watcher\r".to_vec().into()))
            .unwrap();
        ro.send(Message::Text(
            json!({"type": "input", "data": "watcher json\r"})
                .to_string()
                .into(),
        ))
        .unwrap();
        rw.send(Message::Text("{\"type\": \"dance\"}".into()))
            .unwrap();
        assert!(
            read_until(&mut rw, &mut seen_rw, "\"type\":\"error\""),
            "{seen_rw}"
        );

        // A resize from the writer resizes the session.
        rw.send(Message::Text(
            json!({"type": "resize", "cols": 100, "rows": 30})
                .to_string()
                .into(),
        ))
        .unwrap();
        assert!(poll(|| {
            let (_, s) = srv.get(&format!("/sessions/{id}/screen"));
            s["cols"] == 100 && s["rows"] == 30
        }));

        // Every key the writer typed is an input event naming its client; none from the
        // watcher. (A marker typed after the watcher's keys, so they had their chance.)
        rw.send(Message::Binary(b"marker\r".to_vec().into()))
            .unwrap();
        env.wait_screen(&id, "echo: marker");
        let (_, events) = srv.get(&format!("/sessions/{id}/events?kind=input"));
        let inputs: Vec<&Value> = events.as_array().unwrap().iter().collect();
        let typed: String = inputs
            .iter()
            .filter_map(|e| e["data"]["keys"].as_str())
            .collect();
        assert!(
            typed.contains("typed over ws") && typed.contains("as json"),
            "{inputs:?}"
        );
        assert!(inputs.iter().all(|e| e["data"]["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("ws 127.0.0.1:"))));
        assert!(!typed.contains("watcher"), "{inputs:?}");
        assert!(!env.screen(&id).contains("echo: from the watcher"));

        // The end of the session reaches every viewer.
        env.ok(&["stop", &id]);
        assert!(
            read_until(&mut rw, &mut seen_rw, "\"type\":\"exit\""),
            "{seen_rw}"
        );
        assert!(
            read_until(&mut ro, &mut seen_ro, "\"state\":\"stopped\""),
            "{seen_ro}"
        );

        // An ended session has no terminal; nor has a request without the token.
        match connect(&srv, &id, "", true) {
            Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 409),
            other => panic!("{:?}", other.map(|_| ())),
        }
        match connect(&srv, &id, "", false) {
            Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 401),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn agentapi_clients_can_drive_a_session() {
    let env = Env::new();
    let srv = Server::start(&env);
    let (_, rec) = srv.post("/sessions", start_body());
    let id = rec["session_id"].as_str().unwrap().to_string();
    env.wait_state(&id, "waiting_input");
    let base = format!("/sessions/{id}/agentapi");

    let (status, v) = srv.get(&format!("{base}/status"));
    assert_eq!((status, v["status"].as_str()), (200, Some("stable")), "{v}");

    // A user message is sent with Enter and becomes the conversation's user message.
    let (status, v) = srv.post(
        &format!("{base}/message"),
        json!({"type": "user", "content": "hi agentapi"}),
    );
    assert_eq!(status, 200, "{v}");
    env.wait_screen(&id, "echo: hi agentapi");
    assert!(poll(|| {
        let (_, m) = srv.get(&format!("{base}/messages"));
        m["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "user" && m["content"] == "hi agentapi")
    }));
    // Raw keystrokes.
    let (status, _) = srv.post(
        &format!("{base}/message"),
        json!({"type": "raw", "content": "raw keys\r"}),
    );
    assert_eq!(status, 200);
    env.wait_screen(&id, "echo: raw keys");
    let (status, v) = srv.post(
        &format!("{base}/message"),
        json!({"type": "shout", "content": "x"}),
    );
    assert_eq!((status, kind(&v)), (400, "bad_request"));

    // The events stream starts with the status and the messages so far.
    let r = srv
        .http
        .get(format!("{}{base}/events", srv.url))
        .header("Authorization", srv.auth())
        .call()
        .unwrap();
    let mut reader = BufReader::new(r.into_body().into_reader());
    let mut kinds = Vec::new();
    let mut line = String::new();
    while kinds.len() < 2 || !kinds.contains(&"status_change".to_string()) {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(k) = line.trim_end().strip_prefix("event:") {
            kinds.push(k.trim().to_string());
        }
    }
    assert!(kinds.contains(&"message_update".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"status_change".to_string()), "{kinds:?}");

    // Once it runs, a user message is refused, as agentapi refuses one while running.
    env.ok(&["stop", &id]);
    let (status, v) = srv.post(
        &format!("{base}/message"),
        json!({"type": "user", "content": "late"}),
    );
    assert_eq!((status, kind(&v)), (409, "session_not_running"));
    let (_, v) = srv.get(&format!("{base}/status"));
    assert_eq!(v["status"], "stable");
}
