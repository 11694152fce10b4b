//! The instance as code: a random world (the differential test's generator) exported,
//! applied to another database, decides every (user, permission, target) as the original
//! and exports byte-identically; then a change on the original, carried over by apply,
//! again. An apply whose plan is empty writes no revision; a malformed file, or one that
//! would lock every administrator out, writes nothing.

use proptest::prelude::*;
use rbac_sidecar::admin::ActorRef;
use rbac_sidecar::data_plane::{CheckRequest, Subject, TargetRef};
use rbac_sidecar::instance::{self, InstanceFile};
use rbac_sidecar::model::{Action, catalogue};
use rbac_sidecar::server::Server;
use rbac_sidecar::store::max_revision;

use crate::differential::{Harness, world_plan};
use crate::support::{ADMIN, Backend, in_process_server};

/// The file of `server`'s instance, as text.
async fn export(server: &Server) -> String {
    instance::export(&server.store)
        .await
        .expect("export")
        .to_yaml()
        .expect("yaml")
}

/// Applies `yaml` to `server`; the revision it wrote.
async fn apply(server: &Server, yaml: &str) -> Option<u64> {
    let file = InstanceFile::from_yaml(yaml).expect("the export reads back");
    instance::apply(&server.store, &file, false)
        .await
        .expect("apply")
        .revision
}

/// Every (user, permission, target) of the world decides the same on both servers.
async fn same_decisions(
    original: &Server,
    copy: &Server,
    harness: &Harness,
    revision: u64,
) -> Result<(), TestCaseError> {
    let m = &harness.model;
    let mut targets = vec![TargetRef::None];
    targets.extend(m.tenants.iter().map(|t| TargetRef::Tenant(t.0)));
    targets.extend(m.resources.iter().map(|r| TargetRef::Resource(r.0.clone())));
    for (user, _, _) in &m.users {
        for permission in catalogue().permissions() {
            let permission = catalogue().id(&permission.key).expect("a key");
            for target in &targets {
                if matches!(target, TargetRef::None) != catalogue().is_system(permission) {
                    continue;
                }
                let request = |min_revision| CheckRequest {
                    subject: Subject::User(*user),
                    permission,
                    target: target.clone(),
                    explain: false,
                    min_revision,
                };
                let want = original.checker.check(&request(0)).await.expect("check");
                let got = copy.checker.check(&request(revision)).await.expect("check");
                prop_assert_eq!(got.decision, want.decision, "{:?} {:?}", user, target);
            }
        }
    }
    Ok(())
}

fn round_trips(backend: Backend, cases: u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ProptestConfig {
        cases,
        ..ProptestConfig::default()
    };
    let wait = |c: &mut rbac_sidecar::config::ServeConfig| c.min_revision_wait_ms = 10_000;
    let Some((original, actor, original_db)) = runtime.block_on(in_process_server(backend, wait))
    else {
        return;
    };
    let Some((copy, _, copy_db)) = runtime.block_on(in_process_server(backend, wait)) else {
        return;
    };
    proptest!(config, |(plan in world_plan())| {
        runtime.block_on(async {
            let mut harness = Harness::new(&original, &actor);
            harness.build(&plan).await;
            let exported = export(&original).await;
            let revision = apply(&copy, &exported).await.unwrap_or_default();
            same_decisions(&original, &copy, &harness, revision).await?;
            prop_assert_eq!(&export(&copy).await, &exported, "the copy exports differently");
            // Nothing differs: no revision.
            let before = max_revision(copy.store.db()).await.expect("revision");
            prop_assert_eq!(apply(&copy, &exported).await, None);
            prop_assert_eq!(max_revision(copy.store.db()).await.expect("revision"), before);
            // A change on the original, carried over through AdminService's use-case
            // (`apply --server`), as the copy's administrator.
            harness.change(&plan.changes[0]).await;
            let changed = export(&original).await;
            let admin = copy
                .admin
                .actor(ActorRef::AzureObject(ADMIN.parse().expect("uuid")), Action::ApplyInstance)
                .await
                .expect("the administrator came with the file");
            let file = InstanceFile::from_yaml(&changed).expect("reads");
            let (_, revision) = copy.admin.apply_instance(&admin, &file).await.expect("applied");
            same_decisions(&original, &copy, &harness, revision).await?;
            prop_assert_eq!(&export(&copy).await, &changed);
            Ok(())
        })?;
    });
    runtime.block_on(async {
        original_db.remove().await;
        copy_db.remove().await;
    });
}

#[test]
fn an_exported_world_applied_elsewhere_decides_and_exports_the_same() {
    round_trips(Backend::Sqlite, 40);
}

#[test]
fn on_postgres_an_exported_world_applied_elsewhere_decides_and_exports_the_same() {
    round_trips(Backend::Postgres, 8);
}

#[tokio::test]
async fn a_file_that_is_not_a_whole_instance_is_refused_with_its_place_and_writes_nothing() {
    let Some((server, _, db)) = in_process_server(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let exported = export(&server).await;
    let revision = max_revision(server.store.db()).await.expect("revision");
    let file = InstanceFile::from_yaml(&exported).expect("reads");
    let tenant = file.tenants[0].id;
    let user = file.users[0].id;
    let other = uuid::Uuid::new_v4();
    // Each edit of the exported file, the place its refusal names, and words it says.
    type Edit = Box<dyn Fn(&mut InstanceFile)>;
    let edits: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|f| {
                f.roles.push(rbac_sidecar::instance::RoleEntry {
                    id: uuid::Uuid::new_v4(),
                    name: "Typo".into(),
                    description: String::new(),
                    owner: None,
                    permissions: vec!["computers.view".into(), "computers.veiw".into()],
                })
            }),
            "roles[0].permissions[1]",
            "computers.veiw",
        ),
        (
            Box::new(move |f| f.users[0].tenant = other),
            "users[0].tenant",
            "no tenant",
        ),
        (
            Box::new(move |f| {
                let mut child = f.tenants[0].clone();
                child.id = other;
                child.parent = Some(tenant);
                f.tenants[0].parent = Some(other);
                f.tenants.push(child);
            }),
            "tenants[0].parent",
            "cycle",
        ),
        (
            Box::new(move |f| {
                let mut twin = f.users[0].clone();
                twin.id = user;
                twin.azure_object_id = uuid::Uuid::new_v4();
                f.users.push(twin);
            }),
            "users[1].id",
            "is also the id of users[0]",
        ),
        (
            Box::new(move |f| {
                let mut customer = f.tenants[0].clone();
                customer.id = other;
                customer.parent = Some(tenant);
                customer.msp = false;
                f.tenants.push(customer);
                let mut scoped = f.assignments[0].clone();
                scoped.id = uuid::Uuid::new_v4();
                scoped.scope = rbac_sidecar::instance::ScopeEntry::Msp(other);
                f.assignments.push(scoped);
            }),
            "assignments[1].scope",
            "is not an MSP",
        ),
        (
            Box::new(move |f| {
                let mut customer = f.tenants[0].clone();
                customer.id = other;
                customer.parent = Some(tenant);
                f.tenants.push(customer);
                f.groups.push(rbac_sidecar::instance::GroupEntry {
                    id: uuid::Uuid::new_v4(),
                    name: "Customer staff".into(),
                    description: String::new(),
                    owner: Some(other),
                    members: vec![user],
                });
            }),
            "groups[0].members[0]",
            "only its users may join",
        ),
        (
            Box::new(|f| f.assignments.clear()),
            "",
            "no active user allowed `rbac.assign-owner-scope`",
        ),
    ];
    for (edit, path, words) in edits {
        let mut file = InstanceFile::from_yaml(&exported).expect("reads");
        edit(&mut file);
        let err = instance::apply(&server.store, &file, false)
            .await
            .expect_err("refused")
            .to_string();
        assert!(err.contains(path) && err.contains(words), "{err}");
    }
    let malformed = InstanceFile::from_yaml("format: 1\ntenants:\n  - name: [not a name]\n");
    assert!(malformed.expect_err("malformed").contains("line"));
    assert_eq!(
        max_revision(server.store.db()).await.expect("revision"),
        revision
    );
    assert_eq!(export(&server).await, exported, "a refusal wrote something");
    drop(server);
    db.remove().await;
}

/// `rbac-sidecar ARGS`: exit code, stdout, stderr.
fn cli(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rbac-sidecar"))
        .args(args)
        .output()
        .expect("run rbac-sidecar");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_command_applies_through_a_server_as_its_actor_who_needs_every_right() {
    use crate::support::{Replica, as_actor, as_admin, world};
    use rbac_sidecar::api::pb::rbac::v1 as pb;
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rbac.db").display());
    let mut replica = Replica::spawn(&url).await;
    let at = replica.address.clone();
    let msp = world::tenant(&mut replica.admin, "Contoso", None, false).await;
    let tech = world::user(&mut replica.admin, &msp.id).await;
    let tags = |admin: &mut world::Admin| {
        let mut admin = admin.clone();
        async move {
            let answer = admin
                .list_tags(as_admin(pb::ListTagsRequest {}))
                .await
                .expect("tags");
            answer.into_inner().tags.len()
        }
    };

    // Exported as the administrator, edited, previewed, refused to a technician, applied.
    let (code, exported, err) = cli(&["export", "--server", &at, "--actor-object-id", ADMIN]);
    assert_eq!(code, 0, "{err}");
    let mut file = InstanceFile::from_yaml(&exported).expect("reads");
    file.tags.push(rbac_sidecar::instance::TagEntry {
        id: uuid::Uuid::new_v4(),
        name: "Managed in Git".into(),
    });
    let path = dir.path().join("instance.yaml");
    std::fs::write(&path, file.to_yaml().expect("yaml")).expect("write");
    let path = path.display().to_string();
    let server = ["--server", at.as_str()];
    let as_user = |oid: &str| ["--actor-object-id".to_owned(), oid.to_owned()];
    let admin_args = as_user(ADMIN);
    let mut dry = vec!["apply", path.as_str(), "--dry-run", "--detailed-exitcode"];
    dry.extend(server);
    dry.extend(admin_args.iter().map(String::as_str));
    let (code, plan, err) = cli(&dry);
    assert_eq!(code, 2, "a non-empty plan: {plan}{err}");
    assert!(plan.contains("+ tag `Managed in Git`"), "{plan}");
    assert_eq!(tags(&mut replica.admin).await, 0, "the dry run wrote");

    let tech_args = as_user(&tech.azure_object_id);
    let mut refused = vec!["apply", path.as_str()];
    refused.extend(server);
    refused.extend(tech_args.iter().map(String::as_str));
    let (code, _, err) = cli(&refused);
    assert_eq!(code, 1);
    assert!(
        err.contains("PERMISSION_DENIED") && err.contains("lacks"),
        "{err}"
    );
    assert_eq!(tags(&mut replica.admin).await, 0, "a refused apply wrote");
    // The technician cannot read the whole instance either.
    let denied = replica
        .admin
        .export_instance(as_actor(
            &tech.azure_object_id,
            pb::ExportInstanceRequest {},
        ))
        .await;
    assert_eq!(
        denied.expect_err("refused").code(),
        tonic::Code::PermissionDenied
    );

    let mut real = vec!["apply", path.as_str()];
    real.extend(server);
    real.extend(admin_args.iter().map(String::as_str));
    let (code, out, err) = cli(&real);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Applied in revision"), "{out}");
    assert_eq!(tags(&mut replica.admin).await, 1);
    let (code, out, _) = cli(&real);
    assert_eq!(code, 0);
    assert!(out.starts_with("No changes"), "{out}");
}
