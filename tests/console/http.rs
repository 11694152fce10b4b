//! A plain HTTP client for the console's pages: status, headers and body as text.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An answer of the console.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The session cookie it sets, as a `Cookie` header's value.
    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("rbac_console="))
            .map(|v| v.split(';').next().unwrap().to_owned())
    }

    /// The CSRF token of its forms.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// `method http://address{path}` with `headers` and a form `body`.
pub async fn send(
    method: &str,
    address: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<&str>,
) -> Answer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{address}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if form.is_some() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let body = Full::new(bytes::Bytes::from(form.unwrap_or_default().to_owned()));
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request.body(body).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn get(address: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    send("GET", address, path, headers, None).await
}

pub async fn post(address: &str, path: &str, headers: &[(&str, &str)], form: &str) -> Answer {
    send("POST", address, path, headers, Some(form)).await
}
