//! Black-box tests: the whole server on port 0 over the in-process sandbox.
mod calls;
mod config;
mod errors;
mod federation;
mod helpers;
mod http;
mod schema;
mod stats;
mod users;
