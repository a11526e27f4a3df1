//! TiDB's `type_test.go` and further column type examples,
//! plus the encodings of docs/protocol.md#schema-lattice (anti-keys, default flag, zero defaults).

use std::cmp::Ordering::{self, Equal, Greater, Less};

use super::*;
use crate::tableinfo::mysql::*;

fn ft(tp: u8, flag: u64, flen: i64, decimal: i64, charset: &str, collate: &str) -> FieldType {
    FieldType {
        tp,
        flag,
        flen,
        decimal,
        charset: charset.to_owned(),
        collate: collate.to_owned(),
        ..FieldType::default()
    }
}

fn with_elems(mut t: FieldType, elems: &[&str]) -> FieldType {
    t.elems = elems.iter().map(|e| (*e).to_owned()).collect();
    t
}

const BIN: &str = "binary";
const MB4: &str = "utf8mb4";
const MB4_BIN: &str = "utf8mb4_bin";

fn type_int() -> FieldType {
    ft(TYPE_LONG, 0, 11, 0, BIN, BIN)
}
fn type_int_not_null() -> FieldType {
    ft(
        TYPE_LONG,
        NO_DEFAULT_VALUE_FLAG | NOT_NULL_FLAG,
        10,
        0,
        BIN,
        BIN,
    )
}
fn type_int_auto_increment_unique() -> FieldType {
    ft(
        TYPE_LONG,
        AUTO_INCREMENT_FLAG | UNIQUE_KEY_FLAG,
        11,
        0,
        BIN,
        BIN,
    )
}
fn type_int_not_null_key() -> FieldType {
    ft(
        TYPE_LONG,
        NO_DEFAULT_VALUE_FLAG | MULTIPLE_KEY_FLAG | NOT_NULL_FLAG,
        11,
        0,
        BIN,
        BIN,
    )
}
fn type_int1() -> FieldType {
    ft(TYPE_LONG, 0, 1, 0, BIN, BIN)
}
fn type_int22() -> FieldType {
    ft(TYPE_LONG, 0, 22, 0, BIN, BIN)
}
fn type_decimal_16_8() -> FieldType {
    ft(TYPE_NEW_DECIMAL, 0, 16, 8, BIN, BIN)
}
fn type_decimal() -> FieldType {
    ft(TYPE_NEW_DECIMAL, 0, 11, 0, BIN, BIN)
}
fn type_varchar10(charset: &str, collate: &str) -> FieldType {
    ft(TYPE_VARCHAR, 0, 10, 0, charset, collate)
}
fn type_varchar65432_ascii() -> FieldType {
    ft(TYPE_VARCHAR, 0, 65432, 0, "ascii", "ascii_bin")
}
fn type_varbinary420() -> FieldType {
    ft(TYPE_VARCHAR, BINARY_FLAG, 420, 0, BIN, BIN)
}
const FIVE_ELEMS: &[&str] = &["tidb", "tikv", "tiflash", "golang", "rust"];
const TWO_ELEMS: &[&str] = &["tidb", "tikv"];
/// A utf8mb4 ENUM or SET (`tp`) of `elems`.
fn elems_type(tp: u8, elems: &[&str]) -> FieldType {
    with_elems(ft(tp, 0, UNSPECIFIED_LENGTH, 0, MB4, MB4_BIN), elems)
}
fn type_enum5() -> FieldType {
    elems_type(TYPE_ENUM, FIVE_ELEMS)
}
fn type_enum2() -> FieldType {
    elems_type(TYPE_ENUM, TWO_ELEMS)
}
fn type_set5() -> FieldType {
    elems_type(TYPE_SET, FIVE_ELEMS)
}
fn type_set2() -> FieldType {
    elems_type(TYPE_SET, TWO_ELEMS)
}

#[test]
fn decoding_restores_every_tidb_test_type() {
    let types = [
        type_int(),
        type_int_not_null(),
        type_int_auto_increment_unique(),
        type_int_not_null_key(),
        type_int1(),
        type_int22(),
        ft(TYPE_BIT, UNSIGNED_FLAG, 4, 0, BIN, BIN),
        ft(
            TYPE_LONGLONG,
            ZEROFILL_FLAG | UNSIGNED_FLAG,
            22,
            0,
            BIN,
            BIN,
        ),
        type_decimal_16_8(),
        type_decimal(),
        ft(TYPE_DATE, BINARY_FLAG, 10, 0, BIN, BIN),
        ft(TYPE_DATETIME, BINARY_FLAG, 23, 3, BIN, BIN),
        ft(TYPE_TIMESTAMP, BINARY_FLAG, 19, 0, BIN, BIN),
        ft(TYPE_DURATION, BINARY_FLAG, 17, 6, BIN, BIN),
        ft(TYPE_YEAR, ZEROFILL_FLAG | UNSIGNED_FLAG, 4, 0, BIN, BIN),
        ft(TYPE_STRING, 0, 123, 0, MB4, MB4_BIN),
        type_varchar10("utf8", "utf8_bin"),
        type_varchar10("utf8", "utf8_general_ci"),
        type_varchar10(MB4, MB4_BIN),
        type_varchar10("latin1", "latin1_bin"),
        type_varchar65432_ascii(),
        ft(TYPE_STRING, BINARY_FLAG, 69, 0, BIN, BIN),
        type_varbinary420(),
        ft(TYPE_LONG_BLOB, BINARY_FLAG, 0xffff_ffff, 0, BIN, BIN),
        ft(TYPE_MEDIUM_BLOB, 0, 0xffff_ffff, 0, MB4, MB4_BIN),
        type_enum5(),
        type_enum2(),
        type_set5(),
        type_set2(),
        ft(TYPE_JSON, BINARY_FLAG, 0xffff_ffff, 0, BIN, BIN),
        ft(
            TYPE_LONG,
            AUTO_INCREMENT_FLAG | NO_DEFAULT_VALUE_FLAG | PRI_KEY_FLAG,
            11,
            0,
            BIN,
            BIN,
        ),
    ];
    for t in types {
        assert_eq!(ColumnType::new(&t).to_field_type(), t);
    }
}

/// `compare(a, b)` and `join(a, b)` with exact messages; the reverse order
/// gives the reverse result (or an error) and the join is `>=` both.
fn check(a: FieldType, b: FieldType, cmp: Result<Ordering, &str>, join: Result<FieldType, &str>) {
    let (la, lb) = (ColumnType::new(&a), ColumnType::new(&b));
    let got = la.compare(&lb).map_err(|e| e.to_string());
    assert_eq!(got, cmp.map_err(str::to_owned), "compare({a:?}, {b:?})");
    match cmp {
        Ok(o) => assert_eq!(lb.compare(&la).ok(), Some(o.reverse())),
        Err(_) => assert!(lb.compare(&la).is_err()),
    }
    let got = la.join(&lb);
    let back = lb.join(&la);
    match join {
        Ok(want) => {
            let joined = got.unwrap_or_else(|e| panic!("join({a:?}, {b:?}) failed: {e}"));
            assert_eq!(joined.to_field_type(), want, "join({a:?}, {b:?})");
            assert_eq!(back.map(|j| j.to_field_type()).ok(), Some(want));
            assert!(matches!(joined.compare(&la), Ok(Equal | Greater)));
            assert!(matches!(joined.compare(&lb), Ok(Equal | Greater)));
        }
        Err(message) => {
            assert_eq!(got.err().map(|e| e.to_string()).as_deref(), Some(message));
            assert!(back.is_err());
        }
    }
}

#[test]
fn compare_and_join() {
    // Spec #20.
    check(type_int(), type_int22(), Ok(Less), Ok(type_int22()));
    check(type_int1(), type_int(), Ok(Less), Ok(type_int()));
    // Spec #21: nullable with default beats NOT NULL without default.
    check(type_int(), type_int_not_null(), Ok(Greater), Ok(type_int()));
    // Spec #22: utf8 < utf8mb4 for both charset and collation.
    check(
        type_varchar10("utf8", "utf8_bin"),
        type_varchar10(MB4, MB4_BIN),
        Ok(Less),
        Ok(type_varchar10(MB4, MB4_BIN)),
    );
    check(
        type_varchar10("latin1", "latin1_bin"),
        type_varchar10(MB4, MB4_BIN),
        Ok(Less),
        Ok(type_varchar10(MB4, MB4_BIN)),
    );
    // Spec #23.
    check(
        type_varchar10("latin1", "latin1_bin"),
        type_varchar10("utf8", "utf8_bin"),
        Err("at tuple index 7: incompatible mysql charset (latin1 vs utf8)"),
        Err("at tuple index 7: incompatible mysql charset (latin1 vs utf8)"),
    );
    // Spec #24.
    check(
        type_varchar10("utf8", "utf8_general_ci"),
        type_varchar10(MB4, MB4_BIN),
        Err("at tuple index 8: incompatible mysql collation (utf8_general_ci vs utf8mb4_bin)"),
        Err("at tuple index 8: incompatible mysql collation (utf8_general_ci vs utf8mb4_bin)"),
    );
    // Spec #25: DEFAULT NULL cannot be joined with AUTO_INCREMENT.
    check(
        type_int(),
        type_int_auto_increment_unique(),
        Err("at tuple index 6: distinct singletons (0 vs 512)"),
        Err("at tuple index 6: distinct singletons (0 vs 512)"),
    );
    // Spec #26: the join would be an AUTO_INCREMENT column without a key.
    check(
        type_int_not_null(),
        type_int_auto_increment_unique(),
        Err("at tuple index 5: combining contradicting orders (-1 && 1)"),
        Err("auto type but not defined as a key"),
    );
    // Spec #27.
    check(
        type_int_not_null_key(),
        type_int_auto_increment_unique(),
        Err("at tuple index 5: combining contradicting orders (-1 && 1)"),
        Ok(ft(
            TYPE_LONG,
            AUTO_INCREMENT_FLAG | MULTIPLE_KEY_FLAG,
            11,
            0,
            BIN,
            BIN,
        )),
    );
    // Spec #28: DECIMAL precision and scale are exact.
    check(
        type_decimal_16_8(),
        type_decimal(),
        Err("at tuple index 1: distinct singletons (16 vs 11)"),
        Err("at tuple index 1: distinct singletons (16 vs 11)"),
    );
    // Spec #29: the BINARY flag is a rigid flag.
    check(
        type_varchar65432_ascii(),
        type_varbinary420(),
        Err("at tuple index 3: distinct singletons (0 vs 128)"),
        Err("at tuple index 3: distinct singletons (0 vs 128)"),
    );
    // Spec #30, #31: members appended at the end.
    check(type_enum5(), type_enum2(), Ok(Greater), Ok(type_enum5()));
    check(type_set2(), type_set5(), Ok(Less), Ok(type_set5()));
    // Spec #32.
    check(
        type_set5(),
        type_enum5(),
        Err("at tuple index 0: incompatible mysql type (248 vs 247)"),
        Err("at tuple index 0: incompatible mysql type (248 vs 247)"),
    );
    // Members renamed or reordered.
    check(
        with_elems(type_enum2(), &["tikv", "tidb"]),
        type_enum2(),
        Err(r#"at tuple index 9: at string list index 0: distinct values ("tikv" vs "tidb")"#),
        Err(r#"at tuple index 9: at string list index 0: distinct values ("tikv" vs "tidb")"#),
    );
    // Wider integer and fractional precision are larger.
    check(
        ft(TYPE_DATETIME, BINARY_FLAG, 23, 3, BIN, BIN),
        ft(TYPE_DATETIME, BINARY_FLAG, 26, 6, BIN, BIN),
        Ok(Less),
        Ok(ft(TYPE_DATETIME, BINARY_FLAG, 26, 6, BIN, BIN)),
    );
    check(
        ft(TYPE_LONG, UNSIGNED_FLAG, 10, 0, BIN, BIN),
        ft(TYPE_LONG, 0, 11, 0, BIN, BIN),
        Err("at tuple index 3: distinct singletons (32 vs 0)"),
        Err("at tuple index 3: distinct singletons (32 vs 0)"),
    );
}

#[test]
fn mismatched_length_kinds_report_go_type_names() {
    // Only reachable when the type codes differ, which fails first; the
    // component on its own still reports Go's names.
    let exact = Length::new(TYPE_NEW_DECIMAL, 10);
    let ordered = Length::new(TYPE_LONG, 10);
    assert_eq!(
        ordered.compare(&exact).map_err(|e| e.to_string()),
        Err("type mismatch (schemacmp.Int vs schemacmp.singleton)".to_owned())
    );
    let decimal = ColumnType::new(&type_decimal());
    let int = ColumnType::new(&type_int());
    assert_eq!(
        decimal.compare(&int).map_err(|e| e.to_string()),
        Err("at tuple index 0: incompatible mysql type (246 vs 3)".to_owned())
    );
}

#[test]
fn anti_keys_order_keys() {
    let cases = [
        (0, 255),
        (MULTIPLE_KEY_FLAG, 239),
        (UNIQUE_KEY_FLAG, 223),
        (UNIQUE_KEY_FLAG | MULTIPLE_KEY_FLAG, 207),
        (PRI_KEY_FLAG, 191),
        (PRI_KEY_FLAG | MULTIPLE_KEY_FLAG, 175),
        (PRI_KEY_FLAG | UNIQUE_KEY_FLAG, 159),
        (PRI_KEY_FLAG | UNIQUE_KEY_FLAG | MULTIPLE_KEY_FLAG, 143),
    ];
    for (flags, encoded) in cases {
        assert_eq!(
            encode_anti_keys(flags | NOT_NULL_FLAG | BLOB_FLAG),
            encoded,
            "{flags}"
        );
        assert_eq!(decode_anti_keys(encoded), flags);
    }
}

#[test]
fn default_flag_component() {
    let cases = [
        (0, Some(0)),
        (NOT_NULL_FLAG, Some(0)),
        (NOT_NULL_FLAG | NO_DEFAULT_VALUE_FLAG, None),
        (AUTO_INCREMENT_FLAG, Some(512)),
        (AUTO_INCREMENT_FLAG | NO_DEFAULT_VALUE_FLAG, Some(4608)),
    ];
    for (flag, want) in cases {
        let t = ColumnType::new(&ft(TYPE_LONG, flag, 11, 0, BIN, BIN));
        assert_eq!(t.default_flag, Maybe(want.map(Singleton)), "flag {flag}");
    }
}

#[test]
fn missing_column_adjustment() {
    let cases: [(u64, bool, Option<u64>); 4] = [
        (
            NOT_NULL_FLAG | NO_DEFAULT_VALUE_FLAG | UNIQUE_KEY_FLAG,
            true,
            Some(0),
        ),
        (
            AUTO_INCREMENT_FLAG | NO_DEFAULT_VALUE_FLAG | PRI_KEY_FLAG,
            true,
            Some(512),
        ),
        (MULTIPLE_KEY_FLAG, false, Some(0)),
        (AUTO_INCREMENT_FLAG | UNIQUE_KEY_FLAG, false, Some(512)),
    ];
    for (flag, had_no_default, default_flag) in cases {
        let mut t = ColumnType::new(&ft(TYPE_LONG, flag, 11, 0, BIN, BIN));
        assert_eq!(
            t.set_flag_for_missing_column(),
            had_no_default,
            "flag {flag}"
        );
        assert_eq!(t.default_flag, Maybe(default_flag.map(Singleton)));
        assert_eq!(t.anti_keys, Byte(NOT_PART_OF_KEYS));
    }
}

#[test]
fn standard_default_values() {
    let cases: Vec<(FieldType, &str)> = vec![
        (FieldType::tinyint(), "0"),
        (FieldType::int(), "0"),
        (FieldType::bigint(), "0"),
        (FieldType::double(), "0"),
        (FieldType::decimal(10, 2), "0"),
        (FieldType::timestamp(0), "0000-00-00 00:00:00"),
        (FieldType::datetime(3), "0000-00-00 00:00:00.000"),
        (FieldType::date(), "0000-00-00"),
        (FieldType::time(2), "00:00:00.00"),
        (FieldType::year(), "0000"),
        (FieldType::json(), "null"),
        (FieldType::new(TYPE_TIDB_VECTOR_FLOAT32), "[]"),
        (FieldType::enumeration(&["abc", "def"]), "abc"),
        // TiDB would panic here.
        (FieldType::enumeration(&[]), ""),
        (FieldType::binary(3), "\0\0\0"),
        (FieldType::binary(-1), ""),
        (FieldType::char(3), ""),
        (FieldType::varchar(20), ""),
        (FieldType::set(&["abc"]), ""),
        (FieldType::bit(1), ""),
        (FieldType::text(), ""),
    ];
    for (t, want) in cases {
        assert_eq!(ColumnType::new(&t).standard_default_value(), want, "{t:?}");
    }
    assert_eq!(
        ColumnType::new(&FieldType::binary(1 << 40))
            .standard_default_value()
            .len(),
        255
    );
}

#[test]
fn array_types_encode_as_json() {
    let mut t = FieldType::bigint();
    t.array = true;
    let encoded = ColumnType::new(&t);
    assert_eq!(encoded.type_code(), TYPE_JSON);
    assert_eq!(encoded.to_field_type().tp, TYPE_JSON);
}
