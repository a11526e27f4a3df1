//! The lock page in a real headless Chromium, the unlock preview against
//! the writes of the real unlock, and inject of a source that can never
//! report its DDL. A real master (in this process) on the shared etcd;
//! workers are the worker crate's pessimistic clients.
//!
//! This file holds the preview and inject; [`strict`] the strict optimistic
//! mode, [`browser`] the page in Chromium.

use std::collections::BTreeSet;
use std::time::Duration;

use dm_master::etcd::watch::{WatchEvent, Watcher};
use dm_master::etcd::Etcd;
use dm_master::etcd::{Op, Txn};
use dm_master::keys::KeySpace;
use dm_master::keys::UPSTREAM_SUBTASK;
use dm_master::keys::WORKER_KEEP_ALIVE;
use dm_master::optimism::ops::{self as optimistic_ops, TableKey as OptimisticTableKey};
use dm_master::optimism::SourceTables;
use dm_master::pessimism::{ops, Operation};
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::operator::lock_operator_client::LockOperatorClient;
use dm_master::proto::operator::{InjectInfoRequest, InjectInfoResponse, PreviewUnlockRequest};
use dm_master::tableinfo::FieldType;
use dm_master::task::SubTaskConfig;
use dm_worker::shardddl::optimist::{Answer as OptimisticAnswer, OptimistClient};
use dm_worker::shardddl::pessimist::PessimistClient;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::grpc::{http_get, show_locks, unlock};
use crate::master::TestMaster;
use crate::optimism::schema;
use crate::pessimism::register_task;
use crate::support::{unique_space, wait_until, EtcdServer};

mod browser;
mod strict;

const TASK: &str = "test";
const LOCK_ID: &str = "test-`shard_db`.`shard_table`";
const DDL: &str = "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c2` INT";

/// A master (advertised, so that a follower can forward to it) leading in
/// a key space of its own where `sources` have a subtask of [`TASK`].
async fn start_master(name: &str, sources: &[&str]) -> (TestMaster, Etcd, KeySpace) {
    let space = unique_space(name);
    let etcd = EtcdServer::shared().client().await;
    register_task(&etcd, &space, TASK, sources).await;
    let master = TestMaster::builder(&space)
        .name(name)
        .advertised()
        .lead(Duration::from_secs(20))
        .await;
    (master, etcd, space)
}

/// An inject of `source`'s Info of `ddl` into the lock of [`TASK`] on
/// `shard_db`.`shard_table`.
fn inject_request(source: &str, ddl: &str) -> InjectInfoRequest {
    InjectInfoRequest {
        task: TASK.into(),
        source: source.into(),
        database: "shard_db".into(),
        table: "shard_table".into(),
        ddls: vec![ddl.into()],
    }
}

/// The lock operator service of the master at `addr`.
async fn operator_at(addr: impl std::fmt::Display) -> LockOperatorClient<Channel> {
    LockOperatorClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// Injects `source`'s Info of `ddl` (see [`inject_request`]).
async fn inject(
    operator: &mut LockOperatorClient<Channel>,
    source: &str,
    ddl: &str,
) -> InjectInfoResponse {
    operator
        .inject_info(inject_request(source, ddl))
        .await
        .unwrap()
        .into_inner()
}

fn worker(etcd: &Etcd, space: &KeySpace, source: &str) -> PessimistClient {
    PessimistClient::new(etcd.clone(), space.clone(), TASK, source)
}

/// Puts the source's Info and returns its revision.
async fn report(client: &PessimistClient) -> i64 {
    client
        .put_info(
            &client.info("shard_db", "shard_table", vec![DDL.into()]),
            &CancellationToken::new(),
        )
        .await
        .unwrap()
}

/// A worker that waits for its Operation after `revision`, marks it done,
/// and returns it.
fn answer(client: PessimistClient, revision: i64) -> tokio::task::JoinHandle<Operation> {
    tokio::spawn(async move {
        let cancel = CancellationToken::new();
        let op = client.wait_operation(revision, &cancel).await.unwrap();
        client.done(&op).await.unwrap();
        op
    })
}

async fn page_json(addr: std::net::SocketAddr) -> Value {
    let text = http_get(addr, "/dashboard/locks.json").await;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn page_lock(page: &Value, id: &str) -> Option<Value> {
    page["locks"]
        .as_array()?
        .iter()
        .find(|l| l["id"] == id)
        .cloned()
}

/// Records every etcd event of the test's shard-DDL keys from now on.
struct Recorder {
    etcd: Etcd,
    space: KeySpace,
    events: mpsc::Receiver<WatchEvent>,
    cancel: CancellationToken,
}

impl Recorder {
    async fn start(etcd: &Etcd, space: &KeySpace) -> Recorder {
        let revision = etcd.get("/").await.unwrap().revision;
        let (tx, events) = mpsc::channel(1024);
        let cancel = CancellationToken::new();
        // Both modes' keys and the sentinel below, which no coordinator
        // watches.
        let prefix = format!("{}/dm-master/shardddl-", space.namespace());
        tokio::spawn(Watcher::after(etcd.clone(), prefix, revision).run(tx, cancel.clone()));
        Recorder {
            etcd: etcd.clone(),
            space: space.clone(),
            events,
            cancel,
        }
    }

    /// Every event up to now: a sentinel is written, and events are taken
    /// until it arrives.
    async fn drain(&mut self) -> Vec<WatchEvent> {
        let sentinel = format!(
            "{}/dm-master/shardddl-dashboard-sentinel",
            self.space.namespace()
        );
        let revision = self.etcd.put(sentinel.as_str(), "").await.unwrap();
        let mut out = Vec::new();
        loop {
            let event = tokio::time::timeout(Duration::from_secs(15), self.events.recv())
                .await
                .expect("the recorder catches up with the sentinel")
                .expect("the recorder runs");
            if event.revision() >= revision {
                break;
            }
            out.push(event);
        }
        self.cancel.cancel();
        out
    }
}

#[tokio::test]
async fn unlock_preview_equals_what_the_unlock_writes() {
    let sources = ["mysql-01", "mysql-02", "mysql-03"];
    let (master, etcd, space) = start_master("preview", &sources).await;
    let addr = master.local_addr;
    let mut operator = operator_at(addr).await;
    let w1 = worker(&etcd, &space, "mysql-01");
    let w2 = worker(&etcd, &space, "mysql-02");
    let r1 = report(&w1).await;
    let r2 = report(&w2).await;
    // mysql-03 never reports: the lock waits for it.
    let listed = wait_until(Duration::from_secs(10), || async {
        page_lock(&page_json(addr).await, LOCK_ID)
            .is_some_and(|l| l["synced"].as_array().is_some_and(|s| s.len() == 2))
    })
    .await;
    assert!(listed, "the lock is listed with two synced sources");

    let preview = operator
        .preview_unlock(PreviewUnlockRequest {
            lock_id: LOCK_ID.into(),
            replace_owner: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(preview.result, "{}", preview.msg);
    let preview: Value = serde_json::from_str(&preview.json).unwrap();
    assert_eq!(preview["owner"], "mysql-01");
    assert_eq!(preview["not_asked"], serde_json::json!([]));
    let planned_puts: Vec<(String, String)> = preview["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_owned(),
                o["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // mysql-01 executes; mysql-02 and mysql-03 (forced) skip.
    assert_eq!(planned_puts.len(), 3, "{preview}");
    let planned_deletes: BTreeSet<String> = preview["deletes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    // The page's button asks the same route over HTTP.
    let http_preview = http_get(
        addr,
        "/dashboard/unlock-preview?lock=test-%60shard_db%60.%60shard_table%60",
    )
    .await;
    assert!(http_preview.contains(&planned_puts[0].0), "{http_preview}");
    // dmctl prints the same preview.
    let a = addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dmctl"))
            .args([
                "--master-addr",
                &a,
                "shard-ddl-lock",
                "unlock",
                LOCK_ID,
                "--dry-run",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["result"], true);
    assert_eq!(printed["preview"]["operations"], preview["operations"]);
    assert_eq!(printed["preview"]["deletes"], preview["deletes"]);
    // The preview wrote nothing: the lock still waits.
    let page = page_json(addr).await;
    assert_eq!(
        page_lock(&page, LOCK_ID).unwrap()["unsynced"],
        serde_json::json!(["mysql-03"])
    );

    // The real unlock, with both reporting workers answering.
    let mut recorder = Recorder::start(&etcd, &space).await;
    let owner = answer(w1, r1);
    let other = answer(w2, r2);
    let mut client = MasterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let unlocked = unlock(&mut client, LOCK_ID, |_| {}).await;
    assert!(unlocked.result, "{}", unlocked.msg);
    assert!(owner.await.unwrap().exec);
    assert!(!other.await.unwrap().exec);
    let events = recorder.drain().await;

    // The master's writes are the Operation PUTs with done=false: exactly
    // the preview's, in its order, byte for byte (a skip may be put twice
    // with the same bytes, once for the owner's done and once by the
    // unlock's own step, depending on how fast the worker answers).
    let mut master_puts: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Put(kv) => {
                let op = Operation::decode(&kv.value).ok()?;
                (!op.done).then(|| {
                    (
                        kv.key_str().into_owned(),
                        String::from_utf8_lossy(&kv.value).into_owned(),
                    )
                })
            }
            _ => None,
        })
        .collect();
    let mut seen = BTreeSet::new();
    master_puts.retain(|put| seen.insert(put.clone()));
    assert_eq!(master_puts, planned_puts);
    // Every key deleted (by the master, or a worker's done txn deleting
    // its own Info) is one the preview named, and none of them is left.
    for event in &events {
        if let WatchEvent::Delete { key, .. } = event {
            let key = String::from_utf8_lossy(key).into_owned();
            assert!(planned_deletes.contains(&key), "unplanned delete {key}");
        }
    }
    for key in &planned_deletes {
        assert!(
            etcd.get(key.as_str()).await.unwrap().value.is_none(),
            "{key} left"
        );
    }
    master.stop().await;
}

#[tokio::test]
async fn inject_lets_a_group_that_cannot_sync_resolve_with_one_exec() {
    let sources = ["mysql-01", "mysql-02"];
    let (master, etcd, space) = start_master("inject", &sources).await;
    let addr = master.local_addr;
    let mut operator = operator_at(addr).await;
    let mut recorder = Recorder::start(&etcd, &space).await;
    let w1 = worker(&etcd, &space, "mysql-01");
    let r1 = report(&w1).await;
    let listed = wait_until(Duration::from_secs(10), || async {
        page_lock(&page_json(addr).await, LOCK_ID).is_some()
    })
    .await;
    assert!(listed);

    // Refused: the source reported already; the DDLs differ from the lock's.
    let refused = inject(&mut operator, "mysql-01", DDL).await;
    assert!(!refused.result);
    assert!(
        refused.msg.contains("code=38101")
            && refused
                .msg
                .contains("source mysql-01 has already reported an Info for lock"),
        "{}",
        refused.msg
    );
    let refused = inject(
        &mut operator,
        "mysql-02",
        "ALTER TABLE `shard_db`.`shard_table` DROP COLUMN `c1`",
    )
    .await;
    assert!(
        !refused.result && refused.msg.contains("differ"),
        "{}",
        refused.msg
    );

    // mysql-02's shard table was dropped upstream: the operator injects.
    let owner = answer(w1, r1);
    let injected = inject(&mut operator, "mysql-02", DDL).await;
    assert!(injected.result, "{}", injected.msg);
    let again = inject(&mut operator, "mysql-02", DDL).await;
    assert!(
        !again.result && again.msg.contains("already injected"),
        "{}",
        again.msg
    );
    let op = owner.await.unwrap();
    assert!(op.exec, "the real source executes");
    assert_eq!(op.source, "mysql-01");

    let resolved = wait_until(Duration::from_secs(10), || async {
        let page = page_json(addr).await;
        page["locks"].as_array().is_some_and(|l| l.is_empty())
    })
    .await;
    assert!(resolved, "the lock resolves");
    let events = recorder.drain().await;
    let puts: Vec<(String, Vec<u8>)> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Put(kv) => Some((kv.key_str().into_owned(), kv.value.clone())),
            _ => None,
        })
        .collect();
    let operations: Vec<Operation> = puts
        .iter()
        .filter(|(k, _)| k.contains("/operation/"))
        .map(|(_, v)| Operation::decode(v).unwrap())
        .collect();
    let execs = operations.iter().filter(|o| o.exec && !o.done).count();
    assert_eq!(execs, 1, "exactly one exec: {operations:?}");
    assert!(
        operations.iter().all(|o| o.source == "mysql-01"),
        "the injected source is never asked: {operations:?}"
    );
    let injected_info = puts
        .iter()
        .find(|(k, _)| *k == ops::info_key(&space, TASK, "mysql-02"))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .unwrap();
    assert!(
        injected_info.ends_with(r#","injected":true}"#),
        "{injected_info}"
    );
    let left = etcd
        .get_prefix(&ops::pessimism_prefix(&space))
        .await
        .unwrap()
        .value;
    assert!(left.is_empty(), "no key left: {left:?}");
    master.stop().await;
}

#[tokio::test]
async fn an_injected_source_is_shown_as_injected_until_the_lock_resolves() {
    let sources = ["mysql-01", "mysql-02", "mysql-03"];
    let (master, etcd, space) = start_master("inject-show", &sources).await;
    let addr = master.local_addr;
    let mut operator = operator_at(addr).await;
    // The injected Info comes first (through dmctl): it creates the lock
    // but never owns it.
    let a = addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dmctl"))
            .args(["--master-addr", &a, "shard-ddl-lock", "inject", TASK])
            .args([
                "-s",
                "mysql-03",
                "-d",
                "shard_db",
                "-t",
                "shard_table",
                "--ddl",
                DDL,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text, "{\n    \"result\": true,\n    \"msg\": \"\"\n}\n");
    // A second inject of the same source is refused with our code.
    let refused = inject(&mut operator, "mysql-03", DDL).await;
    assert!(
        !refused.result && refused.msg.contains("code=38101"),
        "{}",
        refused.msg
    );
    let shown = wait_until(Duration::from_secs(10), || async {
        page_lock(&page_json(addr).await, LOCK_ID)
            .is_some_and(|l| l["injected"] == serde_json::json!(["mysql-03"]))
    })
    .await;
    assert!(shown, "the page marks the injected source");
    let lock = page_lock(&page_json(addr).await, LOCK_ID).unwrap();
    assert_ne!(lock["owner"], "mysql-03", "{lock}");
    assert_eq!(
        lock["blocking"],
        serde_json::json!(["mysql-01", "mysql-02"]),
        "{lock}"
    );

    // dmctl's show lists it too.
    let a = addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dmctl"))
            .args(["--master-addr", &a, "shard-ddl-lock", TASK])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"injected\": [\n                \"mysql-03\"\n            ]"),
        "{text}"
    );

    let w1 = worker(&etcd, &space, "mysql-01");
    let w2 = worker(&etcd, &space, "mysql-02");
    let r1 = report(&w1).await;
    let r2 = report(&w2).await;
    let first = answer(w1, r1);
    let second = answer(w2, r2);
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(
        [first.exec, second.exec],
        [true, false],
        "the first real reporter owns the lock"
    );
    let resolved = wait_until(Duration::from_secs(10), || async {
        page_json(addr).await["locks"]
            .as_array()
            .is_some_and(|l| l.is_empty())
    })
    .await;
    assert!(resolved);
    master.stop().await;
}

#[tokio::test]
async fn a_follower_serves_the_page_and_inject_and_a_new_leader_keeps_the_injected_source() {
    let sources = ["mysql-01", "mysql-02"];
    let (first, etcd, space) = start_master("inject-failover", &sources).await;
    // The follower forwards to the leader's advertised address; both
    // advertise the port they listen on.
    let second = TestMaster::builder(&space)
        .name("inject-failover-2")
        .advertised()
        .follow(Duration::from_secs(20))
        .await;
    let follower = second.local_addr;

    let w1 = worker(&etcd, &space, "mysql-01");
    let r1 = report(&w1).await;
    let forwarded = wait_until(Duration::from_secs(10), || async {
        page_lock(&page_json(follower).await, LOCK_ID).is_some()
    })
    .await;
    assert!(
        forwarded,
        "the follower's page shows the leader's lock: {}",
        http_get(follower, "/dashboard/locks.json").await
    );
    let injected = inject(&mut operator_at(follower).await, "mysql-02", DDL).await;
    assert!(injected.result, "{}", injected.msg);
    // The leader answers the now synced lock, then goes away before the
    // worker is done: the new leader rebuilds from etcd.
    let exec_written = wait_until(Duration::from_secs(10), || async {
        etcd.get(ops::operation_key(&space, TASK, "mysql-01"))
            .await
            .unwrap()
            .value
            .is_some()
    })
    .await;
    assert!(exec_written);
    first.stop().await;
    second.wait_leader(Duration::from_secs(20)).await.unwrap();
    let rebuilt = wait_until(Duration::from_secs(10), || async {
        page_lock(&page_json(follower).await, LOCK_ID).is_some_and(|l| {
            l["injected"] == serde_json::json!(["mysql-02"]) && l["owner"] == "mysql-01"
        })
    })
    .await;
    assert!(
        rebuilt,
        "the new leader keeps the injected source: {}",
        page_json(follower).await
    );
    let op = answer(w1, r1).await.unwrap();
    assert!(op.exec);
    let resolved = wait_until(Duration::from_secs(10), || async {
        etcd.get_prefix(&ops::pessimism_prefix(&space))
            .await
            .unwrap()
            .value
            .is_empty()
    })
    .await;
    assert!(
        resolved,
        "the lock resolves under the new leader, no key left"
    );
    second.stop().await;
}
