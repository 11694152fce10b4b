//! Integration tests: one binary (one link on a small machine), one module per concern.

// Tests fail by panicking; helpers outside `#[test]` functions do so too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod actors;
mod admin;
mod admin_plane;
mod authzen;
mod change_log;
mod conformance;
mod differential;
mod engine_properties;
mod escalation;
mod escalation_regressions;
mod ext_authz;
mod grpcurl;
mod hostile_input;
mod impersonation;
mod instance;
mod invariants;
mod layers;
mod legacy_import;
mod previews;
mod scenario;
mod self_contained;
mod status;
#[path = "../support/mod.rs"]
mod support;
