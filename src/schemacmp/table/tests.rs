//! TiDB's `table_test.go` (`TestJoinSchemas`) and further table
//! examples; [`encoding`] holds decoding, rendering and the fixtures,
//! [`lock_directions`] what the shard-DDL lock relies on.

use std::cmp::Ordering::{self, Equal, Greater, Less};
use std::mem::discriminant;

use super::*;
use crate::schemacmp::test_support::*;
use crate::schemacmp::types::Length;
use crate::schemacmp::{Byte, FieldTp, Int, PathSegment};
use crate::tableinfo::FieldType as T;

mod encoding;
mod lock_directions;

/// One case of `TestJoinSchemas`: compare and join in both orders. The
/// forward error text is exact; the backward one must be an error of the
/// same kind. A successful join must equal the encoding of `join` in both
/// orders and be `>=` both inputs.
fn check(
    name: &str,
    a: TableInfo,
    b: TableInfo,
    cmp: Result<Ordering, &str>,
    join: Result<TableInfo, &str>,
) {
    let (a, b) = (enc(&a), enc(&b));
    match (a.compare(&b), cmp) {
        (Ok(got), Ok(want)) => {
            assert_eq!(got, want, "{name}: compare(a, b)");
            assert_eq!(
                b.compare(&a).ok(),
                Some(want.reverse()),
                "{name}: compare(b, a)"
            );
        }
        (Err(got), Err(want)) => {
            assert_eq!(got.to_string(), want, "{name}: compare(a, b)");
            let back = b.compare(&a).expect_err("compare(b, a) must fail too");
            assert_eq!(
                discriminant(back.kind()),
                discriminant(got.kind()),
                "{name}"
            );
        }
        (got, want) => panic!("{name}: compare(a, b) = {got:?}, expected {want:?}"),
    }
    match (a.join(&b), join) {
        (Ok(got), Ok(want)) => {
            let want = enc(&want);
            assert_eq!(got, want, "{name}: join(a, b)");
            assert_eq!(b.join(&a).ok(), Some(want), "{name}: join(b, a)");
            assert!(
                matches!(got.compare(&a), Ok(Equal | Greater)),
                "{name}: join >= a"
            );
            assert!(
                matches!(got.compare(&b), Ok(Equal | Greater)),
                "{name}: join >= b"
            );
        }
        (Err(got), Err(want)) => {
            assert_eq!(got.to_string(), want, "{name}: join(a, b)");
            let back = b.join(&a).expect_err("join(b, a) must fail too");
            assert_eq!(
                discriminant(back.kind()),
                discriminant(got.kind()),
                "{name}"
            );
        }
        (got, want) => panic!("{name}: join(a, b) = {got:?}, expected {want:?}"),
    }
}

fn int(name: &str) -> ColumnInfo {
    col(name, T::int())
}

fn varchar10(name: &str) -> ColumnInfo {
    col(name, T::varchar(10))
}

fn ab() -> Vec<ColumnInfo> {
    vec![int("a"), varchar10("b")]
}

fn with(mut columns: Vec<ColumnInfo>, more: Vec<ColumnInfo>) -> Vec<ColumnInfo> {
    columns.extend(more);
    columns
}

fn t(columns: Vec<ColumnInfo>) -> TableInfo {
    table(columns, vec![])
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn join_schemas_columns() {
    // Spec #33.
    check(
        "DM_002/1",
        t(vec![int("col1")]),
        t(vec![int("col1"), int("new_col1")]),
        Ok(Less),
        Ok(t(vec![int("col1"), int("new_col1")])),
    );
    check(
        "DM_002/1/unordered",
        t(vec![int("col1")]),
        t(vec![int("new_col1"), int("col1")]),
        Ok(Less),
        Ok(t(vec![int("new_col1"), int("col1")])),
    );
    check(
        "DM_002/2/unordered",
        t(vec![int("col1"), int("new_col1")]),
        t(vec![int("new_col1"), int("col1")]),
        Ok(Equal),
        Ok(t(vec![int("col1"), int("new_col1")])),
    );
    check(
        "DM_010",
        t(with(ab(), vec![int("new_col1"), int("new_col2")])),
        t(ab()),
        Ok(Greater),
        Ok(t(with(ab(), vec![int("new_col1"), int("new_col2")]))),
    );
    // Spec #35.
    check(
        "DM_011",
        t(with(ab(), vec![int("new_col1"), int("new_col2")])),
        t(with(ab(), vec![col("new_col1", T::float())])),
        Err(
            r#"at tuple index 2: at map key "new_col1": at tuple index 3: at tuple index 0: incompatible mysql type (3 vs 4)"#,
        ),
        Err(
            r#"at tuple index 2: at map key "new_col1": at tuple index 3: at tuple index 0: incompatible mysql type (3 vs 4)"#,
        ),
    );
    // Spec #34.
    check(
        "DM_014",
        t(with(ab(), vec![int("new_col1")])),
        t(with(ab(), vec![int("new_col2")])),
        Err(r#"at tuple index 2: at map key "new_col2": combining contradicting orders (1 && -1)"#),
        Ok(t(with(ab(), vec![int("new_col1"), int("new_col2")]))),
    );
    for (name, other, code) in [
        ("DM_031/VARCHAR", T::varchar(10), 15),
        ("DM_031/TEXT", T::text(), 252),
        ("DM_031/JSON", T::json(), 245),
    ] {
        let message = format!(
            r#"at tuple index 2: at map key "new_col1": at tuple index 3: at tuple index 0: incompatible mysql type (3 vs {code})"#
        );
        check(
            name,
            t(with(ab(), vec![int("new_col1")])),
            t(with(ab(), vec![col("new_col1", other)])),
            Err(&message),
            Err(&message),
        );
    }
    // Spec #36: the missing NOT NULL column gets its zero default.
    check(
        "DM_033",
        t(with(ab(), vec![col("c", T::float()).not_null()])),
        t(ab()),
        Err(r#"at tuple index 2: at map key "c": column with no default value cannot be missing"#),
        Ok(t(with(
            ab(),
            vec![col("c", T::float()).not_null().default_value("0")],
        ))),
    );
    check(
        "DM_035",
        t(with(ab(), vec![int("col1"), int("col2")])),
        t(with(ab(), vec![int("col2"), int("col1")])),
        Ok(Equal),
        Ok(t(with(ab(), vec![int("col1"), int("col2")]))),
    );
    // Spec #38.
    check(
        "DM_037",
        t(with(ab(), vec![int("col1").default_value("0")])),
        t(with(ab(), vec![int("col1").default_value("-1")])),
        Err(
            r#"at tuple index 2: at map key "col1": at tuple index 0: distinct singletons (0 vs -1)"#,
        ),
        Err(
            r#"at tuple index 2: at map key "col1": at tuple index 0: distinct singletons (0 vs -1)"#,
        ),
    );
    let utf8_col1 = || col("col1", T::varchar(10).with_charset("utf8", "utf8_bin"));
    check(
        "DM_039/1",
        t(with(ab(), vec![utf8_col1()])),
        t(ab()),
        Ok(Greater),
        Ok(t(with(ab(), vec![utf8_col1()]))),
    );
    check(
        "DM_039/2",
        t(with(ab(), vec![utf8_col1()])),
        t(with(ab(), vec![utf8_col1()])),
        Ok(Equal),
        Ok(t(with(ab(), vec![utf8_col1()]))),
    );
    check(
        "DM_040",
        t(with(ab(), vec![utf8_col1()])),
        t(with(ab(), vec![col("col1", T::varchar(10))])),
        Ok(Less),
        Ok(t(with(ab(), vec![col("col1", T::varchar(10))]))),
    );
    check(
        "latin1_to_utf8mb4",
        t(vec![
            int("a"),
            col("col1", T::varchar(10).with_charset("latin1", "latin1_bin")),
        ]),
        t(vec![int("a"), col("col1", T::varchar(10))]),
        Ok(Less),
        Ok(t(vec![int("a"), col("col1", T::varchar(10))])),
    );
    // Spec #40.
    check(
        "DM_052",
        t(ab()),
        t(vec![col("c", T::bigint()), varchar10("b")]),
        Err(r#"at tuple index 2: at map key "c": combining contradicting orders (1 && -1)"#),
        Ok(t(with(ab(), vec![col("c", T::bigint())]))),
    );
    check(
        "DM_053",
        t(vec![col("c", T::bigint()), varchar10("b")]),
        t(vec![col("c", T::double()), varchar10("b")]),
        Err(
            r#"at tuple index 2: at map key "c": at tuple index 3: at tuple index 0: incompatible mysql type (8 vs 5)"#,
        ),
        Err(
            r#"at tuple index 2: at map key "c": at tuple index 3: at tuple index 0: incompatible mysql type (8 vs 5)"#,
        ),
    );
    // Spec #41.
    check(
        "DM_055",
        t(ab()),
        t(vec![col("a", T::bigint()), varchar10("b")]),
        Ok(Less),
        Ok(t(vec![col("a", T::bigint()), varchar10("b")])),
    );
    check(
        "DM_057",
        t(ab()),
        t(vec![int("c").default_value("1"), varchar10("b")]),
        Err(r#"at tuple index 2: at map key "c": combining contradicting orders (1 && -1)"#),
        Ok(t(with(ab(), vec![int("c").default_value("1")]))),
    );
    // Spec #43.
    check(
        "DM_061",
        t(ab()),
        t(vec![
            int("a"),
            col("b", T::varchar(10).with_charset("utf8", "utf8_bin")),
        ]),
        Ok(Greater),
        Ok(t(ab())),
    );
    // Spec #42.
    check(
        "DM_066",
        t(ab()),
        t(vec![int("a").default_value("1"), varchar10("b")]),
        Ok(Less),
        Ok(t(vec![int("a").default_value("1"), varchar10("b")])),
    );
    // Spec #51.
    check(
        "test case 2020-04-28-blob",
        t(vec![col("a", T::blob()), varchar10("b")]),
        t(vec![col("a", T::longblob()), varchar10("b")]),
        Ok(Less),
        Ok(t(vec![col("a", T::longblob()), varchar10("b")])),
    );
}

#[test]
fn join_schemas_generated_columns() {
    let generated = |expr: &str, stored: bool| int("new_col1").generated(expr, stored);
    check(
        "DM_041/1",
        t(with(ab(), vec![generated("`a` + 1", false)])),
        t(ab()),
        Ok(Greater),
        Ok(t(with(ab(), vec![generated("`a` + 1", false)]))),
    );
    check(
        "DM_041/2",
        t(with(ab(), vec![generated("`a` + 1", false)])),
        t(with(ab(), vec![generated("`a` + 1", false)])),
        Ok(Equal),
        Ok(t(with(ab(), vec![generated("`a` + 1", false)]))),
    );
    check(
        "DM_042",
        t(with(ab(), vec![generated("`a` + 1", true)])),
        t(ab()),
        Ok(Greater),
        Ok(t(with(ab(), vec![generated("`a` + 1", true)]))),
    );
    // Spec #39.
    check(
        "DM_043",
        t(with(ab(), vec![generated("`a` + 1", false)])),
        t(with(ab(), vec![generated("`a` + 2", false)])),
        Err(
            r#"at tuple index 2: at map key "new_col1": at tuple index 1: distinct singletons (`a` + 1 vs `a` + 2)"#,
        ),
        Err(
            r#"at tuple index 2: at map key "new_col1": at tuple index 1: distinct singletons (`a` + 1 vs `a` + 2)"#,
        ),
    );
    check(
        "DM_044",
        t(with(ab(), vec![generated("`a` + 1", false)])),
        t(with(ab(), vec![generated("`a` + 1", true)])),
        Err(
            r#"at tuple index 2: at map key "new_col1": at tuple index 2: distinct singletons (false vs true)"#,
        ),
        Err(
            r#"at tuple index 2: at map key "new_col1": at tuple index 2: distinct singletons (false vs true)"#,
        ),
    );
}

#[test]
fn join_schemas_keys() {
    // Spec #37: AUTO_INCREMENT column whose unique key is dropped.
    check(
        "DM_034",
        table(
            with(ab(), vec![int("new_col1").auto_increment()]),
            vec![unique("new_col1", &["new_col1"])],
        ),
        t(ab()),
        Err("at tuple index 3: combining contradicting orders (1 && -1)"),
        Err(r#"at map key "new_col1": auto type but not defined as a key"#),
    );
    // Spec #44.
    check(
        "DM_078",
        t(ab()),
        table(ab(), vec![primary(&["a"])]),
        Ok(Greater),
        Ok(t(ab())),
    );
    // Spec #45.
    let ab_keys = || {
        vec![
            unique("idx_a", &["a"]),
            unique("idx_b", &["b"]),
            unique("idx_ab", &["a", "b"]),
        ]
    };
    check(
        "DM_080/1",
        table(ab(), ab_keys()),
        t(ab()),
        Ok(Less),
        Ok(t(ab())),
    );
    check(
        "DM_080/2",
        table(ab(), ab_keys()),
        table(ab(), vec![unique("idx_a", &["a"]), unique("idx_b", &["b"])]),
        Ok(Less),
        Ok(table(
            ab(),
            vec![unique("idx_a", &["a"]), unique("idx_b", &["b"])],
        )),
    );
    // Spec #46.
    let ints = || vec![int("a"), int("b")];
    check(
        "Different index components",
        table(ints(), vec![key("i", &["a"])]),
        table(ints(), vec![key("i", &["b"])]),
        Err(r#"at tuple index 2: at map key "b": combining contradicting orders (-1 && 1)"#),
        Ok(t(ints())),
    );
    check(
        "Different index order",
        table(ints(), vec![key("i", &["a", "b"])]),
        table(ints(), vec![key("i", &["b", "a"])]),
        Err(r#"at tuple index 2: at map key "b": combining contradicting orders (-1 && 1)"#),
        Ok(t(ints())),
    );
    // Spec #47.
    check(
        "Different index length",
        table(vec![col("a", T::text())], vec![prefix_key("i", "a", 14)]),
        table(vec![col("a", T::text())], vec![prefix_key("i", "a", 15)]),
        Err(
            r#"at tuple index 3: at map key "i": at tuple index 0: distinct singletons ([{a 14}] vs [{a 15}])"#,
        ),
        Ok(t(vec![col("a", T::text())])),
    );
    // Spec #48.
    check(
        "Cannot drop key tied to AUTO_INC column",
        table(
            vec![int("a").auto_increment(), int("b")],
            vec![key("i", &["a"])],
        ),
        table(
            vec![int("a").auto_increment(), int("b")],
            vec![key("i", &["a", "b"])],
        ),
        Err(
            r#"at tuple index 3: at map key "i": at tuple index 0: distinct singletons ([{a -1}] vs [{a -1} {b -1}])"#,
        ),
        Err(r#"at map key "a": auto type but not defined as a key"#),
    );
    // Spec #50.
    check(
        "test case 2020-03-17",
        table(vec![int("id")], vec![primary(&["id"])]),
        table(vec![int("id"), int("c1")], vec![primary(&["id"])]),
        Ok(Less),
        Ok(table(vec![int("id"), int("c1")], vec![primary(&["id"])])),
    );
    check(
        "test case 2020-03-17-alt",
        table(vec![col("id", T::varchar(10))], vec![primary(&["id"])]),
        table(
            vec![col("id", T::varchar(10)), int("c1")],
            vec![primary(&["id"])],
        ),
        Ok(Less),
        Ok(table(
            vec![col("id", T::varchar(10)), int("c1")],
            vec![primary(&["id"])],
        )),
    );
    check(
        "test case 2020-03-17-alt-2",
        table(vec![int("id")], vec![primary(&["id"])]),
        t(vec![int("id"), int("c1")]),
        Ok(Less),
        Ok(t(vec![int("id"), int("c1")])),
    );
    // Spec #49.
    check(
        "test case 2020-03-17-alt-3",
        table(vec![int("id1"), int("id2")], vec![primary(&["id1"])]),
        table(vec![int("id1"), int("id2")], vec![primary(&["id2"])]),
        Err(r#"at tuple index 2: at map key "id2": combining contradicting orders (-1 && 1)"#),
        Ok(t(vec![int("id1"), int("id2")])),
    );
    let abc = || vec![int("a"), int("b"), int("c")];
    for (name, indexes) in [
        ("join equal single primary key", vec![primary(&["a"])]),
        (
            "join equal composite primary key",
            vec![primary(&["a", "b"])],
        ),
        (
            "join equal single index",
            vec![primary(&["a"]), key("idx_b", &["b"])],
        ),
        (
            "join equal unique index",
            vec![primary(&["a"]), unique("uni_b", &["b"])],
        ),
        (
            "join equal composite index",
            vec![primary(&["a"]), key("idx_bc", &["b", "c"])],
        ),
        (
            "join equal composite unique index",
            vec![primary(&["a"]), unique("idx_bc", &["b", "c"])],
        ),
    ] {
        check(
            name,
            table(abc(), indexes.clone()),
            table(abc(), indexes.clone()),
            Ok(Equal),
            Ok(table(abc(), indexes)),
        );
    }
}

#[test]
fn join_schemas_not_null_special_types() {
    // Spec #52: every NOT NULL column without default that one side lacks
    // gets its type's zero value.
    let left = vec![
        col("a1", T::int()),
        col("b1", T::decimal(10, 0)),
        col("c1", T::varchar(20)),
        col("d1", T::datetime(3)),
        col("e1", T::enumeration(&["abc", "def"])),
    ];
    let right = vec![
        col("a2", T::time(0)),
        col("b2", T::date()),
        col("c2", T::binary(50)),
        col("d2", T::year()),
        col("e2", T::set(&["abc", "def"])),
    ];
    let zeros = [
        "0",
        "0",
        "",
        "0000-00-00 00:00:00.000",
        "abc",
        "00:00:00",
        "0000-00-00",
        "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        "0000",
        "",
    ];
    let not_null = |cols: &[ColumnInfo]| cols.iter().map(|c| c.clone().not_null()).collect();
    let joined = left
        .iter()
        .chain(&right)
        .zip(zeros)
        .map(|(c, zero)| c.clone().not_null().default_value(zero))
        .collect();
    check(
        "not-null column with special types",
        t(not_null(&left)),
        t(not_null(&right)),
        Err(r#"at tuple index 2: at map key "a1": column with no default value cannot be missing"#),
        Ok(t(joined)),
    );
}

#[test]
fn table_options() {
    let base = || t(ab());
    let mut sharded = base();
    sharded.shard_row_id_bits = 4;
    check(
        "SHARD_ROW_ID_BITS",
        base(),
        sharded,
        Err("at tuple index 5: distinct singletons (0 vs 4)"),
        Err("at tuple index 5: distinct singletons (0 vs 4)"),
    );
    let mut compressed = base();
    compressed.compression = "zlib".to_owned();
    check(
        "COMPRESSION",
        compressed.clone(),
        base(),
        Ok(Greater),
        Ok(compressed.clone()),
    );
    let mut lz4 = base();
    lz4.compression = "lz4".to_owned();
    check(
        "COMPRESSION differs",
        compressed,
        lz4,
        Err("at tuple index 8: distinct singletons (zlib vs lz4)"),
        Err("at tuple index 8: distinct singletons (zlib vs lz4)"),
    );
    check(
        "table charset",
        base().with_charset("utf8", "utf8_bin"),
        base(),
        Ok(Less),
        Ok(base()),
    );
    check(
        "table collation",
        base().with_charset("utf8mb4", "utf8mb4_general_ci"),
        base(),
        Err("at tuple index 1: incompatible mysql collation (utf8mb4_general_ci vs utf8mb4_bin)"),
        Err("at tuple index 1: incompatible mysql collation (utf8mb4_general_ci vs utf8mb4_bin)"),
    );
    let mut auto_inc = base();
    auto_inc.auto_inc_id = 100;
    check(
        "auto_inc_id",
        base(),
        auto_inc.clone(),
        Ok(Less),
        Ok(auto_inc),
    );
}

#[test]
fn implicit_primary_key_equals_explicit_one() {
    // A PK-is-handle table has no PRIMARY index entry, only column flags.
    let mut handle = t(vec![int("id"), int("c")]);
    handle.pk_is_handle = true;
    if let Some(id) = handle.column_mut("id") {
        id.field_type.flag |=
            mysql::PRI_KEY_FLAG | mysql::NOT_NULL_FLAG | mysql::NO_DEFAULT_VALUE_FLAG;
    }
    let explicit = table(vec![int("id"), int("c")], vec![primary(&["id"])]);
    assert_eq!(enc(&handle), enc(&explicit));
    assert_eq!(enc(&handle).compare(&enc(&explicit)).ok(), Some(Equal));

    let legacy = TableInfo::from_json_str(&fixture("legacy_pk_is_handle.json")).expect("decode");
    assert_eq!(enc(&legacy).index_names().collect::<Vec<_>>(), ["primary"]);
}
