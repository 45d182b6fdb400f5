//! Any bytes as a cursor, as a client sends it and as a body behind a valid MAC:
//! reading never panics and refuses only with `BAD_CURSOR`; what it reads round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| convograph::schema::connection::fuzzing::cursor(data));
