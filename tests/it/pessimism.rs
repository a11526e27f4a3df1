//! Pessimistic coordination end to end: a real etcd, the master in-process,
//! and worker clients from the `dm-worker` crate, observed through etcd keys.
//!
//! This file holds the fixture and the protocol's normal flows; [`unlock`]
//! the admin unlock, [`recovery`] restarts, lag and stale writes.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dm_master::coordinator::pessimist::PessimistHandle;
use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::{KeySpace, PESSIMISM_INFO, UPSTREAM_SUBTASK};
use dm_master::pessimism::{ops, Operation};
use dm_master::task::SubTaskConfig;
use dm_worker::shardddl::pessimist::{Decision, PessimistClient};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::history::History;
use crate::master::{MasterBuilder, TestMaster};
use crate::support::{answered, put_ddl, unique_space, wait_until, EtcdServer};

mod recovery;
mod unlock;

const WAIT: Duration = Duration::from_secs(15);
const DDL: &str = "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c2` INT";
const S12: &[&str] = &["s1", "s2"];

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

/// A test's own key space with its event history and a subtask of each
/// task on each of its sources; no master yet.
struct Setup {
    etcd: Etcd,
    space: KeySpace,
    history: History,
}

impl Setup {
    async fn new(name: &str, tasks: &[(&str, &[&str])]) -> Setup {
        Setup::on(EtcdServer::shared().client().await, name, tasks).await
    }

    async fn on(etcd: Etcd, name: &str, tasks: &[(&str, &[&str])]) -> Setup {
        let space = unique_space(name);
        let history = History::record(&etcd, &space).await;
        for (task, sources) in tasks {
            register_task(&etcd, &space, task, sources).await;
        }
        Setup {
            etcd,
            space,
            history,
        }
    }

    async fn start(self) -> Env {
        self.start_with(|b| b).await
    }

    async fn start_with(self, build: impl FnOnce(MasterBuilder) -> MasterBuilder) -> Env {
        let master = build(TestMaster::builder(&self.space)).start().await;
        Env {
            etcd: self.etcd,
            space: self.space,
            history: self.history,
            master,
            cancel: CancellationToken::new(),
        }
    }
}

/// A [`Setup`] with its master running.
struct Env {
    etcd: Etcd,
    space: KeySpace,
    history: History,
    master: TestMaster,
    /// The workers' cancellation.
    cancel: CancellationToken,
}

impl Env {
    /// A subtask of `task` on each of `sources`, and a master.
    async fn new(name: &str, task: &str, sources: &[&str]) -> Env {
        Setup::new(name, &[(task, sources)]).await.start().await
    }

    fn client(&self, task: &str, source: &str) -> PessimistClient {
        PessimistClient::new(self.etcd.clone(), self.space.clone(), task, source)
    }

    /// The clients of sources `s1` and `s2` of task `t`.
    fn clients(&self) -> (PessimistClient, PessimistClient) {
        (self.client("t", "s1"), self.client("t", "s2"))
    }

    async fn pessimist(&self) -> PessimistHandle {
        self.master.pessimist().await.expect("master leads")
    }

    /// Stops the master and starts another one on the same keys.
    async fn restart_master(self) -> Env {
        self.master.stop().await;
        let master = TestMaster::builder(&self.space).start().await;
        Env { master, ..self }
    }

    async fn lock_keys(&self) -> usize {
        lock_keys(&self.etcd, &self.space).await
    }

    /// Whether every pessimistic key goes in time.
    async fn keys_gone(&self) -> bool {
        wait_until(WAIT, || async { self.lock_keys().await == 0 }).await
    }

    /// The lock as ShowDDLLocks lists it: (owner, synced, unsynced), if any.
    async fn shown(&self) -> Option<(String, Vec<String>, Vec<String>)> {
        let locks = self.pessimist().await.show_locks(None, &[]).await.unwrap();
        locks
            .into_iter()
            .next()
            .map(|l| (l.owner, l.synced, l.unsynced))
    }

    /// Waits until the master's lock counts `source` as synced: its Info was
    /// seen, so an Info put after this comes second (the first Info seen
    /// creates the lock and names its owner).
    async fn wait_synced(&self, source: &str) {
        let seen = wait_until(WAIT, || async {
            self.shown()
                .await
                .is_some_and(|(_, synced, _)| synced.iter().any(|s| s == source))
        })
        .await;
        assert!(seen, "the master saw the Info of {source}");
    }

    /// Whether the master's metrics come to contain `text` in time.
    async fn metrics_show(&self, text: &str) -> bool {
        wait_until(WAIT, || async {
            self.master.metrics.render().contains(text)
        })
        .await
    }

    /// Stops the master; no done Operation was ever undone.
    async fn stop(self) {
        self.master.stop().await;
        self.history.check_done_is_final().await;
    }

    /// The end of a test whose locks all resolve: every pessimistic key
    /// goes, then [`Env::stop`].
    async fn stop_when_resolved(self) {
        assert!(self.keys_gone().await, "pessimistic keys are left");
        self.stop().await;
    }
}

async fn lock_keys(etcd: &Etcd, space: &KeySpace) -> usize {
    etcd.get_prefix(&ops::pessimism_prefix(space))
        .await
        .unwrap()
        .value
        .len()
}

async fn delete_key(etcd: &Etcd, key: String) {
    etcd.txn(Txn::new("test delete").then([Op::delete(key)]))
        .await
        .unwrap();
}

type Log = Arc<Mutex<Vec<(String, Decision)>>>;

fn step(
    log: &Log,
    source: &str,
) -> impl FnOnce(Decision, &Operation) -> std::future::Ready<Result<(), String>> {
    let log = log.clone();
    let source = source.to_owned();
    move |decision, _op| {
        log.lock().unwrap().push((source, decision));
        std::future::ready(Ok(()))
    }
}

impl Env {
    /// Runs `source`'s whole DDL flow (`sync_ddl`) of [`DDL`] on `table`
    /// (schema, table) of `task` on its own task, logging its decision.
    fn spawn_sync(
        &self,
        task: &str,
        source: &str,
        (schema, table): (&str, &str),
        log: &Log,
    ) -> JoinHandle<dm_worker::Result<(Operation, Decision)>> {
        let client = self.client(task, source);
        let info = client.info(schema, table, vec![DDL.into()]);
        let (cancel, step) = (self.cancel.clone(), step(log, source));
        tokio::spawn(async move { client.sync_ddl(&info, &cancel, step).await })
    }

    /// s1, then s2 of task `t` put [`DDL`] on `db`.`tb`: s1 owns the lock.
    /// Returns each client with its Info's revision.
    async fn s1_then_s2(&self) -> ((PessimistClient, i64), (PessimistClient, i64)) {
        let (c1, c2) = self.clients();
        let r1 = put_ddl(&c1, DDL, &self.cancel).await;
        self.wait_synced("s1").await;
        let r2 = put_ddl(&c2, DDL, &self.cancel).await;
        ((c1, r1), (c2, r2))
    }
}

/// The job's result; a late, panicked or failed job fails the test.
async fn finished<T, E: Debug>(job: JoinHandle<Result<T, E>>, within: Duration) -> T {
    tokio::time::timeout(within, job)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

/// Every job's result in order, each awaited for at most `within`.
async fn joined<T, E: Debug>(jobs: Vec<JoinHandle<Result<T, E>>>, within: Duration) -> Vec<T> {
    let mut out = Vec::new();
    for job in jobs {
        out.push(finished(job, within).await);
    }
    out
}

#[tokio::test]
async fn dm_sequence_owner_executes_once_and_the_other_skips() {
    let sources = ["mysql-replica-01", "mysql-replica-02"];
    let env = Env::new("pess-seq", "test", &sources).await;
    let log: Log = Default::default();

    let mut joins = Vec::new();
    for source in sources {
        joins.push(env.spawn_sync("test", source, ("shard_db", "shard_table"), &log));
        if source == "mysql-replica-01" {
            // Make the owner deterministic.
            env.wait_synced(source).await;
        }
    }
    for (op, _) in joined(joins, WAIT).await {
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
    assert!(env.keys_gone().await, "every key of the lock is deleted");
    assert!(wait_until(WAIT, || async { env.shown().await.is_none() }).await);
    let text = env.master.metrics.render();
    assert!(!text.contains("dm_master_ddl_state_number{"), "{text}");
    assert!(!text.contains("dm_master_shard_ddl_error{"), "{text}");
    env.stop().await;
}

#[tokio::test]
async fn malformed_info_next_to_a_healthy_lock_is_reported_and_skipped() {
    let setup = Setup::new("pess-malformed", &[("t", S12), ("bad", &["s1"])]).await;
    // Garbage under the bad task's Info key, present before the master starts
    // and written again while it runs.
    let bad_key = ops::info_key(&setup.space, "bad", "s1");
    setup.etcd.put(bad_key.as_str(), "{not json").await.unwrap();
    // And a key under the Info path whose parts are not hex, before the
    // start and while the master runs: reported, counted, skipped.
    let not_hex = format!("{}zz/73", setup.space.path(&PESSIMISM_INFO));
    setup.etcd.put(not_hex.as_str(), "{}").await.unwrap();
    let env = setup.start().await;
    let snapshot_counted = env
        .metrics_show("type=\"Watch - MalformedValueError\"} 1")
        .await;
    assert!(snapshot_counted, "{}", env.master.metrics.render());
    env.etcd.put(bad_key.as_str(), "[1,2,3]").await.unwrap();
    env.etcd.put(not_hex.as_str(), "{}").await.unwrap();
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for source in S12 {
        joins.push(env.spawn_sync("t", source, ("db", "tb"), &log));
    }
    joined(joins, WAIT).await;
    assert_eq!(log.lock().unwrap().len(), 2);
    // Both bad values (the one in the snapshot, the one watched) are counted.
    let counted = env
        .metrics_show(
            "dm_master_shard_ddl_error{task=\"bad\",type=\"Watch - MalformedValueError\"} 2",
        )
        .await;
    assert!(counted, "{}", env.master.metrics.render());
    let keys_counted = env
        .metrics_show("dm_master_shard_ddl_error{task=\"\",type=\"Watch - MalformedValueError\"} 2")
        .await;
    assert!(keys_counted, "{}", env.master.metrics.render());
    env.stop().await;
}

#[tokio::test]
async fn info_of_an_unknown_task_waits_for_the_task() {
    let env = Setup::new("pess-unknown", &[]).await.start().await;
    let log: Log = Default::default();
    let job = env.spawn_sync("late", "s1", ("db", "tb"), &log);
    assert!(
        env.metrics_show("type=\"InfoPut - UnknownTaskError\"")
            .await
    );
    assert!(
        log.lock().unwrap().is_empty(),
        "nothing executes for an unknown task"
    );
    // The task appears: the waiting Info is answered.
    register_task(&env.etcd, &env.space, "late", &["s1"]).await;
    let (op, decision) = finished(job, WAIT).await;
    assert!(op.exec);
    assert_eq!(decision, Decision::Execute);
    env.stop().await;
}

#[tokio::test]
async fn lock_of_300_sources_resolves_past_the_txn_limit() {
    let sources: Vec<String> = (0..300).map(|i| format!("s{i:04}")).collect();
    let names: Vec<&str> = sources.iter().map(String::as_str).collect();
    let env = Env::new("pess-1000", "big", &names).await;
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for s in &sources {
        joins.push(env.spawn_sync("big", s, ("db", "tb"), &log));
    }
    let exec = joined(joins, Duration::from_secs(60))
        .await
        .iter()
        .filter(|(op, _)| op.exec)
        .count();
    assert_eq!(exec, 1);
    env.stop_when_resolved().await;
}

/// Starts `client`'s flow of each of `ddls` in turn on its own task; the
/// job returns whether it executed each.
fn spawn_ddls(
    client: PessimistClient,
    source: &str,
    ddls: &'static [&'static str],
    cancel: &CancellationToken,
    log: &Log,
) -> JoinHandle<dm_worker::Result<Vec<bool>>> {
    let (cancel, log, source) = (cancel.clone(), log.clone(), source.to_owned());
    tokio::spawn(async move {
        let mut executed = Vec::new();
        for ddl in ddls {
            let info = client.info("db", "tb", vec![(*ddl).into()]);
            let (op, d) = client.sync_ddl(&info, &cancel, step(&log, &source)).await?;
            assert_eq!(op.ddls, Some(vec![ddl.to_string()]));
            executed.push(d == Decision::Execute);
        }
        Ok(executed)
    })
}

#[tokio::test]
async fn two_ddls_back_to_back_on_the_same_table() {
    // dm#628 / dm#1253: the second DDL's Info of a source must wait until
    // the first lock is fully resolved, then form a fresh lock.
    let env = Env::new("pess-back-to-back", "t", S12).await;
    const DDLS: &[&str] = &[
        "ALTER TABLE `db`.`tb` ADD COLUMN c2 INT",
        "ALTER TABLE `db`.`tb` ADD COLUMN c3 INT",
    ];
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for source in S12 {
        if *source == "s2" {
            // s2 starts once s1's first Info is seen, so s1 owns the first lock.
            env.wait_synced("s1").await;
        }
        let client = env.client("t", source);
        joins.push(spawn_ddls(client, source, DDLS, &env.cancel, &log));
    }
    let mut executes = [0, 0];
    for executed in joined(joins, WAIT).await {
        for (i, e) in executed.into_iter().enumerate() {
            executes[i] += usize::from(e);
        }
    }
    assert_eq!(executes, [1, 1], "each DDL is executed exactly once");
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn two_tasks_on_the_same_downstream_table_have_separate_locks() {
    let env = Setup::new("pess-two-tasks", &[("ta", S12), ("tb", S12)])
        .await
        .start()
        .await;
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for task in ["ta", "tb"] {
        for source in S12 {
            joins.push(env.spawn_sync(task, source, ("db", "tb"), &log));
        }
    }
    let mut ids = std::collections::BTreeMap::new();
    for (op, d) in joined(joins, WAIT).await {
        *ids.entry(op.id).or_insert(0) += usize::from(d == Decision::Execute);
    }
    let expected: std::collections::BTreeMap<String, usize> = [
        ("ta-`db`.`tb`".to_string(), 1),
        ("tb-`db`.`tb`".to_string(), 1),
    ]
    .into();
    assert_eq!(ids, expected);
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn eight_tasks_in_flight_each_resolve_every_ddl_in_order() {
    // Answers of different tasks are written concurrently, a task's own
    // events wait for its write: every lock still has exactly one owner
    // executing, and each task's second DDL forms a fresh lock.
    let tasks: Vec<String> = (0..8).map(|i| format!("task{i}")).collect();
    let registered: Vec<(&str, &[&str])> = tasks.iter().map(|t| (t.as_str(), S12)).collect();
    let env = Setup::new("pess-pipelined", &registered)
        .await
        .start()
        .await;
    const DDLS: &[&str] = &[
        "ALTER TABLE `db`.`tb` ADD COLUMN c2 INT",
        "ALTER TABLE `db`.`tb` ADD COLUMN c3 INT",
        "ALTER TABLE `db`.`tb` ADD COLUMN c4 INT",
    ];
    let log: Log = Default::default();
    let mut joins = Vec::new();
    for task in &tasks {
        for source in S12 {
            let client = env.client(task, source);
            joins.push(spawn_ddls(client, source, DDLS, &env.cancel, &log));
        }
    }
    let results = joined(joins, Duration::from_secs(60)).await;
    // Per task (two sources in a row) and DDL: exactly one execution.
    for (task, pair) in tasks.iter().zip(results.chunks(2)) {
        for (i, _) in DDLS.iter().enumerate() {
            let executes = pair.iter().filter(|e| e[i]).count();
            assert_eq!(executes, 1, "{task} DDL {i}: {pair:?}");
        }
    }
    assert!(env.keys_gone().await);
    assert!(
        wait_until(WAIT, || async {
            !env.master
                .metrics
                .render()
                .contains("dm_master_ddl_state_number{")
        })
        .await,
        "every task's series is dropped with its last lock"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_source_leaving_mid_lock_resolves_it_against_the_remaining_sources() {
    let env = Env::new("pess-source-left", "t", &["s1", "s2", "s3"]).await;
    let ((c1, r1), (c2, r2)) = env.s1_then_s2().await;
    let waiting = (
        "s1".to_string(),
        vec!["s1".to_string(), "s2".to_string()],
        vec!["s3".to_string()],
    );
    assert!(
        wait_until(WAIT, || async {
            env.shown().await.as_ref() == Some(&waiting)
        })
        .await,
        "the lock waits for s3"
    );

    // stop-task on s3 alone: its subtask config disappears.
    delete_key(&env.etcd, env.space.key(&UPSTREAM_SUBTASK, ["s3", "t"])).await;
    let resolving = (
        "s1".to_string(),
        vec!["s1".to_string(), "s2".to_string()],
        vec![],
    );
    assert!(
        wait_until(Duration::from_secs(5), || async {
            env.shown().await.as_ref() == Some(&resolving)
        })
        .await,
        "ShowDDLLocks no longer lists s3"
    );
    // The normal protocol follows: exec to the owner, skip to the other.
    let op1 = answered(&c1, r1, &env.cancel, Duration::from_secs(5)).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = answered(&c2, r2, &env.cancel, WAIT).await;
    assert!(!op2.exec);
    c2.done(&op2).await.unwrap();
    assert!(env.keys_gone().await);
    assert!(env.shown().await.is_none());
    let text = env.master.metrics.render();
    assert!(
        text.contains("SubTaskDelete - SourceLeftLockError"),
        "the re-evaluation is counted: {text}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_stop_task_of_a_synced_lock_tells_no_leaving_source_to_execute() {
    let env = Env::new("pess-stop-synced", "t", S12).await;
    let ((c1, r1), _) = env.s1_then_s2().await;
    let op1 = answered(&c1, r1, &env.cancel, WAIT).await;
    assert!(op1.exec, "the owner s1 is told to execute");

    // stop-task deletes every subtask config of the task in one txn: the
    // lock goes with its keys, and the other source, leaving too, must not
    // be made the owner in between.
    let deletes = S12
        .iter()
        .map(|source| Op::delete(env.space.key(&UPSTREAM_SUBTASK, [source, "t"])));
    let stopped = env
        .etcd
        .txn(Txn::new("test stop-task").then(deletes))
        .await
        .unwrap();
    assert!(env.keys_gone().await, "the lock's keys are deleted");
    let puts = env.history.shard_ddl_puts_after(stopped.revision).await;
    assert!(
        puts.is_empty(),
        "shard DDL keys put after stop-task: {puts:?}"
    );
    assert!(env.shown().await.is_none());
    env.stop().await;
}

#[tokio::test]
async fn a_lock_whose_sources_all_left_is_removed_with_its_keys() {
    let env = Env::new("pess-all-left", "t", S12).await;
    put_ddl(&env.client("t", "s1"), DDL, &env.cancel).await;
    assert!(wait_until(WAIT, || async { env.shown().await.is_some() }).await);
    for source in S12 {
        delete_key(&env.etcd, env.space.key(&UPSTREAM_SUBTASK, [source, "t"])).await;
    }
    assert!(
        wait_until(Duration::from_secs(5), || async {
            env.shown().await.is_none() && env.lock_keys().await == 0
        })
        .await,
        "the lock and its Info are gone"
    );
    env.stop().await;
}
