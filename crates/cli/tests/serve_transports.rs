//! `agent-sessions serve` over its other transports and under its limits: HTTPS with a
//! real certificate, the Unix socket (this user only, no token), and the connection limit.

mod common;
use common::http::*;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::process::Command;

/// A certificate for localhost and 127.0.0.1, written as PEM files in `dir`.
fn certificate(dir: &std::path::Path) -> (String, String, Vec<u8>) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let pem = cert.cert.pem();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, &pem).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (
        cert_path.to_string_lossy().into(),
        key_path.to_string_lossy().into(),
        pem.into_bytes(),
    )
}

#[test]
fn https_serves_the_api_with_the_certificate_given() {
    let env = Env::new();
    let (cert, key, pem) = certificate(env.home());
    let srv = Server::start_with(
        &env,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );
    assert!(srv.url.starts_with("https://127.0.0.1:"), "{}", srv.url);
    let url = srv.url.replace("127.0.0.1", "localhost");
    let trusted = ureq::tls::Certificate::from_pem(&pem).unwrap().to_owned();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
            trusted,
        ])))
        .build();
    let https: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = https
        .get(format!("{url}/sessions"))
        .header("Authorization", srv.auth())
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let list: Value = r.body_mut().read_json().unwrap();
    assert!(list.as_array().is_some(), "{list}");
    // The token is still asked for over TLS.
    let r = https.get(format!("{url}/sessions")).call().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Plain HTTP to the TLS port gets no answer.
    let plain = srv
        .http
        .get(format!("{}/health", url.replace("https", "http")))
        .call();
    assert!(plain.is_err(), "{plain:?}");
}

#[test]
fn bad_tls_files_and_remote_without_tls_are_refused_before_listening() {
    let env = Env::new();
    let junk = env.home().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.to_str().unwrap();
    let serve = |args: &[&str]| {
        let out = Command::new(BIN)
            .env("AGENT_SESSIONS_HOME", env.home())
            .arg("serve")
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was served");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        junk,
        "--tls-key",
        junk,
    ]);
    assert!(
        err.contains("--tls-cert") && err.contains("junk.pem"),
        "{err}"
    );
    let err = serve(&["--listen", "127.0.0.1:0", "--tls-cert", junk]);
    assert!(err.contains("--tls-key"), "{err}");
    let err = serve(&["--listen", "0.0.0.0:0", "--allow-remote"]);
    assert!(
        err.contains("--tls-cert") && err.contains("--insecure-no-tls"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// One HTTP/1.1 request over a Unix socket: (status, JSON body).
fn unix_get(path: &str, target: &str) -> (u16, Value) {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|b| b.1).unwrap_or("");
    (status, body_json(body.to_string()))
}

#[test]
fn the_unix_socket_is_private_needs_no_token_and_goes_away_with_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let sock = env.home().join("serve.sock");
    let sock_s = sock.to_str().unwrap().to_string();
    let srv = Server::start_with(&env, &["--unix", &sock_s]);
    assert_eq!(srv.unix.as_deref(), Some(sock_s.as_str()));
    assert!(
        srv.url.is_empty(),
        "only the socket was asked for: {}",
        srv.url
    );
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // This user's process, no token: the same API.
    let (status, list) = unix_get(&sock_s, "/sessions");
    assert_eq!(status, 200, "{list}");
    assert!(list.as_array().is_some());
    let (status, _) = unix_get(&sock_s, "/sessions/no-such-session");
    assert_eq!(status, 404);

    // A second server on the same path is refused while the first answers.
    let out = Command::new(BIN)
        .env("AGENT_SESSIONS_HOME", env.home())
        .args(["serve", "--unix", &sock_s])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another server listens there"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Another user is turned away by uid even when the file would let them in (only
    // checkable as root, which can become another user).
    if unsafe { libc::geteuid() } == 0 {
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
        // The home is right under the temp folder, which everyone may enter.
        let _ = std::fs::set_permissions(env.home(), std::fs::Permissions::from_mode(0o755));
        let probe = r#"
import os, socket, sys
os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(b"GET /sessions HTTP/1.1\r\nHost: localhost\r\n\r\n")
    got = s.recv(100)
except (BrokenPipeError, ConnectionResetError):
    got = b""
print("closed" if got == b"" else repr(got))
"#;
        let out = Command::new("python3")
            .args(["-c", probe, &sock_s])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            said.trim(),
            "closed",
            "another user got an answer: {said} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    drop(srv);
    assert!(poll(|| !sock.exists()), "the socket was not removed");
}

#[test]
fn connections_over_the_limit_get_a_503_that_says_what_to_do() {
    let env = Env::new();
    let srv = Server::start_with(&env, &["--listen", "127.0.0.1:0", "--max-connections", "2"]);
    let addr = srv.url.trim_start_matches("http://").to_string();
    // Two connections held open (idle keep-alive).
    let hold: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // The third gets the JSON refusal (polled: the server may not have taken both yet).
    let mut refusal = (0, Value::Null);
    let refused = poll(|| {
        refusal = raw_http(
            &srv.url,
            &format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
            Vec::new(),
        );
        refusal.0 == 503
    });
    assert!(refused, "no refusal over the limit: {refusal:?}");
    assert_eq!(kind(&refusal.1), "busy");
    assert!(refusal.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--max-connections"));
    // A slot given back is free again.
    drop(hold);
    assert!(poll(|| srv.get("/health").0 == 200), "no slot came back");
}
