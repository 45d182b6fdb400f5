//! Incremental delivery: `@defer` over `multipart/mixed` (the format Apollo Client
//! and the graphql-js 17 alphas speak, `deferSpec=20220824`).
//!
//! async-graphql 7.2 has neither `@defer` nor `@stream`, and its custom directives
//! apply to fields only, so the directive is handled here, before the engine sees
//! the document, and is not declared in the SDL (a federation subgraph leaves
//! `@defer` to the router, which plans it itself). [`split`] reads a parsed
//! document and builds two from it:
//! - the *initial* document: every active deferred fragment removed (what is also
//!   selected outside the fragment stays; a selection left empty selects a hidden
//!   `__typename`, taken out of the answer again);
//! - the *full* document: every `@defer` removed.
//!
//! Both run at once, each through the normal execution path (guard, loaders, cost
//! account, notes). The initial answer is sent as soon as it resolves; when the full
//! one does, each deferred fragment's fields are cut out of it at every object the
//! fragment applies to (list indices expanded) and sent as `incremental` items,
//! with the errors of the full run that lie inside them. Provider reads are cached
//! and concurrent misses coalesce, so the two runs cost no more upstream requests
//! than the plain query.
//!
//! Limits: a `@defer` nested inside a deferred fragment is delivered with its
//! parent; `@stream` is refused (`BAD_USER_INPUT`); `@defer` in a batch or on a
//! subscription is refused (`BAD_USER_INPUT`). Without `multipart/mixed` in
//! `Accept`, the query runs with `@defer` removed and answers plain JSON.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Instant,
};

use async_graphql::{
    BatchResponse, Name, PathSegment, Positioned, ServerError, ServerResult, Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
    },
};
use async_graphql_value::{ConstValue, Value};
use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt as _;
use serde_json::{Map, Value as Json, json};

use super::{
    HttpState,
    graphql::{
        Admitted, is_request_error, prepare, record, response_json, run_admitted, tag_request_errors, timeout_error,
    },
};
use crate::{
    auth::Principal,
    error::{ErrorCode, request_error},
};

/// The `Content-Type` of an incremental answer.
pub(super) const MULTIPART_MIXED: &str = "multipart/mixed; boundary=\"-\"; deferSpec=20220824";

/// The only incremental-delivery format spoken.
const DEFER_SPEC: &str = "20220824";

/// The alias of the `__typename` put in a selection that deferring left empty.
const PLACEHOLDER: &str = "_convograph_deferred";

/// At most this many deferred fragment positions in one operation.
const MAX_DEFERRED: usize = 100;

/// Selection sets nest at most this deep here (the guard's depth limit is lower;
/// this bounds the operations it does not measure).
const MAX_NESTING: usize = 256;

/// At most this many selections walked while reading the positions (fragments are
/// expanded where spread, so a document spreading them exponentially stops here).
const MAX_STEPS: usize = 100_000;

/// Whether the client's `Accept` lists `multipart/mixed` (with a non-zero quality,
/// and `deferSpec=20220824` or no `deferSpec` at all).
pub(super) fn accepts_multipart(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.split(',').any(|part| {
        let mut it = part.split(';');
        if !it.next().unwrap_or("").trim().eq_ignore_ascii_case("multipart/mixed") {
            return false;
        }
        it.all(|param| {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "q" => v.parse::<f32>().is_ok_and(|q| q > 0.0),
                "deferspec" => v == DEFER_SPEC,
                _ => true,
            }
        })
    })
}

/// Whether `query` may use `@defer` or `@stream` (a cheap text test before the
/// document is walked).
pub(super) fn may_defer(query: &str) -> bool {
    query.contains("defer") || query.contains("stream")
}

/// What `@defer` asks of a document.
#[derive(Debug, Clone)]
pub(super) struct Split {
    /// The document without its active deferred fragments.
    pub(super) initial: ExecutableDocument,
    /// The active deferred fragments of the operation, where they apply.
    pub(super) deferred: Vec<Deferred>,
}

/// One deferred fragment at one position of the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Deferred {
    /// `@defer(label:)`.
    pub(super) label: Option<String>,
    /// The response keys of the fields around the fragment, from the root.
    pub(super) path: Vec<Name>,
    /// The response keys the fragment selects (through nested fragments too).
    pub(super) keys: Vec<Name>,
}

/// Reads the `@defer`s of `doc` for the operation `operation_name` would run: the
/// document without `@defer` and what deferring asks, or `None` when the document
/// has no `@defer`, or the coded error to answer when one is
/// misused (on a field, with a bad argument, in a batch, on a subscription) or
/// when `@stream` is used.
pub(super) fn split(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    batched: bool,
) -> ServerResult<Option<(ExecutableDocument, Split)>> {
    let op = crate::schema::limits::select_operation(doc, operation_name).map(|(_, op)| op);
    let defaults: HashMap<&Name, &ConstValue> = op
        .map(|op| {
            op.variable_definitions
                .iter()
                .filter_map(|d| d.node.default_value.as_ref().map(|v| (&d.node.name.node, &v.node)))
                .collect()
        })
        .unwrap_or_default();
    let mut rewrite = Rewrite { variables, defaults: &defaults, found: false };
    let mut initial = doc.clone();
    let mut full = doc.clone();
    for (_, op) in operations_mut(&mut initial) {
        rewrite.selection_set(&mut op.node.selection_set.node, true, 0)?;
    }
    for (_, op) in operations_mut(&mut full) {
        rewrite.selection_set(&mut op.node.selection_set.node, false, 0)?;
    }
    for fragment in initial.fragments.values_mut() {
        if find_defer(&fragment.node.directives).is_some() {
            return Err(misuse(
                "`@defer` applies to fragment spreads and inline fragments, not to fragment definitions",
            ));
        }
        rewrite.selection_set(&mut fragment.node.selection_set.node, true, 0)?;
    }
    for fragment in full.fragments.values_mut() {
        rewrite.selection_set(&mut fragment.node.selection_set.node, false, 0)?;
    }
    if !rewrite.found {
        return Ok(None);
    }
    // What only the removed parts used would fail validation as unused.
    prune(&mut initial, doc);
    prune(&mut full, doc);
    if batched {
        return Err(misuse("`@defer` is not supported in a batch: send the operation on its own"));
    }
    let mut deferred = Vec::new();
    if let Some(op) = op {
        if op.ty == OperationType::Subscription {
            return Err(misuse("`@defer` is not supported on a subscription"));
        }
        let mut walk = Positions {
            doc,
            rewrite: &rewrite,
            out: &mut deferred,
            labels: HashMap::new(),
            steps: 0,
            depth: 0,
            expanding: Vec::new(),
        };
        walk.selection_set(&op.selection_set.node, &mut Vec::new())?;
    }
    Ok(Some((full, Split { initial, deferred })))
}

fn misuse(message: impl Into<String>) -> ServerError {
    request_error(ErrorCode::BadUserInput, message)
}

fn operations_mut(doc: &mut ExecutableDocument) -> Vec<(Option<&Name>, &mut Positioned<OperationDefinition>)> {
    match &mut doc.operations {
        DocumentOperations::Single(op) => vec![(None, op)],
        DocumentOperations::Multiple(ops) => ops.iter_mut().map(|(n, op)| (Some(n), op)).collect(),
    }
}

fn find_defer(directives: &[Positioned<async_graphql::parser::types::Directive>]) -> Option<usize> {
    directives.iter().position(|d| d.node.name.node == "defer")
}

/// Rewrites selection sets (removing deferred fragments or only their `@defer`)
/// and checks every `@defer` and `@stream` on the way.
struct Rewrite<'a> {
    variables: &'a Variables,
    defaults: &'a HashMap<&'a Name, &'a ConstValue>,
    /// Whether any `@defer` was seen.
    found: bool,
}

/// A checked `@defer`.
struct Defer {
    active: bool,
}

impl Rewrite<'_> {
    /// `remove`: take out the active deferred fragments (the initial document);
    /// otherwise only their directive (the full document).
    fn selection_set(&mut self, set: &mut SelectionSet, remove: bool, depth: usize) -> ServerResult<()> {
        if depth > MAX_NESTING {
            return Err(misuse(format!("the document nests selections more than {MAX_NESTING} deep")));
        }
        let had_items = !set.items.is_empty();
        let mut kept = Vec::with_capacity(set.items.len());
        for mut item in std::mem::take(&mut set.items) {
            if let Selection::Field(f) = &mut item.node {
                for d in &f.node.directives {
                    match d.node.name.node.as_str() {
                        "defer" => {
                            return Err(misuse(
                                "`@defer` applies to fragment spreads and inline fragments, not to fields",
                            ));
                        }
                        "stream" => {
                            return Err(misuse(
                                "`@stream` is not supported: ask for the list as a whole, or page it with `first`",
                            ));
                        }
                        _ => {}
                    }
                }
                self.selection_set(&mut f.node.selection_set.node, remove, depth + 1)?;
                kept.push(item);
                continue;
            }
            let directives = item.node.directives_mut();
            let defer = match find_defer(directives) {
                Some(i) => {
                    let d = directives.remove(i);
                    if find_defer(directives).is_some() {
                        return Err(misuse("`@defer` may appear once on a fragment"));
                    }
                    Some(self.check(&d.node)?)
                }
                None => None,
            };
            if defer.as_ref().is_some_and(|d| d.active) && remove {
                continue;
            }
            if let Selection::InlineFragment(i) = &mut item.node {
                self.selection_set(&mut i.node.selection_set.node, remove, depth + 1)?;
            }
            kept.push(item);
        }
        if kept.is_empty() && had_items {
            kept.push(placeholder());
        }
        set.items = kept;
        Ok(())
    }

    /// Checks one `@defer`'s arguments.
    fn check(&mut self, d: &async_graphql::parser::types::Directive) -> ServerResult<Defer> {
        self.found = true;
        let mut active = true;
        let mut seen = HashSet::new();
        for (name, value) in &d.arguments {
            if !seen.insert(name.node.as_str()) {
                return Err(misuse(format!("`@defer` has the argument `{}` twice", name.node)));
            }
            match (name.node.as_str(), &value.node) {
                ("label", Value::String(_)) => {}
                ("label", _) => return Err(misuse("`@defer(label:)` must be a string literal")),
                ("if", v) => active = self.boolean(v)?,
                (other, _) => {
                    return Err(misuse(format!("`@defer` has no argument `{other}` (it takes `label` and `if`)")));
                }
            }
        }
        Ok(Defer { active })
    }

    fn boolean(&self, v: &Value) -> ServerResult<bool> {
        let bad = || misuse("`@defer(if:)` must be a Boolean (a literal or a variable given a value)");
        match v {
            Value::Boolean(b) => Ok(*b),
            Value::Variable(name) => match self.variables.get(name).or_else(|| self.defaults.get(name).copied()) {
                Some(ConstValue::Boolean(b)) => Ok(*b),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// Takes out of `derived` the variable definitions and fragments that `original`
/// used and `derived` no longer does (validation would refuse them as unused).
fn prune(derived: &mut ExecutableDocument, original: &ExecutableDocument) {
    let (vars_before, fragments_before) = uses(original);
    let (vars_after, fragments_after) = uses(derived);
    for (name, op) in operations_mut(derived) {
        let key = name.cloned();
        let (before, after) = (vars_before.get(&key), vars_after.get(&key));
        op.node.variable_definitions.retain(|d| {
            let n = &d.node.name.node;
            after.is_some_and(|a| a.contains(n)) || !before.is_some_and(|b| b.contains(n))
        });
    }
    derived.fragments.retain(|name, _| fragments_after.contains(name) || !fragments_before.contains(name));
}

/// The variables each operation uses, and the fragments any operation spreads.
#[allow(clippy::type_complexity)]
fn uses(doc: &ExecutableDocument) -> (HashMap<Option<Name>, HashSet<Name>>, HashSet<Name>) {
    let mut fragments = HashSet::new();
    let vars = doc
        .operations
        .iter()
        .map(|(name, op)| {
            let (mut seen, mut vars) = (HashSet::new(), HashSet::new());
            usage(doc, &op.node.selection_set.node, &mut seen, &mut vars, 0);
            fragments.extend(seen);
            (name.cloned(), vars)
        })
        .collect();
    (vars, fragments)
}

fn usage(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    seen: &mut HashSet<Name>,
    vars: &mut HashSet<Name>,
    depth: usize,
) {
    if depth > MAX_NESTING {
        return;
    }
    for item in &set.items {
        for d in item.node.directives() {
            d.node.arguments.iter().for_each(|(_, v)| value_vars(&v.node, vars));
        }
        match &item.node {
            Selection::Field(f) => {
                f.node.arguments.iter().for_each(|(_, v)| value_vars(&v.node, vars));
                usage(doc, &f.node.selection_set.node, seen, vars, depth + 1);
            }
            Selection::InlineFragment(i) => usage(doc, &i.node.selection_set.node, seen, vars, depth + 1),
            Selection::FragmentSpread(s) => {
                let name = &s.node.fragment_name.node;
                if seen.insert(name.clone())
                    && let Some(fragment) = doc.fragments.get(name)
                {
                    for d in &fragment.node.directives {
                        d.node.arguments.iter().for_each(|(_, v)| value_vars(&v.node, vars));
                    }
                    usage(doc, &fragment.node.selection_set.node, seen, vars, depth + 1);
                }
            }
        }
    }
}

fn value_vars(v: &Value, vars: &mut HashSet<Name>) {
    match v {
        Value::Variable(name) => {
            vars.insert(name.clone());
        }
        Value::List(items) => items.iter().for_each(|v| value_vars(v, vars)),
        Value::Object(fields) => fields.values().for_each(|v| value_vars(v, vars)),
        _ => {}
    }
}

/// `_convograph_deferred: __typename`.
fn placeholder() -> Positioned<Selection> {
    let at = async_graphql::Pos::default();
    Positioned::new(
        Selection::Field(Positioned::new(
            Field {
                alias: Some(Positioned::new(Name::new(PLACEHOLDER), at)),
                name: Positioned::new(Name::new("__typename"), at),
                arguments: Vec::new(),
                directives: Vec::new(),
                selection_set: Positioned::new(SelectionSet::default(), at),
            },
            at,
        )),
        at,
    )
}

/// Walks the operation for the positions of its active deferred fragments.
struct Positions<'a, 'r> {
    doc: &'a ExecutableDocument,
    rewrite: &'r Rewrite<'r>,
    out: &'r mut Vec<Deferred>,
    /// Each label, with where its `@defer` is written.
    labels: HashMap<String, async_graphql::Pos>,
    steps: usize,
    /// How deep the walk is (selection sets entered).
    depth: usize,
    /// Fragments being expanded (a cycle, refused later by validation, stops here).
    expanding: Vec<&'a Name>,
}

impl<'a> Positions<'a, '_> {
    fn step(&mut self) -> ServerResult<()> {
        if self.depth > MAX_NESTING {
            return Err(misuse(format!("the document nests selections more than {MAX_NESTING} deep")));
        }
        self.steps += 1;
        if self.steps > MAX_STEPS || self.out.len() > MAX_DEFERRED {
            return Err(misuse(format!("the operation defers more than {MAX_DEFERRED} fragments")));
        }
        Ok(())
    }

    /// The label of an active `@defer` among `directives` (and where it is written).
    fn active(
        &self,
        directives: &[Positioned<async_graphql::parser::types::Directive>],
    ) -> Option<(Option<String>, async_graphql::Pos)> {
        let d = directives.get(find_defer(directives)?)?;
        let mut label = None;
        for (name, value) in &d.node.arguments {
            match (name.node.as_str(), &value.node) {
                ("label", Value::String(s)) => label = Some(s.clone()),
                ("if", v) if !self.rewrite.boolean(v).unwrap_or(true) => return None,
                _ => {}
            }
        }
        Some((label, d.pos))
    }

    fn selection_set(&mut self, set: &'a SelectionSet, path: &mut Vec<Name>) -> ServerResult<()> {
        self.depth += 1;
        let walked = self.selection_set_items(set, path);
        self.depth -= 1;
        walked
    }

    fn selection_set_items(&mut self, set: &'a SelectionSet, path: &mut Vec<Name>) -> ServerResult<()> {
        for item in &set.items {
            self.step()?;
            match &item.node {
                Selection::Field(f) => {
                    path.push(f.node.response_key().node.clone());
                    self.selection_set(&f.node.selection_set.node, path)?;
                    path.pop();
                }
                Selection::InlineFragment(i) => match self.active(&i.node.directives) {
                    Some(defer) => {
                        let keys = self.keys(&i.node.selection_set.node)?;
                        self.push(defer, path, keys)?;
                    }
                    None => self.selection_set(&i.node.selection_set.node, path)?,
                },
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    let Some(fragment) = self.doc.fragments.get(name) else { continue };
                    if self.expanding.contains(&name) {
                        continue;
                    }
                    match self.active(&s.node.directives) {
                        Some(defer) => {
                            let keys = self.keys(&fragment.node.selection_set.node)?;
                            self.push(defer, path, keys)?;
                        }
                        None => {
                            self.expanding.push(name);
                            self.selection_set(&fragment.node.selection_set.node, path)?;
                            self.expanding.pop();
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn push(
        &mut self,
        (label, at): (Option<String>, async_graphql::Pos),
        path: &[Name],
        keys: Vec<Name>,
    ) -> ServerResult<()> {
        if let Some(l) = &label
            && *self.labels.entry(l.clone()).or_insert(at) != at
        {
            return Err(misuse(format!("the `@defer` label \"{l}\" is used twice: labels must be unique")));
        }
        self.out.push(Deferred { label, path: path.to_vec(), keys });
        Ok(())
    }

    /// The response keys `set` selects at its level, through fragments.
    fn keys(&mut self, set: &'a SelectionSet) -> ServerResult<Vec<Name>> {
        let mut out = Vec::new();
        self.collect_keys(set, &mut out)?;
        Ok(out)
    }

    fn collect_keys(&mut self, set: &'a SelectionSet, out: &mut Vec<Name>) -> ServerResult<()> {
        self.depth += 1;
        let walked = self.collect_key_items(set, out);
        self.depth -= 1;
        walked
    }

    fn collect_key_items(&mut self, set: &'a SelectionSet, out: &mut Vec<Name>) -> ServerResult<()> {
        for item in &set.items {
            self.step()?;
            match &item.node {
                Selection::Field(f) => {
                    let key = &f.node.response_key().node;
                    if !out.contains(key) {
                        out.push(key.clone());
                    }
                }
                Selection::InlineFragment(i) => self.collect_keys(&i.node.selection_set.node, out)?,
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    if let Some(fragment) = self.doc.fragments.get(name)
                        && !self.expanding.contains(&name)
                    {
                        self.expanding.push(name);
                        self.collect_keys(&fragment.node.selection_set.node, out)?;
                        self.expanding.pop();
                    }
                }
            }
        }
        Ok(())
    }
}

/// Builds the multipart answer of a deferred operation (its document already
/// split): runs the initial and the full document at once, answers the initial
/// result's errors alone when it never ran (parse/validation: no multipart), and
/// otherwise streams the initial part, then one part per deferred fragment instance.
pub(super) async fn respond(
    state: &Arc<HttpState>,
    media_error: impl FnOnce(&async_graphql::Response) -> Response,
    principal: Arc<Principal>,
    operation: String,
    admitted: Admitted,
    split: Split,
    debug: bool,
) -> Response {
    let started = Instant::now();
    let Admitted { request: full, account: full_account, .. } = admitted;
    let Split { initial: initial_doc, deferred } = split;
    let mut initial = async_graphql::Request::new(full.query.clone()).variables(full.variables.clone());
    initial.operation_name = full.operation_name.clone();
    initial.extensions = full.extensions.clone();
    initial.set_parsed_query(initial_doc);
    let initial_account = prepare(state, &principal, &mut initial, false);
    let deadline = tokio::time::Instant::now() + state.options.limits.request_timeout;

    let full_run = AbortOnDrop(tokio::spawn({
        let (state, principal) = (state.clone(), principal.clone());
        async move { tokio::time::timeout_at(deadline, run_admitted(&state, &principal, full, full_account, false)).await }
    }));
    let first =
        tokio::time::timeout_at(deadline, run_admitted(state, &principal, initial, initial_account, debug)).await;
    let operations = [operation];
    let mut first = match first {
        Ok((resp, _)) => resp,
        Err(_) => {
            let timeout = timeout_error(state, &operations, &principal, started);
            return media_error(&async_graphql::Response::from_errors(vec![timeout]));
        }
    };
    tag_request_errors(&mut first);
    if is_request_error(&first) {
        let resp = media_error(&first);
        let refused = BatchResponse::Single(async_graphql::Response::from_errors(first.errors));
        record(state, &principal, &operations, &refused, resp.status(), started);
        return resp;
    }

    let mut head = response_json(&first);
    if let Some(data) = head.get_mut("data") {
        drop_placeholders(data);
    }
    let initial_data = head.get("data").cloned().unwrap_or(Json::Null);
    head["hasNext"] = json!(!deferred.is_empty());
    let first_part = part(&head);
    let state = state.clone();
    let rest = async move {
        let mut errors = first.errors;
        let full = match full_run.join().await {
            Some(Ok((resp, _))) => Ok(resp),
            Some(Err(_)) => Err(timeout_error(&state, &operations, &principal, started)),
            None => Err(request_error(ErrorCode::Internal, "the deferred part of the operation failed")),
        };
        let items = items(&initial_data, &deferred, full);
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            errors.extend(item.errors.iter().cloned());
            let body = json!({ "incremental": [item.json()], "hasNext": i + 1 < items.len() });
            out.extend_from_slice(&part(&body));
        }
        if items.is_empty() && !deferred.is_empty() {
            out.extend_from_slice(&part(&json!({ "hasNext": false })));
        }
        out.extend_from_slice(b"\r\n-----\r\n");
        let all = async_graphql::Response::from_errors(errors);
        record(&state, &principal, &operations, &BatchResponse::Single(all), StatusCode::OK, started);
        Ok::<_, std::convert::Infallible>(Bytes::from(out))
    };
    let body = futures::stream::once(std::future::ready(Ok(first_part))).chain(futures::stream::once(rest));
    let mut resp = (StatusCode::OK, Body::from_stream(body)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MULTIPART_MIXED));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A spawned task, aborted when dropped (the client went away before it ended).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    /// The task's output; `None` if it panicked.
    async fn join(mut self) -> Option<T> {
        (&mut self.0).await.ok()
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One part of the multipart body (its boundary first).
fn part(body: &Json) -> Bytes {
    let mut out = b"\r\n---\r\nContent-Type: application/json; charset=utf-8\r\n\r\n".to_vec();
    out.extend_from_slice(body.to_string().as_bytes());
    Bytes::from(out)
}

/// Takes the hidden `__typename` of emptied selections out of an answer.
fn drop_placeholders(v: &mut Json) {
    match v {
        Json::Object(map) => {
            map.remove(PLACEHOLDER);
            map.values_mut().for_each(drop_placeholders);
        }
        Json::Array(items) => items.iter_mut().for_each(drop_placeholders),
        _ => {}
    }
}

/// One `incremental` item: a deferred fragment's fields at one object.
#[derive(Debug)]
struct Item {
    data: Json,
    path: Vec<Json>,
    label: Option<String>,
    errors: Vec<ServerError>,
}

impl Item {
    fn json(&self) -> Json {
        let mut out = json!({ "data": self.data, "path": self.path });
        if let Some(label) = &self.label {
            out["label"] = json!(label);
        }
        if !self.errors.is_empty() {
            out["errors"] = serde_json::to_value(&self.errors).unwrap_or(Json::Null);
        }
        out
    }
}

/// The items of every deferred fragment, at every object of the initial answer it
/// applies to, cut from the full answer (or, when that failed as a whole, `null`
/// data with its error).
fn items(initial: &Json, deferred: &[Deferred], full: Result<async_graphql::Response, ServerError>) -> Vec<Item> {
    let (data, errors) = match full {
        Ok(resp) => (serde_json::to_value(&resp.data).unwrap_or(Json::Null), Err(resp.errors)),
        Err(e) => (Json::Null, Ok(e)),
    };
    let mut out = Vec::new();
    for d in deferred {
        let mut at = Vec::new();
        positions(initial, &d.path, &mut Vec::new(), &mut at);
        for path in at {
            let object = lookup(&data, &path);
            let item_errors: Vec<ServerError> = match &errors {
                Ok(whole) => vec![whole.clone()],
                Err(errors) => errors.iter().filter(|e| inside(&e.path, &path, &d.keys)).cloned().collect(),
            };
            let data = match object {
                Some(Json::Object(map)) => {
                    // A field whose resolver failed is left out by the engine: `null`
                    // here, beside its error.
                    let failed = |k: &Name| {
                        item_errors.iter().any(|e| {
                            e.path.len() == path.len() + 1
                                && matches!(e.path.last(), Some(PathSegment::Field(f)) if f == k.as_str())
                        })
                    };
                    let cut: Map<String, Json> = d
                        .keys
                        .iter()
                        .filter_map(|k| match map.get(k.as_str()) {
                            Some(v) => Some((k.to_string(), v.clone())),
                            None if failed(k) => Some((k.to_string(), Json::Null)),
                            None => None,
                        })
                        .collect();
                    // Not a single key of the fragment: its type condition does not
                    // match this object (or its fields were all skipped).
                    if cut.is_empty() && item_errors.is_empty() {
                        continue;
                    }
                    Json::Object(cut)
                }
                _ => Json::Null,
            };
            out.push(Item { data, path, label: d.label.clone(), errors: item_errors });
        }
    }
    out
}

/// The concrete paths (list indices expanded) of the objects at `rest` below `v`.
fn positions(v: &Json, rest: &[Name], at: &mut Vec<Json>, out: &mut Vec<Vec<Json>>) {
    match v {
        Json::Array(list) => {
            for (i, item) in list.iter().enumerate() {
                at.push(json!(i));
                positions(item, rest, at, out);
                at.pop();
            }
        }
        Json::Object(map) => match rest.split_first() {
            None => out.push(at.clone()),
            Some((key, rest)) => {
                if let Some(next) = map.get(key.as_str()) {
                    at.push(json!(key.as_str()));
                    positions(next, rest, at, out);
                    at.pop();
                }
            }
        },
        _ => {}
    }
}

fn lookup<'v>(v: &'v Json, path: &[Json]) -> Option<&'v Json> {
    path.iter().try_fold(v, |v, seg| match seg {
        Json::String(k) => v.get(k.as_str()),
        Json::Number(n) => v.get(usize::try_from(n.as_u64()?).ok()?),
        _ => None,
    })
}

/// Whether an error at `error` lies inside the fragment selecting `keys` at `at`.
fn inside(error: &[PathSegment], at: &[Json], keys: &[Name]) -> bool {
    let same = |seg: &PathSegment, p: &Json| match (seg, p) {
        (PathSegment::Field(f), Json::String(k)) => f == k,
        (PathSegment::Index(i), Json::Number(n)) => n.as_u64() == Some(*i as u64),
        _ => false,
    };
    error.len() > at.len()
        && error.iter().zip(at).all(|(seg, p)| same(seg, p))
        && matches!(&error[at.len()], PathSegment::Field(f) if keys.iter().any(|k| k.as_str() == f))
}
