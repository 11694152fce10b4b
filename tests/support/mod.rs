//! Test support shared by the test binaries: starting a real server (in process, or
//! as the binary) over SQLite in a temporary file or over PostgreSQL in a database
//! created for the test alone, and the naive reference evaluator.

// Each test binary uses part of this module.
#![allow(dead_code)]

pub mod authzen;
pub mod envoy;
pub mod reference;
pub mod tokens;
pub mod world;

use rbac_sidecar::api::pb::rbac::v1::admin_service_client::AdminServiceClient;
use rbac_sidecar::api::pb::rbac::v1::authorization_service_client::AuthorizationServiceClient;
use rbac_sidecar::config::ServeConfig;
use rbac_sidecar::model::Action;
use rbac_sidecar::server::{self, Server};
use sea_orm::{ConnectionTrait, Database};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use uuid::Uuid;

/// The Azure object id of the administrator every test server bootstraps.
pub const ADMIN: &str = "0b5ad0a1-0000-4000-8000-00000000a0a1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// With `RBAC_TEST_STRICT=1` (set by scripts/test), a missing test dependency fails
/// the test instead of skipping it.
pub fn strict() -> bool {
    std::env::var("RBAC_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// The base PostgreSQL URL tests create their databases from.
fn postgres_base() -> Option<String> {
    std::env::var("RBAC_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Where the database of one test lives, and how to remove it.
pub enum TestDb {
    /// In memory: gone with the server.
    Memory,
    /// Removed with the directory when dropped.
    Sqlite(#[allow(dead_code, reason = "held for its drop")] tempfile::TempDir),
    Postgres {
        base: String,
        name: String,
    },
}

impl TestDb {
    async fn create(backend: Backend) -> Option<(TestDb, String)> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("rbac.db").display());
                Some((TestDb::Sqlite(dir), url))
            }
            Backend::Postgres => {
                let Some(base) = postgres_base() else {
                    assert!(
                        !strict(),
                        "RBAC_TEST_POSTGRES_URL is not set but RBAC_TEST_STRICT=1"
                    );
                    eprintln!("skipped: RBAC_TEST_POSTGRES_URL is not set");
                    return None;
                };
                let name = format!("rbac_test_{}", Uuid::new_v4().simple());
                let admin = Database::connect(&base)
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let (prefix, _) = base.rsplit_once('/').expect("URL names a database");
                let url = format!("{prefix}/{name}");
                Some((TestDb::Postgres { base, name }, url))
            }
        }
    }

    pub async fn remove(self) {
        if let TestDb::Postgres { base, name } = self {
            if let Ok(admin) = Database::connect(&base).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                admin.close().await.ok();
            }
        }
    }
}

/// What every call of a test client carries: the server's bearer token, when it wants one.
#[derive(Clone, Default)]
pub struct Credentials(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Credentials {
    pub fn bearer(token: &str) -> Credentials {
        Credentials(Some(format!("Bearer {token}").parse().expect("ascii")))
    }
}

impl tonic::service::Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The transport of the test clients: a channel whose calls carry [`Credentials`].
pub type Client = tonic::service::interceptor::InterceptedService<Channel, Credentials>;

/// A running server and its clients.
pub struct TestServer {
    pub url: String,
    /// `127.0.0.1:PORT` of AuthZEN over HTTP.
    pub http_address: String,
    /// To the gRPC port, for clients of other services.
    pub channel: Channel,
    pub authz: world::Authz,
    pub admin: world::Admin,
    store: std::sync::Arc<rbac_sidecar::store::Store>,
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
    db: TestDb,
}

impl TestServer {
    /// Starts a server bootstrapped with [`ADMIN`]; None when the backend is not
    /// configured here (and the run is not strict).
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_configured(backend, |_| {}).await
    }

    /// `start`, with the configuration changed by `configure` first.
    pub async fn start_configured(
        backend: Backend,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Option<TestServer> {
        let (db, url) = TestDb::create(backend).await?;
        Some(Self::start_on(db, url, configure).await)
    }

    async fn start_on(
        db: TestDb,
        url: String,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> TestServer {
        let mut config = ServeConfig::new("127.0.0.1:0".parse().expect("address"), &url);
        config.bootstrap_admin_object_id = Some(ADMIN.parse().expect("uuid"));
        config.batch_limit = 100;
        config.min_revision_wait_ms = 500;
        configure(&mut config);
        let listener = server::bind(&config).await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        // AuthZEN over HTTP on a port of its own.
        let http = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let http_address = http.local_addr().expect("local address").to_string();
        let listeners = server::Listeners {
            http: Some(http),
            ..server::Listeners::from(listener)
        };
        let server = Server::start(&config).await.expect("server starts");
        let store = std::sync::Arc::clone(&server.store);
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            server
                .serving
                .serve(listeners, async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        TestServer {
            url,
            http_address,
            authz: AuthorizationServiceClient::with_interceptor(
                channel.clone(),
                Credentials::default(),
            ),
            admin: AdminServiceClient::with_interceptor(channel.clone(), Credentials::default()),
            channel,
            store,
            stop,
            handle,
            db,
        }
    }

    /// The server's own store: a test that holds its write lock holds the server's.
    pub fn store(&self) -> std::sync::Arc<rbac_sidecar::store::Store> {
        std::sync::Arc::clone(&self.store)
    }

    /// Returns once some write waits for the write lock. PostgreSQL shows a writer of
    /// another process waiting for the advisory lock; a writer in this process waits on
    /// the store's own lock, and SQLite shows nothing, so there it waits half a second.
    pub async fn wait_for_a_blocked_writer(&self, backend: Backend, same_process: bool) {
        use sea_orm::{ConnectionTrait, Statement};
        if backend == Backend::Sqlite || same_process {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            return;
        }
        let db = Database::connect(&self.url).await.expect("connect");
        for _ in 0..200 {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                ))
                .await
                .expect("pg_locks")
                .expect("a row");
            if row.try_get::<i64>("", "n").expect("count") > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no write waited for the lock within 10 s");
    }

    /// Stops the server and removes its database.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.await;
        self.db.remove().await;
    }
}

/// The identity provider of servers that prove their actors ([`Replica::spawn_proven`]):
/// once it exists, [`as_actor`] sends its token for the actor beside the claimed header.
pub static PROVEN: std::sync::OnceLock<tokens::Issuer> = std::sync::OnceLock::new();
/// The service token of those servers, which their followers present.
pub const SERVICE_TOKEN: &str = "fleet-service-token-for-tests";

/// A file holding [`SERVICE_TOKEN`], beside [`PROVEN`]'s key set.
fn service_token_file() -> std::path::PathBuf {
    let issuer = PROVEN.get_or_init(tokens::Issuer::new);
    let file = issuer.jwks().with_file_name("service-token");
    std::fs::write(&file, SERVICE_TOKEN).expect("write the token");
    file
}

/// A request carrying an actor's Azure object id (and, where actors are proven, their
/// token).
pub fn as_actor<T>(object_id: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "x-actor-object-id",
        object_id.parse().expect("ascii metadata"),
    );
    if let Some(issuer) = PROVEN.get() {
        let token = issuer.token(object_id).parse().expect("ascii metadata");
        request.metadata_mut().insert("x-actor-token", token);
    }
    request
}

/// A request from the bootstrap administrator.
pub fn as_admin<T>(message: T) -> tonic::Request<T> {
    as_actor(ADMIN, message)
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A PostgreSQL database for one test, removed by [`PostgresDatabase::remove`]; None
/// when PostgreSQL is not configured here (and the run is not strict).
pub struct PostgresDatabase {
    db: TestDb,
    pub url: String,
}

impl PostgresDatabase {
    pub async fn create() -> Option<PostgresDatabase> {
        let (db, url) = TestDb::create(Backend::Postgres).await?;
        Some(PostgresDatabase { db, url })
    }

    pub async fn remove(self) {
        self.db.remove().await;
    }
}

/// The real binary serving on a free port, killed when dropped.
pub struct Replica {
    child: std::process::Child,
    /// Where it serves, `127.0.0.1:PORT`.
    pub address: String,
    pub authz: world::Authz,
    pub admin: world::Admin,
}

impl Replica {
    /// A database-tier replica that proves its actors against [`PROVEN`]'s keys and serves
    /// only callers with [`SERVICE_TOKEN`] (its clients send it).
    pub async fn spawn_proven(database_url: &str) -> Replica {
        let issuer = PROVEN.get_or_init(tokens::Issuer::new);
        let token_file = service_token_file();
        let mut args = vec![
            "--bootstrap-admin-object-id".to_owned(),
            ADMIN.to_owned(),
            "--auth-token-file".to_owned(),
            token_file.display().to_string(),
        ];
        args.extend(issuer.flags());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [("DATABASE_URL", database_url)];
        let credentials = Credentials::bearer(SERVICE_TOKEN);
        Replica::spawn_as(&free_address(), &args, &env, credentials).await
    }

    /// A sidecar fed by a [`Replica::spawn_proven`] tier, with the service token; it asks
    /// nothing of its own callers, so it forwards only admin calls carrying actor tokens.
    pub async fn spawn_fed_proven(upstream: &str) -> Replica {
        let file = service_token_file().display().to_string();
        let url = format!("http://{upstream}");
        let args = ["--upstream", &url, "--upstream-token-file", &file];
        Replica::spawn_with(&free_address(), &args, &[]).await
    }

    /// Starts `rbac-sidecar serve` on the database (bootstrapping [`ADMIN`]) and waits
    /// until it reports SERVING.
    pub async fn spawn(database_url: &str) -> Replica {
        Replica::spawn_polling(database_url, 200).await
    }

    /// Like `spawn`, with the follower polling the change log every `poll_interval_ms`.
    pub async fn spawn_polling(database_url: &str, poll_interval_ms: u64) -> Replica {
        let poll = poll_interval_ms.to_string();
        let args = [
            "--bootstrap-admin-object-id",
            ADMIN,
            "--poll-interval-ms",
            &poll,
        ];
        Replica::spawn_with(&free_address(), &args, &[("DATABASE_URL", database_url)]).await
    }

    /// A sidecar with no database, fed by the tier replica at `upstream` (`127.0.0.1:PORT`).
    pub async fn spawn_fed(upstream: &str) -> Replica {
        let url = format!("http://{upstream}");
        Replica::spawn_with(&free_address(), &["--upstream", &url], &[]).await
    }

    /// `rbac-sidecar serve --listen ADDRESS ARGS` with `env`, once it reports SERVING.
    pub async fn spawn_with(address: &str, args: &[&str], env: &[(&str, &str)]) -> Replica {
        Replica::spawn_as(address, args, env, Credentials::default()).await
    }

    /// `spawn_with`, its clients sending `credentials`.
    pub async fn spawn_as(
        address: &str,
        args: &[&str],
        env: &[(&str, &str)],
        credentials: Credentials,
    ) -> Replica {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_rbac-sidecar"))
            .args([
                "serve",
                "--listen",
                address,
                "--min-revision-wait-ms",
                "3000",
            ])
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start rbac-sidecar");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let channel = loop {
            let endpoint = Channel::from_shared(format!("http://{address}")).expect("endpoint");
            if let Ok(channel) = endpoint.connect().await {
                let mut health =
                    tonic_health::pb::health_client::HealthClient::new(channel.clone());
                let request = tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                };
                if health.check(request).await.is_ok() {
                    break channel;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "replica on {address} not serving after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        Replica {
            child,
            address: address.to_owned(),
            authz: AuthorizationServiceClient::with_interceptor(
                channel.clone(),
                credentials.clone(),
            ),
            admin: AdminServiceClient::with_interceptor(channel, credentials),
        }
    }

    /// The process id, to read its memory and CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `127.0.0.1:PORT` of a free port.
pub fn free_address() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// `count` replicas on one database, started one after another.
pub async fn replicas(database_url: &str, count: usize) -> Vec<Replica> {
    let mut replicas = Vec::with_capacity(count);
    for _ in 0..count {
        replicas.push(Replica::spawn(database_url).await);
    }
    replicas
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Held by tests whose timing another test's load would disturb, so they run alone.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs each named `async fn(Backend)` as two tests, `sqlite::NAME` and `postgres::NAME`.
#[allow(unused_macros, reason = "each test binary uses part of this module")]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::support::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::support::Backend::Postgres).await;
            })*
        }
    };
}
#[allow(unused_imports, reason = "each test binary uses part of this module")]
pub(crate) use on_both_backends;

/// A server on a fresh in-memory SQLite database, driven in process, and its bootstrap
/// administrator as an actor: for property tests that make thousands of writes.
pub async fn in_memory_server() -> (Server, rbac_sidecar::admin::Actor) {
    let config = ServeConfig::new("127.0.0.1:0".parse().expect("address"), "sqlite::memory:");
    in_process(config).await
}

/// A server on a fresh database of `backend` (in-memory SQLite, or a new PostgreSQL
/// database), driven in process, configured by `configure`; with its bootstrap
/// administrator, and the database to `remove` afterwards. None when the backend is not
/// configured here (and the run is not strict).
pub async fn in_process_server(
    backend: Backend,
    configure: impl FnOnce(&mut ServeConfig),
) -> Option<(Server, rbac_sidecar::admin::Actor, TestDb)> {
    let (db, url) = match backend {
        // No file: the property tests' thousands of writes stay in memory.
        Backend::Sqlite => (TestDb::Memory, "sqlite::memory:".to_owned()),
        Backend::Postgres => TestDb::create(backend).await?,
    };
    let mut config = ServeConfig::new("127.0.0.1:0".parse().expect("address"), &url);
    configure(&mut config);
    let (server, actor) = in_process(config).await;
    Some((server, actor, db))
}

async fn in_process(mut config: ServeConfig) -> (Server, rbac_sidecar::admin::Actor) {
    use rbac_sidecar::admin::ActorRef;
    config.bootstrap_admin_object_id = Some(ADMIN.parse().expect("uuid"));
    let server = Server::start(&config).await.expect("server");
    let actor = server
        .admin
        .actor(
            ActorRef::AzureObject(ADMIN.parse().expect("uuid")),
            Action::GetMyAccess,
        )
        .await
        .expect("bootstrap admin");
    (server, actor)
}

/// The audit row of a write a test commits straight to the store, as another replica would.
pub fn audit_of(action: Action, target: &str) -> rbac_sidecar::store::AuditRecord {
    rbac_sidecar::store::AuditRecord {
        actor: None,
        impersonator: None,
        action,
        target: target.to_owned(),
        before: None,
        after: None,
        outcome: rbac_sidecar::model::Outcome::Succeeded,
        detail: String::new(),
    }
}
