//! The deterministic synthetic world every provider simulator renders.
//!
//! Provider-neutral: entities are addressed by their index in the `World`'s vectors
//! (`people[i].index == i`, `calls[j].index == j`, ...). Each simulator derives its own
//! ids from those indices (for Gong see [`crate::sandbox::gong::ids`]).
//!
//! Times are UTC `DateTime`s; "days" (activity, stats) are calendar days in the
//! company time zone ([`World::time_zone`], `America/New_York`).
//!
//! Live calls ([`crate::sandbox::LiveCalls`]) follow the ordinary ones in
//! [`World::calls`] (so `calls` is sorted by `started` only up to
//! [`World::ordinary_calls`]); [`World::live_calls`] lists them in the order they
//! appear. They are left out of the precomputed activity counters.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::SandboxSettings;
use super::execvision::throttle::SimClock;
use super::rng::Rng;

// Stream ids for the PRNG (one per kind of entity so they do not perturb each other).
const S_PEOPLE: u64 = 1;
const S_COMPANIES: u64 = 2;
const S_CALL_TIMES: u64 = 3;
const S_CALL: u64 = 4;
const S_TRANSCRIPT: u64 = 5;
const S_SCORECARD: u64 = 6;
const S_ACTIVITY: u64 = 7;
const S_COACHING: u64 = 8;
const S_LIVE: u64 = 9;

/// Which providers an entity exists at (a person's accounts, a call's recorders).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Providers {
    /// Gong.
    pub gong: bool,
    /// ExecVision / Mediafly Coach.
    pub execvision: bool,
    /// Salesloft.
    pub salesloft: bool,
    /// Hubster.
    pub hubster: bool,
}

/// A person's role in the sales org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The head of sales (person 0); manages the managers.
    Executive,
    /// A first-line manager with reps reporting to them.
    Manager,
    /// An individual contributor.
    Rep,
}

/// An employee of the (fictional) company, Acme.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// Stable index, equal to the position in [`World::people`].
    pub index: usize,
    pub first_name: String,
    pub last_name: String,
    /// `first.last@acme-demo.com`, lowercase.
    pub email: String,
    /// Other addresses (e.g. `f.last@acme.io`); empty for most people.
    pub email_aliases: Vec<String>,
    pub title: String,
    pub role: Role,
    /// Index of the manager (None only for the executive).
    pub manager: Option<usize>,
    pub team: String,
    pub department: String,
    /// E.g. `+1 212-555-0123`.
    pub phone: String,
    pub extension: String,
    /// When the user account was created.
    pub created: DateTime<Utc>,
    /// Inactive people host no calls and have no activity.
    pub active: bool,
    /// Spoken language, BCP-47 (`en-US`, `es-ES`, ...).
    pub language: String,
    /// Where this person has a user account.
    pub accounts: Providers,
}

impl Person {
    /// "First Last".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// Executive or manager.
    pub fn is_manager(&self) -> bool {
        self.role != Role::Rep
    }
}

/// A customer company.
#[derive(Clone, Debug, PartialEq)]
pub struct Company {
    pub index: usize,
    pub name: String,
    /// E.g. `globex.com`.
    pub domain: String,
    /// CRM ids (Salesforce-like, 18 chars).
    pub crm_account_id: String,
    pub crm_opportunity_id: String,
    /// Opportunity amount in USD.
    pub opportunity_amount: u32,
    /// Indices into [`World::contacts`].
    pub contacts: Vec<usize>,
}

/// A person at a customer company.
#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub index: usize,
    pub company: usize,
    pub first_name: String,
    pub last_name: String,
    /// `first.last@<company domain>`.
    pub email: String,
    pub title: String,
    pub phone: String,
    pub crm_contact_id: String,
}

impl Contact {
    /// "First Last".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// Who a call participant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    /// An internal person (index into [`World::people`]).
    Person(usize),
    /// An external contact (index into [`World::contacts`]).
    Contact(usize),
}

/// One participant of a call; `Call::participants[0]` is always the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    pub who: Speaker,
    /// Was on the calendar invite.
    pub invited: bool,
    /// Joined (and spoke). Non-attendees have no speaker id and no transcript lines.
    pub attended: bool,
    /// Seconds of talk time (0 when not attended).
    pub talk_time_secs: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
    Conference,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "Inbound",
            Direction::Outbound => "Outbound",
            Direction::Conference => "Conference",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Video,
    Audio,
}

impl Media {
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Video => "Video",
            Media::Audio => "Audio",
        }
    }
}

/// The platform a call happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallSystem {
    Zoom,
    GoogleMeet,
    Teams,
    Dialer,
}

impl CallSystem {
    pub fn as_str(self) -> &'static str {
        match self {
            CallSystem::Zoom => "Zoom",
            CallSystem::GoogleMeet => "Google Meet",
            CallSystem::Teams => "Microsoft Teams",
            CallSystem::Dialer => "Dialer",
        }
    }

    /// Web conference (as opposed to a telephony call).
    pub fn is_web_conference(self) -> bool {
        self != CallSystem::Dialer
    }
}

/// A topic discussed from `start_secs` for `duration_secs` (topics are back to back).
#[derive(Clone, Debug, PartialEq)]
pub struct TopicSpan {
    pub name: String,
    pub start_secs: u32,
    pub duration_secs: u32,
}

/// A tracker definition (company-wide).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerDef {
    pub index: usize,
    pub name: String,
    /// `KEYWORD` trackers have phrases; `SMART` ones do not.
    pub smart: bool,
    pub phrases: Vec<String>,
}

/// One occurrence of a tracker in a call.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerOccurrence {
    /// Seconds from call start.
    pub start_secs: f64,
    /// Participant ordinal (index into `Call::participants`).
    pub participant: usize,
    /// Index into the tracker's `phrases` (keyword trackers only).
    pub phrase: Option<usize>,
}

/// A tracker's hits in one call.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerHit {
    /// Index into [`World::trackers`].
    pub tracker: usize,
    pub occurrences: Vec<TrackerOccurrence>,
}

/// A highlights section of a call.
#[derive(Clone, Debug, PartialEq)]
pub struct Highlight {
    pub title: String,
    pub items: Vec<(String, f64)>,
}

/// An action item ("I'll send you the proposal").
#[derive(Clone, Debug, PartialEq)]
pub struct ActionItem {
    pub start_secs: f64,
    pub end_secs: f64,
    pub participant: usize,
    pub snippet: String,
}

/// A call's outcome (Gong's `callOutcome`).
#[derive(Clone, Debug, PartialEq)]
pub struct CallOutcome {
    pub id: &'static str,
    pub category: &'static str,
    pub name: &'static str,
}

/// Per-call interaction statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct CallStats {
    /// Percentage of talk time by the company side (0-100).
    pub talk_ratio: u32,
    /// Seconds.
    pub longest_monologue: u32,
    /// Seconds.
    pub longest_customer_story: u32,
    /// 0-10 score.
    pub interactivity: f64,
    /// Seconds of pause before answering.
    pub patience: f64,
}

/// A public comment on a call.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// Ordinal of the comment within the call.
    pub ordinal: usize,
    /// Person index.
    pub author: usize,
    pub audio_start_secs: f64,
    pub audio_end_secs: f64,
    pub text: String,
    pub posted: DateTime<Utc>,
    /// Ordinal of the comment this one answers.
    pub in_reply_to: Option<usize>,
}

/// A recorded call or meeting.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Stable index, equal to the position in [`World::calls`] (sorted by `started`).
    pub index: usize,
    /// E.g. "Acme <> Globex — Discovery".
    pub title: String,
    /// Calendar time (web conferences are on a quarter hour).
    pub scheduled: DateTime<Utc>,
    /// Actual start (0-4 minutes after `scheduled`).
    pub started: DateTime<Utc>,
    pub duration_secs: u32,
    /// Person index of the host (also `participants[0]`).
    pub host: usize,
    /// Customer company; None for internal meetings.
    pub company: Option<usize>,
    pub participants: Vec<Participant>,
    pub direction: Direction,
    pub media: Media,
    pub system: CallSystem,
    /// ISO-639-2B, e.g. `eng`.
    pub language: String,
    /// E.g. "Discovery", "Demo".
    pub purpose: String,
    pub topics: Vec<TopicSpan>,
    pub trackers: Vec<TrackerHit>,
    pub brief: String,
    pub key_points: Vec<String>,
    pub highlights: Vec<Highlight>,
    pub action_items: Vec<ActionItem>,
    pub outcome: CallOutcome,
    pub stats: CallStats,
    /// Questions asked by the company side.
    pub questions_company: u32,
    /// Questions asked by the customer side.
    pub questions_non_company: u32,
    /// Video statistics `(Browser|Presentation|WebcamPrimaryUser|WebcamNonCompany, secs)`.
    pub video: Vec<(&'static str, f64)>,
    pub comments: Vec<Comment>,
    pub is_private: bool,
    /// Which providers recorded this call (all Gong; ExecVision see
    /// [`crate::sandbox::world_ev::records_call`], Salesloft
    /// [`crate::sandbox::world_sl::records_call`]; Hubster chats are not world calls).
    pub recorded_by: Providers,
}

impl Call {
    /// `started + duration`.
    pub fn ended(&self) -> DateTime<Utc> {
        self.started + Duration::seconds(i64::from(self.duration_secs))
    }

    /// True when a customer took part.
    pub fn is_external(&self) -> bool {
        self.company.is_some()
    }

    /// Person indices of internal participants other than the host.
    pub fn internal_attendees(&self) -> Vec<usize> {
        self.participants[1..]
            .iter()
            .filter_map(|p| match p.who {
                Speaker::Person(i) if p.attended => Some(i),
                _ => None,
            })
            .collect()
    }

    /// Contact indices of external participants (invited or attended).
    pub fn external_contacts(&self) -> Vec<usize> {
        self.participants
            .iter()
            .filter_map(|p| match p.who {
                Speaker::Contact(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// True when person `p` attended (host or other).
    pub fn attended_by(&self, person: usize) -> bool {
        self.participants.iter().any(|p| p.attended && p.who == Speaker::Person(person))
    }

    /// The topic being discussed at `secs` from the start.
    pub fn topic_at(&self, secs: u32) -> &str {
        self.topics.iter().rev().find(|t| t.start_secs <= secs).or(self.topics.first()).map_or("", |t| t.name.as_str())
    }
}

/// A transcript line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sentence {
    /// Milliseconds from call start.
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// Consecutive sentences by one speaker.
#[derive(Clone, Debug, PartialEq)]
pub struct Monologue {
    /// Participant ordinal (index into `Call::participants`; always an attendee).
    pub participant: usize,
    pub topic: String,
    pub sentences: Vec<Sentence>,
}

/// A call's transcript (generated on demand by [`World::transcript`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Transcript {
    pub call: usize,
    pub monologues: Vec<Monologue>,
}

/// A scorecard question.
#[derive(Clone, Debug, PartialEq)]
pub struct ScorecardQuestion {
    /// Ordinal within the template (the overall question is last).
    pub ordinal: usize,
    pub text: String,
    pub is_overall: bool,
    pub answer_guide: String,
}

/// A scorecard template. Answers are scores `min_score..=max_score`.
#[derive(Clone, Debug, PartialEq)]
pub struct Scorecard {
    pub index: usize,
    pub name: String,
    pub enabled: bool,
    /// Person index of the last editor.
    pub updater: usize,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub min_score: u32,
    pub max_score: u32,
    pub questions: Vec<ScorecardQuestion>,
}

/// Visibility of an answered scorecard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
    OptInUsers,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "PUBLIC",
            Visibility::Private => "PRIVATE",
            Visibility::OptInUsers => "OPT_IN_USERS",
        }
    }
}

/// One answer of an answered scorecard.
#[derive(Clone, Debug, PartialEq)]
pub struct ScorecardAnswer {
    /// Question ordinal within the template.
    pub question: usize,
    /// None when not applicable.
    pub score: Option<u32>,
    pub text: Option<String>,
}

/// A review of a call (a filled scorecard).
#[derive(Clone, Debug, PartialEq)]
pub struct AnsweredScorecard {
    pub index: usize,
    /// Template index.
    pub scorecard: usize,
    pub call: usize,
    /// Person index (a manager).
    pub reviewer: usize,
    /// Person index (the host).
    pub reviewed: usize,
    pub review_time: DateTime<Utc>,
    pub visibility: Visibility,
    pub answers: Vec<ScorecardAnswer>,
}

/// Gong's 15 activity counter names, in [`ActivityCounters::counts`] order.
pub const ACTIVITY_COUNTERS: [&str; 15] = [
    "callsAsHost",
    "callsGaveFeedback",
    "callsRequestedFeedback",
    "callsReceivedFeedback",
    "ownCallsListenedTo",
    "othersCallsListenedTo",
    "callsSharedInternally",
    "callsSharedExternally",
    "callsScorecardsFilled",
    "callsScorecardsReceived",
    "callsAttended",
    "callsCommentsGiven",
    "callsCommentsReceived",
    "callsMarkedAsFeedbackGiven",
    "callsMarkedAsFeedbackReceived",
];

const A_HOST: usize = 0;
const A_SCORECARDS_FILLED: usize = 8;
const A_SCORECARDS_RECEIVED: usize = 9;
const A_ATTENDED: usize = 10;
const A_COMMENTS_GIVEN: usize = 11;
const A_COMMENTS_RECEIVED: usize = 12;
const SYNTHETIC_COUNTERS: [usize; 9] = [1, 2, 3, 4, 5, 6, 7, 13, 14];

/// The 15 activity counters for one person over some days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivityCounters {
    /// Indexed like [`ACTIVITY_COUNTERS`].
    pub counts: [u32; 15],
}

impl ActivityCounters {
    /// The counter called `name` (one of [`ACTIVITY_COUNTERS`]).
    pub fn get(&self, name: &str) -> Option<u32> {
        ACTIVITY_COUNTERS.iter().position(|n| *n == name).map(|i| self.counts[i])
    }

    /// True when every counter is zero.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| *c == 0)
    }

    fn add(&mut self, other: &ActivityCounters) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }
}

/// A person's interaction stats over a date range (averages over the calls they hosted).
#[derive(Clone, Debug, PartialEq)]
pub struct PersonInteractionStats {
    /// How many hosted calls the stats are based on (> 0).
    pub calls: usize,
    /// Seconds.
    pub longest_monologue: f64,
    /// Seconds.
    pub longest_customer_story: f64,
    pub interactivity: f64,
    /// Seconds.
    pub patience: f64,
    /// Company-side questions per hour of call.
    pub question_rate: f64,
}

/// Coaching metrics of one direct report (metric name -> call indices).
#[derive(Clone, Debug, PartialEq)]
pub struct CoachingReport {
    /// Person index of the report.
    pub report: usize,
    /// Metric names: `callsListenedTo`, `callsAttended`, `callsScorecarded`,
    /// `callsCommented`, `callsWithFeedback`; values are call indices (ascending).
    pub metrics: BTreeMap<&'static str, Vec<usize>>,
}

/// The workspace (one per world).
#[derive(Clone, Debug, PartialEq)]
pub struct Workspace {
    pub name: String,
    pub description: String,
}

/// The wall clock the simulators read for live calls: the system clock, or a pinned
/// instant that then advances with tokio's clock. Clones share it; it takes no part
/// in comparing worlds.
#[derive(Clone, Debug, Default)]
pub struct Clock(Arc<SimClock>);

impl PartialEq for Clock {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Where the live calls are and when they appear.
#[derive(Clone, Debug, PartialEq)]
struct LiveSchedule {
    every: Duration,
    /// Indices into `World::calls`, in visible order (contiguous, after the ordinary ones).
    calls: Vec<usize>,
}

/// The whole generated world. Identical for identical [`SandboxSettings`]
/// (seed, sizes, window and live calls; provider settings do not affect it).
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    pub seed: u64,
    /// Calls start in `[window_start, window_end)`.
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Company time zone (`America/New_York`).
    pub time_zone: Tz,
    pub workspace: Workspace,
    pub people: Vec<Person>,
    pub companies: Vec<Company>,
    pub contacts: Vec<Contact>,
    pub trackers: Vec<TrackerDef>,
    /// The ordinary calls, sorted by `started` ascending (ties by index), then the live
    /// calls in the order they appear ([`World::live_calls`]).
    pub calls: Vec<Call>,
    pub scorecards: Vec<Scorecard>,
    /// Sorted by review time.
    pub answered_scorecards: Vec<AnsweredScorecard>,
    /// First day (company tz) covered by `activity`.
    activity_first_day: NaiveDate,
    /// `activity[person][day - activity_first_day]`.
    activity: Vec<Vec<ActivityCounters>>,
    live: Option<LiveSchedule>,
    clock: Clock,
}

const FIRST_NAMES: [&str; 40] = [
    "Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Keiko", "Liam", "Maya",
    "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wes", "Ximena", "Yusuf", "Zoe",
    "Aaron", "Bianca", "Carlos", "Dana", "Emil", "Fatima", "Gavin", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco",
    "Nadia",
];
const LAST_NAMES: [&str; 40] = [
    "Anderson",
    "Becker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Johansson",
    "Kowalski",
    "Lopez",
    "Murphy",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zimmer",
    "Abbott",
    "Brennan",
    "Carter",
    "Delgado",
    "Ellis",
    "Foster",
    "Gupta",
    "Hughes",
    "Iyer",
    "Jensen",
    "Keller",
    "Larsen",
    "Moreau",
    "Novak",
];
const TEAMS: [&str; 6] =
    ["Enterprise East", "Enterprise West", "Mid-Market", "Commercial", "Strategic Accounts", "EMEA"];
const COMPANY_NAMES: [&str; 30] = [
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Soylent",
    "Vandelay Industries",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Oscorp",
    "Massive Dynamic",
    "Pied Piper",
    "Dunder Mifflin",
    "Aperture",
    "Black Mesa",
    "Monarch",
    "Prestige Worldwide",
    "Nakatomi",
    "Virtucon",
    "Planet Express",
    "Bluth Company",
    "Gringotts",
    "Sirius Cybernetics",
    "Blue Sun",
    "Weyland",
    "Rekall",
    "InGen",
    "Zorg Industries",
];
const CONTACT_TITLES: [&str; 8] = [
    "VP of Engineering",
    "Head of Procurement",
    "CTO",
    "Director of Sales Operations",
    "IT Manager",
    "Chief Revenue Officer",
    "Operations Lead",
    "Finance Director",
];
const PURPOSES: [&str; 7] = ["Discovery", "Demo", "Follow-up", "Pricing Review", "Negotiation", "Onboarding", "QBR"];
const TOPIC_NAMES: [&str; 10] = [
    "Small Talk",
    "Pain Points",
    "Product Demo",
    "Pricing",
    "Objections",
    "Security",
    "Integrations",
    "Timeline",
    "Competition",
    "Next Steps",
];

fn slug(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
}

fn crm_id(prefix: &str, seed: u64, stream: u64, index: usize) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = Rng::derive(seed, 100 + stream, index as u64);
    let mut s = String::from(prefix);
    while s.len() < 18 {
        s.push(ALPHA[r.index(ALPHA.len())] as char);
    }
    s
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl World {
    /// Generates the world for `settings` (deterministic).
    pub fn generate(settings: &SandboxSettings) -> World {
        let tz: Tz = chrono_tz::America::New_York;
        let seed = settings.seed;
        let people = gen_people(seed, settings.people.max(1), settings.window_start);
        let (companies, contacts) = gen_companies(seed);
        let trackers = gen_trackers();
        let mut world = World {
            seed,
            window_start: settings.window_start,
            window_end: settings.window_end.max(settings.window_start + Duration::hours(1)),
            time_zone: tz,
            workspace: Workspace {
                name: "Acme Sales".into(),
                description: "Acme's sales organisation (synthetic sandbox data)".into(),
            },
            people,
            companies,
            contacts,
            trackers,
            calls: Vec::new(),
            scorecards: Vec::new(),
            answered_scorecards: Vec::new(),
            activity_first_day: settings.window_start.with_timezone(&tz).date_naive(),
            activity: Vec::new(),
            live: None,
            clock: Clock::default(),
        };
        world.calls = gen_calls(&world, settings.calls);
        if let Some(live) = &settings.live {
            gen_live(&mut world, live);
        }
        world.scorecards = gen_scorecards(&world);
        world.answered_scorecards = gen_answered(&world);
        world.activity = gen_activity(&world);
        world
    }

    /// The simulators' wall clock now (`Utc::now()` unless pinned with
    /// [`World::set_clock`]).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.0.now()
    }

    /// Pins the wall clock to `t` (it then advances with tokio's clock); every
    /// simulator serving this world sees it.
    pub fn set_clock(&self, t: DateTime<Utc>) {
        self.clock.0.set(t);
    }

    /// How many ordinary (not live) calls lead [`World::calls`].
    pub fn ordinary_calls(&self) -> usize {
        self.live.as_ref().and_then(|l| l.calls.first().copied()).unwrap_or(self.calls.len())
    }

    /// Indices of the live calls in [`World::calls`], in the order they appear (empty
    /// unless [`SandboxSettings::live`]).
    pub fn live_calls(&self) -> &[usize] {
        self.live.as_ref().map_or(&[], |l| l.calls.as_slice())
    }

    /// The interval between live calls (None without live calls).
    pub fn live_every(&self) -> Option<Duration> {
        self.live.as_ref().map(|l| l.every)
    }

    /// True for a live call.
    pub fn is_live(&self, call: usize) -> bool {
        call >= self.ordinary_calls() && call < self.calls.len()
    }

    /// When call `call` starts to exist at the providers: a live call when it ends,
    /// every other call always (`DateTime::<Utc>::MIN_UTC`).
    pub fn visible_at(&self, call: usize) -> DateTime<Utc> {
        if self.is_live(call) { self.calls[call].ended() } else { DateTime::<Utc>::MIN_UTC }
    }

    /// True when call `call` exists at the providers at `now`.
    pub fn is_visible(&self, call: usize, now: DateTime<Utc>) -> bool {
        call < self.calls.len() && self.visible_at(call) <= now
    }

    /// When call `call`'s transcript is available: `every/2` after a live call became
    /// visible (ExecVision's `modified` and Salesloft's `updated_at` move there);
    /// `MIN_UTC` for other calls.
    pub fn transcript_ready_at(&self, call: usize) -> DateTime<Utc> {
        match &self.live {
            Some(l) if self.is_live(call) => self.visible_at(call) + l.every / 2,
            _ => DateTime::<Utc>::MIN_UTC,
        }
    }

    /// True when call `call` exists and its transcript is available at `now`.
    pub fn is_transcript_ready(&self, call: usize, now: DateTime<Utc>) -> bool {
        self.is_visible(call, now) && self.transcript_ready_at(call) <= now
    }

    /// When a live call's scores (if it gets any) are reviewed: `3/4·every` after it
    /// became visible; `MIN_UTC` for other calls.
    pub fn scores_ready_at(&self, call: usize) -> DateTime<Utc> {
        match &self.live {
            Some(l) if self.is_live(call) => self.visible_at(call) + l.every * 3 / 4,
            _ => DateTime::<Utc>::MIN_UTC,
        }
    }

    /// True when answered scorecard `a` exists at `now` (those of live calls from
    /// their review time).
    pub fn is_answered_visible(&self, a: &AnsweredScorecard, now: DateTime<Utc>) -> bool {
        !self.is_live(a.call) || a.review_time <= now
    }

    /// Managers (executive included) in index order.
    pub fn managers(&self) -> Vec<usize> {
        self.people.iter().filter(|p| p.is_manager()).map(|p| p.index).collect()
    }

    /// People whose manager is `manager`.
    pub fn direct_reports(&self, manager: usize) -> Vec<usize> {
        self.people.iter().filter(|p| p.manager == Some(manager)).map(|p| p.index).collect()
    }

    /// The person with this primary email or alias (case-insensitive).
    pub fn person_by_email(&self, email: &str) -> Option<&Person> {
        self.people.iter().find(|p| {
            p.email.eq_ignore_ascii_case(email) || p.email_aliases.iter().any(|a| a.eq_ignore_ascii_case(email))
        })
    }

    /// The calendar day (company tz) of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.time_zone).date_naive()
    }

    /// Midnight (company tz) starting `day`, as UTC.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        self.time_zone
            .from_local_datetime(&day.and_time(NaiveTime::MIN))
            .earliest()
            .expect("midnight exists in America/New_York")
            .with_timezone(&Utc)
    }

    /// Indices of calls whose `started` lies in `[from, to)`, by start time then index
    /// (live calls included whether visible yet or not).
    pub fn calls_started_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<usize> {
        let ordinary = &self.calls[..self.ordinary_calls()];
        let lo = ordinary.partition_point(|c| c.started < from);
        let hi = ordinary.partition_point(|c| c.started < to);
        let mut out: Vec<usize> = (lo..hi.max(lo)).collect();
        let live: Vec<usize> =
            self.live_calls().iter().copied().filter(|&j| (from..to).contains(&self.calls[j].started)).collect();
        if !live.is_empty() {
            out.extend(live);
            out.sort_by_key(|&j| (self.calls[j].started, j));
        }
        out
    }

    /// Indices of calls whose start day (company tz) lies in `[from, to)`.
    pub fn calls_on_days(&self, from: NaiveDate, to: NaiveDate) -> Vec<usize> {
        self.calls_started_between(self.day_start(from), self.day_start(to))
    }

    /// The activity counters of `person` on `day` (company tz).
    pub fn activity_on(&self, person: usize, day: NaiveDate) -> ActivityCounters {
        let offset = (day - self.activity_first_day).num_days();
        if offset < 0 {
            return ActivityCounters::default();
        }
        self.activity.get(person).and_then(|days| days.get(offset as usize)).copied().unwrap_or_default()
    }

    /// Sum of `person`'s counters over days `[from, to)` (company tz).
    pub fn activity_sum(&self, person: usize, from: NaiveDate, to: NaiveDate) -> ActivityCounters {
        let mut sum = ActivityCounters::default();
        let end = self.activity_first_day + Duration::days(self.activity_days() as i64);
        let mut day = from.max(self.activity_first_day);
        while day < to.min(end) {
            sum.add(&self.activity_on(person, day));
            day = day.succ_opt().expect("date in range");
        }
        sum
    }

    fn activity_days(&self) -> usize {
        self.activity.first().map_or(0, Vec::len)
    }

    /// Interaction stats of `person` over days `[from, to)` (company tz), from the calls
    /// they hosted; None when they hosted none.
    pub fn interaction_stats(&self, person: usize, from: NaiveDate, to: NaiveDate) -> Option<PersonInteractionStats> {
        let now = self.now();
        let calls: Vec<&Call> = self
            .calls_on_days(from, to)
            .into_iter()
            .filter(|&i| self.is_visible(i, now))
            .map(|i| &self.calls[i])
            .filter(|c| c.host == person)
            .collect();
        if calls.is_empty() {
            return None;
        }
        let n = calls.len() as f64;
        let avg = |f: &dyn Fn(&Call) -> f64| round2(calls.iter().map(|c| f(c)).sum::<f64>() / n);
        let hours: f64 = calls.iter().map(|c| f64::from(c.duration_secs)).sum::<f64>() / 3600.0;
        let questions: f64 = calls.iter().map(|c| f64::from(c.questions_company)).sum();
        Some(PersonInteractionStats {
            calls: calls.len(),
            longest_monologue: avg(&|c| f64::from(c.stats.longest_monologue)),
            longest_customer_story: avg(&|c| f64::from(c.stats.longest_customer_story)),
            interactivity: avg(&|c| c.stats.interactivity),
            patience: avg(&|c| c.stats.patience),
            question_rate: round2(questions / hours),
        })
    }

    /// Coaching metrics of `manager`'s direct reports, from calls the reports hosted
    /// that started in `[from, to)`. Every direct report is listed (with every metric
    /// key, possibly empty).
    pub fn coaching(&self, manager: usize, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<CoachingReport> {
        let now = self.now();
        let calls: Vec<usize> =
            self.calls_started_between(from, to).into_iter().filter(|&j| self.is_visible(j, now)).collect();
        self.direct_reports(manager)
            .into_iter()
            .map(|report| {
                let mut metrics: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
                for key in
                    ["callsListenedTo", "callsAttended", "callsScorecarded", "callsCommented", "callsWithFeedback"]
                {
                    metrics.insert(key, Vec::new());
                }
                for &ci in &calls {
                    let call = &self.calls[ci];
                    if call.host != report {
                        continue;
                    }
                    let attended = call.attended_by(manager);
                    let scored = self
                        .answered_scorecards
                        .iter()
                        .any(|a| a.call == ci && a.reviewer == manager && self.is_answered_visible(a, now));
                    let commented = call.comments.iter().any(|c| c.author == manager);
                    let listened = attended
                        || scored
                        || Rng::derive(self.seed, S_COACHING, (ci as u64) << 16 | manager as u64).chance(0.3);
                    let push = |m: &mut BTreeMap<&'static str, Vec<usize>>, k, yes: bool| {
                        if yes {
                            m.get_mut(k).expect("key inserted").push(ci);
                        }
                    };
                    push(&mut metrics, "callsListenedTo", listened);
                    push(&mut metrics, "callsAttended", attended);
                    push(&mut metrics, "callsScorecarded", scored);
                    push(&mut metrics, "callsCommented", commented);
                    push(&mut metrics, "callsWithFeedback", scored || commented);
                }
                CoachingReport { report, metrics }
            })
            .collect()
    }

    /// The transcript of call `call` (generated on demand, deterministic).
    pub fn transcript(&self, call: usize) -> Transcript {
        gen_transcript(self, call)
    }
}

fn gen_people(seed: u64, n: usize, window_start: DateTime<Utc>) -> Vec<Person> {
    let mut r = Rng::derive(seed, S_PEOPLE, 0);
    let mut firsts: Vec<usize> = (0..FIRST_NAMES.len()).collect();
    let mut lasts: Vec<usize> = (0..LAST_NAMES.len()).collect();
    r.shuffle(&mut firsts);
    r.shuffle(&mut lasts);
    let managers = if n >= 2 { ((n - 1) / 9).max(1) } else { 0 };
    let created_base = Utc.with_ymd_and_hms(2023, 1, 9, 14, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let mut r = Rng::derive(seed, S_PEOPLE, 1 + i as u64);
            let first = FIRST_NAMES[firsts[i % firsts.len()]];
            let last = LAST_NAMES[lasts[(i + i / lasts.len()) % lasts.len()]];
            let (role, manager, title, department, team) = if i == 0 {
                (Role::Executive, None, "VP of Sales".to_string(), "Sales", "Sales Leadership".to_string())
            } else if i <= managers {
                let title = if i % 2 == 0 { "Regional Sales Director" } else { "Sales Manager" };
                (Role::Manager, Some(0), title.into(), "Sales", TEAMS[(i - 1) % TEAMS.len()].to_string())
            } else {
                let mgr = 1 + (i - managers - 1) % managers;
                let (title, dept) = match r.below(10) {
                    0..=3 => ("Account Executive", "Sales"),
                    4..=5 => ("Senior Account Executive", "Sales"),
                    6..=7 => ("Sales Development Representative", "Sales Development"),
                    8 => ("Solutions Engineer", "Solutions Engineering"),
                    _ => ("Customer Success Manager", "Customer Success"),
                };
                (Role::Rep, Some(mgr), title.into(), dept, TEAMS[(mgr - 1) % TEAMS.len()].to_string())
            };
            // Two late hires created inside the window (for created-date filters).
            let created = if n >= 6 && i >= n - 2 {
                window_start + Duration::days(10 + 30 * (n - i) as i64) + Duration::hours(15)
            } else {
                created_base + Duration::days(r.range(0, 1000) as i64) + Duration::minutes(r.range(0, 480) as i64)
            };
            let active = !(role == Role::Rep && i % 13 == 12);
            let language = match r.below(20) {
                0 => "es-ES",
                1 => "fr-FR",
                2 => "de-DE",
                _ => "en-US",
            };
            let email = format!("{}.{}@acme-demo.com", first.to_lowercase(), last.to_lowercase());
            let email_aliases = if i % 3 == 1 {
                vec![format!("{}.{}@acme.io", first[..1].to_lowercase(), last.to_lowercase())]
            } else {
                vec![]
            };
            Person {
                index: i,
                first_name: first.into(),
                last_name: last.into(),
                email,
                email_aliases,
                title,
                role,
                manager,
                team,
                department: department.into(),
                phone: format!("+1 212-555-{:04}", 100 + i),
                extension: format!("{}", 2000 + i),
                created,
                active,
                language: language.into(),
                accounts: Providers { gong: true, execvision: i % 4 != 3, salesloft: i % 5 != 4, hubster: i % 3 == 0 },
            }
        })
        .collect()
}

fn gen_companies(seed: u64) -> (Vec<Company>, Vec<Contact>) {
    let mut companies = Vec::new();
    let mut contacts = Vec::new();
    for (ci, name) in COMPANY_NAMES.iter().enumerate() {
        let mut r = Rng::derive(seed, S_COMPANIES, ci as u64);
        let domain = format!("{}.com", slug(name));
        let n = 3 + r.index(3);
        let mut ids = Vec::new();
        for k in 0..n {
            let first = FIRST_NAMES[(ci * 7 + k * 11 + r.index(5)) % FIRST_NAMES.len()];
            let last = LAST_NAMES[(ci * 3 + k * 13 + 5) % LAST_NAMES.len()];
            let index = contacts.len();
            ids.push(index);
            contacts.push(Contact {
                index,
                company: ci,
                first_name: first.into(),
                last_name: last.into(),
                email: format!("{}.{}@{}", first.to_lowercase(), last.to_lowercase(), domain),
                title: CONTACT_TITLES[(ci + k * 3) % CONTACT_TITLES.len()].into(),
                phone: format!("+1 415-555-{:04}", 2000 + index),
                crm_contact_id: crm_id("003", seed, 3, index),
            });
        }
        companies.push(Company {
            index: ci,
            name: (*name).into(),
            domain,
            crm_account_id: crm_id("001", seed, 1, ci),
            crm_opportunity_id: crm_id("006", seed, 2, ci),
            opportunity_amount: 10_000 * (2 + r.below(48) as u32),
            contacts: ids,
        });
    }
    (companies, contacts)
}

fn gen_trackers() -> Vec<TrackerDef> {
    let defs: [(&str, bool, &[&str]); 6] = [
        ("Competitors", false, &["Globex", "Initech", "Hooli"]),
        ("Pricing", true, &[]),
        ("Next Steps", true, &[]),
        ("Budget", false, &["budget", "cost", "spend"]),
        ("Security", false, &["SOC 2", "SSO", "GDPR"]),
        ("Timeline", true, &[]),
    ];
    defs.iter()
        .enumerate()
        .map(|(index, (name, smart, phrases))| TrackerDef {
            index,
            name: (*name).into(),
            smart: *smart,
            phrases: phrases.iter().map(|p| (*p).to_string()).collect(),
        })
        .collect()
}

/// Call start times: weekdays, 08:00-17:30 company time, quarter-hour slots.
fn gen_call_times(world: &World, n: usize, seed: u64) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let tz = world.time_zone;
    let (ws, we) = (world.window_start, world.window_end);
    let mut days = Vec::new();
    let mut d = world.local_date(ws);
    while world.day_start(d) < we {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push(d);
        }
        d = d.succ_opt().expect("date");
    }
    let mut r = Rng::derive(seed, S_CALL_TIMES, 0);
    let span = (we - ws).num_seconds().max(1) as u64;
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = (0..n)
        .map(|_| {
            for _ in 0..16 {
                if days.is_empty() {
                    break;
                }
                let day = *r.pick(&days);
                let slot = r.below(38) as u32; // 08:00 .. 17:15
                let local = day.and_time(NaiveTime::from_hms_opt(8 + slot / 4, (slot % 4) * 15, 0).expect("time"));
                let Some(sched) = tz.from_local_datetime(&local).earliest() else {
                    continue;
                };
                let sched = sched.with_timezone(&Utc);
                let started = sched + Duration::seconds(r.below(241) as i64);
                if sched >= ws && started < we {
                    return (sched, started);
                }
            }
            let t = ws + Duration::seconds(r.below(span) as i64);
            (t, t)
        })
        .collect();
    out.sort();
    out
}

fn gen_calls(world: &World, n: usize) -> Vec<Call> {
    let times = gen_call_times(world, n, world.seed);
    let host_pool = host_pool(world, |_| true);
    times
        .into_iter()
        .enumerate()
        .map(|(index, (scheduled, started))| gen_call(world, &host_pool, index, scheduled, started, None))
        .collect()
}

/// Hosts: active people (among those `eligible`) except the executive; reps 4x as
/// likely as managers.
fn host_pool(world: &World, eligible: impl Fn(&Person) -> bool) -> Vec<usize> {
    let people = &world.people;
    let mut host_pool = Vec::new();
    for p in people.iter().filter(|p| p.active && eligible(p)) {
        match p.role {
            Role::Rep => host_pool.extend([p.index; 4]),
            Role::Manager => host_pool.push(p.index),
            Role::Executive if people.len() == 1 => host_pool.push(p.index),
            Role::Executive => {}
        }
    }
    host_pool
}

/// Live calls: live call k ends at `start + (k+1)·every` and lasts 1-20 minutes; its
/// host has Salesloft and ExecVision accounts (so Salesloft records every one and
/// ExecVision about 80%).
fn gen_live(world: &mut World, live: &super::LiveCalls) {
    let Ok(every) = Duration::from_std(live.every) else { return };
    if every <= Duration::zero() || live.count == 0 {
        return;
    }
    let start = live.start.with_nanosecond(0).unwrap_or(live.start);
    // Hosts with Salesloft and ExecVision accounts where there are any.
    let mut pool = host_pool(world, |p| p.accounts.salesloft && p.accounts.execvision);
    if pool.is_empty() {
        pool = host_pool(world, |p| p.accounts.salesloft);
    }
    if pool.is_empty() {
        pool = host_pool(world, |_| true);
    }
    let first = world.calls.len();
    let mut calls = Vec::with_capacity(live.count);
    for k in 0..live.count {
        let Some(ended) =
            i32::try_from(k + 1).ok().and_then(|n| every.checked_mul(n)).and_then(|d| start.checked_add_signed(d))
        else {
            break;
        };
        let mut r = Rng::derive(world.seed, S_LIVE, k as u64);
        let duration = r.range(60, 1201) as u32;
        let started = ended - Duration::seconds(i64::from(duration));
        let scheduled = started.with_second(0).unwrap_or(started);
        let mut call = gen_call(world, &pool, first + k, scheduled, started, Some(duration));
        // Comments come later than a live call's own schedule reaches.
        call.comments.clear();
        calls.push(call);
    }
    world.live = Some(LiveSchedule { every, calls: (first..first + calls.len()).collect() });
    world.calls.extend(calls);
}

/// One call; `live_duration` makes it a live call of that length.
#[allow(clippy::too_many_lines)]
fn gen_call(
    world: &World,
    host_pool: &[usize],
    index: usize,
    scheduled: DateTime<Utc>,
    started: DateTime<Utc>,
    live_duration: Option<u32>,
) -> Call {
    let seed = world.seed;
    let people = &world.people;
    let mut r = Rng::derive(seed, S_CALL, index as u64);
    let mut host = *r.pick(host_pool);
    for _ in 0..8 {
        if people[host].created <= scheduled {
            break;
        }
        host = *r.pick(host_pool);
    }
    if people[host].created > scheduled {
        host = people[host].manager.unwrap_or(0);
    }
    let hp = &people[host];
    let internal_only = r.chance(0.08);
    let system = if internal_only {
        *r.pick(&[CallSystem::Zoom, CallSystem::GoogleMeet, CallSystem::Teams])
    } else {
        match r.below(10) {
            0..=3 => CallSystem::Zoom,
            4..=5 => CallSystem::GoogleMeet,
            6 => CallSystem::Teams,
            _ => CallSystem::Dialer,
        }
    };
    let dialer = system == CallSystem::Dialer;
    let (media, direction) = if dialer {
        (Media::Audio, if r.chance(0.7) { Direction::Outbound } else { Direction::Inbound })
    } else {
        (Media::Video, Direction::Conference)
    };
    let duration_secs = if dialer { r.range(300, 1200) as u32 } else { r.range(1200, 3601) as u32 };
    let duration_secs = live_duration.unwrap_or(duration_secs);
    let company = if internal_only { None } else { Some((host * 3 + r.index(4)) % world.companies.len()) };
    let purpose = if internal_only {
        "Internal Sync".to_string()
    } else if dialer {
        if r.chance(0.6) { "Prospecting" } else { "Follow-up" }.to_string()
    } else {
        r.pick(&PURPOSES).to_string()
    };
    // Participants.
    let mut participants =
        vec![Participant { who: Speaker::Person(host), invited: true, attended: true, talk_time_secs: 0.0 }];
    let others: Vec<usize> =
        people.iter().filter(|p| p.active && p.index != host && p.created <= scheduled).map(|p| p.index).collect();
    let n_internal = if dialer {
        0
    } else if internal_only {
        2 + r.index(3)
    } else {
        r.index(3)
    };
    for _ in 0..n_internal {
        if others.is_empty() {
            break;
        }
        // Often the host's manager joins.
        let who = match hp.manager {
            Some(m) if r.chance(0.35) && people[m].active => m,
            _ => *r.pick(&others),
        };
        if participants.iter().any(|p| p.who == Speaker::Person(who)) {
            continue;
        }
        participants.push(Participant {
            who: Speaker::Person(who),
            invited: true,
            attended: true,
            talk_time_secs: 0.0,
        });
    }
    if let Some(ci) = company {
        let contacts = &world.companies[ci].contacts;
        let n_ext = if dialer { 1 } else { 1 + r.index(contacts.len().min(4)) };
        let start = r.index(contacts.len());
        for k in 0..n_ext {
            let c = contacts[(start + k) % contacts.len()];
            // Now and then an invitee does not show up.
            let attended = k == 0 || !r.chance(0.15);
            participants.push(Participant {
                who: Speaker::Contact(c),
                invited: !dialer,
                attended,
                talk_time_secs: 0.0,
            });
        }
    }
    // Talk time.
    let talking = 0.85 + 0.1 * r.unit();
    let company_share = if internal_only { 1.0 } else { r.float(0.35, 0.72) };
    let internal: Vec<usize> = (0..participants.len())
        .filter(|&k| participants[k].attended && matches!(participants[k].who, Speaker::Person(_)))
        .collect();
    let external: Vec<usize> = (0..participants.len())
        .filter(|&k| participants[k].attended && matches!(participants[k].who, Speaker::Contact(_)))
        .collect();
    let total = f64::from(duration_secs) * talking;
    for (group, share) in [(&internal, company_share), (&external, 1.0 - company_share)] {
        let weights: Vec<f64> =
            group.iter().enumerate().map(|(k, _)| if k == 0 { 3.0 } else { 0.5 + r.unit() }).collect();
        let wsum: f64 = weights.iter().sum();
        for (k, &pi) in group.iter().enumerate() {
            participants[pi].talk_time_secs = round2(total * share * weights[k] / wsum);
        }
    }
    let company_name = company.map(|c| world.companies[c].name.clone());
    let title = match (&company_name, dialer) {
        (None, _) => format!("Acme — {} Pipeline Review", hp.team),
        (Some(cn), true) => {
            let c = &world.contacts[world.companies[company.unwrap_or(0)].contacts[0]];
            let contact = participants
                .iter()
                .find_map(|p| match p.who {
                    Speaker::Contact(c) => Some(&world.contacts[c]),
                    _ => None,
                })
                .unwrap_or(c);
            format!("Call with {} ({cn})", contact.full_name())
        }
        (Some(cn), false) => format!("Acme <> {cn} — {purpose}"),
    };
    // Topics, back to back over the whole call.
    let mut names: Vec<&str> = TOPIC_NAMES.to_vec();
    r.shuffle(&mut names[1..9]);
    let k = 3 + r.index(3);
    let mut chosen: Vec<&str> = vec![names[0]];
    chosen.extend(names[1..].iter().take(k - 2).copied());
    chosen.push("Next Steps");
    chosen.dedup();
    let mut weights: Vec<f64> = chosen.iter().map(|_| 0.5 + r.unit()).collect();
    weights[0] = 0.25;
    let wsum: f64 = weights.iter().sum();
    let mut topics = Vec::new();
    let mut at = 0u32;
    for (i, name) in chosen.iter().enumerate() {
        let d = if i + 1 == chosen.len() {
            duration_secs - at
        } else {
            (f64::from(duration_secs) * weights[i] / wsum) as u32
        };
        topics.push(TopicSpan { name: (*name).into(), start_secs: at, duration_secs: d });
        at += d;
    }
    let speakers: Vec<usize> = internal.iter().chain(external.iter()).copied().collect();
    // Trackers.
    let mut tr: Vec<usize> = (0..world.trackers.len()).collect();
    r.shuffle(&mut tr);
    let mut trackers: Vec<TrackerHit> = tr[..2 + r.index(3)]
        .iter()
        .map(|&t| {
            let def = &world.trackers[t];
            let count = 1 + r.index(6);
            let mut occurrences: Vec<TrackerOccurrence> = (0..count)
                .map(|_| TrackerOccurrence {
                    start_secs: round2(r.float(0.0, f64::from(duration_secs))),
                    participant: *r.pick(&speakers),
                    phrase: (!def.smart).then(|| r.index(def.phrases.len())),
                })
                .collect();
            occurrences.sort_by(|a, b| a.start_secs.total_cmp(&b.start_secs));
            TrackerHit { tracker: t, occurrences }
        })
        .collect();
    trackers.sort_by_key(|t| t.tracker);
    let topic_list = topics.iter().skip(1).map(|t| t.name.to_lowercase()).collect::<Vec<_>>().join(", ");
    let who = company_name.unwrap_or_else(|| "The team".into());
    let brief = format!(
        "{who} met with {} for a {} call. They covered {topic_list}. {}",
        hp.full_name(),
        purpose.to_lowercase(),
        if r.chance(0.6) {
            "Both sides agreed on a follow-up meeting."
        } else {
            "The customer will review internally before deciding on next steps."
        }
    );
    let key_points: Vec<String> =
        topics.iter().skip(1).take(3).map(|t| format!("Discussed {} in depth.", t.name.to_lowercase())).collect();
    let highlights = vec![
        Highlight {
            title: "Next Steps".into(),
            items: vec![(
                format!("{} will send a recap and proposed agenda.", hp.first_name),
                f64::from(topics.last().map_or(0, |t| t.start_secs)),
            )],
        },
        Highlight {
            title: "Key Topics".into(),
            items: topics.iter().skip(1).map(|t| (t.name.clone(), f64::from(t.start_secs))).collect(),
        },
    ];
    let last_start = f64::from(topics.last().map_or(0, |t| t.start_secs));
    let action_items = (0..1 + r.index(2))
        .map(|i| {
            let s = round2(last_start + f64::from(i as u32) * 20.0 + r.float(0.0, 15.0));
            ActionItem {
                start_secs: s,
                end_secs: round2(s + r.float(4.0, 12.0)),
                participant: 0,
                snippet: [
                    "I'll send you the proposal by end of week.",
                    "Let me set up a technical deep-dive with our solutions engineer.",
                    "I'll share the security documentation after the call.",
                    "We'll get the pricing options over to you tomorrow.",
                ][r.index(4)]
                .into(),
            }
        })
        .collect();
    let outcomes = [
        CallOutcome { id: "MEETING_BOOKED", category: "Answered", name: "Meeting booked" },
        CallOutcome { id: "FOLLOW_UP_REQUIRED", category: "Answered", name: "Follow-up required" },
        CallOutcome { id: "NOT_INTERESTED", category: "Answered", name: "Not interested" },
        CallOutcome { id: "DEMO_SCHEDULED", category: "Answered", name: "Demo scheduled" },
    ];
    let outcome = outcomes[r.index(outcomes.len())].clone();
    let minutes = f64::from(duration_secs) / 60.0;
    let stats = CallStats {
        talk_ratio: (company_share * 100.0).round() as u32,
        longest_monologue: r.range(30, 181) as u32,
        longest_customer_story: if internal_only { 0 } else { r.range(15, 151) as u32 },
        interactivity: round2(r.float(2.0, 11.0)),
        patience: round2(r.float(0.4, 2.5)),
    };
    let questions_company = (minutes * r.float(0.2, 0.6)).round() as u32;
    let questions_non_company = (minutes * r.float(0.05, 0.3)).round() as u32;
    let video = if media == Media::Video {
        let d = f64::from(duration_secs);
        vec![
            ("Browser", round2(d * r.float(0.0, 0.2))),
            ("Presentation", round2(d * r.float(0.1, 0.5))),
            ("WebcamPrimaryUser", round2(d * r.float(0.3, 0.9))),
            ("WebcamNonCompany", round2(d * r.float(0.0, 0.8))),
        ]
    } else {
        vec![]
    };
    // Comments by the host's manager (and sometimes a reply by the host).
    let mut comments = Vec::new();
    if let Some(m) = hp.manager
        && r.chance(0.1)
    {
        let at = round2(r.float(0.0, f64::from(duration_secs) - 10.0));
        let end = started + Duration::seconds(i64::from(duration_secs));
        let posted = end + Duration::minutes(r.range(30, 60 * 48) as i64);
        comments.push(Comment {
            ordinal: 0,
            author: m,
            audio_start_secs: at,
            audio_end_secs: round2(at + 8.0),
            text: [
                "Great job handling the pricing objection here.",
                "Could have asked a follow-up question about their timeline.",
                "Nice discovery — note how they describe the pain.",
            ][r.index(3)]
            .into(),
            posted,
            in_reply_to: None,
        });
        if r.chance(0.5) {
            comments.push(Comment {
                ordinal: 1,
                author: host,
                audio_start_secs: at,
                audio_end_secs: round2(at + 8.0),
                text: "Thanks, will do next time.".into(),
                posted: posted + Duration::minutes(r.range(5, 300) as i64),
                in_reply_to: Some(0),
            });
        }
    }
    let language = match hp.language.as_str() {
        "es-ES" if r.chance(0.5) => "spa",
        "fr-FR" if r.chance(0.5) => "fra",
        "de-DE" if r.chance(0.5) => "deu",
        _ => "eng",
    };
    Call {
        index,
        title,
        scheduled,
        started,
        duration_secs,
        host,
        company,
        participants,
        direction,
        media,
        system,
        language: language.into(),
        purpose,
        topics,
        trackers,
        brief,
        key_points,
        highlights,
        action_items,
        outcome,
        stats,
        questions_company,
        questions_non_company,
        video,
        comments,
        is_private: r.chance(0.03),
        recorded_by: Providers {
            gong: true,
            execvision: super::world_ev::records_call(seed, index, hp.accounts.execvision),
            salesloft: if live_duration.is_some() {
                hp.accounts.salesloft
            } else {
                super::world_sl::records_call(seed, index, hp.accounts.salesloft)
            },
            ..Providers::default()
        },
    }
}

fn gen_scorecards(world: &World) -> Vec<Scorecard> {
    let templates: [(&str, &[&str], &str); 3] = [
        (
            "Discovery Call Scorecard",
            &[
                "Did the rep set a clear agenda?",
                "Did the rep uncover the customer's main pain?",
                "Did the rep identify the decision process?",
                "Did the rep agree on concrete next steps?",
            ],
            "Overall, how effective was the discovery call?",
        ),
        (
            "Demo Scorecard",
            &[
                "Was the demo tailored to the customer's use case?",
                "Did the rep handle objections well?",
                "Did the rep check for understanding?",
                "Was pricing positioned on value?",
                "Did the rep confirm the timeline?",
            ],
            "Overall demo quality",
        ),
        (
            "Cold Call Scorecard",
            &["Strong opener?", "Did the rep earn the right to continue?", "Was a meeting requested?"],
            "Overall call rating",
        ),
    ];
    let updater = world.managers().first().copied().unwrap_or(0);
    templates
        .iter()
        .enumerate()
        .map(|(index, (name, qs, overall))| {
            let created = Utc.with_ymd_and_hms(2024, 3, 4 + index as u32, 15, 0, 0).unwrap();
            let mut questions: Vec<ScorecardQuestion> = qs
                .iter()
                .enumerate()
                .map(|(ordinal, text)| ScorecardQuestion {
                    ordinal,
                    text: (*text).into(),
                    is_overall: false,
                    answer_guide: "1 = not at all, 5 = excellent".into(),
                })
                .collect();
            questions.push(ScorecardQuestion {
                ordinal: qs.len(),
                text: (*overall).into(),
                is_overall: true,
                answer_guide: "Rate the call as a whole".into(),
            });
            Scorecard {
                index,
                name: (*name).into(),
                enabled: true,
                updater,
                created,
                updated: created + Duration::days(90 + 30 * index as i64),
                min_score: 1,
                max_score: 5,
                questions,
            }
        })
        .collect()
}

fn gen_answered(world: &World) -> Vec<AnsweredScorecard> {
    let managers = world.managers();
    let mut out = Vec::new();
    for call in &world.calls {
        let mut r = Rng::derive(world.seed, S_SCORECARD, call.index as u64);
        if !call.is_external() || !r.chance(0.2) {
            continue;
        }
        let host = &world.people[call.host];
        let reviewer = match host.manager {
            Some(m) if m != call.host => m,
            _ => match managers.iter().find(|&&m| m != call.host) {
                Some(&m) => m,
                None => continue,
            },
        };
        let scorecard = match (call.system, call.purpose.as_str()) {
            (CallSystem::Dialer, _) => 2,
            (_, "Demo") => 1,
            _ => 0,
        }
        .min(world.scorecards.len() - 1);
        let template = &world.scorecards[scorecard];
        let skill = r.float(1.5, 5.0);
        let answers = template
            .questions
            .iter()
            .map(|q| {
                if !q.is_overall && r.chance(0.05) {
                    return ScorecardAnswer { question: q.ordinal, score: None, text: None };
                }
                let s = (skill + r.float(-1.0, 1.0)).round().clamp(1.0, 5.0) as u32;
                ScorecardAnswer {
                    question: q.ordinal,
                    score: Some(s),
                    text: q.is_overall.then(|| {
                        if s >= 4 { "Strong call, keep it up." } else { "Work on discovery questions." }.into()
                    }),
                }
            })
            .collect();
        let review_time = call.ended() + Duration::minutes(r.range(60, 60 * 24 * 4) as i64);
        let review_time = if world.is_live(call.index) { world.scores_ready_at(call.index) } else { review_time };
        let visibility = match r.below(20) {
            0..=15 => Visibility::Public,
            16..=18 => Visibility::Private,
            _ => Visibility::OptInUsers,
        };
        out.push(AnsweredScorecard {
            index: 0,
            scorecard,
            call: call.index,
            reviewer,
            reviewed: call.host,
            review_time,
            visibility,
            answers,
        });
    }
    out.sort_by_key(|a| (a.review_time, a.call));
    for (i, a) in out.iter_mut().enumerate() {
        a.index = i;
    }
    out
}

fn gen_activity(world: &World) -> Vec<Vec<ActivityCounters>> {
    let first = world.activity_first_day;
    // Cover the window plus a week (reviews/comments land after calls).
    let last = world.local_date(world.window_end) + Duration::days(8);
    let days = (last - first).num_days().max(1) as usize;
    let window_last = world.local_date(world.window_end - Duration::seconds(1));
    let mut act = vec![vec![ActivityCounters::default(); days]; world.people.len()];
    let idx = |t: DateTime<Utc>| -> Option<usize> {
        let o = (world.local_date(t) - first).num_days();
        (o >= 0 && (o as usize) < days).then_some(o as usize)
    };
    for call in &world.calls[..world.ordinary_calls()] {
        let Some(d) = idx(call.started) else { continue };
        act[call.host][d].counts[A_HOST] += 1;
        for p in call.internal_attendees() {
            act[p][d].counts[A_ATTENDED] += 1;
        }
        // Comments: once per call per commenter / per host.
        let mut seen = Vec::new();
        for c in &call.comments {
            if seen.contains(&c.author) {
                continue;
            }
            seen.push(c.author);
            if let Some(d) = idx(c.posted) {
                act[c.author][d].counts[A_COMMENTS_GIVEN] += 1;
                if c.author != call.host {
                    act[call.host][d].counts[A_COMMENTS_RECEIVED] += 1;
                }
            }
        }
    }
    for a in world.answered_scorecards.iter().filter(|a| !world.is_live(a.call)) {
        if let Some(d) = idx(a.review_time) {
            act[a.reviewer][d].counts[A_SCORECARDS_FILLED] += 1;
            act[a.reviewed][d].counts[A_SCORECARDS_RECEIVED] += 1;
        }
    }
    for p in world.people.iter().filter(|p| p.active) {
        for (d, counters) in act[p.index].iter_mut().enumerate() {
            let day = first + Duration::days(d as i64);
            if day > window_last || matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                continue;
            }
            if world.day_start(day) < p.created {
                continue;
            }
            let mut r = Rng::derive(world.seed, S_ACTIVITY, (p.index as u64) << 20 | d as u64);
            for &k in &SYNTHETIC_COUNTERS {
                let boost = if p.is_manager() && matches!(k, 1 | 5 | 13) { 0.5 } else { 0.0 };
                if r.chance(0.25 + boost) {
                    counters.counts[k] += 1 + r.below(3) as u32;
                }
            }
        }
    }
    act
}

const SENTENCES: [(&str, &[&str], &[&str]); 10] = [
    (
        "Small Talk",
        &[
            "Thanks for making the time today, {cfirst}.",
            "How was your weekend?",
            "Great to see everyone from {company} here.",
        ],
        &["Happy to be here, {hfirst}.", "It was good, thanks for asking.", "Sorry, I was running a few minutes late."],
    ),
    (
        "Pain Points",
        &[
            "What prompted you to look at this now?",
            "How are you handling that process today?",
            "What happens if nothing changes this quarter?",
        ],
        &[
            "Honestly, our reps spend too much time on manual updates.",
            "We lose visibility into deals once they hit the second stage.",
            "Our forecast calls are mostly guesswork right now.",
        ],
    ),
    (
        "Product Demo",
        &[
            "Let me share my screen and walk you through the dashboard.",
            "Here you can see every conversation grouped by deal.",
            "This view is what your managers would use in one-on-ones.",
        ],
        &[
            "Can you filter that by region?",
            "That looks much cleaner than what we have.",
            "How long does it take to set that up?",
        ],
    ),
    (
        "Pricing",
        &[
            "Pricing is per seat, billed annually.",
            "For {n} seats we can offer a volume discount.",
            "The enterprise tier includes the analytics package.",
        ],
        &[
            "What does pricing look like for {n} seats?",
            "That's a bit above what we budgeted.",
            "Is there any flexibility on a multi-year term?",
        ],
    ),
    (
        "Objections",
        &[
            "I hear that concern a lot, let me address it.",
            "Many customers felt the same before rollout.",
            "What would you need to see to feel comfortable?",
        ],
        &[
            "We tried something similar and adoption was low.",
            "I'm not sure our team has bandwidth for a migration.",
            "Our current vendor contract runs until the fall.",
        ],
    ),
    (
        "Security",
        &[
            "We're SOC 2 Type II certified and support SSO.",
            "All data is encrypted at rest and in transit.",
            "I can send over our security questionnaire answers.",
        ],
        &[
            "Our security team will need to review the GDPR terms.",
            "Do you support SSO through Okta?",
            "Where is the data hosted?",
        ],
    ),
    (
        "Integrations",
        &[
            "We integrate natively with Salesforce and HubSpot.",
            "The API lets you pull everything into your warehouse.",
            "Setup usually takes less than a day.",
        ],
        &[
            "Does it sync both ways with Salesforce?",
            "We also use a homegrown CRM for renewals.",
            "Who on our side would own the integration?",
        ],
    ),
    (
        "Timeline",
        &[
            "When are you hoping to have this in place?",
            "Is there an event driving that date?",
            "Let's work backwards from your kickoff.",
        ],
        &[
            "Ideally before our sales kickoff next quarter.",
            "We need a decision by the end of the month.",
            "There's no hard deadline, but sooner is better.",
        ],
    ),
    (
        "Competition",
        &[
            "Are you evaluating other vendors as well?",
            "Compared to {competitor}, our coaching tools go deeper.",
            "Happy to share a side-by-side comparison.",
        ],
        &[
            "We're also talking to {competitor}.",
            "{competitor} quoted us a lower price.",
            "What makes you different from {competitor}?",
        ],
    ),
    (
        "Next Steps",
        &[
            "I'll send a recap and the proposal after this call.",
            "Can we schedule a follow-up for next week?",
            "Who else should join the next conversation?",
        ],
        &[
            "Next Tuesday works for us.",
            "Please include our procurement lead on the email.",
            "Let me check with my manager and get back to you.",
        ],
    ),
];

/// Lines that fit any topic: `[customer, internal]`.
const GENERIC: [[&str; 4]; 2] = [
    [
        "That makes sense.",
        "Can you say more about that?",
        "I'd need to run that by my team.",
        "Okay, that's helpful context.",
    ],
    [
        "Does that match what you're seeing at {company}?",
        "Let me make sure I understood that correctly.",
        "Good question, {cfirst}.",
        "I'll note that down for the follow-up.",
    ],
];

fn gen_transcript(world: &World, call_idx: usize) -> Transcript {
    let Some(call) = world.calls.get(call_idx) else {
        return Transcript { call: call_idx, monologues: vec![] };
    };
    let mut r = Rng::derive(world.seed, S_TRANSCRIPT, call_idx as u64);
    let attendees: Vec<usize> = (0..call.participants.len()).filter(|&k| call.participants[k].attended).collect();
    let dur_ms = u64::from(call.duration_secs) * 1000;
    let n = (20 + call.duration_secs / 60 + r.below(21) as u32).min(80) as u64;
    let slot = dur_ms / n;
    let company = call.company.map_or_else(|| "Acme".to_string(), |c| world.companies[c].name.clone());
    let host = &world.people[call.host];
    let customer_first =
        call.external_contacts().first().map_or_else(|| "team".to_string(), |&c| world.contacts[c].first_name.clone());
    let competitor = ["Globex", "Initech", "Hooli"][r.index(3)];
    let seats = 10 * (2 + r.below(30));
    let fill = |t: &str| {
        t.replace("{cfirst}", &customer_first)
            .replace("{hfirst}", &host.first_name)
            .replace("{company}", &company)
            .replace("{competitor}", competitor)
            .replace("{n}", &seats.to_string())
    };
    let weights: Vec<f64> = attendees.iter().map(|&k| call.participants[k].talk_time_secs.max(1.0)).collect();
    let mut monologues: Vec<Monologue> = Vec::new();
    let mut i = 0u64;
    let mut prev: Option<usize> = None;
    while i < n {
        // Pick a speaker different from the previous one (when possible), by talk time.
        let mut speaker = attendees[0];
        for _ in 0..4 {
            let total: f64 = weights.iter().sum();
            let mut x = r.unit() * total;
            for (j, w) in weights.iter().enumerate() {
                if x < *w {
                    speaker = attendees[j];
                    break;
                }
                x -= w;
            }
            if Some(speaker) != prev || attendees.len() == 1 {
                break;
            }
        }
        if Some(speaker) == prev && attendees.len() > 1 {
            speaker = *attendees.iter().find(|&&a| Some(a) != prev).unwrap_or(&speaker);
        }
        prev = Some(speaker);
        let len = (1 + r.below(4)).min(n - i);
        let start_secs = ((i * slot) / 1000) as u32;
        let topic = call.topic_at(start_secs).to_string();
        let internal = matches!(call.participants[speaker].who, Speaker::Person(_));
        let lines = SENTENCES
            .iter()
            .find(|(t, _, _)| *t == topic)
            .map_or(SENTENCES[0].1, |(_, a, b)| if internal { *a } else { *b });
        let first_line = r.index(lines.len());
        let sentences = (0..len)
            .map(|k| {
                let s = (i + k) * slot + r.below(slot / 10 + 1);
                let e = s + slot * (6 + r.below(4)) / 10;
                Sentence {
                    start_ms: s,
                    end_ms: e.min(dur_ms),
                    text: if r.chance(0.2) {
                        fill(GENERIC[usize::from(internal)][r.index(GENERIC[0].len())])
                    } else {
                        fill(lines[(first_line + k as usize) % lines.len()])
                    },
                }
            })
            .collect();
        monologues.push(Monologue { participant: speaker, topic, sentences });
        i += len;
    }
    Transcript { call: call_idx, monologues }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> SandboxSettings {
        SandboxSettings { seed, people: 8, calls: 260, ..SandboxSettings::default() }
    }

    #[test]
    fn same_seed_same_world_different_seed_different() {
        let a = World::generate(&small(7));
        let b = World::generate(&small(7));
        assert_eq!(a, b);
        assert_eq!(a.transcript(17), b.transcript(17));
        let c = World::generate(&small(8));
        assert_ne!(a.calls, c.calls);
        assert_ne!(a.transcript(17), c.transcript(17));
    }

    #[test]
    fn default_world_is_consistent() {
        let t = std::time::Instant::now();
        let w = World::generate(&SandboxSettings::default());
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(w.people.len(), 40);
        assert_eq!(w.calls.len(), 2000);
        assert!(w.calls.windows(2).all(|p| p[0].started <= p[1].started));
        for (i, c) in w.calls.iter().enumerate() {
            assert_eq!(c.index, i);
            assert!(c.started >= w.window_start && c.started < w.window_end);
            assert!(c.scheduled <= c.started);
            assert!((300..=3600).contains(&c.duration_secs));
            assert_eq!(c.participants[0].who, Speaker::Person(c.host));
            assert!(w.people[c.host].active);
            let topics: u32 = c.topics.iter().map(|t| t.duration_secs).sum();
            assert_eq!(topics, c.duration_secs);
        }
        let emails: std::collections::HashSet<_> = w.people.iter().map(|p| &p.email).collect();
        assert_eq!(emails.len(), 40);
        assert!(w.people.iter().all(|p| p.email == p.email.to_lowercase()));
        let share = w.answered_scorecards.len() as f64 / w.calls.len() as f64;
        assert!((0.1..0.3).contains(&share), "{share}");
        assert!(w.answered_scorecards.iter().all(|a| w.people[a.reviewer].is_manager()));
        // Activity agrees with calls.
        let from = w.local_date(w.window_start);
        let to = w.local_date(w.window_end) + Duration::days(10);
        let hosted: u32 = (0..40).map(|p| w.activity_sum(p, from, to).counts[A_HOST]).sum();
        assert_eq!(hosted as usize, w.calls.len());
        let filled: u32 = (0..40).map(|p| w.activity_sum(p, from, to).counts[A_SCORECARDS_FILLED]).sum();
        assert_eq!(filled as usize, w.answered_scorecards.len());
        assert_eq!(w.activity_sum(0, from, to).get("callsAsHost"), Some(0));
        let alias = w.people.iter().find(|p| !p.email_aliases.is_empty()).unwrap();
        assert_eq!(w.person_by_email(&alias.email_aliases[0].to_uppercase()), Some(alias));
    }

    #[test]
    fn transcripts_fit_the_call() {
        let w = World::generate(&small(3));
        for j in [0, 5, 100, 259] {
            let t = w.transcript(j);
            let call = &w.calls[j];
            let n: usize = t.monologues.iter().map(|m| m.sentences.len()).sum();
            assert!((20..=80).contains(&n), "{n}");
            let mut last = 0;
            for m in &t.monologues {
                assert!(call.participants[m.participant].attended);
                for s in &m.sentences {
                    assert!(s.start_ms >= last && s.start_ms < s.end_ms);
                    assert!(s.end_ms <= u64::from(call.duration_secs) * 1000);
                    assert!(!s.text.contains('{'));
                    last = s.end_ms;
                }
            }
        }
    }

    fn with_live(every_secs: u64, count: usize, start: DateTime<Utc>) -> SandboxSettings {
        let every = std::time::Duration::from_secs(every_secs);
        SandboxSettings { live: Some(crate::sandbox::LiveCalls { every, count, start }), ..small(7) }
    }

    #[test]
    fn live_calls_follow_the_ordinary_ones_and_end_on_schedule() {
        let start = Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).unwrap() + Duration::milliseconds(250);
        let plain = World::generate(&small(7));
        let w = World::generate(&with_live(3600, 200, start));
        assert_eq!(w, World::generate(&with_live(3600, 200, start)));
        let n = plain.calls.len();
        assert_eq!(w.ordinary_calls(), n);
        assert_eq!(w.calls[..n], plain.calls[..]);
        assert_eq!(w.live_calls(), (n..n + 200).collect::<Vec<_>>());
        assert_eq!(w.live_every(), Some(Duration::hours(1)));
        assert!(plain.live_calls().is_empty() && plain.live_every().is_none());
        // The start is truncated to the second; call k ends at start + (k+1)·every.
        let start = start - Duration::milliseconds(250);
        for (k, &j) in w.live_calls().iter().enumerate() {
            let c = &w.calls[j];
            assert_eq!(c.index, j);
            assert!(w.is_live(j));
            assert_eq!(c.ended(), start + Duration::hours(k as i64 + 1));
            assert_eq!(w.visible_at(j), c.ended());
            assert_eq!(w.transcript_ready_at(j), c.ended() + Duration::minutes(30));
            assert_eq!(w.scores_ready_at(j), c.ended() + Duration::minutes(45));
            assert!((60..=1200).contains(&c.duration_secs), "{}", c.duration_secs);
            assert!(c.scheduled <= c.started && c.comments.is_empty());
            assert_eq!(c.participants[0].who, Speaker::Person(c.host));
            assert!(c.recorded_by.gong && c.recorded_by.salesloft);
            let t = w.transcript(j);
            assert!(
                t.monologues.iter().flat_map(|m| &m.sentences).all(|s| s.end_ms <= u64::from(c.duration_secs) * 1000)
            );
        }
        let ev = w.live_calls().iter().filter(|&&j| w.calls[j].recorded_by.execvision).count();
        assert!(ev > 100, "most live calls are recorded by ExecVision: {ev}");
        // Visibility by the clock.
        let first = w.live_calls()[0];
        let at = w.visible_at(first);
        assert!(!w.is_visible(first, at - Duration::seconds(1)) && w.is_visible(first, at));
        assert!(!w.is_transcript_ready(first, at) && w.is_transcript_ready(first, at + Duration::minutes(30)));
        assert!(w.is_visible(0, DateTime::<Utc>::MIN_UTC) && w.is_transcript_ready(0, DateTime::<Utc>::MIN_UTC));
        assert!(!w.is_visible(w.calls.len(), Utc::now()) && !w.is_live(w.calls.len()));
        // Their scorecards are reviewed at the scores-ready time; activity ignores them.
        let live_scored: Vec<_> = w.answered_scorecards.iter().filter(|a| w.is_live(a.call)).collect();
        assert!(!live_scored.is_empty());
        for a in &live_scored {
            assert_eq!(a.review_time, w.scores_ready_at(a.call));
            assert!(
                !w.is_answered_visible(a, a.review_time - Duration::seconds(1))
                    && w.is_answered_visible(a, a.review_time)
            );
        }
        let (from, to) = (w.local_date(w.window_start), w.local_date(start) + Duration::days(30));
        let hosted = |w: &World| (0..8).map(|p| w.activity_sum(p, from, to).counts[A_HOST]).sum::<u32>();
        assert_eq!(hosted(&w), hosted(&plain));
        // calls_started_between: ordinary and live calls, by start time.
        let (a, b) = (w.calls[n + 10].started, w.calls[n + 20].started);
        let between = w.calls_started_between(a.min(b), a.max(b) + Duration::seconds(1));
        assert!(between.contains(&(n + 10)) && between.contains(&(n + 20)));
        assert!(between.windows(2).all(|p| (w.calls[p[0]].started, p[0]) < (w.calls[p[1]].started, p[1])));
        let all = w.calls_started_between(w.window_start, start + Duration::days(30));
        assert_eq!(all.len(), w.calls.len());
    }

    #[test]
    fn the_clock_can_be_pinned_and_hides_calls_that_have_not_ended() {
        let start = Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).unwrap();
        let w = World::generate(&with_live(60, 10, start));
        let before = Utc::now();
        assert!(w.now() >= before && w.now() <= Utc::now());
        w.set_clock(start + Duration::seconds(150));
        let now = w.now();
        assert!(now >= start + Duration::seconds(150) && now < start + Duration::seconds(160), "{now}");
        let visible: Vec<usize> = w.live_calls().iter().copied().filter(|&j| w.is_visible(j, now)).collect();
        assert_eq!(visible, w.live_calls()[..2]);
        // Clones share the clock.
        let copy = w.clone();
        assert!(copy.now() >= now && copy.now() < start + Duration::seconds(160));
        drop(w);
        assert!(copy.now() >= now);
        // No live calls for a zero interval or count.
        assert!(World::generate(&with_live(0, 10, start)).live_calls().is_empty());
        assert!(World::generate(&with_live(60, 0, start)).live_calls().is_empty());
    }

    #[test]
    fn the_default_world_with_a_day_of_live_calls_generates_fast() {
        let t = std::time::Instant::now();
        let settings = SandboxSettings {
            live: Some(crate::sandbox::LiveCalls::from_now(std::time::Duration::from_secs(30), 2880)),
            ..SandboxSettings::default()
        };
        let w = World::generate(&settings);
        let ev = crate::sandbox::world_ev::EvData::generate(&w);
        let sl = crate::sandbox::world_sl::SlData::generate(&w);
        let elapsed = t.elapsed();
        eprintln!("default world + 2880 live calls + ExecVision + Salesloft data: {elapsed:?}");
        assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");
        assert_eq!(w.calls.len(), 2000 + 2880);
        assert!(w.live_calls().iter().all(|&j| sl.conversation(j).is_some()));
        assert!(w.live_calls().iter().filter(|&&j| ev.call(j).is_some()).count() > 1440);
    }

    #[test]
    fn interaction_stats_and_coaching() {
        let w = World::generate(&small(7));
        let from = w.local_date(w.window_start);
        let to = w.local_date(w.window_end);
        let host = w.calls[0].host;
        let s = w.interaction_stats(host, from, to).expect("host has calls");
        assert!(s.calls > 0 && s.question_rate > 0.0);
        assert!(w.interaction_stats(0, from, to).is_none());
        let mgr = w.managers()[1];
        let reports = w.coaching(mgr, w.window_start, w.window_end);
        assert_eq!(reports.len(), w.direct_reports(mgr).len());
        assert!(reports.iter().any(|r| !r.metrics["callsListenedTo"].is_empty()));
    }
}
