use super::*;
use crate::gojson::assert_golden as check;
use crate::gojson::DecodeError;

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

/// A cut-down TiDB TableInfo in Go's field order (not sorted).
const TABLE_BEFORE: &str = r#"{"id":42,"name":{"O":"tbl","L":"tbl"},"charset":"utf8mb4","collate":"utf8mb4_bin","cols":[{"id":1,"name":{"O":"c1","L":"c1"},"offset":0,"origin_default":null,"default":null,"type":{"Tp":3,"Flag":4099,"Flen":11,"Decimal":0,"Charset":"binary","Collate":"binary","Elems":null},"state":5,"comment":"\u003cpk\u003e"}],"index_info":null,"pk_is_handle":true,"comment":"","update_timestamp":449213433876086785}"#;
const TABLE_AFTER: &str = r#"{"id":42,"name":{"O":"tbl","L":"tbl"},"cols":[{"id":1,"name":{"O":"c1","L":"c1"}},{"id":2,"name":{"O":"c2","L":"c2"}}],"max_col_id":2}"#;

fn table(json: &str) -> TableInfoJson {
    crate::gojson::parse_value(json.as_bytes())
        .expect("test TableInfo")
        .into()
}

#[test]
fn table_infos_differing_in_small_fields_share_the_large_ones() {
    let renamed = TABLE_BEFORE.replace(r#""O":"tbl","L":"tbl""#, r#""O":"tbl2","L":"tbl2""#);
    let (a, b) = (table(TABLE_BEFORE), table(&renamed));
    assert_ne!(a, b);
    assert_eq!(a.to_text(), TABLE_BEFORE);
    assert_eq!(b.to_text(), renamed);
    let cols = |t: &TableInfoJson| {
        t.chunks()
            .iter()
            .find(|c| c.starts_with(r#""cols":"#))
            .cloned()
            .expect("cols chunk")
    };
    assert!(std::sync::Arc::ptr_eq(&cols(&a), &cols(&b)));
    assert_eq!(
        a.chunks().len(),
        3,
        "small fields before and after cols are grouped"
    );
    assert!(TableInfoJson::null().is_null());
    assert_eq!(TableInfoJson::null().to_text(), "null");
}

fn info() -> Info {
    Info {
        task: "test".into(),
        source: "mysql-replica-1".into(),
        up_schema: "db-1".into(),
        up_table: "tbl-1".into(),
        down_schema: "db".into(),
        down_table: "tbl".into(),
        ddls: strings(&[
            "ALTER TABLE tbl ADD COLUMN c1 INT",
            "ALTER TABLE tbl ADD COLUMN c2 INT",
        ]),
        table_info_before: None,
        table_info_after: None,
        ignore_conflict: false,
    }
}

#[test]
fn info_golden() {
    // DM's info_test.go fixture.
    check(
        r#"{"task":"test","source":"mysql-replica-1","up-schema":"db-1","up-table":"tbl-1","down-schema":"db","down-table":"tbl","ddls":["ALTER TABLE tbl ADD COLUMN c1 INT","ALTER TABLE tbl ADD COLUMN c2 INT"],"table-info-before":null,"table-info-after":null,"ignore-conflict":false}"#,
        &info(),
        Info::decode,
        Info::encode,
    );
    // Table infos are kept in their own key order; empty list vs null.
    let with_tables = Info {
        ddls: strings(&["ALTER TABLE tbl ADD COLUMN c2 INT"]),
        table_info_before: Some(table(TABLE_BEFORE)),
        table_info_after: Some(vec![table(TABLE_AFTER)]),
        ignore_conflict: true,
        ..info()
    };
    check(
        &format!(
            r#"{{"task":"test","source":"mysql-replica-1","up-schema":"db-1","up-table":"tbl-1","down-schema":"db","down-table":"tbl","ddls":["ALTER TABLE tbl ADD COLUMN c2 INT"],"table-info-before":{TABLE_BEFORE},"table-info-after":[{TABLE_AFTER}],"ignore-conflict":true}}"#
        ),
        &with_tables,
        Info::decode,
        Info::encode,
    );
    check(
        r#"{"task":"","source":"","up-schema":"","up-table":"","down-schema":"","down-table":"","ddls":[],"table-info-before":null,"table-info-after":[null],"ignore-conflict":false}"#,
        &Info {
            ddls: Some(vec![]),
            table_info_after: Some(vec![TableInfoJson::null()]),
            ..Info::default()
        },
        Info::decode,
        Info::encode,
    );
    assert_eq!(info().lock_id(), "test-`db`.`tbl`");
}

#[test]
fn info_legacy_shape() {
    // Written before DM v2.0.2: `table-info-after` is one object and there is
    // no `ignore-conflict`.
    let old = format!(
        r#"{{"task":"test","source":"mysql-replica-1","up-schema":"db-1","up-table":"tbl-1","down-schema":"db","down-table":"tbl","ddls":["ALTER TABLE tbl ADD COLUMN c2 INT"],"table-info-before":{TABLE_BEFORE},"table-info-after":{TABLE_AFTER}}}"#
    );
    let got = Info::decode(old.as_bytes()).unwrap();
    assert_eq!(
        got,
        Info {
            ddls: strings(&["ALTER TABLE tbl ADD COLUMN c2 INT"]),
            table_info_before: Some(table(TABLE_BEFORE)),
            table_info_after: Some(vec![table(TABLE_AFTER)]),
            ..info()
        }
    );
    // Re-encoding writes the current shape.
    assert!(String::from_utf8(got.encode()).unwrap().ends_with(&format!(
        r#""table-info-after":[{TABLE_AFTER}],"ignore-conflict":false}}"#
    )));
    // DM's fallback also fires when only `ignore-conflict` is malformed (the
    // old struct has no such field), giving a list holding one nil.
    let got = Info::decode(br#"{"task":"t","ignore-conflict":"yes"}"#).unwrap();
    assert_eq!(
        got,
        Info {
            task: "t".into(),
            table_info_after: Some(vec![TableInfoJson::null()]),
            ..Info::default()
        }
    );
    // When both shapes fail, the error is the current shape's.
    let err = Info::decode(br#"{"task":1,"table-info-after":{}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal number into Go value Info.task of type string"
    );
}

#[test]
fn info_tolerant_decode_and_errors() {
    let got = Info::decode(
        b"{\"TASK\":\"t\",\"Up-Schema\":\"\xffs\",\"unknown\":1,\"table-info-before\":null,\"Table-Info-After\":null}",
    )
    .unwrap();
    assert_eq!(
        got,
        Info {
            task: "t".into(),
            up_schema: "\u{fffd}s".into(),
            ..Info::default()
        }
    );
    for bad in [
        &b"{\"table-info-before\":[]}"[..],
        b"{\"table-info-after\":[1]}",
        b"{\"table-info-after\":\"x\"}",
        b"{\"ddls\":{}}",
        b"[1]",
        b"{",
    ] {
        assert!(
            Info::decode(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// The TableInfo fields are read from their text, apart from the other
/// fields: Go's name matching, repeats (the last value counts, an earlier
/// bad one is still the error), the legacy shape's fallback and the errors'
/// texts are those of the fields read as values.
#[test]
fn info_table_info_fields_read_from_text() {
    let table = r#"{"id":1,"name":{"O":"t","L":"t"},"cols":null}"#;
    let decode = |text: String| Info::decode(text.as_bytes());
    let info = decode(format!(
        r#"{{"table-info-after":[{table}],"Table-Info-After":null,"TABLE-INFO-BEFORE":{table}}}"#
    ))
    .unwrap();
    assert_eq!(info.table_info_after, None);
    assert_eq!(
        info.table_info_before.map(|t| t.to_text()).as_deref(),
        Some(table)
    );
    let info = decode(format!(
        r#"{{"table-info-after":null,"table-info-after":[null,{table}]}}"#
    ))
    .unwrap();
    let afters = info.table_info_after.unwrap();
    assert!(afters[0].is_null());
    assert_eq!(afters[1].to_text(), table);
    // Legacy shape: a single object, or `null`, becomes a one-element list.
    let (info, schemas) =
        Info::decode_with_schemas(format!(r#"{{"table-info-after":{table}}}"#).as_bytes()).unwrap();
    assert_eq!(info.table_info_after.unwrap()[0].to_text(), table);
    assert_eq!(
        schemas,
        InfoSchemas::of(
            &Info::decode(format!(r#"{{"table-info-after":[{table}]}}"#).as_bytes()).unwrap()
        )
    );
    for (bad, error) in [
        (
            r#"{"table-info-before":[]}"#,
            "json: cannot unmarshal array into Go value Info.table-info-before of type struct",
        ),
        (
            r#"{"table-info-after":[1]}"#,
            "json: cannot unmarshal number into Go value Info.table-info-after of type struct",
        ),
        (
            r#"{"table-info-after":"x"}"#,
            "json: cannot unmarshal string into Go value Info.table-info-after of type []struct",
        ),
        (
            r#"{"table-info-after":true,"table-info-after":[]}"#,
            "json: cannot unmarshal bool into Go value Info.table-info-after of type []struct",
        ),
        (
            r#"{"table-info-after":[],"ignore-conflict":1}"#,
            "json: cannot unmarshal number into Go value Info.ignore-conflict of type bool",
        ),
    ] {
        assert_eq!(
            Info::decode(bad.as_bytes()).unwrap_err().to_string(),
            error,
            "{bad}"
        );
    }
}

fn operation() -> Operation {
    Operation {
        id: "test-ID".into(),
        task: "test".into(),
        source: "mysql-replica-1".into(),
        up_schema: "db-1".into(),
        up_table: "tbl-1".into(),
        ddls: strings(&["ALTER TABLE tbl ADD COLUMN c1 INT"]),
        conflict_stage: ConflictStage::Detected,
        conflict_message: "conflict".into(),
        done: true,
        cols: Some(vec![]),
    }
}

#[test]
fn operation_golden() {
    // DM's operation_test.go fixture.
    check(
        r#"{"id":"test-ID","task":"test","source":"mysql-replica-1","up-schema":"db-1","up-table":"tbl-1","ddls":["ALTER TABLE tbl ADD COLUMN c1 INT"],"conflict-stage":"detected","conflict-message":"conflict","done":true,"cols":[]}"#,
        &operation(),
        Operation::decode,
        Operation::encode,
    );
    check(
        r#"{"id":"t-`d`.`b`","task":"t","source":"s","up-schema":"u","up-table":"v","ddls":null,"conflict-stage":"skip and wait for redirect","conflict-message":"a \u003c b \u0026\u0026 c\nd","done":false,"cols":null}"#,
        &Operation {
            id: "t-`d`.`b`".into(),
            task: "t".into(),
            source: "s".into(),
            up_schema: "u".into(),
            up_table: "v".into(),
            ddls: None,
            conflict_stage: ConflictStage::SkipWaitRedirect,
            conflict_message: "a < b && c\nd".into(),
            done: false,
            cols: None,
        },
        Operation::decode,
        Operation::encode,
    );
    // Missing fields: Go's zero values, including the empty stage.
    check(
        r#"{"id":"","task":"","source":"","up-schema":"","up-table":"","ddls":null,"conflict-stage":"","conflict-message":"","done":false,"cols":null}"#,
        &Operation::default(),
        Operation::decode,
        Operation::encode,
    );
    assert_eq!(Operation::decode(b"{}").unwrap(), Operation::default());
    assert!(!operation().with_done(false).done);
    assert_eq!(operation().with_done(false).with_done(true), operation());
}

#[test]
fn conflict_stages() {
    let cases = [
        ("none", ConflictStage::None),
        ("detected", ConflictStage::Detected),
        ("resolved", ConflictStage::Resolved),
        ("unlocked", ConflictStage::Unlocked),
        (
            "skip and wait for redirect",
            ConflictStage::SkipWaitRedirect,
        ),
        ("error", ConflictStage::Error),
        ("", ConflictStage::Other(String::new())),
        ("Detected", ConflictStage::Other("Detected".into())),
        ("future-stage", ConflictStage::Other("future-stage".into())),
    ];
    for (wire, stage) in cases {
        assert_eq!(ConflictStage::from_wire(wire), stage);
        assert_eq!(stage.as_str(), wire);
        assert_eq!(stage.to_string(), wire);
        // Unknown stages survive a round trip through etcd.
        let op = Operation {
            conflict_stage: stage.clone(),
            ..operation()
        };
        assert_eq!(Operation::decode(&op.encode()).unwrap(), op);
    }
    assert!(Operation::decode(br#"{"conflict-stage":1}"#).is_err());
}

#[test]
fn source_tables_golden() {
    // DM's table_test.go fixture.
    let mut st = SourceTables::new("test", "mysql-replica-1");
    assert!(st.add_table("db1", "tbl1", "db", "tbl"));
    assert!(!st.add_table("db1", "tbl1", "db", "tbl"));
    check(
        r#"{"task":"test","source":"mysql-replica-1","tables":{"db":{"tbl":{"db1":{"tbl1":{}}}}}}"#,
        &st,
        SourceTables::decode,
        SourceTables::encode,
    );
    // Keys sorted by bytes at every level, whatever the insertion order.
    let mut st = SourceTables::new("t", "s");
    for (us, ut, ds, dt) in [
        ("u2", "b", "d", "x"),
        ("u1", "z", "d", "x"),
        ("u1", "a", "d", "x"),
        ("u1", "a", "d", "W"),
        ("u1", "a", "C", "x"),
        ("u1", "<&>", "é", "x"),
    ] {
        st.add_table(us, ut, ds, dt);
    }
    check(
        r#"{"task":"t","source":"s","tables":{"C":{"x":{"u1":{"a":{}}}},"d":{"W":{"u1":{"a":{}}},"x":{"u1":{"a":{},"z":{}},"u2":{"b":{}}}},"é":{"x":{"u1":{"\u003c\u0026\u003e":{}}}}}}"#,
        &st,
        SourceTables::decode,
        SourceTables::encode,
    );
    check(
        r#"{"task":"t","source":"s","tables":{}}"#,
        &SourceTables::new("t", "s"),
        SourceTables::decode,
        SourceTables::encode,
    );
    // Removing prunes empty levels.
    assert!(st.remove_table("u1", "<&>", "é", "x"));
    assert!(!st.remove_table("u1", "<&>", "é", "x"));
    assert!(!st.tables.contains_key("é"));
    assert!(st.remove_table("u1", "a", "C", "x"));
    assert!(!st.remove_table("nope", "a", "d", "x"));
    assert_eq!(st.tables.len(), 1);

    assert_eq!(
        SourceTables::from_deleted_key("t", "s"),
        SourceTables {
            task: "t".into(),
            source: "s".into(),
            tables: Default::default()
        }
    );
}

#[test]
fn source_tables_tolerant_decode() {
    // Unsorted input, leaf objects with content, nulls, repeated `tables`
    // (Go merges into the existing map), case-insensitive names.
    let got = SourceTables::decode(
        br#"{"Task":"t","tables":{"d":{"x":{"u":{"b":{"ignored":1},"a":null}}}},"TABLES":{"e":null},"extra":[]}"#,
    )
    .unwrap();
    let mut want = SourceTables::new("t", "");
    want.add_table("u", "a", "d", "x");
    want.add_table("u", "b", "d", "x");
    want.tables.insert("e".into(), Default::default());
    assert_eq!(got, want);
    assert_eq!(
        String::from_utf8(got.encode()).unwrap(),
        r#"{"task":"t","source":"","tables":{"d":{"x":{"u":{"a":{},"b":{}}}},"e":{}}}"#
    );
    assert_eq!(
        SourceTables::decode(br#"{"tables":null}"#).unwrap(),
        SourceTables::default()
    );
    for bad in [
        &br#"{"tables":[]}"#[..],
        br#"{"tables":{"d":1}}"#,
        br#"{"tables":{"d":{"x":"y"}}}"#,
        br#"{"tables":{"d":{"x":{"u":[]}}}}"#,
        br#"{"tables":{"d":{"x":{"u":{"a":true}}}}}"#,
    ] {
        assert!(
            SourceTables::decode(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn drop_column_stages() {
    for (bytes, stage) in [
        ("0", DropColumnStage::NotDone),
        ("1", DropColumnStage::PartiallyDone),
        ("2", DropColumnStage::Done),
    ] {
        assert_eq!(DropColumnStage::decode(bytes.as_bytes()).unwrap(), stage);
        assert_eq!(stage.encode(), bytes.as_bytes());
        assert_eq!(DropColumnStage::from_i64(stage.as_i64()), Some(stage));
    }
    assert_eq!(
        DropColumnStage::decode(b" 2\n").unwrap(),
        DropColumnStage::Done
    );
    assert_eq!(
        DropColumnStage::decode(b"null").unwrap(),
        DropColumnStage::NotDone
    );
    assert_eq!(DropColumnStage::default(), DropColumnStage::NotDone);
    let cases: &[(&[u8], &str)] = &[
        (b"3", "value 3 out of range for DropColumnStage"),
        (b"-1", "value -1 out of range for DropColumnStage"),
        (
            b"1.0",
            "json: cannot unmarshal number 1.0 into Go value DropColumnStage of type int",
        ),
        (
            b"\"1\"",
            "json: cannot unmarshal string into Go value DropColumnStage of type int",
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            DropColumnStage::decode(bytes).unwrap_err().to_string(),
            *want
        );
    }
    for bad in [&b""[..], b"1 2", b"x"] {
        assert!(matches!(
            DropColumnStage::decode(bad),
            Err(DecodeError::Syntax { .. })
        ));
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut st = SourceTables::new("t", "s");
    st.add_table("u", "a", "d", "x");
    let with_tables = Info {
        table_info_before: Some(table(TABLE_BEFORE)),
        table_info_after: Some(vec![table(TABLE_AFTER)]),
        ..info()
    };
    let seeds: Vec<Vec<u8>> = vec![
        with_tables.encode(),
        operation().encode(),
        st.encode(),
        b"2".to_vec(),
    ];
    for bytes in crate::decoder_fuzz::mutated_seeds(&seeds, 4000, 0x2545_f491_4f6c_dd1d) {
        // Whatever decodes re-encodes to a fixed point. (Values, not bytes,
        // may differ once: a TableInfo number such as `4e2` is written as
        // Go writes that float, `400`.)
        if let Ok(i) = Info::decode(&bytes) {
            let once = i.encode();
            assert_eq!(Info::decode(&once).unwrap().encode(), once);
        }
        if let Ok(o) = Operation::decode(&bytes) {
            assert_eq!(Operation::decode(&o.encode()).unwrap(), o);
        }
        if let Ok(s) = SourceTables::decode(&bytes) {
            assert_eq!(SourceTables::decode(&s.encode()).unwrap(), s);
        }
        if let Ok(d) = DropColumnStage::decode(&bytes) {
            assert_eq!(DropColumnStage::decode(&d.encode()).unwrap(), d);
        }
        let _ = crate::election::LeaderValue::decode(&bytes);
        let _ = crate::keys::OPTIMISM_INFO.decode(&bytes);
    }
}

/// The schemas an Info's decoding hands to TrySync are those its text
/// gives: for full TableInfos, `null` ones, malformed ones, and the legacy
/// shape.
#[test]
fn schemas_decoded_with_an_info_are_those_of_its_text() {
    use crate::optimism::lock::tests::{enc, info as lock_info};
    let full = lock_info(
        "t1",
        &[
            "ALTER TABLE bar ADD COLUMN c2 varchar(4)",
            "ALTER TABLE bar ADD UNIQUE u(c2)",
        ],
        "id int pk, c1 text",
        &[
            "id int pk, c1 text, c2 varchar(4)",
            "id int pk, c1 text, c2 varchar(4), unique u(c2)",
        ],
    );
    let mut with_null_after = full.clone();
    with_null_after.table_info_after = Some(vec![table(TABLE_AFTER), TableInfoJson::null()]);
    let without_before = Info {
        table_info_before: None,
        table_info_after: None,
        ..full.clone()
    };
    for info in [full.clone(), with_null_after, without_before] {
        let (decoded, schemas) = Info::decode_with_schemas(&info.encode()).unwrap();
        assert_eq!(decoded, info);
        assert_eq!(schemas, InfoSchemas::of(&info));
    }

    let (_, schemas) = Info::decode_with_schemas(&full.encode()).unwrap();
    let (before, afters) = schemas.into_parts();
    assert_eq!(before, Some(Ok(enc("id int pk, c1 text"))));
    assert_eq!(
        afters,
        vec![
            Ok(enc("id int pk, c1 text, c2 varchar(4)")),
            Ok(enc("id int pk, c1 text, c2 varchar(4), unique u(c2)")),
        ]
    );

    // A TableInfo that does not decode gives the same message both ways.
    let bad = br#"{"task":"t","ddls":["d"],"table-info-before":{"cols":5},"table-info-after":[{"cols":[{"id":"x"}]}]}"#;
    let (info, schemas) = Info::decode_with_schemas(bad).unwrap();
    assert_eq!(schemas, InfoSchemas::of(&info));
    let (before, afters) = schemas.into_parts();
    assert!(matches!(before, Some(Err(m)) if m.contains("cols")));
    assert!(matches!(afters.as_slice(), [Err(m)] if m.contains("id")));

    // DM before v2.0.2: one after-schema object, wrapped into a list.
    let legacy = format!(
        r#"{{"task":"t","ddls":["d"],"table-info-before":{TABLE_BEFORE},"table-info-after":{TABLE_AFTER}}}"#
    );
    let (info, schemas) = Info::decode_with_schemas(legacy.as_bytes()).unwrap();
    assert_eq!(info.table_info_after.as_ref().map(Vec::len), Some(1));
    assert_eq!(schemas, InfoSchemas::of(&info));
    assert_eq!(schemas.into_parts().1.len(), 1);
}

/// A TableInfo member nested deeper than the JSON parser allows makes the
/// Info a syntax error, as the whole document parsed as a value did; it is
/// never read as something else. (The limit now counts from the member, so
/// a TableInfo may be two levels deeper than before; Go allows 10,000.)
#[test]
fn a_table_info_member_nested_too_deep_is_a_syntax_error() {
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    for member in ["x_unknown", "cols"] {
        let info = |depth| {
            format!(
                r#"{{"table-info-before":{{"{member}":{}}}}}"#,
                nested(depth)
            )
        };
        for bytes in [info(200).into_bytes(), info(128).into_bytes()] {
            let error = Info::decode(&bytes).unwrap_err();
            assert!(
                error.to_string().contains("recursion limit exceeded"),
                "{error}"
            );
            assert_eq!(Info::decode_with_schemas(&bytes).unwrap_err(), error);
        }
        let deep = Info::decode(info(127).as_bytes()).unwrap();
        let text = deep.table_info_before.unwrap().to_text();
        assert_eq!(text, format!(r#"{{"{member}":{}}}"#, nested(127)));
    }
}
