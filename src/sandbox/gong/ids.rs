//! Gong ids derived from world indices (decimal strings of up to 19 digits, all
//! below `i64::MAX` so the int64 renderings in the scorecard endpoints are exact).

/// The one workspace id.
pub const WORKSPACE_ID: &str = "623457276584334";
/// [`WORKSPACE_ID`] as a number (for `/v2/settings/scorecards`, `/v2/coaching`).
pub const WORKSPACE_ID_NUM: i64 = 623_457_276_584_334;

const USER_BASE: u64 = 2_345_678_900_000_000_000;
const USER_STEP: u64 = 1_000_003;
const AVATAR_BASE: u64 = 9_100_000_000_000_000_000;
const CALL_BASE: u64 = 7_782_342_274_000_000_000;
const CALL_STEP: u64 = 7_919;
const PARTY_BASE: u64 = 5_682_545_255_000_000_000;
const SPEAKER_BASE: u64 = 6_432_345_678_000_000_000;
const COMMENT_BASE: u64 = 1_792_390_015_966_000_000;
const TRACKER_BASE: u64 = 3_100_000_000_000_000_000;
const SCORECARD_BASE: i64 = 6_843_152_929_075_440_000;
const QUESTION_BASE: i64 = 4_395_522_475_321_100_000;
const REVISION_BASE: i64 = 4_395_522_475_321_200_000;
const ANSWERED_BASE: i64 = 5_635_152_584_587_000_000;

fn decode(id: &str, base: u64, step: u64) -> Option<usize> {
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u64 = id.parse().ok()?;
    let off = v.checked_sub(base)?;
    (off % step == 0).then(|| (off / step) as usize)
}

/// Gong user id of person `i`.
pub fn user_id(person: usize) -> String {
    user_id_num(person).to_string()
}

/// Gong user id of person `i` as a number (int64 endpoints).
pub fn user_id_num(person: usize) -> i64 {
    (USER_BASE + person as u64 * USER_STEP) as i64
}

/// Person index of a Gong user id (not bounds-checked against the world).
pub fn person_index(user_id: &str) -> Option<usize> {
    decode(user_id, USER_BASE, USER_STEP)
}

/// Gong user id of avatar `a` (synthetic Gong staff, `includeAvatars`).
pub fn avatar_id(avatar: usize) -> String {
    (AVATAR_BASE + avatar as u64).to_string()
}

/// Avatar index of an avatar user id.
pub fn avatar_index(user_id: &str) -> Option<usize> {
    decode(user_id, AVATAR_BASE, 1).filter(|a| *a < 1000)
}

/// Gong call id of call `j`.
pub fn call_id(call: usize) -> String {
    call_id_num(call).to_string()
}

/// Gong call id of call `j` as a number (`/v2/stats/activity/scorecards`).
pub fn call_id_num(call: usize) -> i64 {
    (CALL_BASE + call as u64 * CALL_STEP) as i64
}

/// Call index of a Gong call id (not bounds-checked against the world).
pub fn call_index(call_id: &str) -> Option<usize> {
    decode(call_id, CALL_BASE, CALL_STEP)
}

/// `parties[].id` of participant `ordinal` of call `j` (also `interaction.speakers[].id`).
pub fn party_id(call: usize, ordinal: usize) -> String {
    (PARTY_BASE + call as u64 * 100 + ordinal as u64).to_string()
}

/// `parties[].speakerId` / transcript `speakerId` of participant `ordinal` of call `j`.
pub fn speaker_id(call: usize, ordinal: usize) -> String {
    (SPEAKER_BASE + call as u64 * 100 + ordinal as u64).to_string()
}

/// `(call, ordinal)` of a speaker id.
pub fn speaker_index(speaker_id: &str) -> Option<(usize, usize)> {
    decode(speaker_id, SPEAKER_BASE, 1).map(|v| (v / 100, v % 100))
}

/// Id of public comment `ordinal` of call `j`.
pub fn comment_id(call: usize, ordinal: usize) -> String {
    (COMMENT_BASE + call as u64 * 100 + ordinal as u64).to_string()
}

/// Id of tracker `t`.
pub fn tracker_id(tracker: usize) -> String {
    (TRACKER_BASE + tracker as u64).to_string()
}

/// Id of scorecard template `s` (int64).
pub fn scorecard_id(scorecard: usize) -> i64 {
    SCORECARD_BASE + scorecard as i64
}

/// Scorecard index of an int64 scorecard id.
pub fn scorecard_index(id: i64) -> Option<usize> {
    let off = id.checked_sub(SCORECARD_BASE)?;
    (0..1000).contains(&off).then_some(off as usize)
}

/// Id of question `q` of scorecard `s` (int64).
pub fn question_id(scorecard: usize, question: usize) -> i64 {
    QUESTION_BASE + (scorecard * 100 + question) as i64
}

/// Revision id of question `q` of scorecard `s` (int64).
pub fn question_revision_id(scorecard: usize, question: usize) -> i64 {
    REVISION_BASE + (scorecard * 100 + question) as i64
}

/// Id of answered scorecard `a` (int64).
pub fn answered_scorecard_id(answered: usize) -> i64 {
    ANSWERED_BASE + answered as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for i in [0, 1, 39, 1999, 50_000] {
            assert_eq!(person_index(&user_id(i)), Some(i));
            assert_eq!(call_index(&call_id(i)), Some(i));
            assert_eq!(user_id(i).len(), 19);
            assert_eq!(call_id(i).len(), 19);
            assert!(call_id_num(i) > 0 && user_id_num(i) > 0);
        }
        assert_eq!(speaker_index(&speaker_id(1234, 5)), Some((1234, 5)));
        assert_eq!(person_index("12"), None);
        assert_eq!(person_index(&(user_id_num(3) + 1).to_string()), None);
        assert_eq!(call_index("abc"), None);
        assert_eq!(scorecard_index(scorecard_id(2)), Some(2));
        assert_eq!(avatar_index(&avatar_id(1)), Some(1));
    }
}
