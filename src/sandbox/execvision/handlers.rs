//! Endpoint handlers of the ExecVision simulator.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, TimeZone, Timelike, Utc};
use serde_json::Value;

use super::render::{self, CallOpts};
use super::{AppState, EvError, ids};
use crate::sandbox::world_ev::{CallState, EvCall};

type EvResult = Result<Json<Value>, EvError>;

/// Query parameters in order (repeated names allowed; the last one wins).
type Params = Vec<(String, String)>;

fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Default page size.
const DEFAULT_LIMIT: usize = 100;
/// Maximum `limit` unless an endpoint says otherwise.
const MAX_LIMIT: usize = 1000;
/// Maximum `limit` of `call_topics` and of `calls` with `render_templates=true`.
const SMALL_MAX_LIMIT: usize = 100;
/// `calls/search` returns at most this many ids.
const SEARCH_MAX: usize = 1000;

/// Parses an ISO-8601 date-time (`2021-12-31T09:15Z`, `2023-08-15T00:00:00Z`,
/// `...T10:00:01.5-04:00`; no zone = UTC) and truncates it to the minute.
pub(crate) fn parse_since(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        d.with_timezone(&Utc)
    } else if let Some(naive) = s.strip_suffix(['Z', 'z']) {
        Utc.from_utc_datetime(&parse_naive(naive)?)
    } else if let Ok(d) =
        DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z").or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%z"))
    {
        d.with_timezone(&Utc)
    } else {
        Utc.from_utc_datetime(&parse_naive(s)?)
    };
    t.with_second(0).and_then(|t| t.with_nanosecond(0))
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// A page request: `since` (minute), `limit`, optional `last_id`.
#[derive(Debug)]
struct PageReq {
    since: DateTime<Utc>,
    limit: usize,
    last_id: Option<String>,
}

fn page_req(p: &Params, max: usize, with_last_id: bool) -> Result<PageReq, EvError> {
    let since = match param(p, "since") {
        None => return Err(EvError::bad_request("Missing required parameter: since")),
        Some(s) => parse_since(s).ok_or_else(|| {
            EvError::bad_request(format!(
                "Invalid since '{s}': expected an ISO 8601 timestamp such as 2021-12-31T09:15Z"
            ))
        })?,
    };
    let limit = match param(p, "limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .trim()
            .parse::<usize>()
            .map_err(|_| EvError::bad_request(format!("Invalid limit '{l}': expected a nonnegative integer")))?,
    };
    if limit > max {
        return Err(EvError::bad_request(format!("Invalid limit {limit}: the maximum for this request is {max}")));
    }
    let last_id = if with_last_id { param(p, "last_id").map(|s| s.trim().to_lowercase()) } else { None };
    Ok(PageReq { since, limit, last_id })
}

fn bool_param(p: &Params, name: &str) -> Result<bool, EvError> {
    match param(p, name).map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(EvError::bad_request(format!("Invalid {name} '{v}': expected true or false"))),
    }
}

/// A record keyed for paging: (time, id, record).
type Keyed<I> = (DateTime<Utc>, String, I);

/// Records with key time ≥ `since`, ordered by (time, id), after `last_id` (or from
/// it, with the repeat bug), at most `limit`.
fn select<I>(mut items: Vec<Keyed<I>>, req: &PageReq, repeat: bool) -> Vec<I> {
    items.retain(|(t, _, _)| *t >= req.since);
    items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let start = req
        .last_id
        .as_ref()
        .and_then(|l| items.iter().position(|(_, id, _)| id == l))
        .map_or(0, |p| if repeat { p } else { p + 1 });
    items.into_iter().skip(start).take(req.limit).map(|(_, _, i)| i).collect()
}

fn array(items: Vec<Value>) -> EvResult {
    Ok(Json(Value::Array(items)))
}

// ---------------------------------------------------------------- org

pub(super) async fn check() -> StatusCode {
    StatusCode::OK
}

pub(super) async fn users(State(st): State<AppState>) -> EvResult {
    let data = &st.shared.data;
    array(data.users(&st.world).map(|p| render::user(&st.world, data, p)).collect())
}

pub(super) async fn teams(State(st): State<AppState>) -> EvResult {
    let data = &st.shared.data;
    array((0..data.teams.len()).map(|t| render::team(data, t)).collect())
}

pub(super) async fn departments(State(st): State<AppState>) -> EvResult {
    let data = &st.shared.data;
    array((0..data.departments.len()).map(|d| render::department(data, d)).collect())
}

pub(super) async fn topics(State(st): State<AppState>) -> EvResult {
    let data = &st.shared.data;
    array(data.topics.iter().filter(|t| t.active).map(|t| render::topic(data, t.index)).collect())
}

// ---------------------------------------------------------------- calls

pub(super) async fn calls(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let opts = CallOpts {
        transcript: bool_param(&p, "include_transcripts")?,
        crm_matches: bool_param(&p, "include_crm_matches")?,
        templates: bool_param(&p, "render_templates")?,
    };
    let req = page_req(&p, if opts.templates { SMALL_MAX_LIMIT } else { MAX_LIMIT }, true)?;
    let now = st.world.now();
    let items = st
        .shared
        .data
        .calls
        .iter()
        .filter_map(|c| st.call_at(c.call, now))
        .map(|c| (c.modified, ids::call_id(c.call), c))
        .collect();
    let page = select(items, &req, st.settings.repeat_last_id);
    array(page.iter().map(|c| render::call(&st.world, c, opts)).collect())
}

pub(super) async fn calls_deleted(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, true)?;
    let data = &st.shared.data;
    let mut items: Vec<Keyed<(usize, DateTime<Utc>)>> =
        data.calls.iter().filter_map(|c| c.deleted_at.map(|t| (t, ids::call_id(c.call), (c.call, t)))).collect();
    for (call, t) in st.shared.api_deleted.lock().expect("deleted lock").iter() {
        items.push((*t, ids::call_id(*call), (*call, *t)));
    }
    let page = select(items, &req, st.settings.repeat_last_id);
    array(page.into_iter().map(|(c, t)| render::deleted_call(&st.world, c, t)).collect())
}

pub(super) async fn calls_search(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let [(field, value)] = p.as_slice() else {
        return Err(EvError::bad_request(format!(
            "calls/search takes exactly one field_name=field_value query parameter, got {}",
            p.len()
        )));
    };
    let now = st.world.now();
    let mut hits: Vec<(DateTime<Utc>, String)> = st
        .shared
        .data
        .calls
        .iter()
        .filter_map(|c| st.call_at(c.call, now))
        .filter(|c| render::search_value(&st.world, c, field).is_some_and(|v| v == *value))
        .map(|c| (c.modified, ids::call_id(c.call)))
        .collect();
    hits.sort();
    array(hits.into_iter().take(SEARCH_MAX).map(|(_, id)| Value::String(id)).collect())
}

/// The call with ExecVision id `id` as it stands now (404 when unknown, deleted or
/// not there yet).
fn live_call(st: &AppState, id: &str) -> Result<EvCall, EvError> {
    ids::call_index(id)
        .and_then(|j| st.call_at(j, st.world.now()))
        .ok_or_else(|| EvError::not_found(format!("Call not found: {id}")))
}

pub(super) async fn get_call(State(st): State<AppState>, Path(id): Path<String>) -> EvResult {
    let ev = live_call(&st, &id)?;
    Ok(Json(render::call(&st.world, &ev, CallOpts::ALL)))
}

pub(super) async fn delete_call(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, EvError> {
    if !st.settings.delete_enabled {
        return Err(EvError::new(StatusCode::FORBIDDEN, "Deleting calls is not enabled for this token"));
    }
    let j = live_call(&st, &id)?.call;
    st.shared.api_deleted.lock().expect("deleted lock").insert(j, st.shared.clock.now());
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn call_topics(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, SMALL_MAX_LIMIT, true)?;
    let window =
        match (param(&p, "window_length"), param(&p, "minimum_matches")) {
            (None, None) => None,
            (Some(l), Some(m)) => {
                let len =
                    l.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(|| {
                        EvError::bad_request(format!("Invalid window_length '{l}': expected seconds"))
                    })?;
                let min = m.trim().parse::<usize>().map_err(|_| {
                    EvError::bad_request(format!("Invalid minimum_matches '{m}': expected a nonnegative integer"))
                })?;
                Some((len, min))
            }
            _ => return Err(EvError::bad_request("window_length and minimum_matches must be given together")),
        };
    let data = &st.shared.data;
    let now = st.world.now();
    let items = data
        .calls
        .iter()
        .filter_map(|c| st.call_at(c.call, now))
        .filter(|c| c.state == CallState::Complete)
        .map(|c| (c.modified, ids::call_id(c.call), c))
        .collect();
    let page = select(items, &req, st.settings.repeat_last_id);
    array(page.iter().map(|c| render::call_topics(&st.world, data, c, window)).collect())
}

pub(super) async fn transcript(State(st): State<AppState>, Path(id): Path<String>) -> EvResult {
    let ev = live_call(&st, &id)?;
    if ev.state != CallState::Complete {
        return Err(EvError::not_found(format!("No transcript for call {id}")));
    }
    Ok(Json(render::simple_transcript(&st.world, &st.world.calls[ev.call])))
}

// ---------------------------------------------------------------- activity (since + limit)

pub(super) async fn listens(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, false)?;
    let now = st.shared.clock.now();
    let items = st
        .shared
        .data
        .listens
        .iter()
        .filter(|l| l.modified <= now)
        .map(|l| (l.modified, format!("{}/{}", ids::call_id(l.call), ids::user_id(l.listener)), l))
        .collect();
    array(select(items, &req, false).into_iter().map(|l| render::listen(&st.world, l)).collect())
}

pub(super) async fn scores(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, false)?;
    let data = &st.shared.data;
    let (world, now) = (&st.world, st.world.now());
    let items = data
        .results
        .iter()
        .filter(|r| world.is_answered_visible(&world.answered_scorecards[r.answered], now))
        .map(|r| (r.modified, ids::result_id(r.answered), r))
        .collect();
    array(select(items, &req, false).into_iter().flat_map(|r| render::score_rows(&st.world, data, r)).collect())
}

pub(super) async fn scorecard(State(st): State<AppState>, Path(id): Path<String>) -> EvResult {
    match ids::scorecard_index(&id).filter(|&s| s < st.world.scorecards.len()) {
        Some(s) => Ok(Json(render::scorecard(&st.world, &st.shared.data, s))),
        None => Err(EvError::not_found(format!("Scorecard not found: {id}"))),
    }
}

pub(super) async fn feedback(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, false)?;
    let items = st
        .shared
        .data
        .feedback
        .iter()
        .map(|f| (f.modified, format!("{}/{}", ids::call_id(f.call), render::ts(f.at)), f))
        .collect();
    array(select(items, &req, false).into_iter().map(render::feedback).collect())
}

pub(super) async fn shares(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, false)?;
    let items = st.shared.data.shares.iter().map(|s| (s.at, ids::call_id(s.call), s)).collect();
    array(select(items, &req, false).into_iter().map(render::share).collect())
}

pub(super) async fn meetings(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, false)?;
    let items =
        st.shared.data.meetings.iter().map(|m| (m.modified, format!("{:012}", ids::meeting_id(m.index)), m)).collect();
    array(select(items, &req, false).into_iter().map(|m| render::meeting(&st.world, m)).collect())
}

pub(super) async fn plans(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, false)?;
    let data = &st.shared.data;
    let now = st.shared.clock.now();
    let items = data.plans.iter().map(|pl| (pl.modified, format!("{:012}", ids::plan_id(pl.index)), pl)).collect();
    array(select(items, &req, false).into_iter().map(|pl| render::plan(&st.world, data, pl, now)).collect())
}

pub(super) async fn kpis(State(st): State<AppState>, Query(p): Query<Params>) -> EvResult {
    let req = page_req(&p, MAX_LIMIT, false)?;
    let items = st
        .shared
        .data
        .kpi_observations
        .iter()
        .map(|o| (o.modified, format!("{}/{:04}/{}", ids::user_id(o.observed), o.kpi, render::ts(o.observed_at)), o))
        .collect();
    array(select(items, &req, false).into_iter().map(render::kpi_observation).collect())
}

pub(super) async fn kpi(State(st): State<AppState>, Path(id): Path<String>) -> EvResult {
    let kpis = &st.shared.data.kpis;
    match id.trim().parse::<u64>().ok().and_then(ids::kpi_index).filter(|&k| k < kpis.len()) {
        Some(k) => Ok(Json(render::kpi_def(&kpis[k]))),
        None => Err(EvError::not_found(format!("KPI not found: {id}"))),
    }
}

pub(super) async fn unknown_route() -> EvError {
    EvError::not_found("Not found")
}

pub(super) async fn method_not_allowed() -> EvError {
    EvError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
}
