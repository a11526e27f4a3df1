//! The scheduler against a real etcd with two in-process masters. Workers
//! are simulated the way DM's worker talks to the master: `RegisterWorker`
//! over gRPC, then a keep-alive key under its own lease put with a plain
//! etcd client (docs/protocol.md#worker-registration); "killing" a worker revokes its lease.

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
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::dmctl::dmctl_async;
use crate::master::TestMaster;
use crate::support::{free_port, unique_space, wait_until, EtcdServer};

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
        let resp = master
            .register_worker(RegisterWorkerRequest {
                name: name.into(),
                address: addr.clone(),
            })
            .await
            .unwrap()
            .into_inner();
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

/// name → (stage, source) from `ListMember --worker`.
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

async fn workers(master: &mut MasterClient<Channel>) -> BTreeMap<String, (String, String)> {
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

fn stage(stage: &str, source: &str) -> (String, String) {
    (stage.to_string(), source.to_string())
}

async fn wait_workers(
    master: &mut MasterClient<Channel>,
    want: &[(&str, &str, &str)],
) -> BTreeMap<String, (String, String)> {
    let want: BTreeMap<String, (String, String)> = want
        .iter()
        .map(|(n, s, src)| (n.to_string(), stage(s, src)))
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

fn source_yaml(id: &str) -> String {
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

/// DM's `ha.SourceBound` with its JSON field names (`dm/pkg/ha/bound.go`).
#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct GoSourceBound {
    source: String,
    worker: String,
}

/// DM's `ha.WorkerInfo` (`dm/pkg/ha/worker.go`).
#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct GoWorkerInfo {
    name: String,
    addr: String,
}

/// The part of DM's `config.SourceConfig` TOML a worker relies on, with
/// its key names and types.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "kebab-case")]
struct GoSourceConfig {
    enable: bool,
    enable_gtid: bool,
    enable_relay: bool,
    flavor: String,
    source_id: String,
    server_id: u32,
    from: GoDbConfig,
    purge: GoPurge,
    checker: GoChecker,
}

#[derive(Deserialize, Debug)]
struct GoDbConfig {
    host: String,
    port: i64,
    user: String,
    password: String,
}

#[derive(Deserialize, Debug)]
struct GoPurge {
    interval: i64,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "kebab-case")]
struct GoChecker {
    check_enable: bool,
    backoff_max: String,
    backoff_min: String,
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
    let again = via_leader
        .register_worker(RegisterWorkerRequest {
            name: "w1".into(),
            address: w1.addr.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.result, "same name and address: {}", again.msg);
    let moved = via_leader
        .register_worker(RegisterWorkerRequest {
            name: "w1".into(),
            address: "10.0.0.1:8262".into(),
        })
        .await
        .unwrap()
        .into_inner();
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
        &[
            ("w1", "offline", ""),
            ("w2", "offline", ""),
            ("w3", "offline", ""),
        ],
    )
    .await;

    w1.keep_alive(&etcd, &space).await;
    w2.keep_alive(&etcd, &space).await;
    w3.keep_alive(&etcd, &space).await;
    wait_workers(
        &mut via_follower,
        &[("w1", "free", ""), ("w2", "free", ""), ("w3", "free", "")],
    )
    .await;

    // Two sources: two workers bound, the third free.
    let created = operate_source(
        &mut via_follower,
        SourceOp::StartSource,
        vec![source_yaml("s1"), source_yaml("s2")],
        vec![],
    )
    .await;
    assert!(created.result, "{}", created.msg);
    let listed: Vec<(&str, &str)> = created
        .sources
        .iter()
        .map(|s| (s.source.as_str(), s.worker.as_str()))
        .collect();
    assert_eq!(listed, [("s1", "w1"), ("s2", "w2")]);
    wait_workers(
        &mut via_leader,
        &[
            ("w1", "bound", "s1"),
            ("w2", "bound", "s2"),
            ("w3", "free", ""),
        ],
    )
    .await;

    // The keys hold DM's bytes and decode with DM's field names and types.
    let bound = value(&etcd, space.key(&BOUND_WORKER, ["w1"]))
        .await
        .unwrap();
    assert_eq!(bound, br#"{"source":"s1","worker":"w1"}"#);
    assert_eq!(
        value(&etcd, space.key(&LAST_BOUND_WORKER, ["w1"]))
            .await
            .unwrap(),
        bound
    );
    let parsed: GoSourceBound = serde_json::from_slice(&bound).unwrap();
    assert_eq!(parsed.source, "s1");
    assert_eq!(parsed.worker, "w1");
    let info = value(&etcd, space.key(&WORKER_REGISTER, ["w1"]))
        .await
        .unwrap();
    assert_eq!(
        info,
        format!(r#"{{"name":"w1","addr":"{}"}}"#, w1.addr).into_bytes()
    );
    let info: GoWorkerInfo = serde_json::from_slice(&info).unwrap();
    assert_eq!(info.name, "w1");
    let toml_bytes = value(&etcd, space.key(&UPSTREAM_CONFIG, ["s1"]))
        .await
        .unwrap();
    let cfg: GoSourceConfig = toml::from_str(std::str::from_utf8(&toml_bytes).unwrap()).unwrap();
    assert!(cfg.enable && !cfg.enable_gtid && !cfg.enable_relay);
    assert_eq!(
        (cfg.flavor.as_str(), cfg.source_id.as_str(), cfg.server_id),
        ("mysql", "s1", 101)
    );
    assert_eq!(
        (
            cfg.from.host.as_str(),
            cfg.from.port,
            cfg.from.user.as_str(),
            cfg.from.password.as_str()
        ),
        ("127.0.0.1", 3306, "root", "123456")
    );
    assert_eq!(cfg.purge.interval, 3600);
    assert!(cfg.checker.check_enable);
    assert_eq!(
        (
            cfg.checker.backoff_max.as_str(),
            cfg.checker.backoff_min.as_str()
        ),
        ("5m0s", "1s")
    );
    assert!(m1
        .metrics
        .render()
        .contains("dm_master_worker_state{worker=\"w1\"} 2"));

    // A bound worker dies: its source moves to the free worker.
    w1.kill(&etcd).await;
    wait_workers(
        &mut via_leader,
        &[
            ("w1", "offline", ""),
            ("w2", "bound", "s2"),
            ("w3", "bound", "s1"),
        ],
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
        &[
            ("w1", "offline", ""),
            ("w2", "bound", "s2"),
            ("w3", "offline", ""),
        ],
    )
    .await;
    let created = operate_source(
        &mut via_leader,
        SourceOp::StartSource,
        vec![source_yaml("a0")],
        vec![],
    )
    .await;
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
        &[
            ("w1", "bound", "s1"),
            ("w2", "bound", "s2"),
            ("w3", "offline", ""),
        ],
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
        &[
            ("w1", "bound", "s1"),
            ("w2", "bound", "s2"),
            ("w3", "offline", ""),
        ],
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
    let unknown = offline(&mut via_new_leader, "worker", "w3").await;
    assert_eq!(
        unknown.msg,
        "[code=46004:class=scheduler:scope=internal:level=medium], Message: dm-worker with name w3 not exists"
    );
    let no_master = offline(&mut via_new_leader, "master", "nobody").await;
    assert_eq!(
        no_master.msg,
        "[code=38048:class=dm-master:scope=internal:level=low], Message: dm-master with name nobody not exists, Workaround: Please use list-member command to see masters."
    );
    let bad_type = offline(&mut via_new_leader, "relay", "x").await;
    assert_eq!(
        bad_type.msg,
        "[code=38049:class=dm-master:scope=internal:level=low], Message: offline member type relay is invalid, Workaround: Please use master/worker."
    );
    wait_workers(
        &mut via_new_leader,
        &[("w1", "bound", "s1"), ("w2", "bound", "s2")],
    )
    .await;

    // Stop a bound source: its keys go and its worker takes the unbound one.
    let stopped = operate_source(
        &mut via_new_leader,
        SourceOp::StopSource,
        vec![],
        vec!["s1".into()],
    )
    .await;
    assert!(stopped.result, "{}", stopped.msg);
    assert!(value(&etcd, space.key(&UPSTREAM_CONFIG, ["s1"]))
        .await
        .is_none());
    wait_workers(
        &mut via_new_leader,
        &[("w1", "bound", "a0"), ("w2", "bound", "s2")],
    )
    .await;
    let missing = operate_source(
        &mut via_new_leader,
        SourceOp::StopSource,
        vec![],
        vec!["s1".into()],
    )
    .await;
    assert!(!missing.result);
    assert_eq!(
        missing.msg,
        "[code=46008:class=scheduler:scope=internal:level=medium], Message: source config with ID s1 not exists"
    );

    w1.kill(&etcd).await;
    w2.kill(&etcd).await;
    m2.stop().await;
}

#[tokio::test]
async fn a_bad_source_yaml_gets_dms_error_and_writes_nothing() {
    let space = unique_space("sched-bad");
    let etcd = EtcdServer::shared().client().await;
    let master = TestMaster::builder(&space).name("m1").lead(WAIT).await;
    let mut c = master.client().await;
    let cases = [
        (
            format!("{}no-such-key: 1\n", source_yaml("s1")),
            "[code=20003:class=config:scope=internal:level=medium], Message: decode source config, RawCause: yaml: unmarshal errors:\n  line 10: field no-such-key not found in type config.SourceConfig, Workaround: Please check the configuration file has correct YAML format.".to_string(),
        ),
        (
            source_yaml(&"x".repeat(33)),
            format!("[code=40006:class=dm-worker:scope=internal:level=medium], Message: the length of source ID {} is more than max allowed value 32", "x".repeat(33)),
        ),
        (
            format!("{}enable-relay: true\n", source_yaml("s1")),
            "[code=38100:class=dm-master:scope=internal:level=high], Message: enable-relay is not supported by this dm-master".to_string(),
        ),
    ];
    for (yaml, want) in cases {
        // A good config in the same request is not written either.
        let resp = operate_source(
            &mut c,
            SourceOp::StartSource,
            vec![source_yaml("good"), yaml],
            vec![],
        )
        .await;
        assert!(!resp.result);
        assert_eq!(resp.msg, want);
    }
    let update = operate_source(
        &mut c,
        SourceOp::UpdateSource,
        vec![source_yaml("s1")],
        vec![],
    )
    .await;
    assert!(!update.result);
    assert_eq!(
        update.msg,
        "Update worker config is not supported by dm-ha now"
    );
    let written = etcd
        .get_prefix(&space.path(&UPSTREAM_CONFIG))
        .await
        .unwrap()
        .value;
    assert!(written.is_empty(), "{written:?}");
    // Creating the same source twice: DM's 46007, the first one stays.
    let first = operate_source(
        &mut c,
        SourceOp::StartSource,
        vec![source_yaml("s1")],
        vec![],
    )
    .await;
    assert!(first.result, "{}", first.msg);
    let second = operate_source(
        &mut c,
        SourceOp::StartSource,
        vec![source_yaml("s1")],
        vec![],
    )
    .await;
    assert_eq!(
        second.msg,
        "[code=46007:class=scheduler:scope=internal:level=medium], Message: source config with ID s1 already exists"
    );
    let shown = operate_source(&mut c, SourceOp::ShowSource, vec![], vec![]).await;
    assert!(shown.result);
    assert_eq!(shown.sources.len(), 1);
    assert_eq!(shown.sources[0].source, "s1");
    master.stop().await;
}

async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmctl_and_the_members_gateway_speak_dms_json() {
    let space = unique_space("sched-ctl");
    let etcd = EtcdServer::shared().client().await;
    let master = TestMaster::builder(&space).name("m1").lead(WAIT).await;
    let addr = master.local_addr.to_string();
    let mut c = master.client().await;
    let mut w1 = SimWorker::register(&mut c, "w1").await;
    w1.keep_alive(&etcd, &space).await;
    wait_workers(&mut c, &[("w1", "free", "")]).await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("source.yaml");
    std::fs::write(&file, source_yaml("s1")).unwrap();
    let (ok, out, err) =
        dmctl_async(&addr, &["operate-source", "create", file.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["result"], true);
    assert_eq!(created["sources"][0]["source"], "s1");
    assert_eq!(created["sources"][0]["worker"], "w1");
    assert!(out.starts_with("{\n    \"result\": true,\n    \"msg\": \"\",\n    \"sources\": ["));

    let (ok, out, err) = dmctl_async(&addr, &["list-member", "--worker"]).await;
    assert!(ok, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        listed["members"][0]["worker"]["workers"][0],
        serde_json::json!({"name": "w1", "addr": w1.addr, "stage": "bound", "source": "s1"})
    );
    let (ok, out, _) = dmctl_async(&addr, &["list-member"]).await;
    assert!(ok);
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all["members"][0]["leader"]["name"], "m1");
    let masters = &all["members"][1]["master"]["masters"];
    assert_eq!(masters.as_array().map(Vec::len), Some(1), "{out}");
    // The test etcd answers /health on its client URL.
    assert_eq!(masters[0]["alive"], true);
    assert!(masters[0]["memberID"].is_string());

    // An online worker cannot be removed: dmctl exits 1.
    let (ok, _, err) = dmctl_async(&addr, &["offline-member", "--worker", "--name", "w1"]).await;
    assert!(!ok);
    assert!(
        err.contains("offline member failed:\n[code=46005:class=scheduler:scope=internal:level=medium], Message: dm-worker with name w1 is still online"),
        "{err}"
    );

    // tiup's calls.
    let sock = master.local_addr;
    let (status, body) = http(sock, "GET", "/apis/v1alpha1/members?worker=true&names=w1").await;
    assert_eq!(status, 200);
    assert!(body.contains("\n  \"members\": [\n"), "{body}");
    let members: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        members["members"][0]["worker"]["workers"][0]["stage"],
        "bound"
    );
    w1.kill(&etcd).await;
    wait_workers(&mut c, &[("w1", "offline", "")]).await;
    let (status, body) = http(sock, "DELETE", "/apis/v1alpha1/members/worker/w1").await;
    assert_eq!(status, 200);
    let removed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(removed, serde_json::json!({"result": true, "msg": ""}));
    let (_, body) = http(sock, "DELETE", "/apis/v1alpha1/members/worker/w1").await;
    assert!(body.contains("not exists"), "{body}");

    let (ok, out, _) = dmctl_async(&addr, &["operate-source", "stop", "s1"]).await;
    assert!(ok);
    let stopped: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stopped["result"], true, "{out}");
    assert_eq!(
        stopped["sources"][0]["msg"],
        "source is stopped and hasn't bound to worker before being stopped"
    );
    master.stop().await;
}
