//! Gateway authentication: bearer token, browser sessions (a cookie issued after token login) and HMAC-SHA256
//! body signatures, all compared in constant time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use dashmap::DashMap;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

/// Header carrying `sha256=<hex hmac of the raw body>` for callers that sign instead of sending the token.
pub const SIGNATURE_HEADER: &str = "x-chitin-signature";

/// Name of the cookie that carries a browser session.
pub const SESSION_COOKIE: &str = "chitin_session";
/// How long a browser session lasts after login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// The configured secrets; `None` token means the API routes are closed.
#[derive(Clone)]
pub struct GatewayAuth {
    token: Option<String>,
    signing_secret: Option<String>,
    /// Browser sessions: SHA-256 of the cookie value → expiry. Only hashes are kept, so a memory dump does not
    /// hand out live sessions; sessions end with the process (the user logs in again).
    sessions: Arc<DashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for GatewayAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayAuth").field("token_set", &self.token.is_some()).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No token is configured, so nothing can be authorised.
    NotConfigured,
    Missing,
    Wrong,
}

impl GatewayAuth {
    pub fn new(token: Option<String>, signing_secret: Option<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()),
            signing_secret: signing_secret.filter(|s| !s.is_empty()),
            sessions: Arc::new(DashMap::new()),
        }
    }

    /// Token login for the browser: on the right token, a new session id to set as [`SESSION_COOKIE`].
    pub fn login(&self, given: &str) -> Result<String, AuthFailure> {
        let token = self.token.as_deref().ok_or(AuthFailure::NotConfigured)?;
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return Err(AuthFailure::Wrong);
        }
        let now = Instant::now();
        self.sessions.retain(|_, expires| *expires > now);
        let session = hex::encode(rand::random::<[u8; 32]>());
        self.sessions.insert(session_key(&session), now + SESSION_LIFETIME);
        Ok(session)
    }

    /// Ends the browser session named by the request's cookie, if any.
    pub fn logout(&self, headers: &HeaderMap) {
        if let Some(session) = session_cookie(headers) {
            self.sessions.remove(&session_key(session));
        }
    }

    /// A bearer token or a live browser session.
    pub fn check_request(&self, headers: &HeaderMap) -> Result<(), AuthFailure> {
        match self.check_bearer(headers) {
            Ok(()) => return Ok(()),
            Err(AuthFailure::Wrong) => return Err(AuthFailure::Wrong),
            Err(AuthFailure::NotConfigured | AuthFailure::Missing) => {}
        }
        let session = session_cookie(headers).ok_or(AuthFailure::Missing)?;
        match self.sessions.get(&session_key(session)) {
            Some(expires) if *expires > Instant::now() => Ok(()),
            _ => Err(AuthFailure::Wrong),
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn check_bearer(&self, headers: &HeaderMap) -> Result<(), AuthFailure> {
        let token = self.token.as_deref().ok_or(AuthFailure::NotConfigured)?;
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(AuthFailure::Missing)?;
        if bool::from(given.as_bytes().ct_eq(token.as_bytes())) { Ok(()) } else { Err(AuthFailure::Wrong) }
    }

    /// The bearer token, or else a valid signature of `body` (keyed by the signing secret, or the token).
    pub fn check_bearer_or_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), AuthFailure> {
        match self.check_bearer(headers) {
            Ok(()) => return Ok(()),
            Err(AuthFailure::Wrong) => return Err(AuthFailure::Wrong),
            Err(AuthFailure::NotConfigured | AuthFailure::Missing) => {}
        }
        let key = self.signing_secret.as_deref().or(self.token.as_deref()).ok_or(AuthFailure::NotConfigured)?;
        let signature = headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("sha256="))
            .ok_or(AuthFailure::Missing)?;
        let expected = hex::decode(signature).map_err(|_| AuthFailure::Wrong)?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).map_err(|_| AuthFailure::Wrong)?;
        mac.update(body);
        mac.verify_slice(&expected).map_err(|_| AuthFailure::Wrong)
    }
}

/// Sessions are looked up by hash; the map's own lookup is then not a timing oracle for the cookie value.
fn session_key(session: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(session.as_bytes()).into()
}

/// The value of [`SESSION_COOKIE`] in the request's `Cookie` headers.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// `sha256=<hex>` for `body`, as a caller (or a test) computes it.
pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_and_signature_checks() {
        let auth = GatewayAuth::new(Some("t0ken".into()), None);
        let mut headers = HeaderMap::new();
        assert_eq!(auth.check_bearer(&headers), Err(AuthFailure::Missing));
        headers.insert("authorization", HeaderValue::from_static("Bearer wrong"));
        assert_eq!(auth.check_bearer(&headers), Err(AuthFailure::Wrong));
        headers.insert("authorization", HeaderValue::from_static("Bearer t0ken"));
        assert_eq!(auth.check_bearer(&headers), Ok(()));

        let mut signed = HeaderMap::new();
        let signature = sign("t0ken", b"{}");
        signed.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature).expect("header"));
        assert_eq!(auth.check_bearer_or_signature(&signed, b"{}"), Ok(()));
        assert_eq!(auth.check_bearer_or_signature(&signed, b"{ }"), Err(AuthFailure::Wrong));
        assert_eq!(GatewayAuth::new(None, None).check_bearer(&headers), Err(AuthFailure::NotConfigured));
    }

    #[test]
    fn browser_sessions_follow_login_and_logout() {
        let auth = GatewayAuth::new(Some("t0ken".into()), None);
        assert_eq!(auth.login("wrong"), Err(AuthFailure::Wrong));
        let session = auth.login("t0ken").expect("login");
        let mut headers = HeaderMap::new();
        assert_eq!(auth.check_request(&headers), Err(AuthFailure::Missing));
        headers.insert("cookie", HeaderValue::from_str(&format!("theme=dark; {SESSION_COOKIE}={session}")).unwrap());
        assert_eq!(auth.check_request(&headers), Ok(()));
        let mut forged = HeaderMap::new();
        forged.insert("cookie", HeaderValue::from_str(&format!("{SESSION_COOKIE}={}", "0".repeat(64))).unwrap());
        assert_eq!(auth.check_request(&forged), Err(AuthFailure::Wrong));
        auth.logout(&headers);
        assert_eq!(auth.check_request(&headers), Err(AuthFailure::Wrong));
        assert_eq!(GatewayAuth::new(None, None).login(""), Err(AuthFailure::NotConfigured));
    }
}
