//! Decision logic: the tenant index, the effective-access compiler, the decision with its
//! explanation, and scope containment for admin rules. Pure code: no database, no network.

mod access;
mod containment;
mod decision;
mod escalation;
#[cfg(test)]
mod fixtures;
mod tenant_index;

pub use access::{AssignmentFacts, EffectiveAccess, Grant, RoleFacts, UserFacts};
pub use containment::{contains, holds_at, overlaps, resolve_users_tenant};
pub use decision::{Applied, DecideError, Decision, Target, Verdict, decide};
pub use escalation::{
    Reach, Refusal, RefusalReason, Widening, assignable, judge_reach, scope_kind_permission,
};
pub use tenant_index::{MAX_TENANT_DEPTH, ResourceIndex, TenantIndex, TenantNode};
