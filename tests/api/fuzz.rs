//! A schema-driven GraphQL fuzzer over the sandbox.
//!
//! The generator reads `schema.graphql` (the generated SDL, kept up to date by
//! `schema.rs`) plus the federation fields the engine adds (`_entities`, `_service`)
//! and draws, from a seed, requests of these kinds:
//! - `valid`: random documents that validate: fields with arguments of the right types
//!   (inline or as variables), nested selections, aliases, named and inline
//!   fragments, `@include`/`@skip`, `__typename` and introspection; POSTed or sent over
//!   GET, with random `Accept`, tracing and debug headers;
//! - `invalid`: the same with faults: unknown fields, arguments of the wrong type,
//!   missing required arguments, variables of the wrong type, undeclared or unused
//!   variables, fragment cycles and unknown fragments, subselections on leaves,
//!   truncated or mangled documents;
//! - `deep`: nesting just under, at and past `limits.max_depth`, and braces far past it;
//! - `aliases`: around `limits.max_aliases` and far past it;
//! - `garbage`: random bytes, truncated JSON, bodies of the wrong JSON shape, invalid
//!   UTF-8, huge strings and bodies over `limits.max_body_bytes`, deeply nested JSON;
//! - `content-type`: a valid body under other media types;
//! - `get`: query strings that are malformed, mutations over GET, GraphiQL;
//! - `batch`: JSON arrays of requests, empty, mixed and over `limits.max_batch`;
//! - `persisted`: persisted-query extensions with unknown or malformed hashes;
//! - `method`: other HTTP methods.
//!
//! Every answer must: come (no hang, no dropped connection); have no 5xx but the
//! documented 503/504; be valid JSON when its content type says JSON; give every
//! GraphQL error an `extensions.code`. A `valid` document must not be refused as
//! unparsable or invalid (that would be a generator or schema bug). `/healthz` stays
//! 200 and no panic is seen. A failure prints the seed, the case and the request.
//!
//! `CONVOGRAPH_FUZZ_CASES` (default 1,500) and `CONVOGRAPH_FUZZ_SEED` (default 14)
//! scale and vary the run; `CONVOGRAPH_FUZZ_ONLY=<case>` replays one case verbosely.
//! `scripts/fuzz.sh` runs the full campaign.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write as _,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::parser::{
    parse_schema,
    types::{BaseType, Type, TypeKind, TypeSystemDefinition},
};
use convograph::{
    config::{SandboxConfig, SecretSource, TrafficSettings},
    providers::ProviderKind,
    sandbox::{ExecVisionSimSettings, GongSimSettings, HubsterSimSettings, SalesloftSimSettings, SandboxSettings},
};
use futures::StreamExt as _;
use rand::{Rng, RngCore, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, spawn_app, spawn_with_simulators, test_settings};

const DEFAULT_CASES: usize = 1_500;
const DEFAULT_SEED: u64 = 14;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// The server's deadline in this run: a slow case is a documented 504, not a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------
// The schema, as the generator sees it.

#[derive(Debug)]
struct Arg {
    name: String,
    ty: Type,
    has_default: bool,
}

#[derive(Debug)]
struct FieldDef {
    name: String,
    args: Vec<Arg>,
    ty: Type,
}

#[derive(Debug)]
enum Kind {
    Scalar,
    Enum(Vec<String>),
    Object(Vec<FieldDef>),
    Interface(Vec<FieldDef>),
    Union,
    Input(Vec<Arg>),
}

#[derive(Debug)]
struct Model {
    kinds: HashMap<String, Kind>,
    /// Concrete types of each interface and union, in SDL order.
    possible: HashMap<String, Vec<String>>,
    /// Every type name, in SDL order.
    names: Vec<String>,
    /// Memo of [`Model::reach`].
    reach: Mutex<HashMap<String, usize>>,
}

/// The nesting of a type that can nest without end.
const UNBOUNDED: usize = 1_000;

/// What async-graphql adds to the schema for federation (not in `schema.graphql`).
const FEDERATION_SDL: &str = r#"
scalar _Any
union _Entity = Call | User
type _Service { sdl: String }
extend type Query {
  _entities(representations: [_Any!]!): [_Entity]!
  _service: _Service!
}
"#;

impl Model {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let sdl = std::fs::read_to_string(path).expect("schema.graphql") + FEDERATION_SDL;
        let doc = parse_schema(&sdl).expect("schema.graphql parses");
        let mut model =
            Model { kinds: HashMap::new(), possible: HashMap::new(), names: Vec::new(), reach: Mutex::default() };
        let args = |list: &[async_graphql::Positioned<async_graphql::parser::types::InputValueDefinition>]| {
            list.iter()
                .map(|a| Arg {
                    name: a.node.name.node.to_string(),
                    ty: a.node.ty.node.clone(),
                    has_default: a.node.default_value.is_some(),
                })
                .collect::<Vec<_>>()
        };
        let fields = |list: &[async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>]| {
            list.iter()
                .map(|f| FieldDef {
                    name: f.node.name.node.to_string(),
                    args: args(&f.node.arguments),
                    ty: f.node.ty.node.clone(),
                })
                .collect::<Vec<_>>()
        };
        for def in doc.definitions {
            let TypeSystemDefinition::Type(t) = def else { continue };
            let t = t.node;
            let name = t.name.node.to_string();
            let kind = match &t.kind {
                TypeKind::Scalar => Kind::Scalar,
                TypeKind::Enum(e) => Kind::Enum(e.values.iter().map(|v| v.node.value.node.to_string()).collect()),
                TypeKind::Object(o) => {
                    for i in &o.implements {
                        model.possible.entry(i.node.to_string()).or_default().push(name.clone());
                    }
                    Kind::Object(fields(&o.fields))
                }
                TypeKind::Interface(i) => Kind::Interface(fields(&i.fields)),
                TypeKind::Union(u) => {
                    model.possible.insert(name.clone(), u.members.iter().map(|m| m.node.to_string()).collect());
                    Kind::Union
                }
                TypeKind::InputObject(i) => Kind::Input(args(&i.fields)),
            };
            match (t.extend, model.kinds.get_mut(&name), kind) {
                (true, Some(Kind::Object(have)), Kind::Object(more)) => have.extend(more),
                (_, _, kind) => {
                    model.names.push(name.clone());
                    model.kinds.insert(name, kind);
                }
            }
        }
        for scalar in ["Int", "Float", "String", "Boolean", "ID"] {
            model.kinds.insert(scalar.to_owned(), Kind::Scalar);
        }
        model
    }

    /// How many fields deep a selection on `name` can nest (a cycle: [`UNBOUNDED`]).
    fn reach(&self, name: &str) -> usize {
        fn walk<'m>(m: &'m Model, name: &'m str, visiting: &mut Vec<&'m str>) -> usize {
            if visiting.contains(&name) {
                return UNBOUNDED;
            }
            visiting.push(name);
            let targets: Vec<&str> = match m.kinds.get(name) {
                Some(Kind::Object(fields) | Kind::Interface(fields)) => {
                    fields.iter().map(|f| named(&f.ty)).filter(|t| m.is_composite(t)).collect()
                }
                Some(Kind::Union) => Vec::new(),
                _ => Vec::new(),
            };
            let mut best = 0;
            for t in targets {
                best = best.max(walk(m, t, visiting).saturating_add(1).min(UNBOUNDED));
            }
            for p in m.possible.get(name).into_iter().flatten() {
                best = best.max(walk(m, p, visiting));
            }
            visiting.pop();
            best
        }
        let mut memo = self.reach.lock().expect("reach memo");
        if let Some(r) = memo.get(name) {
            return *r;
        }
        let r = walk(self, name, &mut Vec::new());
        memo.insert(name.to_owned(), r);
        r
    }

    fn is_composite(&self, name: &str) -> bool {
        matches!(self.kinds.get(name), Some(Kind::Object(_) | Kind::Interface(_) | Kind::Union))
    }

    fn fields(&self, name: &str) -> &[FieldDef] {
        match self.kinds.get(name) {
            Some(Kind::Object(f) | Kind::Interface(f)) => f,
            _ => &[],
        }
    }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

// ---------------------------------------------------------------------------------
// Values: printed as GraphQL literals or as JSON variables.

#[derive(Debug, Clone)]
enum Lit {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Enum(String),
    List(Vec<Lit>),
    Obj(Vec<(String, Lit)>),
    /// A JSON value only a variable can carry (object keys that are not names).
    Json(Value),
}

impl Lit {
    fn gql(&self) -> String {
        match self {
            Lit::Null => "null".into(),
            Lit::Int(n) => n.to_string(),
            Lit::Float(f) => format!("{f:?}"),
            Lit::Str(s) => serde_json::to_string(s).expect("a string serialises"),
            Lit::Bool(b) => b.to_string(),
            Lit::Enum(e) => e.clone(),
            Lit::List(items) => format!("[{}]", items.iter().map(Lit::gql).collect::<Vec<_>>().join(", ")),
            Lit::Obj(fields) => {
                format!(
                    "{{{}}}",
                    fields.iter().map(|(k, v)| format!("{k}: {}", v.gql())).collect::<Vec<_>>().join(", ")
                )
            }
            Lit::Json(v) => json_as_gql(v),
        }
    }

    fn json(&self) -> Value {
        match self {
            Lit::Null => Value::Null,
            Lit::Int(n) => json!(n),
            Lit::Float(f) => json!(f),
            Lit::Str(s) | Lit::Enum(s) => json!(s),
            Lit::Bool(b) => json!(b),
            Lit::List(items) => Value::Array(items.iter().map(Lit::json).collect()),
            Lit::Obj(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect()),
            Lit::Json(v) => v.clone(),
        }
    }
}

/// A JSON value as a GraphQL literal (keys that are not names are renamed).
fn json_as_gql(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => serde_json::to_string(s).expect("a string serialises"),
        Value::Array(items) => format!("[{}]", items.iter().map(json_as_gql).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    let ok = !k.is_empty()
                        && !k.starts_with(|c: char| c.is_ascii_digit())
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    let key = if ok { k.clone() } else { format!("k{i}") };
                    format!("{key}: {}", json_as_gql(v))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Ids, cursors and emails read from the sandbox before the run (in a fixed order,
/// so a case is the same request on every run with the same seed).
#[derive(Debug, Default)]
struct Pool {
    ids: Vec<String>,
    connections: Vec<String>,
    cursors: Vec<String>,
    emails: Vec<String>,
}

fn random_string(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0 => String::new(),
        1 => "é漢字🙂\u{200b}\u{feff}".into(),
        2 => "\"\\\n\t\r\u{0}\u{1f}'`".into(),
        3 => "x".repeat(rng.random_range(100..3_000)),
        4 => "%00%ff../../etc/passwd".into(),
        5 => "{ connections { id } }".into(),
        6 => "-1".into(),
        7 => {
            let n = rng.random_range(1..40);
            (0..n).map(|_| char::from_u32(rng.random_range(0x20..0x3000)).unwrap_or('?')).collect()
        }
        _ => {
            let n = rng.random_range(1..20);
            (0..n).map(|_| char::from(rng.random_range(b'a'..=b'z'))).collect()
        }
    }
}

fn random_json(rng: &mut StdRng, depth: usize) -> Value {
    match rng.random_range(0..if depth > 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random_range(-1_000_000i64..1_000_000)),
        3 => json!(rng.random::<f64>() * 1e6),
        4 => json!(random_string(rng)),
        5 => Value::Array((0..rng.random_range(0..4)).map(|_| random_json(rng, depth + 1)).collect()),
        _ => {
            Value::Object((0..rng.random_range(0..4)).map(|i| (format!("k{i}"), random_json(rng, depth + 1))).collect())
        }
    }
}

fn random_datetime(rng: &mut StdRng) -> String {
    let (y, m, d) = (rng.random_range(2025..=2026), rng.random_range(1..=12), rng.random_range(1..=28));
    let (h, min) = (rng.random_range(0..24), rng.random_range(0..60));
    match rng.random_range(0..3) {
        0 => format!("{y}-{m:02}-{d:02}T{h:02}:{min:02}:00Z"),
        1 => format!("{y}-{m:02}-{d:02}T{h:02}:{min:02}:00.123+02:00"),
        _ => format!("{y}-{m:02}-{d:02}T{h:02}:{min:02}:59-07:30"),
    }
}

// ---------------------------------------------------------------------------------
// The document generator.

/// The faults an `invalid` document carries.
#[derive(Debug, Default, Clone, Copy)]
struct Faults {
    wrong_arg_types: bool,
    missing_required: bool,
    wrong_var_values: bool,
    unknown_fields: bool,
    leaf_subselection: bool,
}

struct Gen<'a> {
    m: &'a Model,
    pool: &'a Pool,
    rng: StdRng,
    /// Declared variables: name, GraphQL type, value (`None`: not sent).
    vars: Vec<(String, String, Option<Value>)>,
    frags: Vec<String>,
    faults: Faults,
    max_depth: usize,
    names: usize,
    /// Response keys of the root `_entities` fields selected without a directive.
    entities_keys: Vec<String>,
}

impl<'a> Gen<'a> {
    fn new(m: &'a Model, pool: &'a Pool, rng: StdRng) -> Self {
        Gen {
            m,
            pool,
            rng,
            vars: Vec::new(),
            frags: Vec::new(),
            faults: Faults::default(),
            max_depth: 4,
            names: 0,
            entities_keys: Vec::new(),
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    /// A value of `ty` (of another type when `wrong`).
    fn value(&mut self, ty: &Type, wrong: bool) -> Lit {
        if wrong {
            return self.wrong_value(ty);
        }
        if ty.nullable && self.rng.random_bool(0.05) {
            return Lit::Null;
        }
        match &ty.base {
            BaseType::List(inner) => {
                if self.rng.random_bool(0.15) {
                    // Input coercion: a single value stands for a list of one.
                    return self.value(inner, false);
                }
                let n = self.rng.random_range(0..4);
                Lit::List((0..n).map(|_| self.value(inner, false)).collect())
            }
            BaseType::Named(name) => self.named_value(name.as_str()),
        }
    }

    fn named_value(&mut self, name: &str) -> Lit {
        let m = self.m;
        let rng = &mut self.rng;
        match name {
            "Int" => Lit::Int(match rng.random_range(0..10) {
                0 => -1,
                1 => 0,
                2 => i64::from(i32::MAX),
                3 => 101,
                _ => rng.random_range(1..30),
            }),
            "Float" => Lit::Float(rng.random::<f64>() * 100.0),
            "Boolean" => Lit::Bool(rng.random()),
            "String" => Lit::Str(match rng.random_range(0..4) {
                0 if !self.pool.cursors.is_empty() => self.pool.cursors.choose(rng).cloned().unwrap_or_default(),
                _ => random_string(rng),
            }),
            "ID" => Lit::Str(match rng.random_range(0..10) {
                0..=3 if !self.pool.ids.is_empty() => self.pool.ids.choose(rng).cloned().unwrap_or_default(),
                4..=6 if !self.pool.connections.is_empty() => {
                    self.pool.connections.choose(rng).cloned().unwrap_or_default()
                }
                7 if !self.pool.emails.is_empty() => self.pool.emails.choose(rng).cloned().unwrap_or_default(),
                _ => random_string(rng),
            }),
            "DateTime" => Lit::Str(random_datetime(rng)),
            "NaiveDate" => Lit::Str(format!(
                "{}-{:02}-{:02}",
                rng.random_range(2025..=2026),
                rng.random_range(1..=12),
                rng.random_range(1..=28)
            )),
            "JSON" => Lit::Json(random_json(rng, 0)),
            "_Any" => {
                let typename = *["Call", "User", "Nope", "Node", ""].choose(rng).expect("non-empty");
                let mut rep = serde_json::Map::new();
                if rng.random_bool(0.9) {
                    rep.insert("__typename".into(), json!(typename));
                }
                match rng.random_range(0..5) {
                    0 => {}
                    1 => {
                        rep.insert("id".into(), random_json(rng, 2));
                    }
                    2 if !self.pool.emails.is_empty() => {
                        rep.insert("email".into(), json!(self.pool.emails.choose(rng)));
                    }
                    _ => {
                        let id = self.pool.ids.choose(rng).cloned().unwrap_or_default();
                        rep.insert("id".into(), json!(id));
                    }
                }
                Lit::Json(Value::Object(rep))
            }
            other => match m.kinds.get(other) {
                Some(Kind::Enum(values)) => Lit::Enum(values.choose(rng).cloned().unwrap_or_default()),
                Some(Kind::Input(fields)) => {
                    let mut out = Vec::new();
                    for f in fields {
                        let required = !f.ty.nullable && !f.has_default;
                        if required || self.rng.random_bool(0.4) {
                            out.push((f.name.clone(), self.value(&f.ty, false)));
                        }
                    }
                    Lit::Obj(out)
                }
                _ => Lit::Str(random_string(rng)),
            },
        }
    }

    /// A value that `ty` does not accept (as far as can be told: a string is a valid
    /// `ID`, and a custom scalar may take anything, so those get an object).
    fn wrong_value(&mut self, ty: &Type) -> Lit {
        let name = named(ty);
        let rng = &mut self.rng;
        match name {
            "Int" => [Lit::Str("seven".into()), Lit::Float(1.5), Lit::Bool(true), Lit::Int(1 << 40)]
                .choose(rng)
                .cloned()
                .expect("non-empty"),
            "Boolean" | "Float" => Lit::Str("yes".into()),
            "String" | "ID" => [Lit::Obj(vec![("a".into(), Lit::Int(1))]), Lit::Bool(false), Lit::Float(2.5)]
                .choose(rng)
                .cloned()
                .expect("non-empty"),
            "DateTime" | "NaiveDate" => Lit::Str(random_string(rng) + "not-a-date"),
            _ => match self.m.kinds.get(name) {
                Some(Kind::Enum(_)) => Lit::Enum("NOT_A_VALUE".into()),
                Some(Kind::Input(_)) => Lit::Obj(vec![("noSuchField".into(), Lit::Int(1))]),
                _ if !ty.nullable => Lit::Null,
                _ => Lit::List(vec![Lit::Obj(vec![])]),
            },
        }
    }

    /// Arguments of a field: required ones always (unless faulted), some optional
    /// ones, inline or through a variable.
    fn args(&mut self, args: &[Arg]) -> String {
        let mut out = Vec::new();
        for a in args {
            let required = !a.ty.nullable && !a.has_default;
            if required && self.faults.missing_required && self.rng.random_bool(0.5) {
                continue;
            }
            if !required && !self.rng.random_bool(0.35) {
                continue;
            }
            let wrong = self.faults.wrong_arg_types && self.rng.random_bool(0.4);
            if self.rng.random_bool(0.3) {
                let var = self.fresh("v");
                let wrong_value = self.faults.wrong_var_values && self.rng.random_bool(0.5);
                let value = self.value(&a.ty, wrong || wrong_value).json();
                // A nullable variable may be left out of `variables`.
                let sent = if a.ty.nullable && self.rng.random_bool(0.1) { None } else { Some(value) };
                self.vars.push((var.clone(), a.ty.to_string(), sent));
                out.push(format!("{}: ${var}", a.name));
            } else {
                out.push(format!("{}: {}", a.name, self.value(&a.ty, wrong).gql()));
            }
        }
        if out.is_empty() { String::new() } else { format!("({})", out.join(", ")) }
    }

    /// A selection set on `ty` at `depth` (fields nest up to `max_depth`).
    fn selection(&mut self, ty: &str, depth: usize) -> String {
        let mut used = HashSet::new();
        let mut parts = Vec::new();
        self.selection_items(ty, depth, &mut used, &mut parts, 0);
        if parts.is_empty() {
            parts.push("__typename".into());
        }
        format!("{{ {} }}", parts.join(" "))
    }

    fn selection_items(
        &mut self,
        ty: &str,
        depth: usize,
        used: &mut HashSet<String>,
        parts: &mut Vec<String>,
        hops: usize,
    ) {
        let m = self.m;
        let fields = m.fields(ty);
        let n = if depth >= self.max_depth { 1 } else { self.rng.random_range(1..=4) };
        for _ in 0..n {
            if fields.is_empty() || self.rng.random_bool(0.08) {
                if used.insert("__typename".into()) {
                    parts.push("__typename".into());
                }
                continue;
            }
            let f = fields.choose(&mut self.rng).expect("non-empty");
            let composite = m.is_composite(named(&f.ty));
            if composite && depth >= self.max_depth {
                continue;
            }
            let alias = self.rng.random_bool(0.1).then(|| self.fresh("a"));
            let key = alias.clone().unwrap_or_else(|| f.name.clone());
            if !used.insert(key.clone()) {
                continue;
            }
            let entities = ty == "Query" && f.name == "_entities";
            let mut s = alias.map(|a| format!("{a}: ")).unwrap_or_default();
            s += &f.name;
            s += &self.args(&f.args);
            if self.rng.random_bool(0.04) {
                s += &self.directive();
            } else if entities {
                self.entities_keys.push(key.clone());
            }
            if composite {
                s.push(' ');
                s += &self.selection(named(&f.ty), depth + 1);
            } else if self.faults.leaf_subselection && self.rng.random_bool(0.3) {
                s += " { x }";
            }
            parts.push(s);
        }
        if self.faults.unknown_fields && self.rng.random_bool(0.3) {
            parts.push(format!("zz{}", self.rng.random::<u16>()));
        }
        if hops > 2 {
            return;
        }
        // Inline fragments on a concrete type of an interface or union (or on the
        // type itself), and now and then a named fragment.
        let possible = m.possible.get(ty).map(Vec::as_slice).unwrap_or_default();
        if !possible.is_empty() && self.rng.random_bool(0.6) || self.rng.random_bool(0.05) {
            let on = possible.choose(&mut self.rng).map_or(ty, String::as_str).to_owned();
            let mut inner = Vec::new();
            let unconditional = self.entities_keys.len();
            self.selection_items(&on, depth, used, &mut inner, hops + 1);
            if !inner.is_empty() {
                let dir = if self.rng.random_bool(0.1) { self.directive() } else { String::new() };
                if !dir.is_empty() {
                    // Under `@skip`/`@include`, the fields may rightly be absent.
                    self.entities_keys.truncate(unconditional);
                }
                parts.push(format!("... on {on}{dir} {{ {} }}", inner.join(" ")));
            }
        }
        if self.rng.random_bool(0.08) {
            let on = possible.choose(&mut self.rng).map_or(ty, String::as_str).to_owned();
            let mut inner = Vec::new();
            self.selection_items(&on, depth, used, &mut inner, hops + 1);
            if !inner.is_empty() {
                let name = self.fresh("F");
                self.frags.push(format!("fragment {name} on {on} {{ {} }}", inner.join(" ")));
                parts.push(format!("...{name}"));
            }
        }
    }

    fn directive(&mut self) -> String {
        let which = if self.rng.random_bool(0.5) { "include" } else { "skip" };
        if self.rng.random_bool(0.5) {
            let var = self.fresh("b");
            let value = self.rng.random::<bool>();
            self.vars.push((var.clone(), "Boolean!".into(), Some(json!(value))));
            format!(" @{which}(if: ${var})")
        } else {
            format!(" @{which}(if: {})", self.rng.random::<bool>())
        }
    }

    /// The whole document: the operation (maybe named) and its fragments.
    fn document(&mut self, body: &str, name: Option<&str>) -> String {
        let mut doc = String::from("query");
        if let Some(n) = name {
            doc += " ";
            doc += n;
        }
        if !self.vars.is_empty() {
            let defs: Vec<String> = self.vars.iter().map(|(n, t, _)| format!("${n}: {t}")).collect();
            write!(doc, "({})", defs.join(", ")).expect("write to a String");
        }
        doc.push(' ');
        doc += body;
        for f in &self.frags {
            doc.push('\n');
            doc += f;
        }
        doc
    }

    fn variables(&self) -> Value {
        Value::Object(self.vars.iter().filter_map(|(n, _, v)| Some((n.clone(), v.clone()?))).collect())
    }

    /// A `{ query, variables, operationName }` request.
    fn request(&mut self) -> Value {
        let body = self.selection("Query", 1);
        let name = self.rng.random_bool(0.3).then(|| self.fresh("Op"));
        let doc = self.document(&body, name.as_deref());
        let mut req = json!({ "query": doc });
        if !self.vars.is_empty() || self.rng.random_bool(0.2) {
            req["variables"] = self.variables();
        }
        if let Some(n) = name
            && self.rng.random_bool(0.5)
        {
            req["operationName"] = json!(n);
        }
        req
    }
}

// ---------------------------------------------------------------------------------
// Cases.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CaseKind {
    Valid,
    Invalid,
    Deep,
    Aliases,
    Garbage,
    ContentType,
    Get,
    Batch,
    Persisted,
    Method,
}

impl CaseKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Deep => "deep",
            Self::Aliases => "aliases",
            Self::Garbage => "garbage",
            Self::ContentType => "content-type",
            Self::Get => "get",
            Self::Batch => "batch",
            Self::Persisted => "persisted",
            Self::Method => "method",
        }
    }
}

/// What a case's answer must show beyond the invariants.
#[derive(Debug, Default, Clone)]
struct Expect {
    /// No request-level refusal for a malformed or invalid document.
    validates: bool,
    /// An error with this code.
    code: Option<&'static str>,
    /// No error with this code.
    not_code: Option<&'static str>,
    /// This HTTP status.
    status: Option<u16>,
    /// Response keys of root `_entities` fields selected without a directive: each
    /// answers a list (one bad representation is `null` at its index, never the whole
    /// field).
    entities_keys: Vec<String>,
}

#[derive(Debug)]
struct Case {
    index: usize,
    kind: CaseKind,
    /// A finer label for the summary (`valid/get`, `garbage/bytes`, ...).
    label: String,
    method: reqwest::Method,
    /// Raw query string (GET), without `?`.
    query: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    expect: Expect,
}

struct Limits {
    max_depth: usize,
    max_aliases: usize,
    max_batch: usize,
    max_body_bytes: usize,
}

fn case_rng(seed: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn post(index: usize, kind: CaseKind, label: &str, body: Vec<u8>) -> Case {
    Case {
        index,
        kind,
        label: label.to_owned(),
        method: reqwest::Method::POST,
        query: None,
        headers: vec![("content-type", "application/json".into())],
        body: Some(body),
        expect: Expect::default(),
    }
}

fn get(index: usize, kind: CaseKind, label: &str, query: String) -> Case {
    Case {
        index,
        kind,
        label: label.to_owned(),
        method: reqwest::Method::GET,
        query: Some(query),
        headers: Vec::new(),
        body: None,
        expect: Expect::default(),
    }
}

/// `{query, variables, operationName}` as a GET query string.
fn query_string(req: &Value) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if let Some(q) = req["query"].as_str() {
        s.append_pair("query", q);
    }
    if let Some(v) = req.get("variables") {
        s.append_pair("variables", &v.to_string());
    }
    if let Some(n) = req["operationName"].as_str() {
        s.append_pair("operationName", n);
    }
    s.finish()
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON serialises")
}

fn make_case(model: &Model, pool: &Pool, limits: &Limits, seed: u64, index: usize) -> Case {
    let mut rng = case_rng(seed, index);
    let roll = rng.random_range(0..100);
    let kind = match roll {
        0..30 => CaseKind::Valid,
        30..50 => CaseKind::Invalid,
        50..57 => CaseKind::Deep,
        57..61 => CaseKind::Aliases,
        61..74 => CaseKind::Garbage,
        74..80 => CaseKind::ContentType,
        80..86 => CaseKind::Get,
        86..95 => CaseKind::Batch,
        95..98 => CaseKind::Persisted,
        _ => CaseKind::Method,
    };
    let sub = StdRng::seed_from_u64(rng.next_u64());
    let mut case = match kind {
        CaseKind::Valid => valid_case(model, pool, index, sub),
        CaseKind::Invalid => invalid_case(model, pool, index, sub),
        CaseKind::Deep => deep_case(model, pool, limits, index, sub),
        CaseKind::Aliases => alias_case(limits, index, sub),
        CaseKind::Garbage => garbage_case(model, pool, limits, index, sub),
        CaseKind::ContentType => content_type_case(model, pool, index, sub),
        CaseKind::Get => get_case(index, sub),
        CaseKind::Batch => batch_case(model, pool, limits, index, sub),
        CaseKind::Persisted => persisted_case(index, sub),
        CaseKind::Method => method_case(index, sub),
    };
    // Headers any GraphQL request may carry.
    if rng.random_bool(0.3) {
        let accept = [
            "application/graphql-response+json",
            "application/json",
            "*/*",
            "application/graphql-response+json;q=0, application/json",
            "text/plain",
        ];
        case.headers.push(("accept", (*accept.choose(&mut rng).expect("non-empty")).to_owned()));
    }
    if rng.random_bool(0.05) {
        case.headers.push(("x-convograph-debug", "1".into()));
    }
    if rng.random_bool(0.05) {
        case.headers.push(("apollo-federation-include-trace", "ftv1".into()));
    }
    case
}

fn valid_case(model: &Model, pool: &Pool, index: usize, mut rng: StdRng) -> Case {
    let intro = rng.random_bool(0.04);
    let over_get = rng.random_bool(0.25);
    let mut g = Gen::new(model, pool, StdRng::seed_from_u64(rng.next_u64()));
    g.max_depth = rng.random_range(2..=5);
    let req = if intro {
        let q = *[
            "{ __schema { queryType { name } types { name kind fields { name args { name type { name kind ofType { name } } } } } } }",
            "query($n: String!) { __type(name: $n) { name kind fields { name } possibleTypes { name } enumValues { name } } }",
            "{ _service { sdl } }",
            "{ __typename }",
        ]
        .choose(&mut rng)
        .expect("non-empty");
        let name = model.names.choose(&mut rng).cloned().unwrap_or_default();
        json!({ "query": q, "variables": { "n": name } })
    } else {
        g.request()
    };
    let mut case = if over_get {
        get(index, CaseKind::Valid, "valid/get", query_string(&req))
    } else {
        post(index, CaseKind::Valid, "valid/post", to_vec(&req))
    };
    case.expect.validates = true;
    case.expect.entities_keys = g.entities_keys;
    case
}

fn invalid_case(model: &Model, pool: &Pool, index: usize, mut rng: StdRng) -> Case {
    let mut g = Gen::new(model, pool, StdRng::seed_from_u64(rng.next_u64()));
    g.max_depth = rng.random_range(2..=4);
    let fault = rng.random_range(0..12);
    let label = [
        "unknown-field",
        "wrong-arg-type",
        "missing-arg",
        "wrong-var-type",
        "leaf-subselection",
        "truncated",
        "mangled",
        "undeclared-var",
        "unused-var",
        "fragment-cycle",
        "unknown-fragment",
        "operations",
    ][fault];
    match fault {
        0 => g.faults.unknown_fields = true,
        1 => g.faults.wrong_arg_types = true,
        2 => g.faults.missing_required = true,
        3 => g.faults.wrong_var_values = true,
        4 => g.faults.leaf_subselection = true,
        _ => {}
    }
    let mut req = g.request();
    let doc = req["query"].as_str().unwrap_or_default().to_owned();
    let doc = match fault {
        5 => {
            let cut = rng.random_range(0..doc.len().max(1));
            doc.char_indices().take_while(|(i, _)| *i < cut).map(|(_, c)| c).collect()
        }
        6 => {
            let mut chars: Vec<char> = doc.chars().collect();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..=chars.len());
                let junk = *['{', '}', '(', ')', '$', '@', '!', ':', '"', '.', '#', '\u{0}', '[', '=']
                    .choose(&mut rng)
                    .expect("non-empty");
                chars.insert(at, junk);
            }
            chars.into_iter().collect()
        }
        7 => doc.replacen("{ ", "{ calls(first: $undeclared) { totalCount } ", 1),
        8 => format!("query($unused: Int, $also: [String!]!) {}", doc.trim_start_matches("query")),
        9 => "{ ...A }\nfragment A on Query { ...B connections { id } }\nfragment B on Query { ...A }".to_owned(),
        10 => doc.replacen("{ ", "{ ...Missing ", 1),
        11 => match rng.random_range(0..4) {
            0 => format!("{doc}\n{doc}"),
            1 => "query A { __typename }\n{ connections { id } }".to_owned(),
            2 => "mutation { connections { id } }".to_owned(),
            _ => "subscription { connections { id } }".to_owned(),
        },
        _ => doc,
    };
    req["query"] = json!(doc);
    if fault == 3 && rng.random_bool(0.3) {
        req["variables"] = json!({ "v1": [[{"x": 1}]], "v2": "x".repeat(10), "undeclared": true });
    }
    if rng.random_bool(0.15) {
        let q = query_string(&req);
        get(index, CaseKind::Invalid, &format!("invalid/{label}/get"), q)
    } else {
        post(index, CaseKind::Invalid, &format!("invalid/{label}"), to_vec(&req))
    }
}

/// A chain of `levels` fields down from `Query` (as far as the schema nests), with
/// required arguments filled in; the number of fields it nests.
fn chain(g: &mut Gen<'_>, levels: usize) -> (String, usize) {
    let m = g.m;
    let mut ty = "Query".to_owned();
    let mut opens = Vec::new();
    let mut depth = 0;
    while depth < levels {
        // A composite field whose type nests deep enough for the levels left (the
        // deepest there is when none does).
        let left = levels - depth - 1;
        let composite: Vec<&FieldDef> = m.fields(&ty).iter().filter(|f| m.is_composite(named(&f.ty))).collect();
        let deep_enough: Vec<&FieldDef> = composite.iter().copied().filter(|f| m.reach(named(&f.ty)) >= left).collect();
        let f = match deep_enough.choose(&mut g.rng) {
            Some(f) => *f,
            None => match composite.iter().max_by_key(|f| m.reach(named(&f.ty))) {
                Some(f) => *f,
                None => break,
            },
        };
        let args = g.args(&f.args);
        opens.push(format!("{}{args} {{", f.name));
        depth += 1;
        ty = named(&f.ty).to_owned();
        if let Some(possible) = m.possible.get(&ty).filter(|p| !p.is_empty()) {
            let fit: Vec<&String> = possible.iter().filter(|p| m.reach(p) >= left).collect();
            let on = match fit.choose(&mut g.rng) {
                Some(p) => (*p).clone(),
                None => possible.iter().max_by_key(|p| m.reach(p)).expect("non-empty").clone(),
            };
            opens.push(format!("... on {on} {{"));
            ty = on;
        }
    }
    // One leaf at the bottom (a field if the type has one, else `__typename`).
    let leaf = m.fields(&ty).iter().find(|f| !m.is_composite(named(&f.ty)) && f.args.is_empty());
    let leaf = leaf.map_or("__typename".to_owned(), |f| f.name.clone());
    // The leaf (`__typename` too) is one more level.
    let depth = depth + 1;
    let mut doc = opens.join(" ");
    write!(doc, " {leaf} {}", "}".repeat(opens.len())).expect("write to a String");
    (format!("{{ {doc} }}"), depth)
}

fn deep_case(model: &Model, pool: &Pool, limits: &Limits, index: usize, mut rng: StdRng) -> Case {
    let max = limits.max_depth;
    let style = rng.random_range(0..10);
    if style >= 7 {
        // Far past the limit: nested braces (a field or a list value per level) up to
        // near the body limit; the parser must refuse them without blowing its stack.
        let levels = *[100usize, 1_000, 10_000, 60_000].choose(&mut rng).expect("non-empty");
        let (label, doc) = match style {
            7 => ("deep/fields", format!("{}__typename{}", "{ a ".repeat(levels), " }".repeat(levels))),
            8 => (
                "deep/list-value",
                format!("{{ node(id: {}\"x\"{}) {{ id }} }}", "[".repeat(levels), "]".repeat(levels)),
            ),
            _ => (
                "deep/object-value",
                format!("{{ calls(filter: {}) {{ totalCount }} }}", "{a: ".repeat(levels) + "1" + &"}".repeat(levels)),
            ),
        };
        let mut case = post(index, CaseKind::Deep, label, to_vec(&json!({ "query": doc })));
        if doc.len() < limits.max_body_bytes {
            case.expect.not_code = Some("INTERNAL");
        }
        return case;
    }
    let mut g = Gen::new(model, pool, StdRng::seed_from_u64(rng.next_u64()));
    let target = *[max - 2, max - 1, max - 1, max, max + 1, 2 * max].choose(&mut rng).expect("non-empty");
    let (body, depth) = chain(&mut g, target);
    let doc = g.document(&body, None);
    let mut req = json!({ "query": doc });
    if !g.vars.is_empty() {
        req["variables"] = g.variables();
    }
    let mut case =
        post(index, CaseKind::Deep, &format!("deep/{}", if depth > max { "over" } else { "under" }), to_vec(&req));
    if depth > max {
        case.expect.code = Some("MAX_DEPTH_LIMIT");
    } else {
        case.expect.not_code = Some("MAX_DEPTH_LIMIT");
    }
    case
}

fn alias_case(limits: &Limits, index: usize, mut rng: StdRng) -> Case {
    let max = limits.max_aliases;
    let n = *[max - 1, max, max + 1, 5 * max, 2_000].choose(&mut rng).expect("non-empty");
    let field = *["connections { id }", "__typename", "providers { provider }", "user(id: \"x\") { id }"]
        .choose(&mut rng)
        .expect("non-empty");
    let doc = format!("{{ {} }}", (0..n).map(|i| format!("a{i}: {field}")).collect::<Vec<_>>().join(" "));
    let mut case = post(
        index,
        CaseKind::Aliases,
        if n > max { "aliases/over" } else { "aliases/under" },
        to_vec(&json!({ "query": doc })),
    );
    if n > max {
        case.expect.code = Some("MAX_ALIASES_LIMIT");
    } else {
        case.expect.not_code = Some("MAX_ALIASES_LIMIT");
    }
    case
}

fn garbage_case(model: &Model, pool: &Pool, limits: &Limits, index: usize, mut rng: StdRng) -> Case {
    let mut g = Gen::new(model, pool, StdRng::seed_from_u64(rng.next_u64()));
    g.max_depth = 3;
    let valid = to_vec(&g.request());
    let (label, body): (&str, Vec<u8>) = match rng.random_range(0..10) {
        0 => {
            let mut b = vec![0u8; rng.random_range(0..2_000)];
            rng.fill_bytes(&mut b);
            ("garbage/bytes", b)
        }
        1 => {
            let cut = rng.random_range(0..valid.len());
            ("garbage/truncated", valid[..cut].to_vec())
        }
        2 => {
            let shapes = [
                "null",
                "1",
                "\"{ connections { id } }\"",
                "{}",
                "{\"query\": 1}",
                "{\"query\": null}",
                "{\"query\": [\"{ __typename }\"]}",
                "{\"query\": \"{ __typename }\", \"variables\": \"x\"}",
                "{\"query\": \"{ __typename }\", \"variables\": [1]}",
                "{\"query\": \"{ __typename }\", \"operationName\": 5}",
                "{\"query\": \"{ __typename }\", \"extensions\": \"x\"}",
                "[[]]",
                "[1, 2]",
                "[null]",
                "[]",
                "{\"query\": \"{ __typename }\", \"query\": \"{ nope }\"}",
                "{\"qeury\": \"{ __typename }\"}",
                "",
                "   ",
                "{\"query\": \"\"}",
                "{\"query\": \"{ __typename }\"} trailing",
            ];
            ("garbage/shape", shapes.choose(&mut rng).expect("non-empty").as_bytes().to_vec())
        }
        3 => {
            let mut b = valid;
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            ("garbage/flipped", b)
        }
        4 => {
            let mut b = b"{\"query\": \"{ connections { id } } # ".to_vec();
            b.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]);
            b.extend_from_slice(b"\"}");
            ("garbage/invalid-utf8", b)
        }
        5 => {
            // Over the body limit (refused before it is read whole).
            let pad = "#".repeat(limits.max_body_bytes + rng.random_range(1..10_000));
            let mut case = post(
                index,
                CaseKind::Garbage,
                "garbage/too-large",
                to_vec(&json!({ "query": format!("{{ __typename }} {pad}") })),
            );
            case.expect.status = Some(413);
            case.expect.code = Some("PAYLOAD_TOO_LARGE");
            return case;
        }
        6 => {
            // Huge strings under the limit: in an argument, a variable, a comment.
            let big = "y".repeat(rng.random_range(10_000..limits.max_body_bytes / 2));
            let doc = match rng.random_range(0..3) {
                0 => json!({ "query": format!("{{ user(email: \"{big}\") {{ id }} }}") }),
                1 => json!({ "query": "query($e: String) { user(email: $e) { id } }", "variables": { "e": big } }),
                _ => json!({ "query": format!("{{ __typename }} # {big}") }),
            };
            ("garbage/huge-string", to_vec(&doc))
        }
        7 => {
            let levels = rng.random_range(100..20_000);
            let deep = "[".repeat(levels) + &"]".repeat(levels);
            let body = format!("{{\"query\": \"query($j: JSON) {{ __typename }}\", \"variables\": {{\"j\": {deep}}}}}");
            ("garbage/deep-json", body.into_bytes())
        }
        8 => {
            // Many tokens: a long flat selection and a long argument list.
            let n = rng.random_range(1_000..20_000);
            let doc = match rng.random_range(0..2) {
                0 => format!("{{ {} }}", "__typename ".repeat(n)),
                _ => format!("{{ connections(a: 1{}) {{ id }} }}", ", a: 1".repeat(n.min(5_000))),
            };
            ("garbage/many-tokens", to_vec(&json!({ "query": doc })))
        }
        _ => {
            let b = json!({ "query": "{ __typename }", "variables": { "a": "\u{0}" }, "extensions": random_json(&mut rng, 0) });
            ("garbage/extensions", to_vec(&b))
        }
    };
    post(index, CaseKind::Garbage, label, body)
}

fn content_type_case(model: &Model, pool: &Pool, index: usize, mut rng: StdRng) -> Case {
    let mut g = Gen::new(model, pool, StdRng::seed_from_u64(rng.next_u64()));
    g.max_depth = 2;
    let body = to_vec(&g.request());
    let types = [
        None,
        Some("text/plain"),
        Some("application/graphql"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=xyz"),
        Some("application/JSON"),
        Some("application/json; charset=utf-8"),
        Some("application/json;charset=latin1"),
        Some("application/jsonx"),
        Some(""),
        Some("application/graphql-response+json"),
        Some("*/*"),
    ];
    let ct = *types.choose(&mut rng).expect("non-empty");
    let mut case = post(index, CaseKind::ContentType, "content-type", body);
    case.headers.clear();
    if let Some(ct) = ct {
        case.headers.push(("content-type", ct.to_owned()));
    }
    let json = ct.and_then(|c| c.split(';').next()).is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    case.label = format!("content-type/{}", if json { "json" } else { "other" });
    if !json {
        case.expect.status = Some(415);
    }
    case
}

fn get_case(index: usize, mut rng: StdRng) -> Case {
    let (label, q, headers): (&str, String, Vec<(&'static str, String)>) = match rng.random_range(0..9) {
        0 => ("get/mutation", "query=mutation%20%7B%20connections%20%7B%20id%20%7D%20%7D".into(), vec![]),
        1 => ("get/none", String::new(), vec![]),
        2 => ("get/bad-percent", "query=%7B%20__typename%20%zz%7D&variables=%7B".into(), vec![]),
        3 => ("get/bad-variables", "query=%7B__typename%7D&variables=not-json".into(), vec![]),
        4 => ("get/graphiql", String::new(), vec![("accept", "text/html".into())]),
        5 => ("get/repeated", "query=%7B__typename%7D&query=%7Bnope%7D&operationName=X&operationName=Y".into(), vec![]),
        6 => ("get/extensions", "extensions=%7B%22persistedQuery%22%3A1%7D".into(), vec![]),
        7 => {
            let n = rng.random_range(1..200);
            let raw: String = (0..n).map(|_| char::from(rng.random_range(0x21u8..0x7f))).collect();
            ("get/random", raw, vec![])
        }
        _ => ("get/long", format!("query=%7B__typename%7D%23{}", "x".repeat(rng.random_range(1_000..30_000))), vec![]),
    };
    let mut case = get(index, CaseKind::Get, label, q);
    case.headers = headers;
    case
}

fn batch_case(model: &Model, pool: &Pool, limits: &Limits, index: usize, mut rng: StdRng) -> Case {
    let n = *[0, 1, 2, 5, limits.max_batch, limits.max_batch + 1, 3 * limits.max_batch]
        .choose(&mut rng)
        .expect("non-empty");
    // Now and then an item that is not a request object: the whole batch is unreadable.
    let junk = n > 0 && rng.random_bool(0.15);
    let mut items: Vec<Value> = (0..n)
        .map(|_| {
            let mut g = Gen::new(model, pool, StdRng::seed_from_u64(rng.next_u64()));
            g.max_depth = 3;
            match rng.random_range(0..6) {
                0 => json!({ "query": "{ nope }" }),
                1 => json!({ "query": "{" }),
                _ => g.request(),
            }
        })
        .collect();
    if junk {
        let at = rng.random_range(0..n);
        items[at] =
            [json!(5), json!("{ __typename }"), json!([]), Value::Null].choose(&mut rng).cloned().expect("non-empty");
    }
    let label = match (junk, n > limits.max_batch) {
        (true, _) => "batch/junk-item",
        (false, true) => "batch/over",
        (false, false) => "batch/under",
    };
    let mut case = post(index, CaseKind::Batch, label, to_vec(&Value::Array(items)));
    // A junk item is not always refused: async-graphql reads a JSON array as a
    // request's fields in order (`["{ __typename }"]` is one request), so only the
    // invariants hold there.
    if !junk && n > limits.max_batch {
        case.expect.code = Some("BATCH_LIMIT_EXCEEDED");
    }
    case
}

fn persisted_case(index: usize, mut rng: StdRng) -> Case {
    let hash: String = match rng.random_range(0..4) {
        0 => (0..64).map(|_| char::from(*b"0123456789abcdef".choose(&mut rng).expect("non-empty"))).collect(),
        1 => "zz".into(),
        2 => String::new(),
        _ => "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38".into(),
    };
    let version = [json!(1), json!(2), json!("1"), Value::Null].choose(&mut rng).cloned().expect("non-empty");
    let pq = json!({ "persistedQuery": { "version": version, "sha256Hash": hash } });
    let req = if rng.random_bool(0.5) {
        json!({ "extensions": pq })
    } else {
        json!({ "query": "{ __typename }", "extensions": pq })
    };
    if rng.random_bool(0.3) {
        get(
            index,
            CaseKind::Persisted,
            "persisted/get",
            format!(
                "extensions={}",
                url::form_urlencoded::byte_serialize(req["extensions"].to_string().as_bytes()).collect::<String>()
            ),
        )
    } else {
        post(index, CaseKind::Persisted, "persisted/post", to_vec(&req))
    }
}

fn method_case(index: usize, mut rng: StdRng) -> Case {
    let method = [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::OPTIONS,
        reqwest::Method::HEAD,
    ]
    .choose(&mut rng)
    .expect("non-empty")
    .clone();
    let mut case =
        post(index, CaseKind::Method, &format!("method/{method}"), b"{\"query\": \"{ __typename }\"}".to_vec());
    case.method = method;
    case
}

// ---------------------------------------------------------------------------------
// Running and checking.

#[derive(Debug)]
struct Outcome {
    label: String,
    kind: CaseKind,
    status: u16,
    codes: Vec<String>,
    failure: Option<String>,
    millis: u128,
}

fn describe(case: &Case) -> String {
    let mut s = format!("[case #{}] {} /graphql", case.index, case.method);
    if let Some(q) = &case.query {
        write!(s, "?{}", clip(q, 2_000)).expect("write to a String");
    }
    for (k, v) in &case.headers {
        write!(s, "\n{k}: {}", clip(v, 200)).expect("write to a String");
    }
    if let Some(b) = &case.body {
        write!(s, "\n\n{}", clip(&String::from_utf8_lossy(b), 4_000)).expect("write to a String");
    }
    s
}

fn clip(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    let cut = (0..=n).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
    format!("{}… ({} bytes in all)", &s[..cut], s.len())
}

/// The GraphQL errors of an answer (one response or a batch of them).
fn errors(body: &Value) -> Vec<&Value> {
    let responses: Vec<&Value> = match body {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    responses.into_iter().filter_map(|r| r.get("errors")?.as_array()).flatten().collect()
}

async fn run_case(client: &reqwest::Client, app: &TestApp, case: &Case) -> Outcome {
    let started = Instant::now();
    let mut url = app.url("/graphql");
    if let Some(q) = &case.query {
        url.push('?');
        url += q;
    }
    let mut req = client.request(case.method.clone(), &url).timeout(Duration::from_secs(30));
    for (k, v) in &case.headers {
        req = req.header(*k, v.as_str());
    }
    if let Some(b) = &case.body {
        req = req.body(b.clone());
    }
    let outcome = |status, codes, failure: Option<String>| Outcome {
        label: case.label.clone(),
        kind: case.kind,
        status,
        codes,
        failure,
        millis: started.elapsed().as_millis(),
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                write!(why, ": {s}").expect("write to a String");
                source = s.source();
            }
            return outcome(0, vec![], Some(format!("no answer: {why}")));
        }
    };
    let status = resp.status().as_u16();
    let content_type =
        resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return outcome(status, vec![], Some(format!("body not read: {e}"))),
    };
    let mut problems = Vec::new();
    if status >= 500 && !matches!(status, 503 | 504) {
        problems.push(format!("HTTP {status}"));
    }
    let mut codes = Vec::new();
    // A HEAD answer has the headers of a GET and no body.
    if content_type.contains("json") && case.method != reqwest::Method::HEAD {
        match serde_json::from_slice::<Value>(&bytes) {
            Err(e) => problems.push(format!("content type {content_type} but not JSON: {e}")),
            Ok(body) => {
                for e in errors(&body) {
                    match e["extensions"]["code"].as_str() {
                        Some(c) if !c.is_empty() => codes.push(c.to_owned()),
                        _ => problems.push(format!("an error without extensions.code: {e}")),
                    }
                }
                problems.extend(entities_problems(&body, &case.expect.entities_keys));
                // Each code once per answer (a document with 5,000 bad arguments has
                // 5,000 errors of one kind).
                codes.sort();
                codes.dedup();
            }
        }
    }
    let x = &case.expect;
    if x.validates
        && let Some(c) = codes
            .iter()
            .find(|c| matches!(c.as_str(), "GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED" | "BAD_REQUEST"))
    {
        problems.push(format!("a valid document was refused with {c}"));
    }
    if let Some(c) = x.code
        && !codes.iter().any(|have| have == c)
    {
        problems.push(format!("expected an error {c}"));
    }
    if let Some(c) = x.not_code
        && codes.iter().any(|have| have == c)
    {
        problems.push(format!("unexpected error {c}"));
    }
    if let Some(s) = x.status
        && s != status
    {
        problems.push(format!("expected HTTP {s}"));
    }
    let failure = (!problems.is_empty()).then(|| {
        format!(
            "{}\nHTTP {status} {content_type}\n{}",
            problems.join("; "),
            clip(&String::from_utf8_lossy(&bytes), 2_000)
        )
    });
    outcome(status, codes, failure)
}

/// Harvests ids, cursors and emails from the sandbox, in a fixed order.
async fn harvest(app: &TestApp) -> Pool {
    let queries = [
        "{ connections { id } }",
        "{ calls(first: 30) { pageInfo { startCursor endCursor } edges { cursor node { id remoteId } } } }",
        "{ users(first: 30) { pageInfo { startCursor endCursor } edges { cursor node { id email } } } }",
    ];
    let mut pool = Pool::default();
    fn walk(v: &Value, key: &str, pool: &mut Pool, connections: bool) {
        match v {
            Value::Object(o) => o.iter().for_each(|(k, v)| walk(v, k, pool, connections)),
            Value::Array(a) => a.iter().for_each(|v| walk(v, key, pool, connections)),
            Value::String(s) => match key {
                "id" if connections => pool.connections.push(s.clone()),
                "id" | "remoteId" => pool.ids.push(s.clone()),
                "cursor" | "startCursor" | "endCursor" => pool.cursors.push(s.clone()),
                "email" => pool.emails.push(s.clone()),
                _ => {}
            },
            _ => {}
        }
    }
    for (i, q) in queries.iter().enumerate() {
        let body = app.query(q, json!({})).await;
        walk(&body["data"], "", &mut pool, i == 0);
    }
    for list in [&mut pool.ids, &mut pool.connections, &mut pool.cursors, &mut pool.emails] {
        list.sort();
        list.dedup();
    }
    pool
}

/// Panics anywhere in the process outside the test code (the server's own code and
/// its dependencies), counted by a hook that then defers to the previous one.
fn server_panics() -> &'static AtomicUsize {
    static PANICS: OnceLock<&'static AtomicUsize> = OnceLock::new();
    PANICS.get_or_init(|| {
        let counter: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|l| l.file().starts_with("tests/")) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
        counter
    })
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_documents_and_bodies_never_crash_the_server_and_every_error_has_a_code() {
    let started = Instant::now();
    let cases: usize = env_number("CONVOGRAPH_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let seed: u64 = env_number("CONVOGRAPH_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let only: Option<usize> = env_number("CONVOGRAPH_FUZZ_ONLY");
    let panics = server_panics();

    // Every provider over a small world; the simulators' rate limits off and
    // convograph's own limiter wide open, so a case is never slowed by pacing; a short
    // deadline; a fixed cursor key, so harvested cursors are the same every run.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("cursor-secret");
    std::fs::write(&secret, "fuzz-cursor-secret").unwrap();
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig {
        providers: vec![ProviderKind::Gong, ProviderKind::ExecVision, ProviderKind::Salesloft, ProviderKind::Hubster],
        people: 12,
        calls: 80,
        ..settings.sandbox.unwrap()
    });
    settings.server.cursor_secret = Some(SecretSource::File(secret));
    settings.limits.request_timeout = REQUEST_TIMEOUT;
    settings.traffic.all = TrafficSettings { rate_per_sec: Some(100_000.0), ..TrafficSettings::default() };
    let limits = Limits {
        max_depth: settings.limits.max_depth,
        max_aliases: settings.limits.max_aliases,
        max_batch: settings.limits.max_batch,
        max_body_bytes: settings.limits.max_body_bytes,
    };
    let simulators = SandboxSettings {
        gong: GongSimSettings { rate_per_sec: 0, ..GongSimSettings::default() },
        execvision: ExecVisionSimSettings { day_rate_per_sec: 0, night_rate_per_sec: 0, ..Default::default() },
        salesloft: SalesloftSimSettings { budget: 0, ..SalesloftSimSettings::default() },
        hubster: HubsterSimSettings { rate_per_sec: 0, ..HubsterSimSettings::default() },
        ..SandboxSettings::default()
    };
    let app = spawn_with_simulators(settings, simulators).await;
    let model = Model::load();
    let pool = harvest(&app).await;
    assert!(!pool.ids.is_empty() && !pool.cursors.is_empty(), "nothing harvested: {pool:?}");
    let panics_before = panics.load(Ordering::SeqCst);

    if let Some(i) = only {
        let case = make_case(&model, &pool, &limits, seed, i);
        println!("Fuzz seed {seed}, case #{i} ({}):\n{}\n", case.label, describe(&case));
        let o = run_case(&app.client, &app, &case).await;
        println!("-> HTTP {} codes {:?} in {} ms", o.status, o.codes, o.millis);
        assert!(o.failure.is_none(), "{}", o.failure.unwrap_or_default());
        return;
    }

    // A connection per request: the server answers a body over the limit by its
    // `Content-Length` (413) before reading it and then closes the connection without
    // a `Connection: close` (see BENCHMARKS.md, "Fuzzing"), so a pooled connection
    // reused at that moment would fail the next case with a broken pipe.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let healthz_failures = Arc::new(Mutex::new(Vec::new()));
    let outcomes: Vec<(usize, Outcome)> = futures::stream::iter(0..cases)
        .map(|i| {
            let (app, client, model, pool, limits) = (&app, &client, &model, &pool, &limits);
            let healthz_failures = healthz_failures.clone();
            async move {
                let case = make_case(model, pool, limits, seed, i);
                let mut o = run_case(client, app, &case).await;
                if let Some(f) = o.failure.take() {
                    o.failure = Some(format!("{f}\n--- request ---\n{}", describe(&case)));
                }
                if i % 100 == 99 {
                    let ok = app.client.get(app.url("/healthz")).send().await.is_ok_and(|r| r.status() == 200);
                    if !ok {
                        healthz_failures.lock().unwrap().push(i);
                    }
                }
                (i, o)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    // The summary.
    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<&str, (usize, u128)> = BTreeMap::new();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    let mut slowest = (0u128, 0usize);
    for (i, o) in &outcomes {
        *by_label.entry(&o.label).or_default() += 1;
        let k = by_kind.entry(o.kind.as_str()).or_default();
        k.0 += 1;
        k.1 += o.millis;
        *by_status.entry(o.status).or_default() += 1;
        for c in &o.codes {
            *by_code.entry(c).or_default() += 1;
        }
        slowest = slowest.max((o.millis, *i));
    }
    let new_panics = panics.load(Ordering::SeqCst) - panics_before;
    let health = app.client.get(app.url("/healthz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
    let fivexx =
        by_status.iter().filter(|(s, _)| **s >= 500 && !matches!(**s, 503 | 504)).map(|(_, n)| n).sum::<usize>();
    println!(
        "\nFuzz: seed {seed}, {} requests in {:.1} s ({:.0}/s), {CONCURRENCY} at a time",
        outcomes.len(),
        elapsed.as_secs_f64(),
        outcomes.len() as f64 / elapsed.as_secs_f64()
    );
    println!("  by kind (requests, mean ms):");
    for (k, (n, ms)) in &by_kind {
        println!("    {k:<14} {n:>6} {:>8.1}", *ms as f64 / *n as f64);
    }
    println!("  by case:");
    for (k, n) in &by_label {
        println!("    {k:<32} {n:>6}");
    }
    println!("  HTTP status: {}", by_status.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(" "));
    println!("  error codes: {}", by_code.iter().map(|(c, n)| format!("{c}×{n}")).collect::<Vec<_>>().join(" "));
    println!(
        "  slowest: case #{} in {} ms; panics: {new_panics}; 5xx other than 503/504: {fivexx}; /healthz after: {health}",
        slowest.1, slowest.0
    );

    let mut failures: Vec<&(usize, Outcome)> = outcomes.iter().filter(|(_, o)| o.failure.is_some()).collect();
    failures.sort_by_key(|(i, _)| *i);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (_, o) in &failures {
        let first = o.failure.as_deref().unwrap_or_default().lines().next().unwrap_or_default();
        *reasons.entry(format!("{}: {}", o.label, clip(first, 100))).or_default() += 1;
    }
    println!("  failures: {}", failures.len());
    for (r, n) in &reasons {
        println!("    {n:>5} × {r}");
    }
    let show: usize = env_number("CONVOGRAPH_FUZZ_SHOW").unwrap_or(5);
    for (i, o) in failures.iter().take(show) {
        println!(
            "\n=== seed {seed}, case #{i} ({}) — replay: CONVOGRAPH_FUZZ_SEED={seed} CONVOGRAPH_FUZZ_ONLY={i} cargo test --test api fuzz:: -- --nocapture\n{}",
            o.label,
            o.failure.as_deref().unwrap_or_default()
        );
    }
    let healthz_failures = healthz_failures.lock().unwrap().clone();
    assert!(healthz_failures.is_empty(), "/healthz failed after cases {healthz_failures:?}");
    assert_eq!(health, 200, "/healthz after the run");
    assert_eq!(new_panics, 0, "the server panicked {new_panics} times during the run (see the output above)");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed (seed {seed}); the first are printed above",
        failures.len(),
        outcomes.len()
    );
}

/// Whole `_entities` fields lost in `body`: each of `keys` must answer a list
/// whenever `data` is an object, its errors at an index or deeper. Before entities
/// were resolved one by one, a single unresolvable representation failed the whole
/// field (left out of `data`, its error without a path).
fn entities_problems(body: &Value, keys: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys {
        let whole = json!([key]);
        if let Some(e) = errors(body).iter().find(|e| e["path"] == whole) {
            out.push(format!("the `{key}` field failed whole: {e}"));
        }
        if let Some(data) = body["data"].as_object() {
            match data.get(key) {
                Some(v) if v.is_array() => {}
                Some(v) => out.push(format!("`{key}` is not a list: {v}")),
                None => out.push(format!("`{key}` is missing from data")),
            }
        }
    }
    out
}

/// What the fuzzer found first: the engine's own errors during execution (an argument
/// its Rust type refuses, a representation no entity matches) came without a code.
/// The second: such a representation failed the whole `_entities` field (and `data`).
#[tokio::test]
async fn engine_errors_during_execution_have_a_code() {
    let app = spawn_app().await;
    let cases = [
        (r#"{ _entities(representations: [{__typename: "Nope", id: "x"}]) { __typename } }"#, json!({})),
        ("query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", json!({ "r": [{ "id": "x" }] })),
        ("{ topicMatches(windowLength: -1) { totalCount } }", json!({})),
        ("query($f: CallFilter) { calls(filter: $f) { totalCount } }", json!({ "f": { "remoteQuery": [1] } })),
        ("query($t: DateTime) { listens(modifiedSince: $t) { totalCount } }", json!({ "t": "not a time" })),
    ];
    for (query, variables) in cases {
        let (_, body) = app.query_as(None, query, variables).await;
        let errors = body["errors"].as_array().map_or(0, Vec::len);
        assert!(errors > 0, "{query}: {body}");
        assert_eq!(codes(&body), vec!["BAD_USER_INPUT"; errors], "{query}: {body}");
        if query.contains("_entities") {
            // The representation no entity takes is `null` at its index, the list stays.
            assert_eq!(body["data"]["_entities"], json!([null]), "{query}: {body}");
            assert_eq!(body["errors"][0]["path"], json!(["_entities", 0]), "{query}: {body}");
            assert!(entities_problems(&body, &["_entities".to_owned()]).is_empty());
        }
    }
}
