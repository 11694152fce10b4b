//! The console: the product's Users & Roles pages, its Check Access tab and the profile
//! page (`docs/console.md`), served on the HTTP port under `/console/` and `/profile`.
//! Pages render on the server from the templates in `templates/` and call the admin
//! use-cases in process: the same rules, refusals, audit and revisions as gRPC. Who is
//! signed in, and how a form proves it came from our own page, is `sign_in`'s.

mod access_requests;
mod assignments;
mod audit;
mod form;
mod groups;
mod names;
mod page;
mod profile;
mod roles;
mod sign_in;
mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};

use crate::admin::Admin;
use crate::identity::{ActorVerifier, OidcSignIn};

pub use sign_in::Sessions;

/// What the pages need.
#[derive(Clone)]
pub struct Console {
    admin: Arc<Admin>,
    /// Some: a proxy's `Authorization: Bearer` JWT signs a person in (`--actor-jwks`).
    verifier: Option<Arc<ActorVerifier>>,
    sessions: Arc<Sessions>,
    /// The session cookie is `Secure`: the port serves TLS.
    secure: bool,
    /// Some: people may sign in with this OpenID provider.
    oidc: Option<Arc<OidcSignIn>>,
    /// Where browsers reach the console (`--public-url`, else the listener), for the
    /// provider's redirect back.
    base: String,
}

impl Console {
    pub fn new(
        admin: Arc<Admin>,
        verifier: Option<Arc<ActorVerifier>>,
        oidc: Option<Arc<OidcSignIn>>,
        secure: bool,
    ) -> Self {
        Console {
            admin,
            verifier,
            sessions: Arc::new(Sessions::default()),
            secure,
            oidc,
            base: String::new(),
        }
    }

    /// The sessions: where one-time sign-in links are minted.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }
}

const CSS: &str = include_str!("static/console.css");
const JS: &str = include_str!("static/console.js");

/// The console's routes, reached by browsers at `base` (`http://host:port`). Every page
/// but sign-in needs a signed-in person; every form carries the session's CSRF token.
/// `max_body` bounds a form.
pub fn router(
    mut console: Console,
    base: &str,
    max_body: usize,
    request_timeout: Duration,
) -> Router {
    console.base = base.trim_end_matches('/').to_owned();
    Router::new()
        .route("/console", get(|| async { page::see_other("/console/") }))
        .route("/console/", get(users::list))
        .route("/console/sign-in", get(sign_in::page))
        .route(
            "/console/sign-in/link",
            get(sign_in::link).post(sign_in::redeem),
        )
        .route("/console/sign-in/oidc", get(sign_in::oidc))
        .route("/console/sign-in/callback", get(sign_in::callback))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route(
            "/console/static/console.css",
            get(|| async { asset("text/css", CSS) }),
        )
        .route(
            "/console/static/console.js",
            get(|| async { asset("text/javascript", JS) }),
        )
        .route("/console/users", get(users::list).post(users::create))
        .route("/console/users/new", get(users::new_user))
        .route("/console/people", get(users::people))
        .route("/console/people/{id}/promote", post(users::promote))
        .route("/console/users/{id}", get(users::show))
        .route(
            "/console/users/{id}/assignments",
            post(assignments::assign_to_user),
        )
        .route("/console/users/{id}/impersonate", post(users::impersonate))
        .route(
            "/console/impersonation/stop",
            post(users::stop_impersonating),
        )
        .route("/console/roles", get(roles::list).post(roles::create))
        .route("/console/roles/new", get(roles::new_role))
        .route("/console/roles/{id}", get(roles::show).post(roles::update))
        .route("/console/roles/{id}/edit", get(roles::edit))
        .route("/console/groups", get(groups::list).post(groups::create))
        .route("/console/groups/{id}", get(groups::show))
        .route("/console/groups/{id}/members", post(groups::members))
        .route(
            "/console/groups/{id}/assignments",
            post(assignments::assign_to_group),
        )
        .route("/console/assignments", get(assignments::list))
        .route(
            "/console/assignments/{id}/remove",
            post(assignments::remove),
        )
        .route("/console/access-requests", get(access_requests::list))
        .route(
            "/console/access-requests/{id}",
            post(access_requests::decide),
        )
        .route("/console/audit", get(audit::list))
        .route("/profile", get(profile::show))
        .layer(axum::middleware::from_fn(page::guard))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::Extension(page::Deadline(request_timeout)))
        .with_state(console)
}

/// The console's paths on a sidecar without a database (`--upstream`): where it is.
pub fn elsewhere() -> Router {
    let answer = || async {
        (
            axum::http::StatusCode::NOT_FOUND,
            "This sidecar has no database of its own, so it serves no console: open the console on the HTTP port (--http-listen) of the database tier it follows.",
        )
    };
    Router::new()
        .route("/console", get(answer))
        .route("/console/", get(answer))
        .route("/console/{*rest}", get(answer))
        .route("/profile", get(answer))
}

/// A stylesheet or script of the pages (the Content-Security-Policy allows no inline
/// ones).
fn asset(kind: &'static str, body: &'static str) -> axum::response::Response {
    let mut response = axum::response::IntoResponse::into_response(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}
