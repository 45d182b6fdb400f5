//! Salesloft HTTP operations (list pages of 100 priced by page depth, single records,
//! walks of every page) and the translation of a [`CallQuery`] into
//! `GET /v2/conversations` parameters, including the validated `remoteQuery`
//! pass-through.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{LANGUAGE_CODES, List, Metadata, PLATFORMS, Paging, RecordList, WithRaw};
use crate::{
    domain::{CallDirection, Medium},
    providers::{
        CallQuery, ProviderError, ProviderErrorKind, paging,
        transport::{Transport, UpstreamRequest},
    },
};

/// Records per page (Salesloft's maximum).
pub(crate) const PER_PAGE: u64 = 100;

/// What a request for `page` costs (providers README §3.3): deep pages cost more.
pub(crate) fn page_cost(page: u64) -> u32 {
    match page {
        0..=100 => 1,
        101..=150 => 3,
        151..=250 => 8,
        251..=500 => 10,
        _ => 30,
    }
}

pub(crate) use crate::providers::transport::path_segment;

/// The Salesloft endpoints convograph uses.
#[derive(Debug)]
pub(crate) struct SlClient {
    pub(crate) transport: Transport,
}

impl SlClient {
    /// Sends `req`: the body; `Ok(None)` on 404; a 422 names the parameters Salesloft
    /// refused.
    async fn fetch(&self, req: UpstreamRequest) -> Result<Option<bytes::Bytes>, ProviderError> {
        let resp = self.transport.send(&req).await?;
        match resp.status {
            200..=299 => Ok(Some(resp.body)),
            404 => Ok(None),
            422 => {
                // Only the names of parameters we sent are repeated, never the body.
                let refused: Vec<String> = serde_json::from_slice::<Value>(&resp.body)
                    .ok()
                    .and_then(|v| {
                        v.get("errors").and_then(Value::as_object).map(|m| m.keys().cloned().collect::<Vec<String>>())
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|k: &String| {
                        req.query.iter().any(|(q, _)| q.trim_end_matches("[]") == k.trim_end_matches("[]"))
                    })
                    .collect();
                Err(self.transport.error_of(ProviderErrorKind::BadInput(if refused.is_empty() {
                    "Salesloft refused the query".into()
                } else {
                    format!("Salesloft refused the query parameter(s): {}", refused.join(", "))
                })))
            }
            status => Err(self.transport.status_error(status)),
        }
    }

    /// One page (1-based) of a list, with counts; `None` when the list does not exist.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(String, String)],
        page: u64,
    ) -> Result<Option<List<T>>, ProviderError> {
        let mut req = UpstreamRequest::get(path).with_cost(page_cost(page));
        for (k, v) in params {
            req = req.param(k, v.clone());
        }
        let req = req
            .param("per_page", PER_PAGE.to_string())
            .param("page", page.to_string())
            .param("include_paging_counts", "true");
        let Some(body) = self.fetch(req).await? else { return Ok(None) };
        if body.trim_ascii_start().starts_with(b"[") {
            return self.bare_page(&body, page).map(Some);
        }
        self.transport.decode(&body).map(Some)
    }

    /// A page sent as the bare array of records Salesloft's reference shows (seed 003:
    /// `GET /v2/conversations` answers `[ {...} ]`) instead of the `{data, metadata}`
    /// envelope it sends: the records, and, with no paging metadata to say whether
    /// more follow, a next page only when this one is full (a walk that the server
    /// answers with the same page again ends as a loop).
    fn bare_page<T: DeserializeOwned>(&self, body: &[u8], page: u64) -> Result<List<T>, ProviderError> {
        let data: RecordList<T> = self.transport.decode(body)?;
        // Records left out still count toward a full page.
        let sent = serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(body).map_or(0, |v| v.len() as u64);
        let next_page = (sent >= PER_PAGE).then_some(page + 1);
        Ok(List { data, metadata: Metadata { paging: Paging { next_page, total_count: None } } })
    }

    /// Every page of a list.
    pub(crate) async fn all<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Option<Vec<WithRaw<T>>>, ProviderError> {
        let mut walk = self.transport.walk(path.to_owned());
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let mut list = match self.page::<T>(path, params, page).await {
                Ok(Some(list)) => list,
                Ok(None) => return Ok((page > 1).then_some(out)),
                Err(e) if walk.pages() == 0 => return Err(e),
                Err(e) => {
                    paging::ended(e);
                    return Ok(Some(out));
                }
            };
            // A next page that does not move forward is a loop too.
            let next = list.metadata.paging.next_page.map(|n| n.max(page));
            let step = walk.step_dedup(&mut list.data.0, |r| paging::raw_key(&r.raw), next.as_ref());
            out.extend(list.data);
            match (step, next) {
                (Ok(true), Some(next)) => page = next,
                (Ok(_), _) => return Ok(Some(out)),
                (Err(e), _) => {
                    paging::ended(e);
                    return Ok(Some(out));
                }
            }
        }
    }
}

// ---------------------------------------------------------------- call queries

/// How a [`CallQuery`] is asked of `GET /v2/conversations`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    /// Query parameters (lists as repeated `name[]`).
    pub(crate) params: Vec<(String, String)>,
    /// Some unified part could not be sent (several values of a one-value filter):
    /// pages must be filtered with `CallQuery::matches` and their total dropped.
    pub(crate) local: bool,
    /// No conversation can match (e.g. only chats, or disjoint id lists).
    pub(crate) nothing: bool,
}

const TIME_FIELDS: [&str; 2] = ["created_at", "updated_at"];
const OPS: [&str; 4] = ["gt", "gte", "lt", "lte"];
const LISTS: [&str; 5] = ["owner_ids", "user_guids", "ids", "account_ids", "person_ids"];
const MANAGED: [&str; 3] = ["page", "per_page", "include_paging_counts"];

#[derive(Default)]
struct Collected {
    single: BTreeMap<String, String>,
    times: BTreeMap<String, DateTime<Utc>>,
    durations: BTreeMap<String, f64>,
    lists: BTreeMap<String, Vec<String>>,
}

fn micros(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|n| n.and_utc()))
}

/// `en-us` → `en-US`, when it is a code Salesloft knows.
fn language_code(s: &str) -> Option<&'static str> {
    LANGUAGE_CODES.iter().copied().find(|c| c.eq_ignore_ascii_case(s.trim()))
}

fn platform(s: &str) -> Option<&'static str> {
    PLATFORMS.iter().copied().find(|p| p.eq_ignore_ascii_case(s.trim()))
}

fn media_type(s: &str) -> Option<&'static str> {
    ["audio", "video"].into_iter().find(|m| m.eq_ignore_ascii_case(s.trim()))
}

fn accepted_keys() -> String {
    let mut keys: Vec<String> = vec!["title".into(), "title[_starts_with]".into()];
    for f in TIME_FIELDS.iter().chain(&["duration"]) {
        keys.push(format!("{f}[gt|gte|lt|lte]"));
    }
    keys.extend(["language_code", "platform", "media_type", "is_api", "sort_by", "sort_direction"].map(String::from));
    keys.extend(LISTS.map(String::from));
    keys.join(", ")
}

/// Validates `remoteQuery` (keys as Salesloft names them, `created_at[gte]`, or
/// nested, `created_at: { gte: … }`; `title: { _starts_with: … }`).
fn remote(map: &serde_json::Map<String, Value>, c: &mut Collected) -> Result<(), String> {
    let mut flat: Vec<(String, &Value)> = Vec::new();
    for (k, v) in map {
        match v {
            Value::Object(inner) => {
                if inner.is_empty() {
                    return Err(format!("`remoteQuery.{k}` is an empty object"));
                }
                for (op, vv) in inner {
                    flat.push((format!("{k}[{op}]"), vv));
                }
            }
            _ => flat.push((k.clone(), v)),
        }
    }
    for (key, v) in flat {
        let bad = |what: &str| format!("`remoteQuery.{key}` must be {what}");
        let text = |v: &Value| v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        if MANAGED.contains(&key.as_str()) {
            return Err(format!("`remoteQuery.{key}` is managed by convograph: page with `first`/`after` instead"));
        }
        match key.as_str() {
            "title" | "title[_starts_with]" => {
                c.single.insert(key.clone(), text(v).ok_or_else(|| bad("a non-empty string"))?);
            }
            "language_code" => {
                let code = v.as_str().and_then(language_code).ok_or_else(|| bad("one of the codes Salesloft knows"))?;
                c.single.insert(key.clone(), code.into());
            }
            "platform" => {
                let p =
                    v.as_str().and_then(platform).ok_or_else(|| bad(&format!("one of {}", PLATFORMS.join(", "))))?;
                c.single.insert(key.clone(), p.into());
            }
            "media_type" => {
                let m = v.as_str().and_then(media_type).ok_or_else(|| bad("`audio` or `video`"))?;
                c.single.insert(key.clone(), m.into());
            }
            "is_api" => {
                let b = match v {
                    Value::Bool(b) => *b,
                    Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => return Err(bad("a boolean")),
                };
                c.single.insert(key.clone(), b.to_string());
            }
            "sort_by" => {
                let by = v
                    .as_str()
                    .map(str::trim)
                    .filter(|s| ["created_at", "updated_at", "duration"].contains(s))
                    .ok_or_else(|| bad("`created_at`, `updated_at` or `duration`"))?;
                c.single.insert(key.clone(), by.into());
            }
            "sort_direction" => {
                let dir = v
                    .as_str()
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| s == "ASC" || s == "DESC")
                    .ok_or_else(|| bad("`ASC` or `DESC`"))?;
                c.single.insert(key.clone(), dir);
            }
            k if LISTS.contains(&k) => {
                let one = |v: &Value| match v {
                    Value::String(s) if !s.trim().is_empty() && !s.contains(',') => Some(s.trim().to_owned()),
                    Value::Number(n) if n.is_u64() => Some(n.to_string()),
                    _ => None,
                };
                let items: Option<Vec<String>> = match v {
                    Value::Array(items) if !items.is_empty() && items.len() <= 100 => items.iter().map(one).collect(),
                    other => one(other).map(|s| vec![s]),
                };
                c.lists.insert(key.clone(), items.ok_or_else(|| bad("a list of 1 to 100 ids (strings or integers)"))?);
            }
            k => {
                let Some((field, op)) = k.strip_suffix(']').and_then(|k| k.split_once('[')) else {
                    return Err(format!(
                        "unknown `remoteQuery` key `{k}` for Salesloft; accepted: {}",
                        accepted_keys()
                    ));
                };
                if !OPS.contains(&op) {
                    return Err(format!(
                        "unknown `remoteQuery` key `{k}` for Salesloft; accepted: {}",
                        accepted_keys()
                    ));
                }
                if TIME_FIELDS.contains(&field) {
                    let t = v.as_str().and_then(parse_time).ok_or_else(|| bad("an ISO-8601 date-time"))?;
                    c.times.insert(key.clone(), t);
                } else if field == "duration" {
                    let ms = v
                        .as_f64()
                        .filter(|d| d.is_finite() && *d >= 0.0)
                        .ok_or_else(|| bad("a number of milliseconds"))?;
                    c.durations.insert(key.clone(), ms);
                } else {
                    return Err(format!(
                        "unknown `remoteQuery` key `{k}` for Salesloft; accepted: {}",
                        accepted_keys()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A one-value filter asked by the unified query (`wanted`, canonical values) and
/// possibly by `remoteQuery` too: sent when one value remains.
fn single_choice(c: &mut Collected, key: &str, asked: bool, wanted: Vec<&'static str>, plan: &mut Plan) {
    if !asked {
        return;
    }
    match c.single.get(key) {
        Some(r) => {
            if !wanted.iter().any(|w| w.eq_ignore_ascii_case(r)) {
                plan.nothing = true;
            }
        }
        None => match wanted.as_slice() {
            [] => plan.nothing = true,
            [one] => {
                c.single.insert(key.into(), (*one).into());
            }
            _ => plan.local = true,
        },
    }
}

/// The parameters for `query`; `Err(message)` for an invalid `remoteQuery`.
pub(crate) fn plan(query: &CallQuery) -> Result<Plan, String> {
    let mut c = Collected::default();
    if let Some(map) = &query.remote_query {
        remote(map, &mut c)?;
    }
    let mut plan = Plan::default();
    // Salesloft conversations have no direction: only "unknown" matches.
    if !query.directions.is_empty() && !query.directions.contains(&CallDirection::Unknown) {
        plan.nothing = true;
    }
    if !query.host_remote_ids.is_empty() {
        let hosts = query.host_remote_ids.clone();
        let merged = match c.lists.get("owner_ids") {
            Some(r) => hosts.into_iter().filter(|h| r.iter().any(|x| x.eq_ignore_ascii_case(h))).collect(),
            None => hosts,
        };
        if merged.is_empty() {
            plan.nothing = true;
        }
        c.lists.insert("owner_ids".into(), merged);
    }
    let media: Vec<&'static str> = query
        .media
        .iter()
        .filter_map(|m| match m {
            Medium::Audio => Some("audio"),
            Medium::Video => Some("video"),
            Medium::Chat | Medium::Other => None,
        })
        .collect();
    if query.media.contains(&Medium::Other) {
        // Media Salesloft may name but convograph does not know: only a local filter
        // can keep them.
        plan.local = true;
    } else {
        single_choice(&mut c, "media_type", !query.media.is_empty(), media, &mut plan);
    }
    let platforms: Vec<&'static str> = query.platforms.iter().filter_map(|p| platform(p)).collect();
    single_choice(&mut c, "platform", !query.platforms.is_empty(), platforms, &mut plan);
    let mut languages: Vec<&'static str> = query.languages.iter().filter_map(|l| language_code(l)).collect();
    languages.dedup();
    single_choice(&mut c, "language_code", !query.languages.is_empty(), languages, &mut plan);
    if let Some(min) = query.min_duration_secs {
        let ms = min * 1000.0;
        let e = c.durations.entry("duration[gte]".into()).or_insert(ms);
        *e = e.max(ms);
    }
    if let Some(max) = query.max_duration_secs {
        let ms = max * 1000.0;
        let e = c.durations.entry("duration[lte]".into()).or_insert(ms);
        *e = e.min(ms);
    }

    for (k, v) in c.single {
        plan.params.push((k, v));
    }
    for (k, t) in c.times {
        plan.params.push((k, micros(t)));
    }
    for (k, ms) in c.durations {
        plan.params.push((k, if ms.fract() == 0.0 { format!("{ms:.0}") } else { ms.to_string() }));
    }
    for (k, items) in c.lists {
        for item in items {
            plan.params.push((format!("{k}[]"), item));
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn remote_query(v: Value) -> CallQuery {
        CallQuery { remote_query: Some(v.as_object().unwrap().clone()), ..CallQuery::default() }
    }

    #[test]
    fn unified_parts_become_salesloft_parameters() {
        let q = CallQuery {
            host_remote_ids: vec!["g1".into(), "g2".into()],
            media: vec![Medium::Audio],
            platforms: vec!["ZOOM".into()],
            languages: vec!["en-us".into()],
            min_duration_secs: Some(60.0),
            max_duration_secs: Some(90.5),
            ..CallQuery::default()
        };
        let p = plan(&q).unwrap();
        assert!(!p.local && !p.nothing);
        for pair in [
            ("media_type", "audio"),
            ("platform", "zoom"),
            ("language_code", "en-US"),
            ("duration[gte]", "60000"),
            ("duration[lte]", "90500"),
            ("owner_ids[]", "g1"),
            ("owner_ids[]", "g2"),
        ] {
            assert!(p.params.contains(&(pair.0.into(), pair.1.into())), "{pair:?} in {:?}", p.params);
        }
    }

    #[test]
    fn what_cannot_be_sent_is_filtered_locally_or_matches_nothing() {
        let two = CallQuery { languages: vec!["en-US".into(), "de-DE".into()], ..CallQuery::default() };
        assert!(plan(&two).unwrap().local);
        let chats = CallQuery { media: vec![Medium::Chat], ..CallQuery::default() };
        assert!(plan(&chats).unwrap().nothing);
        let inbound = CallQuery { directions: vec![CallDirection::Inbound], ..CallQuery::default() };
        assert!(plan(&inbound).unwrap().nothing);
        let unknown = CallQuery { directions: vec![CallDirection::Unknown], ..CallQuery::default() };
        assert_eq!(plan(&unknown).unwrap(), Plan::default());
        let mut disjoint = remote_query(json!({ "owner_ids": ["a"] }));
        disjoint.host_remote_ids = vec!["b".into()];
        assert!(plan(&disjoint).unwrap().nothing);
        let mut clash = remote_query(json!({ "platform": "webex" }));
        clash.platforms = vec!["zoom".into()];
        assert!(plan(&clash).unwrap().nothing);
    }

    #[test]
    fn remote_query_takes_bracketed_or_nested_keys_and_normalises_values() {
        let q = remote_query(json!({
            "created_at": { "gte": "2026-03-01T10:00:00.1234567+01:00" },
            "updated_at[lt]": "2026-04-01",
            "title": { "_starts_with": "Acme" },
            "duration[gt]": 1000,
            "account_ids": [7300004, "7300005"],
            "is_api": "false",
            "sort_by": "duration",
            "sort_direction": "asc",
        }));
        let p = plan(&q).unwrap();
        for pair in [
            ("created_at[gte]", "2026-03-01T09:00:00.123456Z"),
            ("updated_at[lt]", "2026-04-01T00:00:00.000000Z"),
            ("title[_starts_with]", "Acme"),
            ("duration[gt]", "1000"),
            ("account_ids[]", "7300004"),
            ("account_ids[]", "7300005"),
            ("is_api", "false"),
            ("sort_by", "duration"),
            ("sort_direction", "ASC"),
        ] {
            assert!(p.params.contains(&(pair.0.into(), pair.1.into())), "{pair:?} in {:?}", p.params);
        }
    }

    #[test]
    fn bad_remote_query_keys_and_values_are_named() {
        for (v, key) in [
            (json!({ "colour": "blue" }), "colour"),
            (json!({ "created_at": { "after": "2026-01-01" } }), "created_at[after]"),
            (json!({ "created_at[gte]": "last week" }), "created_at[gte]"),
            (json!({ "duration[lt]": "long" }), "duration[lt]"),
            (json!({ "is_api": 1 }), "is_api"),
            (json!({ "owner_ids": [] }), "owner_ids"),
            (json!({ "owner_ids": [{ "id": 1 }] }), "owner_ids"),
            (json!({ "language_code": "klingon" }), "language_code"),
            (json!({ "per_page": 5 }), "per_page"),
            (json!({ "title": 3 }), "title"),
        ] {
            let err = plan(&remote_query(v.clone())).unwrap_err();
            assert!(err.contains(key), "{v}: {err}");
        }
    }

    #[test]
    fn deep_pages_are_priced_and_odd_ids_never_reach_a_path() {
        assert_eq!([1, 100, 101, 151, 251, 501].map(page_cost), [1, 1, 3, 8, 10, 30]);
        assert_eq!(path_segment("3fa85f64-5717-4562-b3fc-2c963f66afa6"), Some("3fa85f64-5717-4562-b3fc-2c963f66afa6"));
        for bad in ["", "..", "a/b", "a?b", "a b", "%2e%2e"] {
            assert_eq!(path_segment(bad), None, "{bad}");
        }
    }
}
