//! The HTTP routes on the worker port, next to `pb.Worker`, as DM-worker
//! answers them (DM splits its one listener with cmux; here the gRPC routes
//! and these share one server that also accepts HTTP/1):
//!
//! | Path | Answer |
//! |---|---|
//! | `/status` | DM's version text, `text/plain`, any method |
//! | `/metrics` | Prometheus text: `dm_worker_task_state`, `dm_worker_cpu_usage` and `process_*` |
//! | anything else | Go's 404 `404 page not found`; a gRPC request for an unknown method keeps gRPC's `Unimplemented` |
//!
//! DM-worker's `/debug/pprof/` routes are Go's profiler and have no
//! counterpart here (404).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::{any, get};
use dm_master::server::http::text_response;
use prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};
use tokio_util::sync::CancellationToken;

use crate::source;

/// How often the CPU usage gauge is refreshed (DM's background job).
const CPU_USAGE_INTERVAL: Duration = Duration::from_secs(10);

/// The worker's metrics, with DM-worker's names, labels and help texts
/// (`dm/worker/metrics.go`), in a registry of their own.
pub struct WorkerMetrics {
    registry: Registry,
    /// `dm_worker_task_state{task,source_id,worker}`: each subtask's stage
    /// as DM's `pb.Stage` number, set from the worker's status at scrape
    /// time, so a stopped subtask's series is gone with it.
    task_state: GaugeVec,
    /// `dm_worker_cpu_usage`: percent of one core since the last refresh.
    cpu_usage: Gauge,
    /// One scrape at a time rebuilds the task series.
    scrape: tokio::sync::Mutex<()>,
    /// The CPU time and instant of the last refresh.
    cpu_sample: Mutex<Option<(Instant, f64)>>,
}

impl WorkerMetrics {
    pub fn new() -> WorkerMetrics {
        let registry = Registry::new();
        let task_state = GaugeVec::new(
            Opts::new(
                "task_state",
                "state of task, 0 - invalidStage, 1 - New, 2 - Running, 3 - Paused, 4 - Stopped, 5 - Finished",
            )
            .namespace("dm")
            .subsystem("worker"),
            &["task", "source_id", "worker"],
        )
        .expect("valid metric definition");
        let cpu_usage = Gauge::with_opts(
            Opts::new("cpu_usage", "the cpu usage of worker")
                .namespace("dm")
                .subsystem("worker"),
        )
        .expect("valid metric definition");
        for collector in [
            Box::new(task_state.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(cpu_usage.clone()),
            Box::new(dm_master::metrics::ProcessCollector::new()),
        ] {
            registry
                .register(collector)
                .expect("each worker metric is registered once");
        }
        WorkerMetrics {
            registry,
            task_state,
            cpu_usage,
            scrape: tokio::sync::Mutex::new(()),
            cpu_sample: Mutex::new(None),
        }
    }

    /// Sets `dm_worker_cpu_usage` to the CPU used since the last refresh,
    /// in percent of one core (DM's `GetCPUPercentage`).
    pub fn refresh_cpu_usage(&self) {
        let Some(cpu) = dm_master::metrics::process_cpu_seconds() else {
            return;
        };
        let now = Instant::now();
        let mut sample = self
            .cpu_sample
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((then, used)) = *sample {
            let wall = now.duration_since(then).as_secs_f64();
            if wall > 0.0 {
                self.cpu_usage.set(100.0 * (cpu - used).max(0.0) / wall);
            }
        }
        *sample = Some((now, cpu));
    }

    /// Refreshes the CPU usage every [`CPU_USAGE_INTERVAL`] until `cancel`.
    pub async fn refresh_cpu_usage_until(&self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(CPU_USAGE_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => self.refresh_cpu_usage(),
                () = cancel.cancelled() => return,
            }
        }
    }

    /// The exposition text, with one `dm_worker_task_state` series per
    /// subtask of `status` (none when the worker is unbound or stopping).
    pub async fn render(&self, worker: &str, status: Option<source::Status>) -> String {
        let _one_scrape = self.scrape.lock().await;
        self.task_state.reset();
        if let Some(status) = status {
            let source = status.source.unwrap_or_default();
            for subtask in &status.subtasks {
                self.task_state
                    .with_label_values(&[subtask.task.as_str(), source.as_str(), worker])
                    .set(f64::from(subtask.run.stage.number()));
            }
        }
        let mut buf = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(%error, "metrics encoding failed");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics::new()
    }
}

/// `/status` and `/metrics` of the worker named `worker`.
pub fn router(worker: String, source: source::Handle, metrics: Arc<WorkerMetrics>) -> axum::Router {
    axum::Router::new()
        .route(
            "/status",
            any(|| async {
                text_response(
                    StatusCode::OK,
                    "text/plain",
                    dm_master::config::version_text(),
                )
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let (worker, source, metrics) = (worker.clone(), source.clone(), metrics.clone());
                async move {
                    let text = metrics.render(&worker, source.status().await).await;
                    text_response(StatusCode::OK, "text/plain; version=0.0.4", text)
                }
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ha::Stage;
    use crate::source::{Status, SubtaskStatus};
    use crate::subtasks::RunStatus;

    fn status(subtasks: &[(&str, Stage)]) -> Option<Status> {
        Some(Status {
            source: Some("mysql-01".into()),
            subtasks: subtasks
                .iter()
                .map(|(task, stage)| SubtaskStatus {
                    task: (*task).into(),
                    run: RunStatus {
                        stage: *stage,
                        ..RunStatus::default()
                    },
                })
                .collect(),
        })
    }

    fn task_states(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| l.starts_with("dm_worker_task_state{"))
            .collect()
    }

    #[tokio::test]
    async fn task_state_follows_the_subtasks_of_each_scrape() {
        let metrics = WorkerMetrics::new();
        let text = metrics
            .render("w1", status(&[("a", Stage::Running), ("b", Stage::Paused)]))
            .await;
        assert_eq!(
            task_states(&text),
            [
                r#"dm_worker_task_state{source_id="mysql-01",task="a",worker="w1"} 2"#,
                r#"dm_worker_task_state{source_id="mysql-01",task="b",worker="w1"} 3"#,
            ]
        );
        assert!(text.contains("# HELP dm_worker_task_state state of task, 0 - invalidStage, 1 - New, 2 - Running, 3 - Paused, 4 - Stopped, 5 - Finished\n"), "{text}");
        // A subtask gone since the last scrape leaves no series behind.
        let text = metrics.render("w1", status(&[("b", Stage::Running)])).await;
        assert_eq!(
            task_states(&text),
            [r#"dm_worker_task_state{source_id="mysql-01",task="b",worker="w1"} 2"#]
        );
        let text = metrics.render("w1", None).await;
        assert!(task_states(&text).is_empty(), "{text}");
        assert!(text.contains("\ndm_worker_cpu_usage 0\n"), "{text}");
    }
}
