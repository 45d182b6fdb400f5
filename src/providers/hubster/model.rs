//! Hubster engine wire models: the conversation and the activity (seed 004,
//! providers README §4). Unknown fields are ignored; what may be absent is an
//! `Option`; enum-like values (integration and channel types) are kept as text, and
//! channel types sent as numbers are accepted. A conversation whose id is blank,
//! null or missing cannot be read: a lookup of it is no record, reported.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub(crate) use crate::providers::wire::{OneRecord, RecordList, TimeText, WithRaw};

/// Text sent as a string or a number (channel types have numeric codes too).
fn loose_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Conversation {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) conversation_id: String,
    pub(crate) token_id: Option<String>,
    pub(crate) integration: Option<Integration>,
    pub(crate) properties: Option<Properties>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) opened_date_time: Option<TimeText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Integration {
    #[serde(default, deserialize_with = "loose_text")]
    pub(crate) channel_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Properties {
    pub(crate) profile: Option<Profile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Activity {
    pub(crate) event_trigger: Option<String>,
    pub(crate) event_id: i64,
    pub(crate) external_id: Option<String>,
    #[serde(default)]
    pub(crate) is_echo: bool,
    pub(crate) interaction_id: Option<String>,
    pub(crate) flow_process: Option<String>,
    pub(crate) sender: Option<Party>,
    pub(crate) recipient: Option<Party>,
    pub(crate) message: Option<Message>,
    pub(crate) event: Option<Event>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Party {
    pub(crate) integration_id: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub(crate) integration_type: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub(crate) channel_type: Option<String>,
    pub(crate) token_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event {
    pub(crate) payload_type: Option<String>,
    pub(crate) payload: Option<Value>,
}
