//! rbac-sidecar: a gRPC authorization service reproducing ImmyBot's RBAC model. The
//! engine (`model`, `engine`) is pure; `store`, `cache`, `data_plane`, `admin` and `api` wrap
//! it in storage, caching, use-cases and transport; `identity` proves who an admin call's actor is, `telemetry` reports on it, `config`
//! reads the command line and `cli` holds the operator's commands against a running server;
//! `dataset` writes synthetic worlds for benchmarks and load runs.

pub mod admin;
pub mod api;
pub mod cache;
pub mod cli;
pub mod config;
pub mod console;
pub mod data_plane;
pub mod dataset;
pub mod engine;
pub mod identity;
pub mod instance;
pub mod model;
pub mod server;
pub mod store;
pub mod telemetry;
