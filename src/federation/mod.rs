//! Apollo Federation beyond what async-graphql provides: `_entities` resolved one
//! representation at a time, each result knowing its slot ([`entities`]: a query-root
//! wrapper and an extension), and federated tracing, `extensions.ftv1` ([`ftv1`], an
//! extension). All are installed by [`crate::schema::build_schema`].

pub mod entities;
pub mod ftv1;
