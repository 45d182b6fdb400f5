//! Salesloft ids derived from world indices. UUIDs (conversations, user guids,
//! transcriptions, recordings, artifacts, attendees, sentences) are reversible (see
//! [`crate::sandbox::uuids`]); user, account and person ids are integers, as
//! Salesloft's are.

use crate::sandbox::uuids::{decode, encode};

const SALT: u64 = 0x5A1E_5F07_0000_0001;
const K_CONVERSATION: u64 = 1;
const K_USER: u64 = 2;
const K_TRANSCRIPTION: u64 = 3;
const K_RECORDING: u64 = 4;
const K_ARTIFACT: u64 = 5;
const K_ATTENDEE: u64 = 6;
const K_SENTENCE: u64 = 7;
const K_ORGANIZATION: u64 = 8;

/// Conversation id of world call `call`.
pub fn conversation_id(call: usize) -> String {
    encode(SALT, K_CONVERSATION, call as u64)
}

/// World call index of a conversation id.
pub fn call_index(conversation_id: &str) -> Option<usize> {
    decode(SALT, K_CONVERSATION, conversation_id).map(|i| i as usize)
}

/// The user guid of person `person` (`owner_id`, `user_guid`, `guid`).
pub fn user_guid(person: usize) -> String {
    encode(SALT, K_USER, person as u64)
}

/// Person index of a user guid.
pub fn person_of_guid(guid: &str) -> Option<usize> {
    decode(SALT, K_USER, guid).map(|i| i as usize)
}

/// The integer user id of person `person`.
pub fn user_id(person: usize) -> u64 {
    41_000 + 17 * person as u64
}

/// Person index of an integer user id.
pub fn person_of_user_id(id: u64) -> Option<usize> {
    id.checked_sub(41_000).filter(|d| d % 17 == 0).map(|d| (d / 17) as usize)
}

/// Transcription id of the conversation of world call `call`.
pub fn transcription_id(call: usize) -> String {
    encode(SALT, K_TRANSCRIPTION, call as u64)
}

/// World call index of a transcription id.
pub fn call_of_transcription(id: &str) -> Option<usize> {
    decode(SALT, K_TRANSCRIPTION, id).map(|i| i as usize)
}

/// Recording id of the conversation of world call `call`.
pub fn recording_id(call: usize) -> String {
    encode(SALT, K_RECORDING, call as u64)
}

/// Transcription artifact id of the conversation of world call `call`.
pub fn artifact_id(call: usize) -> String {
    encode(SALT, K_ARTIFACT, call as u64)
}

/// `recording_attendee_id` of participant `participant` of world call `call`.
pub fn attendee_id(call: usize, participant: usize) -> String {
    encode(SALT, K_ATTENDEE, (call as u64) << 8 | participant as u64)
}

/// `(call, participant)` of an attendee id.
pub fn attendee_index(id: &str) -> Option<(usize, usize)> {
    decode(SALT, K_ATTENDEE, id).map(|v| ((v >> 8) as usize, (v & 0xFF) as usize))
}

/// Id of sentence `order_number` of world call `call`.
pub fn sentence_id(call: usize, order_number: u32) -> String {
    encode(SALT, K_SENTENCE, (call as u64) << 16 | u64::from(order_number))
}

/// The team's organization id.
pub fn organization_id() -> String {
    encode(SALT, K_ORGANIZATION, 0)
}

/// CRM account id of world company `company`.
pub fn account_id(company: usize) -> u64 {
    7_300_000 + company as u64
}

/// CRM person id of world contact `contact`.
pub fn person_id(contact: usize) -> u64 {
    9_100_000 + contact as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for i in [0, 1, 39, 1999] {
            assert_eq!(call_index(&conversation_id(i)), Some(i));
            assert_eq!(person_of_guid(&user_guid(i)), Some(i));
            assert_eq!(person_of_user_id(user_id(i)), Some(i));
            assert_eq!(call_of_transcription(&transcription_id(i)), Some(i));
            assert_eq!(attendee_index(&attendee_id(i, 3)), Some((i, 3)));
        }
        assert_eq!(call_index(&user_guid(3)), None);
        assert_eq!(person_of_user_id(41_001), None);
    }
}
