//! Property tests of every decoder of a value or key read from etcd: over
//! arbitrary bytes and over mutated valid values, a decoder returns a value
//! or its typed error and never panics.
//!
//! Covered: both modes' `Info` and `Operation`, `SourceTables`, the
//! dropped-column stage, subtask config TOML (through `TaskRegistry`, as the
//! coordinators read it), TiDB `TableInfo` JSON (decoded, then encoded as a
//! `schemacmp::Table` and joined, as an optimistic lock does), lock IDs and
//! hex keys.
//!
//! Each decoder gets `DM_FUZZ_CASES` arbitrary inputs and as many mutated
//! ones (default [`DEFAULT_CASES`], so the normal test run stays short),
//! after a tenth as many valid values, which must decode. `scripts/fuzz`
//! sets one million and prints the `fuzz <decoder>: ...` line each test
//! writes. A failure is shrunk by proptest and reported with the smallest
//! input that panics.
//!
//! This file holds the harness and one test per decoder; [`inputs`] the
//! generic input strategies, [`values`] the valid values of each record.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::keys::{
    self, KeyAdapter, KeySpace, TableKey, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_INFO,
    OPTIMISM_OPERATION, OPTIMISM_SOURCE_TABLES, PESSIMISM_INFO, PESSIMISM_OPERATION,
    UPSTREAM_SUBTASK,
};
use crate::optimism::{self, ConflictStage, DropColumnStage, SourceTables};
use crate::pessimism;
use crate::schemacmp::Table;
use crate::tableinfo::TableInfo;
use crate::task::{RouteRule, SubTaskConfig, TaskRegistry};

mod inputs;
mod values;

use inputs::*;
use values::*;

/// `rounds` inputs, each one of `seeds` (in turn) with one to four byte
/// mutations (overwrite, insert, truncate) drawn from a xorshift generator
/// started at `state`: a fixed, reproducible sequence for the decoders'
/// own unit tests.
pub(crate) fn mutated_seeds(
    seeds: &[Vec<u8>],
    rounds: usize,
    mut state: u64,
) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..rounds).map(move |round| {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % (bytes.len() + 1);
            match next() % 3 {
                0 if at < bytes.len() => bytes[at] = next() as u8,
                1 => bytes.insert(at, next() as u8),
                _ => bytes.truncate(at),
            }
        }
        bytes
    })
}

/// Inputs per decoder and input kind when `DM_FUZZ_CASES` is not set.
const DEFAULT_CASES: u32 = 1_000;

fn cases() -> u32 {
    std::env::var("DM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// The filter rejections a run of `cases` inputs may draw: four per case,
/// and never fewer than proptest's default.
fn local_reject_cap(cases: u32) -> u32 {
    cases
        .saturating_mul(4)
        .max(Config::default().max_local_rejects)
}

/// Runs `decode` over `cases()` inputs of `strategy`. `decode` returns
/// whether the input decoded; a rejected input must come back as the
/// decoder's error type, which the signatures below enforce. A panic fails
/// the test with the shrunk input.
fn fuzz<S>(decoder: &str, cases: u32, strategy: S, decode: impl Fn(&S::Value) -> bool)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrinking a panic is cheap; rejections are not failures.
        max_shrink_iters: 10_000,
        // The valid values' filters (one-line names, non-empty key parts)
        // reject a share of what they draw, and the mutated inputs draw a
        // valid value each: proptest's fixed cap (65,536 per run) stopped a
        // million-case run, so the cap grows with the cases.
        max_local_rejects: local_reject_cap(cases),
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let decoded = AtomicU64::new(0);
    let rejected = AtomicU64::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |input| {
        if decode(&input) {
            decoded.fetch_add(1, Ordering::Relaxed);
        } else {
            rejected.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz {decoder}: {e}");
    }
    let (ok, err) = (decoded.into_inner(), rejected.into_inner());
    println!(
        "fuzz {decoder}: {} inputs, {ok} decoded, {err} rejected ({:.1} s)",
        ok + err,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// Decoders
// ---------------------------------------------------------------------------

fn fuzz_bytes_and_mutations(
    decoder: &str,
    valid: impl Strategy<Value = Vec<u8>> + 'static,
    decode: impl Fn(&[u8]) -> bool,
) {
    let valid = valid.boxed();
    // Valid values must decode: otherwise the mutations start from garbage.
    // A tenth of the cases is enough to check the generator.
    let valid_cases = (cases() / 10).max(1);
    fuzz(
        &format!("{decoder} (valid)"),
        valid_cases,
        valid.clone(),
        |v| {
            assert!(decode(v), "a valid value was rejected");
            true
        },
    );
    fuzz(
        &format!("{decoder} (arbitrary bytes)"),
        cases(),
        bytes(),
        |v| decode(v),
    );
    fuzz(
        &format!("{decoder} (mutated)"),
        cases(),
        mutated(valid),
        |v| decode(v),
    );
}

/// One test per record that encodes itself: valid values come from the
/// strategy, encoded, and the record's `decode` must return a value or an
/// error for any input.
macro_rules! record_decoder_tests {
    ($($(#[$doc:meta])* $test:ident: $name:literal, $valid:expr => $record:ty;)*) => {$(
        $(#[$doc])*
        #[test]
        fn $test() {
            fuzz_bytes_and_mutations($name, $valid.prop_map(|v| v.encode()), |b| {
                <$record>::decode(b).is_ok()
            });
        }
    )*};
}

record_decoder_tests! {
    /// DM's pessimistic `Info`.
    pessimism_info_decoder: "pessimism Info", pessimism_info() => pessimism::Info;
    /// DM's pessimistic `Operation`.
    pessimism_operation_decoder: "pessimism Operation", pessimism_operation() => pessimism::Operation;
    /// DM's optimistic `Info`.
    optimism_info_decoder: "optimism Info", optimism_info() => optimism::Info;
    /// DM's optimistic `Operation`.
    optimism_operation_decoder: "optimism Operation", optimism_operation() => optimism::Operation;
    /// DM's `SourceTables`.
    source_tables_decoder: "SourceTables", source_tables() => SourceTables;
    /// A dropped column's stage.
    dropped_column_stage_decoder: "dropped-columns value", prop_oneof![
        Just(DropColumnStage::NotDone),
        Just(DropColumnStage::Done),
        Just(DropColumnStage::PartiallyDone),
    ] => DropColumnStage;
}

/// The subtask config as the coordinators read it: key and value of a PUT.
#[test]
fn subtask_config_decoder() {
    let space = KeySpace::default();
    let decode = |value: &[u8]| {
        let key = space.key(&UPSTREAM_SUBTASK, ["mysql-1", "task"]);
        TaskRegistry::new()
            .apply_put(&space, key.as_bytes(), value)
            .is_ok()
    };
    fuzz_bytes_and_mutations("subtask config TOML", subtask_toml(), decode);
}

/// What an optimistic lock does with a schema from an Info: decode it,
/// encode it into the lattice, compare and join it with itself and with
/// another schema.
fn decode_table_info(bytes: &[u8], other: &Table) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return TableInfo::from_json_str(&String::from_utf8_lossy(bytes)).is_ok();
    };
    let Ok(info) = TableInfo::from_json_value(value) else {
        return false;
    };
    let table = Table::from_table_info(&info);
    let _ = table.compare(&table);
    let _ = table.join(&table);
    let _ = table.compare(other);
    let _ = table.join(other).map(|joined| joined.compare(&table));
    let _ = info.to_json_value();
    true
}

#[test]
fn table_info_decoder() {
    let fixtures = table_info_fixtures();
    let other = Table::from_table_info(
        &TableInfo::from_json_str(std::str::from_utf8(&fixtures[0]).expect("UTF-8 fixture"))
            .expect("fixture decodes"),
    );
    fuzz_bytes_and_mutations("TableInfo JSON", prop::sample::select(fixtures), |b| {
        decode_table_info(b, &other)
    });
}

#[test]
fn lock_id_parser() {
    // DM's regex cannot match across a line break, so IDs with one in a
    // name do not parse (as in DM): valid IDs come from one-line names.
    let line = || name().prop_filter("one line", |n| !n.contains('\n'));
    let valid = (line(), line(), line())
        .prop_map(|(task, schema, table)| keys::lock_id(&task, &schema, &table).into_bytes());
    let parse = |b: &[u8]| keys::parse_lock_id(&String::from_utf8_lossy(b)).is_some();
    fuzz_bytes_and_mutations("lock ID", valid, parse);
}

fn decodes<const N: usize>(space: &KeySpace, adapter: &KeyAdapter<N>, key: &[u8]) -> bool {
    space.decode(adapter, key).is_ok()
}

/// Tries a key against every adapter the coordinators decode with.
fn decode_any_key(key: &[u8]) -> bool {
    [KeySpace::default(), KeySpace::new("/ns")]
        .iter()
        .any(|space| {
            let results = [
                decodes(space, &PESSIMISM_INFO, key),
                decodes(space, &PESSIMISM_OPERATION, key),
                decodes(space, &OPTIMISM_SOURCE_TABLES, key),
                decodes(space, &OPTIMISM_INFO, key),
                decodes(space, &OPTIMISM_OPERATION, key),
                decodes(space, &OPTIMISM_DROPPED_COLUMNS, key),
                decodes(space, &keys::OPTIMISM_INIT_SCHEMA, key),
                decodes(space, &UPSTREAM_SUBTASK, key),
            ];
            results.iter().any(|ok| *ok)
        })
}

#[test]
fn hex_key_decoder() {
    let valid = (
        prop_oneof![Just(KeySpace::default()), Just(KeySpace::new("/ns"))],
        name(),
        name(),
        (name(), name()),
        0usize..6,
    )
        .prop_map(|(space, task, source, (schema, table), which)| {
            let t = TableKey::new(&source, &schema, &table);
            match which {
                0 => space.pessimism_info(&task, &source),
                1 => space.pessimism_operation(&task, &source),
                2 => space.optimism_source_tables(&task, &source),
                3 => space.optimism_info(&task, &t),
                4 => space.optimism_dropped_column(&task, &schema, &t),
                _ => space.key(&OPTIMISM_OPERATION, [&task, &source, &schema, &table]),
            }
            .into_bytes()
        });
    // Keys with an empty part do not decode, like DM's; keep the valid set
    // to keys that do.
    let valid = valid.prop_filter("every part non-empty", |k| decode_any_key(k));
    fuzz_bytes_and_mutations("hex key", valid, decode_any_key);
}
