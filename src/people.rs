//! People: provider accounts joined into persons by email.
//!
//! A person is a set of accounts (one or more per connection) linked by sharing an
//! address: a primary address or an alias (Gong `emailAliases`, or any other address
//! a provider lists for the account), compared without regard to case. The join is
//! transitive: if an account at one provider lists `a` and `b`, and accounts at two
//! others are `a` and `b`, all three are one person.
//!
//! A person's accounts are ordered by their connection's place in the configuration
//! (then by remote id); the first is the person's *anchor*, whose global id is the
//! person's id. Every account's id resolves to its person, so ids issued for one
//! account keep working when accounts are joined.
//!
//! Joining needs every account of every connection the request may read: the
//! [`Directory`] keeps each connection's users list (read whole through the provider,
//! whose pages are cached) for the users TTL, and keeps the last good list when a
//! refresh fails (retrying after [`RETRY_AFTER_FAILURE`]), so one provider's outage
//! neither slows every request nor splits people apart. Joined indexes are cached per
//! set of connections and rebuilt when one of their lists changes.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::future::join_all;

use crate::{
    accounting::{self, Note},
    domain::User,
    providers::{Provider, ProviderError, ProviderKind, all_pages},
};

/// How long a failed users list is not asked again (the last good list is used).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// One provider account of a person.
#[derive(Debug, Clone)]
pub struct Account {
    pub connection: Arc<str>,
    pub provider: ProviderKind,
    /// The connection's place in the configuration (orders a person's accounts).
    pub rank: usize,
    pub user: Arc<User>,
}

impl Account {
    fn addresses(&self) -> impl Iterator<Item = String> + '_ {
        self.user.email.iter().chain(&self.user.email_aliases).map(|e| normalize(e)).filter(|e| !e.is_empty())
    }
}

/// An address as compared for joins.
pub fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

/// One person: every account behind them, the anchor first.
#[derive(Debug, Clone)]
pub struct Person {
    accounts: Vec<Account>,
}

impl Person {
    /// A person of these accounts (at least one), put in anchor order.
    pub fn new(mut accounts: Vec<Account>) -> Self {
        assert!(!accounts.is_empty(), "a person has an account");
        accounts.sort_by(|a, b| {
            (a.rank, &a.connection, &a.user.remote_id).cmp(&(b.rank, &b.connection, &b.user.remote_id))
        });
        accounts.dedup_by(|a, b| a.connection == b.connection && a.user.remote_id == b.user.remote_id);
        Self { accounts }
    }

    /// The account whose id is the person's id.
    pub fn anchor(&self) -> &Account {
        &self.accounts[0]
    }

    /// Every account, the anchor first.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The accounts at `connection`.
    pub fn at<'a>(&'a self, connection: &'a str) -> impl Iterator<Item = &'a Account> + 'a {
        self.accounts.iter().filter(move |a| &*a.connection == connection)
    }

    /// Every address of the person, the anchor's primary address first, each once
    /// (compared without case; the first spelling seen is kept).
    pub fn emails(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let primaries = self.accounts.iter().filter_map(|a| a.user.email.as_ref());
        let aliases = self.accounts.iter().flat_map(|a| a.user.email_aliases.iter());
        for e in primaries.chain(aliases) {
            let e = e.trim();
            if !e.is_empty() && seen.insert(normalize(e)) {
                out.push(e.to_owned());
            }
        }
        out
    }

    /// The first value the accounts have for `f`, in anchor order.
    pub fn first<'a, T: ?Sized>(&'a self, f: impl Fn(&'a User) -> Option<&'a T>) -> Option<&'a T> {
        self.accounts.iter().find_map(|a| f(&a.user))
    }

    /// Whether `email` is one of the person's addresses.
    pub fn has_email(&self, email: &str) -> bool {
        let email = normalize(email);
        self.accounts.iter().any(|a| a.addresses().any(|e| e == email))
    }

    /// This person with one more account.
    pub fn with(&self, account: Account) -> Self {
        let mut accounts = self.accounts.clone();
        accounts.push(account);
        Self::new(accounts)
    }
}

/// Every person of a set of connections.
#[derive(Debug, Default)]
pub struct Index {
    persons: Vec<Arc<Person>>,
    by_account: HashMap<(Arc<str>, String), usize>,
    by_email: HashMap<String, usize>,
    /// Connections whose users could not be read (and of which no earlier list is
    /// kept): their accounts are missing.
    pub missing: Vec<ProviderError>,
}

impl Index {
    /// Joins the accounts of `lists` (each a connection's accounts in the provider's
    /// order). Persons are listed in order of first appearance, connections taken in
    /// the order given.
    pub fn join(lists: Vec<Vec<Account>>) -> Self {
        let accounts: Vec<Account> = lists.into_iter().flatten().collect();
        // Union-find over accounts, linking each to the first account with a shared
        // address.
        let mut parent: Vec<usize> = (0..accounts.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut owner: HashMap<String, usize> = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            for e in a.addresses() {
                match owner.get(&e) {
                    Some(&j) => {
                        let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                        if ri != rj {
                            parent[ri.max(rj)] = ri.min(rj);
                        }
                    }
                    None => {
                        owner.insert(e, i);
                    }
                }
            }
        }
        let mut groups: Vec<Vec<Account>> = Vec::new();
        let mut group_of_root: HashMap<usize, usize> = HashMap::new();
        let mut group_of: Vec<usize> = Vec::with_capacity(accounts.len());
        for i in 0..accounts.len() {
            let r = root(&mut parent, i);
            let g = *group_of_root.entry(r).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            group_of.push(g);
        }
        for (i, a) in accounts.into_iter().enumerate() {
            groups[group_of[i]].push(a);
        }
        let mut index = Self::default();
        for (g, accounts) in groups.into_iter().enumerate() {
            let person = Person::new(accounts);
            for a in person.accounts() {
                index.by_account.insert((a.connection.clone(), a.user.remote_id.clone()), g);
                for e in a.addresses() {
                    index.by_email.entry(e).or_insert(g);
                }
            }
            index.persons.push(Arc::new(person));
        }
        index
    }

    /// The person of an account.
    pub fn by_account(&self, connection: &str, remote_id: &str) -> Option<&Arc<Person>> {
        self.by_account.get(&(Arc::from(connection), remote_id.to_owned())).map(|&i| &self.persons[i])
    }

    /// The person with this address or alias (any case).
    pub fn by_email(&self, email: &str) -> Option<&Arc<Person>> {
        self.by_email.get(&normalize(email)).map(|&i| &self.persons[i])
    }

    /// Every person, in order of first appearance.
    pub fn persons(&self) -> &[Arc<Person>] {
        &self.persons
    }

    /// The person of an account that is not in the index (say, an inactive user the
    /// provider does not list): joined to the person sharing an address, if any.
    pub fn place(&self, account: Account) -> Arc<Person> {
        let known = account.addresses().find_map(|e| self.by_email(&e).cloned());
        match known {
            Some(p) => Arc::new(p.with(account)),
            None => Arc::new(Person::new(vec![account])),
        }
    }
}

/// How one request sees people.
#[derive(Debug, Clone)]
pub enum Scope {
    /// At most one readable connection has users: a person is one account, and no
    /// users list is read to join anything.
    Single,
    /// Several do: persons come from their joined index.
    Joined(Arc<Index>),
}

/// One connection's users list, as last read.
#[derive(Debug, Default)]
struct Listing {
    users: Option<(Arc<Vec<User>>, Instant, u64)>,
    /// What the last read noted (a walk ended early: the list may lack people); such a
    /// list is read again after [`RETRY_AFTER_FAILURE`], and its notes go with every use.
    notes: Arc<[Note]>,
    failure: Option<(Instant, ProviderError)>,
}

/// The cross-request store of users lists and joined indexes.
#[derive(Debug)]
pub struct Directory {
    ttl: Duration,
    generation: std::sync::atomic::AtomicU64,
    listings: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<Listing>>>>,
    #[allow(clippy::type_complexity)]
    indexes: Mutex<HashMap<Vec<Arc<str>>, (Vec<u64>, Arc<Index>)>>,
}

impl Directory {
    /// A directory keeping users lists for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, generation: Default::default(), listings: Default::default(), indexes: Default::default() }
    }

    /// A connection's users: a fresh list, else the last good one, else the error.
    /// Concurrent callers for one connection share one read.
    async fn users(&self, provider: &Arc<dyn Provider>) -> Result<(Arc<Vec<User>>, u64), ProviderError> {
        let slot = {
            let mut map = self.listings.lock().expect("directory lock");
            map.entry(provider.connection_id().clone()).or_default().clone()
        };
        let mut listing = slot.lock().await;
        let ttl = if listing.notes.iter().any(|n| !n.sticky) { RETRY_AFTER_FAILURE } else { self.ttl };
        let fresh = listing.users.as_ref().is_some_and(|(_, at, _)| at.elapsed() < ttl);
        let resting = listing.failure.as_ref().is_some_and(|(at, _)| at.elapsed() < RETRY_AFTER_FAILURE);
        if !fresh && !resting {
            let (read, notes) =
                accounting::capture(all_pages(provider.as_ref(), "users", |page| provider.list_users(page))).await;
            listing.notes = notes.into();
            match read {
                Ok(users) => {
                    let generation = self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    listing.users = Some((Arc::new(users), Instant::now(), generation));
                    listing.failure = None;
                }
                Err(e) => {
                    tracing::warn!(connection = %provider.connection_id(), error = %e, "users list failed; joins use the last good list");
                    listing.failure = Some((Instant::now(), e));
                }
            }
        }
        accounting::emit(&listing.notes);
        match (&listing.users, &listing.failure) {
            (Some((users, _, generation)), _) => Ok((users.clone(), *generation)),
            (None, Some((_, e))) => Err(e.clone()),
            (None, None) => unreachable!("a listing is read before it is used"),
        }
    }

    /// The joined index of these connections (with their ranks).
    pub async fn index(&self, connections: &[(usize, Arc<dyn Provider>)]) -> Arc<Index> {
        let lists = join_all(connections.iter().map(|(_, p)| self.users(p))).await;
        let key: Vec<Arc<str>> = connections.iter().map(|(_, p)| p.connection_id().clone()).collect();
        let generations: Vec<u64> = lists.iter().map(|l| l.as_ref().map_or(0, |(_, g)| *g)).collect();
        if let Some((g, index)) = self.indexes.lock().expect("directory lock").get(&key)
            && *g == generations
        {
            return index.clone();
        }
        let mut missing = Vec::new();
        let mut accounts = Vec::new();
        for ((rank, p), list) in connections.iter().zip(lists) {
            match list {
                Ok((users, _)) => accounts.push(
                    users
                        .iter()
                        .map(|u| Account {
                            connection: p.connection_id().clone(),
                            provider: p.kind(),
                            rank: *rank,
                            user: Arc::new(u.clone()),
                        })
                        .collect(),
                ),
                Err(e) => missing.push(e),
            }
        }
        let mut index = Index::join(accounts);
        index.missing = missing;
        let index = Arc::new(index);
        self.indexes.lock().expect("directory lock").insert(key, (generations, index.clone()));
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, email: Option<&str>, aliases: &[&str]) -> Arc<User> {
        Arc::new(User {
            remote_id: id.into(),
            email: email.map(Into::into),
            email_aliases: aliases.iter().map(|a| (*a).into()).collect(),
            first_name: Some(id.into()),
            last_name: None,
            title: None,
            phone: None,
            active: None,
            manager_remote_id: None,
            created_at: None,
            team: None,
            department: None,
            system_ids: Vec::new(),
            raw: crate::domain::Raw::default(),
        })
    }

    fn account(conn: &str, rank: usize, user: Arc<User>) -> Account {
        Account { connection: Arc::from(conn), provider: ProviderKind::Gong, rank, user }
    }

    #[test]
    fn joins_are_case_insensitive_and_transitive_over_aliases() {
        // gong: ann (alias a.b@x.io); ev knows her as A.B@X.IO; a third knows her by
        // an alias only ev lists... and an unrelated person.
        let lists = vec![
            vec![
                account("gong", 0, user("g1", Some("ann.b@acme.com"), &["a.b@x.io"])),
                account("gong", 0, user("g2", Some("bob@acme.com"), &[])),
            ],
            vec![account("ev", 1, user("e1", Some("A.B@X.IO"), &["ann@old.example"]))],
            vec![
                account("third", 2, user("t1", Some("ANN@old.example"), &[])),
                account("third", 2, user("t2", None, &[])),
            ],
        ];
        let index = Index::join(lists);
        assert_eq!(index.persons().len(), 3, "ann, bob, and the account without an address");
        let ann = index.by_email("ann@OLD.example").unwrap();
        let ids: Vec<&str> = ann.accounts().iter().map(|a| a.user.remote_id.as_str()).collect();
        assert_eq!(ids, ["g1", "e1", "t1"], "anchor first, in connection order");
        assert!(Arc::ptr_eq(ann, index.by_account("third", "t1").unwrap()));
        assert!(Arc::ptr_eq(ann, index.by_email(" Ann.B@acme.com ").unwrap()));
        assert_eq!(ann.emails(), ["ann.b@acme.com", "A.B@X.IO", "ANN@old.example"], "each address once");
        assert_eq!(index.by_account("third", "t2").unwrap().accounts().len(), 1);
        assert!(index.by_email("nobody@acme.com").is_none());
    }

    #[test]
    fn a_chain_joined_late_is_still_one_person() {
        // x–y only through z, which comes last.
        let lists = vec![
            vec![account("a", 0, user("x", Some("x@acme.com"), &[]))],
            vec![account("b", 1, user("y", Some("y@acme.com"), &[]))],
            vec![account("c", 2, user("z", Some("z@acme.com"), &["X@acme.com", "y@ACME.com"]))],
        ];
        let index = Index::join(lists);
        assert_eq!(index.persons().len(), 1);
        assert_eq!(index.persons()[0].anchor().user.remote_id, "x");
    }

    #[test]
    fn an_unlisted_account_joins_the_person_sharing_its_address() {
        let index = Index::join(vec![vec![account("a", 0, user("x", Some("x@acme.com"), &[]))]]);
        let placed = index.place(account("b", 1, user("old", Some("X@acme.com"), &[])));
        assert_eq!(placed.accounts().len(), 2);
        let alone = index.place(account("b", 1, user("n", Some("n@acme.com"), &[])));
        assert_eq!(alone.accounts().len(), 1);
    }
}
