//! Cost of one optimistic TrySync: one upstream table's Info with one
//! `ADD COLUMN`, in a lock of 100 and of 10,000 tables of a 20-column
//! table, a tenth of which already added the column (the middle of a
//! rollout).
//!
//! - `caller_only`: the Info is tried with no `tts` beyond the caller, as
//!   when the lock's tables joined through SourceTables events; this is the
//!   lattice work, which should barely depend on the number of tables.
//! - `full_tts`: the lock's whole table list is passed along, as DM's
//!   `handleInfo` does with `FindTables`; merging it is O(tables) map
//!   look-ups.
//!
//! Each iteration runs on a fresh copy of the lock (copied outside the
//! measurement), so every sample sees the same state.
//!
//! `answer_from_bytes` starts from the Info's etcd bytes, as the
//! coordinator does, with the schemas read back from the Info's text or
//! decoded once with the Info.
//!
//! `baseline` puts the constant part in proportion: decoding one schema of
//! the Info from JSON, encoding it for the lattice (each Info has two), and
//! one join of two schemas.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use dm_master::optimism::lock::Lock;
use dm_master::optimism::{Info, TargetTable};
use dm_master::schemacmp::Table;
use dm_master::tableinfo::{ColumnInfo, FieldType as T, TableInfo};

mod orders;

const ADD: &str = "ALTER TABLE orders ADD COLUMN gift_wrap VARCHAR(16)";

/// The shard schema, with or without the added column.
fn orders(added: bool) -> TableInfo {
    let t = orders::head(TableInfo::new("orders"), &["new", "paid"])
        .with_column(ColumnInfo::new("note", T::varchar(255)))
        .with_column(ColumnInfo::new("created_at", T::datetime(3)).not_null())
        .with_column(ColumnInfo::new("updated_at", T::timestamp(0)))
        .with_column(ColumnInfo::new("payload", T::json()));
    let mut t = orders::tail(t, 32);
    if added {
        t.push_column(ColumnInfo::new("gift_wrap", T::varchar(16)));
    }
    orders::indexes(t)
}

fn table_name(i: usize) -> String {
    format!("orders_{i:05}")
}

/// The lock's tables: one source, one schema, `n` tables.
fn target(n: usize) -> Vec<TargetTable> {
    let tables: BTreeSet<String> = (0..n).map(table_name).collect();
    let up = BTreeMap::from([("shop".to_owned(), tables)]);
    vec![TargetTable::new("task", "mysql-1", "shop", "orders", up)]
}

fn add_info(table: &str) -> Info {
    Info {
        task: "task".to_owned(),
        source: "mysql-1".to_owned(),
        up_schema: "shop".to_owned(),
        up_table: table.to_owned(),
        down_schema: "shop".to_owned(),
        down_table: "orders".to_owned(),
        ddls: Some(vec![ADD.to_owned()]),
        table_info_before: Some(orders(false).to_json_value().into()),
        table_info_after: Some(vec![orders(true).to_json_value().into()]),
        ignore_conflict: false,
    }
}

/// A lock of `n` tables where every tenth table added the column.
fn lock(n: usize, tts: &[TargetTable]) -> Lock {
    let mut lock = Lock::new(
        "task-`shop`.`orders`",
        "task",
        "shop",
        "orders",
        Table::from_table_info(&orders(false)),
        tts,
        &|_| None,
    );
    for i in (0..n).step_by(10) {
        let r = lock.try_sync(&add_info(&table_name(i)), 1, &[], &|_| None);
        assert!(r.error.is_none());
    }
    lock
}

fn bench_try_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("try_sync_add_column");
    for n in [100usize, 10_000] {
        let tts = target(n);
        let base = lock(n, &tts);
        // A table that has not added the column yet.
        let info = add_info(&table_name(n / 2 + 1));
        for (name, tts) in [("caller_only", &[][..]), ("full_tts", &tts[..])] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter_batched(
                    || base.clone(),
                    |mut lock| {
                        let r = lock.try_sync(black_box(&info), 2, tts, &|_| None);
                        assert_eq!(r.new_ddls.len(), 1);
                        (lock, r)
                    },
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

/// From the Info's etcd bytes to its TrySync on a 100-table lock, as the
/// coordinator answers a watch event: `schemas_from_text` decodes the Info,
/// then its schemas from the Info's text; `schemas_decoded_once` takes them
/// from the JSON parsed with the Info (`InfoSchemas`).
fn bench_answer_from_bytes(c: &mut Criterion) {
    let mut group = c.benchmark_group("answer_from_bytes");
    let n = 100;
    let base = lock(n, &[]);
    let bytes = add_info(&table_name(n / 2 + 1)).encode();
    group.bench_function("schemas_from_text", |b| {
        b.iter_batched(
            || base.clone(),
            |mut lock| {
                let info = Info::decode(black_box(&bytes)).expect("info");
                let r = lock.try_sync(&info, 2, &[], &|_| None);
                assert_eq!(r.new_ddls.len(), 1);
                (lock, r)
            },
            BatchSize::LargeInput,
        );
    });
    group.bench_function("schemas_decoded_once", |b| {
        b.iter_batched(
            || base.clone(),
            |mut lock| {
                let (info, schemas) = Info::decode_with_schemas(black_box(&bytes)).expect("info");
                let r = lock.try_sync_with(&info, schemas, 2, &[], &|_| None);
                assert_eq!(r.new_ddls.len(), 1);
                (lock, r)
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn bench_baseline(c: &mut Criterion) {
    let mut group = c.benchmark_group("baseline");
    let info = add_info("orders_00001");
    let json: serde_json::Value = info
        .table_info_before
        .as_ref()
        .map(|t| serde_json::from_str(&t.to_text()).expect("the interned text parses"))
        .unwrap_or_default();
    group.bench_function("decode_table_info", |b| {
        b.iter(|| TableInfo::from_json_value(black_box(&json).clone()))
    });
    let ti = orders(false);
    group.bench_function("encode_table", |b| {
        b.iter(|| Table::from_table_info(black_box(&ti)))
    });
    let (a, b2) = (
        Table::from_table_info(&orders(false)),
        Table::from_table_info(&orders(true)),
    );
    group.bench_function("join", |b| b.iter(|| black_box(&a).join(black_box(&b2))));
    group.finish();
}

criterion_group!(
    benches,
    bench_try_sync,
    bench_answer_from_bytes,
    bench_baseline
);
criterion_main!(benches);
