//! Golden TableInfos against the fixtures, and column types: (definition,
//! tp, flen, decimal, flag, charset, collate) per type family.

use super::*;

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
