//! The admin unlock of a pessimistic lock through the keeper: its plan,
//! the owner's fan-out while it runs, reverting or finishing it, and the
//! errors it answers (DM's `TestUnlockSource*` cases).

use super::*;

#[test]
fn dm_test_unlock_source_miss_before_synced() {
    check(&[
        (Ev::Unlock("t", "bar", None), "err 38019 lock with ID t-`foo`.`bar` not found | no locks"),
        (
            Ev::Info("t", "s1", "bar", &[C1], S123),
            "unsynced remain=2 created t:-->U -> none | t-`foo`.`bar` owner=s1 ready=[s1] wait=[s2 s3] done=[]",
        ),
        (
            Ev::Info("t", "s2", "bar", &[C1], S123),
            "unsynced remain=1 -> none | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        (
            Ev::Unlock("t", "bar", None),
            "owner=s1 synced=[s1 s2] unsynced=[s3] t:U->S | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
        ),
        (
            Ev::UnlockPoll,
            "owner_done=false owner_op=exec t-`foo`.`bar` [s1] skip_done skip=skip t-`foo`.`bar` [s2] skip_done pending=[s2] | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
        ),
        // The owner did not finish in time: revert.
        (
            Ev::RevertUnlock,
            "reverted t:S->U | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        (
            Ev::Unlock("t", "bar", Some("")),
            "owner=s1 synced=[s1 s2] unsynced=[s3] t:U->S | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
        ),
        // The automatic fan-out after the owner's done (as DM, it reaches the
        // un-synced s3 too).
        (
            Ev::Done("t", "bar", "s1"),
            "owner-done -> skip t-`foo`.`bar` [s2 s3] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1]",
        ),
        (
            Ev::Done("t", "bar", "s2"),
            "wait-more | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2]",
        ),
        (
            Ev::UnlockPoll,
            "owner_done=true owner_op=exec t-`foo`.`bar` [s1] skip_done skip=none pending=[] | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2]",
        ),
        (Ev::FinishUnlock, "delete t-`foo`.`bar` [s1 s2 s3] t:S->- | no locks"),
    ]);
}

#[test]
fn dm_test_unlock_source_owner_removed() {
    check(
        &[
            TWO_OF_THREE_WAIT,
            &[
                (
                    Ev::Unlock("t", "bar", Some("s3")),
                    "err 38022 owner s3 is not waiting for a lock, but sources [s1 s2] are waiting for the lock | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
                ),
                (
                    Ev::Unlock("t", "bar", Some("s2")),
                    "owner=s2 synced=[s1 s2] unsynced=[s3] t:U->S | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
                ),
                (
                    Ev::UnlockPoll,
                    "owner_done=false owner_op=exec t-`foo`.`bar` [s2] skip_done skip=skip t-`foo`.`bar` [s1] skip_done pending=[s1] | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
                ),
                // The replacement owner is not the lock's owner: no fan-out.
                (
                    Ev::Done("t", "bar", "s2"),
                    "wait-more | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s2]",
                ),
                (
                    Ev::UnlockPoll,
                    "owner_done=true owner_op=exec t-`foo`.`bar` [s2] skip_done skip=skip t-`foo`.`bar` [s1] skip_done pending=[s1] | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s2]",
                ),
                (Ev::FinishUnlock, "delete t-`foo`.`bar` [s1 s2 s3] t:S->- | no locks"),
            ],
        ]
        .concat(),
    );
}

#[test]
fn dm_test_unlock_source_interrupt_and_resolved() {
    check(
        &[
            TWO_OF_TWO_SYNC,
            &[
                // Forcing an already synced lock moves no metric.
                (
                    Ev::Unlock("t", "bar", None),
                    "owner=s1 synced=[s1 s2] unsynced=[] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]",
                ),
                // Force-remove without the owner's done (CASE 1 of DM's test).
                (Ev::FinishUnlock, "delete t-`foo`.`bar` [s1 s2] t:S->- | no locks"),
                (
                    Ev::Info("t", "s1", "bar", &[C1], &["s1"]),
                    "synced remain=0 created t:-->S -> exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[]",
                ),
                (
                    Ev::Done("t", "bar", "s1"),
                    "resolved -> remove t-`foo`.`bar` [s1] | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[s1]",
                ),
                (
                    Ev::Unlock("t", "bar", None),
                    "err 38020 the lock t-`foo`.`bar` has been resolved before -> remove t-`foo`.`bar` [s1] | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[s1]",
                ),
                // A plan whose lock vanished (resolved meanwhile) reports done.
                (
                    Ev::Info("t", "s2", "baz", &[C1], S12),
                    "unsynced remain=1 created t:-->U -> none | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[s1]; t-`foo`.`baz` owner=s2 ready=[s2] wait=[s1] done=[]",
                ),
                (
                    Ev::Unlock("t", "baz", None),
                    "owner=s2 synced=[s2] unsynced=[s1] t:U->S | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[s1]; t-`foo`.`baz` owner=s2 ready=[s1 s2] wait=[] done=[]",
                ),
                (
                    Ev::Remove("t", "baz"),
                    "removed t:S->- | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[s1]",
                ),
                (
                    Ev::UnlockPoll,
                    "owner_done=true owner_op=exec t-`foo`.`baz` [s2] skip_done skip=none pending=[] | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[s1]",
                ),
                (
                    Ev::FinishUnlock,
                    "delete t-`foo`.`baz` [s1 s2] | t-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[s1]",
                ),
            ],
        ]
        .concat(),
    );
}

#[test]
fn error_codes_and_messages() {
    let cases: Vec<(PessimismError, &str)> = vec![
        (
            unlock_result(Some("w".into()), None, &[]).unwrap_err(),
            "err 38025 DDL lock fail to wait for non-owner sources to skip the shard DDL owner ExecuteDDL successfully, so DDL lock removed. but some dm-workers ExecuteDDL fail, you should to handle dm-worker directly, RawCause: w",
        ),
        (
            unlock_result(None, Some("d".into()), &[]).unwrap_err(),
            "err 38025 DDL lock fail to delete shard DDL infos and operations owner ExecuteDDL successfully, so DDL lock removed. but some dm-workers ExecuteDDL fail, you should to handle dm-worker directly, RawCause: d",
        ),
        (
            unlock_result(Some("w".into()), Some("d".into()), &strings(&["s3"])).unwrap_err(),
            "err 38025 fail to wait for non-owner sources [s3] to skip the shard DDL and delete shard DDL infos and operations, d, RawCause: w",
        ),
        (
            PessimismError::OwnerExecDdl {
                owner: "s1".into(),
                lock_id: "t-`foo`.`bar`".into(),
            },
            "err 38024 the owner s1 of the lock t-`foo`.`bar` has not done the operation",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(error(&e), want);
    }
    assert_eq!(unlock_result(None, None, &[]), Ok(()));
}
