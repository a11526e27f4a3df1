//! The joined worker's [`SubtaskRunner`]: plays each subtask's upstream
//! statements from the scenario file the worker's config names for its
//! task, through the shard-DDL clients, on the subtask's `to` database.
//!
//! There is no binlog reader: the scenario file stands in for the binlog.
//! Everything else comes from the subtask config the master wrote (task,
//! source, shard mode, strict mode, routes, downstream).
//!
//! **Stages** (DM's `dm/worker/subtask.go`):
//! * `Running` starts the run, or resumes a paused one; a run that failed
//!   starts again from its first statement (the replay is safe: see
//!   [`crate::scenario`]), as DM's resume restarts a failed unit;
//! * `Paused` holds the run before its next statement, Info or downstream
//!   DDL ([`Control`]); waiting for the master's answer goes on;
//! * any other stage, or the subtask's removal, cancels the run;
//! * a run that fails reports `Paused` with DM's error; when the error is
//!   resumable ([`Error::is_resumable`]: etcd or the downstream
//!   unreachable, e.g. during a master failover) it starts again after a
//!   backoff, as DM's task checker auto-resumes; otherwise it waits for
//!   `resume-task`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dm_master::etcd::retry::Backoff;
use dm_master::etcd::Etcd;
use dm_master::keys::KeySpace;
use dm_master::task_config::{DbConfig, SubTaskConfig};
use sqlx::mysql::MySqlConnectOptions;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::WorkerConfig;
use crate::error::Error;
use crate::executor::{Executor, ExecutorOptions};
use crate::ha::Stage;
use crate::scenario::{self, Control, Scenario, TaskScenario, Waiting};
use crate::subtasks::{RunError, RunStatus, Subtask, SubtaskRunner};

/// DM's task checker backoff for resumable errors (shortened: a master
/// failover takes seconds).
const AUTO_RESUME_MIN: Duration = Duration::from_secs(1);
const AUTO_RESUME_MAX: Duration = Duration::from_secs(30);

/// One subtask being played.
struct Run {
    /// The config it was started with: a changed config starts it again.
    config_toml: String,
    expected: Stage,
    /// `true` holds the run (pause).
    paused: watch::Sender<bool>,
    cancel: CancellationToken,
    waiting: Arc<Mutex<Waiting>>,
    /// Set when the run failed.
    failure: Arc<Mutex<Option<RunError>>>,
    /// No scenario for the task: nothing is played.
    idle: bool,
}

impl Run {
    fn failure(&self) -> Option<RunError> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }
}

/// Plays subtasks from scenario files (see the module docs).
pub struct ScenarioRunner {
    config: Arc<WorkerConfig>,
    etcd: Etcd,
    space: KeySpace,
    runs: BTreeMap<String, Run>,
}

impl ScenarioRunner {
    pub fn new(config: Arc<WorkerConfig>, etcd: Etcd, space: KeySpace) -> ScenarioRunner {
        ScenarioRunner {
            config,
            etcd,
            space,
            runs: BTreeMap::new(),
        }
    }

    fn stop(&mut self, task: &str) {
        if let Some(run) = self.runs.remove(task) {
            run.cancel.cancel();
        }
    }

    /// The scenario of `subtask`, or why there is none to play.
    fn scenario(&self, subtask: &Subtask) -> Result<Option<Scenario>, Error> {
        let Some(path) = self.config.scenario_path(&subtask.task) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Scenario(format!("reading {} failed: {e}", path.display())))?;
        let file = TaskScenario::parse(&text)
            .map_err(|e| Error::Scenario(format!("{}: {e}", path.display())))?;
        Scenario::for_subtask(&file, &subtask.config).map(Some)
    }

    fn start(&mut self, subtask: &Subtask) {
        let (paused_tx, paused_rx) = watch::channel(subtask.expected == Stage::Paused);
        let mut run = Run {
            config_toml: subtask.config_toml.clone(),
            expected: subtask.expected,
            paused: paused_tx,
            cancel: CancellationToken::new(),
            waiting: Arc::default(),
            failure: Arc::default(),
            idle: false,
        };
        let worker = self.config.name.clone();
        let (task, source) = (subtask.task.clone(), subtask.source.clone());
        let playable = self.scenario(subtask).and_then(|scenario| match scenario {
            Some(s) => Ok(Some((s, connect_options(&subtask.config)?))),
            None => Ok(None),
        });
        match playable {
            Ok(Some((scenario, downstream))) => {
                let control = Control::new(run.cancel.clone(), paused_rx, run.waiting.clone());
                let executor = Executor::new(downstream, ExecutorOptions::default());
                tokio::spawn(play(
                    scenario,
                    self.etcd.clone(),
                    self.space.clone(),
                    executor,
                    control,
                    run.failure.clone(),
                    worker,
                ));
            }
            Ok(None) => {
                warn!(worker = %worker, task = %task, source = %source, "no scenario file for the task in the worker config: the subtask has no upstream statements to replay");
                run.idle = true;
            }
            Err(e) => {
                error!(worker = %worker, task = %task, source = %source, error = %e, "the subtask's scenario cannot be played");
                if let Ok(mut failure) = run.failure.lock() {
                    *failure = Some(RunError::of(&e));
                }
            }
        }
        self.runs.insert(subtask.task.clone(), run);
    }
}

/// The downstream of a subtask: its `to` database. A port outside 0..65535
/// is refused rather than replaced.
fn connect_options(config: &SubTaskConfig) -> Result<MySqlConnectOptions, Error> {
    let DbConfig {
        host,
        port,
        user,
        password,
        ..
    } = &config.to;
    let port = u16::try_from(*port).map_err(|_| Error::Downstream {
        during: "reading the subtask's target database".to_owned(),
        reason: format!("port {port} is not a TCP port"),
    })?;
    let options = MySqlConnectOptions::new()
        .host(host)
        .port(port)
        .username(user);
    // A DM ciphertext cannot be read without DM's secret key: the password
    // is used as stored.
    Ok(if password.is_empty() {
        options
    } else {
        options.password(password)
    })
}

/// Plays one subtask to its end, recording a failure.
async fn play(
    scenario: Scenario,
    etcd: Etcd,
    space: KeySpace,
    mut executor: Executor,
    control: Control,
    failure: Arc<Mutex<Option<RunError>>>,
    worker: String,
) {
    let (task, source) = (scenario.task.clone(), scenario.source.clone());
    info!(worker = %worker, task = %task, source = %source, mode = ?scenario.mode, steps = scenario.steps.len(), "subtask started");
    let mut progress = {
        let (worker, task) = (worker.clone(), task.clone());
        move |line: String| info!(worker = %worker, task = %task, "{line}")
    };
    let mut backoff = Backoff::new(AUTO_RESUME_MIN, AUTO_RESUME_MAX);
    loop {
        let played = scenario::run_controlled(
            &scenario,
            &etcd,
            &space,
            &mut executor,
            &control,
            &mut progress,
        )
        .await;
        match played {
            Ok(report) => {
                info!(worker = %worker, task = %task, source = %source, executed = report.executed.len(), skipped_locks = report.skipped_locks.len(), "subtask replayed every upstream statement");
                break;
            }
            Err(_) if control.is_cancelled() => {
                info!(worker = %worker, task = %task, source = %source, "subtask stopped");
                break;
            }
            Err(e) => {
                error!(worker = %worker, task = %task, source = %source, code = e.code(), error = %e, resumable = e.is_resumable(), "subtask failed, paused");
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some(RunError::of(&e));
                }
                if !e.is_resumable() {
                    break;
                }
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = control.cancelled() => break,
        }
        info!(worker = %worker, task = %task, source = %source, after = ?delay, "auto-resuming the subtask from its first upstream statement");
        if let Ok(mut slot) = failure.lock() {
            *slot = None;
        }
    }
    executor.close().await;
}

impl SubtaskRunner for ScenarioRunner {
    fn apply(&mut self, subtask: &Subtask) {
        match subtask.expected {
            Stage::Running | Stage::Paused => {
                let restart = match self.runs.get(&subtask.task) {
                    None => true,
                    Some(run) if run.config_toml != subtask.config_toml => true,
                    // Resuming a failed run starts it again.
                    Some(run) => subtask.expected == Stage::Running && run.failure().is_some(),
                };
                if restart {
                    self.stop(&subtask.task);
                    self.start(subtask);
                } else if let Some(run) = self.runs.get_mut(&subtask.task) {
                    run.expected = subtask.expected;
                    run.paused.send_replace(subtask.expected == Stage::Paused);
                }
            }
            _ => self.stop(&subtask.task),
        }
    }

    fn remove(&mut self, task: &str) {
        self.stop(task);
    }

    fn status(&self, task: &str) -> Option<RunStatus> {
        let run = self.runs.get(task)?;
        let waiting = run.waiting.lock().map(|w| w.clone()).unwrap_or_default();
        let error = run.failure();
        Some(RunStatus {
            stage: if error.is_some() {
                Stage::Paused
            } else {
                run.expected
            },
            unresolved_ddl_lock_id: waiting.lock_id,
            blocking_ddls: waiting.ddls,
            conflict_message: waiting.conflict,
            synced: waiting.caught_up || run.idle,
            error,
        })
    }
}

impl Drop for ScenarioRunner {
    fn drop(&mut self) {
        for run in self.runs.values() {
            run.cancel.cancel();
        }
    }
}
