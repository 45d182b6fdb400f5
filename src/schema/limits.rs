//! Bounded queries: the request guard every operation passes before it runs.
//!
//! [`RequestGuard::check`] runs before the engine (the HTTP layer calls it on every
//! operation of a request) and:
//! 1. resolves persisted queries (APQ or the safelist, see [`super::persisted`]);
//! 2. parses the document once, for itself and the engine (a parse error is
//!    `GRAPHQL_PARSE_FAILED`);
//! 3. measures the operation to run and refuses it, before any resolver runs, when
//!    it nests deeper than `max_depth` (`MAX_DEPTH_LIMIT`), uses more than
//!    `max_aliases` aliases (`MAX_ALIASES_LIMIT`) or costs more than
//!    `max_complexity` (`MAX_COMPLEXITY_LIMIT`);
//! 4. with introspection turned off, refuses `__schema` / `__type` with a clear
//!    `GRAPHQL_VALIDATION_FAILED` (the engine alone would answer `null`);
//! 5. returns the operation's name (for metrics and logs).
//!
//! It is a plain function rather than an async-graphql extension on purpose: with
//! any extension registered, the engine routes every field of every response
//! through the extension chain, which cost a quarter of the time of a cached page
//! of 100 calls.
//!
//! Complexity: every field costs 1; a paged list (a field with `first`/`last`, or
//! one selecting `edges`/`nodes`) multiplies what its items select by its page size:
//! `first`/`last` (clamped to `server.max_page_size`, so an oversized page is the
//! resolver's clearer `BAD_USER_INPUT`), or the default page size when absent. So
//! `calls(first: 50) { edges { node { title host { name } } } }` costs
//! `1 + 50 × (1 + 1 + 1 + 1 + 1)`. The rule follows the arguments, not a per-field
//! annotation, so every list added to the schema is costed the same way.
//!
//! Fragments are measured once each (memoised), so a document that spreads
//! fragments exponentially is measured in linear time, and fragment cycles (which
//! validation rejects later) cannot loop.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Request, ServerError, ServerResult, Variables,
    parser::types::{DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet},
};
use async_graphql_value::{ConstValue, Name, Value};

use super::persisted::PersistedQueries;
use crate::{
    config::LimitSettings,
    error::{ErrorCode, request_error},
};

/// Page size of a list without `first`/`last` (as `schema::connection` pages).
pub const DEFAULT_PAGE_SIZE: u64 = 25;

/// The measure of a selection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    /// Deepest field nesting.
    pub depth: usize,
    /// Complexity (see the module docs).
    pub complexity: u64,
    /// Aliased fields.
    pub aliases: u64,
}

/// Checks requests against the limits and resolves persisted queries.
#[derive(Debug)]
pub struct RequestGuard {
    introspection: bool,
    max_depth: usize,
    max_complexity: u64,
    max_aliases: u64,
    max_page_size: u64,
    persisted: PersistedQueries,
}

impl RequestGuard {
    /// A guard with these limits.
    pub fn new(limits: &LimitSettings, max_page_size: usize, introspection: bool, persisted: PersistedQueries) -> Self {
        Self {
            introspection,
            max_depth: limits.max_depth,
            max_complexity: limits.max_complexity,
            max_aliases: limits.max_aliases as u64,
            max_page_size: max_page_size as u64,
            persisted,
        }
    }

    /// Shares the APQ store with the other replicas through Redis.
    pub fn with_shared(mut self, shared: Option<crate::shared::Shared>) -> Self {
        self.persisted = self.persisted.with_shared(shared);
        self
    }

    /// Looks up in Redis a persisted query `request` names by hash only, when this
    /// replica does not hold it (call before [`Self::check`]).
    pub async fn recall(&self, request: &Request) {
        self.persisted.recall(request).await;
    }

    /// Prepares `request` to run (its document resolved and parsed), or the error
    /// to answer instead. Sets `name` to the operation's name as soon as the
    /// document tells it (so a refused operation is still named in metrics).
    pub fn check(&self, request: &mut Request, name: &mut Option<String>) -> ServerResult<()> {
        let remember = self.persisted.resolve(request)?;
        let operation_name = request.operation_name.clone();
        let variables = request.variables.clone();
        let doc = request.parsed_query().map_err(|e| {
            let mut e = e;
            e.extensions.get_or_insert_with(Default::default).set("code", ErrorCode::GraphqlParseFailed.as_str());
            e
        })?;
        if let Some((op_name, op)) = select_operation(doc, operation_name.as_deref()) {
            *name = op_name.map(str::to_owned);
            if !self.introspection && asks_introspection(doc, &op.selection_set.node, 0) {
                return Err(request_error(
                    ErrorCode::GraphqlValidationFailed,
                    "introspection is turned off on this server (`server.introspection`)",
                ));
            }
            let measure = measure_operation(doc, op, &variables, self.max_page_size, self.max_depth);
            self.limit(measure)?;
        }
        if let Some(hash) = remember {
            self.persisted.remember(hash, &request.query);
        }
        Ok(())
    }
}

impl RequestGuard {
    fn limit(&self, m: Measure) -> ServerResult<()> {
        if m.depth > self.max_depth {
            return Err(limit_error(
                ErrorCode::MaxDepthLimit,
                format!("the query nests fields {} deep; the limit is {}", m.depth, self.max_depth),
                self.max_depth as u64,
                m.depth as u64,
            ));
        }
        if m.aliases > self.max_aliases {
            return Err(limit_error(
                ErrorCode::MaxAliasesLimit,
                format!("the query uses {} aliases; the limit is {}", m.aliases, self.max_aliases),
                self.max_aliases,
                m.aliases,
            ));
        }
        if m.complexity > self.max_complexity {
            return Err(limit_error(
                ErrorCode::MaxComplexityLimit,
                format!(
                    "the query's complexity is {}; the limit is {} (lists cost their `first`/`last` times what each \
                     item selects: ask for smaller pages or fewer nested lists)",
                    m.complexity, self.max_complexity
                ),
                self.max_complexity,
                m.complexity,
            ));
        }
        Ok(())
    }
}

fn limit_error(code: ErrorCode, message: String, limit: u64, actual: u64) -> ServerError {
    let mut e = request_error(code, message);
    let ext = e.extensions.get_or_insert_with(Default::default);
    ext.set("limit", limit);
    ext.set("actual", actual);
    e
}

/// The operation a request runs, with its name; `None` when it cannot be told (the
/// engine then reports the problem).
pub(crate) fn select_operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(Option<&'d str>, &'d OperationDefinition)> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), None) => Some((None, &op.node)),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get_key_value(name).map(|(n, op)| (Some(n.as_str()), &op.node))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.iter().next().map(|(n, op)| (Some(n.as_str()), &op.node))
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether the root selection asks for `__schema` or `__type`.
fn asks_introspection(doc: &ExecutableDocument, set: &SelectionSet, hops: usize) -> bool {
    hops <= 8
        && set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => matches!(f.node.name.node.as_str(), "__schema" | "__type"),
            Selection::InlineFragment(i) => asks_introspection(doc, &i.node.selection_set.node, hops + 1),
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .is_some_and(|d| asks_introspection(doc, &d.node.selection_set.node, hops + 1)),
        })
}

/// Measures one operation of `doc`.
pub fn measure_operation(
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    variables: &Variables,
    max_page_size: u64,
    max_depth: usize,
) -> Measure {
    let defaults = op
        .variable_definitions
        .iter()
        .filter_map(|d| d.node.default_value.as_ref().map(|v| (d.node.name.node.clone(), &v.node)))
        .collect();
    let mut walker = Walker {
        doc,
        variables,
        defaults,
        max_page_size,
        // Bound the recursion: past this many nested selections the query is
        // already too deep, whatever the rest holds.
        max_stack: max_depth.saturating_mul(2).max(64),
        stack: 0,
        fragments: HashMap::new(),
        in_progress: HashSet::new(),
    };
    walker.selection_set(&op.selection_set.node)
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    defaults: HashMap<Name, &'a ConstValue>,
    max_page_size: u64,
    max_stack: usize,
    stack: usize,
    fragments: HashMap<&'a str, Measure>,
    in_progress: HashSet<&'a str>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Measure {
        if self.stack >= self.max_stack {
            return Measure { depth: usize::MAX / 2, complexity: u64::MAX / 2, aliases: 0 };
        }
        self.stack += 1;
        let mut total = Measure::default();
        for item in &set.items {
            let m = match &item.node {
                Selection::Field(f) => self.field(&f.node),
                Selection::InlineFragment(i) => self.selection_set(&i.node.selection_set.node),
                Selection::FragmentSpread(s) => self.fragment(s.node.fragment_name.node.as_str()),
            };
            total.depth = total.depth.max(m.depth);
            total.complexity = total.complexity.saturating_add(m.complexity);
            total.aliases = total.aliases.saturating_add(m.aliases);
        }
        self.stack -= 1;
        total
    }

    fn field(&mut self, f: &'a Field) -> Measure {
        let children = self.selection_set(&f.selection_set.node);
        let per_item = self.page_size(f).unwrap_or(1);
        Measure {
            depth: children.depth.saturating_add(1),
            complexity: per_item.saturating_mul(children.complexity).saturating_add(1),
            aliases: children.aliases.saturating_add(u64::from(f.alias.is_some())),
        }
    }

    fn fragment(&mut self, name: &'a str) -> Measure {
        if let Some(m) = self.fragments.get(name) {
            return *m;
        }
        let Some(def) = self.doc.fragments.get(name) else { return Measure::default() };
        if !self.in_progress.insert(name) {
            return Measure::default();
        }
        let m = self.selection_set(&def.node.selection_set.node);
        self.in_progress.remove(name);
        self.fragments.insert(name, m);
        m
    }

    /// The page size of a paged list field, `None` for any other field.
    fn page_size(&self, f: &Field) -> Option<u64> {
        let mut size = None;
        for (name, value) in &f.arguments {
            if !matches!(name.node.as_str(), "first" | "last") {
                continue;
            }
            let given = match &value.node {
                Value::Number(n) => n.as_i64(),
                Value::Variable(var) => match self.variables.get(var).or_else(|| self.defaults.get(var).copied()) {
                    Some(ConstValue::Number(n)) => n.as_i64(),
                    _ => None,
                },
                _ => None,
            };
            let n = given.map_or(DEFAULT_PAGE_SIZE.min(self.max_page_size), |n| {
                u64::try_from(n.max(0)).unwrap_or(0).min(self.max_page_size)
            });
            size = Some(size.map_or(n, |s: u64| s.max(n)));
        }
        if size.is_none() && self.selects_edges(&f.selection_set.node, 0) {
            size = Some(DEFAULT_PAGE_SIZE.min(self.max_page_size));
        }
        size
    }

    /// Whether `set` selects `edges` or `nodes` directly (through fragments too).
    fn selects_edges(&self, set: &SelectionSet, hops: usize) -> bool {
        if hops > 8 {
            return false;
        }
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => matches!(f.node.name.node.as_str(), "edges" | "nodes"),
            Selection::InlineFragment(i) => self.selects_edges(&i.node.selection_set.node, hops + 1),
            Selection::FragmentSpread(s) => self
                .doc
                .fragments
                .get(&s.node.fragment_name.node)
                .is_some_and(|d| self.selects_edges(&d.node.selection_set.node, hops + 1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn measure(query: &str, vars: serde_json::Value) -> Measure {
        let doc = parse_query(query).unwrap();
        let (_, op) = select_operation(&doc, None).unwrap();
        measure_operation(&doc, op, &Variables::from_json(vars), 100, 15)
    }

    #[test]
    fn lists_cost_their_page_size_times_their_items() {
        let m = measure("{ calls(first: 50) { edges { node { title host { name } } } } }", serde_json::json!({}));
        // calls: 1 + 50 × edges(1 + node(1 + title 1 + host(1 + name 1))) = 1 + 50 × 5.
        assert_eq!(m, Measure { depth: 5, complexity: 251, aliases: 0 });
        let nested = measure(
            "{ calls(first: 10) { edges { node { transcript { segments(first: 20) { edges { node { text } } } } } } } }",
            serde_json::json!({}),
        );
        // segments: 1 + 20 × 3 = 61; node: 1 + transcript(1 + 61) = 63; calls: 1 + 10 × (1 + 63).
        assert_eq!(nested.complexity, 641);
        assert_eq!(nested.depth, 8);
    }

    #[test]
    fn page_sizes_come_from_variables_defaults_or_the_default_page_and_are_clamped() {
        let q = "query Q($n: Int = 7) { calls(first: $n) { edges { node { id } } } }";
        assert_eq!(measure(q, serde_json::json!({})).complexity, 1 + 7 * 3);
        assert_eq!(measure(q, serde_json::json!({ "n": 40 })).complexity, 1 + 40 * 3);
        let absent = "{ calls { edges { node { id } } } }";
        assert_eq!(measure(absent, serde_json::json!({})).complexity, 1 + DEFAULT_PAGE_SIZE * 3);
        let huge = "{ calls(last: 100000) { edges { node { id } } } }";
        assert_eq!(measure(huge, serde_json::json!({})).complexity, 1 + 100 * 3, "clamped to the page cap");
        let plain_list = "{ connections { id provider } }";
        assert_eq!(measure(plain_list, serde_json::json!({})).complexity, 3);
    }

    #[test]
    fn fragments_and_aliases_count_where_they_are_spread() {
        let q = "{ a: calls(first: 2) { ...Page } b: calls(first: 3) { ...Page } }
                 fragment Page on CallConnection { edges { node { t: title } } }";
        let m = measure(q, serde_json::json!({}));
        // fragment Page: edges(1 + node(1 + t 1)) = 3, 1 alias.
        assert_eq!(m, Measure { depth: 4, complexity: (1 + 2 * 3) + (1 + 3 * 3), aliases: 4 });
    }

    #[test]
    fn exponential_fragment_spreads_and_cycles_are_measured_quickly() {
        let mut q = String::from("{ ...F0 }\n");
        for i in 0..40 {
            q.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
        }
        q.push_str("fragment F40 on Query { __typename }\n");
        let m = measure(&q, serde_json::json!({}));
        assert_eq!(m.complexity, 1u64 << 40, "2^40 leaves, counted without visiting them");
        let cyclic = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }";
        assert_eq!(measure(cyclic, serde_json::json!({})).complexity, 1);
    }

    #[test]
    fn deep_nesting_is_measured() {
        // (The parser refuses absurd nesting itself; the walker also stops early.)
        let q = format!("{{ {}x{} }}", "a { ".repeat(40), " }".repeat(40));
        assert_eq!(measure(&q, serde_json::json!({})).depth, 41);
        // Fragments can chain past the parser's nesting limit: the walk stops early.
        let mut chain = String::from("{ ...F0 }\n");
        for i in 0..5000 {
            chain.push_str(&format!("fragment F{i} on Query {{ a {{ ...F{} }} }}\n", i + 1));
        }
        chain.push_str("fragment F5000 on Query { x }\n");
        assert!(measure(&chain, serde_json::json!({})).depth > 15);
    }
}
