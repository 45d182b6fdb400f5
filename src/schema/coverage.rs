//! Provider coverage in the graph (`providers`, `Connection.capabilities`) and in
//! the README (its coverage section is [`markdown`], checked by a test).

use std::fmt::Write as _;

use async_graphql::{Enum, SimpleObject};

use crate::{
    providers::{CallFilterSupport, ProviderKind, SortDirection, coverage},
    timeline::{Strategy, Walk, strategy},
};

/// What one provider fills in the unified graph.
#[derive(Debug, Clone, SimpleObject)]
pub struct ProviderCoverage {
    /// The provider.
    pub provider: ProviderKind,
    /// The lists it serves (`users`, `calls`, `transcripts`, `activity`, ...), by the
    /// query field's name.
    pub lists: Vec<String>,
    /// The unified `Call` fields it fills.
    pub call_fields: Vec<String>,
    /// The unified `User` fields its accounts fill.
    pub user_fields: Vec<String>,
    /// How each `CallFilter` field is applied to its calls.
    pub call_filters: Vec<CallFilterCoverage>,
    /// Whether `CallFilter.remoteQuery` is passed to it.
    pub remote_query: bool,
    /// How its calls are put in start-time order, each way.
    pub call_order: Vec<CallOrderCoverage>,
}

/// How one call filter is applied for a provider.
#[derive(Debug, Clone, SimpleObject)]
pub struct CallFilterCoverage {
    /// The `CallFilter` field(s).
    pub filter: String,
    /// Where it is applied (the result is the same either way; at the provider it
    /// saves requests and keeps `totalCount`).
    pub applied_by: FilterApplication,
}

/// Where a filter is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum FilterApplication {
    /// By the provider's API.
    Provider,
    /// By convograph, on the provider's pages.
    Convograph,
}

/// How a provider's calls are ordered by start time one way.
#[derive(Debug, Clone, SimpleObject)]
pub struct CallOrderCoverage {
    /// The order.
    pub order: SortDirection,
    /// How it is produced.
    pub strategy: CallOrderStrategy,
}

/// How calls are put in start-time order (see the README, "One calls timeline").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum CallOrderStrategy {
    /// The provider's own pages come in that order; they are read as needed.
    ProviderPages,
    /// Time windows, newest first, each about one provider page (the provider pages
    /// oldest first and filters by time).
    TimeWindows,
    /// The provider cannot order by start time: its list is read whole (from
    /// `startedFrom`; cached) and sorted.
    WholeList,
}

impl ProviderCoverage {
    /// The coverage of `provider`, when this build has it.
    pub fn of(provider: ProviderKind) -> Option<Self> {
        let c = coverage::of(provider)?;
        let native = c.capabilities.native_call_filters;
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Some(Self {
            provider,
            lists: coverage::LISTS
                .iter()
                .filter(|(_, has)| has(&c.capabilities))
                .map(|(n, _)| (*n).to_owned())
                .collect(),
            call_fields: strings(c.call_fields),
            user_fields: strings(c.user_fields),
            call_filters: coverage::CALL_FILTERS
                .iter()
                .map(|(name, at)| CallFilterCoverage {
                    filter: (*name).to_owned(),
                    applied_by: if at(&native) { FilterApplication::Provider } else { FilterApplication::Convograph },
                })
                .collect(),
            remote_query: native.remote_query,
            call_order: [SortDirection::Desc, SortDirection::Asc]
                .into_iter()
                .map(|order| CallOrderCoverage {
                    order,
                    strategy: match strategy(&native, Walk::of(order)) {
                        Strategy::Chain => CallOrderStrategy::ProviderPages,
                        Strategy::Windows => CallOrderStrategy::TimeWindows,
                        Strategy::Whole => CallOrderStrategy::WholeList,
                    },
                })
                .collect(),
        })
    }
}

/// How a provider's calls are put in start-time order for `walk`, in words.
pub fn order_text(caps: &CallFilterSupport, walk: Walk) -> &'static str {
    match strategy(caps, walk) {
        Strategy::Chain => "the provider's own pages, read as needed",
        Strategy::Windows => "time windows read newest first, each about one provider page",
        Strategy::Whole => "the whole list from `startedFrom` (read once, cached), sorted",
    }
}

/// The README's coverage section (between its markers), generated.
pub fn markdown() -> String {
    let all = coverage::all();
    let mut out = String::new();
    let header = |out: &mut String, first: &str| {
        let _ = write!(out, "| {first} |");
        for c in &all {
            let _ = write!(out, " {} |", coverage::display_name(c.provider));
        }
        out.push('\n');
        out.push_str("|---|");
        for _ in &all {
            out.push_str("---|");
        }
        out.push('\n');
    };
    header(&mut out, "list");
    for (name, has) in coverage::LISTS {
        let _ = write!(out, "| `{name}` |");
        for c in &all {
            let cell = if has(&c.capabilities) {
                match c.notes.iter().find(|(n, _)| n == name) {
                    Some((_, note)) => format!("✅ {note}"),
                    None => "✅".to_owned(),
                }
            } else {
                "—".to_owned()
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
    header(&mut out, "`Call` field");
    for field in coverage::CALL_FIELDS {
        let _ = write!(out, "| `{field}` |");
        for c in &all {
            let _ = write!(out, " {} |", if c.call_fields.contains(field) { "✅" } else { "—" });
        }
        out.push('\n');
    }
    out.push('\n');
    header(&mut out, "`User` field");
    for field in coverage::USER_FIELDS {
        let _ = write!(out, "| `{field}` |");
        for c in &all {
            let _ = write!(out, " {} |", if c.user_fields.contains(field) { "✅" } else { "—" });
        }
        out.push('\n');
    }
    out.push('\n');
    header(&mut out, "`CallFilter`");
    for (name, native) in coverage::CALL_FILTERS {
        let _ = write!(out, "| `{name}` |");
        for c in &all {
            let by = if native(&c.capabilities.native_call_filters) { "at the provider" } else { "by convograph" };
            let _ = write!(out, " {by} |");
        }
        out.push('\n');
    }
    let _ = write!(out, "| `remoteQuery` |");
    for c in &all {
        let _ = write!(out, " {} |", if c.capabilities.native_call_filters.remote_query { "passed on" } else { "—" });
    }
    out.push('\n');
    for (label, walk) in [("newest first (`DESC`)", Walk::Down), ("oldest first (`ASC`)", Walk::Up)] {
        let _ = write!(out, "| order: {label} |");
        for c in &all {
            let _ = write!(out, " {} |", order_text(&c.capabilities.native_call_filters, walk));
        }
        out.push('\n');
    }
    out
}
