//! Envoy's external authorization, as Envoy asks it: the docs' route map, the subject from
//! jwt_authn's metadata, and every way a request can end. Nothing but a decided allow is
//! let through.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::config::ServeConfig;
use rbac_sidecar::config::ext_authz::{ExtAuthzSettings, RouteMap};

use crate::support::envoy::{self, Envoy};
use crate::support::world;
use crate::support::{Backend, TestServer, as_admin, on_both_backends};

const ROUTES: &str = r#"
subject_metadata = ["envoy.filters.http.jwt_authn", "jwt_payload", "oid"]
[[routes]]
method = "GET"
path = "/api/tenants/{tenant_id}/computers/**"
permission = "computers.view"
tenant = "{tenant_id}"
[[routes]]
method = "POST"
path = "/api/computers/{id}/reboot"
permission = "computers.reboot"
resource = { type = "computer", id = "{id}" }
[[routes]]
path = "/api/scripts"
permission = "scripts.view"
tenant = "header:x-tenant-id"
"#;

fn routes(config: &mut ServeConfig) {
    let settings: ExtAuthzSettings = toml::from_str(ROUTES).unwrap();
    config.ext_authz = Some(RouteMap::compile(&settings).unwrap());
}

async fn envoy_requests_get_the_decisions_of_check_access(backend: Backend) {
    let Some(mut server) = TestServer::start_configured(backend, routes).await else {
        return;
    };
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await.id;
    let customer = world::tenant(admin, "customer", Some(&msp), false).await.id;
    let oid = uuid::Uuid::new_v4().to_string();
    let technician = world::user_with_object_id(admin, &msp, &oid).await.id;
    let role = world::role(
        admin,
        &["computers.view", "computers.reboot", "scripts.view"],
    )
    .await
    .id;
    let user = || pb::principal::Kind::UserId(technician.clone());
    world::grant(
        admin,
        &role,
        user(),
        pb::scope::Kind::MspTenantId(msp.clone()),
        pb::Effect::Allow,
    )
    .await;
    world::grant(
        admin,
        &role,
        user(),
        pb::scope::Kind::TenantId(msp.clone()),
        pb::Effect::Deny,
    )
    .await;
    let request = pb::UpsertResourceRequest {
        r#type: "computer".into(),
        id: "pc-1".into(),
        owner_tenant_id: Some(customer.clone()),
        validate_only: false,
    };
    admin.upsert_resource(as_admin(request)).await.unwrap();
    let mut envoy = Envoy::new(server.channel.clone());
    let ask = |method: &str, path: String, headers: &[(&str, &str)], oid: Option<&str>| {
        envoy::request(method, &path, headers, oid)
    };

    // Allowed: OK, and the decision and revision for the application.
    let allowed = envoy::ask(
        &mut envoy,
        ask(
            "GET",
            format!("/api/tenants/{customer}/computers/pc-1"),
            &[],
            Some(&oid),
        ),
    )
    .await;
    assert_eq!((allowed.code, allowed.http_status), (0, 200), "{allowed:?}");
    assert_eq!(allowed.headers["x-rbac-decision"], "allowed");
    assert!(allowed.headers["x-rbac-revision"].parse::<u64>().unwrap() > 0);
    let reboot = envoy::ask(
        &mut envoy,
        ask("POST", "/api/computers/pc-1/reboot".into(), &[], Some(&oid)),
    )
    .await;
    assert_eq!(reboot.code, 0, "{reboot:?}");

    // Denied (a deny on the MSP wins): 403 naming the permission.
    let denied = envoy::ask(
        &mut envoy,
        ask(
            "GET",
            format!("/api/tenants/{msp}/computers"),
            &[],
            Some(&oid),
        ),
    )
    .await;
    assert_eq!((denied.code, denied.http_status), (7, 403), "{denied:?}");
    assert_eq!(denied.body["decision"], "denied");
    assert_eq!(denied.body["permission"], "computers.view");
    // The target from a header.
    let header = [("x-tenant-id", customer.as_str())];
    let script = envoy::ask(
        &mut envoy,
        ask("GET", "/api/scripts?page=2".into(), &header, Some(&oid)),
    )
    .await;
    assert_eq!(script.code, 0, "{script:?}");

    // Everything else fails closed, with a reason.
    let cases = [
        // no JWT: 401
        (
            ask(
                "GET",
                format!("/api/tenants/{customer}/computers"),
                &[],
                None,
            ),
            16,
            401,
        ),
        // a subject that is not a UUID
        (
            ask(
                "GET",
                format!("/api/tenants/{customer}/computers"),
                &[],
                Some("alice"),
            ),
            16,
            401,
        ),
        // an unknown user: decided, inactive
        (
            ask(
                "GET",
                format!("/api/tenants/{customer}/computers"),
                &[],
                Some(&uuid::Uuid::new_v4().to_string()),
            ),
            7,
            403,
        ),
        // an unknown tenant
        (
            ask(
                "GET",
                format!("/api/tenants/{}/computers", uuid::Uuid::new_v4()),
                &[],
                Some(&oid),
            ),
            5,
            403,
        ),
        // a tenant that is not a UUID
        (
            ask("GET", "/api/tenants/acme/computers".into(), &[], Some(&oid)),
            3,
            403,
        ),
        // an unregistered computer
        (
            ask("POST", "/api/computers/pc-2/reboot".into(), &[], Some(&oid)),
            5,
            403,
        ),
        // no route matches (the method differs), and a path that climbs out
        (
            ask(
                "DELETE",
                "/api/computers/pc-1/reboot".into(),
                &[],
                Some(&oid),
            ),
            7,
            403,
        ),
        (
            ask(
                "GET",
                format!("/api/tenants/{customer}/../{msp}/computers"),
                &[],
                Some(&oid),
            ),
            3,
            403,
        ),
        // the header the route reads is missing
        (ask("GET", "/api/scripts".into(), &[], Some(&oid)), 3, 403),
    ];
    for (request, code, http) in cases {
        let path = request
            .attributes
            .as_ref()
            .unwrap()
            .request
            .as_ref()
            .unwrap()
            .http
            .as_ref()
            .unwrap()
            .path
            .clone();
        let answer = envoy::ask(&mut envoy, request).await;
        assert_eq!(
            (answer.code, answer.http_status),
            (code, http),
            "{path}: {answer:?}"
        );
        assert!(
            answer.headers.is_empty(),
            "{path}: a refusal let headers through"
        );
    }
    let inactive = envoy::ask(
        &mut envoy,
        ask(
            "GET",
            format!("/api/tenants/{customer}/computers"),
            &[],
            Some(&uuid::Uuid::new_v4().to_string()),
        ),
    )
    .await;
    assert_eq!(inactive.body["decision"], "user_inactive");
    server.stop().await;
}

on_both_backends!(envoy_requests_get_the_decisions_of_check_access);

#[tokio::test]
async fn without_a_route_map_every_envoy_request_is_refused() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let mut envoy = Envoy::new(server.channel.clone());
    let request = envoy::request("GET", "/anything", &[("x-user", "u")], Some("u"));
    let answer = envoy::ask(&mut envoy, request).await;
    assert_ne!(answer.code, 0);
    assert_eq!(answer.http_status, 403, "{answer:?}");
    server.stop().await;
}

#[tokio::test]
async fn with_unmatched_allowed_an_odd_path_is_still_refused() {
    let allow = |config: &mut ServeConfig| {
        let text = format!("unmatched = \"allow\"\n{ROUTES}");
        let settings: ExtAuthzSettings = toml::from_str(&text).unwrap();
        config.ext_authz = Some(RouteMap::compile(&settings).unwrap());
    };
    let Some(server) = TestServer::start_configured(Backend::Sqlite, allow).await else {
        return;
    };
    let mut envoy = Envoy::new(server.channel.clone());
    let oid = uuid::Uuid::new_v4().to_string();
    // No route: let through, marked so.
    let open = envoy::ask(
        &mut envoy,
        envoy::request("GET", "/public/logo.png", &[], None),
    )
    .await;
    assert_eq!(
        (open.code, open.headers["x-rbac-decision"].as_str()),
        (0, "unmatched")
    );
    // A protected route in another case, with a trailing slash, or as HEAD: still checked
    // (and the unknown user is refused).
    for (method, path) in [
        ("POST", "/API/Computers/pc-1/Reboot"),
        ("POST", "/api/computers/pc-1/reboot/"),
        ("HEAD", "/api/scripts"),
    ] {
        let answer = envoy::ask(
            &mut envoy,
            envoy::request(method, path, &[("x-tenant-id", &oid)], Some(&oid)),
        )
        .await;
        assert_ne!(
            answer.code, 0,
            "{method} {path} was let through: {answer:?}"
        );
    }
    // Paths an application could read another way are refused, routes or not, and the
    // client learns only the kind of refusal.
    for path in [
        "/api/computers/pc-1/reboot/..%2F..%2Fx",
        "/public/../api/computers/pc-1/reboot",
        "/api//computers",
        "/public;x",
    ] {
        let answer = envoy::ask(&mut envoy, envoy::request("POST", path, &[], Some(&oid))).await;
        assert_eq!(
            (answer.code, answer.http_status),
            (3, 403),
            "{path}: {answer:?}"
        );
        assert_eq!(
            answer.body,
            serde_json::json!({ "decision": "refused", "reason": "bad_request" })
        );
    }
    server.stop().await;
}

/// Issue 27's spellings of protected paths: read as the application behind reads them,
/// so each gets the canonical path's answer, never "unmatched", whatever `unmatched` says.
async fn spellings_of_a_protected_path(unmatched: &str) {
    let spelled = move |config: &mut ServeConfig| {
        let text = format!(
            r#"
            unmatched = "{unmatched}"
            subject_metadata = ["envoy.filters.http.jwt_authn", "jwt_payload", "oid"]
            [[routes]]
            path = "/admin/**"
            permission = "billing.manage"
            [[routes]]
            method = "DELETE"
            path = "/api/tenants/{{tenant_id}}"
            permission = "tenants.manage"
            tenant = "{{tenant_id}}"
            "#
        );
        let settings: ExtAuthzSettings = toml::from_str(&text).unwrap();
        config.ext_authz = Some(RouteMap::compile(&settings).unwrap());
    };
    let Some(mut server) = TestServer::start_configured(Backend::Sqlite, spelled).await else {
        return;
    };
    let tenant = world::tenant(&mut server.admin, "msp", None, true).await.id;
    let oid = uuid::Uuid::new_v4().to_string();
    world::user_with_object_id(&mut server.admin, &tenant, &oid).await;
    let mut envoy = Envoy::new(server.channel.clone());
    let mut ask = async |method: &str, path: &str| {
        envoy::ask(&mut envoy, envoy::request(method, path, &[], Some(&oid))).await
    };
    let admin = ask("GET", "/admin/x").await;
    let delete = ask("DELETE", &format!("/api/tenants/{tenant}")).await;
    for answer in [&admin, &delete] {
        assert_eq!((answer.code, answer.http_status), (7, 403), "{answer:?}");
    }
    for (method, path, canonical) in [
        ("GET", "/%61dmin/x".to_owned(), &admin),
        ("GET", "/a%64min/x".to_owned(), &admin),
        ("GET", "/%41DMIN/x".to_owned(), &admin),
        ("DELETE", format!("/api/%74enants/{tenant}"), &delete),
        ("DELETE", format!("/ap%69/tenants/{tenant}"), &delete),
    ] {
        let answer = ask(method, &path).await;
        assert_eq!(
            (answer.code, answer.http_status, &answer.body),
            (canonical.code, canonical.http_status, &canonical.body),
            "{method} {path}: {answer:?}"
        );
    }
    for (method, path) in [
        ("GET", "/admin./x".to_owned()),
        ("GET", "/ADMIN./x".to_owned()),
        ("GET", "/admin%09/x".to_owned()),
        ("GET", "/admin%20/x".to_owned()),
        ("DELETE", format!("/api/tenants./{tenant}")),
        ("DELETE", format!("/api/tenants/{tenant}.")),
    ] {
        let answer = ask(method, &path).await;
        assert_eq!(
            (answer.code, answer.http_status, &answer.body),
            (
                3,
                403,
                &serde_json::json!({ "decision": "refused", "reason": "bad_request" })
            ),
            "{method} {path}: {answer:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn spellings_of_a_protected_path_are_checked_with_unmatched_allowed() {
    spellings_of_a_protected_path("allow").await;
}

#[tokio::test]
async fn spellings_of_a_protected_path_are_checked_with_unmatched_denied() {
    spellings_of_a_protected_path("deny").await;
}
