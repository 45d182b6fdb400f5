//! convograph: one GraphQL graph over the conversation-intelligence providers.
pub mod sandbox;
