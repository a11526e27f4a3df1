//! DM's tests of a lock's internals, driven through [`check_internal`]: the
//! one-DDL conflict sequence, the conflict predicates, ADD / DROP checks and
//! column names.

use super::*;

/// Steps on a lock's private state, for DM's tests of its internals.
/// Schemas are named (`T0`, `T1`, ...) in a table given to
/// [`check_internal`].
enum In {
    /// Set a table's normal schema only.
    Normal(&'static str, &'static str),
    /// Park a conflicting schema (conflict and final view).
    Conflict(&'static str, &'static str),
    /// Set a table's final schema only.
    Final(&'static str, &'static str),
    Unconflict(&'static str),
    /// DM's `resolveTables`: every final schema becomes normal; renders
    /// each table's schema name.
    DmResolve,
    /// `all_smaller` and `all_larger` over the conflict and the final view,
    /// as four digits.
    Preds,
    /// `no_conflict_with_one_normal_table(table, prev, post)`.
    OneNormal(&'static str, &'static str, &'static str),
    /// `check_add_drop_column(table, ddl, prev, post, [])`.
    AddDrop(&'static str, &'static str, &'static str, &'static str),
    /// `try_sync_for_one_ddl(table, prev, post)`.
    OneDdl(&'static str, &'static str, &'static str),
    SetColumns(Vec<(&'static str, &'static str, DropColumnStage)>),
}

fn check_internal(schemas: &[(&str, &str)], tables: &[&str], steps: Vec<(In, &str)>) {
    let named: BTreeMap<&str, Table> = schemas.iter().map(|(n, s)| (*n, enc(s))).collect();
    let schema = |n: &str| named.get(n).cloned().expect("named schema");
    let name_of = |t: &Table| {
        named
            .iter()
            .find(|(_, s)| *s == t)
            .map_or("?".to_owned(), |(n, _)| (*n).to_owned())
    };
    let mut l = new_lock(schemas[0].1, tables);
    for (i, (step, want)) in steps.into_iter().enumerate() {
        let got = match step {
            In::Normal(t, s) => {
                l.tables.insert(key(t), schema(s));
                String::new()
            }
            In::Conflict(t, s) => {
                l.conflict_tables.insert(key(t), schema(s));
                l.final_tables.insert(key(t), schema(s));
                String::new()
            }
            In::Final(t, s) => {
                l.final_tables.insert(key(t), schema(s));
                String::new()
            }
            In::Unconflict(t) => {
                l.conflict_tables.remove(&key(t));
                String::new()
            }
            In::DmResolve => {
                l.conflict_tables = JoinTree::new();
                let finals: Vec<(TableKey, Table)> = l
                    .final_tables
                    .iter()
                    .map(|(k, t)| (k.clone(), t.clone()))
                    .collect();
                for (k, t) in finals {
                    l.tables.insert(k, t);
                }
                l.tables
                    .iter()
                    .map(|(k, t)| format!("{}:{}", short(k), name_of(t)))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            In::Preds => {
                let bit = |b: bool| if b { '1' } else { '0' };
                [
                    l.all_smaller(l.conflict_tables.joined()),
                    l.all_larger(&l.conflict_tables),
                    l.all_smaller(l.final_tables.joined()),
                    l.all_larger(&l.final_tables),
                ]
                .map(bit)
                .iter()
                .collect()
            }
            In::OneNormal(t, prev, post) => l
                .no_conflict_with_one_normal_table(&key(t), &schema(prev), &schema(post))
                .to_string(),
            In::AddDrop(t, ddl, prev, post) => {
                match l.check_add_drop_column(&key(t), ddl, &schema(prev), &schema(post), &[]) {
                    Ok(col) => format!("ok {col}"),
                    Err(e) => stage(Some(&e)),
                }
            }
            In::OneDdl(t, prev, post) => {
                let mut run = Run::default();
                let (changed, stage) = l.try_sync_for_one_ddl(
                    &key(t),
                    &schema(prev),
                    &schema(post),
                    "ddl",
                    0,
                    &mut run,
                );
                let mut out = format!("({changed}, {stage:?})");
                if !run.redirects.is_empty() {
                    let r: Vec<TableKey> = run.redirects.into_iter().collect();
                    out.push_str(&format!(" redirect={}", keys(&r)));
                }
                out
            }
            In::SetColumns(entries) => {
                let mut cols = DroppedColumns::new();
                for (c, t, s) in entries {
                    cols.entry(c.to_owned()).or_default().insert(key(t), s);
                }
                l.set_columns(cols);
                String::new()
            }
        };
        assert_eq!(got, want, "step {i}");
    }
}

/// DM `TestTrySyncForOneDDL`, the 13-step conflict sequence of
/// docs/protocol.md#try-sync (with DM's extra replay of step 2).
#[test]
fn try_sync_for_one_ddl_sequence() {
    let schemas = [
        ("T0", "id int pk, col1 int"),
        ("T1", "id int pk, col1 int, col2 int"),
        ("T2", "id int pk"),
        ("T3", "id int pk, col1 int, col3 int"),
        ("T4", "id int pk, col2 int"),
        ("T5", "id int pk, col3 int"),
        ("T6", "id int pk, col3 varchar(4)"),
        ("T8", "id int pk, col3 varchar(4), col4 int notnull"),
        ("T9", "id int pk, col2 varchar(4), col4 int notnull"),
        ("T10", "id int pk, col3 int, col4 int notnull"),
    ];
    check_internal(
        &schemas,
        T2,
        vec![
            // 1. CREATE TABLE: same schema.
            (In::OneDdl("t1", "T0", "T0"), "(true, None)"),
            // 2. ADD COLUMN, and a replay (no-op DDLs such as partitions).
            (In::OneDdl("t1", "T0", "T1"), "(true, None)"),
            (In::OneDdl("t1", "T0", "T1"), "(true, None)"),
            // 3. DROP COLUMN on the other table.
            (In::OneDdl("t2", "T0", "T2"), "(false, None)"),
            // 4. RENAME col2 TO col3: must wait.
            (In::OneDdl("t1", "T1", "T3"), "(false, SkipWaitRedirect)"),
            // 5. The other table adds col2.
            (In::OneDdl("t2", "T2", "T4"), "(true, None)"),
            // 6. ... and renames it too: resolved, t1 redirected.
            (In::OneDdl("t2", "T4", "T5"), "(true, None) redirect=[t1]"),
            // 7. MODIFY col3 INT → VARCHAR(4): must wait.
            (In::OneDdl("t2", "T5", "T6"), "(false, SkipWaitRedirect)"),
            // 8. The other table drops col1.
            (In::OneDdl("t1", "T3", "T5"), "(true, None)"),
            // 9. ... and modifies col3 too: resolved, t2 redirected.
            (In::OneDdl("t1", "T5", "T6"), "(true, None) redirect=[t2]"),
            // 10. ADD col4 NOT NULL without default, and a replay.
            (In::OneDdl("t1", "T6", "T8"), "(false, SkipWaitRedirect)"),
            (In::OneDdl("t1", "T6", "T8"), "(false, SkipWaitRedirect)"),
            // 11. The same on the other table: resolved; its replay is
            // idempotent.
            (In::OneDdl("t2", "T6", "T8"), "(true, None) redirect=[t1]"),
            (In::OneDdl("t2", "T6", "T8"), "(true, None)"),
            // 12. RENAME col3 TO col2: must wait.
            (In::OneDdl("t1", "T8", "T9"), "(false, SkipWaitRedirect)"),
            // 13. MODIFY col3 back to INT: two incompatible pending conflicts.
            (In::OneDdl("t2", "T8", "T10"), "(false, Detected)"),
        ],
    );
}

const PREDICATE_SCHEMAS: [(&str, &str); 10] = [
    ("T0", "id int pk, col int"),
    ("T1", "id int pk, new_col int"),
    ("T2", "id int pk, new_col varchar(4)"),
    ("T3", "a int pk, new_col varchar(4)"),
    ("T4", "id int pk, new_col2 varchar(4)"),
    ("T5", "id varchar(4) pk, new_col int"),
    ("T6", "id int pk, col int, new_col int"),
    ("T7", "id int pk, col int, new_col varchar(4)"),
    ("T8", "id int pk, col int, col2 int notnull"),
    ("T9", "a int pk, new_col int"),
];

/// DM `TestAllTableSmallerLarger`: the conflict predicates, digits
/// `all_smaller(conflict) all_larger(conflict) all_smaller(final)
/// all_larger(final)`.
#[test]
fn all_table_smaller_larger() {
    use In::*;
    check_internal(
        &PREDICATE_SCHEMAS,
        T2,
        vec![
            (Preds, "1111"),
            // rename
            (Conflict("t1", "T1"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T1"), ""),
            (Preds, "1111"),
            (DmResolve, "t1:T1 t2:T1"),
            // modify
            (Conflict("t1", "T2"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T2"), ""),
            (Preds, "1111"),
            (DmResolve, "t1:T2 t2:T2"),
            // different renames
            (Conflict("t1", "T3"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T4"), ""),
            (Preds, "0000"),
            (Final("t1", "T1"), ""),
            (Final("t2", "T1"), ""),
            (DmResolve, "t1:T1 t2:T1"),
            // different modifications
            (Conflict("t1", "T2"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T5"), ""),
            (Preds, "0000"),
            (Final("t1", "T1"), ""),
            (Final("t2", "T1"), ""),
            (DmResolve, "t1:T1 t2:T1"),
            // one rename, one modification
            (Conflict("t1", "T4"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T5"), ""),
            (Preds, "0000"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // one rename, one add and drop
            (Conflict("t1", "T1"), ""),
            (Preds, "1100"),
            (Final("t2", "T6"), ""),
            (Preds, "1101"),
            (Final("t2", "T1"), ""),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // one modification, one add and drop
            (Conflict("t1", "T2"), ""),
            (Preds, "1100"),
            (Final("t2", "T7"), ""),
            (Preds, "1101"),
            (Final("t2", "T2"), ""),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // NOT NULL without default
            (Conflict("t1", "T8"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T8"), ""),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // several renames
            (Conflict("t1", "T1"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T1"), ""),
            (Preds, "1111"),
            (DmResolve, "t1:T1 t2:T1"),
            (Conflict("t1", "T9"), ""),
            (OneNormal("t1", "T1", "T9"), "false"),
            (Preds, "1100"),
            (Normal("t2", "T0"), ""),
            (Conflict("t2", "T1"), ""),
            (OneNormal("t2", "T0", "T1"), "true"),
            (Unconflict("t2"), ""),
            (Normal("t2", "T1"), ""),
            (Conflict("t2", "T9"), ""),
            (OneNormal("t2", "T1", "T9"), "false"),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
        ],
    );
}

/// DM `TestNoConflictWithOneNormalTable`.
#[test]
fn no_conflict_with_one_normal_table_cases() {
    use In::*;
    let schemas = [
        ("T0", "id int pk, a int, col int"),
        ("T1", "id int pk, a int, new_col int"),
        ("T2", "id int pk, a int, col varchar(4)"),
        ("T3", "id int pk, a int, new_col2 int"),
        ("T4", "id int pk, b int, new_col int"),
    ];
    check_internal(
        &schemas,
        T2,
        vec![
            (OneNormal("t2", "T0", "T1"), "false"),
            // t1 renamed the column already.
            (Normal("t1", "T1"), ""),
            (OneNormal("t2", "T0", "T1"), "true"),
            (OneNormal("t2", "T0", "T2"), "false"),
            (OneNormal("t2", "T0", "T3"), "false"),
            // t1 also renamed another column: same answers.
            (Normal("t1", "T4"), ""),
            (OneNormal("t2", "T0", "T1"), "true"),
            (OneNormal("t2", "T0", "T2"), "false"),
            (OneNormal("t2", "T0", "T3"), "false"),
        ],
    );
}

/// DM `TestCheckAddDropColumns`.
#[test]
fn check_add_drop_columns() {
    use In::*;
    let schemas = [
        ("T0", "id int pk, col int"),
        ("T1", "id int pk, col int, a varchar(1)"),
        ("T2", "id int pk, col int, a varchar(2)"),
        ("T3", "id int pk, a varchar(2)"),
    ];
    check_internal(
        &schemas,
        T2,
        vec![
            (Normal("t1", "T0"), ""),
            (Normal("t2", "T1"), ""),
            (
                AddDrop("t1", "ALTER TABLE bar ADD COLUMN a VARCHAR(1)", "T0", "T1"),
                "ok ",
            ),
            (Normal("t1", "T1"), ""),
            (
                AddDrop("t2", "ALTER TABLE bar ADD COLUMN a VARCHAR(2)", "T0", "T2"),
                "error 11128 add columns with different field lengths",
            ),
            (
                AddDrop("t1", "ALTER TABLE bar DROP COLUMN col", "T2", "T3"),
                "ok col",
            ),
            (
                SetColumns(vec![("col", "t1", DropColumnStage::NotDone)]),
                "",
            ),
            (
                AddDrop("t1", "ALTER TABLE bar ADD COLUMN col int", "T3", "T2"),
                "error 11128 add column col that wasn't fully dropped in downstream",
            ),
        ],
    );
}

/// `get_column_name`: the first spec only, names as written, sqlparser's
/// gaps filled by the token reader, and DM's parse error otherwise.
#[test]
fn column_names() {
    use ColumnKind::{AddColumns as Add, DropColumn as Drop};
    let cases: &[(&str, ColumnKind, &str)] = &[
        ("ALTER TABLE bar ADD COLUMN c1 INT", Add, "c1"),
        ("ALTER TABLE bar ADD c1 INT", Add, "c1"),
        (
            "ALTER TABLE `db`.`bar` ADD COLUMN `C1` INT NOT NULL DEFAULT 1",
            Add,
            "C1",
        ),
        ("ALTER TABLE bar ADD COLUMN c1 INT", Drop, ""),
        ("ALTER TABLE bar DROP COLUMN c1", Drop, "c1"),
        ("ALTER TABLE bar DROP c1", Drop, "c1"),
        ("ALTER TABLE bar DROP COLUMN c1", Add, ""),
        ("ALTER TABLE bar DROP INDEX idx_c1", Drop, ""),
        ("ALTER TABLE bar ADD UNIQUE INDEX idx_c1(c1)", Add, ""),
        ("ALTER TABLE bar MODIFY COLUMN c1 BIGINT", Add, ""),
        // DM gap O15: only the first spec counts.
        (
            "ALTER TABLE bar ADD COLUMN c1 INT, DROP COLUMN c2",
            Drop,
            "",
        ),
        (
            "ALTER TABLE bar DROP COLUMN c2, ADD COLUMN c1 INT",
            Drop,
            "c2",
        ),
        ("CREATE TABLE bar (id INT)", Add, ""),
        ("CREATE INDEX idx ON bar (c1)", Drop, ""),
        // TiDB syntax sqlparser may not know.
        ("ALTER TABLE bar ADD COLUMN IF NOT EXISTS c1 INT", Add, "c1"),
        ("ALTER TABLE bar ADD COLUMN (c1 INT, c2 INT)", Add, "c1"),
        ("ALTER TABLE bar DROP COLUMN IF EXISTS c1", Drop, "c1"),
        ("ALTER TABLE bar SET TIFLASH REPLICA 1", Drop, ""),
        (
            "ALTER TABLE bar ADD COLUMN c1 BIGINT AUTO_RANDOM(5) PRIMARY KEY",
            Add,
            "c1",
        ),
        (
            "ALTER TABLE bar ADD INDEX idx ((lower(c1))) INVISIBLE",
            Add,
            "",
        ),
    ];
    for (ddl, kind, want) in cases {
        assert_eq!(
            get_column_name(ID, ddl, *kind).as_deref(),
            Ok(*want),
            "{ddl}"
        );
    }
    for ddl in [
        "this is not sql",
        "",
        "ALTER TABLE bar ADD COLUMN",
        "ALTER TABLE bar ADD COLUMN `c1",
    ] {
        let e = get_column_name(ID, ddl, ColumnKind::AddColumns).expect_err(ddl);
        let text = e.dm_string();
        let head = format!(
            "[code=11128:class=functional:scope=internal:level=medium], Message: fail to resolve adding not fully dropped columns for optimistic shard ddl lock {ID}: fail to parse ddl {ddl}, RawCause: "
        );
        assert!(text.starts_with(&head), "{text}");
        assert!(
            text.ends_with(", Workaround: Please use `binlog skip` command to skip this error.")
        );
        assert_eq!(e.stage(), ConflictStage::Error);
    }
}

/// `get_column_name` remembers the last DDLs it read: asking again, for
/// either kind, gives the same column; a remembered parse error names the
/// lock that asks; a DDL too long to remember is still read.
#[test]
fn column_names_read_again_are_the_same() {
    use ColumnKind::{AddColumns as Add, DropColumn as Drop};
    let drop_ddl = "ALTER TABLE bar DROP COLUMN c2, ADD COLUMN c1 INT";
    for _ in 0..3 {
        assert_eq!(get_column_name(ID, drop_ddl, Drop).as_deref(), Ok("c2"));
        assert_eq!(get_column_name(ID, drop_ddl, Add).as_deref(), Ok(""));
    }
    for lock_id in ["t-`a`.`b`", "u-`c`.`d`", "t-`a`.`b`"] {
        let e = get_column_name(lock_id, "ALTER TABLE bar ADD COLUMN", Add).unwrap_err();
        assert!(
            e.dm_string()
                .contains(&format!("shard ddl lock {lock_id}: fail to parse ddl")),
            "{}",
            e.dm_string()
        );
    }
    let long_default = "x".repeat(5000);
    let long = format!("ALTER TABLE bar ADD COLUMN c9 VARCHAR(10) DEFAULT '{long_default}'");
    for _ in 0..2 {
        assert_eq!(get_column_name(ID, &long, Add).as_deref(), Ok("c9"));
    }
}
