//! Pessimistic locks through failures: master and worker restarts at every
//! protocol step, a coordinator whose term ended, a watch that falls behind
//! compaction, and duplicate, late or stale worker writes.

use super::*;

/// Drives two sources by hand, restarting the master at `restart_at`
/// (0..=7, the points between the protocol steps).
async fn run_with_restart(restart_at: usize) {
    let name = format!("pess-restart-{restart_at}");
    let mut env = Env::new(&name, "t", S12).await;
    let cancel = env.cancel.clone();
    let (c1, c2) = env.clients();
    let i1 = c1.info("db", "tb", vec![DDL.into()]);
    let i2 = c2.info("db", "tb", vec![DDL.into()]);
    let mut point = 0;
    macro_rules! maybe_restart {
        () => {
            if point == restart_at {
                env = env.restart_master().await;
            }
            point += 1;
        };
    }

    maybe_restart!(); // 0: before anything
    let r1 = c1.put_info(&i1, &cancel).await.unwrap();
    maybe_restart!(); // 1: after s1's Info
    env.wait_synced("s1").await;
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
        env.keys_gone().await,
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
    env.stop().await;
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
    let env = Env::new("pess-worker-restart", "t", S12).await;
    let cancel = &env.cancel;
    let (c1, c2) = env.clients();
    let i1 = c1.info("db", "tb", vec![DDL.into()]);
    let i2 = c2.info("db", "tb", vec![DDL.into()]);
    let r1 = c1.put_info(&i1, cancel).await.unwrap();
    env.wait_synced("s1").await;
    c2.put_info(&i2, cancel).await.unwrap();
    let first = answered(&c1, r1, cancel, WAIT).await;
    assert!(first.exec);
    // Crash here; on restart the worker re-puts its Info.
    let r1b = c1.put_info(&i1, cancel).await.unwrap();
    let again = answered(&c1, r1b, cancel, WAIT).await;
    assert_eq!(again, first, "the same exec operation is sent again");
    c1.done(&again).await.unwrap();
    // After step 8, a re-run does not re-put the Info while the lock lasts.
    let (_, put) = ops::put_info_if_op_not_done(&env.etcd, &env.space, &i1)
        .await
        .unwrap();
    assert!(!put, "an info is not put over a done operation");
    let (op2, d2) = tokio::time::timeout(
        WAIT,
        c2.sync_ddl(&i2, cancel, |_, _| std::future::ready(Ok(()))),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!op2.exec);
    assert_eq!(d2, Decision::Skip);
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn a_coordinator_with_a_stale_fence_writes_nothing_and_stops() {
    use dm_master::coordinator::pessimist::Pessimist;
    use dm_master::coordinator::ActorContext;
    use dm_master::etcd::Fence;
    use dm_master::metrics::Metrics;
    use tokio_util::task::TaskTracker;

    let Setup {
        etcd,
        space,
        history,
    } = Setup::new("pess-fence", &[("t", S12)]).await;
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
    for source in S12 {
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
    let proxy = crate::support::TcpProxy::start(server.client_addr()).await;
    let env = Setup::on(server.client().await, "pess-lag", &[("t", S12)])
        .await
        .start_with(|b| b.endpoint(format!("http://{}", proxy.addr)))
        .await;
    let (etcd, cancel) = (&env.etcd, &env.cancel);
    let pessimist = env.pessimist().await;
    let (c1, c2) = env.clients();
    let r1 = put_ddl(&c1, DDL, cancel).await;
    assert!(
        wait_until(WAIT, || async {
            pessimist.show_locks(None, &[]).await.unwrap().len() == 1
        })
        .await
    );

    // The master is cut off; meanwhile s2 arrives and history is compacted
    // past everything the master has seen.
    proxy.cut();
    let r2 = put_ddl(&c2, DDL, cancel).await;
    // Nothing may happen while the master is cut off: the sleep is the
    // window in which an answer would show if it could.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let owner_op = etcd
        .get(ops::operation_key(&env.space, "t", "s1"))
        .await
        .unwrap();
    assert!(
        owner_op.value.is_none(),
        "a master cut off from etcd cannot have answered"
    );
    let head = etcd
        .put(format!("{}/filler", env.space.namespace()), "x")
        .await
        .unwrap();
    etcd.compact(head).await.unwrap();
    proxy.restore();

    // Its watcher cannot replay from its old revision: it resyncs from a
    // snapshot, sees the lock synced, and answers.
    let op1 = answered(&c1, r1, cancel, Duration::from_secs(30)).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, cancel, Duration::from_secs(30)).await;
    assert!(!op2.exec);
    c2.done(&op2).await.unwrap();
    env.stop_when_resolved().await;
}

/// Duplicate Infos, a repeated done racing a non-owner's done, a done that
/// lands after the lock was resolved and a stale Info of the resolved lock:
/// no done is undone, the orphan is cleaned, the stale Info gets nothing,
/// and the next lock on the same table works.
#[tokio::test]
async fn duplicate_and_late_worker_writes_never_undo_a_done() {
    let env = Env::new("pess-dup", "t", S12).await;
    let (etcd, space, cancel) = (&env.etcd, &env.space, &env.cancel);
    let (c1, c2) = env.clients();
    let i1 = c1.info("db", "tb", vec![DDL.into()]);
    let i2 = c2.info("db", "tb", vec![DDL.into()]);
    // Each Info twice in a row (a client retry).
    let r1 = c1.put_info(&i1, cancel).await.unwrap();
    etcd.put(ops::info_key(space, "t", "s1"), i1.encode())
        .await
        .unwrap();
    let r2 = c2.put_info(&i2, cancel).await.unwrap();
    etcd.put(ops::info_key(space, "t", "s2"), i2.encode())
        .await
        .unwrap();
    let op1 = answered(&c1, r1, cancel, WAIT).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, cancel, WAIT).await;
    assert!(!op2.exec);
    // The owner's done repeated, in the same revision as s2's done: the
    // master reads the repeat first, while etcd already holds s2's done.
    let done = |op: &Operation| {
        let mut op = op.clone();
        op.done = true;
        op.encode()
    };
    etcd.txn(Txn::new("repeated done").then([
        Op::put(ops::operation_key(space, "t", "s1"), done(&op1)),
        Op::put(ops::operation_key(space, "t", "s2"), done(&op2)),
        Op::delete(ops::info_key(space, "t", "s2")),
    ]))
    .await
    .unwrap();
    assert!(env.keys_gone().await);

    // s2's done again, after the resolution: an orphan, cleaned.
    etcd.put(ops::operation_key(space, "t", "s2"), done(&op2))
        .await
        .unwrap();
    assert!(
        env.keys_gone().await,
        "the orphan done Operation is deleted"
    );
    // A stale Info of s2 for the resolved lock: no lock, no Operation.
    let stale = etcd
        .put(ops::info_key(space, "t", "s2"), i2.encode())
        .await
        .unwrap();

    // The next DDL on the same table goes through for both sources, and
    // the first Operation s2 sees after its stale Info is the new lock's.
    let next = "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c3` INT";
    let r1 = c1
        .put_info(&c1.info("db", "tb", vec![next.into()]), cancel)
        .await
        .unwrap();
    let stale_answer = tokio::spawn({
        let c2 = env.client("t", "s2");
        let cancel = cancel.clone();
        async move { answered(&c2, stale, &cancel, WAIT).await }
    });
    let r2 = c2
        .put_info(&c2.info("db", "tb", vec![next.into()]), cancel)
        .await
        .unwrap();
    let op1 = answered(&c1, r1, cancel, WAIT).await;
    assert_eq!(op1.ddls, Some(vec![next.to_string()]));
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, cancel, WAIT).await;
    let first_after_stale = stale_answer.await.unwrap();
    assert_eq!(
        first_after_stale.ddls,
        Some(vec![next.to_string()]),
        "the stale Info got no Operation"
    );
    c2.done(&op2).await.unwrap();
    env.stop_when_resolved().await;
}

/// The stored Operation of `source` in task `t`.
async fn stored(etcd: &Etcd, space: &KeySpace, source: &str) -> dm_master::etcd::KeyValue {
    etcd.get(ops::operation_key(space, "t", source))
        .await
        .unwrap()
        .value
        .expect("a stored Operation")
}

#[tokio::test]
async fn operation_puts_guarded_by_a_stale_view_fall_back_to_a_read() {
    // The master guards its first write with what its watch last saw. A
    // wrong view must cost a round trip, never a wrong write: a done
    // Operation stays done, a changed one is written over its new revision.
    use dm_master::pessimism::ops::SeenOperation;
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
    let b = stored(&etcd, &space, "b").await;
    assert_eq!(
        b.value,
        op("b", true).encode(),
        "a done Operation is never overwritten"
    );
    // A right view writes on the first try, guarded by it.
    let a = stored(&etcd, &space, "a").await;
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

/// A cold start answers the locks that are synced in its snapshot from the
/// configs of their tasks alone, read after the configs' keys, before every
/// config is read; a config that does not parse cannot make a lock look
/// synced, and a config stored under another subtask's key that names a
/// task (DM never writes one) is reported once every config is read.
#[tokio::test]
async fn a_cold_start_answers_synced_locks_before_reading_every_config() {
    let s123: &[&str] = &["s1", "s2", "s3"];
    let setup = Setup::new(
        "pess-cold-first",
        &[("t", S12), ("u", s123), ("m", S12), ("o", S12)],
    )
    .await;
    let (etcd, space) = (setup.etcd.clone(), setup.space.clone());
    // m's third key holds a config that does not parse: three sources by
    // its keys, two by its configs.
    etcd.put(space.key(&UPSTREAM_SUBTASK, ["s3", "m"]), "name = [")
        .await
        .unwrap();
    // A config under x's key that names task o and source s9.
    let odd = SubTaskConfig {
        name: "o".into(),
        source_id: "s9".into(),
        is_sharding: true,
        shard_mode: "pessimistic".into(),
        route_rules: vec![],
    };
    etcd.put(space.key(&UPSTREAM_SUBTASK, ["s9", "x"]), odd.to_toml())
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let client =
        |task: &str, source: &str| PessimistClient::new(etcd.clone(), space.clone(), task, source);
    let mut owners = Vec::new();
    for task in ["t", "u", "m", "o"] {
        let mut revisions = Vec::new();
        for source in S12 {
            revisions.push(put_ddl(&client(task, source), DDL, &cancel).await);
        }
        owners.push((task, revisions[0]));
    }
    let env = setup.start().await;
    // t: synced by its keys, answered by the first pass.
    let (t, t_rev) = owners[0];
    assert!(answered(&client(t, "s1"), t_rev, &cancel, WAIT).await.exec);
    // m: not synced by its keys, synced by its configs: the second pass
    // answers it, and its bad config is counted once.
    let (m, m_rev) = owners[2];
    assert!(answered(&client(m, "s1"), m_rev, &cancel, WAIT).await.exec);
    assert!(
        env.metrics_show(
            "dm_master_shard_ddl_error{task=\"m\",type=\"Watch - MalformedValueError\"} 1"
        )
        .await,
        "{}",
        env.master.metrics.render()
    );
    // o: answered with the sources of its own keys, then reported.
    let (o, o_rev) = owners[3];
    assert!(answered(&client(o, "s1"), o_rev, &cancel, WAIT).await.exec);
    assert!(
        env.metrics_show(
            "dm_master_shard_ddl_error{task=\"o\",type=\"Rebuild - TaskSourcesDifferError\"} 1"
        )
        .await,
        "{}",
        env.master.metrics.render()
    );
    // u waits for s3 and has no Operation.
    let locks = env
        .pessimist()
        .await
        .show_locks(Some("u"), &[])
        .await
        .unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].unsynced, ["s3"], "{locks:?}");
    let u_op = ops::operation_key(&env.space, "u", "s1");
    assert!(env.etcd.get(u_op.as_str()).await.unwrap().value.is_none());
    // Nothing else was counted: t and u have no error series.
    let text = env.master.metrics.render();
    assert!(
        !text.contains("shard_ddl_error{task=\"t\"")
            && !text.contains("shard_ddl_error{task=\"u\""),
        "{text}"
    );
    env.stop().await;
}
