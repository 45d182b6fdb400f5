//! `_entities`, one representation at a time: each result knows its position in the
//! list, and one that cannot be resolved is `null` there without touching the others.
//!
//! async-graphql 7 resolves the representations with `try_join_all` and resolves each
//! entity's fields under the path `_entities`, without the list index. Left as it is,
//! one failing representation would lose the whole batch (the field is left out of
//! `data`, its error without a path), and an error inside an entity (say its transcript's
//! provider is down) would carry no index, so a gateway could not tell which entity it
//! belongs to. Two seams fix that:
//! - entity resolvers go through [`resolve`]: a missing or failing entity is `null`
//!   with a coded error whose path is `["_entities", i]`, and a found entity resolves
//!   its fields under `["_entities", i, ...]`, as gateways (Apollo Router and Gateway,
//!   Hive) expect when they map subgraph errors back onto their own response;
//! - the query root is wrapped in [`EntitiesRoot`], which answers the representations
//!   no entity resolver takes (not an object, no `__typename`, a type that is not an
//!   entity, no key of the right type) the same way, with `BAD_USER_INPUT`, where the
//!   engine would fail the whole field with "Entity not found.".
//!
//! The good representations still run together, so their DataLoader batches (one
//! upstream request for many ids) are what they would be without the bad ones.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use async_graphql::{
    Any, ContainerType, Context, ContextSelectionSet, ObjectType, OutputType, PathSegment, Positioned, ServerError,
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest},
    parser::types::Field,
    registry::{MetaType, Registry},
    resolver_utils::resolve_container,
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
    let slot = ctx.data_opt::<EntitySlots>().and_then(|s| s.field(ctx).claim_key(typename, key, value));
    let error = match lookup.await {
        Ok(Some(inner)) => return Some(Entity { slot, inner }),
        Ok(None) => async_graphql::Error::from(AppError::NotFound(format!("{typename} with {key} '{value}'"))),
        Err(e) => e,
    };
    add_slot_error(ctx, slot, error.into_server_error(ctx.item.pos));
    None
}

/// Reports `error` of the representation in `slot`: at `["_entities", slot]` unless it
/// already has a path inside the entity (an error of one of its fields).
fn add_slot_error(ctx: &Context<'_>, slot: Option<usize>, error: ServerError) {
    let mut error = if error.path.len() > 1 { error } else { ctx.set_error_path(error) };
    if error.path.len() == 1
        && let Some(i) = slot
    {
        error.path.push(PathSegment::Index(i));
    }
    ctx.add_error(error);
}

/// The query root `Q` as the schema sees it: the same type (name, fields, entity
/// resolvers, SDL), with every `_entities` representation answered on its own. One
/// that no entity resolver of `Q` takes is `null` at its index with a `BAD_USER_INPUT`
/// error at `["_entities", i]`; so is a found entity that fails as a whole (a non-null
/// field of it failing), its error keeping its own path.
pub struct EntitiesRoot<Q>(pub Q);

impl<Q: ObjectType> OutputType for EntitiesRoot<Q> {
    fn type_name() -> Cow<'static, str> {
        Q::type_name()
    }

    fn qualified_type_name() -> String {
        Q::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Q::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl<Q: ObjectType> ContainerType for EntitiesRoot<Q> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        self.0.resolve_field(ctx).await
    }

    async fn find_entity(&self, ctx: &Context<'_>, params: &Value) -> ServerResult<Option<Value>> {
        let error = match representation_type(params) {
            Err(why) => bad_representation(ctx, why),
            Ok(typename) => match self.0.find_entity(ctx, params).await {
                Ok(Some(entity)) => return Ok(Some(entity)),
                Ok(None) => bad_representation(ctx, unmatched(ctx, typename)),
                Err(e) => e,
            },
        };
        let slot = ctx.data_opt::<EntitySlots>().and_then(|s| s.field(ctx).claim_representation(params));
        add_slot_error(ctx, slot, error);
        Ok(Some(Value::Null))
    }
}

impl<Q: ObjectType> ObjectType for EntitiesRoot<Q> {}

/// The `__typename` of a representation, or why it has none.
fn representation_type(rep: &Value) -> Result<&str, String> {
    let Value::Object(fields) = rep else {
        return Err("a representation must be an object with `__typename` and a key".to_owned());
    };
    match fields.get("__typename") {
        Some(Value::String(t)) => Ok(t),
        Some(_) => Err("a representation's `__typename` must be a string".to_owned()),
        None => Err("a representation needs `__typename`".to_owned()),
    }
}

/// Why no entity resolver takes a representation of `typename`.
fn unmatched(ctx: &Context<'_>, typename: &str) -> String {
    let shown: String = typename.chars().take(100).collect();
    match ctx.schema_env.registry.types.get(typename) {
        Some(MetaType::Object { keys: Some(keys), .. }) if !keys.is_empty() => {
            let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            format!("a `{shown}` representation needs a key, {}, with a string value", keys.join(" or "))
        }
        _ => format!("`{shown}` is not an entity type of this subgraph"),
    }
}

fn bad_representation(ctx: &Context<'_>, why: String) -> ServerError {
    async_graphql::Error::from(AppError::bad_input(why)).into_server_error(ctx.item.pos)
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

/// Per-request bookkeeping, per `_entities` field of the request (by response key:
/// two aliased `_entities` fields have slots of their own).
#[derive(Default)]
pub struct EntitySlots {
    fields: Mutex<HashMap<String, Arc<FieldSlots>>>,
}

impl EntitySlots {
    /// The slots of the `_entities` field `ctx` resolves.
    fn field(&self, ctx: &Context<'_>) -> Arc<FieldSlots> {
        let key = ctx.item.node.response_key().node.to_string();
        let mut fields = self.fields.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        fields.entry(key).or_insert_with(|| Arc::new(FieldSlots::of(ctx))).clone()
    }
}

/// Where each representation of one `_entities` field sits, and which slots are taken
/// (so duplicate representations get distinct slots).
struct FieldSlots {
    representations: Vec<Value>,
    /// Every (type, key field, value) of the representations, with positions.
    positions: HashMap<SlotKey, Vec<usize>>,
    claimed: Mutex<HashSet<usize>>,
}

impl FieldSlots {
    fn of(ctx: &Context<'_>) -> Self {
        let representations = if ctx.item.node.name.node == ENTITIES_FIELD {
            ctx.param_value::<Vec<Any>>("representations", None)
                .map(|(_, reps)| reps.into_iter().map(|Any(rep)| rep).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut positions: HashMap<SlotKey, Vec<usize>> = HashMap::new();
        for (i, rep) in representations.iter().enumerate() {
            let Value::Object(fields) = rep else { continue };
            let Some(Value::String(typename)) = fields.get("__typename") else { continue };
            for (name, v) in fields {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                positions.entry((typename.clone(), name.to_string(), v)).or_default().push(i);
            }
        }
        FieldSlots { representations, positions, claimed: Mutex::default() }
    }

    /// The first unclaimed slot of a representation with `key` = `value`.
    fn claim_key(&self, typename: &str, key: &str, value: &str) -> Option<usize> {
        let candidates = self.positions.get(&(typename.to_owned(), key.to_owned(), value.to_owned()))?;
        self.claim(candidates.iter().copied())
    }

    /// The first unclaimed slot of a representation equal to `rep`.
    fn claim_representation(&self, rep: &Value) -> Option<usize> {
        self.claim(self.representations.iter().enumerate().filter(|(_, r)| *r == rep).map(|(i, _)| i))
    }

    /// The first of `candidates` not yet claimed (the first one when all are), claimed.
    fn claim(&self, candidates: impl Iterator<Item = usize>) -> Option<usize> {
        let mut claimed = self.claimed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut first = None;
        for i in candidates {
            first.get_or_insert(i);
            if claimed.insert(i) {
                return Some(i);
            }
        }
        first
    }
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
