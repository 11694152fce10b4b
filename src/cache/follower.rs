//! The follower: tails the change log from the applied revision and applies each batch,
//! waking on every local write and polling as the path that works on every database.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::AccessCache;
use crate::store::StoreError;

/// Revisions read from the log per round.
const BATCH: u64 = 500;

impl AccessCache {
    /// Follows the change log until `shutdown` turns true.
    pub async fn follow(self: Arc<Self>, poll: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.catch_up().await {
                Ok(()) => {}
                Err(err) => {
                    if self.connected.swap(false, Ordering::AcqRel) {
                        tracing::warn!(error = %err, "change log unreachable; serving cached users only");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.written.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Applies every revision after the applied one.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        if !self.connected.load(Ordering::Acquire) {
            self.reconnect().await?;
        }
        loop {
            let applied = self.applied_revision();
            let batches = self.store.changes_after(applied, BATCH).await?;
            let done = (batches.len() as u64) < BATCH;
            for batch in batches {
                self.apply(&batch.changes).await?;
                self.applied.send_replace(batch.revision);
            }
            if done {
                return Ok(());
            }
        }
    }

    /// After losing the database: the cache may have missed changes, so drop it whole and
    /// reload the indexes before following again.
    async fn reconnect(&self) -> Result<(), StoreError> {
        self.store.max_revision().await?;
        self.invalidate_all();
        self.reload_tenants().await?;
        self.reload_resources().await?;
        self.connected.store(true, Ordering::Release);
        tracing::info!(
            revision = self.applied_revision(),
            "change log reachable again; cache dropped"
        );
        Ok(())
    }
}
