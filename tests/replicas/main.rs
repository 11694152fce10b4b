//! Many replicas, one truth: several `rbac-sidecar` processes on one PostgreSQL database.
//! A separate test binary, so its timing is not disturbed by the property test.

// Tests fail by panicking; helpers outside `#[test]` functions do so too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod database_loss;
mod fleet;
mod latency;
mod propagation;
mod soak;
#[path = "../support/mod.rs"]
mod support;
