//! Endpoint handlers of the Gong simulator.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::render::{self, ContentSelector, ContextLevel};
use super::{ApiError, ApiResult, AppState, fingerprint, ids, paginate, request_id};
use crate::sandbox::world::{Call, World};

const NO_CALLS: &str = "No calls found corresponding to the provided filters";

// ---------------------------------------------------------------- request parsing

/// Parses a POST body (Gong answers 400 with its error body on bad JSON).
fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("Request body is missing"));
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Malformed JSON request: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("Request body must be a JSON object"));
    }
    Ok(v)
}

/// The required `filter` object, typed.
fn filter<T: DeserializeOwned>(body: &Value) -> Result<(T, Value), ApiError> {
    let f = body.get("filter").cloned().unwrap_or(Value::Null);
    if !f.is_object() {
        return Err(ApiError::bad_request("filter: must not be null"));
    }
    let typed = serde_json::from_value(f.clone()).map_err(|e| ApiError::bad_request(format!("Invalid filter: {e}")))?;
    Ok((typed, f))
}

fn cursor(body: &Value) -> Result<Option<&str>, ApiError> {
    match body.get("cursor") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::bad_request("cursor: must be a string")),
    }
}

fn parse_datetime(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s.trim()).map(|d| Some(d.with_timezone(&Utc))).map_err(|_| {
            ApiError::bad_request(format!(
                "{name}: invalid date-time '{s}', expected ISO-8601 such as 2018-02-18T02:30:00-07:00"
            ))
        }),
    }
}

fn parse_date(name: &str, s: &str) -> Result<NaiveDate, ApiError> {
    let bad = || ApiError::bad_request(format!("{name}: invalid date '{s}', expected YYYY-MM-DD"));
    if s.len() != 10 {
        return Err(bad());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())
}

/// Accepts string ids (the spec) and, leniently, JSON numbers.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum IdValue {
    Str(String),
    Num(u64),
}

impl IdValue {
    fn text(&self) -> String {
        match self {
            IdValue::Str(s) => s.trim().to_string(),
            IdValue::Num(n) => n.to_string(),
        }
    }
}

fn id_texts(v: &Option<Vec<IdValue>>) -> Option<Vec<String>> {
    v.as_ref().map(|ids| ids.iter().map(IdValue::text).collect())
}

fn in_window(t: DateTime<Utc>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
    from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e)
}

fn check_workspace(ws: Option<&str>) -> bool {
    ws.is_none_or(|w| w.trim().is_empty() || w.trim() == ids::WORKSPACE_ID)
}

fn gong_people(world: &World) -> impl Iterator<Item = &crate::sandbox::world::Person> {
    world.people.iter().filter(|p| p.accounts.gong)
}

fn ok(v: Value) -> ApiResult {
    Ok(Json(v))
}

// ---------------------------------------------------------------- users

pub(super) async fn list_users(State(st): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let include_avatars = match q.get("includeAvatars").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("includeAvatars: invalid boolean '{other}'")));
        }
    };
    let world = &st.world;
    let mut users: Vec<Value> = gong_people(world).map(|p| render::user(world, p)).collect();
    if include_avatars {
        users.extend((0..render::AVATARS.len()).map(|a| render::avatar(world, a)));
    }
    let fp = fingerprint("GET /v2/users", &json!({ "includeAvatars": include_avatars }));
    let (page, records) = paginate(users, q.get("cursor").map(String::as_str), &fp)?;
    ok(json!({ "requestId": request_id(), "records": records, "users": page }))
}

pub(super) async fn get_user(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let world = &st.world;
    let user = if let Some(i) = ids::person_index(&id).filter(|&i| i < world.people.len()) {
        Some(render::user(world, &world.people[i]))
    } else {
        ids::avatar_index(&id).filter(|&a| a < render::AVATARS.len()).map(|a| render::avatar(world, a))
    };
    match user {
        Some(u) => ok(json!({ "requestId": request_id(), "user": u })),
        None => Err(ApiError::not_found(format!("User not found: {id}"))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct UsersFilter {
    created_from_date_time: Option<String>,
    created_to_date_time: Option<String>,
    include_avatars: Option<bool>,
    user_ids: Option<Vec<IdValue>>,
}

pub(super) async fn users_extensive(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let (f, raw): (UsersFilter, Value) = filter(&body)?;
    let from = parse_datetime("createdFromDateTime", f.created_from_date_time.as_deref())?;
    let to = parse_datetime("createdToDateTime", f.created_to_date_time.as_deref())?;
    let wanted = id_texts(&f.user_ids);
    let world = &st.world;
    let mut users: Vec<Value> = gong_people(world)
        .filter(|p| in_window(p.created, from, to))
        .filter(|p| wanted.as_ref().is_none_or(|w| w.contains(&ids::user_id(p.index))))
        .map(|p| render::user(world, p))
        .collect();
    if f.include_avatars == Some(true) {
        for a in 0..render::AVATARS.len() {
            let in_ids = wanted.as_ref().is_none_or(|w| w.contains(&ids::avatar_id(a)));
            let created = world.window_start - Duration::days(400);
            if in_ids && in_window(created, from, to) {
                users.push(render::avatar(world, a));
            }
        }
    }
    if users.is_empty() {
        return Err(ApiError::not_found("No users found corresponding to the provided filters"));
    }
    let fp = fingerprint("POST /v2/users/extensive", &raw);
    let (page, records) = paginate(users, cursor(&body)?, &fp)?;
    ok(json!({ "requestId": request_id(), "records": records, "users": page }))
}

// ---------------------------------------------------------------- calls

pub(super) async fn list_calls(State(st): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let from = parse_datetime("fromDateTime", q.get("fromDateTime").map(String::as_str))?;
    let to = parse_datetime("toDateTime", q.get("toDateTime").map(String::as_str))?;
    let world = &st.world;
    let now = world.now();
    let calls: Vec<Value> = if check_workspace(q.get("workspaceId").map(String::as_str)) {
        // Web conferences are filtered by their scheduled time, others by actual start.
        let mut calls: Vec<&Call> = world
            .calls
            .iter()
            .filter(|c| {
                let t = if c.system.is_web_conference() { c.scheduled } else { c.started };
                in_window(t, from, to) && world.is_visible(c.index, now)
            })
            .collect();
        calls.sort_by_key(|c| (c.started, c.index));
        calls.into_iter().map(|c| render::call_basic(world, c)).collect()
    } else {
        Vec::new()
    };
    if calls.is_empty() {
        return Err(ApiError::not_found(NO_CALLS));
    }
    let fp = fingerprint(
        "GET /v2/calls",
        &json!({
            "fromDateTime": q.get("fromDateTime"),
            "toDateTime": q.get("toDateTime"),
            "workspaceId": q.get("workspaceId"),
        }),
    );
    let (page, records) = paginate(calls, q.get("cursor").map(String::as_str), &fp)?;
    ok(json!({ "requestId": request_id(), "records": records, "calls": page }))
}

pub(super) async fn get_call(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let world = &st.world;
    match ids::call_index(&id).filter(|&j| world.is_visible(j, world.now())).and_then(|j| world.calls.get(j)) {
        Some(c) => ok(json!({ "requestId": request_id(), "call": render::call_basic(world, c) })),
        None => Err(ApiError::not_found(format!("Call ID was not found: {id}"))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CallsFilter {
    from_date_time: Option<String>,
    to_date_time: Option<String>,
    workspace_id: Option<String>,
    call_ids: Option<Vec<IdValue>>,
    primary_user_ids: Option<Vec<IdValue>>,
}

/// Calls matching an extensive/transcript filter that exist now, by start time then id.
fn select_calls<'w>(world: &'w World, f: &CallsFilter) -> Result<Vec<&'w Call>, ApiError> {
    let from = parse_datetime("fromDateTime", f.from_date_time.as_deref())?;
    let to = parse_datetime("toDateTime", f.to_date_time.as_deref())?;
    if !check_workspace(f.workspace_id.as_deref()) {
        return Ok(Vec::new());
    }
    let call_ids: Option<Vec<usize>> =
        id_texts(&f.call_ids).map(|v| v.iter().filter_map(|s| ids::call_index(s)).collect());
    let hosts: Option<Vec<usize>> =
        id_texts(&f.primary_user_ids).map(|v| v.iter().filter_map(|s| ids::person_index(s)).collect());
    let mut calls: Vec<&Call> = match &call_ids {
        Some(list) => {
            let mut list = list.clone();
            list.sort_unstable();
            list.dedup();
            list.into_iter().filter_map(|j| world.calls.get(j)).collect()
        }
        None => world.calls.iter().collect(),
    };
    let now = world.now();
    calls.retain(|c| in_window(c.started, from, to) && world.is_visible(c.index, now));
    if let Some(h) = &hosts {
        calls.retain(|c| h.contains(&c.host));
    }
    calls.sort_by_key(|c| (c.started, c.index));
    Ok(calls)
}

pub(super) async fn calls_extensive(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let (f, raw): (CallsFilter, Value) = filter(&body)?;
    let sel: ContentSelector = match body.get("contentSelector") {
        None | Some(Value::Null) => ContentSelector::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ApiError::bad_request(format!("Invalid contentSelector: {e}")))?,
    };
    let level = match sel.context.as_deref() {
        None | Some("None") => ContextLevel::None,
        Some("Basic") => ContextLevel::Basic,
        Some("Extended") => ContextLevel::Extended,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "contentSelector.context: invalid value '{other}' (None, Basic, Extended)"
            )));
        }
    };
    if let Some(timing) = &sel.context_timing {
        if level != ContextLevel::Extended && !timing.is_empty() {
            return Err(ApiError::bad_request(
                "contentSelector.contextTiming can be provided only when context is 'Extended'",
            ));
        }
        if let Some(bad) = timing.iter().find(|t| *t != "Now" && *t != "TimeOfCall") {
            return Err(ApiError::bad_request(format!(
                "contentSelector.contextTiming: invalid value '{bad}' (Now, TimeOfCall)"
            )));
        }
    }
    let world = &st.world;
    let calls = select_calls(world, &f)?;
    if calls.is_empty() {
        return Err(ApiError::not_found(NO_CALLS));
    }
    let fp = fingerprint("POST /v2/calls/extensive", &raw);
    let (page, records) = paginate(calls, cursor(&body)?, &fp)?;
    let rendered: Vec<Value> = page.into_iter().map(|c| render::call_extensive(world, c, &sel, level)).collect();
    ok(json!({ "requestId": request_id(), "records": records, "calls": rendered }))
}

pub(super) async fn transcripts(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let (f, raw): (CallsFilter, Value) = filter(&body)?;
    // `primaryUserIds` is not part of this endpoint's filter (unknown fields are ignored).
    let f = CallsFilter { primary_user_ids: None, ..f };
    let world = &st.world;
    let mut calls = select_calls(world, &f)?;
    // A live call's transcript is absent until it is ready.
    let now = world.now();
    calls.retain(|c| world.is_transcript_ready(c.index, now));
    if calls.is_empty() {
        return Err(ApiError::not_found(NO_CALLS));
    }
    let fp = fingerprint("POST /v2/calls/transcript", &raw);
    let (page, records) = paginate(calls, cursor(&body)?, &fp)?;
    let rendered: Vec<Value> = page.into_iter().map(|c| render::transcript(world, c.index)).collect();
    ok(json!({ "requestId": request_id(), "records": records, "callTranscripts": rendered }))
}

// ---------------------------------------------------------------- stats

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct StatsFilter {
    from_date: Option<String>,
    to_date: Option<String>,
    created_from_date_time: Option<String>,
    created_to_date_time: Option<String>,
    user_ids: Option<Vec<IdValue>>,
}

struct StatsQuery {
    from: NaiveDate,
    to: NaiveDate,
    people: Vec<usize>,
    raw: Value,
}

fn today(st: &AppState) -> NaiveDate {
    st.settings.today.unwrap_or_else(|| st.world.local_date(Utc::now()))
}

/// Validates the shared stats filter; returns the date range and the selected people.
fn stats_query(st: &AppState, body: &Value) -> Result<StatsQuery, ApiError> {
    let (f, raw): (StatsFilter, Value) = filter(body)?;
    let from_s =
        f.from_date.as_deref().ok_or_else(|| ApiError::bad_request("filter.fromDate: is required (YYYY-MM-DD)"))?;
    let to_s = f.to_date.as_deref().ok_or_else(|| ApiError::bad_request("filter.toDate: is required (YYYY-MM-DD)"))?;
    let from = parse_date("filter.fromDate", from_s)?;
    let to = parse_date("filter.toDate", to_s)?;
    if to > today(st) {
        return Err(ApiError::bad_request(format!("filter.toDate: {to} is later than the current day")));
    }
    if from >= to {
        return Err(ApiError::bad_request("filter.fromDate must be earlier than filter.toDate"));
    }
    let cfrom = parse_datetime("createdFromDateTime", f.created_from_date_time.as_deref())?;
    let cto = parse_datetime("createdToDateTime", f.created_to_date_time.as_deref())?;
    let wanted = id_texts(&f.user_ids);
    let people = gong_people(&st.world)
        .filter(|p| in_window(p.created, cfrom, cto))
        .filter(|p| wanted.as_ref().is_none_or(|w| w.contains(&ids::user_id(p.index))))
        .map(|p| p.index)
        .collect();
    Ok(StatsQuery { from, to, people, raw })
}

pub(super) async fn activity_aggregate(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let q = stats_query(&st, &body)?;
    let world = &st.world;
    if q.people.is_empty() {
        return Err(ApiError::not_found("User not found"));
    }
    let items: Vec<Value> = q
        .people
        .iter()
        .map(|&p| {
            json!({
                "userId": ids::user_id(p),
                "userEmailAddress": world.people[p].email,
                "userAggregateActivityStats": render::counters(&world.activity_sum(p, q.from, q.to)),
            })
        })
        .collect();
    let fp = fingerprint("POST /v2/stats/activity/aggregate", &q.raw);
    let (page, records) = paginate(items, cursor(&body)?, &fp)?;
    ok(json!({
        "requestId": request_id(),
        "records": records,
        "timeZone": world.time_zone.name(),
        "fromDateTime": render::iso_day(world, q.from),
        "toDateTime": render::iso_day(world, q.to),
        "usersAggregateActivityStats": page,
    }))
}

fn period_start(d: NaiveDate, period: &str) -> NaiveDate {
    match period {
        "WEEK" => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
        "MONTH" => d.with_day(1).expect("day 1"),
        "QUARTER" => NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1).expect("date"),
        "YEAR" => NaiveDate::from_ymd_opt(d.year(), 1, 1).expect("date"),
        _ => d,
    }
}

fn next_period(start: NaiveDate, period: &str) -> NaiveDate {
    match period {
        "WEEK" => start + Duration::days(7),
        "MONTH" => start.checked_add_months(chrono::Months::new(1)).expect("date"),
        "QUARTER" => start.checked_add_months(chrono::Months::new(3)).expect("date"),
        "YEAR" => start.checked_add_months(chrono::Months::new(12)).expect("date"),
        _ => start + Duration::days(1),
    }
}

/// `[from, to)` split into calendar periods (weeks start Monday), clipped at both ends.
pub(crate) fn periods(from: NaiveDate, to: NaiveDate, period: &str) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut p = period_start(from, period);
    while p < to {
        let next = next_period(p, period);
        out.push((p.max(from), next.min(to)));
        p = next;
    }
    out
}

pub(super) async fn activity_by_period(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let period = match body.get("aggregationPeriod").and_then(Value::as_str) {
        Some(p @ ("DAY" | "WEEK" | "MONTH" | "QUARTER" | "YEAR")) => p.to_string(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "aggregationPeriod: invalid value '{other}' (DAY, WEEK, MONTH, QUARTER, YEAR)"
            )));
        }
        None => return Err(ApiError::bad_request("aggregationPeriod: is required")),
    };
    let q = stats_query(&st, &body)?;
    let world = &st.world;
    let spans = periods(q.from, q.to, &period);
    let items: Vec<Value> = q
        .people
        .iter()
        .filter(|&&p| !world.activity_sum(p, q.from, q.to).is_empty())
        .map(|&p| {
            let per: Vec<Value> = spans
                .iter()
                .map(|&(s, e)| {
                    let mut m = render::counters(&world.activity_sum(p, s, e));
                    m.insert("fromDate".into(), json!(render::iso_day(world, s)));
                    m.insert("toDate".into(), json!(render::iso_day(world, e)));
                    Value::Object(m)
                })
                .collect();
            json!({
                "userId": ids::user_id(p),
                "userEmailAddress": world.people[p].email,
                "userAggregateActivity": per,
            })
        })
        .collect();
    if items.is_empty() {
        return Err(ApiError::not_found("No activity found for the specified period"));
    }
    let fp = fingerprint(&format!("POST /v2/stats/activity/aggregate-by-period {period}"), &q.raw);
    let (page, records) = paginate(items, cursor(&body)?, &fp)?;
    ok(json!({
        "requestId": request_id(),
        "records": records,
        "usersAggregateActivity": page,
    }))
}

pub(super) async fn interaction_stats(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let q = stats_query(&st, &body)?;
    let world = &st.world;
    let items: Vec<Value> = q
        .people
        .iter()
        .filter_map(|&p| {
            let s = world.interaction_stats(p, q.from, q.to)?;
            let mut stats = vec![
                json!({ "name": "Longest Monologue", "value": s.longest_monologue }),
                json!({ "name": "Longest Customer Story", "value": s.longest_customer_story }),
                json!({ "name": "Interactivity", "value": s.interactivity }),
                json!({ "name": "Patience", "value": s.patience }),
                json!({ "name": "Question Rate", "value": s.question_rate }),
            ];
            if st.settings.extra_interaction_stat {
                stats.push(json!({ "name": "Engaging Questions", "value": s.calls }));
            }
            Some(json!({
                "userId": ids::user_id(p),
                "userEmailAddress": world.people[p].email,
                "personInteractionStats": stats,
            }))
        })
        .collect();
    if items.is_empty() {
        return Err(ApiError::not_found("No stats found for the specified period"));
    }
    let fp = fingerprint("POST /v2/stats/interaction", &q.raw);
    let (page, records) = paginate(items, cursor(&body)?, &fp)?;
    ok(json!({
        "requestId": request_id(),
        "records": records,
        "timeZone": world.time_zone.name(),
        "fromDateTime": render::iso_day(world, q.from),
        "toDateTime": render::iso_day(world, q.to),
        "peopleInteractionStats": page,
    }))
}

// ---------------------------------------------------------------- scorecards

pub(super) async fn scorecards(State(st): State<AppState>) -> ApiResult {
    let world = &st.world;
    if world.scorecards.is_empty() {
        return Err(ApiError::not_found("Scorecards not found"));
    }
    let list: Vec<Value> = world.scorecards.iter().map(|s| render::scorecard(world, s)).collect();
    ok(json!({ "requestId": request_id(), "scorecards": list }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AnsweredFilter {
    call_from_date: Option<String>,
    call_to_date: Option<String>,
    review_from_date: Option<String>,
    review_to_date: Option<String>,
    reviewed_user_ids: Option<Vec<IdValue>>,
    scorecard_ids: Option<Vec<IdValue>>,
}

fn opt_date(name: &str, v: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    v.as_deref().map(|s| parse_date(name, s)).transpose()
}

fn in_days(d: NaiveDate, from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
    from.is_none_or(|f| d >= f) && to.is_none_or(|t| d < t)
}

pub(super) async fn answered_scorecards(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let (f, raw): (AnsweredFilter, Value) = filter(&body)?;
    let call_from = opt_date("filter.callFromDate", &f.call_from_date)?;
    let call_to = opt_date("filter.callToDate", &f.call_to_date)?;
    let review_from = opt_date("filter.reviewFromDate", &f.review_from_date)?;
    let review_to = opt_date("filter.reviewToDate", &f.review_to_date)?;
    let reviewed: Option<Vec<usize>> =
        id_texts(&f.reviewed_user_ids).map(|v| v.iter().filter_map(|s| ids::person_index(s)).collect());
    let mut scorecard_ids = None;
    if let Some(list) = id_texts(&f.scorecard_ids) {
        let mut v = Vec::new();
        for s in list {
            let n: i64 =
                s.parse().map_err(|_| ApiError::bad_request(format!("filter.scorecardIds: invalid id '{s}'")))?;
            v.extend(ids::scorecard_index(n));
        }
        scorecard_ids = Some(v);
    }
    let world = &st.world;
    let now = world.now();
    let items: Vec<Value> = world
        .answered_scorecards
        .iter()
        .filter(|a| world.is_answered_visible(a, now))
        .filter(|a| in_days(world.local_date(world.calls[a.call].started), call_from, call_to))
        .filter(|a| in_days(world.local_date(a.review_time), review_from, review_to))
        .filter(|a| reviewed.as_ref().is_none_or(|r| r.contains(&a.reviewed)))
        .filter(|a| scorecard_ids.as_ref().is_none_or(|s| s.contains(&a.scorecard)))
        .map(|a| render::answered_scorecard(world, a))
        .collect();
    if items.is_empty() {
        return Err(ApiError::not_found("Answered scorecards not found"));
    }
    let fp = fingerprint("POST /v2/stats/activity/scorecards", &raw);
    let (page, records) = paginate(items, cursor(&body)?, &fp)?;
    ok(json!({ "requestId": request_id(), "records": records, "answeredScorecards": page }))
}

// ---------------------------------------------------------------- coaching, workspaces

pub(super) async fn coaching(State(st): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let required = |name: &str| {
        q.get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("Required request parameter '{name}' is missing")))
    };
    let ws = required("workspace-id")?;
    let manager = required("manager-id")?;
    let from = parse_datetime("from", Some(required("from")?))?.expect("given");
    let to = parse_datetime("to", Some(required("to")?))?.expect("given");
    let ws: i64 = ws.parse().map_err(|_| ApiError::bad_request(format!("workspace-id: invalid int64 '{ws}'")))?;
    let manager_num: i64 =
        manager.parse().map_err(|_| ApiError::bad_request(format!("manager-id: invalid int64 '{manager}'")))?;
    let world = &st.world;
    if ws != ids::WORKSPACE_ID_NUM {
        return Err(ApiError::new(StatusCode::FORBIDDEN, format!("Access denied to workspace {ws}")));
    }
    let Some(m) = ids::person_index(&manager_num.to_string()).filter(|&m| m < world.people.len()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("Access denied: user {manager_num} is not a manager in this workspace"),
        ));
    };
    let reports: Vec<Value> = world
        .coaching(m, from, to)
        .into_iter()
        .map(|r| {
            let metrics: serde_json::Map<String, Value> = r
                .metrics
                .iter()
                .map(|(k, calls)| ((*k).to_string(), json!(calls.iter().map(|&c| ids::call_id(c)).collect::<Vec<_>>())))
                .collect();
            json!({
                "report": render::coaching_user(&world.people[r.report]),
                "metrics": metrics,
            })
        })
        .collect();
    ok(json!({
        "requestId": request_id(),
        "coachingData": [ {
            "manager": render::coaching_user(&world.people[m]),
            "directReportsMetrics": reports,
        } ],
    }))
}

pub(super) async fn workspaces(State(st): State<AppState>) -> ApiResult {
    let ws = &st.world.workspace;
    ok(json!({
        "requestId": request_id(),
        "workspaces": [ { "id": ids::WORKSPACE_ID, "name": ws.name, "description": ws.description } ],
    }))
}

pub(super) async fn unknown_route() -> ApiError {
    ApiError::not_found("No such endpoint")
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "HTTP method not supported by this endpoint")
}
