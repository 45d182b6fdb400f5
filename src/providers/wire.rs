//! Wire helpers shared by every provider's `model.rs`: lenient reading of what
//! providers really send.
//!
//! The models say what convograph reads; providers (and their own documents) do not
//! always keep to one shape. Decoding is therefore lenient, but never silent:
//!
//! - **Coercion** (silent, what the vendors' documents show): a number where a string
//!   is read (ids), a numeric string where a number is read, `"true"`/`"false"` where a
//!   boolean is read. Times ([`TimeText`]) are ISO-8601 with or without an offset,
//!   a date, or epoch seconds or milliseconds, as a number or a string.
//! - **Repair** (reported): a value that still cannot be read is read as null (an
//!   optional field is then absent; a list or a default keeps its default), an
//!   element of a list that cannot be read is left out, and so on up to the record:
//!   one odd field costs that field, not the record, and one odd record costs that
//!   record ([`RecordList`]), not the page. Each repair is an [`Issue`], which the
//!   transport turns into an error the client sees next to the data
//!   (`UPSTREAM_RECORD_INVALID`).
//! - **Ids** ([`record_id`]): a record's own id is a non-blank string or a number;
//!   a record whose id is blank or null is left out (reported) rather than read
//!   with an empty id. A response that is one record ([`OneRecord`]) and cannot be
//!   read is no record (reported), not a failed response.
//!
//! The raw record kept for `remoteData` is always the provider's own, unrepaired.
//! Nothing here costs anything on a well-formed record: repair starts only after
//! the typed decode of the record failed.

use std::{
    cell::{Cell, RefCell},
    fmt,
    ops::Deref,
};

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::Value;

use crate::domain::Raw;

/// Most repairs tried on one value before it is given up.
const MAX_REPAIRS: usize = 32;

/// Something in a provider's answer that could not be read as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    /// The provider id of the record it is in, when it has one.
    pub(crate) record: Option<String>,
    /// What happened, for the client.
    pub(crate) message: String,
}

thread_local! {
    static ISSUES: RefCell<Option<Vec<Issue>>> = const { RefCell::new(None) };
    /// How many records deep the decode on this thread is: 0 while it reads the
    /// response itself (its list of records, or its one record).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Why the response being decoded is not the answer asked for, once its list of
    /// records (or its one record) turned out to be something else: repair must not
    /// read that as an empty page.
    static FOREIGN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Marks the decode on this thread as inside a record while it lives.
struct InRecord;

impl InRecord {
    fn enter() -> Self {
        DEPTH.with(|d| d.set(d.get() + 1));
        Self
    }
}

impl Drop for InRecord {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Whether the value being read is part of the response itself, not of a record.
fn at_the_top() -> bool {
    DEPTH.with(Cell::get) == 0
}

/// Fails the whole response: `why` it is not the answer asked for.
fn foreign<E: serde::de::Error>(why: String) -> E {
    let e = E::custom(&why);
    FOREIGN.with(|f| *f.borrow_mut() = Some(why));
    e
}

fn take_foreign() -> Option<String> {
    FOREIGN.with(|f| f.borrow_mut().take())
}

/// Whether `v` is something other than a record of `T`: an object with keys of which
/// `T` reads none (another kind of answer, such as an error object), or a list. Only
/// known when `T` is a struct. A `null`, a string or a number in its place is a
/// damaged record of the right kind of list: left out, reported.
fn not_a_record<T: DeserializeOwned>(v: &Value) -> bool {
    let Some(fields) = struct_fields::<T>() else { return false };
    match v {
        Value::Object(map) => !map.is_empty() && !map.keys().any(|k| fields.contains(&k.as_str())),
        Value::Array(_) => true,
        _ => false,
    }
}

/// Runs a (synchronous) decode, collecting the issues it reports.
pub(crate) fn collecting<R>(decode: impl FnOnce() -> R) -> (R, Vec<Issue>) {
    let outer = ISSUES.with(|i| i.replace(Some(Vec::new())));
    let out = decode();
    let issues = ISSUES.with(|i| i.replace(outer)).unwrap_or_default();
    (out, issues)
}

fn report(issue: Issue) {
    ISSUES.with(|i| {
        if let Some(list) = i.borrow_mut().as_mut() {
            list.push(issue);
        }
    });
}

/// A record decoded twice: typed, and kept whole for `remoteData`. A field that
/// cannot be read is repaired (see the module docs); a record that cannot be read
/// at all fails.
#[derive(Debug, Clone)]
pub(crate) struct WithRaw<T> {
    pub(crate) data: T,
    pub(crate) raw: Raw,
}

impl<T: DeserializeOwned> WithRaw<T> {
    /// Reads `raw`, repairing what cannot be read; `Err` when the record cannot be
    /// read at all.
    fn read(raw: Value) -> Result<Self, String> {
        // serde reads a list as a struct's fields in order: not a record.
        if raw.is_array() && struct_fields::<T>().is_some() {
            return Err("a list where a record was expected".into());
        }
        let _inside = InRecord::enter();
        let (first, inner) = collecting(|| T::deserialize(&raw));
        let data = match first {
            Ok(data) => {
                inner.into_iter().for_each(report);
                data
            }
            Err(_) => {
                let record = record_label(&raw);
                let (data, repairs) = repair::<T>(&raw)?;
                for repair in repairs {
                    let message = match &record {
                        Some(id) => format!("record {id}: {repair}"),
                        None => format!("a record: {repair}"),
                    };
                    report(Issue { record: record.clone(), message });
                }
                data
            }
        };
        Ok(Self { data, raw: Raw::new(raw) })
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for WithRaw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        Self::read(raw).map_err(serde::de::Error::custom)
    }
}

/// A list of records in which a record that cannot be read is left out (reported)
/// instead of failing the list; `null` or a value that is not a list reads as empty.
#[derive(Debug, Clone)]
pub(crate) struct RecordList<T>(pub(crate) Vec<WithRaw<T>>);

impl<T> Default for RecordList<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Deref for RecordList<T> {
    type Target = Vec<WithRaw<T>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> IntoIterator for RecordList<T> {
    type Item = WithRaw<T>;
    type IntoIter = std::vec::IntoIter<WithRaw<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a RecordList<T> {
    type Item = &'a WithRaw<T>;
    type IntoIter = std::slice::Iter<'a, WithRaw<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> From<RecordList<T>> for Vec<WithRaw<T>> {
    fn from(r: RecordList<T>) -> Self {
        r.0
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for RecordList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let top = at_the_top();
        let items = match Value::deserialize(d)? {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            // The response's own list is something else: not this answer.
            other if top && !matches!(&other, Value::Object(m) if m.is_empty()) => {
                return Err(foreign(format!("its list of records is {}", kind_of(&other))));
            }
            other => {
                report(Issue {
                    record: None,
                    message: format!("a list of records was {}, not a list; read as empty", kind_of(&other)),
                });
                Vec::new()
            }
        };
        // Not one of the response's items is a record of the kind asked for: not
        // this answer (one odd record among others only costs that record).
        if top && !items.is_empty() && items.iter().all(not_a_record::<T>) {
            return Err(foreign(format!(
                "none of its {} item(s) is a record of the kind asked for (e.g. {})",
                items.len(),
                excerpt(&items[0])
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let record = record_label(&item);
            match WithRaw::read(item) {
                Ok(r) => out.push(r),
                Err(why) => {
                    let message = match &record {
                        Some(id) => format!("record {id} was left out: {why}"),
                        None => format!("a record was left out: {why}"),
                    };
                    report(Issue { record, message });
                }
            }
        }
        Ok(Self(out))
    }
}

/// A response that is one record (a lookup by id): a record that cannot be read is
/// no record, reported as a record left out of a list is, rather than a failed
/// response; `null` is no record.
#[derive(Debug, Clone)]
pub(crate) struct OneRecord<T>(pub(crate) Option<WithRaw<T>>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for OneRecord<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        if raw.is_null() {
            return Ok(Self(None));
        }
        if at_the_top() && not_a_record::<T>(&raw) {
            return Err(foreign(format!("it is not a record of the kind asked for: {}", excerpt(&raw))));
        }
        let record = record_label(&raw);
        match WithRaw::read(raw) {
            Ok(r) => Ok(Self(Some(r))),
            Err(why) => {
                let message = match &record {
                    Some(id) => format!("record {id} was left out: {why}"),
                    None => format!("the record was left out: {why}"),
                };
                report(Issue { record, message });
                Ok(Self(None))
            }
        }
    }
}

/// `deserialize_with` for a record's own id: a non-blank string, or a number as its
/// text. A record whose id is blank or null cannot be referred to, so it cannot be
/// read (and is left out with an issue) instead of coming out with an empty id.
pub(crate) fn record_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if !s.trim().is_empty() => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("{} is not an id", kind_of(&other)))),
    }
}

/// Decodes a whole response leniently: first as it is (no cost when it is
/// well-formed), then, if that fails, from its JSON with repairs (reported). `Err`
/// when the body is not JSON or cannot be read even so.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    if let Some(why) = not_the_response::<T>(body) {
        return Err(why);
    }
    take_foreign();
    let (first, inner) = collecting(|| {
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize::<_, T>(de)
    });
    match first {
        Ok(v) => {
            inner.into_iter().for_each(report);
            Ok(v)
        }
        Err(_) if let Some(why) = take_foreign() => Err(format!("the response is not the answer asked for: {why}")),
        Err(e) => {
            let Ok(value) = serde_json::from_slice::<Value>(body) else { return Err(e.to_string()) };
            let (v, repairs) = repair::<T>(&value)?;
            for repair in repairs {
                report(Issue { record: None, message: format!("the response: {repair}") });
            }
            Ok(v)
        }
    }
}

/// Keys a provider puts on every answer, whatever it carries: an answer made only
/// of these is an answer with nothing in it (Gong documents `{ "requestId": ... }`
/// alone, and `fromDateTime`/`toDateTime`/`timeZone` with no stats), not an odd one.
const ENVELOPE: [&str; 4] = ["requestId", "fromDateTime", "toDateTime", "timeZone"];

/// Why `body` is not an answer of the shape `T` reads at all, when `T` is a struct
/// (a failed response, not an empty one):
///
/// - an empty body;
/// - a JSON list, which serde would otherwise read as the struct's fields in order
///   (`[{..}]` as a response with every field absent: an empty page, silently, and
///   cached as such);
/// - an object none of whose keys `T` reads (nor any of [`ENVELOPE`]): read as every
///   field absent it would be an empty page too. `{}` is still an empty answer.
///
/// Cheap on a well-formed answer: the object's keys are read only up to the first
/// one `T` knows, which is usually the first.
fn not_the_response<T: DeserializeOwned>(body: &[u8]) -> Option<String> {
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Some("the response is empty where JSON was expected".into());
    };
    let fields = struct_fields::<T>()?;
    match first {
        b'[' => Some("the response is a list where an object was expected".into()),
        b'{' => (first_known_key(body, fields) == Some(false))
            .then(|| format!("the response has none of the fields of the answer ({})", fields.join(", "))),
        _ => None,
    }
}

/// Whether the JSON object in `body` has a key among `fields` or [`ENVELOPE`];
/// `None` when it has no key at all, or is not an object that can be read. Stops at
/// the first such key.
fn first_known_key(body: &[u8], fields: &[&str]) -> Option<bool> {
    use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};

    struct Keys<'a> {
        fields: &'a [&'a str],
        found: &'a mut bool,
    }

    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut any = false;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if self.fields.contains(&key.as_ref()) || ENVELOPE.contains(&key.as_ref()) {
                    // Known: the rest need not be read (the error only stops the read).
                    *self.found = true;
                    return Err(A::Error::custom("found"));
                }
                map.next_value::<IgnoredAny>()?;
                any = true;
            }
            Ok(any)
        }
    }

    let mut found = false;
    let read = serde::Deserializer::deserialize_map(
        &mut serde_json::Deserializer::from_slice(body),
        Keys { fields, found: &mut found },
    );
    match read {
        _ if found => Some(true),
        Ok(true) => Some(false),
        Ok(false) | Err(_) => None,
    }
}

/// The fields `T` reads when it is a struct read from a JSON object; `None` when it
/// reads anything else (a map, a list, a `Value`, a newtype, an untagged enum...).
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    use serde::de::{Error as _, Visitor, value::Error};

    /// A deserializer that only notes which struct is asked of it.
    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("probe"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            *self.0 = Some(fields);
            Err(Error::custom("probe"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields = None;
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// One decode of `value` as `T` whose issues are held back (an attempt may be
/// given up; only the one taken reports).
fn attempt<T: DeserializeOwned>(
    value: &Value,
) -> (Result<T, serde_path_to_error::Error<serde_json::Error>>, Vec<Issue>) {
    collecting(|| serde_path_to_error::deserialize::<_, T>(value))
}

/// Decodes `value` as `T`, coercing and repairing as the module docs say; the
/// repairs made, or why it cannot be read.
fn repair<T: DeserializeOwned>(value: &Value) -> Result<(T, Vec<String>), String> {
    let mut fixed = value.clone();
    let mut repairs: Vec<Repair> = Vec::new();
    for _ in 0..MAX_REPAIRS {
        let err = match attempt::<T>(&fixed) {
            (Ok(v), inner) => {
                inner.into_iter().for_each(report);
                return Ok((v, repairs.iter().map(Repair::describe).collect()));
            }
            (Err(_), _) if let Some(why) = take_foreign() => {
                return Err(format!("the response is not the answer asked for: {why}"));
            }
            (Err(e), _) => e,
        };
        let path: Vec<Step> = err.path().iter().filter_map(Step::of).collect();
        let shown = err.path().to_string();
        let why = err.into_inner().to_string();
        if coerce::<T>(&mut fixed, &path) {
            continue;
        }
        let Some((done, at)) = loosen(&mut fixed, &path) else { return Err(format!("`{shown}`: {why}")) };
        match repairs.last_mut() {
            // Giving up a value made the value holding it unreadable: one repair.
            Some(last) if is_prefix(&path, &last.path) => (last.done, last.at) = (done, at),
            _ => repairs.push(Repair { path, shown, why, done, at }),
        }
    }
    Err("too many fields could not be read".into())
}

/// A value given up in the end, and why.
struct Repair {
    path: Vec<Step>,
    shown: String,
    why: String,
    done: Loosened,
    /// Where it was done (the value itself, or one holding it).
    at: Vec<Step>,
}

impl Repair {
    fn describe(&self) -> String {
        let what = match self.done {
            Loosened::Null => "is null",
            Loosened::Absent => "is left out",
            Loosened::Removed => "is left out of its list",
        };
        if self.at.len() == self.path.len() {
            format!("`{}` could not be read ({}); it {what}", self.shown, self.why)
        } else {
            format!("`{}` could not be read ({}); `{}` {what}", self.shown, self.why, show(&self.at))
        }
    }
}

fn is_prefix(short: &[Step], long: &[Step]) -> bool {
    short.len() <= long.len() && same_path(short, &long[..short.len()])
}

fn show(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { "the record".into() } else { out }
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn of(seg: &serde_path_to_error::Segment) -> Option<Self> {
        match seg {
            serde_path_to_error::Segment::Map { key } => Some(Self::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Self::Index(*index)),
            _ => None,
        }
    }
}

fn at<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// Replaces the value at `path` with another form of it the type reads (a number
/// for a numeric string, a string for a number, ...): `true` when one was taken,
/// that is, when the decode then fails elsewhere or not at all.
fn coerce<T: DeserializeOwned>(value: &mut Value, path: &[Step]) -> bool {
    let Some(target) = at(value, path) else { return false };
    let original = target.clone();
    // Whether the decode now gets past `path`.
    let past = |value: &Value| match attempt::<T>(value).0 {
        Ok(_) => true,
        Err(e) => !same_path(&e.path().iter().filter_map(Step::of).collect::<Vec<_>>(), path),
    };
    // `null` for an absent field: a list or a default then keeps its default.
    if original.is_null()
        && let Some((Step::Key(k), parent_path)) = path.split_last()
        && let Some(Value::Object(parent)) = at(value, parent_path)
    {
        parent.remove(k.as_str());
        if past(value) {
            return true;
        }
        if let Some(Value::Object(parent)) = at(value, parent_path) {
            parent.insert(k.clone(), Value::Null);
        }
        return false;
    }
    for candidate in coercions(&original) {
        *at(value, path).expect("the path was just found") = candidate;
        if past(value) {
            return true;
        }
    }
    *at(value, path).expect("the path was just found") = original;
    false
}

fn same_path(a: &[Step], b: &[Step]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Step::Key(x), Step::Key(y)) => x == y,
            (Step::Index(x), Step::Index(y)) => x == y,
            _ => false,
        })
}

/// The other forms a JSON value may be meant as.
fn coercions(v: &Value) -> Vec<Value> {
    match v {
        Value::Number(n) => vec![Value::String(n.to_string())],
        Value::Bool(b) => vec![Value::String(b.to_string())],
        Value::String(s) => {
            let t = s.trim();
            let mut out = Vec::new();
            if let Ok(i) = t.parse::<i64>() {
                out.push(Value::from(i));
            } else if let Ok(u) = t.parse::<u64>() {
                out.push(Value::from(u));
            } else if let Some(f) = t.parse::<f64>().ok().filter(|f| f.is_finite()) {
                out.push(Value::from(f));
            }
            match t.to_ascii_lowercase().as_str() {
                "true" => out.push(Value::Bool(true)),
                "false" => out.push(Value::Bool(false)),
                _ => {}
            }
            out
        }
        _ => Vec::new(),
    }
}

/// How a value was given up.
#[derive(Debug, Clone, Copy)]
enum Loosened {
    Null,
    Absent,
    Removed,
}

/// Gives up the value at `path`: null, then absent, then (in a list) the element
/// left out, then the same for the value that holds it. What was done and where, or
/// `None` at the top.
fn loosen(value: &mut Value, path: &[Step]) -> Option<(Loosened, Vec<Step>)> {
    let (last, parent_path) = path.split_last()?;
    let parent = at(value, parent_path)?;
    match (parent, last) {
        (Value::Object(map), Step::Key(k)) => match map.get_mut(k.as_str()) {
            Some(v) if !v.is_null() => {
                *v = Value::Null;
                Some((Loosened::Null, path.to_vec()))
            }
            Some(_) => {
                map.remove(k.as_str());
                Some((Loosened::Absent, path.to_vec()))
            }
            // Missing where required: the value that holds it is given up instead.
            None => loosen(value, parent_path),
        },
        (Value::Array(items), Step::Index(i)) if *i < items.len() => {
            items.remove(*i);
            Some((Loosened::Removed, path.to_vec()))
        }
        _ => loosen(value, parent_path),
    }
}

/// The start of `v` as JSON, for a message.
fn excerpt(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The provider's id of a record, from the keys providers name ids with.
fn record_label(v: &Value) -> Option<String> {
    const KEYS: [&str; 11] = [
        "id",
        "callId",
        "conversationId",
        "answeredScorecardId",
        "scorecardId",
        "userId",
        "eventId",
        "guid",
        "meetingId",
        "planId",
        "kpiId",
    ];
    let text = |v: &Value| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let obj = v.as_object()?;
    KEYS.iter()
        .find_map(|k| obj.get(*k).and_then(text))
        .or_else(|| obj.get("metaData").and_then(|m| m.get("id")).and_then(text))
}

/// A point in time as a provider wrote it, kept as written (so a provider's paging
/// position round-trips exactly), and known to be readable by [`timestamp`]: ISO-8601
/// with an offset or `Z`, without one (UTC), with a space for the `T`, a date, or
/// epoch seconds or milliseconds. A number becomes its RFC 3339 text.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TimeText(String);

impl Deref for TimeText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TimeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for TimeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bad = |what: &dyn fmt::Display| serde::de::Error::custom(format!("{what} is not a point in time"));
        match Value::deserialize(d)? {
            Value::String(s) if timestamp(Some(&s)).is_some() => Ok(Self(s)),
            Value::Number(n) => n
                .as_f64()
                .and_then(epoch)
                .map(|t| Self(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
                .ok_or_else(|| bad(&n)),
            other => Err(bad(&other)),
        }
    }
}

/// `deserialize_with` for an optional time: absent, `null` and `""` are `None`;
/// anything else must be a readable time.
pub(crate) fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeText>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        other => TimeText::deserialize(other).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Epoch seconds, or milliseconds when larger than any second count of the next
/// thousand years.
fn epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() {
        return None;
    }
    let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
    Utc.timestamp_millis_opt(ms.round() as i64).single()
}

/// Reads a provider's time: ISO-8601 with an offset or `Z`; without one (as UTC);
/// with a space for the `T`; a date (midnight UTC); epoch seconds or milliseconds.
pub(crate) fn timestamp(s: Option<&str>) -> Option<DateTime<Utc>> {
    let s = s?.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let spaced = s.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&spaced) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&spaced, format) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    s.parse::<f64>().ok().and_then(epoch)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        id: String,
        title: Option<String>,
        #[serde(default, deserialize_with = "opt_time")]
        started: Option<TimeText>,
        duration: Option<f64>,
        #[serde(default)]
        aliases: Vec<String>,
        active: Option<bool>,
    }

    #[derive(Debug, Deserialize)]
    struct Page {
        #[serde(default)]
        total: Option<u64>,
        #[serde(default)]
        items: RecordList<Meta>,
    }

    fn page(v: Value) -> (Page, Vec<Issue>) {
        let (p, issues) = collecting(|| decode::<Page>(v.to_string().as_bytes()));
        (p.unwrap(), issues)
    }

    #[test]
    fn a_list_where_a_response_or_a_record_is_expected_is_not_one() {
        // serde alone reads `[..]` as the struct's fields in order: an empty page.
        for body in [r#"[{"unexpected": true}]"#, "[]", " [1, 2]"] {
            let (p, issues) = collecting(|| decode::<Page>(body.as_bytes()));
            assert!(p.is_err(), "{body}: {p:?}");
            assert_eq!(issues, vec![], "{body}");
        }
        // An object is read when it has a key the answer reads, or only keys every
        // answer carries (Gong documents `requestId` alone), or none at all.
        for body in [r#"{"total": 0, "other": 1}"#, "{}", r#"{"requestId": "4al018gzaztcr8nbukw"}"#] {
            let (p, issues) = collecting(|| decode::<Page>(body.as_bytes()));
            assert!(p.is_ok_and(|p| p.items.is_empty()), "{body}");
            assert_eq!(issues, vec![], "{body}");
        }
        // An object of other keys only, or no body at all, is not the answer: a
        // failed response rather than an empty page.
        for body in [r#"{"unexpected": true}"#, r#"{"error": "x", "message": "y"}"#, "", "  \n"] {
            let (p, issues) = collecting(|| decode::<Page>(body.as_bytes()));
            assert!(p.is_err(), "{body:?}: {p:?}");
            assert_eq!(issues, vec![], "{body:?}");
        }
        assert!(decode::<RecordList<Meta>>(b"").is_err());
        // Lists of records are still read as lists, and a record that is a list is
        // left out.
        let (list, issues) = collecting(|| decode::<RecordList<Meta>>(br#"[{"id": "1"}, ["2", "x"]]"#));
        assert_eq!(list.unwrap().len(), 1);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].message.contains("a list where a record was expected"), "{issues:?}");
    }

    #[test]
    fn what_vendors_document_is_read_without_an_issue() {
        let (p, issues) = page(json!({
            "total": "2",
            "items": [
                { "id": 7782342274025937895u64, "started": 1518863400.0, "duration": "460", "active": "true" },
                { "id": "2", "started": "2018-02-18T02:30:00-07:00", "aliases": null, "title": null },
                { "id": "3", "started": "2018-02-18 09:30:00", "extra": {"any": "thing"} },
                { "id": "4", "started": "", "duration": 12 }
            ]
        }));
        assert_eq!(issues, vec![]);
        assert_eq!(p.total, Some(2));
        let m = &p.items[0];
        assert_eq!(m.data.id, "7782342274025937895");
        assert_eq!(timestamp(m.data.started.as_deref()).map(|t| t.timestamp()), Some(1_518_863_400));
        assert_eq!((m.data.duration, m.data.active), (Some(460.0), Some(true)));
        // remoteData keeps what the provider sent.
        assert_eq!(m.raw["started"], json!(1518863400.0));
        assert_eq!(timestamp(p.items[1].data.started.as_deref()).map(|t| t.timestamp()), Some(1_518_946_200));
        assert!(p.items[1].data.aliases.is_empty());
        assert_eq!(timestamp(p.items[2].data.started.as_deref()).map(|t| t.timestamp()), Some(1_518_946_200));
        assert!(p.items[3].data.started.is_none());
    }

    #[test]
    fn an_unreadable_field_is_null_with_an_issue_and_an_unreadable_record_is_left_out() {
        let (p, issues) = page(json!({
            "items": [
                { "id": "1", "started": "next tuesday", "title": {"nested": true}, "duration": 3 },
                { "title": "no id" },
                { "id": "3", "aliases": ["a", {"b": 1}, "c"] },
                "not a record"
            ]
        }));
        let ids: Vec<_> = p.items.iter().map(|m| m.data.id.as_str()).collect();
        assert_eq!(ids, ["1", "3"]);
        let first = &p.items[0].data;
        assert!(first.started.is_none() && first.title.is_none());
        assert_eq!(first.duration, Some(3.0));
        assert_eq!(p.items[1].data.aliases, ["a", "c"]);
        assert_eq!(issues.len(), 5, "{issues:#?}");
        assert_eq!(issues[0].record.as_deref(), Some("1"));
        assert!(issues[0].message.contains("`started`"), "{}", issues[0].message);
        assert!(issues.iter().any(|i| i.message.contains("left out") && i.message.contains("missing field `id`")));
        assert!(issues.iter().any(|i| i.record.as_deref() == Some("3") && i.message.contains("aliases[1]")));
    }

    #[test]
    fn the_envelope_is_repaired_too_but_a_list_of_records_that_is_not_one_fails_the_response() {
        let (p, issues) = page(json!({ "total": {"odd": 1}, "items": {} }));
        assert_eq!(p.total, None);
        assert!(p.items.is_empty());
        assert_eq!(issues.len(), 2, "{issues:#?}");
        assert!(decode::<Page>(b"<html>").is_err());
        // The response's own list is something else, wherever the decode meets it
        // (before or after another field it repairs): not an empty page.
        for body in [
            json!({ "total": 1, "items": {"not": "a list"} }),
            json!({ "items": "none", "total": {"odd": 1} }),
            json!({ "total": {"odd": 1}, "items": 3 }),
        ] {
            let (p, issues) = collecting(|| decode::<Page>(body.to_string().as_bytes()));
            let why = p.expect_err(&body.to_string());
            assert!(why.contains("not the answer asked for"), "{why}");
            assert_eq!(issues, vec![], "{body}");
        }
    }

    #[test]
    fn a_list_of_which_no_item_is_a_record_fails_the_response_but_one_odd_item_costs_only_itself() {
        for body in [
            json!({ "items": [{"unexpected": true}] }),
            json!({ "items": [{"three": 3}, ["a list"]] }),
            json!([{"unexpected": true}, {"other": 1}]),
        ] {
            let text = body.to_string();
            let (p, issues) = if body.is_array() {
                let (r, i) = collecting(|| decode::<RecordList<Meta>>(text.as_bytes()));
                (r.map(|r| r.len()), i)
            } else {
                let (r, i) = collecting(|| decode::<Page>(text.as_bytes()));
                (r.map(|p| p.items.len()), i)
            };
            let why = p.expect_err(&text);
            assert!(why.contains("none of its") && why.contains("record of the kind asked for"), "{why}");
            assert_eq!(issues, vec![], "{text}");
        }
        // One of them is a record: the others are left out, reported.
        let (p, issues) = page(json!({ "items": [{"unexpected": true}, {"id": "1"}, 7] }));
        assert_eq!(p.items.iter().map(|m| m.data.id.as_str()).collect::<Vec<_>>(), ["1"]);
        assert_eq!(issues.len(), 2, "{issues:#?}");
        // Damaged records (null, a string, a number) are records of the right list
        // that could not be read: left out, reported, even when they are all there is
        // (the last page of a long walk must not cost the walk).
        let (p, issues) = page(json!({ "items": [null, "x", 3] }));
        assert!(p.items.is_empty());
        assert_eq!(issues.len(), 3, "{issues:#?}");
        // A record's own list of foreign items costs that field, not the response.
        #[derive(Debug, Deserialize)]
        struct Outer {
            #[serde(deserialize_with = "record_id")]
            id: String,
            #[serde(default)]
            inner: RecordList<Meta>,
        }
        let (list, issues) = collecting(|| {
            decode::<RecordList<Outer>>(br#"[{"id": "o", "inner": [{"x": 1}]}, {"id": "p", "inner": 5}]"#)
        });
        let list = list.unwrap();
        assert_eq!(list.iter().map(|r| r.data.id.as_str()).collect::<Vec<_>>(), ["o", "p"]);
        assert!(list.iter().all(|r| r.data.inner.is_empty()));
        assert_eq!(issues.len(), 2, "{issues:#?}");
        // The depth count is back at the top after records are read.
        assert!(at_the_top());
    }

    #[derive(Debug, Deserialize)]
    struct Keyed {
        #[serde(deserialize_with = "record_id")]
        id: String,
        name: Option<String>,
    }

    #[test]
    fn a_record_with_a_blank_or_null_id_is_left_out_and_a_numeric_one_is_text() {
        let (list, issues) = collecting(|| {
            decode::<RecordList<Keyed>>(
                br#"[{"id": 7}, {"id": ""}, {"id": null, "name": "x"}, {"id": " "}, {"id": "a"}]"#,
            )
        });
        let ids: Vec<_> = list.unwrap().iter().map(|r| r.data.id.clone()).collect();
        assert_eq!(ids, ["7", "a"]);
        assert_eq!(issues.len(), 3, "{issues:#?}");
        assert!(issues.iter().all(|i| i.message.contains("left out")), "{issues:#?}");
    }

    #[test]
    fn one_record_that_cannot_be_read_is_no_record_with_an_issue() {
        let read = |body: &[u8]| {
            collecting(|| {
                decode::<OneRecord<Keyed>>(body)
                    .unwrap()
                    .0
                    .map(|r| format!("{}:{}", r.data.id, r.data.name.unwrap_or_default()))
            })
        };
        assert_eq!(read(br#"{"id": "k", "name": 3}"#), (Some("k:3".into()), vec![]));
        let (none, issues) = read(br#"{"name": "no id"}"#);
        assert_eq!((none, issues.len()), (None, 1));
        assert!(issues[0].message.contains("left out") && issues[0].message.contains("missing field `id`"));
        assert_eq!(read(b"null"), (None, vec![]));
        let (none, issues) = read(br#""a string""#);
        assert_eq!((none, issues.len()), (None, 1));
        // What is another kind of answer is not this one: a failed response.
        for body in [&br#"{"unexpected": true}"#[..], br#"[{"id": "k"}]"#] {
            let (r, issues) = collecting(|| decode::<OneRecord<Keyed>>(body));
            assert!(r.is_err(), "{}", String::from_utf8_lossy(body));
            assert_eq!(issues, vec![]);
        }
    }

    #[test]
    fn times_in_every_documented_form() {
        let t = |s: &str| timestamp(Some(s)).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        assert_eq!(t("2018-02-18T08:00:00Z").as_deref(), Some("2018-02-18T08:00:00Z"));
        assert_eq!(t("2018-02-18T02:30:00-07:00").as_deref(), Some("2018-02-18T09:30:00Z"));
        assert_eq!(t("2018-02-18T08:00:00.123").as_deref(), Some("2018-02-18T08:00:00Z"));
        assert_eq!(t("2018-02-18 08:00:00+00:00").as_deref(), Some("2018-02-18T08:00:00Z"));
        assert_eq!(t("2018-02-18").as_deref(), Some("2018-02-18T00:00:00Z"));
        assert_eq!(t("1518940800").as_deref(), Some("2018-02-18T08:00:00Z"));
        assert_eq!(t("1518940800000").as_deref(), Some("2018-02-18T08:00:00Z"));
        assert_eq!(t("soon"), None);
        assert_eq!(t(""), None);
    }
}
