//! TiDB's `lattice_test.go` cases and further primitive examples
//! (docs/protocol.md#schema-lattice), checked in both argument orders.

use std::cmp::Ordering::{self, Equal, Greater, Less};
use std::fmt::Debug;
use std::mem::discriminant;
use std::sync::Arc;

use super::*;
use crate::schemacmp::lattice_value::{LatticeValue, Scalar};
use crate::tableinfo::mysql::*;

/// One case: `compare(a, b)` and `join(a, b)` as expected (errors by exact
/// message). The reversed call must give the reversed order, or an error of
/// the same kind; a join must be `>=` both inputs and equal (as a lattice
/// element) in both orders.
fn check<L: Lattice + Debug + PartialEq>(
    a: L,
    b: L,
    cmp: Result<Ordering, &str>,
    join: Result<L, &str>,
) {
    let forward = a.compare(&b);
    let backward = b.compare(&a);
    match (&forward, &cmp) {
        (Ok(got), Ok(want)) => {
            assert_eq!(got, want, "compare({a:?}, {b:?})");
            assert_eq!(
                backward.as_ref().ok(),
                Some(&want.reverse()),
                "compare({b:?}, {a:?})"
            );
        }
        (Err(got), Err(want)) => {
            assert_eq!(got.to_string(), *want, "compare({a:?}, {b:?})");
            match &backward {
                Err(back) => assert_eq!(discriminant(back.kind()), discriminant(got.kind())),
                Ok(o) => panic!("compare({b:?}, {a:?}) = {o:?}, expected an error"),
            }
        }
        _ => panic!("compare({a:?}, {b:?}) = {forward:?}, expected {cmp:?}"),
    }

    let forward = a.join(&b);
    let backward = b.join(&a);
    match (forward, join) {
        (Ok(got), Ok(want)) => {
            assert_eq!(got, want, "join({a:?}, {b:?})");
            let back = backward.unwrap_or_else(|e| panic!("join({b:?}, {a:?}) failed: {e}"));
            assert_eq!(back.compare(&got).ok(), Some(Equal), "join commutes");
            assert!(matches!(got.compare(&a), Ok(Equal | Greater)), "join >= a");
            assert!(matches!(got.compare(&b), Ok(Equal | Greater)), "join >= b");
        }
        (Err(got), Err(want)) => {
            assert_eq!(got.to_string(), want, "join({a:?}, {b:?})");
            match backward {
                Err(back) => assert_eq!(discriminant(back.kind()), discriminant(got.kind())),
                Ok(j) => panic!("join({b:?}, {a:?}) = {j:?}, expected an error"),
            }
        }
        (got, want) => panic!("join({a:?}, {b:?}) = {got:?}, expected {want:?}"),
    }
}

fn boolean(v: bool) -> LatticeValue {
    LatticeValue::Bool(Bool(v))
}

fn single(v: i64) -> LatticeValue {
    LatticeValue::Singleton(Singleton(Scalar::Int(v)))
}

fn byte(v: u8) -> LatticeValue {
    LatticeValue::Byte(Byte(v))
}

fn bits(v: u64) -> LatticeValue {
    LatticeValue::BitSet(BitSet(v))
}

fn tuple(items: Vec<LatticeValue>) -> LatticeValue {
    LatticeValue::Tuple(Tuple(items))
}

fn maybe(v: Option<LatticeValue>) -> LatticeValue {
    LatticeValue::Maybe(Maybe(v.map(Box::new)))
}

fn list(items: &[&str]) -> LatticeValue {
    LatticeValue::StringList(StringList(items.iter().map(|s| (*s).to_owned()).collect()))
}

fn eq_bytes(s: &str) -> LatticeValue {
    LatticeValue::EqualitySingleton(EqualitySingleton(Scalar::Bytes(s.as_bytes().to_vec())))
}

fn tp(v: u8) -> LatticeValue {
    LatticeValue::FieldTp(FieldTp(v))
}

#[test]
fn primitives() {
    // Spec #1.
    check(
        boolean(false),
        boolean(false),
        Ok(Equal),
        Ok(boolean(false)),
    );
    check(boolean(false), boolean(true), Ok(Less), Ok(boolean(true)));
    check(boolean(true), boolean(true), Ok(Equal), Ok(boolean(true)));

    // Spec #2.
    check(single(123), single(123), Ok(Equal), Ok(single(123)));
    check(
        single(123),
        single(2468),
        Err("distinct singletons (123 vs 2468)"),
        Err("distinct singletons (123 vs 2468)"),
    );

    // Spec #3, #4.
    check(
        bits(0b010110),
        bits(0b110001),
        Err("non-inclusive bit sets (0x16 vs 0x31)"),
        Ok(bits(0b110111)),
    );
    check(
        bits(0xffff_ffff),
        bits(0),
        Ok(Greater),
        Ok(bits(0xffff_ffff)),
    );
    check(bits(0b10001), bits(0b11011), Ok(Less), Ok(bits(0b11011)));
    check(bits(0x522), bits(0x522), Ok(Equal), Ok(bits(0x522)));

    check(byte(123), byte(123), Ok(Equal), Ok(byte(123)));
    check(byte(1), byte(23), Ok(Less), Ok(byte(23)));
    check(byte(123), byte(45), Ok(Greater), Ok(byte(123)));

    check(
        LatticeValue::Int64(Int64(234)),
        LatticeValue::Int64(Int64(-5)),
        Ok(Greater),
        Ok(LatticeValue::Int64(Int64(234))),
    );
    check(
        LatticeValue::Uint(Uint(665_544)),
        LatticeValue::Uint(Uint(765)),
        Ok(Greater),
        Ok(LatticeValue::Uint(Uint(665_544))),
    );
    check(
        LatticeValue::Int(Int(-1)),
        LatticeValue::Int(Int(11)),
        Ok(Less),
        Ok(LatticeValue::Int(Int(11))),
    );
}

#[test]
fn tuples_and_maybe() {
    // Spec #5, #6.
    check(
        tuple(vec![byte(123), boolean(false)]),
        tuple(vec![byte(67), boolean(true)]),
        Err("at tuple index 1: combining contradicting orders (1 && -1)"),
        Ok(tuple(vec![byte(123), boolean(true)])),
    );
    check(tuple(vec![]), tuple(vec![]), Ok(Equal), Ok(tuple(vec![])));
    check(
        tuple(vec![single(6), single(7)]),
        tuple(vec![single(6), single(8)]),
        Err("at tuple index 1: distinct singletons (7 vs 8)"),
        Err("at tuple index 1: distinct singletons (7 vs 8)"),
    );
    check(
        tuple(vec![]),
        tuple(vec![boolean(false)]),
        Err("tuple length mismatch (0 vs 1)"),
        Err("tuple length mismatch (0 vs 1)"),
    );
    check(
        boolean(false),
        LatticeValue::Singleton(Singleton(Scalar::Bool(false))),
        Err("type mismatch (schemacmp.Bool vs schemacmp.singleton)"),
        Err("type mismatch (schemacmp.Bool vs schemacmp.singleton)"),
    );
    // Nested tuples wrap every level.
    check(
        tuple(vec![boolean(true), tuple(vec![single(1), single(2)])]),
        tuple(vec![boolean(true), tuple(vec![single(1), single(3)])]),
        Err("at tuple index 1: at tuple index 1: distinct singletons (2 vs 3)"),
        Err("at tuple index 1: at tuple index 1: distinct singletons (2 vs 3)"),
    );

    // Spec #7, #8: inner errors are not wrapped.
    check(
        maybe(Some(single(123))),
        maybe(Some(single(678))),
        Err("distinct singletons (123 vs 678)"),
        Err("distinct singletons (123 vs 678)"),
    );
    check(
        maybe(Some(byte(111))),
        maybe(Some(byte(222))),
        Ok(Less),
        Ok(maybe(Some(byte(222)))),
    );
    check(
        maybe(None),
        maybe(Some(single(135))),
        Ok(Less),
        Ok(maybe(Some(single(135)))),
    );
    check(maybe(None), maybe(None), Ok(Equal), Ok(maybe(None)));
    check(
        boolean(false),
        maybe(Some(boolean(false))),
        Err("type mismatch (schemacmp.Bool vs schemacmp.maybe)"),
        Err("type mismatch (schemacmp.Bool vs schemacmp.maybe)"),
    );
}

#[test]
fn string_lists_and_equality_singletons() {
    // Spec #9, #10.
    check(
        list(&["one", "two", "three"]),
        list(&["one", "two", "three", "four", "five"]),
        Ok(Less),
        Ok(list(&["one", "two", "three", "four", "five"])),
    );
    check(
        list(&["one", "two", "three"]),
        list(&["two", "three"]),
        Err(r#"at string list index 0: distinct values ("one" vs "two")"#),
        Err(r#"at string list index 0: distinct values ("one" vs "two")"#),
    );
    check(
        list(&["a", "b", "c"]),
        list(&["a", "e", "i", "o", "u"]),
        Err(r#"at string list index 1: distinct values ("b" vs "e")"#),
        Err(r#"at string list index 1: distinct values ("b" vs "e")"#),
    );
    check(list(&[]), list(&[]), Ok(Equal), Ok(list(&[])));
    check(
        list(&["tab\there", "q\"uote"]),
        list(&["tab\there", "q'uote"]),
        Err(r#"at string list index 1: distinct values ("q\"uote" vs "q'uote")"#),
        Err(r#"at string list index 1: distinct values ("q\"uote" vs "q'uote")"#),
    );

    check(
        eq_bytes("abcdef"),
        eq_bytes("abcdef"),
        Ok(Equal),
        Ok(eq_bytes("abcdef")),
    );
    check(
        eq_bytes("abcdef"),
        eq_bytes("ABCDEF"),
        Err("distinct singletons ([97 98 99 100 101 102] vs [65 66 67 68 69 70])"),
        Err("distinct singletons ([97 98 99 100 101 102] vs [65 66 67 68 69 70])"),
    );
    check(
        eq_bytes("abcdef"),
        LatticeValue::Singleton(Singleton(Scalar::Bytes(b"ABCDEF".to_vec()))),
        Err("type mismatch (schemacmp.equalitySingleton vs schemacmp.singleton)"),
        Err("type mismatch (schemacmp.equalitySingleton vs schemacmp.singleton)"),
    );
}

#[test]
fn field_types() {
    // Integer family: TINYINT < SMALLINT < MEDIUMINT < INT < BIGINT (spec #12).
    let ints = [TYPE_TINY, TYPE_SHORT, TYPE_INT24, TYPE_LONG, TYPE_LONGLONG];
    // Blob family: TINYBLOB < BLOB < MEDIUMBLOB < LONGBLOB (spec #13).
    let blobs = [TYPE_TINY_BLOB, TYPE_BLOB, TYPE_MEDIUM_BLOB, TYPE_LONG_BLOB];
    for family in [&ints[..], &blobs[..]] {
        for (i, a) in family.iter().enumerate() {
            for (j, b) in family.iter().enumerate() {
                let larger = if i >= j { *a } else { *b };
                check(tp(*a), tp(*b), Ok(i.cmp(&j)), Ok(tp(larger)));
            }
        }
    }
    check(tp(TYPE_INT24), tp(TYPE_LONG), Ok(Less), Ok(tp(TYPE_LONG)));
    check(
        tp(TYPE_BLOB),
        tp(TYPE_MEDIUM_BLOB),
        Ok(Less),
        Ok(tp(TYPE_MEDIUM_BLOB)),
    );
    // Spec #14 and other families.
    check(
        tp(TYPE_LONG),
        tp(TYPE_SET),
        Err("incompatible mysql type (3 vs 248)"),
        Err("incompatible mysql type (3 vs 248)"),
    );
    check(
        tp(TYPE_LONG),
        tp(TYPE_BLOB),
        Err("incompatible mysql type (3 vs 252)"),
        Err("incompatible mysql type (3 vs 252)"),
    );
    check(
        tp(TYPE_FLOAT),
        tp(TYPE_DOUBLE),
        Err("incompatible mysql type (4 vs 5)"),
        Err("incompatible mysql type (4 vs 5)"),
    );
    check(
        tp(TYPE_LONG),
        LatticeValue::Singleton(Singleton(Scalar::Bool(false))),
        Err("type mismatch (schemacmp.fieldTp vs schemacmp.singleton)"),
        Err("type mismatch (schemacmp.fieldTp vs schemacmp.singleton)"),
    );
}

/// TiDB's test map: a key on one side only makes that side larger, the join
/// keeps it, and incompatible entries are dropped.
struct KeepMissing;

impl MapPolicy<Uint> for KeepMissing {
    const DELETE_INCOMPATIBLE: bool = true;

    fn compare_with_nil(_: &Uint) -> Result<Ordering, Incompatible> {
        Ok(Greater)
    }

    fn join_with_nil(value: &Uint) -> Result<Option<Uint>, Incompatible> {
        Ok(Some(*value))
    }
}

fn uint_map(entries: &[(&str, u64)]) -> LatticeMap<Uint, KeepMissing> {
    LatticeMap::new(
        entries
            .iter()
            .map(|(k, v)| (Arc::from(*k), Uint(*v)))
            .collect(),
    )
}

/// A map that rejects missing keys and keeps incompatible entries as errors.
struct Strict;

impl MapPolicy<LatticeValue> for Strict {
    const DELETE_INCOMPATIBLE: bool = false;

    fn compare_with_nil(_: &LatticeValue) -> Result<Ordering, Incompatible> {
        Err(Incompatible::new(
            IncompatibleKind::MissingColumnWithoutDefault,
        ))
    }

    fn join_with_nil(_: &LatticeValue) -> Result<Option<LatticeValue>, Incompatible> {
        Ok(None)
    }
}

#[test]
fn maps() {
    // Spec #11.
    check(
        uint_map(&[("a", 123), ("b", 678), ("c", 456)]),
        uint_map(&[("a", 234), ("b", 567), ("d", 789)]),
        Err(r#"at map key "b": combining contradicting orders (-1 && 1)"#),
        Ok(uint_map(&[("a", 234), ("b", 678), ("c", 456), ("d", 789)])),
    );
    check(
        uint_map(&[("a", 123), ("b", 678), ("c", 456)]),
        uint_map(&[("a", 1), ("c", 4)]),
        Ok(Greater),
        Ok(uint_map(&[("a", 123), ("b", 678), ("c", 456)])),
    );
    // Keys only on the right are visited after all left keys, as in Go.
    check(
        uint_map(&[("x", 1)]),
        uint_map(&[("a", 1)]),
        Err(r#"at map key "a": combining contradicting orders (1 && -1)"#),
        Ok(uint_map(&[("a", 1), ("x", 1)])),
    );

    let strict = |entries: &[(&str, i64)]| -> LatticeMap<LatticeValue, Strict> {
        LatticeMap::new(
            entries
                .iter()
                .map(|(k, v)| (Arc::from(*k), single(*v)))
                .collect(),
        )
    };
    check(
        strict(&[("k", 1)]),
        strict(&[("k", 2)]),
        Err(r#"at map key "k": distinct singletons (1 vs 2)"#),
        Err(r#"at map key "k": distinct singletons (1 vs 2)"#),
    );
    // Map keys are quoted like Go's `%q`.
    let err = strict(&[("k", 1)])
        .compare(&strict(&[("k", 1), ("new\nline", 1)]))
        .expect_err("missing key");
    assert_eq!(
        err.to_string(),
        r#"at map key "new\nline": column with no default value cannot be missing"#
    );
}

#[test]
fn combine_follows_go() {
    let cases = [
        (Equal, Equal, Ok(Equal)),
        (Equal, Less, Ok(Less)),
        (Greater, Equal, Ok(Greater)),
        (Less, Less, Ok(Less)),
        (
            Less,
            Greater,
            Err("combining contradicting orders (-1 && 1)"),
        ),
        (
            Greater,
            Less,
            Err("combining contradicting orders (1 && -1)"),
        ),
    ];
    for (acc, next, want) in cases {
        let got = combine(acc, next).map_err(|e| e.to_string());
        assert_eq!(
            got,
            want.map_err(str::to_owned),
            "combine({acc:?}, {next:?})"
        );
    }
}

#[test]
fn default_values_compare_like_go_interfaces() {
    use serde_json::json;
    let cases = [
        (json!("1"), json!("1"), true),
        (json!("1"), json!(1), false),
        (json!(1), json!(1.0), true),
        (json!(true), json!(true), true),
        (json!([1]), json!([1]), false),
        (json!({"a": 1}), json!({"a": 1}), false),
    ];
    for (a, b, same) in cases {
        assert_eq!(
            DefaultValue(a.clone()).same(&DefaultValue(b.clone())),
            same,
            "{a} vs {b}"
        );
    }
    let printed: Vec<String> = [
        json!("x y"),
        json!(2.5),
        json!(1_000_000),
        json!(false),
        json!([1, 2]),
    ]
    .into_iter()
    .map(|v| DefaultValue(v).go_string())
    .collect();
    assert_eq!(printed, ["x y", "2.5", "1e+06", "false", "[1,2]"]);
}
