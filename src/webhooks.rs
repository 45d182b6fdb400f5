//! Webhooks in: what Gong and Salesloft post to `POST /webhooks/{connection}`,
//! verified by the provider's own signature and read into [`Changes`] for the
//! subscriptions' [`crate::live::Hub`] (which sends what the poller has not).
//!
//! - **Gong** (an automation rule with a "Signed JWT header"): `Authorization` holds
//!   an RS256 JWT (with or without `Bearer `) signed with the rule's key; its
//!   `webhook_url` claim must be the URL configured for the connection and its
//!   `body_sha256` claim the SHA-256 of the exact body (hex, or base64 / base64url);
//!   `exp`, when present, must not be past (with [`LEEWAY`]).
//! - **Salesloft**: `x-salesloft-signature` is the hex HMAC-SHA1 of the exact body,
//!   keyed with the subscription's callback token; `x-salesloft-event` names the event.
//!
//! Nothing here answers HTTP: [`crate::http`] maps the outcomes to status codes.

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::{
    config::{ConfigError, Secret},
    providers::{Changes, ProviderKind, gong, salesloft},
};

/// Clock skew tolerated on a Gong JWT's `exp`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// Gong's signature header.
pub const GONG_SIGNATURE_HEADER: &str = "authorization";
/// Salesloft's signature header.
pub const SALESLOFT_SIGNATURE_HEADER: &str = "x-salesloft-signature";
/// Salesloft's event-name header.
pub const SALESLOFT_EVENT_HEADER: &str = "x-salesloft-event";

/// A connection's webhook settings with their secrets read.
#[derive(Debug, Clone)]
pub struct ResolvedWebhook {
    /// Salesloft's callback token.
    pub secret: Option<Secret>,
    /// Gong's public key (PEM).
    pub public_key: Option<Secret>,
    /// Gong's webhook URL (the `webhook_url` claim).
    pub url: Option<String>,
}

/// How one connection's posts are verified.
enum Verifier {
    Gong { key: Box<DecodingKey>, url: String },
    Salesloft { token: Secret },
}

/// The webhook receivers of every connection that has one.
#[derive(Default)]
pub struct Webhooks {
    receivers: HashMap<Arc<str>, Verifier>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").field("connections", &self.receivers.keys().collect::<Vec<_>>()).finish()
    }
}

/// The headers a verification reads.
#[derive(Debug, Default, Clone, Copy)]
pub struct Signed<'a> {
    /// `Authorization` (Gong).
    pub authorization: Option<&'a str>,
    /// `x-salesloft-signature`.
    pub salesloft_signature: Option<&'a str>,
    /// `x-salesloft-event`.
    pub salesloft_event: Option<&'a str>,
}

/// What became of a post.
#[derive(Debug)]
pub enum Received {
    /// Changes to hand to the hub.
    Changes(Changes),
    /// A test post (Gong's "Test" button): verified, nothing to send.
    Test,
    /// An event that is not about calls: verified and ignored.
    Ignored,
}

/// Why a post is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No webhook is configured for this connection (or no such connection).
    #[error("no webhook here")]
    NotConfigured,
    /// The signature is missing or does not verify (the reason is for logs only).
    #[error("bad signature: {0}")]
    BadSignature(&'static str),
    /// The body is verified but cannot be read.
    #[error("unreadable body: {0}")]
    Unreadable(String),
}

impl Webhooks {
    /// Receivers for these connections (id, provider, webhook). A Gong key that is
    /// not an RSA public key in PEM is a configuration error.
    pub fn build<'a>(
        connections: impl IntoIterator<Item = (&'a str, ProviderKind, Option<&'a ResolvedWebhook>)>,
    ) -> Result<Self, ConfigError> {
        let mut receivers = HashMap::new();
        for (id, provider, webhook) in connections {
            let Some(w) = webhook else { continue };
            let err = |reason: &str| ConfigError::Value {
                key: format!("connection '{id}' webhook"),
                reason: reason.to_owned(),
            };
            let verifier = match provider {
                ProviderKind::Gong => {
                    let pem = w.public_key.as_ref().ok_or_else(|| err("Gong webhooks need `public_key`"))?;
                    let url = w.url.clone().ok_or_else(|| err("Gong webhooks need `url`"))?;
                    let key = rsa_public_key(pem.expose())
                        .ok_or_else(|| err("`public_key` is not an RSA public key in PEM"))?;
                    Verifier::Gong { key: Box::new(key), url }
                }
                ProviderKind::Salesloft => {
                    let token = w.secret.clone().ok_or_else(|| err("Salesloft webhooks need `secret`"))?;
                    Verifier::Salesloft { token }
                }
                other => return Err(err(&format!("{other} does not post webhooks convograph can verify"))),
            };
            receivers.insert(Arc::from(id), verifier);
        }
        Ok(Self { receivers })
    }

    /// Whether `connection` takes webhooks.
    pub fn accepts(&self, connection: &str) -> bool {
        self.receivers.contains_key(connection)
    }

    /// Verifies a post to `connection` and reads it.
    pub fn receive(&self, connection: &str, headers: Signed<'_>, body: &[u8]) -> Result<Received, WebhookError> {
        let verifier = self.receivers.get(connection).ok_or(WebhookError::NotConfigured)?;
        match verifier {
            Verifier::Gong { key, url } => {
                verify_gong(key, url, headers.authorization, body)?;
                let value = json(body)?;
                match gong::webhook_changes(&value).map_err(WebhookError::Unreadable)? {
                    Some(changes) => Ok(Received::Changes(changes)),
                    None => Ok(Received::Test),
                }
            }
            Verifier::Salesloft { token } => {
                verify_salesloft(token, headers.salesloft_signature, body)?;
                let value = json(body)?;
                match salesloft::webhook_changes(headers.salesloft_event, &value).map_err(WebhookError::Unreadable)? {
                    Some(changes) => Ok(Received::Changes(changes)),
                    None => Ok(Received::Ignored),
                }
            }
        }
    }
}

fn json(body: &[u8]) -> Result<serde_json::Value, WebhookError> {
    // Where, not what: the error text of serde can quote the body.
    serde_json::from_slice(body)
        .map_err(|e| WebhookError::Unreadable(format!("not JSON (line {}, column {})", e.line(), e.column())))
}

/// An RSA public key from PEM: SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, what
/// `openssl rsa -pubout` writes) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
fn rsa_public_key(pem: &str) -> Option<DecodingKey> {
    use rsa::{
        RsaPublicKey,
        pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey},
        pkcs8::DecodePublicKey,
    };
    let pem = pem.trim();
    let key = RsaPublicKey::from_public_key_pem(pem).or_else(|_| RsaPublicKey::from_pkcs1_pem(pem)).ok()?;
    let der = key.to_pkcs1_der().ok()?;
    Some(DecodingKey::from_rsa_der(der.as_bytes()))
}

fn verify_gong(key: &DecodingKey, url: &str, authorization: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
    let header = authorization.map(str::trim).filter(|h| !h.is_empty()).ok_or(WebhookError::BadSignature("no JWT"))?;
    let token = match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => header,
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY.as_secs();
    validation.validate_exp = true;
    validation.validate_aud = false;
    // `exp` is checked when present; Gong documents none of the claims as required.
    validation.set_required_spec_claims::<&str>(&[]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &validation).map_err(
        |e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => WebhookError::BadSignature("expired JWT"),
            jsonwebtoken::errors::ErrorKind::InvalidSignature => WebhookError::BadSignature("JWT signature"),
            _ => WebhookError::BadSignature("malformed JWT"),
        },
    )?;
    let claims = data.claims;
    let claimed_url =
        claims.get("webhook_url").and_then(|v| v.as_str()).ok_or(WebhookError::BadSignature("no webhook_url"))?;
    if claimed_url.trim_end_matches('/') != url.trim_end_matches('/') {
        return Err(WebhookError::BadSignature("webhook_url"));
    }
    let claimed =
        claims.get("body_sha256").and_then(|v| v.as_str()).ok_or(WebhookError::BadSignature("no body_sha256"))?;
    let digest = decode_digest(claimed).ok_or(WebhookError::BadSignature("body_sha256 unreadable"))?;
    // The body's digest is no secret: a plain comparison tells an attacker nothing.
    if digest.as_slice() != Sha256::digest(body).as_slice() {
        return Err(WebhookError::BadSignature("body_sha256"));
    }
    Ok(())
}

/// A SHA-256 as hex (either case), base64 or base64url (padded or not).
fn decode_digest(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    // 64 characters are hex: base64 of 32 bytes is 43 or 44.
    if text.len() == 64 {
        return hex::decode(text).ok();
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .filter(|bytes| bytes.len() == 32)
}

fn verify_salesloft(token: &Secret, signature: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
    let signature =
        signature.map(str::trim).filter(|s| !s.is_empty()).ok_or(WebhookError::BadSignature("no signature"))?;
    let sent = hex::decode(signature).map_err(|_| WebhookError::BadSignature("signature is not hex"))?;
    let mut mac = Hmac::<Sha1>::new_from_slice(token.expose().as_bytes())
        .map_err(|_| WebhookError::BadSignature("unusable token"))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sent).map_err(|_| WebhookError::BadSignature("HMAC"))
}

/// The `x-salesloft-signature` of `body` under `token` (lowercase hex HMAC-SHA1);
/// for the sandbox and tests that post as Salesloft.
pub fn salesloft_signature(token: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_as_hex_in_either_case_and_as_base64_or_base64url() {
        let digest = Sha256::digest(b"{}");
        let hex_lower = hex::encode(digest);
        assert_eq!(decode_digest(&hex_lower).as_deref(), Some(digest.as_slice()));
        assert_eq!(decode_digest(&hex_lower.to_uppercase()).as_deref(), Some(digest.as_slice()));
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        assert_eq!(decode_digest(&STANDARD.encode(digest)).as_deref(), Some(digest.as_slice()));
        assert_eq!(decode_digest(&URL_SAFE_NO_PAD.encode(digest)).as_deref(), Some(digest.as_slice()));
        assert_eq!(decode_digest("not a digest"), None);
        assert_eq!(decode_digest(&STANDARD.encode(b"short")), None);
    }

    #[test]
    fn a_salesloft_signature_verifies_and_a_changed_body_does_not() {
        let token = Secret::new("callback-token");
        let sig = salesloft_signature("callback-token", b"{\"id\":1}");
        assert!(verify_salesloft(&token, Some(&sig), b"{\"id\":1}").is_ok());
        assert!(verify_salesloft(&token, Some(&sig.to_uppercase()), b"{\"id\":1}").is_ok());
        assert!(verify_salesloft(&token, Some(&sig), b"{\"id\":2}").is_err());
        assert!(verify_salesloft(&token, None, b"{\"id\":1}").is_err());
        assert!(verify_salesloft(&token, Some("zz"), b"{\"id\":1}").is_err());
    }
}
