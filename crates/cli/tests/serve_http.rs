//! `agent-sessions serve` as a user runs it: the real binary on an ephemeral loopback port,
//! driven by a real HTTP client (ureq), with real sessions of the fake agent behind it: the
//! JSON API, its refusals and its OpenAPI document.

mod common;
use common::http::*;
use common::*;
use serde_json::{json, Value};

#[test]
fn a_session_started_over_http_is_driven_read_and_stopped_like_from_the_cli() {
    let env = Env::new();
    let srv = Server::start(&env);

    let (status, rec) = srv.post("/sessions", start_body());
    assert_eq!(status, 201, "{rec}");
    let id = rec["session_id"].as_str().unwrap().to_string();
    assert_eq!(rec["state"], "running");
    assert_eq!(rec["name"], "over-http");

    // The CLI sees the same session, and the API answers with the CLI's own JSON.
    let (status, got) = srv.get(&format!("/sessions/{id}"));
    assert_eq!(status, 200);
    let cli: Value = env.record(&id);
    assert_eq!(got["session_id"], cli["session_id"]);
    assert_eq!(
        got.as_object().unwrap().keys().collect::<Vec<_>>(),
        cli.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    let (_, list) = srv.get("/sessions?state=running");
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["session_id"] == id.as_str()));
    let (_, none) = srv.get("/sessions?agent=claude");
    assert_eq!(none, json!([]));

    // Input reaches the agent; the screen shows its answer.
    env.wait_screen(&id, "fake>");
    let (status, v) = srv.post(
        &format!("/sessions/{id}/send"),
        json!({"text": "over http"}),
    );
    assert_eq!((status, &v), (200, &json!({"ok": true, "session_id": id})));
    assert!(poll(|| {
        let (_, s) = srv.get(&format!("/sessions/{id}/screen"));
        s["text"].as_str().unwrap_or("").contains("echo: over http")
    }));
    let (status, st) = srv.get(&format!("/sessions/{id}/state"));
    assert_eq!(status, 200);
    assert_eq!(st["session_id"], id.as_str());

    // Events, a page of them, and the input event names its source.
    let (status, events) = srv.get(&format!("/sessions/{id}/events"));
    assert_eq!(status, 200);
    let events = events.as_array().unwrap();
    assert!(events.iter().any(|e| e["kind"] == "state"), "{events:?}");
    let (_, only) = srv.get(&format!("/sessions/{id}/events?kind=state"));
    assert!(only
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] == "state"));

    // Stop: the ended record; then a send is refused as a state conflict.
    let (status, rec) = srv.post(&format!("/sessions/{id}/stop"), json!({"timeout_secs": 10}));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["state"], "stopped");
    let (status, v) = srv.post(&format!("/sessions/{id}/send"), json!({"text": "late"}));
    assert_eq!(status, 409, "{v}");
    assert_eq!(kind(&v), "session_not_running");
    assert_eq!(env.state(&id), "stopped");
}

#[test]
fn refusals_are_json_with_the_right_status() {
    let env = Env::new();
    let srv = Server::start(&env);
    let call = |method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>| {
        let url = format!("{}{path}", srv.url);
        let mut r = match (method, body) {
            ("GET", _) => {
                let mut q = srv.http.get(&url);
                for (k, v) in headers {
                    q = q.header(*k, *v);
                }
                q.call().unwrap()
            }
            (_, b) => {
                let mut q = srv.http.post(&url);
                for (k, v) in headers {
                    q = q.header(*k, *v);
                }
                q.send(b.unwrap_or("")).unwrap()
            }
        };
        (
            r.status().as_u16(),
            body_json(r.body_mut().read_to_string().unwrap()),
        )
    };
    let auth = srv.auth();
    let a = ("Authorization", auth.as_str());

    // /health needs no token; everything else does, and the right one.
    assert_eq!(call("GET", "/health", &[], None).0, 200);
    let (s, v) = call("GET", "/sessions", &[], None);
    assert_eq!((s, kind(&v)), (401, "unauthorized"));
    let (s, v) = call(
        "GET",
        "/sessions",
        &[("Authorization", "Bearer nope")],
        None,
    );
    assert_eq!((s, kind(&v)), (401, "unauthorized"));
    // A page of another site, and a rebound host name, are refused even with the token.
    let (s, v) = call(
        "GET",
        "/sessions",
        &[a, ("Origin", "http://evil.example")],
        None,
    );
    assert_eq!((s, kind(&v)), (403, "forbidden"));
    let (s, v) = call("GET", "/sessions", &[a, ("Host", "evil.example")], None);
    assert_eq!((s, kind(&v)), (403, "forbidden"));

    // Bad requests: each a 400 that says what is wrong.
    let (s, v) = call("POST", "/sessions", &[a], Some("{\"agent\":"));
    assert_eq!((s, kind(&v)), (400, "invalid_json"));
    let (s, v) = call(
        "POST",
        "/sessions",
        &[a],
        Some("{\"agent\":\"custom\",\"bogus\":1}"),
    );
    assert_eq!((s, kind(&v)), (400, "invalid_json"));
    assert!(
        v["error"]["message"].as_str().unwrap().contains("bogus"),
        "{v}"
    );
    let (s, v) = call("POST", "/sessions", &[a], Some("{\"agent\":\"nosuch\"}"));
    assert_eq!((s, kind(&v)), (400, "unsupported_agent"));
    let (s, v) = call("GET", "/sessions/bad%2E%2Eid", &[a], None);
    assert_eq!((s, kind(&v)), (400, "invalid_session_id"));
    let (s, v) = call(
        "GET",
        "/sessions/agent-20260101-000000-00000000",
        &[a],
        None,
    );
    assert_eq!((s, kind(&v)), (404, "session_not_found"));
    let (s, v) = call("GET", "/sessions?state=sleepy", &[a], None);
    assert_eq!(s, 400, "{v}");
    let (s, v) = call("GET", "/no/such/route", &[a], None);
    assert_eq!((s, kind(&v)), (404, "not_found"));
    // A body over the limit is refused once the limit is read (the client may still be
    // writing the rest: a raw connection sends it from a thread and reads the answer).
    let huge = format!(
        "{{\"agent\":\"custom\",\"name\":\"{}\"}}",
        "x".repeat(2 << 20)
    );
    let (status, v) = raw_http(
        &srv.url,
        &format!(
            "POST /sessions HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            srv.url.trim_start_matches("http://"),
            huge.len()
        ),
        huge.into_bytes(),
    );
    assert_eq!((status, kind(&v)), (413, "bad_request"));

    // Out-of-range numbers in a valid body.
    let (_, rec) = srv.post("/sessions", start_body());
    let id = rec["session_id"].as_str().unwrap().to_string();
    let (s, v) = srv.post_raw(&format!("/sessions/{id}/stop"), "{\"timeout_secs\":1e300}");
    assert_eq!((s, kind(&v)), (400, "invalid_argument"));
    let (s, v) = srv.post(&format!("/sessions/{id}/wait"), json!({}));
    assert_eq!(s, 400, "{v}");
    let (s, v) = srv.post(
        &format!("/sessions/{id}/wait"),
        json!({"state": "waiting_input", "timeout_secs": 0.05}),
    );
    assert!(s == 200 || s == 504, "{s} {v}");
    // None of this hurt the session.
    assert_eq!(srv.get(&format!("/sessions/{id}")).0, 200);
    let (s, v) = srv.post(&format!("/sessions/{id}/stop"), json!({}));
    assert_eq!((s, v["state"].as_str()), (200, Some("stopped")));
}

#[test]
fn serve_refuses_a_remote_address_without_the_flags_and_keeps_the_token_private() {
    let env = Env::new();
    let err = env.fails(&["serve", "--listen", "0.0.0.0:0"], 2);
    assert!(err.contains("--allow-remote"), "{err}");
    let err = env.fails(&["serve", "--listen", "0.0.0.0:0", "--allow-remote"], 2);
    assert!(
        err.contains("TLS") && err.contains("--insecure-no-tls"),
        "{err}"
    );
    let err = env.fails(&["serve", "--listen", "nonsense"], 2);
    assert!(err.contains("127.0.0.1:7420"), "{err}");

    let srv = Server::start(&env);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.home().join("server.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A second server reads the same token.
    drop(srv);
    let again = Server::start(&env);
    let t = std::fs::read_to_string(env.home().join("server.token")).unwrap();
    assert_eq!(again.token, t.trim());
}

#[test]
fn every_documented_route_exists_and_the_document_is_served() {
    let env = Env::new();
    let srv = Server::start(&env);
    let mut r = srv
        .http
        .get(format!("{}/openapi.json", srv.url))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let doc = body_json(r.body_mut().read_to_string().unwrap());
    assert_eq!(doc, agent_sessions_server::openapi::document());
    // A new connection for each route: a pooled one the server has just closed (after a
    // stream left unread) failed a request now and then on a loaded machine.
    let fresh: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .build()
        .into();
    for route in agent_sessions_server::openapi::ROUTES {
        let path = route.path.replace("{id}", "agent-20260101-000000-00000000");
        let url = format!("{}{path}", srv.url);
        let req = |m: &str| {
            let r = match m {
                "get" => fresh.get(&url).header("Authorization", srv.auth()).call(),
                "delete" => fresh
                    .delete(&url)
                    .header("Authorization", srv.auth())
                    .call(),
                _ => fresh
                    .post(&url)
                    .header("Authorization", srv.auth())
                    .send("{}"),
            };
            r.unwrap()
        };
        let mut resp = req(route.method);
        let status = resp.status().as_u16();
        let text = if path.ends_with("/stream") || path.ends_with("/events") && status == 200 {
            String::new()
        } else {
            resp.body_mut().read_to_string().unwrap_or_default()
        };
        assert!(
            !(status == 404 && text.contains("\"kind\":\"not_found\"")) && status != 405,
            "{} {} is documented but not routed: {status} {text}",
            route.method,
            route.path
        );
    }
}

#[test]
fn budgets_are_set_shown_and_removed_over_http_and_bad_ones_are_400() {
    let env = Env::new();
    let srv = Server::start(&env);
    let mut body = start_body();
    body["task_id"] = json!("T-HTTP");
    body["budget"] = json!({"usd": 3, "on_budget": "interrupt"});
    let (status, rec) = srv.post("/sessions", body);
    assert_eq!(status, 201, "{rec}");
    assert_eq!(rec["budget"], json!({"usd": 3.0, "on_budget": "interrupt"}));
    let id = rec["session_id"].as_str().unwrap().to_string();

    let (status, b) = srv.get(&format!("/sessions/{id}/budget"));
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["scope"], "session");
    assert_eq!(b["assessment"]["level"], "under");
    let (status, b) = srv.post(&format!("/sessions/{id}/budget"), json!({"tokens": 500}));
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["budget"], json!({"tokens": 500, "on_budget": "stop"}));
    assert_eq!(env.record(&id)["budget"]["tokens"], 500, "the CLI sees it");
    let (status, t) = srv.post("/tasks/T-HTTP/budget", json!({"usd": 10}));
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "task");

    for bad in [
        r#"{"usd": -1}"#,
        r#"{"usd": 1e999}"#,
        r#"{"tokens": 0}"#,
        r#"{"usd": 1, "on_budget": "explode"}"#,
        r#"{"usd": 1, "extra": true}"#,
        r#"{}"#,
        "not json",
    ] {
        let (status, e) = srv.post_raw(&format!("/sessions/{id}/budget"), bad);
        assert_eq!(status, 400, "{bad}: {e}");
        kind(&e);
    }
    assert_eq!(env.record(&id)["budget"]["tokens"], 500, "nothing changed");
    let (status, e) = srv.get("/tasks/T-NONE/budget");
    assert_eq!(status, 404, "{e}");
    let (status, e) = srv.get("/sessions/no-such/budget");
    assert_eq!(status, 404, "{e}");

    let (status, e) = srv.delete(&format!("/sessions/{id}/budget"));
    assert_eq!(status, 200, "{e}");
    assert!(env.record(&id)["budget"].is_null());
    env.ok(&["stop", &id, "--force"]);
}
