//! `pb.Master` over gRPC and DM's HTTP routes (`/status`, `/metrics`, `/health`, `/version`, 404s), on the
//! master's one port.

use std::time::Duration;

use dm_master::proto::master_client::MasterClient;
use dm_master::proto::{
    ShowDdlLocksRequest, ShowDdlLocksResponse, UnlockDdlLockRequest, UnlockDdlLockResponse,
};
use dm_worker::shardddl::pessimist::PessimistClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::master::TestMaster;
use crate::pessimism::register_task;
use crate::support::{put_shard_table_ddl, unique_space, wait_until, EtcdServer};

/// A plain HTTP/1.1 GET (async: the master serves on this test's runtime).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// `ShowDDLLocks` with no filter: every lock the master holds.
pub async fn show_locks(client: &mut MasterClient<Channel>) -> ShowDdlLocksResponse {
    show_locks_of(client, "", &[]).await
}

/// `ShowDDLLocks` of `task` (every task when empty) and `sources` (every
/// source when empty).
pub async fn show_locks_of(
    client: &mut MasterClient<Channel>,
    task: &str,
    sources: &[&str],
) -> ShowDdlLocksResponse {
    client
        .show_ddl_locks(ShowDdlLocksRequest {
            task: task.into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        })
        .await
        .expect("ShowDDLLocks")
        .into_inner()
}

/// Waits up to 10 s until `ShowDDLLocks` lists exactly `count` locks.
pub async fn wait_for_lock_count(client: &MasterClient<Channel>, count: usize) -> bool {
    wait_until(Duration::from_secs(10), || {
        let mut c = client.clone();
        async move {
            c.show_ddl_locks(ShowDdlLocksRequest::default())
                .await
                .is_ok_and(|r| r.into_inner().locks.len() == count)
        }
    })
    .await
}

/// `UnlockDDLLock` of lock `id`, `options` setting the request's other
/// fields (`|_| {}` for none); the master's answer.
pub async fn unlock(
    client: &mut MasterClient<Channel>,
    id: &str,
    options: impl FnOnce(&mut UnlockDdlLockRequest),
) -> UnlockDdlLockResponse {
    let mut request = UnlockDdlLockRequest {
        id: id.to_owned(),
        ..Default::default()
    };
    options(&mut request);
    client
        .unlock_ddl_lock(request)
        .await
        .expect("UnlockDDLLock")
        .into_inner()
}

#[tokio::test]
async fn show_and_unlock_over_grpc_and_status_and_metrics_over_http() {
    let space = unique_space("grpc");
    let etcd = EtcdServer::shared().client().await;
    register_task(
        &etcd,
        &space,
        "test",
        &["mysql-replica-01", "mysql-replica-02"],
    )
    .await;
    let master = TestMaster::builder(&space)
        .name("m1")
        .lead(Duration::from_secs(10))
        .await;
    let addr = master.local_addr;
    let mut client = MasterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    let empty = show_locks(&mut client).await;
    assert!(empty.result);
    assert_eq!(empty.msg, "no DDL lock exists");
    assert!(empty.locks.is_empty());

    // An RPC of DM's proto that this master does not serve answers DM's
    // error string, never a bare UNIMPLEMENTED.
    let unsupported = client
        .get_validation_status(dm_master::proto::GetValidationStatusRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unsupported.code(), tonic::Code::Unknown);
    assert_eq!(
        unsupported.message(),
        "[code=38100:class=dm-master:scope=internal:level=high], Message: \
         GetValidationStatus is not supported by this dm-master"
    );

    let ddl = put_shard_table_ddl(&etcd, &space).await;
    let shown = wait_until(Duration::from_secs(10), || {
        let mut client = client.clone();
        async move {
            let r = show_locks_of(&mut client, "test", &["mysql-replica-02"]).await;
            r.locks.len() == 1
        }
    })
    .await;
    assert!(shown);
    let lock = show_locks(&mut client).await.locks.remove(0);
    assert_eq!(lock.id, "test-`shard_db`.`shard_table`");
    assert_eq!(lock.mode, "pessimistic");
    assert_eq!(lock.owner, "mysql-replica-01");
    assert_eq!(lock.dd_ls, vec![ddl.to_string()]);
    assert_eq!(lock.synced, vec!["mysql-replica-01"]);
    assert_eq!(lock.unsynced, vec!["mysql-replica-02"]);

    // /metrics agrees with the locks shown.
    let metrics_text = http_get(addr, "/metrics").await;
    assert!(
        metrics_text.contains("dm_master_ddl_state_number{task=\"test\",type=\"Un-synced\"} 1"),
        "{metrics_text}"
    );
    // Per-lock gauges are refreshed once a second.
    let gauges = wait_until(Duration::from_secs(5), || async {
        http_get(addr, "/metrics").await.contains(
            "dm_master_shard_ddl_lock_blocking_sources{lock_id=\"test-`shard_db`.`shard_table`\",mode=\"pessimistic\",task=\"test\"} 1",
        )
    })
    .await;
    assert!(gauges, "{}", http_get(addr, "/metrics").await);

    // Filters: another task, or a source that is not in the lock.
    let other = show_locks_of(&mut client, "nope", &[]).await;
    assert!(other.locks.is_empty());

    // Unlock errors come back as result=false with DM's error string.
    let bad = unlock(&mut client, "no-lock-id", |_| {}).await;
    assert!(!bad.result);
    assert_eq!(bad.msg, "can't find task name from lock-ID");
    let missing = unlock(&mut client, "test-`x`.`y`", |_| {}).await;
    assert!(!missing.result);
    assert_eq!(
        missing.msg,
        "[code=38019:class=dm-master:scope=internal:level=high], Message: lock with ID test-`x`.`y` not found, Workaround: Please use show-ddl-locks command to see lock id."
    );
    let not_waiting = unlock(&mut client, &lock.id, |r| {
        r.replace_owner = "mysql-replica-02".into()
    })
    .await;
    assert_eq!(
        not_waiting.msg,
        "[code=38022:class=dm-master:scope=internal:level=high], Message: owner mysql-replica-02 is not waiting for a lock, but sources [mysql-replica-01] are waiting for the lock"
    );
    let forced = unlock(&mut client, &lock.id, |r| r.force_remove = true).await;
    assert!(forced.result, "{}", forced.msg);

    // HTTP on the same port.
    let status = http_get(addr, "/status").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(status.contains("content-type: text/plain\r\n"), "{status}");
    assert!(
        status.contains("\r\n\r\nRelease Version: v")
            && status.ends_with("Failpoint Build: false\n"),
        "{status}"
    );
    let role = http_get(addr, "/role").await;
    assert!(role.contains("\"name\":\"m1\""), "{role}");
    assert!(role.contains("\"role\":\"leader\""), "{role}");
    let metrics_text = http_get(addr, "/metrics").await;
    assert!(
        metrics_text.contains("dm_master_start_leader_counter 1"),
        "{metrics_text}"
    );
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(
            metrics_text.contains(&format!("\n{family} ")),
            "{family}: {metrics_text}"
        );
    }
    let health = http_get(addr, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.ends_with("{\"health\":\"true\",\"reason\":\"\"}"),
        "{health}"
    );
    let version = http_get(addr, "/version").await;
    assert!(
        version.ends_with(r#"{"etcdserver":"3.5.15","etcdcluster":"3.5.0"}"#),
        "{version}"
    );
    let missing = http_get(addr, "/no/such/path").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.ends_with("404 page not found\n"), "{missing}");
    master.stop().await;
}

/// The Python interpreter with grpcio: DM_TEST_PYTHON, else the venv
/// scripts/test prepares (so a plain `cargo test` after it finds it), else
/// `python3`; fails loudly when it lacks grpcio.
fn python_with_grpc() -> String {
    let python = std::env::var("DM_TEST_PYTHON").unwrap_or_else(|_| {
        let venv =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py-grpc/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    });
    let ok = std::process::Command::new(&python)
        .args(["-c", "import grpc, grpc_tools"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{python} lacks grpcio: run scripts/test, or `pip install grpcio grpcio-tools` and set DM_TEST_PYTHON"
    );
    python
}

#[tokio::test]
async fn a_python_grpc_client_calls_both_rpcs() {
    let python = python_with_grpc();
    let space = unique_space("grpc-python");
    let etcd = EtcdServer::shared().client().await;
    register_task(&etcd, &space, "py", &["s1", "s2"]).await;
    let master = TestMaster::builder(&space).start().await;
    let pessimist = master.pessimist().await.expect("master leads");
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "py", "s1");
    c1.put_info(
        &c1.info(
            "db",
            "tb",
            vec!["ALTER TABLE `db`.`tb` ADD COLUMN c INT".into()],
        ),
        &cancel,
    )
    .await
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            pessimist.show_locks(None, &[]).await.unwrap().len() == 1
        })
        .await
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client.py");
    let addr = master.local_addr.to_string();
    let out = tokio::process::Command::new(&python)
        .args([script, &addr, "py", "py-`db`.`tb`"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["show"]["result"], true);
    assert_eq!(got["show"]["locks"][0]["ID"], "py-`db`.`tb`");
    assert_eq!(got["show"]["locks"][0]["owner"], "s1");
    assert_eq!(got["show"]["locks"][0]["unsynced"][0], "s2");
    assert_eq!(got["unlock"]["result"], true, "{got}");
    assert!(pessimist.show_locks(None, &[]).await.unwrap().is_empty());
    master.stop().await;
}
