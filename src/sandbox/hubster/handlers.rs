//! Endpoint handlers of the Hubster simulator.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::{AppState, ENGINE_SCOPE, HubError, PORTAL_SCOPE, ids, issue};
use crate::sandbox::world_hub::{Content, HubActivity, HubConversation, Party};

type Params = Vec<(String, String)>;

fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

/// `POST /connect/token` (form-encoded client credentials).
pub(super) async fn token(State(st): State<AppState>, body: String) -> Response {
    let form: Params = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    match param(&form, "grant_type") {
        Some("client_credentials") => {}
        Some(_) => return oauth_error("unsupported_grant_type"),
        None => return oauth_error("invalid_request"),
    }
    let (Some(id), Some(secret)) = (param(&form, "client_id"), param(&form, "client_secret")) else {
        return oauth_error("invalid_client");
    };
    let s = &st.settings;
    let scope = if id == s.client_id && secret == s.client_secret {
        ENGINE_SCOPE
    } else if id == s.portal_client_id && secret == s.portal_client_secret {
        PORTAL_SCOPE
    } else {
        return oauth_error("invalid_client");
    };
    if let Some(asked) = param(&form, "scope")
        && !asked.split_whitespace().all(|a| a == scope)
    {
        return oauth_error("invalid_scope");
    }
    let token = issue(&st, id, scope);
    Json(json!({
        "access_token": token,
        "expires_in": s.token_lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": scope,
    }))
    .into_response()
}

fn conversation_json(st: &AppState, c: &HubConversation) -> Value {
    let contact = &st.world.contacts[c.contact];
    let company = &st.world.companies[contact.company];
    json!({
        "conversationId": ids::conversation_id(c.index),
        "integrationId": ids::integration_id(Party::Customer, c.channel),
        "tokenId": ids::token_id(Party::Customer, c.index, c.agent, c.channel),
        "integration": {
            "integrationId": ids::integration_id(Party::Customer, c.channel),
            "integrationType": "Customer",
            "channelType": c.channel.as_str(),
            "name": format!("Acme {}", c.channel.as_str()),
            "hub": { "hubId": ids::hub_id(), "tenantId": ids::tenant_id(), "name": "Acme Support" },
        },
        "properties": {
            "profile": {
                "firstName": contact.first_name,
                "lastName": contact.last_name,
                "email": contact.email,
                "phone": contact.phone,
            },
            "additional": { "company": company.name, "crmContactId": contact.crm_contact_id },
        },
        "openedDateTime": c.opened.to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}

fn party_json(p: Party, c: &HubConversation) -> Value {
    json!({
        "integrationId": ids::integration_id(p, c.channel),
        "integrationType": p.as_str(),
        "channelType": ids::channel_type(p, c.channel),
        "tokenId": ids::token_id(p, c.index, c.agent, c.channel),
    })
}

fn activity_json(c: &HubConversation, a: &HubActivity) -> Value {
    let mut v = json!({
        "type": match a.content { Content::Message(_) => "message", Content::Event { .. } => "event" },
        "eventTrigger": a.trigger(),
        "eventId": a.event_id,
        "externalId": format!("ext-{:04}-{:04}", c.index, a.seq),
        "isEcho": a.is_echo,
        "flowProcess": if a.auto_replay { "AutoReplay" } else { "Default" },
        "sender": party_json(a.sender, c),
        "recipient": party_json(a.recipient, c),
    });
    match &a.content {
        Content::Message(text) => {
            v["interactionId"] = json!(ids::interaction_id(c.index, a.seq));
            v["message"] = json!({ "text": text, "type": "text" });
        }
        Content::Event { payload_type, payload } => {
            v["event"] = json!({ "type": "payload", "payloadType": payload_type, "payload": payload });
        }
    }
    v
}

fn find<'a>(st: &'a AppState, id: &str) -> Result<&'a HubConversation, HubError> {
    ids::conversation_index(id)
        .and_then(|i| st.shared.data.conversations.get(i))
        .ok_or_else(|| HubError::new(StatusCode::NOT_FOUND, 6500, "The conversation does not exist"))
}

/// `GET /api/v1/conversations/{conversationId}`.
pub(super) async fn conversation(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, HubError> {
    let c = find(&st, &id)?;
    Ok(Json(conversation_json(&st, c)))
}

/// `GET /api/v1/interactions/activities/{conversationId}?type=&leid=`.
pub(super) async fn activities(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Result<Json<Value>, HubError> {
    let bad = |m: &str| HubError::new(StatusCode::BAD_REQUEST, 100, m);
    let party = match param(&p, "type").map(str::trim) {
        Some(t) if t.eq_ignore_ascii_case("customer") => Party::Customer,
        Some(t) if t.eq_ignore_ascii_case("agent") => Party::Agent,
        Some(t) if t.eq_ignore_ascii_case("bot") => Party::Bot,
        Some(_) => return Err(bad("Invalid type: only Customer, Agent and Bot are valid")),
        None => return Err(bad("The type parameter is required")),
    };
    let leid = match param(&p, "leid").map(str::trim) {
        None | Some("") => 0,
        Some(v) => v.parse::<i64>().map_err(|_| bad("Invalid leid: expected UNIX epoch milliseconds"))?,
    };
    let c = find(&st, &id)?;
    let inclusive = st.settings.leid_inclusive;
    let items: Vec<Value> = st
        .shared
        .activities(c.index)
        .iter()
        .filter(|a| a.involves(party) && if inclusive { a.event_id >= leid } else { a.event_id > leid })
        .map(|a| activity_json(c, a))
        .collect();
    let kind = param(&p, "type").unwrap_or_default().to_owned();
    let read = super::ActivityRead {
        conversation: c.index,
        kind,
        leid: param(&p, "leid").and_then(|l| l.parse().ok()),
        returned: items.len(),
    };
    st.shared.reads.lock().expect("reads lock").push(read);
    Ok(Json(Value::Array(items)))
}

pub(super) async fn engine_unknown() -> Response {
    HubError::new(StatusCode::NOT_FOUND, 105, "Resource not found").into_response()
}

pub(super) async fn identity_unknown() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response()
}
