//! Integration tests: one binary (one link on a small machine), one module per concern.

mod conformance;
mod differential;
mod scenario;
mod status;
mod support;
