//! DM's cases for a lock's table set and column records: removing tables,
//! marking tables done, columns added with other lengths or before every
//! dropper finished, and indexes that differ between tables.

use super::*;

/// DM `TestTryRemoveTable`: the joined schema follows the remaining tables.
#[test]
fn try_remove_table() {
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, c2 int";
    check(
        ti0,
        T2,
        vec![
            (sync("t1", &[ADD_C1], ti0, &[ti1]), "none [0] [] r=1"),
            (Ready, "+t1 -t2"),
            (
                SetColumns(vec![("col", "t2", DropColumnStage::NotDone)]),
                "",
            ),
            (Remove("t2"), "[col]"),
            (Ready, "+t1"),
            (Columns, "none"),
            // The table comes back with a newer schema, then leaves again.
            (
                sync("t2", &["ALTER TABLE bar ADD COLUMN c2 INT"], ti1, &[ti2]),
                "none [0] [] r=1",
            ),
            (Ready, "-t1 +t2"),
            (Remove("t2"), "[]"),
            (Ready, "+t1"),
            (Remove("not-exist"), "[]"),
            (Remove("s1.not-exist.t1"), "[]"),
            (Remove("not-exist.db.t1"), "[]"),
        ],
    );
}

/// DM `TestTryRemoveTableWithSources`.
#[test]
fn try_remove_table_by_sources() {
    let drop_c1 = ["ALTER TABLE bar DROP COLUMN c1"];
    let ti0 = "id int pk, c1 int";
    let ti1 = "id int pk";
    let tables = ["s1.db.t1", "s1.db.t2", "s2.db.t1", "s2.db.t2"];
    check(
        ti0,
        &tables,
        vec![
            (
                sync("t1", &drop_c1, ti0, &[ti1]),
                "none [] [c1] r=1 drop=[c1]",
            ),
            (Ready, "-t1 +t2 +s2.db.t1 +s2.db.t2"),
            (RemoveSources(vec![]), "[] has_tables=true"),
            (Tts(vec!["s1.db.t1", "s1.db.t2"]), ""),
            (RemoveSources(vec!["hahaha"]), "[] has_tables=true"),
            (RemoveSources(vec!["s2"]), "[] has_tables=true"),
            (Ready, "-t1 +t2"),
            (
                sync("t2", &drop_c1, ti0, &[ti1]),
                "none [0] [c1] r=0 drop=[c1]",
            ),
            (Ready, "+t1 +t2"),
            (RemoveSources(vec!["s1"]), "[c1] has_tables=false"),
            (Columns, "none"),
        ],
    );
}

/// DM `TestLockTryMarkDone`: done flags, their revert by a new DDL, and
/// resolution.
#[test]
fn try_mark_done() {
    let add_c2 = "ALTER TABLE bar ADD COLUMN c2 INT";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, c2 int";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false"),
            (sync("t1", &[ADD_C1], ti0, &[ti1]), "none [0] [] r=1"),
            (Status, "unsynced r=1 done=0 resolved=false"),
            (MarkDone("t1"), "true"),
            (IsDone("t1"), "true"),
            (IsDone("t2"), "false"),
            (
                sync("t2", &[ADD_C1, add_c2], ti0, &[ti1, ti2]),
                "none [0 1] [] r=1",
            ),
            (IsDone("t1"), "true"),
            (MarkDone("t2"), "true"),
            // Both done, but with different schemas.
            (Status, "unsynced r=1 done=2 resolved=false"),
            (sync("t1", &[add_c2], ti1, &[ti2]), "none [0] [] r=0"),
            (IsDone("t1"), "false"),
            (IsDone("t2"), "true"),
            (Status, "synced r=0 done=1 resolved=false"),
            (MarkDone("t1"), "true"),
            (Status, "synced r=0 done=2 resolved=true"),
            (MarkDone("not-exist"), "false"),
            (MarkDone("s1.not-exist.t1"), "false"),
            (MarkDone("not-exist.db.t1"), "false"),
            (IsDone("not-exist"), "false"),
        ],
    );
}

/// DM `TestAddDifferentFieldLenColumns` (behaviour table: `ADD c1
/// VARCHAR(4)` then `VARCHAR(5)`, and the reverse).
#[test]
fn add_different_field_len_columns_cases() {
    let add4 = "ALTER TABLE bar ADD COLUMN c1 VARCHAR(4)";
    let add5 = "ALTER TABLE bar ADD COLUMN c1 VARCHAR(5)";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 varchar(4)";
    let ti2 = "id int pk, c1 varchar(5)";
    let direct = |ddl, a, b| match add_different_field_len_columns(ID, ddl, &enc(a), &enc(b)) {
        Ok(c) => format!("ok {c}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(direct(add4, ti0, ti1), "ok c1");
    let wider = "fail to resolve adding not fully dropped columns for optimistic shard ddl lock task-`foo`.`bar`: add columns with different field lengths. ddl: ALTER TABLE bar ADD COLUMN c1 VARCHAR(5), origLen: 4, newLen: 5";
    assert_eq!(direct(add5, ti1, ti2), wider);
    assert!(direct(add4, ti2, ti1).contains("origLen: 5, newLen: 4"));

    let flen = "error 11128 add columns with different field lengths";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false".to_owned()),
            (
                sync("t1", &[add4], ti0, &[ti1]),
                "none [0] [] r=1".to_owned(),
            ),
            (
                sync("t2", &[add5], ti0, &[ti2]),
                format!("{flen} [] [] r=1"),
            ),
            // Narrower after wider.
            (NewLock(ti0, T2.to_vec()), String::new()),
            (
                sync("t2", &[add5], ti0, &[ti2]),
                "none [0] [] r=1".to_owned(),
            ),
            (
                sync("t1", &[add4], ti0, &[ti1]),
                format!("{flen} [] [] r=1"),
            ),
        ],
    );
}

/// DM `TestAddNotFullyDroppedColumns` (behaviour table: re-adding a
/// column before every dropper finished; `[DROP c, ADD c]` in one Info).
#[test]
fn add_not_fully_dropped_columns() {
    let drop_c = "ALTER TABLE bar DROP COLUMN c";
    let drop_b = "ALTER TABLE bar DROP COLUMN b";
    let add_b = "ALTER TABLE bar ADD COLUMN b INT";
    let add_c = "ALTER TABLE bar ADD COLUMN c INT";
    let ti0 = "id int pk, b int, c int";
    let ti1 = "id int pk, b int";
    let ti2 = "id int pk";
    let ti3 = "id int pk, c int";
    assert_eq!(
        get_column_name(ID, drop_c, ColumnKind::DropColumn),
        Ok("c".to_owned())
    );
    assert_eq!(
        get_column_name(ID, drop_b, ColumnKind::DropColumn),
        Ok("b".to_owned())
    );
    let not_dropped = "error 11128 add column c that wasn't fully dropped in downstream";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false".to_owned()),
            (
                sync("t1", &[drop_c], ti0, &[ti1]),
                "none [] [c] r=1 drop=[c]".to_owned(),
            ),
            (
                sync("t1", &[drop_b], ti1, &[ti2]),
                "none [] [b] r=1 drop=[b]".to_owned(),
            ),
            (Columns, "b{t1:0} c{t1:0}".to_owned()),
            (
                sync("t2", &[drop_b], ti0, &[ti3]),
                "none [0] [b] r=1 drop=[b]".to_owned(),
            ),
            (
                OpDone("t2", vec![drop_b], vec!["b"]),
                "put=[b@t2=2] delete=[]".to_owned(),
            ),
            (Columns, "b{t1:0 t2:2} c{t1:0}".to_owned()),
            (
                OpDone("t1", vec![], vec!["b"]),
                "put=[b@t1=1] delete=[b]".to_owned(),
            ),
            (Columns, "c{t1:0}".to_owned()),
            // b is fully dropped: re-adding it is fine; c is not.
            (
                sync("t1", &[add_b], ti2, &[ti1]),
                "none [0] [] r=2".to_owned(),
            ),
            (
                sync("t1", &[add_c], ti1, &[ti0]),
                format!("{not_dropped} [] [] r=2"),
            ),
            (
                sync("t2", &[drop_c], ti3, &[ti2]),
                "none [0] [c] r=1 drop=[c]".to_owned(),
            ),
            (
                OpDone("t2", vec![drop_c], vec!["c"]),
                "put=[c@t2=2] delete=[]".to_owned(),
            ),
            // t2's before-schema is trusted, and kept on the error.
            (
                sync("t2", &[add_c], ti1, &[ti0]),
                format!("{not_dropped} [] [] r=0"),
            ),
            (
                OpDone("t1", vec![], vec!["c"]),
                "put=[c@t1=1] delete=[c]".to_owned(),
            ),
            (
                sync("t1", &[add_c], ti1, &[ti0]),
                "none [0] [] r=1".to_owned(),
            ),
            (
                sync("t1", &[drop_c, add_c], ti0, &[ti1, ti0]),
                format!("{not_dropped} [] [] r=1"),
            ),
            (Status, "unsynced r=1 done=0 resolved=false".to_owned()),
        ],
    );
}

/// DM `TestLockTrySyncDifferentIndex`: DROP INDEX on one table, ADD
/// another INDEX on both.
#[test]
fn try_sync_different_index() {
    let ti0 = "id int pk, c1 int, unique idx_c1(c1)";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, index new_idx(c1)";
    let add = ["ALTER TABLE bar ADD INDEX new_idx(c1)"];
    check(
        ti0,
        T2,
        vec![
            (
                sync("t1", &["ALTER TABLE bar DROP INDEX idx_c1"], ti0, &[ti1]),
                "none [0] [] r=1",
            ),
            (CmpTables("t2", "t2"), "0"),
            (sync("t2", &add, ti1, &[ti2]), "none [] [] r=1"),
            (CmpJoined("t1"), "0"),
            (sync("t1", &add, ti1, &[ti2]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}
