//! Optimistic locks whose DDLs conflict or cannot be read: a re-added
//! partially dropped column, a rename waiting for its redirect, a detected
//! type clash, every conflict stage across a master restart, and malformed
//! Infos answered with an error stage.

use super::*;

#[tokio::test]
async fn re_adding_a_partially_dropped_column_is_refused_also_after_a_restart() {
    let mut env = Env::new("opt-readd", &["s1"]).await;
    let with_c1 = schema(&[("c1", FieldType::int())]);
    let without = schema(&[]);
    env.ddl_done(
        "s1",
        "t1",
        &["ALTER TABLE `db`.`tb` DROP COLUMN `c1`"],
        &with_c1,
        &without,
    )
    .await;
    let add = "ALTER TABLE `db`.`tb` ADD COLUMN `c1` INT";
    let refused = env
        .ddl("s1", "t1", &[add], without.clone(), vec![with_c1.clone()])
        .await;
    expect_conflict(refused, "wasn't fully dropped");
    // The master forgets nothing across a restart: the dropped-column record
    // is read back and the same re-add is refused again.
    env.restart_master().await;
    let refused = env.ddl("s1", "t1", &[add], without, vec![with_c1]).await;
    expect_conflict(refused, "wasn't fully dropped");
    env.stop().await;
}

#[tokio::test]
async fn rename_conflict_waits_for_redirect_then_resolves() {
    let env = Env::new("opt-rename", &["s1"]).await;
    let before = schema(&[("c1", FieldType::int())]);
    let after = schema(&[("c2", FieldType::int())]);
    let rename = "ALTER TABLE `db`.`tb` RENAME COLUMN `c1` TO `c2`";
    let first = env
        .ddl("s1", "t1", &[rename], before.clone(), vec![after.clone()])
        .await
        .unwrap();
    let Answer::SkipAndWaitRedirect(op) = &first else {
        panic!("{first:?}")
    };
    assert_eq!(op.conflict_stage, ConflictStage::SkipWaitRedirect);
    let c1 = env.client("s1");
    let key1 = TableKey::new("s1", "shard", "t1");
    let from = c1.operation_revision(&key1).await.unwrap();
    let redirect = {
        let c1 = c1.clone();
        let cancel = env.cancel.clone();
        tokio::spawn(async move { c1.wait_redirect(&key1, from, &cancel).await })
    };
    // The lock shows t1 blocked.
    let optimist = env.optimist().await;
    let locks = optimist.show_locks(Some("t"), &[]).await.unwrap();
    assert_eq!(locks.len(), 1);
    assert!(
        locks[0].unsynced.iter().any(|t| t.contains("t1")),
        "{locks:?}"
    );

    // The other table does the same rename: the conflict resolves, t2
    // executes it and t1 is redirected.
    assert_eq!(
        env.ddl_done("s1", "t2", &[rename], &before, &after).await,
        vec![rename.to_string()]
    );
    let redirected = tokio::time::timeout(WAIT, redirect)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(redirected.conflict_stage, ConflictStage::Resolved);
    // t1 replays its DDL after the redirect and is answered.
    env.ddl_done("s1", "t1", &[rename], &before, &after).await;
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn a_detected_conflict_is_re_evaluated_when_the_other_table_changes() {
    let env = Env::new("opt-detected", &["s1"]).await;
    let base = schema(&[]);
    let text = schema(&[("c3", FieldType::text())]);
    let datetime = schema(&[("c3", FieldType::datetime(0))]);
    env.ddl_done("s1", "t1", &[ADD_C3_TEXT], &base, &text).await;
    // t2 adds the same column with another type: detected, it waits.
    let c2 = env.client("s1");
    let info2 = one_ddl_info("s1", "t2", ADD_C3_DATETIME, &base, datetime);
    let rev = c2.put_info(&info2).await.unwrap();
    let key2 = TableKey::new("s1", "shard", "t2");
    let waiting = {
        let c2 = c2.clone();
        let key2 = key2.clone();
        let cancel = env.cancel.clone();
        tokio::spawn(async move { c2.wait_answer(&key2, rev, &cancel).await })
    };
    assert!(
        env.locks_come_to(|locks| locks.iter().any(|l| l.owner.contains("t2")))
            .await,
        "the detected table is shown as the lock's owner"
    );
    assert!(!waiting.is_finished(), "a detected table keeps waiting");
    // t1 drops the column again: t2's DDL no longer conflicts, and it is
    // answered without re-sending its Info (DM needs a re-send, DM gap O6 in docs/dm-gaps.md).
    env.ddl_done(
        "s1",
        "t1",
        &["ALTER TABLE `db`.`tb` DROP COLUMN `c3`"],
        &text,
        &base,
    )
    .await;
    let answer = tokio::time::timeout(WAIT, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(answer, Answer::Execute(_)), "{answer:?}");
    env.stop().await;
}

#[tokio::test]
async fn master_restart_in_each_conflict_stage_rebuilds_the_same_locks_and_operations() {
    let mut env = Env::new("opt-restart", &["s1", "s2"]).await;
    let base = schema(&[("c1", FieldType::int())]);
    // s1.t1: skip and wait for redirect (rename); s2.t1: detected (type
    // clash with s1.t2's new column); s1.t2: none.
    let renamed = schema(&[("c9", FieldType::int())]);
    let skip = env
        .ddl(
            "s1",
            "t1",
            &["ALTER TABLE `db`.`tb` RENAME COLUMN `c1` TO `c9`"],
            base.clone(),
            vec![renamed],
        )
        .await
        .unwrap();
    assert!(matches!(skip, Answer::SkipAndWaitRedirect(_)));
    let with_text = schema(&[("c1", FieldType::int()), ("c3", FieldType::text())]);
    env.ddl_done("s1", "t2", &[ADD_C3_TEXT], &base, &with_text)
        .await;
    let c = env.client("s2");
    let detected_info = one_ddl_info(
        "s2",
        "t1",
        ADD_C3_DATETIME,
        &base,
        schema(&[("c1", FieldType::int()), ("c3", FieldType::datetime(0))]),
    );
    c.put_info(&detected_info).await.unwrap();
    let optimist = env.optimist().await;
    let (etcd, space) = (env.etcd.clone(), env.space.clone());
    let stages = || {
        let (etcd, space) = (etcd.clone(), space.clone());
        async move {
            let op_prefix = space.prefix(&dm_master::keys::OPTIMISM_OPERATION, &[]);
            let kvs = etcd.get_prefix(&op_prefix).await.unwrap().value;
            kvs.iter()
                .map(|kv| {
                    let op = dm_master::optimism::Operation::decode(&kv.value).unwrap();
                    (op.source, op.up_table, op.conflict_stage, op.ddls, op.done)
                })
                .collect::<Vec<_>>()
        }
    };
    assert!(
        wait_until(WAIT, || async {
            stages()
                .await
                .iter()
                .any(|s| s.2 == ConflictStage::Detected)
        })
        .await
    );
    let locks_before = optimist.show_locks(None, &[]).await.unwrap();
    let ops_before = stages().await;
    env.restart_master().await;
    assert!(
        env.locks_come_to(|locks| locks == locks_before.as_slice())
            .await,
        "the rebuilt locks equal the ones before: {locks_before:?} vs {:?}",
        env.optimist().await.show_locks(None, &[]).await.unwrap()
    );
    assert_eq!(
        stages().await,
        ops_before,
        "the rebuilt answers equal the ones before"
    );
    env.stop().await;
}

#[tokio::test]
async fn malformed_infos_get_an_error_stage_or_a_report_and_other_locks_go_on() {
    let env = Env::new("opt-malformed", &["s1"]).await;
    let c = env.client("s1");
    // Not JSON at all: reported (log + metric), nothing answered.
    let bad_key = ops::info_key(&env.space, "t", &TableKey::new("s1", "shard", "t1"));
    env.etcd.put(bad_key.as_str(), "{oops").await.unwrap();
    // No table-info-before: an `error` Operation (DM answers nothing, DM gap O17).
    let mut info = shard_info(
        "s1",
        "t2",
        vec![ADD_C2.into()],
        None,
        vec![schema(&[("c2", FieldType::int())])],
    );
    let key2 = TableKey::new("s1", "shard", "t2");
    let rev = c.put_info(&info).await.unwrap();
    expect_conflict(
        c.wait_answer(&key2, rev, &env.cancel).await,
        "table-info-before not exist",
    );
    // DDL / table-info count mismatch: an `error` Operation too.
    info.table_info_before = Some(schema(&[]).into());
    info.ddls = Some(vec![
        ADD_C2.into(),
        "ALTER TABLE `db`.`tb` ADD COLUMN `c3` INT".into(),
    ]);
    let rev = c.put_info(&info).await.unwrap();
    expect_conflict(
        c.wait_answer(&key2, rev, &env.cancel).await,
        "inconsistent count",
    );
    // A healthy Info of the same lock is still answered.
    info.ddls = Some(vec![ADD_C2.into()]);
    let rev = c.put_info(&info).await.unwrap();
    let answer = c.wait_answer(&key2, rev, &env.cancel).await.unwrap();
    assert!(matches!(answer, Answer::Execute(_)), "{answer:?}");
    assert!(
        env.metrics.render().contains(
            "dm_master_shard_ddl_error{task=\"t\",type=\"Watch - MalformedValueError\"} 1"
        ),
        "{}",
        env.metrics.render()
    );
    env.stop().await;
}
