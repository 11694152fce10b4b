//! Running it like a production sidecar: the real binary with TLS and mutual TLS, the
//! bearer token, AdminService on its own port, request limits, metrics, OTLP traces,
//! layered configuration, SIGTERM draining and the operator's `check` command.

// Tests fail by panicking; helpers outside `#[test]` functions do so too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod check_command;
mod config;
mod floods;
mod limits;
mod metrics;
mod otlp;
mod ports;
mod security;
mod shutdown;
mod sidecar;
#[path = "../support/mod.rs"]
mod support;
