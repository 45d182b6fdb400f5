//! Client authentication and connection scopes: two clients with different scopes
//! over one server; forged, expired and confused JWTs; foreign ids and cursors.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use convograph::{
    auth::api_key_sha256,
    config::{ApiKeySettings, AuthSettings, JwtSettings, SandboxConfig, SecretSource, Settings},
    providers::ProviderKind,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{TEST_CALLS, TEST_PEOPLE, TestApp, codes, spawn_with, test_settings};

pub const GONG_KEY: &str = "test-key-gong-only-5b1f0c9e2a7d4f3b8c6e";
pub const EV_KEY: &str = "test-key-execvision-only-9d2c4a7e1f3b5c8d";
pub const JWT_SECRET: &str = "test-jwt-secret-that-is-at-least-32-bytes-long-0f9e";

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/auth");

/// Settings with Gong and ExecVision demo connections and three kinds of client:
/// an API key per connection, and JWTs (HS256 secret, RS256/ES256 from the JWKS).
pub fn secured_settings(dir: &tempfile::TempDir) -> Settings {
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig {
        seed: 7,
        people: TEST_PEOPLE,
        calls: TEST_CALLS,
        providers: vec![ProviderKind::Gong, ProviderKind::ExecVision],
        ..SandboxConfig::default()
    });
    let secret = dir.path().join("jwt-secret");
    std::fs::write(&secret, format!("{JWT_SECRET}\n")).unwrap();
    settings.auth = AuthSettings {
        open: false,
        api_keys: vec![
            ApiKeySettings {
                name: "gong-dashboard".into(),
                sha256: api_key_sha256(GONG_KEY),
                connections: vec!["gong-demo".into()],
            },
            ApiKeySettings {
                name: "coaching-app".into(),
                sha256: api_key_sha256(EV_KEY),
                connections: vec!["execvision-demo".into()],
            },
        ],
        jwt: Some(JwtSettings {
            hs256_secret: Some(SecretSource::File(secret)),
            jwks_file: Some(format!("{FIXTURES}/jwks.json").into()),
            issuer: None,
            audience: None,
            connections_claim: "connections".into(),
            leeway: std::time::Duration::ZERO,
        }),
    };
    settings
}

async fn spawn_secured() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_with(secured_settings(&dir)).await;
    (app, dir)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn rs256(claims: &Value) -> String {
    let der = std::fs::read(format!("{FIXTURES}/rs256-private.der")).unwrap();
    let header = Header { kid: Some("test-rsa".into()), ..Header::new(Algorithm::RS256) };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&der)).unwrap()
}

fn es256(claims: &Value) -> String {
    let der = std::fs::read(format!("{FIXTURES}/es256-private.pk8.der")).unwrap();
    let header = Header { kid: Some("test-ec".into()), ..Header::new(Algorithm::ES256) };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&der)).unwrap()
}

/// An HS256 token for `connections` that expires `secs` from now.
pub fn jwt_expiring_in(secs: i64, connections: Value) -> String {
    hs256(&json!({ "sub": "jwt-client", "exp": now() + secs, "connections": connections }), JWT_SECRET.as_bytes())
}

/// A valid HS256 token for `connections`.
pub fn jwt_for(connections: Value) -> String {
    hs256(&json!({ "sub": "jwt-client", "exp": now() + 600, "connections": connections }), JWT_SECRET.as_bytes())
}

async fn connection_ids(app: &TestApp, credential: &str) -> Vec<String> {
    let data = app.data_as(credential, "{ connections { id } }", json!({})).await;
    data["connections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

fn upstream(app: &TestApp) -> (u64, u64) {
    (app.gong.total_requests(), app.execvision.total_requests())
}

#[tokio::test]
async fn two_api_keys_each_see_only_their_own_connections() {
    let (app, _dir) = spawn_secured().await;
    assert_eq!(connection_ids(&app, GONG_KEY).await, vec!["gong-demo"]);
    assert_eq!(connection_ids(&app, EV_KEY).await, vec!["execvision-demo"]);

    // The API key header works as well as the bearer form.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("x-api-key", EV_KEY)
        .json(&json!({ "query": "{ connections { id } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["connections"], json!([{ "id": "execvision-demo" }]));

    // Each reads its own calls; the list names no connection and picks the only one.
    let gong = app.data_as(GONG_KEY, "{ calls(first: 1) { totalCount } }", json!({})).await;
    let expected_gong = app.world.calls.iter().filter(|c| c.recorded_by.gong).count();
    assert_eq!(gong["calls"]["totalCount"], expected_gong);

    // The same bytes from both clients, twice each: every answer is the caller's own
    // (the response cache is keyed by what the caller may read as well as the body).
    let same = "{ calls(first: 1) { edges { node { id provider } } } }";
    let (g1, e1) = (app.data_as(GONG_KEY, same, json!({})).await, app.data_as(EV_KEY, same, json!({})).await);
    let (g2, e2) = (app.data_as(GONG_KEY, same, json!({})).await, app.data_as(EV_KEY, same, json!({})).await);
    assert_eq!(g1["calls"]["edges"][0]["node"]["provider"], "GONG", "{g1}");
    assert_eq!(e1["calls"]["edges"][0]["node"]["provider"], "EXECVISION", "{e1}");
    assert_eq!((g1, e1), (g2, e2));
}

#[tokio::test]
async fn a_foreign_or_unknown_connection_is_forbidden_without_an_upstream_request() {
    let (app, _dir) = spawn_secured().await;
    let before = upstream(&app);
    for id in ["execvision-demo", "no-such-connection"] {
        let q = format!(r#"{{ calls(connectionId: "{id}", first: 2) {{ edges {{ node {{ title }} }} }} }}"#);
        let (status, body) = app.query_as(Some(GONG_KEY), &q, json!({})).await;
        assert_eq!(status, 200);
        assert!(body["data"]["calls"].is_null(), "{body:#}");
        assert_eq!(codes(&body), vec!["FORBIDDEN"], "an unknown id is not told apart from a foreign one");
    }
    assert_eq!(upstream(&app), before, "nothing was asked of any provider");

    // A client that may read everything still gets NOT_FOUND for an unknown id.
    let everything = jwt_for(json!(["*"]));
    let (_, body) =
        app.query_as(Some(&everything), r#"{ calls(connectionId: "nope", first: 1) { totalCount } }"#, json!({})).await;
    assert_eq!(codes(&body), vec!["NOT_FOUND"]);
}

#[tokio::test]
async fn ids_and_cursors_of_a_foreign_connection_are_forbidden_and_cost_nothing() {
    let (app, _dir) = spawn_secured().await;
    // The ExecVision client reads (and so caches) its calls and users.
    let ev = app
        .data_as(
            EV_KEY,
            r#"{ calls(first: 2) { pageInfo { endCursor } edges { node { id transcript { text } } } }
                 users(first: 1) { edges { node { id email } } } }"#,
            json!({}),
        )
        .await;
    let call_id = ev["calls"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
    let cursor = ev["calls"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let user_id = ev["users"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();

    // The Gong client replays them: nothing comes back, and no provider is asked.
    let before = upstream(&app);
    let vars = json!({ "call": call_id, "user": user_id, "after": cursor });
    let (_, body) = app
        .query_as(
            Some(GONG_KEY),
            r#"query($call: ID!, $user: ID!) {
                 node(id: $call) { id }
                 call(id: $call) { title }
                 user(id: $user) { email }
               }"#,
            vars.clone(),
        )
        .await;
    for field in ["node", "call", "user"] {
        assert!(body["data"][field].is_null(), "{field}: {body:#}");
    }
    assert_eq!(codes(&body), vec!["FORBIDDEN"; 3]);

    let (_, body) = app
        .query_as(
            Some(GONG_KEY),
            r#"query($after: String) { calls(connectionId: "execvision-demo", first: 2, after: $after) { edges { node { id } } } }"#,
            vars.clone(),
        )
        .await;
    assert_eq!(codes(&body), vec!["FORBIDDEN"]);
    // Without a connection id the list is the client's own, which the cursor is not of.
    let (_, body) = app
        .query_as(
            Some(GONG_KEY),
            r#"query($after: String) { calls(first: 2, after: $after) { edges { node { id } } } }"#,
            vars.clone(),
        )
        .await;
    assert_eq!(codes(&body), vec!["BAD_CURSOR"]);

    // Federation entity lookups go through the same check.
    let (_, body) = app
        .query_as(
            Some(GONG_KEY),
            r#"query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Call { title } } }"#,
            json!({ "reps": [{ "__typename": "Call", "id": call_id }] }),
        )
        .await;
    assert!(body["data"]["_entities"][0].is_null(), "{body:#}");
    assert_eq!(codes(&body), vec!["FORBIDDEN"]);
    assert_eq!(upstream(&app), before, "no provider request for a foreign id, cursor or entity");
}

#[tokio::test]
async fn lookups_across_connections_search_only_the_callers_own() {
    let (app, _dir) = spawn_secured().await;
    let both = app
        .world
        .people
        .iter()
        .find(|p| p.accounts.gong && p.accounts.execvision)
        .expect("someone is at both providers");
    let q = r#"query($e: String!) { user(email: $e) { email connection { id } } }"#;
    let before = app.gong.total_requests();
    let data = app.data_as(EV_KEY, q, json!({ "e": both.email })).await;
    assert_eq!(data["user"]["connection"]["id"], "execvision-demo");
    assert_eq!(app.gong.total_requests(), before, "the Gong connection was not searched");

    // A person only at Gong does not exist for the ExecVision client.
    if let Some(gong_only) = app.world.people.iter().find(|p| p.accounts.gong && !p.accounts.execvision) {
        let data = app.data_as(EV_KEY, q, json!({ "e": gong_only.email })).await;
        assert!(data["user"].is_null());
    }
}

#[tokio::test]
async fn missing_unknown_forged_and_expired_credentials_are_unauthenticated() {
    let (app, _dir) = spawn_secured().await;
    let claims = |exp: i64| json!({ "sub": "mallory", "exp": exp, "connections": ["*"] });
    let rsa_public = std::fs::read(format!("{FIXTURES}/jwks.json")).unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(now() + 600).to_string());
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no credentials", None, "authentication required"),
        ("an unknown API key", Some("not-a-configured-key".into()), "unknown API key"),
        ("a JWT signed with another secret", Some(hs256(&claims(now() + 600), &[7u8; 40])), "invalid token"),
        ("an expired JWT", Some(hs256(&claims(now() - 60), JWT_SECRET.as_bytes())), "expired"),
        (
            "a JWT not valid yet",
            Some(hs256(
                &json!({ "exp": now() + 7200, "nbf": now() + 3600, "connections": ["*"] }),
                JWT_SECRET.as_bytes(),
            )),
            "not valid yet",
        ),
        ("a JWT without exp", Some(hs256(&json!({ "connections": ["*"] }), JWT_SECRET.as_bytes())), "invalid token"),
        ("an unsigned JWT (alg none)", Some(format!("{header}.{payload}.")), "invalid token"),
        ("an HS256 JWT keyed with the public JWKS", Some(hs256(&claims(now() + 600), &rsa_public)), "invalid token"),
        (
            "an HS256 JWT keyed with the JWKS's symmetric key",
            Some(hs256(&claims(now() + 600), b"this symmetric key must never be used for tokens")),
            "invalid token",
        ),
        (
            "a tampered JWT",
            Some({
                let good = jwt_for(json!(["gong-demo"]));
                let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
                parts[1] = URL_SAFE_NO_PAD.encode(claims(now() + 600).to_string());
                parts.join(".")
            }),
            "invalid token",
        ),
    ];
    let before = upstream(&app);
    for (what, credential, message) in cases {
        let (status, body) = app.query_as(credential.as_deref(), "{ connections { id } }", json!({})).await;
        assert_eq!(status, 401, "{what}: {body:#}");
        assert_eq!(codes(&body), vec!["UNAUTHENTICATED"], "{what}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(message), "{what}: {body:#}");
        assert!(body.get("data").is_none(), "{what}");
    }
    let resp = app.client.get(app.url("/graphql?query={connections{id}}")).send().await.unwrap();
    assert_eq!(resp.status(), 401, "GET is authenticated too");
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(upstream(&app), before);

    // GraphiQL's page itself is static and needs no credentials.
    let resp = app.client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn jwts_from_the_secret_or_the_jwks_carry_their_scope() {
    let (app, _dir) = spawn_secured().await;
    let exp = now() + 600;
    assert_eq!(connection_ids(&app, &jwt_for(json!(["gong-demo"]))).await, vec!["gong-demo"]);
    let rsa = rs256(&json!({ "sub": "router", "exp": exp, "connections": ["*"] }));
    let mut all = connection_ids(&app, &rsa).await;
    all.sort();
    assert_eq!(all, vec!["execvision-demo", "gong-demo"]);
    let ec = es256(&json!({ "sub": "coach", "exp": exp, "connections": "execvision-demo" }));
    assert_eq!(connection_ids(&app, &ec).await, vec!["execvision-demo"]);
    let nothing = jwt_for(json!([]));
    assert_eq!(connection_ids(&app, &nothing).await, Vec::<String>::new(), "a token without connections reads none");

    // A JWKS key cannot be used under another algorithm, nor with another kid.
    let der = std::fs::read(format!("{FIXTURES}/rs256-private.der")).unwrap();
    let wrong_kid = Header { kid: Some("test-ec".into()), ..Header::new(Algorithm::RS256) };
    let token = jsonwebtoken::encode(&wrong_kid, &json!({ "exp": exp }), &EncodingKey::from_rsa_der(&der)).unwrap();
    let (status, _) = app.query_as(Some(&token), "{ connections { id } }", json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_sandbox_without_clients_runs_open() {
    let app = crate::helpers::spawn_app().await;
    let (status, body) = app.query_as(None, "{ connections { id } }", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["connections"][0]["id"], "gong-demo");
}

#[tokio::test]
async fn a_server_built_in_code_without_clients_refuses_to_start_too() {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    let err = match convograph::startup::Application::build(settings.clone()).await {
        Ok(_) => panic!("a server with no clients outside the sandbox must not start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no clients configured"), "{err}");
    settings.auth.open = true;
    assert!(convograph::startup::Application::build(settings).await.is_ok(), "unless told to run open");
}
