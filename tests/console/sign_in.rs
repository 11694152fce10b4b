//! Who may see the console: a proxy's verified token or a session, never a claimed
//! header; and a form counts only with its session's CSRF token, from our own origin.

use rbac_sidecar::api::pb::rbac::v1 as pb;

use crate::http::{get, post};
use crate::support::{self, ADMIN, Backend, TestServer, as_admin, tokens};

/// Every page of the console, for a server whose bootstrap administrator is `admin_id`.
fn pages(admin_id: &str) -> Vec<String> {
    [
        "/console/",
        "/console/users",
        "/console/users/new",
        "/console/people",
        "/console/roles",
        "/console/roles/new",
        "/console/groups",
        "/console/assignments",
        "/console/access-requests",
        "/console/audit",
        "/profile",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("/console/users/{admin_id}")])
    .collect()
}

async fn admin_user_id(server: &mut TestServer) -> String {
    let users = server
        .admin
        .list_users(as_admin(pb::ListUsersRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .users;
    users[0].id.clone()
}

async fn role_named(server: &mut TestServer, name: &str) -> bool {
    let roles = server
        .admin
        .list_roles(as_admin(pb::ListRolesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .roles;
    roles.iter().any(|r| r.name == name)
}

#[tokio::test]
async fn an_unsigned_visitor_or_a_claimed_header_sees_the_sign_in_page_and_no_data() {
    let Some(mut server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let admin_id = admin_user_id(&mut server).await;
    let at = server.http_address.clone();
    let claimed: [&[(&str, &str)]; 4] = [
        &[],
        &[("x-actor-object-id", ADMIN)],
        &[("x-actor-user-id", &admin_id)],
        // No server-side verifier: a bearer token proves nothing here.
        &[("authorization", "Bearer not-a-token")],
    ];
    for headers in claimed {
        for path in pages(&admin_id) {
            let answer = get(&at, &path, headers).await;
            assert_eq!(answer.status, 401, "{path} with {headers:?}");
            assert!(answer.body.contains("Sign in"), "{path}: {}", answer.body);
            for secret in ["Bootstrap", "bootstrap-admin", admin_id.as_str(), "csrf"] {
                assert!(!answer.body.contains(secret), "{path} shows {secret}");
            }
        }
        let form = "tenant=x&email=a%40b.example&azure_object_id=00000000-0000-4000-8000-0000000000aa&name=Forged";
        for path in ["/console/users", "/console/roles", "/console/groups"] {
            assert_eq!(post(&at, path, headers, form).await.status, 401);
        }
    }
    assert!(!role_named(&mut server, "Forged").await);
    server.stop().await;
}

#[tokio::test]
async fn a_proxy_token_signs_a_person_in_and_a_form_needs_the_session_token_from_our_origin() {
    let issuer = support::PROVEN.get_or_init(tokens::Issuer::new);
    let config = issuer.config();
    let Some(mut server) =
        TestServer::start_configured(Backend::Sqlite, |c| c.actor_jwt = Some(config)).await
    else {
        return;
    };
    let at = server.http_address.clone();
    let bearer = format!("Bearer {}", issuer.token(ADMIN));

    // A verified token: the page, and a session cookie the browser cannot read.
    let page = get(&at, "/console/roles/new", &[("authorization", &bearer)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Signed in as Bootstrap Administrator"));
    let set = page
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = page.cookie().unwrap();
    let csrf = page.csrf();

    // The session holds only while the proxy vouches: its cookie alone opens nothing (a
    // person the provider has signed out, or a stolen cookie).
    let alone = get(&at, "/console/roles/new", &[("cookie", &cookie)]).await;
    assert_eq!(alone.status, 401);
    assert!(!alone.body.contains("Bootstrap"));
    // The scheme's case does not matter (RFC 9110).
    let lower = format!("bearer {}", issuer.token(ADMIN));
    let lower = get(
        &at,
        "/console/",
        &[("authorization", &lower), ("cookie", &cookie)],
    )
    .await;
    assert_eq!(lower.status, 200);

    // Tokens that prove nothing, or someone unknown.
    let mut wrong_audience = issuer.claims(ADMIN);
    wrong_audience["aud"] = "another-api".into();
    let mut expired = issuer.claims(ADMIN);
    expired["exp"] = (tokens::now() - 3600).into();
    for token in [
        issuer.sign("k1", &wrong_audience),
        issuer.sign("k1", &expired),
    ] {
        let answer = get(
            &at,
            "/console/",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(answer.status, 401);
        assert!(!answer.body.contains("Bootstrap"));
    }
    let stranger = issuer.token("00000000-0000-4000-8000-00000000beef");
    let answer = get(
        &at,
        "/console/",
        &[("authorization", &format!("Bearer {stranger}"))],
    )
    .await;
    assert_eq!(answer.status, 403);
    assert!(!answer.body.contains("Bootstrap MSP"));

    // A form without the token, with another one, or from another site writes nothing.
    let with =
        |csrf: &str, name: &str| format!("csrf={csrf}&name={name}&permission=computers.view");
    let signed: [(&str, &str); 2] = [("authorization", &bearer), ("cookie", &cookie)];
    let no_token = post(
        &at,
        "/console/roles",
        &signed,
        "name=NoToken&permission=computers.view",
    )
    .await;
    assert_eq!(no_token.status, 403);
    let other = post(
        &at,
        "/console/roles",
        &signed,
        &with(&"0".repeat(64), "OtherToken"),
    )
    .await;
    assert_eq!(other.status, 403);
    let mut cross_site = signed.to_vec();
    cross_site.push(("origin", "https://evil.example"));
    let cross = post(
        &at,
        "/console/roles",
        &cross_site,
        &with(&csrf, "CrossSite"),
    )
    .await;
    assert_eq!(cross.status, 403);
    // Only as a browser sends a form: another body type is refused.
    let mut plain = signed.to_vec();
    plain.push(("content-type", "text/plain"));
    let typed = post(&at, "/console/roles", &plain, &with(&csrf, "PlainText")).await;
    assert_eq!(typed.status, 415);
    for name in ["NoToken", "OtherToken", "CrossSite", "PlainText"] {
        assert!(!role_named(&mut server, name).await, "{name} was created");
    }

    // The same form with the session's token does it (the checks above can fail).
    let created = post(&at, "/console/roles", &signed, &with(&csrf, "Console+Made")).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(role_named(&mut server, "Console Made").await);

    // Another person's token with this session's cookie gets a session of their own: the
    // first person's CSRF token does not act for them.
    let tenant_id = first_tenant(&mut server).await;
    server
        .admin
        .create_user(as_admin(pb::CreateUserRequest {
            tenant_id,
            azure_object_id: "00000000-0000-4000-8000-0000000000b2".into(),
            email: "second@example.com".into(),
            first_name: "Second".into(),
            last_name: "Person".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let second = format!(
        "Bearer {}",
        issuer.token("00000000-0000-4000-8000-0000000000b2")
    );
    let borrowed = post(
        &at,
        "/console/roles",
        &[("authorization", &second), ("cookie", &cookie)],
        &with(&csrf, "Borrowed"),
    )
    .await;
    assert_eq!(borrowed.status, 403);
    assert!(!role_named(&mut server, "Borrowed").await);
    server.stop().await;
}

async fn first_tenant(server: &mut TestServer) -> String {
    server
        .admin
        .list_tenants(as_admin(pb::ListTenantsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .tenants[0]
        .id
        .clone()
}
