//! `Activity`, `Interaction`, `Score`, `Scorecard` and coaching.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{
    CallNode, ConnectionNode, UserNode,
    calls::Metric,
    connection::{List, ListId, ListInfo, PageArgs, page_size, paginate, paginate_once},
    connection_node,
    id::{self, Kind},
    state,
};
use crate::{
    domain::{self, Activity, AggregationPeriod, Interaction, Page, Score, Scorecard},
    error::{AppError, AppResult},
    providers::{CoachingQuery, Provider, ProviderKind, ScoreQuery, StatsQuery},
};

pub(crate) fn check_range(start: DateTime<Utc>, end: DateTime<Utc>) -> AppResult<()> {
    if start >= end {
        return Err(AppError::bad_input("`startTime` must be before `endTime`"));
    }
    Ok(())
}

/// A Relay connection over a whole (unpaged) provider result. `fetch` runs only
/// after the paging arguments and cursors have been checked.
async fn whole_list<R, T, Fut>(
    ctx: &Context<'_>,
    list: ListId,
    args: PageArgs,
    fetch: impl Fn() -> Fut,
    map: impl Fn(R) -> T,
) -> AppResult<List<T>>
where
    R: Clone,
    T: async_graphql::OutputType,
    Fut: Future<Output = Result<Vec<R>, crate::providers::ProviderError>>,
{
    let st = state(ctx);
    paginate_once(
        &st.cursors,
        st.max_page_size,
        &list,
        args,
        |_| {
            let fut = fetch();
            async move {
                let items = fut.await?;
                let total = items.len() as u64;
                Ok(Page { items, next: None, total: Some(total) })
            }
        },
        map,
    )
    .await
}

/// The activity of `users` (all users when empty) at one connection. With `shared`
/// (a superset of `users`: the accounts of a whole page of people), the provider is
/// asked for all of `shared` (one request for the page, cached and coalesced while in
/// flight, since every person of the page asks the same) and the list keeps `users`'.
pub(crate) async fn activity_list(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    users: Vec<String>,
    period: AggregationPeriod,
    args: PageArgs,
    shared: Option<Vec<String>>,
) -> AppResult<List<ActivityNode>> {
    check_range(start, end)?;
    let query = StatsQuery { from: start, to: end, user_remote_ids: users, period };
    let list = ListId::new(provider.connection_id(), "activity", &query);
    let (conn, kind) = (provider.connection_id().clone(), provider.kind());
    let read = shared_query(&query, shared);
    whole_list(
        ctx,
        list,
        args,
        || async {
            let all = provider.activity(&read).await?;
            Ok(keep_own(all, &query, |a: &Activity| &a.user.remote_id))
        },
        |a| ActivityNode { connection: conn.clone(), provider: kind, a: Arc::new(a) },
    )
    .await
}

/// The query sent for `own`: the same with the `shared` users instead of its own.
fn shared_query(own: &StatsQuery, shared: Option<Vec<String>>) -> StatsQuery {
    match shared {
        Some(ids) if !own.user_remote_ids.is_empty() => StatsQuery { user_remote_ids: ids, ..own.clone() },
        _ => own.clone(),
    }
}

/// The records of a (possibly shared) read that belong to `own`'s users.
fn keep_own<R>(records: Vec<R>, own: &StatsQuery, user: impl Fn(&R) -> &String) -> Vec<R> {
    if own.user_remote_ids.is_empty() {
        return records;
    }
    records.into_iter().filter(|r| own.user_remote_ids.contains(user(r))).collect()
}

/// The interaction stats of `users` at one connection; `shared` as for
/// [`activity_list`].
pub(crate) async fn interactions_list(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    users: Vec<String>,
    args: PageArgs,
    shared: Option<Vec<String>>,
) -> AppResult<List<InteractionNode>> {
    check_range(start, end)?;
    let query = StatsQuery { from: start, to: end, user_remote_ids: users, period: AggregationPeriod::Total };
    let list = ListId::new(provider.connection_id(), "interactions", &query);
    let (conn, kind) = (provider.connection_id().clone(), provider.kind());
    let read = shared_query(&query, shared);
    whole_list(
        ctx,
        list,
        args,
        || async {
            let all = provider.interactions(&read).await?;
            Ok(keep_own(all, &query, |i: &Interaction| &i.user.remote_id))
        },
        |i| InteractionNode { connection: conn.clone(), provider: kind, i: Arc::new(i) },
    )
    .await
}

/// Narrows a scores list.
#[derive(Debug, Clone, Default, InputObject, Serialize)]
pub struct ScoreFilter {
    /// Reviews of calls that started on or after this time (date precision).
    pub call_started_from: Option<DateTime<Utc>>,
    /// Reviews of calls that started before this time (date precision).
    pub call_started_before: Option<DateTime<Utc>>,
    /// Reviews made on or after this time (date precision).
    pub reviewed_from: Option<DateTime<Utc>>,
    /// Reviews made before this time (date precision).
    pub reviewed_before: Option<DateTime<Utc>>,
    /// Reviews of these users (`User.id`).
    pub reviewee_ids: Option<Vec<ID>>,
    /// Reviews on these scorecards (`Scorecard.id`).
    pub scorecard_ids: Option<Vec<ID>>,
}

/// The provider query of `filter` at `provider` (reviewees are people: their
/// accounts there), or `None` when it names only people without an account there.
pub(crate) async fn score_query(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    filter: &ScoreFilter,
) -> AppResult<Option<ScoreQuery>> {
    let conn = provider.connection_id().clone();
    let mut scorecards = Vec::new();
    for i in filter.scorecard_ids.iter().flatten() {
        let g = id::decode_kind(i, Kind::Scorecard)?;
        if g.connection != conn {
            return Err(AppError::bad_input(format!("'{}' is not of connection '{conn}'", i.as_str())));
        }
        scorecards.push(g.remote_id);
    }
    let mut reviewees = Vec::new();
    if let Some(ids) = &filter.reviewee_ids {
        let persons = super::people::persons(ctx, ids, &[]).await?;
        reviewees = super::people::remote_ids_at(&persons, &conn);
        if reviewees.is_empty() {
            return Ok(None);
        }
    }
    Ok(Some(ScoreQuery {
        call_from: filter.call_started_from,
        call_to: filter.call_started_before,
        review_from: filter.reviewed_from,
        review_to: filter.reviewed_before,
        reviewed_user_remote_ids: reviewees,
        scorecard_remote_ids: scorecards,
    }))
}

pub(crate) async fn scores_list(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    filter: ScoreFilter,
    args: PageArgs,
) -> AppResult<List<ScoreNode>> {
    let st = state(ctx);
    page_size(st.max_page_size, &args)?;
    let Some(query) = score_query(ctx, provider, &filter).await? else {
        return Ok(List::with_additional_fields(false, false, ListInfo { total_count: Some(0) }));
    };
    let list = ListId::of(provider.as_ref(), "scores", &query);
    paginate(
        &st.cursors,
        st.max_page_size,
        &list,
        args,
        |token| {
            let (p, q) = (provider.clone(), query.clone());
            async move { p.list_scores(&q, token).await }
        },
        |s: Score| ScoreNode::new(provider, s),
    )
    .await
}

pub(crate) async fn scorecards_list(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    args: PageArgs,
) -> AppResult<List<ScorecardNode>> {
    let list = ListId::new(provider.connection_id(), "scorecards", &());
    let (conn, kind) = (provider.connection_id().clone(), provider.kind());
    whole_list(
        ctx,
        list,
        args,
        || provider.scorecards(),
        |s| ScorecardNode { connection: conn.clone(), provider: kind, s: Arc::new(s) },
    )
    .await
}

/// Start of `date` in the company time zone, as UTC.
fn day_start(date: NaiveDate, tz: Option<&str>) -> Option<DateTime<Utc>> {
    let tz: chrono_tz::Tz = tz.and_then(|t| t.parse().ok()).unwrap_or(chrono_tz::UTC);
    date.and_hms_opt(0, 0, 0)?.and_local_timezone(tz).earliest().map(|t| t.with_timezone(&Utc))
}

/// A user's platform activity over one period.
#[derive(Clone, Debug)]
pub struct ActivityNode {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
    pub(crate) a: Arc<Activity>,
}

impl ActivityNode {
    pub(crate) fn new(provider: &Arc<dyn Provider>, a: Activity) -> Self {
        Self { connection: provider.connection_id().clone(), provider: provider.kind(), a: Arc::new(a) }
    }

    /// The remote part of the id: user, period and dates.
    pub(crate) fn key(a: &Activity) -> String {
        format!("{}|{:?}|{}|{}", a.user.remote_id, a.period, a.from_date, a.to_date)
    }

    /// The parts of [`Self::key`].
    pub(crate) fn parse_key(key: &str) -> Option<(String, AggregationPeriod, NaiveDate, NaiveDate)> {
        let mut parts = key.rsplitn(4, '|');
        let to = parts.next()?.parse().ok()?;
        let from = parts.next()?.parse().ok()?;
        let period = match parts.next()? {
            "Day" => AggregationPeriod::Day,
            "Week" => AggregationPeriod::Week,
            "Month" => AggregationPeriod::Month,
            "Total" => AggregationPeriod::Total,
            _ => return None,
        };
        Some((parts.next()?.to_owned(), period, from, to))
    }
}

#[Object(name = "Activity")]
impl ActivityNode {
    /// Stable id of this record (connection, user, period and dates); `node(id:)`
    /// re-reads the record (cached).
    pub(crate) async fn id(&self) -> ID {
        id::encode(Kind::Activity, &self.connection, &Self::key(&self.a))
    }
    /// The user the record belongs to.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        UserNode::load(ctx, &self.connection, &self.a.user.remote_id).await
    }
    /// The user's email as the provider reported it with the record.
    async fn user_email(&self) -> Option<&str> {
        self.a.user.email.as_deref()
    }
    /// The connection.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.connection)
    }
    /// The provider.
    async fn provider(&self) -> ProviderKind {
        self.provider
    }
    /// Granularity: day, week, month or the whole range.
    async fn aggregation_period(&self) -> AggregationPeriod {
        self.a.period
    }
    /// First day of the period (inclusive), `YYYY-MM-DD` in `timezone`.
    async fn start_date(&self) -> String {
        self.a.from_date.to_string()
    }
    /// Day after the period (exclusive), `YYYY-MM-DD` in `timezone`.
    async fn end_date(&self) -> String {
        self.a.to_date.to_string()
    }
    /// Start of the period.
    async fn start_time(&self) -> Option<DateTime<Utc>> {
        day_start(self.a.from_date, self.a.time_zone.as_deref())
    }
    /// End of the period (exclusive).
    async fn end_time(&self) -> Option<DateTime<Utc>> {
        day_start(self.a.to_date, self.a.time_zone.as_deref())
    }
    /// The company time zone the provider aggregates in.
    async fn timezone(&self) -> Option<&str> {
        self.a.time_zone.as_deref()
    }
    /// The 15 activity counters.
    async fn metrics(&self) -> ActivityMetrics {
        ActivityMetrics::from(&self.a.metrics)
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.a.raw).clone())
    }
}

fn count(n: i64) -> i32 {
    n.clamp(0, i32::MAX as i64) as i32
}

/// Counts of what a user did on the platform in a period.
#[derive(Clone, Debug, SimpleObject)]
pub struct ActivityMetrics {
    /// Calls the user hosted.
    pub calls_hosted: i32,
    /// Calls the user attended.
    pub calls_attended: i32,
    /// The user's own calls the user listened to.
    pub calls_listened_own: i32,
    /// Other users' calls the user listened to.
    pub calls_listened_others: i32,
    /// Calls the user gave feedback on.
    pub feedback_given: i32,
    /// Calls the user received feedback on.
    pub feedback_received: i32,
    /// Calls the user requested feedback on.
    pub feedback_requested: i32,
    /// Comments the user gave on calls.
    pub comments_given: i32,
    /// Comments the user received on calls.
    pub comments_received: i32,
    /// Calls the user shared inside the company.
    pub calls_shared_internally: i32,
    /// Calls the user shared outside the company.
    pub calls_shared_externally: i32,
    /// Scorecards the user filled in as reviewer.
    pub scorecards_filled: i32,
    /// Scorecards the user received as reviewee.
    pub scorecards_received: i32,
    /// Calls marked as feedback given.
    pub calls_marked_feedback_given: i32,
    /// Calls marked as feedback received.
    pub calls_marked_feedback_received: i32,
}

impl From<&domain::ActivityMetrics> for ActivityMetrics {
    fn from(m: &domain::ActivityMetrics) -> Self {
        Self {
            calls_hosted: count(m.calls_hosted),
            calls_attended: count(m.calls_attended),
            calls_listened_own: count(m.calls_listened_own),
            calls_listened_others: count(m.calls_listened_others),
            feedback_given: count(m.feedback_given),
            feedback_received: count(m.feedback_received),
            feedback_requested: count(m.feedback_requested),
            comments_given: count(m.comments_given),
            comments_received: count(m.comments_received),
            calls_shared_internally: count(m.calls_shared_internally),
            calls_shared_externally: count(m.calls_shared_externally),
            scorecards_filled: count(m.scorecards_filled),
            scorecards_received: count(m.scorecards_received),
            calls_marked_feedback_given: count(m.calls_marked_feedback_given),
            calls_marked_feedback_received: count(m.calls_marked_feedback_received),
        }
    }
}

/// A user's conversation behaviour over a period.
#[derive(Clone, Debug)]
pub struct InteractionNode {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
    pub(crate) i: Arc<Interaction>,
}

impl InteractionNode {
    pub(crate) fn new(provider: &Arc<dyn Provider>, i: Interaction) -> Self {
        Self { connection: provider.connection_id().clone(), provider: provider.kind(), i: Arc::new(i) }
    }

    /// The remote part of the id: user and dates.
    pub(crate) fn key(i: &Interaction) -> String {
        format!("{}|{}|{}", i.user.remote_id, i.from_date, i.to_date)
    }

    /// The parts of [`Self::key`].
    pub(crate) fn parse_key(key: &str) -> Option<(String, NaiveDate, NaiveDate)> {
        let mut parts = key.rsplitn(3, '|');
        let to = parts.next()?.parse().ok()?;
        let from = parts.next()?.parse().ok()?;
        Some((parts.next()?.to_owned(), from, to))
    }
}

#[Object(name = "Interaction")]
impl InteractionNode {
    /// Stable id of this record (connection, user and dates); `node(id:)` re-reads
    /// the record (cached).
    pub(crate) async fn id(&self) -> ID {
        id::encode(Kind::Interaction, &self.connection, &Self::key(&self.i))
    }
    /// The user the record belongs to.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        UserNode::load(ctx, &self.connection, &self.i.user.remote_id).await
    }
    /// The user's email as the provider reported it with the record.
    async fn user_email(&self) -> Option<&str> {
        self.i.user.email.as_deref()
    }
    /// The connection.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.connection)
    }
    /// The provider.
    async fn provider(&self) -> ProviderKind {
        self.provider
    }
    /// Granularity (Gong aggregates interactions over the whole range: `TOTAL`).
    async fn aggregation_period(&self) -> AggregationPeriod {
        self.i.period
    }
    /// First day (inclusive), `YYYY-MM-DD` in `timezone`.
    async fn start_date(&self) -> String {
        self.i.from_date.to_string()
    }
    /// Day after the period (exclusive), `YYYY-MM-DD` in `timezone`.
    async fn end_date(&self) -> String {
        self.i.to_date.to_string()
    }
    /// Start of the period.
    async fn start_time(&self) -> Option<DateTime<Utc>> {
        day_start(self.i.from_date, self.i.time_zone.as_deref())
    }
    /// End of the period (exclusive).
    async fn end_time(&self) -> Option<DateTime<Utc>> {
        day_start(self.i.to_date, self.i.time_zone.as_deref())
    }
    /// The company time zone the provider aggregates in.
    async fn timezone(&self) -> Option<&str> {
        self.i.time_zone.as_deref()
    }
    /// The five standard metrics.
    async fn metrics(&self) -> InteractionMetrics {
        let m = &self.i.metrics;
        InteractionMetrics {
            longest_monologue: m.longest_monologue,
            longest_customer_story: m.longest_customer_story,
            interactivity: m.interactivity,
            patience: m.patience,
            question_rate: m.question_rate,
        }
    }
    /// Metrics the provider reports under other names (forward-compatible).
    async fn additional_metrics(&self) -> Vec<Metric> {
        self.i.additional.iter().map(|(name, value)| Metric { name: name.clone(), value: *value }).collect()
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.i.raw).clone())
    }
}

/// The standard interaction metrics (Gong `/v2/stats/interaction`).
#[derive(Clone, Debug, SimpleObject)]
pub struct InteractionMetrics {
    /// Longest monologue (seconds, as Gong reports it).
    pub longest_monologue: Option<f64>,
    /// Longest customer story (seconds, as Gong reports it).
    pub longest_customer_story: Option<f64>,
    /// Interactivity score.
    pub interactivity: Option<f64>,
    /// Patience (seconds of pause before answering).
    pub patience: Option<f64>,
    /// Questions asked per hour.
    pub question_rate: Option<f64>,
}

/// One review of one call against a scorecard.
#[derive(Clone, Debug)]
pub struct ScoreNode {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
    pub(crate) s: Arc<Score>,
}

impl ScoreNode {
    pub(crate) fn new(provider: &Arc<dyn Provider>, s: Score) -> Self {
        Self { connection: provider.connection_id().clone(), provider: provider.kind(), s: Arc::new(s) }
    }

    /// A user named by provider id, or by email where the provider only gives that.
    async fn person(&self, ctx: &Context<'_>, id: &Option<String>, email: &Option<String>) -> Result<Option<UserNode>> {
        match (id, email) {
            (Some(id), _) => UserNode::load(ctx, &self.connection, id).await,
            (None, Some(email)) => UserNode::by_email(ctx, &self.connection, email).await,
            (None, None) => Ok(None),
        }
    }

    async fn template(&self, ctx: &Context<'_>) -> Result<Option<Arc<Scorecard>>> {
        let Some(id) = &self.s.scorecard_remote_id else {
            return Ok(None);
        };
        let provider = super::provider(ctx, &self.connection)?;
        let cards = provider.scorecards().await.map_err(AppError::from)?;
        Ok(cards.into_iter().find(|c| &c.remote_id == id).map(Arc::new))
    }
}

#[Object(name = "Score")]
impl ScoreNode {
    /// Globally unique, stable id; `node(id:)` finds the review in the (cached) list of
    /// reviews, as neither Gong nor ExecVision looks one up by id.
    pub(crate) async fn id(&self) -> ID {
        id::encode(Kind::Score, &self.connection, &self.s.remote_id)
    }
    /// The provider's id of the review.
    async fn remote_id(&self) -> &str {
        &self.s.remote_id
    }
    /// The connection.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.connection)
    }
    /// The provider.
    async fn provider(&self) -> ProviderKind {
        self.provider
    }
    /// The scorecard template used.
    async fn scorecard(&self, ctx: &Context<'_>) -> Result<Option<ScorecardNode>> {
        Ok(self.template(ctx).await?.map(|s| ScorecardNode {
            connection: self.connection.clone(),
            provider: self.provider,
            s,
        }))
    }
    /// The scorecard's name.
    async fn scorecard_name(&self) -> Option<&str> {
        self.s.scorecard_name.as_deref()
    }
    /// The reviewed call.
    async fn call(&self, ctx: &Context<'_>) -> Result<Option<CallNode>> {
        match &self.s.call_remote_id {
            Some(c) => CallNode::load(ctx, &self.connection, c).await,
            None => Ok(None),
        }
    }
    /// When the reviewed call started.
    async fn call_started_at(&self) -> Option<DateTime<Utc>> {
        self.s.call_started_at
    }
    /// The user whose call was reviewed.
    async fn reviewee(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.person(ctx, &self.s.reviewed_user_remote_id, &self.s.reviewed_user_email).await
    }
    /// The user who reviewed.
    async fn reviewer(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.person(ctx, &self.s.reviewer_user_remote_id, &self.s.reviewer_email).await
    }
    /// When the review was made.
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.s.reviewed_at
    }
    /// Who may see the review (Gong: `PUBLIC`, `PRIVATE`, `OPT_IN_USERS`).
    async fn visibility(&self) -> Option<&str> {
        self.s.visibility.as_deref()
    }
    /// The overall question's score, as given.
    async fn overall_score(&self) -> Option<f64> {
        self.s.answers.iter().find(|a| a.is_overall).and_then(|a| a.score)
    }
    /// The overall score as a percentage: the provider's own (ExecVision: the mean of the
    /// answers under their scoring schemes), else the overall question's score within
    /// its range (Gong, from the template).
    async fn percentage(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        if let Some(p) = self.s.percentage {
            return Ok(Some(p));
        }
        let Some(answer) = self.s.answers.iter().find(|a| a.is_overall) else {
            return Ok(None);
        };
        let template = self.template(ctx).await?;
        let question =
            template.as_ref().and_then(|t| t.questions.iter().find(|q| q.remote_id == answer.question_remote_id));
        Ok(percent(answer.score, question))
    }
    /// Every answer.
    async fn answers(&self, ctx: &Context<'_>) -> Result<Vec<ScoreAnswer>> {
        let template = self.template(ctx).await?;
        Ok(self
            .s
            .answers
            .iter()
            .map(|a| {
                let q =
                    template.as_ref().and_then(|t| t.questions.iter().find(|q| q.remote_id == a.question_remote_id));
                ScoreAnswer {
                    question_id: a.question_remote_id.clone(),
                    question: a.question_text.clone().or_else(|| q.map(|q| q.text.clone())),
                    is_overall: a.is_overall,
                    score: a.score,
                    percentage: a.percentage.or_else(|| percent(a.score, q)),
                    skills: a.skills.clone(),
                    scheme: a.scheme.clone(),
                    reason: a.reason.clone(),
                    comment: a.comment.clone(),
                    text: a.text.clone(),
                    not_applicable: a.not_applicable,
                    selected_options: a.selected_options.clone(),
                }
            })
            .collect())
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.s.raw).clone())
    }
}

fn percent(score: Option<f64>, q: Option<&domain::ScorecardQuestion>) -> Option<f64> {
    let (score, q) = (score?, q?);
    let (min, max) = (q.min?, q.max?);
    (max > min).then(|| ((score - min) / (max - min) * 100.0).clamp(0.0, 100.0))
}

/// The answer to one scorecard question.
#[derive(Clone, Debug, SimpleObject)]
pub struct ScoreAnswer {
    /// The provider's question id.
    pub question_id: String,
    /// The question text (from the scorecard template).
    pub question: Option<String>,
    /// Whether this is the overall question.
    pub is_overall: bool,
    /// The score given.
    pub score: Option<f64>,
    /// The score as a percentage of the question's range.
    pub percentage: Option<f64>,
    /// A free-text answer.
    pub text: Option<String>,
    /// Marked not applicable.
    pub not_applicable: bool,
    /// Chosen options of a choice question.
    pub selected_options: Vec<String>,
    /// Skills the question trains (ExecVision).
    pub skills: Vec<String>,
    /// The scoring scheme (ExecVision: `OneToFive`, `OneToThree`, `OneTwo`, `YesNo`, `PassFail`).
    pub scheme: Option<String>,
    /// Why this score was given.
    pub reason: Option<String>,
    /// The reviewer's comment.
    pub comment: Option<String>,
}

/// A scorecard template.
#[derive(Clone, Debug)]
pub struct ScorecardNode {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
    pub(crate) s: Arc<Scorecard>,
}

#[Object(name = "Scorecard")]
impl ScorecardNode {
    /// Globally unique, stable id.
    pub(crate) async fn id(&self) -> ID {
        id::encode(Kind::Scorecard, &self.connection, &self.s.remote_id)
    }
    /// The provider's id.
    async fn remote_id(&self) -> &str {
        &self.s.remote_id
    }
    /// The provider.
    async fn provider(&self) -> ProviderKind {
        self.provider
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.s.name
    }
    /// Whether reviewers can use it.
    async fn enabled(&self) -> Option<bool> {
        self.s.enabled
    }
    /// Created.
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.s.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.s.updated_at
    }
    /// The questions.
    async fn questions(&self) -> Vec<ScorecardQuestion> {
        self.s
            .questions
            .iter()
            .map(|q| ScorecardQuestion {
                id: q.remote_id.clone(),
                text: q.text.clone(),
                is_overall: q.is_overall,
                kind: q.kind.clone(),
                min_score: q.min,
                max_score: q.max,
                options: q.options.clone(),
            })
            .collect()
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.s.raw).clone())
    }
}

/// A question of a scorecard template.
#[derive(Clone, Debug, SimpleObject)]
pub struct ScorecardQuestion {
    /// The provider's question id.
    pub id: String,
    /// The question.
    pub text: String,
    /// Whether this is the overall question.
    pub is_overall: bool,
    /// Question type as the provider names it.
    pub kind: Option<String>,
    /// Lowest score of a scale question.
    pub min_score: Option<f64>,
    /// Highest score of a scale question.
    pub max_score: Option<f64>,
    /// Options of a choice question.
    pub options: Vec<String>,
}

/// Coaching metrics of one manager's team (Gong coaching).
#[derive(Clone, Debug, SimpleObject)]
pub struct Coaching {
    /// Stable id (connection, manager and time range); `node(id:)` re-reads it (cached).
    #[graphql(owned)]
    pub id: ID,
    /// The manager.
    pub manager: CoachingPerson,
    /// Metrics per direct report.
    pub direct_reports: Vec<CoachingReport>,
    /// The provider's own record, unchanged.
    pub remote_data: Json<serde_json::Value>,
}

/// A person in coaching data.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct CoachingPerson {
    #[graphql(skip)]
    pub connection: Arc<str>,
    /// The provider's user id.
    pub remote_id: String,
    /// Email.
    pub email: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
}

#[ComplexObject]
impl CoachingPerson {
    /// The provider user.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        UserNode::load(ctx, &self.connection, &self.remote_id).await
    }
}

/// Metrics for one direct report.
#[derive(Clone, Debug, SimpleObject)]
pub struct CoachingReport {
    /// The report.
    pub report: CoachingPerson,
    /// Metric name and its values, as the provider reports them.
    pub metrics: Vec<CoachingMetric>,
}

/// A coaching metric.
#[derive(Clone, Debug, SimpleObject)]
pub struct CoachingMetric {
    /// The provider's metric name.
    pub name: String,
    /// Its values.
    pub values: Vec<String>,
}

impl Coaching {
    /// The remote part of the id: manager and range.
    pub(crate) fn key(manager: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        format!("{manager}|{}|{}", iso(from), iso(to))
    }

    /// The parts of [`Self::key`].
    pub(crate) fn parse_key(key: &str) -> Option<(String, DateTime<Utc>, DateTime<Utc>)> {
        let mut parts = key.rsplitn(3, '|');
        let to = DateTime::parse_from_rfc3339(parts.next()?).ok()?.with_timezone(&Utc);
        let from = DateTime::parse_from_rfc3339(parts.next()?).ok()?.with_timezone(&Utc);
        Some((parts.next()?.to_owned(), from, to))
    }

    pub(crate) fn from_domain(connection: &Arc<str>, query: &CoachingQuery, c: domain::Coaching) -> Self {
        let person = |p: domain::CoachingPerson| CoachingPerson {
            connection: connection.clone(),
            name: match (&p.first_name, &p.last_name) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (f, l) => f.clone().or_else(|| l.clone()),
            },
            remote_id: p.remote_id,
            email: p.email,
            title: p.title,
        };
        Self {
            id: id::encode(Kind::Coaching, connection, &Self::key(&c.manager.remote_id, query.from, query.to)),
            manager: person(c.manager),
            direct_reports: c
                .reports
                .into_iter()
                .map(|r| CoachingReport {
                    report: person(r.report),
                    metrics: r.metrics.into_iter().map(|(name, values)| CoachingMetric { name, values }).collect(),
                })
                .collect(),
            remote_data: Json((*c.raw).clone()),
        }
    }
}
