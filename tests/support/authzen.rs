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
