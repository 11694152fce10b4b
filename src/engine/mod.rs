//! Decision logic: the tenant index, the effective-access compiler, the decision with its
//! explanation, and scope containment for admin rules. Pure code: no database, no network.

mod containment;
mod decision;
mod effective_access;
mod escalation;
#[cfg(test)]
mod fixtures;
mod preview;
mod tenant_index;

pub use containment::{contains, holds_at, overlaps, resolve_users_tenant};
pub use decision::{AppliedGrant, DecideError, Decision, Target, Verdict, decide};
pub use effective_access::{
    AccessFacts, AssignmentFacts, EffectiveAccess, Grant, RoleFacts, UserFacts,
};
pub use escalation::{
    Reach, Refusal, RefusalReason, Widening, assignable, judge_impersonation, judge_reach,
    scope_kind_permission,
};
pub use preview::{AccessChange, AccessPreview, Diff, World};
pub use tenant_index::{MAX_TENANT_DEPTH, ResourceIndex, TenantIndex, TenantNode};
