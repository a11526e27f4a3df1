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
// Input strategies
// ---------------------------------------------------------------------------

/// Arbitrary bytes, mostly short, sometimes long.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..2048),
    ]
}

/// Fragments that steer byte mutations towards the decoders' edge cases.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udc00",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-",
    b"1e999",
    b"-1e999",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9223372036854775807",
    b"1.5",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"\x00",
    b"{}",
    b"[]",
    b"\"\"",
    b"/",
    b"`",
    b"-`",
    b"`.`",
    b"\n",
    b"=",
    b"[[",
    b"]]",
    b"'",
    b"\"\"\"",
    b"0x",
    b"inf",
    b"nan",
    b"#",
];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, u8),
    InsertToken(Index, Index),
    Remove(Index, usize),
    Truncate(Index),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        // Positions may point one past the end (insertion at the end).
        let at = |i: &Index, data: &Vec<u8>| i.index(data.len() + 1);
        match m {
            Mutation::FlipBit(i, bit) if !data.is_empty() => {
                let p = i.index(data.len());
                data[p] ^= 1 << bit;
            }
            Mutation::SetByte(i, b) if !data.is_empty() => {
                let p = i.index(data.len());
                data[p] = *b;
            }
            Mutation::Insert(i, b) => {
                let p = at(i, &data);
                data.insert(p, *b);
            }
            Mutation::InsertToken(i, t) => {
                let p = at(i, &data);
                let token = TOKENS[t.index(TOKENS.len())];
                data.splice(p..p, token.iter().copied());
            }
            Mutation::Remove(i, n) if !data.is_empty() => {
                let p = i.index(data.len());
                let end = (p + n).min(data.len());
                data.drain(p..end);
            }
            Mutation::Truncate(i) => {
                let p = at(i, &data);
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

/// A small arbitrary JSON value: every JSON type, extreme numbers, strings
/// with escapes and non-ASCII.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        Just(json!("")),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1.5)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((name(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Replaces one node of `node`, chosen by walking `path`, with `with`.
fn replace_node(node: &mut Value, path: &[Index], with: Value) {
    if let Some((step, rest)) = path.split_first() {
        match node {
            Value::Array(items) if !items.is_empty() => {
                let n = items.len();
                return replace_node(&mut items[step.index(n)], rest, with);
            }
            Value::Object(map) if !map.is_empty() => {
                let n = map.len();
                if let Some(child) = map.values_mut().nth(step.index(n)) {
                    return replace_node(child, rest, with);
                }
            }
            _ => {}
        }
    }
    *node = with;
}

/// A valid value of one decoder's type, mutated: byte-level edits, or one
/// JSON node replaced by a value of any type (the typed-error paths).
fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        valid,
        vec(mutation(), 1..6),
        prop::option::of((vec(any::<Index>(), 0..5), json_value())),
    )
        .prop_map(|(data, mutations, replacement)| match replacement {
            Some((path, with)) => match serde_json::from_slice::<Value>(&data) {
                Ok(mut doc) => {
                    replace_node(&mut doc, &path, with);
                    serde_json::to_vec(&doc).unwrap_or(data)
                }
                Err(_) => apply(data, &mutations),
            },
            None => apply(data, &mutations),
        })
}

/// Characters of generated names: plain ones, and those that need escaping
/// in JSON, TOML, hex keys or lock IDs.
const NAME_CHARS: &[char] = &[
    'a', 'b', 'Z', '0', '9', '_', '-', '.', '`', '/', ' ', '"', '\\', '\'', '<', '&', '=', '#',
    '\n', '\u{0}', '\u{7f}', 'é', '\u{2028}', '𝔸',
];

/// Names as the records carry them: drawn from [`NAME_CHARS`], sometimes
/// any string. (Cheaper than a regex strategy, which keeps the normal test
/// run fast.)
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => vec(prop::sample::select(NAME_CHARS), 0..12).prop_map(String::from_iter),
        1 => any::<String>(),
    ]
}

fn ddls() -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::of(vec(
        prop_oneof![
            Just("ALTER TABLE `t` ADD COLUMN `c` INT".to_owned()),
            any::<String>(),
        ],
        0..3,
    ))
}

fn pessimism_info() -> impl Strategy<Value = pessimism::Info> {
    (name(), name(), name(), name(), ddls()).prop_map(|(task, source, schema, table, ddls)| {
        pessimism::Info {
            task,
            source,
            schema,
            table,
            ddls,
        }
    })
}

fn pessimism_operation() -> impl Strategy<Value = pessimism::Operation> {
    (name(), name(), name(), ddls(), any::<bool>(), any::<bool>()).prop_map(
        |(id, task, source, ddls, exec, done)| pessimism::Operation {
            id,
            task,
            source,
            ddls,
            exec,
            done,
        },
    )
}

/// TiDB `TableInfo` JSON documents: the fixtures, as written by TiDB.
fn table_info_fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("tests/fixtures")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "json"))
        .map(|entry| std::fs::read(entry.path()).expect("fixture"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no TableInfo fixtures in {dir}");
    out
}

fn table_info_value() -> impl Strategy<Value = Value> {
    let fixtures: Vec<Value> = table_info_fixtures()
        .iter()
        .map(|b| serde_json::from_slice(b).expect("fixture JSON"))
        .collect();
    prop::sample::select(fixtures)
}

fn optimism_info() -> impl Strategy<Value = optimism::Info> {
    (
        (name(), name(), name(), name(), name(), name()),
        ddls(),
        prop::option::of(table_info_value()),
        prop::option::of(vec(
            prop_oneof![table_info_value(), Just(Value::Null)],
            0..3,
        )),
        any::<bool>(),
    )
        .prop_map(
            |(
                (task, source, up_schema, up_table, down_schema, down_table),
                ddls,
                before,
                after,
                ignore_conflict,
            )| optimism::Info {
                task,
                source,
                up_schema,
                up_table,
                down_schema,
                down_table,
                ddls,
                table_info_before: before,
                table_info_after: after,
                ignore_conflict,
            },
        )
}

fn optimism_operation() -> impl Strategy<Value = optimism::Operation> {
    (
        (name(), name(), name(), name(), name()),
        ddls(),
        prop_oneof![
            Just(ConflictStage::None),
            Just(ConflictStage::Detected),
            Just(ConflictStage::Resolved),
            Just(ConflictStage::Unlocked),
            Just(ConflictStage::SkipWaitRedirect),
            Just(ConflictStage::Error),
            name().prop_map(|s| ConflictStage::from_wire(&s)),
        ],
        name(),
        any::<bool>(),
        prop::option::of(vec(name(), 0..3)),
    )
        .prop_map(
            |((id, task, source, up_schema, up_table), ddls, stage, message, done, cols)| {
                optimism::Operation {
                    id,
                    task,
                    source,
                    up_schema,
                    up_table,
                    ddls,
                    conflict_stage: stage,
                    conflict_message: message,
                    done,
                    cols,
                }
            },
        )
}

fn source_tables() -> impl Strategy<Value = SourceTables> {
    (name(), name(), vec((name(), name(), name(), name()), 0..5)).prop_map(
        |(task, source, tables)| {
            let mut st = SourceTables::new(task, source);
            for (down_schema, down_table, up_schema, up_table) in tables {
                st.add_table(&up_schema, &up_table, &down_schema, &down_table);
            }
            st
        },
    )
}

/// A name DM's subtask `Adjust` accepts everywhere (task, source, route
/// patterns and targets must not be empty; the mutations supply the rest).
fn plain_name() -> impl Strategy<Value = String> {
    vec(prop::sample::select(&['a', 'Z', '0', '_', '-'][..]), 1..10).prop_map(String::from_iter)
}

fn subtask_toml() -> impl Strategy<Value = Vec<u8>> {
    (
        plain_name(),
        plain_name(),
        any::<bool>(),
        prop_oneof![
            Just(String::new()),
            Just("pessimistic".to_owned()),
            Just("optimistic".to_owned()),
        ],
        vec(
            (plain_name(), plain_name(), plain_name(), plain_name()),
            0..3,
        ),
    )
        .prop_map(|(name, source_id, is_sharding, shard_mode, routes)| {
            SubTaskConfig {
                name,
                source_id,
                is_sharding,
                shard_mode,
                route_rules: routes
                    .into_iter()
                    .map(|(s, t, ts, tt)| RouteRule {
                        schema_pattern: s,
                        table_pattern: t,
                        target_schema: ts,
                        target_table: tt,
                    })
                    .collect(),
            }
            .to_toml()
            .into_bytes()
        })
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

#[test]
fn pessimism_info_decoder() {
    fuzz_bytes_and_mutations(
        "pessimism Info",
        pessimism_info().prop_map(|i| i.encode()),
        |b| pessimism::Info::decode(b).is_ok(),
    );
}

#[test]
fn pessimism_operation_decoder() {
    fuzz_bytes_and_mutations(
        "pessimism Operation",
        pessimism_operation().prop_map(|o| o.encode()),
        |b| pessimism::Operation::decode(b).is_ok(),
    );
}

#[test]
fn optimism_info_decoder() {
    fuzz_bytes_and_mutations(
        "optimism Info",
        optimism_info().prop_map(|i| i.encode()),
        |b| optimism::Info::decode(b).is_ok(),
    );
}

#[test]
fn optimism_operation_decoder() {
    fuzz_bytes_and_mutations(
        "optimism Operation",
        optimism_operation().prop_map(|o| o.encode()),
        |b| optimism::Operation::decode(b).is_ok(),
    );
}

#[test]
fn source_tables_decoder() {
    fuzz_bytes_and_mutations(
        "SourceTables",
        source_tables().prop_map(|st| st.encode()),
        |b| SourceTables::decode(b).is_ok(),
    );
}

#[test]
fn dropped_column_stage_decoder() {
    fuzz_bytes_and_mutations(
        "dropped-columns value",
        prop_oneof![
            Just(DropColumnStage::NotDone),
            Just(DropColumnStage::Done),
            Just(DropColumnStage::PartiallyDone),
        ]
        .prop_map(|s| s.encode()),
        |b| DropColumnStage::decode(b).is_ok(),
    );
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
