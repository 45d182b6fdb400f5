//! People in a request: accounts joined into persons (see [`crate::people`]) over the
//! connections this request may read.

use std::sync::{Arc, atomic::Ordering};

use async_graphql::{Context, ID};
use futures::future::join_all;

use super::{
    id::{self, Kind},
    loaders, provider, rank, readable, report, state,
    users::find_by_email,
};
use crate::{
    domain::User,
    error::{AppError, AppResult},
    federation::entities,
    loaders::{EntityPage, RemoteKey, load_for},
    people::{Account, Index, Person, Scope},
};

/// How this request joins people: decided (and, when joining, the index fetched)
/// once per request.
pub(crate) async fn scope<'a>(ctx: &Context<'a>) -> AppResult<&'a Scope> {
    let loaders = loaders(ctx)?;
    Ok(loaders
        .people
        .get_or_init(|| async {
            let connections: Vec<_> = readable(ctx)
                .filter(|p| p.capabilities().users)
                .map(|p| (rank(ctx, p.connection_id()), p.clone()))
                .collect();
            if connections.len() <= 1 {
                Scope::Single
            } else {
                let mut connections = connections;
                connections.sort_by_key(|(r, p)| (*r, p.connection_id().clone()));
                Scope::Joined(state(ctx).directory.index(&connections).await)
            }
        })
        .await)
}

/// The joined index, reporting (once per request) connections missing from it.
async fn index<'a>(ctx: &Context<'a>) -> AppResult<Option<&'a Arc<Index>>> {
    match scope(ctx).await? {
        Scope::Single => Ok(None),
        Scope::Joined(index) => Ok(Some(index)),
    }
}

/// Reports, once per request, the connections whose accounts could not be joined.
pub(crate) async fn report_missing(ctx: &Context<'_>) -> AppResult<()> {
    if let Some(index) = index(ctx).await?
        && !index.missing.is_empty()
        && !loaders(ctx)?.people_reported.swap(true, Ordering::SeqCst)
    {
        for e in &index.missing {
            report(ctx, e.clone());
        }
    }
    Ok(())
}

fn account(ctx: &Context<'_>, connection: &Arc<str>, user: Arc<User>) -> AppResult<Account> {
    let p = provider(ctx, connection)?;
    Ok(Account { connection: connection.clone(), provider: p.kind(), rank: rank(ctx, connection), user })
}

/// The person of a provider record already at hand (a list's item).
pub(crate) async fn person_of(ctx: &Context<'_>, connection: &Arc<str>, user: Arc<User>) -> AppResult<Arc<Person>> {
    let index = index(ctx).await?;
    if let Some(p) = index.and_then(|i| i.by_account(connection, &user.remote_id)) {
        return Ok(p.clone());
    }
    let account = account(ctx, connection, user)?;
    Ok(match index {
        Some(i) => i.place(account),
        None => Arc::new(Person::new(vec![account])),
    })
}

/// The person of the account `remote_id` at `connection` (looked up through the
/// request's users loader when the join does not have it).
pub(crate) async fn person(
    ctx: &Context<'_>,
    connection: &Arc<str>,
    remote_id: &str,
) -> AppResult<Option<Arc<Person>>> {
    person_among(ctx, connection, remote_id, []).await
}

/// [`person`], with the accounts the other records of the same page will ask for
/// (`siblings`): without a joined index, they are loaded in one batch with it.
pub(crate) async fn person_among(
    ctx: &Context<'_>,
    connection: &Arc<str>,
    remote_id: &str,
    siblings: impl IntoIterator<Item = RemoteKey>,
) -> AppResult<Option<Arc<Person>>> {
    provider(ctx, connection)?;
    let index = index(ctx).await?;
    if let Some(p) = index.and_then(|i| i.by_account(connection, remote_id)) {
        return Ok(Some(p.clone()));
    }
    let wanted = RemoteKey { connection: connection.clone(), remote_id: remote_id.to_owned() };
    let Some(user) = load_for(ctx, &loaders(ctx)?.users, wanted, siblings).await? else {
        return Ok(None);
    };
    Ok(Some(person_of(ctx, connection, user).await?))
}

/// The person a global `User` id names (any of their accounts' ids).
pub(crate) async fn person_by_id(ctx: &Context<'_>, id: &ID) -> AppResult<Option<Arc<Person>>> {
    let g = id::decode_kind(id, Kind::User)?;
    person(ctx, &g.connection, &g.remote_id).await
}

/// Checks an address argument.
pub(crate) fn check_email(email: &str) -> AppResult<&str> {
    let email = email.trim();
    if email.is_empty() || !email.contains('@') {
        return Err(AppError::bad_input(format!("'{email}' is not an email address")));
    }
    Ok(email)
}

/// The person with this address or alias (any case), across every readable connection.
pub(crate) async fn person_by_email(ctx: &Context<'_>, email: &str) -> AppResult<Option<Arc<Person>>> {
    let email = check_email(email)?;
    if let Some(index) = index(ctx).await? {
        return Ok(index.by_email(email).cloned());
    }
    let mut failure = None;
    for p in readable(ctx).filter(|p| p.capabilities().users) {
        match find_by_email(p, email).await {
            Ok(Some(u)) => return Ok(Some(person_of(ctx, p.connection_id(), Arc::new(u)).await?)),
            Ok(None) => {}
            Err(e) => failure = Some(e),
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// The person a provider names by address within one connection's records (e.g. an
/// ExecVision score's reviewer).
pub(crate) async fn person_by_email_at(
    ctx: &Context<'_>,
    connection: &Arc<str>,
    email: &str,
) -> AppResult<Option<Arc<Person>>> {
    if let Some(index) = index(ctx).await? {
        return Ok(index.by_email(email).cloned());
    }
    let p = provider(ctx, connection)?;
    match find_by_email(p, email).await? {
        Some(u) => Ok(Some(person_of(ctx, connection, Arc::new(u)).await?)),
        None => Ok(None),
    }
}

/// The persons named by `User` ids and by addresses (for filters). Ids and
/// addresses that name nobody name nobody (they narrow a list to nothing).
pub(crate) async fn persons(ctx: &Context<'_>, ids: &[ID], emails: &[String]) -> AppResult<Vec<Arc<Person>>> {
    let mut out = Vec::new();
    for i in ids {
        out.extend(person_by_id(ctx, i).await?);
    }
    for e in emails {
        out.extend(person_by_email(ctx, e).await?);
    }
    Ok(out)
}

/// The people of the `User` representations (by `id` and by `email`) of the
/// `_entities` field `ctx` resolves, found once per field: the page its `User`
/// entities are listed in, so their per-person lists ask each provider once for all
/// of them, as a `users` page does. Representations that name nobody, or whose lookup
/// fails, are left out (their own slot reports it). `None` when they name fewer than
/// two people.
pub(crate) async fn entity_page(ctx: &Context<'_>) -> AppResult<EntityPage> {
    let cell = {
        let mut pages = loaders(ctx)?.entity_people.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pages.entry(ctx.item.pos).or_default().clone()
    };
    Ok(cell
        .get_or_init(|| async {
            // The keys the entity resolvers try, in their order.
            let lookups = entities::keys_of(ctx, "User", &["id", "email"]).into_iter().map(|(key, value)| async move {
                let found = match key {
                    "id" => person_by_id(ctx, &ID(value)).await,
                    _ => person_by_email(ctx, &value).await,
                };
                found.ok().flatten()
            });
            let mut page: Vec<Arc<Person>> = Vec::new();
            for person in join_all(lookups).await.into_iter().flatten() {
                if !page.iter().any(|p| same_person(p, &person)) {
                    page.push(person);
                }
            }
            (page.len() > 1).then(|| page.into())
        })
        .await
        .clone())
}

/// Whether two persons are the same (their anchor accounts are).
pub(crate) fn same_person(a: &Person, b: &Person) -> bool {
    let (a, b) = (a.anchor(), b.anchor());
    a.connection == b.connection && a.user.remote_id == b.user.remote_id
}

/// The remote ids of `persons`' accounts at `connection`.
pub(crate) fn remote_ids_at(persons: &[Arc<Person>], connection: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        persons.iter().flat_map(|p| p.at(connection).map(|a| a.user.remote_id.clone())).collect();
    ids.sort();
    ids.dedup();
    ids
}
