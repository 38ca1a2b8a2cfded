//! `agent-sessions serve` for the tests: the real binary on an ephemeral loopback port and
//! a real HTTP client (ureq).

use super::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub url: String,
    /// The Unix socket, when served with `--unix`.
    pub unix: Option<String>,
    /// The ready line `serve --json` printed.
    pub ready: Value,
    pub token: String,
    pub http: ureq::Agent,
}

impl Server {
    pub fn start(env: &Env) -> Server {
        Server::start_with(env, &["--listen", "127.0.0.1:0"])
    }

    /// `serve --json` with these options.
    pub fn start_with(env: &Env, args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .env("AGENT_SESSIONS_HOME", env.home())
            .arg("serve")
            .args(args)
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let _ = child.kill();
            panic!("serve printed {line:?}: {e}")
        });
        let token = std::fs::read_to_string(ready["token_path"].as_str().unwrap())
            .unwrap()
            .trim()
            .to_string();
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Server {
            child,
            url: ready["url"].as_str().unwrap_or_default().to_string(),
            unix: ready["unix"].as_str().map(str::to_string),
            ready: ready.clone(),
            token,
            http,
        }
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// GET with the token and `headers`: the whole response, its body unread (for its
    /// headers, or an event stream).
    pub fn get_response(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> ureq::http::Response<ureq::Body> {
        let mut req = self
            .http
            .get(format!("{}{path}", self.url))
            .header("Authorization", self.auth());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.call().unwrap()
    }

    /// GET with the token: (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut r = self.get_response(path, &[]);
        (
            r.status().as_u16(),
            body_json(r.body_mut().read_to_string().unwrap()),
        )
    }

    /// DELETE with the token: (status, JSON body).
    pub fn delete(&self, path: &str) -> (u16, Value) {
        let mut r = self
            .http
            .delete(format!("{}{path}", self.url))
            .header("Authorization", self.auth())
            .call()
            .unwrap();
        (
            r.status().as_u16(),
            body_json(r.body_mut().read_to_string().unwrap()),
        )
    }

    /// POST a raw body with the token: (status, JSON body).
    pub fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("Authorization", self.auth())
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        (
            r.status().as_u16(),
            body_json(r.body_mut().read_to_string().unwrap()),
        )
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, &body.to_string())
    }
}

/// Sends `head` and `body` on a new connection and reads one response: (status, JSON body).
pub fn raw_http(url: &str, head: &str, body: Vec<u8>) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut w = c.try_clone().unwrap();
    let head = head.to_string();
    // The server may answer and close before the body is all sent: write errors are fine.
    let writer = std::thread::spawn(move || {
        let _ = w
            .write_all(head.as_bytes())
            .and_then(|_| w.write_all(&body));
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Up to the end of the JSON body (the server may keep the connection open).
    while !got.ends_with(b"}}") {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let _ = c.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(text.starts_with("HTTP/1.1 "), "{text:?}");
    let status = text[9..12].parse().unwrap();
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    (status, body_json(body.to_string()))
}

pub fn body_json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: a signal to the server this test started.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// Reads SSE messages until `want` says stop (or the stream ends); returns (id, event,
/// data) of each.
pub fn read_sse(
    reader: &mut impl BufRead,
    mut want: impl FnMut(&(String, String, Value)) -> bool,
) -> Vec<(String, String, Value)> {
    let mut got = Vec::new();
    let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            return got;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if !data.is_empty() {
                let msg = (
                    id.clone(),
                    event.clone(),
                    serde_json::from_str(&data).unwrap(),
                );
                let done = want(&msg);
                got.push(msg);
                if done {
                    return got;
                }
            }
            (id, event, data) = (String::new(), String::new(), String::new());
        } else if let Some(v) = l.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if let Some(v) = l.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = l.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
}

pub fn start_body() -> Value {
    json!({
        "agent": "custom",
        "args": ["python3", fake_agent().to_str().unwrap()],
        "cwd": std::env::temp_dir(),
        "name": "over-http",
    })
}

/// The error's kind, checking the error shape on the way.
pub fn kind(v: &Value) -> &str {
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    v["error"]["kind"].as_str().unwrap()
}
