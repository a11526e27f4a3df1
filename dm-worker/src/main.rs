//! `dm-worker`: a DM-worker joined to the masters, or a player of DM
//! workers against a dm-master through etcd.
//!
//! `dm-worker --join ADDRS --worker-addr HOST:PORT [--name N]` (or
//! `--config worker.toml`, DM's worker flags and keys) joins the masters as
//! DM's worker does: RegisterWorker, keep-alive lease, the bound source's
//! subtasks followed, `pb.Worker` served on `worker-addr`. Exit code 2 when
//! the flags are bad or joining fails, 1 when starting fails.
//!
//! `dm-worker demo` runs the built-in shard-merge scenarios: two sources with
//! two shard tables each, all routed to one downstream table.
//! * pessimistic: each source tracks its upstream DDL, reaches the same
//!   routed DDL, and the master picks one owner to execute it;
//! * optimistic: every shard table sends its own schema change (ADD COLUMN,
//!   then DROP COLUMN); the master joins the schemas and tells each table
//!   what to run, so the column is added at once and dropped only when the
//!   last shard dropped it.
//!
//! `dm-worker run --scenario FILE` plays one worker of one source from a
//! TOML scenario (see `dm_worker::scenario`).
//!
//! With `--downstream` DDLs run on a real MySQL-compatible database, and the
//! merged tables are checked against the expected columns.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use dm_master::etcd::{Etcd, EtcdOptions};
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::optimism::ops::TableKey;
use dm_master::optimism::{Info as OptimisticInfo, SourceTables};
use dm_master::pessimism::ops;
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::ShowDdlLocksRequest;
use dm_master::task::{RouteRule, SubTaskConfig};
use dm_worker::config::{usage, Parsed, WorkerConfig, SAMPLE_CONFIG};
use dm_worker::executor::{Executor, ExecutorOptions, Outcome};
use dm_worker::scenario::{self, Scenario};
use dm_worker::shardddl::optimist::{Answer, OptimistClient};
use dm_worker::shardddl::pessimist::{Decision, PessimistClient};
use dm_worker::tracker::{TableName, Tracker};
use dm_worker::worker::{JoinOptions, JoinedWorker, StartError};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "dm-worker",
    version,
    about = "Worker side of DM shard-DDL coordination"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the built-in pessimistic shard-merge scenario against a master.
    Demo {
        /// Comma-separated etcd client URLs (the master's etcd).
        #[arg(long = "etcd-endpoints")]
        etcd_endpoints: String,
        /// A downstream database, `mysql://user[:password]@host:port`: the
        /// lock owner executes the DDL there.
        #[arg(long)]
        downstream: Option<String>,
        /// A master's address: pending locks are shown through its
        /// `ShowDDLLocks` while the scenario runs.
        #[arg(long = "master-addr")]
        master_addr: Option<String>,
    },
    /// Plays one worker of one source from a TOML scenario file.
    Run {
        /// The scenario: task, source, mode, `[[route]]` and `[[step]]`.
        #[arg(long)]
        scenario: std::path::PathBuf,
        /// Comma-separated etcd client URLs (the master's etcd).
        #[arg(long = "etcd-endpoints")]
        etcd_endpoints: String,
        /// The downstream database, `mysql://user[:password]@host:port`.
        #[arg(long)]
        downstream: String,
        /// The master's etcd key namespace (empty: DM's keys).
        #[arg(long, default_value = "")]
        namespace: String,
    },
}

const TASK: &str = "shard_merge";
const SOURCES: [&str; 2] = ["mysql-01", "mysql-02"];
const TABLES: [&str; 2] = ["shard_table_1", "shard_table_2"];

/// The task's route rule: `shard_db_*`.`shard_table_*` → `shard_db`.`shard_table`.
fn route(upstream: &TableName) -> TableName {
    let table = if upstream.table.is_empty() {
        ""
    } else {
        "shard_table"
    };
    TableName::new("shard_db", table)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if !matches!(
        args.get(1).map(String::as_str),
        Some("run" | "demo" | "help")
    ) {
        std::process::exit(joined(&args[1..]).await);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo {
            etcd_endpoints,
            downstream,
            master_addr,
        } => {
            demo(
                &etcd_endpoints,
                downstream.as_deref(),
                master_addr.as_deref(),
            )
            .await?;
            optimistic_demo(
                &etcd_endpoints,
                downstream.as_deref(),
                master_addr.as_deref(),
            )
            .await
        }
        Command::Run {
            scenario,
            etcd_endpoints,
            downstream,
            namespace,
        } => run(&scenario, &etcd_endpoints, &downstream, namespace).await,
    }
}

/// The joined worker: DM's flags, then join, serve until SIGINT / SIGTERM.
/// Returns the process exit code.
async fn joined(args: &[String]) -> i32 {
    let config = match WorkerConfig::parse_args(args, |path| std::fs::read_to_string(path)) {
        Ok(Parsed::Run(config)) => *config,
        Ok(Parsed::PrintVersion) => {
            println!("Release Version: v{}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Ok(Parsed::PrintSampleConfig) => {
            println!("{SAMPLE_CONFIG}");
            return 0;
        }
        Ok(Parsed::Help) => {
            eprint!("{}", usage());
            return 0;
        }
        Err(e) => {
            eprintln!("parse cmd flags err: {}", e.dm_string());
            return 2;
        }
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("init logger error {e}");
        return 2;
    }
    tracing::info!(name = %config.name, worker_addr = %config.worker_addr, advertise_addr = %config.advertise_addr, join = %config.join, keepalive_ttl = config.keepalive_ttl, "dm-worker config");
    let worker = match JoinedWorker::start(config, JoinOptions::default()).await {
        Ok(worker) => worker,
        Err(e) => {
            match &e {
                StartError::Join(_) => {
                    tracing::info!(error = %e.error().dm_string(), "join the cluster meet error")
                }
                StartError::Start(_) => {
                    tracing::error!(error = %e.error().dm_string(), "fail to start dm-worker")
                }
            }
            eprintln!("{}", e.error().dm_string());
            return e.exit_code();
        }
    };
    let signal = shutdown_signal().await;
    tracing::info!(signal, "got signal to exit");
    worker.stop().await;
    0
}

/// Waits for SIGINT, SIGTERM, SIGHUP or SIGQUIT (DM's set).
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup), Ok(mut quit)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::quit()),
    ) else {
        tracing::warn!("cannot listen for SIGTERM/SIGHUP/SIGQUIT, only SIGINT stops the worker");
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
        _ = quit.recv() => "SIGQUIT",
    }
}

/// DM's `-L`, `-log-file` and `-log-format`: level, file (appended) or
/// stderr, text or JSON. `RUST_LOG` overrides the level.
fn init_logging(config: &WorkerConfig) -> anyhow::Result<()> {
    let level = match config.log_level.to_lowercase().as_str() {
        "fatal" => "error".to_owned(),
        other => other.to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&level))
        .with_context(|| format!("invalid log level {:?}", config.log_level))?;
    let writer = if config.log_file.is_empty() {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr)
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.log_file)
            .with_context(|| format!("opening the log file {}", config.log_file))?;
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(file))
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match config.log_format.as_str() {
        "json" => builder.json().init(),
        "text" | "" => builder.init(),
        other => anyhow::bail!("unknown log format {other:?}, expected \"text\" or \"json\""),
    }
    Ok(())
}

async fn run(
    path: &std::path::Path,
    endpoints: &str,
    downstream: &str,
    namespace: String,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the scenario {}", path.display()))?;
    let scenario =
        Scenario::parse(&text).with_context(|| format!("scenario {}", path.display()))?;
    let mut executor = Executor::from_url(downstream, ExecutorOptions::default())?;
    let endpoints: Vec<String> = endpoints.split(',').map(str::to_owned).collect();
    let etcd = Etcd::connect(&endpoints, EtcdOptions::default())
        .await
        .context("connecting to etcd")?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let result = scenario::run(
        &scenario,
        &etcd,
        &KeySpace::new(namespace),
        &mut executor,
        &cancel,
        &mut |line| println!("{line}"),
    )
    .await;
    executor.close().await;
    let report = result?;
    let applied = report
        .executed
        .iter()
        .filter(|e| e.outcome == Outcome::Applied)
        .count();
    println!(
        "[{}] scenario finished: {} statement(s) executed downstream ({applied} applied, {} already applied), {} lock(s) skipped",
        scenario.source,
        report.executed.len(),
        report.executed.len() - applied,
        report.skipped_locks.len()
    );
    if !report.unsynced.is_empty() {
        bail!(
            "DDLs still waiting for other local shard tables: {}",
            report.unsynced.join(" | ")
        );
    }
    Ok(())
}

/// One source's upstream: its tracker after creating both shard tables, the
/// routed CREATE statements, and the routed DDL all its tables reached.
fn track_source(schema: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut tracker = Tracker::new();
    let mut creates = tracker
        .apply(schema, &format!("CREATE DATABASE {schema}"), &route)?
        .ddls();
    for table in TABLES {
        let create =
            format!("CREATE TABLE {table} (id INT PRIMARY KEY, c1 VARCHAR(20) NOT NULL DEFAULT '') DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
        creates.extend(tracker.apply(schema, &create, &route)?.ddls());
    }
    let mut routed: Option<Vec<String>> = None;
    for table in TABLES {
        let upstream = format!("ALTER TABLE {table} ADD COLUMN c2 INT");
        let tracked = tracker.apply(schema, &upstream, &route)?;
        println!(
            "  upstream {schema}.{table}: {upstream}\n    -> routed: {}",
            tracked.ddls().join("; ")
        );
        match &routed {
            Some(first) if *first != tracked.ddls() => bail!("shard tables disagree"),
            Some(_) => {}
            None => routed = Some(tracked.ddls()),
        }
    }
    Ok((creates, routed.unwrap_or_default()))
}

async fn demo(
    endpoints: &str,
    downstream: Option<&str>,
    master_addr: Option<&str>,
) -> anyhow::Result<()> {
    println!("=== pessimistic shard merge (task {TASK})");
    let endpoints: Vec<String> = endpoints.split(',').map(str::to_owned).collect();
    let etcd = Etcd::connect(&endpoints, EtcdOptions::default())
        .await
        .context("connecting to etcd")?;
    let space = KeySpace::default();
    for source in SOURCES {
        let cfg = SubTaskConfig {
            name: TASK.into(),
            source_id: source.into(),
            is_sharding: true,
            shard_mode: "pessimistic".into(),
            route_rules: vec![RouteRule {
                schema_pattern: "shard_db_*".into(),
                table_pattern: "shard_table_*".into(),
                target_schema: "shard_db".into(),
                target_table: "shard_table".into(),
            }],
        };
        etcd.put(space.key(&UPSTREAM_SUBTASK, [source, TASK]), cfg.to_toml())
            .await
            .context("registering the subtask")?;
        println!("task {TASK}: source {source} registered (shard_db_*.shard_table_* -> shard_db.shard_table)");
    }
    let executor = |url: &str| Executor::from_url(url, ExecutorOptions::default());
    let cancel = CancellationToken::new();
    let mut jobs = Vec::new();
    for (i, source) in SOURCES.into_iter().enumerate() {
        // Each source tracks its own two shard tables (DM's local sharding
        // group); only when both reached the DDL does it tell the master.
        println!("[{source}] schema tracker:");
        let (creates, ddls) = track_source(&format!("shard_db_{}", i + 1))?;
        if let Some(url) = downstream {
            // CREATE statements are not coordinated; both sources send
            // them, the second one finds the table there.
            let mut setup = executor(url)?;
            for (ddl, outcome) in creates.iter().zip(setup.execute(&creates).await?) {
                println!("[{source}] downstream: {ddl} ({outcome:?})");
            }
            setup.close().await;
        }
        let client = PessimistClient::new(etcd.clone(), space.clone(), TASK, source);
        let info = client.info("shard_db", "shard_table", ddls.clone());
        let mut executor = downstream.map(executor).transpose()?;
        let cancel = cancel.clone();
        jobs.push(tokio::spawn(async move {
            client
                .sync_ddl(&info, &cancel, |decision, op| {
                    match decision {
                        Decision::Execute => println!(
                            "[{source}] owner of lock {}: executing downstream: {}",
                            op.id,
                            op.ddls.clone().unwrap_or_default().join("; ")
                        ),
                        Decision::Skip => println!(
                            "[{source}] lock {}: another source executes, skipping",
                            op.id
                        ),
                    }
                    // Like DM, the owner runs its own routed statements.
                    async move {
                        if let (Decision::Execute, Some(executor)) = (decision, executor.as_mut()) {
                            executor.execute(&ddls).await.map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    }
                })
                .await
                .map(|(_, d)| (source, d))
        }));
        // Show the lock while it waits for the second source.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if i == 0 {
            print_pending(&etcd, &space).await?;
            show_locks(master_addr).await?;
        }
    }
    let mut executed = 0;
    for job in jobs {
        let (source, decision) = tokio::time::timeout(Duration::from_secs(30), job)
            .await
            .context("the master did not answer in 30 s")???;
        println!("[{source}] done ({decision:?})");
        executed += usize::from(decision == Decision::Execute);
    }
    if executed != 1 {
        bail!("expected exactly one source to execute the DDL, got {executed}");
    }
    println!("shard DDL merged: executed once downstream, skipped by the other source");
    if let Some(url) = downstream {
        let mut reader = executor(url)?;
        let merged = reader
            .show_create_table(&TableName::new("shard_db", "shard_table"))
            .await?;
        println!("downstream table after the merge:\n{merged}");
        check_columns(&mut reader, "shard_table", &["id", "c1", "c2"]).await?;
        reader.close().await;
    }
    Ok(())
}

/// Checks the downstream table has exactly `expected` columns, in order.
async fn check_columns(
    reader: &mut Executor,
    table: &str,
    expected: &[&str],
) -> anyhow::Result<()> {
    let columns = reader.columns(&TableName::new("shard_db", table)).await?;
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    if names != expected {
        bail!("shard_db.{table} has columns {names:?}, expected {expected:?}");
    }
    println!("shard_db.{table} has the expected columns {names:?}");
    Ok(())
}

/// Prints `shard-ddl-lock` as the master shows it (when given its address).
async fn show_locks(master_addr: Option<&str>) -> anyhow::Result<()> {
    let Some(addr) = master_addr else {
        return Ok(());
    };
    let mut client = MasterClient::connect(format!("http://{addr}"))
        .await
        .context("connecting to the master")?;
    let resp = client
        .show_ddl_locks(ShowDdlLocksRequest::default())
        .await
        .context("ShowDDLLocks")?
        .into_inner();
    println!("shard-ddl-lock (from the master): {}", resp.msg);
    for lock in resp.locks {
        println!(
            "  {} mode={} owner={:?} DDLs={:?} synced={:?} unsynced={:?}",
            lock.id, lock.mode, lock.owner, lock.dd_ls, lock.synced, lock.unsynced
        );
    }
    Ok(())
}

const OPT_TASK: &str = "shard_merge_opt";

/// The optimistic scenario: each shard table sends its schema changes on its
/// own and executes what the master answers.
async fn optimistic_demo(
    endpoints: &str,
    downstream: Option<&str>,
    master_addr: Option<&str>,
) -> anyhow::Result<()> {
    println!("=== optimistic shard merge (task {OPT_TASK})");
    let endpoints: Vec<String> = endpoints.split(',').map(str::to_owned).collect();
    let etcd = Etcd::connect(&endpoints, EtcdOptions::default()).await?;
    let space = KeySpace::default();
    let route_opt = |upstream: &TableName| {
        let table = if upstream.table.is_empty() {
            ""
        } else {
            "opt_table"
        };
        TableName::new("shard_db", table)
    };
    let mut executor = downstream
        .map(|url| Executor::from_url(url, ExecutorOptions::default()))
        .transpose()?;
    let mut trackers = Vec::new();
    for (i, source) in SOURCES.into_iter().enumerate() {
        let cfg = SubTaskConfig {
            name: OPT_TASK.into(),
            source_id: source.into(),
            is_sharding: true,
            shard_mode: "optimistic".into(),
            route_rules: vec![],
        };
        etcd.put(
            space.key(&UPSTREAM_SUBTASK, [source, OPT_TASK]),
            cfg.to_toml(),
        )
        .await?;
        let schema = format!("opt_db_{}", i + 1);
        let mut tracker = Tracker::new();
        let mut creates = tracker
            .apply(&schema, &format!("CREATE DATABASE {schema}"), &route_opt)?
            .ddls();
        let mut st = SourceTables::new(OPT_TASK, source);
        for table in TABLES {
            let create = format!(
                "CREATE TABLE {table} (id INT PRIMARY KEY, c1 VARCHAR(20) NOT NULL DEFAULT '') DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
            );
            creates.extend(tracker.apply(&schema, &create, &route_opt)?.ddls());
            st.add_table(&schema, table, "shard_db", "opt_table");
        }
        if let Some(ex) = executor.as_mut() {
            ex.execute(&creates).await?;
        }
        OptimistClient::new(etcd.clone(), space.clone(), OPT_TASK, source)
            .put_source_tables(&st)
            .await?;
        println!("task {OPT_TASK}: source {source} announced {schema}.shard_table_1/2 -> shard_db.opt_table");
        trackers.push((source, schema, tracker));
    }
    let cancel = CancellationToken::new();
    for upstream in [
        "ALTER TABLE {t} ADD COLUMN c2 INT",
        "ALTER TABLE {t} DROP COLUMN c1",
    ] {
        for (n, (source, schema, tracker)) in trackers.iter_mut().enumerate() {
            if n == 1 {
                // Half of the shards have changed: the lock is pending.
                show_locks(master_addr).await?;
            }
            for table in TABLES {
                let ddl = upstream.replace("{t}", table);
                let tracked = tracker.apply(schema, &ddl, &route_opt)?;
                let info = OptimisticInfo {
                    task: OPT_TASK.into(),
                    source: (*source).into(),
                    up_schema: schema.clone(),
                    up_table: table.into(),
                    down_schema: "shard_db".into(),
                    down_table: "opt_table".into(),
                    ddls: Some(tracked.ddls()),
                    table_info_before: tracked
                        .table_info_before()
                        .map(|t| t.to_json_value().into()),
                    table_info_after: Some(
                        tracked
                            .table_infos_after()
                            .into_iter()
                            .flatten()
                            .map(|t| t.to_json_value().into())
                            .collect(),
                    ),
                    ignore_conflict: false,
                };
                let client = OptimistClient::new(etcd.clone(), space.clone(), OPT_TASK, source);
                let revision = client.put_info(&info).await?;
                let key = TableKey::new(source, schema, table);
                let answer = tokio::time::timeout(
                    Duration::from_secs(30),
                    client.wait_answer(&key, revision, &cancel),
                )
                .await
                .context("the master did not answer in 30 s")??;
                let Answer::Execute(op) = answer else {
                    bail!("{source} {schema}.{table}: unexpected answer {answer:?}");
                };
                let run = op.ddls.clone().unwrap_or_default();
                println!("[{source}] {schema}.{table}: {ddl} -> master says run {run:?}");
                if let Some(ex) = executor.as_mut() {
                    ex.execute(&run).await?;
                }
                client.done(&op).await?;
            }
        }
    }
    show_locks(master_addr).await?;
    if let Some(mut ex) = executor {
        let merged = ex
            .show_create_table(&TableName::new("shard_db", "opt_table"))
            .await?;
        println!("downstream table after the optimistic merge:\n{merged}");
        check_columns(&mut ex, "opt_table", &["id", "c2"]).await?;
        ex.close().await;
    }
    Ok(())
}

async fn print_pending(etcd: &Etcd, space: &KeySpace) -> anyhow::Result<()> {
    let keys = etcd.get_prefix(&ops::pessimism_prefix(space)).await?;
    println!("shard-ddl-lock state in etcd ({} keys):", keys.value.len());
    for kv in &keys.value {
        println!(
            "  {} = {}",
            kv.key_str(),
            String::from_utf8_lossy(&kv.value)
        );
    }
    Ok(())
}
