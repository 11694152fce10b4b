//! The console's own OpenID Connect sign-in, against a small OpenID provider this test
//! serves over TLS: discovery, an authorization endpoint that signs its one person in at
//! once, a token endpoint that checks the PKCE verifier against the challenge (S256) and
//! the redirect URI, and its keys. A sign-in works once, only in the browser that started
//! it, and only with the ID token's nonce.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rbac_sidecar::api::http_port::{self, HttpLimits};
use rbac_sidecar::api::https;
use rbac_sidecar::config::TlsFiles;
use rbac_sidecar::identity::OidcConfig;
use serde_json::json;
use sha2::Digest;

use crate::http::get as console_get;
use crate::support::{ADMIN, Backend, TestServer, tokens};

const CLIENT_ID: &str = "console-client";

/// What the provider remembers of an authorization request, until its code is used.
struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

struct Provider {
    issuer: String,
    keys: tokens::Issuer,
    grants: Mutex<HashMap<String, Grant>>,
    /// Sends an ID token whose nonce is not the request's (a replayed token).
    wrong_nonce: AtomicBool,
}

fn query(raw: Option<String>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A JSON answer.
fn json_answer(status: u16, body: serde_json::Value) -> Response {
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn discovery(State(p): State<Arc<Provider>>) -> Response {
    json_answer(
        200,
        json!({
            "issuer": p.issuer,
            "authorization_endpoint": format!("{}/authorize", p.issuer),
            "token_endpoint": format!("{}/token", p.issuer),
            "jwks_uri": format!("{}/jwks", p.issuer),
        }),
    )
}

async fn jwks(State(p): State<Arc<Provider>>) -> Response {
    json_answer(200, p.keys.jwks_json())
}

/// Signs its one person in at once and sends the browser back with a code.
async fn authorize(State(p): State<Arc<Provider>>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!("code-{}", uuid::Uuid::new_v4());
    p.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge: q["code_challenge"].clone(),
            nonce: q["nonce"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
        },
    );
    let back = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
    (axum::http::StatusCode::SEE_OTHER, [("location", back)]).into_response()
}

/// Exchanges a code once, for the verifier whose hash is its challenge.
async fn token(State(p): State<Arc<Provider>>, body: axum::body::Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let refused = |why: &str| {
        json_answer(
            400,
            json!({"error": "invalid_grant", "error_description": why}),
        )
    };
    let Some(grant) = p.grants.lock().unwrap().remove(&form["code"]) else {
        return refused("unknown or used code");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refused("the PKCE verifier does not match the challenge");
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) || form["client_id"] != CLIENT_ID {
        return refused("another client or redirect");
    }
    let now = tokens::now();
    let nonce = if p.wrong_nonce.load(Ordering::SeqCst) {
        "another-sign-in".to_owned()
    } else {
        grant.nonce
    };
    let claims = json!({
        "iss": p.issuer, "aud": CLIENT_ID, "sub": "person", "oid": ADMIN, "nonce": nonce,
        "iat": now, "exp": now + 600, "email": "admin@example.com",
    });
    json_answer(
        200,
        json!({
            "access_token": "opaque", "token_type": "Bearer", "expires_in": 600,
            "id_token": p.keys.sign("k1", &claims),
        }),
    )
}

/// Starts the provider on loopback over TLS: it and the CA file its certificate is from.
async fn provider(dir: &std::path::Path) -> (Arc<Provider>, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let files = TlsFiles {
        cert: dir.join("provider.pem"),
        key: dir.join("provider.key"),
        client_ca: None,
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let provider = Arc::new(Provider {
        issuer: format!("https://localhost:{port}"),
        keys: tokens::Issuer::new(),
        grants: Mutex::new(HashMap::new()),
        wrong_nonce: AtomicBool::new(false),
    });
    let router = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(Arc::clone(&provider));
    let limits = HttpLimits {
        max_connections: 64,
        handshake_timeout: Duration::from_secs(5),
        header_timeout: Duration::from_secs(5),
    };
    let acceptor = https::acceptor(&files, b"http/1.1").unwrap();
    tokio::spawn(http_port::serve(
        listener,
        Some(acceptor),
        router,
        limits,
        std::future::pending(),
    ));
    (provider, dir.join("ca.pem"))
}

/// The browser's side of one sign-in, a step at a time: the console's redirect to the
/// provider and the binding cookie, then the provider's redirect back.
async fn start_sign_in(console: &str, provider_ca: &std::path::Path) -> (String, String) {
    let begun = console_get(console, "/console/sign-in/oidc", &[]).await;
    assert_eq!(begun.status, 303);
    let to_provider = begun.headers["location"].to_str().unwrap().to_owned();
    let binding = begun
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("rbac_console_oidc="))
        .expect("the state is bound to the browser");
    assert!(
        binding.contains("HttpOnly") && binding.contains("SameSite=Lax"),
        "{binding}"
    );
    let binding = binding.split(';').next().unwrap().to_owned();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(provider_ca).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = client.get(&to_provider).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let back = answer.headers()["location"].to_str().unwrap().to_owned();
    let path = back.split_once(console).unwrap().1.to_owned();
    (path, binding)
}

#[tokio::test]
async fn the_console_signs_a_person_in_with_an_openid_provider_once_in_the_browser_that_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (provider, ca) = provider(dir.path()).await;
    let config = OidcConfig {
        issuer: provider.issuer.clone(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: None,
        ca: Some(ca.clone()),
    };
    let Some(server) =
        TestServer::start_configured(Backend::Sqlite, |c| c.console_oidc = Some(config)).await
    else {
        return;
    };
    let at = server.http_address.clone();
    let page = console_get(&at, "/console/sign-in", &[]).await;
    assert!(page.body.contains("Sign in with your identity provider"));

    // The whole sign-in: the session opens the console.
    let (callback, binding) = start_sign_in(&at, &ca).await;
    let signed = console_get(&at, &callback, &[("cookie", &binding)]).await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    let session = signed.cookie().expect("a session");
    let console = console_get(&at, "/console/", &[("cookie", &session)]).await;
    assert_eq!(console.status, 200);
    assert!(
        console
            .body
            .contains("Signed in as Bootstrap Administrator")
    );

    // The same answer again (a replay) opens nothing.
    let again = console_get(&at, &callback, &[("cookie", &binding)]).await;
    assert_eq!(again.status, 401);
    assert!(again.cookie().is_none());

    // An answer brought to another browser (login CSRF): no binding cookie, no session.
    let (callback, _) = start_sign_in(&at, &ca).await;
    let elsewhere = console_get(&at, &callback, &[]).await;
    assert_eq!(elsewhere.status, 401);
    assert!(elsewhere.cookie().is_none());

    // An ID token minted for another sign-in (its nonce differs) opens nothing.
    provider.wrong_nonce.store(true, Ordering::SeqCst);
    let (callback, binding) = start_sign_in(&at, &ca).await;
    let replayed = console_get(&at, &callback, &[("cookie", &binding)]).await;
    assert_eq!(replayed.status, 401);
    assert!(replayed.body.contains("nonce"), "{}", replayed.body);
    assert!(replayed.cookie().is_none());
    server.stop().await;
}
