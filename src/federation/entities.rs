//! `_entities` slots: each representation's result knows its position in the list.
//!
//! async-graphql 7 resolves the representations with `try_join_all` and resolves each
//! entity's fields under the path `_entities`, without the list index. Left as it is,
//! one failing representation would null the whole batch, and an error inside an
//! entity (say its transcript's provider is down) would carry no index, so a gateway
//! could not tell which entity it belongs to. Entity resolvers therefore go through
//! [`resolve`]: it never fails the batch (a missing or failing entity is `null` with a
//! coded error whose path is `["_entities", i]`), and a found entity resolves its
//! fields under `["_entities", i, ...]`, as gateways (Apollo Router and Gateway, Hive)
//! expect when they map subgraph errors back onto their own response.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, OnceLock},
};

use async_graphql::{
    Any, Context, ContextSelectionSet, OutputType, PathSegment, Positioned, ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest},
    parser::types::Field,
    registry::Registry,
};

use crate::error::AppError;

/// The name of the federation entities field.
const ENTITIES_FIELD: &str = "_entities";

/// An entity resolved for one `_entities` slot.
pub struct Entity<T> {
    slot: Option<usize>,
    inner: T,
}

impl<T: OutputType> OutputType for Entity<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.inner.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        match self.slot {
            Some(i) => self.inner.resolve(&ctx.with_index(i), field).await,
            None => self.inner.resolve(ctx, field).await,
        }
    }
}

/// Resolves one representation of `typename` found by `key` = `value`: the entity in
/// its slot, or `None` with an error at `["_entities", slot]` (`NOT_FOUND` when the
/// lookup found nothing, the lookup's own code when it failed).
pub async fn resolve<T>(
    ctx: &Context<'_>,
    typename: &str,
    key: &str,
    value: &str,
    lookup: impl Future<Output = async_graphql::Result<Option<T>>>,
) -> Option<Entity<T>> {
    let slot = ctx.data_opt::<EntitySlots>().and_then(|s| s.claim(ctx, typename, key, value));
    let error = match lookup.await {
        Ok(Some(inner)) => return Some(Entity { slot, inner }),
        Ok(None) => async_graphql::Error::from(AppError::NotFound(format!("{typename} with {key} '{value}'"))),
        Err(e) => e,
    };
    let mut error = ctx.set_error_path(error.into_server_error(ctx.item.pos));
    if let Some(i) = slot {
        error.path.push(PathSegment::Index(i));
    }
    ctx.add_error(error);
    None
}

/// The key of each representation of `typename` in this `_entities` request, in
/// order: its first present field of `keys` (in the order of `keys`, as the entity
/// resolvers are tried) with its value. Empty outside `_entities`.
pub fn keys_of(ctx: &Context<'_>, typename: &str, keys: &[&'static str]) -> Vec<(&'static str, String)> {
    if ctx.item.node.name.node != ENTITIES_FIELD {
        return Vec::new();
    }
    let Ok((_, reps)) = ctx.param_value::<Vec<Any>>("representations", None) else {
        return Vec::new();
    };
    reps.into_iter()
        .filter_map(|Any(rep)| {
            let Value::Object(fields) = rep else { return None };
            match fields.get("__typename") {
                Some(Value::String(t)) if t == typename => {}
                _ => return None,
            }
            keys.iter().find_map(|k| match fields.get(*k)? {
                Value::String(s) => Some((*k, s.clone())),
                Value::Number(n) => Some((*k, n.to_string())),
                _ => None,
            })
        })
        .collect()
}

/// Key of a representation: type name, key field, key value.
type SlotKey = (String, String, String);

/// Per-request bookkeeping: where each representation sits, and which slots are
/// taken (so duplicate representations get distinct slots).
#[derive(Default)]
pub struct EntitySlots {
    positions: OnceLock<HashMap<SlotKey, Vec<usize>>>,
    claimed: Mutex<HashSet<usize>>,
}

impl EntitySlots {
    /// The first unclaimed slot of a representation with `key` = `value`.
    fn claim(&self, ctx: &Context<'_>, typename: &str, key: &str, value: &str) -> Option<usize> {
        let positions = self.positions.get_or_init(|| index_representations(ctx));
        let candidates = positions.get(&(typename.to_owned(), key.to_owned(), value.to_owned()))?;
        let mut claimed = self.claimed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = candidates.iter().copied().find(|i| !claimed.contains(i)).unwrap_or(candidates[0]);
        claimed.insert(slot);
        Some(slot)
    }
}

/// Every (type, key field, value) of the request's representations, with positions.
fn index_representations(ctx: &Context<'_>) -> HashMap<SlotKey, Vec<usize>> {
    let mut out: HashMap<SlotKey, Vec<usize>> = HashMap::new();
    if ctx.item.node.name.node != ENTITIES_FIELD {
        return out;
    }
    let Ok((_, reps)) = ctx.param_value::<Vec<Any>>("representations", None) else {
        return out;
    };
    for (i, Any(rep)) in reps.into_iter().enumerate() {
        let Value::Object(fields) = rep else { continue };
        let Some(Value::String(typename)) = fields.get("__typename") else { continue };
        for (name, v) in &fields {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            out.entry((typename.clone(), name.to_string(), v)).or_default().push(i);
        }
    }
    out
}

/// Installs [`EntitySlots`] in every request.
pub struct EntitySlotsExtension;

impl ExtensionFactory for EntitySlotsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EntitySlotsExtension)
    }
}

#[async_trait::async_trait]
impl Extension for EntitySlotsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        next.run(ctx, request.data(EntitySlots::default())).await
    }
}
