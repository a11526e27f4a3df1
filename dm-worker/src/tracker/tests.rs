//! Tracker tests: DDL text to TableInfo fields (table-driven through
//! `check_*` helpers), split and routed statements, the forms `sqlparser`
//! cannot parse, errors, and agreement with schemacmp.

use std::cmp::Ordering::{Equal, Greater, Less};

use dm_master::schemacmp::Table;
use dm_master::tableinfo::mysql::*;
use dm_master::tableinfo::{ColumnInfo, TableInfo};
use serde_json::{json, Value};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::{Parser, ParserOptions};

use super::*;

const DB: &str = "db";

fn t() -> TableName {
    TableName::new(DB, "t")
}

/// Applies `ddls` in order to a fresh tracker; panics on error.
fn tracker_after(ddls: &[&str]) -> Tracker {
    let mut tracker = Tracker::new();
    for ddl in ddls {
        if let Err(e) = tracker.apply(DB, ddl, &SameName) {
            panic!("{ddl}: {e}");
        }
    }
    tracker
}

/// The schema of `db.t` after `ddls`.
fn table_after(ddls: &[&str]) -> TableInfo {
    tracker_after(ddls)
        .table(&t())
        .cloned()
        .unwrap_or_else(|| panic!("db.t not tracked after {ddls:?}"))
}

fn column<'a>(ti: &'a TableInfo, name: &str) -> &'a ColumnInfo {
    ti.column(name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", names(ti)))
}

fn names(ti: &TableInfo) -> Vec<String> {
    ti.columns.iter().map(|c| c.name.o.clone()).collect()
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn enc(ti: &TableInfo) -> Table {
    Table::from_table_info(ti)
}

// ---------------------------------------------------------------------------
// Golden TableInfos.

#[test]
fn spec_example_matches_the_fixture_exactly() {
    let ti = table_after(&[
        "CREATE TABLE t (id INT PRIMARY KEY, c1 VARCHAR(20) NOT NULL DEFAULT '', c2 DECIMAL(10,2))",
    ]);
    assert_eq!(ti.to_json_value(), fixture("spec_example_t.json"));
}

#[test]
fn orders_table_matches_the_fixture_exactly() {
    let ddl = "CREATE TABLE `Orders` (
        `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        `status` ENUM('new','paid','shipped') NOT NULL DEFAULT 'new',
        `tags` SET('gift','fragile') DEFAULT NULL,
        `Note` VARCHAR(255) DEFAULT NULL COMMENT 'free text',
        `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        `amount` DECIMAL(12,2) NOT NULL DEFAULT '0.00',
        PRIMARY KEY (`id`),
        UNIQUE KEY `uk_note` (`Note`(64)),
        KEY `idx_status_created` (`status`, `created_at`)
    ) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='orders of shard 1'";
    let tracker = tracker_after(&[ddl]);
    let ti = tracker
        .table(&TableName::new(DB, "Orders"))
        .expect("tracked");
    assert_eq!(ti.to_json_value(), fixture("orders_enum_set_utf8mb4.json"));
}

// ---------------------------------------------------------------------------
// Column types: (definition, tp, flen, decimal, flag, charset, collate).

type TypeCase = (&'static str, u8, i64, i64, u64, &'static str, &'static str);

fn check_types(table_options: &str, cases: &[TypeCase]) {
    for &(def, tp, flen, decimal, flag, charset, collate) in cases {
        let ddl = format!("CREATE TABLE t (c {def}) {table_options}");
        let ti = table_after(&[&ddl]);
        let ft = &column(&ti, "c").field_type;
        assert_eq!(
            (
                ft.tp,
                ft.flen,
                ft.decimal,
                ft.flag,
                ft.charset.as_str(),
                ft.collate.as_str()
            ),
            (tp, flen, decimal, flag, charset, collate),
            "{def}"
        );
    }
}

const B: &str = "binary";
const U: &str = "utf8mb4";
const UB: &str = "utf8mb4_bin";

#[test]
fn integer_types_take_tidb_widths_and_flags() {
    check_types(
        "",
        &[
            ("TINYINT", TYPE_TINY, 4, 0, 0, B, B),
            ("TINYINT(1)", TYPE_TINY, 1, 0, 0, B, B),
            ("TINYINT UNSIGNED", TYPE_TINY, 3, 0, UNSIGNED_FLAG, B, B),
            ("BOOL", TYPE_TINY, 1, 0, 0, B, B),
            ("BOOLEAN", TYPE_TINY, 1, 0, 0, B, B),
            ("SMALLINT", TYPE_SHORT, 6, 0, 0, B, B),
            ("SMALLINT UNSIGNED", TYPE_SHORT, 5, 0, UNSIGNED_FLAG, B, B),
            ("MEDIUMINT", TYPE_INT24, 9, 0, 0, B, B),
            ("MEDIUMINT UNSIGNED", TYPE_INT24, 8, 0, UNSIGNED_FLAG, B, B),
            ("INT", TYPE_LONG, 11, 0, 0, B, B),
            ("INTEGER", TYPE_LONG, 11, 0, 0, B, B),
            ("INT(5)", TYPE_LONG, 5, 0, 0, B, B),
            ("INT UNSIGNED", TYPE_LONG, 10, 0, UNSIGNED_FLAG, B, B),
            ("INT(11) UNSIGNED", TYPE_LONG, 11, 0, UNSIGNED_FLAG, B, B),
            ("INT SIGNED", TYPE_LONG, 11, 0, 0, B, B),
            ("BIGINT", TYPE_LONGLONG, 20, 0, 0, B, B),
            ("BIGINT UNSIGNED", TYPE_LONGLONG, 20, 0, UNSIGNED_FLAG, B, B),
            (
                "BIGINT(20) UNSIGNED",
                TYPE_LONGLONG,
                20,
                0,
                UNSIGNED_FLAG,
                B,
                B,
            ),
            (
                "INT ZEROFILL",
                TYPE_LONG,
                11,
                0,
                ZEROFILL_FLAG | UNSIGNED_FLAG,
                B,
                B,
            ),
            (
                "INT(8) UNSIGNED ZEROFILL",
                TYPE_LONG,
                8,
                0,
                ZEROFILL_FLAG | UNSIGNED_FLAG,
                B,
                B,
            ),
            (
                "INT ZEROFILL UNSIGNED",
                TYPE_LONG,
                11,
                0,
                ZEROFILL_FLAG | UNSIGNED_FLAG,
                B,
                B,
            ),
            (
                "SERIAL",
                TYPE_LONGLONG,
                20,
                0,
                UNSIGNED_FLAG | NOT_NULL_FLAG | AUTO_INCREMENT_FLAG | UNIQUE_KEY_FLAG,
                B,
                B,
            ),
        ],
    );
}

#[test]
fn numeric_types_take_precision_and_scale() {
    check_types(
        "",
        &[
            ("DECIMAL", TYPE_NEW_DECIMAL, 10, 0, 0, B, B),
            ("DECIMAL(10)", TYPE_NEW_DECIMAL, 10, 0, 0, B, B),
            ("DECIMAL(12,2)", TYPE_NEW_DECIMAL, 12, 2, 0, B, B),
            ("NUMERIC(5,1)", TYPE_NEW_DECIMAL, 5, 1, 0, B, B),
            ("DEC(6,3)", TYPE_NEW_DECIMAL, 6, 3, 0, B, B),
            ("FIXED(3,1)", TYPE_NEW_DECIMAL, 3, 1, 0, B, B),
            (
                "DECIMAL(8,2) UNSIGNED",
                TYPE_NEW_DECIMAL,
                8,
                2,
                UNSIGNED_FLAG,
                B,
                B,
            ),
            ("FLOAT", TYPE_FLOAT, 12, -1, 0, B, B),
            ("FLOAT(7,3)", TYPE_FLOAT, 7, 3, 0, B, B),
            ("FLOAT(20)", TYPE_FLOAT, 12, -1, 0, B, B),
            ("FLOAT(30)", TYPE_DOUBLE, 22, -1, 0, B, B),
            ("FLOAT UNSIGNED", TYPE_FLOAT, 12, -1, UNSIGNED_FLAG, B, B),
            ("DOUBLE", TYPE_DOUBLE, 22, -1, 0, B, B),
            ("DOUBLE(10,2)", TYPE_DOUBLE, 10, 2, 0, B, B),
            ("DOUBLE PRECISION", TYPE_DOUBLE, 22, -1, 0, B, B),
            ("REAL", TYPE_DOUBLE, 22, -1, 0, B, B),
            ("BIT", TYPE_BIT, 1, 0, UNSIGNED_FLAG, B, B),
            ("BIT(8)", TYPE_BIT, 8, 0, UNSIGNED_FLAG, B, B),
        ],
    );
}

#[test]
fn temporal_types_take_fractional_seconds() {
    check_types(
        "",
        &[
            ("DATE", TYPE_DATE, 10, 0, BINARY_FLAG, B, B),
            ("DATETIME", TYPE_DATETIME, 19, 0, BINARY_FLAG, B, B),
            ("DATETIME(3)", TYPE_DATETIME, 23, 3, BINARY_FLAG, B, B),
            ("DATETIME(6)", TYPE_DATETIME, 26, 6, BINARY_FLAG, B, B),
            ("TIMESTAMP", TYPE_TIMESTAMP, 19, 0, BINARY_FLAG, B, B),
            ("TIMESTAMP(6)", TYPE_TIMESTAMP, 26, 6, BINARY_FLAG, B, B),
            ("TIME", TYPE_DURATION, 10, 0, BINARY_FLAG, B, B),
            ("TIME(2)", TYPE_DURATION, 13, 2, BINARY_FLAG, B, B),
            ("YEAR", TYPE_YEAR, 4, 0, ZEROFILL_FLAG | UNSIGNED_FLAG, B, B),
            (
                "YEAR(4)",
                TYPE_YEAR,
                4,
                0,
                ZEROFILL_FLAG | UNSIGNED_FLAG,
                B,
                B,
            ),
        ],
    );
}

#[test]
fn string_types_take_lengths_and_charsets() {
    check_types(
        "",
        &[
            ("CHAR", TYPE_STRING, 1, 0, 0, U, UB),
            ("CHAR(10)", TYPE_STRING, 10, 0, 0, U, UB),
            ("VARCHAR(255)", TYPE_VARCHAR, 255, 0, 0, U, UB),
            ("NVARCHAR(4)", TYPE_VARCHAR, 4, 0, 0, "utf8", "utf8_bin"),
            ("NCHAR(3)", TYPE_STRING, 3, 0, 0, "utf8", "utf8_bin"),
            ("BINARY(3)", TYPE_STRING, 3, 0, BINARY_FLAG, B, B),
            ("BINARY", TYPE_STRING, 1, 0, BINARY_FLAG, B, B),
            ("VARBINARY(4)", TYPE_VARCHAR, 4, 0, BINARY_FLAG, B, B),
            ("TINYTEXT", TYPE_TINY_BLOB, 255, 0, 0, U, UB),
            ("TEXT", TYPE_BLOB, 65_535, 0, 0, U, UB),
            ("MEDIUMTEXT", TYPE_MEDIUM_BLOB, 16_777_215, 0, 0, U, UB),
            ("LONGTEXT", TYPE_LONG_BLOB, 4_294_967_295, 0, 0, U, UB),
            ("TINYBLOB", TYPE_TINY_BLOB, 255, 0, BINARY_FLAG, B, B),
            ("BLOB", TYPE_BLOB, 65_535, 0, BINARY_FLAG, B, B),
            (
                "MEDIUMBLOB",
                TYPE_MEDIUM_BLOB,
                16_777_215,
                0,
                BINARY_FLAG,
                B,
                B,
            ),
            (
                "LONGBLOB",
                TYPE_LONG_BLOB,
                4_294_967_295,
                0,
                BINARY_FLAG,
                B,
                B,
            ),
            // TEXT(n) picks the smallest type holding n characters (4 bytes each).
            ("TEXT(60)", TYPE_TINY_BLOB, 255, 0, 0, U, UB),
            ("TEXT(100)", TYPE_BLOB, 65_535, 0, 0, U, UB),
            ("BLOB(100)", TYPE_TINY_BLOB, 255, 0, BINARY_FLAG, B, B),
            ("JSON", TYPE_JSON, 4_294_967_295, 0, BINARY_FLAG, B, B),
            ("ENUM('a','b')", TYPE_ENUM, -1, 0, 0, U, UB),
            ("SET('x','y')", TYPE_SET, -1, 0, 0, U, UB),
            // Column charset and collation.
            (
                "VARCHAR(3) CHARACTER SET latin1",
                TYPE_VARCHAR,
                3,
                0,
                0,
                "latin1",
                "latin1_bin",
            ),
            (
                "VARCHAR(3) CHARSET latin1",
                TYPE_VARCHAR,
                3,
                0,
                0,
                "latin1",
                "latin1_bin",
            ),
            (
                "VARCHAR(3) COLLATE utf8mb4_general_ci",
                TYPE_VARCHAR,
                3,
                0,
                0,
                U,
                "utf8mb4_general_ci",
            ),
            (
                "VARCHAR(3) CHARACTER SET utf8 COLLATE utf8_unicode_ci",
                TYPE_VARCHAR,
                3,
                0,
                0,
                "utf8",
                "utf8_unicode_ci",
            ),
            (
                "VARCHAR(3) CHARACTER SET utf8mb3",
                TYPE_VARCHAR,
                3,
                0,
                0,
                "utf8",
                "utf8_bin",
            ),
            (
                "VARCHAR(3) CHARACTER SET binary",
                TYPE_VARCHAR,
                3,
                0,
                BINARY_FLAG,
                B,
                B,
            ),
            (
                "TEXT CHARACTER SET latin1",
                TYPE_BLOB,
                65_535,
                0,
                0,
                "latin1",
                "latin1_bin",
            ),
            (
                "CHAR(3) ASCII",
                TYPE_STRING,
                3,
                0,
                0,
                "latin1",
                "latin1_bin",
            ),
            (
                "ENUM('a') CHARACTER SET latin1",
                TYPE_ENUM,
                -1,
                0,
                0,
                "latin1",
                "latin1_bin",
            ),
        ],
    );
}

#[test]
fn string_types_follow_the_table_charset() {
    let general = "utf8mb4_general_ci";
    check_types(
        "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        &[
            ("VARCHAR(3)", TYPE_VARCHAR, 3, 0, 0, U, general),
            // BINARY: the binary collation of the column's charset.
            ("VARCHAR(3) BINARY", TYPE_VARCHAR, 3, 0, 0, U, UB),
            ("INT", TYPE_LONG, 11, 0, 0, B, B),
        ],
    );
    check_types(
        "CHARSET=latin1",
        &[("CHAR(2)", TYPE_STRING, 2, 0, 0, "latin1", "latin1_bin")],
    );
    check_types(
        "COLLATE=utf8_general_ci",
        &[("TEXT", TYPE_BLOB, 65_535, 0, 0, "utf8", "utf8_general_ci")],
    );
}

#[test]
fn enum_and_set_members_are_unescaped() {
    let ti = table_after(&[r"CREATE TABLE t (e ENUM('a''b', 'c\\d', 'x y'), s SET('p', 'q'))"]);
    assert_eq!(column(&ti, "e").field_type.elems, ["a'b", r"c\d", "x y"]);
    assert_eq!(column(&ti, "s").field_type.elems, ["p", "q"]);
}

#[test]
fn unsupported_types_are_errors() {
    for def in ["GEOMETRY", "POINT", "VARCHAR(MAX)", "FLOAT(60)", "UUID"] {
        let mut tracker = Tracker::new();
        let ddl = format!("CREATE TABLE t (c {def})");
        let err = tracker.apply(DB, &ddl, &SameName).expect_err(def);
        assert!(
            err.to_string().contains("CREATE TABLE t (c"),
            "{def}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------
// Column attributes: (definition, flag, default, default_is_expr, comment).

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

// ---------------------------------------------------------------------------
// Indexes and key flags.

/// Name, key parts, unique, primary, index type.
type IndexSummary = (String, Vec<(String, i64)>, bool, bool, i64);

fn index_summary(ti: &TableInfo) -> Vec<IndexSummary> {
    ti.indices
        .iter()
        .map(|i| {
            (
                i.name.o.clone(),
                i.columns
                    .iter()
                    .map(|c| (c.name.o.clone(), c.length))
                    .collect(),
                i.is_unique,
                i.is_primary,
                i.index_type,
            )
        })
        .collect()
}

fn flags(ti: &TableInfo) -> Vec<(String, u64)> {
    ti.columns
        .iter()
        .map(|c| (c.name.o.clone(), c.field_type.flag))
        .collect()
}

fn parts(cols: &[(&str, i64)]) -> Vec<(String, i64)> {
    cols.iter().map(|(c, l)| ((*c).to_owned(), *l)).collect()
}

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
    let done = tracker
        .apply(
            DB,
            "ALTER TABLE t ADD INDEX k (a) COMMENT 'c' INVISIBLE",
            &SameName,
        )
        .expect("apply");
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

// ---------------------------------------------------------------------------
// Columns through ALTER TABLE.

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
    let done = tracker
        .apply(
            DB,
            "ALTER TABLE t ADD COLUMN (c1 INT, c2 VARCHAR(3) NOT NULL)",
            &SameName,
        )
        .expect("apply");
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

// ---------------------------------------------------------------------------
// Table options and the forms sqlparser cannot parse.

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
    let done = tracker
        .apply(
            DB,
            "ALTER TABLE t ADD PARTITION (PARTITION p9 VALUES LESS THAN (99)), FORCE",
            &SameName,
        )
        .expect("apply");
    for s in &done.statements {
        assert_eq!(s.kind, StatementKind::PassThrough);
        assert_eq!(s.before, before);
        assert_eq!(s.after, before);
    }
}

#[test]
fn algorithm_and_lock_are_dropped_from_the_split() {
    let mut tracker = tracker_after(&["CREATE TABLE t (a INT)"]);
    let done = tracker
        .apply(
            DB,
            "ALTER TABLE t ALGORITHM=INPLACE, ADD b INT, LOCK=NONE",
            &SameName,
        )
        .expect("apply");
    assert_eq!(done.ddls(), ["ALTER TABLE `db`.`t` ADD `b` INT"]);
    let done = tracker
        .apply(DB, "ALTER TABLE t ALGORITHM=COPY", &SameName)
        .expect("apply");
    assert!(done.is_empty());
}

#[test]
fn create_table_partition_and_options_are_kept() {
    let mut tracker = Tracker::new();
    let done = tracker
        .apply(
            DB,
            "CREATE TABLE t (id INT, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=latin1 PARTITION BY HASH(id) PARTITIONS 4",
            &SameName,
        )
        .expect("apply");
    assert_eq!(
        done.ddls(),
        ["CREATE TABLE IF NOT EXISTS `db`.`t` (`id` INT, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 PARTITION BY HASH(id) PARTITIONS 4"]
    );
    assert_eq!(
        tracker.table(&t()).map(|ti| ti.charset.as_str()),
        Some("latin1")
    );
}

// ---------------------------------------------------------------------------
// Splitting, routing and statement texts.

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
    let done = tracker
        .apply(DB, "ALTER TABLE t RENAME TO other.t2, ADD b INT", &SameName)
        .expect("apply");
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
    let done = tracker
        .apply(
            DB,
            "CREATE TABLE t (a INT); ALTER TABLE t ADD b INT;",
            &SameName,
        )
        .expect("apply");
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

// ---------------------------------------------------------------------------
// Replays and errors.

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

// ---------------------------------------------------------------------------
// Agreement with schemacmp (TiDB's schemacmp test examples).

fn schema(ddls: &[&str]) -> Table {
    enc(&table_after(ddls))
}

#[test]
fn tracked_tables_compare_as_the_spec_says() {
    let base = "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10))";
    let before = schema(&[base]);
    let cases: &[(&str, std::cmp::Ordering)] = &[
        ("ALTER TABLE t ADD COLUMN c INT", Greater),
        ("ALTER TABLE t ADD INDEX i (a)", Less),
        ("ALTER TABLE t ADD UNIQUE u (b)", Less),
        ("ALTER TABLE t DROP COLUMN a", Less),
        ("ALTER TABLE t MODIFY a BIGINT", Greater),
        ("ALTER TABLE t MODIFY b VARCHAR(20)", Greater),
        ("ALTER TABLE t MODIFY a INT NOT NULL", Less),
        ("ALTER TABLE t ENGINE=InnoDB", Equal),
        (
            "ALTER TABLE t ADD PARTITION (PARTITION p1 VALUES LESS THAN (1))",
            Equal,
        ),
    ];
    for (ddl, ordering) in cases {
        let after = schema(&[base, ddl]);
        assert_eq!(after.compare(&before).ok(), Some(*ordering), "{ddl}");
    }
}

#[test]
fn shards_with_the_same_ddl_are_equal_and_different_types_conflict() {
    let base = "CREATE TABLE t (id INT PRIMARY KEY)";
    let shard1 = schema(&[base, "ALTER TABLE t ADD c INT"]);
    let shard2 = schema(&[base, "ALTER TABLE t ADD COLUMN `c` INT(11)"]);
    assert_eq!(shard1.compare(&shard2).ok(), Some(Equal));
    let shard3 = schema(&[base, "ALTER TABLE t ADD c VARCHAR(10)"]);
    assert!(shard1.compare(&shard3).is_err());
    let err = shard1.join(&shard3).expect_err("incompatible");
    assert!(err.to_string().contains("incompatible mysql type"), "{err}");
    // Different widths of one family join to the wider one.
    let shard4 = schema(&[base, "ALTER TABLE t ADD c BIGINT"]);
    assert_eq!(shard1.join(&shard4).ok(), Some(shard4.clone()));
}

#[test]
fn the_same_schema_by_two_paths_is_equal() {
    let one = schema(&[
        "CREATE TABLE t (a INT, b INT, KEY k (a, b))",
        "ALTER TABLE t DROP COLUMN b",
        "ALTER TABLE t ADD COLUMN b INT",
    ]);
    let two = schema(&[
        "CREATE TABLE t (a INT, KEY k (a))",
        "ALTER TABLE t ADD b INT",
    ]);
    assert_eq!(one.compare(&two).ok(), Some(Equal));
}

// ---------------------------------------------------------------------------
// The dialect wrapper.

#[test]
fn the_dialect_wrapper_parses_like_mysql() {
    let corpus = [
        "CREATE TABLE t (a INT NOT NULL AUTO_INCREMENT, b VARCHAR(20) COLLATE utf8mb4_bin DEFAULT 'x', PRIMARY KEY (a), KEY k (b(3)) USING HASH) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "ALTER TABLE `db`.`t` ADD COLUMN c INT AFTER a, DROP COLUMN b, MODIFY a BIGINT UNSIGNED FIRST",
        "SELECT a DIV 2 FROM t AS x LIMIT 1, 2",
        "LOCK TABLES t READ",
        "RENAME TABLE a TO b",
        "CREATE INDEX i ON t (a(10), b)",
        "ALTER TABLE t ALTER COLUMN a SET DEFAULT CURRENT_TIMESTAMP",
        "INSERT INTO t SET a = 1",
        "SELECT * FROM t1 STRAIGHT_JOIN t2",
        "SELECT 'a\\'b', \"x\" FROM t WHERE c LIKE 'x\\_%'",
    ];
    for sql in corpus {
        let parse = |dialect: &dyn sqlparser::dialect::Dialect| {
            Parser::new(dialect)
                .with_options(ParserOptions::new().with_unescape(false))
                .try_with_sql(sql)
                .and_then(|mut p| p.parse_statements())
                .map(|s| format!("{s:?}"))
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            parse(&dialect::DmDialect::default()),
            parse(&MySqlDialect {}),
            "{sql}"
        );
    }
}

#[test]
fn show_create_table_outputs_of_mysql_8_and_mariadb_are_tracked() {
    let mysql8 = "CREATE TABLE `orders` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `a` int NOT NULL /*!80023 INVISIBLE */,
  `b` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci DEFAULT NULL,
  `v` int GENERATED ALWAYS AS ((`a` + 1)) VIRTUAL,
  `doc` json DEFAULT NULL,
  `ts` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `dt` datetime(6) DEFAULT CURRENT_TIMESTAMP(6),
  `parent` bigint unsigned DEFAULT NULL,
  PRIMARY KEY (`id`) USING BTREE,
  UNIQUE KEY `u_b` (`b`(10)),
  KEY `idx_ab` (`a`,`b`) USING BTREE COMMENT 'x' /*!80000 INVISIBLE */,
  KEY `fk_parent` (`parent`),
  FULLTEXT KEY `ft` (`b`),
  CONSTRAINT `fk_parent` FOREIGN KEY (`parent`) REFERENCES `orders` (`id`) ON DELETE CASCADE,
  CONSTRAINT `chk_a` CHECK ((`a` > 0))
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci ROW_FORMAT=DYNAMIC COMMENT='orders'";
    let mariadb = "CREATE TABLE `t` (
  `id` int(11) NOT NULL,
  `c1` varchar(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL DEFAULT '',
  `c2` decimal(10,2) DEFAULT NULL COMMENT 'y',
  `c3` enum('a','b') DEFAULT 'a',
  PRIMARY KEY (`id`),
  KEY `k1` (`c1`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci";
    let tracker = tracker_after(&[mysql8, mariadb]);
    let orders = tracker
        .table(&TableName::new(DB, "orders"))
        .expect("orders");
    assert_eq!(
        names(orders),
        ["id", "a", "b", "v", "doc", "ts", "dt", "parent"]
    );
    assert_eq!(orders.collate, "utf8mb4_0900_ai_ci");
    assert_eq!(orders.comment, "orders");
    assert_eq!(orders.auto_inc_id, 0);
    let index_names: Vec<&str> = orders.indices.iter().map(|i| i.name.o.as_str()).collect();
    assert_eq!(index_names, ["PRIMARY", "u_b", "idx_ab", "fk_parent"]);
    let invisible: Vec<bool> = orders.indices.iter().map(|i| i.is_invisible).collect();
    assert_eq!(invisible, [false, false, true, false]);
    assert_eq!(column(orders, "v").generated_expr_string, "(`a` + 1)");
    assert_eq!(column(orders, "dt").default, json!("CURRENT_TIMESTAMP(6)"));
    assert_eq!(
        column(orders, "ts").field_type.flag,
        NOT_NULL_FLAG | BINARY_FLAG | ON_UPDATE_NOW_FLAG
    );
    let t = tracker.table(&t()).expect("t");
    let c1 = &column(t, "c1").field_type;
    assert_eq!(
        (c1.charset.as_str(), c1.collate.as_str()),
        ("latin1", "latin1_swedish_ci")
    );
    assert_eq!(column(t, "c3").default, json!("a"));
    assert_eq!(column(t, "c2").comment, "y");
}
