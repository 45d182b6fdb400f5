//! The sandbox: in-process simulators of every provider's HTTP API on loopback ports,
//! serving one deterministic synthetic world (the same people at every provider).
//!
//! CONTRACT (used by the rest of the crate and by tests; keep these names):
//!
//! ```ignore
//! let sandbox = Sandbox::start(SandboxSettings::default()).await?;
//! sandbox.gong.base_url();            // "http://127.0.0.1:PORT" (no trailing slash; paths are /v2/...)
//! sandbox.gong.access_key();          // Basic-auth user
//! sandbox.gong.access_key_secret();   // Basic-auth password
//! sandbox.gong.requests("POST", "/v2/calls/transcript"); // requests received on that route (u64),
//!                                     // route = the path template, e.g. "/v2/calls/{id}"
//! sandbox.gong.total_requests();      // all requests received (u64), 429s and 401s included
//! sandbox.gong.rejected_429();        // how many 429s it sent
//! sandbox.gong.inject_429(n);         // the next n requests get 429 + Retry-After: 1
//! sandbox.gong.inject_failures(n, 502); // the next n requests get that status (any simulator)
//! sandbox.gong.set_down(Some(503));   // every request gets 503 until set_down(None)
//! sandbox.execvision.base_url();      // "http://127.0.0.1:PORT" (paths are /api/ev/2/...)
//! sandbox.execvision.user_id();       // Basic-auth user
//! sandbox.execvision.password();      // Basic-auth password
//! sandbox.execvision.requests("GET", "/api/ev/2/calls");
//! sandbox.execvision.max_queue_depth(); // deepest rate-limit queue seen
//! sandbox.execvision.data();          // &EvData, the ExecVision-only generated data
//! sandbox.salesloft.base_url();       // "http://127.0.0.1:PORT" (paths are /v2/...)
//! sandbox.salesloft.token();          // the bearer token it accepts
//! sandbox.salesloft.requests("GET", "/v2/conversations");
//! sandbox.salesloft.budget_remaining(); // cost budget left in this window
//! sandbox.salesloft.spend(n);         // another integration of the team spends n
//! sandbox.salesloft.data();           // &SlData, the Salesloft-only generated data
//! sandbox.hubster.token_url();        // "http://127.0.0.1:PORT/connect/token" (identity host)
//! sandbox.hubster.engine_url();       // "http://127.0.0.1:PORT" (engine host, paths /api/v1/...)
//! sandbox.hubster.client_id();        // client-credentials id and secret
//! sandbox.hubster.token_requests();   // requests to the token endpoint
//! sandbox.hubster.expire_tokens();    // every issued token now answers 401
//! sandbox.hubster.push_message(i, Party::Customer, Party::Agent, "text", event_id);
//! sandbox.hubster.conversation_ids(); // every conversation id (no list endpoint exists)
//! sandbox.hubster.activity_reads();   // every activities read: conversation, type, leid
//! sandbox.world();                    // &World, the generated data (for tests to compare)
//! sandbox.gong_webhook(call, url);    // a signed Gong webhook post of world call `call` (see [`webhooks`])
//! sandbox.salesloft_webhook(call, "conversation_updated"); // a signed Salesloft post
//! sandbox.shutdown().await;
//! ```
//!
//! Ids: each simulator derives its ids from world indices; for Gong see
//! [`gong::ids`] (e.g. `gong::ids::user_id(i)`, `gong::ids::call_id(j)`,
//! `gong::ids::speaker_id(j, participant)`).
//!
//! ExecVision: see [`execvision`] (behaviour, quirks, choices), [`execvision::ids`]
//! (`user_id(person)`, `call_id(call)`, ... with inverses) and [`world_ev`]
//! (`Person::accounts.execvision`, `Call::recorded_by.execvision`, [`world_ev::EvData`]).
//!
//! Salesloft: see [`salesloft`] (behaviour, budget), [`salesloft::ids`] and
//! [`world_sl`] (`Person::accounts.salesloft`, `Call::recorded_by.salesloft`,
//! [`world_sl::SlData`]). Hubster: see [`hubster`], [`hubster::ids`] and [`world_hub`]
//! (chat conversations between world contacts and agents).
//!
//! Live calls ([`SandboxSettings::live`], off by default): `count` extra calls, live
//! call k ending at `start + (k+1)·every`, appended to `world.calls` (indices
//! [`World::live_calls`]) and served by Gong, ExecVision and Salesloft like any other
//! call, but only once they have ended by the wall clock ([`World::now`], pinnable with
//! [`World::set_clock`]): before [`World::visible_at`] a live call is absent from every
//! list, count and lookup. Its transcript appears at [`World::transcript_ready_at`]
//! (`every/2` later; ExecVision's `modified` and Salesloft's `updated_at` move to that
//! instant) and its scores, if any, at [`World::scores_ready_at`] (`3/4·every` after it
//! became visible). Hubster is unchanged (its chats are not world calls).
//!
//! Notes for tests: `GongSimSettings::rate_per_sec = 0` turns the rate limit off;
//! `GongSimSettings::today` pins "today" for the stats `toDate` check; `GET /v2/calls`
//! filters web conferences by *scheduled* time (as Gong does) while
//! `POST /v2/calls/extensive` and `/transcript` filter by actual start
//! (`World::calls_started_between`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

mod common;
pub mod execvision;
pub mod gong;
pub mod hubster;
#[cfg(test)]
mod live_tests;
mod rng;
pub mod salesloft;
mod uuids;
pub mod webhooks;
pub mod world;
pub mod world_ev;
pub mod world_hub;
pub mod world_sl;

pub use common::{SimCounters, SimHandle};
pub use execvision::{ExecVisionSimHandle, ExecVisionSimSettings};
pub use gong::GongSimSettings;
pub use hubster::{ActivityRead, HubsterSimHandle, HubsterSimSettings};
pub use salesloft::{SalesloftSimHandle, SalesloftSimSettings};
pub use world::{Clock, World};

/// The handle of the running Gong simulator.
pub type GongSimHandle = SimHandle;

/// What to generate and how the simulators behave.
#[derive(Clone, Debug)]
pub struct SandboxSettings {
    /// World seed (default 7).
    pub seed: u64,
    /// Number of internal people (default 40).
    pub people: usize,
    /// Number of calls (default 2,000).
    pub calls: usize,
    /// Calls start on or after this instant (default 2026-01-05T00:00:00Z).
    pub window_start: DateTime<Utc>,
    /// Calls start before this instant (default 2026-07-01T00:00:00Z).
    pub window_end: DateTime<Utc>,
    /// Gong simulator behaviour.
    pub gong: GongSimSettings,
    /// ExecVision simulator behaviour.
    pub execvision: ExecVisionSimSettings,
    /// Salesloft simulator behaviour.
    pub salesloft: SalesloftSimSettings,
    /// Hubster simulator behaviour.
    pub hubster: HubsterSimSettings,
    /// Calls that appear over wall-clock time (default None: the world never changes).
    pub live: Option<LiveCalls>,
}

/// Calls that appear over wall-clock time (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveCalls {
    /// Live call k ends (and becomes visible) at `start + (k+1)·every`; a zero `every`
    /// generates none.
    pub every: Duration,
    /// How many live calls to generate.
    pub count: usize,
    /// The instant the schedule counts from (truncated to the whole second).
    pub start: DateTime<Utc>,
}

impl LiveCalls {
    /// `count` calls, one every `every`, counting from now.
    pub fn from_now(every: Duration, count: usize) -> Self {
        LiveCalls { every, count, start: Utc::now() }
    }
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            seed: 7,
            people: 40,
            calls: 2000,
            window_start: Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap(),
            window_end: Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
            gong: GongSimSettings::default(),
            execvision: ExecVisionSimSettings::default(),
            salesloft: SalesloftSimSettings::default(),
            hubster: HubsterSimSettings::default(),
            live: None,
        }
    }
}

/// All simulators, running on loopback ports, over one generated world.
#[derive(Debug)]
pub struct Sandbox {
    /// The Gong simulator.
    pub gong: GongSimHandle,
    /// The ExecVision simulator (routes under `/api/ev/2/`).
    pub execvision: ExecVisionSimHandle,
    /// The Salesloft simulator (routes under `/v2/`).
    pub salesloft: SalesloftSimHandle,
    /// The Hubster simulator (identity and engine hosts).
    pub hubster: HubsterSimHandle,
    world: Arc<World>,
    servers: Vec<common::Server>,
}

impl Sandbox {
    /// Generates the world and starts every simulator on `127.0.0.1:0`.
    pub async fn start(settings: SandboxSettings) -> anyhow::Result<Sandbox> {
        let world = Arc::new(World::generate(&settings));
        let (router, counters) = gong::router(world.clone(), settings.gong.clone());
        let (addr, server) = common::serve(router).await?;
        let gong =
            SimHandle::new(addr, settings.gong.access_key.clone(), settings.gong.access_key_secret.clone(), counters);
        let (router, counters, shared) = execvision::router(world.clone(), settings.execvision.clone());
        let (addr, ev_server) = common::serve(router).await?;
        let execvision = ExecVisionSimHandle::new(addr, &settings.execvision, counters, shared);
        let (router, counters, data, budget) = salesloft::router(world.clone(), settings.salesloft.clone());
        let (addr, sl_server) = common::serve(router).await?;
        let salesloft = salesloft::handle(addr, &settings.salesloft, counters, data, budget);
        let (identity, engine, parts) = hubster::routers(world.clone(), settings.hubster.clone());
        let (identity_addr, identity_server) = common::serve(identity).await?;
        let (engine_addr, engine_server) = common::serve(engine).await?;
        let hubster = parts.into_handle(identity_addr, engine_addr);
        Ok(Sandbox {
            gong,
            execvision,
            salesloft,
            hubster,
            world,
            servers: vec![server, ev_server, sl_server, identity_server, engine_server],
        })
    }

    /// The generated data.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The generated data, shareable.
    pub fn world_arc(&self) -> Arc<World> {
        self.world.clone()
    }

    /// Stops every simulator (in-flight requests finish first).
    pub async fn shutdown(self) {
        for s in self.servers {
            s.stop().await;
        }
    }
}
