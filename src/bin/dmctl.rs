//! `dmctl`: the shard-DDL and member subset of DM's admin CLI.
//!
//! * `shard-ddl-lock [task]` and `shard-ddl-lock unlock <lock-id>` call
//!   `pb.Master` on `--master-addr` and print DM's JSON (4-space indent,
//!   proto field names, defaults emitted);
//! * `operate-source`, `list-member`, `offline-member` (module `members`);
//! * `start-task`, `pause-task`, `resume-task`, `stop-task`, `query-status`
//!   and `get-config subtask` call `pb.Master` as DM's dmctl does (module
//!   `tasks`);
//! * `etcd-start-task` / `etcd-stop-task` write or remove short subtask
//!   configs in etcd directly, without sources or workers (name, shard
//!   mode, sources, routes), for exercising the shard-DDL coordinators
//!   alone. Not DM commands: stopping also removes the task's shard-DDL
//!   metadata, pessimistic included (DM keeps pessimistic metadata on
//!   stop-task, pessimism.md gap 15).

#[path = "dmctl/members.rs"]
mod members;
#[path = "dmctl/tasks.rs"]
mod tasks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dm_master::etcd::{Etcd, EtcdOptions, Op, Txn};
use dm_master::keys::{
    KeySpace, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_INFO, OPTIMISM_OPERATION, OPTIMISM_SOURCE_TABLES,
    PESSIMISM_INFO, PESSIMISM_OPERATION, UPSTREAM_SUBTASK,
};
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::{
    ShowDdlLocksRequest, ShowDdlLocksResponse, TaskOp, UnlockDdlLockOp, UnlockDdlLockRequest,
    UnlockDdlLockResponse,
};
use dm_master::task::{RouteRule, SubTaskConfig};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "dmctl",
    version,
    about = "Admin CLI for dm-master shard-DDL locks"
)]
struct Cli {
    /// Address of any master (followers forward to the leader).
    #[arg(long = "master-addr", global = true, default_value = "127.0.0.1:8261")]
    master_addr: String,
    /// Source IDs (repeatable or comma-separated).
    #[arg(short = 's', long = "source", global = true, value_delimiter = ',')]
    sources: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show shard-DDL locks, or `unlock` one.
    #[command(name = "shard-ddl-lock")]
    ShardDdlLock {
        #[command(subcommand)]
        action: Option<LockAction>,
        /// Only locks of this task.
        task: Option<String>,
    },
    /// Legacy alias of `shard-ddl-lock [task]`.
    #[command(name = "show-ddl-locks", hide = true)]
    ShowDdlLocks { task: Option<String> },
    /// Legacy alias of `shard-ddl-lock unlock`.
    #[command(name = "unlock-ddl-lock", hide = true)]
    UnlockDdlLock(UnlockArgs),
    /// Start a task from DM's task YAML (`-s` limits the sources).
    #[command(name = "start-task")]
    StartTask(tasks::StartTaskArgs),
    /// Pause a task (`-s` limits the sources).
    #[command(name = "pause-task")]
    PauseTask(tasks::OperateTaskArgs),
    /// Resume a task (`-s` limits the sources).
    #[command(name = "resume-task")]
    ResumeTask(tasks::OperateTaskArgs),
    /// Stop a task: its subtasks are removed (`-s` limits the sources).
    #[command(name = "stop-task")]
    StopTask(tasks::OperateTaskArgs),
    /// Status of the tasks on the workers.
    #[command(name = "query-status")]
    QueryStatus(tasks::QueryStatusArgs),
    /// `get-config subtask <task>`: the subtask configs of a task.
    #[command(name = "get-config")]
    GetConfig(tasks::GetConfigArgs),
    /// Not a DM command: write short subtask configs of a task (one per
    /// source) into etcd directly, for the shard-DDL coordinators alone.
    #[command(name = "etcd-start-task")]
    EtcdStartTask {
        #[arg(long = "etcd-endpoints")]
        etcd_endpoints: String,
        /// Task name.
        #[arg(long)]
        name: String,
        /// pessimistic or optimistic.
        #[arg(long = "shard-mode", default_value = "pessimistic")]
        shard_mode: String,
        /// Routes as `schema-pattern,table-pattern,target-schema,target-table`.
        #[arg(long = "route")]
        routes: Vec<String>,
    },
    /// Create, update, stop or show sources.
    #[command(name = "operate-source")]
    OperateSource(members::OperateSourceArgs),
    /// List masters, workers and the leader.
    #[command(name = "list-member")]
    ListMember(members::ListMemberArgs),
    /// Remove an offline worker or a master.
    #[command(name = "offline-member")]
    OfflineMember(members::OfflineMemberArgs),
    /// Not a DM command: remove a task's subtask configs and its shard-DDL
    /// metadata from etcd directly.
    #[command(name = "etcd-stop-task")]
    EtcdStopTask {
        #[arg(long = "etcd-endpoints")]
        etcd_endpoints: String,
        /// Task name.
        name: String,
    },
}

#[derive(Subcommand)]
enum LockAction {
    /// Unlock a lock: make the owner execute and the others skip, then remove it.
    Unlock(UnlockArgs),
}

#[derive(clap::Args)]
struct UnlockArgs {
    /// The lock ID, e.g. 'test-`shard_db`.`shard_table`' (quote it).
    lock_id: String,
    /// Replace the owner (pessimistic).
    #[arg(short = 'o', long)]
    owner: Option<String>,
    /// Remove the lock even if the owner does not execute (pessimistic).
    #[arg(short = 'f', long = "force-remove")]
    force_remove: bool,
    /// exec or skip (optimistic).
    #[arg(short = 'a', long, default_value = "skip")]
    action: String,
    /// Upstream database (optimistic).
    #[arg(short = 'd', long)]
    database: Option<String>,
    /// Upstream table (optimistic).
    #[arg(short = 't', long)]
    table: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::ShardDdlLock {
            action: Some(LockAction::Unlock(args)),
            ..
        }
        | Command::UnlockDdlLock(args) => unlock(&cli.master_addr, &cli.sources, args).await,
        Command::ShardDdlLock { action: None, task } | Command::ShowDdlLocks { task } => {
            show(&cli.master_addr, task.unwrap_or_default(), cli.sources).await
        }
        Command::EtcdStartTask {
            etcd_endpoints,
            name,
            shard_mode,
            routes,
        } => start_task(&etcd_endpoints, &name, &shard_mode, &cli.sources, &routes).await,
        Command::EtcdStopTask {
            etcd_endpoints,
            name,
        } => stop_task(&etcd_endpoints, &name).await,
        Command::StartTask(args) => tasks::start_task(&cli.master_addr, &cli.sources, args).await,
        Command::PauseTask(args) => {
            tasks::operate_task(&cli.master_addr, &cli.sources, TaskOp::Pause, args).await
        }
        Command::ResumeTask(args) => {
            tasks::operate_task(&cli.master_addr, &cli.sources, TaskOp::Resume, args).await
        }
        Command::StopTask(args) => {
            tasks::operate_task(&cli.master_addr, &cli.sources, TaskOp::Delete, args).await
        }
        Command::QueryStatus(args) => {
            tasks::query_status(&cli.master_addr, &cli.sources, args).await
        }
        Command::GetConfig(args) => tasks::get_config(&cli.master_addr, args).await,
        Command::OperateSource(args) => {
            members::operate_source(&cli.master_addr, &cli.sources, args).await
        }
        Command::ListMember(args) => members::list_member(&cli.master_addr, args).await,
        Command::OfflineMember(args) => members::offline_member(&cli.master_addr, args).await,
    }
}

async fn client(addr: &str) -> Result<MasterClient<tonic::transport::Channel>, String> {
    let uri = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    MasterClient::connect(uri)
        .await
        .map_err(|e| format!("can not connect to master {addr}: {e}"))
}

async fn show(addr: &str, task: String, sources: Vec<String>) -> Result<(), String> {
    let what = format!(
        "can not show DDL locks for task {task} and sources [{}]",
        sources.join(" ")
    );
    let resp = client(addr)
        .await
        .map_err(|e| format!("{what}\n{e}"))?
        .show_ddl_locks(ShowDdlLocksRequest { task, sources })
        .await
        .map_err(|e| format!("{what}\n{}", e.message()))?
        .into_inner();
    print_json(&show_json(&resp));
    Ok(())
}

async fn unlock(addr: &str, sources: &[String], args: UnlockArgs) -> Result<(), String> {
    let op = match args.action.as_str() {
        "exec" => UnlockDdlLockOp::ExecLock,
        "skip" => UnlockDdlLockOp::SkipLock,
        _ => return Err("please check --action argument, only exec/skip are acceptable".into()),
    };
    let what = format!("can not unlock DDL lock {}", args.lock_id);
    let resp = client(addr)
        .await
        .map_err(|e| format!("{what}\n{e}"))?
        .unlock_ddl_lock(UnlockDdlLockRequest {
            id: args.lock_id.clone(),
            replace_owner: args.owner.unwrap_or_default(),
            force_remove: args.force_remove,
            op: op as i32,
            sources: sources.to_vec(),
            database: args.database.unwrap_or_default(),
            table: args.table.unwrap_or_default(),
        })
        .await
        .map_err(|e| format!("{what}\n{}", e.message()))?
        .into_inner();
    print_json(&unlock_json(&resp));
    Ok(())
}

fn show_json(resp: &ShowDdlLocksResponse) -> Value {
    let locks: Vec<Value> = resp
        .locks
        .iter()
        .map(|l| {
            json!({
                "ID": l.id,
                "task": l.task,
                "mode": l.mode,
                "owner": l.owner,
                "DDLs": l.dd_ls,
                "synced": l.synced,
                "unsynced": l.unsynced,
            })
        })
        .collect();
    json!({ "result": resp.result, "msg": resp.msg, "locks": locks })
}

fn unlock_json(resp: &UnlockDdlLockResponse) -> Value {
    json!({ "result": resp.result, "msg": resp.msg })
}

/// dmctl's output: 4-space indented JSON and a newline.
fn print_json(value: &Value) {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    if value.serialize(&mut ser).is_ok() {
        println!("{}", String::from_utf8_lossy(&out));
    }
}

async fn connect_etcd(endpoints: &str) -> Result<Etcd, String> {
    let endpoints: Vec<String> = endpoints.split(',').map(str::to_owned).collect();
    Etcd::connect(&endpoints, EtcdOptions::default())
        .await
        .map_err(|e| e.to_string())
}

async fn start_task(
    endpoints: &str,
    name: &str,
    shard_mode: &str,
    sources: &[String],
    routes: &[String],
) -> Result<(), String> {
    if sources.is_empty() {
        return Err("start-task needs at least one --source".into());
    }
    let route_rules = routes
        .iter()
        .map(|r| match r.split(',').collect::<Vec<_>>()[..] {
            [schema, table, target_schema, target_table] => Ok(RouteRule {
                schema_pattern: schema.into(),
                table_pattern: table.into(),
                target_schema: target_schema.into(),
                target_table: target_table.into(),
            }),
            _ => Err(format!(
                "--route {r:?} must be schema-pattern,table-pattern,target-schema,target-table"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let space = KeySpace::default();
    let mut puts = Vec::new();
    for source in sources {
        let cfg = SubTaskConfig {
            name: name.into(),
            source_id: source.clone(),
            is_sharding: true,
            shard_mode: shard_mode.into(),
            route_rules: route_rules.clone(),
        };
        SubTaskConfig::parse(&cfg.to_toml())?;
        puts.push(Op::put(
            space.key(&UPSTREAM_SUBTASK, [source, name]),
            cfg.to_toml(),
        ));
    }
    let etcd = connect_etcd(endpoints).await?;
    etcd.txn(Txn::new("start task").then(puts))
        .await
        .map_err(|e| e.to_string())?;
    print_json(&json!({ "result": true, "msg": "", "sources": sources }));
    Ok(())
}

async fn stop_task(endpoints: &str, name: &str) -> Result<(), String> {
    let space = KeySpace::default();
    let etcd = connect_etcd(endpoints).await?;
    let subtasks = etcd
        .get_prefix(&space.path(&UPSTREAM_SUBTASK))
        .await
        .map_err(|e| e.to_string())?;
    let mut ops = Vec::new();
    let mut sources = Vec::new();
    for kv in &subtasks.value {
        if let Ok([source, task]) = space.decode(&UPSTREAM_SUBTASK, &kv.key) {
            if task == name {
                ops.push(Op::delete(kv.key.clone()));
                sources.push(source);
            }
        }
    }
    if ops.is_empty() {
        return Err(format!("task {name} has no subtask config"));
    }
    for prefix in [
        space.prefix(&PESSIMISM_INFO, &[name]),
        space.prefix(&PESSIMISM_OPERATION, &[name]),
        space.prefix(&OPTIMISM_INFO, &[name]),
        space.prefix(&OPTIMISM_OPERATION, &[name]),
        space.prefix(&OPTIMISM_SOURCE_TABLES, &[name]),
    ] {
        ops.push(Op::delete_prefix(prefix));
    }
    // Dropped-column keys start with the lock ID, which starts with
    // `<task>-`; hex is byte-wise, so the hex of that text is a key prefix.
    let lock_prefix = format!(
        "{}{}",
        space.path(&OPTIMISM_DROPPED_COLUMNS),
        hex_of(&format!("{name}-`"))
    );
    ops.push(Op::delete_prefix(lock_prefix));
    etcd.txn(Txn::new("stop task").then(ops))
        .await
        .map_err(|e| e.to_string())?;
    print_json(&json!({ "result": true, "msg": "", "sources": sources }));
    Ok(())
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}
