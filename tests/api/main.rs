//! Black-box tests: the whole server on port 0 over the in-process sandbox.
#![allow(unreachable_pub)]
mod auth;
mod calls;
mod config;
mod costs;
mod coverage;
mod deploy;
mod errors;
mod execvision;
mod federation;
mod ftv1;
mod gateway;
mod helpers;
mod http;
mod hubster;
mod limits;
mod metrics;
mod nodes;
mod ops;
mod people;
mod process;
mod readme;
mod salesloft;
mod schema;
mod stats;
mod timeline;
mod users;
