//! The stall watch: closes the gRPC connections whose peers leave their answers unread.
//! Each connection reports its blocked answers (`flow.rs`: answers whose send window is
//! spent) and since when the oldest has waited, and since when its socket has been full
//! (a peer that reads nothing at all). Once a tick, the watch closes
//!
//! - every connection stalled for `--stalled-connection-timeout-ms`, and
//! - while the blocked answers of all connections together cost more than
//!   `--max-unread-response-mib` (each `ANSWER_COST`), the connections holding some,
//!   stalled longest first, until the rest fit (it is woken at once when they pass it).
//!
//! A connection holds at most `--max-concurrent-streams` blocked answers (HTTP/2 refuses
//! more streams), so the memory unread answers hold is bounded per connection and in total,
//! and given back when their connections close. A client that stops consuming a stream
//! it asked for (a `WatchChanges` follower paused past the timeout with its window spent)
//! is closed too; it reconnects and resumes from its revision.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::flow::Blocked;

/// What a blocked answer holds, measured: its HTTP/2 stream with its queued frames and
/// the request's headers, about 2.4 KiB for a check's answer with 8,600 blocked.
pub const ANSWER_COST: usize = 3 * 1024;
/// How often the watch looks, at most.
const TICK: Duration = Duration::from_millis(250);
/// Since-values meaning "not now".
const NEVER: u64 = u64::MAX;

/// The stall watch's limits, shared by every gRPC port.
#[derive(Clone)]
pub struct StallWatch {
    shared: Arc<Shared>,
}

struct Shared {
    /// Blocked answers all connections may hold.
    max_answers: usize,
    /// Blocked answers all connections hold now.
    blocked: AtomicUsize,
    /// Wakes the watch at once when `blocked` passes `max_answers`.
    full: Notify,
    timeout_ms: u64,
    started: Instant,
    connections: Mutex<Vec<Weak<ConnectionStall>>>,
}

impl StallWatch {
    /// Starts the watch (it ends with the last clone): call it within the runtime.
    pub fn new(max_unread_mib: u64, timeout: Duration) -> StallWatch {
        let bytes =
            usize::try_from(max_unread_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        let shared = Arc::new(Shared {
            max_answers: bytes / ANSWER_COST,
            blocked: AtomicUsize::new(0),
            full: Notify::new(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            started: Instant::now(),
            connections: Mutex::new(Vec::new()),
        });
        tokio::spawn(watch(Arc::downgrade(&shared)));
        StallWatch { shared }
    }

    /// A new connection's report, watched until the connection is dropped.
    pub fn open(&self, peer: Option<SocketAddr>) -> Arc<ConnectionStall> {
        let connection = Arc::new(ConnectionStall {
            peer,
            shared: Arc::clone(&self.shared),
            blocked: AtomicUsize::new(0),
            blocked_since: AtomicU64::new(NEVER),
            full_since: AtomicU64::new(NEVER),
            closing: AtomicBool::new(false),
            close: Arc::new(Notify::new()),
        });
        self.shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(&connection));
        connection
    }
}

/// What one connection reports to the watch.
pub struct ConnectionStall {
    peer: Option<SocketAddr>,
    shared: Arc<Shared>,
    blocked: AtomicUsize,
    /// Since when its oldest blocked answer has waited.
    blocked_since: AtomicU64,
    /// Since when its socket has been full.
    full_since: AtomicU64,
    closing: AtomicBool,
    close: Arc<Notify>,
}

impl ConnectionStall {
    /// Told when the watch closes the connection.
    pub fn closing(&self) -> Arc<Notify> {
        Arc::clone(&self.close)
    }

    /// The connection's blocked answers now.
    pub fn report_blocked(&self, blocked: Blocked) {
        let was = self.blocked.swap(blocked.answers, Ordering::Relaxed);
        if blocked.answers > was {
            let added = blocked.answers - was;
            let total = self.shared.blocked.fetch_add(added, Ordering::Relaxed) + added;
            if total > self.shared.max_answers {
                self.shared.full.notify_one();
            }
        } else if blocked.answers < was {
            self.shared
                .blocked
                .fetch_sub(was - blocked.answers, Ordering::Relaxed);
        }
        let since = blocked.oldest.map_or(NEVER, |oldest| {
            let since = oldest.saturating_duration_since(self.shared.started);
            u64::try_from(since.as_millis()).unwrap_or(NEVER - 1)
        });
        self.blocked_since.store(since, Ordering::Relaxed);
    }

    /// Writes started (true) or stopped (false) finding the socket full.
    pub fn report_full(&self, full: bool) {
        let since = if full { self.shared.now_ms() } else { NEVER };
        self.full_since.store(since, Ordering::Relaxed);
    }

    /// Since when the connection has been stalled, if it is.
    fn stalled_since(&self) -> Option<u64> {
        let blocked = self.blocked_since.load(Ordering::Relaxed);
        let full = self.full_since.load(Ordering::Relaxed);
        Some(blocked.min(full)).filter(|since| *since != NEVER)
    }

    fn close(&self, why: &str, now: u64, since: u64) {
        if !self.closing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                peer = ?self.peer,
                blocked_answers = self.blocked.load(Ordering::Relaxed),
                stalled_ms = now.saturating_sub(since),
                "closing a connection that leaves its answers unread: {why}"
            );
            self.close.notify_waiters();
        }
    }
}

impl Drop for ConnectionStall {
    fn drop(&mut self) {
        let blocked = *self.blocked.get_mut();
        self.shared.blocked.fetch_sub(blocked, Ordering::Relaxed);
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }
}

/// Once a tick, or at once when the budget is passed.
async fn watch(shared: Weak<Shared>) {
    loop {
        let Some(full) = shared.upgrade() else {
            return;
        };
        let _ = tokio::time::timeout(TICK, full.full.notified()).await;
        drop(full);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = shared.now_ms();
        let mut connections = shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|connection| connection.strong_count() > 0);
        // The stalled connections, longest stalled first.
        let mut stalled: Vec<(u64, Arc<ConnectionStall>)> = connections
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|connection| !connection.closing.load(Ordering::Relaxed))
            .filter_map(|connection| Some((connection.stalled_since()?, connection)))
            .collect();
        drop(connections);
        stalled.sort_unstable_by_key(|(since, _)| *since);
        let mut blocked: usize = stalled
            .iter()
            .map(|(_, connection)| connection.blocked.load(Ordering::Relaxed))
            .sum();
        for (since, connection) in stalled {
            let holds = connection.blocked.load(Ordering::Relaxed);
            if now.saturating_sub(since) >= shared.timeout_ms {
                connection.close("--stalled-connection-timeout-ms", now, since);
            } else if blocked > shared.max_answers && holds > 0 {
                connection.close("the server's --max-unread-response-mib is full", now, since);
            } else {
                continue;
            }
            blocked -= holds.min(blocked);
        }
    }
}
