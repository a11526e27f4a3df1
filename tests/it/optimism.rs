//! Optimistic coordination end to end: a real etcd, the master in-process,
//! and worker clients from the `dm-worker` crate speaking DM's keys.
//!
//! This file holds the fixture and the flows that resolve; [`conflicts`]
//! the conflicting and malformed DDLs.

use std::sync::Arc;
use std::time::Duration;

use dm_master::coordinator::optimist::OptimistHandle;
use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::{
    KeySpace, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_SOURCE_TABLES, UPSTREAM_SUBTASK,
};
use dm_master::lock_view::LockView;
use dm_master::metrics::Metrics;
use dm_master::optimism::ops::{self, TableKey};
use dm_master::optimism::{ConflictStage, Info, SourceTables};
use dm_master::tableinfo::{ColumnInfo, FieldType, IndexInfo, TableInfo};
use dm_master::task::SubTaskConfig;
use dm_worker::shardddl::optimist::{Answer, OptimistClient};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::history::History;
use crate::master::TestMaster;
use crate::support::{unique_space, wait_until, EtcdServer};

mod conflicts;

const WAIT: Duration = Duration::from_secs(15);

/// A table schema `tb(id INT PRIMARY KEY, <cols>)` as TiDB JSON.
pub fn schema(cols: &[(&str, FieldType)]) -> Value {
    let mut t =
        TableInfo::new("tb").with_column(ColumnInfo::new("id", FieldType::int()).not_null());
    for (name, ft) in cols {
        t = t.with_column(ColumnInfo::new(name, ft.clone()));
    }
    t.with_index(IndexInfo::primary(&["id"])).to_json_value()
}

/// An Info of task `t` for `source`.`shard`.`table`, routed to `db`.`tb`.
pub fn shard_info(
    source: &str,
    table: &str,
    ddls: Vec<String>,
    before: Option<Value>,
    after: Vec<Value>,
) -> Info {
    Info {
        task: "t".into(),
        source: source.into(),
        up_schema: "shard".into(),
        up_table: table.into(),
        down_schema: "db".into(),
        down_table: "tb".into(),
        ddls: Some(ddls),
        table_info_before: before.map(Into::into),
        table_info_after: Some(after.into_iter().map(Into::into).collect()),
        ignore_conflict: false,
    }
}

/// The SourceTables of `source` in task `t`: each (schema, table) routed
/// to `db`.`down_table`.
fn source_tables(source: &str, tables: &[(&str, &str, &str)]) -> SourceTables {
    let mut st = SourceTables::new("t", source);
    for (schema, table, down_table) in tables {
        st.add_table(schema, table, "db", down_table);
    }
    st
}

/// Asserts that `result` is a conflict (an `error` Operation) whose message
/// contains `needle`.
fn expect_conflict(result: dm_worker::Result<Answer>, needle: &str) {
    match result {
        Err(dm_worker::Error::Conflict { message, .. }) => {
            assert!(message.contains(needle), "{message}")
        }
        other => panic!("expected an error stage ({needle}), got {other:?}"),
    }
}

/// [`shard_info`] of a single DDL, from `before` to `after`.
pub fn one_ddl_info(source: &str, table: &str, ddl: &str, before: &Value, after: Value) -> Info {
    shard_info(
        source,
        table,
        vec![ddl.into()],
        Some(before.clone()),
        vec![after],
    )
}

struct Env {
    etcd: Etcd,
    space: KeySpace,
    /// Every event of the test's keys; checked when the test stops.
    history: History,
    master: Option<TestMaster>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
}

impl Env {
    /// A task `t` whose sources each route `shard.t1`, `shard.t2` to `db.tb`.
    async fn new(name: &str, sources: &[&str]) -> Env {
        let space = unique_space(name);
        let etcd = EtcdServer::shared().client().await;
        let history = History::record(&etcd, &space).await;
        for source in sources {
            let cfg = SubTaskConfig {
                name: "t".into(),
                source_id: (*source).into(),
                is_sharding: true,
                shard_mode: "optimistic".into(),
                route_rules: vec![],
            };
            etcd.put(space.key(&UPSTREAM_SUBTASK, [source, "t"]), cfg.to_toml())
                .await
                .unwrap();
            let st = source_tables(source, &[("shard", "t1", "tb"), ("shard", "t2", "tb")]);
            ops::put_source_tables(&etcd, &space, &st).await.unwrap();
        }
        let mut env = Env {
            history,
            etcd,
            space,
            master: None,
            metrics: Arc::new(Metrics::new()),
            cancel: CancellationToken::new(),
        };
        env.start_master().await;
        env
    }

    async fn start_master(&mut self) {
        let master = TestMaster::builder(&self.space)
            .metrics(self.metrics.clone())
            .lead(WAIT)
            .await;
        self.master = Some(master);
    }

    async fn restart_master(&mut self) {
        if let Some(m) = self.master.take() {
            m.stop().await;
        }
        self.start_master().await;
    }

    async fn optimist(&self) -> OptimistHandle {
        let master = self.master.as_ref().expect("a running master");
        master.optimist().await.expect("master leads")
    }

    fn client(&self, source: &str) -> OptimistClient {
        OptimistClient::new(self.etcd.clone(), self.space.clone(), "t", source)
    }

    /// Puts an Info for `source`.`shard`.`table` and waits for the answer.
    async fn ddl(
        &self,
        source: &str,
        table: &str,
        ddls: &[&str],
        before: Value,
        after: Vec<Value>,
    ) -> dm_worker::Result<Answer> {
        let c = self.client(source);
        let info = shard_info(
            source,
            table,
            ddls.iter().map(|d| d.to_string()).collect(),
            Some(before),
            after,
        );
        let rev = c.put_info(&info).await.unwrap();
        let key = TableKey::new(source, "shard", table);
        tokio::time::timeout(WAIT, c.wait_answer(&key, rev, &self.cancel))
            .await
            .expect("answered in time")
    }

    /// Executes an answer (nothing to run here) and reports done.
    async fn done(&self, source: &str, answer: &Answer) -> Vec<String> {
        let Answer::Execute(op) = answer else {
            panic!("expected an execute answer, got {answer:?}");
        };
        self.client(source).done(op).await.unwrap();
        op.ddls.clone().unwrap_or_default()
    }

    /// Puts an Info, executes its answer and reports done; returns the
    /// DDLs executed.
    async fn ddl_done(
        &self,
        source: &str,
        table: &str,
        ddls: &[&str],
        before: &Value,
        after: &Value,
    ) -> Vec<String> {
        let answer = self
            .ddl(source, table, ddls, before.clone(), vec![after.clone()])
            .await
            .unwrap();
        self.done(source, &answer).await
    }

    /// Puts `source`'s SourceTables: each (schema, table) routed to
    /// `db`.`down_table`.
    async fn put_source_tables(&self, source: &str, tables: &[(&str, &str, &str)]) -> SourceTables {
        let st = source_tables(source, tables);
        ops::put_source_tables(&self.etcd, &self.space, &st)
            .await
            .unwrap();
        st
    }

    /// Whether the optimist's locks come to satisfy `cond` in time.
    async fn locks_come_to(&self, cond: impl Fn(&[LockView]) -> bool) -> bool {
        let optimist = self.optimist().await;
        wait_until(WAIT, || async {
            cond(&optimist.show_locks(None, &[]).await.unwrap())
        })
        .await
    }

    async fn keys_under(&self, prefix: String) -> usize {
        self.etcd.get_prefix(&prefix).await.unwrap().value.len()
    }

    async fn lock_keys(&self) -> usize {
        let info = self
            .keys_under(self.space.prefix(&dm_master::keys::OPTIMISM_INFO, &[]))
            .await;
        let op = self
            .keys_under(self.space.prefix(&dm_master::keys::OPTIMISM_OPERATION, &[]))
            .await;
        info + op
    }

    /// The end of a test whose locks all resolve: every optimistic Info
    /// and Operation key goes, then [`Env::stop`].
    async fn stop_when_resolved(self) {
        assert!(
            wait_until(WAIT, || async { self.lock_keys().await == 0 }).await,
            "optimistic keys are left"
        );
        self.stop().await;
    }

    /// Stops the master and checks the invariants over the test's whole
    /// history.
    async fn stop(mut self) {
        if let Some(m) = self.master.take() {
            m.stop().await;
        }
        self.history.check_done_is_final().await;
    }
}

const ADD_C2: &str = "ALTER TABLE `db`.`tb` ADD COLUMN `c2` INT";
/// Two tables adding the same column with types that do not join: a
/// conflict.
pub const ADD_C3_TEXT: &str = "ALTER TABLE `db`.`tb` ADD COLUMN `c3` TEXT";
pub const ADD_C3_DATETIME: &str = "ALTER TABLE `db`.`tb` ADD COLUMN `c3` DATETIME";

/// The schemas before and after [`ADD_C2`].
fn before_and_after_add_c2() -> (Value, Value) {
    (schema(&[]), schema(&[("c2", FieldType::int())]))
}

#[tokio::test]
async fn add_column_across_two_sources_and_two_tables() {
    let env = Env::new("opt-add", &["s1", "s2"]).await;
    let (before, after) = before_and_after_add_c2();
    for source in ["s1", "s2"] {
        for table in ["t1", "t2"] {
            // A DDL that makes the table larger goes to every table.
            assert_eq!(
                env.ddl_done(source, table, &[ADD_C2], &before, &after)
                    .await,
                vec![ADD_C2.to_string()]
            );
        }
    }
    assert!(
        wait_until(WAIT, || async { env.lock_keys().await == 0 }).await,
        "lock resolved and its keys deleted"
    );
    assert!(env.locks_come_to(|locks| locks.is_empty()).await);
    env.stop().await;
}

#[tokio::test]
async fn drop_column_partially_then_fully() {
    let env = Env::new("opt-drop", &["s1", "s2"]).await;
    let before = schema(&[("c1", FieldType::int())]);
    let after = schema(&[]);
    let drop = "ALTER TABLE `db`.`tb` DROP COLUMN `c1`";
    let order = [("s1", "t1"), ("s1", "t2"), ("s2", "t1"), ("s2", "t2")];
    let dropped_prefix = env.space.prefix(&OPTIMISM_DROPPED_COLUMNS, &[]);
    for (i, (source, table)) in order.into_iter().enumerate() {
        let answer = env
            .ddl(source, table, &[drop], before.clone(), vec![after.clone()])
            .await
            .unwrap();
        let Answer::Execute(op) = &answer else {
            panic!("{answer:?}")
        };
        assert_eq!(op.cols, Some(vec!["c1".to_string()]));
        let executed = env.done(source, &answer).await;
        if i < 3 {
            // A DDL that shrinks the table waits for the last table.
            assert!(executed.is_empty(), "{executed:?}");
            assert!(
                env.keys_under(dropped_prefix.clone()).await > 0,
                "c1 is partially dropped"
            );
        } else {
            assert_eq!(executed, vec![drop.to_string()]);
        }
    }
    assert!(wait_until(WAIT, || async { env.lock_keys().await == 0 }).await);
    assert!(
        wait_until(WAIT, || async {
            env.keys_under(dropped_prefix.clone()).await == 0
        })
        .await,
        "fully dropped columns are forgotten"
    );
    env.stop().await;
}

#[tokio::test]
async fn tables_added_and_dropped_through_source_tables_mid_lock() {
    let env = Env::new("opt-tables", &["s1"]).await;
    let (before, after) = before_and_after_add_c2();
    env.ddl_done("s1", "t1", &[ADD_C2], &before, &after).await;
    // A third table appears, then t2 is dropped upstream.
    let mut st = env
        .put_source_tables(
            "s1",
            &[
                ("shard", "t1", "tb"),
                ("shard", "t2", "tb"),
                ("shard", "t3", "tb"),
            ],
        )
        .await;
    assert!(
        env.locks_come_to(|locks| {
            locks.len() == 1 && locks[0].unsynced.iter().any(|t| t.contains("t3"))
        })
        .await,
        "the new table joins the lock"
    );
    st.remove_table("shard", "t2", "db", "tb");
    ops::put_source_tables(&env.etcd, &env.space, &st)
        .await
        .unwrap();
    assert!(
        env.locks_come_to(|locks| {
            locks.len() == 1
                && !locks[0]
                    .synced
                    .iter()
                    .chain(&locks[0].unsynced)
                    .any(|t| t.contains("t2"))
        })
        .await,
        "the dropped table leaves the lock"
    );
    env.ddl_done("s1", "t3", &[ADD_C2], &before, &after).await;
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn two_downstream_targets_in_one_task() {
    let env = Env::new("opt-two-targets", &["s1"]).await;
    env.put_source_tables(
        "s1",
        &[
            ("shard", "t1", "tb"),
            ("shard", "t2", "tb"),
            ("other", "o1", "tb2"),
        ],
    )
    .await;
    let (before, after) = before_and_after_add_c2();
    env.ddl_done("s1", "t1", &[ADD_C2], &before, &after).await;
    let c = env.client("s1");
    let info = Info {
        task: "t".into(),
        source: "s1".into(),
        up_schema: "other".into(),
        up_table: "o1".into(),
        down_schema: "db".into(),
        down_table: "tb2".into(),
        ddls: Some(vec!["ALTER TABLE `db`.`tb2` ADD COLUMN `x` INT".into()]),
        table_info_before: Some(before.clone().into()),
        table_info_after: Some(vec![schema(&[("x", FieldType::int())]).into()]),
        ignore_conflict: false,
    };
    let rev = c.put_info(&info).await.unwrap();
    let key = TableKey::new("s1", "other", "o1");
    let answer = c.wait_answer(&key, rev, &env.cancel).await.unwrap();
    let Answer::Execute(op) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(op.id, "t-`db`.`tb2`");
    c.done(op).await.unwrap();
    // tb2's single-table lock resolves; tb's waits for t2.
    assert!(
        env.locks_come_to(|locks| locks.len() == 1 && locks[0].id == "t-`db`.`tb`")
            .await,
        "{:?}",
        env.optimist().await.show_locks(None, &[]).await.unwrap()
    );

    env.ddl_done("s1", "t2", &[ADD_C2], &before, &after).await;
    env.stop_when_resolved().await;
}

/// A worker PUTs the same Info twice (a client retry) and marks its
/// Operation done in the revision of the duplicate: the master reads the
/// duplicate while etcd already holds the done, and must not answer it
/// again (the history check in `Env::stop` fails on any undone re-issue).
#[tokio::test]
async fn a_duplicate_info_read_after_the_done_is_not_answered_again() {
    let env = Env::new("opt-dup", &["s1", "s2"]).await;
    let (before, after) = before_and_after_add_c2();
    let answer = env
        .ddl("s1", "t1", &[ADD_C2], before.clone(), vec![after.clone()])
        .await
        .unwrap();
    let Answer::Execute(op) = &answer else {
        panic!("expected an execute answer, got {answer:?}");
    };
    let info = one_ddl_info("s1", "t1", ADD_C2, &before, after.clone());
    let mut done = op.clone();
    done.done = true;
    let key = TableKey::new("s1", "shard", "t1");
    env.etcd
        .txn(Txn::new("duplicate info and done").then([
            Op::put(ops::info_key(&env.space, "t", &key), info.encode()),
            Op::put(ops::operation_key(&env.space, "t", &key), done.encode()),
        ]))
        .await
        .unwrap();
    // The other tables go through; the lock resolves.
    for (source, table) in [("s1", "t2"), ("s2", "t1"), ("s2", "t2")] {
        env.ddl_done(source, table, &[ADD_C2], &before, &after)
            .await;
    }
    assert!(
        wait_until(WAIT, || async { env.lock_keys().await == 0 }).await,
        "lock resolved and its keys deleted"
    );
    env.stop().await;
}

/// A source leaving the task mid-lock (its SourceTables deleted, as DM's
/// stop-task of one source does): its tables leave the lock, which then
/// resolves with the remaining source's tables (DM's behaviour, kept).
#[tokio::test]
async fn a_source_leaving_mid_lock_takes_its_tables_out_and_the_lock_resolves() {
    let env = Env::new("opt-source-left", &["s1", "s2"]).await;
    let (before, after) = before_and_after_add_c2();
    for table in ["t1", "t2"] {
        env.ddl_done("s1", table, &[ADD_C2], &before, &after).await;
    }
    assert!(
        env.locks_come_to(|locks| {
            locks.len() == 1 && locks[0].unsynced.iter().any(|t| t.contains("s2"))
        })
        .await,
        "the lock waits for s2"
    );
    env.etcd
        .txn(Txn::new("stop-task on s2").then([
            Op::delete(env.space.key(&UPSTREAM_SUBTASK, ["s2", "t"])),
            Op::delete(env.space.key(&OPTIMISM_SOURCE_TABLES, ["t", "s2"])),
        ]))
        .await
        .unwrap();
    assert!(
        wait_until(WAIT, || async { env.lock_keys().await == 0 }).await,
        "the lock resolves without s2 and its keys are deleted"
    );
    assert!(env
        .optimist()
        .await
        .show_locks(None, &[])
        .await
        .unwrap()
        .is_empty());
    env.stop().await;
}
