//! The Salesloft provider against its simulator: what Salesloft filters and what
//! convograph would filter locally (`CallQuery::matches`) agree.

use std::sync::Arc;

use super::*;
use crate::{
    config::{Credentials, Secret},
    domain::{CallDirection, Medium},
    providers::{
        all_pages,
        transport::{RateSchedule, TrafficPolicy},
    },
    sandbox::{SalesloftSimSettings, Sandbox, SandboxSettings, salesloft::ids},
};

async fn provider(sandbox: &Sandbox) -> SalesloftProvider {
    let credentials = Credentials::Bearer { token: Secret::new(sandbox.salesloft.token()) };
    let policy = TrafficPolicy::resolve(&Default::default(), RateSchedule::Fixed(1000.0));
    let transport = Transport::new(
        ProviderKind::Salesloft,
        Arc::from("sl-test"),
        sandbox.salesloft.base_url().parse().unwrap(),
        &credentials,
        policy,
    )
    .unwrap()
    .with_cost_budget(sandbox.salesloft.budget_window());
    SalesloftProvider::new(transport, Cache::new(&Default::default()), Arc::from("sl-test"))
}

fn remote_ids(calls: &[Call]) -> Vec<String> {
    calls.iter().map(|c| c.remote_id.clone()).collect()
}

#[tokio::test]
async fn what_salesloft_filters_equals_what_local_filtering_keeps() {
    let settings = SandboxSettings {
        calls: 600,
        salesloft: SalesloftSimSettings { budget: 0, ..SalesloftSimSettings::default() },
        ..SandboxSettings::default()
    };
    let sandbox = Sandbox::start(settings).await.unwrap();
    let p = provider(&sandbox).await;
    let all = CallQuery::default();
    let everything = all_pages(&p, "calls", |t| p.list_calls(&all, t)).await.unwrap();
    assert_eq!(everything.len(), sandbox.salesloft.data().conversations.len());
    let data = sandbox.salesloft.data();
    let host = ids::user_guid(data.conversations[0].owner);
    let other_host = ids::user_guid(data.conversations.iter().find(|c| ids::user_guid(c.owner) != host).unwrap().owner);
    let language = data.conversations.iter().map(|c| c.language_code.clone()).find(|l| l != "en-US").unwrap();

    let queries = [
        CallQuery { host_remote_ids: vec![host.clone()], ..CallQuery::default() },
        CallQuery { host_remote_ids: vec![host.clone(), other_host], ..CallQuery::default() },
        CallQuery { media: vec![Medium::Audio], ..CallQuery::default() },
        CallQuery { media: vec![Medium::Audio, Medium::Video], ..CallQuery::default() },
        CallQuery { media: vec![Medium::Chat], ..CallQuery::default() },
        CallQuery { platforms: vec!["ZOOM".into()], ..CallQuery::default() },
        CallQuery { platforms: vec!["zoom".into(), "Salesloft".into(), "skype".into()], ..CallQuery::default() },
        CallQuery { languages: vec![language.to_lowercase()], ..CallQuery::default() },
        CallQuery { languages: vec!["en-US".into(), language.clone()], ..CallQuery::default() },
        CallQuery { languages: vec!["eng".into()], ..CallQuery::default() },
        CallQuery { min_duration_secs: Some(900.0), max_duration_secs: Some(2400.5), ..CallQuery::default() },
        CallQuery { directions: vec![CallDirection::Unknown], ..CallQuery::default() },
        CallQuery { directions: vec![CallDirection::Inbound, CallDirection::Conference], ..CallQuery::default() },
        CallQuery {
            host_remote_ids: vec![host],
            media: vec![Medium::Video],
            min_duration_secs: Some(1200.0),
            languages: vec!["en-US".into()],
            ..CallQuery::default()
        },
    ];
    for q in queries {
        let before = sandbox.salesloft.requests("GET", "/v2/conversations");
        let got = all_pages(&p, "calls", |t| p.list_calls(&q, t)).await.unwrap();
        let want: Vec<&Call> = everything.iter().filter(|c| q.matches(c)).collect();
        assert_eq!(remote_ids(&got), want.iter().map(|c| c.remote_id.clone()).collect::<Vec<_>>(), "{q:?}");
        let plan = client::plan(&q).unwrap();
        let requests = sandbox.salesloft.requests("GET", "/v2/conversations") - before;
        if plan.nothing {
            assert_eq!(requests, 0, "nothing can match, nothing is asked: {q:?}");
        } else if !plan.local {
            // Filtered at the API: only pages of matching conversations were read.
            assert!(requests <= (want.len() as u64).div_ceil(client::PER_PAGE).max(1), "{q:?}: {requests}");
        }
    }
    sandbox.shutdown().await;
}

/// A 422 is the client's input: `BAD_USER_INPUT` naming only parameters we sent, never
/// the rest of Salesloft's body.
#[tokio::test]
async fn a_422_names_the_refused_parameters_we_sent_and_nothing_else() {
    use axum::{Router, http::StatusCode, routing::get};
    let body = r#"{"errors": {"title": ["is too long"], "internal_note": ["secret-detail-77"]}}"#;
    let app =
        Router::new().route("/v2/conversations", get(move || async move { (StatusCode::UNPROCESSABLE_ENTITY, body) }));
    let p = loopback(app).await;
    let q = CallQuery {
        remote_query: Some(serde_json::json!({ "title": "x" }).as_object().unwrap().clone()),
        ..CallQuery::default()
    };
    let err = p.list_calls(&q, None).await.unwrap_err();
    assert_eq!(err.code(), crate::error::ErrorCode::BadUserInput);
    let text = err.to_string();
    assert!(text.contains("title") && !text.contains("internal_note") && !text.contains("secret-detail-77"), "{text}");
}

/// Salesloft's reference (seed 003) shows `GET /v2/conversations` answering a bare
/// array, not the `{data, metadata}` envelope: it reads as a page, and a full one is
/// followed by the next page (no metadata says whether more follow).
#[tokio::test]
async fn a_bare_array_as_the_reference_shows_reads_as_pages() {
    use std::collections::HashMap;

    use axum::{Json, Router, extract::Query, routing::get};
    use serde_json::{Value, json};
    let conversation =
        |n: u64| json!({ "id": format!("c{n}"), "duration": 0, "platform": "zoom", "media_type": "audio" });
    let app = Router::new().route(
        "/v2/conversations",
        get(move |Query(q): Query<HashMap<String, String>>| async move {
            let page: u64 = q["page"].parse().unwrap();
            let per_page: u64 = q["per_page"].parse().unwrap();
            // A full first page (one record of it unreadable), then one more record.
            let records: Vec<Value> = match page {
                1 => {
                    (0..per_page).map(|n| if n == 5 { json!({ "title": "no id" }) } else { conversation(n) }).collect()
                }
                2 => vec![conversation(per_page)],
                _ => Vec::new(),
            };
            Json(Value::Array(records))
        }),
    );
    let p = loopback(app).await;

    let (first, notes) = crate::accounting::capture(p.list_calls(&CallQuery::default(), None)).await;
    let first = first.unwrap();
    assert_eq!(first.items.len(), 99);
    assert_eq!(first.items[0].remote_id, "c0");
    assert_eq!(first.next.as_deref(), Some("2"), "a full page: the next one is asked");
    assert_eq!(first.total, None);
    assert_eq!(notes.len(), 1, "the record without an id is left out, and said so");
    let all_calls = CallQuery::default();
    let all = all_pages(&p, "calls", |t| p.list_calls(&all_calls, t)).await.unwrap();
    assert_eq!(all.len(), 100);
}

/// A provider reading the loopback server `app` (no pacing, no cache).
async fn loopback(app: axum::Router) -> SalesloftProvider {
    let credentials = Credentials::Bearer { token: Secret::new("t") };
    let transport = crate::providers::transport::loopback(ProviderKind::Salesloft, "sl", &credentials, app).await;
    SalesloftProvider::new(transport, Cache::new(&Default::default()), Arc::from("sl"))
}

/// A user is known by its guid, or else its id: one with neither (blank, null or
/// unreadable) is left out with a note, never listed with an empty id, and costs
/// nothing but itself; odd fields cost the field, extra fields nothing.
#[tokio::test]
async fn a_user_without_a_guid_or_an_id_is_left_out_with_a_note_and_the_page_is_kept() {
    use axum::{Json, Router, routing::get};
    use serde_json::json;
    let users = json!([
        { "id": 41051, "guid": "6b0e2f4e-9a7e", "email": "v.rossi@acme.io", "first_name": "Vera",
          "team_admin": false, "group": { "id": 11, "_href": "https://api.salesloft.com/v2/groups/11" },
          "some_new_field": [1, { "deep": true }] },
        { "id": 41052, "guid": "", "email": "blank-guid@acme.io" },
        { "id": null, "guid": null, "email": "null-both@acme.io" },
        { "id": "  ", "guid": " ", "email": "blank-both@acme.io" },
        { "email": "absent-both@acme.io" },
        { "id": { "odd": 1 }, "guid": ["x"], "email": "wrong-types@acme.io" },
        { "id": 41057, "guid": 12345, "active": "true", "created_at": 1518863400, "email": "numeric-guid@acme.io" },
        { "id": 41058, "guid": "g-58", "first_name": { "odd": 1 }, "active": "sometimes", "email": "odd@acme.io" },
        "not a user",
        null
    ]);
    let body = json!({ "data": users, "metadata": { "paging": { "next_page": null, "total_count": 10 } } });
    let app = Router::new().route("/v2/users", get(move || async move { Json(body) }));
    let p = loopback(app).await;

    let (page, notes) = crate::accounting::capture(p.list_users(None)).await;
    let page = page.unwrap();
    let got: Vec<(&str, Option<&str>)> =
        page.items.iter().map(|u| (u.remote_id.as_str(), u.email.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("6b0e2f4e-9a7e", Some("v.rossi@acme.io")),
            ("41052", Some("blank-guid@acme.io")),
            ("12345", Some("numeric-guid@acme.io")),
            ("g-58", Some("odd@acme.io")),
        ]
    );
    assert!(page.items.iter().all(|u| !u.remote_id.trim().is_empty()));
    let good = &page.items[0];
    assert_eq!(good.raw["some_new_field"][1]["deep"], true, "extra fields stay in remoteData");
    assert_eq!((good.first_name.as_deref(), good.active), (Some("Vera"), None));
    let numeric = &page.items[2];
    assert_eq!(numeric.active, Some(true));
    assert_eq!(numeric.created_at.map(|t| t.timestamp()), Some(1_518_863_400));
    let odd = &page.items[3];
    assert_eq!((odd.first_name.as_deref(), odd.active), (None, None), "unreadable fields are null");

    let messages: Vec<String> = notes.iter().map(|n| n.error.to_string()).collect();
    assert!(notes.iter().all(|n| n.error.code() == crate::error::ErrorCode::UpstreamRecordInvalid), "{messages:#?}");
    // Six users left out (null, blank and absent ids, ids of the wrong type, a string,
    // `null`), and the two unreadable fields of 41058 (named by its id).
    let left_out: Vec<&String> = messages.iter().filter(|m| m.contains("was left out")).collect();
    assert_eq!(left_out.len(), 6, "{messages:#?}");
    assert_eq!(left_out.iter().filter(|m| m.contains("a user without a guid or an id")).count(), 4, "{messages:#?}");
    assert_eq!(notes.iter().filter(|n| n.record.as_deref() == Some("41058")).count(), 2, "{messages:#?}");
    assert_eq!(notes.len(), 8, "{messages:#?}");
    // A blank id names no record.
    assert!(notes.iter().all(|n| n.record.as_deref().is_none_or(|r| !r.trim().is_empty())), "{messages:#?}");
}

/// Looked up by guid, a user answered without a usable guid or id is not found (with a
/// note) and the others still are.
#[tokio::test]
async fn users_by_guid_keep_the_readable_users_when_one_has_no_id() {
    use axum::{Json, Router, routing::get};
    use serde_json::json;
    let body = json!({ "data": [
        { "id": 1, "guid": "g-1", "email": "one@acme.io" },
        { "id": null, "guid": "", "email": "nobody@acme.io" },
        { "id": 3, "guid": "g-3", "email": "three@acme.io" }
    ], "metadata": { "paging": {} } });
    let app = Router::new().route("/v2/users", get(move || async move { Json(body) }));
    let p = loopback(app).await;
    let asked: Vec<String> = ["g-1", "g-2", "g-3"].map(String::from).into();
    let (found, notes) = crate::accounting::capture(p.users_by_ids(&asked)).await;
    let mut ids: Vec<String> = found.unwrap().into_iter().map(|u| u.remote_id).collect();
    ids.sort();
    assert_eq!(ids, ["g-1", "g-3"]);
    assert_eq!(notes.len(), 1, "{:#?}", notes.iter().map(|n| n.error.to_string()).collect::<Vec<_>>());
    assert!(notes[0].error.to_string().contains("left out"));
}
