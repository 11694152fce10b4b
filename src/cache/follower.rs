//! The follower: tails the change log from the applied revision and applies each batch.
//! PostgreSQL LISTEN/NOTIFY wakes it at once; polling is the fallback, and the only path
//! on SQLite. It also compacts the log, and drops the whole cache whenever it cannot be
//! sure it saw every change (after losing the database, or behind a compacted log).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::apply::Indexes;
use super::{AccessCache, AppliedState, Source};
use crate::model::unix_now;
use sea_orm::ConnectionTrait;

use crate::engine::TenantIndex;
use crate::store::{
    self, CHANGE_CHANNEL, Change, ChangeBatch, StoreError, changes_after, max_revision,
    oldest_revision,
};

/// Revisions read from the log per query.
const BATCH: u64 = 500;
/// A replica further behind than this many revisions drops its cache and reloads, which
/// costs less than applying them.
const RESYNC_PAST: usize = 10_000;
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
    pub async fn follow_change_log(
        self: Arc<Self>,
        config: FollowConfig,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let Some(store) = self.store() else {
            return; // fed by the tier: whoever follows its feed applies it
        };
        if store.is_postgres() {
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
            let Some(store) = self.store() else { return };
            let pool = store.db().get_postgres_connection_pool().clone();
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

    /// Applies every revision after the applied one, all read in one snapshot of the
    /// database. A local write calls it after its commit, so that its own revision is
    /// applied before it returns (read-your-own-writes).
    /// Fed by the tier, it waits (a little) for the feed to reach the newest revision.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        let store = match &self.source {
            Source::Database(store) => store,
            Source::Upstream(_) => return self.catch_up_with_feed().await,
        };
        if !self.connected.load(Ordering::Acquire) {
            self.resync("change log reachable again").await?;
        }
        let txn = store.begin_read().await?;
        self.catch_up_with(&txn).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.caught_up_at_ms.store(unix_ms(), Ordering::Release);
        Ok(())
    }

    /// Applies every revision after the applied one, reading through `db` (a snapshot:
    /// the follower's read, or a write's transaction after its lock, so that the write
    /// is judged on the newest state). Holds the apply lock: take `db`'s connection first.
    /// Returns the state it leaves applied.
    pub async fn catch_up_with<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Arc<AppliedState>, StoreError> {
        let _serial = self.apply_lock.lock().await;
        self.apply_log(db).await
    }

    /// `catch_up_with` for a caller that holds the apply lock. Everything `db` holds after
    /// the applied revision is applied as one and published at its last revision: the
    /// tenant rows and owners it reads are of that revision too.
    pub(super) async fn apply_log<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Arc<AppliedState>, StoreError> {
        let applied = self.applied_revision();
        let mut batches: Vec<ChangeBatch> = Vec::new();
        loop {
            let after = batches.last().map_or(applied, |b| b.revision);
            let more = changes_after(db, after, BATCH).await?;
            let done = (more.len() as u64) < BATCH;
            batches.extend(more);
            if done || batches.len() > RESYNC_PAST {
                break;
            }
        }
        if batches.len() > RESYNC_PAST {
            self.resync_with(db, "too far behind the change log")
                .await?;
            return Ok(self.applied());
        }
        if batches.first().is_some_and(|b| b.revision > applied + 1)
            && oldest_revision(db).await? > applied + 1
        {
            // Revisions between were compacted away: what they touched is unknown.
            self.resync_with(db, "change log compacted past this replica")
                .await?;
            return Ok(self.applied());
        }
        let Some(last) = batches.last().map(|b| b.revision) else {
            return Ok(self.applied());
        };
        // Each index updated once, each entry invalidated once.
        let mut seen = HashSet::new();
        let changes: Vec<Change> = batches
            .into_iter()
            .flat_map(|b| b.changes)
            .filter(|change| seen.insert(change.clone()))
            .collect();
        let indexes = self.apply_with(db, &changes).await?;
        self.publish(last, indexes, Some(&changes));
        Ok(self.applied())
    }

    /// Drops the whole cache and reloads the indexes, then follows from the newest
    /// revision: used whenever changes may have been missed.
    async fn resync(&self, why: &str) -> Result<(), StoreError> {
        let Some(store) = self.store() else {
            return Ok(());
        };
        let txn = store.begin_read().await?;
        {
            let _serial = self.apply_lock.lock().await;
            self.resync_with(&txn, why).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        self.connected.store(true, Ordering::Release);
        Ok(())
    }

    /// The caller holds the apply lock.
    async fn resync_with<C: ConnectionTrait>(&self, db: &C, why: &str) -> Result<(), StoreError> {
        let revision = max_revision(db).await?;
        self.invalidate_all();
        let indexes = Indexes {
            tenants: Some(TenantIndex::build(store::tenants(db).await?)),
            resources: Some(store::resources(db).await?.into_iter().collect()),
        };
        self.publish(revision, indexes, None);
        tracing::info!(revision, why, "cache dropped and indexes reloaded");
        Ok(())
    }

    async fn compact(&self, retention: Duration) {
        let cutoff = unix_now() - i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        let Some(store) = self.store() else { return };
        match store.compact_change_log(cutoff).await {
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
