//! Table options, the forms `sqlparser` cannot parse, and how statements are
//! split, routed and rendered.

use super::*;

#[test]
fn table_options_update_charset_collation_and_comment() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("ALTER TABLE t ENGINE=InnoDB", U, UB, ""),
        (
            "ALTER TABLE t DEFAULT CHARSET=latin1",
            "latin1",
            "latin1_bin",
            "",
        ),
        ("ALTER TABLE t CHARSET latin1", "latin1", "latin1_bin", ""),
        (
            "ALTER TABLE t CHARACTER SET = utf8 COLLATE = utf8_general_ci",
            "utf8",
            "utf8_general_ci",
            "",
        ),
        (
            "ALTER TABLE t COLLATE utf8mb4_general_ci",
            U,
            "utf8mb4_general_ci",
            "",
        ),
        ("ALTER TABLE t COMMENT='hello'", U, UB, "hello"),
        (
            "ALTER TABLE t COMMENT 'x', ENGINE=InnoDB, ROW_FORMAT=COMPACT",
            U,
            UB,
            "x",
        ),
    ];
    for (ddl, charset, collate, comment) in cases {
        let ti = table_after(&["CREATE TABLE t (a VARCHAR(3))", ddl]);
        assert_eq!(
            (
                ti.charset.as_str(),
                ti.collate.as_str(),
                ti.comment.as_str()
            ),
            (*charset, *collate, *comment),
            "{ddl}"
        );
        // Without CONVERT the columns keep their charset.
        assert_eq!(column(&ti, "a").field_type.charset, U, "{ddl}");
    }
}

#[test]
fn convert_to_character_set_changes_string_columns() {
    let ti = table_after(&[
        "CREATE TABLE t (a VARCHAR(3), b INT, c VARBINARY(3), d ENUM('x'))",
        "ALTER TABLE t CONVERT TO CHARACTER SET latin1 COLLATE latin1_swedish_ci",
    ]);
    assert_eq!(
        (ti.charset.as_str(), ti.collate.as_str()),
        ("latin1", "latin1_swedish_ci")
    );
    for name in ["a", "d"] {
        let ft = &column(&ti, name).field_type;
        assert_eq!(
            (ft.charset.as_str(), ft.collate.as_str()),
            ("latin1", "latin1_swedish_ci")
        );
    }
    for name in ["b", "c"] {
        assert_eq!(column(&ti, name).field_type.charset, B);
    }
}

#[test]
fn sqlparser_gaps_are_handled() {
    // Each of these fails in sqlparser 0.63 on its own.
    let cases: &[(&str, &[&str])] = &[
        (
            "ALTER TABLE t RENAME t2",
            &["ALTER TABLE `db`.`t` RENAME TO `db`.`t2`"],
        ),
        (
            "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            &["ALTER TABLE `db`.`t` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"],
        ),
        (
            "ALTER TABLE t ENGINE=InnoDB",
            &["ALTER TABLE `db`.`t` ENGINE=InnoDB"],
        ),
        (
            "ALTER TABLE t DEFAULT CHARSET=utf8",
            &["ALTER TABLE `db`.`t` DEFAULT CHARSET=utf8"],
        ),
        (
            "ALTER TABLE t COMMENT='x'",
            &["ALTER TABLE `db`.`t` COMMENT='x'"],
        ),
        (
            "ALTER TABLE t ADD COLUMN z INT ZEROFILL",
            &["ALTER TABLE `db`.`t` ADD COLUMN `z` INT ZEROFILL"],
        ),
        (
            "ALTER TABLE t ADD COLUMN (y INT, z INT)",
            &[
                "ALTER TABLE `db`.`t` ADD COLUMN `y` INT",
                "ALTER TABLE `db`.`t` ADD COLUMN `z` INT",
            ],
        ),
        (
            "ALTER TABLE t ADD PARTITION (PARTITION p1 VALUES LESS THAN (10))",
            &["ALTER TABLE `db`.`t` ADD PARTITION (PARTITION p1 VALUES LESS THAN (10))"],
        ),
        (
            "ALTER TABLE t DROP PARTITION p1, TRUNCATE PARTITION p2",
            &[
                "ALTER TABLE `db`.`t` DROP PARTITION p1",
                "ALTER TABLE `db`.`t` TRUNCATE PARTITION p2",
            ],
        ),
        (
            "ALTER TABLE t DROP KEY k",
            &["ALTER TABLE `db`.`t` DROP INDEX `k`"],
        ),
        ("ALTER TABLE t FORCE", &["ALTER TABLE `db`.`t` FORCE"]),
        (
            "ALTER TABLE t ORDER BY a",
            &["ALTER TABLE `db`.`t` ORDER BY a"],
        ),
        (
            "ALTER DATABASE db CHARACTER SET utf8",
            &["ALTER DATABASE `db` CHARACTER SET utf8"],
        ),
        (
            "ALTER SCHEMA DEFAULT COLLATE latin1_bin",
            &["ALTER DATABASE `db` DEFAULT COLLATE latin1_bin"],
        ),
        (
            "ALTER TABLE t ADD COLUMN v VARCHAR(3) BINARY, ADD w INT COLUMN_FORMAT FIXED",
            &[
                "ALTER TABLE `db`.`t` ADD COLUMN `v` VARCHAR(3) BINARY",
                "ALTER TABLE `db`.`t` ADD `w` INT COLUMN_FORMAT FIXED",
            ],
        ),
        (
            "ALTER IGNORE TABLE t ADD x INT",
            &["ALTER TABLE `db`.`t` ADD `x` INT"],
        ),
    ];
    for (ddl, expected) in cases {
        let mut tracker = tracker_after(&["CREATE TABLE t (a INT, k INT, KEY k (k))"]);
        let done = tracker
            .apply(DB, ddl, &SameName)
            .unwrap_or_else(|e| panic!("{ddl}: {e}"));
        assert_eq!(done.ddls(), *expected, "{ddl}");
    }
}

#[test]
fn opaque_operations_change_nothing() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT)"]);
    let before = tracker.table(&t()).cloned();
    let done = apply(
        &mut tracker,
        "ALTER TABLE t ADD PARTITION (PARTITION p9 VALUES LESS THAN (99)), FORCE",
    );
    for s in &done.statements {
        assert_eq!(s.kind, StatementKind::PassThrough);
        assert_eq!(s.before, before);
        assert_eq!(s.after, before);
    }
}

#[test]
fn algorithm_and_lock_are_dropped_from_the_split() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT)"]);
    let done = apply(
        &mut tracker,
        "ALTER TABLE t ALGORITHM=INPLACE, ADD b INT, LOCK=NONE",
    );
    assert_eq!(done.ddls(), ["ALTER TABLE `db`.`t` ADD `b` INT"]);
    let done = apply(&mut tracker, "ALTER TABLE t ALGORITHM=COPY");
    assert!(done.is_empty());
}

#[test]
fn create_table_partition_and_options_are_kept() {
    let mut tracker = Tracker::new();
    let done = apply(&mut tracker, "CREATE TABLE t (id INT, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=latin1 PARTITION BY HASH(id) PARTITIONS 4");
    assert_eq!(
        done.ddls(),
        ["CREATE TABLE IF NOT EXISTS `db`.`t` (`id` INT, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 PARTITION BY HASH(id) PARTITIONS 4"]
    );
    assert_eq!(
        tracker.table(&t()).map(|ti| ti.charset.as_str()),
        Some("latin1")
    );
}

fn route(name: &TableName) -> TableName {
    let table = if name.table.is_empty() {
        String::new()
    } else {
        "t_all".to_owned()
    };
    TableName::new(format!("{}_down", name.schema), table)
}

#[test]
fn multi_spec_alter_is_split_and_routed() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT, b INT)"]);
    let done = tracker
        .apply(
            DB,
            "ALTER TABLE `t` ADD COLUMN c INT NOT NULL DEFAULT 1 COMMENT 'x' AFTER a, ADD INDEX idx(c), DROP COLUMN b, MODIFY a BIGINT, CHANGE c cc INT, RENAME COLUMN cc TO c3, ALTER COLUMN a SET DEFAULT 3, ADD UNIQUE KEY uk (a, c3(2)), ADD CONSTRAINT pk PRIMARY KEY (a)",
            &route,
        )
        .expect("apply");
    assert_eq!(
        done.ddls(),
        [
            "ALTER TABLE `db_down`.`t_all` ADD COLUMN `c` INT NOT NULL DEFAULT 1 COMMENT 'x' AFTER `a`",
            "ALTER TABLE `db_down`.`t_all` ADD INDEX `idx` (`c`)",
            "ALTER TABLE `db_down`.`t_all` DROP COLUMN `b`",
            "ALTER TABLE `db_down`.`t_all` MODIFY COLUMN `a` BIGINT",
            "ALTER TABLE `db_down`.`t_all` CHANGE COLUMN `c` `cc` INT",
            "ALTER TABLE `db_down`.`t_all` RENAME COLUMN `cc` TO `c3`",
            "ALTER TABLE `db_down`.`t_all` ALTER COLUMN `a` SET DEFAULT 3",
            "ALTER TABLE `db_down`.`t_all` ADD UNIQUE KEY `uk` (`a`, `c3`(2))",
            "ALTER TABLE `db_down`.`t_all` ADD CONSTRAINT `pk` PRIMARY KEY (`a`)",
        ]
    );
    assert_eq!(
        done.statements[0].upstream_sql,
        "ALTER TABLE `db`.`t` ADD COLUMN `c` INT NOT NULL DEFAULT 1 COMMENT 'x' AFTER `a`"
    );
    for s in &done.statements {
        assert_eq!(s.table.as_ref(), Some(&t()));
        assert_eq!(s.target.as_ref(), Some(&TableName::new("db_down", "t_all")));
    }
    // Each statement's before is the previous one's after.
    for pair in done.statements.windows(2) {
        assert_eq!(pair[0].after, pair[1].before);
    }
    let last = done
        .statements
        .last()
        .and_then(|s| s.after.clone())
        .expect("after");
    assert_eq!(tracker.table(&t()), Some(&last));
    assert_eq!(names(&last), ["a", "c3"]);
}

#[test]
fn other_statements_are_split_and_routed() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT)", "CREATE TABLE u (a INT)"]);
    let cases: &[(&str, &[&str])] = &[
        ("TRUNCATE TABLE t", &["TRUNCATE TABLE `db_down`.`t_all`"]),
        ("TRUNCATE t", &["TRUNCATE TABLE `db_down`.`t_all`"]),
        (
            "CREATE INDEX i ON t (a)",
            &["CREATE INDEX `i` ON `db_down`.`t_all`(`a`)"],
        ),
        (
            "DROP INDEX i ON t",
            &["DROP INDEX `i` ON `db_down`.`t_all`"],
        ),
        (
            "CREATE TABLE v LIKE t",
            &["CREATE TABLE IF NOT EXISTS `db_down`.`t_all` LIKE `db_down`.`t_all`"],
        ),
        (
            "RENAME TABLE v TO w, u TO x",
            &[
                "RENAME TABLE `db_down`.`t_all` TO `db_down`.`t_all`",
                "RENAME TABLE `db_down`.`t_all` TO `db_down`.`t_all`",
            ],
        ),
        (
            "DROP TABLE w, x, other.y",
            &[
                "DROP TABLE IF EXISTS `db_down`.`t_all`",
                "DROP TABLE IF EXISTS `db_down`.`t_all`",
                "DROP TABLE IF EXISTS `other_down`.`t_all`",
            ],
        ),
        (
            "CREATE DATABASE IF NOT EXISTS d2 CHARACTER SET latin1",
            &["CREATE DATABASE IF NOT EXISTS `d2_down` CHARACTER SET latin1"],
        ),
        ("DROP DATABASE d2", &["DROP DATABASE IF EXISTS `d2_down`"]),
        (
            "CREATE FULLTEXT INDEX f ON t (a)",
            &["CREATE FULLTEXT INDEX f ON `db_down`.`t_all` (a)"],
        ),
    ];
    for (ddl, expected) in cases {
        let done = tracker
            .apply(DB, ddl, &route)
            .unwrap_or_else(|e| panic!("{ddl}: {e}"));
        assert_eq!(done.ddls(), *expected, "{ddl}");
    }
    let tracked: Vec<String> = tracker.tables().map(|(n, _)| n.table.clone()).collect();
    assert_eq!(tracked, ["t"]);
}

#[test]
fn rename_moves_the_table_and_later_specs_follow() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT)"]);
    let done = apply(&mut tracker, "ALTER TABLE t RENAME TO other.t2, ADD b INT");
    assert_eq!(
        done.ddls(),
        [
            "ALTER TABLE `db`.`t` RENAME TO `other`.`t2`",
            "ALTER TABLE `other`.`t2` ADD `b` INT",
        ]
    );
    assert_eq!(done.statements[0].kind, StatementKind::RenameTable);
    assert!(tracker.table(&t()).is_none());
    let moved = tracker
        .table(&TableName::new("other", "t2"))
        .expect("moved");
    assert_eq!(moved.name.o, "t2");
    assert_eq!(names(moved), ["a", "b"]);
}

#[test]
fn create_table_like_copies_the_source() {
    let tracker = tracker_after(&[
        "CREATE TABLE src (a INT PRIMARY KEY, b VARCHAR(3))",
        "CREATE TABLE t LIKE src",
    ]);
    let copy = tracker.table(&t()).expect("copy");
    let src = tracker.table(&TableName::new(DB, "src")).expect("src");
    assert_eq!(copy.name.o, "t");
    assert_eq!(copy.columns, src.columns);
    assert_eq!(copy.indices, src.indices);
}

#[test]
fn several_statements_in_one_text() {
    let mut tracker = Tracker::new();
    let done = apply(
        &mut tracker,
        "CREATE TABLE t (a INT); ALTER TABLE t ADD b INT;",
    );
    assert_eq!(done.statements.len(), 2);
    assert_eq!(names(tracker.table(&t()).expect("t")), ["a", "b"]);
}

#[test]
fn database_charset_is_the_default_of_new_tables() {
    let tracker = tracker_after(&[
        "CREATE DATABASE d CHARACTER SET latin1",
        "CREATE TABLE d.t1 (a VARCHAR(3))",
        "ALTER DATABASE d COLLATE utf8_general_ci",
        "CREATE TABLE d.t2 (a VARCHAR(3))",
    ]);
    let t1 = tracker.table(&TableName::new("d", "t1")).expect("t1");
    assert_eq!(
        (t1.charset.as_str(), t1.collate.as_str()),
        ("latin1", "latin1_bin")
    );
    assert_eq!(column(t1, "a").field_type.charset, "latin1");
    let t2 = tracker.table(&TableName::new("d", "t2")).expect("t2");
    assert_eq!(
        (t2.charset.as_str(), t2.collate.as_str()),
        ("utf8", "utf8_general_ci")
    );
    let mut tracker = tracker;
    tracker
        .apply("", "DROP DATABASE d", &SameName)
        .expect("drop");
    assert_eq!(tracker.tables().count(), 0);
    assert!(tracker.schema_charset("d").is_none());
}
