//! Client authentication: who is calling, and which connections they may read.
//!
//! Two kinds of client credentials, both sent as `Authorization: Bearer <credential>`
//! (API keys also as `X-API-Key: <key>`):
//!
//! - **API keys**, configured by the SHA-256 of the key. A key is a random 256-bit
//!   value, so a fast hash is enough (no dictionary to guess from, unlike a
//!   password, which would need argon2): lookups cost one SHA-256 per request, and
//!   the config never holds a usable credential.
//! - **JWTs**: HS256 with a shared secret, or RS256 / ES256 with the public keys of a
//!   JWKS file. The algorithm comes from the key, never from the token alone, so a
//!   token cannot pick a weaker check (`none`, or HS256 keyed with a public key).
//!   `exp` is required, `nbf`, `iss` and `aud` are checked; the connections claim
//!   (default `connections`) lists the connections the bearer may read.
//!
//! The result is a [`Principal`], put in every GraphQL request's data; the schema's
//! two connection seams (`schema::readable`, `schema::provider`) consult it.

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
    sync::Arc,
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use sha2::{Digest, Sha256};

use crate::config::{AuthSettings, ConfigError, JwtSettings};

/// The scope value meaning "every connection".
pub const ALL_CONNECTIONS: &str = "*";

/// Which connections a principal may read.
#[derive(Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every configured connection.
    All,
    /// Only these connection ids.
    Only(BTreeSet<Arc<str>>),
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("All"),
            Self::Only(ids) => f.debug_set().entries(ids.iter().map(|i| &**i)).finish(),
        }
    }
}

impl Scope {
    /// A scope from configured or claimed connection ids (`*` means all).
    pub fn from_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut only = BTreeSet::new();
        for id in ids {
            if id == ALL_CONNECTIONS {
                return Self::All;
            }
            only.insert(Arc::from(id));
        }
        Self::Only(only)
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// No authentication (sandbox or `auth.open`).
    Open,
    /// An API key.
    ApiKey,
    /// A JWT bearer token.
    Jwt,
}

impl AuthMethod {
    /// `open`, `api_key`, `jwt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::ApiKey => "api_key",
            Self::Jwt => "jwt",
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    name: Arc<str>,
    method: AuthMethod,
    scope: Scope,
}

impl Principal {
    /// The caller of a server that runs open: reads every connection.
    pub fn open() -> Self {
        Self { name: Arc::from("anonymous"), method: AuthMethod::Open, scope: Scope::All }
    }

    /// A principal with this name, method and scope.
    pub fn new(name: impl Into<Arc<str>>, method: AuthMethod, scope: Scope) -> Self {
        Self { name: name.into(), method, scope }
    }

    /// The client name (API key name, or the JWT's `sub`): for logs, never secret.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it authenticated.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// Its scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Who may share this caller's cached answers: answers depend only on what the
    /// caller may read, so callers with the same scope share them.
    pub fn cache_partition(&self) -> String {
        match &self.scope {
            Scope::All => ALL_CONNECTIONS.to_owned(),
            Scope::Only(ids) => ids.iter().map(|i| i.len().to_string() + ":" + i).collect::<Vec<_>>().join(","),
        }
    }

    /// Whether it may read connection `id`.
    pub fn may_read(&self, id: &str) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Only(ids) => ids.contains(id),
        }
    }
}

/// Why a request was not authenticated. The messages are safe to show clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials.
    #[error("authentication required: send `Authorization: Bearer <API key or JWT>`")]
    Missing,
    /// An API key that is not configured (or a token that is neither a key nor a JWT).
    #[error("unknown API key")]
    UnknownKey,
    /// A JWT past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// A JWT that fails validation (signature, algorithm, key, `nbf`, `iss`, `aud`).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
}

impl AuthError {
    /// A short label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::UnknownKey => "unknown_key",
            Self::Expired => "expired",
            Self::InvalidToken(_) => "invalid_token",
        }
    }
}

/// Turns request credentials into a [`Principal`].
pub struct Authenticator {
    open: bool,
    api_keys: HashMap<[u8; 32], Arc<Principal>>,
    jwt: Option<JwtVerifier>,
    open_principal: Arc<Principal>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("open", &self.open)
            .field("api_keys", &self.api_keys.len())
            .field("jwt", &self.jwt.is_some())
            .finish()
    }
}

impl Authenticator {
    /// Builds from settings. `connections` are the ids that exist: a client scoped
    /// to an unknown id is a configuration error (a typo would silently deny).
    pub fn build(settings: &AuthSettings, connections: &[&str]) -> Result<Self, ConfigError> {
        let known = |id: &str| id == ALL_CONNECTIONS || connections.contains(&id);
        let mut api_keys = HashMap::new();
        for (i, k) in settings.api_keys.iter().enumerate() {
            if let Some(bad) = k.connections.iter().find(|c| !known(c)) {
                return Err(ConfigError::Value {
                    key: format!("auth.api_keys[{i}].connections"),
                    reason: format!("unknown connection '{bad}'"),
                });
            }
            let digest = parse_hex_digest(&k.sha256).ok_or_else(|| ConfigError::Value {
                key: format!("auth.api_keys[{i}].sha256"),
                reason: "must be the 64 hex digits of the key's SHA-256".into(),
            })?;
            let scope = Scope::from_ids(k.connections.iter().map(String::as_str));
            let principal = Arc::new(Principal::new(k.name.as_str(), AuthMethod::ApiKey, scope));
            if api_keys.insert(digest, principal).is_some() {
                return Err(ConfigError::Value {
                    key: format!("auth.api_keys[{i}].sha256"),
                    reason: "the same key is configured twice".into(),
                });
            }
        }
        let jwt = settings.jwt.as_ref().map(JwtVerifier::build).transpose()?;
        let open = settings.open || (api_keys.is_empty() && jwt.is_none());
        Ok(Self { open, api_keys, jwt, open_principal: Arc::new(Principal::open()) })
    }

    /// Whether the server runs without client authentication.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The principal of a request with these header values.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Arc<Principal>, AuthError> {
        if self.open {
            return Ok(self.open_principal.clone());
        }
        let bearer = authorization.and_then(|h| {
            let (scheme, value) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
        });
        let credential = match (bearer, api_key.map(str::trim)) {
            (Some(c), _) | (None, Some(c)) if !c.is_empty() => c,
            _ => return Err(AuthError::Missing),
        };
        let digest: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        if let Some(p) = self.api_keys.get(&digest) {
            return Ok(p.clone());
        }
        match &self.jwt {
            Some(jwt) if credential.bytes().filter(|b| *b == b'.').count() == 2 => jwt.verify(credential).map(Arc::new),
            Some(_) if self.api_keys.is_empty() => Err(AuthError::InvalidToken("not a JWT")),
            _ => Err(AuthError::UnknownKey),
        }
    }
}

fn parse_hex_digest(text: &str) -> Option<[u8; 32]> {
    hex::FromHex::from_hex(text).ok()
}

/// The hex SHA-256 of an API key, as `auth.api_keys[].sha256` wants it.
pub fn api_key_sha256(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh random API key (256 bits, base64url) with its SHA-256.
pub fn generate_api_key() -> (String, String) {
    use base64::Engine;
    let key = format!("cvg_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
    let hash = api_key_sha256(&key);
    (key, hash)
}

/// One verification key: the algorithm it is for, and its `kid`.
struct JwtKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

struct JwtVerifier {
    keys: Vec<JwtKey>,
    issuer: Option<String>,
    audience: Option<String>,
    claim: String,
    leeway: u64,
}

/// HS256 wants a key at least as long as its output (RFC 7518 §3.2).
const MIN_HS256_SECRET: usize = 32;

impl JwtVerifier {
    fn build(settings: &JwtSettings) -> Result<Self, ConfigError> {
        let err = |key: &str, reason: String| ConfigError::Value { key: key.into(), reason };
        let mut keys = Vec::new();
        if let Some(src) = &settings.hs256_secret {
            let secret = src.resolve("auth.jwt.hs256_secret")?;
            if secret.expose().len() < MIN_HS256_SECRET {
                return Err(err("auth.jwt.hs256_secret", format!("must be at least {MIN_HS256_SECRET} bytes")));
            }
            keys.push(JwtKey {
                kid: None,
                alg: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.expose().as_bytes()),
            });
        }
        if let Some(path) = &settings.jwks_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| err("auth.jwt.jwks_file", format!("cannot read {}: {e}", path.display())))?;
            let set: JwkSet = serde_json::from_str(&text)
                .map_err(|e| err("auth.jwt.jwks_file", format!("{} is not a JWKS: {e}", path.display())))?;
            let before = keys.len();
            for jwk in &set.keys {
                if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
                    continue;
                }
                let alg = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
                    _ => {
                        tracing::warn!(kid = ?jwk.common.key_id, "JWKS key skipped: only RSA (RS256) and P-256 (ES256) keys are used.");
                        continue;
                    }
                };
                if let Some(declared) = jwk.common.key_algorithm
                    && !matches!(
                        (declared, alg),
                        (KeyAlgorithm::RS256, Algorithm::RS256) | (KeyAlgorithm::ES256, Algorithm::ES256)
                    )
                {
                    tracing::warn!(kid = ?jwk.common.key_id, "JWKS key skipped: only RS256 and ES256 are accepted.");
                    continue;
                }
                let key = DecodingKey::from_jwk(jwk)
                    .map_err(|e| err("auth.jwt.jwks_file", format!("key {:?}: {e}", jwk.common.key_id)))?;
                keys.push(JwtKey { kid: jwk.common.key_id.clone(), alg, key });
            }
            if keys.len() == before {
                return Err(err("auth.jwt.jwks_file", format!("{} has no RS256 or ES256 key", path.display())));
            }
        }
        Ok(Self {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            claim: settings.connections_claim.clone(),
            leeway: settings.leeway.as_secs(),
        })
    }

    /// The key for a token: the algorithm in the header must be the key's own.
    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Option<&JwtKey> {
        let mut candidates = self.keys.iter().filter(|k| k.alg == alg);
        match kid {
            Some(kid) => {
                candidates.find(|k| k.kid.as_deref() == Some(kid) || (k.alg == Algorithm::HS256 && k.kid.is_none()))
            }
            None => {
                let first = candidates.next()?;
                // Without a `kid`, only an unambiguous key will do.
                candidates.next().is_none().then_some(first)
            }
        }
    }

    fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken("malformed"))?;
        if !matches!(header.alg, Algorithm::HS256 | Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::InvalidToken("unsupported algorithm"));
        }
        let key = self.key_for(header.alg, header.kid.as_deref()).ok_or(AuthError::InvalidToken("no matching key"))?;
        let mut validation = Validation::new(key.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key.key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::InvalidToken("not valid yet"),
                ErrorKind::InvalidIssuer => AuthError::InvalidToken("wrong issuer"),
                ErrorKind::InvalidAudience => AuthError::InvalidToken("wrong audience"),
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
                    AuthError::InvalidToken("missing or malformed claim")
                }
                ErrorKind::InvalidSignature => AuthError::InvalidToken("bad signature"),
                _ => AuthError::InvalidToken("malformed"),
            })?;
        let claims = data.claims;
        let name = claims.get("sub").and_then(|v| v.as_str()).unwrap_or("jwt");
        let scope = match claims.get(&self.claim) {
            Some(serde_json::Value::String(s)) => Scope::from_ids(s.split_whitespace()),
            Some(serde_json::Value::Array(items)) => Scope::from_ids(items.iter().filter_map(|v| v.as_str())),
            _ => Scope::Only(BTreeSet::new()),
        };
        Ok(Principal::new(name, AuthMethod::Jwt, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiKeySettings, SecretSource};

    fn settings(keys: &[(&str, &str, &[&str])]) -> AuthSettings {
        AuthSettings {
            open: false,
            api_keys: keys
                .iter()
                .map(|(name, key, conns)| ApiKeySettings {
                    name: (*name).into(),
                    sha256: api_key_sha256(key),
                    connections: conns.iter().map(|c| (*c).to_owned()).collect(),
                })
                .collect(),
            jwt: None,
        }
    }

    #[test]
    fn api_keys_map_to_their_scope_and_unknown_keys_are_refused() {
        let auth =
            Authenticator::build(&settings(&[("a", "key-a", &["c1"]), ("b", "key-b", &["*"])]), &["c1", "c2"]).unwrap();
        assert!(!auth.is_open());
        let a = auth.authenticate(Some("Bearer key-a"), None).unwrap();
        assert_eq!((a.name(), a.may_read("c1"), a.may_read("c2")), ("a", true, false));
        let b = auth.authenticate(None, Some("key-b")).unwrap();
        assert!(b.may_read("c2") && b.may_read("anything"));
        assert_eq!(auth.authenticate(Some("bearer   key-a "), None).unwrap().name(), "a", "scheme is case-insensitive");
        assert_eq!(auth.authenticate(Some("Bearer key-c"), None), Err(AuthError::UnknownKey));
        assert_eq!(auth.authenticate(Some("Basic a2V5LWE="), None), Err(AuthError::Missing));
        assert_eq!(auth.authenticate(None, None), Err(AuthError::Missing));
    }

    #[test]
    fn a_client_scoped_to_an_unknown_connection_is_a_config_error() {
        let err = Authenticator::build(&settings(&[("a", "k", &["nope"])]), &["c1"]).unwrap_err();
        assert!(err.to_string().contains("auth.api_keys[0].connections") && err.to_string().contains("nope"));
    }

    #[test]
    fn without_clients_everyone_is_the_open_principal() {
        let auth = Authenticator::build(&AuthSettings::default(), &["c1"]).unwrap();
        assert!(auth.is_open());
        assert_eq!(auth.authenticate(None, None).unwrap().method(), AuthMethod::Open);
    }

    #[test]
    fn a_short_hs256_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "short").unwrap();
        let s = AuthSettings {
            jwt: Some(JwtSettings {
                hs256_secret: Some(SecretSource::File(path)),
                jwks_file: None,
                issuer: None,
                audience: None,
                connections_claim: "connections".into(),
                leeway: std::time::Duration::ZERO,
            }),
            ..AuthSettings::default()
        };
        let err = Authenticator::build(&s, &[]).unwrap_err().to_string();
        assert!(err.contains("auth.jwt.hs256_secret") && !err.contains("short"), "{err}");
    }

    #[test]
    fn generated_keys_hash_as_configured() {
        let (key, hash) = generate_api_key();
        assert!(key.starts_with("cvg_") && key.len() > 40);
        assert_eq!(hash, api_key_sha256(&key));
        assert_eq!(parse_hex_digest(&hash).map(|d| d.to_vec()), Some(Sha256::digest(key.as_bytes()).to_vec()));
    }
}
