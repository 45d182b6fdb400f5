//! Apollo Federation beyond what async-graphql provides: `_entities` results that
//! know their slot ([`entities`]) and federated tracing, `extensions.ftv1`
//! ([`ftv1`]). Both are async-graphql extensions installed by
//! [`crate::schema::build_schema`].

pub mod entities;
pub mod ftv1;
