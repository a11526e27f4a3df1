//! Column attributes: (definition, flag, default, default_is_expr, comment),
//! and columns changed through ALTER TABLE.

use super::*;

type AttrCase = (&'static str, u64, Value, bool, &'static str);

fn check_attrs(cases: &[AttrCase]) {
    for (def, flag, default, is_expr, comment) in cases {
        let ddl = format!("CREATE TABLE t (c {def})");
        let ti = table_after(&[&ddl]);
        let c = column(&ti, "c");
        assert_eq!(
            (
                c.field_type.flag,
                &c.default,
                c.default_is_expr,
                c.comment.as_str()
            ),
            (*flag, default, *is_expr, *comment),
            "{def}"
        );
    }
}

#[test]
fn null_and_default_flags_follow_tidb() {
    let nn = NOT_NULL_FLAG;
    let nd = NO_DEFAULT_VALUE_FLAG;
    check_attrs(&[
        ("INT", 0, Value::Null, false, ""),
        ("INT NULL", 0, Value::Null, false, ""),
        ("INT NOT NULL", nn | nd, Value::Null, false, ""),
        ("INT NOT NULL DEFAULT 1", nn, json!("1"), false, ""),
        ("INT NOT NULL NULL", 0, Value::Null, false, ""),
        ("INT DEFAULT NULL", 0, Value::Null, false, ""),
        (
            "INT NOT NULL AUTO_INCREMENT",
            nn | AUTO_INCREMENT_FLAG,
            Value::Null,
            false,
            "",
        ),
        // AUTO_INCREMENT implies NOT NULL.
        (
            "INT AUTO_INCREMENT",
            nn | AUTO_INCREMENT_FLAG,
            Value::Null,
            false,
            "",
        ),
        // Inline keys: PRIMARY KEY implies NOT NULL.
        (
            "INT PRIMARY KEY",
            nn | nd | PRI_KEY_FLAG,
            Value::Null,
            false,
            "",
        ),
        ("INT KEY", nn | nd | PRI_KEY_FLAG, Value::Null, false, ""),
        ("INT UNIQUE", UNIQUE_KEY_FLAG, Value::Null, false, ""),
        ("INT UNIQUE KEY", UNIQUE_KEY_FLAG, Value::Null, false, ""),
        (
            "INT AUTO_INCREMENT PRIMARY KEY",
            nn | AUTO_INCREMENT_FLAG | PRI_KEY_FLAG,
            Value::Null,
            false,
            "",
        ),
        // TIMESTAMP is not special (explicit_defaults_for_timestamp).
        (
            "TIMESTAMP NOT NULL",
            nn | nd | BINARY_FLAG,
            Value::Null,
            false,
            "",
        ),
        (
            "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP",
            nn | BINARY_FLAG | ON_UPDATE_NOW_FLAG,
            json!("CURRENT_TIMESTAMP"),
            false,
            "",
        ),
        // A NOT NULL YEAR without default gets 0000 and still NO_DEFAULT.
        (
            "YEAR NOT NULL",
            nn | nd | ZEROFILL_FLAG | UNSIGNED_FLAG,
            json!("0000"),
            false,
            "",
        ),
        ("INT COMMENT 'it''s'", 0, Value::Null, false, "it's"),
        ("INT COMMENT \"dq\"", 0, Value::Null, false, "dq"),
    ]);
}

#[test]
fn defaults_are_normalised_like_tidb() {
    check_attrs(&[
        ("INT DEFAULT 5", 0, json!("5"), false, ""),
        ("INT DEFAULT -1", 0, json!("-1"), false, ""),
        ("INT DEFAULT +7", 0, json!("7"), false, ""),
        ("INT DEFAULT '3'", 0, json!("3"), false, ""),
        ("INT DEFAULT 1.6", 0, json!("2"), false, ""),
        ("INT DEFAULT 007", 0, json!("7"), false, ""),
        ("INT DEFAULT 0x1F", 0, json!("31"), false, ""),
        ("INT DEFAULT b'101'", 0, json!("5"), false, ""),
        ("INT DEFAULT TRUE", 0, json!("1"), false, ""),
        ("BOOL DEFAULT FALSE", 0, json!("0"), false, ""),
        ("DOUBLE DEFAULT 1e3", 0, json!("1000"), false, ""),
        ("DOUBLE DEFAULT -1.50", 0, json!("-1.5"), false, ""),
        ("DECIMAL(5,2) DEFAULT 1.50", 0, json!("1.50"), false, ""),
        ("VARCHAR(9) DEFAULT ''", 0, json!(""), false, ""),
        (
            r"VARCHAR(9) DEFAULT 'a\'b''c\\d\n'",
            0,
            json!("a'b'c\\d\n"),
            false,
            "",
        ),
        ("VARCHAR(9) DEFAULT \"dq\"", 0, json!("dq"), false, ""),
        ("VARCHAR(9) DEFAULT _utf8mb4'x'", 0, json!("x"), false, ""),
        ("VARCHAR(9) DEFAULT 12", 0, json!("12"), false, ""),
        ("ENUM('a','b') DEFAULT 'b'", 0, json!("b"), false, ""),
        ("ENUM('a','b') DEFAULT 2", 0, json!("b"), false, ""),
        (
            "DATETIME DEFAULT CURRENT_TIMESTAMP",
            BINARY_FLAG,
            json!("CURRENT_TIMESTAMP"),
            false,
            "",
        ),
        (
            "DATETIME DEFAULT NOW()",
            BINARY_FLAG,
            json!("CURRENT_TIMESTAMP"),
            false,
            "",
        ),
        (
            "DATETIME DEFAULT LOCALTIMESTAMP",
            BINARY_FLAG,
            json!("CURRENT_TIMESTAMP"),
            false,
            "",
        ),
        (
            "DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3)",
            BINARY_FLAG,
            json!("CURRENT_TIMESTAMP(3)"),
            false,
            "",
        ),
        (
            "DATETIME(3) DEFAULT NOW(3)",
            BINARY_FLAG,
            json!("CURRENT_TIMESTAMP(3)"),
            false,
            "",
        ),
        (
            "DATE DEFAULT '2020-01-01'",
            BINARY_FLAG,
            json!("2020-01-01"),
            false,
            "",
        ),
        ("INT DEFAULT (1)", 0, json!("1"), false, ""),
        ("VARCHAR(36) DEFAULT (UUID())", 0, json!("uuid()"), true, ""),
    ]);
}

#[test]
fn bit_defaults_keep_their_bytes() {
    let cases: &[(&str, &str, &str)] = &[
        ("BIT(8) DEFAULT b'101'", "\u{5}", "BQ=="),
        ("BIT(16) DEFAULT 0x4142", "AB", "QUI="),
        ("BIT(8) DEFAULT 65", "A", "QQ=="),
        ("BIT(24) DEFAULT b'011000010110001001100011'", "abc", "YWJj"),
    ];
    for (def, default, bits) in cases {
        let ti = table_after(&[&format!("CREATE TABLE t (c {def})")]);
        let c = column(&ti, "c");
        assert_eq!(
            (&c.default, &c.default_bit),
            (&json!(default), &json!(bits)),
            "{def}"
        );
    }
    let ti = table_after(&[
        "CREATE TABLE t (a INT)",
        "ALTER TABLE t ADD c BIT(8) DEFAULT b'1'",
    ]);
    assert_eq!(column(&ti, "c").origin_default_bit, json!("AQ=="));
}

#[test]
fn generated_columns_keep_their_expression() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, b INT, v INT AS (a + b * 2) VIRTUAL, s INT GENERATED ALWAYS AS (CONCAT(a, 'x')) STORED)",
    ]);
    assert_eq!(column(&ti, "v").generated_expr_string, "`a` + `b` * 2");
    assert!(!column(&ti, "v").generated_stored);
    assert_eq!(column(&ti, "s").generated_expr_string, "concat(`a`, 'x')");
    assert!(column(&ti, "s").generated_stored);
}

#[test]
fn add_column_positions_ids_and_origin_defaults() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, b INT)",
        "ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 7",
        "ALTER TABLE t ADD d VARCHAR(5) NOT NULL FIRST",
        "ALTER TABLE t ADD COLUMN e INT AFTER a",
    ]);
    assert_eq!(names(&ti), ["d", "a", "e", "b", "c"]);
    let ids: Vec<i64> = ti.columns.iter().map(|c| c.id).collect();
    assert_eq!(ids, [4, 1, 5, 2, 3]);
    let offsets: Vec<i64> = ti.columns.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
    assert_eq!(column(&ti, "c").origin_default, json!("7"));
    // NOT NULL without default: the zero value backfills.
    assert_eq!(column(&ti, "d").origin_default, json!(""));
    assert_eq!(column(&ti, "e").origin_default, Value::Null);
    // Columns of CREATE TABLE have none.
    assert_eq!(column(&ti, "a").origin_default, Value::Null);
    assert_eq!(ti.max_col_id, 5);
}

#[test]
fn parenthesised_add_column_splits_per_column() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT)"]);
    let done = apply(
        &mut tracker,
        "ALTER TABLE t ADD COLUMN (c1 INT, c2 VARCHAR(3) NOT NULL)",
    );
    assert_eq!(
        done.ddls(),
        [
            "ALTER TABLE `db`.`t` ADD COLUMN `c1` INT",
            "ALTER TABLE `db`.`t` ADD COLUMN `c2` VARCHAR(3) NOT NULL",
        ]
    );
    let after = done.table_infos_after();
    assert_eq!(names(after[0].expect("after 1")), ["a", "c1"]);
    assert_eq!(names(after[1].expect("after 2")), ["a", "c1", "c2"]);
    assert_eq!(names(done.table_info_before().expect("before")), ["a"]);
}

#[test]
fn drop_column_leaves_indexes_and_drops_empty_ones() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, b INT, c INT, KEY ab (a, b), KEY b (b), UNIQUE KEY bc (b, c))",
        "ALTER TABLE t DROP COLUMN b",
    ]);
    assert_eq!(names(&ti), ["a", "c"]);
    assert_eq!(
        index_summary(&ti),
        vec![
            ("ab".into(), parts(&[("a", -1)]), false, false, 1),
            ("bc".into(), parts(&[("c", -1)]), true, false, 1),
        ]
    );
    assert_eq!(ti.indices[1].columns[0].offset, 1);
    // `a` is now a one-column non-unique key, `c` a one-column unique key.
    assert_eq!(
        flags(&ti),
        vec![
            ("a".into(), MULTIPLE_KEY_FLAG),
            ("c".into(), UNIQUE_KEY_FLAG)
        ]
    );
}

#[test]
fn modify_and_change_column() {
    let ti = table_after(&[
        "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10), KEY kb (b(4)))",
        "ALTER TABLE t MODIFY a BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'x'",
        "ALTER TABLE t CHANGE COLUMN b bb VARCHAR(20) FIRST",
        "ALTER TABLE t MODIFY id BIGINT",
    ]);
    assert_eq!(names(&ti), ["bb", "id", "a"]);
    let a = column(&ti, "a");
    assert_eq!(
        (
            a.field_type.tp,
            a.field_type.flen,
            a.field_type.flag,
            &a.default,
            a.comment.as_str()
        ),
        (
            TYPE_LONGLONG,
            20,
            NOT_NULL_FLAG | UNSIGNED_FLAG,
            &json!("0"),
            "x"
        )
    );
    // New column IDs, as TiDB allocates for MODIFY.
    assert_eq!(a.id, 4);
    assert_eq!(column(&ti, "bb").id, 5);
    assert_eq!(column(&ti, "id").id, 6);
    // TiDB's order: table-level keys first, then the inline PRIMARY KEY.
    assert_eq!(index_summary(&ti)[0].1, parts(&[("bb", 4)]));
    assert_eq!(ti.indices[0].columns[0].offset, 0);
    // A primary-key column stays NOT NULL (and gets NO_DEFAULT).
    assert_eq!(
        column(&ti, "id").field_type.flag,
        NOT_NULL_FLAG | NO_DEFAULT_VALUE_FLAG | PRI_KEY_FLAG
    );
}

#[test]
fn rename_column_renames_index_parts() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT, KEY k (a))",
        "ALTER TABLE t RENAME COLUMN a TO z",
    ]);
    assert_eq!(names(&ti), ["z"]);
    assert_eq!(index_summary(&ti)[0].1, parts(&[("z", -1)]));
}

#[test]
fn alter_column_set_and_drop_default() {
    let ti = table_after(&[
        "CREATE TABLE t (a INT NOT NULL, b INT DEFAULT 3)",
        "ALTER TABLE t ALTER COLUMN a SET DEFAULT 5",
        "ALTER TABLE t ALTER b DROP DEFAULT",
    ]);
    let (a, b) = (column(&ti, "a"), column(&ti, "b"));
    assert_eq!(
        (a.field_type.flag, &a.default),
        (NOT_NULL_FLAG, &json!("5"))
    );
    // TiDB's tracker sets NO_DEFAULT on DROP DEFAULT even for nullable columns.
    assert_eq!(
        (b.field_type.flag, &b.default),
        (NO_DEFAULT_VALUE_FLAG, &Value::Null)
    );
}
