//! Where a connection's `Authorization` header comes from: fixed credentials (HTTP
//! Basic, a bearer token or API key), or an OAuth 2.0 client-credentials token
//! (Hubster) that is obtained from the token URL, cached, refreshed before it
//! expires and once more when the provider refuses it. Tokens and secrets live in
//! sensitive header values and [`Secret`]s: never logged, never in errors.

use std::time::Duration;

use base64::Engine;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use tokio::{sync::Mutex, time::Instant};
use url::Url;

use super::ProviderErrorKind;
use crate::config::{Credentials, Secret};

/// Lifetime assumed when a token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The `Authorization` header source of one connection.
#[derive(Debug)]
pub(crate) enum Auth {
    /// The same header on every request.
    Static(HeaderValue),
    /// An OAuth 2.0 client-credentials token.
    Token(Box<ClientCredentials>),
}

impl Auth {
    /// The header source for `credentials`; `client` fetches tokens.
    pub(crate) fn new(credentials: &Credentials, client: &reqwest::Client) -> Result<Self, String> {
        let fixed = |v: String| {
            let mut h =
                HeaderValue::try_from(v).map_err(|_| "credentials contain characters not allowed in a header")?;
            h.set_sensitive(true);
            Ok::<_, String>(Auth::Static(h))
        };
        match credentials {
            Credentials::Basic { username, password } => {
                let raw = format!("{}:{}", username.expose(), password.expose());
                fixed(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
            }
            Credentials::Bearer { token } => fixed(format!("Bearer {}", token.expose())),
            Credentials::ClientCredentials { client_id, client_secret, token_url, scope } => {
                Ok(Auth::Token(Box::new(ClientCredentials {
                    client: client.clone(),
                    token_url: token_url.clone(),
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    scope: scope.clone(),
                    current: Mutex::new(None),
                    suspect: std::sync::Mutex::new(Suspect::default()),
                })))
            }
        }
    }

    /// The header for the next request (a token is fetched when none is fresh;
    /// `sent` hears of each token request: its status, or `None` without a response).
    pub(crate) async fn header(&self, sent: impl Fn(Option<u16>)) -> Result<HeaderValue, ProviderErrorKind> {
        match self {
            Auth::Static(h) => Ok(h.clone()),
            Auth::Token(t) => t.header(&sent).await,
        }
    }

    /// The provider refused `used` with a 401: forgets that token. True when a
    /// retry with a new token can help: token credentials, unless `used` was itself
    /// obtained because a token was refused and has never been accepted (then the
    /// credentials, not the token's age, are the problem).
    pub(crate) async fn refused(&self, used: &HeaderValue) -> bool {
        match self {
            Auth::Static(_) => false,
            Auth::Token(t) => {
                if t.suspect.lock().expect("suspect lock").token.as_ref() == Some(used) {
                    return false;
                }
                let mut current = t.current.lock().await;
                if current.as_ref().is_some_and(|c| c.header == used) {
                    *current = None;
                    t.suspect.lock().expect("suspect lock").renewing = true;
                }
                true
            }
        }
    }

    /// The provider accepted `used` (answered anything but 401).
    pub(crate) fn accepted(&self, used: &HeaderValue) {
        if let Auth::Token(t) = self {
            let mut suspect = t.suspect.lock().expect("suspect lock");
            if suspect.token.as_ref() == Some(used) {
                suspect.token = None;
            }
        }
    }
}

/// OAuth 2.0 client credentials and the cached token.
pub(crate) struct ClientCredentials {
    client: reqwest::Client,
    token_url: Url,
    client_id: Secret,
    client_secret: Secret,
    scope: Option<String>,
    /// Held while fetching, so concurrent requests wait for one token request.
    current: Mutex<Option<CachedToken>>,
    suspect: std::sync::Mutex<Suspect>,
}

/// A token obtained because another was refused, until the provider accepts it.
#[derive(Default)]
struct Suspect {
    /// The next token fetched replaces a refused one.
    renewing: bool,
    token: Option<HeaderValue>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials").field("token_url", &self.token_url.as_str()).finish_non_exhaustive()
    }
}

struct CachedToken {
    header: HeaderValue,
    refresh_at: Instant,
}

impl CachedToken {
    /// Still usable at `now` (not yet in its refresh margin).
    fn fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

/// How long before expiry a token is replaced: a tenth of its lifetime, at most five
/// minutes (a 30-day Hubster token is renewed 5 minutes before it runs out).
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(300))
}

impl ClientCredentials {
    async fn header(&self, sent: &impl Fn(Option<u16>)) -> Result<HeaderValue, ProviderErrorKind> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref()
            && c.fresh(Instant::now())
        {
            return Ok(c.header.clone());
        }
        let (header, lifetime) = self.fetch(sent).await?;
        {
            let mut suspect = self.suspect.lock().expect("suspect lock");
            if std::mem::take(&mut suspect.renewing) {
                suspect.token = Some(header.clone());
            }
        }
        let refresh_at = Instant::now() + lifetime - refresh_margin(lifetime);
        *current = Some(CachedToken { header: header.clone(), refresh_at });
        Ok(header)
    }

    async fn fetch(&self, sent: &impl Fn(Option<u16>)) -> Result<(HeaderValue, Duration), ProviderErrorKind> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.expose()),
            ("client_secret", self.client_secret.expose()),
        ];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let resp = self.client.post(self.token_url.clone()).form(&form).send().await.map_err(|e| {
            sent(None);
            ProviderErrorKind::Unavailable(format!("token request: {}", super::transport::describe(&e)))
        })?;
        let status = resp.status().as_u16();
        sent(Some(status));
        match status {
            200..=299 => {}
            400 | 401 | 403 => return Err(ProviderErrorKind::Unauthorized(status)),
            500.. => return Err(ProviderErrorKind::Unavailable(format!("token request: HTTP {status}"))),
            _ => return Err(ProviderErrorKind::Status { status }),
        }
        let body = resp.bytes().await.map_err(|e| {
            ProviderErrorKind::Unavailable(format!("token request: {}", super::transport::describe(&e)))
        })?;
        let token: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| ProviderErrorKind::Decode("the token response is not an OAuth 2.0 token".into()))?;
        if token.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
            return Err(ProviderErrorKind::Decode(
                "the token endpoint issued a token that is not a bearer token".into(),
            ));
        }
        let mut header = HeaderValue::try_from(format!("Bearer {}", token.access_token))
            .map_err(|_| ProviderErrorKind::Decode("the issued token is not a valid header value".into()))?;
        header.set_sensitive(true);
        let lifetime = token.expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs).max(Duration::from_secs(1));
        tracing::info!(token_url = %self.token_url, expires_in_s = lifetime.as_secs(), "Obtained an access token.");
        Ok((header, lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_a_tenth_of_their_life_early_at_most_five_minutes() {
        assert_eq!(refresh_margin(Duration::from_secs(2_592_000)), Duration::from_secs(300));
        assert_eq!(refresh_margin(Duration::from_secs(600)), Duration::from_secs(60));
        assert_eq!(refresh_margin(Duration::from_secs(10)), Duration::from_secs(1));
    }

    #[test]
    fn a_token_is_replaced_once_inside_its_refresh_margin() {
        let obtained = Instant::now();
        let lifetime = Duration::from_secs(600);
        let t = CachedToken {
            header: HeaderValue::from_static("Bearer x"),
            refresh_at: obtained + lifetime - refresh_margin(lifetime),
        };
        assert!(t.fresh(obtained + Duration::from_secs(539)));
        assert!(!t.fresh(obtained + Duration::from_secs(540)), "renewed a minute before it expires");
    }

    #[test]
    fn fixed_credentials_are_sensitive_headers() {
        let client = reqwest::Client::new();
        let auth = Auth::new(&Credentials::Bearer { token: Secret::new("abc") }, &client).unwrap();
        let Auth::Static(h) = auth else { panic!("static") };
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Bearer abc");
        assert!(format!("{h:?}").contains("Sensitive"), "Debug hides it: {h:?}");
    }
}
