//! Envoy's side of ext_authz: CheckRequests shaped as Envoy sends them (the HTTP request's
//! method, path and headers, and jwt_authn's payload in the dynamic metadata), and a route
//! map that reaches every permission, for running the conformance scenarios through it.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::Metadata;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest, CheckResponse};
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use rbac_sidecar::config::ext_authz::{
    ExtAuthzSettings, ResourceSettings, RouteMap, RouteSettings, SubjectKind,
};
use rbac_sidecar::model::catalogue;
use tonic::transport::Channel;

pub type Envoy = AuthorizationClient<Channel>;

/// jwt_authn's filter name, and where it puts the verified payload.
pub const JWT_AUTHN: &str = "envoy.filters.http.jwt_authn";

fn string(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

/// A CheckRequest for `METHOD path` with these headers, and when `oid` is given, a JWT
/// payload `{"oid": oid}` in jwt_authn's metadata (`payload_in_metadata: jwt_payload`).
pub fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    oid: Option<&str>,
) -> CheckRequest {
    let mut filter_metadata = HashMap::new();
    if let Some(oid) = oid {
        let payload = Struct {
            fields: HashMap::from([("oid".to_owned(), string(oid))]),
        };
        let jwt = Struct {
            fields: HashMap::from([(
                "jwt_payload".to_owned(),
                Value {
                    kind: Some(Kind::StructValue(payload)),
                },
            )]),
        };
        filter_metadata.insert(JWT_AUTHN.to_owned(), jwt);
    }
    let http = HttpRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        host: "app.example".to_owned(),
        scheme: "https".to_owned(),
        protocol: "HTTP/1.1".to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([
                (":path".to_owned(), path.to_owned()),
                (":method".to_owned(), method.to_owned()),
            ])
            .collect(),
        ..HttpRequest::default()
    };
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(http),
                ..Request::default()
            }),
            metadata_context: Some(Metadata {
                filter_metadata,
                ..Metadata::default()
            }),
            ..AttributeContext::default()
        }),
    }
}

/// What Envoy would do with an answer: the gRPC code, the HTTP status of a denial (200
/// when allowed), the headers it adds upstream, and the denial's JSON body.
#[derive(Debug)]
pub struct Answer {
    pub code: i32,
    pub http_status: i32,
    pub headers: HashMap<String, String>,
    pub body: serde_json::Value,
}

pub async fn ask(envoy: &mut Envoy, request: CheckRequest) -> Answer {
    let response: CheckResponse = envoy.check(request).await.unwrap().into_inner();
    let code = response.status.map_or(-1, |s| s.code);
    match response.http_response {
        Some(HttpResponse::OkResponse(ok)) => Answer {
            code,
            http_status: 200,
            headers: ok
                .headers
                .into_iter()
                .filter_map(|h| h.header.map(|h| (h.key, h.value)))
                .collect(),
            body: serde_json::Value::Null,
        },
        Some(HttpResponse::DeniedResponse(denied)) => Answer {
            code,
            http_status: denied.status.map_or(0, |s| s.code),
            headers: HashMap::new(),
            body: serde_json::from_str(&denied.body).unwrap(),
        },
        other => panic!("no HTTP response in {other:?}"),
    }
}

/// Routes for every permission: `GET /system/KEY`, `GET /tenants/{id}/KEY` and
/// `GET /resources/TYPE/{id}/KEY`; the subject is the user id in the JWT's `oid`.
pub fn every_permission() -> RouteMap {
    let mut routes = Vec::new();
    for permission in catalogue().permissions() {
        let key = &permission.key;
        let route = |path: String| RouteSettings {
            method: Some("GET".into()),
            path,
            permission: key.clone(),
            ..RouteSettings::default()
        };
        if permission.system {
            routes.push(route(format!("/system/{key}")));
        }
        routes.push(RouteSettings {
            tenant: Some("{id}".into()),
            ..route(format!("/tenants/{{id}}/{key}"))
        });
        for kind in ["computer", "script", "software", "task", "tag", "media"] {
            routes.push(RouteSettings {
                resource: Some(ResourceSettings {
                    kind: kind.into(),
                    id: "{id}".into(),
                }),
                ..route(format!("/resources/{kind}/{{id}}/{key}"))
            });
        }
    }
    RouteMap::compile(&ExtAuthzSettings {
        subject_metadata: Some(vec![JWT_AUTHN.into(), "jwt_payload".into(), "oid".into()]),
        subject_kind: SubjectKind::UserId,
        routes,
        ..ExtAuthzSettings::default()
    })
    .unwrap()
}
