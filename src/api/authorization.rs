//! `rbac.v1.AuthorizationService`: the data plane.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::TierClient;
use super::convert;
use super::pb::google::rpc;
use super::pb::rbac::v1 as pb;
use super::status::from_check;
use crate::data_plane::{CheckRequest, Checker};

/// The data-plane service over a [`Checker`].
pub struct AuthorizationApi {
    checker: Arc<Checker>,
    batch_limit: usize,
    /// Some on a sidecar fed by the tier, for what it holds no copy of.
    tier: Option<Arc<TierClient>>,
}

impl AuthorizationApi {
    pub fn new(checker: Arc<Checker>, batch_limit: usize, tier: Option<Arc<TierClient>>) -> Self {
        AuthorizationApi {
            checker,
            batch_limit,
            tier,
        }
    }

    async fn check_one(
        &self,
        request: pb::CheckAccessRequest,
    ) -> Result<pb::CheckAccessResponse, Status> {
        let request = parse_check(request)?;
        let outcome = self
            .checker
            .check(&request)
            .await
            .map_err(|e| from_check(&e))?;
        Ok(convert::check_response_to_pb(outcome))
    }
}

fn parse_check(request: pb::CheckAccessRequest) -> Result<CheckRequest, Status> {
    Ok(CheckRequest {
        subject: convert::check_subject(request.subject)?,
        permission: convert::permission(&request.permission)?,
        target: convert::target(request.target.as_ref())?,
        explain: request.explain,
        min_revision: request.min_revision,
    })
}

fn batch_error(status: &Status) -> pb::BatchCheckResult {
    pb::BatchCheckResult {
        response: None,
        error: Some(rpc::Status {
            code: status.code() as i32,
            message: status.message().to_owned(),
            details: Vec::new(),
        }),
    }
}

#[tonic::async_trait]
impl pb::authorization_service_server::AuthorizationService for AuthorizationApi {
    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        self.check_one(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn batch_check(
        &self,
        request: Request<pb::BatchCheckRequest>,
    ) -> Result<Response<pb::BatchCheckResponse>, Status> {
        let checks = request.into_inner().checks;
        if checks.len() > self.batch_limit {
            return Err(Status::invalid_argument(format!(
                "a batch holds at most {} checks, got {}; split it",
                self.batch_limit,
                checks.len()
            )));
        }
        // Parse every item, decide the valid ones together, answer in request order.
        let parsed: Vec<Result<CheckRequest, Status>> =
            checks.into_iter().map(parse_check).collect();
        let valid: Vec<CheckRequest> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let mut outcomes = self.checker.check_batch(&valid).await.into_iter();
        let results = parsed
            .iter()
            .map(
                |item| match (item, item.as_ref().ok().and_then(|_| outcomes.next())) {
                    (Err(status), _) => batch_error(status),
                    (Ok(_), Some(Ok(outcome))) => pb::BatchCheckResult {
                        response: Some(convert::check_response_to_pb(outcome)),
                        error: None,
                    },
                    (Ok(_), Some(Err(err))) => batch_error(&from_check(&err)),
                    (Ok(_), None) => batch_error(&Status::internal(
                        "internal error; the service log has the details",
                    )),
                },
            )
            .collect();
        Ok(Response::new(pb::BatchCheckResponse { results }))
    }

    async fn list_permitted_tenants(
        &self,
        request: Request<pb::ListPermittedTenantsRequest>,
    ) -> Result<Response<pb::ListPermittedTenantsResponse>, Status> {
        let request = request.into_inner();
        let subject = convert::tenants_subject(request.subject)?;
        let permission = convert::permission(&request.permission)?;
        let (tenants, revision) = self
            .checker
            .permitted_tenants(subject, permission, request.min_revision)
            .await
            .map_err(|e| from_check(&e))?;
        Ok(Response::new(pb::ListPermittedTenantsResponse {
            tenant_ids: tenants.iter().map(ToString::to_string).collect(),
            revision,
        }))
    }

    async fn get_effective_access(
        &self,
        request: Request<pb::GetEffectiveAccessRequest>,
    ) -> Result<Response<pb::GetEffectiveAccessResponse>, Status> {
        let mut request = request.into_inner();
        if let Some(tier) = &self.tier {
            // A sidecar holds no names: the tier answers, at this sidecar's revision or newer.
            let applied = self.checker.cache().applied_revision();
            request.min_revision = request.min_revision.max(applied);
            return tier.effective_access(request).await.map(Response::new);
        }
        let subject = convert::access_subject(request.subject)?;
        let (access, state) = self
            .checker
            .access(subject, request.min_revision)
            .await
            .map_err(|e| from_check(&e))?;
        let access = access.ok_or_else(|| Status::not_found("no user has that id"))?;
        let groups = self
            .checker
            .groups(&access.groups)
            .await
            .map_err(|e| from_check(&e))?;
        Ok(Response::new(convert::effective_access_to_pb(
            &access,
            groups,
            state.revision,
        )))
    }

    async fn get_replica_status(
        &self,
        _request: Request<pb::GetReplicaStatusRequest>,
    ) -> Result<Response<pb::GetReplicaStatusResponse>, Status> {
        let cache = self.checker.cache();
        let applied_revision = cache.applied_revision();
        let latest = cache.newest_revision().await.ok();
        Ok(Response::new(pb::GetReplicaStatusResponse {
            applied_revision,
            latest_revision: latest.unwrap_or_default(),
            lag_revisions: latest.map_or(0, |l| l.saturating_sub(applied_revision)),
            database_reachable: latest.is_some() && cache.is_connected(),
            follower_lag_ms: cache.follower_lag_ms(),
            cached_users: cache.cached_users(),
        }))
    }
}
