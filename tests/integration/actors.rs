//! Proven actors (`--actor-jwks`): an admin call's actor is the `oid` of a JWT verified
//! against the identity provider's keys, its issuer, audience and lifetime. Each refusal
//! is UNAUTHENTICATED, says which check failed, and runs nothing; a forged or replayed
//! claim gets nobody anywhere.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::identity::ActorJwtConfig;
use serde_json::json;
use tonic::Code;

use crate::support::tokens::{Issuer, assemble, now, with_token};
use crate::support::world::assert_status;
use crate::support::{ADMIN, Backend, TestServer, as_actor};

const OTHER: &str = "0b5ad0a1-0000-4000-8000-0000000000b2";

async fn server(issuer: &Issuer) -> TestServer {
    let config = issuer.config();
    TestServer::start_configured(Backend::Sqlite, |c| c.actor_jwt = Some(config))
        .await
        .expect("SQLite is always there")
}

/// GetMyAccess with `request`'s metadata: who the server takes the caller for.
async fn me(
    server: &mut TestServer,
    request: tonic::Request<pb::GetMyAccessRequest>,
) -> Result<String, tonic::Status> {
    Ok(server
        .admin
        .get_my_access(request)
        .await?
        .into_inner()
        .user_id)
}

/// The MSP tenant the bootstrap administrator was created in.
async fn bootstrap_tenant(server: &mut TestServer, issuer: &Issuer) -> String {
    let request = with_token(&issuer.token(ADMIN), pb::ListTenantsRequest::default());
    let tenants = server.admin.list_tenants(request).await.unwrap();
    tenants.into_inner().tenants[0].id.clone()
}

fn call(token: &str) -> tonic::Request<pb::GetMyAccessRequest> {
    with_token(token, pb::GetMyAccessRequest {})
}

#[tokio::test]
async fn a_valid_token_names_the_actor_and_claimed_headers_alone_name_nobody() {
    let issuer = Issuer::new();
    let mut server = server(&issuer).await;
    let admin = me(&mut server, call(&issuer.token(ADMIN))).await.unwrap();
    assert!(!admin.is_empty());

    let claimed = me(&mut server, as_actor(ADMIN, pb::GetMyAccessRequest {})).await;
    assert_status(claimed, Code::Unauthenticated, "x-actor-token");
    let nothing = me(&mut server, tonic::Request::new(pb::GetMyAccessRequest {})).await;
    assert_status(nothing, Code::Unauthenticated, "x-actor-token");

    // A token and a header may both be sent only when they name the same person.
    let mut same = call(&issuer.token(ADMIN));
    same.metadata_mut()
        .insert("x-actor-object-id", ADMIN.parse().unwrap());
    assert_eq!(me(&mut server, same).await.unwrap(), admin);
    let tenant = bootstrap_tenant(&mut server, &issuer).await;
    let mut admin_client = server.admin.clone();
    let mut create = with_token(
        &issuer.token(ADMIN),
        pb::CreateUserRequest {
            tenant_id: tenant,
            email: "other@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            azure_object_id: OTHER.into(),
            validate_only: false,
        },
    );
    create
        .metadata_mut()
        .insert("x-actor-object-id", ADMIN.parse().unwrap());
    admin_client.create_user(create).await.unwrap();
    let mut mixed = call(&issuer.token(OTHER));
    mixed
        .metadata_mut()
        .insert("x-actor-object-id", ADMIN.parse().unwrap());
    assert_status(
        me(&mut server, mixed).await,
        Code::InvalidArgument,
        "different users",
    );
    let mut mixed = call(&issuer.token(OTHER));
    mixed
        .metadata_mut()
        .insert("x-actor-user-id", admin.parse().unwrap());
    assert_status(
        me(&mut server, mixed).await,
        Code::InvalidArgument,
        "different users",
    );
    server.stop().await;
}

#[tokio::test]
async fn every_broken_token_is_unauthenticated_and_says_which_check_failed() {
    let issuer = Issuer::new();
    let mut server = server(&issuer).await;
    let claims = issuer.claims(ADMIN);
    let with = |change: serde_json::Value| {
        let mut claims = claims.clone();
        for (key, value) in change.as_object().unwrap() {
            match value {
                serde_json::Value::Null => claims.as_object_mut().unwrap().remove(key),
                value => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(key.clone(), value.clone()),
            };
        }
        issuer.sign("k1", &claims)
    };
    let valid = issuer.token(ADMIN);
    let [header, _, signature]: [&str; 3] =
        valid.split('.').collect::<Vec<_>>().try_into().unwrap();
    let forged_payload = {
        let mut claims = claims.clone();
        claims["oid"] = json!(OTHER);
        let forged = assemble(&json!({"alg": "ES256", "kid": "k1"}), &claims, signature);
        // The header is the real one too, byte for byte.
        format!("{header}.{}", forged.split_once('.').unwrap().1)
    };
    let hmac_with_public_key = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("k1".into());
        let secret = jsonwebtoken::EncodingKey::from_secret(issuer.public_pem("k1").as_bytes());
        jsonwebtoken::encode(&header, &claims, &secret).unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", with(json!({"exp": now() - 120})), "has expired"),
        (
            "not yet valid",
            with(json!({"nbf": now() + 300})),
            "not valid yet",
        ),
        (
            "wrong issuer",
            with(json!({"iss": "https://evil.example/v2.0"})),
            "not issued by",
        ),
        (
            "wrong audience",
            with(json!({"aud": "api://someone-else"})),
            "not meant for",
        ),
        (
            "no exp",
            with(json!({"exp": null})),
            "lacks the claim `exp`",
        ),
        (
            "no nbf",
            with(json!({"nbf": null})),
            "lacks the claim `nbf`",
        ),
        (
            "no oid",
            with(json!({"oid": null})),
            "lacks the claim `oid`",
        ),
        (
            "oid not a uuid",
            with(json!({"oid": "admin"})),
            "must be an Azure object id",
        ),
        (
            "alg none",
            assemble(&json!({"alg": "none", "kid": "k1"}), &claims, ""),
            "`none`",
        ),
        ("HMAC with the public key", hmac_with_public_key, "`HS256`"),
        (
            "RS256 on an ES256 key",
            assemble(&json!({"alg": "RS256", "kid": "k1"}), &claims, "c2ln"),
            "published for another algorithm",
        ),
        (
            "forged payload",
            forged_payload,
            "signature does not verify",
        ),
        (
            "unknown key id",
            {
                let mut other = Issuer::new();
                other.publish("k9");
                other.sign("k9", &claims)
            },
            "key id is not in the key set",
        ),
        ("not a JWT", "not-a-token".into(), "not a JWT"),
    ];
    for (case, token, needle) in cases {
        let status = me(&mut server, call(&token)).await.expect_err(case);
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{case}: {}",
            status.message()
        );
        assert!(
            status.message().contains(needle),
            "{case}: `{}`",
            status.message()
        );
        assert!(
            !status.message().contains(&token),
            "{case}: the token is echoed"
        );
    }
    // Within the leeway a token just past `exp` still counts: clocks differ a little.
    assert!(
        me(&mut server, call(&with(json!({"exp": now() - 10}))))
            .await
            .is_ok()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_newly_published_key_is_taken_without_a_restart_and_unknown_ids_are_rate_limited() {
    let mut issuer = Issuer::new();
    let mut server = server(&issuer).await;
    issuer.publish("k2");
    let rotated = issuer.sign("k2", &issuer.claims(ADMIN));
    me(&mut server, call(&rotated))
        .await
        .expect("the new key is read on first sight");
    // A second new key right after: the set was re-read less than 30 s ago.
    issuer.publish("k3");
    let too_soon = issuer.sign("k3", &issuer.claims(ADMIN));
    assert_status(
        me(&mut server, call(&too_soon)).await,
        Code::Unauthenticated,
        "retry in 30 seconds",
    );
    server.stop().await;
}

#[tokio::test]
async fn access_requests_come_from_the_token_subject() {
    let issuer = Issuer::new();
    let mut server = server(&issuer).await;
    let tenant = bootstrap_tenant(&mut server, &issuer).await;
    let ask = |object_id: &str| pb::SubmitAccessRequestRequest {
        tenant_id: tenant.clone(),
        azure_object_id: object_id.into(),
        email: "typed@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        validate_only: false,
    };
    let anonymous = server.admin.submit_access_request(ask(OTHER)).await;
    assert_status(anonymous, Code::Unauthenticated, "x-actor-token");
    let someone_else = server
        .admin
        .submit_access_request(with_token(&issuer.token(OTHER), ask(ADMIN)))
        .await;
    assert_status(someone_else, Code::InvalidArgument, "someone other than");
    let request = server
        .admin
        .submit_access_request(with_token(&issuer.token(OTHER), ask("")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(request.azure_object_id, OTHER);
    assert_eq!(request.email, format!("{OTHER}@example.com"));
    server.stop().await;
}

/// Serves `body` as the answer to every request, over TLS with a certificate for
/// `localhost` from a CA made here; the CA's PEM and the port.
async fn https_jwks(body: String) -> (String, u16) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut stream) = acceptor.accept(stream).await else {
                continue;
            };
            let mut request = Vec::new();
            let mut buffer = [0; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (ca.pem(), port)
}

#[tokio::test]
async fn the_key_set_comes_from_an_https_url_trusted_through_its_ca() {
    use rbac_sidecar::identity::ActorVerifier;
    let issuer = Issuer::new();
    let (ca, port) = https_jwks(issuer.jwks_json().to_string()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let config = rbac_sidecar::identity::ActorJwtConfig {
        jwks: format!("https://localhost:{port}/discovery/v2.0/keys"),
        jwks_ca: Some(ca_file),
        ..issuer.config()
    };
    let verifier = ActorVerifier::start(&config).await.unwrap();
    let actor = verifier.verify(&issuer.token(ADMIN)).await.unwrap();
    assert_eq!(actor.object_id.to_string(), ADMIN);
    assert_eq!(
        actor.email.as_deref(),
        Some(&*format!("{ADMIN}@example.com"))
    );

    // The system's roots do not know the test CA, and plain http is never taken.
    let untrusted = ActorJwtConfig {
        jwks_ca: None,
        ..config.clone()
    };
    let err = ActorVerifier::start(&untrusted)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot fetch the actor JWKS"), "{err}");
    let plain = ActorJwtConfig {
        jwks: format!("http://localhost:{port}/keys"),
        ..config
    };
    let err = ActorVerifier::start(&plain)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("https://"), "{err}");
}

#[tokio::test]
async fn a_key_the_server_cannot_use_is_left_out_and_encryption_keys_never_verify() {
    use rbac_sidecar::identity::ActorVerifier;
    let issuer = Issuer::new();
    let good = issuer.jwks_json()["keys"][0].clone();
    let mut encryption = good.clone();
    encryption["use"] = json!("enc");
    let unknown = json!({"kty": "XYZ", "kid": "odd", "alg": "ES512"});
    let write = |keys: Vec<serde_json::Value>| {
        std::fs::write(issuer.jwks(), json!({ "keys": keys }).to_string()).unwrap();
    };
    write(vec![unknown.clone(), good]);
    let verifier = ActorVerifier::start(&issuer.config()).await.unwrap();
    assert!(verifier.verify(&issuer.token(ADMIN)).await.is_ok());
    write(vec![unknown, encryption]);
    let err = ActorVerifier::start(&issuer.config())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("holds no key"), "{err}");
}
