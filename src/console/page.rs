//! What every page shares: the frame around it (who is signed in, the impersonation
//! banner, the CSRF token its forms carry), rendering, refusals shown as pages, and the
//! headers and deadline every answer gets.

use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::admin::AdminError;

/// What a handler answers: a page, or a page saying why not.
pub type Answer = Result<Response, Response>;

/// Around every page: who is signed in, whom they impersonate, the CSRF token.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// The signed-in person, by name.
    pub signed_in: String,
    /// While impersonating: the person impersonated, by name.
    pub impersonating: Option<String>,
    pub csrf: String,
    /// A new session's cookie, set on this answer.
    pub set_cookie: Option<String>,
}

/// The refusal page.
#[derive(Template)]
#[template(path = "refused.html")]
struct Refused<'a> {
    frame: &'a Frame,
    title: &'a str,
    message: &'a str,
    back: &'a str,
}

/// Renders a page in its frame.
pub fn render(frame: &Frame, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => with_cookie(frame, Html(html).into_response()),
        Err(err) => {
            tracing::error!(error = %err, "a console page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render").into_response()
        }
    }
}

/// A redirect after a form (POST, then GET: a reload does not send the form again).
pub fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `see_other`, in the frame (a new session's cookie).
pub fn redirect(frame: &Frame, to: &str) -> Response {
    with_cookie(frame, see_other(to))
}

fn with_cookie(frame: &Frame, mut response: Response) -> Response {
    if let Some(cookie) = frame.set_cookie.as_deref().and_then(|c| c.parse().ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A page saying why an action was not carried out, and where to go next.
pub fn refused(frame: &Frame, status: StatusCode, message: &str, back: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "Check the form",
        StatusCode::CONFLICT => "Already exists",
        _ => "Not done",
    };
    let page = Refused {
        frame,
        title,
        message,
        back,
    };
    let mut response = render(frame, &page);
    *response.status_mut() = status;
    response
}

/// An admin refusal as a page: its message, which says what to do next.
pub fn admin_error(frame: &Frame, err: &AdminError, back: &str) -> Response {
    let status = match err {
        AdminError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::AlreadyExists(_) => StatusCode::CONFLICT,
        AdminError::FailedPrecondition(_) => StatusCode::CONFLICT,
        AdminError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        AdminError::ResourceExhausted(_) => StatusCode::TOO_MANY_REQUESTS,
        AdminError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    let message = match err {
        AdminError::Store(_) => {
            tracing::warn!(error = %err, "a console action failed in the store");
            "the database did not answer; nothing was changed. Try again in a moment.".to_owned()
        }
        _ => err.to_string(),
    };
    refused(frame, status, &message, back)
}

/// How long a console request may take, its form read included (`--request-timeout-ms`).
#[derive(Clone, Copy)]
pub struct Deadline(pub Duration);

/// Every console answer: refused when a form comes from another site, bounded by the
/// deadline, and never cached, framed or sent with a referrer (a sign-in link's code).
pub async fn guard(
    Extension(Deadline(deadline)): Extension<Deadline>,
    request: Request,
    next: Next,
) -> Response {
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let mut response = if request.method() != Method::GET && cross_site(request.headers()) {
        (
            StatusCode::FORBIDDEN,
            "this form was sent from another site; open the console and send it from there",
        )
            .into_response()
    } else if request.method() == Method::POST && !form {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the console takes its forms as application/x-www-form-urlencoded, as a browser sends them",
        )
            .into_response()
    } else {
        match tokio::time::timeout(deadline, next.run(request)).await {
            Ok(response) => response,
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the console did not answer in time; nothing is half-done: try again",
            )
                .into_response(),
        }
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether the browser says the request comes from another site: `Sec-Fetch-Site`, or
/// an `Origin` that is not this host. (The session cookie is SameSite=Strict, and every
/// form carries the CSRF token besides.)
fn cross_site(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return !matches!(site, "same-origin" | "none");
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_same_origin_forms_pass() {
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(cross_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8080")])));
    }
}
