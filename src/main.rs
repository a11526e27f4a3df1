//! `dm-master`: parse the configuration as DM-master does, set up DM's
//! logging and metrics, run until a signal.
//!
//! Exit codes as DM's `cmd/dm-master`: 0 after `-V`, `-print-sample-config`,
//! `-h` or a signal; 2 on a configuration error (`parse cmd flags err:
//! <message>` on stdout), a logger error, or a failed start.

use std::process::ExitCode;
use std::sync::Arc;

use dm_master::config::{Config, Invocation};
use dm_master::metrics::Metrics;

/// jemalloc instead of glibc's malloc: in paired `dmbench` runs the master
/// spent 8-10% less CPU (glibc's malloc and free, chunk consolidation
/// among them, were a tenth of an optimistic run's profile) and held less
/// memory per held lock and per optimistic table.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match Config::parse_args(&args) {
        Ok(Invocation::Run(config)) => *config,
        Ok(Invocation::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Help(usage)) => {
            eprint!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if let Some(cause) = &e.raw_cause {
                // Go's flag package reports its own error on stderr too.
                eprintln!("{cause}");
            }
            println!("parse cmd flags err: {}", e.message);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = dm_master::logging::init(&config) {
        println!("init logger error {e}");
        return ExitCode::from(2);
    }
    log_start(&config);
    // One thread runs every future; see ARCHITECTURE.md, "One runtime
    // thread", for why and for what runs beside it.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(dm_master::logging::write_held_lines)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "fail to start dm-master");
            eprintln!("dm-master: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let metrics = Arc::new(Metrics::new());
    // The runtime runs on this thread; its lines go out when it parks.
    dm_master::logging::hold_lines_on_this_thread();
    let exit = runtime.block_on(dm_master::server::run(config, metrics, shutdown_signal()));
    dm_master::logging::stop_holding_lines();
    match exit {
        Ok(()) => {
            tracing::info!("dm-master exit");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "fail to start dm-master");
            eprintln!("dm-master: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// DM's start-up lines: the welcome with version fields, the config, and
/// what the config asked for that this master does not act on.
fn log_start(config: &Config) {
    let version = dm_master::config::version_text();
    let field = |label: &str| {
        version
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or("None")
            .to_string()
    };
    tracing::info!(
        release_version = %field("Release Version: "),
        git_hash = %field("Git Commit Hash: "),
        git_branch = %field("Git Branch: "),
        utc_build_time = %field("UTC Build Time: "),
        "Welcome to dm-master"
    );
    tracing::info!(dm_master_config = %config.master_cfg_toml().replace('\n', " "), "");
    for warning in &config.adjust_warnings {
        tracing::warn!("{warning}");
    }
    if !config.unapplied_keys.is_empty() {
        tracing::warn!(
            keys = %config.unapplied_keys.join(","),
            "configuration options accepted but not applied by this dm-master"
        );
    }
}

/// Resolves on SIGHUP, SIGINT, SIGTERM or SIGQUIT (DM's set).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    async fn received(kind: SignalKind) {
        match signal(kind) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            // A signal we cannot watch never fires; the others still do.
            Err(_) => std::future::pending().await,
        }
    }
    let name = tokio::select! {
        _ = received(SignalKind::hangup()) => "SIGHUP",
        _ = received(SignalKind::interrupt()) => "SIGINT",
        _ = received(SignalKind::terminate()) => "SIGTERM",
        _ = received(SignalKind::quit()) => "SIGQUIT",
    };
    tracing::info!(signal = name, "got signal to exit");
}
