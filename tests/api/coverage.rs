//! Provider coverage: the README's tables are generated from the same source as the
//! `providers` query (this rewrites a stale README section and fails), and every
//! field claim is checked against what the sandbox's calls and users carry.

use convograph::{config::SandboxConfig, providers::coverage};
use serde_json::{Value, json};

use crate::helpers::{JOINED, connection_of, spawn_with, test_settings};

const BEGIN: &str =
    "<!-- coverage:begin (generated from src/providers/coverage.rs; tests/api/coverage.rs rewrites it) -->\n";
const END: &str = "<!-- coverage:end -->";

#[test]
fn the_readme_coverage_section_is_generated_from_the_source() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find(BEGIN).expect("the README has the coverage begin marker") + BEGIN.len();
    let end = start + readme[start..].find(END).expect("the README has the coverage end marker");
    let generated = convograph::schema::coverage::markdown();
    if readme[start..end] != generated {
        let updated = format!("{}{generated}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).expect("rewrite README.md");
        panic!("the README's coverage section was stale; it has been regenerated: review and commit it");
    }
}

#[tokio::test]
async fn the_providers_query_and_connection_capabilities_say_the_same() {
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig { providers: JOINED.to_vec(), ..test_settings().sandbox.unwrap() });
    let app = spawn_with(settings).await;
    let q = r#"{
      providers { provider lists callFields userFields remoteQuery callFilters { filter appliedBy } callOrder { order strategy } }
      connections { id provider capabilities { provider lists callFilters { filter appliedBy } } }
    }"#;
    let data = app.data(q, json!({})).await;
    let providers = data["providers"].as_array().unwrap();
    let all = coverage::all();
    assert_eq!(providers.len(), all.len());
    for (p, c) in providers.iter().zip(&all) {
        assert_eq!(p["provider"], serde_json::to_value(c.provider).unwrap().as_str().unwrap().to_uppercase());
        assert_eq!(p["callFields"], json!(c.call_fields));
        assert_eq!(p["userFields"], json!(c.user_fields));
        let native = &c.capabilities.native_call_filters;
        for (f, (name, at_provider)) in p["callFilters"].as_array().unwrap().iter().zip(coverage::CALL_FILTERS) {
            assert_eq!(f["filter"], *name);
            assert_eq!(f["appliedBy"], if at_provider(native) { "PROVIDER" } else { "CONVOGRAPH" });
        }
    }
    for c in data["connections"].as_array().unwrap() {
        let p = providers.iter().find(|p| p["provider"] == c["provider"]).unwrap();
        assert_eq!(c["capabilities"]["lists"], p["lists"], "{c}");
        assert_eq!(c["capabilities"]["callFilters"], p["callFilters"]);
    }
    // Gong pages oldest first and filters by time: windows for newest first.
    let gong = providers.iter().find(|p| p["provider"] == "GONG").unwrap();
    assert_eq!(
        gong["callOrder"],
        json!([{ "order": "DESC", "strategy": "TIME_WINDOWS" }, { "order": "ASC", "strategy": "PROVIDER_PAGES" }])
    );
}

/// A selection of each unified `Call` field.
fn call_selection(field: &str) -> String {
    match field {
        "host" => "host { id }".into(),
        "participants" => "participants { name }".into(),
        "topics" => "topics { name }".into(),
        "trackers" => "trackers { name }".into(),
        "summary" => "summary { text nextSteps }".into(),
        "stats" => "stats { talkRatio }".into(),
        "crmMatches" => "crmMatches { crmName }".into(),
        "transcript" => "transcript { id }".into(),
        "scores" => "scores(first: 1) { edges { node { id } } }".into(),
        f => f.into(),
    }
}

fn user_selection(field: &str) -> String {
    match field {
        "manager" => "manager { id }".into(),
        f => f.into(),
    }
}

/// Whether a value carries data (not null, empty, false or `UNKNOWN`).
fn filled(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => s != "UNKNOWN" && !s.is_empty(),
        Value::Object(o) => o.values().any(filled),
        _ => true,
    }
}

#[tokio::test]
async fn every_field_claim_holds_on_the_sandbox() {
    for c in coverage::all() {
        let kind = &c.provider;
        // One provider alone, so a user is one account of it.
        let mut settings = test_settings();
        settings.sandbox = Some(SandboxConfig { providers: vec![*kind], ..test_settings().sandbox.unwrap() });
        let app = spawn_with(settings).await;
        let conn = connection_of(*kind);
        let fields: Vec<String> = coverage::CALL_FIELDS.iter().map(|f| call_selection(f)).collect();
        // Hubster reads each conversation on its own: a page of 10 is enough.
        let n = if c.capabilities.batch_lookups || *kind == convograph::providers::ProviderKind::ExecVision {
            60
        } else {
            10
        };
        let q = format!(
            r#"{{ calls(connectionId: "{conn}", first: {n}) {{ edges {{ node {{ {} }} }} }} }}"#,
            fields.join(" ")
        );
        let data = app.data(&q, json!({})).await;
        let calls = data["calls"]["edges"].as_array().unwrap();
        assert!(!calls.is_empty());
        for field in coverage::CALL_FIELDS {
            let any = calls.iter().any(|e| filled(&e["node"][*field]));
            assert_eq!(any, c.call_fields.contains(field), "{kind}: Call.{field} is claimed iff some call has it");
        }
        if !c.capabilities.users {
            assert!(c.user_fields.is_empty(), "{kind} has no users but claims user fields");
            continue;
        }
        let fields: Vec<String> = coverage::USER_FIELDS.iter().map(|f| user_selection(f)).collect();
        let q = format!(
            r#"{{ users(connectionId: "{conn}", first: 100) {{ edges {{ node {{ {} }} }} }} }}"#,
            fields.join(" ")
        );
        let data = app.data(&q, json!({})).await;
        let users = data["users"]["edges"].as_array().unwrap();
        for field in coverage::USER_FIELDS {
            let any = users.iter().any(|e| filled(&e["node"][*field]));
            assert_eq!(any, c.user_fields.contains(field), "{kind}: User.{field} is claimed iff some user has it");
        }
    }
}
