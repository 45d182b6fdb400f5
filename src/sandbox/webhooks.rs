//! Webhooks as the providers post them, for the sandbox's demo connections: a Gong
//! automation rule's signed JWT and a Salesloft subscription's HMAC.
//!
//! DEMO KEYS: `gong/webhook_demo_key.pem` and its public half
//! `gong/webhook_demo_key.pub.pem` were made once with `openssl genrsa 2048` and
//! `openssl rsa -pubout` for the sandbox and tests. They are published with the
//! source: never configure them (nor [`SALESLOFT_DEMO_TOKEN`]) for a real connection.
//!
//! ```ignore
//! let hook = sandbox.gong_webhook(call_index, &format!("{base}/webhooks/gong-demo")).unwrap();
//! hook.post(&client, &format!("{base}/webhooks/gong-demo")).await?;
//! let hook = sandbox.salesloft_webhook(call_index, "conversation_updated").unwrap();
//! ```

use std::net::SocketAddr;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{SalesloftSimHandle, Sandbox, World, gong, salesloft};

/// The demo Gong rule's public key (PEM, SubjectPublicKeyInfo). DEMO ONLY.
pub const GONG_DEMO_PUBLIC_KEY: &str = include_str!("gong/webhook_demo_key.pub.pem");
/// The demo Gong rule's private key (PEM, PKCS#8), which signs the sandbox's Gong
/// webhooks. DEMO ONLY: it is public.
pub const GONG_DEMO_PRIVATE_KEY: &str = include_str!("gong/webhook_demo_key.pem");
/// The demo Salesloft subscription's callback token. DEMO ONLY.
pub const SALESLOFT_DEMO_TOKEN: &str = "sandbox-salesloft-callback-token";

/// The URL the sandbox's Gong rule posts to (its `webhook_url` claim), for
/// convograph served at `addr`.
pub fn gong_webhook_url(addr: SocketAddr, connection: &str) -> String {
    format!("http://{addr}/webhooks/{connection}")
}

/// One post, ready to send: its headers and its exact body.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte as signed.
    pub body: Vec<u8>,
}

impl Webhook {
    /// A Gong post of `body`: an RS256 JWT (signed with `private_key_pem`, PKCS#8 or
    /// PKCS#1) in `Authorization`, claiming `webhook_url` and the body's SHA-256
    /// (hex). `exp` is set `valid_for_secs` from now (negative: already expired).
    pub fn gong(body: Vec<u8>, webhook_url: &str, private_key_pem: &str, valid_for_secs: i64) -> anyhow::Result<Self> {
        let digest = hex::encode(Sha256::digest(&body));
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "webhook_url": webhook_url,
            "body_sha256": digest,
            "iat": now,
            "exp": now + valid_for_secs,
        });
        let jwt = sign_rs256(private_key_pem, &claims)?;
        Ok(Self { headers: vec![("authorization".into(), jwt)], body })
    }

    /// A Salesloft post of `body` for `event`, signed with `token`.
    pub fn salesloft(body: Vec<u8>, event: &str, token: &str) -> Self {
        let signature = crate::webhooks::salesloft_signature(token, &body);
        Self {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (crate::webhooks::SALESLOFT_SIGNATURE_HEADER.into(), signature),
                (crate::webhooks::SALESLOFT_EVENT_HEADER.into(), event.into()),
            ],
            body,
        }
    }

    /// POSTs it to `url`.
    pub async fn post(&self, client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
        let mut req = client.post(url).header("content-type", "application/json").body(self.body.clone());
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        req.send().await
    }
}

/// An RS256 JWT of `claims` signed with an RSA private key in PEM.
pub fn sign_rs256(private_key_pem: &str, claims: &Value) -> anyhow::Result<String> {
    use rsa::{
        RsaPrivateKey,
        pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey},
        pkcs8::DecodePrivateKey,
    };
    let pem = private_key_pem.trim();
    let key = RsaPrivateKey::from_pkcs8_pem(pem).or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))?;
    let der = key.to_pkcs1_der()?;
    let key = EncodingKey::from_rsa_der(der.as_bytes());
    Ok(jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key)?)
}

/// Gong's webhook body for world call `call` (`None` when Gong did not record it):
/// the call as `calls/extensive` renders it for convograph's lists.
pub fn gong_webhook_body(world: &World, call: usize) -> Option<Vec<u8>> {
    let c = world.calls.get(call).filter(|c| c.recorded_by.gong)?;
    let body = crate::providers::gong::calls_extensive_body(&json!({}));
    let selector: gong::render::ContentSelector =
        serde_json::from_value(body["contentSelector"].clone()).unwrap_or_default();
    let record = gong::render::call_extensive(world, c, &selector, gong::render::ContextLevel::None);
    serde_json::to_vec(&json!({ "callData": record, "isTest": false })).ok()
}

/// The signed Gong post for world call `call`, to convograph's webhook at
/// `webhook_url` (the URL the demo rule is configured with).
pub fn gong_webhook(world: &World, call: usize, webhook_url: &str) -> Option<Webhook> {
    Webhook::gong(gong_webhook_body(world, call)?, webhook_url, GONG_DEMO_PRIVATE_KEY, 300).ok()
}

/// Salesloft's webhook body for world call `call` (`None` when Salesloft has no
/// conversation of it): the conversation as `GET /v2/conversations/{id}` renders it.
pub fn salesloft_webhook_body(world: &World, sim: &SalesloftSimHandle, call: usize) -> Option<Vec<u8>> {
    let c = sim.data().conversation(call)?;
    let record = salesloft::handlers::conversation_json(world, sim.base_url(), c);
    serde_json::to_vec(&record).ok()
}

/// The signed Salesloft post of `event` (e.g. `conversation_updated`) for world call
/// `call`.
pub fn salesloft_webhook(world: &World, sim: &SalesloftSimHandle, call: usize, event: &str) -> Option<Webhook> {
    Some(Webhook::salesloft(salesloft_webhook_body(world, sim, call)?, event, SALESLOFT_DEMO_TOKEN))
}

impl Sandbox {
    /// [`gong_webhook`] over this sandbox's world.
    pub fn gong_webhook(&self, call: usize, webhook_url: &str) -> Option<Webhook> {
        gong_webhook(&self.world, call, webhook_url)
    }

    /// [`salesloft_webhook`] over this sandbox's world and simulator.
    pub fn salesloft_webhook(&self, call: usize, event: &str) -> Option<Webhook> {
        salesloft_webhook(&self.world, &self.salesloft, call, event)
    }
}
