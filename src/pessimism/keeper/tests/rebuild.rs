//! Rebuilding the keeper from the Infos and Operations in etcd after a
//! master restart: DM's `TestPessimist` restart cases, and rebuilds that go
//! on past a mismatch and clean up orphan Operations.

use super::*;

#[test]
fn dm_test_pessimist_restarts_via_rebuild() {
    const TS: &[(&str, Strs)] = &[("t", S123)];
    check(&[
        // CASE 3: Infos of s1 and s2, no Operation: un-synced, owner s1.
        (
            Ev::Rebuild(&[("t", "s2", "bar", &[C1]), ("t", "s1", "bar", &[C1])], &[], TS),
            "gauge t:-->U | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        (
            Ev::Show(None, &[]),
            "[t-`foo`.`bar`] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        (
            Ev::Show(Some("t"), &["s3"]),
            "[t-`foo`.`bar`] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        (
            Ev::Show(Some(""), &["s2", "s3"]),
            "[t-`foo`.`bar`] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        (
            Ev::Show(Some("not-exist"), &[]),
            "[] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        (
            Ev::Show(None, &["not-exist"]),
            "[] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
        // CASE 4: all Infos and a not-done exec Operation for s1.
        (
            Ev::Rebuild(
                &[("t", "s3", "bar", &[C1]), ("t", "s1", "bar", &[C1]), ("t", "s2", "bar", &[C1])],
                &[("t", "bar", "s1", true, false)],
                TS,
            ),
            "gauge t:-->S, exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
        ),
        // CASE 5: the owner is done (its Info is gone), so s2 now creates the
        // lock and the exec Operation restores s1 as owner.
        (
            Ev::Rebuild(
                &[("t", "s3", "bar", &[C1]), ("t", "s2", "bar", &[C1])],
                &[
                    ("t", "bar", "s1", true, true),
                    ("t", "bar", "s2", false, false),
                    ("t", "bar", "s3", false, false),
                ],
                TS,
            ),
            "gauge t:-->S, owner t-`foo`.`bar` s2->s1, skip t-`foo`.`bar` [s2 s3] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1]",
        ),
        // CASE 6: owner and one non-owner done; only s3 is answered.
        (
            Ev::Rebuild(
                &[("t", "s3", "bar", &[C1])],
                &[
                    ("t", "bar", "s1", true, true),
                    ("t", "bar", "s2", false, true),
                    ("t", "bar", "s3", false, false),
                ],
                TS,
            ),
            "gauge t:-->S, owner t-`foo`.`bar` s3->s1, skip t-`foo`.`bar` [s3] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2]",
        ),
        (
            Ev::Done("t", "bar", "s3"),
            "resolved -> remove t-`foo`.`bar` [s1 s2 s3] | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2 s3]",
        ),
        // CASE 7: everything resolved and cleaned up.
        (Ev::Rebuild(&[], &[], TS), " | no locks"),
    ]);
}

#[test]
fn rebuild_goes_on_after_mismatch_and_handles_orphans() {
    const TS: &[(&str, Strs)] = &[("t1", S12), ("t2", S12), ("t3", S12)];
    check(&[
        // DM gap P6: t1 mismatches (s2), t2 still rebuilds and is answered, and
        // t1's Operation still restores its owner.
        (
            Ev::Rebuild(
                &[
                    ("t2", "s2", "bar", &[C1]),
                    ("t1", "s2", "bar", &[C2]),
                    ("t1", "s1", "bar", &[C1]),
                    ("t2", "s1", "bar", &[C1]),
                ],
                &[("t2", "bar", "s2", true, false)],
                TS,
            ),
            "gauge t1:-->U, gauge t2:-->S, mismatch t1/s2, owner t2-`foo`.`bar` s1->s2, exec t2-`foo`.`bar` [s2] skip_done | t1-`foo`.`bar` owner=s1 ready=[s1] wait=[s2] done=[]; t2-`foo`.`bar` owner=s2 ready=[s1 s2] wait=[] done=[]",
        ),
        // DM gap P7: done Operations of a vanished lock are deleted; a not-done
        // one is kept; a done one whose lock still has an Info is kept.
        (
            Ev::Rebuild(
                &[("t9", "s1", "qux", &[C1]), ("t3", "x", "bar", &[C1])],
                &[
                    ("t1", "bar", "s1", true, true),
                    ("t1", "bar", "s2", false, true),
                    ("t2", "bar", "s1", false, false),
                    ("t9", "qux", "s2", false, true),
                    ("t3", "bar", "s1", true, true),
                ],
                TS,
            ),
            "not-in-task t3/x, unknown-task t9/s1, keep-orphan t2-`foo`.`bar`/s1, keep-orphan t3-`foo`.`bar`/s1, keep-orphan t9-`foo`.`qux`/s2, delete-orphan t1-`foo`.`bar`/s1, delete-orphan t1-`foo`.`bar`/s2 | no locks",
        ),
        // An Operation of a source that has left the task restores its
        // membership; the lock waits for it.
        (
            Ev::Rebuild(
                &[("t1", "s1", "bar", &[C1]), ("t1", "s2", "bar", &[C1])],
                &[("t1", "bar", "s0", true, true), ("t1", "bar", "s1", false, false)],
                TS,
            ),
            "gauge t1:-->S, owner t1-`foo`.`bar` s1->s0, skip t1-`foo`.`bar` [s1 s2] skip_done | t1-`foo`.`bar` owner=s0 ready=[s0 s1 s2] wait=[] done=[s0]",
        ),
        // A resolved lock found at rebuild is removed.
        (
            Ev::Rebuild(
                &[("t1", "s1", "bar", &[C1])],
                &[("t1", "bar", "s1", true, true), ("t1", "bar", "s2", false, true)],
                TS,
            ),
            "gauge t1:-->S, remove t1-`foo`.`bar` [s1 s2] | t1-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[s1 s2]",
        ),
    ]);
}
