//! DM's `dm_master_ddl_state_number{task,type}`, built from each
//! coordinator's per-task lock counts at scrape time.
//!
//! A labelled gauge vector would create two series objects per task when a
//! rebuild publishes its counts: 10,000 tasks took tens of milliseconds, in
//! the path of the first answers. Here a rebuild replaces plain counts, and
//! a scrape renders them.

use std::collections::HashMap;

use super::{gauge_family, gauge_metric, lock_or_recover, DDL_STATE_SYNCED, DDL_STATE_UNSYNCED};

/// Each task's lock counts per coordinator, and which of its two series
/// exist: DM moves a lock between states with Dec/Inc, so a series once
/// created stays (at 0) until its task has no lock left.
#[derive(Debug, Default)]
pub(super) struct DdlStates {
    tasks: HashMap<String, TaskStates>,
}

#[derive(Debug, Default)]
struct TaskStates {
    /// (mode, un-synced, synced) of each coordinator holding locks of the
    /// task: at most one entry per coordinator.
    by_mode: Vec<(&'static str, usize, usize)>,
    unsynced_series: bool,
    synced_series: bool,
}

impl TaskStates {
    fn set(&mut self, mode: &'static str, unsynced: usize, synced: usize) {
        self.by_mode.retain(|(m, _, _)| *m != mode);
        if (unsynced, synced) != (0, 0) {
            self.by_mode.push((mode, unsynced, synced));
        }
    }

    /// The sum of every coordinator's counts.
    fn totals(&self) -> (usize, usize) {
        self.by_mode
            .iter()
            .fold((0, 0), |(u, s), (_, du, ds)| (u + du, s + ds))
    }

    /// Creates the series a non-zero count needs; `false` when the task has
    /// no lock left, so it loses its series (DM's `RemoveDDLPending`).
    fn refresh(&mut self) -> bool {
        let (unsynced, synced) = self.totals();
        if (unsynced, synced) == (0, 0) {
            return false;
        }
        self.unsynced_series |= unsynced > 0;
        self.synced_series |= synced > 0;
        true
    }
}

impl DdlStates {
    /// Replaces one coordinator's counts (task, un-synced, synced): O(tasks).
    pub(super) fn replace_mode(&mut self, mode: &'static str, counts: Vec<super::TaskStateCount>) {
        for states in self.tasks.values_mut() {
            states.set(mode, 0, 0);
        }
        for (task, unsynced, synced) in counts {
            if (unsynced, synced) != (0, 0) {
                self.tasks
                    .entry(task)
                    .or_default()
                    .set(mode, unsynced, synced);
            }
        }
        self.tasks.retain(|_, states| states.refresh());
    }

    /// Sets one task's counts of one coordinator: O(1).
    pub(super) fn set(&mut self, mode: &'static str, task: &str, unsynced: usize, synced: usize) {
        match self.tasks.get_mut(task) {
            Some(states) => {
                states.set(mode, unsynced, synced);
                if !states.refresh() {
                    self.tasks.remove(task);
                }
            }
            None if (unsynced, synced) != (0, 0) => {
                let mut states = TaskStates::default();
                states.set(mode, unsynced, synced);
                states.refresh();
                self.tasks.insert(task.to_owned(), states);
            }
            None => {}
        }
    }
}

/// Shared between the coordinators (writers) and the collector (reader).
pub(super) type SharedDdlStates = std::sync::Arc<std::sync::Mutex<DdlStates>>;

/// Renders `dm_master_ddl_state_number` with DM's name, help and labels.
pub(super) struct DdlStateCollector {
    desc: prometheus::core::Desc,
    states: SharedDdlStates,
}

impl DdlStateCollector {
    pub(super) fn new(states: SharedDdlStates) -> DdlStateCollector {
        DdlStateCollector {
            desc: prometheus::core::Desc::new(
                "dm_master_ddl_state_number".to_owned(),
                "number of pending DDL in different states, Un-synced (waiting all upstream), Synced (all upstream finished, waiting all downstream)".to_owned(),
                vec!["task".into(), "type".into()],
                Default::default(),
            )
            .expect("valid metric definition"),
            states,
        }
    }
}

impl prometheus::core::Collector for DdlStateCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let states = lock_or_recover(&self.states);
        // Label pairs sorted by name, as the client library does; the
        // registry sorts the series.
        let series = |task: &str, state: &str, count: usize| {
            gauge_metric(&[("task", task), ("type", state)], count as f64)
        };
        let mut metrics = Vec::new();
        for (task, task_states) in &states.tasks {
            let (unsynced, synced) = task_states.totals();
            if task_states.unsynced_series {
                metrics.push(series(task, DDL_STATE_UNSYNCED, unsynced));
            }
            if task_states.synced_series {
                metrics.push(series(task, DDL_STATE_SYNCED, synced));
            }
        }
        if metrics.is_empty() {
            return Vec::new();
        }
        vec![gauge_family(&self.desc, metrics)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

    fn render(registry: &Registry) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut buf)
            .unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// The scrape-time series are byte for byte what DM's labelled gauge
    /// vector renders for the same values.
    #[test]
    fn renders_exactly_as_a_labelled_gauge_vector() {
        let dm = IntGaugeVec::new(
            Opts::new(
                "ddl_state_number",
                "number of pending DDL in different states, Un-synced (waiting all upstream), Synced (all upstream finished, waiting all downstream)",
            )
            .namespace("dm")
            .subsystem("master"),
            &["task", "type"],
        )
        .unwrap();
        let dm_registry = Registry::new();
        dm_registry.register(Box::new(dm.clone())).unwrap();
        let ours = SharedDdlStates::default();
        let our_registry = Registry::new();
        our_registry
            .register(Box::new(DdlStateCollector::new(ours.clone())))
            .unwrap();
        assert_eq!(render(&our_registry), "");

        lock_or_recover(&ours).replace_mode(
            "pessimistic",
            vec![
                ("b".into(), 2, 0),
                ("a\"x".into(), 1, 3),
                ("c".into(), 0, 0),
            ],
        );
        lock_or_recover(&ours).set("optimistic", "b", 0, 1);
        for (task, state, value) in [
            ("b", DDL_STATE_UNSYNCED, 2),
            ("b", DDL_STATE_SYNCED, 1),
            ("a\"x", DDL_STATE_UNSYNCED, 1),
            ("a\"x", DDL_STATE_SYNCED, 3),
        ] {
            dm.with_label_values(&[task, state]).set(value);
        }
        let text = render(&our_registry);
        assert_eq!(text, render(&dm_registry));
        assert!(text.contains("dm_master_ddl_state_number{task=\"b\",type=\"Synced\"} 1\n"));
    }

    #[test]
    fn a_series_stays_at_zero_until_its_task_has_no_lock() {
        let mut states = DdlStates::default();
        states.set("pessimistic", "t", 1, 0);
        states.set("pessimistic", "t", 0, 1);
        let t = &states.tasks["t"];
        assert!(t.unsynced_series && t.synced_series);
        assert_eq!(t.totals(), (0, 1));
        // Another coordinator's counts of the same task keep it alive.
        states.set("optimistic", "t", 1, 0);
        states.replace_mode("pessimistic", vec![]);
        assert_eq!(states.tasks["t"].totals(), (1, 0));
        states.set("optimistic", "t", 0, 0);
        assert!(states.tasks.is_empty());
        // A zero count never creates a task.
        states.set("optimistic", "u", 0, 0);
        states.replace_mode("optimistic", vec![("v".into(), 0, 0)]);
        assert!(states.tasks.is_empty());
    }
}
