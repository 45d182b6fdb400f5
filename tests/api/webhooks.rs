//! Webhooks in: a signed Gong or Salesloft post reaches subscribers once (the poll
//! interval is an hour, so only the webhook can explain the event); posts without
//! a good signature are refused and deliver nothing.

use std::time::Duration;

use convograph::{
    config::{SandboxConfig, Settings},
    providers::ProviderKind,
    sandbox::{
        gong::ids as gong_ids,
        salesloft::ids as sl_ids,
        webhooks::{
            GONG_DEMO_PRIVATE_KEY, SALESLOFT_DEMO_TOKEN, Webhook, gong_webhook, gong_webhook_body, salesloft_webhook,
            salesloft_webhook_body, sign_rs256,
        },
    },
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TEST_CALLS, TEST_PEOPLE, TestApp, spawn_with, test_settings};

/// Long enough that only the first (baseline) poll runs during a test.
const POLL: Duration = Duration::from_secs(3600);
/// The longest a test waits for one event.
const WAIT: Duration = Duration::from_secs(10);

fn settings_for(providers: Vec<ProviderKind>) -> Settings {
    let mut settings = test_settings();
    settings.sandbox =
        Some(SandboxConfig { seed: 7, people: TEST_PEOPLE, calls: TEST_CALLS, providers, ..SandboxConfig::default() });
    settings.live.poll_interval = POLL;
    settings
}

/// One GraphQL-over-SSE subscription, held by the server once opened.
struct Subscriber {
    sub: crate::live::SseSubscription,
}

impl Subscriber {
    /// Subscribes, and returns once the server holds the subscription (the
    /// `live_subscribers` gauge counts it), so a post after this has a listener.
    async fn open(app: &TestApp, query: &str, connection: &str, listeners: u32) -> Self {
        let sub = crate::live::SseSubscription::open(app, None, query).await;
        let series = format!(r#"convograph_live_subscribers{{connection="{connection}"}} {listeners}"#);
        // A bounded wait on an observable condition: the stream's first poll
        // registers the listener right after the headers went out.
        tokio::time::timeout(WAIT, async {
            loop {
                let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
                if text.lines().any(|l| l == series) {
                    return;
                }
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the subscription is held");
        Self { sub }
    }

    /// The next `next` event's `data`, within [`WAIT`].
    async fn next(&mut self) -> Value {
        let payload = self.sub.next(WAIT).await.expect("an event within the wait");
        assert!(payload.get("errors").is_none(), "errors: {payload:#}");
        payload["data"].clone()
    }
}

async fn post(app: &TestApp, path: &str, hook: &Webhook) -> (u16, Value) {
    let resp = hook.post(&app.client, &app.url(path)).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn webhook_count(app: &TestApp, connection: &str, outcome: &str) -> f64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let series = format!(r#"convograph_webhooks_total{{connection="{connection}",outcome="{outcome}"}} "#);
    text.lines().find_map(|l| l.strip_prefix(&series)?.trim().parse().ok()).unwrap_or(0.0)
}

/// The first world calls Gong recorded.
fn gong_calls(app: &TestApp, n: usize) -> Vec<usize> {
    app.world.calls.iter().filter(|c| c.recorded_by.gong).map(|c| c.index).take(n).collect()
}

const GONG_ADDED: &str = r#"subscription { callAdded(connectionIds: ["gong-demo"]) { remoteId title } }"#;
const GONG_HOOK: &str = "/webhooks/gong-demo";

#[tokio::test]
async fn a_signed_gong_webhook_reaches_a_subscriber_once() {
    let app = spawn_with(settings_for(vec![ProviderKind::Gong])).await;
    let mut sub = Subscriber::open(&app, GONG_ADDED, "gong-demo", 1).await;
    let calls = gong_calls(&app, 2);
    let url = app.url(GONG_HOOK);
    let first = gong_webhook(&app.world, calls[0], &url).unwrap();

    assert_eq!(post(&app, GONG_HOOK, &first).await, (200, json!({ "accepted": 1 })));
    let event = sub.next().await;
    assert_eq!(event["callAdded"]["remoteId"], gong_ids::call_id(calls[0]));
    assert_eq!(event["callAdded"]["title"], app.world.calls[calls[0]].title.as_str());

    // The same post again: nothing new. The next event is the next call's.
    assert_eq!(post(&app, GONG_HOOK, &first).await, (200, json!({ "accepted": 0 })));
    let second = gong_webhook(&app.world, calls[1], &url).unwrap();
    assert_eq!(post(&app, GONG_HOOK, &second).await, (200, json!({ "accepted": 1 })));
    assert_eq!(sub.next().await["callAdded"]["remoteId"], gong_ids::call_id(calls[1]));
    assert_eq!(webhook_count(&app, "gong-demo", "accepted").await, 3.0);

    // The rule's "Test" button: verified, answered, nothing sent.
    let test_body = serde_json::to_vec(&json!({ "callData": {}, "isTest": true })).unwrap();
    let test = Webhook::gong(test_body, &url, GONG_DEMO_PRIVATE_KEY, 300).unwrap();
    assert_eq!(post(&app, GONG_HOOK, &test).await, (200, json!({ "accepted": 0 })));
    assert_eq!(webhook_count(&app, "gong-demo", "test").await, 1.0);
    // Only the baseline poll ran: the events came from the webhooks.
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 1);
}

/// A JWT for `body` with these claims changed, signed by the demo key.
fn gong_jwt(body: &[u8], url: &str, exp: i64) -> String {
    let digest: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    sign_rs256(GONG_DEMO_PRIVATE_KEY, &json!({ "webhook_url": url, "body_sha256": digest, "exp": exp })).unwrap()
}

fn with_authorization(body: Vec<u8>, authorization: Option<String>) -> Webhook {
    Webhook { headers: authorization.map(|a| ("authorization".to_owned(), a)).into_iter().collect(), body }
}

#[tokio::test]
async fn gong_posts_without_a_good_signature_are_refused_and_deliver_nothing() {
    let app = spawn_with(settings_for(vec![ProviderKind::Gong])).await;
    let mut sub = Subscriber::open(&app, GONG_ADDED, "gong-demo", 1).await;
    let calls = gong_calls(&app, 2);
    let url = app.url(GONG_HOOK);
    let body = gong_webhook_body(&app.world, calls[0]).unwrap();
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;

    // Another RSA key (the JWT tests' own), signing a JWT that is otherwise right.
    let other_key =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/auth/rs256-private.der")).unwrap();
    let digest: String = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({ "webhook_url": url, "body_sha256": digest, "exp": in_an_hour }),
        &jsonwebtoken::EncodingKey::from_rsa_der(&other_key),
    )
    .unwrap();
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'"').unwrap();
    tampered.insert(at, b' ');

    let refused = [
        ("tampered body", with_authorization(tampered, Some(gong_jwt(&body, &url, in_an_hour)))),
        ("wrong key", with_authorization(body.clone(), Some(foreign))),
        (
            "wrong webhook_url",
            with_authorization(body.clone(), Some(gong_jwt(&body, "https://elsewhere.example/hook", in_an_hour))),
        ),
        ("expired", with_authorization(body.clone(), Some(gong_jwt(&body, &url, in_an_hour - 7200)))),
        ("missing header", with_authorization(body.clone(), None)),
        ("not a JWT", with_authorization(body.clone(), Some("Bearer not.a.jwt".into()))),
    ];
    for (what, hook) in &refused {
        assert_eq!(post(&app, GONG_HOOK, hook).await, (401, json!({ "error": "bad signature" })), "{what}");
    }
    assert_eq!(webhook_count(&app, "gong-demo", "bad_signature").await, refused.len() as f64);

    // With `Bearer ` and a good signature, the same body is taken; the subscriber's
    // first event is this one (none of the refused posts delivered anything).
    let good = with_authorization(body.clone(), Some(format!("Bearer {}", gong_jwt(&body, &url, in_an_hour))));
    assert_eq!(post(&app, GONG_HOOK, &good).await, (200, json!({ "accepted": 1 })));
    assert_eq!(sub.next().await["callAdded"]["remoteId"], gong_ids::call_id(calls[0]));

    // A good signature over a body that is not JSON, or not a call: 400, not echoed.
    for junk in [b"{not json".to_vec(), br#"{"callData": {"metaData": 7}}"#.to_vec()] {
        let hook = Webhook::gong(junk, &url, GONG_DEMO_PRIVATE_KEY, 300).unwrap();
        let (status, answer) = post(&app, GONG_HOOK, &hook).await;
        assert_eq!((status, answer), (400, json!({ "error": "unreadable body" })));
    }
    assert_eq!(webhook_count(&app, "gong-demo", "unreadable").await, 2.0);

    // Unknown connections, and a connection without webhooks: 404.
    let hook = gong_webhook(&app.world, calls[1], &url).unwrap();
    for path in ["/webhooks/nope", "/webhooks/execvision-demo"] {
        assert_eq!(post(&app, path, &hook).await.0, 404, "{path}");
    }
    assert_eq!(webhook_count(&app, "", "unknown_connection").await, 2.0);
}

#[tokio::test]
async fn over_the_body_limit_is_413_before_any_verification() {
    let mut settings = settings_for(vec![ProviderKind::Gong]);
    settings.limits.max_body_bytes = 64;
    let app = spawn_with(settings).await;
    let url = app.url(GONG_HOOK);
    let hook = gong_webhook(&app.world, gong_calls(&app, 1)[0], &url).unwrap();
    assert_eq!(post(&app, GONG_HOOK, &hook).await.0, 413);
}

const SL_HOOK: &str = "/webhooks/salesloft-demo";

#[tokio::test]
async fn a_salesloft_conversation_is_added_then_updated_when_its_transcription_appears() {
    let app = spawn_with(settings_for(vec![ProviderKind::Salesloft])).await;
    let mut added = Subscriber::open(
        &app,
        r#"subscription { callAdded(connectionIds: ["salesloft-demo"]) { remoteId } }"#,
        "salesloft-demo",
        1,
    )
    .await;
    let mut updated = Subscriber::open(
        &app,
        r#"subscription { callUpdated(connectionIds: ["salesloft-demo"]) { changes call { remoteId } } }"#,
        "salesloft-demo",
        2,
    )
    .await;
    let call = app.salesloft.data().conversations.iter().find(|c| c.transcribed).unwrap().call;
    let id = sl_ids::conversation_id(call);

    // First told of before its transcription exists.
    let full = salesloft_webhook_body(&app.world, &app.salesloft, call).unwrap();
    let mut early: Value = serde_json::from_slice(&full).unwrap();
    for field in ["transcription", "transcription_sentences", "transcription_artifact"] {
        early[field] = Value::Null;
    }
    let early = Webhook::salesloft(serde_json::to_vec(&early).unwrap(), "conversation_created", SALESLOFT_DEMO_TOKEN);
    assert_eq!(post(&app, SL_HOOK, &early).await, (200, json!({ "accepted": 1 })));
    assert_eq!(added.next().await["callAdded"]["remoteId"], id.as_str());

    // Then as it now is, with its transcription: one update, saying so; once.
    let now = salesloft_webhook(&app.world, &app.salesloft, call, "conversation_updated").unwrap();
    assert_eq!(post(&app, SL_HOOK, &now).await, (200, json!({ "accepted": 1 })));
    let event = updated.next().await;
    assert_eq!(event["callUpdated"]["call"]["remoteId"], id.as_str());
    assert_eq!(event["callUpdated"]["changes"], json!(["DETAILS", "TRANSCRIPT"]));
    assert_eq!(post(&app, SL_HOOK, &now).await, (200, json!({ "accepted": 0 })));

    // The next event on each stream is another conversation's: nothing was repeated.
    let other = app.salesloft.data().conversations.iter().find(|c| c.call != call).unwrap().call;
    let hook = salesloft_webhook(&app.world, &app.salesloft, other, "conversation_created").unwrap();
    assert_eq!(post(&app, SL_HOOK, &hook).await, (200, json!({ "accepted": 1 })));
    assert_eq!(added.next().await["callAdded"]["remoteId"], sl_ids::conversation_id(other).as_str());
    assert_eq!(app.salesloft.requests("GET", "/v2/conversations"), 1, "the baseline poll only");
}

#[tokio::test]
async fn salesloft_posts_are_checked_by_hmac_and_other_events_are_accepted_and_ignored() {
    let app = spawn_with(settings_for(vec![ProviderKind::Salesloft])).await;
    let call = app.salesloft.data().conversations[0].call;
    let body = salesloft_webhook_body(&app.world, &app.salesloft, call).unwrap();

    let wrong_token = Webhook::salesloft(body.clone(), "conversation_updated", "not-the-token");
    let mut tampered = Webhook::salesloft(body.clone(), "conversation_updated", SALESLOFT_DEMO_TOKEN);
    tampered.body.insert(1, b' ');
    let mut unsigned = Webhook::salesloft(body.clone(), "conversation_updated", SALESLOFT_DEMO_TOKEN);
    unsigned.headers.retain(|(name, _)| name != "x-salesloft-signature");
    for hook in [&wrong_token, &tampered, &unsigned] {
        assert_eq!(post(&app, SL_HOOK, hook).await, (401, json!({ "error": "bad signature" })));
    }
    assert_eq!(webhook_count(&app, "salesloft-demo", "bad_signature").await, 3.0);

    // Signed, but about something else than a conversation: accepted, ignored.
    let cadence = serde_json::to_vec(&json!({ "id": 42, "name": "Outbound Q3" })).unwrap();
    let hook = Webhook::salesloft(cadence, "cadence_updated", SALESLOFT_DEMO_TOKEN);
    assert_eq!(post(&app, SL_HOOK, &hook).await, (202, json!({ "accepted": 0 })));
    assert_eq!(webhook_count(&app, "salesloft-demo", "ignored").await, 1.0);

    // Signed garbage: 400.
    for junk in [b"garbage".to_vec(), br#"{"id": null, "platform": "zoom"}"#.to_vec()] {
        let hook = Webhook::salesloft(junk, "conversation_created", SALESLOFT_DEMO_TOKEN);
        assert_eq!(post(&app, SL_HOOK, &hook).await, (400, json!({ "error": "unreadable body" })));
    }
    // A Gong-signed post to the Salesloft connection is no Salesloft signature.
    let gong_style = Webhook::gong(body, &app.url(SL_HOOK), GONG_DEMO_PRIVATE_KEY, 300).unwrap();
    assert_eq!(post(&app, SL_HOOK, &gong_style).await.0, 401);
}

#[test]
fn a_webhook_block_must_fit_its_provider() {
    use convograph::config::{ConnectionSettings, CredentialsConfig, SecretSource, WebhookSettings};
    let connection = |provider: ProviderKind, webhook: WebhookSettings| {
        let mut settings = settings_for(vec![]);
        settings.connections.push(ConnectionSettings {
            id: "c".into(),
            provider,
            base_url: "https://api.example.com".parse().unwrap(),
            credentials: CredentialsConfig::Bearer { token: SecretSource::Env("T".into()) },
            time_zone: None,
            workspace_id: None,
            conversation_ids: Vec::new(),
            traffic: Default::default(),
            webhook: Some(webhook),
        });
        settings.validate().map_err(|e| e.to_string())
    };
    let key = || Some(SecretSource::Env("K".into()));
    let gong_ok =
        WebhookSettings { secret: None, public_key: key(), url: Some("https://g.example.com/webhooks/c".into()) };
    assert!(connection(ProviderKind::Gong, gong_ok.clone()).is_ok());
    let no_url = WebhookSettings { url: None, ..gong_ok.clone() };
    assert!(connection(ProviderKind::Gong, no_url).unwrap_err().contains("connections[0].webhook"));
    let sl_ok = WebhookSettings { secret: key(), public_key: None, url: None };
    assert!(connection(ProviderKind::Salesloft, sl_ok.clone()).is_ok());
    assert!(connection(ProviderKind::Salesloft, gong_ok.clone()).is_err(), "Salesloft needs `secret`");
    let err = connection(ProviderKind::ExecVision, sl_ok).unwrap_err();
    assert!(err.contains("execvision") && err.contains("webhook"), "{err}");
    assert!(connection(ProviderKind::Hubster, gong_ok).is_err());
}
