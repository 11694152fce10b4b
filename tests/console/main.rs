//! The console (`/console/`, `/profile`): who may see it, proven by HTTP requests, and the
//! product's workflows walked in real headless Chromium, with outcomes asserted by
//! CheckAccess and every page checked by axe-core. A separate test binary: it needs
//! Chromium, chromedriver and axe-core, which `scripts/test` provides.

// Tests fail by panicking; helpers outside `#[test]` functions do so too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod http;
mod oidc;
mod sign_in;
#[path = "../support/mod.rs"]
mod support;
mod walk;
