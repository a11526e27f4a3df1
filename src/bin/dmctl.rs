//! `dmctl`: the shard-DDL subset of DM's admin CLI.
//!
//! * `shard-ddl-lock [task]` and `shard-ddl-lock unlock <lock-id>` call
//!   `pb.Master` on `--master-addr` and print DM's JSON (4-space indent,
//!   proto field names, defaults emitted); `unlock --dry-run` and
//!   `shard-ddl-lock inject` are ours (module `locks`, our `operator`
//!   service), and show adds `injected` to a lock that has injected
//!   sources;
//! * `operate-source`, `list-member`, `offline-member` (module `members`);
//! * `start-task`, `pause-task`, `resume-task`, `stop-task`, `query-status`
//!   and `get-config subtask` call `pb.Master` as DM's dmctl does (module
//!   `tasks`);
//! * `etcd-start-task` / `etcd-stop-task` write or remove short subtask
//!   configs in etcd directly, without sources or workers (name, shard
//!   mode, sources, routes), for exercising the shard-DDL coordinators
//!   alone. Not DM commands: stopping also removes the task's shard-DDL
//!   metadata, pessimistic included (DM keeps pessimistic metadata on
//!   stop-task, DM gap P15 in docs/dm-gaps.md).

#[path = "dmctl/locks.rs"]
mod locks;
#[path = "dmctl/members.rs"]
mod members;
#[path = "dmctl/tasks.rs"]
mod tasks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::time::Duration;

use dm_master::config::{parse_go_duration, split_host_port, unwrap_scheme};
use dm_master::etcd::{Etcd, EtcdOptions, Op, Txn};
use dm_master::keys::{
    KeySpace, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_INFO, OPTIMISM_OPERATION, OPTIMISM_SOURCE_TABLES,
    PESSIMISM_INFO, PESSIMISM_OPERATION, UPSTREAM_SUBTASK,
};
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::{
    ListMemberRequest, ShowDdlLocksRequest, ShowDdlLocksResponse, TaskOp, UnlockDdlLockOp,
    UnlockDdlLockRequest, UnlockDdlLockResponse,
};
use dm_master::task::{RouteRule, SubTaskConfig};
use dm_master::tls::TlsFiles;
use serde_json::{json, Value};
use tonic::transport::Channel;

#[derive(Parser)]
#[command(
    name = "dmctl",
    about = "Admin CLI for dm-master (DM's global flags; shard-DDL lock commands)",
    disable_version_flag = true
)]
struct Cli {
    /// Print the version text on stderr and exit.
    #[arg(short = 'V', long = "version", global = true)]
    version: bool,
    /// Comma-separated master addresses (any master: followers forward to
    /// the leader); default `$DM_MASTER_ADDR`.
    #[arg(long = "master-addr", global = true)]
    master_addr: Option<String>,
    /// Deadline of a call, a Go duration.
    #[arg(long = "rpc-timeout", global = true, default_value = "10m")]
    rpc_timeout: String,
    /// Path of the file of trusted CAs (TLS to the master).
    #[arg(long = "ssl-ca", global = true, default_value = "")]
    ssl_ca: String,
    /// Path of this client's certificate (PEM).
    #[arg(long = "ssl-cert", global = true, default_value = "")]
    ssl_cert: String,
    /// Path of this client's key (PEM).
    #[arg(long = "ssl-key", global = true, default_value = "")]
    ssl_key: String,
    /// Source IDs (repeatable or comma-separated).
    #[arg(short = 's', long = "source", global = true, value_delimiter = ',')]
    sources: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How dmctl reaches the masters (DM's `dm/ctl/common` connection rules).
struct Masters {
    addrs: Vec<String>,
    tls: Option<TlsFiles>,
    /// The deadline of `query-status` and `get-config` (DM applies it only
    /// to those and to per-source batches; other commands wait).
    rpc_timeout: Duration,
}

const MASTER_ADDR_MISSING: &str = "--master-addr not provided, this parameter is required when interacting with the dm-master, you can also use environment variable 'DM_MASTER_ADDR' to specify the value. Use `dmctl --help` to see more help messages";

impl Masters {
    fn from_cli(cli: &Cli) -> Result<Masters, String> {
        let text = cli
            .master_addr
            .clone()
            .filter(|a| !a.is_empty())
            .or_else(|| {
                std::env::var("DM_MASTER_ADDR")
                    .ok()
                    .filter(|a| !a.is_empty())
            })
            .ok_or_else(|| MASTER_ADDR_MISSING.to_string())?;
        let mut addrs = Vec::new();
        for addr in text.split(',') {
            let bare = unwrap_scheme(addr.trim());
            split_host_port(bare).map_err(|e| format!("specify master addr {addr}: {e}"))?;
            addrs.push(bare.to_string());
        }
        let rpc_timeout = match parse_go_duration(&cli.rpc_timeout) {
            Ok(d) if !d.is_zero() => d,
            _ => return Err(format!("invalid time duration: {}", cli.rpc_timeout)),
        };
        let tls = if cli.ssl_ca.is_empty() && cli.ssl_cert.is_empty() && cli.ssl_key.is_empty() {
            None
        } else {
            Some(TlsFiles {
                ca: cli.ssl_ca.clone().into(),
                cert: cli.ssl_cert.clone().into(),
                key: cli.ssl_key.clone().into(),
                allowed_cn: Vec::new(),
            })
        };
        Ok(Masters {
            addrs,
            tls,
            rpc_timeout,
        })
    }

    /// The first master (in the given order) that accepts a connection.
    async fn client(&self) -> Result<MasterClient<Channel>, String> {
        self.channel().await.map(MasterClient::new)
    }

    /// A connection to the first master that accepts one and answers for
    /// the cluster. With several addresses, a master that cannot (cut off
    /// from etcd, or not yet knowing the leader: DM's 38043 to every
    /// request) is passed over for the next; when none can, the first that
    /// accepted a connection is used, so the command shows DM's error.
    async fn channel(&self) -> Result<Channel, String> {
        let mut causes = Vec::new();
        let mut first_reached = None;
        for addr in &self.addrs {
            if let Some(tls) = &self.tls {
                // Bad files are a configuration error, not an unreachable master.
                tls.client_config().map_err(|e| {
                    format!("[code=48002:class=dmctl:scope=internal:level=medium], Message: invalid TLS config, RawCause: {e}, Workaround: Please check the `ssl-ca`, `ssl-cert` and `ssl-key` config in command line.")
                })?;
            }
            match dm_master::tls::grpc_connect(addr, self.tls.as_ref(), CONNECT_TIMEOUT).await {
                Ok(channel) if self.addrs.len() == 1 => return Ok(channel),
                Ok(channel) => {
                    if answers_for_the_cluster(&channel).await {
                        return Ok(channel);
                    }
                    first_reached.get_or_insert(channel);
                }
                Err(e) => causes.push(format!("{addr}: {e}")),
            }
        }
        if let Some(channel) = first_reached {
            return Ok(channel);
        }
        Err(format!(
            "[code=48001:class=dmctl:scope=internal:level=high], Message: can't connect to {}, RawCause: {}, Workaround: Please check your network connection.",
            self.addrs.join(","),
            causes.join("; ")
        ))
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the master on `channel` leads or forwards to the leader, asked
/// with a read-only `ListMember` of the leader. DM's dmctl tries another
/// master only when the connection is unavailable; a master that refuses
/// with 38043 has not acted on the request, so passing over it is safe.
async fn answers_for_the_cluster(channel: &Channel) -> bool {
    let mut client = MasterClient::new(channel.clone());
    let ask = client.list_member(ListMemberRequest {
        leader: true,
        ..Default::default()
    });
    match tokio::time::timeout(CONNECT_TIMEOUT, ask).await {
        Ok(Ok(_)) => true,
        Ok(Err(status)) => {
            status.code() != tonic::Code::Unavailable
                && !status.message().starts_with(NOT_LEADER_PREFIX)
        }
        Err(_) => false,
    }
}

/// How DM's "master is not leader, and can't forward request to leader"
/// (38043) begins.
const NOT_LEADER_PREFIX: &str = "[code=38043:";

/// DM rewrites these single-dash spellings to `--...` before parsing.
const SINGLE_DASH_GLOBALS: &[&str] = &[
    "version",
    "config",
    "master-addr",
    "rpc-timeout",
    "ssl-ca",
    "ssl-cert",
    "ssl-key",
];

fn rewrite_single_dash(args: impl Iterator<Item = String>) -> Vec<String> {
    args.map(|arg| {
        let name = arg
            .strip_prefix('-')
            .filter(|rest| !rest.starts_with('-'))
            .map(|rest| rest.split('=').next().unwrap_or(rest));
        match name {
            Some(n) if SINGLE_DASH_GLOBALS.contains(&n) => format!("-{arg}"),
            _ => arg,
        }
    })
    .collect()
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
    /// Not a DM command: state that a source reached a DDL it will never
    /// report (its shard table was dropped upstream), so that a pessimistic
    /// lock can sync. The source is never asked to execute or skip.
    Inject(locks::InjectArgs),
}

#[derive(clap::Args, Clone)]
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
    /// Print the Operations and key deletions the unlock would write, and
    /// write nothing (pessimistic; not a DM flag).
    #[arg(long = "dry-run")]
    dry_run: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(rewrite_single_dash(std::env::args())) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help: clap's text, exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("{e}");
            eprintln!("Run 'dmctl --help' for usage.");
            return ExitCode::FAILURE;
        }
    };
    if cli.version {
        eprint!("{}", dm_master::config::version_text());
        return ExitCode::SUCCESS;
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let Some(command) = cli.command.as_ref() else {
        return Err("no command given; run 'dmctl --help' for the commands".into());
    };
    match command {
        Command::ShardDdlLock {
            action: Some(LockAction::Unlock(args)),
            ..
        }
        | Command::UnlockDdlLock(args)
            if args.dry_run =>
        {
            locks::preview_unlock(&Masters::from_cli(&cli)?, args).await
        }
        Command::ShardDdlLock {
            action: Some(LockAction::Unlock(args)),
            ..
        }
        | Command::UnlockDdlLock(args) => {
            unlock(&Masters::from_cli(&cli)?, &cli.sources, args.clone()).await
        }
        Command::ShardDdlLock {
            action: Some(LockAction::Inject(args)),
            ..
        } => locks::inject(&Masters::from_cli(&cli)?, &cli.sources, args).await,
        Command::ShardDdlLock { action: None, task } | Command::ShowDdlLocks { task } => {
            show(
                &Masters::from_cli(&cli)?,
                task.clone().unwrap_or_default(),
                cli.sources.clone(),
            )
            .await
        }
        Command::EtcdStartTask {
            etcd_endpoints,
            name,
            shard_mode,
            routes,
        } => start_task(etcd_endpoints, name, shard_mode, &cli.sources, routes).await,
        Command::EtcdStopTask {
            etcd_endpoints,
            name,
        } => stop_task(etcd_endpoints, name).await,
        Command::StartTask(args) => {
            let client = Masters::from_cli(&cli)?.client().await?;
            tasks::start_task(client, &cli.sources, args).await
        }
        Command::PauseTask(args) => {
            let client = Masters::from_cli(&cli)?.client().await?;
            tasks::operate_task(client, &cli.sources, TaskOp::Pause, args).await
        }
        Command::ResumeTask(args) => {
            let client = Masters::from_cli(&cli)?.client().await?;
            tasks::operate_task(client, &cli.sources, TaskOp::Resume, args).await
        }
        Command::StopTask(args) => {
            let client = Masters::from_cli(&cli)?.client().await?;
            tasks::operate_task(client, &cli.sources, TaskOp::Delete, args).await
        }
        Command::QueryStatus(args) => {
            let masters = Masters::from_cli(&cli)?;
            let client = masters.client().await?;
            tasks::query_status(client, &cli.sources, args, masters.rpc_timeout).await
        }
        Command::GetConfig(args) => {
            let masters = Masters::from_cli(&cli)?;
            let client = masters.client().await?;
            tasks::get_config(client, args, masters.rpc_timeout).await
        }
        Command::OperateSource(args) => {
            let client = Masters::from_cli(&cli)?.client().await?;
            members::operate_source(client, &cli.sources, args).await
        }
        Command::ListMember(args) => {
            let client = Masters::from_cli(&cli)?.client().await?;
            members::list_member(client, args).await
        }
        Command::OfflineMember(args) => {
            let client = Masters::from_cli(&cli)?.client().await?;
            members::offline_member(client, args).await
        }
    }
}

async fn show(masters: &Masters, task: String, sources: Vec<String>) -> Result<(), String> {
    let what = format!(
        "can not show DDL locks for task {task} and sources [{}]",
        sources.join(" ")
    );
    let channel = masters
        .channel()
        .await
        .map_err(|e| format!("{what}\n{e}"))?;
    let resp = MasterClient::new(channel.clone())
        .show_ddl_locks(ShowDdlLocksRequest { task, sources })
        .await
        .map_err(|e| format!("{what}\n{}", e.message()))?
        .into_inner();
    let mut out = show_json(&resp);
    if resp.locks.iter().any(|l| l.mode == "pessimistic") {
        locks::add_injected(channel, &mut out).await;
    }
    print_json(&out);
    Ok(())
}

async fn unlock(masters: &Masters, sources: &[String], args: UnlockArgs) -> Result<(), String> {
    let op = match args.action.as_str() {
        "exec" => UnlockDdlLockOp::ExecLock,
        "skip" => UnlockDdlLockOp::SkipLock,
        _ => return Err("please check --action argument, only exec/skip are acceptable".into()),
    };
    let what = format!("can not unlock DDL lock {}", args.lock_id);
    let resp = masters
        .client()
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
        hex::encode(format!("{name}-`"))
    );
    ops.push(Op::delete_prefix(lock_prefix));
    etcd.txn(Txn::new("stop task").then(ops))
        .await
        .map_err(|e| e.to_string())?;
    print_json(&json!({ "result": true, "msg": "", "sources": sources }));
    Ok(())
}
