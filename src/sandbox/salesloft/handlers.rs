//! Endpoint handlers of the Salesloft simulator.

use std::cmp::Ordering;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use serde_json::{Map, Value, json};

use super::{AppState, SlError, ids};
use crate::sandbox::{
    World,
    world_sl::{LANGUAGE_CODES, PLATFORMS, SlConversation, SlUser},
};

type SlResult = Result<Json<Value>, SlError>;

/// Query parameters in order (repeated names allowed).
type Params = Vec<(String, String)>;

/// Default and largest `per_page`.
const DEFAULT_PER_PAGE: u64 = 25;
const MAX_PER_PAGE: u64 = 100;

fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A list parameter: repeated `name[]=v`, or `name=a,b`; `None` when absent.
fn list_param(p: &Params, name: &str) -> Option<Vec<String>> {
    let bracket = format!("{name}[]");
    let mut out = Vec::new();
    let mut seen = false;
    for (k, v) in p {
        if *k == bracket {
            seen = true;
            out.push(v.trim().to_owned());
        } else if k == name {
            seen = true;
            out.extend(v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
        }
    }
    seen.then_some(out)
}

fn bool_param(p: &Params, name: &str) -> Result<Option<bool>, SlError> {
    match param(p, name).map(str::trim) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(SlError::invalid(name, "must be true or false")),
    }
}

/// Microsecond-precision UTC timestamp, as Salesloft renders them.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn trunc_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

/// ISO-8601: RFC 3339 (any fraction, `Z` or an offset), a naive date-time (UTC) or a
/// date (midnight UTC); truncated to the microsecond.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        d.with_timezone(&Utc)
    } else if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        Utc.from_utc_datetime(&n)
    } else {
        Utc.from_utc_datetime(&NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0)?)
    };
    Some(trunc_micros(t))
}

fn base(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("api.salesloft.com");
    format!("http://{host}")
}

fn reference(base: &str, id: impl Into<Value>, path: String) -> Value {
    json!({ "id": id.into(), "_href": format!("{base}{path}") })
}

// ---------------------------------------------------------------- paging

struct Paging {
    page: u64,
    per_page: u64,
    counts: bool,
}

fn paging(p: &Params) -> Result<Paging, SlError> {
    let number = |name: &str, default: u64, max: u64| -> Result<u64, SlError> {
        match param(p, name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ if max == u64::MAX => Err(SlError::invalid(name, "must be a positive integer")),
                _ => Err(SlError::invalid(name, format!("must be in the range [1, {max}]"))),
            },
        }
    };
    Ok(Paging {
        page: number("page", 1, u64::MAX)?,
        per_page: number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?,
        counts: bool_param(p, "include_paging_counts")?.unwrap_or(false),
    })
}

/// One page of `items` in the list envelope.
fn page_of(items: Vec<Value>, paging: &Paging, filtering: Value, sorting: Value) -> Value {
    let total = items.len() as u64;
    let start = (paging.page - 1).saturating_mul(paging.per_page);
    let data: Vec<Value> =
        items.into_iter().skip(usize::try_from(start).unwrap_or(usize::MAX)).take(paging.per_page as usize).collect();
    let total_pages = total.div_ceil(paging.per_page);
    let mut meta = json!({
        "per_page": paging.per_page,
        "current_page": paging.page,
        "next_page": if paging.page < total_pages { json!(paging.page + 1) } else { Value::Null },
        "prev_page": if paging.page > 1 { json!(paging.page - 1) } else { Value::Null },
    });
    if paging.counts {
        meta["total_pages"] = json!(total_pages);
        meta["total_count"] = json!(total);
    }
    json!({ "metadata": { "filtering": filtering, "sorting": sorting, "paging": meta }, "data": data })
}

// ---------------------------------------------------------------- filters

/// `gt`/`gte`/`lt`/`lte` bounds.
#[derive(Default)]
struct Bounds<T> {
    gt: Option<T>,
    gte: Option<T>,
    lt: Option<T>,
    lte: Option<T>,
}

impl<T: PartialOrd> Bounds<T> {
    fn contains(&self, v: &T) -> bool {
        self.gt.as_ref().is_none_or(|b| v > b)
            && self.gte.as_ref().is_none_or(|b| v >= b)
            && self.lt.as_ref().is_none_or(|b| v < b)
            && self.lte.as_ref().is_none_or(|b| v <= b)
    }
}

fn bounds<T>(
    p: &Params,
    field: &str,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
    filtering: &mut Map<String, Value>,
) -> Result<Bounds<T>, SlError> {
    let mut b = Bounds { gt: None, gte: None, lt: None, lte: None };
    for (op, slot) in [("gt", &mut b.gt), ("gte", &mut b.gte), ("lt", &mut b.lt), ("lte", &mut b.lte)] {
        let name = format!("{field}[{op}]");
        if let Some(v) = param(p, &name) {
            *slot = Some(parse(v).ok_or_else(|| SlError::invalid(&name, format!("must be {what}")))?);
            filtering.insert(name, json!(v));
        }
    }
    Ok(b)
}

fn one_of(
    p: &Params,
    name: &str,
    allowed: &[&str],
    filtering: &mut Map<String, Value>,
) -> Result<Option<String>, SlError> {
    match param(p, name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v.trim()) => {
            filtering.insert(name.into(), json!(v.trim()));
            Ok(Some(v.trim().to_owned()))
        }
        Some(_) => Err(SlError::invalid(name, format!("must be one of: {}", allowed.join(", ")))),
    }
}

struct ConversationFilter {
    title: Option<String>,
    title_prefix: Option<String>,
    created: Bounds<DateTime<Utc>>,
    updated: Bounds<DateTime<Utc>>,
    duration: Bounds<f64>,
    language: Option<String>,
    platform: Option<String>,
    media: Option<String>,
    owner_ids: Option<Vec<String>>,
    user_guids: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    account_ids: Option<Vec<String>>,
    person_ids: Option<Vec<String>>,
    is_api: Option<bool>,
}

fn conversation_filter(p: &Params, filtering: &mut Map<String, Value>) -> Result<ConversationFilter, SlError> {
    let mut list = |name: &str| {
        let v = list_param(p, name);
        if let Some(v) = &v {
            filtering.insert(name.into(), json!(v));
        }
        v
    };
    let (owner_ids, user_guids, ids, account_ids, person_ids) =
        (list("owner_ids"), list("user_guids"), list("ids"), list("account_ids"), list("person_ids"));
    let mut text = |name: &str| {
        let v = param(p, name).map(str::to_owned);
        if let Some(v) = &v {
            filtering.insert(name.into(), json!(v));
        }
        v
    };
    let (title, title_prefix) = (text("title"), text("title[_starts_with]"));
    let time = "an ISO-8601 timestamp";
    let is_api = bool_param(p, "is_api")?;
    if let Some(b) = is_api {
        filtering.insert("is_api".into(), json!(b));
    }
    Ok(ConversationFilter {
        title,
        title_prefix,
        created: bounds(p, "created_at", parse_time, time, filtering)?,
        updated: bounds(p, "updated_at", parse_time, time, filtering)?,
        duration: bounds(
            p,
            "duration",
            |s| s.trim().parse::<f64>().ok().filter(|d| d.is_finite()),
            "a number of milliseconds",
            filtering,
        )?,
        language: one_of(p, "language_code", &LANGUAGE_CODES, filtering)?,
        platform: one_of(p, "platform", &PLATFORMS, filtering)?,
        media: one_of(p, "media_type", &["audio", "video"], filtering)?,
        owner_ids,
        user_guids,
        ids,
        account_ids,
        person_ids,
        is_api,
    })
}

fn in_list(list: &Option<Vec<String>>, v: Option<String>) -> bool {
    list.as_ref().is_none_or(|l| v.is_some_and(|v| l.iter().any(|x| x.eq_ignore_ascii_case(&v))))
}

impl ConversationFilter {
    fn matches(&self, st: &AppState, c: &SlConversation) -> bool {
        let title = &st.world.calls[c.call].title;
        self.title.as_ref().is_none_or(|t| t == title)
            && self.title_prefix.as_ref().is_none_or(|p| title.to_lowercase().starts_with(&p.to_lowercase()))
            && self.created.contains(&c.created_at)
            && self.updated.contains(&c.updated_at)
            && self.duration.contains(&c.duration_ms)
            && self.language.as_ref().is_none_or(|l| *l == c.language_code)
            && self.platform.as_deref().is_none_or(|p| p == c.platform)
            && self.media.as_deref().is_none_or(|m| m == c.media_type)
            && in_list(&self.owner_ids, Some(ids::user_guid(c.owner)))
            && in_list(&self.user_guids, Some(ids::user_guid(c.recorder)))
            && in_list(&self.ids, Some(ids::conversation_id(c.call)))
            && in_list(&self.account_ids, c.account.map(|a| ids::account_id(a).to_string()))
            && in_list(&self.person_ids, c.person.map(|p| ids::person_id(p).to_string()))
            && self.is_api.is_none_or(|b| b == c.is_api)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Created,
    Updated,
    Duration,
}

fn sorting(p: &Params, allowed: &[(&str, SortKey)]) -> Result<(SortKey, bool, Value), SlError> {
    let by = param(p, "sort_by").map_or("created_at", str::trim);
    let key = allowed.iter().find(|(n, _)| *n == by).map(|(_, k)| *k).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        SlError::invalid("sort_by", format!("must be one of: {}", names.join(", ")))
    })?;
    let dir = param(p, "sort_direction").map_or("DESC", str::trim);
    let desc = if dir.eq_ignore_ascii_case("desc") {
        true
    } else if dir.eq_ignore_ascii_case("asc") {
        false
    } else {
        return Err(SlError::invalid("sort_direction", "must be one of: ASC, DESC"));
    };
    Ok((key, desc, json!({ "sort_by": by, "sort_direction": if desc { "DESC" } else { "ASC" } })))
}

// ---------------------------------------------------------------- conversations

/// A conversation as the API (and its webhooks) render it; `base` is the API's URL.
pub(crate) fn conversation_json(world: &World, base: &str, c: &SlConversation) -> Value {
    let call = &world.calls[c.call];
    let id = ids::conversation_id(c.call);
    let tid = ids::transcription_id(c.call);
    let transcription = |path: &str, rid: String| {
        if c.transcribed { reference(base, rid, format!("/v2/transcriptions/{tid}{path}")) } else { Value::Null }
    };
    let end = call.scheduled + Duration::milliseconds(c.duration_ms as i64);
    json!({
        "id": id,
        "title": call.title,
        "duration": c.duration_ms,
        "is_api": c.is_api,
        "platform": c.platform,
        "media_type": c.media_type,
        "organization_id": ids::organization_id(),
        "owner_id": ids::user_guid(c.owner),
        "user_guid": ids::user_guid(c.recorder),
        "started_recording_at": call.started.timestamp_millis(),
        "event_start_date": ts(call.scheduled),
        "event_end_date": ts(end),
        "language_code": c.language_code,
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "call_id": c.call_data_record,
        "account": c.account.map_or(Value::Null, |a| {
            let aid = ids::account_id(a).to_string();
            reference(base, aid.clone(), format!("/v2/accounts/{aid}"))
        }),
        "person": c.person.map_or(Value::Null, |k| {
            let pid = ids::person_id(k).to_string();
            reference(base, pid.clone(), format!("/v2/people/{pid}"))
        }),
        "recording": reference(base, ids::recording_id(c.call), format!("/v2/conversations/{id}/recording")),
        "transcription": transcription("", tid.clone()),
        "transcription_sentences": transcription("/sentences", tid.clone()),
        "transcription_artifact": transcription("/artifact", ids::artifact_id(c.call)),
    })
}

pub(super) async fn conversations(State(st): State<AppState>, headers: HeaderMap, Query(p): Query<Params>) -> SlResult {
    let paging = paging(&p)?;
    let mut filtering = Map::new();
    let filter = conversation_filter(&p, &mut filtering)?;
    let (key, desc, sorting) = sorting(
        &p,
        &[("created_at", SortKey::Created), ("updated_at", SortKey::Updated), ("duration", SortKey::Duration)],
    )?;
    let mut matched: Vec<(String, SlConversation)> = visible_conversations(&st)
        .filter(|c| filter.matches(&st, c))
        .map(|c| (ids::conversation_id(c.call), c))
        .collect();
    matched.sort_by(|(ida, a), (idb, b)| {
        let primary = match key {
            SortKey::Created => a.created_at.cmp(&b.created_at),
            SortKey::Updated => a.updated_at.cmp(&b.updated_at),
            SortKey::Duration => a.duration_ms.partial_cmp(&b.duration_ms).unwrap_or(Ordering::Equal),
        };
        let ordered = primary.then_with(|| ida.cmp(idb));
        if desc { ordered.reverse() } else { ordered }
    });
    let base = base(&headers);
    let items = matched.iter().map(|(_, c)| conversation_json(&st.world, &base, c)).collect();
    Ok(Json(page_of(items, &paging, Value::Object(filtering), sorting)))
}

/// Every conversation that exists now, as it stands now (live calls appear when they
/// end and get their transcription later; see [`SlConversation::as_of`]).
fn visible_conversations(st: &AppState) -> impl Iterator<Item = SlConversation> + '_ {
    let now = st.world.now();
    st.data.conversations.iter().filter(move |c| st.world.is_visible(c.call, now)).map(move |c| c.as_of(now))
}

/// The conversation of world call `call` as it stands now, when it exists.
fn conversation_now(st: &AppState, call: usize) -> Option<SlConversation> {
    let now = st.world.now();
    st.data.conversation(call).filter(|c| st.world.is_visible(c.call, now)).map(|c| c.as_of(now))
}

fn find_conversation(st: &AppState, id: &str) -> Result<SlConversation, SlError> {
    ids::call_index(id).and_then(|call| conversation_now(st, call)).ok_or_else(|| SlError::not_found("Conversation"))
}

pub(super) async fn conversation(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> SlResult {
    let c = find_conversation(&st, &id)?;
    Ok(Json(json!({ "data": conversation_json(&st.world, &base(&headers), &c) })))
}

pub(super) async fn recording(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> SlResult {
    let c = find_conversation(&st, &id)?;
    let base = base(&headers);
    let rid = ids::recording_id(c.call);
    let (ext, content_type) = if c.media_type == "video" { ("mp4", "video/mp4") } else { ("mp3", "audio/mpeg") };
    let expires = trunc_micros(Utc::now()) + Duration::hours(8);
    Ok(Json(json!({ "data": {
        "id": rid,
        "url": format!("https://media.salesloft-sandbox.invalid/recordings/{rid}.{ext}?X-Amz-Expires=28800&X-Amz-Signature=sandbox"),
        "content_type": content_type,
        "expires_at": ts(expires),
        "conversation": reference(&base, ids::conversation_id(c.call), format!("/v2/conversations/{}", ids::conversation_id(c.call))),
    } })))
}

// ---------------------------------------------------------------- transcriptions

fn find_transcribed(st: &AppState, id: &str) -> Result<SlConversation, SlError> {
    ids::call_of_transcription(id)
        .and_then(|call| conversation_now(st, call))
        .filter(|c| c.transcribed)
        .ok_or_else(|| SlError::not_found("Transcription"))
}

fn transcription_json(base: &str, c: &SlConversation) -> Value {
    let (cid, tid) = (ids::conversation_id(c.call), ids::transcription_id(c.call));
    let at = ts(c.transcription_time());
    json!({
        "id": tid,
        "language_code": c.language_code,
        "created_at": at,
        "updated_at": at,
        "conversation": reference(base, cid.clone(), format!("/v2/conversations/{cid}")),
        "transcription_sentences": reference(base, tid.clone(), format!("/v2/transcriptions/{tid}/sentences")),
        "transcription_artifact": reference(base, ids::artifact_id(c.call), format!("/v2/transcriptions/{tid}/artifact")),
    })
}

pub(super) async fn transcription(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> SlResult {
    let c = find_transcribed(&st, &id)?;
    Ok(Json(json!({ "data": transcription_json(&base(&headers), &c) })))
}

/// `GET /v2/transcriptions`: filters `created_at[...]`, `updated_at[...]`,
/// `language_code`, `ids` (transcription ids); `sort_by` `created_at` (default) |
/// `updated_at`, ties by id.
pub(super) async fn transcriptions(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> SlResult {
    let paging = paging(&p)?;
    let mut filtering = Map::new();
    let time = "an ISO-8601 timestamp";
    let created = bounds(&p, "created_at", parse_time, time, &mut filtering)?;
    let updated = bounds(&p, "updated_at", parse_time, time, &mut filtering)?;
    let language = one_of(&p, "language_code", &LANGUAGE_CODES, &mut filtering)?;
    let wanted = list_param(&p, "ids");
    if let Some(v) = &wanted {
        filtering.insert("ids".into(), json!(v));
    }
    let (_, desc, sorting) = sorting(&p, &[("created_at", SortKey::Created), ("updated_at", SortKey::Updated)])?;
    // A transcription is never modified after it is created: both keys sort alike.
    let mut matched: Vec<(DateTime<Utc>, String, SlConversation)> = visible_conversations(&st)
        .filter(|c| c.transcribed)
        .map(|c| (c.transcription_time(), ids::transcription_id(c.call), c))
        .filter(|(t, id, c)| {
            created.contains(t)
                && updated.contains(t)
                && language.as_ref().is_none_or(|l| *l == c.language_code)
                && in_list(&wanted, Some(id.clone()))
        })
        .collect();
    matched.sort_by(|a, b| {
        let ordered = (a.0, &a.1).cmp(&(b.0, &b.1));
        if desc { ordered.reverse() } else { ordered }
    });
    let base = base(&headers);
    let items = matched.iter().map(|(_, _, c)| transcription_json(&base, c)).collect();
    Ok(Json(page_of(items, &paging, Value::Object(filtering), sorting)))
}

pub(super) async fn artifact(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> SlResult {
    let c = find_transcribed(&st, &id)?;
    let base = base(&headers);
    let cid = ids::conversation_id(c.call);
    let aid = ids::artifact_id(c.call);
    Ok(Json(json!({ "data": {
        "id": aid,
        "url": format!("https://media.salesloft-sandbox.invalid/transcripts/{aid}.json?X-Amz-Expires=28800&X-Amz-Signature=sandbox"),
        "content_type": "application/json",
        "language_code": c.language_code,
        "created_at": ts(c.transcription_time()),
        "updated_at": ts(c.transcription_time()),
        "conversation": reference(&base, cid.clone(), format!("/v2/conversations/{cid}")),
    } })))
}

pub(super) async fn sentences(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> SlResult {
    let paging = paging(&p)?;
    let c = find_transcribed(&st, &id)?;
    let base = base(&headers);
    let cid = ids::conversation_id(c.call);
    let items = st
        .data
        .sentences(&st.world, c.call)
        .into_iter()
        .map(|s| {
            json!({
                "id": ids::sentence_id(c.call, s.order_number),
                "start_time": s.start_secs,
                "end_time": s.end_secs,
                "order_number": s.order_number,
                "recording_attendee_id": ids::attendee_id(c.call, s.participant),
                "text": s.text,
                "conversation": reference(&base, cid.clone(), format!("/v2/conversations/{cid}")),
            })
        })
        .collect();
    let sorting = json!({ "sort_by": "order_number", "sort_direction": "ASC" });
    Ok(Json(page_of(items, &paging, json!({}), sorting)))
}

// ---------------------------------------------------------------- users

fn user_json(st: &AppState, base: &str, u: &SlUser) -> Value {
    let p = &st.world.people[u.person];
    let id = ids::user_id(u.person);
    let name = p.full_name();
    json!({
        "id": id,
        "guid": ids::user_guid(u.person),
        "created_at": ts(u.created_at),
        "updated_at": ts(u.updated_at),
        "name": name,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "job_role": p.title,
        "active": p.active,
        "time_zone": "US/Eastern",
        "locale_utc_offset": -18000,
        "slack_username": null,
        "twitter_handle": null,
        "email": u.email,
        "email_client_email_address": u.email,
        "sending_email_address": u.email,
        "from_address": u.email,
        "full_email_address": format!("\"{name}\" <{}>", u.email),
        "bcc_email_address": null,
        "work_country": if p.team == "EMEA" { "GB" } else { "US" },
        "email_signature": "",
        "email_signature_type": "html",
        "email_signature_click_tracking_disabled": false,
        "team_admin": p.is_manager(),
        "local_dial_enabled": true,
        "click_to_call_enabled": true,
        "email_client_configured": true,
        "crm_connected": true,
        "external_feature_flags": {},
        "phone_client": { "id": 60_000 + id },
        "phone_number_assignment": reference(base, 70_000 + id, format!("/v2/phone_number_assignments/{}", 70_000 + id)),
        "group": reference(base, 11, "/v2/groups/11".to_owned()),
        "team": reference(base, 3, "/v2/team".to_owned()),
        "role": { "id": if p.is_manager() { "Admin" } else { "User" } },
    })
}

pub(super) async fn users(State(st): State<AppState>, headers: HeaderMap, Query(p): Query<Params>) -> SlResult {
    let paging = paging(&p)?;
    let mut filtering = Map::new();
    let id_list = list_param(&p, "ids");
    let guids = list_param(&p, "guid");
    let active = bool_param(&p, "active")?;
    if let Some(v) = &id_list {
        filtering.insert("ids".into(), json!(v));
    }
    if let Some(v) = &guids {
        filtering.insert("guid".into(), json!(v));
    }
    if let Some(a) = active {
        filtering.insert("active".into(), json!(a));
    }
    let base = base(&headers);
    let mut listed: Vec<&SlUser> = st
        .data
        .users
        .iter()
        .filter(|u| {
            in_list(&id_list, Some(ids::user_id(u.person).to_string()))
                && in_list(&guids, Some(ids::user_guid(u.person)))
                && active.is_none_or(|a| a == st.world.people[u.person].active)
        })
        .collect();
    listed.sort_by_key(|u| ids::user_id(u.person));
    let items = listed.into_iter().map(|u| user_json(&st, &base, u)).collect();
    let sorting = json!({ "sort_by": "id", "sort_direction": "ASC" });
    Ok(Json(page_of(items, &paging, Value::Object(filtering), sorting)))
}

pub(super) async fn user(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> SlResult {
    let person = id.trim().parse::<u64>().ok().and_then(ids::person_of_user_id);
    let u = person.and_then(|p| st.data.user(p)).ok_or_else(|| SlError::not_found("User"))?;
    Ok(Json(json!({ "data": user_json(&st, &base(&headers), u) })))
}

// ---------------------------------------------------------------- fallbacks

pub(super) async fn unknown_route() -> Response {
    SlError::new(StatusCode::NOT_FOUND, "Not found").into_response()
}

pub(super) async fn method_not_allowed() -> Response {
    SlError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").into_response()
}
