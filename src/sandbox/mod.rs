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
//! sandbox.world();                    // &World, the generated data (for tests to compare)
//! sandbox.shutdown().await;
//! ```
