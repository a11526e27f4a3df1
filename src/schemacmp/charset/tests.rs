//! TiDB's `charset_collation_test.go` (pinned version) and further
//! examples of the lattice's charset rules.

use std::cmp::Ordering::{self, Equal, Greater, Less};

use super::*;

/// `compare(a, b)`, its reverse, and the original string each join keeps
/// (`join(a, b)`, `join(b, a)`); errors by exact message.
fn check<L: Lattice>(
    new: fn(&str) -> L,
    text: fn(&L) -> &str,
    (a, b): (&str, &str),
    cmp: Result<Ordering, &str>,
    joins: Option<(&str, &str)>,
) {
    let (la, lb) = (new(a), new(b));
    let forward = la.compare(&lb).map_err(|e| e.to_string());
    assert_eq!(forward, cmp.map_err(str::to_owned), "compare({a}, {b})");
    match cmp {
        Ok(o) => assert_eq!(lb.compare(&la).ok(), Some(o.reverse()), "compare({b}, {a})"),
        Err(_) => assert!(lb.compare(&la).is_err(), "compare({b}, {a})"),
    }
    let ab = la.join(&lb);
    let ba = lb.join(&la);
    match joins {
        Some((want_ab, want_ba)) => {
            assert_eq!(ab.as_ref().map(text).ok(), Some(want_ab), "join({a}, {b})");
            assert_eq!(ba.as_ref().map(text).ok(), Some(want_ba), "join({b}, {a})");
        }
        None => {
            let message = ab.err().map(|e| e.to_string());
            assert_eq!(message.as_deref(), cmp.err(), "join({a}, {b})");
            assert!(ba.is_err(), "join({b}, {a})");
        }
    }
}

fn charset(pair: (&str, &str), cmp: Result<Ordering, &str>, joins: Option<(&str, &str)>) {
    check(Charset::new, Charset::as_str, pair, cmp, joins);
}

fn collation(pair: (&str, &str), cmp: Result<Ordering, &str>, joins: Option<(&str, &str)>) {
    check(Collation::new, Collation::as_str, pair, cmp, joins);
}

#[test]
fn charsets() {
    charset(("UTF8", "utf8"), Ok(Equal), Some(("UTF8", "utf8")));
    // Spec #15: equal families keep the left original string.
    charset(("UTF8MB3", "utf8"), Ok(Equal), Some(("UTF8MB3", "utf8")));
    charset(
        ("uTF8", "GBK"),
        Err("incompatible mysql charset (uTF8 vs GBK)"),
        None,
    );
    // Spec #16.
    charset(
        ("latin1", "utf8mb4"),
        Ok(Less),
        Some(("utf8mb4", "utf8mb4")),
    );
    charset(
        ("utf8mb4", "utf8mb3"),
        Ok(Greater),
        Some(("utf8mb4", "utf8mb4")),
    );
    // Spec #17.
    charset(
        ("other1", "other2"),
        Err("incompatible mysql charset (other1 vs other2)"),
        None,
    );
    // "Other" charsets compare case-sensitively (kept from TiDB).
    charset(("gbk", "gbk"), Ok(Equal), Some(("gbk", "gbk")));
    charset(
        ("gbk", "GBK"),
        Err("incompatible mysql charset (gbk vs GBK)"),
        None,
    );
    // No join between latin1 and utf8 in the pinned TiDB version.
    charset(
        ("latin1", "utf8"),
        Err("incompatible mysql charset (latin1 vs utf8)"),
        None,
    );
    charset(
        ("binary", "utf8mb4"),
        Err("incompatible mysql charset (binary vs utf8mb4)"),
        None,
    );
    charset(("", ""), Ok(Equal), Some(("", "")));
}

#[test]
fn collations() {
    collation(
        ("UTF8_BIN", "utf8_bin"),
        Ok(Equal),
        Some(("UTF8_BIN", "utf8_bin")),
    );
    collation(
        ("UTF8MB3_BIN", "utf8_bin"),
        Ok(Equal),
        Some(("UTF8MB3_BIN", "utf8_bin")),
    );
    collation(
        ("LATIN1_BIN", "utf8mb4_bin"),
        Ok(Less),
        Some(("utf8mb4_bin", "utf8mb4_bin")),
    );
    collation(
        ("UTF8_BIN", "GBK_BIN"),
        Err("incompatible mysql collation (UTF8_BIN vs GBK_BIN)"),
        None,
    );
    // Spec #18.
    collation(
        ("utf8mb4_general_ci", "utf8_general_ci"),
        Ok(Greater),
        Some(("utf8mb4_general_ci", "utf8mb4_general_ci")),
    );
    // Spec #19.
    collation(
        ("utf8mb4_general_ci", "utf8mb4_0900_ai_ci"),
        Err("incompatible mysql collation (utf8mb4_general_ci vs utf8mb4_0900_ai_ci)"),
        None,
    );
    collation(
        ("other_cs_bin", "other_cs_ci"),
        Err("incompatible mysql collation (other_cs_bin vs other_cs_ci)"),
        None,
    );
    // "Other" collations compare case-insensitively (kept from TiDB).
    collation(("binary", "BINARY"), Ok(Equal), Some(("binary", "BINARY")));
    collation(
        ("binary", "utf8mb4_bin"),
        Err("incompatible mysql collation (binary vs utf8mb4_bin)"),
        None,
    );
    collation(
        ("latin1_bin", "utf8_bin"),
        Err("incompatible mysql collation (latin1_bin vs utf8_bin)"),
        None,
    );
}
