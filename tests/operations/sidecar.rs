//! The real binary, started with any flags and environment, its output kept in files,
//! and a small world to check against.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::support::{ADMIN, as_admin, free_port};

pub type Authz = pb::authorization_service_client::AuthorizationServiceClient<Channel>;
pub type Admin = pb::admin_service_client::AdminServiceClient<Channel>;

/// `rbac-sidecar` with every environment variable it reads removed, so that the
/// developer's own settings cannot leak into a test.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rbac-sidecar"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("RBAC_")
            || key.starts_with("OTEL_")
            || key == "DATABASE_URL"
            || key == "RUST_LOG"
        {
            command.env_remove(&*key);
        }
    }
    command
}

/// Runs `rbac-sidecar SUBCOMMAND ARGS` with `env` to its end: exit code, stdout, stderr.
pub fn run(subcommand: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = command();
    command.arg(subcommand).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// How a test client reaches a server: plain, TLS, or TLS with a client certificate.
#[derive(Clone, Default)]
pub struct ClientTls {
    pub ca_pem: Option<String>,
    pub identity: Option<(String, String)>,
}

impl ClientTls {
    pub fn endpoint(&self, address: &str) -> Endpoint {
        let Some(ca) = &self.ca_pem else {
            return Channel::from_shared(format!("http://{address}")).unwrap();
        };
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name("localhost");
        if let Some((cert, key)) = &self.identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        Channel::from_shared(format!("https://{address}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
    }
}

/// A running `rbac-sidecar serve`, killed when dropped.
pub struct Sidecar {
    child: Child,
    /// `127.0.0.1:PORT` of the gRPC port.
    pub address: String,
    pub database_url: String,
    pub dir: tempfile::TempDir,
    pub client_tls: ClientTls,
}

/// What to start: extra flags and environment beyond the address, database and
/// bootstrap administrator.
#[derive(Default)]
pub struct Launch<'a> {
    pub args: Vec<String>,
    pub env: Vec<(&'a str, String)>,
    pub client_tls: ClientTls,
    /// None: a fresh SQLite file of its own.
    pub database_url: Option<String>,
    /// Some: no database, fed by the tier at this URL (`--upstream`).
    pub upstream: Option<String>,
}

impl Launch<'_> {
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }
}

impl Sidecar {
    /// Starts the server and waits until its health service answers SERVING.
    pub async fn start(launch: Launch<'_>) -> Sidecar {
        let dir = tempfile::tempdir().unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let database_url = launch.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", dir.path().join("rbac.db").display())
        });
        let mut command = command();
        command.args(["serve", "--listen", &address]);
        match &launch.upstream {
            Some(upstream) => command.args(["--upstream", upstream]),
            None => command.args(["--bootstrap-admin-object-id", ADMIN]).args([
                "--database-url",
                &database_url,
                "--poll-interval-ms",
                "50",
            ]),
        };
        command
            .args(&launch.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap());
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start rbac-sidecar");
        let mut sidecar = Sidecar {
            child,
            address,
            database_url,
            dir,
            client_tls: launch.client_tls,
        };
        sidecar.wait_until_serving().await;
        sidecar
    }

    async fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("rbac-sidecar exited with {status}:\n{}", self.output());
            }
            if let Ok(channel) = self.client_tls.endpoint(&self.address).connect().await {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                let request = tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                };
                if health.check(request).await.is_ok() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "not serving after 30 s:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's resident memory, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Resident memory that is not a mapped file: the heap, without the binary's pages
    /// that new code paths bring in.
    pub fn anon_rss_kib(&self) -> u64 {
        self.status_kib("RssAnon:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// The gRPC port's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A channel to the gRPC port, with this sidecar's client TLS settings.
    pub async fn channel(&self) -> Channel {
        self.channel_to(&self.address).await
    }

    pub async fn channel_to(&self, address: &str) -> Channel {
        self.client_tls
            .endpoint(address)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to {address}: {e:?}\n{}", self.output()))
    }

    pub async fn authz(&self) -> Authz {
        Authz::new(self.channel().await)
    }

    pub async fn admin(&self) -> Admin {
        Admin::new(self.channel().await)
    }

    /// What the process wrote so far, standard output then standard error.
    pub fn output(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stdout.log"), read("stderr.log"))
    }

    /// Sends SIGTERM, as the kubelet does.
    pub fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }

    /// Waits for the process to exit, at most `bound`.
    pub async fn exit_status(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {bound:?} after SIGTERM:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small world: an MSP (the bootstrap administrator's), a customer tenant, and a
/// technician holding a Reader role (computers.view) at Owner scope, denied on the MSP.
pub struct World {
    pub msp: String,
    pub customer: String,
    pub technician: pb::User,
    pub allow_id: String,
    pub deny_id: String,
    /// The revision of the last write.
    pub revision: u64,
}

impl World {
    /// Builds the world through `channel`, sending `token` as the bearer token if given.
    pub async fn build(channel: Channel, token: Option<&str>) -> World {
        let mut admin = Admin::new(channel.clone());
        let mut authz = Authz::new(channel);
        let bootstrap = authz
            .get_effective_access(bearer(
                tonic::Request::new(pb::GetEffectiveAccessRequest {
                    subject: Some(pb::get_effective_access_request::Subject::AzureObjectId(
                        ADMIN.into(),
                    )),
                    min_revision: 0,
                }),
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        let msp = bootstrap.tenant_id;
        let customer = admin
            .create_tenant(bearer(
                as_admin(pb::CreateTenantRequest {
                    name: "Contoso".into(),
                    parent_tenant_id: Some(msp.clone()),
                    is_msp: false,
                    validate_only: false,
                }),
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        let technician = admin
            .create_user(bearer(
                as_admin(pb::CreateUserRequest {
                    tenant_id: msp.clone(),
                    email: "tech@example.com".into(),
                    first_name: "Terry".into(),
                    last_name: "Tech".into(),
                    azure_object_id: uuid::Uuid::new_v4().to_string(),
                    validate_only: false,
                }),
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        let role = admin
            .create_role(bearer(
                as_admin(pb::CreateRoleRequest {
                    name: "Reader".into(),
                    description: String::new(),
                    owner_tenant_id: None,
                    permissions: vec!["computers.view".into()],
                    validate_only: false,
                }),
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        let assign = |scope, effect: pb::Effect| {
            bearer(
                as_admin(pb::CreateRoleAssignmentRequest {
                    role_id: role.id.clone(),
                    principal: Some(pb::Principal {
                        kind: Some(pb::principal::Kind::UserId(technician.id.clone())),
                    }),
                    scope: Some(pb::Scope { kind: Some(scope) }),
                    effect: effect as i32,
                    validate_only: false,
                }),
                token,
            )
        };
        let allow = admin
            .create_role_assignment(assign(pb::scope::Kind::Owner(()), pb::Effect::Allow))
            .await
            .unwrap()
            .into_inner();
        let deny = admin
            .create_role_assignment(assign(
                pb::scope::Kind::TenantId(msp.clone()),
                pb::Effect::Deny,
            ))
            .await
            .unwrap()
            .into_inner();
        World {
            msp,
            customer: customer.id,
            technician,
            allow_id: allow.id,
            deny_id: deny.id,
            revision: deny.revision,
        }
    }
}

/// The request with `token` as its bearer token, if given.
pub fn bearer<T>(mut request: tonic::Request<T>, token: Option<&str>) -> tonic::Request<T> {
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

/// A check of `permission` for `user` on `tenant` (None: a system permission).
pub fn check(user: &str, permission: &str, tenant: Option<&str>) -> pb::CheckAccessRequest {
    pb::CheckAccessRequest {
        subject: Some(pb::check_access_request::Subject::UserId(user.into())),
        permission: permission.into(),
        target: tenant.map(|t| pb::Target {
            kind: Some(pb::target::Kind::TenantId(t.into())),
        }),
        explain: false,
        min_revision: 0,
    }
}

/// The bootstrap administrator's check of a system permission: always allowed.
pub fn admin_check() -> pb::CheckAccessRequest {
    pb::CheckAccessRequest {
        subject: Some(pb::check_access_request::Subject::AzureObjectId(
            ADMIN.into(),
        )),
        permission: "billing.manage".into(),
        target: None,
        explain: false,
        min_revision: 0,
    }
}

/// Writes `text` into a file in `dir`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The database's write lock, held by the test: every admin write of a server on that
/// database waits for it (SQLite's busy wait), which makes a call that is slow on demand.
pub struct WriteLock(sea_orm::DatabaseTransaction);

impl WriteLock {
    pub async fn take(database_url: &str) -> WriteLock {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let db = sea_orm::Database::connect(database_url).await.unwrap();
        let txn = db
            .begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await
            .unwrap();
        WriteLock(txn)
    }

    pub async fn release(self) {
        self.0.rollback().await.unwrap();
    }
}

/// A write that waits while the test holds the write lock.
pub fn blocked_write(name: &str) -> tonic::Request<pb::CreateTagRequest> {
    crate::support::as_admin(pb::CreateTagRequest {
        name: name.into(),
        validate_only: false,
    })
}
