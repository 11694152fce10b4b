//! Instance preferences, impersonation, the audit log, and the instance as a file.

use tonic::Status;

use super::answers::Written;
use super::{Call, Reply, named, optional};
use crate::api::convert::{self, invalid};
use crate::api::pb::rbac::v1 as pb;
use crate::instance::InstanceFile;
use crate::model::Preferences;
use crate::store::AuditFilter;

impl Call<'_> {
    pub async fn export_instance(
        self,
        _: pb::ExportInstanceRequest,
    ) -> Reply<pb::ExportInstanceResponse> {
        let (file, revision) = self.admin.export_instance(&self.actor).await?;
        let instance = file.to_yaml().map_err(Status::internal)?;
        Ok(pb::ExportInstanceResponse { instance, revision })
    }

    pub async fn apply_instance(
        self,
        r: pb::ApplyInstanceRequest,
    ) -> Reply<pb::ApplyInstanceResponse> {
        let file = InstanceFile::from_yaml(&r.instance)
            .map_err(|e| invalid(format!("`instance` is not an instance file: {e}")))?;
        let (plan, revision) = self.admin.apply_instance(&self.actor, &file).await?;
        Ok(pb::ApplyInstanceResponse {
            created: plan.created,
            changed: plan.changed,
            removed: plan.removed,
            revision,
            preview: None,
        })
    }

    pub async fn get_preferences(self, _: pb::GetPreferencesRequest) -> Reply<Preferences> {
        Ok(self.admin.preferences().await?)
    }

    pub async fn update_preferences(
        self,
        r: pb::UpdatePreferencesRequest,
    ) -> Reply<Written<Preferences>> {
        let wanted = Preferences {
            impersonation_enabled: r.impersonation_enabled,
        };
        Ok(self.admin.update_preferences(&self.actor, wanted).await?)
    }

    pub async fn start_impersonation(
        self,
        r: pb::StartImpersonationRequest,
    ) -> Reply<pb::StartImpersonationResponse> {
        let target = convert::user_id("user_id", &r.user_id)?;
        let user = self.admin.start_impersonation(&self.actor, target).await?;
        Ok(pb::StartImpersonationResponse {
            user: Some(user.into()),
            preview: None,
        })
    }

    pub async fn list_audit_events(
        self,
        r: pb::ListAuditEventsRequest,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let filter = AuditFilter {
            actor: optional(&r.actor_user_id, |v| convert::user_id("actor_user_id", v))?,
            action: named(
                "action",
                &r.action,
                "an AdminService method, e.g. `CreateTenant`",
            )?,
            outcome: named("outcome", &r.outcome, "`succeeded` or `refused`")?,
            since: (r.since_unix != 0).then_some(r.since_unix),
            until: (r.until_unix != 0).then_some(r.until_unix),
            after: optional(&r.page_token, page_token)?,
            limit: u64::from(r.page_size),
        };
        let page = self.admin.list_audit_events(&self.actor, filter).await?;
        let next_page_token = page
            .next
            .map(|(at, id)| format!("{at}.{id}"))
            .unwrap_or_default();
        let id = |u: Option<crate::model::UserId>| u.map(|u| u.to_string()).unwrap_or_default();
        Ok(pb::ListAuditEventsResponse {
            events: page
                .events
                .into_iter()
                .map(|e| pb::AuditEvent {
                    id: e.id.to_string(),
                    at_unix: e.at,
                    actor_user_id: id(e.record.actor),
                    impersonator_user_id: id(e.record.impersonator),
                    action: e.record.action.as_str().to_owned(),
                    target: e.record.target,
                    before: e.record.before.unwrap_or_default(),
                    after: e.record.after.unwrap_or_default(),
                    outcome: e.record.outcome.as_str().to_owned(),
                    detail: e.record.detail,
                })
                .collect(),
            next_page_token,
        })
    }
}

/// A page token is the last event's `at` and `id`, as handed out by ListAuditEvents.
fn page_token(token: &str) -> Result<(i64, uuid::Uuid), Status> {
    let invalid = || {
        invalid(format!(
            "`page_token` `{token}` is not one this service handed out"
        ))
    };
    let (at, id) = token.split_once('.').ok_or_else(invalid)?;
    Ok((
        at.parse().map_err(|_| invalid())?,
        id.parse().map_err(|_| invalid())?,
    ))
}
