//! gRPC handlers of the task half of `pb.Master`: `StartTask`,
//! `OperateTask`, `QueryStatus`, `GetSubTaskCfg` and `CheckTask` (DM
//! `dm/master/server.go`). `admin.rs` dispatches here; a follower forwards
//! the request to the leader one hop, as DM does.
//!
//! Invariants:
//! - Nothing is written before the task YAML, its sources and the source
//!   subset are validated; the subtask configs and their `Running` stages are
//!   written by the scheduler actor in one fenced txn.
//! - Failures are reported inside the response (`result=false`, `msg` =
//!   DM's error string), never as a gRPC error, except "not leader and no
//!   leader".
//! - A worker that does not answer `QueryStatus` is reported in its own
//!   entry; it never fails the whole call.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tonic::{Request, Response, Status};

use super::forward::{lead_or_forward, Forwarder};
use super::{Coordinators, Role};
use crate::coordinator::scheduler::{NewSubTask, SchedulerHandle, TaskStageOp};
use crate::error::Error;
use crate::ha::StageKind;
use crate::proto::{
    sub_task_status, worker_client::WorkerClient, CheckTaskRequest, CheckTaskResponse,
    CommonWorkerResponse, GetSubTaskCfgRequest, GetSubTaskCfgResponse, OperateTaskRequest,
    OperateTaskResponse, QueryStatusListRequest, QueryStatusListResponse, QueryStatusRequest,
    QueryStatusResponse, ShardingGroup, SourceStatus, StartTaskRequest, StartTaskResponse,
    SubTaskStatus, TaskOp,
};
use crate::scheduler::error::dm_error_string;
use crate::task_config::{ConfigError, DbConfig, IoCounters, TaskConfig};
use crate::tls::TlsFiles;

mod status;
mod wait;

#[cfg(test)]
use status::add_missing_subtasks;
pub use status::query_status;
pub(crate) use status::worker_query_status;
use wait::{wait_sources, Expect};

/// DM's `waitOperationOk`: attempts and the pause between them.
const WAIT_ATTEMPTS: usize = 10;
const WAIT_INTERVAL: Duration = Duration::from_secs(1);
/// DM-master's default `rpc-timeout` for calls to workers.
const WORKER_RPC_TIMEOUT: Duration = Duration::from_secs(30);

const DEPRECATED_REMOVE_META: &str =
    "`remove-meta` in task config is deprecated, please use `start-task ... --remove-meta` instead";
const SOURCE_NOT_IN_TASK: &str = "source not found in task's config";
const PESSIMISTIC_HINT: &str = "this DM-worker doesn't receive any shard DDL of this group";

/// Task YAML errors carry DM's class `dm-master` (DM's `generateSubTask`
/// re-classes them).
fn config_error(error: &ConfigError) -> String {
    error.dm_string("dm-master")
}

/// `StartTask`.
#[tracing::instrument(skip_all)]
pub async fn start_task(
    role: Role,
    forwarder: &Forwarder,
    request: Request<StartTaskRequest>,
) -> Result<Response<StartTaskResponse>, Status> {
    let coordinators = lead_or_forward!(role, forwarder, request, start_task);
    let req = request.into_inner();
    let response = start_task_here(&coordinators, forwarder.tls(), req).await;
    if !response.result {
        tracing::warn!(msg = %response.msg, "start-task refused");
    }
    Ok(Response::new(response))
}

fn start_refused(msg: String) -> StartTaskResponse {
    StartTaskResponse {
        result: false,
        msg,
        sources: Vec::new(),
        check_result: String::new(),
    }
}

async fn start_task_here(
    coordinators: &Coordinators,
    tls: Option<&TlsFiles>,
    req: StartTaskRequest,
) -> StartTaskResponse {
    if !req.start_time.is_empty() {
        return start_refused(
            Error::NotSupported {
                rpc: "StartTask with start-time",
            }
            .dm_string(),
        );
    }
    let task = match TaskConfig::from_yaml(&req.task) {
        Ok(task) => task,
        Err(e) => return start_refused(config_error(&e)),
    };
    let scheduler = &coordinators.scheduler;
    let source_tomls = match scheduler.source_configs().await {
        Ok(s) => s,
        Err(e) => return start_refused(e.dm_string()),
    };
    let froms: BTreeMap<String, DbConfig> = source_tomls
        .iter()
        .filter_map(|(id, toml)| match source_from(toml) {
            Ok(from) => Some((id.clone(), from)),
            Err(error) => {
                tracing::warn!(source = %id, %error, "stored source config unreadable");
                None
            }
        })
        .collect();
    let mut subtasks = match task.subtask_configs(&froms) {
        Ok(s) => s,
        Err(e) => return start_refused(config_error(&e)),
    };
    if !req.sources.is_empty() {
        let in_task: BTreeSet<&str> = subtasks.iter().map(|s| s.source_id.as_str()).collect();
        let unknown: Vec<CommonWorkerResponse> = req
            .sources
            .iter()
            .filter(|s| !in_task.contains(s.as_str()))
            .map(|source| CommonWorkerResponse {
                result: false,
                msg: SOURCE_NOT_IN_TASK.to_owned(),
                source: source.clone(),
                worker: String::new(),
            })
            .collect();
        if !unknown.is_empty() {
            return StartTaskResponse {
                sources: unknown,
                ..start_refused(String::new())
            };
        }
        subtasks.retain(|s| req.sources.contains(&s.source_id));
    }
    if req.remove_meta {
        if let Err(msg) = remove_meta(coordinators, &task.name).await {
            return start_refused(msg);
        }
    }
    for subtask in &mut subtasks {
        // DM's `InitIOCounters`: fresh IDs for the subtask's IO meters.
        subtask.set_io_counters(IoCounters {
            uuid: uuid_v4(),
            dump_uuid: uuid_v4(),
        });
    }
    let new: Vec<NewSubTask> = subtasks
        .iter()
        .map(|s| NewSubTask {
            source: s.source_id.clone(),
            toml: s.to_toml().into_bytes(),
        })
        .collect();
    let started = match scheduler.start_task(&task.name, new).await {
        Ok(started) => started,
        Err(e) => return start_refused(e.dm_string()),
    };
    tracing::info!(task = %task.name, sources = ?started, "task started");
    let msg = if task.remove_meta {
        DEPRECATED_REMOVE_META.to_owned()
    } else {
        String::new()
    };
    StartTaskResponse {
        result: true,
        msg,
        sources: wait_sources(
            scheduler,
            tls,
            &task.name,
            &started,
            Expect::Stage(StageKind::Running),
        )
        .await,
        check_result: String::new(),
    }
}

/// The `from` of a stored source config TOML.
fn source_from(toml_text: &[u8]) -> Result<DbConfig, String> {
    let text = std::str::from_utf8(toml_text).map_err(|e| e.to_string())?;
    let value: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
    let from = value
        .get("from")
        .cloned()
        .unwrap_or(toml::Value::Table(Default::default()));
    from.try_into().map_err(|e| e.to_string())
}

/// `--remove-meta`: refused while any subtask of the task exists; else the
/// task's shard-DDL metadata of both modes is removed. (DM also drops the
/// task's checkpoint tables on the downstream; this master does not connect
/// to the downstream.)
async fn remove_meta(coordinators: &Coordinators, task: &str) -> Result<(), String> {
    let existing = coordinators
        .scheduler
        .subtask_configs(task)
        .await
        .map_err(|e| e.dm_string())?;
    if !existing.is_empty() {
        let sources: Vec<String> = existing.into_keys().collect();
        return Err(dm_error_string(
            46014,
            "scheduler",
            "medium",
            &format!(
                "while remove-meta is true: subtasks with name {task} for sources {} already exist",
                crate::gojson::go_slice(&sources)
            ),
            None,
            "Please use `query-status` command to see tasks.",
        ));
    }
    coordinators
        .pessimist
        .remove_metadata(task)
        .await
        .map_err(|e| e.dm_string())?;
    coordinators
        .optimist
        .remove_metadata(task)
        .await
        .map_err(|e| e.dm_string())?;
    tracing::info!(%task, "shard DDL metadata of the task removed");
    Ok(())
}

/// `OperateTask`: pause, resume, stop (Delete).
#[tracing::instrument(skip_all, fields(task = %request.get_ref().name))]
pub async fn operate_task(
    role: Role,
    forwarder: &Forwarder,
    request: Request<OperateTaskRequest>,
) -> Result<Response<OperateTaskResponse>, Status> {
    let coordinators = lead_or_forward!(role, forwarder, request, operate_task);
    let req = request.into_inner();
    let refused = |msg: String| {
        tracing::warn!(%msg, "operate-task refused");
        Ok(Response::new(OperateTaskResponse {
            op: req.op,
            result: false,
            msg,
            sources: Vec::new(),
        }))
    };
    let (op, expect) = match TaskOp::try_from(req.op) {
        Ok(TaskOp::Pause) => (TaskStageOp::Pause, Expect::Stage(StageKind::Paused)),
        Ok(TaskOp::Resume) => (TaskStageOp::Resume, Expect::Stage(StageKind::Running)),
        Ok(TaskOp::Delete) => (TaskStageOp::Delete, Expect::Removed),
        other => {
            let name = other.map(|o| o.as_str_name()).unwrap_or("InvalidOp");
            return refused(
                crate::scheduler::SchedulerError::InvalidOperateOp {
                    op: name.to_owned(),
                    what: "task".to_owned(),
                }
                .dm_string(),
            );
        }
    };
    let scheduler = &coordinators.scheduler;
    let sources = match scheduler
        .operate_task(&req.name, req.sources.clone(), op)
        .await
    {
        Ok(Some(sources)) => sources,
        Ok(None) => {
            return refused(format!(
                "task {} has no source or not exist, please check the task name and status",
                req.name
            ))
        }
        Err(e) => return refused(e.dm_string()),
    };
    let mut msg = String::new();
    if op == TaskStageOp::Delete {
        // DM's stop-task removes the optimistic metadata of the stopped
        // sources (the whole task's once no subtask is left); pessimistic
        // locks follow the coordinators' rule for sources leaving a task.
        let removed = match scheduler.subtask_configs(&req.name).await {
            Ok(left) if left.is_empty() => coordinators.optimist.remove_metadata(&req.name).await,
            Ok(_) => {
                coordinators
                    .optimist
                    .remove_sources_metadata(&req.name, sources.clone())
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            tracing::warn!(error = %e, "removing optimistic metadata failed");
            msg = e.dm_string();
        }
    }
    tracing::info!(sources = ?sources, ?op, "task operated");
    Ok(Response::new(OperateTaskResponse {
        op: req.op,
        result: true,
        msg,
        sources: wait_sources(scheduler, forwarder.tls(), &req.name, &sources, expect).await,
    }))
}

/// `GetSubTaskCfg`: the TOML of each subtask of the task, by source.
pub async fn get_sub_task_cfg(
    role: Role,
    forwarder: &Forwarder,
    request: Request<GetSubTaskCfgRequest>,
) -> Result<Response<GetSubTaskCfgResponse>, Status> {
    let coordinators = lead_or_forward!(role, forwarder, request, get_sub_task_cfg);
    let req = request.into_inner();
    let response = match coordinators.scheduler.subtask_configs(&req.name).await {
        Ok(configs) if configs.is_empty() => GetSubTaskCfgResponse {
            result: false,
            msg: "task not found".to_owned(),
            cfgs: Vec::new(),
        },
        Ok(configs) => GetSubTaskCfgResponse {
            result: true,
            msg: String::new(),
            cfgs: configs
                .into_values()
                .map(|toml| String::from_utf8_lossy(&toml).into_owned())
                .collect(),
        },
        Err(e) => GetSubTaskCfgResponse {
            result: false,
            msg: e.dm_string(),
            cfgs: Vec::new(),
        },
    };
    Ok(Response::new(response))
}

/// The text `CheckTask` answers: DM's pre-check connects to every upstream
/// and the downstream, which this master does not do. DM's closest error is
/// ErrTaskCheckSyncConfigError (26005, the checker's failure), re-classed
/// `dm-master` as DM's handler does.
pub fn check_task_unavailable() -> String {
    dm_error_string(
        26005,
        "dm-master",
        "medium",
        "fail to check synchronization configuration with type: pre-check needs connections to the upstream and downstream databases, which this dm-master does not make\n detail: use start-task; its task YAML and sources are still validated",
        None,
        "",
    )
}

/// `CheckTask`: the YAML is validated as StartTask does; the pre-check
/// itself answers [`check_task_unavailable`].
pub async fn check_task(
    role: Role,
    forwarder: &Forwarder,
    request: Request<CheckTaskRequest>,
) -> Result<Response<CheckTaskResponse>, Status> {
    lead_or_forward!(role, forwarder, request, check_task);
    let req = request.into_inner();
    let msg = match TaskConfig::from_yaml(&req.task) {
        Err(e) => config_error(&e),
        Ok(_) => check_task_unavailable(),
    };
    Ok(Response::new(CheckTaskResponse { result: false, msg }))
}

/// A random (version 4) UUID in Go's `uuid.NewString` form; an all-zero
/// one if the system has no randomness to give.
fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        tracing::warn!("no system randomness: IO counter UUID left zero");
        bytes = [0; 16];
    } else {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod uuid_tests {
    #[test]
    fn uuids_are_random_version_4_in_go_form() {
        let a = super::uuid_v4();
        let b = super::uuid_v4();
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(&a[14..15], "4", "version nibble: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant: {a}");
    }
}
