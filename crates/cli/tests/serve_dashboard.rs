//! The dashboard's server side with a real client: its page and files without a token, the
//! browser sign-in (token pasted once, or the one-time link) trading for an HttpOnly
//! SameSite=Strict cookie that the API then takes, and the figures its charts and exports
//! read (samples, the usage report as JSON and CSV). The page itself is tested in a real
//! browser (tests/browser).

mod common;
use common::http::*;
use common::*;
use serde_json::{json, Value};

fn no_redirects() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn cookie_of(r: &ureq::http::Response<ureq::Body>) -> String {
    let set = r
        .headers()
        .get("set-cookie")
        .expect("a cookie is set")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(set.contains("Path=/"), "{set}");
    set.split(';').next().unwrap().to_string()
}

#[test]
fn the_page_loads_without_a_token_and_the_api_takes_the_cookie_after_sign_in() {
    let env = Env::new();
    let srv = Server::start(&env);
    let http = no_redirects();
    let r = http.get(format!("{}/", srv.url)).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let r = http
        .get(format!("{}/assets/vendor/VENDOR.json", srv.url))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for bad in [
        "/assets/../Cargo.toml",
        "/assets/nope.js",
        "/assets/vendor//x",
    ] {
        let r = http.get(format!("{}{bad}", srv.url)).call().unwrap();
        assert_eq!(r.status().as_u16(), 404, "{bad}");
    }

    // Not signed in: the API and /auth/me refuse.
    let r = http.get(format!("{}/auth/me", srv.url)).call().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A wrong token is refused; the right one gives the cookie.
    let login = |token: &str| {
        http.post(format!("{}/auth/login", srv.url))
            .header("Content-Type", "application/json")
            .send(json!({"token": token}).to_string())
            .unwrap()
    };
    let mut wrong = login("0".repeat(64).as_str());
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(
        kind(&body_json(wrong.body_mut().read_to_string().unwrap())),
        "unauthorized"
    );
    let r = login(&srv.token);
    assert_eq!(r.status().as_u16(), 200);
    let cookie = cookie_of(&r);
    let with_cookie = |path: &str| {
        http.get(format!("{}{path}", srv.url))
            .header("Cookie", &cookie)
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(with_cookie("/auth/me"), 200);
    assert_eq!(with_cookie("/sessions"), 200);
    // A cookie sent by another site's page is refused by the Origin check.
    let r = http
        .get(format!("{}/sessions", srv.url))
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Signed out, the cookie is worth nothing.
    let r = http
        .post(format!("{}/auth/logout", srv.url))
        .header("Cookie", &cookie)
        .send("")
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(with_cookie("/sessions"), 401);
    let forged = format!("as_auth={}", "a".repeat(64));
    let r = http
        .get(format!("{}/sessions", srv.url))
        .header("Cookie", &forged)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn the_one_time_link_signs_in_once() {
    let env = Env::new();
    let srv = Server::start(&env);
    let link = srv.ready["login_url"]
        .as_str()
        .expect("serve prints a sign-in link");
    assert!(
        link.starts_with(&srv.url) && !link.contains(&srv.token),
        "{link}"
    );
    let http = no_redirects();
    let r = http.get(link).call().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = cookie_of(&r);
    let r = http
        .get(format!("{}/auth/me", srv.url))
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut again = http.get(link).call().unwrap();
    assert_eq!(again.status().as_u16(), 401);
    let v = body_json(again.body_mut().read_to_string().unwrap());
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("used already"),
        "{v}"
    );
}

#[test]
fn usage_report_and_samples_for_charts_and_exports() {
    let env = Env::new();
    let srv = Server::start(&env);
    let mut ids = Vec::new();
    for task in ["T-a", "T-a", "T-b"] {
        let mut body = start_body();
        body["task_id"] = json!(task);
        let (status, rec) = srv.post("/sessions", body);
        assert_eq!(status, 201, "{rec}");
        ids.push(rec["session_id"].as_str().unwrap().to_string());
    }
    let (status, table) = srv.get("/usage/report?by=task");
    assert_eq!(status, 200, "{table}");
    assert_eq!(table["by"], "task");
    let rows: Vec<(&str, u64)> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["sessions"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [("T-a", 2), ("T-b", 1)]);
    assert_eq!(table["totals"]["sessions"], 3);
    // The totals are the sums of each session's own usage.
    let mut cost = 0.0;
    let mut tokens = 0;
    for id in &ids {
        let (_, u) = srv.get(&format!("/sessions/{id}/usage"));
        cost += u["cost_usd"].as_f64().unwrap_or(0.0);
        tokens += u["total_tokens"].as_u64().unwrap_or(0);
    }
    assert_eq!(table["totals"]["total_tokens"].as_u64().unwrap(), tokens);
    assert!((table["totals"]["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9);

    // The CLI prints the same table.
    let cli: Value = serde_json::from_str(&env.ok(&["--json", "usage", "--by", "task"])).unwrap();
    assert_eq!(cli, table);

    // CSV: the same table, a header first and the totals last.
    let mut r = srv.get_response("/usage/report?by=task&format=csv", &[]);
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let csv = r.body_mut().read_to_string().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("key,sessions,"), "{csv}");
    assert!(
        lines[1].starts_with("T-a,2,") && lines[2].starts_with("T-b,1,"),
        "{csv}"
    );
    assert!(lines[3].starts_with("total,3,"), "{csv}");
    for (q, want) in [
        ("by=week", "invalid_argument"),
        ("format=xml", "bad_request"),
        ("bogus=1", "bad_request"),
    ] {
        let (status, err) = srv.get(&format!("/usage/report?{q}"));
        assert_eq!((status, kind(&err)), (400, want), "{q}: {err}");
    }

    // JSON answers are gzip-compressed for a client that asks; event streams never are
    // (a compressed stream would hold events back).
    let r = srv.get_response("/sessions", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let r = srv.get_response("/events/stream", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("content-encoding").is_none());
    drop(r);

    // Samples: an array for a session, a 404 for none.
    let (status, samples) = srv.get(&format!("/sessions/{}/samples", ids[0]));
    assert_eq!(status, 200, "{samples}");
    assert!(samples.as_array().is_some());
    let (status, _) = srv.get("/sessions/agent-20260101-000000-00000000/samples");
    assert_eq!(status, 404);
    for id in &ids {
        env.ok(&["stop", id]);
    }
}
