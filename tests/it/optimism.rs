//! Optimistic coordination end to end: a real etcd, the master in-process,
//! and worker clients from the `dm-worker` crate speaking DM's keys.

use std::sync::Arc;
use std::time::Duration;

use dm_master::coordinator::optimist::OptimistHandle;
use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::{
    KeySpace, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_SOURCE_TABLES, UPSTREAM_SUBTASK,
};
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

const WAIT: Duration = Duration::from_secs(15);

/// A table schema `tb(id INT PRIMARY KEY, <cols>)` as TiDB JSON.
fn schema(cols: &[(&str, FieldType)]) -> Value {
    let mut t =
        TableInfo::new("tb").with_column(ColumnInfo::new("id", FieldType::int()).not_null());
    for (name, ft) in cols {
        t = t.with_column(ColumnInfo::new(name, ft.clone()));
    }
    t.with_index(IndexInfo::primary(&["id"])).to_json_value()
}

/// An Info of task `t` for `source`.`shard`.`table`, routed to `db`.`tb`.
fn shard_info(
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
            let mut st = SourceTables::new("t", *source);
            st.add_table("shard", "t1", "db", "tb");
            st.add_table("shard", "t2", "db", "tb");
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

    /// Stops the master and checks the invariants over the test's whole
    /// history.
    /// The end of a test whose locks all resolve: every optimistic Info
    /// and Operation key goes, then [`Env::stop`].
    async fn stop_when_resolved(self) {
        assert!(
            wait_until(WAIT, || async { self.lock_keys().await == 0 }).await,
            "optimistic keys are left"
        );
        self.stop().await;
    }

    async fn stop(mut self) {
        if let Some(m) = self.master.take() {
            m.stop().await;
        }
        self.history.check_done_is_final().await;
    }
}

const ADD_C2: &str = "ALTER TABLE `db`.`tb` ADD COLUMN `c2` INT";

#[tokio::test]
async fn add_column_across_two_sources_and_two_tables() {
    let env = Env::new("opt-add", &["s1", "s2"]).await;
    let before = schema(&[]);
    let after = schema(&[("c2", FieldType::int())]);
    for source in ["s1", "s2"] {
        for table in ["t1", "t2"] {
            let answer = env
                .ddl(
                    source,
                    table,
                    &[ADD_C2],
                    before.clone(),
                    vec![after.clone()],
                )
                .await
                .unwrap();
            // A DDL that makes the table larger goes to every table.
            assert_eq!(env.done(source, &answer).await, vec![ADD_C2.to_string()]);
        }
    }
    assert!(
        wait_until(WAIT, || async { env.lock_keys().await == 0 }).await,
        "lock resolved and its keys deleted"
    );
    let optimist = env.optimist().await;
    assert!(
        wait_until(WAIT, || async {
            optimist.show_locks(None, &[]).await.unwrap().is_empty()
        })
        .await
    );
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
async fn re_adding_a_partially_dropped_column_is_refused_also_after_a_restart() {
    let mut env = Env::new("opt-readd", &["s1"]).await;
    let with_c1 = schema(&[("c1", FieldType::int())]);
    let without = schema(&[]);
    let answer = env
        .ddl(
            "s1",
            "t1",
            &["ALTER TABLE `db`.`tb` DROP COLUMN `c1`"],
            with_c1.clone(),
            vec![without.clone()],
        )
        .await
        .unwrap();
    env.done("s1", &answer).await;
    let add = "ALTER TABLE `db`.`tb` ADD COLUMN `c1` INT";
    let refused = env
        .ddl("s1", "t1", &[add], without.clone(), vec![with_c1.clone()])
        .await;
    match refused {
        Err(dm_worker::Error::Conflict { message, .. }) => {
            assert!(message.contains("wasn't fully dropped"), "{message}")
        }
        other => panic!("expected an error stage, got {other:?}"),
    }
    // The master forgets nothing across a restart: the dropped-column record
    // is read back and the same re-add is refused again.
    env.restart_master().await;
    let refused = env.ddl("s1", "t1", &[add], without, vec![with_c1]).await;
    match refused {
        Err(dm_worker::Error::Conflict { message, .. }) => {
            assert!(message.contains("wasn't fully dropped"), "{message}")
        }
        other => panic!("expected an error stage after restart, got {other:?}"),
    }
    env.stop().await;
}

#[tokio::test]
async fn rename_conflict_waits_for_redirect_then_resolves() {
    let env = Env::new("opt-rename", &["s1"]).await;
    let before = schema(&[("c1", FieldType::int())]);
    let after = schema(&[("c2", FieldType::int())]);
    let rename = "ALTER TABLE `db`.`tb` RENAME COLUMN `c1` TO `c2`";
    let first = env
        .ddl("s1", "t1", &[rename], before.clone(), vec![after.clone()])
        .await
        .unwrap();
    let Answer::SkipAndWaitRedirect(op) = &first else {
        panic!("{first:?}")
    };
    assert_eq!(op.conflict_stage, ConflictStage::SkipWaitRedirect);
    let c1 = env.client("s1");
    let key1 = TableKey::new("s1", "shard", "t1");
    let from = c1.operation_revision(&key1).await.unwrap();
    let redirect = {
        let c1 = c1.clone();
        let cancel = env.cancel.clone();
        tokio::spawn(async move { c1.wait_redirect(&key1, from, &cancel).await })
    };
    // The lock shows t1 blocked.
    let optimist = env.optimist().await;
    let locks = optimist.show_locks(Some("t"), &[]).await.unwrap();
    assert_eq!(locks.len(), 1);
    assert!(
        locks[0].unsynced.iter().any(|t| t.contains("t1")),
        "{locks:?}"
    );

    // The other table does the same rename: the conflict resolves, t2
    // executes it and t1 is redirected.
    let second = env
        .ddl("s1", "t2", &[rename], before.clone(), vec![after.clone()])
        .await
        .unwrap();
    assert_eq!(env.done("s1", &second).await, vec![rename.to_string()]);
    let redirected = tokio::time::timeout(WAIT, redirect)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(redirected.conflict_stage, ConflictStage::Resolved);
    // t1 replays its DDL after the redirect and is answered.
    let replay = env
        .ddl("s1", "t1", &[rename], before, vec![after])
        .await
        .unwrap();
    env.done("s1", &replay).await;
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn a_detected_conflict_is_re_evaluated_when_the_other_table_changes() {
    let env = Env::new("opt-detected", &["s1"]).await;
    let base = schema(&[]);
    let text = schema(&[("c3", FieldType::text())]);
    let datetime = schema(&[("c3", FieldType::datetime(0))]);
    let a1 = env
        .ddl(
            "s1",
            "t1",
            &["ALTER TABLE `db`.`tb` ADD COLUMN `c3` TEXT"],
            base.clone(),
            vec![text.clone()],
        )
        .await
        .unwrap();
    env.done("s1", &a1).await;
    // t2 adds the same column with another type: detected, it waits.
    let c2 = env.client("s1");
    let info2 = shard_info(
        "s1",
        "t2",
        vec!["ALTER TABLE `db`.`tb` ADD COLUMN `c3` DATETIME".into()],
        Some(base.clone()),
        vec![datetime],
    );
    let rev = c2.put_info(&info2).await.unwrap();
    let key2 = TableKey::new("s1", "shard", "t2");
    let waiting = {
        let c2 = c2.clone();
        let key2 = key2.clone();
        let cancel = env.cancel.clone();
        tokio::spawn(async move { c2.wait_answer(&key2, rev, &cancel).await })
    };
    let optimist = env.optimist().await;
    assert!(
        wait_until(WAIT, || async {
            optimist
                .show_locks(None, &[])
                .await
                .unwrap()
                .iter()
                .any(|l| l.owner.contains("t2"))
        })
        .await,
        "the detected table is shown as the lock's owner"
    );
    assert!(!waiting.is_finished(), "a detected table keeps waiting");
    // t1 drops the column again: t2's DDL no longer conflicts, and it is
    // answered without re-sending its Info (DM needs a re-send, DM gap O6 in docs/dm-gaps.md).
    let a1 = env
        .ddl(
            "s1",
            "t1",
            &["ALTER TABLE `db`.`tb` DROP COLUMN `c3`"],
            text,
            vec![base],
        )
        .await
        .unwrap();
    env.done("s1", &a1).await;
    let answer = tokio::time::timeout(WAIT, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(answer, Answer::Execute(_)), "{answer:?}");
    env.stop().await;
}

#[tokio::test]
async fn tables_added_and_dropped_through_source_tables_mid_lock() {
    let env = Env::new("opt-tables", &["s1"]).await;
    let before = schema(&[]);
    let after = schema(&[("c2", FieldType::int())]);
    let a = env
        .ddl("s1", "t1", &[ADD_C2], before.clone(), vec![after.clone()])
        .await
        .unwrap();
    env.done("s1", &a).await;
    // A third table appears, then t2 is dropped upstream.
    let mut st = SourceTables::new("t", "s1");
    st.add_table("shard", "t1", "db", "tb");
    st.add_table("shard", "t2", "db", "tb");
    st.add_table("shard", "t3", "db", "tb");
    ops::put_source_tables(&env.etcd, &env.space, &st)
        .await
        .unwrap();
    let optimist = env.optimist().await;
    assert!(
        wait_until(WAIT, || async {
            let locks = optimist.show_locks(None, &[]).await.unwrap();
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
        wait_until(WAIT, || async {
            let locks = optimist.show_locks(None, &[]).await.unwrap();
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
    let a3 = env
        .ddl("s1", "t3", &[ADD_C2], before, vec![after])
        .await
        .unwrap();
    env.done("s1", &a3).await;
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn two_downstream_targets_in_one_task() {
    let env = Env::new("opt-two-targets", &["s1"]).await;
    let mut st = SourceTables::new("t", "s1");
    st.add_table("shard", "t1", "db", "tb");
    st.add_table("shard", "t2", "db", "tb");
    st.add_table("other", "o1", "db", "tb2");
    ops::put_source_tables(&env.etcd, &env.space, &st)
        .await
        .unwrap();
    let before = schema(&[]);
    let after = schema(&[("c2", FieldType::int())]);
    let a = env
        .ddl("s1", "t1", &[ADD_C2], before.clone(), vec![after.clone()])
        .await
        .unwrap();
    env.done("s1", &a).await;
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
    let optimist = env.optimist().await;
    // tb2's single-table lock resolves; tb's waits for t2.
    assert!(
        wait_until(WAIT, || async {
            let locks = optimist.show_locks(None, &[]).await.unwrap();
            locks.len() == 1 && locks[0].id == "t-`db`.`tb`"
        })
        .await,
        "{:?}",
        optimist.show_locks(None, &[]).await.unwrap()
    );

    let a2 = env
        .ddl("s1", "t2", &[ADD_C2], before, vec![after])
        .await
        .unwrap();
    env.done("s1", &a2).await;
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn master_restart_in_each_conflict_stage_rebuilds_the_same_locks_and_operations() {
    let mut env = Env::new("opt-restart", &["s1", "s2"]).await;
    let base = schema(&[("c1", FieldType::int())]);
    // s1.t1: skip and wait for redirect (rename); s2.t1: detected (type
    // clash with s1.t2's new column); s1.t2: none.
    let renamed = schema(&[("c9", FieldType::int())]);
    let skip = env
        .ddl(
            "s1",
            "t1",
            &["ALTER TABLE `db`.`tb` RENAME COLUMN `c1` TO `c9`"],
            base.clone(),
            vec![renamed],
        )
        .await
        .unwrap();
    assert!(matches!(skip, Answer::SkipAndWaitRedirect(_)));
    let with_text = schema(&[("c1", FieldType::int()), ("c3", FieldType::text())]);
    let a = env
        .ddl(
            "s1",
            "t2",
            &["ALTER TABLE `db`.`tb` ADD COLUMN `c3` TEXT"],
            base.clone(),
            vec![with_text],
        )
        .await
        .unwrap();
    env.done("s1", &a).await;
    let c = env.client("s2");
    let detected_info = shard_info(
        "s2",
        "t1",
        vec!["ALTER TABLE `db`.`tb` ADD COLUMN `c3` DATETIME".into()],
        Some(base.clone()),
        vec![schema(&[
            ("c1", FieldType::int()),
            ("c3", FieldType::datetime(0)),
        ])],
    );
    c.put_info(&detected_info).await.unwrap();
    let optimist = env.optimist().await;
    let (etcd, space) = (env.etcd.clone(), env.space.clone());
    let stages = || {
        let (etcd, space) = (etcd.clone(), space.clone());
        async move {
            let op_prefix = space.prefix(&dm_master::keys::OPTIMISM_OPERATION, &[]);
            let kvs = etcd.get_prefix(&op_prefix).await.unwrap().value;
            kvs.iter()
                .map(|kv| {
                    let op = dm_master::optimism::Operation::decode(&kv.value).unwrap();
                    (op.source, op.up_table, op.conflict_stage, op.ddls, op.done)
                })
                .collect::<Vec<_>>()
        }
    };
    assert!(
        wait_until(WAIT, || async {
            stages()
                .await
                .iter()
                .any(|s| s.2 == ConflictStage::Detected)
        })
        .await
    );
    let locks_before = optimist.show_locks(None, &[]).await.unwrap();
    let ops_before = stages().await;
    env.restart_master().await;
    let optimist = env.optimist().await;
    assert!(
        wait_until(WAIT, || async {
            optimist.show_locks(None, &[]).await.unwrap() == locks_before
        })
        .await,
        "the rebuilt locks equal the ones before: {locks_before:?} vs {:?}",
        optimist.show_locks(None, &[]).await.unwrap()
    );
    assert_eq!(
        stages().await,
        ops_before,
        "the rebuilt answers equal the ones before"
    );
    env.stop().await;
}

#[tokio::test]
async fn malformed_infos_get_an_error_stage_or_a_report_and_other_locks_go_on() {
    let env = Env::new("opt-malformed", &["s1"]).await;
    let c = env.client("s1");
    // Not JSON at all: reported (log + metric), nothing answered.
    let bad_key = ops::info_key(&env.space, "t", &TableKey::new("s1", "shard", "t1"));
    env.etcd.put(bad_key.as_str(), "{oops").await.unwrap();
    // No table-info-before: an `error` Operation (DM answers nothing, DM gap O17).
    let mut info = shard_info(
        "s1",
        "t2",
        vec![ADD_C2.into()],
        None,
        vec![schema(&[("c2", FieldType::int())])],
    );
    let key2 = TableKey::new("s1", "shard", "t2");
    let rev = c.put_info(&info).await.unwrap();
    match c.wait_answer(&key2, rev, &env.cancel).await {
        Err(dm_worker::Error::Conflict { message, .. }) => {
            assert!(message.contains("table-info-before not exist"), "{message}")
        }
        other => panic!("expected error stage, got {other:?}"),
    }
    // DDL / table-info count mismatch: an `error` Operation too.
    info.table_info_before = Some(schema(&[]).into());
    info.ddls = Some(vec![
        ADD_C2.into(),
        "ALTER TABLE `db`.`tb` ADD COLUMN `c3` INT".into(),
    ]);
    let rev = c.put_info(&info).await.unwrap();
    match c.wait_answer(&key2, rev, &env.cancel).await {
        Err(dm_worker::Error::Conflict { message, .. }) => {
            assert!(message.contains("inconsistent count"), "{message}")
        }
        other => panic!("expected error stage, got {other:?}"),
    }
    // A healthy Info of the same lock is still answered.
    info.ddls = Some(vec![ADD_C2.into()]);
    let rev = c.put_info(&info).await.unwrap();
    let answer = c.wait_answer(&key2, rev, &env.cancel).await.unwrap();
    assert!(matches!(answer, Answer::Execute(_)), "{answer:?}");
    assert!(
        env.metrics.render().contains(
            "dm_master_shard_ddl_error{task=\"t\",type=\"Watch - MalformedValueError\"} 1"
        ),
        "{}",
        env.metrics.render()
    );
    env.stop().await;
}

/// A worker PUTs the same Info twice (a client retry) and marks its
/// Operation done in the revision of the duplicate: the master reads the
/// duplicate while etcd already holds the done, and must not answer it
/// again (the history check in `Env::stop` fails on any undone re-issue).
#[tokio::test]
async fn a_duplicate_info_read_after_the_done_is_not_answered_again() {
    let env = Env::new("opt-dup", &["s1", "s2"]).await;
    let before = schema(&[]);
    let after = schema(&[("c2", FieldType::int())]);
    let answer = env
        .ddl("s1", "t1", &[ADD_C2], before.clone(), vec![after.clone()])
        .await
        .unwrap();
    let Answer::Execute(op) = &answer else {
        panic!("expected an execute answer, got {answer:?}");
    };
    let info = shard_info(
        "s1",
        "t1",
        vec![ADD_C2.to_string()],
        Some(before.clone()),
        vec![after.clone()],
    );
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
        let answer = env
            .ddl(
                source,
                table,
                &[ADD_C2],
                before.clone(),
                vec![after.clone()],
            )
            .await
            .unwrap();
        env.done(source, &answer).await;
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
    let before = schema(&[]);
    let after = schema(&[("c2", FieldType::int())]);
    for table in ["t1", "t2"] {
        let answer = env
            .ddl("s1", table, &[ADD_C2], before.clone(), vec![after.clone()])
            .await
            .unwrap();
        env.done("s1", &answer).await;
    }
    let optimist = env.optimist().await;
    let waits_for_s2 = || async {
        let locks = optimist.show_locks(None, &[]).await.unwrap();
        locks.len() == 1 && locks[0].unsynced.iter().any(|t| t.contains("s2"))
    };
    assert!(
        wait_until(WAIT, waits_for_s2).await,
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
    assert!(optimist.show_locks(None, &[]).await.unwrap().is_empty());
    env.stop().await;
}
