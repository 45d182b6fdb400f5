//! HTTP tests of the Gong simulator.
