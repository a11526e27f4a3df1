//! The scheduler against a real etcd with two in-process masters. Workers
//! are simulated the way DM's worker talks to the master: `RegisterWorker`
//! over gRPC, then a keep-alive key under its own lease put with a plain
//! etcd client (docs/protocol.md#worker-registration); "killing" a worker revokes its lease.
//!
//! [`records`] checks the keys against DM's types, [`dm_surface`] what
//! dmctl and tiup see.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::{
    KeySpace, BOUND_WORKER, LAST_BOUND_WORKER, UPSTREAM_CONFIG, WORKER_KEEP_ALIVE, WORKER_REGISTER,
};
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::{
    members::Member, ListMemberRequest, OfflineMemberRequest, OperateSourceRequest,
    RegisterWorkerRequest, SourceOp,
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::dmctl::dmctl_async;
use crate::master::TestMaster;
use crate::support::{free_port, unique_space, wait_until, EtcdServer};

mod dm_surface;
mod records;

const WAIT: Duration = Duration::from_secs(20);
const KEEP_ALIVE_TTL: i64 = 10;

/// A DM-worker as the master sees it: a registration and a leased
/// keep-alive key.
struct SimWorker {
    name: String,
    addr: String,
    lease: i64,
    keeping: CancellationToken,
}

impl SimWorker {
    async fn register(master: &mut MasterClient<Channel>, name: &str) -> SimWorker {
        let addr = format!("127.0.0.1:{}", free_port());
        SimWorker::register_at(master, name, addr).await
    }

    async fn register_at(
        master: &mut MasterClient<Channel>,
        name: &str,
        addr: String,
    ) -> SimWorker {
        let resp = register_worker(master, name, &addr).await;
        assert!(resp.result, "register {name}: {}", resp.msg);
        assert!(resp.secret_key.is_empty());
        SimWorker {
            name: name.into(),
            addr,
            lease: 0,
            keeping: CancellationToken::new(),
        }
    }

    /// `LeaseGrant` + `Put(key, value, lease)` + keep-alive, as
    /// `dm/pkg/ha/keepalive.go` does.
    async fn keep_alive(&mut self, etcd: &Etcd, space: &KeySpace) {
        let lease = etcd.lease_grant(KEEP_ALIVE_TTL).await.unwrap();
        let value = format!(
            r#"{{"worker-name":"{}","join-time":"2024-05-01T10:00:00.123456789+08:00"}}"#,
            self.name
        );
        etcd.txn(Txn::new("keep-alive").then([Op::put_with_lease(
            space.key(&WORKER_KEEP_ALIVE, [&self.name]),
            value,
            lease,
        )]))
        .await
        .unwrap();
        self.lease = lease;
        self.keeping = CancellationToken::new();
        let mut keeper = etcd.lease_keeper(lease).await.unwrap();
        let stop = self.keeping.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        if keeper.keep_alive_once().await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }

    /// The worker dies: its lease is revoked, so the key goes at once.
    async fn kill(&mut self, etcd: &Etcd) {
        self.keeping.cancel();
        etcd.lease_revoke(self.lease).await.unwrap();
    }
}

/// `RegisterWorker` of `name` at `address`.
pub async fn register_worker(
    master: &mut MasterClient<Channel>,
    name: &str,
    address: &str,
) -> dm_master::proto::RegisterWorkerResponse {
    master
        .register_worker(RegisterWorkerRequest {
            name: name.into(),
            address: address.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// `OfflineMember` of `kind` (`worker`, `master`, ...) `name`.
async fn offline(
    master: &mut MasterClient<Channel>,
    kind: &str,
    name: &str,
) -> dm_master::proto::OfflineMemberResponse {
    master
        .offline_member(OfflineMemberRequest {
            r#type: kind.into(),
            name: name.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// name → (stage, source) from `ListMember --worker`.
pub async fn workers(master: &mut MasterClient<Channel>) -> BTreeMap<String, (String, String)> {
    let resp = master
        .list_member(ListMemberRequest {
            worker: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.result, "{}", resp.msg);
    let mut out = BTreeMap::new();
    for member in resp.members {
        if let Some(Member::Worker(list)) = member.member {
            assert!(list.msg.is_empty(), "{}", list.msg);
            for w in list.workers {
                out.insert(w.name, (w.stage, w.source));
            }
        }
    }
    out
}

/// Waits until `ListMember --worker` shows exactly `want`, each worker as
/// `"name stage"` or `"name stage source"`; returns what it showed.
async fn wait_workers(
    master: &mut MasterClient<Channel>,
    want: &[&str],
) -> BTreeMap<String, (String, String)> {
    let want: BTreeMap<String, (String, String)> = want
        .iter()
        .map(|w| {
            let mut words = w.split(' ');
            let name = words.next().unwrap().to_string();
            let stage = words.next().expect("a stage").to_string();
            let source = words.next().unwrap_or_default().to_string();
            (name, (stage, source))
        })
        .collect();
    let last = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let held = wait_until(WAIT, || {
        let mut m = master.clone();
        let want = want.clone();
        let last = last.clone();
        async move {
            let now = workers(&mut m).await;
            let same = now == want;
            *last.lock().unwrap() = now;
            same
        }
    })
    .await;
    let last = last.lock().unwrap().clone();
    assert!(held, "workers are {last:?}, want {want:?}");
    last
}

pub fn source_yaml(id: &str) -> String {
    format!(
        "source-id: {id}\nflavor: mysql\nserver-id: 101\nenable-gtid: false\nfrom:\n  host: 127.0.0.1\n  user: root\n  password: \"123456\"\n  port: 3306\n"
    )
}

async fn operate_source(
    master: &mut MasterClient<Channel>,
    op: SourceOp,
    configs: Vec<String>,
    ids: Vec<String>,
) -> dm_master::proto::OperateSourceResponse {
    master
        .operate_source(OperateSourceRequest {
            op: op as i32,
            config: configs,
            source_id: ids,
            worker_name: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// `OperateSource start` of the given source YAMLs.
async fn start_sources(
    master: &mut MasterClient<Channel>,
    configs: Vec<String>,
) -> dm_master::proto::OperateSourceResponse {
    operate_source(master, SourceOp::StartSource, configs, vec![]).await
}

/// `OperateSource stop` of source `id`.
async fn stop_source(
    master: &mut MasterClient<Channel>,
    id: &str,
) -> dm_master::proto::OperateSourceResponse {
    operate_source(master, SourceOp::StopSource, vec![], vec![id.into()]).await
}

async fn value(etcd: &Etcd, key: String) -> Option<Vec<u8>> {
    etcd.get(key).await.unwrap().value.map(|kv| kv.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_register_get_sources_bound_and_keep_them_across_failures() {
    let space = unique_space("sched");
    let etcd = EtcdServer::shared().client().await;
    let (m1, m2) = TestMaster::leader_and_follower(&space, WAIT).await;
    let mut via_leader = m1.client().await;
    // The follower forwards every request to the leader.
    let mut via_follower = m2.client().await;

    // Register: a name reused with another address is refused with DM's text.
    let mut w1 = SimWorker::register(&mut via_follower, "w1").await;
    let mut w2 = SimWorker::register(&mut via_follower, "w2").await;
    let mut w3 = SimWorker::register(&mut via_leader, "w3").await;
    let again = register_worker(&mut via_leader, "w1", &w1.addr).await;
    assert!(again.result, "same name and address: {}", again.msg);
    let moved = register_worker(&mut via_leader, "w1", "10.0.0.1:8262").await;
    assert!(!moved.result);
    assert_eq!(
        moved.msg,
        format!(
            r#"[code=46003:class=scheduler:scope=internal:level=medium], Message: dm-worker with name {{"name":"w1","addr":"{}"}} already exists"#,
            w1.addr
        )
    );
    // Registered but no keep-alive yet: offline.
    wait_workers(
        &mut via_follower,
        &["w1 offline", "w2 offline", "w3 offline"],
    )
    .await;

    w1.keep_alive(&etcd, &space).await;
    w2.keep_alive(&etcd, &space).await;
    w3.keep_alive(&etcd, &space).await;
    wait_workers(&mut via_follower, &["w1 free", "w2 free", "w3 free"]).await;

    // Two sources: two workers bound, the third free.
    let created = start_sources(
        &mut via_follower,
        vec![source_yaml("s1"), source_yaml("s2")],
    )
    .await;
    assert!(created.result, "{}", created.msg);
    let listed: Vec<(&str, &str)> = created
        .sources
        .iter()
        .map(|s| (s.source.as_str(), s.worker.as_str()))
        .collect();
    assert_eq!(listed, [("s1", "w1"), ("s2", "w2")]);
    wait_workers(&mut via_leader, &["w1 bound s1", "w2 bound s2", "w3 free"]).await;

    // The keys hold DM's bytes and decode with DM's field names and types.
    records::assert_dms_records(&etcd, &space, &w1.addr).await;
    assert!(m1
        .metrics
        .render()
        .contains("dm_master_worker_state{worker=\"w1\"} 2"));

    // A bound worker dies: its source moves to the free worker.
    w1.kill(&etcd).await;
    wait_workers(
        &mut via_leader,
        &["w1 offline", "w2 bound s2", "w3 bound s1"],
    )
    .await;
    assert!(value(&etcd, space.key(&BOUND_WORKER, ["w1"]))
        .await
        .is_none());
    // Its last-bound key stays, as DM keeps it.
    assert_eq!(
        value(&etcd, space.key(&LAST_BOUND_WORKER, ["w1"]))
            .await
            .unwrap(),
        br#"{"source":"s1","worker":"w1"}"#
    );

    // w3 dies too: s1 has no worker; a new source "a0" (first by name)
    // has none either.
    w3.kill(&etcd).await;
    wait_workers(
        &mut via_leader,
        &["w1 offline", "w2 bound s2", "w3 offline"],
    )
    .await;
    let created = start_sources(&mut via_leader, vec![source_yaml("a0")]).await;
    assert!(created.result, "{}", created.msg);
    assert_eq!(created.sources.len(), 1);
    assert_eq!(
        created.sources[0].msg,
        "source is added but there is no free worker to bound"
    );
    // w1 restarts: registers again (same address) and gets its last-bound
    // source back, not the first unbound one.
    let mut w1 = SimWorker::register_at(&mut via_follower, "w1", w1.addr.clone()).await;
    w1.keep_alive(&etcd, &space).await;
    wait_workers(
        &mut via_leader,
        &["w1 bound s1", "w2 bound s2", "w3 offline"],
    )
    .await;

    // Leader change: every bound holds, none was deleted and re-created.
    let created_at = |etcd: Etcd, space: KeySpace| async move {
        let mut out = BTreeMap::new();
        for w in ["w1", "w2"] {
            let kv = etcd
                .get(space.key(&BOUND_WORKER, [w]))
                .await
                .unwrap()
                .value
                .unwrap();
            out.insert(w, kv.create_revision);
        }
        out
    };
    let before = created_at(etcd.clone(), space.clone()).await;
    m1.stop().await;
    m2.wait_leader(WAIT).await.expect("m2 leads");
    let mut via_new_leader = m2.client().await;
    wait_workers(
        &mut via_new_leader,
        &["w1 bound s1", "w2 bound s2", "w3 offline"],
    )
    .await;
    assert_eq!(created_at(etcd.clone(), space.clone()).await, before);
    assert!(m2
        .metrics
        .render()
        .contains("dm_master_worker_state{worker=\"w3\"} 0"));

    // Offline-member: an online worker is refused, an offline one removed.
    let refused = offline(&mut via_new_leader, "worker", "w2").await;
    assert!(!refused.result);
    assert_eq!(
        refused.msg,
        "[code=46005:class=scheduler:scope=internal:level=medium], Message: dm-worker with name w2 is still online, Workaround: Please shut it down first."
    );
    let removed = offline(&mut via_new_leader, "worker", "w3").await;
    assert!(removed.result, "{}", removed.msg);
    assert!(value(&etcd, space.key(&WORKER_REGISTER, ["w3"]))
        .await
        .is_none());
    for (kind, name, want) in [
        (
            "worker",
            "w3",
            "[code=46004:class=scheduler:scope=internal:level=medium], Message: dm-worker with name w3 not exists",
        ),
        (
            "master",
            "nobody",
            "[code=38048:class=dm-master:scope=internal:level=low], Message: dm-master with name nobody not exists, Workaround: Please use list-member command to see masters.",
        ),
        (
            "relay",
            "x",
            "[code=38049:class=dm-master:scope=internal:level=low], Message: offline member type relay is invalid, Workaround: Please use master/worker.",
        ),
    ] {
        assert_eq!(offline(&mut via_new_leader, kind, name).await.msg, want);
    }
    wait_workers(&mut via_new_leader, &["w1 bound s1", "w2 bound s2"]).await;

    // Stop a bound source: its keys go and its worker takes the unbound one.
    let stopped = stop_source(&mut via_new_leader, "s1").await;
    assert!(stopped.result, "{}", stopped.msg);
    assert!(value(&etcd, space.key(&UPSTREAM_CONFIG, ["s1"]))
        .await
        .is_none());
    wait_workers(&mut via_new_leader, &["w1 bound a0", "w2 bound s2"]).await;
    let missing = stop_source(&mut via_new_leader, "s1").await;
    assert!(!missing.result);
    assert_eq!(
        missing.msg,
        "[code=46008:class=scheduler:scope=internal:level=medium], Message: source config with ID s1 not exists"
    );

    w1.kill(&etcd).await;
    w2.kill(&etcd).await;
    m2.stop().await;
}
