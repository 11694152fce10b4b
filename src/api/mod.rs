//! The tonic services: proto <-> model mapping, status codes and the actor from metadata;
//! the routes of each gRPC port and how a port is served (TLS, the bearer token, the
//! per-call deadline, telemetry, the drain on shutdown). No authorization logic lives here.

mod admin;
mod authorization;
pub mod authzen;
mod bearer;
mod budget;
mod compact;
mod connection;
mod convert;
mod deadline;
mod ext_authz;
mod feed_messages;
mod flow;
pub mod http_port;
pub mod https;
mod replication;
mod stalls;
mod status;
mod upstream;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::HealthServer;

pub use admin::AdminApi;
pub use authorization::AuthorizationApi;
pub use bearer::bearer_auth;
pub use budget::RequestBytesLayer;
pub use connection::ConnectionLimits;
use connection::{ConnectionGate, GuardedStream};
use deadline::deadline;
pub use ext_authz::ExtAuthzApi;
pub use replication::{ReplicationApi, ReplicationGate};
pub use stalls::StallWatch;
pub use upstream::{AdminForward, TierClient, UpstreamError};

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

    /// Every descriptor of the contract, and `google/rpc/error_details.proto` (the
    /// `google.rpc.ErrorInfo` of a refusal), for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("rbac_descriptor");

    /// The descriptors of every service a port serves: the contract, health, reflection.
    pub const SERVED_DESCRIPTOR_SETS: [&[u8]; 4] = [
        FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
}

use envoy_types::ext_authz::v3::pb::AuthorizationServer as EnvoyAuthorizationServer;
use pb::rbac::v1::admin_service_server::AdminServiceServer;
use pb::rbac::v1::authorization_service_server::AuthorizationServiceServer;
use pb::rbac::v1::replication_service_server::ReplicationServiceServer;

use crate::admin::Admin;
use crate::config::BearerToken;
use crate::data_plane::Checker;
use crate::identity::ActorVerifier;
use crate::telemetry::RpcTelemetryLayer;

/// Who answers AdminService on this replica.
pub enum AdminBackend {
    /// This replica, on its database.
    Local(Arc<Admin>),
    /// The database tier: a sidecar without a database forwards every call to it.
    Tier(Arc<TierClient>),
}

/// What the services need, built once at start.
pub struct Services {
    pub checker: Arc<Checker>,
    pub admin: AdminBackend,
    pub batch_limit: usize,
    /// Larger request messages fail with OUT_OF_RANGE.
    pub max_request_bytes: usize,
    /// Turns true when the replica drains: its change feeds end, so followers move on.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// How Envoy's ext_authz requests become checks.
    pub ext_authz: crate::config::ext_authz::RouteMap,
    pub ext_authz_counters: crate::telemetry::ExtAuthzCounters,
    /// Some: admin calls' actors are proven by a verified JWT.
    pub actor_tokens: Option<Arc<ActorVerifier>>,
    /// Every caller must present a service credential (the bearer token, a client
    /// certificate) before any service but health answers.
    pub callers_authenticated: bool,
}

/// Errors while building the gRPC router.
#[derive(Debug, thiserror::Error)]
#[error("cannot build server reflection: {0}")]
pub struct RouterError(#[from] tonic_reflection::server::Error);

/// The routes of each gRPC port.
pub struct Routers {
    /// The data plane (AuthorizationService, ReplicationService), and AdminService unless
    /// it is apart; health and reflection.
    pub main: Routes,
    /// Some when AdminService is apart: it, health and reflection.
    pub admin: Option<Routes>,
}

type AuthorizationServer = AuthorizationServiceServer<AuthorizationApi>;
type ReplicationServer = tonic::service::interceptor::InterceptedService<
    ReplicationServiceServer<ReplicationApi>,
    ReplicationGate,
>;
type AdminServer = AdminServiceServer<AdminApi>;
type ExtAuthzServer = EnvoyAuthorizationServer<ExtAuthzApi>;

/// The data plane's services, served together.
struct DataPlane {
    authorization: AuthorizationServer,
    replication: ReplicationServer,
    ext_authz: ExtAuthzServer,
}

/// AdminService as a port serves it.
enum AdminRoute {
    Local(AdminServer),
    Forwarded(AdminForward),
}

/// Builds the routes of the main port and, when `admin_apart`, of the admin port. Each
/// port's health and reflection name only the services that port serves.
pub async fn routers(services: Services, admin_apart: bool) -> Result<Routers, RouterError> {
    let limit = services.max_request_bytes;
    let tier = match &services.admin {
        AdminBackend::Tier(tier) => Some(Arc::clone(tier)),
        AdminBackend::Local(_) => None,
    };
    // Everyone's access is served only behind the service credential, except by a
    // database-backed replica in the claimed-actor mode, where it always was open. A
    // sidecar would answer with the tier's credential.
    let replication_open =
        services.callers_authenticated || (tier.is_none() && services.actor_tokens.is_none());
    let data = DataPlane {
        authorization: AuthorizationServer::new(AuthorizationApi::new(
            Arc::clone(&services.checker),
            services.batch_limit,
            tier,
        ))
        .max_decoding_message_size(limit),
        replication: ReplicationServer::new(
            ReplicationServiceServer::new(ReplicationApi::new(
                Arc::clone(&services.checker),
                services.stopping,
            ))
            .max_decoding_message_size(limit),
            ReplicationGate {
                open: replication_open,
            },
        ),
        ext_authz: ExtAuthzServer::new(ExtAuthzApi::new(
            Arc::clone(&services.checker),
            services.ext_authz,
            services.ext_authz_counters,
        ))
        .max_decoding_message_size(limit),
    };
    let admin = match services.admin {
        AdminBackend::Local(admin) => AdminRoute::Local(
            AdminServer::new(AdminApi::new(admin, services.actor_tokens))
                .max_decoding_message_size(limit),
        ),
        AdminBackend::Tier(tier) => AdminRoute::Forwarded(AdminForward::new(
            tier,
            Arc::clone(services.checker.cache()),
            services.callers_authenticated,
        )),
    };
    if admin_apart {
        Ok(Routers {
            main: port(limit, Some(data), None).await?,
            admin: Some(port(limit, None, Some(admin)).await?),
        })
    } else {
        Ok(Routers {
            main: port(limit, Some(data), Some(admin)).await?,
            admin: None,
        })
    }
}

/// One port's routes: the given services, health and reflection.
async fn port(
    limit: usize,
    data: Option<DataPlane>,
    admin: Option<AdminRoute>,
) -> Result<Routes, RouterError> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    let mut served = vec![<HealthServer<()> as NamedService>::NAME];
    if data.is_some() {
        // Envoy's service is listed by name; its messages are Envoy's own protos.
        served.extend([
            AuthorizationServer::NAME,
            ReplicationServer::NAME,
            ExtAuthzServer::NAME,
        ]);
    }
    if admin.is_some() {
        served.push(AdminServer::NAME);
    }
    for name in &served[1..] {
        health_reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = || {
        served.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |builder, name| builder.with_service_name(*name),
        )
    };
    let reflection_v1 = reflection()
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .build_v1()?
        .max_decoding_message_size(limit);
    let reflection_v1alpha = reflection()
        .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        .build_v1alpha()?
        .max_decoding_message_size(limit);
    let mut routes = Routes::new(health.max_decoding_message_size(limit))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    if let Some(data) = data {
        routes = routes
            .add_service(data.authorization)
            .add_service(data.replication)
            .add_service(data.ext_authz);
    }
    match admin {
        Some(AdminRoute::Local(admin)) => routes = routes.add_service(admin),
        Some(AdminRoute::Forwarded(forward)) => routes = routes.add_service(forward),
        None => {}
    }
    Ok(routes)
}

/// How every gRPC port is served: TLS, the bearer token, the per-call deadline, and
/// the telemetry of each call.
#[derive(Clone)]
pub struct Transport {
    /// Some: TLS only (HTTP/2 by ALPN), with client certificates when it names a client CA.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub auth_token: Option<BearerToken>,
    pub request_timeout: Duration,
    pub telemetry: RpcTelemetryLayer,
    pub connections: ConnectionLimits,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// The request bodies every connection together may hold.
    pub request_bytes: RequestBytesLayer,
    /// Closes the connections that leave their answers unread.
    pub stalls: StallWatch,
}

/// Flow-control windows: what one stream, and one connection, may send before the server
/// has read it. They bound the memory a connection of half-sent requests can hold.
const STREAM_WINDOW_BYTES: u32 = 256 * 1024;
const CONNECTION_WINDOW_BYTES: u32 = 1024 * 1024;
/// Request headers larger than this are refused (gRPC metadata is small).
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// Serves the routes on a listener until `shutdown` resolves: then the listener is
/// closed at once (new connections are refused), every connection is told to go away
/// (HTTP/2 GOAWAY), and the call returns once the calls in flight have finished.
pub async fn serve(
    routes: Routes,
    listener: TcpListener,
    transport: &Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    // Nagle's algorithm would hold a response's last frame for the peer's delayed ACK
    // (~40 ms): set TCP_NODELAY on every accepted connection.
    let incoming = ClosingIncoming {
        listener: Some(TcpIncoming::from(listener).with_nodelay(Some(true))),
        gate: ConnectionGate::new(
            &transport.connections,
            transport.tls.clone(),
            transport.stalls.clone(),
        ),
        shutdown: Box::pin(shutdown),
    };
    // Keepalive pings find peers that are gone; streams and windows bound what a live
    // connection holds; resets a peer may leave pending are bounded (the rapid-reset flood).
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .max_concurrent_streams(transport.max_concurrent_streams)
        .initial_stream_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .http2_max_pending_accept_reset_streams(Some(32))
        .layer(transport.telemetry.clone())
        .layer(compact::CompactAnswersLayer)
        .layer(bearer_auth(transport.auth_token.clone()))
        .layer(deadline(transport.request_timeout))
        .layer(transport.request_bytes.clone())
        .add_routes(routes)
        // The server drains once `incoming` ends; its own signal would leave the listener
        // open, queueing connections nobody accepts, until the last call finished.
        .serve_with_incoming_shutdown(incoming, std::future::pending())
        .await
}

/// Accepted connections, each admitted by the gate, until `shutdown` resolves, then the
/// end of the stream, with the listener closed.
struct ClosingIncoming {
    listener: Option<TcpIncoming>,
    gate: ConnectionGate,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl tokio_stream::Stream for ClosingIncoming {
    type Item = std::io::Result<GuardedStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.listener.is_some() && self.shutdown.as_mut().poll(cx).is_ready() {
            self.listener = None;
        }
        loop {
            let Some(listener) = self.listener.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(listener).poll_next(cx) {
                Poll::Ready(Some(Ok(stream))) => {
                    if let Some(admitted) = self.gate.admit(stream) {
                        return Poll::Ready(Some(Ok(admitted)));
                    }
                }
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
