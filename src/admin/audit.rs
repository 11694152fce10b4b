//! Reading the audit log: the system permission `audit.view`.

use uuid::Uuid;

use crate::model::permissions::AUDIT_VIEW;
use crate::model::{Action, Scope};
use crate::store::{self, AuditEvent, AuditFilter};

use super::{Actor, Admin, PageSize, Result, next_page};

/// Events per page when none is asked for, and the most a page holds.
const PAGE: PageSize = PageSize {
    default: 50,
    max: 500,
};

/// One page of the audit log.
#[derive(Clone, Debug)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Where the next page starts; None on the last page.
    pub next: Option<(i64, Uuid)>,
}

impl Admin {
    /// Audit events matching the filter, newest first, one page at a time.
    pub async fn list_audit_events(
        &self,
        actor: &Actor,
        mut filter: AuditFilter,
    ) -> Result<AuditPage> {
        self.audited(actor, Action::ListAuditEvents, String::new(), async {
            self.require_at(actor, AUDIT_VIEW, &Scope::Owner)?;
            filter.limit = PAGE.limit(filter.limit);
            let events = store::audit_events(self.store.db(), &filter).await?;
            let next = next_page(&events, filter.limit, |last| (last.at, last.id));
            Ok(AuditPage { events, next })
        })
        .await
    }
}
