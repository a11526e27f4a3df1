//! dmctl's task commands over `pb.Master`, as DM's dmctl: `start-task`,
//! `pause-task`, `resume-task`, `stop-task`, `query-status` and
//! `get-config subtask`. Each prints the response as DM's dmctl does
//! (jsonpb with proto field names and defaults emitted, enums by name,
//! int64 as strings, four-space indent).

use dm_master::proto::{
    sub_task_status, CommonWorkerResponse, GetSubTaskCfgRequest, OperateTaskRequest, ProcessResult,
    QueryStatusListRequest, QueryStatusResponse, Stage, StartTaskRequest, SubTaskStatus,
    SyncStatus, TaskOp, UnitType,
};
use dm_master::server::gateway::to_json_text;
use dm_master::task_config::TaskConfig;
use serde_json::{json, Value};

use dm_master::proto::master_client::MasterClient;
use tonic::transport::Channel;

/// `start-task <task-file> [--remove-meta]`.
#[derive(clap::Args)]
pub struct StartTaskArgs {
    /// The task's YAML file.
    file: String,
    /// Remove the task's shard-DDL metadata before starting.
    #[arg(long = "remove-meta")]
    remove_meta: bool,
}

/// `pause-task|resume-task|stop-task <task-name|task-file>`.
#[derive(clap::Args)]
pub struct OperateTaskArgs {
    /// A task name, or a `.yaml`/`.yml` file whose `name` is used.
    task: String,
}

/// `query-status [task-name|task-file]`.
#[derive(clap::Args)]
pub struct QueryStatusArgs {
    task: Option<String>,
}

/// `get-config subtask <task-name>`.
#[derive(clap::Args)]
pub struct GetConfigArgs {
    /// Only `subtask` is served.
    kind: String,
    name: String,
}

fn print(value: &Value) {
    println!("{}", to_json_text(value, "    "));
}

fn worker_json(c: &CommonWorkerResponse) -> Value {
    json!({ "result": c.result, "msg": c.msg, "source": c.source, "worker": c.worker })
}

pub async fn start_task(
    mut client: MasterClient<Channel>,
    sources: &[String],
    args: &StartTaskArgs,
) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("error in get file content: {e}"))?;
    // dmctl's own check before sending the file.
    if let Ok(raw) = TaskConfig::raw_decode(&text) {
        if let Some(conflict) = raw.dmctl_sharding_conflict(&text) {
            return Err(conflict.to_owned());
        }
    }
    let resp = client
        .start_task(StartTaskRequest {
            task: text,
            sources: sources.to_vec(),
            remove_meta: args.remove_meta,
            start_time: String::new(),
        })
        .await
        .map_err(|e| e.message().to_owned())?
        .into_inner();
    print(&json!({
        "result": resp.result,
        "msg": resp.msg,
        "sources": resp.sources.iter().map(worker_json).collect::<Vec<_>>(),
        "checkResult": resp.check_result,
    }));
    Ok(())
}

/// A `.yaml`/`.yml` argument stands for the `name` in that file.
fn task_name(arg: &str) -> Result<String, String> {
    if arg.ends_with(".yaml") || arg.ends_with(".yml") {
        let text =
            std::fs::read_to_string(arg).map_err(|e| format!("error in get file content: {e}"))?;
        let cfg = TaskConfig::raw_decode(&text).map_err(|e| e.dm_string("config"))?;
        return Ok(cfg.name);
    }
    Ok(arg.to_owned())
}

pub async fn operate_task(
    mut client: MasterClient<Channel>,
    sources: &[String],
    op: TaskOp,
    args: &OperateTaskArgs,
) -> Result<(), String> {
    let name = task_name(&args.task)?;
    let resp = client
        .operate_task(OperateTaskRequest {
            op: op as i32,
            name,
            sources: sources.to_vec(),
        })
        .await
        .map_err(|e| e.message().to_owned())?
        .into_inner();
    let op_name = TaskOp::try_from(resp.op)
        .map(|o| o.as_str_name())
        .unwrap_or("InvalidOp");
    print(&json!({
        "op": op_name,
        "result": resp.result,
        "msg": resp.msg,
        "sources": resp.sources.iter().map(worker_json).collect::<Vec<_>>(),
    }));
    Ok(())
}

pub async fn query_status(
    mut client: MasterClient<Channel>,
    sources: &[String],
    args: &QueryStatusArgs,
    deadline: std::time::Duration,
) -> Result<(), String> {
    let name = match &args.task {
        Some(task) => task_name(task)?,
        None => String::new(),
    };
    let call = client.query_status(QueryStatusListRequest {
        name,
        sources: sources.to_vec(),
    });
    let resp = within(deadline, call).await?.into_inner();
    print(&json!({
        "result": resp.result,
        "msg": resp.msg,
        "sources": resp.sources.iter().map(status_json).collect::<Vec<_>>(),
    }));
    Ok(())
}

pub async fn get_config(
    mut client: MasterClient<Channel>,
    args: &GetConfigArgs,
    deadline: std::time::Duration,
) -> Result<(), String> {
    if args.kind != "subtask" {
        return Err(format!(
            "get-config {} is not supported; use get-config subtask <task-name>",
            args.kind
        ));
    }
    let call = client.get_sub_task_cfg(GetSubTaskCfgRequest {
        name: args.name.clone(),
    });
    let resp = within(deadline, call).await?.into_inner();
    print(&json!({ "result": resp.result, "msg": resp.msg, "cfgs": resp.cfgs }));
    Ok(())
}

/// One call under dmctl's `--rpc-timeout`, failing as Go's context does.
async fn within<T>(
    deadline: std::time::Duration,
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, String> {
    match tokio::time::timeout(deadline, call).await {
        Ok(answer) => answer.map_err(|e| e.message().to_owned()),
        Err(_) => Err("rpc error: code = DeadlineExceeded desc = context deadline exceeded".into()),
    }
}

fn process_result_json(r: &Option<ProcessResult>) -> Value {
    match r {
        None => Value::Null,
        Some(r) => json!({
            "isCanceled": r.is_canceled,
            "errors": r.errors.iter().map(|e| json!({
                "ErrCode": e.err_code,
                "ErrClass": e.err_class,
                "ErrScope": e.err_scope,
                "ErrLevel": e.err_level,
                "Message": e.message,
                "RawCause": e.raw_cause,
                "Workaround": e.workaround,
            })).collect::<Vec<_>>(),
            "detail": if r.detail.is_empty() { Value::Null } else {
                Value::String(base64_of(&r.detail))
            },
        }),
    }
}

fn status_json(entry: &QueryStatusResponse) -> Value {
    let source_status = match &entry.source_status {
        None => Value::Null,
        Some(s) => json!({
            "source": s.source,
            "worker": s.worker,
            "result": process_result_json(&s.result),
            "relayStatus": Value::Null,
        }),
    };
    json!({
        "result": entry.result,
        "msg": entry.msg,
        "sourceStatus": source_status,
        "subTaskStatus": entry.sub_task_status.iter().map(subtask_json).collect::<Vec<_>>(),
    })
}

fn subtask_json(s: &SubTaskStatus) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("name".into(), json!(s.name));
    out.insert(
        "stage".into(),
        json!(Stage::try_from(s.stage)
            .map(|v| v.as_str_name())
            .unwrap_or("InvalidStage")),
    );
    out.insert(
        "unit".into(),
        json!(UnitType::try_from(s.unit)
            .map(|v| v.as_str_name())
            .unwrap_or("InvalidUnit")),
    );
    out.insert("result".into(), process_result_json(&s.result));
    out.insert(
        "unresolvedDDLLockID".into(),
        json!(s.unresolved_ddl_lock_id),
    );
    match &s.status {
        Some(sub_task_status::Status::Msg(m)) => {
            out.insert("msg".into(), json!(m));
        }
        Some(sub_task_status::Status::Sync(sync)) => {
            out.insert("sync".into(), sync_json(sync));
        }
        // Dump, load and check progress come from units this project's
        // workers do not run.
        _ => {}
    }
    out.insert("validation".into(), Value::Null);
    Value::Object(out)
}

fn sync_json(s: &SyncStatus) -> Value {
    json!({
        "totalEvents": s.total_events.to_string(),
        "totalTps": s.total_tps.to_string(),
        "recentTps": s.recent_tps.to_string(),
        "masterBinlog": s.master_binlog,
        "masterBinlogGtid": s.master_binlog_gtid,
        "syncerBinlog": s.syncer_binlog,
        "syncerBinlogGtid": s.syncer_binlog_gtid,
        "blockingDDLs": s.blocking_dd_ls,
        "unresolvedGroups": s.unresolved_groups.iter().map(|g| json!({
            "target": g.target,
            "DDLs": g.dd_ls,
            "firstLocation": g.first_location,
            "synced": g.synced,
            "unsynced": g.unsynced,
        })).collect::<Vec<_>>(),
        "synced": s.synced,
        "binlogType": s.binlog_type,
        "secondsBehindMaster": s.seconds_behind_master.to_string(),
        "blockDDLOwner": s.block_ddl_owner,
        "conflictMsg": s.conflict_msg,
        "totalRows": s.total_rows.to_string(),
        "totalRps": s.total_rps.to_string(),
        "recentRps": s.recent_rps.to_string(),
        "ioTotalBytes": s.io_total_bytes.to_string(),
        "dumpIOTotalBytes": s.dump_io_total_bytes.to_string(),
    })
}

/// jsonpb writes `bytes` as standard base64.
fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
