//! Relay connections over provider pages, in one helper.
//!
//! A cursor names a position in one list of one connection: the connection id, a
//! fingerprint of the list's filter, the provider page (number and the provider's
//! own page token) and the offset in that page. It is serialised, MAC'd with the
//! server's key (HMAC-SHA256, truncated to 128 bits) and base64url-encoded, so an
//! edited cursor, or one from another list or connection, is a `BAD_CURSOR` error.
//!
//! Pages are fetched through the provider (whose results are cached), so paging with
//! a `first` smaller than the provider's page size re-reads a cached page instead of
//! calling the provider again. Backward paging finds earlier pages' tokens in a
//! page-token map kept per list; when a token has been evicted the list is re-walked
//! from its start.

use std::{future::Future, sync::Arc, time::Duration};

use async_graphql::{
    OutputType, SimpleObject,
    connection::{Connection, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    accounting,
    domain::Page,
    error::{AppError, AppResult},
    providers::{
        Provider, ProviderError, ProviderErrorKind, ProviderKind,
        paging::{self, Keyed, hash64},
    },
};

const MAC_LEN: usize = 16;

#[doc(hidden)]
pub mod fuzzing;

/// Signs and verifies cursors.
#[derive(Clone)]
pub struct CursorCodec {
    key: Arc<[u8]>,
    tokens: moka::sync::Cache<(Arc<str>, String, u32), Option<String>>,
    /// What each page held (a hash of its records' keys), to tell a page repeated.
    digests: moka::sync::Cache<(Arc<str>, String, u32), u64>,
}

/// How many earlier pages a page token is compared with.
const LOOP_LOOKBACK: u32 = 64;

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec([REDACTED])")
    }
}

/// Position of one edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// Connection id.
    c: Arc<str>,
    /// List fingerprint.
    l: String,
    /// Page number, from 0.
    p: u32,
    /// Provider page token (`None` for the first page).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    t: Option<String>,
    /// Offset in the page.
    i: u32,
}

impl CursorCodec {
    /// A codec with this key.
    pub fn new(key: &[u8]) -> Self {
        let idle = Duration::from_secs(30 * 60);
        Self {
            key: Arc::from(key),
            tokens: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(idle).build(),
            digests: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(idle).build(),
        }
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(data);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    fn encode(&self, pos: &Position) -> String {
        let body = serde_json::to_vec(pos).expect("positions serialise");
        let mut bytes = body.clone();
        bytes.extend_from_slice(&self.mac(&body));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn decode(&self, cursor: &str, list: &ListId) -> AppResult<Position> {
        let body = self.verified(cursor)?;
        let pos: Position =
            serde_json::from_slice(&body).map_err(|_| AppError::BadCursor("not a cursor of this server"))?;
        if pos.c != list.connection || pos.l != list.fingerprint {
            return Err(AppError::BadCursor("the cursor belongs to another list; repeat the same arguments"));
        }
        Ok(pos)
    }

    /// Seals any position `data` of `list` into a cursor.
    pub(crate) fn seal<T: Serialize>(&self, list: &ListId, data: &T) -> String {
        let body = serde_json::to_vec(&Sealed { c: list.connection.clone(), l: list.fingerprint.clone(), d: data })
            .expect("positions serialise");
        let mut bytes = body.clone();
        bytes.extend_from_slice(&self.mac(&body));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Opens a cursor sealed by [`Self::seal`] for `list`, or `BAD_CURSOR`.
    pub(crate) fn open<T: serde::de::DeserializeOwned>(&self, cursor: &str, list: &ListId) -> AppResult<T> {
        let body = self.verified(cursor)?;
        let sealed: Sealed<T> =
            serde_json::from_slice(&body).map_err(|_| AppError::BadCursor("not a cursor of this list"))?;
        if sealed.c != list.connection || sealed.l != list.fingerprint {
            return Err(AppError::BadCursor("the cursor belongs to another list; repeat the same arguments"));
        }
        Ok(sealed.d)
    }

    /// The body of a cursor whose MAC checks out.
    fn verified(&self, cursor: &str) -> AppResult<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| AppError::BadCursor("not a cursor of this server"))?;
        if bytes.len() <= MAC_LEN {
            return Err(AppError::BadCursor("not a cursor of this server"));
        }
        let (body, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let mut verifier = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        verifier.update(body);
        verifier
            .verify_truncated_left(mac)
            .map_err(|_| AppError::BadCursor("the cursor was altered or was issued by another server"))?;
        Ok(body.to_vec())
    }

    fn remember(&self, list: &ListId, page: u32, token: Option<String>) {
        self.tokens.insert((list.connection.clone(), list.fingerprint.clone(), page), token);
    }

    fn remember_digest(&self, list: &ListId, page: u32, digest: u64) {
        self.digests.insert((list.connection.clone(), list.fingerprint.clone(), page), digest);
    }

    fn digest_of(&self, list: &ListId, page: u32) -> Option<u64> {
        self.digests.get(&(list.connection.clone(), list.fingerprint.clone(), page))
    }

    /// Why the walk of `list` must not go on from page `page` to the page `next`
    /// names: the token came back (it names this page or one of the last
    /// [`LOOP_LOOKBACK`] before it, as remembered), or the walk is at `max_pages`.
    /// Pages are remembered across requests (with their records' digests, so a page
    /// that repeats the one before is caught by the caller), so a client paging on
    /// with cursors is stopped too.
    fn loop_at(&self, list: &ListId, page: u32, next: &str, max_pages: u32) -> Option<ProviderErrorKind> {
        let back = page.saturating_sub(LOOP_LOOKBACK);
        if (back..=page).any(|q| self.token_of(list, q).flatten().as_deref() == Some(next)) {
            return Some(ProviderErrorKind::PagingLoop(format!("a page token came back after page {}", page + 1)));
        }
        (page + 1 >= max_pages).then_some(ProviderErrorKind::PageLimit(max_pages))
    }

    fn token_of(&self, list: &ListId, page: u32) -> Option<Option<String>> {
        if page == 0 {
            return Some(None);
        }
        self.tokens.get(&(list.connection.clone(), list.fingerprint.clone(), page))
    }
}

/// A sealed position: the list it belongs to and the data.
#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    c: Arc<str>,
    l: String,
    d: T,
}

/// Checks `first`/`last` and the cursor arguments of a connection field: the page
/// size (`first` or `last`, else the default) and whether it pages backward.
pub(crate) fn page_size(max_page_size: usize, args: &PageArgs) -> AppResult<(usize, bool)> {
    let limit = |n: Option<i32>, name: &str| -> AppResult<Option<usize>> {
        match n {
            None => Ok(None),
            Some(n) if n < 0 => Err(AppError::bad_input(format!("`{name}` must not be negative"))),
            Some(n) if n as usize > max_page_size => {
                Err(AppError::bad_input(format!("`{name}` may be at most {max_page_size}")))
            }
            Some(n) => Ok(Some(n as usize)),
        }
    };
    let first = limit(args.first, "first")?;
    let last = limit(args.last, "last")?;
    if first.is_some() && last.is_some() {
        return Err(AppError::bad_input("give `first` or `last`, not both"));
    }
    if args.after.is_some() && args.before.is_some() {
        return Err(AppError::bad_input("give `after` or `before`, not both"));
    }
    let backward = last.is_some() || args.before.is_some();
    Ok((first.or(last).unwrap_or(max_page_size.min(25)), backward))
}

/// Identifies one list: a connection and the fingerprint of its arguments.
#[derive(Debug, Clone)]
pub struct ListId {
    pub connection: Arc<str>,
    pub fingerprint: String,
    /// The provider whose pages the list walks (set for lists of provider pages).
    pub provider: Option<ProviderKind>,
}

impl ListId {
    /// The list of `what` on `connection`, filtered by `args` (any serialisable value).
    pub fn new(connection: &Arc<str>, what: &str, args: &impl Serialize) -> Self {
        let json = serde_json::to_vec(args).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(what.as_bytes());
        hasher.update([0]);
        hasher.update(&json);
        let digest = hasher.finalize();
        Self { connection: connection.clone(), fingerprint: URL_SAFE_NO_PAD.encode(&digest[..12]), provider: None }
    }

    /// The list of `what` of `provider`'s pages, filtered by `args`.
    pub fn of(provider: &dyn Provider, what: &str, args: &impl Serialize) -> Self {
        Self { provider: Some(provider.kind()), ..Self::new(provider.connection_id(), what, args) }
    }
}

/// `first`/`after`/`last`/`before`.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Extra fields on every connection.
#[derive(Debug, Clone, SimpleObject)]
pub struct ListInfo {
    /// Number of items in the whole list, when the provider reports it.
    pub total_count: Option<u64>,
}

/// A Relay connection of `T`.
pub type List<T> = Connection<String, T, ListInfo>;

/// [`paginate`] over a list already held whole (one page, no provider token):
/// `total` is its length, or `None` when it may be incomplete (a source failed).
pub async fn paginate_held<R, T>(
    codec: &CursorCodec,
    max_page_size: usize,
    list: &ListId,
    args: PageArgs,
    items: Vec<R>,
    total: Option<u64>,
    map: impl Fn(R) -> T,
) -> AppResult<List<T>>
where
    R: Clone,
    T: OutputType,
{
    let page = Page { items, next: None, total };
    let fetch = |_| {
        let page = page.clone();
        async move { Ok(page) }
    };
    paginate_with(codec, max_page_size, list, args, fetch, map, None).await
}

/// [`paginate`] over a fetch whose one page never points on (a whole provider
/// result): nothing to guard.
pub async fn paginate_once<R, T, F, Fut>(
    codec: &CursorCodec,
    max_page_size: usize,
    list: &ListId,
    args: PageArgs,
    fetch: F,
    map: impl Fn(R) -> T,
) -> AppResult<List<T>>
where
    R: Clone,
    T: OutputType,
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<R>, ProviderError>>,
{
    paginate_with(codec, max_page_size, list, args, fetch, map, None).await
}

/// The hash of a page's records' keys, in order.
fn digest<R: Keyed>(items: &[R]) -> u64 {
    hash64(&items.iter().map(Keyed::key_hash).collect::<Vec<_>>())
}

/// Builds a Relay connection over a provider's pages.
///
/// `fetch(token)` returns the page for a provider page token (`None` = first page).
/// `map` turns each provider record into its GraphQL node. A provider that sends
/// the walk in a circle (a page token that comes back, a page that repeats the one
/// before), within a request or across cursors, ends the list there: the edges read
/// are answered, `hasNextPage` is false, and an `UPSTREAM_PAGING_LOOP` error says
/// why; so does `UPSTREAM_PAGE_LIMIT` at `limits.max_pages_per_walk`.
pub async fn paginate<R, T, F, Fut>(
    codec: &CursorCodec,
    max_page_size: usize,
    list: &ListId,
    args: PageArgs,
    fetch: F,
    map: impl Fn(R) -> T,
) -> AppResult<List<T>>
where
    R: Clone + Keyed,
    T: OutputType,
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<R>, ProviderError>>,
{
    paginate_with(codec, max_page_size, list, args, fetch, map, Some(digest::<R>)).await
}

async fn paginate_with<R, T, F, Fut>(
    codec: &CursorCodec,
    max_page_size: usize,
    list: &ListId,
    args: PageArgs,
    fetch: F,
    map: impl Fn(R) -> T,
    guard: Option<fn(&[R]) -> u64>,
) -> AppResult<List<T>>
where
    R: Clone,
    T: OutputType,
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<R>, ProviderError>>,
{
    let limit = |n: Option<i32>, name: &str| -> AppResult<Option<usize>> {
        match n {
            None => Ok(None),
            Some(n) if n < 0 => Err(AppError::bad_input(format!("`{name}` must not be negative"))),
            Some(n) if n as usize > max_page_size => {
                Err(AppError::bad_input(format!("`{name}` may be at most {max_page_size}")))
            }
            Some(n) => Ok(Some(n as usize)),
        }
    };
    let first = limit(args.first, "first")?;
    let last = limit(args.last, "last")?;
    if first.is_some() && last.is_some() {
        return Err(AppError::bad_input("give `first` or `last`, not both"));
    }
    if args.after.is_some() && args.before.is_some() {
        return Err(AppError::bad_input("give `after` or `before`, not both"));
    }
    let after = args.after.as_deref().map(|c| codec.decode(c, list)).transpose()?;
    let before = args.before.as_deref().map(|c| codec.decode(c, list)).transpose()?;

    let backward = last.is_some() || before.is_some();
    let mut edges: Vec<(Position, R)> = Vec::new();
    let mut total = None;
    let (has_prev, has_next);

    let max_pages = accounting::limits().max_pages_per_walk;
    let load = |page: u32, token: Option<String>| {
        let fut = fetch(token.clone());
        async move {
            let mut p = fut.await?;
            codec.remember(list, page, token);
            if let (Some(digest), Some(provider)) = (guard, list.provider) {
                let d = digest(&p.items);
                let repeat = page > 0 && !p.items.is_empty() && codec.digest_of(list, page - 1) == Some(d);
                codec.remember_digest(list, page, d);
                let stop = if repeat {
                    // The page before again: nothing new to answer (a client paging on
                    // with cursors must not see those records twice).
                    p.items.clear();
                    Some(ProviderErrorKind::PagingLoop(format!(
                        "page {} brought the same records as page {page}",
                        page + 1
                    )))
                } else {
                    p.next.as_deref().and_then(|next| codec.loop_at(list, page, next, max_pages))
                };
                if let Some(kind) = stop {
                    paging::ended(ProviderError::new(provider, &list.connection, kind));
                    p.next = None;
                }
            }
            if let Some(next) = &p.next {
                codec.remember(list, page + 1, Some(next.clone()));
            }
            Ok::<_, ProviderError>(p)
        }
    };

    if !backward {
        let want = first.unwrap_or(max_page_size.min(25));
        let (mut page_no, mut token, mut offset) = match &after {
            Some(p) => (p.p, p.t.clone(), p.i as usize + 1),
            None => (0, None, 0),
        };
        has_prev = after.is_some();
        loop {
            let page = load(page_no, token.clone()).await?;
            total = page.total.or(total);
            let mut idx = offset;
            while edges.len() < want && idx < page.items.len() {
                edges.push((pos(list, page_no, &token, idx), page.items[idx].clone()));
                idx += 1;
            }
            if edges.len() == want || want == 0 {
                has_next = idx < page.items.len() || page.next.is_some();
                break;
            }
            match page.next {
                Some(next) => {
                    page_no += 1;
                    token = Some(next);
                    offset = 0;
                }
                None => {
                    has_next = false;
                    break;
                }
            }
        }
    } else {
        let want = last.unwrap_or(max_page_size.min(25));
        has_next = before.is_some();
        // Where to stop (exclusive): the `before` position, or the end of the list.
        let (mut page_no, mut token, mut end) = match &before {
            Some(p) => (p.p, p.t.clone(), Some(p.i as usize)),
            None => {
                let (mut n, mut t) = (0u32, None);
                loop {
                    let page = load(n, t.clone()).await?;
                    total = page.total.or(total);
                    match page.next {
                        Some(next) => {
                            n += 1;
                            t = Some(next);
                        }
                        None => break (n, t, None),
                    }
                }
            }
        };
        let mut collected: Vec<(Position, R)> = Vec::new();
        loop {
            let page = load(page_no, token.clone()).await?;
            total = page.total.or(total);
            let mut idx = end.unwrap_or(page.items.len()).min(page.items.len());
            while collected.len() < want && idx > 0 {
                idx -= 1;
                collected.push((pos(list, page_no, &token, idx), page.items[idx].clone()));
            }
            if collected.len() == want || want == 0 || page_no == 0 {
                has_prev = idx > 0 || page_no > 0;
                break;
            }
            page_no -= 1;
            token = match codec.token_of(list, page_no) {
                Some(t) => t,
                None => rewalk(page_no, &load).await?,
            };
            end = None;
        }
        collected.reverse();
        edges = collected;
    }

    let mut conn = Connection::with_additional_fields(has_prev, has_next, ListInfo { total_count: total });
    conn.edges.extend(edges.into_iter().map(|(p, r)| Edge::new(codec.encode(&p), map(r))));
    Ok(conn)
}

fn pos(list: &ListId, page: u32, token: &Option<String>, idx: usize) -> Position {
    Position { c: list.connection.clone(), l: list.fingerprint.clone(), p: page, t: token.clone(), i: idx as u32 }
}

/// Walks from the first page to find the token of `target` (evicted from the map).
async fn rewalk<R, L, Fut>(target: u32, load: &L) -> AppResult<Option<String>>
where
    L: Fn(u32, Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<R>, ProviderError>>,
{
    let mut token = None;
    for n in 0..target {
        let page = load(n, token).await?;
        token = Some(page.next.ok_or(AppError::BadCursor("the list changed since the cursor was issued"))?);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ListId {
        ListId::new(&Arc::from("gong-demo"), "calls", &serde_json::json!({"a": 1}))
    }

    #[test]
    fn cursor_round_trips() {
        let codec = CursorCodec::new(b"k");
        let p = pos(&list(), 3, &Some("tok".into()), 7);
        assert_eq!(codec.decode(&codec.encode(&p), &list()).unwrap(), p);
    }

    #[test]
    fn edited_cursor_is_rejected() {
        let codec = CursorCodec::new(b"k");
        let mut bytes = URL_SAFE_NO_PAD.decode(codec.encode(&pos(&list(), 0, &None, 1))).unwrap();
        let i = bytes.iter().position(|b| *b == b'1').unwrap();
        bytes[i] = b'9';
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        assert!(matches!(codec.decode(&forged, &list()), Err(AppError::BadCursor(_))));
    }

    #[test]
    fn cursor_of_another_key_or_list_is_rejected() {
        let a = CursorCodec::new(b"k1");
        let b = CursorCodec::new(b"k2");
        let c = a.encode(&pos(&list(), 0, &None, 0));
        assert!(matches!(b.decode(&c, &list()), Err(AppError::BadCursor(_))));
        let other = ListId::new(&Arc::from("gong-demo"), "calls", &serde_json::json!({"a": 2}));
        assert!(matches!(a.decode(&c, &other), Err(AppError::BadCursor(_))));
        assert!(matches!(a.decode("!!", &list()), Err(AppError::BadCursor(_))));
        assert!(matches!(a.decode("", &list()), Err(AppError::BadCursor(_))));
    }
}
