//! The lock page in a real headless Chromium, the unlock preview against
//! the writes of the real unlock, and inject of a source that can never
//! report its DDL. A real master (in this process) on the shared etcd;
//! workers are the worker crate's pessimistic clients.

use std::collections::BTreeSet;
use std::time::Duration;

use dm_master::etcd::watch::{WatchEvent, Watcher};
use dm_master::etcd::Etcd;
use dm_master::etcd::{Op, Txn};
use dm_master::keys::KeySpace;
use dm_master::keys::UPSTREAM_SUBTASK;
use dm_master::keys::WORKER_KEEP_ALIVE;
use dm_master::optimism::ops::{self as optimistic_ops, TableKey as OptimisticTableKey};
use dm_master::optimism::{Info as OptimisticInfo, SourceTables};
use dm_master::pessimism::{ops, Operation};
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::operator::lock_operator_client::LockOperatorClient;
use dm_master::proto::operator::{InjectInfoRequest, PreviewUnlockRequest};
use dm_master::proto::RegisterWorkerRequest;
use dm_master::tableinfo::{ColumnInfo, FieldType, IndexInfo, TableInfo};
use dm_master::task::SubTaskConfig;
use dm_worker::shardddl::optimist::{Answer as OptimisticAnswer, OptimistClient};
use dm_worker::shardddl::pessimist::PessimistClient;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::grpc::{http_get, show_locks, unlock};
use crate::master::TestMaster;
use crate::pessimism::register_task;
use crate::support::{unique_space, wait_until, EtcdServer};

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
    let mut operator = LockOperatorClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
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
    let mut operator = LockOperatorClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut recorder = Recorder::start(&etcd, &space).await;
    let w1 = worker(&etcd, &space, "mysql-01");
    let r1 = report(&w1).await;
    let listed = wait_until(Duration::from_secs(10), || async {
        page_lock(&page_json(addr).await, LOCK_ID).is_some()
    })
    .await;
    assert!(listed);

    // Refused: the source reported already; the DDLs differ from the lock's.
    let refused = operator
        .inject_info(inject_request("mysql-01", DDL))
        .await
        .unwrap()
        .into_inner();
    assert!(!refused.result);
    assert!(
        refused.msg.contains("code=38101")
            && refused
                .msg
                .contains("source mysql-01 has already reported an Info for lock"),
        "{}",
        refused.msg
    );
    let refused = operator
        .inject_info(inject_request(
            "mysql-02",
            "ALTER TABLE `shard_db`.`shard_table` DROP COLUMN `c1`",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !refused.result && refused.msg.contains("differ"),
        "{}",
        refused.msg
    );

    // mysql-02's shard table was dropped upstream: the operator injects.
    let owner = answer(w1, r1);
    let injected = operator
        .inject_info(inject_request("mysql-02", DDL))
        .await
        .unwrap()
        .into_inner();
    assert!(injected.result, "{}", injected.msg);
    let again = operator
        .inject_info(inject_request("mysql-02", DDL))
        .await
        .unwrap()
        .into_inner();
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
    let mut operator = LockOperatorClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
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
    let refused = operator
        .inject_info(inject_request("mysql-03", DDL))
        .await
        .unwrap()
        .into_inner();
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
    let injected = LockOperatorClient::connect(format!("http://{follower}"))
        .await
        .unwrap()
        .inject_info(inject_request("mysql-02", DDL))
        .await
        .unwrap()
        .into_inner();
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

/// A table `tb(id INT PRIMARY KEY, <cols>)` as TiDB JSON.
fn table_schema(cols: &[(&str, FieldType)]) -> Value {
    let mut t =
        TableInfo::new("tb").with_column(ColumnInfo::new("id", FieldType::int()).not_null());
    for (name, ft) in cols {
        t = t.with_column(ColumnInfo::new(name, ft.clone()));
    }
    t.with_index(IndexInfo::primary(&["id"])).to_json_value()
}

fn optimistic_info(table: &str, ddl: &str, before: Value, after: Value) -> OptimisticInfo {
    OptimisticInfo {
        task: "t".into(),
        source: "s1".into(),
        up_schema: "shard".into(),
        up_table: table.into(),
        down_schema: "db".into(),
        down_table: "tb".into(),
        ddls: Some(vec![ddl.into()]),
        table_info_before: Some(before.into()),
        table_info_after: Some(vec![after.into()]),
        ignore_conflict: false,
    }
}

#[tokio::test]
async fn a_conflict_in_strict_optimistic_mode_shows_at_once_and_counts_as_an_error() {
    let space = unique_space("strict");
    let etcd = EtcdServer::shared().client().await;
    let cfg = SubTaskConfig {
        name: "t".into(),
        source_id: "s1".into(),
        is_sharding: true,
        shard_mode: "optimistic".into(),
        route_rules: vec![],
    };
    // DM's subtask TOML carries the flag at the top level.
    etcd.put(
        space.key(&UPSTREAM_SUBTASK, ["s1", "t"]),
        format!("strict-optimistic-shard-mode = true\n{}", cfg.to_toml()),
    )
    .await
    .unwrap();
    let mut tables = SourceTables::new("t", "s1");
    tables.add_table("shard", "t1", "db", "tb");
    tables.add_table("shard", "t2", "db", "tb");
    optimistic_ops::put_source_tables(&etcd, &space, &tables)
        .await
        .unwrap();
    let master = TestMaster::builder(&space)
        .name("strict")
        .lead(Duration::from_secs(20))
        .await;
    let addr = master.local_addr;
    let cancel = CancellationToken::new();
    let client = OptimistClient::new(etcd.clone(), space.clone(), "t", "s1");

    // t1 adds c3 as TEXT and goes through.
    let base = table_schema(&[]);
    let text = table_schema(&[("c3", FieldType::text())]);
    let info1 = optimistic_info(
        "t1",
        "ALTER TABLE `db`.`tb` ADD COLUMN `c3` TEXT",
        base.clone(),
        text,
    );
    let rev = client.put_info(&info1).await.unwrap();
    let key1 = OptimisticTableKey::new("s1", "shard", "t1");
    let answer = tokio::time::timeout(
        Duration::from_secs(15),
        client.wait_answer(&key1, rev, &cancel),
    )
    .await
    .unwrap()
    .unwrap();
    let OptimisticAnswer::Execute(op) = answer else {
        panic!("{answer:?}");
    };
    client.done(&op).await.unwrap();

    // t2 adds c3 as DATETIME: a conflict, detected.
    let datetime = table_schema(&[("c3", FieldType::datetime(0))]);
    let info2 = optimistic_info(
        "t2",
        "ALTER TABLE `db`.`tb` ADD COLUMN `c3` DATETIME",
        base,
        datetime,
    );
    client.put_info(&info2).await.unwrap();
    let shown = wait_until(Duration::from_secs(15), || async {
        page_json(addr).await["locks"]
            .as_array()
            .is_some_and(|locks| {
                locks.iter().any(|l| {
                    l["strict"] == true
                        && l["conflicts"].as_array().is_some_and(|c| {
                            c.iter().any(|c| {
                                c["stage"] == "detected" && c["table"] == "s1-`shard`.`t2`"
                            })
                        })
                })
            })
    })
    .await;
    assert!(
        shown,
        "the page shows the strict conflict: {}",
        page_json(addr).await
    );
    let text = master.metrics.render();
    assert!(
        text.contains(r#"dm_master_shard_ddl_error{task="t",type="InfoPut - HandleLockError"} 1"#),
        "{text}"
    );
    let mut grpc = MasterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let shown = show_locks(&mut grpc).await;
    assert!(
        shown.locks.iter().any(|l| l.owner == "s1-`shard`.`t2`"),
        "show names the conflicting table as the owner: {:?}",
        shown.locks
    );
    master.stop().await;
}

// ---- the page in a real browser ----

/// Chromium's binary: `$CHROMIUM_BIN`, or `chromium` / `chromium-browser` /
/// `google-chrome` on PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(bin) = std::env::var_os("CHROMIUM_BIN") {
        return Some(bin.into());
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A headless Chromium on a free DevTools port, killed by PID on drop.
struct Browser {
    child: std::process::Child,
    _profile: tempfile::TempDir,
    devtools_port: u16,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    async fn open(bin: &std::path::Path, url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=900,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Chromium writes the port it chose into the profile directory.
        let port_file = profile.path().join("DevToolsActivePort");
        let written = wait_until(Duration::from_secs(30), || async {
            std::fs::read_to_string(&port_file).is_ok_and(|t| t.lines().count() >= 2)
        })
        .await;
        assert!(written, "chromium started its DevTools endpoint");
        let devtools_port = std::fs::read_to_string(&port_file)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Browser {
            child,
            _profile: profile,
            devtools_port,
        }
    }

    /// A DevTools session on the page showing `url`.
    async fn page(&self, url: &str) -> Cdp {
        let addr: std::net::SocketAddr =
            format!("127.0.0.1:{}", self.devtools_port).parse().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let ws_url = loop {
            let text = http_get(addr, "/json/list").await;
            let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            let targets: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let found = targets.as_array().and_then(|t| {
                t.iter()
                    .find(|t| t["type"] == "page" && t["url"] == url)
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
            if let Some(found) = found {
                break found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium lists the page {url}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        Cdp { socket, next_id: 0 }
    }
}

/// A minimal Chrome DevTools protocol client: one command at a time.
struct Cdp {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Cdp {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        use futures_util::{SinkExt, StreamExt};
        self.next_id += 1;
        let id = self.next_id;
        let request = serde_json::json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                request.to_string(),
            ))
            .await
            .unwrap();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("chromium answers")
                .expect("socket open")
                .unwrap();
            let Ok(text) = message.to_text() else {
                continue;
            };
            let reply: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if reply["id"] == id {
                return reply;
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> Value {
        let reply = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({ "expression": expression, "returnByValue": true }),
            )
            .await;
        reply["result"]["result"]["value"].clone()
    }

    /// Waits until `expression` is `true` in the page.
    async fn wait_for(&mut self, expression: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.eval(expression).await == Value::Bool(true) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_lock_page_shows_a_blocking_source_live_in_a_real_browser() {
    let Some(bin) = chromium() else {
        eprintln!(
            "SKIPPED: chromium not found (run scripts/install-deps, or set CHROMIUM_BIN); \
             the lock page's browser test did not run"
        );
        return;
    };
    let sources = ["mysql-01", "mysql-02"];
    let (master, etcd, space) = start_master("page", &sources).await;
    let addr = master.local_addr;
    let w1 = worker(&etcd, &space, "mysql-01");
    let r1 = report(&w1).await;

    // A registered worker with its keep-alive: listed as free.
    let mut client = MasterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let registered = client
        .register_worker(RegisterWorkerRequest {
            name: "worker-1".into(),
            address: "127.0.0.1:8262".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(registered.result, "{}", registered.msg);
    let lease = etcd.lease_grant(60).await.unwrap();
    etcd.txn(Txn::new("keep-alive").then([Op::put_with_lease(
        space.key(&WORKER_KEEP_ALIVE, ["worker-1"]),
        r#"{"worker-name":"worker-1","join-time":"2026-01-01T10:00:00+08:00"}"#,
        lease,
    )]))
    .await
    .unwrap();

    let url = format!("http://{addr}/dashboard/locks");
    let browser = Browser::open(&bin, &url).await;
    let mut page = browser.page(&url).await;
    let lock = r#"document.querySelector('[data-lock-id="test-`shard_db`.`shard_table`"]')"#;
    let blocking = format!(
        r#"(() => {{ const l = {lock}; return !!l && !!l.querySelector('.unsynced .source.blocking[data-source="mysql-02"]') && l.querySelector('.meta b').textContent === "test"; }})()"#
    );
    assert!(
        page.wait_for(&blocking, Duration::from_secs(20)).await,
        "the page shows the lock with mysql-02 blocking: {}",
        page.eval("document.body.innerText").await
    );
    assert_eq!(
        page.eval(&format!("{lock}.querySelector('.ddl').textContent"))
            .await,
        Value::String(DDL.into())
    );
    assert!(
        page.wait_for(
            r#"(() => { const w = document.querySelector('tr.worker[data-worker="worker-1"]'); return !!w && w.textContent.includes("free"); })()"#,
            Duration::from_secs(20)
        )
        .await,
        "the page lists the worker: {}",
        page.eval("document.body.innerText").await
    );
    // The unlock preview button shows what the unlock would write.
    page.eval(&format!("{lock}.querySelector('.preview-button').click()"))
        .await;
    assert!(
        page.wait_for(
            &format!("!!{lock}.querySelector('.preview li[data-source=\"mysql-01\"][data-action=\"exec\"]')"),
            Duration::from_secs(10)
        )
        .await,
        "the preview is shown"
    );
    let shot = page
        .call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        )
        .await;
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        shot["result"]["data"].as_str().expect("a screenshot"),
    )
    .unwrap();
    let artifact =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-locks.png");
    std::fs::write(&artifact, &png).unwrap();

    // On a phone-sized screen nothing is wider than the screen.
    page.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
    )
    .await;
    assert!(
        page.wait_for(
            "window.innerWidth === 390 && document.documentElement.scrollWidth <= 390",
            Duration::from_secs(10)
        )
        .await,
        "the page fits a phone: scroll width {}",
        page.eval("document.documentElement.scrollWidth").await
    );

    // The lock resolves: the row goes away without a reload.
    let marker = page
        .eval("window.__sameDocument = true; window.__sameDocument")
        .await;
    assert_eq!(marker, Value::Bool(true));
    let w2 = worker(&etcd, &space, "mysql-02");
    let r2 = report(&w2).await;
    let (o1, o2) = (answer(w1, r1), answer(w2, r2));
    o1.await.unwrap();
    o2.await.unwrap();
    assert!(
        page.wait_for(
            &format!("{lock} === null && !!document.getElementById('no-locks') && window.__sameDocument === true"),
            Duration::from_secs(20)
        )
        .await,
        "the lock disappears from the same page: {}",
        page.eval("document.body.innerText").await
    );
    drop(page);
    drop(browser);
    master.stop().await;
}
