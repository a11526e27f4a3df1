//! `dm-worker run` end to end: scenarios played through
//! `dm_worker::scenario::run` against a real etcd, the master in-process and
//! a real MariaDB downstream, two sources at once.

use std::time::Duration;

use dm_master::etcd::Etcd;
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::pessimism::ops;
use dm_worker::executor::Executor;
use dm_worker::scenario::{self, Report, Scenario, Via};
use dm_worker::shardddl::pessimist::PessimistClient;
use dm_worker::tracker::{TableName, Tracker};
use tokio_util::sync::CancellationToken;

use crate::mariadb::quick_retries;
use crate::mariadb::{unique_database, MariaDb};
use crate::master::TestMaster;
use crate::support::{free_port, unique_space, wait_until, EtcdServer};

const WAIT: Duration = Duration::from_secs(30);

/// A scenario of source `mysql-0{n}` with upstream schema `shard_db_{n}`
/// and its two shard tables routed to `{db}.shard_table`, then `alters`
/// applied to both tables in turn.
fn scenario(task: &str, n: usize, mode: &str, db: &str, alters: &[&str]) -> Scenario {
    let mut text = format!(
        r#"
task = "{task}"
source = "mysql-0{n}"
mode = "{mode}"

[[route]]
schema = "shard_db_*"
table = "shard_table_*"
target-schema = "{db}"
target-table = "shard_table"

[[step]]
schema = "shard_db_{n}"
sql = "CREATE DATABASE shard_db_{n}"
"#
    );
    for t in 1..=2 {
        text.push_str(&format!(
            "\n[[step]]\nschema = \"shard_db_{n}\"\nsql = \"CREATE TABLE shard_table_{t} (id INT PRIMARY KEY, c1 VARCHAR(20) NOT NULL DEFAULT '')\"\n"
        ));
    }
    // Both sources announce and create their tables before any shard DDL.
    text.push_str("\n[[step]]\npause-ms = 300\n");
    for alter in alters {
        for t in 1..=2 {
            text.push_str(&format!(
                "\n[[step]]\nschema = \"shard_db_{n}\"\nsql = \"ALTER TABLE shard_table_{t} {alter}\"\n"
            ));
        }
    }
    Scenario::parse(&text).expect("scenario parses")
}

/// Registers both scenarios' subtasks, so the master's locks wait for both
/// sources whichever starts first.
async fn register(etcd: &Etcd, space: &KeySpace, scenarios: &[&Scenario]) {
    for s in scenarios {
        etcd.put(
            space.key(&UPSTREAM_SUBTASK, [&s.source, &s.task]),
            s.subtask().to_toml(),
        )
        .await
        .unwrap();
    }
}

/// A master in its own key namespace, a fresh downstream database and the
/// scenarios of sources 1 and 2 of one task applying `alters`, registered.
struct TwoSources {
    space: KeySpace,
    etcd: Etcd,
    master: TestMaster,
    db: String,
    s1: Scenario,
    s2: Scenario,
    cancel: CancellationToken,
}

impl TwoSources {
    async fn start(name: &str, task: &str, mode: &str, alters: &[&str]) -> TwoSources {
        let space = unique_space(name);
        let etcd = EtcdServer::shared().client().await;
        let master = TestMaster::builder(&space).lead(WAIT).await;
        let db = unique_database(&name.replace('-', "_"));
        let s1 = scenario(task, 1, mode, &db, alters);
        let s2 = scenario(task, 2, mode, &db, alters);
        register(&etcd, &space, &[&s1, &s2]).await;
        TwoSources {
            space,
            etcd,
            master,
            db,
            s1,
            s2,
            cancel: CancellationToken::new(),
        }
    }

    /// Runs `scenario` on its own task with its own downstream connection.
    fn spawn(&self, scenario: &Scenario) -> tokio::task::JoinHandle<dm_worker::Result<Report>> {
        let scenario = scenario.clone();
        let (etcd, space, cancel) = (self.etcd.clone(), self.space.clone(), self.cancel.clone());
        tokio::spawn(async move {
            let mut executor = MariaDb::shared().executor();
            let report = scenario::run(
                &scenario,
                &etcd,
                &space,
                &mut executor,
                &cancel,
                &mut |line| println!("{line}"),
            )
            .await;
            executor.close().await;
            report
        })
    }
}

/// Runs `scenario` in this task, uncancelled and without progress lines,
/// for a run that is expected to fail.
async fn run_failing(
    scenario: &Scenario,
    etcd: &Etcd,
    space: &KeySpace,
    executor: &mut Executor,
) -> dm_worker::Result<Report> {
    let cancel = CancellationToken::new();
    scenario::run(scenario, etcd, space, executor, &cancel, &mut |_| {}).await
}

async fn finish(job: tokio::task::JoinHandle<dm_worker::Result<Report>>) -> Report {
    tokio::time::timeout(WAIT, job)
        .await
        .expect("scenario finishes in time")
        .expect("scenario task")
        .expect("scenario succeeds")
}

async fn columns(db: &str) -> Vec<String> {
    let mut reader = MariaDb::shared().executor();
    let cols = reader
        .columns(&TableName::new(db, "shard_table"))
        .await
        .unwrap();
    reader.close().await;
    cols.into_iter().map(|c| c.name).collect()
}

/// Whether nothing at all is stored under `space`.
async fn nothing_stored(etcd: &Etcd, space: &KeySpace) -> bool {
    etcd.get_prefix(space.namespace())
        .await
        .unwrap()
        .value
        .is_empty()
}

async fn no_shard_keys(etcd: &Etcd, space: &KeySpace) -> bool {
    wait_until(WAIT, || async {
        etcd.get_prefix(&ops::pessimism_prefix(space))
            .await
            .unwrap()
            .value
            .is_empty()
    })
    .await
}

#[tokio::test]
async fn worker_run_pessimistic_two_sources_add_column_once() {
    let run = TwoSources::start("run-pess", "merge", "pessimistic", &["ADD COLUMN c2 INT"]).await;
    let (j1, j2) = (run.spawn(&run.s1), run.spawn(&run.s2));
    let (r1, r2) = (finish(j1).await, finish(j2).await);

    let applied = r1.count(Via::Pessimistic, true) + r2.count(Via::Pessimistic, true);
    let replayed = r1.count(Via::Pessimistic, false) + r2.count(Via::Pessimistic, false);
    assert_eq!((applied, replayed), (1, 0), "{r1:?}\n{r2:?}");
    assert_eq!(r1.skipped_locks.len() + r2.skipped_locks.len(), 1);
    assert!(r1.unsynced.is_empty() && r2.unsynced.is_empty());
    assert_eq!(columns(&run.db).await, ["id", "c1", "c2"]);
    assert!(no_shard_keys(&run.etcd, &run.space).await, "lock resolved");
    run.master.stop().await;
}

#[tokio::test]
async fn worker_run_optimistic_two_sources_add_then_drop() {
    let alters = ["ADD COLUMN c2 INT", "DROP COLUMN c1"];
    let run = TwoSources::start("run-opt", "merge_opt", "optimistic", &alters).await;
    let (j1, j2) = (run.spawn(&run.s1), run.spawn(&run.s2));
    let (r1, r2) = (finish(j1).await, finish(j2).await);

    let executed: Vec<&str> = r1
        .executed
        .iter()
        .chain(&r2.executed)
        .filter(|e| e.via == Via::Optimistic)
        .map(|e| e.ddl.as_str())
        .collect();
    assert!(
        executed.iter().any(|d| d.contains("ADD COLUMN"))
            && executed.iter().any(|d| d.contains("DROP COLUMN")),
        "{executed:?}"
    );
    assert_eq!(columns(&run.db).await, ["id", "c2"]);
    run.master.stop().await;
}

#[tokio::test]
async fn worker_run_recovers_after_a_kill_between_execute_and_done() {
    let run = TwoSources::start("run-kill", "merge", "pessimistic", &["ADD COLUMN c2 INT"]).await;
    let (etcd, space, db, cancel) = (&run.etcd, &run.space, &run.db, &run.cancel);

    // The first life of source 1: creates its tables, puts the Info before
    // source 2 (so it owns the lock), executes the DDL, and dies before
    // reporting done.
    let route = |up: &TableName| {
        if up.table.is_empty() {
            TableName::new(db.as_str(), "")
        } else {
            TableName::new(db.as_str(), "shard_table")
        }
    };
    let mut tracker = Tracker::new();
    let mut executor = MariaDb::shared().executor();
    let mut routed = Vec::new();
    for step in &run.s1.steps {
        if let (Some(schema), Some(sql)) = (&step.schema, &step.sql) {
            routed = tracker.apply(schema, sql, &route).unwrap().ddls();
            if sql.starts_with("CREATE") {
                executor.execute(&routed).await.unwrap();
            }
        }
    }
    let client = PessimistClient::new(etcd.clone(), space.clone(), "merge", "mysql-01");
    let info = client.info(db, "shard_table", routed.clone());
    let revision = client.put_info(&info, cancel).await.unwrap();
    let j2 = run.spawn(&run.s2);
    let op = tokio::time::timeout(WAIT, client.wait_operation(revision, cancel))
        .await
        .unwrap()
        .unwrap();
    assert!(op.exec, "source 1 put the Info first and owns the lock");
    executor.execute(&routed).await.unwrap();
    executor.close().await;
    drop(client);

    // Restart: the same scenario again, no manual unlock.
    let r1 = finish(run.spawn(&run.s1)).await;
    let r2 = finish(j2).await;
    assert_eq!(r1.count(Via::Pessimistic, false), 1, "{r1:?}");
    assert_eq!(r1.count(Via::Pessimistic, true), 0, "{r1:?}");
    assert_eq!(r2.skipped_locks.len(), 1, "{r2:?}");
    assert_eq!(columns(db).await, ["id", "c1", "c2"]);
    assert!(no_shard_keys(etcd, space).await, "lock resolved");
    run.master.stop().await;
}

#[tokio::test]
async fn worker_run_bad_ddl_fails_clearly_and_writes_nothing() {
    let space = unique_space("run-bad");
    let etcd = EtcdServer::shared().client().await;
    let db = unique_database("run_bad");
    let mut bad = scenario("merge", 1, "pessimistic", &db, &["ADD COLUMN c2 INT"]);
    let last = bad.steps.len() - 1;
    bad.steps[last].sql = Some("ALTER TABLE shard_table_2 ADD COLUM c2 INT".into());
    let mut executor: Executor = MariaDb::shared().executor();
    let err = run_failing(&bad, &etcd, &space, &mut executor)
        .await
        .expect_err("bad DDL fails");
    executor.close().await;
    let text = err.to_string();
    assert!(
        text.contains(&format!("step {}", last + 1)) && text.contains("ADD COLUM c2"),
        "{text}"
    );
    // Checked before anything was written: no subtask, no Info, no table.
    assert!(nothing_stored(&etcd, &space).await);
    assert!(columns(&db).await.is_empty());

    let parse = Scenario::parse("task = \"t\"\nsource = ").expect_err("bad TOML");
    assert!(parse.to_string().contains("bad TOML"), "{parse}");
    let missing = Scenario::parse("task = \"t\"\nsource = \"s\"\nmode = \"pessimistic\"\n[[step]]\nsql = \"CREATE TABLE t (id INT)\"\n")
        .expect_err("step without schema");
    assert!(missing.to_string().contains("step 1"), "{missing}");
}

#[tokio::test]
async fn worker_run_unreachable_downstream_fails_before_any_write() {
    let space = unique_space("run-down");
    let etcd = EtcdServer::shared().client().await;
    let s1 = scenario("merge", 1, "optimistic", "nowhere", &["ADD COLUMN c2 INT"]);
    let options = sqlx::mysql::MySqlConnectOptions::new()
        .host("127.0.0.1")
        .port(free_port())
        .username("root");
    let mut executor = Executor::new(options, quick_retries());
    let err = run_failing(&s1, &etcd, &space, &mut executor)
        .await
        .expect_err("no downstream");
    assert!(
        matches!(err, dm_worker::Error::DownstreamUnavailable { .. }),
        "{err}"
    );
    assert!(nothing_stored(&etcd, &space).await);
}
