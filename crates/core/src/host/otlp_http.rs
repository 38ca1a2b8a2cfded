//! The HTTP/1.1 of the OpenTelemetry receiver (see `otlp`): one request per connection,
//! read with std only. A request head of at most 16 KiB; a body by `Content-Length` or
//! chunked (trailers read and ignored), kept up to a cap and otherwise read and dropped up
//! to 64 MiB, so the client sees a 413 rather than a reset connection; an answer that
//! closes the connection. Nothing here can panic on what a client sends.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest request head (request line and headers).
const MAX_HEAD: usize = 16 << 10;
/// Bytes of an oversized body read and thrown away before answering 413, so the client sees
/// the answer rather than a reset connection.
const MAX_DISCARD: u64 = 64 << 20;

/// The parts of a request head that matter here.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub authorization: Option<Vec<u8>>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub expect_continue: bool,
}

/// Why a request is answered with an error.
#[derive(Debug, PartialEq)]
pub(crate) enum Reject {
    /// Nothing more to read (closed, timed out).
    Gone,
    Status(u16, &'static str),
}

/// Compares without stopping at the first difference.
pub(crate) fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Reads the request line and headers.
pub(crate) fn read_head<R: BufRead>(r: &mut R) -> std::result::Result<Head, Reject> {
    let mut head = Head::default();
    let mut used = 0usize;
    let mut first = true;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .by_ref()
            .take((MAX_HEAD - used + 1) as u64)
            .read_until(b'\n', &mut line)
            .map_err(|_| Reject::Gone)?;
        if n == 0 {
            return Err(if used == 0 {
                Reject::Gone
            } else {
                Reject::Status(400, "truncated head")
            });
        }
        used += n;
        if used > MAX_HEAD || line.last() != Some(&b'\n') {
            return Err(Reject::Status(431, "head too large"));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| Reject::Status(400, "head is not text"))?
            .trim_end_matches(['\r', '\n']);
        if first {
            if text.is_empty() {
                continue; // a stray empty line before a request is allowed
            }
            first = false;
            let mut parts = text.split(' ');
            let (Some(m), Some(target), Some(v), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(Reject::Status(400, "bad request line"));
            };
            if !v.starts_with("HTTP/1.") {
                return Err(Reject::Status(505, "HTTP/1.x only"));
            }
            head.method = m.to_string();
            head.path = target.split('?').next().unwrap_or("").to_string();
            continue;
        }
        if text.is_empty() {
            return Ok(head);
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(Reject::Status(400, "bad header"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let n = value
                    .parse::<u64>()
                    .map_err(|_| Reject::Status(400, "bad content-length"))?;
                if head.content_length.is_some_and(|have| have != n) {
                    return Err(Reject::Status(400, "conflicting content-length"));
                }
                head.content_length = Some(n);
            }
            "transfer-encoding" => {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(Reject::Status(501, "transfer-encoding other than chunked"));
                }
                head.chunked = true;
            }
            "authorization" => head.authorization = Some(value.as_bytes().to_vec()),
            "content-type" => head.content_type = Some(value.to_string()),
            "content-encoding" => head.content_encoding = Some(value.to_string()),
            "expect" => head.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
}

/// Reads the body (chunked or by length) into memory when `cap > 0`, at most `cap` bytes
/// (413 beyond, after reading and dropping up to [`MAX_DISCARD`]); with `cap == 0` reads and
/// drops it.
pub(crate) fn read_body<R: BufRead>(
    r: &mut R,
    head: &Head,
    cap: usize,
) -> std::result::Result<Vec<u8>, Reject> {
    let mut body = Vec::new();
    let mut seen: u64 = 0;
    let mut too_large = false;
    let mut take = |r: &mut R, n: u64, body: &mut Vec<u8>| -> std::result::Result<(), Reject> {
        seen = seen.saturating_add(n);
        if seen > MAX_DISCARD {
            return Err(Reject::Gone);
        }
        let keep = cap > 0 && !too_large && seen <= cap as u64;
        if cap > 0 && seen > cap as u64 {
            too_large = true;
            body.clear();
            body.shrink_to_fit();
        }
        if keep {
            let start = body.len();
            body.resize(start + n as usize, 0);
            r.read_exact(&mut body[start..]).map_err(|_| Reject::Gone)
        } else {
            let copied =
                io::copy(&mut r.by_ref().take(n), &mut io::sink()).map_err(|_| Reject::Gone)?;
            if copied == n {
                Ok(())
            } else {
                Err(Reject::Gone)
            }
        }
    };
    if head.chunked {
        let mut line = Vec::new();
        loop {
            line.clear();
            r.by_ref()
                .take(1024)
                .read_until(b'\n', &mut line)
                .map_err(|_| Reject::Gone)?;
            if line.last() != Some(&b'\n') {
                return Err(Reject::Status(400, "bad chunk size"));
            }
            let text =
                std::str::from_utf8(&line).map_err(|_| Reject::Status(400, "bad chunk size"))?;
            let size = text.split(';').next().unwrap_or("").trim();
            let n =
                u64::from_str_radix(size, 16).map_err(|_| Reject::Status(400, "bad chunk size"))?;
            if n == 0 {
                // Trailers, up to the empty line.
                loop {
                    line.clear();
                    r.by_ref()
                        .take(8192)
                        .read_until(b'\n', &mut line)
                        .map_err(|_| Reject::Gone)?;
                    if line.last() != Some(&b'\n') {
                        return Err(Reject::Status(400, "bad trailer"));
                    }
                    if line.trim_ascii().is_empty() {
                        break;
                    }
                }
                break;
            }
            take(r, n, &mut body)?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf[..1]).map_err(|_| Reject::Gone)?;
            if crlf[0] == b'\r' {
                r.read_exact(&mut crlf[1..]).map_err(|_| Reject::Gone)?;
            } else {
                crlf[1] = crlf[0];
            }
            if crlf[1] != b'\n' {
                return Err(Reject::Status(400, "bad chunk end"));
            }
        }
    } else if let Some(n) = head.content_length {
        take(r, n, &mut body)?;
    }
    if too_large {
        return Err(Reject::Status(413, "body too large"));
    }
    Ok(body)
}

/// Writes the answer and closes the connection.
pub(crate) fn respond(mut conn: &TcpStream, status: u16, msg: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
    // An OTLP success is an empty response message; errors carry a google.rpc.Status.
    let body = if status == 200 {
        "{}".to_string()
    } else {
        serde_json::json!({ "message": msg }).to_string()
    };
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(text.as_bytes());
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Write);
    // Read what the client may still send (up to a point), so closing does not reset the
    // connection before it has read the answer.
    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = io::copy(&mut conn.take(64 << 10), &mut io::sink());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(text: &str) -> std::result::Result<Head, Reject> {
        read_head(&mut io::Cursor::new(text.as_bytes().to_vec()))
    }

    #[test]
    fn heads() {
        let h = head_of("POST /v1/logs?x=1 HTTP/1.1\r\nContent-Length: 5\r\nAuthorization: Bearer abc\r\ncontent-type: application/json\r\n\r\n").unwrap();
        assert_eq!(h.method, "POST");
        assert_eq!(h.path, "/v1/logs");
        assert_eq!(h.content_length, Some(5));
        assert_eq!(h.authorization.as_deref(), Some(&b"Bearer abc"[..]));
        assert_eq!(head_of(""), Err(Reject::Gone));
        assert_eq!(
            head_of("POST /v1/logs HTTP/1.1\r\n").unwrap_err(),
            Reject::Status(400, "truncated head")
        );
        assert!(matches!(
            head_of("GARBAGE\r\n\r\n"),
            Err(Reject::Status(400, _))
        ));
        assert!(matches!(
            head_of("POST / HTTP/2\r\n\r\n"),
            Err(Reject::Status(505, _))
        ));
        assert!(matches!(
            head_of("POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n"),
            Err(Reject::Status(400, _))
        ));
        assert!(matches!(
            head_of("POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"),
            Err(Reject::Status(400, _))
        ));
        assert!(matches!(
            head_of("POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n"),
            Err(Reject::Status(501, _))
        ));
        let huge = format!("POST / HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(head_of(&huge), Err(Reject::Status(431, _))));
    }

    #[test]
    fn chunked_and_sized_bodies() {
        let chunked = Head {
            chunked: true,
            ..Default::default()
        };
        let mut r =
            io::Cursor::new(b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n".to_vec());
        assert_eq!(read_body(&mut r, &chunked, 100).unwrap(), b"Wikipedia");
        let mut r = io::Cursor::new(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n".to_vec());
        assert_eq!(
            read_body(&mut r, &chunked, 6).unwrap_err(),
            Reject::Status(413, "body too large")
        );
        let mut r = io::Cursor::new(b"zz\r\n".to_vec());
        assert!(matches!(
            read_body(&mut r, &chunked, 6),
            Err(Reject::Status(400, _))
        ));
        let mut r = io::Cursor::new(b"4\r\nWi".to_vec());
        assert_eq!(read_body(&mut r, &chunked, 100).unwrap_err(), Reject::Gone);
        let sized = Head {
            content_length: Some(3),
            ..Default::default()
        };
        let mut r = io::Cursor::new(b"abcdef".to_vec());
        assert_eq!(read_body(&mut r, &sized, 10).unwrap(), b"abc");
        let mut r = io::Cursor::new(b"abcdef".to_vec());
        assert_eq!(read_body(&mut r, &sized, 0).unwrap(), b"");
        let mut r = io::Cursor::new(b"ab".to_vec());
        assert_eq!(read_body(&mut r, &sized, 10).unwrap_err(), Reject::Gone);
        let endless = Head {
            content_length: Some(u64::MAX),
            ..Default::default()
        };
        let mut r = io::Cursor::new(b"ab".to_vec());
        assert_eq!(read_body(&mut r, &endless, 10).unwrap_err(), Reject::Gone);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"Bearer x", b"Bearer x"));
        assert!(!same_secret(b"Bearer y", b"Bearer x"));
        assert!(!same_secret(b"Bearer", b"Bearer x"));
    }
}
