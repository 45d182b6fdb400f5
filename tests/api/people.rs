//! One person across providers: accounts joined by address and alias, one id that
//! every account id resolves to, and lists gathered from every account.

use std::collections::{BTreeMap, BTreeSet};

use convograph::{providers::ProviderKind, sandbox::world_ev};
use serde_json::{Value, json};

use crate::helpers::{JOINED, connection_of, joined_settings, listed_person, spawn_joined, spawn_with, world_person};

const PEOPLE: &str = r#"query($after: String) { users(first: 100, after: $after) {
  totalCount
  edges { node { id email emailAliases name identities { provider remoteId connectionId accountId email } } }
  pageInfo { hasNextPage endCursor }
} }"#;

fn account_id(kind: ProviderKind, remote: &str) -> String {
    convograph::schema::id::encode(convograph::schema::id::Kind::User, &connection_of(kind), remote).0
}

#[tokio::test]
async fn everyone_is_one_user_with_an_identity_per_provider_account() {
    let app = spawn_joined().await;
    let users = app.walk(PEOPLE, json!({}), "/users").await;
    assert_eq!(users.len(), app.world.people.len(), "one user per person");
    let mut joined_by_alias = 0;
    for u in &users {
        let identities = u["identities"].as_array().unwrap();
        let persons: BTreeSet<usize> = identities
            .iter()
            .map(|i| {
                let kind: ProviderKind =
                    serde_json::from_value(json!(i["provider"].as_str().unwrap().to_lowercase())).unwrap();
                world_person(kind, i["remoteId"].as_str().unwrap()).unwrap()
            })
            .collect();
        assert_eq!(persons.len(), 1, "every account of a user is the same person: {u}");
        let p = *persons.first().unwrap();
        let providers: Vec<&str> = identities.iter().map(|i| i["provider"].as_str().unwrap()).collect();
        let expected: Vec<String> = JOINED
            .iter()
            .filter(|k| listed_person(&app, **k, p))
            .map(|k| serde_json::to_value(k).unwrap().as_str().unwrap().to_uppercase())
            .collect();
        assert_eq!(providers, expected, "{u}");
        // The person's id is their account's at the first configured connection.
        let first = &identities[0];
        assert_eq!(u["id"], first["accountId"]);
        assert_eq!(first["connectionId"], connection_of(JOINED[0]));
        assert_eq!(u["email"], app.world.people[p].email.as_str());
        let ev = world_ev::ev_email(&app.world, p);
        if providers.len() > 1 && ev != app.world.people[p].email {
            joined_by_alias += 1;
            assert!(u["emailAliases"].as_array().unwrap().iter().any(|a| a.as_str() == Some(ev)), "{u}");
        }
    }
    assert!(joined_by_alias > 0, "some people are joined through an alias only");
}

#[tokio::test]
async fn a_person_is_found_by_any_address_or_account_id_and_is_the_same_everywhere() {
    let app = spawn_joined().await;
    let p = app
        .world
        .people
        .iter()
        .find(|p| {
            listed_person(&app, ProviderKind::ExecVision, p.index) && world_ev::ev_email(&app.world, p.index) != p.email
        })
        .expect("someone is known to ExecVision by an alias");
    let gong_id = account_id(ProviderKind::Gong, &convograph::sandbox::gong::ids::user_id(p.index));
    let ev_id = account_id(ProviderKind::ExecVision, &convograph::sandbox::execvision::ids::user_id(p.index));
    let q = r#"query($e: String!, $id: ID!) {
      byAlias: user(email: $e) { id identities { provider } }
      byEvAccount: user(id: $id) { id email }
      node(id: $id) { id ... on User { name } }
      _entities(representations: [{ __typename: "User", id: $id }, { __typename: "User", email: $e }]) { ... on User { id } }
    }"#;
    let data = app.data(q, json!({ "e": world_ev::ev_email(&app.world, p.index).to_uppercase(), "id": ev_id })).await;
    for v in [
        &data["byAlias"]["id"],
        &data["byEvAccount"]["id"],
        &data["node"]["id"],
        &data["_entities"][0]["id"],
        &data["_entities"][1]["id"],
    ] {
        assert_eq!(v.as_str(), Some(gong_id.as_str()), "{data}");
    }
    let at = JOINED.iter().filter(|k| listed_person(&app, **k, p.index)).count();
    assert_eq!(data["byAlias"]["identities"].as_array().unwrap().len(), at);
    assert_eq!(data["node"]["name"], p.full_name());
    // Listing ExecVision's users gives the same people.
    let ev_users = app
        .walk(
            r#"query($after: String) { users(connectionId: "execvision-demo", first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }"#,
            json!({}),
            "/users",
        )
        .await;
    assert!(ev_users.iter().any(|u| u["id"] == gong_id.as_str()));
}

#[tokio::test]
async fn someone_at_one_provider_only_is_a_user_too() {
    let app = spawn_joined().await;
    let (p, kind) = app
        .world
        .people
        .iter()
        .find_map(|p| {
            let at: Vec<ProviderKind> = JOINED.iter().copied().filter(|k| listed_person(&app, *k, p.index)).collect();
            (at.len() == 1 && app.world.calls.iter().any(|c| c.host == p.index)).then(|| (p, at[0]))
        })
        .expect("someone with calls is at one provider only");
    let name = serde_json::to_value(kind).unwrap().as_str().unwrap().to_uppercase();
    let q = r#"query($e: String!) { user(email: $e) { id identities { provider } calls(first: 100) { totalCount edges { node { provider } } } } }"#;
    let data = app.data(q, json!({ "e": p.email })).await;
    assert_eq!(data["user"]["identities"], json!([{ "provider": name }]));
    let calls = data["user"]["calls"]["edges"].as_array().unwrap();
    assert!(!calls.is_empty() && calls.iter().all(|c| c["node"]["provider"] == name.as_str()));
    let listed = crate::helpers::listed_calls(&app, kind);
    let hosted = app.world.calls.iter().filter(|c| c.host == p.index && listed.contains(&c.index)).count();
    assert_eq!(data["user"]["calls"]["totalCount"], hosted);
}

#[tokio::test]
async fn a_joined_users_calls_come_from_every_connection_in_one_timeline() {
    let app = spawn_joined().await;
    // The person with the most calls recorded at every provider.
    let p = app
        .world
        .people
        .iter()
        .filter(|p| JOINED.iter().all(|k| listed_person(&app, *k, p.index)))
        .max_by_key(|p| app.world.calls.iter().filter(|c| c.host == p.index && c.recorded_by.execvision).count())
        .unwrap();
    let per_connection = r#"query($c: ID!, $e: String!, $after: String) {
      calls(connectionId: $c, first: 100, after: $after, filter: { hostEmails: [$e] }) {
        edges { node { id startedAt } } pageInfo { hasNextPage endCursor } } }"#;
    let mut expected: Vec<(String, usize, String)> = Vec::new();
    for (rank, kind) in JOINED.iter().enumerate() {
        let nodes = app.walk(per_connection, json!({ "c": connection_of(*kind), "e": p.email }), "/calls").await;
        assert!(!nodes.is_empty(), "{kind}");
        expected.extend(
            nodes
                .iter()
                .map(|n| (n["startedAt"].as_str().unwrap().to_owned(), rank, n["id"].as_str().unwrap().to_owned())),
        );
    }
    let q = r#"query($e: String!, $after: String) { user(email: $e) {
      calls(first: 9, after: $after) { totalCount edges { node { id startedAt provider host { id } } } pageInfo { hasNextPage endCursor } } } }"#;
    let nodes = app.walk(q, json!({ "e": p.email }), "/user/calls").await;
    let providers: BTreeSet<&str> = nodes.iter().map(|n| n["provider"].as_str().unwrap()).collect();
    assert_eq!(providers.len(), JOINED.len(), "calls from every provider: {providers:?}");
    let got: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    let want: BTreeSet<&str> = expected.iter().map(|(_, _, id)| id.as_str()).collect();
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), want, "every hosted call once");
    assert_eq!(got.len(), want.len());
    let starts: Vec<&str> = nodes.iter().map(|n| n["startedAt"].as_str().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let hosts: BTreeSet<String> = nodes.iter().map(|n| n["host"]["id"].to_string()).collect();
    assert_eq!(hosts.len(), 1, "every call's host is the one person");
}

#[tokio::test]
async fn a_users_scores_and_stats_are_gathered_from_every_connection_that_has_them() {
    let app = spawn_joined().await;
    let reviewed: BTreeMap<usize, usize> = app.world.answered_scorecards.iter().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a.reviewed).or_default() += 1;
        m
    });
    let (&p, _) = reviewed
        .iter()
        .filter(|(p, _)| JOINED.iter().all(|k| listed_person(&app, *k, **p)))
        .max_by_key(|(_, n)| **n)
        .unwrap();
    let q = r#"query($e: String!) { user(email: $e) {
      scores(first: 100) { totalCount edges { node { provider reviewee { email } } } }
      activity(startTime: "2026-01-05T05:00:00Z", endTime: "2026-04-01T04:00:00Z") { edges { node { provider metrics { callsHosted } } } }
      coachingPlans { edges { node { coach { email } recipient { email } } } }
    } }"#;
    let email = app.world.people[p].email.clone();
    let data = app.data(q, json!({ "e": email })).await;
    let scores = data["user"]["scores"]["edges"].as_array().unwrap();
    let by_provider: BTreeSet<&str> = scores.iter().map(|s| s["node"]["provider"].as_str().unwrap()).collect();
    let with_scores = JOINED
        .iter()
        .filter(|k| convograph::providers::coverage::of(**k).is_some_and(|c| c.capabilities.scores))
        .count();
    assert_eq!(by_provider.len(), with_scores, "reviews from every provider with scores: {by_provider:?}");
    assert!(scores.iter().all(|s| s["node"]["reviewee"]["email"] == email.as_str()));
    assert_eq!(data["user"]["activity"]["edges"][0]["node"]["provider"], "GONG");
    for plan in data["user"]["coachingPlans"]["edges"].as_array().unwrap() {
        let people = [&plan["node"]["coach"]["email"], &plan["node"]["recipient"]["email"]];
        assert!(people.contains(&&json!(email)), "{plan}");
    }
}

#[tokio::test]
async fn ids_are_the_same_after_a_restart_and_resolve_in_either_server() {
    let a = spawn_with(joined_settings()).await;
    let b = spawn_with(joined_settings()).await;
    let q = r#"{ users(first: 5) { edges { node { id } } } calls(first: 5) { edges { node { id } } } }"#;
    let (da, db) = (a.data(q, json!({})).await, b.data(q, json!({})).await);
    assert_eq!(da, db, "the same ids from a second server with another cursor key");
    let ids: Vec<&Value> = da["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .chain(da["calls"]["edges"].as_array().unwrap())
        .map(|e| &e["node"]["id"])
        .collect();
    for id in ids {
        let got = b.data(r#"query($id: ID!) { node(id: $id) { id } }"#, json!({ "id": id })).await;
        assert_eq!(&got["node"]["id"], id);
    }
}

#[tokio::test]
async fn joining_costs_each_users_list_once_and_no_request_per_person() {
    let app = spawn_joined().await;
    let q = r#"{ calls(first: 100) { edges { node { host { name identities { provider } } participants { user { id } } } } } }"#;
    let first = app.data(q, json!({})).await;
    let hosts: BTreeSet<String> =
        first["calls"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["host"]["name"].to_string()).collect();
    assert!(hosts.len() > 3, "many people: {hosts:?}");
    let gong_users = || app.gong.requests("GET", "/v2/users") + app.gong.requests("POST", "/v2/users/extensive");
    let ev_users = || app.execvision.requests("GET", "/api/ev/2/users");
    let people = app.world.people.len() as u64;
    assert_eq!(gong_users(), people.div_ceil(100), "Gong's users list, a page per 100 people, nothing per person");
    assert_eq!(ev_users(), 1);
    app.data(q, json!({})).await;
    app.data(r#"{ users(first: 100) { edges { node { id identities { remoteId } } } } }"#, json!({})).await;
    assert_eq!((gong_users(), ev_users()), (people.div_ceil(100), 1), "kept for the users TTL");
}
