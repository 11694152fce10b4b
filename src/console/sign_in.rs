//! Who is signed in to the console, proven one of three ways, never by a claimed header:
//!
//! - an identity-aware proxy's `Authorization: Bearer <JWT>` on every request, verified as
//!   `x-actor-token` is (`--actor-jwks`, its issuer and audience; the claim names the
//!   person);
//! - the console's own OpenID Connect sign-in (`identity::OidcSignIn`: authorization code
//!   with PKCE, state bound to the browser by a cookie, nonce bound to the ID token);
//! - a one-time sign-in link, which the server prints for the bootstrap administrator
//!   when its HTTP port is on loopback.
//!
//! Either way the browser holds a session cookie (HttpOnly, SameSite=Strict, Secure over
//! TLS): it carries the CSRF token every form must send back and whom the person
//! impersonates. Nothing but the sign-in page answers a visitor who proves nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::Console;
use super::form::Fields;
use super::page::{self, Frame};
use crate::admin::{Actor, ActorRef};
use crate::model::{Action, UserId};

const COOKIE: &str = "rbac_console";
/// A session unused this long is forgotten: its person signs in again.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// And however much it is used, a session ends this long after sign-in.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions held at once, at most: past it, the least recently used ones end.
const MAX_SESSIONS: u64 = 20_000;
/// A sign-in link not used within this long no longer works.
const LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Sign-in links waiting to be used, at most.
const MAX_LINKS: usize = 100;

/// One browser's sign-in.
#[derive(Debug)]
struct Session {
    person: ActorRef,
    /// Opened for a proxy's bearer token: it holds only while the proxy keeps sending a
    /// valid token for the person (the cookie alone is not enough).
    by_proxy: bool,
    /// Every form sends it back.
    csrf: String,
    impersonating: Option<UserId>,
}

/// The console's sessions and unused sign-in links, in this process's memory: a restart
/// signs everyone out (a proxy's token signs its person in again at once).
pub struct Sessions {
    open: moka::sync::Cache<String, Arc<Mutex<Session>>>,
    links: Mutex<HashMap<String, (Uuid, Instant)>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            open: moka::sync::Cache::builder()
                .max_capacity(MAX_SESSIONS)
                .time_to_idle(IDLE)
                .time_to_live(LIFETIME)
                .build(),
            links: Mutex::new(HashMap::new()),
        }
    }
}

/// 256 random bits as hex, from the operating system.
fn secret() -> String {
    let mut bytes = [0u8; 32];
    // Without randomness there is no safe session: stop rather than answer with a guess.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random number generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// A one-time sign-in link's query for the person with this Azure object id: the path
    /// `/console/sign-in/link?code=...` signs them in once, within a day.
    pub fn link_for(&self, object_id: Uuid) -> String {
        let code = secret();
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        links.retain(|_, (_, made)| made.elapsed() < LINK_LIFETIME);
        if links.len() >= MAX_LINKS {
            links.clear();
        }
        links.insert(code.clone(), (object_id, Instant::now()));
        format!("/console/sign-in/link?code={code}")
    }

    /// The person a link's code signs in; the code never works again.
    fn redeem(&self, code: &str) -> Option<Uuid> {
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        let (object_id, made) = links.remove(code)?;
        (made.elapsed() < LINK_LIFETIME).then_some(object_id)
    }

    /// A new session for `person`: its id, for the cookie.
    fn open(&self, person: ActorRef, by_proxy: bool) -> (String, Arc<Mutex<Session>>) {
        let id = secret();
        let session = Arc::new(Mutex::new(Session {
            person,
            by_proxy,
            csrf: secret(),
            impersonating: None,
        }));
        self.open.insert(id.clone(), Arc::clone(&session));
        (id, session)
    }
}

/// A cookie's value in a request.
fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The signed-in person of a request, acting for one page or form.
pub struct Viewer {
    pub actor: Actor,
    pub frame: Frame,
    session: Arc<Mutex<Session>>,
}

impl Viewer {
    /// The actor of a form: previewing (`validate_only`) when its "Preview" was pressed.
    pub fn actor_for(&self, form: &Fields) -> Actor {
        match form.has("preview") {
            true => self.actor.clone().previewing(),
            false => self.actor.clone(),
        }
    }

    /// Starts or stops impersonating (already judged by the admin use-case).
    pub fn impersonate(&self, target: Option<UserId>) {
        self.session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .impersonating = target;
    }
}

impl Console {
    fn cookie(&self, id: String) -> String {
        Cookie::build((COOKIE, id))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure)
            .path("/")
            .build()
            .to_string()
    }

    /// The person the request proves, and their session: from a proxy's bearer token (a
    /// session is opened for it, or kept while it names the same person), or from the
    /// session cookie. Anyone else gets the sign-in page.
    async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Arc<Mutex<Session>>, Option<String>), Response> {
        let existing = cookie_named(headers, COOKIE).and_then(|id| self.sessions.open.get(&id));
        // The scheme is case-insensitive (RFC 9110).
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token);
        let Some(token) = bearer else {
            let by_proxy =
                |s: &Arc<Mutex<Session>>| s.lock().unwrap_or_else(PoisonError::into_inner).by_proxy;
            return match existing {
                Some(session) if by_proxy(&session) => Err(self.sign_in_page(Some(
                    "your identity-aware proxy did not send your token with this request: open the console through the proxy",
                ))),
                Some(session) => Ok((session, None)),
                None => Err(self.sign_in_page(None)),
            };
        };
        let Some(verifier) = &self.verifier else {
            return Err(self.sign_in_page(Some(
                "this server does not verify sign-in tokens (start it with --actor-jwks): sign in with the link it printed at start",
            )));
        };
        let proven = verifier
            .verify(token.trim())
            .await
            .map_err(|err| self.sign_in_page(Some(&err.to_string())))?;
        let person = ActorRef::AzureObject(proven.object_id);
        if let Some(session) = existing {
            let same = session
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .person
                == person;
            if same {
                return Ok((session, None));
            }
        }
        let (id, session) = self.sessions.open(person, true);
        Ok((session, Some(self.cookie(id))))
    }

    /// The signed-in person of a page, as the actor of `action`: themselves, or the user
    /// they impersonate while the impersonation is still allowed.
    pub async fn viewer(&self, headers: &HeaderMap, action: Action) -> Result<Viewer, Response> {
        let (session, set_cookie) = self.session(headers).await?;
        let (person, impersonating, csrf) = {
            let s = session.lock().unwrap_or_else(PoisonError::into_inner);
            (s.person, s.impersonating, s.csrf.clone())
        };
        let mut frame = Frame {
            csrf,
            set_cookie,
            ..Frame::default()
        };
        let actor = match self.admin.actor(person, action).await {
            Ok(actor) => actor,
            Err(err) => return Err(page::admin_error(&frame, &err, "/console/sign-in")),
        };
        let actor = match impersonating {
            None => actor,
            Some(target) => match self.admin.impersonate(actor, target, action).await {
                Ok(actor) => actor,
                Err(err) => {
                    session
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .impersonating = None;
                    let message = format!("Impersonation has ended: {err}");
                    return Err(page::refused(
                        &frame,
                        StatusCode::FORBIDDEN,
                        &message,
                        "/console/",
                    ));
                }
            },
        };
        let (user, impersonator) = self
            .admin
            .who(&actor)
            .await
            .map_err(|err| page::admin_error(&frame, &err, "/console/"))?;
        match impersonator {
            Some(impersonator) => {
                frame.signed_in = super::names::label(&impersonator);
                frame.impersonating = Some(super::names::label(&user));
            }
            None => frame.signed_in = super::names::label(&user),
        }
        Ok(Viewer {
            actor,
            frame,
            session,
        })
    }

    /// The signed-in person of a form, which must carry their session's CSRF token.
    pub async fn acting(
        &self,
        headers: &HeaderMap,
        form: &Fields,
        action: Action,
    ) -> Result<Viewer, Response> {
        let viewer = self.viewer(headers, action).await?;
        let expected = viewer.frame.csrf.as_bytes();
        let sent = form.get("csrf").unwrap_or_default().as_bytes();
        if !bool::from(expected.ct_eq(sent)) {
            return Err(page::refused(
                &viewer.frame,
                StatusCode::FORBIDDEN,
                "This form did not come from your console session (it has expired, or another site sent it). Reload the page and send the form again.",
                "/console/",
            ));
        }
        Ok(viewer)
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignIn<'a> {
    frame: &'a Frame,
    problem: Option<&'a str>,
    /// The console signs people in with an OpenID provider.
    oidc: bool,
}

impl Console {
    /// The sign-in page: 401, and nothing of the instance.
    fn sign_in_page(&self, problem: Option<&str>) -> Response {
        let frame = Frame::default();
        let page = SignIn {
            frame: &frame,
            problem,
            oidc: self.oidc.is_some(),
        };
        let mut response = page::render(&frame, &page);
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response
    }

    /// A new session's cookie, on a redirect to the console.
    fn signed_in(&self, person: ActorRef) -> Response {
        let (id, _) = self.sessions.open(person, false);
        let frame = Frame {
            set_cookie: Some(self.cookie(id)),
            ..Frame::default()
        };
        page::redirect(&frame, "/console/")
    }
}

/// `GET /console/sign-in`.
pub async fn page(State(console): State<Console>) -> Response {
    console.sign_in_page(None)
}

#[derive(Template)]
#[template(path = "sign_in_link.html")]
struct SignInLink<'a> {
    frame: &'a Frame,
    code: &'a str,
}

/// `GET /console/sign-in/link?code=...`: the printed link's page, whose button signs in.
/// Only the button's POST uses the code up, so a link checker or a preview that fetches
/// the link (GET, HEAD) signs nobody in.
pub async fn link(RawQuery(query): RawQuery) -> Response {
    let query = Fields::parse(query.unwrap_or_default().as_bytes());
    let frame = Frame::default();
    let code = query.get("code").unwrap_or_default();
    page::render(
        &frame,
        &SignInLink {
            frame: &frame,
            code,
        },
    )
}

/// `POST /console/sign-in/link`: a one-time code signs its person in.
pub async fn redeem(State(console): State<Console>, body: axum::body::Bytes) -> Response {
    let form = Fields::parse(&body);
    match form.get("code").and_then(|code| console.sessions.redeem(code)) {
        Some(object_id) => console.signed_in(ActorRef::AzureObject(object_id)),
        None => console.sign_in_page(Some(
            "This sign-in link has been used, has expired or is unknown. Restart the server for a new one, or sign in through your identity provider.",
        )),
    }
}

/// The cookie that binds an OpenID sign-in to the browser that started it: sent back on
/// the provider's redirect (SameSite=Lax: a top-level navigation from another site).
const OIDC_COOKIE: &str = "rbac_console_oidc";
const CALLBACK: &str = "/console/sign-in/callback";

/// `GET /console/sign-in/oidc`: to the identity provider, with PKCE, state and nonce.
pub async fn oidc(State(console): State<Console>) -> Response {
    let Some(oidc) = &console.oidc else {
        return console.sign_in_page(Some(
            "this console has no identity provider configured (--console-oidc-issuer)",
        ));
    };
    let (url, state) = match oidc.begin(&format!("{}{CALLBACK}", console.base)) {
        Ok(begun) => begun,
        Err(problem) => return console.sign_in_page(Some(&problem)),
    };
    let mut response = page::see_other(&url);
    let binding = Cookie::build((OIDC_COOKIE, state))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(console.secure)
        .path("/console/sign-in")
        .max_age(cookie::time::Duration::minutes(10))
        .build()
        .to_string();
    if let Ok(value) = binding.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedIn;

/// `GET /console/sign-in/callback?code=...&state=...`: the provider's answer. The state
/// must be the one this browser started; the code is exchanged and the ID token verified.
pub async fn callback(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = Fields::parse(query.unwrap_or_default().as_bytes());
    let Some(oidc) = &console.oidc else {
        return console.sign_in_page(None);
    };
    if let Some(error) = query.get("error") {
        let message = format!(
            "The identity provider did not sign you in: {} {}",
            crate::model::shown(error),
            crate::model::shown(query.get("error_description").unwrap_or_default())
        );
        return console.sign_in_page(Some(&message));
    }
    let started = cookie_named(&headers, OIDC_COOKIE).unwrap_or_default();
    let (Some(state), Some(code)) = (query.get("state"), query.get("code")) else {
        return console.sign_in_page(Some(
            "the identity provider's answer lacks its code or state; sign in again",
        ));
    };
    if started.is_empty() || !bool::from(started.as_bytes().ct_eq(state.as_bytes())) {
        return console.sign_in_page(Some(
            "this sign-in was not started in this browser (or took longer than ten minutes); sign in again",
        ));
    }
    let proven = match oidc.finish(state, code).await {
        Ok(proven) => proven,
        Err(problem) => return console.sign_in_page(Some(&problem)),
    };
    // The session cookie is SameSite=Strict, and this request came from the provider's
    // site: a redirect would carry the cross-site flag on, so a page of our own takes the
    // browser on to the console.
    let (id, _) = console
        .sessions
        .open(ActorRef::AzureObject(proven.object_id), false);
    let frame = Frame {
        set_cookie: Some(console.cookie(id)),
        ..Frame::default()
    };
    let mut response = page::render(&frame, &SignedIn);
    let cleared = Cookie::build((OIDC_COOKIE, ""))
        .path("/console/sign-in")
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string();
    if let Ok(value) = cleared.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /console/sign-out`: forgets the session.
pub async fn sign_out(
    State(console): State<Console>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = Fields::parse(&body);
    if let Err(refused) = console.acting(&headers, &form, Action::GetMyAccess).await {
        return refused;
    }
    if let Some(id) = cookie_named(&headers, COOKIE) {
        console.sessions.open.invalidate(&id);
    }
    let mut response = page::see_other("/console/sign-in");
    let expired = Cookie::build((COOKIE, ""))
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string();
    if let Ok(value) = expired.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response.into_response()
}
