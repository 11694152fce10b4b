//! Persistence through sea-orm on SQLite or PostgreSQL: entities, migrations, queries, and
//! writes that each commit with their change-log row in one transaction.

mod audit;
mod built_in_roles;
mod change_log;
pub(crate) mod entity;
mod migration;
mod queries;
mod writes;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::{Mutex, MutexGuard};

pub use audit::{AuditEvent, AuditFilter, AuditRecord, audit_events};
pub use change_log::{Change, ChangeBatch, changes_after, max_revision, oldest_revision};
pub use queries::access::{access_facts, access_facts_of};
pub use queries::assignments::{
    AssignmentFilter, StoredAssignment, assignments, assignments_at, group_assignments,
    role_assignments,
};
pub use queries::groups::{
    find_groups, group_members, groups, is_group_member, memberships, user_groups,
};
pub use queries::preferences::preferences;
pub use queries::roles::{role_names, roles};
pub use queries::tenants::{
    find_resource, find_tag_by_name, resources, tag_usage, tags, tenant_usage, tenants,
    tenants_with_ids,
};
pub use queries::users::{
    UserFilter, access_requests, find_by_object_id, pending_access_request,
    pending_access_requests, persons, users,
};
pub use queries::{Keyed, find};

/// A database failure. Never an allow: the API turns it into UNAVAILABLE or INTERNAL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(DbErr),
    #[error("database error: {0}")]
    Database(DbErr),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database could not be opened at start: what was tried, and why it failed.
    #[error("{0}")]
    Connect(String),
    /// A sidecar without a database cannot reach the database tier, or its feed.
    #[error("database tier unavailable: {0}")]
    Upstream(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            StoreError::Unavailable(err)
        } else {
            StoreError::Database(err)
        }
    }
}

/// Why the database at `url` cannot be opened, for a person: where it is (never the
/// password) and the cause. A pool only says it timed out, so for PostgreSQL one direct
/// connection is tried to learn the real cause (refused, authentication, unknown database).
async fn connect_failure(url: &str, err: &DbErr) -> String {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    use sea_orm::sqlx::{Connection as _, Error as Sqlx};
    use std::str::FromStr;
    if url.starts_with("sqlite:") {
        let file = SqliteConnectOptions::from_str(url)
            .map(|o| o.get_filename().display().to_string())
            .unwrap_or_default();
        return format!(
            "the SQLite file `{file}` cannot be opened ({err}); check that its directory exists and is writable"
        );
    }
    let Ok(options) = PgConnectOptions::from_str(url) else {
        return err.to_string();
    };
    let place = format!(
        "PostgreSQL at {}:{} (database `{}`, user `{}`)",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default)"),
        options.get_username()
    );
    let direct = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&options));
    let cause = match direct.await {
        Err(_) => "no answer within 5 s; check the host, the port and the network".to_owned(),
        Ok(Ok(_)) => format!("{err}; a direct connection worked, so retry"),
        Ok(Err(Sqlx::Io(io))) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "the connection was refused: is the server running and listening there?".to_owned()
        }
        Ok(Err(Sqlx::Database(db))) => match db.code().as_deref() {
            Some("28P01" | "28000") => format!("authentication failed: {}", db.message()),
            Some("3D000") => format!("no such database: {}", db.message()),
            _ => db.message().to_owned(),
        },
        Ok(Err(other)) => other.to_string(),
    };
    format!("{place}: {cause}")
}

/// SQLite's SQLITE_BUSY: another connection holds the lock.
fn is_locked(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
            matches!(e.as_ref(), Sqlx::Database(db) if db.code().as_deref() == Some("5"))
        }
        _ => false,
    }
}

/// True when the error says the database cannot be reached, rather than that a
/// statement failed.
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => matches!(
            e.as_ref(),
            Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Tls(_) | Sqlx::Protocol(_)
        ),
        _ => false,
    }
}

/// The key every PostgreSQL write holds for its transaction, so revisions commit in order.
const WRITE_LOCK_KEY: i64 = 0x7262_6163_5f77_7269; // "rbac_wri"
/// The key held while migrating, so replicas starting together migrate once.
const MIGRATE_LOCK_KEY: i64 = 0x7262_6163_5f6d_6967; // "rbac_mig"
/// The PostgreSQL channel every write notifies with its revision.
pub const CHANGE_CHANNEL: &str = "rbac_change_log";

/// Connections a replica opens at most unless told otherwise: a write, the follower and
/// its LISTEN, and cache misses share them. A tier of three replicas stays within 15.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 5;

/// The database behind the service.
pub struct Store {
    db: DatabaseConnection,
    /// Serialises this process's writes (SQLite has one writer anyway).
    write_lock: Mutex<()>,
}

/// Takes a PostgreSQL advisory lock held until the transaction ends.
async fn advisory_lock(txn: &DatabaseTransaction, key: i64) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [key.into()],
    ))
    .await?;
    Ok(())
}

/// One open write: a transaction, the changes it makes, and the write lock.
pub struct Write<'s> {
    txn: DatabaseTransaction,
    /// While a savepoint is open: the transaction it was taken in (`txn` is the savepoint).
    outer: Option<DatabaseTransaction>,
    postgres: bool,
    /// In the order first made; `recorded` answers "already there?" in constant time (an
    /// instance apply records a change per user of a million assignments).
    changes: Vec<Change>,
    recorded: std::collections::HashSet<Change>,
    _lock: MutexGuard<'s, ()>,
}

impl Store {
    /// Connects with the default pool, runs the migrations and brings the built-in roles
    /// up to this binary's.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with_pool(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// `open`, with at most `max_connections` connections (the follower's LISTEN takes one
    /// of them on PostgreSQL).
    pub async fn open_with_pool(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(max_connections)
            .min_connections(0)
            .sqlx_logging(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(5))
            // No idle reaping: sqlx's reaper task can spin at 100% CPU and hang shutdown
            // (launchbadge/sqlx#3645, seen here when a test dropped its in-memory server).
            // A connection that broke is still found and replaced when it is next used.
            .idle_timeout(None)
            .max_lifetime(None);
        if url.starts_with("sqlite:") {
            // One in-memory database per connection otherwise; a file is shared.
            if url.contains(":memory:") || url.contains("mode=memory") {
                options.max_connections(1);
            }
            options.map_sqlx_sqlite_opts(|o| {
                o.busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            });
        }
        // A new SQLite file is switched to WAL by the first connection; a process starting
        // at the same moment finds it locked, and SQLite's busy wait does not cover that
        // switch: retry for a while.
        let mut attempts = 0;
        let db = loop {
            match Database::connect(options.clone()).await {
                Ok(db) => break db,
                Err(err) if attempts < 50 && url.starts_with("sqlite:") && is_locked(&err) => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => return Err(StoreError::Connect(connect_failure(url, &err).await)),
            }
        };
        if db.get_database_backend() == DbBackend::Postgres {
            let txn = db.begin().await?;
            advisory_lock(&txn, MIGRATE_LOCK_KEY).await?;
            migration::Migrator::up(&txn, None).await?;
            txn.commit().await?;
        } else {
            // One IMMEDIATE transaction holds SQLite's write lock for the whole migration,
            // so processes starting together on one new file migrate one after another.
            let txn = db
                .begin_with_options(TransactionOptions {
                    isolation_level: None,
                    access_mode: None,
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                })
                .await?;
            migration::Migrator::up(&txn, None).await?;
            txn.commit().await?;
        }
        let store = Store {
            db,
            write_lock: Mutex::new(()),
        };
        store.sync_built_in_roles().await?;
        Ok(store)
    }

    /// The connection, for reads.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// Starts a write. Writes are serialised so that revisions are committed in order.
    pub async fn begin_write(&self) -> Result<Write<'_>, StoreError> {
        let lock = self.write_lock.lock().await;
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await?;
        let postgres = self.is_postgres();
        if postgres {
            advisory_lock(&txn, WRITE_LOCK_KEY).await?;
        }
        Ok(Write {
            txn,
            outer: None,
            postgres,
            changes: Vec::new(),
            recorded: std::collections::HashSet::new(),
            _lock: lock,
        })
    }

    /// Starts a read of several statements that must see one state of the database.
    pub async fn begin_read(&self) -> Result<DatabaseTransaction, StoreError> {
        let isolation = self
            .is_postgres()
            .then_some(sea_orm::IsolationLevel::RepeatableRead);
        Ok(self
            .db
            .begin_with_options(TransactionOptions {
                isolation_level: isolation,
                access_mode: None,
                sqlite_transaction_mode: None,
            })
            .await?)
    }
}

impl Write<'_> {
    /// The open transaction, for reads that must see this write's state.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Ends the write without committing: nothing it did is kept.
    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.txn.rollback().await?)
    }

    /// What the write has changed so far.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Takes a savepoint: what the write does next, `undo` takes back.
    pub async fn savepoint(&mut self) -> Result<(), StoreError> {
        let savepoint = self.txn.begin().await?;
        self.outer = Some(std::mem::replace(&mut self.txn, savepoint));
        Ok(())
    }

    /// Rolls back to the savepoint: the write's state is again the one it was taken in
    /// (reads see what was there before), and nothing done since is left to commit.
    pub async fn undo(&mut self) -> Result<(), StoreError> {
        let Some(outer) = self.outer.take() else {
            return Err(StoreError::Corrupt("undo without a savepoint".into()));
        };
        std::mem::replace(&mut self.txn, outer).rollback().await?;
        self.changes.clear();
        self.recorded.clear();
        Ok(())
    }

    pub(crate) fn record(&mut self, change: Change) {
        if self.recorded.insert(change.clone()) {
            self.changes.push(change);
        }
    }
}
