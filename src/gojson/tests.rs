use serde_json::json;

use super::*;

/// Encode `input` as a Go string literal and compare with `want`.
fn check(input: &[u8], want: &str) {
    let mut out = Vec::new();
    write_bytes_as_str(&mut out, input);
    assert_eq!(String::from_utf8_lossy(&out), want, "{input:?}");
    if let Ok(s) = std::str::from_utf8(input) {
        let mut out2 = Vec::new();
        write_str(&mut out2, s);
        assert_eq!(out, out2);
    }
}

#[test]
fn string_escaping_matches_go() {
    let cases: &[(&[u8], &str)] = &[
        (b"", r#""""#),
        (b"plain ascii", r#""plain ascii""#),
        (b"q\"b\\s/", r#""q\"b\\s/""#),
        (
            b"<a href=x>&</a>",
            r#""\u003ca href=x\u003e\u0026\u003c/a\u003e""#,
        ),
        (b"\n\r\t\x08\x0c", r#""\n\r\t\b\f""#),
        // DEL is not escaped.
        (b"\x00\x01\x1f\x7f", "\"\\u0000\\u0001\\u001f\x7f\""),
        ("\u{2028}\u{2029}".as_bytes(), r#""\u2028\u2029""#),
        ("中文 é 🀄".as_bytes(), "\"中文 é 🀄\""),
        // Each invalid byte is one \ufffd, including a truncated sequence.
        (b"a\xffb", r#""a\ufffdb""#),
        (b"\xe2\x82", r#""\ufffd\ufffd""#),
        (b"\xed\xa0\x80", r#""\ufffd\ufffd\ufffd""#),
        (b"\xc3\xa9\xc3", "\"é\\ufffd\""),
    ];
    for (input, want) in cases {
        check(input, want);
    }
}

/// Go's escaping, one character at a time: the reference the byte-level
/// writer must match.
fn escaped_by_char(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest::proptest! {
    #[test]
    fn string_escaping_matches_go_per_character(
        s in "[\\x00-\\x1f\"\\\\<>&a-z \u{7f}\u{80}\u{e9}\u{2027}-\u{202a}\u{4e2d}\u{1f004}]{0,40}"
    ) {
        let mut out = Vec::new();
        write_str(&mut out, &s);
        proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), escaped_by_char(&s));
    }
}

#[test]
fn go_lossy_replaces_each_bad_byte() {
    let cases: &[(&[u8], &str)] = &[
        (b"ok", "ok"),
        (b"\xff", "\u{fffd}"),
        // Rust's from_utf8_lossy gives one U+FFFD here; Go gives two.
        (b"\xe2\x82A", "\u{fffd}\u{fffd}A"),
        (b"\xf0\x9f\x80", "\u{fffd}\u{fffd}\u{fffd}"),
        ("é".as_bytes(), "é"),
    ];
    for (input, want) in cases {
        assert_eq!(decode_go_lossy(input), *want, "{input:?}");
    }
    assert!(matches!(decode_go_lossy(b"x"), Cow::Borrowed(_)));
}

#[test]
fn values_keep_or_sort_key_order() {
    let v: Value = serde_json::from_str(r#"{"b":1,"a":{"z":[true,null],"y":"<"},"c":-2.5}"#)
        .expect("test JSON");
    assert_eq!(
        String::from_utf8(to_vec(&v)).unwrap(),
        r#"{"b":1,"a":{"z":[true,null],"y":"\u003c"},"c":-2.5}"#
    );
    assert_eq!(
        String::from_utf8(to_vec_sorted(&v)).unwrap(),
        r#"{"a":{"y":"\u003c","z":[true,null]},"b":1,"c":-2.5}"#
    );
    // Sorted by bytes, not by char or case.
    let v = json!({"b": 0, "B": 0, "é": 0, "a": 0});
    assert_eq!(
        String::from_utf8(to_vec_sorted(&v)).unwrap(),
        r#"{"B":0,"a":0,"b":0,"é":0}"#
    );
}

#[test]
fn numbers_like_go() {
    let cases: &[(&str, &str)] = &[
        ("0", "0"),
        ("-7", "-7"),
        ("18446744073709551615", "18446744073709551615"),
        ("1.5", "1.5"),
        ("1e20", "100000000000000000000"),
        ("1e21", "1e+21"),
        ("1.5e-7", "1.5e-7"),
        ("0.000001", "0.000001"),
        ("1.25e-10", "1.25e-10"),
        ("-2.5e300", "-2.5e+300"),
    ];
    for (input, want) in cases {
        let v: Value = serde_json::from_str(input).expect("number");
        assert_eq!(String::from_utf8(to_vec(&v)).unwrap(), *want, "{input}");
    }
}

#[test]
fn object_writer() {
    let tbl = json!({"id": 1, "name": {"O": "t", "L": "t"}});
    let got = ObjectWriter::new()
        .str("s", "a&b")
        .str_list("none", None)
        .str_list("empty", Some(&[]))
        .str_list("two", Some(&["x".to_owned(), "y".to_owned()]))
        .bool("t", true)
        .bool("f", false)
        .int("i", -3)
        .value("v", &tbl)
        .opt_value("nil", None)
        .value_list("vl", Some(std::slice::from_ref(&tbl)))
        .value_list("vn", None)
        .null("n")
        .raw_json("r", b"{}")
        .finish();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        r#"{"s":"a\u0026b","none":null,"empty":[],"two":["x","y"],"t":true,"f":false,"i":-3,"v":{"id":1,"name":{"O":"t","L":"t"}},"nil":null,"vl":[{"id":1,"name":{"O":"t","L":"t"}}],"vn":null,"n":null,"r":{}}"#
    );
    assert_eq!(ObjectWriter::new().finish(), b"{}");
}

#[test]
fn fields_follow_go_unmarshal() {
    let f = Fields::parse(
        br#"{"TASK":"a","Ddls":["x",null],"unknown":[1,{"deep":true}],"done":true,"n":5}"#,
        "T",
    )
    .unwrap();
    assert_eq!(f.str("task").unwrap(), "a");
    assert_eq!(
        f.str_list("ddls").unwrap(),
        Some(vec!["x".to_owned(), String::new()])
    );
    assert!(f.bool("done").unwrap());
    assert_eq!(f.int("n").unwrap(), 5);
    // Missing fields are zero.
    assert_eq!(f.str("source").unwrap(), "");
    assert!(!f.bool("exec").unwrap());
    assert_eq!(f.str_list("cols").unwrap(), None);
    assert_eq!(f.object("before").unwrap(), None);

    // Exact key, then Go's folding (ſ → S, Kelvin sign → K); repeats apply in
    // order and `null` keeps the earlier scalar but resets a slice.
    let f = Fields::parse(
        "{\"ta\u{17f}\u{212a}\":\"folded\",\"task\":null,\"ddls\":[\"a\"],\"DDLS\":null,\"tablé\":\"no\"}"
            .as_bytes(),
        "T",
    )
    .unwrap();
    assert_eq!(f.str("task").unwrap(), "folded");
    assert_eq!(f.str_list("ddls").unwrap(), None);
    assert_eq!(f.str("table").unwrap(), "");
    let f = Fields::parse(br#"{"task":"a","Task":"b","task":"c"}"#, "T").unwrap();
    assert_eq!(f.str("task").unwrap(), "c");

    // Top-level null is a zero struct.
    let f = Fields::parse(b"null", "T").unwrap();
    assert_eq!(f.str("task").unwrap(), "");
    // Invalid UTF-8 and lone surrogates become U+FFFD, as in Go.
    let f = Fields::parse(
        b"{\"task\":\"a\xffb\",\"source\":\"\\ud800x\\udc00\\ud83c\\udc04\"}",
        "T",
    )
    .unwrap();
    assert_eq!(f.str("task").unwrap(), "a\u{fffd}b");
    assert_eq!(f.str("source").unwrap(), "\u{fffd}x\u{fffd}\u{1f004}");
}

#[test]
fn decode_errors_are_typed() {
    let syntax = ["", "{", "{\"a\":}", "{} x", "{\"a\":\"\n\"}", "nul"];
    for input in syntax {
        let err = Fields::parse(input.as_bytes(), "T").unwrap_err();
        assert!(
            matches!(err, DecodeError::Syntax { .. }),
            "{input:?}: {err}"
        );
    }
    for (input, found) in [
        ("[]", "array"),
        ("\"x\"", "string"),
        ("1", "number"),
        ("true", "bool"),
    ] {
        let err = Fields::parse(input.as_bytes(), "T").unwrap_err();
        assert_eq!(
            err,
            DecodeError::Type {
                path: "T".to_owned(),
                expected: "T",
                found: found.to_owned()
            }
        );
    }
    let f = Fields::parse(
        br#"{"s":1,"b":"true","l":"x","le":[1],"o":[],"ol":[1],"i":1.5,"big":9223372036854775808}"#,
        "T",
    )
    .unwrap();
    let cases: Vec<(DecodeError, &str)> = vec![
        (
            f.str("s").unwrap_err(),
            "json: cannot unmarshal number into Go value T.s of type string",
        ),
        (
            f.bool("b").unwrap_err(),
            "json: cannot unmarshal string into Go value T.b of type bool",
        ),
        (
            f.str_list("l").unwrap_err(),
            "json: cannot unmarshal string into Go value T.l of type []string",
        ),
        (
            f.str_list("le").unwrap_err(),
            "json: cannot unmarshal number into Go value T.le of type string",
        ),
        (
            f.object("o").unwrap_err(),
            "json: cannot unmarshal array into Go value T.o of type struct",
        ),
        (
            f.object_list("ol").unwrap_err(),
            "json: cannot unmarshal number into Go value T.ol of type struct",
        ),
        (
            f.int("i").unwrap_err(),
            "json: cannot unmarshal number 1.5 into Go value T.i of type int",
        ),
        (
            f.int("big").unwrap_err(),
            "json: cannot unmarshal number 9223372036854775808 into Go value T.big of type int",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn maps_merge_across_repeats() {
    let f = Fields::parse(br#"{"m":{"a":1},"M":{"b":2},"x":{"c":3},"x":null}"#, "T").unwrap();
    let m = f.map("m", |v| int_of(v, "T.m")).unwrap();
    assert_eq!(m, Some(vec![("a".to_owned(), 1), ("b".to_owned(), 2)]));
    assert_eq!(f.map("x", |v| int_of(v, "T.x")).unwrap(), None);
    assert_eq!(f.map("absent", |v| int_of(v, "T.a")).unwrap(), None);
}
