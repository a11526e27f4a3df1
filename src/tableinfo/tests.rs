use serde_json::{json, Value};

use super::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("cannot read fixture {path}: {e}"),
    }
}

const FIXTURES: &[&str] = &[
    "spec_example_t.json",
    "orders_enum_set_utf8mb4.json",
    "newer_tidb_unknown_keys.json",
    "legacy_pk_is_handle.json",
];

/// Key order matters, and `Value`'s own equality ignores it, so compare the
/// compact text as well.
/// The keys of JSON object `v`, in their order.
fn object_keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_same_json(actual: &Value, expected: &Value) {
    assert_eq!(actual, expected);
    assert_eq!(actual.to_string(), expected.to_string());
}

#[test]
fn fixtures_round_trip_with_identical_key_order() {
    for name in FIXTURES {
        let original: Value = serde_json::from_str(&fixture(name)).expect("fixture is JSON");
        let decoded =
            TableInfo::from_json_value(original.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_same_json(&decoded.to_json_value(), &original);

        // The serde impls are the same codec.
        let via_serde: TableInfo = serde_json::from_value(original.clone()).expect("serde decode");
        assert_eq!(via_serde, decoded);
        let reencoded = serde_json::to_value(&via_serde).expect("serde encode");
        assert_same_json(&reencoded, &original);
    }
}

#[test]
fn spec_example_decodes_to_expected_fields() {
    let t = TableInfo::from_json_str(&fixture("spec_example_t.json")).expect("decode");
    assert_eq!((t.name.o.as_str(), t.name.l.as_str()), ("t", "t"));
    assert_eq!(
        (t.charset.as_str(), t.collate.as_str()),
        ("utf8mb4", "utf8mb4_bin")
    );
    assert_eq!(t.version, 5);
    let cols: Vec<(&str, u8, u64, i64, i64, &Value)> = t
        .columns
        .iter()
        .map(|c| {
            let ft = &c.field_type;
            (
                c.name.l.as_str(),
                ft.tp,
                ft.flag,
                ft.flen,
                ft.decimal,
                &c.default,
            )
        })
        .collect();
    assert_eq!(
        cols,
        vec![
            ("id", mysql::TYPE_LONG, 4099, 11, 0, &Value::Null),
            ("c1", mysql::TYPE_VARCHAR, 1, 20, 0, &json!("")),
            ("c2", mysql::TYPE_NEW_DECIMAL, 0, 10, 2, &Value::Null),
        ]
    );
    let pk = t.index("primary").expect("primary index");
    assert!(pk.is_primary && pk.is_unique);
    assert_eq!(pk.name.o, "PRIMARY");
    assert_eq!(pk.columns[0].length, -1);
    assert!(t.extra.is_empty());
}

#[test]
fn builders_reproduce_the_tracker_output() {
    let built = TableInfo::new("t")
        .with_column(ColumnInfo::new("id", FieldType::int()))
        .with_column(
            ColumnInfo::new("c1", FieldType::varchar(20))
                .not_null()
                .default_value(""),
        )
        .with_column(ColumnInfo::new("c2", FieldType::decimal(10, 2)))
        .with_index(IndexInfo::primary(&["id"]));
    let expected: Value = serde_json::from_str(&fixture("spec_example_t.json")).expect("JSON");
    assert_same_json(&built.to_json_value(), &expected);
    // Equality ignores the JSON layout of the source.
    assert_eq!(TableInfo::from_json_value(expected).expect("decode"), built);
}

#[test]
fn builder_key_flags_follow_tidb() {
    let t = TableInfo::new("t")
        .with_column(ColumnInfo::new("a", FieldType::int()))
        .with_column(ColumnInfo::new("b", FieldType::int()))
        .with_column(ColumnInfo::new("c", FieldType::int()).default_value("1"))
        .with_column(ColumnInfo::new("d", FieldType::int()))
        .with_index(IndexInfo::new("ua", &["a"]).unique())
        .with_index(IndexInfo::new("ubc", &["b", "c"]).unique())
        .with_index(IndexInfo::new("kd", &["d"]))
        .with_index(IndexInfo::primary(&["c", "d"]));
    let flags: Vec<(i64, i64, u64)> = t
        .columns
        .iter()
        .map(|c| (c.id, c.offset, c.field_type.flag))
        .collect();
    assert_eq!(
        flags,
        vec![
            (1, 0, mysql::UNIQUE_KEY_FLAG),
            (2, 1, mysql::MULTIPLE_KEY_FLAG),
            // A primary key column with a default does not get NO_DEFAULT_VALUE.
            (3, 2, mysql::PRI_KEY_FLAG | mysql::NOT_NULL_FLAG),
            (
                4,
                3,
                mysql::MULTIPLE_KEY_FLAG
                    | mysql::PRI_KEY_FLAG
                    | mysql::NOT_NULL_FLAG
                    | mysql::NO_DEFAULT_VALUE_FLAG
            ),
        ]
    );
    let offsets: Vec<i64> = t.indices[3].columns.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, vec![2, 3]);
    assert_eq!((t.max_col_id, t.max_idx_id), (4, 4));
}

/// Decoding one JSON text: `Ok(check)` runs assertions on the result,
/// `Err(message)` is the expected error text.
fn check(input: &str, expected: Result<fn(&TableInfo), &str>) {
    let result = TableInfo::from_json_str(input);
    match (result, expected) {
        (Ok(t), Ok(assertions)) => assertions(&t),
        (Err(e), Err(message)) => assert_eq!(e.to_string(), message, "input: {input}"),
        (Ok(t), Err(message)) => panic!("input {input}: expected error {message}, got {t:?}"),
        (Err(e), Ok(_)) => panic!("input {input}: unexpected error {e}"),
    }
}

#[test]
fn decoding_follows_go_rules() {
    check(
        "{}",
        Ok(|t| {
            assert_eq!(*t, TableInfo::default());
            assert_same_json(&t.to_json_value(), &json!({}));
        }),
    );
    // Keys match case-insensitively; missing keys are zero values.
    check(
        r#"{"COLS":[{"Name":{"o":"A"},"TYPE":{"tp":3,"flag":1}}],"shardrowidbits":4}"#,
        Ok(|t| {
            let c = &t.columns[0];
            assert_eq!((c.name.o.as_str(), c.name.l.as_str()), ("A", ""));
            assert_eq!(
                (c.field_type.tp, c.field_type.flag, c.field_type.flen),
                (3, 1, 0)
            );
            assert_eq!(t.shard_row_id_bits, 4);
        }),
    );
    // Exact matches do not shadow later case-insensitive ones: last wins.
    check(
        r#"{"cols":[{"type":{"Tp":3,"tp":5}}]}"#,
        Ok(|t| assert_eq!(t.columns[0].field_type.tp, 5)),
    );
    // null is the zero value, including inside lists.
    check(
        r#"{"charset":null,"index_info":null,"cols":[{"type":{"Elems":["a",null]}}]}"#,
        Ok(|t| {
            assert_eq!(t.charset, "");
            assert!(t.indices.is_empty());
            assert_eq!(
                t.columns[0].field_type.elems,
                vec!["a".to_owned(), String::new()]
            );
        }),
    );
    // Unknown keys are kept in place.
    check(
        r#"{"id":1,"future":{"x":[1,2]},"name":{"O":"t","L":"t","extra_name_key":true}}"#,
        Ok(|t| {
            assert_eq!(t.extra.get("future"), Some(&json!({"x": [1, 2]})));
            assert_eq!(t.name.extra.get("extra_name_key"), Some(&json!(true)));
            assert_eq!(t.extra.len(), 1);
            assert_eq!(
                t.to_json_value().to_string(),
                r#"{"id":1,"future":{"x":[1,2]},"name":{"O":"t","L":"t","extra_name_key":true}}"#
            );
        }),
    );
    check(r#"{"id":"1"}"#, Err("$.id: expected integer, found string"));
    check(
        r#"{"cols":[{},{"type":{"Tp":300}}]}"#,
        Err("$.cols[1].type.Tp: number 300 does not fit uint8"),
    );
    check(
        r#"{"cols":[{"offset":1.5}]}"#,
        Err("$.cols[0].offset: expected integer, found number 1.5"),
    );
    check(
        r#"{"state":-1}"#,
        Err("$.state: number -1 does not fit uint8"),
    );
    check(
        r#"{"auto_inc_id":18446744073709551615}"#,
        Err("$.auto_inc_id: number 18446744073709551615 does not fit int64"),
    );
    check(
        r#"{"index_info":{}}"#,
        Err("$.index_info: expected array, found object"),
    );
    check(
        r#"{"pk_is_handle":1}"#,
        Err("$.pk_is_handle: expected boolean, found number 1"),
    );
    check("null", Err("$: expected object, found null"));
    check("[1]", Err("$: expected object, found array"));
    check(
        "{",
        Err("table info is not valid JSON: EOF while parsing an object at line 1 column 1"),
    );
}

#[test]
fn absent_fields_reappear_only_when_set() {
    let original: Value = serde_json::from_str(&fixture("legacy_pk_is_handle.json")).expect("JSON");
    let mut t = TableInfo::from_json_value(original.clone()).expect("decode");
    assert!(t.indices.is_empty());
    assert!(t.pk_is_handle);
    assert_same_json(&t.to_json_value(), &original);

    // A field the legacy source lacked is placed where TiDB emits it.
    t.columns[0].origin_default_bit = json!("AQ==");
    t.columns[0].field_type.array = true;
    let encoded = t.to_json_value();
    let col_keys = object_keys(&encoded["cols"][0]);
    assert_eq!(
        &col_keys[..5],
        [
            "id",
            "name",
            "offset",
            "origin_default",
            "origin_default_bit"
        ]
    );
    let type_keys = object_keys(&encoded["cols"][0]["type"]);
    assert_eq!(
        type_keys,
        ["Tp", "Flag", "Flen", "Decimal", "Charset", "Collate", "Elems", "Array"]
    );
}

#[test]
fn omitempty_and_nil_lists_match_go() {
    let mut t = TableInfo::new("t");
    let encoded = t.to_json_value();
    assert!(encoded.get("auto_inc_id_extra").is_none());
    assert!(encoded.get("old_schema_id").is_none());
    assert_eq!(encoded["cols"], Value::Null);
    assert_eq!(encoded["index_info"], Value::Null);

    t.auto_inc_id_extra = 7;
    let encoded = t.to_json_value();
    let keys = object_keys(&encoded);
    let at = keys
        .iter()
        .position(|k| *k == "auto_inc_id")
        .expect("auto_inc_id");
    assert_eq!(keys[at + 1], "auto_inc_id_extra");

    // A zero omitempty key the source carried survives the round trip.
    let original: Value =
        serde_json::from_str(&fixture("newer_tidb_unknown_keys.json")).expect("JSON");
    assert_eq!(original["auto_inc_id_extra"], json!(0));
    let decoded = TableInfo::from_json_value(original.clone()).expect("decode");
    assert_eq!(decoded.extra.get("is_active_active"), Some(&json!(false)));
    assert_eq!(
        decoded.indices[0].extra.get("global_index_version"),
        Some(&json!(0))
    );
    assert_same_json(&decoded.to_json_value(), &original);
}
