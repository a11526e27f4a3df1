//! TiDB's `table_test.go` (`TestJoinSchemas`) and further table
//! examples, plus decoding, rendering and the fixtures.

use std::cmp::Ordering::{self, Equal, Greater, Less};
use std::mem::discriminant;

use super::*;
use crate::schemacmp::test_support::*;
use crate::schemacmp::types::Length;
use crate::schemacmp::{Byte, FieldTp, Int, PathSegment};
use crate::tableinfo::FieldType as T;

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

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn spec_example_encoding() {
    let ti = TableInfo::from_json_str(&fixture("spec_example_t.json")).expect("decode");
    let table = enc(&ti);
    let lat = table.lattice();
    let id = &lat.columns.entries["id"];
    assert_eq!(id.default, Maybe(None));
    assert_eq!(id.ty.tp, FieldTp(3));
    assert_eq!(id.ty.flen, Length::Ordered(Int(11)));
    assert_eq!(id.ty.other_flags, Singleton(0));
    assert_eq!(id.ty.nullable, Bool(false));
    assert_eq!(id.ty.anti_keys, Byte(191));
    assert_eq!(id.ty.default_flag, Maybe(None));
    let c1 = &lat.columns.entries["c1"];
    assert_eq!(
        c1.default,
        Maybe(Some(Singleton(DefaultValue(serde_json::json!("")))))
    );
    assert_eq!(c1.ty.anti_keys, Byte(255));
    assert_eq!(c1.ty.default_flag, Maybe(Some(Singleton(0))));
    let c2 = &lat.columns.entries["c2"];
    assert_eq!(c2.ty.flen, Length::Exact(Singleton(10)));
    assert_eq!(c2.ty.decimal, Length::Exact(Singleton(2)));
    assert_eq!(c2.ty.nullable, Bool(true));
    let pk = &lat.indices.entries["primary"];
    assert_eq!(pk.parts(), [("id".to_owned(), -1)]);
    assert_eq!((pk.not_unique, pk.not_primary), (Bool(false), Bool(false)));
    assert_eq!(pk.index_type, Singleton(IndexType(1)));
    assert_eq!(lat.compression, Maybe(None));

    assert_eq!(
        table.to_string(),
        "CREATE TABLE `tbl`(`c1` VARCHAR(20) CHARACTER SET UTF8MB4 COLLATE utf8mb4_bin NOT NULL DEFAULT , \
         `c2` DECIMAL(10,2), `id` INT(11) NOT NULL, PRIMARY KEY (`id`)) CHARSET UTF8MB4 COLLATE UTF8MB4_BIN"
    );

    // Adding a column (the Info example's table-info-after) grows the table.
    let mut after = ti.clone();
    after.push_column(ColumnInfo::new("c3", T::int()));
    assert_eq!(table.compare(&enc(&after)).ok(), Some(Less));
    assert_eq!(table.join(&enc(&after)).ok(), Some(enc(&after)));
}

#[test]
fn fixtures_compare_as_the_spec_says() {
    let orders =
        TableInfo::from_json_str(&fixture("orders_enum_set_utf8mb4.json")).expect("decode");
    let base = enc(&orders);
    assert_eq!(base.compare(&base).ok(), Some(Equal));
    assert_eq!(base.join(&base).ok(), Some(base.clone()));

    // A shard that appended an ENUM member is larger.
    let mut more_status = orders.clone();
    if let Some(c) = more_status.column_mut("status") {
        c.field_type.elems.push("refunded".to_owned());
    }
    assert_eq!(base.compare(&enc(&more_status)).ok(), Some(Less));

    // Reordering SET members conflicts, naming the column and the component.
    let mut reordered = orders.clone();
    if let Some(c) = reordered.column_mut("tags") {
        c.field_type.elems.reverse();
    }
    let err = base
        .compare(&enc(&reordered))
        .expect_err("reorder conflicts");
    assert_eq!(
        err.to_string(),
        r#"at tuple index 2: at map key "tags": at tuple index 3: at tuple index 9: at string list index 0: distinct values ("gift" vs "fragile")"#
    );
    assert_eq!(err.column(), Some("tags"));

    // Dropping the secondary index makes the table larger; the join drops it.
    let mut no_index = orders.clone();
    no_index
        .indices
        .retain(|i| i.name.l != "idx_status_created");
    if let Some(c) = no_index.column_mut("status") {
        c.field_type.flag &= !mysql::MULTIPLE_KEY_FLAG;
    }
    assert_eq!(base.compare(&enc(&no_index)).ok(), Some(Less));
    assert_eq!(base.join(&enc(&no_index)).ok(), Some(enc(&no_index)));

    // utf8 → utf8mb4 on a column is a widening.
    let mut utf8 = orders.clone();
    if let Some(c) = utf8.column_mut("note") {
        c.field_type.charset = "utf8".to_owned();
        c.field_type.collate = "utf8_general_ci".to_owned();
    }
    assert_eq!(enc(&utf8).compare(&base).ok(), Some(Less));

    // The decoded column types are what DM reads (`Flen`).
    let types = base.column_field_types();
    assert_eq!(types["note"].flen, 255);
    assert_eq!(types["created_at"].decimal, 3);
    assert_eq!(types["id"].flag, orders.columns[0].field_type.flag);
    assert!(base.has_column("note") && !base.has_column("Note"));
}

#[test]
fn decoding_back_to_table_info() {
    let orders =
        TableInfo::from_json_str(&fixture("orders_enum_set_utf8mb4.json")).expect("decode");
    let table = enc(&orders);
    let decoded = table.to_table_info("orders");
    // Re-encoding the decoded schema gives the same lattice element.
    assert_eq!(enc(&decoded), table);
    let names: Vec<&str> = decoded.columns.iter().map(|c| c.name.o.as_str()).collect();
    assert_eq!(
        names,
        ["amount", "created_at", "id", "note", "status", "tags"]
    );
    assert_eq!(
        decoded.index("primary").map(|i| i.name.o.as_str()),
        Some("PRIMARY")
    );
    let uk = decoded.index("uk_note").expect("uk_note");
    assert_eq!((uk.columns[0].length, uk.columns[0].offset), (64, 3));

    // A joined schema decodes too (e.g. for inspection or a DDL generator).
    let wide = table
        .join(&enc(&table_with_extra_column(&orders)))
        .expect("join");
    assert!(wide.to_table_info("orders").column("extra").is_some());
}

fn table_with_extra_column(base: &TableInfo) -> TableInfo {
    base.clone()
        .with_column(ColumnInfo::new("extra", T::varchar(32)).default_value("x"))
}

#[test]
fn errors_name_the_column() {
    let a = enc(&t(with(ab(), vec![int("c")])));
    let b = enc(&t(with(ab(), vec![col("c", T::double())])));
    let err = a.compare(&b).expect_err("conflict");
    assert_eq!(err.column(), Some("c"));
    let path: Vec<PathSegment> = err.path().cloned().collect();
    assert_eq!(
        path,
        [
            PathSegment::TupleIndex(2),
            PathSegment::MapKey("c".to_owned()),
            PathSegment::TupleIndex(3),
            PathSegment::TupleIndex(0),
        ]
    );
    assert_eq!(
        err.kind(),
        &IncompatibleKind::MysqlType { left: 3, right: 5 }
    );
    let table_level = enc(&t(ab()).with_charset("latin1", "latin1_bin"))
        .compare(&enc(&t(ab()).with_charset("utf8", "utf8_bin")))
        .expect_err("charset");
    assert_eq!(table_level.column(), None);
}

#[test]
fn create_table_rendering() {
    let ti = table(
        vec![
            col("id", T::bigint().unsigned()).auto_increment(),
            col(
                "name",
                T::varchar(64).with_charset("utf8", "utf8_general_ci"),
            )
            .not_null()
            .default_value("it's"),
            col("kind", T::enumeration(&["a", "b'c"])).default_value("a"),
            col("blob", T::blob()),
            col("ts", T::datetime(3)).not_null(),
            col("score", T::double()),
            int("g").generated("`id` + 1", true),
        ],
        vec![
            primary(&["id"]),
            unique("uk_name", &["name"]),
            prefix_key("k_blob", "blob", 10).using(mysql::INDEX_TYPE_HASH),
        ],
    );
    let mut ti = ti;
    ti.shard_row_id_bits = 2;
    ti.auto_random_bits = 5;
    ti.compression = "zlib".to_owned();
    assert_eq!(
        enc(&ti).to_create_table("t1"),
        "CREATE TABLE `t1`(`blob` BLOB(65535), \
         `g` INT(11) GENERATED ALWAYS AS (`id` + 1) STORED, \
         `id` BIGINT(20) UNSIGNED NOT NULL AUTO_INCREMENT, \
         `kind` ENUM('a','b''c') DEFAULT a, \
         `name` VARCHAR(64) CHARACTER SET UTF8 COLLATE utf8_general_ci NOT NULL DEFAULT it's, \
         `score` DOUBLE(22), \
         `ts` DATETIME(3) NOT NULL, \
         KEY `k_blob` USING HASH (`blob`(10)), PRIMARY KEY (`id`), UNIQUE KEY `uk_name` (`name`)) \
         CHARSET UTF8MB4 COLLATE UTF8MB4_BIN SHARD_ROW_ID_BITS 2/* AUTO_RANDOM_BITS 5 */ COMPRESSION 'zlib'"
    );
}

/// The two corners where TiDB's join depends on the order of the operands
/// (kept on purpose, see the module docs): checked so a change is noticed.
#[test]
fn join_order_dependence_inherited_from_tidb() {
    // latin1 and utf8 have no join, although both fit under utf8mb4.
    let latin1 = enc(&t(ab()).with_charset("latin1", "latin1_bin"));
    let utf8 = enc(&t(ab()).with_charset("utf8", "utf8_bin"));
    let utf8mb4 = enc(&t(ab()));
    assert!(latin1.join(&utf8mb4).and_then(|j| j.join(&utf8)).is_ok());
    assert_eq!(
        latin1.join(&utf8).map_err(|e| e.to_string()),
        Err("at tuple index 0: incompatible mysql charset (latin1 vs utf8)".to_owned())
    );

    // A NOT NULL column without default gets its zero default only when
    // joined with a table that lacks it, which can clash with an explicit
    // default met later.
    let no_default = enc(&t(with(ab(), vec![int("c").not_null()])));
    let without = enc(&t(ab()));
    let five = enc(&t(with(ab(), vec![int("c").not_null().default_value("5")])));
    assert!(no_default
        .join(&five)
        .and_then(|j| j.join(&without))
        .is_ok());
    assert_eq!(
        no_default
            .join(&without)
            .and_then(|j| j.join(&five))
            .map_err(|e| e.to_string()),
        Err(
            r#"at tuple index 2: at map key "c": at tuple index 0: distinct singletons (0 vs 5)"#
                .to_owned()
        )
    );
}

/// DM's lock-level consequences of the lattice (docs/protocol.md#schema-lattice): the direction
/// each DDL moves a shard's schema, as `compare(before, after)`.
#[test]
fn ddl_directions_seen_by_the_lock() {
    let before = || {
        table(
            vec![int("id"), int("a"), varchar10("b")],
            vec![primary(&["id"]), key("idx_b", &["b"])],
        )
    };
    let after = |columns: Vec<ColumnInfo>, indexes: Vec<IndexInfo>| table(columns, indexes);
    let keys = || vec![primary(&["id"]), key("idx_b", &["b"])];
    let cases: Vec<(&str, TableInfo, Result<Ordering, ()>)> = vec![
        (
            "ADD COLUMN",
            after(vec![int("id"), int("a"), varchar10("b"), int("c")], keys()),
            Ok(Less),
        ),
        (
            "DROP INDEX",
            after(
                vec![int("id"), int("a"), varchar10("b")],
                vec![primary(&["id"])],
            ),
            Ok(Less),
        ),
        (
            "INT -> BIGINT",
            after(
                vec![int("id"), col("a", T::bigint()), varchar10("b")],
                keys(),
            ),
            Ok(Less),
        ),
        (
            "DROP COLUMN",
            after(vec![int("id"), varchar10("b")], keys()),
            Ok(Greater),
        ),
        (
            "ADD INDEX",
            after(
                vec![int("id"), int("a"), varchar10("b")],
                vec![primary(&["id"]), key("idx_b", &["b"]), key("idx_a", &["a"])],
            ),
            Ok(Greater),
        ),
        (
            "NULL -> NOT NULL",
            after(vec![int("id"), int("a").not_null(), varchar10("b")], keys()),
            Ok(Greater),
        ),
        (
            "RENAME COLUMN",
            after(vec![int("id"), int("a2"), varchar10("b")], keys()),
            Err(()),
        ),
        (
            "MODIFY COLUMN type",
            after(
                vec![int("id"), col("a", T::varchar(10)), varchar10("b")],
                keys(),
            ),
            Err(()),
        ),
        (
            "ADD COLUMN NOT NULL without default",
            after(
                vec![int("id"), int("a"), varchar10("b"), int("c").not_null()],
                keys(),
            ),
            Err(()),
        ),
    ];
    let base = enc(&before());
    for (name, after, want) in cases {
        let got = base.compare(&enc(&after)).map_err(|_| ());
        assert_eq!(got, want, "{name}");
    }
    // NOT NULL -> NULL is the reverse of NULL -> NOT NULL.
    let not_null = enc(&after(
        vec![int("id"), int("a").not_null(), varchar10("b")],
        keys(),
    ));
    assert_eq!(not_null.compare(&base).ok(), Some(Less));

    // Two shards add the same column with different types: no join.
    let with_int = enc(&after(
        vec![int("id"), int("a"), varchar10("b"), int("c")],
        keys(),
    ));
    let with_text = enc(&after(
        vec![int("id"), int("a"), varchar10("b"), col("c", T::text())],
        keys(),
    ));
    assert!(base
        .join(&with_int)
        .and_then(|j| j.join(&with_text))
        .is_err());
}
