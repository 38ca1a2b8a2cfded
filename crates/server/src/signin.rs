//! Browser sign-in: the dashboard trades the server token (pasted once) or a one-time link
//! that `serve` prints for a cookie, so the token never sits in a URL, in local storage or
//! in a page's script afterwards.
//!
//! The cookie (`as_auth`) is HttpOnly (no script reads it) and SameSite=Strict (no other
//! site's page sends it), Secure over TLS; its value is a random secret known only to this
//! server process, so a restart signs every browser out. One-time codes live 15 minutes
//! and work once.

use parking_lot::Mutex;
use rand::RngCore;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "as_auth";

/// How long a one-time link works.
pub const CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Browsers signed in at once; the oldest is signed out past this.
const MAX_SIGNED_IN: usize = 1000;

/// The signed-in browsers and the one-time codes not used yet.
#[derive(Debug, Default)]
pub struct SignIns {
    cookies: Mutex<VecDeque<String>>,
    codes: Mutex<HashMap<String, Instant>>,
    /// Cookies carry `Secure` (the server speaks TLS).
    pub secure: bool,
}

fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SignIns {
    /// No one signed in; cookies `Secure` when `secure`.
    pub fn new(secure: bool) -> SignIns {
        SignIns {
            secure,
            ..Default::default()
        }
    }

    /// A new one-time code for a sign-in link.
    pub fn mint_code(&self) -> String {
        let code = secret();
        let mut codes = self.codes.lock();
        codes.retain(|_, made| made.elapsed() < CODE_LIFETIME);
        codes.insert(code.clone(), Instant::now());
        code
    }

    /// Uses up `code`: true once, if it was minted here less than [`CODE_LIFETIME`] ago.
    pub fn redeem_code(&self, code: &str) -> bool {
        self.codes
            .lock()
            .remove(code)
            .is_some_and(|made| made.elapsed() < CODE_LIFETIME)
    }

    /// Signs a browser in: the cookie value it gets.
    pub fn open(&self) -> String {
        let s = secret();
        let mut cookies = self.cookies.lock();
        if cookies.len() >= MAX_SIGNED_IN {
            cookies.pop_front();
        }
        cookies.push_back(s.clone());
        s
    }

    /// Is this cookie value a signed-in browser's?
    pub fn is_open(&self, value: &str) -> bool {
        value.len() == 64 && self.cookies.lock().iter().any(|c| c == value)
    }

    /// Signs a browser out.
    pub fn close(&self, value: &str) {
        self.cookies.lock().retain(|c| c != value);
    }

    /// The `Set-Cookie` header that signs a browser in with `value`.
    pub fn set_cookie(&self, value: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/{secure}")
    }

    /// The `Set-Cookie` header that removes the cookie.
    pub fn clear_cookie(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
    }
}

/// The `as_auth` cookie's value among a request's `Cookie` headers.
pub fn cookie_value(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_work_once_and_cookies_until_closed() {
        let s = SignIns::new(false);
        let code = s.mint_code();
        assert!(s.redeem_code(&code));
        assert!(!s.redeem_code(&code));
        assert!(!s.redeem_code("nope"));
        let c = s.open();
        assert!(s.is_open(&c));
        assert!(!s.is_open(&secret()));
        s.close(&c);
        assert!(!s.is_open(&c));
        assert!(s.set_cookie(&c).contains("HttpOnly; SameSite=Strict"));
        assert!(SignIns::new(true).set_cookie(&c).ends_with("; Secure"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=1; as_auth=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h).as_deref(), Some("abc"));
    }
}
