//! The admin unlock (`UnlockDDLLock`) of a pessimistic lock: forcing a
//! lock that cannot sync, replacing its owner, force-removing it, and the
//! errors it answers.

use super::*;

#[tokio::test]
async fn ddl_mismatch_blocks_the_lock_and_unlock_resolves_it() {
    let env = Env::new("pess-mismatch", "t", S12).await;
    let metrics = env.master.metrics.clone();
    let (c1, c2) = env.clients();
    let r1 = put_ddl(&c1, DDL, &env.cancel).await;
    env.wait_synced("s1").await;
    c2.put_info(
        &c2.info(
            "db",
            "tb",
            vec!["ALTER TABLE `db`.`tb` DROP COLUMN c1".into()],
        ),
        &env.cancel,
    )
    .await
    .unwrap();
    assert!(
        env.metrics_show("type=\"InfoPut - SyncLockError\"} 1")
            .await
    );
    let locks = env
        .pessimist()
        .await
        .show_locks(Some("t"), &[])
        .await
        .unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0].synced, vec!["s1"]);
    assert_eq!(locks[0].unsynced, vec!["s2"]);
    assert!(metrics
        .render()
        .contains("dm_master_ddl_state_number{task=\"t\",type=\"Un-synced\"} 1"));

    // Unlock while s2 never synced: the owner executes, the lock goes away.
    let id = locks[0].id.clone();
    let unlock = {
        let handle = env.pessimist().await;
        tokio::spawn(async move { handle.unlock_lock(&id, None, false).await })
    };
    let op = answered(&c1, r1, &env.cancel, WAIT).await;
    assert!(op.exec);
    c1.done(&op).await.unwrap();
    finished(unlock, WAIT).await;
    assert!(env.shown().await.is_none(), "no lock is left");
    assert!(env.keys_gone().await);
    assert!(!metrics.render().contains("dm_master_ddl_state_number{"));
    env.stop().await;
}

#[tokio::test]
async fn unlock_with_force_remove_and_errors() {
    let env = Env::new("pess-unlock", "t", S12).await;
    put_ddl(&env.client("t", "s1"), DDL, &env.cancel).await;
    let id = "t-`db`.`tb`";
    assert!(wait_until(WAIT, || async { env.shown().await.is_some() }).await);
    let pessimist = env.pessimist().await;
    let err = pessimist
        .unlock_lock("t-`x`.`y`", None, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 38019);
    let err = pessimist
        .unlock_lock(id, Some("s2"), false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 38022, "{err}");
    // The owner never executes; force-remove drops the lock anyway.
    pessimist.unlock_lock(id, None, true).await.unwrap();
    assert!(env.shown().await.is_none(), "no lock is left");
    env.stop_when_resolved().await;
}

#[tokio::test]
async fn unlock_with_a_replaced_owner_while_a_source_never_arrived() {
    let env = Env::new("pess-replace-owner", "t", &["s1", "s2", "s3"]).await;
    let ((c1, r1), (c2, r2)) = env.s1_then_s2().await;
    let id = "t-`db`.`tb`";
    assert!(
        wait_until(WAIT, || async {
            env.shown()
                .await
                .is_some_and(|(_, synced, _)| synced.len() == 2)
        })
        .await
    );
    let lock = &env
        .pessimist()
        .await
        .show_locks(None, &["s3".into()])
        .await
        .unwrap()[0];
    assert_eq!(
        (lock.owner.as_str(), lock.unsynced.clone()),
        ("s1", vec!["s3".to_string()])
    );
    let unlock = {
        let handle = env.pessimist().await;
        tokio::spawn(async move { handle.unlock_lock(id, Some("s2"), false).await })
    };
    // s2 now executes, s1 skips; s3 (never arrived) gets nothing.
    let op2 = answered(&c2, r2, &env.cancel, WAIT).await;
    assert!(op2.exec, "the replacement owner executes");
    c2.done(&op2).await.unwrap();
    let op1 = answered(&c1, r1, &env.cancel, WAIT).await;
    assert!(!op1.exec, "the original owner skips");
    c1.done(&op1).await.unwrap();
    finished(unlock, WAIT).await;
    assert!(env.shown().await.is_none(), "no lock is left");
    let s3_op = env
        .etcd
        .get(ops::operation_key(&env.space, "t", "s3"))
        .await
        .unwrap();
    assert!(s3_op.value.is_none());
    env.stop_when_resolved().await;
}
