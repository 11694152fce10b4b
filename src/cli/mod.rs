//! Operator commands that talk to a running server over gRPC, as its callers do.

mod check;

pub use check::{CheckArgs, CheckCommandError, run_check};
