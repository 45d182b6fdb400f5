//! ExecVision-only generated data, derived deterministically from the [`World`].
//!
//! The provider-neutral world says who has an ExecVision account
//! (`Person::accounts.execvision`) and which calls ExecVision recorded
//! (`Call::recorded_by.execvision`, see [`records_call`]). Everything that exists only
//! at ExecVision lives in [`EvData`] (built by [`EvData::generate`]; the running
//! simulator's copy is `sandbox.execvision.data()`): teams and departments, each
//! call's last-modified time, processing state and deletion, keyword topics,
//! listens, scores (from the world's answered scorecards), feedback, shares, coaching
//! plans and meetings, KPI definitions and observations.
//!
//! Every record has a last-modified time used for `since` paging. Calls are touched in
//! bulk now and then (CRM re-syncs), so runs of calls share one exact `modified`
//! instant — with the default world one run holds more than 100 calls (longer than a
//! default page); listens and KPI observations are imported in nightly batches that
//! share one instant; scores have one bulk re-computation.
//!
//! ExecVision knows some people by an alias rather than their primary address
//! ([`ev_email`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};

use super::rng::{Rng, mix};
use super::world::{Role, World};

// PRNG streams (distinct from world.rs's 1..=8 and 100+).
const S_EV_CALL: u64 = 41;
const S_EV_LISTEN: u64 = 42;
const S_EV_SCORE: u64 = 43;
const S_EV_FEEDBACK: u64 = 44;
const S_EV_SHARE: u64 = 45;
const S_EV_PLAN: u64 = 46;
const S_EV_KPI: u64 = 47;

/// Did ExecVision record world call `call`? True for about 80% of the calls whose host
/// has an ExecVision account (a hash of `(seed, call)`, no PRNG stream consumed).
pub fn records_call(seed: u64, call: usize, host_has_account: bool) -> bool {
    host_has_account && mix(seed ^ 0xE5EC_0000_0000_0000 ^ (call as u64).wrapping_mul(0x9E37_79B9)) % 10 < 8
}

/// The address ExecVision knows person `person` by: their primary address, except for
/// every other person who has an alias (`index % 6 == 4`), whom ExecVision knows by
/// that alias. So joining people across providers must honour aliases.
pub fn ev_email(world: &World, person: usize) -> &str {
    let p = &world.people[person];
    match p.email_aliases.first() {
        Some(alias) if person % 6 == 4 => alias,
        _ => &p.email,
    }
}

/// Skill names (coaching plans, meeting scores, scorecard question skills);
/// ids are [`crate::sandbox::execvision::ids::skill_id`].
pub const SKILLS: [&str; 8] = [
    "Lead In",
    "Pre-call Research",
    "Challenges",
    "Discovery",
    "Objection Handling",
    "Product Knowledge",
    "Closing",
    "Rapport",
];

/// A department (`GET departments`).
#[derive(Clone, Debug, PartialEq)]
pub struct EvDepartment {
    pub index: usize,
    pub name: String,
}

/// A team (`GET teams`).
#[derive(Clone, Debug, PartialEq)]
pub struct EvTeam {
    pub index: usize,
    pub name: String,
    /// Person index of the manager.
    pub manager: usize,
    /// Index into [`EvData::departments`].
    pub department: usize,
}

/// A call's processing state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// Transcribed and analysed (transcript, stats, summary, topics).
    Complete,
    /// The recording could not be converted: no transcript, summary or topics.
    ConverterRejected,
    /// A live call not transcribed yet: no transcript, summary or topics so far.
    Processing,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Complete => "COMPLETE",
            CallState::ConverterRejected => "CONVERTER_REJECTED",
            CallState::Processing => "PROCESSING",
        }
    }
}

/// ExecVision's view of a recorded world call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvCall {
    /// World call index.
    pub call: usize,
    /// Last state change (the `since` key of `GET calls`); for a live call, when its
    /// transcript is ready ([`World::transcript_ready_at`]).
    pub modified: DateTime<Utc>,
    pub state: CallState,
    /// Deleted before the simulator started (listed by `GET calls/deleted` only).
    pub deleted_at: Option<DateTime<Utc>>,
    /// A live call: when it appeared ([`World::visible_at`]); see [`EvCall::as_of`].
    pub appeared: Option<DateTime<Utc>>,
}

impl EvCall {
    /// The record as ExecVision shows it at `now`: a live call whose transcript is not
    /// ready yet is `PROCESSING`, last modified when it appeared.
    pub fn as_of(&self, now: DateTime<Utc>) -> EvCall {
        match self.appeared {
            Some(t) if now < self.modified => EvCall { modified: t, state: CallState::Processing, ..*self },
            _ => *self,
        }
    }
}

/// A keyword topic (`GET topics`); matches are found in transcripts.
#[derive(Clone, Debug, PartialEq)]
pub struct EvTopic {
    pub index: usize,
    pub name: String,
    /// Lowercase words and phrases.
    pub words: Vec<String>,
    /// Inactive topics are not listed and never match.
    pub active: bool,
}

/// One listener's listening to one call on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct Listen {
    /// Company-tz day of the listening.
    pub date: NaiveDate,
    /// Nightly computation time (02:00 company time the next day).
    pub modified: DateTime<Utc>,
    /// World call index.
    pub call: usize,
    /// Person index.
    pub listener: usize,
    pub seconds: f64,
}

/// ExecVision scoring schemes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    OneToFive,
    OneToThree,
    OneTwo,
    YesNo,
    PassFail,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::OneToFive => "OneToFive",
            Scheme::OneToThree => "OneToThree",
            Scheme::OneTwo => "OneTwo",
            Scheme::YesNo => "YesNo",
            Scheme::PassFail => "PassFail",
        }
    }

    /// `(answer, rawAnswer)` for a world score `1..=5` (yes/pass answer 1, no/fail 0).
    pub fn answer(self, score: u32) -> (f64, u32) {
        let s = score.min(5);
        match self {
            Scheme::OneToFive => (f64::from(s), s),
            Scheme::OneToThree => match s {
                0 => (0.0, 0),
                1 | 2 => (1.0, 1),
                3 | 4 => (2.0, 3),
                _ => (3.0, 5),
            },
            Scheme::OneTwo => match s {
                0 => (0.0, 0),
                1..=3 => (1.0, 3),
                _ => (2.0, 5),
            },
            Scheme::YesNo | Scheme::PassFail => {
                if s >= 3 {
                    (1.0, 5)
                } else {
                    (0.0, 0)
                }
            }
        }
    }

    /// The normalised percentage of a raw answer (`raw * 20`).
    pub fn percent(raw: u32) -> u32 {
        raw.min(5) * 20
    }
}

/// ExecVision's view of a world scorecard template.
#[derive(Clone, Debug, PartialEq)]
pub struct EvScorecard {
    /// World scorecard index.
    pub scorecard: usize,
    pub scheme: Scheme,
    /// Per question ordinal: up to three skill indices (into [`SKILLS`]).
    pub skills: Vec<[Option<usize>; 3]>,
}

/// One filled scorecard (a `resultId`): a world answered scorecard.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreResult {
    /// World answered-scorecard index.
    pub answered: usize,
    pub modified: DateTime<Utc>,
}

/// A comment or a highlight on a call.
#[derive(Clone, Debug, PartialEq)]
pub struct Feedback {
    /// World call index.
    pub call: usize,
    /// Person index.
    pub by: usize,
    pub at: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub is_highlight: bool,
    pub text: Option<String>,
    pub start_secs: f64,
    /// Highlights only.
    pub end_secs: Option<f64>,
}

/// A call shared internally and/or externally.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    /// World call index.
    pub call: usize,
    /// Person index.
    pub by: usize,
    pub at: DateTime<Utc>,
    /// Person indices.
    pub recipients: Vec<usize>,
    pub emails: Vec<String>,
}

/// A coaching plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub index: usize,
    /// Person indices.
    pub coach: usize,
    pub recipient: usize,
    /// Indices into [`SKILLS`].
    pub skills: Vec<usize>,
    pub start: DateTime<Utc>,
    pub cadence_days: u32,
    pub planned_meetings: u32,
    /// Indices into [`EvData::meetings`].
    pub meetings: Vec<usize>,
    pub modified: DateTime<Utc>,
}

impl Plan {
    /// `start + planned * cadence`.
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::days(i64::from(self.cadence_days * self.planned_meetings))
    }
}

/// A question of a coaching meeting (scorecard or review question).
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingQuestion {
    pub text: String,
    pub possible: Option<u32>,
    pub actual: Option<u32>,
    pub weight: Option<u32>,
}

/// A coaching meeting of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Meeting {
    pub index: usize,
    /// Index into [`EvData::plans`].
    pub plan: usize,
    pub coach: usize,
    pub recipient: usize,
    pub scheduled: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `(skill index, percent)`.
    pub scores: Vec<(usize, u32)>,
    /// `(world call index, scorecard questions)`.
    pub call_reviews: Vec<(usize, Vec<MeetingQuestion>)>,
    pub questions: Vec<MeetingQuestion>,
    pub comments: Option<String>,
    pub modified: DateTime<Utc>,
}

/// KPI frequencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Quarterly => "QUARTERLY",
        }
    }
}

/// A KPI definition (`GET kpi/{id}`).
#[derive(Clone, Debug, PartialEq)]
pub struct KpiDef {
    pub index: usize,
    pub description: String,
    pub frequency: Frequency,
    pub target: f64,
}

/// A KPI observation (`GET kpis`).
#[derive(Clone, Debug, PartialEq)]
pub struct KpiObservation {
    pub observed_at: DateTime<Utc>,
    /// Person indices.
    pub observer: usize,
    pub observed: usize,
    /// Index into [`EvData::kpis`].
    pub kpi: usize,
    pub value: f64,
    pub modified: DateTime<Utc>,
}

/// Everything ExecVision-only (see the module docs). Vectors of time-keyed records are
/// sorted by their `modified` (or `at`) time.
#[derive(Clone, Debug, PartialEq)]
pub struct EvData {
    pub departments: Vec<EvDepartment>,
    pub teams: Vec<EvTeam>,
    /// Per person: team index (None for people without an ExecVision account).
    pub person_team: Vec<Option<usize>>,
    /// Per person: department index (None for people without an ExecVision account).
    pub person_department: Vec<Option<usize>>,
    /// Every call ExecVision recorded (deleted ones included), in world call order.
    pub calls: Vec<EvCall>,
    /// Per world call: index into `calls`.
    call_pos: Vec<Option<usize>>,
    pub topics: Vec<EvTopic>,
    pub listens: Vec<Listen>,
    /// Indexed like `World::scorecards`.
    pub scorecards: Vec<EvScorecard>,
    pub results: Vec<ScoreResult>,
    pub feedback: Vec<Feedback>,
    pub shares: Vec<Share>,
    pub plans: Vec<Plan>,
    pub meetings: Vec<Meeting>,
    pub kpis: Vec<KpiDef>,
    pub kpi_observations: Vec<KpiObservation>,
}

/// Topic definitions: `(name, words, active)`.
const TOPICS: [(&str, &[&str], bool); 7] = [
    ("Competitors", &["globex", "initech", "hooli"], true),
    ("Budget and pricing", &["pricing", "price", "budget", "discount", "seats"], true),
    ("Common objections", &["bandwidth", "adoption", "contract", "not sure"], true),
    ("Security", &["soc 2", "sso", "gdpr", "encrypted"], true),
    ("Next steps", &["follow-up", "next week", "proposal", "schedule"], true),
    ("Integrations", &["salesforce", "hubspot", "api", "integration"], true),
    ("Q4 promo (retired)", &["promo", "black friday"], false),
];

fn micros(r: &mut Rng) -> Duration {
    Duration::microseconds(r.below(1_000_000) as i64)
}

fn trunc_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t)
}

impl EvData {
    /// ExecVision's data for `world` (deterministic).
    pub fn generate(world: &World) -> EvData {
        let (departments, teams, person_team, person_department) = gen_org(world);
        let calls = gen_calls(world);
        let mut call_pos = vec![None; world.calls.len()];
        for (k, c) in calls.iter().enumerate() {
            call_pos[c.call] = Some(k);
        }
        let topics = TOPICS
            .iter()
            .enumerate()
            .map(|(index, (name, words, active))| EvTopic {
                index,
                name: (*name).into(),
                words: words.iter().map(|w| (*w).to_string()).collect(),
                active: *active,
            })
            .collect();
        let mut data = EvData {
            departments,
            teams,
            person_team,
            person_department,
            calls,
            call_pos,
            topics,
            listens: Vec::new(),
            scorecards: Vec::new(),
            results: Vec::new(),
            feedback: Vec::new(),
            shares: Vec::new(),
            plans: Vec::new(),
            meetings: Vec::new(),
            kpis: Vec::new(),
            kpi_observations: Vec::new(),
        };
        data.listens = gen_listens(world, &data);
        data.scorecards = gen_scorecards(world);
        data.results = gen_results(world, &data);
        data.feedback = gen_feedback(world, &data);
        data.shares = gen_shares(world, &data);
        let (plans, meetings) = gen_plans(world, &data);
        data.plans = plans;
        data.meetings = meetings;
        data.kpis = gen_kpi_defs();
        data.kpi_observations = gen_kpi_observations(world, &data);
        data
    }

    /// ExecVision's record of world call `call` (None when ExecVision did not record it).
    pub fn call(&self, call: usize) -> Option<&EvCall> {
        self.call_pos.get(call).copied().flatten().map(|k| &self.calls[k])
    }

    /// True for a world call ExecVision recorded and did not delete before start
    /// ("live" as opposed to deleted; calls that appear over time are
    /// [`World::live_calls`], and exist only from [`World::visible_at`]).
    pub fn is_live_call(&self, call: usize) -> bool {
        self.call(call).is_some_and(|c| c.deleted_at.is_none())
    }

    /// Person indices of active users with an ExecVision account (`GET users`).
    pub fn users<'w>(&self, world: &'w World) -> impl Iterator<Item = usize> + 'w {
        world.people.iter().filter(|p| p.active && p.accounts.execvision).map(|p| p.index)
    }
}

fn has_ev(world: &World, person: usize) -> bool {
    world.people.get(person).is_some_and(|p| p.accounts.execvision && p.active)
}

type Org = (Vec<EvDepartment>, Vec<EvTeam>, Vec<Option<usize>>, Vec<Option<usize>>);

fn gen_org(world: &World) -> Org {
    let mut departments: Vec<EvDepartment> = Vec::new();
    let mut teams: Vec<EvTeam> = Vec::new();
    let dept_of = |name: &str, departments: &mut Vec<EvDepartment>| -> usize {
        if let Some(d) = departments.iter().position(|d| d.name == name) {
            return d;
        }
        departments.push(EvDepartment { index: departments.len(), name: name.into() });
        departments.len() - 1
    };
    // Teams are led by the executive (leadership) and by managers, in person order.
    for p in world.people.iter().filter(|p| p.role != Role::Rep) {
        if teams.iter().any(|t| t.name == p.team) {
            continue;
        }
        let department = dept_of(&p.department, &mut departments);
        teams.push(EvTeam { index: teams.len(), name: p.team.clone(), manager: p.index, department });
    }
    let mut person_team = vec![None; world.people.len()];
    let mut person_department = vec![None; world.people.len()];
    for p in world.people.iter().filter(|p| p.accounts.execvision) {
        person_department[p.index] = Some(dept_of(&p.department, &mut departments));
        let team = match teams.iter().position(|t| t.name == p.team) {
            Some(t) => t,
            None => {
                let department = dept_of(&p.department, &mut departments);
                let manager = p.manager.unwrap_or(p.index);
                teams.push(EvTeam { index: teams.len(), name: p.team.clone(), manager, department });
                teams.len() - 1
            }
        };
        person_team[p.index] = Some(team);
    }
    (departments, teams, person_team, person_department)
}

fn gen_calls(world: &World) -> Vec<EvCall> {
    let seed = world.seed;
    let mut calls: Vec<EvCall> = world
        .calls
        .iter()
        .filter(|c| c.recorded_by.execvision)
        .map(|c| {
            let mut r = Rng::derive(seed, S_EV_CALL, c.index as u64);
            // Processed a few minutes after the call ended.
            let mut modified = c.ended() + Duration::seconds(r.range(180, 2700) as i64) + micros(&mut r);
            // Now and then the CRM metadata is updated days later (whole minutes).
            if r.chance(0.1) {
                modified = trunc_minute(modified + Duration::minutes(r.range(60, 60 * 24 * 10) as i64));
            }
            let state = if r.chance(0.02) { CallState::ConverterRejected } else { CallState::Complete };
            if world.is_live(c.index) {
                let (appeared, ready) = (world.visible_at(c.index), world.transcript_ready_at(c.index));
                return EvCall {
                    call: c.index,
                    modified: ready,
                    state: CallState::Complete,
                    deleted_at: None,
                    appeared: Some(appeared),
                };
            }
            EvCall { call: c.index, modified, state, deleted_at: None, appeared: None }
        })
        .collect();
    // Bulk CRM re-syncs: every 28 days the last 7 days of calls are touched at one
    // instant; one big re-index touches 20 days of calls (longer than a default page
    // with the default world).
    let mut bulks: Vec<(DateTime<Utc>, i64)> = Vec::new();
    let mut k = 1;
    while world.window_start + Duration::days(28 * k) < world.window_end {
        bulks.push((world.window_start + Duration::days(28 * k) + Duration::hours(7), 7));
        k += 1;
    }
    bulks.push((world.window_start + Duration::days(61) + Duration::hours(3) + Duration::minutes(17), 20));
    bulks.sort();
    for (at, days) in bulks {
        for c in calls.iter_mut().filter(|c| c.appeared.is_none()) {
            if c.modified < at && c.modified >= at - Duration::days(days) {
                c.modified = at;
            }
        }
    }
    // Deletions: about 3% one by one, plus one retention purge of several calls at a
    // single instant.
    let purge_at = world.window_start + Duration::days(95) + Duration::hours(4);
    let mut purged = 0;
    for c in calls.iter_mut().filter(|c| c.appeared.is_none()) {
        let mut r = Rng::derive(seed, S_EV_CALL, (1 << 40) | c.call as u64);
        if r.chance(0.03) {
            c.deleted_at = Some(c.modified + Duration::minutes(r.range(10, 60 * 24 * 20) as i64) + micros(&mut r));
        } else if purged < 8 && c.modified < purge_at && r.chance(0.15) {
            c.deleted_at = Some(purge_at);
            purged += 1;
        }
    }
    calls
}

fn gen_listens(world: &World, data: &EvData) -> Vec<Listen> {
    let mut out = Vec::new();
    // Live calls get no listens, feedback, shares or coaching reviews.
    for c in
        data.calls.iter().filter(|c| c.deleted_at.is_none() && c.state == CallState::Complete && c.appeared.is_none())
    {
        let call = &world.calls[c.call];
        let mut r = Rng::derive(world.seed, S_EV_LISTEN, c.call as u64);
        let host = &world.people[call.host];
        let mut listeners = Vec::new();
        if let Some(m) = host.manager.filter(|&m| has_ev(world, m))
            && r.chance(0.35)
        {
            listeners.push(m);
        }
        if r.chance(0.15) {
            listeners.push(call.host);
        }
        if r.chance(0.1) {
            let peer = r.index(world.people.len());
            if has_ev(world, peer) && !listeners.contains(&peer) {
                listeners.push(peer);
            }
        }
        for listener in listeners {
            let date = world.local_date(call.ended()) + Duration::days(r.below(5) as i64);
            let next = date.succ_opt().expect("date");
            let modified = world.day_start(next) + Duration::hours(2);
            let seconds = (f64::from(call.duration_secs) * r.float(0.05, 1.0) * 10.0).round() / 10.0;
            out.push(Listen { date, modified, call: c.call, listener, seconds });
        }
    }
    out.sort_by_key(|a| (a.modified, a.call, a.listener));
    out
}

fn gen_scorecards(world: &World) -> Vec<EvScorecard> {
    let schemes = [Scheme::OneToFive, Scheme::OneToThree, Scheme::YesNo, Scheme::PassFail, Scheme::OneTwo];
    world
        .scorecards
        .iter()
        .map(|s| EvScorecard {
            scorecard: s.index,
            scheme: schemes[s.index % schemes.len()],
            skills: s
                .questions
                .iter()
                .map(|q| {
                    let k = s.index * 3 + q.ordinal;
                    [
                        Some(k % SKILLS.len()),
                        (q.ordinal % 2 == 0).then_some((k + 3) % SKILLS.len()),
                        (q.ordinal % 3 == 0).then_some((k + 5) % SKILLS.len()),
                    ]
                })
                .collect(),
        })
        .collect()
}

fn gen_results(world: &World, data: &EvData) -> Vec<ScoreResult> {
    let mut out: Vec<ScoreResult> = world
        .answered_scorecards
        .iter()
        .filter(|a| data.is_live_call(a.call) && has_ev(world, a.reviewer))
        .map(|a| {
            let mut r = Rng::derive(world.seed, S_EV_SCORE, a.index as u64);
            if world.is_live(a.call) {
                // Hidden until reviewed, then never re-computed.
                return ScoreResult { answered: a.index, modified: a.review_time };
            }
            let mut modified = a.review_time + micros(&mut r);
            if r.chance(0.1) {
                modified += Duration::minutes(r.range(30, 60 * 72) as i64);
            }
            ScoreResult { answered: a.index, modified }
        })
        .collect();
    // One bulk re-computation of 30 days of scores at a single instant.
    let at = world.window_start + Duration::days(100) + Duration::hours(5);
    for s in out.iter_mut().filter(|s| !world.is_live(world.answered_scorecards[s.answered].call)) {
        if s.modified < at && s.modified >= at - Duration::days(30) {
            s.modified = at;
        }
    }
    out.sort_by_key(|s| (s.modified, s.answered));
    out
}

fn gen_feedback(world: &World, data: &EvData) -> Vec<Feedback> {
    let mut out = Vec::new();
    for c in data.calls.iter().filter(|c| c.deleted_at.is_none() && c.appeared.is_none()) {
        let call = &world.calls[c.call];
        let mut r = Rng::derive(world.seed, S_EV_FEEDBACK, c.call as u64);
        for cm in call.comments.iter().filter(|cm| has_ev(world, cm.author)) {
            let at = cm.posted + micros(&mut r);
            let modified = if r.chance(0.1) { at + Duration::minutes(r.range(5, 600) as i64) } else { at };
            out.push(Feedback {
                call: c.call,
                by: cm.author,
                at,
                modified,
                is_highlight: false,
                text: Some(format!("<p>{}</p>", cm.text)),
                start_secs: cm.audio_start_secs,
                end_secs: None,
            });
        }
        if c.state == CallState::Complete && r.chance(0.08) {
            let by = match world.people[call.host].manager {
                Some(m) if has_ev(world, m) && r.chance(0.6) => m,
                _ => call.host,
            };
            let transcript = world.transcript(c.call);
            let sentences: Vec<_> = transcript.monologues.iter().flat_map(|m| m.sentences.iter()).collect();
            if let Some(s) = sentences.get(r.index(sentences.len().max(1))) {
                let at = call.ended() + Duration::minutes(r.range(20, 60 * 30) as i64) + micros(&mut r);
                out.push(Feedback {
                    call: c.call,
                    by,
                    at,
                    modified: at,
                    is_highlight: true,
                    text: if r.chance(0.8) { Some(s.text.clone()) } else { None },
                    start_secs: s.start_ms as f64 / 1000.0,
                    end_secs: Some(s.end_ms as f64 / 1000.0),
                });
            }
        }
    }
    out.sort_by_key(|a| (a.modified, a.call, a.at));
    out
}

fn gen_shares(world: &World, data: &EvData) -> Vec<Share> {
    let mut out = Vec::new();
    for c in data.calls.iter().filter(|c| c.deleted_at.is_none() && c.appeared.is_none()) {
        let call = &world.calls[c.call];
        let mut r = Rng::derive(world.seed, S_EV_SHARE, c.call as u64);
        if !r.chance(0.1) {
            continue;
        }
        let mut recipients = Vec::new();
        if let Some(m) = world.people[call.host].manager.filter(|&m| has_ev(world, m)) {
            recipients.push(m);
        }
        for _ in 0..r.below(3) {
            let p = r.index(world.people.len());
            if p != call.host && has_ev(world, p) && !recipients.contains(&p) {
                recipients.push(p);
            }
        }
        let mut emails = Vec::new();
        if r.chance(0.4) {
            emails = call.external_contacts().into_iter().take(2).map(|k| world.contacts[k].email.clone()).collect();
        }
        if recipients.is_empty() && emails.is_empty() {
            emails.push("partner@example.com".into());
        }
        let at = trunc_minute(call.ended() + Duration::minutes(r.range(5, 60 * 48) as i64))
            + Duration::seconds(r.below(60) as i64);
        out.push(Share { call: c.call, by: call.host, at, recipients, emails });
    }
    out.sort_by_key(|s| (s.at, s.call));
    out
}

const REVIEW_QUESTIONS: [&str; 3] =
    ["Does the rep pull it off?", "Did the rep apply last session's feedback?", "Is the rep ready to run this alone?"];
const MEETING_COMMENTS: [&str; 4] = [
    "Good progress this week; keep practising the opener.",
    "Focus on quantifying the pain before the demo.",
    "Role-played two objections, both handled well.",
    "Review the pricing guardrails before the next call.",
];

fn gen_plans(world: &World, data: &EvData) -> (Vec<Plan>, Vec<Meeting>) {
    let mut plans = Vec::new();
    let mut meetings = Vec::new();
    let data_end = world.window_end;
    for p in world.people.iter().filter(|p| p.role == Role::Rep && has_ev(world, p.index)) {
        let Some(coach) = p.manager.filter(|&m| has_ev(world, m)).or_else(|| has_ev(world, 0).then_some(0)) else {
            continue;
        };
        let n_plans = match p.index % 5 {
            4 => 0,
            0 | 2 => 2,
            _ => 1,
        };
        for k in 0..n_plans {
            let mut r = Rng::derive(world.seed, S_EV_PLAN, (p.index as u64) << 8 | k);
            let start_day = world.local_date(world.window_start) + Duration::days(r.range(0, 90) as i64);
            let start = world.day_start(start_day) + Duration::hours(13) + Duration::seconds(r.below(3600) as i64);
            let start = start + micros(&mut r);
            let cadence_days = if r.chance(0.5) { 7 } else { 14 };
            let planned_meetings = r.range(6, 21) as u32;
            let a = r.index(SKILLS.len());
            let b = (a + 1 + r.index(SKILLS.len() - 1)) % SKILLS.len();
            let skills = vec![a, b];
            let plan_index = plans.len();
            let mut plan_meetings = Vec::new();
            let host_calls: Vec<usize> = world
                .calls
                .iter()
                .filter(|c| c.host == p.index && data.is_live_call(c.index) && !world.is_live(c.index))
                .map(|c| c.index)
                .collect();
            for slot in 0..planned_meetings {
                let scheduled = start + Duration::days(i64::from(slot * cadence_days));
                let scheduled = trunc_minute(scheduled) - Duration::minutes(i64::from(scheduled.minute() % 30));
                if scheduled + Duration::hours(2) > data_end || !r.chance(0.8) {
                    continue;
                }
                let m_start = scheduled + Duration::seconds(r.range(0, 600) as i64) + micros(&mut r);
                let m_end = m_start + Duration::seconds(r.range(900, 2700) as i64) + micros(&mut r);
                let scores = skills.iter().map(|&s| (s, 20 * r.range(1, 6) as u32)).collect();
                let reviewed: Vec<usize> =
                    host_calls.iter().copied().filter(|&c| world.calls[c].ended() < m_start).collect();
                let call_reviews = reviewed
                    .iter()
                    .rev()
                    .take(r.index(3))
                    .map(|&c| {
                        let sc = &world.scorecards[0];
                        let q = &sc.questions[r.index(sc.questions.len())];
                        (
                            c,
                            vec![MeetingQuestion {
                                text: q.text.clone(),
                                possible: Some(5),
                                actual: Some(r.range(1, 6) as u32),
                                weight: None,
                            }],
                        )
                    })
                    .collect();
                let mut questions = vec![MeetingQuestion {
                    text: "Notes for the next session".into(),
                    possible: None,
                    actual: None,
                    weight: Some(0),
                }];
                questions.push(MeetingQuestion {
                    text: REVIEW_QUESTIONS[r.index(REVIEW_QUESTIONS.len())].into(),
                    possible: Some(5),
                    actual: Some(r.range(1, 6) as u32),
                    weight: Some(r.range(10, 60) as u32),
                });
                let comments = r.chance(0.5).then(|| MEETING_COMMENTS[r.index(MEETING_COMMENTS.len())].to_string());
                let modified = if r.chance(0.15) { m_end + Duration::hours(r.range(1, 72) as i64) } else { m_end };
                plan_meetings.push(meetings.len());
                meetings.push(Meeting {
                    index: meetings.len(),
                    plan: plan_index,
                    coach,
                    recipient: p.index,
                    scheduled,
                    start: m_start,
                    end: m_end,
                    scores,
                    call_reviews,
                    questions,
                    comments,
                    modified,
                });
            }
            let modified = plan_meetings.iter().map(|&m| meetings[m].modified).max().unwrap_or(start).max(start);
            plans.push(Plan {
                index: plan_index,
                coach,
                recipient: p.index,
                skills,
                start,
                cadence_days,
                planned_meetings,
                meetings: plan_meetings,
                modified,
            });
        }
    }
    meetings.sort_by_key(|m| (m.modified, m.index));
    // Re-number meetings in modified order and fix the plans' references.
    let mut renum = vec![0; meetings.len()];
    for (k, m) in meetings.iter_mut().enumerate() {
        renum[m.index] = k;
        m.index = k;
    }
    for p in &mut plans {
        for m in &mut p.meetings {
            *m = renum[*m];
        }
    }
    plans.sort_by_key(|p| (p.modified, p.index));
    let mut renum = vec![0; plans.len()];
    for (k, p) in plans.iter_mut().enumerate() {
        renum[p.index] = k;
        p.index = k;
    }
    for m in &mut meetings {
        m.plan = renum[m.plan];
    }
    (plans, meetings)
}

fn gen_kpi_defs() -> Vec<KpiDef> {
    [
        ("Linking goals", Frequency::Monthly, 23.23),
        ("Dials per day", Frequency::Daily, 60.0),
        ("Meetings booked", Frequency::Weekly, 5.0),
        ("Pipeline generated (k$)", Frequency::Quarterly, 250.0),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (d, frequency, target))| KpiDef { index, description: d.into(), frequency, target })
    .collect()
}

fn gen_kpi_observations(world: &World, data: &EvData) -> Vec<KpiObservation> {
    let mut out = Vec::new();
    let first = world.local_date(world.window_start);
    let last = world.local_date(world.window_end - Duration::seconds(1));
    let reps: Vec<usize> = world
        .people
        .iter()
        .filter(|p| p.role == Role::Rep && has_ev(world, p.index) && p.created < world.window_end)
        .map(|p| p.index)
        .collect();
    let mut day = first;
    while day <= last {
        let period_end = |f: Frequency| -> bool {
            let next = day.succ_opt().expect("date");
            match f {
                Frequency::Daily => !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
                Frequency::Weekly => day.weekday() == Weekday::Fri,
                Frequency::Monthly => next.month() != day.month(),
                Frequency::Quarterly => next.month() != day.month() && day.month().is_multiple_of(3),
            }
        };
        for kpi in &data.kpis {
            if !period_end(kpi.frequency) {
                continue;
            }
            let observed_at = world.day_start(day) + Duration::hours(17);
            // Imported in one batch at 02:00 the next day: one modified instant per batch.
            let modified = world.day_start(day.succ_opt().expect("date")) + Duration::hours(2);
            for &rep in &reps {
                let observer = world.people[rep].manager.filter(|&m| has_ev(world, m)).unwrap_or(rep);
                let key = (rep as u64) << 32 | (kpi.index as u64) << 24 | (day - first).num_days() as u64;
                let mut r = Rng::derive(world.seed, S_EV_KPI, key);
                let value = (kpi.target * r.float(0.4, 1.5) * 100.0).round() / 100.0;
                out.push(KpiObservation { observed_at, observer, observed: rep, kpi: kpi.index, value, modified });
            }
        }
        day = day.succ_opt().expect("date");
    }
    out.sort_by_key(|o| (o.modified, o.observed, o.kpi));
    out
}

/// Counts of records per exact `modified` instant, largest first (test helper for
/// picking a run of equal timestamps).
pub fn runs<I: IntoIterator<Item = DateTime<Utc>>>(times: I) -> Vec<(DateTime<Utc>, usize)> {
    let mut m: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    for t in times {
        *m.entry(t).or_insert(0) += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxSettings;

    #[test]
    fn default_world_has_long_runs_deletions_and_everything() {
        let w = World::generate(&SandboxSettings::default());
        let d = EvData::generate(&w);
        assert_eq!(d, EvData::generate(&w));
        let ev_calls = w.calls.iter().filter(|c| c.recorded_by.execvision).count();
        assert_eq!(ev_calls, d.calls.len());
        assert!(ev_calls > 1000 && ev_calls < 1800, "{ev_calls}");
        assert!(d.calls.iter().all(|c| w.people[w.calls[c.call].host].accounts.execvision));
        let live: Vec<&EvCall> = d.calls.iter().filter(|c| c.deleted_at.is_none()).collect();
        let deleted = d.calls.len() - live.len();
        assert!(deleted >= 20, "{deleted}");
        let r = runs(live.iter().map(|c| c.modified));
        assert!(r[0].1 > 100, "{:?}", &r[..3]);
        assert!(r.iter().filter(|(_, n)| *n > 1).count() >= 5);
        assert!(runs(d.calls.iter().filter_map(|c| c.deleted_at)).first().is_some_and(|(_, n)| *n >= 5));
        assert!(d.calls.iter().any(|c| c.state == CallState::ConverterRejected));
        for v in [d.listens.len(), d.results.len(), d.feedback.len(), d.shares.len(), d.plans.len(), d.meetings.len()] {
            assert!(v > 10, "{v}");
        }
        assert!(d.feedback.iter().any(|f| f.is_highlight) && d.feedback.iter().any(|f| !f.is_highlight));
        assert!(d.kpi_observations.len() > 100);
        // Since-only endpoints never have runs of 1000 or more (a client can always
        // get past a run by raising limit).
        assert!(runs(d.listens.iter().map(|l| l.modified))[0].1 < 1000);
        assert!(runs(d.kpi_observations.iter().map(|l| l.modified))[0].1 < 1000);
        assert!(runs(d.results.iter().map(|l| l.modified))[0].1 < 1000);
        for p in &d.plans {
            assert!(p.meetings.iter().all(|&m| d.meetings[m].plan == p.index));
        }
        assert_eq!(d.users(&w).count(), w.people.iter().filter(|p| p.active && p.accounts.execvision).count());
        for u in d.users(&w) {
            assert!(d.person_team[u].is_some() && d.person_department[u].is_some());
        }
    }
}
