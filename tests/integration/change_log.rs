//! The change log: a replica left behind a compacted log cannot know what it missed, so
//! it drops its cache and resyncs instead of serving what it had.

use std::sync::Arc;

use rbac_sidecar::admin::{Actor, ActorRef, Admin, Identity, NewAssignment, NewRole, NewTenant};
use rbac_sidecar::cache::{AccessCache, CacheConfig, CacheCounters};
use rbac_sidecar::data_plane::{CheckRequest, Checker, Subject, TargetRef};
use rbac_sidecar::engine::Decision;
use rbac_sidecar::model::{
    Action, Effect, Principal, Role, Scope, Tenant, User, catalogue, unix_now,
};
use rbac_sidecar::store::Store;

use crate::support::ADMIN;

/// Replica A on a fresh SQLite file (kept while the directory lives): its cache, an
/// admin over it, the bootstrap administrator as actor, and an MSP tenant.
async fn replica_a() -> (
    tempfile::TempDir,
    String,
    Arc<AccessCache>,
    Admin,
    Actor,
    Tenant,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rbac.db").display());
    let a = AccessCache::load(
        Arc::new(Store::open(&url).await.unwrap()),
        &CacheConfig::default(),
    )
    .await
    .unwrap();
    let admin = Admin::new(Arc::clone(a.store().unwrap()), Arc::clone(&a));
    admin.bootstrap(ADMIN.parse().unwrap()).await.unwrap();
    let actor = admin
        .actor(
            ActorRef::AzureObject(ADMIN.parse().unwrap()),
            Action::GetMyAccess,
        )
        .await
        .unwrap();
    let new_tenant = NewTenant {
        name: "msp".into(),
        parent: None,
        is_msp: true,
    };
    let (msp, _) = admin.create_tenant(&actor, new_tenant).await.unwrap();
    (dir, url, a, admin, actor, msp)
}

/// A user of the tenant with this Azure object id, given a new role with
/// `computers.view` at Owner scope: the user, the role, and the revision of the grant.
async fn viewer(
    admin: &Admin,
    actor: &Actor,
    tenant: &Tenant,
    azure_object_id: uuid::Uuid,
) -> (User, Role, u64) {
    let new_user = Identity {
        tenant_id: tenant.id,
        email: format!("{azure_object_id}@example.com"),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: azure_object_id.to_string(),
    };
    let (user, _) = admin.create_user(actor, new_user).await.unwrap();
    let new_role = NewRole {
        name: "r".into(),
        description: String::new(),
        owner: None,
        permissions: vec!["computers.view".into()],
    };
    let (role, _, _) = admin.create_role(actor, new_role).await.unwrap();
    let grant = NewAssignment {
        role_id: role.id,
        principal: Principal::User(user.id),
        scope: Scope::Owner,
        effect: Effect::Allow,
    };
    let (_, granted_at, _) = admin.create_assignment(actor, grant).await.unwrap();
    (user, role, granted_at)
}

#[tokio::test]
async fn a_replica_behind_a_compacted_log_resyncs() {
    // Replica A writes; replica B is never told, and follows only when asked.
    let (_dir, url, a, admin, actor, msp) = replica_a().await;
    let config = CacheConfig::default();
    let (tech, role, _) = viewer(&admin, &actor, &msp, uuid::Uuid::new_v4()).await;

    let b = AccessCache::load(Arc::new(Store::open(&url).await.unwrap()), &config)
        .await
        .unwrap();
    let checker = Checker::new(Arc::clone(&b), std::time::Duration::from_millis(100));
    let request = CheckRequest {
        subject: Subject::User(tech.id),
        permission: catalogue().id("computers.view").unwrap(),
        target: TargetRef::Tenant(msp.id),
        explain: false,
        min_revision: 0,
    };
    assert_eq!(
        checker.check(&request).await.unwrap().decision,
        Decision::Allowed
    );

    // A denies, then the log is compacted past B before B follows.
    let deny = NewAssignment {
        role_id: role.id,
        principal: Principal::User(tech.id),
        scope: Scope::Tenant(msp.id),
        effect: Effect::Deny,
    };
    let (_, denied_at, _) = admin.create_assignment(&actor, deny).await.unwrap();
    let filler = NewTenant {
        name: "later".into(),
        parent: None,
        is_msp: false,
    };
    let (_, newest) = admin.create_tenant(&actor, filler).await.unwrap();
    let deleted = a
        .store()
        .unwrap()
        .compact_change_log(unix_now() + 1)
        .await
        .unwrap();
    assert!(deleted >= 1);
    assert_eq!(
        a.store().unwrap().oldest_revision().await.unwrap(),
        newest,
        "the newest revision is always kept"
    );
    assert!(b.applied_revision() < denied_at);

    b.catch_up().await.unwrap();
    assert_eq!(b.applied_revision(), newest);
    assert_eq!(
        checker.check(&request).await.unwrap().decision,
        Decision::Denied,
        "the missed deny is seen"
    );
}

/// A subject with no user is remembered, so repeated checks for it do not reach the
/// database, and forgotten as soon as any user changes, so a user created for it is seen
/// at once.
#[tokio::test]
async fn an_unknown_subject_is_remembered_until_a_user_is_created() {
    let (_dir, url, _a, admin, actor, msp) = replica_a().await;

    // Replica B, which follows only when asked, is asked about a stranger twice.
    let counters = CacheCounters::default();
    let config = CacheConfig {
        counters: counters.clone(),
        ..CacheConfig::default()
    };
    let b = AccessCache::load(Arc::new(Store::open(&url).await.unwrap()), &config)
        .await
        .unwrap();
    let checker = Checker::new(Arc::clone(&b), std::time::Duration::from_millis(100));
    let stranger = uuid::Uuid::new_v4();
    let request = CheckRequest {
        subject: Subject::AzureObject(stranger),
        permission: catalogue().id("computers.view").unwrap(),
        target: TargetRef::Tenant(msp.id),
        explain: false,
        min_revision: 0,
    };
    for _ in 0..2 {
        let outcome = checker.check(&request).await.unwrap();
        assert_eq!(outcome.decision, Decision::UserInactive);
    }
    assert_eq!(
        counters.hits.get(),
        1,
        "the second check was answered from memory"
    );

    // A creates the user and grants them; once B has followed, B sees them.
    let (_, _, granted_at) = viewer(&admin, &actor, &msp, stranger).await;
    b.catch_up().await.unwrap();
    assert_eq!(b.applied_revision(), granted_at);
    assert_eq!(
        checker.check(&request).await.unwrap().decision,
        Decision::Allowed
    );
}
