//! An HTTP client for the AuthZEN endpoints: JSON in, status and JSON out.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// POSTs `body` to `http://address{path}` (with the bearer token when given); the status
/// and the JSON answer.
pub async fn post(
    address: &str,
    path: &str,
    body: &serde_json::Value,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = http::Request::post(format!("http://{address}{path}"))
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    send(request).await
}

pub async fn get(address: &str, path: &str) -> (u16, serde_json::Value) {
    let request = http::Request::get(format!("http://{address}{path}"))
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    send(request).await
}

async fn send(request: http::Request<Full<bytes::Bytes>>) -> (u16, serde_json::Value) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    (status, json)
}

/// POSTs over HTTPS, trusting `ca_pem` for the server `localhost` at `address`.
pub async fn post_tls(
    address: &str,
    ca_pem: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let request = http::Request::post(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    send_tls(address, ca_pem, request).await
}

/// GETs over HTTPS, as [`post_tls`].
pub async fn get_tls(address: &str, ca_pem: &str, path: &str) -> (u16, serde_json::Value) {
    let request = http::Request::get(path)
        .header("host", "localhost")
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    send_tls(address, ca_pem, request).await
}

async fn send_tls(
    address: &str,
    ca_pem: &str,
    request: http::Request<Full<bytes::Bytes>>,
) -> (u16, serde_json::Value) {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}
