//! Property tests of the tracker over arbitrary DDL text: on any input,
//! [`Tracker::apply`] returns the split statements or a [`TrackerError`],
//! never panics, and leaves the tracker unchanged when it fails.
//!
//! Inputs are arbitrary bytes (as text, the way a binlog query event may
//! carry them) and valid DDLs with byte-level and token-level mutations,
//! applied to a tracker that already holds a table with keys, defaults,
//! ENUM/SET and generated columns. Each test runs `DM_FUZZ_CASES` inputs
//! (default [`DEFAULT_CASES`]); `scripts/fuzz` sets one million and prints
//! the `fuzz <decoder>: ...` line each test writes.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

use super::*;

/// Inputs per input kind when `DM_FUZZ_CASES` is not set.
const DEFAULT_CASES: u32 = 1_000;

fn cases() -> u32 {
    std::env::var("DM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// The schema every input is applied to.
const SETUP: &[&str] = &[
    "CREATE DATABASE db",
    "CREATE TABLE db.t (id INT PRIMARY KEY AUTO_INCREMENT, c1 VARCHAR(20) NOT NULL DEFAULT '', \
     c2 DECIMAL(10,2), e ENUM('a','b') DEFAULT 'a', s SET('p','q'), b BIT(8) DEFAULT b'1', \
     v INT AS (id * 2) VIRTUAL, UNIQUE KEY u (c1(4), c2), KEY k (e)) \
     DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='t'",
    "CREATE TABLE db.t2 (a BIGINT UNSIGNED NOT NULL, b TEXT, PRIMARY KEY (a))",
];

/// Valid statements of every supported kind, the seeds of the mutations.
const DDLS: &[&str] = &[
    "ALTER TABLE t ADD COLUMN c3 INT NOT NULL DEFAULT 7 AFTER c1",
    "ALTER TABLE t ADD c4 VARCHAR(5) CHARACTER SET latin1 FIRST, ADD INDEX i4 (c4)",
    "ALTER TABLE t DROP COLUMN c2",
    "ALTER TABLE t MODIFY c1 VARCHAR(40) NULL",
    "ALTER TABLE t CHANGE c1 c9 TEXT",
    "ALTER TABLE t RENAME COLUMN c1 TO c8",
    "ALTER TABLE t ALTER COLUMN c1 SET DEFAULT 'x', ALTER c2 DROP DEFAULT",
    "ALTER TABLE t ADD UNIQUE (c1), DROP INDEX k, ADD PRIMARY KEY (id, c1)",
    "ALTER TABLE t DROP PRIMARY KEY",
    "ALTER TABLE t RENAME INDEX k TO k2, ALTER INDEX k2 INVISIBLE",
    "ALTER TABLE t CONVERT TO CHARACTER SET utf8 COLLATE utf8_general_ci",
    "ALTER TABLE t DEFAULT CHARSET latin1, COMMENT 'new', ENGINE=InnoDB",
    "ALTER TABLE t RENAME TO t3",
    "RENAME TABLE t TO t4, t2 TO t5",
    "CREATE INDEX ci ON t (c1(3)) USING BTREE",
    "DROP INDEX u ON t",
    "TRUNCATE TABLE t",
    "DROP TABLE IF EXISTS t, t2",
    "CREATE TABLE IF NOT EXISTS t6 LIKE t",
    "CREATE TABLE `x``y` (`a b` INT COMMENT 'c', d DATETIME(3) ON UPDATE CURRENT_TIMESTAMP(3) \
     DEFAULT CURRENT_TIMESTAMP(3), j JSON, f FLOAT(7,3) ZEROFILL, y YEAR)",
    "CREATE DATABASE IF NOT EXISTS d2 DEFAULT CHARACTER SET utf8mb4",
    "ALTER DATABASE db CHARACTER SET latin1",
    "DROP DATABASE IF EXISTS d2",
    "ALTER TABLE t ADD COLUMN (x INT, y INT), ALGORITHM=INPLACE, LOCK=NONE",
    "ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4",
    "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES t2 (a), ADD CHECK (id > 0)",
    "ALTER TABLE t ADD COLUMN z INT; ALTER TABLE t2 ADD COLUMN z INT",
    "ALTER TABLE `db`.`t` ADD COLUMN `w` ENUM('a''b','c\\\\d') NOT NULL",
];

/// Fragments that steer mutations towards the parser's edge cases.
const TOKENS: &[&str] = &[
    "(",
    ")",
    ",",
    ";",
    "'",
    "\"",
    "`",
    "\\",
    "/*",
    "*/",
    "-- ",
    "#",
    "\n",
    " ",
    ".",
    "=",
    "ADD",
    "DROP",
    "COLUMN",
    "INDEX",
    "KEY",
    "PRIMARY",
    "UNIQUE",
    "FIRST",
    "AFTER",
    "DEFAULT",
    "NULL",
    "NOT",
    "AS",
    "ON",
    "TABLE",
    "TO",
    "RENAME",
    "CHANGE",
    "MODIFY",
    "ENUM(",
    "SET(",
    "CHARSET",
    "COLLATE",
    "VARCHAR(",
    "DECIMAL(65,30)",
    "BIT(",
    "99999999999999999999",
    "-1",
    "0",
    "0x",
    "b'",
    "_utf8mb4",
    "CURRENT_TIMESTAMP",
    "AUTO_INCREMENT",
    "GENERATED ALWAYS",
    "VIRTUAL",
    "STORED",
    "PARTITION",
    "LIKE",
    "IF EXISTS",
    "IF NOT EXISTS",
    "\u{0}",
    "\u{2028}",
    "é",
    "𝔸",
];

#[derive(Debug, Clone)]
enum Mutation {
    SetByte(Index, u8),
    InsertToken(Index, Index),
    Remove(Index, usize),
    Truncate(Index),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        2 => (any::<Index>(), 1usize..12).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..24).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::SetByte(i, b) if !data.is_empty() => {
                let p = i.index(data.len());
                data[p] = *b;
            }
            Mutation::InsertToken(i, t) => {
                let p = i.index(data.len() + 1);
                let token = TOKENS[t.index(TOKENS.len())].as_bytes();
                data.splice(p..p, token.iter().copied());
            }
            Mutation::Remove(i, n) if !data.is_empty() => {
                let p = i.index(data.len());
                let end = (p + n).min(data.len());
                data.drain(p..end);
            }
            Mutation::Truncate(i) => {
                let p = i.index(data.len() + 1);
                data.truncate(p);
            }
            Mutation::Duplicate(i, n) if !data.is_empty() => {
                let p = i.index(data.len());
                let end = (p + n).min(data.len());
                let copy = data[p..end].to_vec();
                data.splice(end..end, copy);
            }
            _ => {}
        }
    }
    data
}

fn seeded() -> Tracker {
    let mut tracker = Tracker::new();
    for ddl in SETUP {
        if let Err(e) = tracker.apply("db", ddl, &SameName) {
            panic!("{ddl}: {e}");
        }
    }
    tracker
}

fn snapshot(tracker: &Tracker) -> Vec<(TableName, TableInfo)> {
    tracker
        .tables()
        .map(|(name, info)| (name.clone(), info.clone()))
        .collect()
}

/// Applies `ddl` to a copy of `base`: true when tracked, false when the
/// tracker rejected it and stayed as it was.
fn track(base: &Tracker, ddl: &str) -> bool {
    let mut tracker = base.clone();
    let router = |t: &TableName| TableName::new(format!("{}_d", t.schema), t.table.clone());
    match tracker.apply("db", ddl, &router) {
        Ok(_) => true,
        Err(_) => {
            assert!(
                snapshot(&tracker) == snapshot(base),
                "a rejected DDL changed the tracker"
            );
            false
        }
    }
}

fn fuzz<S>(input: &str, strategy: S, base: &Tracker)
where
    S: Strategy<Value = Vec<u8>>,
{
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let tracked = AtomicU64::new(0);
    let rejected = AtomicU64::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |bytes| {
        let ddl = String::from_utf8_lossy(&bytes);
        if track(base, &ddl) {
            tracked.fetch_add(1, Ordering::Relaxed);
        } else {
            rejected.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz DDL tracker ({input}): {e}");
    }
    let (ok, err) = (tracked.into_inner(), rejected.into_inner());
    println!(
        "fuzz DDL tracker ({input}): {} inputs, {ok} tracked, {err} rejected ({:.1} s)",
        ok + err,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn seeds_are_tracked() {
    let base = seeded();
    for ddl in DDLS {
        let mut tracker = base.clone();
        if let Err(e) = tracker.apply("db", ddl, &SameName) {
            panic!("{ddl}: {e}");
        }
    }
}

#[test]
fn tracker_on_arbitrary_bytes() {
    let bytes = prop_oneof![
        4 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..1024),
    ];
    fuzz("arbitrary bytes", bytes, &seeded());
}

#[test]
fn tracker_on_mutated_ddl() {
    let mutated = (prop::sample::select(DDLS), vec(mutation(), 1..6))
        .prop_map(|(ddl, mutations)| apply(ddl.as_bytes().to_vec(), &mutations));
    fuzz("mutated DDL", mutated, &seeded());
}
