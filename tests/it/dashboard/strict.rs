//! A conflict of a task in strict optimistic mode: shown on the page and
//! by ShowDDLLocks at once, and counted as an error.

use super::*;
use crate::optimism::{one_ddl_info, ADD_C3_DATETIME, ADD_C3_TEXT};

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
    let base = schema(&[]);
    let text = schema(&[("c3", FieldType::text())]);
    let info1 = one_ddl_info("s1", "t1", ADD_C3_TEXT, &base, text);
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
    let datetime = schema(&[("c3", FieldType::datetime(0))]);
    let info2 = one_ddl_info("s1", "t2", ADD_C3_DATETIME, &base, datetime);
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
