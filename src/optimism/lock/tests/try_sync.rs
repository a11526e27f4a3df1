//! DM's `TestLockTrySync*` cases: ADD / DROP columns and indexes, type
//! changes, new tables, reverts and the conflict rows of the behaviour table.

use super::*;

/// DM `TestLockTrySyncNormal`: ADD / DROP columns on 8 tables, one and
/// several DDLs per Info, replays.
#[test]
fn try_sync_normal() {
    let ddls2 = [
        "ALTER TABLE bar ADD COLUMN c2 BIGINT",
        "ALTER TABLE bar ADD COLUMN c3 TEXT",
    ];
    let ddls3 = ["ALTER TABLE bar DROP COLUMN c3"];
    let ddls4 = [
        "ALTER TABLE bar DROP COLUMN c2",
        "ALTER TABLE bar DROP COLUMN c1",
    ];
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, c2 bigint, c3 text";
    let ti2_1 = "id int pk, c1 int, c2 bigint";
    let ti3 = ti2_1;
    let (ti4, ti4_1) = (ti0, ti1);
    let all: Vec<&'static str> = vec![
        "s1.db1.bar1",
        "s1.db1.bar2",
        "s1.db2.bar1",
        "s1.db2.bar2",
        "s2.db1.bar1",
        "s2.db1.bar2",
        "s2.db2.bar1",
        "s2.db2.bar2",
    ];
    let ready = |plus_first_four: bool| {
        all.iter()
            .enumerate()
            .map(|(i, t)| format!("{}{t}", if (i < 4) == plus_first_four { "+" } else { "-" }))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let ready_s1 = ready(true);
    let ready_s2 = ready(false);
    let mut steps: Vec<(Step, String)> = vec![(Status, "synced r=0 done=0 resolved=false".into())];

    // Every table: ADD COLUMN (larger): returned to every table.
    for (i, t) in all.iter().enumerate() {
        if i == 4 {
            steps.push((Ready, ready_s1.clone()));
        }
        steps.push((
            sync(t, &[ADD_C1], ti0, &[ti1]),
            format!("none [0] [] r={}", 7 - i),
        ));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));
    // Replaying after synced is idempotent.
    steps.push((
        sync(all[0], &[ADD_C1], ti0, &[ti1]),
        "none [0] [] r=0".into(),
    ));

    // Two DDLs in one Info, replayed; then one table does them one by one.
    let (a, b) = (all[0], all[1]);
    for _ in 0..2 {
        steps.push((
            sync(a, &ddls2, ti1, &[ti2_1, ti2]),
            "none [0 1] [] r=7".into(),
        ));
    }
    for _ in 0..2 {
        steps.push((
            sync(b, &ddls2[..1], ti1, &[ti2_1]),
            "none [0] [] r=7".into(),
        ));
    }
    steps.push((CmpTables(a, b), "1".into()));
    for _ in 0..2 {
        steps.push((
            sync(b, &ddls2[1..], ti2_1, &[ti2]),
            "none [0] [] r=6".into(),
        ));
    }
    steps.push((CmpTables(a, b), "0".into()));
    for (i, t) in all.iter().enumerate() {
        let remain = 6usize.saturating_sub(i.saturating_sub(1));
        steps.push((
            sync(t, &ddls2, ti1, &[ti2_1, ti2]),
            format!("none [0 1] [] r={remain}"),
        ));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));

    // Every table: DROP COLUMN (smaller): returned to the last table only.
    for (i, t) in all.iter().enumerate() {
        if i == 4 {
            steps.push((Ready, ready_s2.clone()));
        }
        let want = if i == 7 {
            "none [0] [c3] r=0 drop=[c3]".to_owned()
        } else {
            format!("none [] [c3] r={} drop=[c3]", i + 1)
        };
        steps.push((sync(t, &ddls3, ti2, &[ti3]), want));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));

    // Two DROPs in one Info, replayed; then one by one on another table.
    steps.push((
        sync(a, &ddls4, ti3, &[ti4_1, ti4]),
        "none [] [c2 c1] r=1 drop=[c2 c1]".into(),
    ));
    steps.push((
        sync(a, &ddls4, ti3, &[ti4_1, ti4]),
        "none [] [c2 c1] r=1".into(),
    ));
    steps.push((
        sync(b, &ddls4[..1], ti3, &[ti4_1]),
        "none [] [c2] r=2 drop=[c2]".into(),
    ));
    steps.push((CmpTables(a, b), "-1".into()));
    steps.push((
        sync(b, &ddls4[..1], ti3, &[ti4_1]),
        "none [] [c2] r=2".into(),
    ));
    steps.push((
        sync(b, &ddls4[1..], ti4_1, &[ti4]),
        "none [] [c1] r=2 drop=[c1]".into(),
    ));
    steps.push((CmpTables(a, b), "0".into()));
    steps.push((
        sync(b, &ddls4[1..], ti4_1, &[ti4]),
        "none [] [c1] r=2".into(),
    ));
    for (i, t) in all[2..].iter().enumerate() {
        let want = if i == 5 {
            "none [0 1] [c2 c1] r=0 drop=[c2 c1]".to_owned()
        } else {
            format!("none [] [c2 c1] r={} drop=[c2 c1]", i + 3)
        };
        steps.push((sync(t, &ddls4, ti3, &[ti4_1, ti4]), want));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));
    check(ti0, &all, steps);
}

/// DM `TestLockTrySyncIndex`: DROP INDEX is returned at once (larger), ADD
/// UNIQUE INDEX only to the last table (smaller).
#[test]
fn try_sync_index() {
    let drop_idx = ["ALTER TABLE bar DROP INDEX idx_c1"];
    let add_idx = ["ALTER TABLE bar ADD UNIQUE INDEX idx_c1(c1)"];
    let ti0 = "id int pk, c1 int, unique idx_c1(c1)";
    let ti1 = "id int pk, c1 int";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false"),
            (sync("t1", &drop_idx, ti0, &[ti1]), "none [0] [] r=1"),
            (sync("t2", &drop_idx, ti0, &[ti1]), "none [0] [] r=0"),
            (sync("t1", &add_idx, ti1, &[ti0]), "none [] [] r=1"),
            (sync("t2", &add_idx, ti1, &[ti0]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncNullNotNull`: NULL → NOT NULL only to the last table,
/// NOT NULL → NULL at once; two rounds.
#[test]
fn try_sync_null_not_null() {
    let not_null = ["ALTER TABLE bar MODIFY COLUMN c1 INT NOT NULL DEFAULT 1234"];
    let null = ["ALTER TABLE bar MODIFY COLUMN c1 INT NULL DEFAULT 1234"];
    let ti0 = "id int pk, c1 int default=1234";
    let ti1 = "id int pk, c1 int notnull default=1234";
    let mut steps = Vec::new();
    for _ in 0..2 {
        steps.extend([
            (sync("t1", &not_null, ti0, &[ti1]), "none [] [] r=1"),
            (sync("t2", &not_null, ti0, &[ti1]), "none [0] [] r=0"),
            (sync("t1", &null, ti1, &[ti0]), "none [0] [] r=1"),
            (sync("t2", &null, ti1, &[ti0]), "none [0] [] r=0"),
        ]);
    }
    check(ti0, T2, steps);
}

/// DM `TestLockTrySyncIntBigint`: widening is returned to every table.
#[test]
fn try_sync_int_bigint() {
    let modify = ["ALTER TABLE bar MODIFY COLUMN c1 BIGINT NOT NULL DEFAULT 1234"];
    let ti0 = "id int pk, c1 int notnull default=1234";
    let ti1 = "id int pk, c1 bigint notnull default=1234";
    check(
        ti0,
        T2,
        vec![
            (sync("t1", &modify, ti0, &[ti1]), "none [0] [] r=1"),
            (sync("t2", &modify, ti0, &[ti1]), "none [0] [] r=0"),
        ],
    );
}

/// DM `TestLockTrySyncNoDiff`: a RENAME on the first table must wait.
#[test]
fn try_sync_no_diff() {
    let ti0 = "id int pk, c1 int";
    check(
        ti0,
        T2,
        vec![(
            sync(
                "t1",
                &["ALTER TABLE bar RENAME c1 TO c2"],
                ti0,
                &["id int pk, c2 int"],
            ),
            "skip [] [] r=2",
        )],
    );
}

/// DM `TestLockTrySyncNewTable`: tables outside `tts` join on the fly with
/// the initial schema.
#[test]
fn try_sync_new_table() {
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    check(
        ti0,
        &["s1.foo1.bar1"],
        vec![
            (Status, "synced r=0 done=0 resolved=false"),
            (
                sync("s2.foo2.bar2", &[ADD_C1], ti0, &[ti1]),
                "none [0] [] r=1",
            ),
            (Ready, "-s1.foo1.bar1 +s2.foo2.bar2"),
            (
                Tts(vec!["s1.foo1.bar1", "s1.foo1.bar2", "s2.foo2.bar1"]),
                "",
            ),
            (
                sync("s1.foo1.bar1", &[ADD_C1], ti0, &[ti1]),
                "none [0] [] r=2",
            ),
            (
                Ready,
                "+s1.foo1.bar1 -s1.foo1.bar2 -s2.foo2.bar1 +s2.foo2.bar2",
            ),
            (
                sync("s1.foo1.bar2", &[ADD_C1], ti0, &[ti1]),
                "none [0] [] r=1",
            ),
            (
                Ready,
                "+s1.foo1.bar1 +s1.foo1.bar2 -s2.foo2.bar1 +s2.foo2.bar2",
            ),
        ],
    );
}

/// DM `TestLockTrySyncRevert`: a table adds columns and drops them again.
#[test]
fn try_sync_revert() {
    let add_c1 = "ALTER TABLE bar ADD COLUMN c1 TEXT";
    let add_c2 = "ALTER TABLE bar ADD COLUMN c2 INT";
    let drop_c1 = "ALTER TABLE bar DROP COLUMN c1";
    let drop_c2 = "ALTER TABLE bar DROP COLUMN c2";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 text";
    let ti3 = "id int pk, c1 text, c2 int";
    check(
        ti0,
        T2,
        vec![
            // Revert of a single DDL.
            (sync("t1", &[add_c1], ti0, &[ti1]), "none [0] [] r=1"),
            (Ready, "+t1 -t2"),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (
                sync("t1", &[drop_c1], ti1, &[ti0]),
                "none [0] [c1] r=0 drop=[c1]",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
            (
                OpDone("t1", vec![drop_c1], vec!["c1"]),
                "put=[c1@t1=2] delete=[c1]",
            ),
            // Revert of several DDLs, in two steps.
            (
                sync("t1", &[add_c1, add_c2], ti0, &[ti1, ti3]),
                "none [0 1] [] r=1",
            ),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (
                sync("t1", &[drop_c2], ti3, &[ti1]),
                "none [0] [c2] r=1 drop=[c2]",
            ),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (
                sync("t1", &[drop_c1], ti1, &[ti0]),
                "none [0] [c1] r=0 drop=[c1]",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
            (
                OpDone("t1", vec![drop_c2], vec!["c2"]),
                "put=[c2@t1=2] delete=[c2]",
            ),
            (
                OpDone("t1", vec![drop_c1], vec!["c1"]),
                "put=[c1@t1=2] delete=[c1]",
            ),
            (Columns, "none"),
            // Revert of part of several DDLs; the other table catches up.
            (
                sync("t1", &[add_c1, add_c2], ti0, &[ti1, ti3]),
                "none [0 1] [] r=1",
            ),
            (
                sync("t1", &[drop_c2], ti3, &[ti1]),
                "none [0] [c2] r=1 drop=[c2]",
            ),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &[add_c1], ti0, &[ti1]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncConflictNonIntrusive` (behaviour table: `ADD c1 TEXT`
/// vs `ADD c1 DATETIME`): the second table is `detected` and reset; after
/// the first drops the column, its retry succeeds. With DM gap O6 in docs/dm-gaps.md fixed the
/// drop reports the blocked table for re-evaluation.
#[test]
fn try_sync_conflict_non_intrusive() {
    let ddls2 = [
        "ALTER TABLE bar ADD COLUMN c1 DATETIME",
        "ALTER TABLE bar ADD COLUMN c2 INT",
    ];
    let drop_c1 = "ALTER TABLE bar DROP COLUMN c1";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 text";
    let ti2 = "id int pk, c1 datetime, c2 int";
    let ti2_1 = "id int pk, c1 datetime";
    check(
        ti0,
        T2,
        vec![
            (sync("t1", &[ADD_TEXT_C1], ti0, &[ti1]), "none [0] [] r=1"),
            (Ready, "+t1 -t2"),
            (sync("t2", &ddls2, ti0, &[ti2_1, ti2]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (Ready, "+t1 -t2"),
            (
                sync("t1", &[drop_c1], ti1, &[ti0]),
                "none [0] [c1] r=0 drop=[c1] recheck=[t2]",
            ),
            (Ready, "+t1 +t2"),
            (sync("t2", &ddls2, ti0, &[ti2_1, ti2]), "none [0 1] [] r=1"),
            (CmpJoined("t2"), "0"),
            (
                OpDone("t1", vec![drop_c1], vec!["c1"]),
                "put=[c1@t1=2] delete=[c1]",
            ),
            (sync("t1", &ddls2, ti0, &[ti2_1, ti2]), "none [0 1] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncConflictIntrusive`: the conflicting table changes its
/// own DDLs to resolve the conflict.
#[test]
fn try_sync_conflict_intrusive() {
    let ddls1 = ["ALTER TABLE bar ADD COLUMN c1 TEXT"];
    let ddls2 = [
        "ALTER TABLE bar ADD COLUMN c1 DATETIME",
        "ALTER TABLE bar ADD COLUMN c2 INT",
    ];
    let ddls3 = ["ALTER TABLE bar ADD COLUMN c1 DATETIME"];
    let ddls5 = ["ALTER TABLE bar ADD COLUMN c2 TEXT"];
    let ddls6 = [
        "ALTER TABLE bar ADD COLUMN c2 DATETIME",
        "ALTER TABLE bar ADD COLUMN c3 INT",
    ];
    let ddls7 = ["ALTER TABLE bar ADD COLUMN c3 INT"];
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 text";
    let ti2 = "id int pk, c1 datetime, c2 int";
    let ti3 = "id int pk, c1 datetime";
    let ti5 = "id int pk, c1 text, c2 text";
    let ti6 = "id int pk, c1 text, c2 datetime, c3 int";
    let ti6_1 = "id int pk, c1 text, c2 datetime";
    let ti7 = "id int pk, c1 text, c3 int";
    let ti8 = "id int pk, c1 text, c2 text, c3 int";
    check(
        ti0,
        T2,
        vec![
            // Revert all changes to resolve the conflict.
            (sync("t1", &ddls1, ti0, &[ti1]), "none [0] [] r=1"),
            (sync("t2", &ddls2, ti0, &[ti3, ti2]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &ddls2, ti0, &[ti3, ti2]), "detected [] [] r=1"),
            (sync("t2", &ddls3, ti0, &[ti3]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &ddls1, ti0, &[ti1]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
            // Revert part of the changes.
            (sync("t1", &ddls5, ti1, &[ti5]), "none [0] [] r=1"),
            (sync("t2", &ddls6, ti1, &[ti6_1, ti6]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &ddls7, ti1, &[ti7]), "none [0] [] r=2"),
            (Ready, "-t1 -t2"),
            (CmpJoined("t1"), "-1"),
            (CmpJoined("t2"), "-1"),
            (sync("t1", &ddls7, ti5, &[ti8]), "none [0] [] r=1"),
            (Ready, "+t1 -t2"),
            (sync("t2", &ddls5, ti7, &[ti8]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncMultipleChangeDDL` (behaviour table: `[ADD c2, DROP
/// c1]` on every table): the ADD goes out at once, the DROP with the last
/// table; inconsistent Infos change nothing.
#[test]
fn try_sync_multiple_change_ddl() {
    let ddls1 = [
        "ALTER TABLE bar ADD COLUMN c2 INT",
        "ALTER TABLE bar DROP COLUMN c1",
    ];
    let ddls2 = [
        "ALTER TABLE bar DROP COLUMN c2",
        "ALTER TABLE bar ADD COLUMN c3 TEXT",
    ];
    let ti0 = "id int pk, c1 int";
    let ti1_1 = "id int pk, c1 int, c2 int";
    let ti1 = "id int pk, c2 int";
    let ti2 = "id int pk, c3 text";
    let ti2_1 = "id int pk";
    let all: Vec<&'static str> = vec![
        "s1.db1.bar1",
        "s1.db1.bar2",
        "s1.db2.bar1",
        "s1.db2.bar2",
        "s2.db1.bar1",
        "s2.db1.bar2",
        "s2.db2.bar1",
        "s2.db2.bar2",
    ];
    let mut steps: Vec<(Step, String)> = vec![
        (
            sync(all[0], &ddls1[..1], ti0, &[ti1_1, ti1]),
            "error 38054 [] [] r=0".into(),
        ),
        (
            sync(all[0], &ddls1, ti0, &[ti1]),
            "error 38054 [] [] r=0".into(),
        ),
        (Status, "synced r=0 done=0 resolved=false".into()),
    ];
    // Every table syncs `ddls`: all but the last get the first DDL
    // (`first`), the last both; dropping `col` is recorded each time. A
    // repeat of the first table's Info then gets both.
    let every_table = |ddls: &[&str], before: &str, afters: &[&str], first: &str, col: &str| {
        let last = all.len() - 1;
        let mut round: Vec<(Step, String)> = all
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let want = if i == last {
                    format!("none [0 1] [{col}] r=0 drop=[{col}]")
                } else {
                    format!("none [{first}] [{col}] r=8 drop=[{col}]")
                };
                (sync(t, ddls, before, afters), want)
            })
            .collect();
        round.push((Status, "synced r=0 done=0 resolved=false".into()));
        round.push((
            sync(all[0], ddls, before, afters),
            format!("none [0 1] [{col}] r=0"),
        ));
        round
    };
    steps.extend(every_table(&ddls1, ti0, &[ti1_1, ti1], "0", "c1"));
    steps.extend(every_table(&ddls2, ti1, &[ti2_1, ti2], "1", "c2"));
    check(ti0, &all, steps);
}
