//! Users: listing, lookup by id and by email or alias.

use serde_json::json;

use crate::helpers::{TEST_PEOPLE, codes, spawn_app};

#[tokio::test]
async fn users_lists_everyone_once() {
    let app = spawn_app().await;
    let data = app.data("{ users(first: 100) { totalCount edges { node { id email name identities { provider remoteId connectionId } } } } }", json!({})).await;
    let edges = data["users"]["edges"].as_array().unwrap();
    let emails: std::collections::BTreeSet<&str> = edges.iter().map(|e| e["node"]["email"].as_str().unwrap()).collect();
    let expected: std::collections::BTreeSet<&str> =
        app.world.people.iter().filter(|p| p.accounts.gong).map(|p| p.email.as_str()).collect();
    assert_eq!(emails, expected);
    assert!(edges.len() <= TEST_PEOPLE);
    assert_eq!(edges[0]["node"]["identities"][0]["provider"], "GONG");
}

#[tokio::test]
async fn user_by_email_is_case_insensitive_and_honours_aliases() {
    let app = spawn_app().await;
    let person =
        app.world.people.iter().find(|p| p.accounts.gong && !p.email_aliases.is_empty()).expect("someone has an alias");
    let q = r#"query($e: String!) { user(email: $e) { email name } }"#;
    for email in [person.email.to_uppercase(), person.email_aliases[0].clone()] {
        let data = app.data(q, json!({ "e": email })).await;
        assert_eq!(data["user"]["email"], person.email.as_str(), "looked up by {email}");
    }
    let data = app.data(q, json!({ "e": "nobody@nowhere.example" })).await;
    assert!(data["user"].is_null());
}

#[tokio::test]
async fn user_by_id_and_node_agree() {
    let app = spawn_app().await;
    let data = app.data("{ users(first: 1) { edges { node { id email } } } }", json!({})).await;
    let id = &data["users"]["edges"][0]["node"]["id"];
    let q = r#"query($id: ID!) { user(id: $id) { email } node(id: $id) { id ... on User { email } } }"#;
    let got = app.data(q, json!({ "id": id })).await;
    assert_eq!(got["user"]["email"], data["users"]["edges"][0]["node"]["email"]);
    assert_eq!(got["node"]["id"], *id);
}

#[tokio::test]
async fn user_needs_exactly_one_of_id_or_email() {
    let app = spawn_app().await;
    let body = app.query("{ user { email } }", json!({})).await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
    let body = app.query(r#"{ user(id: "garbage") { email } }"#, json!({})).await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn a_users_hosted_calls_are_theirs() {
    let app = spawn_app().await;
    let data = app.data("{ users(first: 3) { edges { node { id calls(first: 10) { totalCount edges { node { host { id } } } } } } } }", json!({})).await;
    for e in data["users"]["edges"].as_array().unwrap() {
        for c in e["node"]["calls"]["edges"].as_array().unwrap() {
            assert_eq!(c["node"]["host"]["id"], e["node"]["id"]);
        }
    }
}
