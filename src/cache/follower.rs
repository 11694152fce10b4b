//! The follower: tails the change log from the applied revision and applies each batch.
//! PostgreSQL LISTEN/NOTIFY wakes it at once; polling is the fallback, and the only path
//! on SQLite. It also compacts the log, and drops the whole cache whenever it cannot be
//! sure it saw every change (after losing the database, or behind a compacted log).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::AccessCache;
use crate::model::unix_now;
use sea_orm::ConnectionTrait;

use crate::store::{CHANGE_CHANNEL, StoreError, changes_after, max_revision, oldest_revision};

/// Revisions read from the log per round.
const BATCH: u64 = 500;
/// How often each replica deletes change-log rows past retention.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(600);

/// How the follower runs.
#[derive(Clone, Debug)]
pub struct FollowConfig {
    pub poll_interval: Duration,
    /// Change-log rows older than this are deleted (the newest is always kept).
    pub retention: Duration,
}

impl AccessCache {
    /// Follows the change log until `shutdown` turns true or its sender is dropped.
    pub async fn follow(
        self: Arc<Self>,
        config: FollowConfig,
        mut shutdown: watch::Receiver<bool>,
    ) {
        if self.store.is_postgres() {
            tokio::spawn(Arc::clone(&self).listen(shutdown.clone()));
        }
        let mut next_compaction = tokio::time::Instant::now() + COMPACTION_INTERVAL;
        loop {
            if let Err(err) = self.catch_up().await {
                self.counters.follow_errors.inc();
                if self.connected.swap(false, Ordering::AcqRel) {
                    tracing::warn!(error = %err, "change log unreachable; serving cached users only");
                }
            }
            if tokio::time::Instant::now() >= next_compaction {
                next_compaction += COMPACTION_INTERVAL;
                self.compact(config.retention).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(config.poll_interval) => {}
                _ = self.written.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Wakes the follower on every NOTIFY; reconnects after a loss. Polling covers the gaps.
    async fn listen(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let pool = self.store.db().get_postgres_connection_pool().clone();
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => match listener.listen(CHANGE_CHANNEL).await {
                    Ok(()) => loop {
                        tokio::select! {
                            received = listener.recv() => match received {
                                Ok(_) => self.written.notify_one(),
                                Err(err) => {
                                    tracing::debug!(error = %err, "change notifications lost; polling until they return");
                                    break;
                                }
                            },
                            _ = shutdown.changed() => return,
                        }
                    },
                    Err(err) => tracing::debug!(error = %err, "cannot LISTEN for changes"),
                },
                Err(err) => tracing::debug!(error = %err, "cannot connect to LISTEN for changes"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Applies every revision after the applied one.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        if !self.connected.load(Ordering::Acquire) {
            self.resync("change log reachable again").await?;
        }
        self.catch_up_with(self.store.db()).await?;
        self.caught_up_at_ms.store(unix_ms(), Ordering::Release);
        Ok(())
    }

    /// Applies every revision after the applied one, reading through `db`: a write calls
    /// it inside its transaction, after its lock, so that it is judged on the newest state.
    pub async fn catch_up_with<C: ConnectionTrait>(&self, db: &C) -> Result<(), StoreError> {
        loop {
            let applied = self.applied_revision();
            let batches = changes_after(db, applied, BATCH).await?;
            if batches.first().is_some_and(|b| b.revision > applied + 1)
                && oldest_revision(db).await? > applied + 1
            {
                // Revisions between were compacted away: what they touched is unknown.
                self.resync_with(db, "change log compacted past this replica")
                    .await?;
                continue;
            }
            let done = (batches.len() as u64) < BATCH;
            // A burst of revisions is applied as one: each index reloaded once, each
            // entry invalidated once, then the newest revision marked applied.
            let mut changes = Vec::new();
            for change in batches.iter().flat_map(|b| &b.changes) {
                if !changes.contains(change) {
                    changes.push(change.clone());
                }
            }
            self.apply_with(db, &changes).await?;
            if let Some(last) = batches.last() {
                self.advance_applied(last.revision);
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Drops the whole cache and reloads the indexes, then follows from the newest
    /// revision: used whenever changes may have been missed.
    async fn resync(&self, why: &str) -> Result<(), StoreError> {
        self.resync_with(self.store.db(), why).await?;
        self.connected.store(true, Ordering::Release);
        Ok(())
    }

    async fn resync_with<C: ConnectionTrait>(&self, db: &C, why: &str) -> Result<(), StoreError> {
        let revision = max_revision(db).await?;
        self.invalidate_all();
        self.reload_tenants(db).await?;
        self.reload_resources(db).await?;
        self.advance_applied(revision);
        tracing::info!(revision, why, "cache dropped and indexes reloaded");
        Ok(())
    }

    async fn compact(&self, retention: Duration) {
        let cutoff = unix_now() - i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        match self.store.compact_change_log(cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "change log compacted"),
            Err(err) => tracing::debug!(error = %err, "change log compaction failed"),
        }
    }
}

pub(super) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
