//! Gateway authentication: bearer token and HMAC-SHA256 body signatures, compared in constant time.

use axum::http::HeaderMap;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

/// Header carrying `sha256=<hex hmac of the raw body>` for callers that sign instead of sending the token.
pub const SIGNATURE_HEADER: &str = "x-chitin-signature";

/// The configured secrets; `None` token means the API routes are closed.
#[derive(Clone)]
pub struct GatewayAuth {
    token: Option<String>,
    signing_secret: Option<String>,
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
        Self { token: token.filter(|t| !t.is_empty()), signing_secret: signing_secret.filter(|s| !s.is_empty()) }
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
}
