//! Salesloft wire models: the list envelope and the conversation, user and
//! transcription-sentence objects (seed 003, providers README §3). Unknown fields are
//! ignored; what may be absent is an `Option`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub(crate) use crate::providers::wire::{RecordList, TimeText, WithRaw};

/// The `platform` values Salesloft documents (seed 003).
pub(crate) const PLATFORMS: [&str; 11] = [
    "bluejeans",
    "gotomeeting",
    "joinme",
    "manual_upload",
    "ms_teams",
    "salesloft",
    "uberconference",
    "webex",
    "zoom",
    "google_meet",
    "external_audio",
];

/// The `language_code` values Salesloft documents (seed 003).
pub(crate) const LANGUAGE_CODES: [&str; 17] = [
    "en-AU", "en-AB", "en-GB", "en-IN", "en-IE", "en-NZ", "en-ZA", "en-US", "en-WL", "es-ES", "es-US", "nl-NL",
    "it-IT", "fr-FR", "fr-CA", "de-DE", "de-CH",
];

/// An id sent as a string or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Id(pub(crate) String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Id(s)),
            Value::Number(n) => Ok(Id(n.to_string())),
            other => Err(serde::de::Error::custom(format!("expected an id, found {other}"))),
        }
    }
}

/// `{ "id": ..., "_href": ... }`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Ref {
    pub(crate) id: Option<Id>,
}

/// `{ "data": [...], "metadata": { "paging": {...} } }`, as Salesloft sends lists (its
/// reference shows a bare array instead: the client reads that too). `data` is
/// required: an object without it is not a list (an error, not an empty page).
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "T: serde::de::DeserializeOwned"))]
pub(crate) struct List<T> {
    pub(crate) data: RecordList<T>,
    #[serde(default)]
    pub(crate) metadata: Metadata,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    pub(crate) paging: Paging,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Paging {
    pub(crate) next_page: Option<u64>,
    pub(crate) total_count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Conversation {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) id: String,
    pub(crate) title: Option<String>,
    /// Milliseconds.
    pub(crate) duration: Option<f64>,
    pub(crate) platform: Option<String>,
    pub(crate) media_type: Option<String>,
    pub(crate) owner_id: Option<String>,
    /// Epoch milliseconds.
    pub(crate) started_recording_at: Option<f64>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) event_start_date: Option<TimeText>,
    pub(crate) language_code: Option<String>,
    pub(crate) call_id: Option<Id>,
    pub(crate) account: Option<Ref>,
    pub(crate) person: Option<Ref>,
}

/// A user, with the id convograph knows it by: its guid (the id conversations name
/// their owner with), or else its integer id. A user with neither (blank or null)
/// cannot be referred to, so it cannot be read (a list leaves it out, reported)
/// instead of coming out with an empty id.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// The guid, or else the id: never blank.
    pub(crate) key: String,
    pub(crate) fields: UserFields,
}

impl<'de> Deserialize<'de> for User {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = UserFields::deserialize(d)?;
        let text = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let key = text(fields.guid.as_deref())
            .or_else(|| text(fields.id.as_ref().map(|i| i.0.as_str())))
            .ok_or_else(|| serde::de::Error::custom("a user without a guid or an id"))?;
        Ok(Self { key, fields })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserFields {
    pub(crate) id: Option<Id>,
    pub(crate) guid: Option<String>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) created_at: Option<TimeText>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) job_role: Option<String>,
    pub(crate) active: Option<bool>,
    pub(crate) email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Sentence {
    /// Seconds from the start of the recording.
    pub(crate) start_time: Option<f64>,
    pub(crate) end_time: Option<f64>,
    pub(crate) order_number: Option<i64>,
    pub(crate) recording_attendee_id: Option<String>,
    pub(crate) text: Option<String>,
}
