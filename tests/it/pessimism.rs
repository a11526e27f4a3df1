//! Pessimistic coordination end to end: a real etcd, the master in-process,
//! and worker clients from the `dm-worker` crate, observed through etcd keys.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::metrics::Metrics;
use dm_master::pessimism::ops;
use dm_master::server::Master;
use dm_master::task::SubTaskConfig;
use dm_worker::shardddl::pessimist::{Decision, PessimistClient};
use tokio_util::sync::CancellationToken;

use crate::history::History;
use crate::master::TestMaster;
use crate::support::{answered, put_ddl, unique_space, wait_until, EtcdServer};

const WAIT: Duration = Duration::from_secs(15);
const DDL: &str = "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c2` INT";

pub async fn register_task(etcd: &Etcd, space: &KeySpace, task: &str, sources: &[&str]) {
    for source in sources {
        let cfg = SubTaskConfig {
            name: task.into(),
            source_id: (*source).into(),
            is_sharding: true,
            shard_mode: "pessimistic".into(),
            route_rules: vec![],
        };
        etcd.put(space.key(&UPSTREAM_SUBTASK, [source, task]), cfg.to_toml())
            .await
            .unwrap();
    }
}

/// A test's own key space on the shared etcd with its event history, a
/// subtask of `task` on each of `sources`, and a master.
async fn setup(name: &str, task: &str, sources: &[&str]) -> (Etcd, KeySpace, History, TestMaster) {
    let space = unique_space(name);
    let etcd = EtcdServer::shared().client().await;
    let history = History::record(&etcd, &space).await;
    register_task(&etcd, &space, task, sources).await;
    let master = TestMaster::builder(&space).start().await;
    (etcd, space, history, master)
}

/// The end of a test whose locks all resolve: every pessimistic key goes,
/// then the master stops, and no done Operation was ever undone.
async fn stop_when_resolved(master: TestMaster, etcd: &Etcd, space: &KeySpace, history: &History) {
    assert!(
        wait_until(WAIT, || async { lock_keys(etcd, space).await == 0 }).await,
        "pessimistic keys are left"
    );
    master.stop().await;
    history.check_done_is_final().await;
}

async fn lock_keys(etcd: &Etcd, space: &KeySpace) -> usize {
    etcd.get_prefix(&ops::pessimism_prefix(space))
        .await
        .unwrap()
        .value
        .len()
}

type Log = Arc<Mutex<Vec<(String, Decision)>>>;

fn step(
    log: &Log,
    source: &str,
) -> impl FnOnce(Decision, &dm_master::pessimism::Operation) -> std::future::Ready<Result<(), String>>
{
    let log = log.clone();
    let source = source.to_owned();
    move |decision, _op| {
        log.lock().unwrap().push((source, decision));
        std::future::ready(Ok(()))
    }
}

#[tokio::test]
async fn dm_sequence_owner_executes_once_and_the_other_skips() {
    let sources = ["mysql-replica-01", "mysql-replica-02"];
    let (etcd, space, history, master) = setup("pess-seq", "test", &sources).await;
    let metrics = master.metrics.clone();
    let cancel = CancellationToken::new();
    let log: Log = Default::default();

    let mut joins = Vec::new();
    for source in sources {
        let client = PessimistClient::new(etcd.clone(), space.clone(), "test", source);
        let info = client.info("shard_db", "shard_table", vec![DDL.into()]);
        let log = log.clone();
        let cancel = cancel.clone();
        joins.push(tokio::spawn(async move {
            client.sync_ddl(&info, &cancel, step(&log, source)).await
        }));
        if source == "mysql-replica-01" {
            // Make the owner deterministic.
            wait_synced(&master, source).await;
        }
    }
    for j in joins {
        let (op, _) = tokio::time::timeout(WAIT, j)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(op.id, "test-`shard_db`.`shard_table`");
        assert_eq!(op.ddls, Some(vec![DDL.to_string()]));
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    let executed: Vec<_> = log
        .iter()
        .filter(|(_, d)| *d == Decision::Execute)
        .collect();
    assert_eq!(executed.len(), 1, "exactly one source executes: {log:?}");
    assert_eq!(executed[0].0, "mysql-replica-01");
    assert!(
        wait_until(WAIT, || async { lock_keys(&etcd, &space).await == 0 }).await,
        "every key of the lock is deleted"
    );
    assert!(wait_until(WAIT, || async { shown(&master).await.is_none() }).await);
    let text = metrics.render();
    assert!(!text.contains("dm_master_ddl_state_number{"), "{text}");
    assert!(!text.contains("dm_master_shard_ddl_error{"), "{text}");
    master.stop().await;
    history.check_done_is_final().await;
}

/// Drives two sources by hand, restarting the master at `restart_at`
/// (0..=7, the points between the protocol steps).
async fn run_with_restart(restart_at: usize) {
    let name = format!("pess-restart-{restart_at}");
    let (etcd, space, history, mut master) = setup(&name, "t", &["s1", "s2"]).await;
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let i1 = c1.info("db", "tb", vec![DDL.into()]);
    let i2 = c2.info("db", "tb", vec![DDL.into()]);
    let mut point = 0;
    macro_rules! maybe_restart {
        () => {
            if point == restart_at {
                master.stop().await;
                master = TestMaster::builder(&space).start().await;
            }
            point += 1;
        };
    }

    maybe_restart!(); // 0: before anything
    let r1 = c1.put_info(&i1, &cancel).await.unwrap();
    maybe_restart!(); // 1: after s1's Info
    wait_synced(&master, "s1").await;
    let r2 = c2.put_info(&i2, &cancel).await.unwrap();
    maybe_restart!(); // 2: after s2's Info (lock synced)
    let op1 = answered(&c1, r1, &cancel, WAIT).await;
    assert!(op1.exec, "s1 created the lock and owns it");
    maybe_restart!(); // 3: owner received exec
                      // Owner executes here.
    maybe_restart!(); // 4: owner executed, done not yet reported
    c1.done(&op1).await.unwrap();
    maybe_restart!(); // 5: owner done
    let op2 = answered(&c2, r2, &cancel, WAIT).await;
    assert!(!op2.exec, "the non-owner skips");
    maybe_restart!(); // 6: non-owner received skip
    c2.done(&op2).await.unwrap();
    maybe_restart!(); // 7: everyone done, lock resolving
    let _ = point;
    assert!(
        wait_until(WAIT, || async { lock_keys(&etcd, &space).await == 0 }).await,
        "restart at point {restart_at}: the lock resolves and its keys are deleted"
    );
    // The next DDL of s1 can go through (no orphan done operation blocks it).
    let again = c1.info(
        "db",
        "tb",
        vec!["ALTER TABLE `db`.`tb` ADD COLUMN c3 INT".into()],
    );
    let r = tokio::time::timeout(WAIT, c1.put_info(&again, &cancel))
        .await
        .expect("the next info is not blocked")
        .unwrap();
    assert!(r > 0);
    master.stop().await;
    history.check_done_is_final().await;
}

#[tokio::test]
async fn master_restart_at_every_step_still_resolves_the_lock() {
    let runs = (0..8).map(|at| tokio::spawn(run_with_restart(at)));
    for r in runs {
        r.await.unwrap();
    }
}

#[tokio::test]
async fn worker_restart_before_done_gets_its_operation_again() {
    // A worker that crashed after receiving (or executing) its Operation
    // re-runs the flow: its re-put Info is answered again (re-entrancy rules
    // for steps 6-8).
    let (etcd, space, history, master) = setup("pess-worker-restart", "t", &["s1", "s2"]).await;
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let i1 = c1.info("db", "tb", vec![DDL.into()]);
    let i2 = c2.info("db", "tb", vec![DDL.into()]);
    let r1 = c1.put_info(&i1, &cancel).await.unwrap();
    wait_synced(&master, "s1").await;
    c2.put_info(&i2, &cancel).await.unwrap();
    let first = answered(&c1, r1, &cancel, WAIT).await;
    assert!(first.exec);
    // Crash here; on restart the worker re-puts its Info.
    let r1b = c1.put_info(&i1, &cancel).await.unwrap();
    let again = answered(&c1, r1b, &cancel, WAIT).await;
    assert_eq!(again, first, "the same exec operation is sent again");
    c1.done(&again).await.unwrap();
    // After step 8, a re-run does not re-put the Info while the lock lasts.
    let (_, put) = ops::put_info_if_op_not_done(&etcd, &space, &i1)
        .await
        .unwrap();
    assert!(!put, "an info is not put over a done operation");
    let (op2, d2) = tokio::time::timeout(
        WAIT,
        c2.sync_ddl(&i2, &cancel, |_, _| std::future::ready(Ok(()))),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!op2.exec);
    assert_eq!(d2, Decision::Skip);
    stop_when_resolved(master, &etcd, &space, &history).await;
}

#[tokio::test]
async fn malformed_info_next_to_a_healthy_lock_is_reported_and_skipped() {
    let space = unique_space("pess-malformed");
    let etcd = EtcdServer::shared().client().await;
    let history = History::record(&etcd, &space).await;
    register_task(&etcd, &space, "t", &["s1", "s2"]).await;
    register_task(&etcd, &space, "bad", &["s1"]).await;
    // Garbage under the bad task's Info key, present before the master starts
    // and written again while it runs.
    let bad_key = ops::info_key(&space, "bad", "s1");
    etcd.put(bad_key.as_str(), "{not json").await.unwrap();
    let master = TestMaster::builder(&space).start().await;
    let metrics = master.metrics.clone();
    let snapshot_counted = wait_until(WAIT, || async {
        metrics
            .render()
            .contains("type=\"Watch - MalformedValueError\"} 1")
    })
    .await;
    assert!(snapshot_counted, "{}", metrics.render());
    etcd.put(bad_key.as_str(), "[1,2,3]").await.unwrap();
    let cancel = CancellationToken::new();
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for source in ["s1", "s2"] {
        let client = PessimistClient::new(etcd.clone(), space.clone(), "t", source);
        let info = client.info("db", "tb", vec![DDL.into()]);
        let log = log.clone();
        let cancel = cancel.clone();
        joins.push(tokio::spawn(async move {
            client.sync_ddl(&info, &cancel, step(&log, source)).await
        }));
    }
    for j in joins {
        tokio::time::timeout(WAIT, j)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    assert_eq!(log.lock().unwrap().len(), 2);
    // Both bad values (the one in the snapshot, the one watched) are counted.
    let counted = wait_until(WAIT, || async {
        metrics.render().contains(
            "dm_master_shard_ddl_error{task=\"bad\",type=\"Watch - MalformedValueError\"} 2",
        )
    })
    .await;
    assert!(counted, "{}", metrics.render());
    master.stop().await;
    history.check_done_is_final().await;
}

#[tokio::test]
async fn ddl_mismatch_blocks_the_lock_and_unlock_resolves_it() {
    let (etcd, space, history, master) = setup("pess-mismatch", "t", &["s1", "s2"]).await;
    let metrics = master.metrics.clone();
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let r1 = put_ddl(&c1, DDL, &cancel).await;
    wait_synced(&master, "s1").await;
    c2.put_info(
        &c2.info(
            "db",
            "tb",
            vec!["ALTER TABLE `db`.`tb` DROP COLUMN c1".into()],
        ),
        &cancel,
    )
    .await
    .unwrap();
    assert!(
        wait_until(WAIT, || async {
            metrics
                .render()
                .contains("type=\"InfoPut - SyncLockError\"} 1")
        })
        .await
    );
    let locks = master
        .pessimist()
        .await
        .expect("master leads")
        .show_locks(Some("t"), &[])
        .await
        .unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0].synced, vec!["s1"]);
    assert_eq!(locks[0].unsynced, vec!["s2"]);
    assert!(metrics
        .render()
        .contains("dm_master_ddl_state_number{task=\"t\",type=\"Un-synced\"} 1"));

    // Unlock while s2 never synced: the owner executes, the lock goes away.
    let id = locks[0].id.clone();
    let unlock = {
        let handle = master.pessimist().await.expect("master leads").clone();
        tokio::spawn(async move { handle.unlock_lock(&id, None, false).await })
    };
    let op = answered(&c1, r1, &cancel, WAIT).await;
    assert!(op.exec);
    c1.done(&op).await.unwrap();
    tokio::time::timeout(WAIT, unlock)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(shown(&master).await.is_none(), "no lock is left");
    assert!(wait_until(WAIT, || async { lock_keys(&etcd, &space).await == 0 }).await);
    assert!(!metrics.render().contains("dm_master_ddl_state_number{"));
    master.stop().await;
    history.check_done_is_final().await;
}

#[tokio::test]
async fn unlock_with_force_remove_and_errors() {
    let (etcd, space, history, master) = setup("pess-unlock", "t", &["s1", "s2"]).await;
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    put_ddl(&c1, DDL, &cancel).await;
    let id = "t-`db`.`tb`";
    assert!(wait_until(WAIT, || async { shown(&master).await.is_some() }).await);
    let err = master
        .pessimist()
        .await
        .expect("master leads")
        .unlock_lock("t-`x`.`y`", None, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 38019);
    let err = master
        .pessimist()
        .await
        .expect("master leads")
        .unlock_lock(id, Some("s2"), false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 38022, "{err}");
    // The owner never executes; force-remove drops the lock anyway.
    master
        .pessimist()
        .await
        .expect("master leads")
        .unlock_lock(id, None, true)
        .await
        .unwrap();
    assert!(shown(&master).await.is_none(), "no lock is left");
    stop_when_resolved(master, &etcd, &space, &history).await;
}

#[tokio::test]
async fn info_of_an_unknown_task_waits_for_the_task() {
    let space = unique_space("pess-unknown");
    let etcd = EtcdServer::shared().client().await;
    let history = History::record(&etcd, &space).await;
    let master = TestMaster::builder(&space).start().await;
    let metrics = master.metrics.clone();
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "late", "s1");
    let info = c1.info("db", "tb", vec![DDL.into()]);
    let log: Log = Default::default();
    let job = {
        let log = log.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { c1.sync_ddl(&info, &cancel, step(&log, "s1")).await })
    };
    assert!(
        wait_until(WAIT, || async {
            metrics
                .render()
                .contains("type=\"InfoPut - UnknownTaskError\"")
        })
        .await
    );
    assert!(
        log.lock().unwrap().is_empty(),
        "nothing executes for an unknown task"
    );
    // The task appears: the waiting Info is answered.
    register_task(&etcd, &space, "late", &["s1"]).await;
    let (op, decision) = tokio::time::timeout(WAIT, job)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(op.exec);
    assert_eq!(decision, Decision::Execute);
    master.stop().await;
    history.check_done_is_final().await;
}

#[tokio::test]
async fn lock_of_300_sources_resolves_past_the_txn_limit() {
    let sources: Vec<String> = (0..300).map(|i| format!("s{i:04}")).collect();
    let names: Vec<&str> = sources.iter().map(String::as_str).collect();
    let (etcd, space, history, master) = setup("pess-1000", "big", &names).await;
    let cancel = CancellationToken::new();
    let mut joins = Vec::new();
    for s in &sources {
        let c = PessimistClient::new(etcd.clone(), space.clone(), "big", s);
        let info = c.info("db", "tb", vec![DDL.into()]);
        let cancel = cancel.clone();
        joins.push(tokio::spawn(async move {
            c.sync_ddl(&info, &cancel, |_, _| std::future::ready(Ok(())))
                .await
        }));
    }
    let mut exec = 0;
    for j in joins {
        let (op, _) = tokio::time::timeout(Duration::from_secs(60), j)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        exec += usize::from(op.exec);
    }
    assert_eq!(exec, 1);
    stop_when_resolved(master, &etcd, &space, &history).await;
}

#[tokio::test]
async fn two_ddls_back_to_back_on_the_same_table() {
    // dm#628 / dm#1253: the second DDL's Info of a source must wait until
    // the first lock is fully resolved, then form a fresh lock.
    let (etcd, space, history, master) = setup("pess-back-to-back", "t", &["s1", "s2"]).await;
    let cancel = CancellationToken::new();
    let ddls = [
        "ALTER TABLE `db`.`tb` ADD COLUMN c2 INT",
        "ALTER TABLE `db`.`tb` ADD COLUMN c3 INT",
    ];
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for source in ["s1", "s2"] {
        if source == "s2" {
            // s2 starts once s1's first Info is seen, so s1 owns the first lock.
            wait_synced(&master, "s1").await;
        }
        let client = PessimistClient::new(etcd.clone(), space.clone(), "t", source);
        let log = log.clone();
        let cancel = cancel.clone();
        joins.push(tokio::spawn(async move {
            let mut decisions = Vec::new();
            for ddl in ddls {
                let info = client.info("db", "tb", vec![ddl.into()]);
                let (op, d) = client.sync_ddl(&info, &cancel, step(&log, source)).await?;
                assert_eq!(op.ddls, Some(vec![ddl.to_string()]));
                decisions.push(d);
            }
            Ok::<_, dm_worker::Error>(decisions)
        }));
    }
    let mut executes = [0, 0];
    for j in joins {
        let decisions = tokio::time::timeout(WAIT, j)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        for (i, d) in decisions.into_iter().enumerate() {
            executes[i] += usize::from(d == Decision::Execute);
        }
    }
    assert_eq!(executes, [1, 1], "each DDL is executed exactly once");
    stop_when_resolved(master, &etcd, &space, &history).await;
}

#[tokio::test]
async fn two_tasks_on_the_same_downstream_table_have_separate_locks() {
    let space = unique_space("pess-two-tasks");
    let etcd = EtcdServer::shared().client().await;
    let history = History::record(&etcd, &space).await;
    register_task(&etcd, &space, "ta", &["s1", "s2"]).await;
    register_task(&etcd, &space, "tb", &["s1", "s2"]).await;
    let master = TestMaster::builder(&space).start().await;
    let cancel = CancellationToken::new();
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for task in ["ta", "tb"] {
        for source in ["s1", "s2"] {
            let client = PessimistClient::new(etcd.clone(), space.clone(), task, source);
            let info = client.info("db", "tb", vec![DDL.into()]);
            let log = log.clone();
            let cancel = cancel.clone();
            joins.push(tokio::spawn(async move {
                client.sync_ddl(&info, &cancel, step(&log, source)).await
            }));
        }
    }
    let mut ids = std::collections::BTreeMap::new();
    for j in joins {
        let (op, d) = tokio::time::timeout(WAIT, j)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        *ids.entry(op.id).or_insert(0) += usize::from(d == Decision::Execute);
    }
    let expected: std::collections::BTreeMap<String, usize> = [
        ("ta-`db`.`tb`".to_string(), 1),
        ("tb-`db`.`tb`".to_string(), 1),
    ]
    .into();
    assert_eq!(ids, expected);
    stop_when_resolved(master, &etcd, &space, &history).await;
}

#[tokio::test]
async fn unlock_with_a_replaced_owner_while_a_source_never_arrived() {
    let (etcd, space, history, master) =
        setup("pess-replace-owner", "t", &["s1", "s2", "s3"]).await;
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let r1 = put_ddl(&c1, DDL, &cancel).await;
    wait_synced(&master, "s1").await;
    let r2 = put_ddl(&c2, DDL, &cancel).await;
    let id = "t-`db`.`tb`";
    assert!(
        wait_until(WAIT, || async {
            shown(&master)
                .await
                .is_some_and(|(_, synced, _)| synced.len() == 2)
        })
        .await
    );
    let lock = &master
        .pessimist()
        .await
        .expect("master leads")
        .show_locks(None, &["s3".into()])
        .await
        .unwrap()[0];
    assert_eq!(
        (lock.owner.as_str(), lock.unsynced.clone()),
        ("s1", vec!["s3".to_string()])
    );
    let unlock = {
        let handle = master.pessimist().await.expect("master leads").clone();
        tokio::spawn(async move { handle.unlock_lock(id, Some("s2"), false).await })
    };
    // s2 now executes, s1 skips; s3 (never arrived) gets nothing.
    let op2 = answered(&c2, r2, &cancel, WAIT).await;
    assert!(op2.exec, "the replacement owner executes");
    c2.done(&op2).await.unwrap();
    let op1 = answered(&c1, r1, &cancel, WAIT).await;
    assert!(!op1.exec, "the original owner skips");
    c1.done(&op1).await.unwrap();
    tokio::time::timeout(WAIT, unlock)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(shown(&master).await.is_none(), "no lock is left");
    let s3_op = etcd
        .get(ops::operation_key(&space, "t", "s3"))
        .await
        .unwrap();
    assert!(s3_op.value.is_none());
    stop_when_resolved(master, &etcd, &space, &history).await;
}

#[tokio::test]
async fn a_coordinator_with_a_stale_fence_writes_nothing_and_stops() {
    use dm_master::coordinator::pessimist::Pessimist;
    use dm_master::coordinator::ActorContext;
    use dm_master::etcd::{Fence, Op, Txn};
    use tokio_util::task::TaskTracker;

    let space = unique_space("pess-fence");
    let etcd = EtcdServer::shared().client().await;
    let history = History::record(&etcd, &space).await;
    register_task(&etcd, &space, "t", &["s1", "s2"]).await;
    // Our term's leader key, then a newer term's key replacing it.
    let leader_key = format!("{}/dm-master/leader/1", space.namespace());
    let ours = etcd.put(leader_key.as_str(), "old").await.unwrap();
    etcd.txn(Txn::new("del").then([Op::delete(leader_key.as_str())]))
        .await
        .unwrap();
    etcd.put(leader_key.as_str(), "new").await.unwrap();
    let fence = Fence {
        key: leader_key.into_bytes(),
        create_revision: ours,
    };
    let tracker = TaskTracker::new();
    let cancel = CancellationToken::new();
    let ctx = ActorContext {
        etcd: etcd.clone(),
        space: space.clone(),
        fence: Some(fence),
        metrics: Arc::new(Metrics::new()),
    };
    let handle = Pessimist::spawn(ctx, &tracker, cancel.clone());
    // Both sources arrive: the lock syncs and the coordinator tries to put
    // the owner's Operation, which the fence refuses.
    let worker_cancel = CancellationToken::new();
    for source in ["s1", "s2"] {
        let c = PessimistClient::new(etcd.clone(), space.clone(), "t", source);
        c.put_info(&c.info("db", "tb", vec![DDL.into()]), &worker_cancel)
            .await
            .unwrap();
    }
    assert!(
        wait_until(WAIT, || async { cancel.is_cancelled() }).await,
        "the coordinator ends its term when the fence is broken"
    );
    tracker.close();
    tracker.wait().await;
    let ops = etcd
        .get_prefix(&space.prefix(&dm_master::keys::PESSIMISM_OPERATION, &[]))
        .await
        .unwrap();
    assert!(
        ops.value.is_empty(),
        "no Operation was written: {:?}",
        ops.value
    );
    assert!(
        handle.show_locks(None, &[]).await.is_err(),
        "the stopped actor answers no more"
    );
    history.check_done_is_final().await;
}

#[tokio::test]
async fn compaction_while_the_coordinator_lags_resyncs_and_the_lock_resolves() {
    // The master reaches etcd through a proxy the test can cut; workers
    // and the test talk to etcd directly. Compaction is cluster-wide: a
    // private etcd.
    let server = EtcdServer::start();
    let etcd = server.client().await;
    let proxy = crate::support::TcpProxy::start(server.client_addr()).await;
    let space = unique_space("pess-lag");
    let history = History::record(&etcd, &space).await;
    register_task(&etcd, &space, "t", &["s1", "s2"]).await;
    let master = TestMaster::builder(&space)
        .endpoint(format!("http://{}", proxy.addr))
        .start()
        .await;
    let pessimist = master.pessimist().await.expect("master leads");
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let r1 = put_ddl(&c1, DDL, &cancel).await;
    assert!(
        wait_until(WAIT, || async {
            pessimist.show_locks(None, &[]).await.unwrap().len() == 1
        })
        .await
    );

    // The master is cut off; meanwhile s2 arrives and history is compacted
    // past everything the master has seen.
    proxy.cut();
    let r2 = put_ddl(&c2, DDL, &cancel).await;
    // Nothing may happen while the master is cut off: the sleep is the
    // window in which an answer would show if it could.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let owner_op = etcd
        .get(ops::operation_key(&space, "t", "s1"))
        .await
        .unwrap();
    assert!(
        owner_op.value.is_none(),
        "a master cut off from etcd cannot have answered"
    );
    let head = etcd
        .put(format!("{}/filler", space.namespace()), "x")
        .await
        .unwrap();
    etcd.compact(head).await.unwrap();
    proxy.restore();

    // Its watcher cannot replay from its old revision: it resyncs from a
    // snapshot, sees the lock synced, and answers.
    let op1 = answered(&c1, r1, &cancel, Duration::from_secs(30)).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, &cancel, Duration::from_secs(30)).await;
    assert!(!op2.exec);
    c2.done(&op2).await.unwrap();
    stop_when_resolved(master, &etcd, &space, &history).await;
}

/// The lock as ShowDDLLocks lists it: (owner, synced, unsynced), if any.
async fn shown(master: &Master) -> Option<(String, Vec<String>, Vec<String>)> {
    let locks = master
        .pessimist()
        .await
        .expect("master leads")
        .show_locks(None, &[])
        .await
        .unwrap();
    locks
        .into_iter()
        .next()
        .map(|l| (l.owner, l.synced, l.unsynced))
}

/// Waits until the master's lock counts `source` as synced: its Info was
/// seen, so an Info put after this comes second (the first Info seen
/// creates the lock and names its owner).
async fn wait_synced(master: &Master, source: &str) {
    let seen = wait_until(WAIT, || async {
        shown(master)
            .await
            .is_some_and(|(_, synced, _)| synced.iter().any(|s| s == source))
    })
    .await;
    assert!(seen, "the master saw the Info of {source}");
}

async fn delete_key(etcd: &Etcd, key: String) {
    etcd.txn(Txn::new("test delete").then([Op::delete(key)]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_source_leaving_mid_lock_resolves_it_against_the_remaining_sources() {
    let (etcd, space, history, master) = setup("pess-source-left", "t", &["s1", "s2", "s3"]).await;
    let metrics = master.metrics.clone();
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let r1 = put_ddl(&c1, DDL, &cancel).await;
    let r2 = put_ddl(&c2, DDL, &cancel).await;
    let waiting = (
        "s1".to_string(),
        vec!["s1".to_string(), "s2".to_string()],
        vec!["s3".to_string()],
    );
    assert!(
        wait_until(WAIT, || async {
            shown(&master).await.as_ref() == Some(&waiting)
        })
        .await,
        "the lock waits for s3"
    );

    // stop-task on s3 alone: its subtask config disappears.
    delete_key(&etcd, space.key(&UPSTREAM_SUBTASK, ["s3", "t"])).await;
    let resolving = (
        "s1".to_string(),
        vec!["s1".to_string(), "s2".to_string()],
        vec![],
    );
    assert!(
        wait_until(Duration::from_secs(5), || async {
            shown(&master).await.as_ref() == Some(&resolving)
        })
        .await,
        "ShowDDLLocks no longer lists s3"
    );
    // The normal protocol follows: exec to the owner, skip to the other.
    let op1 = answered(&c1, r1, &cancel, Duration::from_secs(5)).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, &cancel, WAIT).await;
    assert!(!op2.exec);
    c2.done(&op2).await.unwrap();
    assert!(wait_until(WAIT, || async { lock_keys(&etcd, &space).await == 0 }).await);
    assert!(shown(&master).await.is_none());
    let text = metrics.render();
    assert!(
        text.contains("SubTaskDelete - SourceLeftLockError"),
        "the re-evaluation is counted: {text}"
    );
    master.stop().await;
    history.check_done_is_final().await;
}

#[tokio::test]
async fn a_lock_whose_sources_all_left_is_removed_with_its_keys() {
    let (etcd, space, history, master) = setup("pess-all-left", "t", &["s1", "s2"]).await;
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    put_ddl(&c1, DDL, &cancel).await;
    assert!(wait_until(WAIT, || async { shown(&master).await.is_some() }).await);
    delete_key(&etcd, space.key(&UPSTREAM_SUBTASK, ["s1", "t"])).await;
    delete_key(&etcd, space.key(&UPSTREAM_SUBTASK, ["s2", "t"])).await;
    assert!(
        wait_until(Duration::from_secs(5), || async {
            shown(&master).await.is_none() && lock_keys(&etcd, &space).await == 0
        })
        .await,
        "the lock and its Info are gone"
    );
    master.stop().await;
    history.check_done_is_final().await;
}

/// Duplicate Infos, a repeated done racing a non-owner's done, a done that
/// lands after the lock was resolved and a stale Info of the resolved lock:
/// no done is undone, the orphan is cleaned, the stale Info gets nothing,
/// and the next lock on the same table works.
#[tokio::test]
async fn duplicate_and_late_worker_writes_never_undo_a_done() {
    let (etcd, space, history, master) = setup("pess-dup", "t", &["s1", "s2"]).await;
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let i1 = c1.info("db", "tb", vec![DDL.into()]);
    let i2 = c2.info("db", "tb", vec![DDL.into()]);
    // Each Info twice in a row (a client retry).
    let r1 = c1.put_info(&i1, &cancel).await.unwrap();
    etcd.put(ops::info_key(&space, "t", "s1"), i1.encode())
        .await
        .unwrap();
    let r2 = c2.put_info(&i2, &cancel).await.unwrap();
    etcd.put(ops::info_key(&space, "t", "s2"), i2.encode())
        .await
        .unwrap();
    let op1 = answered(&c1, r1, &cancel, WAIT).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, &cancel, WAIT).await;
    assert!(!op2.exec);
    // The owner's done repeated, in the same revision as s2's done: the
    // master reads the repeat first, while etcd already holds s2's done.
    let done = |op: &dm_master::pessimism::Operation| {
        let mut op = op.clone();
        op.done = true;
        op.encode()
    };
    etcd.txn(Txn::new("repeated done").then([
        Op::put(ops::operation_key(&space, "t", "s1"), done(&op1)),
        Op::put(ops::operation_key(&space, "t", "s2"), done(&op2)),
        Op::delete(ops::info_key(&space, "t", "s2")),
    ]))
    .await
    .unwrap();
    assert!(wait_until(WAIT, || async { lock_keys(&etcd, &space).await == 0 }).await);

    // s2's done again, after the resolution: an orphan, cleaned.
    etcd.put(ops::operation_key(&space, "t", "s2"), done(&op2))
        .await
        .unwrap();
    assert!(
        wait_until(WAIT, || async { lock_keys(&etcd, &space).await == 0 }).await,
        "the orphan done Operation is deleted"
    );
    // A stale Info of s2 for the resolved lock: no lock, no Operation.
    let stale = etcd
        .put(ops::info_key(&space, "t", "s2"), i2.encode())
        .await
        .unwrap();

    // The next DDL on the same table goes through for both sources, and
    // the first Operation s2 sees after its stale Info is the new lock's.
    let next = "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c3` INT";
    let r1 = c1
        .put_info(&c1.info("db", "tb", vec![next.into()]), &cancel)
        .await
        .unwrap();
    let stale_answer = tokio::spawn({
        let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
        let cancel = cancel.clone();
        async move { answered(&c2, stale, &cancel, WAIT).await }
    });
    let r2 = c2
        .put_info(&c2.info("db", "tb", vec![next.into()]), &cancel)
        .await
        .unwrap();
    let op1 = answered(&c1, r1, &cancel, WAIT).await;
    assert_eq!(op1.ddls, Some(vec![next.to_string()]));
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, &cancel, WAIT).await;
    let first_after_stale = stale_answer.await.unwrap();
    assert_eq!(
        first_after_stale.ddls,
        Some(vec![next.to_string()]),
        "the stale Info got no Operation"
    );
    c2.done(&op2).await.unwrap();
    stop_when_resolved(master, &etcd, &space, &history).await;
}

#[tokio::test]
async fn operation_puts_guarded_by_a_stale_view_fall_back_to_a_read() {
    // The master guards its first write with what its watch last saw. A
    // wrong view must cost a round trip, never a wrong write: a done
    // Operation stays done, a changed one is written over its new revision.
    use dm_master::pessimism::ops::SeenOperation;
    use dm_master::pessimism::Operation;
    let space = unique_space("pess-seen");
    let etcd = EtcdServer::shared().client().await;
    let op = |source: &str, done: bool| Operation {
        id: "t-`db`.`tb`".into(),
        task: "t".into(),
        source: source.into(),
        ddls: Some(vec![DDL.into()]),
        exec: true,
        done,
    };
    let rev_a = etcd
        .put(
            ops::operation_key(&space, "t", "a"),
            op("a", false).encode(),
        )
        .await
        .unwrap();
    etcd.put(ops::operation_key(&space, "t", "b"), op("b", true).encode())
        .await
        .unwrap();
    let outcome = ops::put_operations_seen(
        &etcd,
        &space,
        None,
        &[op("a", false), op("b", false), op("c", false)],
        true,
        &[
            SeenOperation::NotDone {
                mod_revision: rev_a - 1,
            },
            SeenOperation::Absent,
            SeenOperation::Absent,
        ],
    )
    .await
    .unwrap();
    assert_eq!(outcome.written, ["a", "c"]);
    assert_eq!(outcome.already_done, ["b"]);
    let b = etcd
        .get(ops::operation_key(&space, "t", "b"))
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        b.value,
        op("b", true).encode(),
        "a done Operation is never overwritten"
    );
    // A right view writes on the first try, guarded by it.
    let a = etcd
        .get(ops::operation_key(&space, "t", "a"))
        .await
        .unwrap()
        .value
        .unwrap();
    let outcome = ops::put_operations_seen(
        &etcd,
        &space,
        None,
        &[op("a", false)],
        true,
        &[SeenOperation::NotDone {
            mod_revision: a.mod_revision,
        }],
    )
    .await
    .unwrap();
    assert_eq!(outcome.written, ["a"]);
}

#[tokio::test]
async fn eight_tasks_in_flight_each_resolve_every_ddl_in_order() {
    // Answers of different tasks are written concurrently, a task's own
    // events wait for its write: every lock still has exactly one owner
    // executing, and each task's second DDL forms a fresh lock.
    let space = unique_space("pess-pipelined");
    let etcd = EtcdServer::shared().client().await;
    let history = History::record(&etcd, &space).await;
    let tasks: Vec<String> = (0..8).map(|i| format!("task{i}")).collect();
    for task in &tasks {
        register_task(&etcd, &space, task, &["s1", "s2"]).await;
    }
    let master = TestMaster::builder(&space).start().await;
    let metrics = master.metrics.clone();
    let cancel = CancellationToken::new();
    let ddls = [
        "ALTER TABLE `db`.`tb` ADD COLUMN c2 INT",
        "ALTER TABLE `db`.`tb` ADD COLUMN c3 INT",
        "ALTER TABLE `db`.`tb` ADD COLUMN c4 INT",
    ];
    let mut joins = Vec::new();
    for task in &tasks {
        for source in ["s1", "s2"] {
            let client = PessimistClient::new(etcd.clone(), space.clone(), task, source);
            let cancel = cancel.clone();
            joins.push(tokio::spawn(async move {
                let mut executed = Vec::new();
                for ddl in ddls {
                    let info = client.info("db", "tb", vec![ddl.into()]);
                    let (op, decision) = client
                        .sync_ddl(&info, &cancel, |_, _| std::future::ready(Ok(())))
                        .await?;
                    assert_eq!(op.ddls, Some(vec![ddl.to_string()]));
                    executed.push(decision == Decision::Execute);
                }
                Ok::<_, dm_worker::Error>(executed)
            }));
        }
    }
    let mut results = Vec::new();
    for j in joins {
        results.push(
            tokio::time::timeout(Duration::from_secs(60), j)
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    }
    // Per task (two sources in a row) and DDL: exactly one execution.
    for (task, pair) in tasks.iter().zip(results.chunks(2)) {
        for (i, _) in ddls.iter().enumerate() {
            let executes = pair.iter().filter(|e| e[i]).count();
            assert_eq!(executes, 1, "{task} DDL {i}: {pair:?}");
        }
    }
    assert!(wait_until(WAIT, || async { lock_keys(&etcd, &space).await == 0 }).await);
    assert!(
        wait_until(WAIT, || async {
            !metrics.render().contains("dm_master_ddl_state_number{")
        })
        .await,
        "every task's series is dropped with its last lock"
    );
    master.stop().await;
    history.check_done_is_final().await;
}
