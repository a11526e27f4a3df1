//! Our per-lock gauges (`dm_master_shard_ddl_lock_age_seconds`,
//! `dm_master_shard_ddl_lock_blocking_sources`): a collector that builds
//! them from the coordinators' latest lock lists at scrape time.

use super::{gauge_family, gauge_metric, lock_or_recover, LockGauge, LockGaugesByMode};

/// Our per-lock gauges `dm_master_shard_ddl_lock_age_seconds` and
/// `dm_master_shard_ddl_lock_blocking_sources` (labels `task`, `lock_id`,
/// `mode`), built from the coordinators' latest lists when scraped. A
/// labelled gauge vector would keep two series objects per lock (each with
/// its own copy of the descriptor and labels), about 1.5 KB per lock for a
/// leader that holds many.
pub(super) struct LockGaugeCollector {
    age: prometheus::core::Desc,
    blocking: prometheus::core::Desc,
    by_mode: LockGaugesByMode,
}

impl LockGaugeCollector {
    pub(super) fn new(by_mode: LockGaugesByMode) -> LockGaugeCollector {
        let desc = |name: &str, help: &str| {
            prometheus::core::Desc::new(
                format!("dm_master_{name}"),
                help.to_owned(),
                vec!["task".into(), "lock_id".into(), "mode".into()],
                Default::default(),
            )
            .expect("valid metric definition")
        };
        LockGaugeCollector {
            age: desc(
                "shard_ddl_lock_age_seconds",
                "seconds since this master first saw the pending shard DDL lock",
            ),
            blocking: desc(
                "shard_ddl_lock_blocking_sources",
                "number of sources a pending shard DDL lock is still waiting for",
            ),
            by_mode,
        }
    }
}

impl prometheus::core::Collector for LockGaugeCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        vec![&self.age, &self.blocking]
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let by_mode = lock_or_recover(&self.by_mode);
        let mut locks: Vec<(&str, &LockGauge)> = by_mode
            .iter()
            .flat_map(|(mode, locks)| locks.iter().map(move |l| (*mode, l)))
            .collect();
        if locks.is_empty() {
            return Vec::new();
        }
        locks.sort_by(|(ma, a), (mb, b)| (&a.lock_id, ma, &a.task).cmp(&(&b.lock_id, mb, &b.task)));
        let family = |desc: &prometheus::core::Desc, value: &dyn Fn(&LockGauge) -> f64| {
            let metrics = locks
                .iter()
                .map(|(mode, l)| {
                    // Label pairs sorted by name, as the client library does.
                    let labels = [
                        ("lock_id", l.lock_id.as_str()),
                        ("mode", mode),
                        ("task", &l.task),
                    ];
                    gauge_metric(&labels, value(l))
                })
                .collect();
            gauge_family(desc, metrics)
        };
        vec![
            family(&self.age, &|l| l.age_seconds),
            family(&self.blocking, &|l| l.blocking_sources as f64),
        ]
    }
}
