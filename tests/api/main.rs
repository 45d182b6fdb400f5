//! Black-box tests: the whole server on port 0 over the in-process sandbox.
#![allow(unreachable_pub)]
mod auth;
mod calls;
mod config;
mod errors;
mod execvision;
mod federation;
mod helpers;
mod http;
mod limits;
mod metrics;
mod ops;
mod process;
mod readme;
mod schema;
mod stats;
mod users;
