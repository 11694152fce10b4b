//! Role assignments, and the access reports: CheckUserAccess, GetMyAccess.

use super::roles::role_id;
use super::{Call, Reply, optional};
use crate::admin::NewAssignment;
use crate::api::convert::{self, invalid};
use crate::api::pb::rbac::v1 as pb;
use crate::model::{AssignmentId, RoleId, catalogue};
use crate::store::AssignmentFilter;
use crate::store::StoredAssignment;

impl Call<'_> {
    pub async fn create_role_assignment(
        self,
        r: pb::CreateRoleAssignmentRequest,
    ) -> Reply<pb::RoleAssignment> {
        let new = NewAssignment {
            role_id: role_id("role_id", &r.role_id)?,
            principal: convert::principal(r.principal.as_ref())?,
            scope: convert::scope(r.scope.as_ref())?,
            effect: convert::effect(r.effect)?,
        };
        let (stored, revision, warnings) = self.admin.create_assignment(&self.actor, new).await?;
        let role_id = stored.assignment.role_id;
        let role_name = self.admin.role_names(&[role_id]).await?.remove(&role_id);
        Ok(pb::RoleAssignment {
            warnings,
            ..assignment_to_pb(&stored, role_name.unwrap_or_default(), revision)
        })
    }

    pub async fn delete_role_assignment(self, r: pb::DeleteRoleAssignmentRequest) -> Reply<u64> {
        let id = AssignmentId::parse("assignment_id", &r.assignment_id)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(self.admin.delete_assignment(&self.actor, id).await?)
    }

    pub async fn list_role_assignments(
        self,
        r: pb::ListRoleAssignmentsRequest,
    ) -> Reply<pb::ListRoleAssignmentsResponse> {
        let principal = r
            .principal
            .as_ref()
            .filter(|p| p.kind.is_some())
            .map(|p| convert::principal(Some(p)))
            .transpose()?;
        let filter = AssignmentFilter {
            role: optional(&r.role_id, |v| role_id("role_id", v))?,
            after: optional(&r.page_token, |v| {
                AssignmentId::parse("page_token", v).map_err(|e| invalid(e.to_string()))
            })?,
            limit: Some(u64::from(r.page_size)),
            ..AssignmentFilter::default()
        };
        let (assignments, next) = self
            .admin
            .list_assignments(&self.actor, principal, r.direct_only, filter)
            .await?;
        let role_ids: Vec<RoleId> = assignments.iter().map(|a| a.assignment.role_id).collect();
        let names = self.admin.role_names(&role_ids).await?;
        Ok(pb::ListRoleAssignmentsResponse {
            role_assignments: assignments
                .iter()
                .map(|stored| {
                    let name = names.get(&stored.assignment.role_id).cloned();
                    assignment_to_pb(stored, name.unwrap_or_default(), 0)
                })
                .collect(),
            next_page_token: next.map(|a| a.to_string()).unwrap_or_default(),
        })
    }

    pub async fn check_user_access(
        self,
        r: pb::CheckUserAccessRequest,
    ) -> Reply<pb::CheckUserAccessResponse> {
        let user = convert::user_id("user_id", &r.user_id)?;
        let target = convert::target(r.target.as_ref())?;
        let report = self
            .admin
            .check_user_access(&self.actor, user, target)
            .await?;
        let revision = report.first().map_or(0, |(_, o)| o.revision);
        Ok(pb::CheckUserAccessResponse {
            user_id: user.to_string(),
            permissions: report
                .into_iter()
                .map(|(permission, outcome)| {
                    let response = convert::check_response_to_pb(outcome);
                    pb::PermissionAccess {
                        permission: catalogue().get(permission).key.clone(),
                        allowed: response.allowed,
                        decision: response.decision,
                        reasons: response.explanation,
                    }
                })
                .collect(),
            revision,
        })
    }

    pub async fn get_my_access(
        self,
        _: pb::GetMyAccessRequest,
    ) -> Reply<pb::GetEffectiveAccessResponse> {
        let (access, groups, revision) = self.admin.my_access(&self.actor).await?;
        Ok(convert::effective_access_to_pb(&access, groups, revision))
    }
}

fn assignment_to_pb(
    stored: &StoredAssignment,
    role_name: String,
    revision: u64,
) -> pb::RoleAssignment {
    let assignment = &stored.assignment;
    pb::RoleAssignment {
        id: assignment.id.to_string(),
        role_id: assignment.role_id.to_string(),
        principal: Some(convert::principal_to_pb(assignment.principal)),
        scope: Some(convert::scope_to_pb(&assignment.scope)),
        effect: convert::effect_to_pb(assignment.effect),
        revision,
        warnings: Vec::new(),
        created_by_user_id: stored.created_by.map(|u| u.to_string()).unwrap_or_default(),
        created_at_unix: stored.created_at,
        role_name,
        preview: None,
    }
}
