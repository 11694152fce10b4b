//! The product's "Preventing access to specific tenants", walked as an administrator
//! would in headless Chromium against the real binary: sign in with the link it prints,
//! add the technician (a malformed Azure Object ID refused first), create the role with
//! New Role, allow it at Owner and deny it on the MSP's own tenant with a preview first,
//! and read the answer on the Check Access tab. Then impersonate the technician, whose
//! attempt to create a role with a system permission is refused and writes nothing.
//! Outcomes are asserted by CheckAccess over gRPC, not only by what the pages say.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::transport::Channel;

use crate::browser::{self, Browser};
use crate::support::{Credentials, as_admin, free_address, world};

const TECH_OID: &str = "7ec40000-0000-4000-8000-0000000000e1";
const ROLE: &str = "MSP Technician - Customer Devices";

/// The binary, serving on SQLite in a temporary folder, and the sign-in link it printed.
struct Service {
    child: Child,
    http: String,
    link: String,
    admin: world::Admin,
    authz: world::Authz,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_address(), free_address());
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("rbac.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbac-sidecar"))
        .args([
            "serve",
            "--database-url",
            &database,
            "--listen",
            &grpc,
            "--http-listen",
            &http,
        ])
        .args(["--bootstrap-admin-object-id", crate::support::ADMIN])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rbac-sidecar");
    let stdout = child.stdout.take().unwrap();
    // The link is printed once the HTTP port serves.
    let link = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                let at = line.find("http://")?;
                line.starts_with("Console: open")
                    .then(|| line[at..].split_whitespace().next().unwrap().to_owned())
            })
    })
    .await
    .unwrap()
    .expect("the server prints a sign-in link");
    let channel = loop {
        if let Ok(channel) = Channel::from_shared(format!("http://{grpc}"))
            .unwrap()
            .connect()
            .await
        {
            break channel;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Service {
        child,
        http,
        link,
        admin: pb::admin_service_client::AdminServiceClient::with_interceptor(
            channel.clone(),
            Credentials::default(),
        ),
        authz: pb::authorization_service_client::AuthorizationServiceClient::with_interceptor(
            channel,
            Credentials::default(),
        ),
        _dir: dir,
    }
}

impl Service {
    async fn tenants(&mut self) -> Vec<pb::Tenant> {
        self.admin
            .list_tenants(as_admin(pb::ListTenantsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .tenants
    }

    async fn tenant(&mut self, name: &str) -> String {
        self.tenants()
            .await
            .into_iter()
            .find(|t| t.name == name)
            .unwrap()
            .id
    }

    async fn users(&mut self) -> Vec<pb::User> {
        self.admin
            .list_users(as_admin(pb::ListUsersRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .users
    }

    async fn roles(&mut self) -> Vec<String> {
        self.admin
            .list_roles(as_admin(pb::ListRolesRequest {}))
            .await
            .unwrap()
            .into_inner()
            .roles
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    async fn decision(&mut self, user: &str, permission: &str, tenant: &str) -> pb::Decision {
        world::check(&mut self.authz, user, permission, tenant, 0)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_prevents_access_to_the_msp_tenant_from_new_role_to_check_access() {
    let Some(browser) = browser::open().await else {
        return;
    };
    let mut service = start().await;
    let msp = service.tenants().await[0].clone();
    service
        .admin
        .create_tenant(as_admin(pb::CreateTenantRequest {
            name: "Contoso".into(),
            parent_tenant_id: Some(msp.id.clone()),
            ..Default::default()
        }))
        .await
        .unwrap();
    service
        .admin
        .update_preferences(as_admin(pb::UpdatePreferencesRequest {
            impersonation_enabled: true,
            ..Default::default()
        }))
        .await
        .unwrap();
    let contoso = service.tenant("Contoso").await;
    walk(&browser, &mut service, &msp, &contoso).await;
    browser.client.clone().close().await.unwrap();
}

async fn walk(b: &Browser, service: &mut Service, msp: &pb::Tenant, contoso: &str) {
    let base = format!("http://{}", service.http);
    // Signed in by the printed link, which works once: fetching it (a link checker, a
    // chat's preview) uses nothing up; its button does.
    let link = &service.link[base.len()..];
    for _ in 0..2 {
        let fetched = crate::http::get(&service.http, link, &[]).await;
        assert_eq!(fetched.status, 200);
        assert!(fetched.cookie().is_none());
    }
    b.goto(&service.link).await;
    b.inspect("sign-in-link").await;
    b.press("Sign In").await;
    assert_eq!(b.path().await, "/console/");
    assert!(
        b.text()
            .await
            .contains("Signed in as Bootstrap Administrator")
    );
    b.inspect("users").await;
    assert!(
        b.fits(640).await,
        "the Users tab scrolls sideways at 200 % zoom"
    );
    let code = link.split_once("code=").unwrap().1;
    let form = format!("code={code}");
    let again = crate::http::post(&service.http, "/console/sign-in/link", &[], &form).await;
    assert_eq!(again.status, 401);
    assert!(again.cookie().is_none());

    // Add New User > Manually: a malformed GUID is refused and creates nothing.
    b.follow("Manually").await;
    b.inspect("add-user").await;
    b.choose("Tenant", &msp.name).await;
    b.fill("First Name", "Tess").await;
    b.fill("Last Name", "Technician").await;
    b.fill("Email", "tess@msp.example").await;
    b.fill("Azure Object ID", "not-a-guid").await;
    b.press("Create").await;
    let refusal = b.text().await;
    assert!(refusal.contains("“Azure Object ID” must be"), "{refusal}");
    assert!(refusal.contains("Nothing was changed"));
    b.inspect("refused").await;
    assert_eq!(
        service.users().await.len(),
        1,
        "a user was created with a malformed GUID"
    );
    b.client.back().await.unwrap();
    b.fill("Azure Object ID", TECH_OID).await;
    b.press("Create").await;
    let tech = service
        .users()
        .await
        .into_iter()
        .find(|u| u.azure_object_id == TECH_OID)
        .expect("the technician was created");
    assert_eq!(b.path().await, format!("/console/users/{}", tech.id));

    // Roles > New Role, the catalogue by subject.
    b.follow("Roles").await;
    b.inspect("roles").await;
    b.follow("New Role").await;
    b.fill("Name", ROLE).await;
    b.fill("Description", "Works on customer devices").await;
    b.check("All Computers permissions").await;
    for key in [
        "deployments.view",
        "deployments.manage",
        "tenants.view",
        "tenants.manage",
    ] {
        b.check(key).await;
    }
    b.inspect("new-role").await;
    b.press("Create Role").await;
    assert!(b.text().await.contains(ROLE));
    b.inspect("role").await;
    assert!(service.roles().await.contains(&ROLE.to_owned()));

    // The technician's page: allow at Owner, previewed first.
    b.goto(&format!("{base}/console/users/{}", tech.id)).await;
    b.choose("Role", ROLE).await;
    b.choose("Scope Category", "Owner").await;
    b.check("Allow").await;
    b.press("Preview").await;
    let preview = b.text().await;
    assert!(preview.contains("would gain or lose access"), "{preview}");
    assert!(preview.contains("computers.manage") && preview.contains("Contoso"));
    b.inspect("preview").await;
    // The preview wrote nothing.
    assert_eq!(
        service
            .decision(&tech.id, "computers.manage", contoso)
            .await,
        pb::Decision::NotGranted
    );
    b.press("Assign").await;
    assert_eq!(b.path().await, format!("/console/users/{}", tech.id));
    assert_eq!(
        service
            .decision(&tech.id, "computers.manage", contoso)
            .await,
        pb::Decision::Allowed
    );
    assert_eq!(
        service
            .decision(&tech.id, "computers.manage", &msp.id)
            .await,
        pb::Decision::Allowed
    );

    // ...and deny it on the MSP's own tenant.
    b.choose("Role", ROLE).await;
    b.choose("Scope Category", "Tenant").await;
    b.choose("Scope", &msp.name).await;
    b.check("Deny").await;
    b.press("Assign").await;
    let page = b.text().await;
    assert!(page.contains(&format!("Tenant: {}", msp.name)), "{page}");
    b.inspect("user").await;
    assert_eq!(
        service
            .decision(&tech.id, "computers.manage", &msp.id)
            .await,
        pb::Decision::Denied
    );
    assert_eq!(
        service
            .decision(&tech.id, "computers.manage", contoso)
            .await,
        pb::Decision::Allowed
    );

    // The Check Access tab says the same, with the decisive assignment.
    b.follow("Check Access").await;
    b.choose_containing("Permission", "computers.manage").await;
    b.choose("Tenant", &msp.name).await;
    b.press("Check Access").await;
    let answer = b.text().await;
    assert!(
        answer.contains("Denied") && answer.contains("decisive"),
        "{answer}"
    );
    b.inspect("check-access").await;
    b.choose("Tenant", "Contoso").await;
    b.press("Check Access").await;
    assert!(b.text().await.contains("Allowed"));

    // Editing the role, previewed: without computers.manage the technician would lose it.
    b.follow("Roles").await;
    b.follow(ROLE).await;
    b.follow("Edit Role").await;
    b.uncheck("computers.manage").await;
    b.press("Preview").await;
    let preview = b.text().await;
    assert!(
        preview.contains("Preview: what “Save Role” would change"),
        "{preview}"
    );
    assert!(
        preview.contains("Tess Technician") && preview.contains("Not granted"),
        "{preview}"
    );
    b.inspect("edit-role-preview").await;
    assert_eq!(
        service
            .decision(&tech.id, "computers.manage", contoso)
            .await,
        pb::Decision::Allowed
    );

    // Removing the deny, previewed first: the technician would get the MSP back.
    b.goto(&format!("{base}/console/users/{}", tech.id)).await;
    let row = format!("Deny {ROLE} at Tenant: {}", msp.name);
    b.press(&format!("Preview removing {row}")).await;
    let confirm = b.text().await;
    assert!(confirm.contains("Remove the role assignment?"), "{confirm}");
    assert!(
        confirm.contains("computers.manage") && confirm.contains("Denied"),
        "{confirm}"
    );
    b.inspect("confirm-removal").await;
    assert_eq!(
        service
            .decision(&tech.id, "computers.manage", &msp.id)
            .await,
        pb::Decision::Denied
    );
    b.follow("Cancel").await;

    // The other tabs and the profile.
    for (link, name) in [
        ("Groups", "groups"),
        ("Direct Role Assignments", "assignments"),
        ("Audit Log", "audit-log"),
        ("Profile", "profile"),
    ] {
        b.follow(link).await;
        b.inspect(name).await;
    }
    assert!(
        b.text()
            .await
            .contains("My User's Group and Role Assignments")
    );
    b.goto(&format!("{base}/console/access-requests")).await;
    b.inspect("access-requests").await;

    // Impersonating the technician, who may not create a role with a system permission.
    b.goto(&format!("{base}/console/users/{}", tech.id)).await;
    b.press("Impersonate").await;
    let banner = b.text().await;
    assert!(
        banner.contains("Bootstrap Administrator is impersonating Tess Technician"),
        "{banner}"
    );
    b.inspect("impersonating").await;
    b.follow("Roles").await;
    b.follow("New Role").await;
    b.fill("Name", "Instance Preferences").await;
    b.check("preferences.manage").await;
    b.press("Create Role").await;
    let refusal = b.text().await;
    assert!(refusal.contains("Refused"), "{refusal}");
    assert!(
        !service
            .roles()
            .await
            .contains(&"Instance Preferences".to_owned())
    );
    b.press("Stop Impersonating").await;
    assert!(!b.text().await.contains("is impersonating"));
}
