//! What each provider fills, in one place. `Connection.capabilities`, the `providers`
//! query and the README's coverage tables (`schema::coverage::markdown`) are
//! generated from here; a test
//! (`tests/api/coverage.rs`) keeps the README in step and checks the field claims
//! against what the sandbox's calls and users really carry.

use super::{CallFilterSupport, Capabilities, ProviderKind, execvision, gong, hubster, salesloft};

/// What one provider fills.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub provider: ProviderKind,
    /// Lists and lookups (the booleans) and the call filters applied at the API.
    pub capabilities: Capabilities,
    /// The provider endpoints behind each list (README notes), by list name.
    pub notes: &'static [(&'static str, &'static str)],
    /// Unified `Call` fields the provider fills (names as in the schema).
    pub call_fields: &'static [&'static str],
    /// Unified `User` fields the provider fills.
    pub user_fields: &'static [&'static str],
}

/// Whether a provider has something.
pub type Has<T> = fn(&T) -> bool;

/// The lists of the unified graph, with the capability that serves each.
pub const LISTS: &[(&str, Has<Capabilities>)] = &[
    ("users", |c| c.users),
    ("calls", |c| c.calls),
    ("transcripts", |c| c.transcripts),
    ("activity", |c| c.activity),
    ("interactions", |c| c.interactions),
    ("scores", |c| c.scores),
    ("scorecards", |c| c.scorecards),
    ("coaching", |c| c.coaching),
    ("coachingPlans", |c| c.coaching_plans),
    ("teams", |c| c.teams),
    ("topics", |c| c.topics),
    ("listens", |c| c.listens),
    ("feedback", |c| c.feedback),
    ("shares", |c| c.shares),
    ("kpis", |c| c.kpis),
    ("Call.chatActivities", |c| c.chats),
];

/// Every unified `Call` field a provider may or may not fill.
pub const CALL_FIELDS: &[&str] = &[
    "title",
    "url",
    "scheduledAt",
    "startedAt",
    "duration",
    "direction",
    "scope",
    "medium",
    "platform",
    "language",
    "purpose",
    "host",
    "participants",
    "topics",
    "trackers",
    "summary",
    "stats",
    "state",
    "crmMatches",
    "metadata",
    "transcript",
    "scores",
];

/// Every unified `User` field a provider may or may not fill.
pub const USER_FIELDS: &[&str] = &[
    "email",
    "emailAliases",
    "name",
    "title",
    "phone",
    "active",
    "createdAt",
    "team",
    "department",
    "systemIds",
    "manager",
];

/// The unified call filters (`CallFilter` fields), with whether a provider applies
/// each at its API (else convograph applies it to the provider's pages).
pub const CALL_FILTERS: &[(&str, Has<CallFilterSupport>)] = &[
    ("startedFrom, startedBefore", |f| f.time_range),
    ("hostIds, hostEmails", |f| f.hosts),
    ("directions", |f| f.direction),
    ("media", |f| f.medium),
    ("platforms", |f| f.platform),
    ("minDuration, maxDuration", |f| f.duration),
    ("titleContains", |f| f.title),
    ("languages", |f| f.language),
];

/// The coverage of `provider`, when this build has it.
pub fn of(provider: ProviderKind) -> Option<Coverage> {
    match provider {
        ProviderKind::Gong => Some(Coverage {
            provider,
            capabilities: gong::capabilities(),
            notes: &[
                ("users", "`/v2/users`, `/v2/users/extensive`"),
                ("calls", "`/v2/calls/extensive` (parties, topics, trackers, stats, brief)"),
                ("transcripts", "`/v2/calls/transcript` (batched)"),
                ("activity", "`/v2/stats/activity/aggregate(-by-period)`"),
                ("interactions", "`/v2/stats/interaction` (`TOTAL` only)"),
                ("scores", "`/v2/stats/activity/scorecards` (`Call.scores`: by the days a page of calls spans)"),
                ("scorecards", "`/v2/settings/scorecards`"),
                ("coaching", "`/v2/coaching`"),
            ],
            call_fields: &[
                "title",
                "url",
                "scheduledAt",
                "startedAt",
                "duration",
                "direction",
                "scope",
                "medium",
                "platform",
                "language",
                "purpose",
                "host",
                "participants",
                "topics",
                "trackers",
                "summary",
                "stats",
                "transcript",
                "scores",
            ],
            user_fields: &["email", "emailAliases", "name", "title", "phone", "active", "createdAt", "manager"],
        }),
        ProviderKind::ExecVision => Some(Coverage {
            provider,
            capabilities: execvision::capabilities(),
            notes: &[
                ("users", "`users` (+ `teams`, `departments`)"),
                ("calls", "`calls` (since + last_id), `call/{id}`; deleted calls removed"),
                ("transcripts", "`transcript/{id}`, else the words of `call/{id}`"),
                ("scores", "`scores` (scheme → percentage)"),
                ("scorecards", "`scorecard/{id}`"),
                ("coachingPlans", "`plans`, `meetings`"),
                ("teams", "`teams`, `departments`"),
                ("topics", "`topics`, `call_topics`"),
                ("listens", "`listens`"),
                ("feedback", "`feedback`"),
                ("shares", "`shares`"),
                ("kpis", "`kpis`, `kpi/{id}`"),
            ],
            call_fields: &[
                "title",
                "startedAt",
                "duration",
                "direction",
                "medium",
                "host",
                "summary",
                "stats",
                "state",
                "crmMatches",
                "metadata",
                "transcript",
                "scores",
            ],
            user_fields: &["email", "name", "active", "team", "department", "systemIds"],
        }),
        ProviderKind::Salesloft => Some(Coverage {
            provider,
            capabilities: salesloft::capabilities(),
            notes: &[
                ("users", "`/v2/users` (id = the user's guid; `guid[]` for lookups)"),
                ("calls", "`/v2/conversations` (filters, `remoteQuery`; `ids[]` for lookups)"),
                ("transcripts", "`/v2/transcriptions/{id}/sentences` (ordered, every page)"),
            ],
            call_fields: &[
                "title",
                "scheduledAt",
                "startedAt",
                "duration",
                "scope",
                "medium",
                "platform",
                "language",
                "host",
                "crmMatches",
                "transcript",
            ],
            user_fields: &["email", "name", "title", "active", "createdAt"],
        }),
        ProviderKind::Hubster => Some(Coverage {
            provider,
            capabilities: hubster::capabilities(),
            notes: &[
                (
                    "calls",
                    "`/api/v1/conversations/{id}` as chats: the configured `conversation_ids`, any id by `call`/`node`",
                ),
                (
                    "transcripts",
                    "the messages of `/api/v1/interactions/activities/{id}` (`Customer`, `Agent`, `Bot`, merged)",
                ),
                ("Call.chatActivities", "the same activities, messages and events, each once, in event order"),
            ],
            call_fields: &["startedAt", "scope", "medium", "platform", "participants", "transcript"],
            user_fields: &[],
        }),
    }
}

/// The coverage of every provider in this build.
pub fn all() -> Vec<Coverage> {
    [ProviderKind::Gong, ProviderKind::ExecVision, ProviderKind::Salesloft, ProviderKind::Hubster]
        .into_iter()
        .filter_map(of)
        .collect()
}

/// The provider's name as people write it.
pub fn display_name(provider: ProviderKind) -> &'static str {
    match provider {
        ProviderKind::Gong => "Gong",
        ProviderKind::ExecVision => "ExecVision",
        ProviderKind::Salesloft => "Salesloft",
        ProviderKind::Hubster => "Hubster",
    }
}
