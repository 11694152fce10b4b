//! The `[ext_authz]` section of the configuration file: how Envoy's external authorization
//! requests become checks. A route names a method and a path template, the permission, and
//! where the target comes from; the subject comes from a header or from jwt_authn's
//! dynamic metadata. `RouteMap::compile` checks it all at start; `RouteMap::route` matches
//! one request (first route that matches wins).
//!
//! The section as written is `settings.rs`; the README's "Behind Envoy or Istio" shows
//! one, and the tests below use one.
//!
//! In a path, `{name}` matches one segment, `*` any one segment, and a final `**` whatever
//! is left (nothing included). The query string is not part of the path. A request's path
//! is matched as the most lenient application behind would read it: percent-encoded
//! unreserved characters (RFC 3986, section 2.3) decoded first, so `/%61dmin` is `/admin`.
//! A path an application could still read otherwise (see [`RouteError::OddPath`]) is
//! refused.

mod settings;

pub use settings::{ExtAuthzSettings, ResourceSettings, RouteSettings, SubjectKind, Unmatched};

use crate::model::{PermissionId, ResourceType, catalogue, shown};

/// Where the subject of a request is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectSource {
    /// A request header (lower case), e.g. one jwt_authn's `claim_to_headers` sets.
    Header(String),
    /// jwt_authn's dynamic metadata: the filter's name, then keys into its struct.
    Metadata { filter: String, path: Vec<String> },
    /// Not configured: every request is refused as unauthenticated.
    None,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Any,
}

/// Where a target's id is read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Param(String),
    Header(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TargetTemplate {
    None,
    Tenant(Value),
    Resource(ResourceType, Value),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Route {
    /// None: any method.
    method: Option<String>,
    segments: Vec<Segment>,
    /// A final `**`.
    rest: bool,
    permission: PermissionId,
    target: TargetTemplate,
    /// `METHOD path`, for messages.
    shown: String,
}

/// The compiled section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMap {
    /// As written, to show the configuration.
    pub settings: ExtAuthzSettings,
    pub subject: SubjectSource,
    pub subject_kind: SubjectKind,
    pub unmatched: Unmatched,
    routes: Vec<Route>,
}

/// The target of a routed request, as read from it (not yet parsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutedTarget {
    None,
    Tenant(String),
    Resource(ResourceType, String),
}

/// What a request routes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed<'a> {
    pub permission: PermissionId,
    pub target: RoutedTarget,
    /// The route, as `METHOD path`.
    pub route: &'a str,
}

/// Why a request is refused before any route is tried, or has no target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// A path an application could read otherwise than the route map: refused in every
    /// mode, `unmatched = "allow"` included. `why` names the shape.
    #[error("the path has {why}, which an application could read otherwise")]
    OddPath { why: &'static str },
    #[error("route `{route}` takes its target from header `{header}`, which the request lacks")]
    MissingHeader { route: String, header: String },
}

/// A segment as the most lenient application behind would read it: percent-encoded
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`, RFC 3986 section 2.3) decoded, other
/// escapes kept. Refused when the segment stays ambiguous: applications differ on what it
/// names, so no reading of it is safe to match (or to let through unmatched).
fn normalised(segment: &str) -> Result<String, RouteError> {
    let odd = |why| Err(RouteError::OddPath { why });
    if matches!(segment, "" | "." | "..") {
        return odd("an empty, `.` or `..` segment");
    }
    if segment.contains(['\\', ';']) {
        return odd("a `\\` or `;`");
    }
    let lower = segment.to_ascii_lowercase();
    if ["%2f", "%5c", "%2e", "%3b"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return odd("an encoded `/`, `\\`, `.` or `;`");
    }
    // Every escape decoded, as the application finally reads the segment.
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    if decoded.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return odd("a control or whitespace character, encoded or not");
    }
    let mut out = String::with_capacity(segment.len());
    let mut rest = segment;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest
            .get(at + 1..at + 3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(hex) = escape else {
            return odd("a `%` that does not start an escape `%XX`");
        };
        match u8::from_str_radix(hex, 16) {
            Ok(b) if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(char::from(b)),
            _ => {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    // Many servers drop a trailing dot (`admin.` is `admin` to them, a file name to others).
    if out.ends_with('.') {
        return odd("a segment ending in `.`");
    }
    Ok(out)
}

impl Default for RouteMap {
    /// No section: every request is unauthenticated.
    fn default() -> Self {
        RouteMap {
            settings: ExtAuthzSettings::default(),
            subject: SubjectSource::None,
            subject_kind: SubjectKind::default(),
            unmatched: Unmatched::Deny,
            routes: Vec::new(),
        }
    }
}

impl RouteMap {
    /// Checks and compiles the section; the error names the route and what is wrong.
    pub fn compile(settings: &ExtAuthzSettings) -> Result<RouteMap, String> {
        let subject = match (&settings.subject_header, &settings.subject_metadata) {
            (Some(_), Some(_)) => {
                return Err("set `subject_header` or `subject_metadata`, not both".into());
            }
            (Some(header), None) => SubjectSource::Header(header.to_ascii_lowercase()),
            (None, Some(path)) => match path.split_first() {
                Some((filter, keys)) if !keys.is_empty() => SubjectSource::Metadata {
                    filter: filter.clone(),
                    path: keys.to_vec(),
                },
                _ => {
                    return Err("`subject_metadata` is the filter's name, then at least one key, e.g. [\"envoy.filters.http.jwt_authn\", \"jwt_payload\", \"oid\"]".into());
                }
            },
            (None, None) => {
                return Err(
                    "set `subject_header` or `subject_metadata`: where the caller's identity is"
                        .into(),
                );
            }
        };
        let routes = settings
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| {
                compile_route(route).map_err(|e| format!("route {} (`{}`): {e}", i + 1, route.path))
            })
            .collect::<Result<_, _>>()?;
        Ok(RouteMap {
            settings: settings.clone(),
            subject,
            subject_kind: settings.subject_kind,
            unmatched: settings.unmatched,
            routes,
        })
    }

    /// The first route that matches; its target read from the path or a header. Matching
    /// is at least as broad as the applications behind: unreserved characters decoded,
    /// literals in any case, one trailing slash ignored, HEAD taken as GET.
    pub fn route<'h>(
        &self,
        method: &str,
        path: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<Option<Routed<'_>>, RouteError> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let Some(rest) = path.strip_prefix('/') else {
            return Err(RouteError::OddPath {
                why: "no leading `/`",
            });
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<String> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').map(normalised).collect::<Result<_, _>>()?
        };
        let method = if method.eq_ignore_ascii_case("HEAD") {
            "GET"
        } else {
            method
        };
        for route in &self.routes {
            if route
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            let Some(params) = route.bind(&segments) else {
                continue;
            };
            let read =
                |value: &Value| -> Result<String, RouteError> {
                    match value {
                        Value::Param(name) => Ok(params
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| (*v).to_owned())
                            .unwrap_or_default()),
                        Value::Header(name) => header(name).map(str::to_owned).ok_or_else(|| {
                            RouteError::MissingHeader {
                                route: route.shown.clone(),
                                header: name.clone(),
                            }
                        }),
                    }
                };
            let target = match &route.target {
                TargetTemplate::None => RoutedTarget::None,
                TargetTemplate::Tenant(value) => RoutedTarget::Tenant(read(value)?),
                TargetTemplate::Resource(kind, value) => {
                    RoutedTarget::Resource(*kind, read(value)?)
                }
            };
            return Ok(Some(Routed {
                permission: route.permission,
                target,
                route: &route.shown,
            }));
        }
        Ok(None)
    }
}

impl Route {
    /// The path parameters, when the path matches.
    fn bind<'p>(&self, path: &'p [String]) -> Option<Vec<(String, &'p str)>> {
        if path.len() < self.segments.len() || (!self.rest && path.len() != self.segments.len()) {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(literal) if literal.eq_ignore_ascii_case(part) => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.clone(), part.as_str())),
                Segment::Any => {}
            }
        }
        Some(params)
    }
}

fn compile_route(route: &RouteSettings) -> Result<Route, String> {
    let method = route
        .method
        .as_deref()
        .filter(|m| *m != "*")
        .map(str::to_ascii_uppercase);
    let Some(path) = route.path.strip_prefix('/') else {
        return Err("a path starts with `/`".into());
    };
    let mut parts: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    let rest = parts.last() == Some(&"**");
    if rest {
        parts.pop();
    }
    let mut segments = Vec::with_capacity(parts.len());
    for part in parts {
        segments.push(match part {
            "" => return Err("an empty segment (`//`)".into()),
            "**" => return Err("`**` may only end a path".into()),
            "*" => Segment::Any,
            _ => match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !name.is_empty() => Segment::Param(name.to_owned()),
                Some(_) => return Err("`{}` names no parameter".into()),
                None if part.contains(['{', '}']) => {
                    return Err(format!(
                        "`{part}`: a parameter is a whole segment, `{{name}}`"
                    ));
                }
                None => Segment::Literal(part.to_owned()),
            },
        });
    }
    let value = |text: &str| -> Result<Value, String> {
        if let Some(header) = text.strip_prefix("header:") {
            return Ok(Value::Header(header.to_ascii_lowercase()));
        }
        match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) if segments.contains(&Segment::Param(name.to_owned())) => {
                Ok(Value::Param(name.to_owned()))
            }
            Some(name) => Err(format!("`{{{name}}}` is not a parameter of the path")),
            None => Err(format!(
                "`{}`: a target is `{{parameter}}` or `header:NAME`",
                shown(text)
            )),
        }
    };
    let target = match (&route.tenant, &route.resource) {
        (Some(_), Some(_)) => return Err("set `tenant` or `resource`, not both".into()),
        (Some(tenant), None) => TargetTemplate::Tenant(value(tenant)?),
        (None, Some(resource)) => {
            let kind = resource
                .kind
                .parse()
                .map_err(|e: crate::model::UnknownResourceType| e.to_string())?;
            TargetTemplate::Resource(kind, value(&resource.id)?)
        }
        (None, None) => TargetTemplate::None,
    };
    let permission = catalogue()
        .id(&route.permission)
        .ok_or_else(|| format!("unknown permission `{}`", shown(&route.permission)))?;
    if matches!(target, TargetTemplate::None) && !catalogue().get(permission).system {
        return Err(format!(
            "`{}` is not a system permission: give the route a `tenant` or a `resource`",
            route.permission
        ));
    }
    Ok(Route {
        shown: format!("{} {}", method.as_deref().unwrap_or("*"), route.path),
        method,
        segments,
        rest,
        permission,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(toml: &str) -> Result<RouteMap, String> {
        let settings: ExtAuthzSettings = toml::from_str(toml).map_err(|e| e.to_string())?;
        RouteMap::compile(&settings)
    }

    const ROUTES: &str = r#"
        subject_header = "X-Jwt-Oid"
        [[routes]]
        method = "GET"
        path = "/api/tenants/{tenant_id}/computers/**"
        permission = "computers.view"
        tenant = "{tenant_id}"
        [[routes]]
        method = "post"
        path = "/api/computers/{id}/reboot"
        permission = "computers.reboot"
        resource = { type = "computer", id = "{id}" }
        [[routes]]
        path = "/api/scripts/*"
        permission = "scripts.view"
        tenant = "header:X-Tenant"
        [[routes]]
        path = "/billing"
        permission = "billing.view"
    "#;

    #[test]
    fn a_request_takes_the_first_route_that_matches() {
        let map = map(ROUTES).unwrap();
        assert_eq!(map.subject, SubjectSource::Header("x-jwt-oid".into()));
        let none = |_: &str| None;
        let routed = map
            .route("GET", "/api/tenants/t1/computers/c/x?q=1", none)
            .unwrap()
            .unwrap();
        assert_eq!(routed.target, RoutedTarget::Tenant("t1".into()));
        assert_eq!(routed.route, "GET /api/tenants/{tenant_id}/computers/**");
        let routed = map
            .route("GET", "/api/tenants/t1/computers", none)
            .unwrap()
            .unwrap();
        assert_eq!(routed.target, RoutedTarget::Tenant("t1".into()));
        let reboot = map
            .route("POST", "/api/computers/c9/reboot", none)
            .unwrap()
            .unwrap();
        assert_eq!(
            reboot.target,
            RoutedTarget::Resource(ResourceType::Computer, "c9".into())
        );
        assert_eq!(map.route("GET", "/api/computers/c9/reboot", none), Ok(None));
        let header = |name: &str| (name == "x-tenant").then_some("t2");
        let script = map
            .route("DELETE", "/api/scripts/s1", header)
            .unwrap()
            .unwrap();
        assert_eq!(script.target, RoutedTarget::Tenant("t2".into()));
        assert!(
            map.route("GET", "/api/scripts/s1", none).is_err(),
            "missing header"
        );
        assert_eq!(
            map.route("GET", "/billing", none).unwrap().unwrap().target,
            RoutedTarget::None
        );
    }

    #[test]
    fn odd_paths_match_nothing() {
        let map = map(ROUTES).unwrap();
        let none = |_: &str| None;
        for path in [
            "/api/tenants/t1/../t2/computers",
            "/api/tenants//computers",
            "/api/tenants/./computers",
            "api/tenants/t1/computers",
            "/api/tenants/t1/computers/a/../b",
            "/api/tenants/t1/computers/..%2F..%2Ft2",
            "/api/tenants/t1%2e%2e/computers",
            "/api/computers/c9;x/reboot",
            "/api/computers/c9\\..\\reboot",
        ] {
            assert!(
                matches!(
                    map.route("GET", path, none),
                    Err(RouteError::OddPath { .. })
                ),
                "{path}"
            );
        }
        // As broad as the application: case, a trailing slash, HEAD.
        for (method, path) in [
            ("POST", "/API/Computers/c9/REBOOT"),
            ("POST", "/api/computers/c9/reboot/"),
        ] {
            let routed = map.route(method, path, none).unwrap().unwrap();
            assert_eq!(
                routed.target,
                RoutedTarget::Resource(ResourceType::Computer, "c9".into()),
                "{path}"
            );
        }
        assert!(
            map.route("HEAD", "/api/tenants/t1/computers", none)
                .unwrap()
                .is_some()
        );
    }

    /// Spellings of a protected path: each reads as a protected path to a lenient application.
    #[test]
    fn a_path_is_matched_as_the_application_reads_it() {
        let map = map(r#"
            subject_header = "x"
            [[routes]]
            path = "/admin/**"
            permission = "billing.manage"
            [[routes]]
            method = "DELETE"
            path = "/api/tenants/{tenant_id}"
            permission = "tenants.manage"
            tenant = "{tenant_id}"
        "#)
        .unwrap();
        let none = |_: &str| None;
        for path in ["/%61dmin/x", "/a%64min/x", "/%41DMIN/x", "/%61%64%6D%69%6E"] {
            let routed = map.route("GET", path, none).unwrap();
            assert_eq!(routed.map(|r| r.route), Some("* /admin/**"), "{path}");
        }
        for path in ["/api/%74enants/T", "/ap%69/tenants/T", "/api/tenants/%54"] {
            let routed = map.route("DELETE", path, none).unwrap().unwrap();
            assert_eq!(routed.target, RoutedTarget::Tenant("T".into()), "{path}");
        }
        // Other escapes are kept as they are: `%40` is not `@` to the route map.
        let routed = map.route("DELETE", "/api/tenants/a%40b", none).unwrap();
        assert_eq!(routed.unwrap().target, RoutedTarget::Tenant("a%40b".into()));
        for (path, why) in [
            ("/admin./x", "ending in `.`"),
            ("/ADMIN./x", "ending in `.`"),
            ("/api/tenants./T", "ending in `.`"),
            ("/api/tenants/T.", "ending in `.`"),
            ("/admin%09/x", "control or whitespace"),
            ("/admin%20/x", "control or whitespace"),
            ("/admin\t/x", "control or whitespace"),
            ("/admin%00/x", "control or whitespace"),
            ("/admin%C2%A0/x", "control or whitespace"),
            ("/admin%7F/x", "control or whitespace"),
            ("/admin%/x", "escape"),
            ("/admin%6/x", "escape"),
            ("/admin%zz/x", "escape"),
        ] {
            let refused = map.route("GET", path, none);
            assert!(
                matches!(&refused, Err(e) if e.to_string().contains(why)),
                "{path}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_bad_route_is_refused_with_its_place() {
        let bad = |routes: &str| map(&format!("subject_header = \"x\"\n{routes}")).unwrap_err();
        let route = |body: &str| format!("[[routes]]\n{body}");
        assert!(
            bad(&route(
                "path = \"/a/{t}\"\npermission = \"nope.view\"\ntenant = \"{t}\""
            ))
            .contains("unknown permission")
        );
        assert!(
            bad(&route("path = \"/a/{t}\"\npermission = \"computers.view\""))
                .contains("not a system permission")
        );
        assert!(
            bad(&route("path = \"/a/**/b\"\npermission = \"billing.view\"")).contains("only end")
        );
        assert!(
            bad(&route("path = \"/a/x{t}\"\npermission = \"billing.view\""))
                .contains("whole segment")
        );
        assert!(
            bad(&route(
                "path = \"/a\"\npermission = \"computers.view\"\ntenant = \"{t}\""
            ))
            .contains("not a parameter")
        );
        assert!(bad(&route("path = \"a\"\npermission = \"billing.view\"")).contains("route 1"));
        assert!(map("").unwrap_err().contains("subject_header"));
    }
}
