//! The whole admin plane over real gRPC: the happy path of every call, and the rules
//! that are not about who may call them (cycles, deletes refused while in use, the
//! tenant-owned group rule, access request states), on SQLite and PostgreSQL.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::support::world::{
    self, Admin, Authz, assert_status, built_in, grant, group, impersonating, owned_role,
};
use crate::support::{ADMIN, Backend, TestServer, as_admin, on_both_backends};

use pb::principal::Kind::{GroupId as ToGroup, UserId as ToUser};
use pb::scope::Kind as At;

on_both_backends!(
    tenants_and_tags,
    users_persons_and_access_requests,
    roles_groups_and_assignments,
    check_access_profile_and_impersonation,
);

async fn decision(authz: &mut Authz, user: &str, permission: &str, tenant: &str) -> pb::Decision {
    world::check(authz, user, permission, tenant, 0)
        .await
        .unwrap()
}

async fn tenants_and_tags(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut server.admin.clone();
    let north = world::tenant(admin, "north", None, true).await;
    let south = world::tenant(admin, "south", None, true).await;
    let acme = world::tenant(admin, "acme", Some(&north.id), false).await;
    let branch = world::tenant(admin, "acme branch", Some(&acme.id), false).await;
    let tech = world::user(admin, &north.id).await;
    let viewer = world::role(admin, &["computers.view"]).await;
    grant(
        admin,
        &viewer.id,
        ToUser(tech.id.clone()),
        At::MspTenantId(north.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    assert_eq!(
        decision(&mut server.authz, &tech.id, "computers.view", &branch.id).await,
        pb::Decision::Allowed
    );

    let got = admin
        .get_tenant(as_admin(pb::GetTenantRequest {
            tenant_id: acme.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (got.name.as_str(), got.parent_tenant_id.as_str()),
        ("acme", north.id.as_str())
    );
    let children = admin
        .list_tenants(as_admin(pb::ListTenantsRequest {
            parent_tenant_id: north.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .tenants;
    assert_eq!(
        children.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["acme"]
    );
    let all = admin
        .list_tenants(as_admin(pb::ListTenantsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(all.tenants.len() >= 4, "{:?}", all.tenants);

    // A move never loops; a real move changes MSP-scope access at once.
    let update = |parent: &str| pb::UpdateTenantRequest {
        tenant_id: acme.id.clone(),
        name: String::new(),
        parent_tenant_id: Some(parent.to_owned()),
        validate_only: false,
    };
    assert_status(
        admin.update_tenant(as_admin(update(&branch.id))).await,
        Code::FailedPrecondition,
        "loop",
    );
    assert_status(
        admin.update_tenant(as_admin(update(&acme.id))).await,
        Code::FailedPrecondition,
        "loop",
    );
    let moved = admin
        .update_tenant(as_admin(update(&south.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.parent_tenant_id, south.id);
    assert_eq!(
        decision(&mut server.authz, &tech.id, "computers.view", &branch.id).await,
        pb::Decision::NotGranted
    );
    let renamed = admin
        .update_tenant(as_admin(pb::UpdateTenantRequest {
            tenant_id: acme.id.clone(),
            name: "Acme Ltd".into(),
            parent_tenant_id: Some(String::new()),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (renamed.name.as_str(), renamed.parent_tenant_id.as_str()),
        ("Acme Ltd", "")
    );

    // Tags: renamed, unique, and not deleted while a tenant carries them.
    let tag = admin
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "gold".into(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    admin
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "silver".into(),
            validate_only: false,
        }))
        .await
        .unwrap();
    let rename = |name: &str| pb::UpdateTagRequest {
        tag_id: tag.id.clone(),
        name: name.into(),
        validate_only: false,
    };
    assert_status(
        admin.update_tag(as_admin(rename("silver"))).await,
        Code::AlreadyExists,
        "silver",
    );
    assert_eq!(
        admin
            .update_tag(as_admin(rename("platinum")))
            .await
            .unwrap()
            .into_inner()
            .name,
        "platinum"
    );
    let tags = admin
        .list_tags(as_admin(pb::ListTagsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .tags;
    assert_eq!(
        tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["platinum", "silver"]
    );
    let tagging = pb::AddTenantTagRequest {
        tenant_id: branch.id.clone(),
        tag_id: tag.id.clone(),
        validate_only: false,
    };
    admin.add_tenant_tag(as_admin(tagging)).await.unwrap();
    let delete_tag = || {
        as_admin(pb::DeleteTagRequest {
            tag_id: tag.id.clone(),
            validate_only: false,
        })
    };
    assert_status(
        admin.delete_tag(delete_tag()).await,
        Code::FailedPrecondition,
        "1 tenants carry it",
    );
    let untag = pb::RemoveTenantTagRequest {
        tenant_id: branch.id.clone(),
        tag_id: tag.id.clone(),
        validate_only: false,
    };
    admin.remove_tenant_tag(as_admin(untag)).await.unwrap();
    admin.delete_tag(delete_tag()).await.unwrap();

    // A tenant in use is not deleted; an unused one is.
    let delete = |id: &str| {
        as_admin(pb::DeleteTenantRequest {
            tenant_id: id.into(),
            validate_only: false,
        })
    };
    assert_status(
        admin.delete_tenant(delete(&north.id)).await,
        Code::FailedPrecondition,
        "1 users",
    );
    assert_status(
        admin.delete_tenant(delete(&acme.id)).await,
        Code::FailedPrecondition,
        "1 child tenants",
    );
    admin.delete_tenant(delete(&branch.id)).await.unwrap();
    assert_status(
        admin
            .get_tenant(as_admin(pb::GetTenantRequest {
                tenant_id: branch.id.clone(),
            }))
            .await,
        Code::NotFound,
        &branch.id,
    );
    assert_status(
        server
            .authz
            .check_access(world::check_request(
                &tech.id,
                "computers.view",
                &branch.id,
                0,
            ))
            .await,
        Code::NotFound,
        &branch.id,
    );
    server.stop().await;
}

fn identity(tenant: &str, object_id: &str, email: &str) -> pb::SubmitAccessRequestRequest {
    pb::SubmitAccessRequestRequest {
        tenant_id: tenant.into(),
        azure_object_id: object_id.into(),
        email: email.into(),
        first_name: "Pat".into(),
        last_name: "Doe".into(),
        validate_only: false,
    }
}

async fn users_persons_and_access_requests(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut server.admin.clone();
    let msp = world::tenant(admin, "msp", None, true).await;
    let acme = world::tenant(admin, "acme", Some(&msp.id), false).await;
    let alice = world::user(admin, &acme.id).await;
    let bob = world::user(admin, &acme.id).await;
    let users_of_acme = |query: &str, page_token: String| pb::ListUsersRequest {
        tenant_id: acme.id.clone(),
        query: query.into(),
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first = admin
        .list_users(as_admin(users_of_acme("", String::new())))
        .await
        .unwrap()
        .into_inner();
    let second = admin
        .list_users(as_admin(users_of_acme("", first.next_page_token.clone())))
        .await
        .unwrap()
        .into_inner();
    let third = admin
        .list_users(as_admin(users_of_acme("", second.next_page_token.clone())))
        .await
        .unwrap()
        .into_inner();
    let mut paged: Vec<String> = [first.users, second.users, third.users]
        .concat()
        .into_iter()
        .map(|u| u.id)
        .collect();
    paged.sort();
    let mut expected = vec![alice.id.clone(), bob.id.clone()];
    expected.sort();
    assert_eq!(paged, expected, "two users in pages of one, each once");
    let found = admin
        .list_users(as_admin(users_of_acme(
            &alice.email[..8].to_uppercase(),
            String::new(),
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found.users[0].id, alice.id,
        "the query matches the email, ignoring case"
    );

    let got = admin
        .get_user(as_admin(pb::GetUserRequest {
            user_id: alice.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (got.email, got.origin.as_str()),
        (alice.email.clone(), "manual")
    );

    // Update: an expiry in the past makes the user inactive at once.
    let expired = admin
        .update_user(as_admin(pb::UpdateUserRequest {
            user_id: bob.id.clone(),
            email: "bob@example.com".into(),
            first_name: "Bob".into(),
            last_name: "Builder".into(),
            expires_at_unix: 1,
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (expired.email.as_str(), expired.expires_at_unix),
        ("bob@example.com", 1)
    );
    let viewer = world::role(admin, &["computers.view"]).await;
    grant(
        admin,
        &viewer.id,
        ToUser(bob.id.clone()),
        At::TenantId(acme.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    assert_eq!(
        decision(&mut server.authz, &bob.id, "computers.view", &acme.id).await,
        pb::Decision::UserInactive
    );
    let disabled = admin
        .list_users(as_admin(pb::ListUsersRequest {
            disabled: Some(false),
            query: "builder".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(disabled.users.len(), 1);

    // Delete: with their direct assignments and memberships; the object id is free again.
    let team = group(admin, "team", Some(&acme.id)).await;
    admin
        .add_group_member(as_admin(pb::AddGroupMemberRequest {
            group_id: team.id.clone(),
            user_id: bob.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap();
    admin
        .delete_user(as_admin(pb::DeleteUserRequest {
            user_id: bob.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap();
    assert_status(
        admin
            .get_user(as_admin(pb::GetUserRequest {
                user_id: bob.id.clone(),
            }))
            .await,
        Code::NotFound,
        &bob.id,
    );
    let members = admin
        .list_group_members(as_admin(pb::ListGroupMembersRequest {
            group_id: team.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .members;
    assert!(members.is_empty());
    let held = admin
        .list_role_assignments(as_admin(pb::ListRoleAssignmentsRequest {
            role_id: viewer.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        held.role_assignments.is_empty(),
        "direct assignments went with the user"
    );
    assert_eq!(
        decision(&mut server.authz, &bob.id, "computers.view", &acme.id).await,
        pb::Decision::UserInactive
    );
    world::user_with_object_id(admin, &acme.id, &expired.azure_object_id).await;
    let me = admin
        .get_my_access(as_admin(pb::GetMyAccessRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_status(
        admin
            .delete_user(as_admin(pb::DeleteUserRequest {
                user_id: me.user_id.clone(),
                validate_only: false,
            }))
            .await,
        Code::FailedPrecondition,
        "themselves",
    );

    // Persons, as synced from the identity provider, promoted to users.
    let person_oid = "9e750a5e-0000-4000-8000-000000000001";
    let upsert = |email: &str| pb::UpsertPersonRequest {
        tenant_id: acme.id.clone(),
        azure_object_id: person_oid.into(),
        email: email.into(),
        first_name: "Per".into(),
        last_name: "Son".into(),
        validate_only: false,
    };
    let person = admin
        .upsert_person(as_admin(upsert("per@example.com")))
        .await
        .unwrap()
        .into_inner();
    let again = admin
        .upsert_person(as_admin(upsert("per.son@example.com")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, person.id, "upserted by Azure object id");
    let persons = admin
        .list_persons(as_admin(pb::ListPersonsRequest {
            tenant_id: acme.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .persons;
    assert_eq!(
        persons.iter().map(|p| p.email.as_str()).collect::<Vec<_>>(),
        ["per.son@example.com"]
    );
    let promote = || {
        as_admin(pb::PromotePersonRequest {
            person_id: person.id.clone(),
            validate_only: false,
        })
    };
    let promoted = admin.promote_person(promote()).await.unwrap().into_inner();
    assert_eq!(
        (promoted.origin.as_str(), promoted.email.as_str()),
        ("person", "per.son@example.com")
    );
    assert_status(
        admin.promote_person(promote()).await,
        Code::AlreadyExists,
        person_oid,
    );
    let persons = admin
        .list_persons(as_admin(pb::ListPersonsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .persons;
    assert_eq!(persons[0].user_id, promoted.id);

    // Access requests: submitted with no actor, one pending per object id, decided once.
    let asker = "9e750a5e-0000-4000-8000-000000000002";
    let submitted = admin
        .submit_access_request(identity(&acme.id, asker, "asker@example.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.status, pb::AccessRequestStatus::Pending as i32);
    assert_status(
        admin
            .submit_access_request(identity(&acme.id, asker, "asker@example.com"))
            .await,
        Code::AlreadyExists,
        "pending",
    );
    assert_status(
        admin
            .submit_access_request(identity(&acme.id, &alice.azure_object_id, "a@example.com"))
            .await,
        Code::AlreadyExists,
        "already a user",
    );
    assert_status(
        admin
            .submit_access_request(identity(&acme.id, "not-a-guid", "a@example.com"))
            .await,
        Code::InvalidArgument,
        "azure_object_id",
    );
    let rejected_oid = "9e750a5e-0000-4000-8000-000000000003";
    let other = admin
        .submit_access_request(identity(&acme.id, rejected_oid, "other@example.com"))
        .await
        .unwrap()
        .into_inner();
    let pending = admin
        .list_access_requests(as_admin(pb::ListAccessRequestsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .access_requests;
    assert_eq!(
        pending.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [submitted.id.as_str(), other.id.as_str()]
    );
    let approve = |expiry: pb::AccessExpiry| {
        as_admin(pb::ApproveAccessRequestRequest {
            access_request_id: submitted.id.clone(),
            expiry: expiry as i32,
            validate_only: false,
        })
    };
    assert_status(
        admin
            .approve_access_request(approve(pb::AccessExpiry::Unspecified))
            .await,
        Code::InvalidArgument,
        "expiry",
    );
    let approved = admin
        .approve_access_request(approve(pb::AccessExpiry::OneDay))
        .await
        .unwrap()
        .into_inner();
    let user = approved.user.unwrap();
    let now = rbac_sidecar::model::unix_now();
    assert!(
        (user.expires_at_unix - now - 86_400).abs() < 60,
        "expires in one day: {}",
        user.expires_at_unix
    );
    assert_eq!(
        (user.origin.as_str(), user.azure_object_id.as_str()),
        ("access_request", asker)
    );
    assert_eq!(
        approved.access_request.unwrap().decided_by_user_id,
        me.user_id
    );
    assert_status(
        admin
            .approve_access_request(approve(pb::AccessExpiry::Never))
            .await,
        Code::FailedPrecondition,
        "already approved",
    );
    let rejected = admin
        .reject_access_request(as_admin(pb::RejectAccessRequestRequest {
            access_request_id: other.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.status, pb::AccessRequestStatus::Rejected as i32);
    let listed = admin
        .list_access_requests(as_admin(pb::ListAccessRequestsRequest {
            status: pb::AccessRequestStatus::Rejected as i32,
            tenant_id: acme.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .access_requests;
    assert_eq!(listed.len(), 1);
    let by_origin = admin
        .list_users(as_admin(pb::ListUsersRequest {
            origin: "access_request".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(
        by_origin.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [user.id.as_str()]
    );
    server.stop().await;
}

async fn roles_groups_and_assignments(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut server.admin.clone();
    let msp = world::tenant(admin, "msp", None, true).await;
    let acme = world::tenant(admin, "acme", Some(&msp.id), false).await;
    let globex = world::tenant(admin, "globex", Some(&msp.id), false).await;
    let alice = world::user(admin, &acme.id).await;
    let outsider = world::user(admin, &globex.id).await;
    let acme_scope = || At::TenantId(acme.id.clone());

    // Roles: get, built-in read-only even for the owner, delete refused while assigned.
    let role = owned_role(admin, Some(&acme.id), &["computers.view"]).await;
    let got = admin
        .get_role(as_admin(pb::GetRoleRequest {
            role_id: role.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (got.owner_tenant_id.as_str(), got.permissions.as_slice()),
        (acme.id.as_str(), &["computers.view".to_owned()][..])
    );
    let built_in_update = pb::UpdateRoleRequest {
        role_id: built_in("User (Legacy)"),
        name: "User (Legacy)".into(),
        description: String::new(),
        permissions: vec![],
        validate_only: false,
    };
    assert_status(
        admin.update_role(as_admin(built_in_update)).await,
        Code::PermissionDenied,
        "read-only",
    );
    let direct = grant(
        admin,
        &role.id,
        ToUser(alice.id.clone()),
        acme_scope(),
        pb::Effect::Allow,
    )
    .await;
    assert_eq!(direct.role_name, role.name);
    let delete_role = |remove| {
        as_admin(pb::DeleteRoleRequest {
            role_id: role.id.clone(),
            remove_assignments: remove,
            validate_only: false,
        })
    };
    assert_status(
        admin.delete_role(delete_role(false)).await,
        Code::FailedPrecondition,
        "1 role assignments",
    );
    assert_eq!(
        decision(&mut server.authz, &alice.id, "computers.view", &acme.id).await,
        pb::Decision::Allowed
    );
    let deleted = admin
        .delete_role(delete_role(true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.removed_assignments, 1);
    assert_eq!(
        decision(&mut server.authz, &alice.id, "computers.view", &acme.id).await,
        pb::Decision::NotGranted
    );
    assert_status(
        admin
            .get_role(as_admin(pb::GetRoleRequest {
                role_id: role.id.clone(),
            }))
            .await,
        Code::NotFound,
        &role.id,
    );
    let catalogue = admin
        .list_permissions(as_admin(pb::ListPermissionsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .permissions;
    assert!(catalogue.len() >= 100);
    let system = |key: &str| catalogue.iter().find(|p| p.key == key).map(|p| p.system);
    assert_eq!(
        (system("billing.manage"), system("computers.view")),
        (Some(true), Some(false))
    );
    assert!(catalogue.iter().all(
        |p| ["view", "core", "advanced"].contains(&p.category.as_str())
            && !p.description.is_empty()
    ));

    // Groups: get, list, update, the tenant-owned rule, members both ways, delete.
    let viewer = world::role(admin, &["computers.view"]).await;
    let team = group(admin, "team", Some(&acme.id)).await;
    let via_group = grant(
        admin,
        &viewer.id,
        ToGroup(team.id.clone()),
        acme_scope(),
        pb::Effect::Allow,
    )
    .await;
    let add = |user: &str| {
        as_admin(pb::AddGroupMemberRequest {
            group_id: team.id.clone(),
            user_id: user.into(),
            validate_only: false,
        })
    };
    assert_status(
        admin.add_group_member(add(&outsider.id)).await,
        Code::FailedPrecondition,
        "only users of that tenant",
    );
    admin.add_group_member(add(&alice.id)).await.unwrap();
    assert_eq!(
        decision(&mut server.authz, &alice.id, "computers.view", &acme.id).await,
        pb::Decision::Allowed
    );
    let renamed = admin
        .update_group(as_admin(pb::UpdateGroupRequest {
            group_id: team.id.clone(),
            name: "Team A".into(),
            description: "first line".into(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (renamed.name.as_str(), renamed.description.as_str()),
        ("Team A", "first line")
    );
    let got = admin
        .get_group(as_admin(pb::GetGroupRequest {
            group_id: team.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name, "Team A");
    let owned = admin
        .list_groups(as_admin(pb::ListGroupsRequest {
            owner_tenant_id: acme.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(
        owned.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [team.id.as_str()]
    );
    let members = admin
        .list_group_members(as_admin(pb::ListGroupMembersRequest {
            group_id: team.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .members;
    assert_eq!(
        members.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [alice.id.as_str()]
    );
    let groups = admin
        .list_user_groups(as_admin(pb::ListUserGroupsRequest {
            user_id: alice.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(
        groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [team.id.as_str()]
    );

    // Assignments: by principal with and without group ones, by role, all of them in pages.
    let own = grant(
        admin,
        &viewer.id,
        ToUser(alice.id.clone()),
        At::UsersTenant(()),
        pb::Effect::Deny,
    )
    .await;
    let of_alice = |direct_only| {
        as_admin(pb::ListRoleAssignmentsRequest {
            principal: Some(pb::Principal {
                kind: Some(ToUser(alice.id.clone())),
            }),
            direct_only,
            ..Default::default()
        })
    };
    let mut all: Vec<String> = admin
        .list_role_assignments(of_alice(false))
        .await
        .unwrap()
        .into_inner()
        .role_assignments
        .into_iter()
        .map(|a| a.id)
        .collect();
    all.sort();
    let mut expected = vec![own.id.clone(), via_group.id.clone()];
    expected.sort();
    assert_eq!(all, expected);
    let direct_only = admin
        .list_role_assignments(of_alice(true))
        .await
        .unwrap()
        .into_inner()
        .role_assignments;
    assert_eq!(direct_only.len(), 1);
    assert_eq!(
        (
            direct_only[0].id.as_str(),
            direct_only[0].role_name.as_str()
        ),
        (own.id.as_str(), viewer.name.as_str())
    );
    assert_eq!(
        (
            direct_only[0].created_by_user_id.as_str(),
            direct_only[0].created_at_unix
        ),
        (own.created_by_user_id.as_str(), own.created_at_unix),
        "the create's answer is the stored row"
    );
    assert!(!own.created_by_user_id.is_empty() && own.created_at_unix > 0);
    let by_role = admin
        .list_role_assignments(as_admin(pb::ListRoleAssignmentsRequest {
            role_id: viewer.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .role_assignments;
    assert_eq!(by_role.len(), 2);
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page = admin
            .list_role_assignments(as_admin(pb::ListRoleAssignmentsRequest {
                page_size: 1,
                page_token: token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.role_assignments.into_iter().map(|a| a.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen.len(),
        3,
        "the bootstrap assignment and the two above: {seen:?}"
    );

    // Deleting the group takes its members' access with it.
    admin
        .delete_role_assignment(as_admin(pb::DeleteRoleAssignmentRequest {
            assignment_id: own.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap();
    admin
        .delete_group(as_admin(pb::DeleteGroupRequest {
            group_id: team.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap();
    assert_eq!(
        decision(&mut server.authz, &alice.id, "computers.view", &acme.id).await,
        pb::Decision::NotGranted
    );
    let groups = admin
        .list_user_groups(as_admin(pb::ListUserGroupsRequest {
            user_id: alice.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert!(groups.is_empty());
    server.stop().await;
}

async fn check_access_profile_and_impersonation(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut server.admin.clone();
    let msp = world::tenant(admin, "msp", None, true).await;
    let acme = world::tenant(admin, "acme", Some(&msp.id), false).await;
    let lead_oid = "1a2b3c4d-0000-4000-8000-00000000000c";
    let lead = world::user_with_object_id(admin, &acme.id, lead_oid).await;
    grant(
        admin,
        &built_in("Administrator (Legacy)"),
        ToUser(lead.id.clone()),
        At::UsersTenant(()),
        pb::Effect::Allow,
    )
    .await;
    let no_sessions = world::role(admin, &["sessions.manage"]).await;
    let deny = grant(
        admin,
        &no_sessions.id,
        ToUser(lead.id.clone()),
        At::TenantId(acme.id.clone()),
        pb::Effect::Deny,
    )
    .await;

    // The Check Access tab: every permission at the tenant, with its reasons.
    let report = admin
        .check_user_access(as_admin(pb::CheckUserAccessRequest {
            user_id: lead.id.clone(),
            target: Some(pb::Target {
                kind: Some(pb::target::Kind::TenantId(acme.id.clone())),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    let catalogue_size = rbac_sidecar::model::catalogue().permissions().len();
    assert_eq!(report.permissions.len(), catalogue_size);
    let of = |key: &str| {
        report
            .permissions
            .iter()
            .find(|p| p.permission == key)
            .unwrap()
    };
    let computers = of("computers.manage");
    assert!(computers.allowed);
    assert!(
        computers
            .reasons
            .iter()
            .any(|r| r.decisive && r.role_name == "Administrator (Legacy)")
    );
    let sessions = of("sessions.manage");
    assert_eq!(sessions.decision, pb::Decision::Denied as i32);
    assert!(
        sessions
            .reasons
            .iter()
            .any(|r| r.decisive && r.assignment_id == deny.id)
    );
    assert_eq!(
        of("billing.manage").decision,
        pb::Decision::NotGranted as i32
    );
    assert_status(
        admin
            .check_user_access(as_admin(pb::CheckUserAccessRequest {
                user_id: lead.id.clone(),
                target: None,
            }))
            .await,
        Code::InvalidArgument,
        "target",
    );

    // The caller's own profile.
    let mine = admin
        .get_my_access(crate::support::as_actor(
            lead_oid,
            pb::GetMyAccessRequest {},
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.user_id, lead.id);
    assert_eq!(mine.assignments.len(), 2);

    // Impersonation: off by default; on, the admin acts as the lead, audited as both.
    let preferences = admin
        .get_preferences(as_admin(pb::GetPreferencesRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(!preferences.impersonation_enabled);
    let turned_on = admin
        .update_preferences(as_admin(pb::UpdatePreferencesRequest {
            impersonation_enabled: true,
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(turned_on.impersonation_enabled && turned_on.revision > 0);
    let started = admin
        .start_impersonation(as_admin(pb::StartImpersonationRequest {
            user_id: lead.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.user.unwrap().id, lead.id);
    let seen_as_lead = admin
        .get_my_access(impersonating(ADMIN, &lead.id, pb::GetMyAccessRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_as_lead.user_id, lead.id);
    let created = admin
        .create_user(impersonating(
            ADMIN,
            &lead.id,
            pb::CreateUserRequest {
                tenant_id: acme.id.clone(),
                email: "made-as-lead@example.com".into(),
                first_name: String::new(),
                last_name: String::new(),
                azure_object_id: "1a2b3c4d-0000-4000-8000-00000000000d".into(),
                validate_only: false,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let event = world::newest_event(admin, "CreateUser", "").await;
    assert_eq!(event.target, created.id);
    assert_eq!(
        (
            event.actor_user_id.as_str(),
            event.impersonator_user_id.as_str()
        ),
        (lead.id.as_str(), mine_admin_id(admin).await.as_str())
    );
    let start = admin
        .list_audit_events(as_admin(pb::ListAuditEventsRequest {
            action: "StartImpersonation".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(start.len(), 1);
    // Turning the preference off ends every impersonation at once.
    admin
        .update_preferences(as_admin(pb::UpdatePreferencesRequest {
            impersonation_enabled: false,
            validate_only: false,
        }))
        .await
        .unwrap();
    assert_status(
        admin
            .get_my_access(impersonating(ADMIN, &lead.id, pb::GetMyAccessRequest {}))
            .await,
        Code::PermissionDenied,
        "turned off",
    );
    server.stop().await;
}

async fn mine_admin_id(admin: &mut Admin) -> String {
    admin
        .get_my_access(as_admin(pb::GetMyAccessRequest {}))
        .await
        .unwrap()
        .into_inner()
        .user_id
}
