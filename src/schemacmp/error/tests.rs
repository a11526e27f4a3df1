//! Message formats of docs/protocol.md#schema-lattice and the Go formatting they rely on.

use super::*;

fn check(error: Incompatible, message: &str, column: Option<&str>) {
    assert_eq!(error.to_string(), message);
    assert_eq!(error.column(), column, "{message}");
    assert_eq!(format!("{error:?}"), format!("Incompatible({message})"));
}

#[test]
fn messages() {
    use IncompatibleKind::*;
    let e = Incompatible::new;
    check(
        e(TypeMismatch {
            left: "schemacmp.Bool",
            right: "schemacmp.maybe",
        }),
        "type mismatch (schemacmp.Bool vs schemacmp.maybe)",
        None,
    );
    check(
        e(TupleLength { left: 0, right: 1 }),
        "tuple length mismatch (0 vs 1)",
        None,
    );
    check(
        e(DistinctSingletons {
            left: "a + 1".into(),
            right: "a + 2".into(),
        }),
        "distinct singletons (a + 1 vs a + 2)",
        None,
    );
    check(
        e(MysqlType { left: 3, right: 5 }),
        "incompatible mysql type (3 vs 5)",
        None,
    );
    check(
        e(Charset {
            left: "uTF8".into(),
            right: "GBK".into(),
        }),
        "incompatible mysql charset (uTF8 vs GBK)",
        None,
    );
    check(
        e(Collation {
            left: "a_bin".into(),
            right: "a_ci".into(),
        }),
        "incompatible mysql collation (a_bin vs a_ci)",
        None,
    );
    check(
        e(NonInclusiveBitSets {
            left: 0,
            right: 0x1f,
        }),
        "non-inclusive bit sets (0x0 vs 0x1f)",
        None,
    );
    check(
        e(ContradictingOrders { left: -1, right: 1 }),
        "combining contradicting orders (-1 && 1)",
        None,
    );
    check(
        e(StringList {
            index: 2,
            left: "a\"b".into(),
            right: "c\\d".into(),
        }),
        r#"at string list index 2: distinct values ("a\"b" vs "c\\d")"#,
        None,
    );
    check(
        e(AutoTypeWithoutKey),
        "auto type but not defined as a key",
        None,
    );
    check(
        e(MissingColumnWithoutDefault),
        "column with no default value cannot be missing",
        None,
    );
    // Nesting, as produced by a column type clash inside a table.
    check(
        e(MysqlType { left: 3, right: 5 })
            .at_tuple_index(0)
            .at_tuple_index(3)
            .at_map_key("c")
            .at_tuple_index(2),
        r#"at tuple index 2: at map key "c": at tuple index 3: at tuple index 0: incompatible mysql type (3 vs 5)"#,
        Some("c"),
    );
    // The table-level AUTO_INCREMENT check is only map-key wrapped.
    check(
        e(AutoTypeWithoutKey).at_map_key("id"),
        r#"at map key "id": auto type but not defined as a key"#,
        Some("id"),
    );
    check(
        e(ContradictingOrders { left: 1, right: -1 }).at_tuple_index(3),
        "at tuple index 3: combining contradicting orders (1 && -1)",
        None,
    );
}

#[test]
fn go_quote_matches_strconv_quote() {
    let cases = [
        ("", r#""""#),
        ("c1", r#""c1""#),
        ("a\"b\\c", r#""a\"b\\c""#),
        ("tab\tnl\ncr\r", r#""tab\tnl\ncr\r""#),
        ("\u{7}\u{8}\u{c}\u{b}", r#""\a\b\f\v""#),
        ("\u{0}\u{1f}\u{7f}", r#""\x00\x1f\x7f""#),
        ("列名", "\"列名\""),
        ("é ü", "\"é ü\""),
        ("\u{a0}\u{200b}\u{feff}", r#""\u00a0\u200b\ufeff""#),
        ("\u{e0001}", r#""\U000e0001""#),
        ("emoji 🙂", "\"emoji 🙂\""),
    ];
    for (input, want) in cases {
        assert_eq!(go_quote(input), want, "{input:?}");
    }
}

#[test]
fn go_float_matches_percent_v() {
    let cases = [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (2.5, "2.5"),
        (100.0, "100"),
        (123_456.0, "123456"),
        (1_000_000.0, "1e+06"),
        (1_234_567.0, "1.234567e+06"),
        (123_456_789.0, "1.23456789e+08"),
        (0.0001, "0.0001"),
        (0.000_012_5, "1.25e-05"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (-3.25e-7, "-3.25e-07"),
        (0.1, "0.1"),
        (f64::INFINITY, "+Inf"),
        (f64::NAN, "NaN"),
    ];
    for (input, want) in cases {
        assert_eq!(go_float(input), want, "{input}");
    }
}
