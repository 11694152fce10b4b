//! The Prometheus metrics of one server: checks by decision, call latency by RPC and
//! status, cache hits, misses and evictions, admin writes, database errors, and the
//! follower's position. Counters on the check path are plain atomics resolved at start.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tonic::Code;

use crate::cache::{AccessCache, CacheCounters};
use crate::engine::Decision;

/// Upper bounds of the call-latency buckets, in seconds: a warm check is well under a
/// millisecond, a cold one a few, an admin write tens.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    service: Arc<str>,
    method: Arc<str>,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdminWriteLabels {
    action: Arc<str>,
    outcome: &'static str,
}

/// Checks counted by how they ended. Detached (counted nowhere) by default.
#[derive(Clone, Debug, Default)]
pub struct CheckCounters {
    allowed: Counter,
    not_granted: Counter,
    denied: Counter,
    user_inactive: Counter,
    error: Counter,
}

impl CheckCounters {
    /// Counts one decided check.
    pub fn decided(&self, decision: Decision) {
        match decision {
            Decision::Allowed => self.allowed.inc(),
            Decision::NotGranted => self.not_granted.inc(),
            Decision::Denied => self.denied.inc(),
            Decision::UserInactive => self.user_inactive.inc(),
        };
    }

    /// Counts one check that could not be decided (an error, never an allow).
    pub fn failed(&self) {
        self.error.inc();
    }
}

/// Envoy ext_authz checks counted by how they ended. Detached by default.
#[derive(Clone, Debug, Default)]
pub struct ExtAuthzCounters {
    outcomes: Option<Family<OutcomeLabels, Counter>>,
}

impl ExtAuthzCounters {
    /// Counts one answered request: allowed, denied, unmatched_allowed, unauthenticated,
    /// refused (a bad request or target) or error (not decided).
    pub fn count(&self, outcome: &'static str) {
        if let Some(family) = &self.outcomes {
            family.get_or_create(&OutcomeLabels { outcome }).inc();
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// A gRPC method as it is labelled: service and method names from the contract.
#[derive(Clone, Debug)]
pub struct RpcMethod {
    pub service: Arc<str>,
    pub method: Arc<str>,
    /// An AdminService call that changes something (not Get, List or Check).
    pub admin_write: bool,
    /// Client or server streaming: the status comes only at the end of the stream.
    pub streaming: bool,
}

/// How many gRPC status codes there are (0 to 16).
const CODES: usize = 17;

/// One method's series, by status code, looked up in the families on first use only: a
/// call then costs an index, not a label hash under a lock.
#[derive(Debug)]
pub struct RpcInstruments {
    pub method: RpcMethod,
    seconds: [OnceLock<Histogram>; CODES],
    writes: [OnceLock<Counter>; CODES],
}

impl RpcInstruments {
    pub fn new(method: RpcMethod) -> RpcInstruments {
        RpcInstruments {
            method,
            seconds: std::array::from_fn(|_| OnceLock::new()),
            writes: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// Every metric of one server, and the registry that shows them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    checks: CheckCounters,
    cache: CacheCounters,
    rpc_seconds: Family<RpcLabels, Histogram, fn() -> Histogram>,
    admin_writes: Family<AdminWriteLabels, Counter>,
    ext_authz: ExtAuthzCounters,
    applied_revision: Gauge,
    follower_lag_seconds: Gauge<f64, AtomicU64>,
    cached_users: Gauge,
    database_reachable: Gauge,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rbac");

        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "checks",
            "Checks answered, by decision; error: not decided (bad target, revision not reached, database)",
            decisions.clone(),
        );
        let decision = |decision| decisions.get_or_create_owned(&DecisionLabels { decision });
        let checks = CheckCounters {
            allowed: decision("allowed"),
            not_granted: decision("not_granted"),
            denied: decision("denied"),
            user_inactive: decision("user_inactive"),
            error: decision("error"),
        };

        let database_errors = Family::<OperationLabels, Counter>::default();
        registry.register(
            "database_errors",
            "Database errors seen by the cache (load: a user's access) and the change-log follower (follow)",
            database_errors.clone(),
        );
        let operation =
            |operation| database_errors.get_or_create_owned(&OperationLabels { operation });
        let cache = CacheCounters {
            load_errors: operation("load"),
            follow_errors: operation("follow"),
            ..CacheCounters::default()
        };
        registry.register(
            "cache_hits",
            "Effective-access look-ups answered from the cache",
            cache.hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Effective-access look-ups that went to the database",
            cache.misses.clone(),
        );
        registry.register(
            "cache_evictions",
            "Cache entries evicted for size or age (invalidations not included)",
            cache.evictions.clone(),
        );

        let rpc_seconds: Family<RpcLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "grpc_server_handling_seconds",
            "gRPC calls by service, method and status code, and how long they took",
            rpc_seconds.clone(),
        );
        let admin_writes = Family::<AdminWriteLabels, Counter>::default();
        registry.register(
            "admin_writes",
            "AdminService calls that change something, by action and status code",
            admin_writes.clone(),
        );

        let ext_authz = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ext_authz_checks",
            "Envoy ext_authz requests by outcome: allowed, denied, unmatched_allowed, unauthenticated, refused (bad request or target), error (not decided)",
            ext_authz.clone(),
        );

        let mut gauge = |name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let applied_revision = gauge(
            "applied_revision",
            "The change-log revision this replica has applied",
        );
        let cached_users = gauge("cached_users", "Users whose effective access is cached");
        let database_reachable = gauge(
            "database_reachable",
            "1 while the follower reaches the database, 0 while it does not",
        );
        let follower_lag_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "follower_lag_seconds",
            "Seconds since the follower last read the change log to its end",
            follower_lag_seconds.clone(),
        );

        Metrics {
            registry,
            checks,
            ext_authz: ExtAuthzCounters {
                outcomes: Some(ext_authz),
            },
            cache,
            rpc_seconds,
            admin_writes,
            applied_revision,
            follower_lag_seconds,
            cached_users,
            database_reachable,
        }
    }

    /// The counters a [`crate::data_plane::Checker`] updates.
    pub fn checks(&self) -> CheckCounters {
        self.checks.clone()
    }

    /// The counters of the ext_authz service.
    pub fn ext_authz(&self) -> ExtAuthzCounters {
        self.ext_authz.clone()
    }

    /// The counters an [`AccessCache`] updates.
    pub fn cache(&self) -> CacheCounters {
        self.cache.clone()
    }

    /// Records one finished gRPC call.
    pub fn rpc_finished(&self, rpc: &RpcInstruments, code: Code, elapsed: Duration) {
        let index = usize::try_from(code as i32).map_or(0, |i| i.min(CODES - 1));
        let name = code_name(code);
        let method = &rpc.method;
        rpc.seconds[index]
            .get_or_init(|| {
                self.rpc_seconds.get_or_create_owned(&RpcLabels {
                    service: Arc::clone(&method.service),
                    method: Arc::clone(&method.method),
                    code: name,
                })
            })
            .observe(elapsed.as_secs_f64());
        if method.admin_write {
            rpc.writes[index]
                .get_or_init(|| {
                    self.admin_writes.get_or_create_owned(&AdminWriteLabels {
                        action: Arc::clone(&method.method),
                        outcome: name,
                    })
                })
                .inc();
        }
    }

    /// The metrics in the OpenMetrics text format, with the replica's gauges read now.
    pub fn render(&self, cache: &AccessCache) -> String {
        self.applied_revision
            .set(i64::try_from(cache.applied_revision()).unwrap_or(i64::MAX));
        self.follower_lag_seconds
            .set(Duration::from_millis(cache.follower_lag_ms()).as_secs_f64());
        self.cached_users
            .set(i64::try_from(cache.cached_users()).unwrap_or(i64::MAX));
        self.database_reachable.set(i64::from(cache.is_connected()));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The canonical name of a gRPC status code, as in the gRPC specification.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_counted_by_decision() {
        let metrics = Metrics::new();
        let checks = metrics.checks();
        checks.decided(Decision::Allowed);
        checks.decided(Decision::Allowed);
        checks.decided(Decision::Denied);
        checks.failed();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry).unwrap();
        assert!(
            text.contains("rbac_checks_total{decision=\"allowed\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("rbac_checks_total{decision=\"denied\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("rbac_checks_total{decision=\"not_granted\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("rbac_checks_total{decision=\"error\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn admin_writes_are_counted_by_action_and_outcome() {
        let metrics = Metrics::new();
        let write = RpcInstruments::new(RpcMethod {
            service: "rbac.v1.AdminService".into(),
            method: "CreateTag".into(),
            admin_write: true,
            streaming: false,
        });
        metrics.rpc_finished(&write, Code::Ok, Duration::from_millis(3));
        metrics.rpc_finished(&write, Code::PermissionDenied, Duration::from_millis(1));
        metrics.rpc_finished(&write, Code::Ok, Duration::from_millis(2));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry).unwrap();
        assert!(
            text.contains("rbac_admin_writes_total{action=\"CreateTag\",outcome=\"OK\"} 2\n"),
            "{text}"
        );
        assert!(text.contains(
            "rbac_grpc_server_handling_seconds_count{service=\"rbac.v1.AdminService\",method=\"CreateTag\",code=\"PERMISSION_DENIED\"} 1\n"
        ), "{text}");
    }
}
