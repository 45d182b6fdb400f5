//! Responses generated from an OpenAPI 3.0 document (Gong's own, in
//! `tests/fixtures/gong/openapi.json`), for the contract tests.
//!
//! Modes, each from the response schema of an endpoint:
//! - [`Mode::Example`]: what a mock in examples mode serves (Prism's static mode):
//!   every property, each from its `example` when the document gives one, else a
//!   placeholder of its type;
//! - [`Mode::Absent`]: every optional field absent (nothing in Gong's response schemas
//!   is `required`), but for the lists of records, which hold records of nothing;
//! - [`Mode::Null`]: every field present and `null` (the document marks nothing
//!   `nullable`; providers send `null` for "no value" anyway), lists holding records
//!   of nulls;
//! - [`Mode::Random`]: random valid values of each field's type, format and enum,
//!   each optional field present or not at random;
//! - [`Mode::Odd`]: as `Random`, but values in the forms providers send besides the
//!   documented one: numbers as strings, times as epoch numbers or without an
//!   offset, enum values the document does not list, fields it does not know.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Map, Value, json};

/// An OpenAPI document.
pub struct Doc {
    root: Value,
}

/// How to fill a generated response (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Example,
    Absent,
    Null,
    Random,
    Odd,
}

impl Doc {
    /// Gong's document.
    pub fn gong() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gong/openapi.json");
        let text = std::fs::read_to_string(path).expect("the Gong OpenAPI document is in tests/fixtures");
        Self { root: serde_json::from_str(&text).expect("the document is JSON") }
    }

    /// The schema of the `200` JSON response of `method path`.
    pub fn response_schema(&self, method: &str, path: &str) -> &Value {
        let op = &self.root["paths"][path][method.to_ascii_lowercase()];
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(!schema.is_null(), "the document has no JSON 200 response for {method} {path}");
        schema
    }

    /// The top-level keys the document gives the 200 answer of `method path`.
    pub fn response_keys(&self, method: &str, path: &str) -> Vec<String> {
        let schema = self.resolve(self.response_schema(method, path));
        schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
    }

    /// The keys the document gives the records of the list `list` in the 200 answer
    /// of `method path`.
    pub fn record_keys(&self, method: &str, path: &str, list: &str) -> BTreeSet<String> {
        let schema = self.resolve(self.response_schema(method, path));
        let items = self.resolve(&self.resolve(&schema["properties"][list])["items"]);
        items["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
    }

    /// `schema` with its `$ref`s followed.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(r) = schema.get("$ref").and_then(Value::as_str) else { return schema };
            let name = r.rsplit('/').next().unwrap_or_default();
            schema = &self.root["components"]["schemas"][name];
        }
        schema
    }

    /// A generator of responses.
    pub fn generator(&self, mode: Mode, seed: u64) -> Gen<'_> {
        Gen { doc: self, mode, rng: StdRng::seed_from_u64(seed) }
    }
}

/// Generates values for schemas of one document.
pub struct Gen<'a> {
    doc: &'a Doc,
    mode: Mode,
    rng: StdRng,
}

/// Deeper than this, objects are left empty (the document's schemas nest a few
/// levels; nothing convograph reads is deeper).
const MAX_DEPTH: usize = 9;

impl Gen<'_> {
    /// A value of `schema`.
    pub fn value(&mut self, schema: &Value) -> Value {
        self.of(schema, "", 0)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn of(&mut self, schema: &Value, name: &str, depth: usize) -> Value {
        let doc = self.doc;
        let schema = doc.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for part in all {
                if let Value::Object(o) = self.of(part, name, depth) {
                    merged.extend(o);
                }
            }
            return Value::Object(merged);
        }
        if let Some(one) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
            let pick = if self.mode == Mode::Example { one.first() } else { one.choose(&mut self.rng) };
            return pick.map_or(Value::Null, |s| self.of(s, name, depth));
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or(if schema.get("properties").is_some() {
            "object"
        } else {
            "string"
        });
        match ty {
            "object" => self.object(schema, depth),
            "array" => self.array(schema, name, depth),
            _ => self.scalar(schema, ty, name),
        }
    }

    fn object(&mut self, schema: &Value, depth: usize) -> Value {
        let mut out = Map::new();
        if depth >= MAX_DEPTH {
            return Value::Object(out);
        }
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return Value::Object(out);
        };
        for (key, prop) in props {
            let is_list = self.doc.resolve(prop).get("type").and_then(Value::as_str) == Some("array");
            let v = match self.mode {
                Mode::Example => self.of(prop, key, depth + 1),
                Mode::Absent if is_list => self.of(prop, key, depth + 1),
                Mode::Absent => continue,
                Mode::Null if is_list => self.of(prop, key, depth + 1),
                Mode::Null => Value::Null,
                Mode::Random | Mode::Odd => {
                    if !self.chance(0.8) {
                        continue;
                    }
                    if self.chance(0.05) { Value::Null } else { self.of(prop, key, depth + 1) }
                }
            };
            out.insert(key.clone(), v);
        }
        if self.mode == Mode::Odd && self.chance(0.3) {
            out.insert("fieldTheDocumentDoesNotKnow".into(), json!({ "any": ["thing", 1, null] }));
        }
        Value::Object(out)
    }

    fn array(&mut self, schema: &Value, name: &str, depth: usize) -> Value {
        let items = schema.get("items").cloned().unwrap_or(Value::Null);
        let is_records = self.doc.resolve(&items).get("properties").is_some();
        let n = match self.mode {
            Mode::Example => 1,
            Mode::Absent | Mode::Null => {
                if is_records {
                    2
                } else {
                    0
                }
            }
            Mode::Random | Mode::Odd => self.rng.random_range(0..=3),
        };
        Value::Array((0..n).map(|_| self.of(&items, name, depth + 1)).collect())
    }

    fn scalar(&mut self, schema: &Value, ty: &str, name: &str) -> Value {
        // A string whose example is a time is a time, whatever the document's format.
        let example_is_time = schema
            .get("example")
            .and_then(Value::as_str)
            .is_some_and(|e| chrono::DateTime::parse_from_rfc3339(e).is_ok());
        let format = match schema.get("format").and_then(Value::as_str) {
            Some(f) => f,
            None if example_is_time => "date-time",
            None => "",
        };
        let enums = schema.get("enum").and_then(Value::as_array);
        match self.mode {
            Mode::Example => {
                if let Some(e) = schema.get("example") {
                    return e.clone();
                }
                if let Some(first) = enums.and_then(|e| e.first()) {
                    return first.clone();
                }
                return match ty {
                    "integer" | "number" => json!(0),
                    "boolean" => json!(true),
                    _ => json!("string"),
                };
            }
            Mode::Absent | Mode::Null => return Value::Null,
            Mode::Random | Mode::Odd => {}
        }
        let odd = self.mode == Mode::Odd && self.chance(0.35);
        if let Some(values) = enums {
            if odd {
                return json!("AValueTheDocumentDoesNotList");
            }
            return values.choose(&mut self.rng).cloned().unwrap_or(Value::Null);
        }
        match (ty, format) {
            ("string", "date-time") => {
                let secs: i64 = self.rng.random_range(1_500_000_000..1_800_000_000);
                let t = chrono::DateTime::from_timestamp(secs, 0).expect("in range");
                if odd {
                    return match self.rng.random_range(0..3) {
                        0 => json!(secs),
                        1 => json!(secs * 1000),
                        _ => json!(t.format("%Y-%m-%dT%H:%M:%S").to_string()),
                    };
                }
                let offset = chrono::FixedOffset::east_opt(self.rng.random_range(-12..=12) * 3600).expect("in range");
                json!(t.with_timezone(&offset).to_rfc3339())
            }
            ("string", "date") => {
                let secs: i64 = self.rng.random_range(1_500_000_000..1_800_000_000);
                json!(chrono::DateTime::from_timestamp(secs, 0).expect("in range").format("%Y-%m-%d").to_string())
            }
            ("string", _) if is_id(name) => {
                let id: u64 = self.rng.random_range(1..10_000_000_000_000_000_000);
                if odd { json!(id) } else { json!(id.to_string()) }
            }
            ("string", _) => {
                let words = ["alpha", "Beta call", "gamma@example.com", "", "ünïcödé", "with \"quotes\""];
                json!(words.choose(&mut self.rng).copied().unwrap_or_default())
            }
            ("integer", _) => {
                let max: i64 = if format == "int32" { i64::from(i32::MAX) } else { 1 << 53 };
                let n = self.rng.random_range(0..max);
                if odd { json!(n.to_string()) } else { json!(n) }
            }
            ("number", _) => {
                let n = (self.rng.random_range(0.0..100_000.0f64) * 100.0).round() / 100.0;
                if odd { json!(n.to_string()) } else { json!(n) }
            }
            ("boolean", _) => {
                let b = self.chance(0.5);
                if odd { json!(b.to_string()) } else { json!(b) }
            }
            _ => Value::Null,
        }
    }
}

/// Whether a property names an id (Gong's ids are numeric strings).
fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("Id") || name.ends_with("Ids")
}

/// Whether `records` (what an answer holds where its records belong) is another kind
/// of answer: not one of them a record of the kind documented, i.e. each is an object
/// with none of `documented`'s keys, or a list. convograph fails such a read
/// (`src/providers/wire.rs`) rather than answer an empty page; a `null` or a scalar
/// in a record's place is a damaged record instead (left out, reported).
pub fn another_kind(records: &[Value], documented: &BTreeSet<String>) -> bool {
    !records.is_empty()
        && records.iter().all(|r| match r {
            Value::Object(o) => !o.is_empty() && !o.keys().any(|k| documented.contains(k)),
            Value::Array(_) => true,
            _ => false,
        })
}
