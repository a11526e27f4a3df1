//! Prometheus metrics with DM-master's names, labels and help texts, so
//! existing DM dashboards and alerts keep working (names as in DM's `dm/master/metrics`).
//!
//! `Metrics` owns its registry (no process-global state), so several masters
//! can live in one test process.

use prometheus::{Encoder, GaugeVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

mod ddl_states;
mod lock_gauges;
mod process;

use ddl_states::{DdlStateCollector, SharedDdlStates};
use lock_gauges::LockGaugeCollector;
pub use process::{cpu_seconds as process_cpu_seconds, ProcessCollector};

/// `dm_master_ddl_state_number{type}` values.
pub const DDL_STATE_UNSYNCED: &str = "Un-synced";
pub const DDL_STATE_SYNCED: &str = "Synced";

/// `dm_master_shard_ddl_error{type}` values (DM's exact strings).
pub const ERR_INFO_PUT_SYNC_LOCK: &str = "InfoPut - SyncLockError";
pub const ERR_INFO_PUT_HANDLE_LOCK: &str = "InfoPut - HandleLockError";
pub const ERR_OPERATION_PUT_REMOVE_LOCK: &str = "OperationPut - RemoveLockError";
pub const ERR_OPERATION_PUT_LOCK_UNSYNCED: &str = "OperationPut - LockUnSyncedError";
pub const ERR_OPERATION_PUT_NON_OWNER_OP: &str = "OperationPut - PutNonOwnerOpError";
/// Our addition: a value in etcd that did not decode (DM stops its whole
/// watch loop on these; we report and skip, DM gap P5 in docs/dm-gaps.md).
pub const ERR_MALFORMED_VALUE: &str = "Watch - MalformedValueError";
/// Our addition: an Info for a task with no subtask config (DM silently
/// resolves such a lock, DM gap P10).
pub const ERR_UNKNOWN_TASK: &str = "InfoPut - UnknownTaskError";
/// Our addition: an Info repeating a lock its source already finished
/// (a delayed duplicate), held instead of answered.
pub const ERR_STALE_INFO: &str = "InfoPut - StaleInfoHeldError";
/// Our addition: a source left its task (its subtask config was deleted)
/// while a pessimistic lock waited for it; the lock was re-evaluated.
pub const ERR_SOURCE_LEFT_LOCK: &str = "SubTaskDelete - SourceLeftLockError";

/// Our addition: a cold start answered a task's synced locks from the
/// configs under its own keys, and the whole read found a config stored
/// under another subtask's key that names the task too (DM never writes
/// one); the task's locks were re-evaluated.
pub const ERR_TASK_SOURCES_DIFFER: &str = "Rebuild - TaskSourcesDifferError";

/// One task's pending locks: (task, un-synced, synced).
pub type TaskStateCount = (String, usize, usize);

/// One pending lock for the per-lock gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct LockGauge {
    pub task: String,
    pub lock_id: String,
    pub age_seconds: f64,
    /// Sources the lock still waits for (un-synced, or not done once synced).
    pub blocking_sources: usize,
}

/// Every metric the master exports.
pub struct Metrics {
    registry: Registry,
    /// Shard-DDL errors per task and kind; never pre-created (a healthy run
    /// has no series, which DM's tests rely on).
    pub shard_ddl_error: IntCounterVec,
    /// Times this master started leader components.
    pub start_leader_counter: IntCounter,
    /// Scheduler: each registered worker's stage (0 offline, 1 free,
    /// 2 bound); leader only.
    pub worker_state: GaugeVec,
    /// Scheduler: failures handling (`handle`) or watching (`watch`)
    /// worker keep-alive events; leader only.
    pub worker_event_error: IntCounterVec,
    /// Each coordinator's latest per-lock gauges, rendered at scrape time
    /// by [`LockGaugeCollector`].
    lock_gauges_by_mode: LockGaugesByMode,
    /// Each coordinator's per-task lock counts, rendered at scrape time as
    /// `dm_master_ddl_state_number` by [`DdlStateCollector`] (guarded by a
    /// std mutex: never held across await).
    ddl_states: SharedDdlStates,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let shard_ddl_error = IntCounterVec::new(
            Opts::new(
                "shard_ddl_error",
                "number of shard DDL lock/operation error",
            )
            .namespace("dm")
            .subsystem("master"),
            &["task", "type"],
        )
        .expect("valid metric definition");
        let start_leader_counter = IntCounter::with_opts(
            Opts::new(
                "start_leader_counter",
                "number of this dm-master try to start leader components",
            )
            .namespace("dm")
            .subsystem("master"),
        )
        .expect("valid metric definition");
        let worker_state = GaugeVec::new(
            Opts::new(
                "worker_state",
                "state of worker, -1 - unrecognized, 0 - offline, 1 - free, 2 - bound",
            )
            .namespace("dm")
            .subsystem("master"),
            &["worker"],
        )
        .expect("valid metric definition");
        let worker_event_error = IntCounterVec::new(
            Opts::new(
                "worker_event_error",
                "number of error related to worker event, during handling or watching",
            )
            .namespace("dm")
            .subsystem("master"),
            &["type"],
        )
        .expect("valid metric definition");
        let lock_gauges_by_mode = LockGaugesByMode::default();
        let ddl_states = SharedDdlStates::default();
        for collector in [
            Box::new(DdlStateCollector::new(ddl_states.clone()))
                as Box<dyn prometheus::core::Collector>,
            Box::new(shard_ddl_error.clone()),
            Box::new(start_leader_counter.clone()),
            Box::new(LockGaugeCollector::new(lock_gauges_by_mode.clone())),
            Box::new(worker_state.clone()),
            Box::new(worker_event_error.clone()),
            Box::new(ProcessCollector::new()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            shard_ddl_error,
            start_leader_counter,
            worker_state,
            worker_event_error,
            ddl_states,
            lock_gauges_by_mode,
        }
    }

    /// Counts one shard-DDL error of `kind` for `task`.
    pub fn report_ddl_error(&self, task: &str, kind: &str) {
        self.shard_ddl_error.with_label_values(&[task, kind]).inc();
    }

    /// Replaces one coordinator's share of `ddl_state_number` with `counts`
    /// (task → (un-synced, synced)), after a rebuild; a single task's change
    /// goes through [`Metrics::set_ddl_state`]. The exported numbers are
    /// derived from lock state and stay right across leader changes and
    /// lock removals; a task with no locks loses its series (DM drops the
    /// series of the whole task on any lock removal, DM gap M1, which
    /// under-reports the task's other locks). Plain counts are replaced:
    /// the series are built when scraped, so 10,000 tasks cost
    /// milliseconds here, not a series object each.
    pub fn set_ddl_states(&self, mode: &'static str, counts: Vec<TaskStateCount>) {
        lock_or_recover(&self.ddl_states).replace_mode(mode, counts);
    }

    /// Sets one task's counts of one coordinator (un-synced, synced): O(1),
    /// called on every lock state change. Only that task's series change.
    pub fn set_ddl_state(&self, mode: &'static str, task: &str, unsynced: usize, synced: usize) {
        lock_or_recover(&self.ddl_states).set(mode, task, unsynced, synced);
    }

    /// Replaces one coordinator's per-lock gauges (age, blocking sources).
    pub fn set_lock_gauges(&self, mode: &'static str, locks: Vec<LockGauge>) {
        lock_or_recover(&self.lock_gauges_by_mode).insert(mode, locks);
    }

    /// Drops the leader-only series when this master stops leading (DM's
    /// `OnRetireLeader`).
    pub fn on_retire_leader(&self) {
        *lock_or_recover(&self.ddl_states) = Default::default();
        lock_or_recover(&self.lock_gauges_by_mode).clear();
        self.shard_ddl_error.reset();
        self.worker_state.reset();
        self.worker_event_error.reset();
    }

    /// The classic Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(error) = encoder.encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(%error, "metrics encoding failed");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Each coordinator's latest per-lock gauges, shared with the collector.
type LockGaugesByMode =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<&'static str, Vec<LockGauge>>>>;

fn lock_or_recover<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One gauge sample with its label pairs (given sorted by name), for the
/// collectors that build their series at scrape time.
fn gauge_metric(labels: &[(&str, &str)], value: f64) -> prometheus::proto::Metric {
    let labels = labels
        .iter()
        .map(|(name, value)| {
            let mut pair = prometheus::proto::LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect();
    let mut gauge = prometheus::proto::Gauge::default();
    gauge.set_value(value);
    let mut metric = prometheus::proto::Metric::default();
    metric.set_label(labels);
    metric.set_gauge(gauge);
    metric
}

/// A gauge family named and described by `desc`.
fn gauge_family(
    desc: &prometheus::core::Desc,
    metrics: Vec<prometheus::proto::Metric>,
) -> prometheus::proto::MetricFamily {
    let mut family = prometheus::proto::MetricFamily::default();
    family.set_name(desc.fq_name.clone());
    family.set_help(desc.help.clone());
    family.set_field_type(prometheus::proto::MetricType::GAUGE);
    family.set_metric(metrics);
    family
}

/// Every metric family this master exports (DM's names first).
pub const FAMILIES: &[&str] = &[
    "dm_master_ddl_state_number",
    "dm_master_shard_ddl_error",
    "dm_master_start_leader_counter",
    "dm_master_shard_ddl_lock_age_seconds",
    "dm_master_shard_ddl_lock_blocking_sources",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_dm_names_help_and_no_total_suffix() {
        let m = Metrics::new();
        m.set_ddl_states("pessimistic", vec![("t".into(), 2, 1)]);
        m.report_ddl_error("t", ERR_INFO_PUT_SYNC_LOCK);
        m.set_lock_gauges(
            "pessimistic",
            vec![LockGauge {
                task: "t".into(),
                lock_id: "t-`a`.`b`".into(),
                age_seconds: 1.5,
                blocking_sources: 3,
            }],
        );
        let text = m.render();
        for family in FAMILIES {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family} missing:\n{text}"
            );
        }
        assert!(text.contains("dm_master_ddl_state_number{task=\"t\",type=\"Un-synced\"} 2"));
        assert!(text.contains("dm_master_ddl_state_number{task=\"t\",type=\"Synced\"} 1"));
        assert!(text
            .contains("dm_master_shard_ddl_error{task=\"t\",type=\"InfoPut - SyncLockError\"} 1"));
        assert!(text
            .contains("# HELP dm_master_shard_ddl_error number of shard DDL lock/operation error"));
        assert!(!text.contains("dm_master_shard_ddl_error_total"));
        // A coordinator's counts replace its earlier ones; tasks without
        // locks lose their series.
        // A lock moving from Un-synced to Synced leaves the Un-synced series
        // at 0, as DM's Dec/Inc does, while the task has locks.
        m.set_ddl_states("pessimistic", vec![("t".into(), 0, 3)]);
        let text = m.render();
        assert!(text.contains("dm_master_ddl_state_number{task=\"t\",type=\"Un-synced\"} 0"));
        assert!(text.contains("dm_master_ddl_state_number{task=\"t\",type=\"Synced\"} 3"));
        m.set_ddl_states("optimistic", vec![("o".into(), 0, 1)]);
        assert!(!m.render().contains("task=\"o\",type=\"Un-synced\""));
        m.set_ddl_states("optimistic", vec![]);
        m.set_ddl_states("pessimistic", vec![]);
        assert!(!m.render().contains("dm_master_ddl_state_number{"));
        m.on_retire_leader();
        let text = m.render();
        assert!(!text.contains("dm_master_shard_ddl_error{"));
        assert!(!text.contains("dm_master_shard_ddl_lock_age_seconds{"));
    }

    #[test]
    fn one_task_update_touches_only_its_series_and_sums_both_modes() {
        let m = Metrics::new();
        m.set_ddl_states("pessimistic", vec![("a".into(), 1, 0), ("b".into(), 2, 0)]);
        m.set_ddl_state("optimistic", "a", 0, 1);
        m.set_ddl_state("pessimistic", "a", 0, 1);
        let text = m.render();
        // Both coordinators' counts are summed; Un-synced stays at 0 once
        // created.
        assert!(text.contains("dm_master_ddl_state_number{task=\"a\",type=\"Un-synced\"} 0"));
        assert!(text.contains("dm_master_ddl_state_number{task=\"a\",type=\"Synced\"} 2"));
        assert!(text.contains("dm_master_ddl_state_number{task=\"b\",type=\"Un-synced\"} 2"));
        m.set_ddl_state("pessimistic", "a", 0, 0);
        assert!(m
            .render()
            .contains("dm_master_ddl_state_number{task=\"a\",type=\"Synced\"} 1"));
        m.set_ddl_state("optimistic", "a", 0, 0);
        let text = m.render();
        assert!(!text.contains("task=\"a\""), "{text}");
        assert!(text.contains("dm_master_ddl_state_number{task=\"b\",type=\"Un-synced\"} 2"));
        // A rebuild's bulk replacement drops tasks it no longer names.
        m.set_ddl_states("pessimistic", vec![]);
        assert!(!m.render().contains("dm_master_ddl_state_number{"));
    }

    #[test]
    fn process_metrics_are_exported_on_linux() {
        let text = Metrics::new().render();
        for family in [
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_max_fds",
            "process_virtual_memory_bytes",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family}:\n{text}"
            );
        }
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(rss > 0.0);
    }

    #[test]
    fn the_dashboard_only_uses_exported_families() {
        let dashboard = include_str!("../dashboards/dm-master.json");
        let mut used = 0;
        for (i, _) in dashboard.match_indices("dm_master_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                FAMILIES.contains(&name.as_str()),
                "dashboard uses unknown {name}"
            );
            used += 1;
        }
        assert!(used >= 5);
    }
}
