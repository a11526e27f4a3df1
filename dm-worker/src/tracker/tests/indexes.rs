//! Indexes and the key flags they set on columns, through CREATE TABLE and
//! ALTER TABLE.

use super::*;

#[test]
fn create_table_indexes_are_named_like_tidb() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, b VARCHAR(10), c INT UNIQUE, PRIMARY KEY (a), KEY (b(4)), UNIQUE (b, c), KEY `k` (c) USING HASH, INDEX (a))",
    ]);
    assert_eq!(
        index_summary(&ti),
        vec![
            (
                "PRIMARY".into(),
                parts(&[("a", -1)]),
                true,
                true,
                INDEX_TYPE_BTREE
            ),
            // The anonymous primary key takes the name `a`.
            (
                "b".into(),
                parts(&[("b", 4)]),
                false,
                false,
                INDEX_TYPE_BTREE
            ),
            (
                "b_2".into(),
                parts(&[("b", -1), ("c", -1)]),
                true,
                false,
                INDEX_TYPE_BTREE
            ),
            (
                "k".into(),
                parts(&[("c", -1)]),
                false,
                false,
                INDEX_TYPE_HASH
            ),
            (
                "a_2".into(),
                parts(&[("a", -1)]),
                false,
                false,
                INDEX_TYPE_BTREE
            ),
            (
                "c".into(),
                parts(&[("c", -1)]),
                true,
                false,
                INDEX_TYPE_BTREE
            ),
        ]
    );
    assert_eq!(
        flags(&ti),
        vec![
            (
                "a".into(),
                NOT_NULL_FLAG | NO_DEFAULT_VALUE_FLAG | PRI_KEY_FLAG | MULTIPLE_KEY_FLAG
            ),
            ("b".into(), MULTIPLE_KEY_FLAG),
            ("c".into(), UNIQUE_KEY_FLAG | MULTIPLE_KEY_FLAG),
        ]
    );
    assert_eq!(ti.max_idx_id, 6);
}

#[test]
fn a_full_length_prefix_is_the_whole_column() {
    let ti = table_after(&["CREATE TABLE t (a VARCHAR(10), KEY k (a(10)))"]);
    assert_eq!(index_summary(&ti)[0].1, parts(&[("a", -1)]));
}

#[test]
fn fulltext_foreign_and_check_make_no_index() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, b TEXT, FULLTEXT KEY ft (b), CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id), CHECK (a > 0))",
        "ALTER TABLE t ADD FULLTEXT INDEX ft2 (b)",
        "CREATE FULLTEXT INDEX ft3 ON t (b)",
    ]);
    assert!(ti.indices.is_empty());
}

#[test]
fn alter_table_index_operations_track_key_flags() {
    let base = "CREATE TABLE t (a INT NOT NULL, b INT, c INT)";
    let cases: &[(&str, &[(&str, u64)])] = &[
        ("ALTER TABLE t ADD INDEX i (b)", &[("b", MULTIPLE_KEY_FLAG)]),
        ("ALTER TABLE t ADD UNIQUE (c)", &[("c", UNIQUE_KEY_FLAG)]),
        (
            "ALTER TABLE t ADD UNIQUE u (b, c)",
            &[("b", MULTIPLE_KEY_FLAG)],
        ),
        (
            "ALTER TABLE t ADD PRIMARY KEY (a, b)",
            // ADD PRIMARY KEY makes the columns NOT NULL, without NO_DEFAULT.
            &[
                ("a", NOT_NULL_FLAG | NO_DEFAULT_VALUE_FLAG | PRI_KEY_FLAG),
                ("b", NOT_NULL_FLAG | PRI_KEY_FLAG),
            ],
        ),
        ("CREATE INDEX i ON t (c)", &[("c", MULTIPLE_KEY_FLAG)]),
        ("CREATE UNIQUE INDEX i ON t (c)", &[("c", UNIQUE_KEY_FLAG)]),
    ];
    for (ddl, expected) in cases {
        let ti = table_after(&[base, ddl]);
        for (name, flag) in *expected {
            assert_eq!(column(&ti, name).field_type.flag, *flag, "{ddl}: {name}");
        }
    }
}

#[test]
fn dropping_an_index_clears_only_its_flags() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, b INT, KEY i1 (a), UNIQUE KEY u1 (a), KEY i2 (a, b))",
        "ALTER TABLE t DROP INDEX i1",
    ]);
    assert_eq!(
        column(&ti, "a").field_type.flag,
        UNIQUE_KEY_FLAG | MULTIPLE_KEY_FLAG
    );
    let ti = table_after(&[
        "CREATE TABLE t (a INT PRIMARY KEY, b INT)",
        "ALTER TABLE t DROP PRIMARY KEY",
    ]);
    // NOT NULL stays, the key flag goes.
    assert_eq!(
        column(&ti, "a").field_type.flag,
        NOT_NULL_FLAG | NO_DEFAULT_VALUE_FLAG
    );
    assert!(ti.indices.is_empty());
    let ti = table_after(&[
        "CREATE TABLE t (a INT, KEY k (a))",
        "ALTER TABLE t DROP KEY k",
    ]);
    assert_eq!(column(&ti, "a").field_type.flag, 0);
    let ti = table_after(&["CREATE TABLE t (a INT, KEY k (a))", "DROP INDEX k ON t"]);
    assert!(ti.indices.is_empty());
}

#[test]
fn rename_index_and_visibility() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, KEY k (a))",
        "ALTER TABLE t RENAME INDEX k TO k2, ALTER INDEX k2 INVISIBLE",
    ]);
    assert_eq!(ti.indices[0].name.o, "k2");
    assert!(ti.indices[0].is_invisible);
    let ti = table_after(&[
        "CREATE TABLE t (a INT, KEY k (a))",
        "ALTER TABLE t RENAME KEY k TO k3, ALTER INDEX k3 VISIBLE",
    ]);
    assert_eq!(ti.indices[0].name.o, "k3");
    assert!(!ti.indices[0].is_invisible);
}

#[test]
fn add_index_with_visibility_is_followed_by_alter_index() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT)"]);
    let done = apply(
        &mut tracker,
        "ALTER TABLE t ADD INDEX k (a) COMMENT 'c' INVISIBLE",
    );
    assert_eq!(
        done.ddls(),
        [
            "ALTER TABLE `db`.`t` ADD INDEX `k` (`a`) COMMENT 'c'",
            "ALTER TABLE `db`.`t` ALTER INDEX `k` INVISIBLE",
        ]
    );
    assert!(tracker.table(&t()).expect("t").indices[0].is_invisible);
}

#[test]
fn anonymous_alter_indexes_get_free_names() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, KEY (a))",
        "ALTER TABLE t ADD INDEX (a), ADD UNIQUE (a)",
    ]);
    let names: Vec<_> = ti.indices.iter().map(|i| i.name.o.clone()).collect();
    assert_eq!(names, ["a", "a_2", "a_3"]);
}
