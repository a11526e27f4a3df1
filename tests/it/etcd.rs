//! The etcd boundary against a real etcd: guarded txns, watch from a
//! revision, resync after compaction, chunked batches.

use std::time::Duration;

use dm_master::error::Error;
use dm_master::etcd::watch::{WatchEvent, Watcher};
use dm_master::etcd::{Compare, Etcd, EtcdOptions, Op, Txn};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::{unique_space, EtcdServer};

fn ns(name: &str) -> String {
    unique_space(name).namespace().to_owned()
}

#[tokio::test]
async fn guarded_txns_succeed_and_fail_as_their_compares_say() {
    let etcd = EtcdServer::shared().client().await;
    let p = ns("txn");
    let k = format!("{p}/k");

    let create = || {
        Txn::new("create")
            .when([Compare::Absent(k.clone().into_bytes())])
            .then([Op::put(k.as_str(), "v1")])
            .otherwise([Op::get(k.as_str())])
    };
    let first = etcd.txn(create()).await.unwrap();
    assert!(first.succeeded);
    let second = etcd.txn(create()).await.unwrap();
    assert!(
        !second.succeeded,
        "create-if-absent must fail on an existing key"
    );
    let existing = &second.get_result(0)[0];
    assert_eq!(existing.value, b"v1");
    assert_eq!(existing.mod_revision, first.revision);
    assert_eq!(existing.version, 1);

    // mod-revision guard: only the writer that read the current revision wins.
    let update = |rev: i64, v: &str| {
        Txn::new("update")
            .when([Compare::ModRevision(k.clone().into_bytes(), rev)])
            .then([Op::put(k.as_str(), v)])
    };
    let ok = etcd.txn(update(first.revision, "v2")).await.unwrap();
    assert!(ok.succeeded);
    let stale = etcd.txn(update(first.revision, "v3")).await.unwrap();
    assert!(!stale.succeeded);

    // version and value guards.
    let by_version = Txn::new("version")
        .when([Compare::VersionBelow(k.clone().into_bytes(), 3)])
        .then([Op::delete(k.as_str())]);
    let by_value_miss = Txn::new("value")
        .when([Compare::ValueEquals(k.clone().into_bytes(), b"v1".to_vec())])
        .then([Op::delete(k.as_str())]);
    assert!(!etcd.txn(by_value_miss).await.unwrap().succeeded);
    assert!(etcd.txn(by_version).await.unwrap().succeeded);
    assert!(etcd.get(k.as_str()).await.unwrap().value.is_none());
    // A value compare on a missing key is false (etcd issue 10566).
    let on_missing = Txn::new("value on missing")
        .when([Compare::ValueNotEquals(
            k.clone().into_bytes(),
            b"x".to_vec(),
        )])
        .then([Op::put(k.as_str(), "never")]);
    assert!(!etcd.txn(on_missing).await.unwrap().succeeded);
}

#[tokio::test]
async fn a_conditional_txn_over_the_limit_is_refused_not_split() {
    let server = EtcdServer::shared();
    let etcd = Etcd::connect(
        std::slice::from_ref(&server.endpoint),
        EtcdOptions {
            max_txn_ops: 4,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let p = ns("limit");
    let txn = Txn::new("too big").then((0..5).map(|i| Op::put(format!("{p}/{i}"), "v")));
    match etcd.txn(txn).await {
        Err(Error::TxnTooLarge { ops, limit, .. }) => assert_eq!((ops, limit), (5, 4)),
        other => panic!("expected TxnTooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn a_batch_larger_than_max_txn_ops_is_written_in_chunks() {
    let etcd = EtcdServer::shared().client().await;
    let p = ns("batch");
    // 300 puts: more than twice etcd's default limit of 128 per txn.
    let puts: Vec<Op> = (0..300)
        .map(|i| Op::put(format!("{p}/k{i:03}"), format!("v{i}")))
        .collect();
    let last = etcd.batch("batch put", puts).await.unwrap();
    let all = etcd.get_prefix(&format!("{p}/")).await.unwrap();
    assert_eq!(all.value.len(), 300);
    // Three chunks (128 + 128 + 44) mean three revisions, the last one
    // returned. (Counted on the keys themselves: other tests write to the
    // shared etcd in between.)
    let mut revisions: Vec<i64> = all.value.iter().map(|kv| kv.mod_revision).collect();
    revisions.sort();
    revisions.dedup();
    assert_eq!(revisions.len(), 3, "{revisions:?}");
    assert_eq!(revisions.last(), Some(&last));
    let per_revision: Vec<usize> = revisions
        .iter()
        .map(|r| all.value.iter().filter(|kv| kv.mod_revision == *r).count())
        .collect();
    assert_eq!(per_revision, [128, 128, 44]);
    let deletes: Vec<Op> = all
        .value
        .iter()
        .map(|kv| Op::delete(kv.key.clone()))
        .collect();
    etcd.batch("batch delete", deletes).await.unwrap();
    assert!(etcd
        .get_prefix(&format!("{p}/"))
        .await
        .unwrap()
        .value
        .is_empty());
}

#[tokio::test]
async fn get_prefix_pages_at_one_revision() {
    let etcd = EtcdServer::shared().client().await;
    let p = ns("pages");
    let puts: Vec<Op> = (0..2500)
        .map(|i| Op::put(format!("{p}/k{i:05}"), "x"))
        .collect();
    etcd.batch("fill", puts).await.unwrap();
    let snapshot = etcd.get_prefix(&format!("{p}/")).await.unwrap();
    assert_eq!(snapshot.value.len(), 2500);
    assert!(snapshot.value.windows(2).all(|w| w[0].key < w[1].key));
    // A key of another prefix that shares the text is not included.
    etcd.put(format!("{p}0/other"), "y").await.unwrap();
    assert_eq!(
        etcd.get_prefix(&format!("{p}/")).await.unwrap().value.len(),
        2500
    );
}

async fn next<T>(rx: &mut mpsc::Receiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("watch event in time")
        .expect("watcher alive")
}

#[tokio::test]
async fn a_watcher_started_at_r_sees_exactly_the_events_after_r() {
    let etcd = EtcdServer::shared().client().await;
    let p = ns("watch");
    let r1 = etcd.put(format!("{p}/a"), "1").await.unwrap();
    let r2 = etcd.put(format!("{p}/b"), "2").await.unwrap();
    let r3 = etcd.put(format!("{p}/a"), "3").await.unwrap();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(Watcher::after(etcd.clone(), format!("{p}/"), r1).run(tx, cancel.clone()));
    let live = etcd
        .txn(Txn::new("del").then([Op::delete(format!("{p}/b"))]))
        .await
        .unwrap()
        .revision;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(next(&mut rx).await);
    }
    match &seen[..] {
        [WatchEvent::Put(b), WatchEvent::Put(a), WatchEvent::Delete { key, revision }] => {
            assert_eq!((b.mod_revision, b.value.as_slice()), (r2, &b"2"[..]));
            assert_eq!(
                (a.mod_revision, a.value.as_slice(), a.version),
                (r3, &b"3"[..], 2)
            );
            assert_eq!(key, format!("{p}/b").as_bytes());
            assert_eq!(*revision, live);
        }
        other => panic!("unexpected events {other:?}"),
    }
    // Nothing else (in particular not the put at r1) arrives.
    assert!(tokio::time::timeout(Duration::from_millis(300), rx.recv())
        .await
        .is_err());
    cancel.cancel();
}

#[tokio::test]
async fn a_watcher_by_revision_hands_over_each_txn_whole() {
    let etcd = EtcdServer::shared().client().await;
    let p = ns("by-revision");
    let r0 = etcd.put(format!("{p}/a"), "0").await.unwrap();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(16);
    // Written before the watch starts, so one response carries several
    // revisions: they are still split by revision.
    let r1 = etcd.put(format!("{p}/b"), "1").await.unwrap();
    let both = etcd
        .txn(Txn::new("two").then([
            Op::put(format!("{p}/c"), "2"),
            Op::delete(format!("{p}/a")),
            Op::put(format!("{p}/d"), "3"),
        ]))
        .await
        .unwrap()
        .revision;
    tokio::spawn(
        Watcher::after(etcd.clone(), format!("{p}/"), r0).run_by_revision(tx, cancel.clone()),
    );
    let r3 = etcd.put(format!("{p}/e"), "4").await.unwrap();
    let mut batches = Vec::new();
    for _ in 0..3 {
        batches.push(
            next(&mut rx)
                .await
                .iter()
                .map(|e| {
                    let key = match e {
                        WatchEvent::Put(kv) => kv.key.clone(),
                        WatchEvent::Delete { key, .. } => key.clone(),
                        WatchEvent::Resynced(_) => panic!("no resync expected"),
                    };
                    (e.revision(), String::from_utf8(key).unwrap())
                })
                .collect::<Vec<_>>(),
        );
    }
    let key = |k: &str| format!("{p}/{k}");
    assert_eq!(
        batches,
        vec![
            vec![(r1, key("b"))],
            vec![(both, key("c")), (both, key("a")), (both, key("d"))],
            vec![(r3, key("e"))],
        ]
    );
    cancel.cancel();
}

#[tokio::test]
async fn an_exact_key_watch_does_not_see_longer_keys() {
    let etcd = EtcdServer::shared().client().await;
    let p = ns("exact");
    let start = etcd.put(format!("{p}/x"), "0").await.unwrap();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(
        Watcher::key_after(etcd.clone(), format!("{p}/6d2d31"), start).run(tx, cancel.clone()),
    );
    etcd.put(format!("{p}/6d2d3130"), "mysql-10").await.unwrap();
    let r = etcd.put(format!("{p}/6d2d31"), "mysql-1").await.unwrap();
    match next(&mut rx).await {
        WatchEvent::Put(kv) => assert_eq!((kv.mod_revision, kv.value), (r, b"mysql-1".to_vec())),
        other => panic!("unexpected {other:?}"),
    }
    cancel.cancel();
}

#[tokio::test]
async fn a_lagging_watcher_resyncs_after_compaction_and_loses_no_state() {
    // Compaction is cluster-wide: use a private etcd.
    let server = EtcdServer::start();
    let etcd = server.client().await;
    let p = "/compact";
    let r0 = etcd.put(format!("{p}/a"), "1").await.unwrap();
    etcd.put(format!("{p}/b"), "1").await.unwrap();
    etcd.put(format!("{p}/a"), "2").await.unwrap();
    etcd.txn(Txn::new("d").then([Op::delete(format!("{p}/b"))]))
        .await
        .unwrap();
    let rc = etcd.put(format!("{p}/c"), "1").await.unwrap();
    etcd.compact(rc).await.unwrap();

    // A watcher that last saw r0 lags behind the compaction point.
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(Watcher::after(etcd.clone(), format!("{p}/"), r0).run(tx, cancel.clone()));
    match next(&mut rx).await {
        WatchEvent::Resynced(snapshot) => {
            let state: Vec<(Vec<u8>, Vec<u8>)> = snapshot
                .value
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.clone()))
                .collect();
            assert_eq!(
                state,
                vec![
                    (format!("{p}/a").into_bytes(), b"2".to_vec()),
                    (format!("{p}/c").into_bytes(), b"1".to_vec()),
                ]
            );
            assert!(snapshot.revision >= rc);
        }
        other => panic!("expected a resync, got {other:?}"),
    }
    // After the resync it watches from the snapshot on.
    let r = etcd.put(format!("{p}/d"), "1").await.unwrap();
    match next(&mut rx).await {
        WatchEvent::Put(kv) => assert_eq!(kv.mod_revision, r),
        other => panic!("unexpected {other:?}"),
    }
    cancel.cancel();
}

#[tokio::test]
async fn a_watcher_survives_an_etcd_restart_without_losing_events() {
    let mut server = EtcdServer::start();
    let etcd = server.client().await;
    let p = "/restart";
    let r0 = etcd.put(format!("{p}/a"), "1").await.unwrap();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(Watcher::after(etcd.clone(), format!("{p}/"), r0).run(tx, cancel.clone()));
    let r1 = etcd.put(format!("{p}/a"), "2").await.unwrap();
    assert!(matches!(next(&mut rx).await, WatchEvent::Put(kv) if kv.mod_revision == r1));
    server.restart();
    let r2 = loop {
        match etcd.put(format!("{p}/a"), "3").await {
            Ok(r) => break r,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
        Ok(Some(WatchEvent::Put(kv))) => assert_eq!(kv.mod_revision, r2),
        other => panic!("expected the put after the restart, got {other:?}"),
    }
    cancel.cancel();
}

#[tokio::test]
async fn fenced_writes_fail_once_the_leader_key_changes() {
    let etcd = EtcdServer::shared().client().await;
    let p = ns("fence");
    let leader = format!("{p}/leader");
    let r = etcd.put(leader.as_str(), "me").await.unwrap();
    let fence = dm_master::etcd::Fence {
        key: leader.clone().into_bytes(),
        create_revision: r,
    };
    let put = |v: &str| Txn::new("fenced put").then([Op::put(format!("{p}/data"), v)]);
    assert!(
        etcd.txn_fenced(put("1"), Some(&fence))
            .await
            .unwrap()
            .succeeded
    );
    // Re-created leader key: a new term.
    etcd.txn(Txn::new("d").then([Op::delete(leader.as_str())]))
        .await
        .unwrap();
    etcd.put(leader.as_str(), "other").await.unwrap();
    match etcd.txn_fenced(put("2"), Some(&fence)).await {
        Err(Error::LeadershipLost { .. }) => {}
        other => panic!("expected LeadershipLost, got {other:?}"),
    }
    let data = etcd.get(format!("{p}/data")).await.unwrap().value.unwrap();
    assert_eq!(data.value, b"1");
}
