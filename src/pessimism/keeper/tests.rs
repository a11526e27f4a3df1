//! Keeper and coordinator decisions, table-driven through [`check`].
//! Mirrors DM's `pessimism/keeper_test.go` (`TestLockKeeper`) and the
//! in-memory side of `master/shardddl/pessimist_test.go`
//! (`TestPessimist` cases 1-7, `TestSourceReEntrant`,
//! `TestUnlockSourceMissBeforeSynced`, `TestUnlockSourceInterrupt`,
//! `TestUnlockSourceOwnerRemoved`), plus the deliberate differences.
//! This file holds the harness and the lock's life; [`rebuild`] the
//! restarts, [`unlock`] the admin unlock, and [`model`] checks the keeper
//! against a model under random interleavings.

use super::*;

mod model;
mod rebuild;
mod unlock;

const C1: &str = "ALTER TABLE bar ADD COLUMN c1 INT";
const C2: &str = "ALTER TABLE bar ADD COLUMN c2 INT";
const S123: &[&str] = &["s1", "s2", "s3"];
const S12: &[&str] = &["s1", "s2"];

type Strs = &'static [&'static str];

/// One event fed to the keeper. Locks are named by task and downstream
/// table (schema `foo`).
#[derive(Clone, Copy)]
enum Ev {
    /// `on_info(task, source, table, ddls, task_sources)`.
    Info(&'static str, &'static str, &'static str, Strs, Strs),
    /// `on_operation_done(task, table, source)`.
    Done(&'static str, &'static str, &'static str),
    /// `handle_lock(task, table, only_source)`.
    Handle(&'static str, &'static str, Option<&'static str>),
    /// `remove_lock(task, table)`.
    Remove(&'static str, &'static str),
    Clear,
    /// `show_locks(task, sources)`, rendered as lock IDs.
    Show(Option<&'static str>, Strs),
    /// `prepare_unlock(task, table, replace_owner)`; keeps the plan.
    Unlock(&'static str, &'static str, Option<&'static str>),
    /// Polls the kept plan: owner done, skip ops, pending non-owners.
    UnlockPoll,
    RevertUnlock,
    FinishUnlock,
    /// `on_sources_left(task, remaining_sources)`.
    Left(&'static str, Strs),
    /// `rebuild(infos, ops, task_sources)` replacing the keeper.
    Rebuild(
        &'static [RInfo],
        &'static [ROp],
        &'static [(&'static str, Strs)],
    ),
}

/// (task, source, table, ddls)
type RInfo = (&'static str, &'static str, &'static str, Strs);
/// (task, table, source, exec, done)
type ROp = (&'static str, &'static str, &'static str, bool, bool);

/// DM `GenDDLLockID(task, "foo", table)`.
fn lock_id(task: &str, table: &str) -> String {
    format!("{task}-`foo`.`{}`", table.replace('`', "``"))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

fn change(c: Option<&StateChange>) -> String {
    let side = |s: Option<SyncState>| match s {
        None => "-",
        Some(SyncState::Unsynced) => "U",
        Some(SyncState::Synced) => "S",
    };
    match c {
        None => String::new(),
        Some(c) => format!(" {}:{}->{}", c.task, side(c.from), side(c.to)),
    }
}

fn action(a: &LockAction) -> String {
    let ops = |kind: &str, o: &OpsToPut| {
        let ddls_ok = o.ddls == [C1] || o.ddls == [C2] || o.ddls == [C1, C2];
        format!(
            "{kind} {} {}{}{}",
            o.lock_id,
            list(&o.sources),
            if o.skip_done { " skip_done" } else { "" },
            if ddls_ok { "" } else { " BAD-DDLS" },
        )
    };
    match a {
        LockAction::None => "none".to_owned(),
        LockAction::RemoveLock {
            lock_id,
            delete_ops_for,
            ..
        } => format!("remove {lock_id} {}", list(delete_ops_for)),
        LockAction::PutOwnerOp(o) => {
            assert!(o.exec, "owner op must be exec");
            ops("exec", o)
        }
        LockAction::PutSkipOps(o) => {
            assert!(!o.exec, "skip ops must not be exec");
            ops("skip", o)
        }
    }
}

fn outcome(o: &TrySyncOutcome) -> String {
    match o {
        TrySyncOutcome::Progress {
            synced,
            remain,
            created,
            change: c,
        } => format!(
            "{} remain={remain}{}{}",
            if *synced { "synced" } else { "unsynced" },
            if *created { " created" } else { "" },
            change(c.as_ref()),
        ),
        TrySyncOutcome::Mismatch(e) => format!("mismatch {}", e.code()),
        TrySyncOutcome::UnknownTask => "unknown-task".to_owned(),
        TrySyncOutcome::SourceNotInTask => "source-not-in-task".to_owned(),
        TrySyncOutcome::HeldAsStale => "held-as-stale".to_owned(),
    }
}

fn error(e: &PessimismError) -> String {
    format!("err {} {e}", e.code())
}

/// Every lock as `id owner=o ready=[..] wait=[..] done=[..]`.
fn render(k: &LockKeeper) -> String {
    let locks: Vec<String> = k
        .locks()
        .map(|l| {
            let done: Vec<String> = l
                .sources()
                .filter(|s| l.is_done(s))
                .map(str::to_owned)
                .collect();
            format!(
                "{} owner={} ready={} wait={} done={}",
                l.id(),
                l.owner(),
                list(&l.synced_sources()),
                list(&l.unsynced_sources()),
                list(&done),
            )
        })
        .collect();
    if locks.is_empty() {
        "no locks".to_owned()
    } else {
        locks.join("; ")
    }
}

fn plan_text(p: &RebuildPlan) -> String {
    let mut parts = Vec::new();
    // One `None -> state` gauge change per rebuilt lock (the actor counts
    // the rebuilt keeper's locks by state).
    for lock in p.keeper.locks() {
        let c = StateChange::between(lock.task(), None, Some(lock.state()));
        parts.push(format!("gauge{}", change(c.as_ref())));
    }
    for i in &p.issues {
        parts.push(match i {
            RebuildIssue::Mismatch { task, source, .. } => format!("mismatch {task}/{source}"),
            RebuildIssue::UnknownTask { task, source, .. } => {
                format!("unknown-task {task}/{source}")
            }
            RebuildIssue::SourceNotInTask { task, source, .. } => {
                format!("not-in-task {task}/{source}")
            }
            RebuildIssue::OrphanOperationKept(op) => {
                format!("keep-orphan {}/{}", op.lock_id, op.source)
            }
        });
    }
    for o in &p.owners_restored {
        parts.push(format!("owner {} {}->{}", o.lock_id, o.from, o.to));
    }
    for op in &p.delete_orphan_ops {
        parts.push(format!("delete-orphan {}/{}", op.lock_id, op.source));
    }
    for a in &p.actions {
        parts.push(action(a));
    }
    parts.join(", ")
}

/// s1, then s2 of task `t`'s two sources put C1 on `bar`: the lock syncs,
/// s1 owns it and is told to execute.
const TWO_OF_TWO_SYNC: &[(Ev, &str)] = &[
        (
            Ev::Info("t", "s1", "bar", &[C1], S12),
            "unsynced remain=1 created t:-->U -> none | t-`foo`.`bar` owner=s1 ready=[s1] wait=[s2] done=[]",
        ),
        (
            Ev::Info("t", "s2", "bar", &[C1], S12),
            "synced remain=0 t:U->S -> exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]",
        ),
];

/// s1, then s2 of task `t`'s three sources put C1 on `bar`: s1 owns the
/// lock, which waits for s3.
const TWO_OF_THREE_WAIT: &[(Ev, &str)] = &[
        (
            Ev::Info("t", "s1", "bar", &[C1], S123),
            "unsynced remain=2 created t:-->U -> none | t-`foo`.`bar` owner=s1 ready=[s1] wait=[s2 s3] done=[]",
        ),
        (
            Ev::Info("t", "s2", "bar", &[C1], S123),
            "unsynced remain=1 -> none | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
        ),
];

/// After [`TWO_OF_TWO_SYNC`]: the owner s1 is done (s2 is told to skip),
/// then s2: the lock resolves.
const BOTH_OF_TWO_DONE: &[(Ev, &str)] = &[
        (
            Ev::Done("t", "bar", "s1"),
            "owner-done -> skip t-`foo`.`bar` [s2] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[s1]",
        ),
        (
            Ev::Done("t", "bar", "s2"),
            "resolved -> remove t-`foo`.`bar` [s1 s2] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[s1 s2]",
        ),
];

/// Feeds `steps` to a fresh keeper; after each step compares
/// `result | keeper state`.
fn check(steps: &[(Ev, &str)]) {
    let mut k = LockKeeper::new();
    let mut plan: Option<UnlockPlan> = None;
    for (i, (ev, want)) in steps.iter().enumerate() {
        let result = match *ev {
            Ev::Info(task, source, table, ddls, sources) => {
                let d = k.on_info(
                    &lock_id(task, table),
                    task,
                    source,
                    &strings(ddls),
                    &strings(sources),
                );
                format!("{} -> {}", outcome(&d.outcome), action(&d.action))
            }
            Ev::Done(task, table, source) => {
                match k.on_operation_done(&lock_id(task, table), source) {
                    DoneDecision::LockNotFound => "lock-not-found".to_owned(),
                    DoneDecision::LockNotSynced => "lock-not-synced".to_owned(),
                    DoneDecision::Resolved(a) => format!("resolved -> {}", action(&a)),
                    DoneDecision::WaitMore => "wait-more".to_owned(),
                    DoneDecision::OwnerDone(a) => format!("owner-done -> {}", action(&a)),
                }
            }
            Ev::Handle(task, table, only) => action(&k.handle_lock(&lock_id(task, table), only)),
            Ev::Remove(task, table) => match k.remove_lock(&lock_id(task, table)) {
                Some(r) => format!("removed{}", change(Some(&r.change))),
                None => "absent".to_owned(),
            },
            Ev::Clear => k.clear().iter().map(|c| change(Some(c))).collect(),
            Ev::Show(task, sources) => {
                let ids: Vec<String> = k
                    .show_locks(task, &strings(sources))
                    .into_iter()
                    .map(|v| {
                        assert_eq!(v.mode.as_str(), "pessimistic");
                        v.id
                    })
                    .collect();
                list(&ids)
            }
            Ev::Unlock(task, table, replace) => {
                let id = lock_id(task, table);
                match k.prepare_unlock(&id, replace) {
                    Ok(p) => {
                        let text = format!(
                            "owner={} synced={} unsynced={}{}",
                            p.owner,
                            list(&p.synced),
                            list(&p.unsynced),
                            change(p.change.as_ref()),
                        );
                        plan = Some(p);
                        text
                    }
                    Err(e @ PessimismError::LockIsResolving { .. }) => {
                        format!("{} -> {}", error(&e), action(&k.removal(&id)))
                    }
                    Err(e) => error(&e),
                }
            }
            Ev::UnlockPoll => match &plan {
                None => "no plan".to_owned(),
                Some(p) => {
                    let owner_op = action(&LockAction::PutOwnerOp(p.owner_op()));
                    let skip = match k.unlock_skip_ops(p) {
                        Some(o) => action(&LockAction::PutSkipOps(o)),
                        None => "none".to_owned(),
                    };
                    format!(
                        "owner_done={} owner_op={owner_op} skip={skip} pending={}",
                        k.unlock_owner_done(p),
                        list(&k.unlock_pending_non_owners(p)),
                    )
                }
            },
            Ev::RevertUnlock => match &plan {
                None => "no plan".to_owned(),
                Some(p) => format!("reverted{}", change(k.revert_unlock(p).as_ref())),
            },
            Ev::FinishUnlock => match plan.take() {
                None => "no plan".to_owned(),
                Some(p) => {
                    let c = k.finish_unlock(&p);
                    format!(
                        "delete {} {}{}",
                        c.lock_id,
                        list(&c.sources),
                        change(c.change.as_ref())
                    )
                }
            },
            Ev::Left(task, remaining) => k
                .on_sources_left(task, &strings(remaining))
                .iter()
                .map(|c| {
                    format!(
                        "left {} {} owner={}{} -> {}",
                        c.lock_id,
                        list(&c.left),
                        c.owner,
                        change(c.change.as_ref()),
                        action(&c.action)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Ev::Rebuild(infos, ops, task_sources) => {
                let infos: Vec<InfoRecord> = infos
                    .iter()
                    .map(|(task, source, table, ddls)| InfoRecord {
                        task: (*task).into(),
                        source: (*source).into(),
                        schema: "foo".into(),
                        table: (*table).into(),
                        ddls: strings(ddls).into(),
                        lock_id: lock_id(task, table).into(),
                    })
                    .collect();
                let ops: Vec<OperationRecord> = ops
                    .iter()
                    .map(|(task, table, source, exec, done)| OperationRecord {
                        lock_id: lock_id(task, table),
                        task: (*task).to_owned(),
                        source: (*source).to_owned(),
                        exec: *exec,
                        done: *done,
                    })
                    .collect();
                let lookup = |task: &str| {
                    task_sources
                        .iter()
                        .find(|(t, _)| *t == task)
                        .map(|(_, s)| strings(s))
                        .unwrap_or_default()
                };
                let p = rebuild(infos, ops, lookup);
                let text = plan_text(&p);
                k = p.keeper;
                text
            }
        };
        let got = format!("{result} | {}", render(&k));
        assert_eq!(got, *want, "step {i}");
    }
}

#[test]
fn dm_test_lock_keeper() {
    check(&[
        (
            Ev::Info("task1", "s1", "bar", &[C1], S12),
            "unsynced remain=1 created task1:-->U -> none | task1-`foo`.`bar` owner=s1 ready=[s1] wait=[s2] done=[]",
        ),
        (
            Ev::Info("task1", "s2", "bar", &[C1], S12),
            "synced remain=0 task1:U->S -> exec task1-`foo`.`bar` [s1] skip_done | task1-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]",
        ),
        (
            Ev::Info("task2", "s1", "bar", &[C1], &["s1"]),
            "synced remain=0 created task2:-->S -> exec task2-`foo`.`bar` [s1] skip_done | task1-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]; task2-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[]",
        ),
        (
            Ev::Show(None, &[]),
            "[task1-`foo`.`bar` task2-`foo`.`bar`] | task1-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]; task2-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[]",
        ),
        (
            Ev::Remove("task1", "bar"),
            "removed task1:S->- | task2-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[]",
        ),
        (
            Ev::Remove("task1", "not-exists"),
            "absent | task2-`foo`.`bar` owner=s1 ready=[s1] wait=[] done=[]",
        ),
        (Ev::Clear, " task2:S->- | no locks"),
    ]);
}

#[test]
fn dm_test_pessimist_progress_in_memory() {
    check(
        &[
            TWO_OF_TWO_SYNC,
            // The owner finished: skip for the non-owner, no skip_done (as DM).
            BOTH_OF_TWO_DONE,
            &[
                // The actor removes the lock once the Operations are deleted.
                (Ev::Remove("t", "bar"), "removed t:S->- | no locks"),
                (Ev::Show(None, &[]), "[] | no locks"),
            ],
        ]
        .concat(),
    );
}

#[test]
fn dm_test_source_re_entrant() {
    check(
        &[
            TWO_OF_THREE_WAIT,
            &[
                // Re-PUT before the lock synced: nothing to answer yet.
                (
                    Ev::Info("t", "s1", "bar", &[C1], S123),
                    "unsynced remain=1 -> none | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]",
                ),
                (
                    Ev::Info("t", "s3", "bar", &[C1], S123),
                    "synced remain=0 t:U->S -> exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
                ),
                // The owner re-PUTs after the lock synced: its exec Operation again.
                (
                    Ev::Info("t", "s1", "bar", &[C1], S123),
                    "synced remain=0 -> exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[]",
                ),
                (
                    Ev::Done("t", "bar", "s1"),
                    "owner-done -> skip t-`foo`.`bar` [s2 s3] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1]",
                ),
                // A non-owner re-PUTs: only its own skip Operation, with skip_done.
                (
                    Ev::Info("t", "s2", "bar", &[C1], S123),
                    "synced remain=0 -> skip t-`foo`.`bar` [s2] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1]",
                ),
                (
                    Ev::Done("t", "bar", "s2"),
                    "wait-more | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2]",
                ),
                (
                    Ev::Info("t", "s3", "bar", &[C1], S123),
                    "synced remain=0 -> skip t-`foo`.`bar` [s3] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2]",
                ),
                // Without a source restriction only the non-owners still pending.
                (
                    Ev::Handle("t", "bar", None),
                    "skip t-`foo`.`bar` [s3] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2]",
                ),
                // The owner's own re-PUT after its done gets nothing.
                (
                    Ev::Handle("t", "bar", Some("s1")),
                    "none | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2]",
                ),
                (
                    Ev::Done("t", "bar", "s3"),
                    "resolved -> remove t-`foo`.`bar` [s1 s2 s3] | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2 s3]",
                ),
                (
                    Ev::Info("t", "s3", "bar", &[C1], S123),
                    "synced remain=0 -> remove t-`foo`.`bar` [s1 s2 s3] | t-`foo`.`bar` owner=s1 ready=[s1 s2 s3] wait=[] done=[s1 s2 s3]",
                ),
            ],
        ]
        .concat(),
    );
}

#[test]
fn info_edge_cases() {
    check(&[
        // DM gap P10 in docs/dm-gaps.md: a task without sources gets no lock.
        (Ev::Info("t", "s1", "bar", &[C1], &[]), "unknown-task -> none | no locks"),
        // DM gap P9: a source outside the task neither creates nor joins.
        (Ev::Info("t", "x", "bar", &[C1], S12), "source-not-in-task -> none | no locks"),
        (
            Ev::Info("t", "s2", "bar", &[C1], S12),
            "unsynced remain=1 created t:-->U -> none | t-`foo`.`bar` owner=s2 ready=[s2] wait=[s1] done=[]",
        ),
        (
            Ev::Info("t", "x", "bar", &[C1], S12),
            "source-not-in-task -> none | t-`foo`.`bar` owner=s2 ready=[s2] wait=[s1] done=[]",
        ),
        // Mismatch: nothing changes.
        (
            Ev::Info("t", "s1", "bar", &[C2], S12),
            "mismatch 38016 -> none | t-`foo`.`bar` owner=s2 ready=[s2] wait=[s1] done=[]",
        ),
        // A source still in the lock counts even after leaving the task, and
        // an existing lock works on with an empty task list.
        (
            Ev::Info("t", "s1", "bar", &[C1], &[]),
            "synced remain=0 t:U->S -> exec t-`foo`.`bar` [s2] skip_done | t-`foo`.`bar` owner=s2 ready=[s1 s2] wait=[] done=[]",
        ),
        // Backticks in the table are doubled in the lock ID.
        (
            Ev::Info("t", "s1", "b`r", &[C1], &["s1"]),
            "synced remain=0 created t:-->S -> exec t-`foo`.`b``r` [s1] skip_done | t-`foo`.`b``r` owner=s1 ready=[s1] wait=[] done=[]; t-`foo`.`bar` owner=s2 ready=[s1 s2] wait=[] done=[]",
        ),
    ]);
}

#[test]
fn done_and_handle_edge_cases() {
    check(&[
        (Ev::Done("t", "bar", "s1"), "lock-not-found | no locks"),
        (Ev::Handle("t", "bar", None), "none | no locks"),
        (
            Ev::Info("t", "s1", "bar", &[C1], S12),
            "unsynced remain=1 created t:-->U -> none | t-`foo`.`bar` owner=s1 ready=[s1] wait=[s2] done=[]",
        ),
        (
            Ev::Done("t", "bar", "s1"),
            "lock-not-synced | t-`foo`.`bar` owner=s1 ready=[s1] wait=[s2] done=[]",
        ),
        (
            Ev::Handle("t", "bar", None),
            "none | t-`foo`.`bar` owner=s1 ready=[s1] wait=[s2] done=[]",
        ),
        (
            Ev::Info("t", "s2", "bar", &[C1], S12),
            "synced remain=0 t:U->S -> exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]",
        ),
        // A non-owner done first (e.g. after an unlock with another owner).
        (
            Ev::Done("t", "bar", "s2"),
            "wait-more | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[s2]",
        ),
        // Done of a source outside the lock is not recorded.
        (
            Ev::Done("t", "bar", "x"),
            "wait-more | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[s2]",
        ),
        (
            Ev::Done("t", "bar", "s1"),
            "resolved -> remove t-`foo`.`bar` [s1 s2] | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[s1 s2]",
        ),
    ]);
}

#[test]
fn sources_leaving_mid_lock_re_evaluate_it() {
    check(
        &[
            TWO_OF_THREE_WAIT,
            &[
                // A source that did not leave changes nothing.
                (Ev::Left("t", S123), " | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[s3] done=[]"),
                // s3, the source the lock waits for, leaves: the remaining ones are
                // synced, the owner gets its exec Operation.
                (
                    Ev::Left("t", S12),
                    "left t-`foo`.`bar` [s3] owner=s1 t:U->S -> exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]",
                ),
            ],
            BOTH_OF_TWO_DONE,
        ]
        .concat(),
    );
}

#[test]
fn the_owner_leaving_hands_the_lock_to_a_ready_source_and_an_empty_lock_is_removed() {
    check(&[
        (
            Ev::Info("t", "s2", "bar", &[C1], S123),
            "unsynced remain=2 created t:-->U -> none | t-`foo`.`bar` owner=s2 ready=[s2] wait=[s1 s3] done=[]",
        ),
        (
            Ev::Info("t", "s3", "bar", &[C1], S123),
            "unsynced remain=1 -> none | t-`foo`.`bar` owner=s2 ready=[s2 s3] wait=[s1] done=[]",
        ),
        // The owner s2 leaves: s3 (ready) owns the lock, s1 is still awaited.
        (
            Ev::Left("t", &["s1", "s3"]),
            "left t-`foo`.`bar` [s2] owner=s3 -> none | t-`foo`.`bar` owner=s3 ready=[s3] wait=[s1] done=[]",
        ),
        // Every source leaves: the lock and its keys are removed.
        (
            Ev::Left("t", &[]),
            "left t-`foo`.`bar` [s1 s3] owner=s3 t:U->S -> remove t-`foo`.`bar` [s1 s3] | t-`foo`.`bar` owner=s3 ready=[] wait=[] done=[]",
        ),
        (Ev::Remove("t", "bar"), "removed t:S->- | no locks"),
    ]);
}

#[test]
fn a_delayed_duplicate_info_of_a_resolved_lock_is_held_until_a_second_source_repeats_it() {
    let resolve = [
        TWO_OF_TWO_SYNC,
        BOTH_OF_TWO_DONE,
        &[(Ev::Remove("t", "bar"), "removed t:S->- | no locks")],
    ]
    .concat();
    // The stale duplicate gets no lock and no Operation; the next DDL works.
    let mut stale = resolve.clone();
    stale.extend([
        (Ev::Info("t", "s2", "bar", &[C1], S12), "held-as-stale -> none | no locks"),
        (Ev::Info("t", "s2", "bar", &[C1], S12), "held-as-stale -> none | no locks"),
        (
            Ev::Info("t", "s1", "bar", &[C2], S12),
            "unsynced remain=1 created t:-->U -> none | t-`foo`.`bar` owner=s1 ready=[s1] wait=[s2] done=[]",
        ),
    ]);
    check(&stale);
    // The same DDLs again from both sources: a real new lock, the held
    // Info joins it.
    let mut repeated = resolve;
    repeated.extend([
        (Ev::Info("t", "s2", "bar", &[C1], S12), "held-as-stale -> none | no locks"),
        (
            Ev::Info("t", "s1", "bar", &[C1], S12),
            "synced remain=0 created t:-->S -> exec t-`foo`.`bar` [s1] skip_done | t-`foo`.`bar` owner=s1 ready=[s1 s2] wait=[] done=[]",
        ),
    ]);
    check(&repeated);
}
