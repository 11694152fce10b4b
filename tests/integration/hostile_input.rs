//! What an attacker sends: NUL bytes, megabytes of text, ids of a megabyte, and a flood
//! of access requests with no actor. Each gets INVALID_ARGUMENT or RESOURCE_EXHAUSTED with
//! a short message, on SQLite and on PostgreSQL, and nothing is written.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::model::{AccessRequest, AccessRequestId, AccessRequestStatus, TenantId};
use rbac_sidecar::store::Store;
use tonic::Code;

use crate::support::world::{self, assert_status};
use crate::support::{Backend, TestServer, as_admin, on_both_backends};

fn access_request(tenant: &str, email: &str, first_name: &str) -> pb::SubmitAccessRequestRequest {
    pb::SubmitAccessRequestRequest {
        tenant_id: tenant.into(),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        email: email.into(),
        first_name: first_name.into(),
        last_name: String::new(),
        validate_only: false,
    }
}

async fn hostile_text_is_refused_with_a_short_message(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let tenant = world::tenant(admin, "t", None, true).await;
    let revision = world::status(&mut server.authz).await.latest_revision;
    let admin = &mut server.admin;

    let named = |name: &str| pb::CreateTenantRequest {
        name: name.into(),
        parent_tenant_id: None,
        is_msp: false,
        validate_only: false,
    };
    assert_status(
        admin.create_tenant(as_admin(named("nul\0name"))).await,
        Code::InvalidArgument,
        "`name` must not contain NUL",
    );
    assert_status(
        admin.create_tenant(as_admin(named(&"n".repeat(201)))).await,
        Code::InvalidArgument,
        "`name` must be at most 200 characters",
    );
    let role = pb::CreateRoleRequest {
        name: "r".into(),
        description: "d".repeat(3_000_000),
        owner_tenant_id: None,
        permissions: vec![],
        validate_only: false,
    };
    assert_status(
        admin.create_role(as_admin(role)).await,
        Code::InvalidArgument,
        "`description` must be at most 2000 characters",
    );
    // With no actor at all.
    assert_status(
        admin
            .submit_access_request(access_request(&tenant.id, "a\0@example.com", ""))
            .await,
        Code::InvalidArgument,
        "`email` must not contain NUL",
    );
    assert_status(
        admin
            .submit_access_request(access_request(&tenant.id, "a@example.com", "x\0"))
            .await,
        Code::InvalidArgument,
        "`first_name`",
    );
    let query = pb::ListUsersRequest {
        query: "q".repeat(1_000_000),
        ..Default::default()
    };
    assert_status(
        admin.list_users(as_admin(query)).await,
        Code::InvalidArgument,
        "`query` must be at most 200 characters",
    );
    // A megabyte id is named, not echoed.
    let status = admin
        .get_tenant(as_admin(pb::GetTenantRequest {
            tenant_id: "x".repeat(1_000_000),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().len() < 300,
        "{} bytes",
        status.message().len()
    );
    let status = server
        .authz
        .check_access(pb::CheckAccessRequest {
            subject: Some(pb::check_access_request::Subject::UserId(tenant.id.clone())),
            permission: format!("{}\0", "p".repeat(100_000)),
            target: None,
            explain: false,
            min_revision: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().len() < 300,
        "{} bytes",
        status.message().len()
    );
    assert_eq!(
        world::status(&mut server.authz).await.latest_revision,
        revision,
        "nothing was written"
    );
    server.stop().await;
}

async fn unauthenticated_access_requests_cannot_fill_the_disk(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let tenant = world::tenant(&mut server.admin, "t", None, false).await;
    let tenant_id = TenantId(tenant.id.parse().unwrap());
    // The bound's worth of pending requests, written in one transaction.
    let store = Store::open(&server.url).await.unwrap();
    let mut write = store.begin_write().await.unwrap();
    let bound = rbac_sidecar::admin::MAX_PENDING_ACCESS_REQUESTS;
    for _ in 0..bound {
        let request = AccessRequest {
            id: AccessRequestId::random(),
            tenant_id,
            azure_object_id: uuid::Uuid::new_v4(),
            email: "flood@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            status: AccessRequestStatus::Pending,
            requested_at: 0,
            decided_by: None,
        };
        write.save_access_request(&request).await.unwrap();
    }
    write
        .commit(crate::support::audit_of(
            rbac_sidecar::model::Action::SubmitAccessRequest,
            "flood",
        ))
        .await
        .unwrap();
    assert_status(
        server
            .admin
            .submit_access_request(access_request(&tenant.id, "one@example.com", ""))
            .await,
        Code::ResourceExhausted,
        "access requests already wait for a decision",
    );
    server.stop().await;
}

/// A tree deeper than the documented limit is refused, by a create or by a move.
async fn the_tenant_tree_has_a_depth_limit(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let limit = rbac_sidecar::engine::MAX_TENANT_DEPTH;
    let root = world::tenant(admin, "root", None, true).await;
    let mut chain = vec![root.clone()];
    for depth in 1..=limit {
        let parent = chain.last().unwrap().id.clone();
        chain.push(world::tenant(admin, &format!("d{depth}"), Some(&parent), true).await);
    }
    let deepest = chain.last().unwrap().id.clone();
    let below = pb::CreateTenantRequest {
        name: "too deep".into(),
        parent_tenant_id: Some(deepest.clone()),
        is_msp: false,
        validate_only: false,
    };
    assert_status(
        admin.create_tenant(as_admin(below)).await,
        Code::FailedPrecondition,
        &format!("at most {limit} levels"),
    );
    // A two-level subtree moved under the second-deepest tenant would pass the limit too.
    let other = world::tenant(admin, "other", None, true).await;
    world::tenant(admin, "child", Some(&other.id), false).await;
    let under = chain[limit - 1].id.clone();
    assert_status(
        admin
            .update_tenant(as_admin(pb::UpdateTenantRequest {
                tenant_id: other.id.clone(),
                name: String::new(),
                parent_tenant_id: Some(under),
                validate_only: false,
            }))
            .await,
        Code::FailedPrecondition,
        "would reach depth",
    );
    server.stop().await;
}

/// Values within their limits are not echoed whole either: a duplicate tag name of 200
/// characters, an e-mail of 320 without an `@`.
async fn a_refusal_repeats_at_most_64_characters_of_a_valid_length_value(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let mut admin = server.admin.clone();
    let name = "t".repeat(200);
    let tag = || {
        as_admin(pb::CreateTagRequest {
            name: name.clone(),
            validate_only: false,
        })
    };
    admin.create_tag(tag()).await.unwrap();
    let taken = admin.create_tag(tag()).await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let tenant = world::tenant(&mut admin, "t", None, true).await;
    let user = pb::CreateUserRequest {
        tenant_id: tenant.id,
        email: "e".repeat(320),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let refused = admin.create_user(as_admin(user)).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    for status in [taken, refused] {
        assert!(
            !status.message().contains(&"t".repeat(65))
                && !status.message().contains(&"e".repeat(65)),
            "{}",
            status.message()
        );
    }
    server.stop().await;
}

on_both_backends!(
    a_refusal_repeats_at_most_64_characters_of_a_valid_length_value,
    the_tenant_tree_has_a_depth_limit,
    hostile_text_is_refused_with_a_short_message,
    unauthenticated_access_requests_cannot_fill_the_disk,
    no_error_echoes_a_long_value,
);

/// A codec that sends and receives messages as the bytes they are, so that any method of
/// the contract can be called with a message built from its descriptor.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

/// Builds requests of any message of the contract from its descriptor: every text field
/// (nested messages included, three levels deep) holds a plausible value, so that a call
/// gets past its first checks, and one field, the target, holds the hostile value.
struct Messages {
    types: std::collections::HashMap<String, prost_types::DescriptorProto>,
    /// Plausible values by field name.
    plausible: Vec<(&'static str, String)>,
}

const DEPTH: usize = 3;

impl Messages {
    fn new(plausible: Vec<(&'static str, String)>) -> Messages {
        use prost::Message;
        let set =
            prost_types::FileDescriptorSet::decode(rbac_sidecar::api::pb::FILE_DESCRIPTOR_SET)
                .unwrap();
        let mut types = std::collections::HashMap::new();
        fn add(
            types: &mut std::collections::HashMap<String, prost_types::DescriptorProto>,
            prefix: &str,
            message: &prost_types::DescriptorProto,
        ) {
            let name = format!("{prefix}.{}", message.name());
            for nested in &message.nested_type {
                add(types, &name, nested);
            }
            types.insert(name, message.clone());
        }
        for file in &set.file {
            for message in &file.message_type {
                add(&mut types, &format!(".{}", file.package()), message);
            }
        }
        Messages { types, plausible }
    }

    fn plausible(&self, field: &str) -> &str {
        self.plausible
            .iter()
            .find(|(suffix, _)| field.ends_with(suffix))
            .map_or("x", |(_, value)| value.as_str())
    }

    /// The paths (field numbers, outermost first) of every text field of `message`.
    fn text_fields(&self, message: &str, depth: usize) -> Vec<(Vec<i32>, String)> {
        use prost_types::field_descriptor_proto::Type;
        let mut paths = Vec::new();
        let Some(descriptor) = self.types.get(message) else {
            return paths;
        };
        for field in &descriptor.field {
            match field.r#type() {
                Type::String => paths.push((vec![field.number()], field.name().to_owned())),
                Type::Message if depth < DEPTH => {
                    for (mut path, name) in self.text_fields(field.type_name(), depth + 1) {
                        path.insert(0, field.number());
                        paths.push((path, format!("{}.{name}", field.name())));
                    }
                }
                _ => {}
            }
        }
        paths
    }

    /// `message` with plausible text, and `hostile` at `path` (appended last: for a text
    /// field the last value wins, and a message field merges into the one before).
    fn encode(&self, message: &str, path: &[i32], hostile: &str, depth: usize) -> Vec<u8> {
        use prost::encoding::{WireType, encode_key, encode_varint};
        use prost_types::field_descriptor_proto::Type;
        let mut out = Vec::new();
        let Some(descriptor) = self.types.get(message) else {
            return out;
        };
        let bytes = |out: &mut Vec<u8>, number: i32, value: &[u8]| {
            encode_key(number as u32, WireType::LengthDelimited, out);
            encode_varint(value.len() as u64, out);
            out.extend_from_slice(value);
        };
        for field in &descriptor.field {
            match field.r#type() {
                Type::String => bytes(
                    &mut out,
                    field.number(),
                    self.plausible(field.name()).as_bytes(),
                ),
                Type::Message if depth < DEPTH => {
                    let inner = self.encode(field.type_name(), &[], hostile, depth + 1);
                    bytes(&mut out, field.number(), &inner);
                }
                _ => {}
            }
        }
        if let Some((first, rest)) = path.split_first() {
            let field = descriptor
                .field
                .iter()
                .find(|f| f.number() == *first)
                .unwrap();
            if rest.is_empty() {
                bytes(&mut out, *first, hostile.as_bytes());
            } else {
                let inner = self.encode(field.type_name(), rest, hostile, depth + 1);
                bytes(&mut out, *first, &inner);
            }
        }
        out
    }
}

/// Every text field of every AuthorizationService and AdminService call, given a value
/// far over any limit: no error message repeats more than 64 characters of it, and none
/// is long enough to trouble a client's metadata limits.
async fn no_error_echoes_a_long_value(backend: Backend) {
    use prost::Message;
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let tenant = world::tenant(admin, "t", None, true).await.id;
    let user = world::user_with_object_id(admin, &tenant, &uuid::Uuid::new_v4().to_string())
        .await
        .id;
    let role = world::role(admin, &["computers.view"]).await.id;
    let messages = Messages::new(vec![
        ("tenant_id", tenant.clone()),
        ("user_id", user.clone()),
        ("role_id", role),
        ("object_id", crate::support::ADMIN.to_owned()),
        ("permission", "computers.view".to_owned()),
        ("permissions", "computers.view".to_owned()),
        ("type", "computer".to_owned()),
        ("email", "someone@example.com".to_owned()),
        ("id", uuid::Uuid::new_v4().to_string()),
    ]);
    let set =
        prost_types::FileDescriptorSet::decode(rbac_sidecar::api::pb::FILE_DESCRIPTOR_SET).unwrap();
    let services: Vec<_> = set
        .file
        .iter()
        .flat_map(|f| f.service.iter().map(move |s| (f.package(), s)))
        .filter(|(_, s)| matches!(s.name(), "AuthorizationService" | "AdminService"))
        .collect();
    assert_eq!(services.len(), 2, "both services are in the descriptors");
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    let mut calls = 0;
    for (package, service) in services {
        for method in &service.method {
            if method.client_streaming() || method.server_streaming() {
                continue;
            }
            let fields = messages.text_fields(method.input_type(), 0);
            for (path, field) in fields {
                for length in [5_000, 100_000] {
                    let hostile = "q".repeat(length);
                    let body = messages.encode(method.input_type(), &path, &hostile, 0);
                    let route = format!("/{package}.{}/{}", service.name(), method.name());
                    grpc.ready().await.unwrap();
                    let answer = grpc
                        .unary(
                            crate::support::as_admin(body),
                            http::uri::PathAndQuery::from_maybe_shared(route.clone()).unwrap(),
                            RawCodec,
                        )
                        .await;
                    calls += 1;
                    let Err(status) = answer else {
                        continue;
                    };
                    let message = status.message();
                    assert!(
                        !message.contains(&"q".repeat(65)) && message.len() < 1_000,
                        "{route} with {length} characters in `{field}`: {:?} `{}`",
                        status.code(),
                        message.chars().take(300).collect::<String>()
                    );
                    assert_ne!(
                        status.code(),
                        Code::ResourceExhausted,
                        "{route} `{field}`: {message}"
                    );
                }
            }
        }
    }
    assert!(calls > 100, "{calls} calls");
    // The issue's case: a resource id over its limit is bad input, not an unknown resource.
    for length in [5_000, 100_000] {
        let check = pb::CheckAccessRequest {
            subject: Some(pb::check_access_request::Subject::UserId(user.clone())),
            permission: "computers.view".into(),
            target: Some(pb::Target {
                kind: Some(pb::target::Kind::Resource(pb::ResourceRef {
                    r#type: "computer".into(),
                    id: "r".repeat(length),
                })),
            }),
            explain: false,
            min_revision: 0,
        };
        assert_status(
            server.authz.check_access(check).await,
            Code::InvalidArgument,
            "`resource.id` must be at most 512 characters",
        );
    }
    server.stop().await;
}
