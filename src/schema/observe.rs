//! Tracing spans for the resolvers that may call a provider: root fields, and
//! nested fields that take arguments (paged lists, stats windows). Nested lookups
//! without arguments (`host`, `transcript`) go through the DataLoaders, whose
//! batches have spans of their own (`loader.batch`). Scalar fields get no span: a
//! page of 100 calls would otherwise make thousands.

use std::sync::Arc;

use async_graphql::{
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
};
use tracing::Instrument;

/// The extension factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldSpans;

impl ExtensionFactory for FieldSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldSpans)
    }
}

#[async_trait::async_trait]
impl Extension for FieldSpans {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let root = info.path_node.parent.is_none();
        let may_call_out = root || !info.field.arguments.is_empty();
        if info.is_for_introspection || !may_call_out {
            return next.run(ctx, info).await;
        }
        let span = tracing::info_span!(
            "graphql.resolve",
            otel.name = %format!("{}.{}", info.parent_type, info.name),
            graphql.field.path = %info.path_node,
            graphql.field.type = info.return_type,
        );
        next.run(ctx, info).instrument(span).await
    }
}
