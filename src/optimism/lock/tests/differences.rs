//! Where the lock deliberately differs from DM (the gaps of docs/dm-gaps.md):
//! rechecked `detected` tables, unlock moving the final view, case-insensitive
//! column names, unreadable Infos, failed effects and ignore-conflict Infos.

use super::*;

/// DM gap O6: a `detected` table is reported after the change that unblocks
/// it, and re-running its stored Info succeeds; nothing is reported while
/// it stays blocked or after failed calls.
#[test]
fn detected_tables_are_rechecked() {
    let add_text = ["ALTER TABLE bar ADD COLUMN c1 TEXT"];
    let add_datetime = ["ALTER TABLE bar ADD COLUMN c1 DATETIME"];
    let drop_c1 = ["ALTER TABLE bar DROP COLUMN c1"];
    let ti0 = "id int pk";
    check(
        ti0,
        &["t1", "t2", "t3"],
        vec![
            (sync("t1", &add_text, ti0, &[TEXT_C1]), "none [0] [] r=2"),
            (
                sync("t2", &add_datetime, ti0, &[DATETIME_C1]),
                "detected [] [] r=2",
            ),
            (
                sync("t3", &add_datetime, ti0, &[DATETIME_C1]),
                "detected [] [] r=2",
            ),
            // A change that does not unblock still reports both.
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar ADD COLUMN c2 INT"],
                    TEXT_C1,
                    &["id int pk, c1 text, c2 int"],
                ),
                "none [0] [] r=2 recheck=[t2 t3]",
            ),
            (Recheck("t2"), "detected [] [] r=2"),
            (
                sync(
                    "t1",
                    &drop_c1,
                    "id int pk, c1 text, c2 int",
                    &["id int pk, c2 int"],
                ),
                "none [0] [c1] r=2 drop=[c1] recheck=[t2 t3]",
            ),
            // t2 goes through and reports t3, which goes through too.
            (Recheck("t2"), "none [0] [] r=3 recheck=[t3]"),
            (Recheck("t3"), "none [0] [] r=3"),
            (Status, "unsynced r=3 done=0 resolved=false"),
        ],
    );
}

/// DM gap O10: an exec-unlock moves the final view too, so readiness follows
/// (DM leaves the final view at the reset before-schema).
#[test]
fn unlock_updates_final_tables() {
    let ti0 = "id int pk";
    let blocked = info("t2", &[ADD_DATETIME_C1], ti0, &[DATETIME_C1]);
    check(
        ti0,
        T2,
        vec![
            (
                sync("t1", &[ADD_TEXT_C1], ti0, &[TEXT_C1]),
                "none [0] [] r=1",
            ),
            (Sync(blocked.clone()), "detected [] [] r=1"),
            (Unlock(blocked), "true"),
            // Both views now hold t2's DATETIME column: nothing joins.
            (Ready, "-t1 -t2"),
            (CmpTables("t1", "t2"), "err"),
            (Status, "unsynced r=2 done=0 resolved=false"),
        ],
    );
}

/// DM gap O14: mixed-case column names are checked like lower-case ones.
#[test]
fn column_names_are_case_insensitive() {
    let ti0 = "id int pk, C int";
    check(
        ti0,
        T2,
        vec![
            // Different lengths under a mixed-case name.
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar ADD COLUMN Col VARCHAR(4)"],
                    ti0,
                    &["id int pk, C int, Col varchar(4)"],
                ),
                "none [0] [] r=1",
            ),
            (
                sync(
                    "t2",
                    &["ALTER TABLE bar ADD COLUMN col VARCHAR(5)"],
                    ti0,
                    &["id int pk, C int, col varchar(5)"],
                ),
                "error 11128 add columns with different field lengths [] [] r=1",
            ),
            // A drop written `C`, re-added as `c`.
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar DROP COLUMN C"],
                    "id int pk, C int, Col varchar(4)",
                    &["id int pk, Col varchar(4)"],
                ),
                "none [] [C] r=2 drop=[C]",
            ),
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar ADD COLUMN c INT"],
                    "id int pk, Col varchar(4)",
                    &["id int pk, Col varchar(4), c int"],
                ),
                "error 11128 add column c that wasn't fully dropped in downstream [] [] r=2",
            ),
            (
                sync(
                    "t2",
                    &["ALTER TABLE bar DROP COLUMN c"],
                    ti0,
                    &["id int pk"],
                ),
                "none [0] [c] r=1 drop=[C]",
            ),
            (Columns, "C{t1:0 t2:0}"),
            (
                OpDone("t2", vec!["ALTER TABLE bar DROP COLUMN c"], vec!["c"]),
                "put=[C@t2=2] delete=[]",
            ),
            (OpDone("t1", vec![], vec!["C"]), "put=[C@t1=1] delete=[C]"),
        ],
    );
}

/// DM gap O17 and malformed Infos: an error answer, no change.
#[test]
fn unreadable_infos() {
    let ti0 = "id int pk";
    let mut no_before = info("t1", &[ADD_C1], ti0, &["id int pk, c1 int"]);
    no_before.table_info_before = None;
    let mut null_after = info("t1", &[ADD_C1], ti0, &[ti0]);
    null_after.table_info_after = Some(vec![crate::optimism::TableInfoJson::null()]);
    let mut bad_before = info("t1", &[ADD_C1], ti0, &[ti0]);
    bad_before.table_info_before = Some(serde_json::json!({"cols": "not a list"}).into());
    let mut no_ddls = info("t1", &[], ti0, &[]);
    no_ddls.ddls = None;
    no_ddls.table_info_after = None;
    check(
        ti0,
        T2,
        vec![
            (Sync(no_before), "error 38055 [] [] r=0"),
            (Sync(null_after), "error 42501 [] [] r=0"),
            (Sync(bad_before), "error 42501 [] [] r=0"),
            (Sync(no_ddls), "error 38054 [] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
    let e = OptimismError::TableInfoBeforeNotExist {
        ddls: vec!["a b".to_owned(), "c".to_owned()],
    };
    assert_eq!(
        e.dm_string(),
        "[code=38055:class=dm-master:scope=internal:level=high], Message: table-info-before not exist in optimistic ddls: [a b c]"
    );
}

/// Failed effects: the redirect txn (the resolution is undone, the caller
/// gets DM's `detected`), and the dropped-column records (stage `error`
/// with the write's text; DDLs kept; caller reset).
#[test]
fn failed_effects() {
    let rename = ["ALTER TABLE bar RENAME COLUMN c1 TO c2"];
    let (ti0, ti1) = ("id int pk, c1 int", "id int pk, c2 int");
    let mixed = [
        "ALTER TABLE bar ADD COLUMN c3 INT",
        "ALTER TABLE bar DROP COLUMN c2",
    ];
    check(
        ti0,
        T2,
        vec![
            (sync("t1", &rename, ti0, &[ti1]), "skip [] [] r=2"),
            (
                sync("t2", &rename, ti0, &[ti1]),
                "none [0] [] r=0 redirect=[t1]",
            ),
            (FailRedirects, "detected [] [] r=2"),
            (Ready, "-t1 -t2"),
            (
                sync("t2", &rename, ti0, &[ti1]),
                "none [0] [] r=0 redirect=[t1]",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
            (
                sync(
                    "t1",
                    &mixed,
                    ti1,
                    &["id int pk, c2 int, c3 int", "id int pk, c3 int"],
                ),
                "none [0] [c2] r=2 drop=[c2]",
            ),
            (FailDropped, "error 42501 [0] [c2] r=0 etcd is down"),
            (Columns, "none"),
            (CmpTables("t1", "t2"), "0"),
        ],
    );
}

/// ignore-conflict Infos force the caller's schema on any error.
#[test]
fn ignore_conflict_forces_schema() {
    let ti0 = "id int pk";
    check(
        ti0,
        T2,
        vec![
            (
                sync("t1", &[ADD_TEXT_C1], ti0, &[TEXT_C1]),
                "none [0] [] r=1",
            ),
            (
                Ignore(info("t2", &[""], DATETIME_C1, &[DATETIME_C1])),
                "detected [] [] r=2",
            ),
            (CmpTables("t1", "t2"), "err"),
            (
                Ignore(info("t2", &[""], TEXT_C1, &[TEXT_C1])),
                "error 11128 fail to parse ddl  [] [] r=0",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}
