//! A `dm-worker` joined like DM's worker, against a real etcd: registration,
//! the keep-alive key and its lease, the bound source's subtasks and stages
//! as the master writes them, `pb.Worker` QueryStatus and GetWorkerCfg.
//!
//! RegisterWorker is answered by [`RegisterEndpoint`], a gRPC server that
//! serves only `pb.Master/RegisterWorker` and records what it was sent; the
//! worker's etcd traffic goes straight to the etcd through
//! `JoinOptions::etcd_endpoints_for_tests`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::KeySpace;
use dm_master::proto::worker_client::WorkerClient;
use dm_master::proto::{
    GetWorkerCfgRequest, QueryStatusRequest, RegisterWorkerRequest, RegisterWorkerResponse,
};
use dm_master::task::SubTaskConfig;
use dm_worker::config::WorkerConfig;
use dm_worker::ha::{HaKeys, Stage};
use dm_worker::source::Status;
use dm_worker::worker::{JoinOptions, JoinedWorker, StartError};
use tonic::codegen::{http, Body, BoxFuture, Context, Poll, Service, StdError};

use crate::master::TestMaster;
use crate::support::{free_port, unique_space, wait_until, EtcdServer};

const WAIT: Duration = Duration::from_secs(20);

/// A gRPC server answering only `pb.Master/RegisterWorker`.
#[derive(Clone)]
struct RegisterEndpoint {
    requests: Arc<Mutex<Vec<RegisterWorkerRequest>>>,
    answer: RegisterWorkerResponse,
}

impl tonic::server::NamedService for RegisterEndpoint {
    const NAME: &'static str = "pb.Master";
}

impl tonic::server::UnaryService<RegisterWorkerRequest> for RegisterEndpoint {
    type Response = RegisterWorkerResponse;
    type Future = BoxFuture<tonic::Response<RegisterWorkerResponse>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<RegisterWorkerRequest>) -> Self::Future {
        self.requests.lock().unwrap().push(request.into_inner());
        let answer = self.answer.clone();
        Box::pin(async move { Ok(tonic::Response::new(answer)) })
    }
}

impl<B> Service<http::Request<B>> for RegisterEndpoint
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let endpoint = self.clone();
        Box::pin(async move {
            if request.uri().path() == "/pb.Master/RegisterWorker" {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(endpoint, request).await)
            } else {
                Ok(tonic::Status::unimplemented("only RegisterWorker").into_http())
            }
        })
    }
}

impl RegisterEndpoint {
    /// Serves on a free loopback port; returns the address.
    async fn start(answer: RegisterWorkerResponse) -> (RegisterEndpoint, String) {
        let endpoint = RegisterEndpoint {
            requests: Arc::default(),
            answer,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let service = endpoint.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        (endpoint, addr)
    }

    fn accepting() -> RegisterWorkerResponse {
        RegisterWorkerResponse {
            result: true,
            ..RegisterWorkerResponse::default()
        }
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.name.clone(), r.address.clone()))
            .collect()
    }
}

fn worker_config(name: &str, join: &str, ttl: i64) -> WorkerConfig {
    let args: Vec<String> = [
        "--name",
        name,
        "--worker-addr",
        &format!("127.0.0.1:{}", free_port()),
        "--join",
        join,
        "--keepalive-ttl",
        &ttl.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match WorkerConfig::parse_args(&args, |_| unreachable!("no config file")).unwrap() {
        dm_worker::config::Parsed::Run(cfg) => *cfg,
        other => panic!("{other:?}"),
    }
}

async fn start_worker(
    server: &EtcdServer,
    space: &KeySpace,
    name: &str,
    ttl: i64,
) -> (JoinedWorker, RegisterEndpoint) {
    start_worker_on(server.endpoint.clone(), space, name, ttl).await
}

/// A worker whose etcd client uses `etcd_endpoint`.
async fn start_worker_on(
    etcd_endpoint: String,
    space: &KeySpace,
    name: &str,
    ttl: i64,
) -> (JoinedWorker, RegisterEndpoint) {
    let (endpoint, addr) = RegisterEndpoint::start(RegisterEndpoint::accepting()).await;
    let config = worker_config(name, &addr, ttl);
    let worker = JoinedWorker::start(
        config,
        JoinOptions {
            space: space.clone(),
            etcd_endpoints_for_tests: Some(vec![etcd_endpoint]),
            ..JoinOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("worker start: {}", e.error()));
    (worker, endpoint)
}

/// A raw etcd client for what our boundary does not expose (lease TTLs).
async fn raw_client(server: &EtcdServer) -> etcd_client::Client {
    etcd_client::Client::connect([server.endpoint.as_str()], None)
        .await
        .unwrap()
}

/// The shared etcd, a client of it, and a key space of the test's own
/// with DM's `ha` keys in it.
async fn ha_space(name: &str) -> (&'static EtcdServer, Etcd, KeySpace, HaKeys) {
    let server = EtcdServer::shared();
    let space = unique_space(name);
    let keys = HaKeys::new(space.clone());
    (server, server.client().await, space, keys)
}

/// Stops `worker`: its lease is revoked, so its keep-alive key goes at
/// once, far before its TTL.
async fn stop_and_expect_key_gone(
    worker: JoinedWorker,
    etcd: &Etcd,
    keys: &HaKeys,
    name: &str,
    why: &str,
) {
    worker.stop().await;
    let gone = wait_until(Duration::from_secs(5), || async {
        keep_alive_lease(etcd, keys, name).await.is_none()
    })
    .await;
    assert!(gone, "{why}");
}

async fn keep_alive_lease(etcd: &Etcd, keys: &HaKeys, name: &str) -> Option<i64> {
    etcd.get(keys.keep_alive(name))
        .await
        .unwrap()
        .value
        .map(|kv| kv.lease)
}

/// Waits for the keep-alive key (the keep-alive runs in the background, as
/// DM's does) and returns its lease.
async fn wait_keep_alive(etcd: &Etcd, keys: &HaKeys, name: &str) -> i64 {
    let put = wait_until(WAIT, || async {
        keep_alive_lease(etcd, keys, name).await.is_some()
    })
    .await;
    assert!(put, "no keep-alive key for {name}");
    keep_alive_lease(etcd, keys, name).await.unwrap()
}

async fn put_subtask(etcd: &Etcd, keys: &HaKeys, source: &str, task: &str, stage: Option<i64>) {
    let cfg = SubTaskConfig {
        name: task.into(),
        source_id: source.into(),
        is_sharding: true,
        shard_mode: "pessimistic".into(),
        route_rules: vec![],
    };
    etcd.put(keys.subtask_config(source, task), cfg.to_toml())
        .await
        .unwrap();
    if let Some(stage) = stage {
        put_stage(etcd, keys, source, task, stage).await;
    }
}

async fn put_stage(etcd: &Etcd, keys: &HaKeys, source: &str, task: &str, stage: i64) {
    etcd.put(
        keys.subtask_stage(source, task),
        format!(r#"{{"expect":{stage},"source":"{source}","task":"{task}"}}"#),
    )
    .await
    .unwrap();
}

async fn bind(etcd: &Etcd, keys: &HaKeys, worker: &str, source: &str) {
    etcd.put(
        keys.source_config(source),
        format!("source-id = \"{source}\"\n"),
    )
    .await
    .unwrap();
    etcd.put(
        keys.bound(worker),
        format!(r#"{{"source":"{source}","worker":"{worker}"}}"#),
    )
    .await
    .unwrap();
}

async fn delete(etcd: &Etcd, key: String) {
    etcd.txn(Txn::new("test delete").then([Op::delete(key)]))
        .await
        .unwrap();
}

fn stages(status: &Option<Status>) -> Vec<(String, Stage)> {
    status
        .iter()
        .flat_map(|s| s.subtasks.iter().map(|t| (t.task.clone(), t.run.stage)))
        .collect()
}

/// Whether the worker's subtasks are `want`, as (task, stage) in order.
fn stages_are(status: &Option<Status>, want: &[(&str, Stage)]) -> bool {
    let want: Vec<(String, Stage)> = want.iter().map(|(t, st)| (t.to_string(), *st)).collect();
    stages(status) == want
}

async fn wait_status(worker: &JoinedWorker, what: &str, check: impl Fn(&Option<Status>) -> bool) {
    let ok = wait_until(WAIT, || async { check(&worker.status().await) }).await;
    assert!(ok, "{what}: status is {:?}", worker.status().await);
}

#[tokio::test]
async fn joined_worker_registers_keeps_alive_and_follows_its_bound_source() {
    let (server, etcd, space, keys) = ha_space("join").await;
    let (worker, endpoint) = start_worker(server, &space, "worker1", 30).await;
    let advertise = worker.config().advertise_addr.clone();
    assert_eq!(endpoint.requests(), [("worker1".to_owned(), advertise)]);

    // The keep-alive key: DM's WorkerEvent under a lease of keepalive-ttl.
    wait_keep_alive(&etcd, &keys, "worker1").await;
    let kv = etcd.get(keys.keep_alive("worker1")).await.unwrap().value;
    let kv = kv.unwrap();
    let value: serde_json::Value = serde_json::from_slice(&kv.value).unwrap();
    assert_eq!(value["worker-name"], "worker1");
    let join_time = value["join-time"].as_str().unwrap();
    assert!(
        join_time.ends_with('Z') && join_time.len() >= 20,
        "{join_time}"
    );
    let text = String::from_utf8(kv.value.clone()).unwrap();
    assert!(
        text.starts_with(r#"{"worker-name":"worker1","join-time":""#),
        "{text}"
    );
    let mut raw = raw_client(server).await;
    let ttl = raw.lease_time_to_live(kv.lease, None).await.unwrap();
    assert_eq!(ttl.granted_ttl(), 30);

    // Unbound: QueryStatus answers DM's 40070.
    let mut client = WorkerClient::connect(format!("http://{}", worker.local_addr()))
        .await
        .unwrap();
    let resp = client
        .query_status(QueryStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!resp.result);
    assert_eq!(
        resp.msg,
        "[code=40070:class=dm-worker:scope=internal:level=high], Message: no mysql source is being handled in the worker"
    );
    assert_eq!(resp.source_status.unwrap().worker, "worker1");
    let cfg = client
        .get_worker_cfg(GetWorkerCfgRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cfg;
    assert!(cfg.starts_with("name = \"worker1\"\n"), "{cfg}");
    assert!(cfg.contains("keepalive-ttl = 30\n"), "{cfg}");

    // Bound, with one subtask already there; then one more arrives.
    put_subtask(&etcd, &keys, "mysql-01", "task-a", Some(2)).await;
    bind(&etcd, &keys, "worker1", "mysql-01").await;
    wait_status(&worker, "bound with task-a running", |s| {
        stages_are(s, &[("task-a", Stage::Running)])
    })
    .await;
    put_subtask(&etcd, &keys, "mysql-01", "task-b", Some(2)).await;
    put_stage(&etcd, &keys, "mysql-01", "task-a", 3).await;
    // Another source's subtasks are not ours.
    put_subtask(&etcd, &keys, "mysql-010", "task-c", Some(2)).await;
    wait_status(&worker, "task-a paused, task-b running", |s| {
        stages_are(s, &[("task-a", Stage::Paused), ("task-b", Stage::Running)])
    })
    .await;
    let resp = client
        .query_status(QueryStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(resp.result, "{resp:?}");
    assert_eq!(resp.source_status.as_ref().unwrap().source, "mysql-01");
    let got: Vec<(String, i32)> = resp
        .sub_task_status
        .iter()
        .map(|s| (s.name.clone(), s.stage))
        .collect();
    assert_eq!(got, [("task-a".to_owned(), 3), ("task-b".to_owned(), 2)]);
    assert!(resp
        .sub_task_status
        .iter()
        .all(|s| s.unresolved_ddl_lock_id.is_empty()));

    // A bound for another source while one is handled is refused.
    etcd.put(
        keys.bound("worker1"),
        r#"{"source":"mysql-02","worker":"worker1"}"#,
    )
    .await
    .unwrap();
    // Stop-task of task-b: its stage key goes.
    delete(&etcd, keys.subtask_stage("mysql-01", "task-b")).await;
    wait_status(&worker, "task-b removed, still mysql-01", |s| {
        stages_are(s, &[("task-a", Stage::Paused)])
            && s.as_ref().and_then(|s| s.source.clone()).as_deref() == Some("mysql-01")
    })
    .await;

    // Unbound: every subtask goes.
    delete(&etcd, keys.bound("worker1")).await;
    wait_status(&worker, "unbound", |s| {
        s.as_ref()
            .is_some_and(|s| s.source.is_none() && s.subtasks.is_empty())
    })
    .await;

    // A graceful stop revokes the lease: the key goes at once, far before
    // its 30 s TTL.
    stop_and_expect_key_gone(
        worker,
        &etcd,
        &keys,
        "worker1",
        "keep-alive key still there after stop",
    )
    .await;
}

#[tokio::test]
async fn lost_lease_stops_the_source_and_a_new_lease_is_put() {
    let (server, etcd, space, keys) = ha_space("regrant").await;
    // Start already bound, with a subtask config that has no stage yet.
    bind(&etcd, &keys, "worker2", "mysql-02").await;
    put_subtask(&etcd, &keys, "mysql-02", "t1", Some(2)).await;
    put_subtask(&etcd, &keys, "mysql-02", "t2", None).await;
    let (worker, _endpoint) = start_worker(server, &space, "worker2", 30).await;
    wait_status(&worker, "bound at start", |s| {
        stages_are(s, &[("t1", Stage::Running), ("t2", Stage::Invalid)])
    })
    .await;

    let first = wait_keep_alive(&etcd, &keys, "worker2").await;
    let mut raw = raw_client(server).await;
    raw.lease_revoke(first).await.unwrap();
    // The worker notices, drops its source, and puts the key again under a
    // new lease.
    wait_status(&worker, "source stopped after the loss", |s| {
        s.as_ref().is_some_and(|s| s.source.is_none())
    })
    .await;
    let regranted = wait_until(WAIT, || async {
        keep_alive_lease(&etcd, &keys, "worker2")
            .await
            .is_some_and(|lease| lease != first)
    })
    .await;
    assert!(regranted, "no new keep-alive lease after the revoke");
    // The master re-puts the bound when the worker comes back online.
    bind(&etcd, &keys, "worker2", "mysql-02").await;
    wait_status(&worker, "bound again", |s| stages(s).len() == 2).await;
    worker.stop().await;
}

#[tokio::test]
async fn killed_worker_key_expires_with_its_lease() {
    let (server, etcd, space, keys) = ha_space("kill").await;
    let (worker, _endpoint) = start_worker(server, &space, "worker3", 4).await;
    let lease = wait_keep_alive(&etcd, &keys, "worker3").await;
    worker.kill().await;
    // Not revoked: the lease still lives right after the kill...
    let mut raw = raw_client(server).await;
    let ttl = raw.lease_time_to_live(lease, None).await.unwrap();
    assert!(ttl.ttl() > 0, "lease revoked by a kill");
    // ...and the key goes when it expires.
    let expired = wait_until(WAIT, || async {
        keep_alive_lease(&etcd, &keys, "worker3").await.is_none()
    })
    .await;
    assert!(expired);
}

#[tokio::test]
async fn refused_registration_fails_after_five_rounds_with_40077() {
    let server = EtcdServer::shared();
    let msg = r#"[code=46003:class=scheduler:scope=internal:level=medium], Message: dm-worker with name {"name":"w","addr":"127.0.0.1:1"} already exists"#;
    let (endpoint, addr) = RegisterEndpoint::start(RegisterWorkerResponse {
        result: false,
        msg: msg.into(),
        ..RegisterWorkerResponse::default()
    })
    .await;
    let result = JoinedWorker::start(
        worker_config("w", &addr, 60),
        JoinOptions {
            etcd_endpoints_for_tests: Some(vec![server.endpoint.clone()]),
            ..JoinOptions::default()
        },
    )
    .await;
    let Err(err) = result else {
        panic!("registration refused but the worker started")
    };
    assert!(matches!(err, StartError::Join(_)));
    assert_eq!(err.exit_code(), 2);
    assert_eq!(err.error().code(), 40077);
    assert_eq!(
        err.error().dm_string(),
        format!("[code=40077:class=dm-worker:scope=internal:level=high], Message: cannot join with master endpoints: [http://{addr}], error: {msg}, Workaround: Please check network connection of worker and check worker name is unique.")
    );
    assert_eq!(endpoint.requests().len(), 5);
}

#[tokio::test]
async fn worker_etcd_traffic_goes_through_the_master_address() {
    let (server, etcd, space, keys) = ha_space("via-master").await;
    let master = TestMaster::builder(&space).start().await;
    // The leader's scheduler deletes, when it rebuilds, every bound of a
    // worker it does not know (this test registers with a stand-in): bind
    // only once its first rebuild is over (it answers requests after it).
    let coordinators = master.wait_leader(WAIT).await.expect("the master leads");
    coordinators
        .scheduler
        .workers()
        .await
        .expect("the scheduler has rebuilt");
    let master_url = format!("http://{}", master.local_addr);
    let (worker, _endpoint) = start_worker_on(master_url, &space, "worker4", 30).await;
    // Lease grant, put and keep-alive stream all went through the master.
    let lease = wait_keep_alive(&etcd, &keys, "worker4").await;
    let mut raw = raw_client(server).await;
    assert_eq!(
        raw.lease_time_to_live(lease, None)
            .await
            .unwrap()
            .granted_ttl(),
        30
    );
    // Bound read and watched, stages watched, through the master.
    // The subtask config is the full TOML DM's master writes.
    let dm_subtask = include_str!("../../src/task_config/testdata/sharding_subtask_01.toml");
    bind(&etcd, &keys, "worker4", "mysql-replica-01").await;
    etcd.put(keys.subtask_config("mysql-replica-01", "test"), dm_subtask)
        .await
        .unwrap();
    put_stage(&etcd, &keys, "mysql-replica-01", "test", 2).await;
    wait_status(&worker, "bound through the master", |s| {
        stages_are(s, &[("test", Stage::Running)])
    })
    .await;
    stop_and_expect_key_gone(
        worker,
        &etcd,
        &keys,
        "worker4",
        "revoke through the master did not remove the key",
    )
    .await;
    master.stop().await;
}

#[tokio::test]
async fn bound_without_source_config_fails_the_start_with_20036() {
    let (server, etcd, space, keys) = ha_space("missing-config").await;
    etcd.put(
        keys.bound("worker5"),
        r#"{"source":"mysql-05","worker":"worker5"}"#,
    )
    .await
    .unwrap();
    let (_endpoint, addr) = RegisterEndpoint::start(RegisterEndpoint::accepting()).await;
    let result = JoinedWorker::start(
        worker_config("worker5", &addr, 60),
        JoinOptions {
            space: space.clone(),
            etcd_endpoints_for_tests: Some(vec![server.endpoint.clone()]),
            ..JoinOptions::default()
        },
    )
    .await;
    let Err(err) = result else {
        panic!("started with a bound whose source config is missing")
    };
    assert_eq!(err.exit_code(), 1);
    assert_eq!(
        err.error().dm_string(),
        r#"[code=20036:class=config:scope=internal:level=high], Message: source bound {"source":"mysql-05","worker":"worker5"} doesn't have related source config in etcd"#
    );
}
