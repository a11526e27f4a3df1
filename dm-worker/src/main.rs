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

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use dm_master::etcd::{Etcd, EtcdOptions};
use dm_master::keys::KeySpace;
use dm_worker::config::{usage, Parsed, WorkerConfig, SAMPLE_CONFIG};
use dm_worker::executor::{Executor, ExecutorOptions, Outcome};
use dm_worker::scenario::{self, Scenario};
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

#[path = "main/demo.rs"]
mod demo;

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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Demo {
            etcd_endpoints,
            downstream,
            master_addr,
        } => {
            demo::run(
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
            print!("{}", dm_master::config::version_text());
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

/// DM's `-L`, `-log-file` and `-log-format`: level, file (appended, rotated
/// as DM-master's) or stdout, in DM's own line format (pingcap/log's text or
/// JSON), so a DM-worker's log reads and parses like DM's. `RUST_LOG`
/// overrides the level.
fn init_logging(config: &WorkerConfig) -> anyhow::Result<()> {
    // The config has checked both the level and the format.
    let format = dm_master::logging::dm_format(&config.log_format).ok_or_else(|| {
        anyhow::anyhow!(dm_master::logging::invalid_format_text(&config.log_format))
    })?;
    let file = (!config.log_file.is_empty()).then(|| std::path::Path::new(&config.log_file));
    dm_master::logging::init_with(&config.log_level, file, format).map_err(|e| anyhow::anyhow!(e))
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
    let etcd = connect_etcd(endpoints)
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

/// A client of the etcd at `endpoints` (comma-separated client URLs).
async fn connect_etcd(endpoints: &str) -> dm_master::Result<Etcd> {
    let endpoints: Vec<String> = endpoints.split(',').map(str::to_owned).collect();
    Etcd::connect(&endpoints, EtcdOptions::default()).await
}
