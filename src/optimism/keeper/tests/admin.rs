//! The keeper's side of the admin requests: DM's `UnlockLock` (its
//! validation texts and rewritten Operations), show-ddl-locks and
//! remove-meta.

use super::*;

/// A keeper whose lock over `tables` has t1 add c1 as TEXT, then `other`
/// add it as DATETIME: `other` is detected. Returns both Infos.
fn conflicting(other: &str, tables: &[&str]) -> (World, Info, Info) {
    let i1 = info("t1", &[ADD_TEXT_C1], T0, &[TEXT_C1]);
    let i2 = info(other, &[ADD_DATETIME_C1], T0, &[DATETIME_C1]);
    let mut w = World::default();
    for i in [&i1, &i2] {
        sync(i.clone(), Some(tts(tables)))(&mut w);
    }
    (w, i1, i2)
}

/// DM `UnlockLock`: validation texts, the rewritten Operation for exec and
/// skip, and (DM gap O10) the lock after an exec-unlock.
#[test]
fn unlock() {
    let (mut w, i1, i2) = conflicting("t2", &["t1", "t2"]);
    let detected = op("t2", ConflictStage::Detected, Some(&[]));
    let infos = vec![i1.clone(), i2.clone()];
    let plan = |w: &World, action, infos: &[Info], ops: &[(Operation, i64)]| match w
        .keeper
        .plan_unlock(LOCK, &key("t2"), action, infos, ops)
    {
        Ok(UnlockDecision::Put(p)) => format!(
            "put {} {:?} rev={}",
            p.op.conflict_stage, p.op.ddls, p.info_revision
        ),
        Ok(UnlockDecision::Resolved(r)) => remove(&r),
        Err(e) => e.dm_string(),
    };
    let ops = vec![
        (op("t1", ConflictStage::None, Some(&[ADD_TEXT_C1])), 5),
        (detected.clone(), 7),
    ];
    type Case = (UnlockAction, Vec<Info>, Vec<(Operation, i64)>, String);
    let cases: Vec<Case> = vec![
        (UnlockAction::Exec, infos.clone(), ops.clone(), format!("put unlocked Some([\"{ADD_DATETIME_C1}\"]) rev=8")),
        (UnlockAction::Skip, infos.clone(), ops.clone(), "put unlocked Some([]) rev=8".to_owned()),
        (
            UnlockAction::Skip,
            infos.clone(),
            vec![(op("t2", ConflictStage::Detected, None), 7)],
            "put unlocked None rev=8".to_owned(),
        ),
        (
            UnlockAction::Exec,
            vec![i1.clone()],
            ops.clone(),
            format!("[code=38020:class=dm-master:scope=internal:level=high], Message: fail to find related info for lock {LOCK}"),
        ),
        (
            UnlockAction::Exec,
            infos.clone(),
            vec![(op("t2", ConflictStage::SkipWaitRedirect, None), 7)],
            format!("[code=38020:class=dm-master:scope=internal:level=high], Message: lock {LOCK} is in skip and wait for redirect status, not conflicted"),
        ),
        (
            UnlockAction::Exec,
            infos.clone(),
            vec![(detected.clone(), 7), (detected.clone(), 8)],
            format!("[code=38020:class=dm-master:scope=internal:level=high], Message: fail to find related operation for lock {LOCK}"),
        ),
    ];
    for (action, infos, ops, want) in cases {
        assert_eq!(plan(&w, action, &infos, &ops), want);
    }
    assert_eq!(
        w.keeper
            .plan_unlock("nope", &key("t2"), UnlockAction::Exec, &infos, &ops),
        Err(OptimismError::LockNotFound(
            crate::error::LockNotFound::new("nope")
        ))
    );
    assert_eq!(UnlockAction::from_proto(2), Some(UnlockAction::Exec));
    assert_eq!(UnlockAction::from_proto(0), None);

    let Ok(UnlockDecision::Put(p)) =
        w.keeper
            .plan_unlock(LOCK, &key("t2"), UnlockAction::Exec, &infos, &ops)
    else {
        panic!("plan");
    };
    assert_eq!(w.keeper.unlock_done(&p), Vec::<TableKey>::new());
    let lock = w.keeper.find_lock(LOCK).expect("lock");
    assert_eq!(
        lock.table(&key("t2")),
        Some(&Table::from_table_info(&ti(DATETIME_C1)))
    );
    assert_eq!(lock.final_table(&key("t2")), lock.table(&key("t2")));
    assert!(lock.detected_tables().is_empty());

    // A resolved lock is removed instead.
    for t in ["t1", "t2"] {
        w.keeper
            .find_lock_mut(LOCK)
            .expect("lock")
            .try_mark_done(&key(t));
    }
    let same = info("t2", &[ADD_TEXT_C1], T0, &[TEXT_C1]);
    assert!(w
        .keeper
        .find_lock_mut(LOCK)
        .expect("lock")
        .update_table_after_unlock(&same));
    assert_eq!(
        plan(&w, UnlockAction::Exec, &infos, &ops),
        format!("remove {LOCK} [t1@1 t2@1]")
    );
}

/// DM `ShowLocks`: one row per `detected` table with an Info (matched by
/// task, as DM does), or one row without owner.
#[test]
fn show_locks() {
    let (mut w, i1, i2) = conflicting("s2.db.t2", &["t1", "s2.db.t2", "t3"]);
    let other = info_for("other", "bar", "t1", &[ADD_C1], T0, &[T1]);
    sync(other, Some(tts_for("other", "bar", &["t1"])))(&mut w);
    let ops = vec![
        op("t1", ConflictStage::None, Some(&[])),
        op("s2.db.t2", ConflictStage::Detected, Some(&[])),
    ];
    let infos = vec![i1, i2];
    let show = |task: Option<&str>, sources: &[&str], ops: &[Operation]| {
        let sources: Vec<String> = sources.iter().map(|s| (*s).to_owned()).collect();
        w.keeper
            .show_locks(task, &sources, ops, &infos)
            .iter()
            .map(|v| {
                assert_eq!(v.mode.as_str(), "optimistic");
                format!(
                    "{} owner={} ddls={} synced={} unsynced={}",
                    v.id,
                    v.owner,
                    list(&v.ddls),
                    list(&v.synced),
                    list(&v.unsynced)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let row = "task-`foo`.`bar` owner=s2-`db`.`t2` ddls=[ALTER TABLE bar ADD COLUMN c1 DATETIME] synced=[s1-`db`.`t1`] unsynced=[s1-`db`.`t3` s2-`db`.`t2`]";
    assert_eq!(show(Some("task"), &[], &ops), row);
    assert_eq!(show(Some("task"), &["s2"], &ops), row);
    assert_eq!(
        show(Some("task"), &["s1"], &ops),
        "task-`foo`.`bar` owner= ddls=[] synced=[s1-`db`.`t1`] unsynced=[s1-`db`.`t3` s2-`db`.`t2`]"
    );
    assert_eq!(show(Some("task"), &["s9"], &ops), "");
    assert_eq!(
        show(None, &[], &[]),
        "other-`foo`.`bar` owner= ddls=[] synced=[s1-`db`.`t1`] unsynced=[]; task-`foo`.`bar` owner= ddls=[] synced=[s1-`db`.`t1`] unsynced=[s1-`db`.`t3` s2-`db`.`t2`]"
    );
}

/// DM `RemoveMetaDataWithTask` and `RemoveMetaDataWithTaskAndSources`.
#[test]
fn remove_meta() {
    let mut w = World::default();
    let all = ["t1", "s2.db.t2"];
    for t in all {
        sync(info(t, &[DROP_C1], T1, &[T0]), Some(tts(&all)))(&mut w);
    }
    sync(
        info_for("task", "rab", "t1", &[ADD_C1], T0, &[T1]),
        Some(tts_for("task", "rab", &["t1"])),
    )(&mut w);
    assert_eq!(w.keeper.len(), 2);

    let pairs = w.keeper.remove_task_sources("task", &["s2".to_owned()]);
    assert_eq!(pairs, [(LOCK.to_owned(), "c1".to_owned())]);
    assert_eq!(w.keeper.len(), 2);
    let pairs = w.keeper.remove_task_sources("task", &["s1".to_owned()]);
    assert_eq!(pairs, [(LOCK.to_owned(), "c1".to_owned())]);
    assert!(w.keeper.is_empty());

    let mut w = World::default();
    sync(info("t1", &[ADD_C1], T0, &[T1]), Some(tts(&["t1"])))(&mut w);
    sync(
        info_for("task", "rab", "t1", &[ADD_C1], T0, &[T1]),
        Some(tts_for("task", "rab", &["t1"])),
    )(&mut w);
    let mut rab_op = op("t1", ConflictStage::None, None);
    rab_op.id = "task-`foo`.`rab`".to_owned();
    let ids = w.keeper.remove_task(&[info("t1", &[], T0, &[])], &[rab_op]);
    assert_eq!(ids, [LOCK]);
    assert!(w.keeper.is_empty());
}
