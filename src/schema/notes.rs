//! Notes at the path of the field that made them.
//!
//! A field whose resolver reads a provider may get its data together with an error
//! about it ([`accounting::Note`]: a walk ended early with the records read so far, a
//! record read without one of its fields). This extension collects the notes made
//! while each field resolves and files them under the field's path, so the client
//! sees the error next to the data it concerns. The HTTP layer turns them into
//! response errors ([`into_errors`]); notes no field collected (made in a
//! DataLoader batch, which serves many fields) become errors without a path.
//!
//! It also gives the engine's own execution errors (an argument a scalar refuses)
//! their code: [`crate::error::code_engine_errors`].

use std::{collections::HashSet, sync::Arc};

use async_graphql::{
    PathSegment, QueryPathSegment, Response, ServerError, ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo},
};

use crate::{
    accounting::{self, Note, RequestAccount},
    error::AppError,
};

/// Most notes one response reports; the rest are summed up in one more error.
const MAX_NOTES: usize = 50;

/// The extension factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldNotes;

impl ExtensionFactory for FieldNotes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldNotes)
    }
}

#[async_trait::async_trait]
impl Extension for FieldNotes {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        crate::error::code_engine_errors(&mut response);
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        let path_node = info.path_node;
        let (out, notes) = accounting::capture(next.run(ctx, info)).await;
        if !notes.is_empty() {
            let path: Vec<PathSegment> = {
                let mut segs: Vec<PathSegment> = std::iter::once(path_node)
                    .chain(path_node.parents())
                    .map(|n| match n.segment {
                        QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
                        QueryPathSegment::Index(i) => PathSegment::Index(i),
                    })
                    .collect();
                segs.reverse();
                segs
            };
            match accounting::current() {
                Some(account) => account.field_notes(path, notes),
                None => accounting::emit(&notes),
            }
        }
        out
    }
}

/// The notes of `account` as response errors: each once (by path and message), at
/// most [`MAX_NOTES`] of them.
pub fn into_errors(account: &RequestAccount) -> Vec<ServerError> {
    let (by_field, rest) = account.take_notes();
    let all = by_field.into_iter().chain(rest.into_iter().map(|n| (Vec::new(), n)));
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut left_out = 0usize;
    for (path, note) in all {
        let error = error_of(note, path);
        if !seen.insert((format!("{:?}", error.path), error.message.clone())) {
            continue;
        }
        if out.len() == MAX_NOTES {
            left_out += 1;
            continue;
        }
        out.push(error);
    }
    if left_out > 0 {
        let mut e = ServerError::new(format!("{left_out} more errors like the ones above were left out"), None);
        if let Some(code) = out.last().and_then(|e| e.extensions.as_ref()).and_then(|x| x.get("code")).cloned() {
            e.extensions.get_or_insert_with(Default::default).set("code", code);
        }
        out.push(e);
    }
    out
}

fn error_of(note: Note, path: Vec<PathSegment>) -> ServerError {
    let mut e = async_graphql::Error::from(AppError::Provider(note.error)).into_server_error(Default::default());
    e.locations.clear();
    e.path = path;
    if let Some(record) = note.record {
        e.extensions.get_or_insert_with(Default::default).set("record", record);
    }
    e
}
