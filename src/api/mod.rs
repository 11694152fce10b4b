//! The tonic services: proto <-> model mapping, status codes and the actor from metadata.
//! No authorization logic lives here.

mod admin;
mod authorization;
mod convert;
mod status;

use std::sync::Arc;
use std::time::Duration;

pub use admin::AdminApi;
pub use authorization::AuthorizationApi;

/// Generated code of the public contract.
pub mod pb {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]

    pub mod rbac {
        pub mod v1 {
            tonic::include_proto!("rbac.v1");
        }
    }

    pub mod google {
        pub mod rpc {
            tonic::include_proto!("google.rpc");
        }
    }

    /// Every descriptor of the contract, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("rbac_descriptor");
}

use pb::rbac::v1::admin_service_server::AdminServiceServer;
use pb::rbac::v1::authorization_service_server::AuthorizationServiceServer;

use crate::admin::Admin;
use crate::check::Checker;

/// What the services need, built once at start.
pub struct Services {
    pub checker: Arc<Checker>,
    pub admin: Arc<Admin>,
    pub batch_limit: usize,
}

/// Errors while building the gRPC router.
#[derive(Debug, thiserror::Error)]
#[error("cannot build server reflection: {0}")]
pub struct RouterError(#[from] tonic_reflection::server::Error);

/// The gRPC router: both services, health and reflection (v1 and v1alpha).
pub async fn router(services: Services) -> Result<tonic::service::Routes, RouterError> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<AuthorizationServiceServer<AuthorizationApi>>()
        .await;
    health_reporter
        .set_serving::<AdminServiceServer<AdminApi>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let authorization = AuthorizationApi::new(Arc::clone(&services.checker), services.batch_limit);
    let admin = AdminApi::new(Arc::clone(&services.admin));
    Ok(tonic::service::Routes::new(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(AuthorizationServiceServer::new(authorization))
        .add_service(AdminServiceServer::new(admin)))
}

/// Serves the router on a listener until `shutdown` resolves, then drains in-flight calls.
pub async fn serve(
    routes: tonic::service::Routes,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    // Nagle's algorithm would hold a response's last frame for the peer's delayed ACK
    // (~40 ms): set TCP_NODELAY on every accepted connection.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
