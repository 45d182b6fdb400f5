//! Hubster ids derived from indices (reversible, see [`crate::sandbox::uuids`]).
//! Integrations are hub-level (one per customer channel, one Slack integration for
//! the agents, one bot), as in Hubster; each participant has its own `tokenId`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::sandbox::rng::mix;
use crate::sandbox::uuids::{decode, encode};
use crate::sandbox::world_hub::{CustomerChannel, Party};

const SALT: u64 = 0x4B5B_5733_0000_0002;
const K_CONVERSATION: u64 = 1;
const K_INTERACTION: u64 = 2;
const K_INTEGRATION: u64 = 3;
const K_HUB: u64 = 4;
const K_TENANT: u64 = 5;
const K_AGENT: u64 = 6;

/// Conversation id of [`crate::sandbox::world_hub::HubData::conversations`]`[i]`.
pub fn conversation_id(i: usize) -> String {
    encode(SALT, K_CONVERSATION, i as u64)
}

/// Conversation index of a conversation id.
pub fn conversation_index(id: &str) -> Option<usize> {
    decode(SALT, K_CONVERSATION, id).map(|i| i as usize)
}

/// `interactionId` of activity `seq` of conversation `i` (messages only).
pub fn interaction_id(i: usize, seq: usize) -> String {
    encode(SALT, K_INTERACTION, (i as u64) << 16 | seq as u64)
}

/// The hub's integration of this kind of party (customers by channel).
pub fn integration_id(party: Party, channel: CustomerChannel) -> String {
    let k = match (party, channel) {
        (Party::Customer, CustomerChannel::WebChat) => 1,
        (Party::Customer, CustomerChannel::Messenger) => 2,
        (Party::Customer, CustomerChannel::TwilioSms) => 3,
        (Party::Agent, _) => 10,
        (Party::Bot, _) => 20,
        (Party::System, _) => 30,
    };
    encode(SALT, K_INTEGRATION, k)
}

/// The channel type of a party's integration.
pub fn channel_type(party: Party, channel: CustomerChannel) -> &'static str {
    match party {
        Party::Customer => channel.as_str(),
        Party::Agent => "Slack",
        Party::Bot => "Bot",
        Party::System => "System",
    }
}

/// The hub.
pub fn hub_id() -> String {
    encode(SALT, K_HUB, 0)
}

/// The tenant.
pub fn tenant_id() -> String {
    encode(SALT, K_TENANT, 0)
}

/// A participant's `tokenId`: the customer of conversation `i`, its agent (person
/// `agent`), or the bot.
pub fn token_id(party: Party, i: usize, agent: usize, channel: CustomerChannel) -> String {
    match party {
        Party::Customer => {
            let bytes = mix(SALT ^ (i as u64).wrapping_mul(0x9E37)).to_le_bytes();
            let more = mix(SALT ^ 0xC0FFEE ^ i as u64).to_le_bytes();
            STANDARD.encode([bytes, more].concat())
        }
        Party::Agent => format!("{}.{}", encode(SALT, K_AGENT, agent as u64), integration_id(party, channel)),
        Party::Bot | Party::System => format!("{}.{}", party.as_str().to_lowercase(), integration_id(party, channel)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_integrations_are_distinct() {
        for i in [0, 5, 59] {
            assert_eq!(conversation_index(&conversation_id(i)), Some(i));
        }
        let c = CustomerChannel::WebChat;
        assert_ne!(integration_id(Party::Customer, c), integration_id(Party::Agent, c));
        assert_ne!(token_id(Party::Customer, 1, 0, c), token_id(Party::Customer, 2, 0, c));
        assert!(token_id(Party::Agent, 1, 3, c).ends_with(&integration_id(Party::Agent, c)));
    }
}
