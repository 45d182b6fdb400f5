//! `ChatActivity`: a message or event of a chat conversation (Hubster), reached
//! through `Call.chatActivities`.

use std::sync::Arc;

use async_graphql::{Json, Object, SimpleObject};
use chrono::{DateTime, TimeZone, Utc};

use crate::domain::{self, ChatActivityKind, ChatParty};

/// One end of a chat activity.
#[derive(Clone, Debug, SimpleObject)]
pub struct ChatEndpoint {
    /// Customer, agent, bot or system (Hubster integration type).
    pub party: ChatParty,
    /// The provider's integration the party writes through (Hubster `integrationId`).
    pub integration_id: Option<String>,
    /// The channel: `WebChat`, `Messenger`, `TwilioSMS`, `Slack`, `Bot`, … (Hubster `channelType`).
    pub channel: Option<String>,
    /// Joins to `TranscriptSegment.speakerId` (Hubster `tokenId`).
    pub speaker_id: Option<String>,
}

impl From<&domain::ChatEndpoint> for ChatEndpoint {
    fn from(e: &domain::ChatEndpoint) -> Self {
        Self {
            party: e.party,
            integration_id: e.integration_id.clone(),
            channel: e.channel.clone(),
            speaker_id: e.token_id.clone().or_else(|| e.integration_id.clone()),
        }
    }
}

/// A chat activity (see the `ChatActivity` type).
#[derive(Clone, Debug)]
pub struct ChatActivityNode(pub(crate) Arc<domain::ChatActivity>);

/// A message or event of a chat conversation, in event order. Filled by: Hubster
/// (engine activities, merged across customer, agent and bot reads).
#[Object(name = "ChatActivity")]
impl ChatActivityNode {
    /// Message or event.
    async fn kind(&self) -> ChatActivityKind {
        self.0.kind
    }

    /// When it happened (Hubster `eventId`, epoch milliseconds).
    async fn occurred_at(&self) -> Option<DateTime<Utc>> {
        Utc.timestamp_millis_opt(self.0.event_id).single()
    }

    /// The provider's event id (Hubster: epoch milliseconds, as text; not unique).
    async fn event_id(&self) -> String {
        self.0.event_id.to_string()
    }

    /// What triggered it, e.g. `message:customer`, `event:agent`.
    async fn trigger(&self) -> Option<&str> {
        self.0.trigger.as_deref()
    }

    /// Who sent it.
    async fn sender(&self) -> ChatEndpoint {
        (&self.0.sender).into()
    }

    /// Who it was sent to.
    async fn recipient(&self) -> ChatEndpoint {
        (&self.0.recipient).into()
    }

    /// The message text (messages only).
    async fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    /// The message type, e.g. `text` (messages only).
    async fn message_type(&self) -> Option<&str> {
        self.0.message_type.as_deref()
    }

    /// The event's payload type, e.g. `handoff`, `agent:joined` (events only).
    async fn payload_type(&self) -> Option<&str> {
        self.0.payload_type.as_deref()
    }

    /// The event's payload (events only).
    async fn payload(&self) -> Option<Json<serde_json::Value>> {
        self.0.payload.clone().map(Json)
    }

    /// An echo of a message back to the integration that sent it (left out of the transcript).
    async fn is_echo(&self) -> bool {
        self.0.is_echo
    }

    /// The provider's id of the exchange a message belongs to (Hubster `interactionId`).
    async fn interaction_id(&self) -> Option<&str> {
        self.0.interaction_id.as_deref()
    }

    /// The id the sending channel gave the activity (Hubster `externalId`).
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    /// `Default`, or `AutoReplay` for automated replies (Hubster `flowProcess`).
    async fn flow_process(&self) -> Option<&str> {
        self.0.flow_process.as_deref()
    }

    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.0.raw).clone())
    }
}
