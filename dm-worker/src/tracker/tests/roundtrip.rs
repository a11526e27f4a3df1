//! Parse, render, parse again: for random CREATE TABLEs and ALTER TABLEs
//! (column types, attributes, defaults, keys, positions, renames), the
//! statements the tracker prints, tracked by a second tracker, give the
//! same table as the upstream statements gave the first one.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;

const TYPES: &[&str] = &[
    "INT",
    "INT UNSIGNED",
    "BIGINT",
    "TINYINT(1)",
    "SMALLINT",
    "DECIMAL(10,2)",
    "DOUBLE",
    "FLOAT",
    "VARCHAR(20)",
    "CHAR(4)",
    "VARBINARY(16)",
    "TEXT",
    "BLOB",
    "DATETIME(3)",
    "TIMESTAMP",
    "DATE",
    "ENUM('a','b')",
    "SET('x','y')",
    "BIT(8)",
    "JSON",
    "VARCHAR(10) CHARACTER SET latin1",
];

/// A column definition after its name: a type, then optional nullability,
/// default (only where the type takes that literal) and comment.
fn definition() -> impl Strategy<Value = String> {
    (
        select(TYPES),
        select(&["", " NOT NULL", " NULL"][..]),
        any::<bool>(),
        select(&["", " COMMENT 'c'", " COMMENT 'it''s'"][..]),
    )
        .prop_map(|(ty, null, with_default, comment)| {
            let default = match ty {
                _ if !with_default => "",
                "INT" | "INT UNSIGNED" | "BIGINT" | "SMALLINT" | "TINYINT(1)" => " DEFAULT 7",
                "DECIMAL(10,2)" | "DOUBLE" | "FLOAT" => " DEFAULT 1.5",
                "VARCHAR(20)" | "CHAR(4)" | "VARCHAR(10) CHARACTER SET latin1" => " DEFAULT 'v'",
                "ENUM('a','b')" => " DEFAULT 'b'",
                "DATETIME(3)" => " DEFAULT CURRENT_TIMESTAMP(3)",
                _ => "",
            };
            format!("{ty}{null}{default}{comment}")
        })
}

/// `CREATE TABLE t` with an INT primary key `id`, columns `c0..`, maybe a
/// secondary key on `c0` (a prefix when its type needs one) and options.
fn create_table() -> impl Strategy<Value = String> {
    (
        vec(definition(), 1..6),
        any::<bool>(),
        select(
            &[
                "",
                " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                " COMMENT='t'",
                " DEFAULT CHARSET=latin1",
            ][..],
        ),
    )
        .prop_map(|(columns, key, options)| {
            let mut parts = vec!["id INT NOT NULL AUTO_INCREMENT".to_owned()];
            for (i, def) in columns.iter().enumerate() {
                parts.push(format!("c{i} {def}"));
            }
            parts.push("PRIMARY KEY (id)".to_owned());
            if key && !columns[0].starts_with("JSON") {
                let prefix = if ["TEXT", "BLOB"].iter().any(|t| columns[0].starts_with(t)) {
                    "(4)"
                } else {
                    ""
                };
                parts.push(format!("KEY k0 (c0{prefix})"));
            }
            format!("CREATE TABLE t ({}){options}", parts.join(", "))
        })
}

/// One ALTER TABLE of `t` on columns `c0..c5` (some name columns that do
/// not exist; the tracker rejects those and they are left out).
fn alter_table() -> impl Strategy<Value = String> {
    let column = || (0..6usize).prop_map(|i| format!("c{i}"));
    prop_oneof![
        (
            column(),
            definition(),
            select(&["", " FIRST", " AFTER id"][..])
        )
            .prop_map(|(c, def, at)| format!("ALTER TABLE t ADD COLUMN {c} {def}{at}")),
        column().prop_map(|c| format!("ALTER TABLE t DROP COLUMN {c}")),
        (column(), definition()).prop_map(|(c, def)| format!("ALTER TABLE t MODIFY {c} {def}")),
        (column(), column(), definition())
            .prop_map(|(c, to, def)| format!("ALTER TABLE t CHANGE {c} {to} {def}")),
        (column(), column()).prop_map(|(c, to)| format!("ALTER TABLE t RENAME COLUMN {c} TO {to}")),
        column().prop_map(|c| format!("ALTER TABLE t ADD INDEX i_{c} ({c}(4))")),
        column().prop_map(|c| format!("ALTER TABLE t ADD UNIQUE KEY u_{c} ({c})")),
        column().prop_map(|c| format!("ALTER TABLE t DROP INDEX i_{c}")),
        column().prop_map(|c| format!("ALTER TABLE t ALTER COLUMN {c} DROP DEFAULT")),
        Just("ALTER TABLE t COMMENT 'n', DEFAULT CHARSET utf8mb4".to_owned()),
        Just("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4".to_owned()),
    ]
}

/// A tracker with database `db` created.
fn with_db() -> Tracker {
    tracker_after(&["CREATE DATABASE db"])
}

/// Applies `ddl` upstream to `first` and, when it is tracked, its printed
/// statements to `second`; the two must then hold the same `db.t`.
fn step(first: &mut Tracker, second: &mut Tracker, ddl: &str) -> Result<(), TestCaseError> {
    let Ok(tracked) = first.apply(DB, ddl, &SameName) else {
        return Ok(());
    };
    for printed in tracked.ddls() {
        if let Err(e) = second.apply(DB, &printed, &SameName) {
            return Err(TestCaseError::fail(format!(
                "{ddl}\nprinted as {printed}\nis not tracked again: {e}"
            )));
        }
    }
    prop_assert_eq!(first.table(&t()), second.table(&t()), "after {}", ddl);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printed_statements_track_to_the_same_table(
        create in create_table(),
        alters in vec(alter_table(), 0..8),
    ) {
        let (mut first, mut second) = (with_db(), with_db());
        let created = first.apply(DB, &create, &SameName);
        prop_assert!(created.is_ok(), "{}: {:?}", create, created);
        let printed = created.unwrap().ddls();
        for ddl in &printed {
            let again = second.apply(DB, ddl, &SameName);
            prop_assert!(again.is_ok(), "{} printed as {}: {:?}", create, ddl, again);
        }
        prop_assert_eq!(first.table(&t()), second.table(&t()), "after {}", create);
        for alter in &alters {
            step(&mut first, &mut second, alter)?;
        }
    }
}
