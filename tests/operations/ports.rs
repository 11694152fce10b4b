//! AdminService on an address of its own (`--admin-listen`): absent from the main port.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::sidecar::{Admin, Authz, Launch, Sidecar, admin_check};
use crate::support::{as_admin, free_port};

/// The services a port's reflection lists.
pub async fn list_services(channel: Channel, token: Option<&str>) -> Result<Vec<String>, Status> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut request = tonic::Request::new(tokio_stream::iter(vec![request]));
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(request)
        .await?
        .into_inner();
    match answers.message().await?.and_then(|a| a.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            Ok(names)
        }
        other => panic!("not a service list: {other:?}"),
    }
}

#[tokio::test]
async fn admin_listen_moves_admin_service_off_the_main_port() {
    let admin_address = format!("127.0.0.1:{}", free_port());
    let sidecar = Sidecar::start(Launch::default().args(&["--admin-listen", &admin_address])).await;
    let main = sidecar.channel().await;
    let apart = sidecar.channel_to(&admin_address).await;

    // The main port answers checks, and has no AdminService.
    let answer = Authz::new(main.clone())
        .check_access(admin_check())
        .await
        .unwrap()
        .into_inner();
    assert!(answer.allowed);
    let refused = Admin::new(main.clone())
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "main".into(),
            validate_only: false,
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert_eq!(
        list_services(main, None).await.unwrap(),
        [
            "envoy.service.auth.v3.Authorization",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "rbac.v1.AuthorizationService",
            "rbac.v1.ReplicationService"
        ]
    );

    // The admin port has AdminService only.
    let tag = Admin::new(apart.clone())
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "apart".into(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(tag.revision > 0);
    let refused = Authz::new(apart.clone())
        .check_access(admin_check())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert_eq!(
        list_services(apart.clone(), None).await.unwrap(),
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "rbac.v1.AdminService"
        ]
    );
    let health = tonic_health::pb::health_client::HealthClient::new(apart)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "rbac.v1.AdminService".into(),
        })
        .await
        .unwrap();
    assert_eq!(health.into_inner().status, 1);
}
