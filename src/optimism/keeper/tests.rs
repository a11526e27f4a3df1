//! Keeper decisions, table-driven through [`check`]: DM's
//! `optimism/keeper_test.go` (`TestLockKeeper`,
//! `TestLockKeeperMultipleTarget`) and the in-memory side of
//! `master/shardddl/optimist.go` (answers, done Operations, SourceTables
//! changes, unlock, show-ddl-locks, remove-meta, rebuild), plus the
//! deliberate differences. [`admin`] holds the admin requests, and
//! [`model`] checks the keeper against a model under random interleavings.

use std::borrow::Cow;

use super::*;
use crate::optimism::lock::tests::{
    done_operation, info, key, list, short, ti, tts, ADD_DATETIME_C1, ADD_TEXT_C1, DATETIME_C1,
    TEXT_C1,
};
use crate::schemacmp::Table;

mod admin;
mod model;

const ADD_C1: &str = "ALTER TABLE bar ADD COLUMN c1 INT";
const DROP_C1: &str = "ALTER TABLE bar DROP COLUMN c1";
const T0: &str = "id int pk";
const T1: &str = "id int pk, c1 int";

/// An Info of `table` (see `lock::tests::key`) for `task` and downstream
/// table `foo.<down>`.
fn info_for(
    task: &str,
    down: &str,
    table: &str,
    ddls: &[&str],
    before: &str,
    afters: &[&str],
) -> Info {
    let mut i = info(table, ddls, before, afters);
    i.task = task.to_owned();
    i.down_table = down.to_owned();
    i
}

fn tts_for(task: &str, down: &str, tables: &[&str]) -> Vec<TargetTable> {
    tts(tables)
        .into_iter()
        .map(|mut tt| {
            tt.task = task.to_owned();
            tt.down_table = down.to_owned();
            tt
        })
        .collect()
}

#[derive(Default)]
struct World {
    keeper: LockKeeper,
    tables: TableKeeper,
    /// Info versions per (task, table), and the last etcd revision.
    versions: BTreeMap<(String, TableKey), i64>,
    revision: i64,
}

type Step = Box<dyn FnOnce(&mut World) -> String>;

fn answer(a: &Answer) -> String {
    match a {
        Answer::Nothing => "nothing".to_owned(),
        Answer::LockNotFound(e) => format!("not-found {}", e.code()),
        Answer::Put {
            op,
            skip_done,
            info_revision,
        } => {
            assert!(!op.done);
            assert!(*info_revision > 0);
            format!(
                "put {} {} ddls={} cols={}{}",
                short(&TableKey::new(&op.source, &op.up_schema, &op.up_table)),
                op.conflict_stage,
                list(op.ddls.as_deref().expect("ddls are a list")),
                list(op.cols.as_deref().expect("cols are a list")),
                if *skip_done { " skip_done" } else { "" }
            )
        }
        Answer::RemoveLock(r) => remove(r),
    }
}

fn remove(r: &RemoveLock) -> String {
    let tables: Vec<String> = r
        .tables
        .iter()
        .map(|t| format!("{}@{}", short(&t.key), t.info_version))
        .collect();
    format!("remove {} {}", r.lock_id, list(&tables))
}

fn columns(c: &ColumnEffects) -> String {
    let put: Vec<String> = c
        .put
        .iter()
        .map(|(col, k, s)| format!("{col}@{}={}", short(k), s.as_i64()))
        .collect();
    format!("put={} delete={}", list(&put), list(&c.delete))
}

/// TrySync + answer of an Info, with `tts` given or (`None`) found in the
/// table keeper: `lock_id: answer`, then effects and re-checks.
fn sync(i: Info, tables: Option<Vec<TargetTable>>) -> Step {
    Box::new(move |w: &mut World| {
        let tts = tables.unwrap_or_else(|| {
            w.tables
                .find_tables(&i.task, &i.down_schema, &i.down_table)
                .unwrap_or_default()
        });
        let k = TableKey::new(&i.source, &i.up_schema, &i.up_table);
        let v = w.versions.entry((i.task.clone(), k)).or_insert(0);
        *v += 1;
        w.revision += 1;
        let (id, r) = w.keeper.try_sync(&i, *v, &tts, &|_| None);
        let mut out = format!(
            "{id}: {}",
            answer(&w.keeper.answer(&id, &i, &r, false, w.revision))
        );
        if r.created_lock {
            out.push_str(" created");
        }
        if !r.effects.is_empty() {
            out.push_str(&format!(
                " effects={}",
                r.effects.redirects.len() + r.effects.dropped_columns.len()
            ));
        }
        if !r.recheck.is_empty() {
            let rc: Vec<String> = r.recheck.iter().map(short).collect();
            out.push_str(&format!(" recheck={}", list(&rc)));
        }
        out
    })
}

/// `on_operation_done` for a done Operation of `table` in lock `id`.
fn done(id: &'static str, table: &'static str, ddls: &[&str], cols: &[&str]) -> Step {
    let op = done_operation(id, table, ddls, cols);
    Box::new(move |w: &mut World| match w.keeper.on_operation_done(&op) {
        DoneDecision::LockNotFound => "not-found".to_owned(),
        DoneDecision::Progress { columns: c } => format!("progress {}", columns(&c)),
        DoneDecision::Resolved {
            columns: c,
            remove: r,
        } => {
            format!("resolved {} {}", columns(&c), remove(&r))
        }
    })
}

/// Every lock: `id synced|unsynced r=N done=[..]`.
fn locks() -> Step {
    Box::new(|w: &mut World| {
        let all: Vec<String> = w
            .keeper
            .locks()
            .map(|l| {
                let (synced, remain) = l.is_synced();
                let done: Vec<String> = l.keys().filter(|k| l.is_done(k)).map(short).collect();
                format!(
                    "{} {} r={remain} done={}",
                    l.id(),
                    if synced { "synced" } else { "unsynced" },
                    list(&done)
                )
            })
            .collect();
        if all.is_empty() {
            "no locks".to_owned()
        } else {
            all.join("; ")
        }
    })
}

fn step(f: impl FnOnce(&mut World) -> String + 'static) -> Step {
    Box::new(f)
}

fn check(steps: Vec<(Step, &str)>) {
    check_after(Vec::new(), steps);
}

/// [`check`] of `setup`'s steps, then of `steps`.
fn check_after(setup: Vec<(Step, String)>, steps: Vec<(Step, &str)>) {
    let mut w = World::default();
    let setup = setup.into_iter().map(|(f, want)| (f, Cow::Owned(want)));
    let steps = steps.into_iter().map(|(f, want)| (f, Cow::Borrowed(want)));
    for (i, (f, want)) in setup.chain(steps).enumerate() {
        assert_eq!(f(&mut w), want, "step {i}");
    }
}

/// The two-table lock where t1 added `c1 TEXT` and t2's `c1 DATETIME`
/// conflicts with it (`detected`).
fn t2_conflicts_with_t1() -> Vec<(Step, String)> {
    vec![
        (
            source_tables("s1", &["t1", "t2"], false),
            "+2 -0 removals=[] removed=[] recheck=[]".to_owned(),
        ),
        (
            sync_info("t1", &[ADD_TEXT_C1], T0, &[TEXT_C1]),
            format!(
                "{LOCK}: put t1 none ddls=[ALTER TABLE bar ADD COLUMN c1 TEXT] cols=[] created"
            ),
        ),
        (
            sync_info("t2", &[ADD_DATETIME_C1], T0, &[DATETIME_C1]),
            format!("{LOCK}: put t2 detected ddls=[] cols=[]"),
        ),
    ]
}

/// DM `TestLockKeeper`.
#[test]
fn lock_keeper() {
    let (l1, l2) = ("task1-`foo`.`bar`", "task2-`foo`.`bar`");
    let tts1 = tts_for("task1", "bar", &["s1.foo_1.bar_1", "s2.foo_1.bar_1"]);
    let tts2 = tts_for("task2", "bar", &["s1.foo_1.bar_1"]);
    let i = |task: &str, table: &str| info_for(task, "bar", table, &[ADD_C1], T0, &[T1]);
    check(vec![
        (
            sync(i("task1", "s1.foo_1.bar_1"), Some(tts1.clone())),
            "task1-`foo`.`bar`: put s1.foo_1.bar_1 none ddls=[ALTER TABLE bar ADD COLUMN c1 INT] cols=[] created",
        ),
        (locks(), "task1-`foo`.`bar` unsynced r=1 done=[]"),
        (step(|w| w.keeper.find_locks_by_task("hahaha").count().to_string()), "0"),
        (
            sync(i("task1", "s2.foo_1.bar_1"), Some(tts1)),
            "task1-`foo`.`bar`: put s2.foo_1.bar_1 none ddls=[ALTER TABLE bar ADD COLUMN c1 INT] cols=[]",
        ),
        (
            sync(i("task2", "s1.foo_1.bar_1"), Some(tts2)),
            "task2-`foo`.`bar`: put s1.foo_1.bar_1 none ddls=[ALTER TABLE bar ADD COLUMN c1 INT] cols=[] created",
        ),
        (locks(), "task1-`foo`.`bar` synced r=0 done=[]; task2-`foo`.`bar` synced r=0 done=[]"),
        (
            step(|w| {
                let ids: Vec<&str> = w.keeper.find_locks_by_task("task2").map(Lock::id).collect();
                list(&ids)
            }),
            "[task2-`foo`.`bar`]",
        ),
        (step(|w| w.keeper.find_lock("lock-not-exists").is_none().to_string()), "true"),
        (step(move |w| w.keeper.remove_lock(l1).is_some().to_string()), "true"),
        (step(|w| w.keeper.remove_lock("lock-not-exists").is_some().to_string()), "false"),
        (step(|w| w.keeper.len().to_string()), "1"),
        (step(move |w| w.keeper.find_lock(l2).map(Lock::id).unwrap_or_default().to_owned()), l2),
        (step(|w| { w.keeper.clear(); w.keeper.is_empty().to_string() }), "true"),
    ]);
}

/// DM `TestLockKeeperMultipleTarget`: one source, two downstream tables,
/// two locks.
#[test]
fn lock_keeper_multiple_target() {
    let tables = ["s1.foo.bar-1", "s1.foo.bar-2"];
    // `table`'s Info routed to `foo`.`down`, with the lock's whole table list.
    let sync_to = |down: &str, table: &str| {
        let i = info_for("t", down, table, &[ADD_C1], T0, &[T1]);
        sync(i, Some(tts_for("t", down, &tables)))
    };
    let put = |t: &str| format!("put {t} none ddls=[{ADD_C1}] cols=[]");
    check(vec![
        (
            sync_to("bar", tables[0]),
            &format!("t-`foo`.`bar`: {} created", put(tables[0])),
        ),
        (
            sync_to("rab", tables[0]),
            &format!("t-`foo`.`rab`: {} created", put(tables[0])),
        ),
        (
            locks(),
            "t-`foo`.`bar` unsynced r=1 done=[]; t-`foo`.`rab` unsynced r=1 done=[]",
        ),
        (
            sync_to("bar", tables[1]),
            &format!("t-`foo`.`bar`: {}", put(tables[1])),
        ),
        (
            sync_to("rab", tables[1]),
            &format!("t-`foo`.`rab`: {}", put(tables[1])),
        ),
        (
            locks(),
            "t-`foo`.`bar` synced r=0 done=[]; t-`foo`.`rab` synced r=0 done=[]",
        ),
    ]);
}

const LOCK: &str = "task-`foo`.`bar`";

/// A SourceTables PUT (or DELETE) of `source` routing `tables` to foo.bar.
fn source_tables(source: &'static str, tables: &[&str], deleted: bool) -> Step {
    let mut st = SourceTables::new("task", source);
    for t in tables {
        let k = key(t);
        st.add_table(&k.schema, &k.table, "foo", "bar");
    }
    Box::new(move |w: &mut World| {
        let d = w
            .keeper
            .on_source_tables(&mut w.tables, &st, deleted, &|_| None);
        let removals: Vec<String> = d
            .removals
            .iter()
            .map(|r| {
                assert_eq!((r.task.as_str(), r.lock_id.as_str()), ("task", LOCK));
                format!("{}{}", short(&r.key), list(&r.cols))
            })
            .collect();
        let recheck: Vec<String> = d.recheck.iter().map(|(_, k)| short(k)).collect();
        format!(
            "+{} -{} removals={} removed={} recheck={}",
            d.added.len(),
            d.dropped.len(),
            list(&removals),
            list(&d.removed_locks),
            list(&recheck)
        )
    })
}

/// An ignore-conflict Info of `table` (`binlog-schema update --sync`).
fn ignored(table: &'static str, version: i64) -> Step {
    step(move |w| {
        let mut i = info(table, &[""], T0, &[T0]);
        i.ignore_conflict = true;
        let (id, r) = w.keeper.try_sync(&i, version, &[], &|_| None);
        answer(&w.keeper.answer(&id, &i, &r, false, 99))
    })
}

fn sync_info(table: &str, ddls: &[&str], before: &str, afters: &[&str]) -> Step {
    sync(info(table, ddls, before, afters), None)
}

/// DM's optimist flow: SourceTables, Infos, done Operations, resolution;
/// dropped columns recorded and forgotten; ignore-conflict Infos get no
/// Operation.
#[test]
fn optimist_flow() {
    check(vec![
        (
            source_tables("s1", &["t1", "t2"], false),
            "+2 -0 removals=[] removed=[] recheck=[]",
        ),
        (
            sync_info("t1", &[ADD_C1], T0, &[T1]),
            &format!("{LOCK}: put t1 none ddls=[{ADD_C1}] cols=[] created"),
        ),
        (
            sync_info("t2", &[ADD_C1], T0, &[T1]),
            &format!("{LOCK}: put t2 none ddls=[{ADD_C1}] cols=[]"),
        ),
        (
            done(LOCK, "t1", &[ADD_C1], &[]),
            "progress put=[] delete=[]",
        ),
        (
            done(LOCK, "t2", &[ADD_C1], &[]),
            &format!("resolved put=[] delete=[] remove {LOCK} [t1@1 t2@1]"),
        ),
        (
            step(|w| w.keeper.remove_lock(LOCK).is_some().to_string()),
            "true",
        ),
        // DROP COLUMN: recorded per table, forgotten once executed and done.
        (
            sync_info("t1", &[DROP_C1], T1, &[T0]),
            &format!("{LOCK}: put t1 none ddls=[] cols=[c1] created effects=1"),
        ),
        (
            sync_info("t2", &[DROP_C1], T1, &[T0]),
            &format!("{LOCK}: put t2 none ddls=[{DROP_C1}] cols=[c1] effects=1"),
        ),
        (
            done(LOCK, "t1", &[], &["c1"]),
            "progress put=[c1@t1=1] delete=[]",
        ),
        (
            done(LOCK, "t2", &[DROP_C1], &["c1"]),
            &format!("resolved put=[c1@t2=2] delete=[c1] remove {LOCK} [t1@2 t2@2]"),
        ),
        (done("task-`foo`.`other`", "t2", &[], &[]), "not-found"),
        // An Info reaching a resolved lock whose deletion is pending
        // removes it, as DM's handleLock does (an ignore-conflict Info
        // changes nothing here).
        (ignored("t1", 3), &format!("remove {LOCK} [t1@3 t2@2]")),
        (
            step(|w| w.keeper.remove_lock(LOCK).is_some().to_string()),
            "true",
        ),
        // An ignore-conflict Info answers nothing.
        (ignored("t1", 4), "nothing"),
    ]);
}

/// DM gap O17 in docs/dm-gaps.md: an Info without before-schema, or with one that does not
/// decode, is answered with an `error` Operation; no lock is created.
#[test]
fn unreadable_info_is_answered() {
    let mut no_before = info("t1", &[ADD_C1], T0, &[T1]);
    no_before.table_info_before = None;
    let mut bad = info("t1", &[ADD_C1], T0, &[T1]);
    bad.table_info_before = Some(serde_json::json!({"id": "x"}).into());
    let message = |i: Info| {
        step(move |w| {
            let (id, r) = w.keeper.try_sync(&i, 1, &[], &|_| None);
            match w.keeper.answer(&id, &i, &r, true, 7) {
                Answer::Put { op, .. } => {
                    format!("{} {} {}", op.id, op.conflict_stage, op.conflict_message)
                }
                a => answer(&a),
            }
        })
    };
    check(vec![
        (sync(no_before.clone(), None), &format!("{LOCK}: put t1 error ddls=[] cols=[]")),
        (
            message(no_before),
            &format!("{LOCK} error [code=38055:class=dm-master:scope=internal:level=high], Message: table-info-before not exist in optimistic ddls: [{ADD_C1}]"),
        ),
        (sync(bad, None), &format!("{LOCK}: put t1 error ddls=[] cols=[]")),
        (locks(), "no locks"),
    ]);
}

/// DM gap O6 through the keeper: the blocked table is re-run with its stored
/// Info and answered; failed effects rewrite the answer.
#[test]
fn recheck_and_failed_effects() {
    check_after(
        t2_conflicts_with_t1(),
        vec![
            (
                sync_info("t1", &[DROP_C1], TEXT_C1, &[T0]),
                &format!("{LOCK}: put t1 none ddls=[{DROP_C1}] cols=[c1] effects=1 recheck=[t2]"),
            ),
            (
                step(|w| {
                    let (i, r) = w
                        .keeper
                        .recheck(LOCK, &key("t2"), &[], &|_| None)
                        .expect("detected");
                    answer(&w.keeper.answer(LOCK, &i, &r, false, 9))
                }),
                &format!("put t2 none ddls=[{ADD_DATETIME_C1}] cols=[]"),
            ),
            (
                step(|w| {
                    w.keeper
                        .recheck(LOCK, &key("t2"), &[], &|_| None)
                        .is_none()
                        .to_string()
                }),
                "true",
            ),
            // A dropped-column write fails: DM's error answer with the cause.
            (
                step(|w| {
                    let i = info("t2", &[DROP_C1], DATETIME_C1, &[T0]);
                    let (id, r) = w.keeper.try_sync(&i, 5, &[], &|_| None);
                    assert_eq!(r.effects.dropped_columns, ["c1"]);
                    let failure = EffectFailure::DroppedColumns {
                        cause: "etcd txn failed".to_owned(),
                    };
                    let r = w.keeper.effects_failed(&id, &i, r, failure);
                    match w.keeper.answer(&id, &i, &r, false, 10) {
                        Answer::Put { op, .. } => format!(
                            "{} {} {:?}",
                            op.conflict_stage, op.conflict_message, op.ddls
                        ),
                        a => answer(&a),
                    }
                }),
                &format!("error etcd txn failed Some([\"{DROP_C1}\"])"),
            ),
        ],
    );
}

/// DM `handleSourceTables`: new routes join the lock, dropped ones leave
/// it (their keys listed for deletion), an emptied lock goes; DM gap O6: a
/// removal that may unblock a `detected` table reports it.
#[test]
fn source_tables_changes() {
    check_after(
        t2_conflicts_with_t1(),
        vec![
            (
                source_tables("s1", &["t1", "t2", "t3"], false),
                "+1 -0 removals=[] removed=[] recheck=[]",
            ),
            (locks(), &format!("{LOCK} unsynced r=2 done=[]")),
            (
                source_tables("s1", &["t2", "t3"], false),
                "+0 -1 removals=[t1[]] removed=[] recheck=[t2]",
            ),
            (
                source_tables("s2", &["s2.db.t9"], false),
                "+1 -0 removals=[] removed=[] recheck=[]",
            ),
            (
                source_tables("s1", &[], true),
                "+0 -2 removals=[t2[] t3[]] removed=[] recheck=[]",
            ),
            (locks(), &format!("{LOCK} synced r=0 done=[]")),
            (
                source_tables("s2", &[], true),
                "+0 -1 removals=[s2.db.t9[]] removed=[task-`foo`.`bar`] recheck=[]",
            ),
            (locks(), "no locks"),
            (
                source_tables("s1", &[], true),
                "+0 -0 removals=[] removed=[] recheck=[]",
            ),
        ],
    );
}

fn op(table: &str, stage: ConflictStage, ddls: Option<&[&str]>) -> Operation {
    let k = key(table);
    Operation {
        id: LOCK.to_owned(),
        task: "task".to_owned(),
        source: k.source,
        up_schema: k.schema,
        up_table: k.table,
        ddls: ddls.map(|d| d.iter().map(|s| (*s).to_owned()).collect()),
        conflict_stage: stage,
        conflict_message: String::new(),
        done: false,
        cols: Some(Vec::new()),
    }
}

/// DM `rebuildLocks` / `recoverLocks`: Infos replayed in revision order
/// (unrouted ones skipped), dropped columns installed into the rebuilt
/// lock, then done flags and column stages from the Operations.
#[test]
fn rebuild() {
    let mut st = SourceTables::new("task", "s1");
    st.add_table("db", "t1", "foo", "bar");
    st.add_table("db", "t2", "foo", "bar");
    let stored = |table: &str, ddls: &[&str], before, after, version, revision| StoredInfo {
        info: info(table, ddls, before, &[after]),
        version,
        revision,
    };
    let snapshot = Snapshot {
        source_tables: [("task".to_owned(), [("s1".to_owned(), st)].into())].into(),
        infos: vec![
            stored("t2", &[DROP_C1], T1, T0, 2, 5),
            stored("t9", &[ADD_C1], T0, T1, 1, 4),
            stored("t1", &[DROP_C1], T1, T0, 1, 3),
        ],
        dropped_columns: vec![StoredDroppedColumn {
            lock_id: LOCK.to_owned(),
            column: "c1".to_owned(),
            key: key("t1"),
            stage: DropColumnStage::NotDone,
        }],
    };
    let plan = plan_rebuild(snapshot);
    let order: Vec<String> = plan
        .replay
        .iter()
        .map(|s| s.info.up_table.clone())
        .collect();
    assert_eq!(order, ["t1", "t2"]);
    assert_eq!(plan.skipped.len(), 1);
    let (mut keeper, tables) = (plan.keeper, plan.tables);
    let mut answers = Vec::new();
    for s in &plan.replay {
        let tts = tables
            .find_tables(&s.info.task, &s.info.down_schema, &s.info.down_table)
            .unwrap_or_default();
        let (id, r) = keeper.try_sync(&s.info, s.version, &tts, &|_| None);
        answers.push(format!(
            "{} effects={}",
            answer(&keeper.answer(&id, &s.info, &r, true, s.revision)),
            r.effects.dropped_columns.len()
        ));
    }
    assert_eq!(
        answers,
        [
            "put t1 none ddls=[] cols=[c1] skip_done effects=0".to_owned(),
            format!("put t2 none ddls=[{DROP_C1}] cols=[c1] skip_done effects=1"),
        ]
    );
    let done_op = |table: &str, ddls: &[&str]| Operation {
        done: true,
        cols: Some(vec!["c1".to_owned()]),
        ..op(table, ConflictStage::None, Some(ddls))
    };
    let mut orphan = done_op("t1", &[]);
    orphan.id = "task-`foo`.`gone`".to_owned();
    let finish = keeper.finish_rebuild(&[done_op("t1", &[]), done_op("t2", &[DROP_C1]), orphan]);
    let cols: Vec<String> = finish.columns.iter().map(columns).collect();
    assert_eq!(
        cols,
        ["put=[c1@t1=1] delete=[]", "put=[c1@t2=2] delete=[c1]"]
    );
    let removals: Vec<String> = finish.removals.iter().map(remove).collect();
    assert_eq!(removals, [format!("remove {LOCK} [t1@1 t2@2]")]);
    assert_eq!(finish.orphans.len(), 1);
    // Later locks no longer get the rebuild's columns.
    assert!(keeper.drop_columns.is_none());
}
