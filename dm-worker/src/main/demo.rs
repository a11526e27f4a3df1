//! `dm-worker demo`: the built-in shard-merge scenarios, two sources with
//! two shard tables each routed to one downstream table, first in
//! pessimistic mode (one owner executes the DDL), then in optimistic mode
//! (every shard table sends its own change; the master joins the schemas).
//! A module of the binary, not of the library.

use std::time::Duration;

use anyhow::{bail, Context};
use dm_master::etcd::Etcd;
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::optimism::ops::TableKey;
use dm_master::optimism::{Info as OptimisticInfo, SourceTables};
use dm_master::pessimism::ops;
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::ShowDdlLocksRequest;
use dm_master::task::{RouteRule, SubTaskConfig};
use dm_worker::executor::{Executor, ExecutorOptions};
use dm_worker::shardddl::optimist::{Answer, OptimistClient};
use dm_worker::shardddl::pessimist::{Decision, PessimistClient};
use dm_worker::tracker::{TableName, Tracker};
use tokio_util::sync::CancellationToken;

use super::connect_etcd;

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

/// Both scenarios, pessimistic first, against the master's etcd at
/// `endpoints`.
pub(super) async fn run(
    endpoints: &str,
    downstream: Option<&str>,
    master_addr: Option<&str>,
) -> anyhow::Result<()> {
    let etcd = connect_etcd(endpoints)
        .await
        .context("connecting to etcd")?;
    let demo = Demo {
        etcd: &etcd,
        downstream,
        master_addr,
    };
    demo.pessimistic().await?;
    demo.optimistic().await
}

/// What both scenarios run against: the master's etcd, the downstream
/// database when given, the master whose locks are shown when given.
#[derive(Clone, Copy)]
struct Demo<'a> {
    etcd: &'a Etcd,
    downstream: Option<&'a str>,
    master_addr: Option<&'a str>,
}

impl Demo<'_> {
    /// The pessimistic scenario: each source tracks its two shard tables and
    /// tells the master once both reached the DDL; one owner executes it.
    async fn pessimistic(self) -> anyhow::Result<()> {
        let (etcd, downstream, master_addr) = (self.etcd, self.downstream, self.master_addr);
        println!("=== pessimistic shard merge (task {TASK})");
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
                            if let (Decision::Execute, Some(executor)) =
                                (decision, executor.as_mut())
                            {
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
                print_pending(etcd, &space).await?;
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

impl Demo<'_> {
    /// The optimistic scenario: each shard table sends its schema changes on its
    /// own and executes what the master answers.
    async fn optimistic(self) -> anyhow::Result<()> {
        let (etcd, downstream, master_addr) = (self.etcd, self.downstream, self.master_addr);
        println!("=== optimistic shard merge (task {OPT_TASK})");
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
