//! `envoy.service.auth.v3.Authorization`: Envoy's external authorization, answered by the
//! same checks as CheckAccess. The route map (`[ext_authz]`) turns the HTTP request Envoy
//! describes into a check. Allowed: OK, with `x-rbac-decision` and `x-rbac-revision` added
//! to the upstream request. Anything else is denied with a small JSON body: 403 for a
//! decision or a bad target, 401 without a subject, 503 when the check could not be
//! decided. An error is never an allow.

use std::collections::HashMap;
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::{
    Authorization, CheckRequest, CheckResponse, HeaderAppendAction, HttpStatusCode,
};
use envoy_types::ext_authz::v3::{
    CheckResponseExt, DeniedHttpResponseBuilder, OkHttpResponseBuilder,
};
use envoy_types::pb::google::protobuf::{Struct, value::Kind};
use tonic::{Code, Request, Response, Status};

use super::status::from_check;
use crate::config::ext_authz::{RouteMap, RoutedTarget, SubjectKind, SubjectSource, Unmatched};
use crate::data_plane::{CheckError, CheckRequest as Check, Checker, Subject, TargetRef};
use crate::engine::Decision;
use crate::model::{PermissionId, ResourceRef, TenantId, UserId, catalogue, parse_uuid, shown};
use crate::telemetry::ExtAuthzCounters;

/// The ext_authz service over a [`Checker`] and the route map.
pub struct ExtAuthzApi {
    checker: Arc<Checker>,
    routes: RouteMap,
    counters: ExtAuthzCounters,
}

impl ExtAuthzApi {
    pub fn new(checker: Arc<Checker>, routes: RouteMap, counters: ExtAuthzCounters) -> Self {
        ExtAuthzApi {
            checker,
            routes,
            counters,
        }
    }
}

/// How a request ended, for the answer and the metrics.
enum Outcome {
    Allowed {
        revision: u64,
    },
    Denied {
        decision: Decision,
        permission: PermissionId,
        revision: u64,
    },
    /// Let through by `unmatched = "allow"`.
    Unrouted,
    /// `reason` goes to Envoy (the gRPC status, its log); the client's body gets only
    /// `kind_of(code)`.
    Refused {
        code: Code,
        http: HttpStatusCode,
        reason: String,
    },
}

fn refused(code: Code, http: HttpStatusCode, reason: impl Into<String>) -> Outcome {
    Outcome::Refused {
        code,
        http,
        reason: reason.into(),
    }
}

#[tonic::async_trait]
impl Authorization for ExtAuthzApi {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        let outcome = self.decide(&request.into_inner()).await;
        self.counters.count(match &outcome {
            Outcome::Allowed { .. } => "allowed",
            Outcome::Denied { .. } => "denied",
            Outcome::Unrouted => "unmatched_allowed",
            Outcome::Refused {
                code: Code::Unauthenticated,
                ..
            } => "unauthenticated",
            Outcome::Refused {
                code: Code::Unavailable | Code::Internal,
                ..
            } => "error",
            Outcome::Refused { .. } => "refused",
        });
        Ok(Response::new(answer(outcome)))
    }
}

impl ExtAuthzApi {
    async fn decide(&self, request: &CheckRequest) -> Outcome {
        let attributes = request.attributes.as_ref();
        let Some(http) = attributes.and_then(|a| a.request.as_ref()?.http.as_ref()) else {
            return refused(
                Code::InvalidArgument,
                HttpStatusCode::Forbidden,
                "the check names no HTTP request",
            );
        };
        let headers = &http.headers;
        let header = |name: &str| headers.get(name).map(String::as_str);
        let routed = match self.routes.route(&http.method, &http.path, header) {
            Ok(Some(routed)) => routed,
            Ok(None) if self.routes.unmatched == Unmatched::Allow => return Outcome::Unrouted,
            Ok(None) => {
                return refused(
                    Code::PermissionDenied,
                    HttpStatusCode::Forbidden,
                    format!(
                        "no route of the ext_authz map matches {} {}",
                        shown(&http.method),
                        shown(&http.path)
                    ),
                );
            }
            Err(why) => {
                return refused(
                    Code::InvalidArgument,
                    HttpStatusCode::Forbidden,
                    why.to_string(),
                );
            }
        };
        let metadata = attributes
            .and_then(|a| a.metadata_context.as_ref())
            .map(|m| &m.filter_metadata);
        let subject = match self.subject(header, metadata) {
            Ok(subject) => subject,
            Err(why) => return refused(Code::Unauthenticated, HttpStatusCode::Unauthorized, why),
        };
        let invalid = |e: &dyn std::fmt::Display| {
            let message = format!("{}: {e}", routed.route);
            refused(Code::InvalidArgument, HttpStatusCode::Forbidden, message)
        };
        let target = match &routed.target {
            RoutedTarget::None => TargetRef::None,
            RoutedTarget::Tenant(id) => match TenantId::parse("tenant", id) {
                Ok(id) => TargetRef::Tenant(id),
                Err(e) => return invalid(&e),
            },
            RoutedTarget::Resource(kind, id) => match ResourceRef::named(*kind, id) {
                Ok(resource) => TargetRef::Resource(resource),
                Err(e) => return invalid(&e),
            },
        };
        let check = Check {
            subject,
            permission: routed.permission,
            target,
            explain: false,
            min_revision: 0,
        };
        match self.checker.check(&check).await {
            Ok(outcome) if outcome.decision == Decision::Allowed => Outcome::Allowed {
                revision: outcome.revision,
            },
            Ok(outcome) => Outcome::Denied {
                decision: outcome.decision,
                permission: routed.permission,
                revision: outcome.revision,
            },
            Err(err) => {
                let status = from_check(&err);
                let http = match err {
                    CheckError::Store(_) | CheckError::RevisionNotReached(_) => {
                        HttpStatusCode::ServiceUnavailable
                    }
                    _ => HttpStatusCode::Forbidden,
                };
                refused(status.code(), http, status.message())
            }
        }
    }

    /// The subject, from the configured header or jwt_authn's metadata.
    fn subject<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        metadata: Option<&HashMap<String, Struct>>,
    ) -> Result<Subject, String> {
        let value = match &self.routes.subject {
            SubjectSource::Header(name) => header(name).map(str::to_owned),
            SubjectSource::Metadata { filter, path } => metadata
                .and_then(|m| m.get(filter))
                .and_then(|s| lookup(s, path)),
            SubjectSource::None => {
                return Err(
                    "no [ext_authz] section is configured, so no request has a subject".into(),
                );
            }
        };
        let value = value
            .filter(|v| !v.is_empty())
            .ok_or("the request names no subject (no identity from jwt_authn?)")?;
        match self.routes.subject_kind {
            SubjectKind::AzureObjectId => parse_uuid("subject", &value).map(Subject::AzureObject),
            SubjectKind::UserId => UserId::parse("subject", &value).map(Subject::User),
        }
        .map_err(|e| e.to_string())
    }
}

/// A string at `path` in a protobuf Struct.
fn lookup(root: &Struct, path: &[String]) -> Option<String> {
    let (last, inner) = path.split_last()?;
    let mut current = root;
    for key in inner {
        match current.fields.get(key)?.kind.as_ref()? {
            Kind::StructValue(s) => current = s,
            _ => return None,
        }
    }
    match current.fields.get(last)?.kind.as_ref()? {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// What a refused client is told: the kind of refusal only, so that it learns nothing of
/// tenants, routes or errors (Envoy's log has the reason).
fn kind_of(code: Code) -> &'static str {
    match code {
        Code::Unauthenticated => "unauthenticated",
        Code::NotFound => "not_found",
        Code::InvalidArgument => "bad_request",
        Code::PermissionDenied => "no_route",
        _ => "unavailable",
    }
}

const OVERWRITE: Option<HeaderAppendAction> = Some(HeaderAppendAction::OverwriteIfExistsOrAdd);

fn answer(outcome: Outcome) -> CheckResponse {
    let mut response = CheckResponse::new();
    match outcome {
        Outcome::Allowed { revision } => {
            // Overwritten, never appended: a caller's own x-rbac-* headers do not reach
            // the application.
            let mut ok = OkHttpResponseBuilder::new();
            ok.add_header("x-rbac-decision", "allowed", OVERWRITE, false);
            ok.add_header("x-rbac-revision", revision.to_string(), OVERWRITE, false);
            response
                .set_status(Status::ok("allowed"))
                .set_http_response(ok);
        }
        Outcome::Unrouted => {
            let mut ok = OkHttpResponseBuilder::new();
            ok.add_header("x-rbac-decision", "unmatched", OVERWRITE, false);
            ok.remove_header("x-rbac-revision");
            response
                .set_status(Status::ok("no route matches; unmatched = \"allow\""))
                .set_http_response(ok);
        }
        Outcome::Denied {
            decision,
            permission,
            revision,
        } => {
            let permission = &catalogue().get(permission).key;
            let decision = match decision {
                Decision::Denied => "denied",
                Decision::UserInactive => "user_inactive",
                _ => "not_granted",
            };
            let body = serde_json::json!({ "decision": decision, "permission": permission, "revision": revision });
            response
                .set_status(Status::permission_denied(format!(
                    "{decision}: {permission}"
                )))
                .set_http_response(denied(HttpStatusCode::Forbidden, &body));
        }
        Outcome::Refused { code, http, reason } => {
            tracing::debug!(%reason, "ext_authz refused a request");
            let body = serde_json::json!({ "decision": "refused", "reason": kind_of(code) });
            response
                .set_status(Status::new(code, reason))
                .set_http_response(denied(http, &body));
        }
    }
    response
}

fn denied(status: HttpStatusCode, body: &serde_json::Value) -> DeniedHttpResponseBuilder {
    let mut denied = DeniedHttpResponseBuilder::new();
    denied
        .set_http_status(status)
        .add_header("content-type", "application/json", None, false)
        .set_body(body.to_string());
    denied
}
