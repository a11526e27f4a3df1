//! What DM's tools see of the scheduler: OperateSource's errors for bad
//! source configs, dmctl's JSON and tiup's members gateway.

use super::*;

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
        let resp = start_sources(&mut c, vec![source_yaml("good"), yaml]).await;
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
    let first = start_sources(&mut c, vec![source_yaml("s1")]).await;
    assert!(first.result, "{}", first.msg);
    let second = start_sources(&mut c, vec![source_yaml("s1")]).await;
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
    wait_workers(&mut c, &["w1 free"]).await;

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
    wait_workers(&mut c, &["w1 offline"]).await;
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
