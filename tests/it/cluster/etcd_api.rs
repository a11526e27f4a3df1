//! etcd's client API through a master address, exercised with the Rust
//! `etcd-client` and with `etcdctl`: KV, Watch, Lease, Cluster and
//! Maintenance. Also used on the masters' own etcd cluster.

use super::*;

/// Runs `etcdctl` (API v3) against `endpoints`; returns stdout, asserting
/// success.
pub(super) fn etcdctl(endpoints: &str, args: &[&str]) -> String {
    let out = Command::new("etcdctl")
        .arg(format!("--endpoints={endpoints}"))
        .args(["--dial-timeout=5s", "--command-timeout=10s"])
        .args(args)
        .env("ETCDCTL_API", "3")
        .output()
        .expect("etcdctl (Debian package etcd-client) is installed");
    assert!(
        out.status.success(),
        "etcdctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// KV, Watch, Lease (keep-alive stream), Cluster and Maintenance through a
/// master address, checked with the Rust client.
pub(super) async fn exercise_with_client(addr: &str, prefix: &str) {
    let mut client = client_of(addr).await;

    // KV: put, get (count and revision), txn-free delete.
    let key = format!("{prefix}/kv");
    let put = client.put(key.as_str(), "v1", None).await.unwrap();
    let put_revision = put.header().unwrap().revision();
    let got = client.get(key.as_str(), None).await.unwrap();
    assert_eq!(got.count(), 1);
    assert_eq!(got.kvs()[0].value(), b"v1");
    assert_eq!(got.kvs()[0].mod_revision(), put_revision);
    assert!(got.header().unwrap().revision() >= put_revision);

    // Watch: a bidi stream that stays open across several events.
    let watched = format!("{prefix}/watch/");
    let mut watch = client
        .watch(watched.as_str(), Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    let mut writer = client_of(addr).await;
    for i in 0..3 {
        writer
            .put(format!("{watched}{i}"), format!("{i}"), None)
            .await
            .unwrap();
    }
    writer.delete(format!("{watched}0"), None).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let message = tokio::time::timeout(Duration::from_secs(10), watch.message())
            .await
            .expect("watch events arrive through the master")
            .unwrap()
            .expect("watch stream open");
        for event in message.events() {
            let kv = event.kv().unwrap();
            seen.push((event.event_type(), kv.key_str().unwrap().to_string()));
        }
    }
    assert_eq!(
        seen,
        vec![
            (EventType::Put, format!("{watched}0")),
            (EventType::Put, format!("{watched}1")),
            (EventType::Put, format!("{watched}2")),
            (EventType::Delete, format!("{watched}0")),
        ]
    );

    // Lease: grant, keep-alive stream (several rounds, TTL > 0), key bound
    // to the lease, revoke deletes it.
    let lease = client.lease_grant(5, None).await.unwrap();
    assert!(lease.ttl() > 0);
    let leased = format!("{prefix}/leased");
    client
        .put(
            leased.as_str(),
            "alive",
            Some(PutOptions::new().with_lease(lease.id())),
        )
        .await
        .unwrap();
    let (mut keeper, mut responses) = client.lease_keep_alive(lease.id()).await.unwrap();
    for _ in 0..3 {
        keeper.keep_alive().await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), responses.message())
            .await
            .expect("keep-alive answered through the master")
            .unwrap()
            .expect("keep-alive stream open");
        assert_eq!(answer.id(), lease.id());
        assert!(answer.ttl() > 0, "TTL {}", answer.ttl());
    }
    client.lease_revoke(lease.id()).await.unwrap();
    let gone = client.get(leased.as_str(), None).await.unwrap();
    assert_eq!(gone.count(), 0);

    // Cluster and Maintenance.
    let members = client.member_list().await.unwrap();
    assert!(!members.members().is_empty());
    let status = client.status().await.unwrap();
    assert!(status.version().starts_with("3."), "{}", status.version());

    // Prefix read across what the test wrote.
    let all = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    assert!(all.count() >= 3);
}

/// The same through `etcdctl`: put, get, watch, lease keep-alive, member
/// list, endpoint status.
pub(super) fn exercise_with_etcdctl(addr: &str, prefix: &str) {
    let key = format!("{prefix}/ctl");
    assert_eq!(etcdctl(addr, &["put", &key, "hello"]).trim(), "OK");
    assert_eq!(
        etcdctl(addr, &["get", &key, "--print-value-only"]).trim(),
        "hello"
    );

    // `etcdctl watch` prints events as they come; it runs until killed.
    let watched = format!("{prefix}/ctl-watch");
    let mut watcher = Command::new("etcdctl")
        .arg(format!("--endpoints={addr}"))
        .args(["watch", &watched])
        .env("ETCDCTL_API", "3")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    // Put until the watcher (whose stream may not be registered yet) sees it.
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !lines.iter().any(|l: &String| l == "watched-value") {
        assert!(
            std::time::Instant::now() < deadline,
            "etcdctl watch saw {lines:?}"
        );
        etcdctl(addr, &["put", &watched, "watched-value"]);
        while let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
    }
    assert!(lines.contains(&"PUT".to_string()), "{lines:?}");
    assert!(lines.contains(&watched), "{lines:?}");
    let _ = Command::new("kill")
        .args(["-9", &watcher.id().to_string()])
        .status();
    let _ = watcher.wait();

    let granted = etcdctl(addr, &["lease", "grant", "30"]);
    // "lease 694d7c3d2b6a2a0b granted with TTL(30s)"
    let id = granted
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_string();
    let kept = etcdctl(addr, &["lease", "keep-alive", "--once", &id]);
    assert!(
        kept.contains(&format!("lease {id} keepalived with TTL(")),
        "{kept}"
    );
    etcdctl(addr, &["lease", "revoke", &id]);

    let members = etcdctl(addr, &["member", "list"]);
    assert!(members.contains("started"), "{members}");
    let status = etcdctl(addr, &["endpoint", "status"]);
    assert!(status.contains(addr), "{status}");
}

#[tokio::test]
async fn etcd_api_on_the_master_address_with_external_etcd() {
    let etcd = EtcdServer::shared();
    let space = unique_space("etcd-proxy");
    let master = TestMaster::builder(&space).name("proxy").start().await;
    let addr = master.local_addr.to_string();

    exercise_with_client(&addr, &format!("{}/client", space.namespace())).await;
    let ctl_prefix = format!("{}/etcdctl", space.namespace());
    let blocking_addr = addr.clone();
    tokio::task::spawn_blocking(move || exercise_with_etcdctl(&blocking_addr, &ctl_prefix))
        .await
        .unwrap();

    // An external cluster's MemberList passes through: its members
    // advertise their own client URLs, which serve etcd's API.
    let through_master = client_of(&addr).await.member_list().await.unwrap();
    let mut direct = Client::connect([etcd.endpoint.clone()], None)
        .await
        .unwrap();
    let direct = direct.member_list().await.unwrap();
    let urls = |members: &[etcd_client::Member]| {
        members
            .iter()
            .map(|m| m.client_urls().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(urls(through_master.members()), urls(direct.members()));
    assert_eq!(urls(direct.members()), vec![vec![etcd.endpoint.clone()]]);

    master.stop().await;
}
