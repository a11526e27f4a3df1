//! `dm-worker`: plays DM workers against a dm-master through etcd.
//!
//! `dm-worker demo` runs the built-in shard-merge scenario: one task, two
//! sources with two shard tables each, all routed to one downstream table;
//! each source reaches the same DDL and the master coordinates who executes.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use dm_master::etcd::{Etcd, EtcdOptions};
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::pessimism::ops;
use dm_master::task::{RouteRule, SubTaskConfig};
use dm_worker::shardddl::pessimist::{Decision, PessimistClient};
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
    },
}

const TASK: &str = "shard_merge";
const SOURCES: [&str; 2] = ["mysql-01", "mysql-02"];
const DDL: &str = "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c2` INT";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo { etcd_endpoints } => demo(&etcd_endpoints).await,
    }
}

async fn demo(endpoints: &str) -> anyhow::Result<()> {
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
    let cancel = CancellationToken::new();
    let mut jobs = Vec::new();
    for (i, source) in SOURCES.into_iter().enumerate() {
        // Each source first syncs its own two shard tables (DM's local
        // sharding group); only then does it tell the master.
        for table in ["shard_table_1", "shard_table_2"] {
            println!("[{source}] upstream shard_db_{}.{table}: {DDL}", i + 1);
        }
        let client = PessimistClient::new(etcd.clone(), space.clone(), TASK, source);
        let info = client.info("shard_db", "shard_table", vec![DDL.into()]);
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
                    std::future::ready(Ok(()))
                })
                .await
                .map(|(_, d)| (source, d))
        }));
        // Show the lock while it waits for the second source.
        tokio::time::sleep(Duration::from_millis(500)).await;
        print_pending(&etcd, &space).await?;
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
