//! Salesloft-only generated data, derived deterministically from the [`World`].
//!
//! The provider-neutral world says who has a Salesloft account
//! (`Person::accounts.salesloft`) and which calls Salesloft recorded
//! (`Call::recorded_by.salesloft`, see [`records_call`]). What exists only at
//! Salesloft lives in [`SlData`]: each user's integer id, guid and the address
//! Salesloft has for them (some use an alias or another capitalisation than Gong, so
//! cross-provider joins must compare addresses case-insensitively and honour
//! aliases), and each conversation's Salesloft view: platform and media type,
//! owner and recorder, `is_api`, language code, millisecond duration,
//! microsecond-precision `created_at`/`updated_at`, CRM account and person, and its
//! transcription.
//!
//! Conversations uploaded through the API (`is_api`) arrive in weekly batches that
//! share one exact `created_at`, so sorting and paging by `created_at` meet ties.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use super::rng::{Rng, mix};
use super::world::{CallSystem, Speaker, World};

const S_SL_CALL: u64 = 61;
const S_SL_USER: u64 = 62;

/// Did Salesloft record world call `call`? True for about 60% of the calls whose
/// host has a Salesloft account (a hash of `(seed, call)`, no PRNG stream consumed).
pub fn records_call(seed: u64, call: usize, host_has_account: bool) -> bool {
    host_has_account && mix(seed ^ 0x5A1E_5100_0000_0000 ^ (call as u64).wrapping_mul(0x9E37_79B9)) % 10 < 6
}

/// The `platform` values of seed 003.
pub const PLATFORMS: [&str; 11] = [
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

/// The `language_code` values of seed 003.
pub const LANGUAGE_CODES: [&str; 17] = [
    "en-AU", "en-AB", "en-GB", "en-IN", "en-IE", "en-NZ", "en-ZA", "en-US", "en-WL", "es-ES", "es-US", "nl-NL",
    "it-IT", "fr-FR", "fr-CA", "de-DE", "de-CH",
];

/// A Salesloft user (`GET /v2/users`).
#[derive(Clone, Debug, PartialEq)]
pub struct SlUser {
    /// Person index.
    pub person: usize,
    /// The address Salesloft has (may be an alias or differently capitalised).
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Salesloft's view of a recorded world call.
#[derive(Clone, Debug, PartialEq)]
pub struct SlConversation {
    /// World call index.
    pub call: usize,
    /// Person index of the owner (`owner_id`).
    pub owner: usize,
    /// Person index of the user who recorded it (`user_guid`).
    pub recorder: usize,
    /// Milliseconds (with a sub-second part).
    pub duration_ms: f64,
    pub is_api: bool,
    pub platform: &'static str,
    /// `audio` or `video`.
    pub media_type: &'static str,
    pub language_code: String,
    /// Microsecond precision.
    pub created_at: DateTime<Utc>,
    /// Microsecond precision, never before `created_at`.
    pub updated_at: DateTime<Utc>,
    /// Call data record id (dialer calls).
    pub call_data_record: Option<String>,
    /// CRM account (company index).
    pub account: Option<usize>,
    /// CRM person (contact index).
    pub person: Option<usize>,
    /// Whether a transcription exists.
    pub transcribed: bool,
    /// A live call: when its transcription appears (and `updated_at`, which until then
    /// equals `created_at`, moves there); see [`SlConversation::as_of`].
    pub transcript_ready: Option<DateTime<Utc>>,
}

impl SlConversation {
    /// The record as Salesloft shows it at `now`: a live call's conversation has no
    /// transcription and `updated_at == created_at` until its transcript is ready.
    pub fn as_of(&self, now: DateTime<Utc>) -> SlConversation {
        match self.transcript_ready {
            Some(t) if now < t => SlConversation { transcribed: false, updated_at: self.created_at, ..self.clone() },
            _ => self.clone(),
        }
    }

    /// The transcription's `created_at`/`updated_at`: when a live call's transcript
    /// became ready, else the conversation's `created_at`.
    pub fn transcription_time(&self) -> DateTime<Utc> {
        self.transcript_ready.unwrap_or(self.created_at)
    }
}

/// One sentence of a transcription.
#[derive(Clone, Debug, PartialEq)]
pub struct SlSentence {
    /// 1-based position in the transcription.
    pub order_number: u32,
    /// Seconds from the start of the recording.
    pub start_secs: f64,
    pub end_secs: f64,
    /// Participant ordinal in the world call (the attendee who spoke).
    pub participant: usize,
    pub text: String,
}

/// Everything only Salesloft has.
#[derive(Clone, Debug, PartialEq)]
pub struct SlData {
    /// One per active or inactive person with a Salesloft account, by person index.
    pub users: Vec<SlUser>,
    /// Ordered by world call index (start time).
    pub conversations: Vec<SlConversation>,
    conv_pos: Vec<Option<usize>>,
}

fn micros(r: &mut Rng) -> Duration {
    Duration::microseconds(r.below(1_000_000) as i64)
}

impl SlData {
    /// Salesloft's data for `world` (deterministic).
    pub fn generate(world: &World) -> SlData {
        let users = gen_users(world);
        let conversations = gen_conversations(world);
        let mut conv_pos = vec![None; world.calls.len()];
        for (k, c) in conversations.iter().enumerate() {
            conv_pos[c.call] = Some(k);
        }
        SlData { users, conversations, conv_pos }
    }

    /// The conversation of world call `call`, when Salesloft recorded it.
    pub fn conversation(&self, call: usize) -> Option<&SlConversation> {
        self.conv_pos.get(call).copied().flatten().map(|k| &self.conversations[k])
    }

    /// The Salesloft user of person `person`.
    pub fn user(&self, person: usize) -> Option<&SlUser> {
        self.users.iter().find(|u| u.person == person)
    }

    /// The sentences of the conversation of world call `call`, in order (empty when
    /// it has no transcription).
    pub fn sentences(&self, world: &World, call: usize) -> Vec<SlSentence> {
        if !self.conversation(call).is_some_and(|c| c.transcribed) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for m in world.transcript(call).monologues {
            for s in m.sentences {
                out.push(SlSentence {
                    order_number: out.len() as u32 + 1,
                    start_secs: s.start_ms as f64 / 1000.0,
                    end_secs: s.end_ms as f64 / 1000.0,
                    participant: m.participant,
                    text: s.text,
                });
            }
        }
        out
    }
}

/// Salesloft's address for a person: now and then an alias, or another capitalisation.
fn sl_email(p: &super::world::Person) -> String {
    match p.email_aliases.first() {
        Some(alias) if p.index % 2 == 1 => alias.clone(),
        _ if p.index.is_multiple_of(4) => {
            let (local, domain) = p.email.split_once('@').unwrap_or((&p.email, ""));
            let cap = |s: &str| {
                s.split(['.', '-'])
                    .map(|w| {
                        let mut c = w.chars();
                        c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
                    })
                    .collect::<Vec<_>>()
            };
            let local: Vec<String> = cap(local);
            let domain_parts: Vec<&str> = domain.split('.').collect();
            let host = domain_parts.first().map_or(String::new(), |h| cap(h).join("-"));
            let rest = domain_parts[1..].join(".");
            format!("{}@{host}.{rest}", local.join("."))
        }
        _ => p.email.clone(),
    }
}

fn gen_users(world: &World) -> Vec<SlUser> {
    world
        .people
        .iter()
        .filter(|p| p.accounts.salesloft)
        .map(|p| {
            let mut r = Rng::derive(world.seed, S_SL_USER, p.index as u64);
            let created_at = p.created + Duration::hours(r.range(1, 72) as i64) + micros(&mut r);
            let updated_at = created_at + Duration::days(r.range(0, 400) as i64) + micros(&mut r);
            SlUser { person: p.index, email: sl_email(p), created_at, updated_at }
        })
        .collect()
}

/// Monday 03:00 US Eastern after `t` (weekly API import batches).
fn next_batch(world: &World, t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&world.time_zone).date_naive();
    let days = 7 - local.weekday().num_days_from_monday() as i64;
    let day = local + Duration::days(days);
    let at = day.and_hms_opt(3, 0, 0).expect("a valid time");
    world.time_zone.from_local_datetime(&at).earliest().map_or(t, |d| d.with_timezone(&Utc))
        + Duration::microseconds(123_457)
}

fn native_platform(system: CallSystem) -> &'static str {
    match system {
        CallSystem::Zoom => "zoom",
        CallSystem::GoogleMeet => "google_meet",
        CallSystem::Teams => "ms_teams",
        CallSystem::Dialer => "salesloft",
    }
}

fn gen_conversations(world: &World) -> Vec<SlConversation> {
    let seed = world.seed;
    world
        .calls
        .iter()
        .filter(|c| c.recorded_by.salesloft)
        .map(|c| {
            let mut r = Rng::derive(seed, S_SL_CALL, c.index as u64);
            let host = &world.people[c.host];
            let is_api = r.chance(0.08);
            let platform = if is_api {
                if r.chance(0.5) { "external_audio" } else { "manual_upload" }
            } else {
                native_platform(c.system)
            };
            let media_type = match c.media {
                super::world::Media::Video => "video",
                super::world::Media::Audio => "audio",
            };
            // Now and then another internal attendee with an account recorded it.
            let recorder = c
                .internal_attendees()
                .into_iter()
                .find(|&p| world.people[p].accounts.salesloft && world.people[p].active)
                .filter(|_| !is_api && r.chance(0.15))
                .unwrap_or(c.host);
            let language_code = match host.language.as_str() {
                "en-US" if host.team == "EMEA" => "en-GB".to_string(),
                other => other.to_string(),
            };
            let created_at = if is_api {
                next_batch(world, c.ended())
            } else {
                c.ended() + Duration::seconds(r.range(60, 40 * 60) as i64) + micros(&mut r)
            };
            let updated_at = if r.chance(0.3) {
                created_at + Duration::minutes(r.range(5, 60 * 24 * 5) as i64) + micros(&mut r)
            } else {
                created_at
            };
            let person = c.participants.iter().find_map(|p| match p.who {
                Speaker::Contact(k) => Some(k),
                _ => None,
            });
            let transcribed = !r.chance(0.04);
            // A live call: created when it ends, transcribed (and updated) every/2 later.
            let live = world.is_live(c.index);
            let (is_api, platform, created_at, updated_at, transcribed, transcript_ready) = if live {
                let ready = world.transcript_ready_at(c.index);
                (
                    false,
                    if is_api { native_platform(c.system) } else { platform },
                    world.visible_at(c.index),
                    ready,
                    true,
                    Some(ready),
                )
            } else {
                (is_api, platform, created_at, updated_at, transcribed, None)
            };
            SlConversation {
                call: c.index,
                owner: c.host,
                recorder,
                duration_ms: f64::from(c.duration_secs) * 1000.0 + r.below(1000) as f64,
                is_api,
                platform,
                media_type,
                language_code,
                created_at,
                updated_at,
                call_data_record: (c.system == CallSystem::Dialer).then(|| format!("{}", 880_000 + c.index)),
                account: c.company,
                person,
                transcribed,
                transcript_ready,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxSettings;

    #[test]
    fn salesloft_data_is_consistent_with_the_world() {
        let world = World::generate(&SandboxSettings::default());
        let data = SlData::generate(&world);
        assert!(data.conversations.len() > 500, "{}", data.conversations.len());
        for c in &data.conversations {
            let call = &world.calls[c.call];
            assert!(world.people[call.host].accounts.salesloft);
            assert!(c.created_at >= call.ended() && c.updated_at >= c.created_at);
            assert!(PLATFORMS.contains(&c.platform));
            assert!(LANGUAGE_CODES.contains(&c.language_code.as_str()), "{}", c.language_code);
            assert_eq!((c.duration_ms / 1000.0).floor() as u32, call.duration_secs);
        }
        // Ties in created_at exist (API import batches), and so do untranscribed ones.
        let mut created: Vec<_> = data.conversations.iter().map(|c| c.created_at).collect();
        created.sort();
        assert!(created.windows(2).any(|w| w[0] == w[1]));
        assert!(data.conversations.iter().any(|c| !c.transcribed));
        // Some addresses differ from Gong's but name the same person.
        let differing: Vec<&SlUser> = data.users.iter().filter(|u| u.email != world.people[u.person].email).collect();
        assert!(differing.len() >= 3);
        for u in &data.users {
            assert_eq!(world.person_by_email(&u.email).map(|p| p.index), Some(u.person), "{}", u.email);
        }
    }
}
