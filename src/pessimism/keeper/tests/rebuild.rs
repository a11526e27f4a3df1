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

/// Infos as `(task, source, table, ddl)` indices.
type RandomInfos = Vec<(usize, usize, usize, usize)>;
/// Operations as `(task, table, source, exec, done)`.
type RandomOperations = Vec<(usize, usize, usize, bool, bool)>;

/// A snapshot for [`two_passes_rebuild_what_one_pass_does`] over a few
/// tasks, sources and tables, so that locks are synced, un-synced,
/// mismatched, orphaned or of unknown tasks; with the number of sources
/// of each task (the first n of s0..s3; 0 is an unknown task).
fn snapshot_strategy(
) -> impl proptest::strategy::Strategy<Value = (RandomInfos, RandomOperations, Vec<usize>)> {
    use proptest::prelude::*;
    (
        proptest::collection::vec((0..3usize, 0..4usize, 0..2usize, 0..2usize), 0..14),
        proptest::collection::vec(
            (
                0..3usize,
                0..2usize,
                0..4usize,
                any::<bool>(),
                any::<bool>(),
            ),
            0..5,
        ),
        proptest::collection::vec(0..4usize, 3),
    )
}

/// `items` as their debug texts, sorted: the passes' order is not the
/// whole rebuild's.
fn sorted_texts<T: std::fmt::Debug>(items: &[T]) -> Vec<String> {
    let mut texts: Vec<String> = items.iter().map(|x| format!("{x:?}")).collect();
    texts.sort();
    texts
}

proptest::proptest! {
    /// The actor rebuilds the locks `locks_to_answer_first` picks, answers
    /// them, then rebuilds the others and absorbs them: together that is
    /// the one-pass rebuild, and every lock synced after it was picked.
    #[test]
    fn two_passes_rebuild_what_one_pass_does((infos, ops, source_counts) in snapshot_strategy()) {
        const TASKS: [&str; 3] = ["t0", "t1", "t2"];
        const SOURCES: [&str; 4] = ["s0", "s1", "s2", "s3"];
        const TABLES: [&str; 2] = ["bar", "baz"];
        let ddls = [vec![C1.to_owned()], vec![C2.to_owned()]];
        // One Info per (task, source), as etcd's keys allow.
        let mut seen = BTreeSet::new();
        let infos: Vec<InfoRecord> = infos
            .into_iter()
            .filter(|(t, s, _, _)| seen.insert((*t, *s)))
            .map(|(t, s, table, ddl)| InfoRecord {
                task: TASKS[t].into(),
                source: SOURCES[s].into(),
                schema: "foo".into(),
                table: TABLES[table].into(),
                ddls: ddls[ddl].clone().into(),
                lock_id: lock_id(TASKS[t], TABLES[table]).into(),
            })
            .collect();
        let mut seen = BTreeSet::new();
        let ops: Vec<OperationRecord> = ops
            .into_iter()
            .filter(|(t, _, s, _, _)| seen.insert((*t, *s)))
            .map(|(t, table, s, exec, done)| OperationRecord {
                lock_id: lock_id(TASKS[t], TABLES[table]),
                task: TASKS[t].to_owned(),
                source: SOURCES[s].to_owned(),
                exec,
                done,
            })
            .collect();
        let task_sources = |task: &str| -> Vec<String> {
            let t = TASKS.iter().position(|x| *x == task).unwrap_or(0);
            SOURCES[..source_counts[t]].iter().map(|s| s.to_string()).collect()
        };

        let whole = rebuild(infos.clone(), ops.clone(), task_sources);
        let mut per_lock = InfosPerLock::default();
        for info in &infos {
            per_lock.add(&info.task, &info.lock_id);
        }
        let first = locks_to_answer_first(
            &per_lock,
            ops.iter().map(|o| o.lock_id.as_str()),
            |task| task_sources(task).len(),
        );
        let (first_infos, rest_infos): (Vec<_>, Vec<_>) =
            infos.into_iter().partition(|i| first.contains(&*i.lock_id));
        let (first_ops, rest_ops): (Vec<_>, Vec<_>) =
            ops.into_iter().partition(|o| first.contains(&o.lock_id));
        let mut passes = rebuild(first_infos, first_ops, task_sources);
        let rest = rebuild(rest_infos, rest_ops, task_sources);
        passes.keeper.absorb(rest.keeper);

        for lock in whole.keeper.locks().filter(|l| l.is_synced()) {
            proptest::prop_assert!(first.contains(lock.id()), "synced lock {} not answered first", lock.id());
        }
        proptest::prop_assert!(rest.actions.is_empty(), "second pass answered {:?}", rest.actions);
        proptest::prop_assert_eq!(&passes.keeper, &whole.keeper);
        passes.issues.extend(rest.issues);
        passes.owners_restored.extend(rest.owners_restored);
        passes.delete_orphan_ops.extend(rest.delete_orphan_ops);
        proptest::prop_assert_eq!(sorted_texts(&passes.actions), sorted_texts(&whole.actions));
        proptest::prop_assert_eq!(sorted_texts(&passes.issues), sorted_texts(&whole.issues));
        proptest::prop_assert_eq!(sorted_texts(&passes.owners_restored), sorted_texts(&whole.owners_restored));
        proptest::prop_assert_eq!(sorted_texts(&passes.delete_orphan_ops), sorted_texts(&whole.delete_orphan_ops));
    }
}
