//! The OpenID AuthZEN Authorization API 1.0 over HTTP JSON (`--http-listen`): Access
//! Evaluation, Access Evaluations (top-level defaults, the three evaluation semantics),
//! Resource Search for tenants and resources, and the discovery document. Every decision
//! is a CheckAccess decision; the bearer token guards it as it guards gRPC.
//!
//! - subject `{"type": "user", "id"}`: a user id, or else an Azure object id;
//! - action `{"name"}`: a permission key;
//! - resource `{"type": "tenant" | "computer" | ... | "system", "id"}` (`system`: a system
//!   permission, no target).
//!
//! A denial carries `context.reason` (and `context.decision`: not_granted, denied,
//! user_inactive, or not_found for an unknown target). Malformed input is 400 with a
//! message, a missing or wrong token 401, a check that cannot be decided 503.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::config::BearerToken;
use crate::data_plane::{CheckError, CheckRequest, Checker, Subject, TargetRef};
use crate::engine::Decision;
use crate::model::{
    PermissionId, ResourceRef, ResourceType, TenantId, catalogue, parse_uuid, shown,
};

/// What the HTTP API needs.
#[derive(Clone)]
pub struct AuthzenState {
    pub checker: Arc<Checker>,
    pub auth_token: Option<BearerToken>,
    /// `https` when the port serves TLS, for the discovery document.
    pub scheme: &'static str,
    /// Where callers reach the port (`--public-url`), for the discovery document; None:
    /// the listener's own address with `scheme`.
    pub public_url: Option<String>,
    /// Most items of one Access Evaluations request (`--batch-limit`).
    pub batch_limit: usize,
    /// Larger bodies are refused (`--max-request-bytes`).
    pub max_body: usize,
    /// Longest a request may take, its body read included (`--request-timeout-ms`).
    pub request_timeout: Duration,
}

const DISCOVERY: &str = "/.well-known/authzen-configuration";

/// The routes of `--http-listen`, served on `local`.
pub fn router(state: AuthzenState, local: SocketAddr) -> Router {
    let max_body = state.max_body;
    // From the configuration, never from the request: a client's Host header must not
    // choose where the document sends the next caller.
    let base = state
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{}://{local}", state.scheme));
    let document = Arc::new(discovery(&base));
    Router::new()
        .route(
            DISCOVERY,
            get(move || {
                let document = Arc::clone(&document);
                async move { answer(&document) }
            }),
        )
        .route("/access/v1/evaluation", post(evaluation))
        .route("/access/v1/evaluations", post(evaluations))
        .route("/access/v1/search/resource", post(search_resource))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// The bearer token, checked before a body is read (the discovery document is public),
/// the request's deadline, and the caller's `X-Request-ID` echoed on the answer. The
/// deadline covers reading the body: the port's header deadline ends with the headers,
/// and a body sent a byte at a time must not hold the connection for ever.
async fn guard(
    State(state): State<AuthzenState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let request_id = request.headers().get("x-request-id").cloned();
    let mut response = match state.authorize(request.headers()) {
        Err(refused) if request.uri().path() != DISCOVERY => refused.into_response(),
        _ => match tokio::time::timeout(state.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => Refused(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request was not read and answered within {} ms (request_timeout_ms); send the body at once, or retry",
                    state.request_timeout.as_millis()
                ),
            )
            .into_response(),
        },
    };
    if let Some(id) = request_id {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// A refusal: an HTTP status and a message for a person.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "error": self.1 }).to_string(),
        )
            .into_response()
    }
}

fn bad(message: impl Into<String>) -> Refused {
    Refused(StatusCode::BAD_REQUEST, message.into())
}

fn answer(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

#[derive(Clone, Debug, Deserialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Clone, Debug, Deserialize)]
struct Action {
    name: String,
}

/// One evaluation, each part optional where top-level defaults may fill it.
#[derive(Clone, Debug, Default, Deserialize)]
struct Evaluation {
    subject: Option<Entity>,
    action: Option<Action>,
    resource: Option<Entity>,
}

#[derive(Debug, Deserialize)]
struct Evaluations {
    #[serde(flatten)]
    defaults: Evaluation,
    evaluations: Option<Vec<Evaluation>>,
    options: Option<Options>,
}

#[derive(Debug, Default, Deserialize)]
struct Options {
    evaluations_semantic: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Search {
    subject: Option<Entity>,
    action: Option<Action>,
    resource: Option<SearchedType>,
    page: Option<Page>,
}

#[derive(Debug, Deserialize)]
struct SearchedType {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Default, Deserialize)]
struct Page {
    token: Option<String>,
    limit: Option<usize>,
}

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

impl AuthzenState {
    /// The bearer token, when one is configured (compared in constant time).
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Refused> {
        let Some(token) = &self.auth_token else {
            return Ok(());
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if bool::from(presented.as_bytes().ct_eq(token.expose().as_bytes())) {
            Ok(())
        } else {
            Err(Refused(
                StatusCode::UNAUTHORIZED,
                "this server requires `Authorization: Bearer <token>`".into(),
            ))
        }
    }

    /// A user id, or else an Azure object id, as the subject of checks.
    async fn subject(&self, subject: &Entity) -> Result<Subject, Refused> {
        if subject.kind != "user" {
            return Err(bad(format!(
                "subject type `{}` is not known; use `user`",
                shown(&subject.kind)
            )));
        }
        let id = parse_uuid("subject.id", &subject.id).map_err(|e| bad(e.to_string()))?;
        let as_user = Subject::User(crate::model::UserId(id));
        match self.checker.access(as_user, 0).await {
            Ok((Some(_), _)) => Ok(as_user),
            Ok((None, _)) => Ok(Subject::AzureObject(id)),
            Err(err) => Err(unavailable(&err)),
        }
    }

    /// One evaluation's decision as AuthZEN shows it.
    async fn decide(&self, evaluation: &Evaluation) -> Result<Value, Refused> {
        let (Some(subject), Some(action), Some(resource)) = (
            &evaluation.subject,
            &evaluation.action,
            &evaluation.resource,
        ) else {
            return Err(bad(
                "an evaluation needs `subject`, `action` and `resource`",
            ));
        };
        let permission = permission(&action.name)?;
        let target = match resource.kind.as_str() {
            "system" => TargetRef::None,
            "tenant" => TargetRef::Tenant(
                TenantId::parse("resource.id", &resource.id).map_err(|e| bad(e.to_string()))?,
            ),
            kind => TargetRef::Resource(
                ResourceRef::named(resource_type(kind)?, &resource.id)
                    .map_err(|e| bad(e.to_string()))?,
            ),
        };
        let check = CheckRequest {
            subject: self.subject(subject).await?,
            permission,
            target,
            explain: true,
            min_revision: 0,
        };
        match self.checker.check(&check).await {
            Ok(outcome) => {
                let allowed = outcome.decision == Decision::Allowed;
                let decision = match outcome.decision {
                    Decision::Allowed => "allowed",
                    Decision::NotGranted => "not_granted",
                    Decision::Denied => "denied",
                    Decision::UserInactive => "user_inactive",
                };
                Ok(json!({
                    "decision": allowed,
                    "context": { "decision": decision, "reason": outcome.reason, "revision": outcome.revision },
                }))
            }
            Err(err @ (CheckError::TenantNotFound(_) | CheckError::ResourceNotFound(_))) => {
                Ok(json!({
                    "decision": false,
                    "context": { "decision": "not_found", "reason": err.to_string() },
                }))
            }
            Err(err @ CheckError::MissingTarget(_)) => Err(bad(err.to_string())),
            Err(err) => Err(unavailable(&err)),
        }
    }
}

fn unavailable(err: &CheckError) -> Refused {
    let status = super::status::from_check(err);
    Refused(StatusCode::SERVICE_UNAVAILABLE, status.message().to_owned())
}

fn permission(key: &str) -> Result<PermissionId, Refused> {
    catalogue().id(key).ok_or_else(|| {
        bad(format!(
            "action `{}` is not a permission key; AdminService/ListPermissions shows them",
            shown(key)
        ))
    })
}

fn resource_type(kind: &str) -> Result<ResourceType, Refused> {
    kind.parse().map_err(|_| {
        bad(format!(
            "resource type `{}` is not known; use tenant, system, computer, script, software, task, tag or media",
            shown(kind)
        ))
    })
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Refused> {
    serde_json::from_slice(body)
        .map_err(|e| bad(format!("the body is not the JSON this endpoint takes: {e}")))
}

/// The discovery document of the API at `base`.
fn discovery(base: &str) -> Value {
    json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        "search_resource_endpoint": format!("{base}/access/v1/search/resource"),
    })
}

async fn evaluation(State(state): State<AuthzenState>, body: Bytes) -> Result<Response, Refused> {
    let request: Evaluation = parse(&body)?;
    Ok(answer(&state.decide(&request).await?))
}

async fn evaluations(State(state): State<AuthzenState>, body: Bytes) -> Result<Response, Refused> {
    let request: Evaluations = parse(&body)?;
    let Some(items) = request.evaluations.filter(|items| !items.is_empty()) else {
        // No `evaluations`: a single evaluation of the top-level fields.
        return Ok(answer(&state.decide(&request.defaults).await?));
    };
    if items.len() > MAX_PAGE {
        return Err(bad(format!(
            "at most {MAX_PAGE} evaluations per request, got {}",
            items.len()
        )));
    }
    let semantic = request.options.unwrap_or_default().evaluations_semantic;
    let stop_on = match semantic.as_deref() {
        None | Some("execute_all") => None,
        Some("deny_on_first_deny") => Some(false),
        Some("permit_on_first_permit") => Some(true),
        Some(other) => {
            return Err(bad(format!(
                "`evaluations_semantic` `{}` is not execute_all, deny_on_first_deny or permit_on_first_permit",
                shown(other)
            )));
        }
    };
    let defaults = request.defaults;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let evaluation = Evaluation {
            subject: item.subject.or_else(|| defaults.subject.clone()),
            action: item.action.or_else(|| defaults.action.clone()),
            resource: item.resource.or_else(|| defaults.resource.clone()),
        };
        // One bad item is its own denial; the others are still evaluated.
        let result = match state.decide(&evaluation).await {
            Ok(result) => result,
            Err(Refused(status, why)) if status == StatusCode::BAD_REQUEST => {
                json!({ "decision": false, "context": { "decision": "invalid", "reason": why } })
            }
            Err(refused) => return Err(refused),
        };
        let decided = result["decision"].as_bool() == Some(true);
        results.push(result);
        if stop_on == Some(decided) {
            break;
        }
    }
    Ok(answer(&json!({ "evaluations": results })))
}

async fn search_resource(
    State(state): State<AuthzenState>,
    body: Bytes,
) -> Result<Response, Refused> {
    let request: Search = parse(&body)?;
    let (Some(subject), Some(action), Some(resource)) =
        (request.subject, request.action, request.resource)
    else {
        return Err(bad(
            "a search needs `subject`, `action` and `resource.type`",
        ));
    };
    let subject = state.subject(&subject).await?;
    let permission = permission(&action.name)?;
    let page = request.page.unwrap_or_default();
    let limit = page.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let ids: Vec<String> = if resource.kind == "tenant" {
        let (tenants, _) = state
            .checker
            .permitted_tenants(subject, permission, 0)
            .await
            .map_err(|e| unavailable(&e))?;
        tenants.iter().map(ToString::to_string).collect()
    } else {
        let kind = resource_type(&resource.kind)?;
        let (resources, _) = state
            .checker
            .permitted_resources(subject, permission, kind)
            .await
            .map_err(|e| unavailable(&e))?;
        resources.iter().map(|r| r.id.to_string()).collect()
    };
    // Sorted ids: the token is the last id of the previous page.
    let after = page.token.unwrap_or_default();
    let rest: Vec<&String> = ids
        .iter()
        .filter(|id| after.is_empty() || id.as_str() > after.as_str())
        .collect();
    let shown_ids = &rest[..rest.len().min(limit)];
    let next_token = if rest.len() > limit {
        shown_ids.last().map(|s| s.as_str()).unwrap_or_default()
    } else {
        ""
    };
    let results: Vec<Value> = shown_ids
        .iter()
        .map(|id| json!({ "type": resource.kind, "id": id }))
        .collect();
    Ok(answer(
        &json!({ "results": results, "page": { "next_token": next_token } }),
    ))
}
