//! TLS, mutual TLS and the bearer token, with certificates made by the test.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::sidecar::{Admin, Authz, ClientTls, Launch, Sidecar, admin_check, run, write};
use crate::support::{as_admin, free_port};

/// A certificate authority and what it signed, as PEM.
pub struct Pki {
    pub ca: String,
    pub server: (String, String),
    pub client: (String, String),
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: Vec<String>, common_name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        Pki {
            server: leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost"),
            client: leaf(vec!["app.example".into()], "app"),
            ca: ca.pem(),
        }
    }
}

/// Starts a TLS sidecar; with `client_ca`, mutual TLS.
pub async fn tls_sidecar(pki: &Pki, mutual: bool) -> Sidecar {
    tls_sidecar_with(pki, mutual, &[]).await
}

/// `tls_sidecar` with more flags.
async fn tls_sidecar_with(pki: &Pki, mutual: bool, more: &[&str]) -> Sidecar {
    let dir = tempfile::tempdir().unwrap();
    let cert = write(dir.path(), "tls.crt", &pki.server.0);
    let key = write(dir.path(), "tls.key", &pki.server.1);
    let ca = write(dir.path(), "ca.crt", &pki.ca);
    let mut args = vec![
        "--tls-cert".to_owned(),
        cert.display().to_string(),
        "--tls-key".to_owned(),
        key.display().to_string(),
    ];
    if mutual {
        args.extend(["--tls-client-ca".to_owned(), ca.display().to_string()]);
    }
    args.extend(more.iter().map(|a| (*a).to_owned()));
    let sidecar = Sidecar::start(Launch {
        args,
        client_tls: ClientTls {
            ca_pem: Some(pki.ca.clone()),
            identity: mutual.then(|| pki.client.clone()),
        },
        ..Launch::default()
    })
    .await;
    // The files are read at start.
    drop(dir);
    sidecar
}

/// CheckAccess through a client with these TLS settings: the decision, or the status code.
async fn check_with(sidecar: &Sidecar, tls: ClientTls) -> Result<pb::Decision, Code> {
    let channel = tls
        .endpoint(&sidecar.address)
        .connect()
        .await
        .map_err(|_| Code::Unavailable)?;
    Authz::new(channel)
        .check_access(admin_check())
        .await
        .map(|r| r.into_inner().decision())
        .map_err(|s| s.code())
}

#[tokio::test]
async fn tls_serves_clients_that_trust_its_ca_and_nothing_in_plaintext() {
    let pki = Pki::new("server");
    let sidecar = tls_sidecar(&pki, false).await;
    let trusting = ClientTls {
        ca_pem: Some(pki.ca.clone()),
        identity: None,
    };
    assert_eq!(
        check_with(&sidecar, trusting).await,
        Ok(pb::Decision::Allowed)
    );
    assert!(
        check_with(&sidecar, ClientTls::default()).await.is_err(),
        "plaintext answered"
    );
    let stranger = ClientTls {
        ca_pem: Some(Pki::new("other").ca),
        identity: None,
    };
    assert!(
        check_with(&sidecar, stranger).await.is_err(),
        "an untrusted certificate was accepted"
    );
}

/// TLS is ended by the server's own connection gate: a connection that never sends its
/// TLS hello, or stops halfway through the handshake, is closed after the handshake
/// timeout like a plaintext one.
#[tokio::test]
async fn a_tls_handshake_not_done_within_the_handshake_timeout_is_closed() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new("server");
    let sidecar = tls_sidecar_with(&pki, true, &["--handshake-timeout-ms", "300"]).await;
    let mut silent = tokio::net::TcpStream::connect(sidecar.address())
        .await
        .unwrap();
    crate::floods::closed_by_server(&mut silent, std::time::Duration::from_secs(5)).await;
    // The first bytes of a ClientHello record, then nothing.
    let mut halfway = tokio::net::TcpStream::connect(sidecar.address())
        .await
        .unwrap();
    halfway
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    crate::floods::closed_by_server(&mut halfway, std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn mutual_tls_refuses_callers_without_a_certificate_from_its_ca() {
    let pki = Pki::new("server");
    let sidecar = tls_sidecar(&pki, true).await;
    let with_certificate = ClientTls {
        ca_pem: Some(pki.ca.clone()),
        identity: Some(pki.client.clone()),
    };
    assert_eq!(
        check_with(&sidecar, with_certificate).await,
        Ok(pb::Decision::Allowed)
    );
    let without = ClientTls {
        ca_pem: Some(pki.ca.clone()),
        identity: None,
    };
    assert!(
        check_with(&sidecar, without).await.is_err(),
        "a caller without a certificate was served"
    );
    let rogue = Pki::new("rogue");
    let foreign = ClientTls {
        ca_pem: Some(pki.ca.clone()),
        identity: Some(rogue.client),
    };
    assert!(
        check_with(&sidecar, foreign).await.is_err(),
        "a certificate from another CA was accepted"
    );
}

#[tokio::test]
async fn the_bearer_token_guards_everything_but_health() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = write(dir.path(), "token", "s3cret-t0ken\n");
    let sidecar = Sidecar::start(
        Launch::default().args(&["--auth-token-file", token_file.to_str().unwrap()]),
    )
    .await;
    let channel = sidecar.channel().await;
    let with = |token: Option<&str>| {
        let mut request = tonic::Request::new(admin_check());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", token.parse().unwrap());
        }
        request
    };
    let mut authz = Authz::new(channel.clone());
    let missing = authz.check_access(with(None)).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert!(
        missing.message().contains("authorization: Bearer"),
        "{missing:?}"
    );
    for wrong in [
        "Bearer s3cret-t0ke",
        "Bearer s3cret-t0ken2",
        "Basic s3cret-t0ken",
        "s3cret-t0ken",
    ] {
        let refused = authz.check_access(with(Some(wrong))).await.unwrap_err();
        assert_eq!(
            refused.code(),
            Code::Unauthenticated,
            "{wrong}: {refused:?}"
        );
    }
    let answer = authz
        .check_access(with(Some("Bearer s3cret-t0ken")))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.allowed);
    // Admin calls need the token too, before their actor is even looked at.
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel.clone());
    let refused = admin
        .create_tag(crate::support::as_admin(pb::CreateTagRequest {
            name: "t".into(),
            validate_only: false,
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // Health stays open for the kubelet's probes; reflection does not.
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "rbac.v1.AuthorizationService".into(),
        })
        .await
        .unwrap();
    assert_eq!(health.into_inner().status, 1);
    let listing = crate::ports::list_services(channel, None).await;
    assert_eq!(listing.unwrap_err().code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_sidecar_reaches_its_tier_over_tls_with_the_tiers_token() {
    let pki = Pki::new("tier");
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.crt", &pki.ca).display().to_string();
    let token = write(dir.path(), "token", "tier-t0ken\n")
        .display()
        .to_string();
    let tier = tls_sidecar_with(&pki, false, &["--auth-token-file", &token]).await;
    let upstream = format!("https://{}", tier.address());

    // Without the token the tier refuses it, and it does not start; it says why.
    let listen = format!("127.0.0.1:{}", free_port());
    let args = [
        "--listen",
        &listen,
        "--upstream",
        &upstream,
        "--upstream-ca",
        &ca,
    ];
    let (code, out, err) = run("serve", &args, &[]);
    let said = format!("{out}{err}");
    assert_ne!(code, 0, "{said}");
    assert!(
        said.contains("database tier") && said.contains("Unauthenticated"),
        "{said}"
    );
    // Nor without trusting the tier's CA.
    let (code, _, err) = run("serve", &args[..4], &[("RBAC_UPSTREAM_TOKEN_FILE", &token)]);
    assert_ne!(code, 0, "{err}");

    // The sidecar's own callers: with no credential of its own, it lends the tier's
    // token to none of them on a claimed actor header alone.
    let own = write(dir.path(), "sidecar-token", "sidecar-t0ken\n")
        .display()
        .to_string();
    let fed = Sidecar::start(Launch {
        args: ["--upstream-ca", &ca, "--upstream-token-file", &token]
            .map(String::from)
            .into(),
        upstream: Some(upstream.clone()),
        ..Launch::default()
    })
    .await;
    let decision = fed.authz().await.check_access(admin_check()).await.unwrap();
    assert_eq!(decision.into_inner().decision(), pb::Decision::Allowed);
    let tag = || pb::CreateTagRequest {
        name: "through the sidecar".into(),
        validate_only: false,
    };
    let claimed = fed.admin().await.create_tag(as_admin(tag())).await;
    assert_eq!(claimed.unwrap_err().code(), Code::Unauthenticated);
    // A sidecar that requires its own token forwards what its callers sign with it, to
    // the tier with the tier's token.
    let fed = Sidecar::start(Launch {
        args: [
            "--upstream-ca",
            &ca,
            "--upstream-token-file",
            &token,
            "--auth-token-file",
            &own,
        ]
        .map(String::from)
        .into(),
        upstream: Some(upstream),
        ..Launch::default()
    })
    .await;
    let mut admin: Admin = fed.admin().await;
    let mut request = as_admin(tag());
    let bearer = "Bearer sidecar-t0ken".parse().unwrap();
    request.metadata_mut().insert("authorization", bearer);
    let tag = admin.create_tag(request).await.unwrap().into_inner();
    let mut on_tier: Admin = tier.admin().await;
    let mut request = as_admin(pb::ListTagsRequest {});
    let bearer = "Bearer tier-t0ken".parse().unwrap();
    request.metadata_mut().insert("authorization", bearer);
    let tags = on_tier.list_tags(request).await.unwrap();
    assert!(tags.into_inner().tags.iter().any(|t| t.id == tag.id));
}

#[tokio::test]
async fn authzen_is_served_over_tls_by_the_binary() {
    let pki = Pki::new("http");
    let http = format!("127.0.0.1:{}", free_port());
    let sidecar = tls_sidecar_with(&pki, false, &["--http-listen", &http]).await;
    let body = serde_json::json!({
        "subject": { "type": "user", "id": crate::support::ADMIN },
        "action": { "name": "billing.manage" },
        "resource": { "type": "system", "id": "-" },
    });
    let (status, answer) =
        crate::support::authzen::post_tls(&http, &pki.ca, "/access/v1/evaluation", &body).await;
    assert_eq!(
        (status, &answer["decision"]),
        (200, &serde_json::json!(true)),
        "{answer}"
    );
    // The discovery document says https://, the port's own scheme.
    let (status, document) =
        crate::support::authzen::get_tls(&http, &pki.ca, "/.well-known/authzen-configuration")
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        document["policy_decision_point"],
        format!("https://{http}"),
        "{document}"
    );
    // Plain HTTP gets no answer from a TLS port.
    let plain = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::spawn(async move {
            crate::support::authzen::get(&http, "/.well-known/authzen-configuration").await
        }),
    )
    .await;
    assert!(
        !matches!(plain, Ok(Ok(_))),
        "plain HTTP answered: {plain:?}"
    );
    drop(sidecar);
}
