//! ExecVision ids derived from world indices.
//!
//! Entity ids are lowercase version-4-looking UUIDs (`8-4-4-4-12` hex) that encode a
//! kind tag and the index, so every id function has an exact inverse; ids of
//! different kinds never collide and a random UUID decodes to `None`. Topics, plans,
//! meetings, skills and KPIs have numeric ids (as the seed shows).

use crate::sandbox::rng::mix;

const K_USER: u64 = 1;
const K_TEAM: u64 = 2;
const K_DEPARTMENT: u64 = 3;
const K_CALL: u64 = 4;
const K_SCORECARD: u64 = 5;
const K_QUESTION: u64 = 6;
const K_RESULT: u64 = 7;

const LOW_62: u64 = (1 << 62) - 1;

fn hi_part(kind: u64, index: u64) -> u64 {
    // Version nibble (hex digit 12 of the UUID) forced to 4.
    (mix((kind << 56) ^ index ^ 0x0E5C_0A17_1D00_0000) & !0xF000) | 0x4000
}

fn encode(kind: u64, index: usize) -> String {
    let index = index as u64;
    let hi = hi_part(kind, index);
    // Variant bits `10` on top of the low half; the rest is `(kind, index)` masked.
    let lo = (((kind << 48) | index) ^ mix(hi)) & LOW_62 | (1 << 63);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

fn decode(kind: u64, id: &str) -> Option<usize> {
    let id = id.trim();
    let groups: Vec<&str> = id.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lens != [8, 4, 4, 4, 12] || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())) {
        return None;
    }
    let hex: String = groups.concat();
    let hi = u64::from_str_radix(&hex[..16], 16).ok()?;
    let lo = u64::from_str_radix(&hex[16..], 16).ok()?;
    let plain = (lo ^ mix(hi)) & LOW_62;
    if plain >> 48 != kind {
        return None;
    }
    let index = plain & ((1 << 48) - 1);
    (hi_part(kind, index) == hi && lo >> 62 == 0b10).then_some(index as usize)
}

/// User id of person `i` (`userId`, `callerId`, `coachId`, ...).
pub fn user_id(person: usize) -> String {
    encode(K_USER, person)
}

/// Person index of a user id (not bounds-checked against the world).
pub fn person_index(user_id: &str) -> Option<usize> {
    decode(K_USER, user_id)
}

/// Team id of [`crate::sandbox::world_ev::EvData::teams`]`[t]`.
pub fn team_id(team: usize) -> String {
    encode(K_TEAM, team)
}

/// Team index of a team id.
pub fn team_index(team_id: &str) -> Option<usize> {
    decode(K_TEAM, team_id)
}

/// Department id of [`crate::sandbox::world_ev::EvData::departments`]`[d]`.
pub fn department_id(department: usize) -> String {
    encode(K_DEPARTMENT, department)
}

/// Department index of a department id.
pub fn department_index(department_id: &str) -> Option<usize> {
    decode(K_DEPARTMENT, department_id)
}

/// Call id of world call `j`.
pub fn call_id(call: usize) -> String {
    encode(K_CALL, call)
}

/// World call index of a call id (not bounds-checked, not checked for ExecVision).
pub fn call_index(call_id: &str) -> Option<usize> {
    decode(K_CALL, call_id)
}

/// Scorecard id of world scorecard template `s`.
pub fn scorecard_id(scorecard: usize) -> String {
    encode(K_SCORECARD, scorecard)
}

/// Scorecard index of a scorecard id.
pub fn scorecard_index(scorecard_id: &str) -> Option<usize> {
    decode(K_SCORECARD, scorecard_id)
}

/// Question id of question `q` (ordinal) of scorecard `s`.
pub fn question_id(scorecard: usize, question: usize) -> String {
    encode(K_QUESTION, scorecard * 1000 + question)
}

/// `(scorecard, question)` of a question id.
pub fn question_index(question_id: &str) -> Option<(usize, usize)> {
    decode(K_QUESTION, question_id).map(|v| (v / 1000, v % 1000))
}

/// `resultId` of world answered scorecard `a` (one reviewer filling one scorecard).
pub fn result_id(answered: usize) -> String {
    encode(K_RESULT, answered)
}

/// Answered-scorecard index of a `resultId`.
pub fn result_index(result_id: &str) -> Option<usize> {
    decode(K_RESULT, result_id)
}

/// Numeric id of [`crate::sandbox::world_ev::EvData::topics`]`[t]` (1-based).
pub fn topic_id(topic: usize) -> u64 {
    topic as u64 + 1
}

/// Topic index of a numeric topic id.
pub fn topic_index(topic_id: u64) -> Option<usize> {
    topic_id.checked_sub(1).map(|t| t as usize)
}

/// Numeric id of coaching plan `p`.
pub fn plan_id(plan: usize) -> u64 {
    3700 + plan as u64
}

/// Plan index of a plan id.
pub fn plan_index(plan_id: u64) -> Option<usize> {
    plan_id.checked_sub(3700).map(|p| p as usize)
}

/// Numeric id of coaching meeting `m`.
pub fn meeting_id(meeting: usize) -> u64 {
    9200 + meeting as u64
}

/// Meeting index of a meeting id.
pub fn meeting_index(meeting_id: u64) -> Option<usize> {
    meeting_id.checked_sub(9200).map(|m| m as usize)
}

/// Numeric id of skill `s` ([`crate::sandbox::world_ev::SKILLS`]).
pub fn skill_id(skill: usize) -> u64 {
    40 + 7 * skill as u64
}

/// Numeric id of KPI definition `k` (1-based).
pub fn kpi_id(kpi: usize) -> u64 {
    kpi as u64 + 1
}

/// KPI index of a numeric KPI id.
pub fn kpi_index(kpi_id: u64) -> Option<usize> {
    kpi_id.checked_sub(1).map(|k| k as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_look_like_uuids() {
        for i in [0, 1, 39, 1999, 123_456] {
            assert_eq!(person_index(&user_id(i)), Some(i));
            assert_eq!(call_index(&call_id(i)), Some(i));
            assert_eq!(team_index(&team_id(i)), Some(i));
            assert_eq!(department_index(&department_id(i)), Some(i));
            assert_eq!(scorecard_index(&scorecard_id(i)), Some(i));
            assert_eq!(result_index(&result_id(i)), Some(i));
            let id = call_id(i);
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
            assert_eq!(id, id.to_lowercase());
            assert_eq!(call_index(&id.to_uppercase()), Some(i));
        }
        assert_eq!(question_index(&question_id(2, 5)), Some((2, 5)));
        // Kinds do not mix; random UUIDs decode to nothing.
        assert_eq!(person_index(&call_id(3)), None);
        assert_eq!(call_index("aadb60cc-f532-479b-be74-9bd8b487edc0"), None);
        assert_eq!(call_index("not-a-uuid"), None);
        assert_ne!(user_id(1), user_id(2));
        assert_eq!(plan_index(plan_id(4)), Some(4));
        assert_eq!(meeting_index(meeting_id(4)), Some(4));
        assert_eq!(kpi_index(kpi_id(2)), Some(2));
        assert_eq!(topic_index(topic_id(0)), Some(0));
        assert_eq!(kpi_index(0), None);
    }
}
