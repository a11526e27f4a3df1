//! Replayed statements, errors that name the statement, and odd input that
//! must never panic.

use super::*;

#[test]
fn replayed_statements_change_nothing_but_are_still_sent() {
    let ddls = [
        "CREATE TABLE t (a INT, KEY k (a))",
        "ALTER TABLE t ADD COLUMN b INT",
        "ALTER TABLE t ADD INDEX k (b)",
        "ALTER TABLE t ADD PRIMARY KEY (a)",
    ];
    let mut tracker = tracker_after(&ddls);
    let settled = tracker.table(&t()).cloned();
    for ddl in ddls.iter().chain(&[
        "ALTER TABLE t DROP COLUMN zz",
        "ALTER TABLE t DROP INDEX zz",
        "DROP TABLE nope",
    ]) {
        let done = tracker
            .apply(DB, ddl, &SameName)
            .unwrap_or_else(|e| panic!("{ddl}: {e}"));
        assert_eq!(done.statements.len(), 1, "{ddl}");
        assert_eq!(tracker.table(&t()).cloned(), settled, "{ddl}");
    }
}

#[test]
fn errors_name_the_statement() {
    let cases: &[(&str, &str)] = &[
        (
            "ALTER TABLE t ADD COLUMN",
            "cannot parse DDL `ALTER TABLE t ADD COLUMN`",
        ),
        ("CREATE TABLE (", "cannot parse DDL `CREATE TABLE (`"),
        (
            "ALTER TABLE nope ADD b INT",
            "refers to table `db`.`nope`, which is not tracked",
        ),
        ("ALTER TABLE t MODIFY zz INT", "unknown column `zz`"),
        ("ALTER TABLE t CHANGE a b INT", "duplicate column name `b`"),
        (
            "ALTER TABLE t ADD c INT AFTER zz",
            "unknown column `zz` in AFTER",
        ),
        (
            "ALTER TABLE t ADD INDEX i (zz)",
            "key column `zz` doesn't exist",
        ),
        (
            "ALTER TABLE t ADD INDEX i ((a + 1))",
            "expression index part",
        ),
        ("ALTER TABLE t RENAME TO u", "table `db`.`u` already exists"),
        ("CREATE TABLE x SELECT * FROM t", "CREATE TABLE ... SELECT"),
        ("CREATE TEMPORARY TABLE x (a INT)", "temporary tables"),
        ("SELECT 1", "not supported by the schema tracker"),
        (
            "CREATE VIEW v AS SELECT 1",
            "not supported by the schema tracker",
        ),
        (
            "ALTER TABLE t DROP COLUMN a, DROP COLUMN b",
            "can't drop only column",
        ),
        ("CREATE TABLE x (a INT, a INT)", "duplicate column name `a`"),
        (
            "CREATE TABLE x (a INT PRIMARY KEY, PRIMARY KEY (a))",
            "multiple primary keys",
        ),
    ];
    for (ddl, needle) in cases {
        let mut tracker =
            tracker_after(&["CREATE TABLE t (a INT, b INT)", "CREATE TABLE u (a INT)"]);
        let before: Vec<_> = tracker
            .tables()
            .map(|(n, ti)| (n.clone(), ti.clone()))
            .collect();
        let err = tracker
            .apply(DB, ddl, &SameName)
            .expect_err(ddl)
            .to_string();
        assert!(err.contains(needle), "{ddl}: {err}");
        assert!(
            err.contains(ddl.split_whitespace().next().unwrap_or("")),
            "{ddl}: {err}"
        );
        // Atomic: nothing changed, not even by the operations before the
        // failing one.
        let after: Vec<_> = tracker
            .tables()
            .map(|(n, ti)| (n.clone(), ti.clone()))
            .collect();
        assert_eq!(before, after, "{ddl}");
    }
}

#[test]
fn unqualified_names_need_a_current_schema() {
    let mut tracker = Tracker::new();
    let err = tracker
        .apply("", "CREATE TABLE t (a INT)", &SameName)
        .expect_err("no schema");
    assert!(err.to_string().contains("no current database"), "{err}");
}

#[test]
fn odd_input_never_panics() {
    let inputs = [
        "",
        ";",
        ";;",
        "ALTER",
        "ALTER TABLE",
        "ALTER TABLE t",
        "ALTER TABLE t,",
        "ALTER TABLE t ADD (",
        "ALTER TABLE t ADD COLUMN (a INT",
        "ALTER TABLE t RENAME",
        "ALTER TABLE t RENAME INDEX",
        "ALTER TABLE t ALTER INDEX",
        "ALTER TABLE t CONVERT",
        "ALTER TABLE t CONVERT TO",
        "ALTER DATABASE",
        "CREATE DATABASE",
        "DROP DATABASE",
        "CREATE TABLE t (a INT) PARTITION",
        "CREATE FULLTEXT INDEX",
        "CREATE TABLE t (a ENUM)",
        "CREATE TABLE t (a INT DEFAULT)",
        "ALTER TABLE t ADD a INT DEFAULT b'12'",
        "ALTER TABLE t ADD a INT DEFAULT X'ZZ'",
        "/* only a comment */",
        "CREATE TABLE `t (a INT)",
        "CREATE TABLE t (a VARCHAR(3) DEFAULT 'x)",
        "ALTER TABLE a.b.c ADD x INT",
        "DROP TABLE",
        "RENAME TABLE a",
        "CREATE TABLE t (a INT(99999999999999999999))",
        "ALTER TABLE t ADD x DECIMAL(65,30) DEFAULT 1e400",
        "ALTER TABLE t ADD x BIT(64) DEFAULT 18446744073709551615",
        "ALTER TABLE t MODIFY a INT AFTER a",
        "ALTER TABLE t ADD x INT AFTER x",
        "ÄLTER TÄBLE ✓",
    ];
    for input in inputs {
        let mut tracker = tracker_after(&["CREATE TABLE t (a INT, b INT)"]);
        // Either outcome is fine; panicking is not.
        let _ = tracker.apply(DB, input, &SameName);
    }
}
