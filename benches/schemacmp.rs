//! Re-joining a lock's shard schemas after one shard changes, with
//! `JoinTree` holding 100, 1,000 and 10,000 shards of a 20-column table.
//!
//! - `shared_schemas`: the usual shape of a lock: shards share four
//!   compatible schemas (some one column ahead, one with a wider VARCHAR,
//!   one with an extra ENUM member); one shard flips between its schema and
//!   a schema of its own (the next DDL).
//! - `distinct_schemas`: the worst case for interning: every shard has its
//!   own (compatible) schema, so the tree holds one leaf per shard.
//!
//! The changed tables are encoded before measuring: each iteration is one
//! `insert` plus `joined()`.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use dm_master::schemacmp::{JoinTree, Table};
use dm_master::tableinfo::{mysql, ColumnInfo, FieldType as T, IndexInfo, TableInfo};

/// How a shard's schema differs from the base one.
#[derive(Clone, Copy)]
enum Variant {
    Base,
    /// One column ahead (ADD COLUMN done).
    ColumnAhead,
    /// `note` widened to VARCHAR(512).
    WiderNote,
    /// `status` gained an ENUM member.
    MoreStatus,
}

const VARIANTS: [Variant; 4] = [
    Variant::Base,
    Variant::ColumnAhead,
    Variant::WiderNote,
    Variant::MoreStatus,
];

/// The 20-column `orders` table of one shard; `coupon_len` varies the
/// width of one column to make schemas distinct, `next_ddl` adds a column
/// no other shard has.
fn shard(variant: Variant, coupon_len: i64, next_ddl: bool) -> TableInfo {
    let status: &[&str] = match variant {
        Variant::MoreStatus => &["new", "paid", "shipped", "refunded"],
        _ => &["new", "paid", "shipped"],
    };
    let note_len = match variant {
        Variant::WiderNote => 512,
        _ => 255,
    };
    let mut t = TableInfo::new("orders")
        .with_charset("utf8mb4", "utf8mb4_general_ci")
        .with_column(ColumnInfo::new("id", T::bigint().unsigned()).auto_increment())
        .with_column(ColumnInfo::new("user_id", T::bigint()).not_null())
        .with_column(
            ColumnInfo::new("status", T::enumeration(status))
                .not_null()
                .default_value("new"),
        )
        .with_column(
            ColumnInfo::new("amount", T::decimal(12, 2))
                .not_null()
                .default_value("0.00"),
        )
        .with_column(
            ColumnInfo::new("currency", T::char(3))
                .not_null()
                .default_value("USD"),
        )
        .with_column(ColumnInfo::new("note", T::varchar(note_len)))
        .with_column(
            ColumnInfo::new("created_at", T::datetime(3))
                .not_null()
                .default_value("CURRENT_TIMESTAMP(3)"),
        )
        .with_column(ColumnInfo::new("updated_at", T::timestamp(0)))
        .with_column(ColumnInfo::new("payload", T::json()))
        .with_column(ColumnInfo::new("tags", T::set(&["gift", "fragile"])))
        .with_column(
            ColumnInfo::new("qty", T::int())
                .not_null()
                .default_value("1"),
        )
        .with_column(ColumnInfo::new("discount", T::double()))
        .with_column(ColumnInfo::new("coupon", T::varchar(coupon_len)))
        .with_column(
            ColumnInfo::new("region", T::smallint())
                .not_null()
                .default_value("0"),
        )
        .with_column(
            ColumnInfo::new("flags", T::tinyint())
                .not_null()
                .default_value("0"),
        )
        .with_column(
            ColumnInfo::new("email", T::varchar(128))
                .not_null()
                .default_value(""),
        )
        .with_column(ColumnInfo::new("address", T::text()))
        .with_column(ColumnInfo::new("phone", T::varchar(32)))
        .with_column(
            ColumnInfo::new("version", T::int().unsigned())
                .not_null()
                .default_value("0"),
        )
        .with_column(
            ColumnInfo::new("deleted", T::tinyint().with_flen(1))
                .not_null()
                .default_value("0"),
        );
    if matches!(variant, Variant::ColumnAhead) {
        t.push_column(ColumnInfo::new("gift_wrap", T::varchar(16)));
    }
    if next_ddl {
        t.push_column(ColumnInfo::new("next_ddl", T::int()).default_value("0"));
    }
    t.with_index(IndexInfo::primary(&["id"]))
        .with_index(IndexInfo::new(
            "idx_user_created",
            &["user_id", "created_at"],
        ))
        .with_index(IndexInfo::new("uk_email", &["email"]).unique())
        .with_index(IndexInfo::new("idx_status", &["status"]).using(mysql::INDEX_TYPE_BTREE))
}

/// Measures shard `key` of `tree` flipping between its two schemas, each
/// flip one `insert` plus `joined()`.
fn bench_flip(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    n: usize,
    tree: &mut JoinTree<usize>,
    key: usize,
    [mine, next]: [Table; 2],
) {
    let mut flip = false;
    group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
        b.iter(|| {
            flip = !flip;
            tree.insert(key, if flip { next.clone() } else { mine.clone() });
            black_box(tree.joined())
        })
    });
}

fn bench_rejoin(c: &mut Criterion) {
    let mut group = c.benchmark_group("rejoin_after_one_change");
    for n in [100usize, 1_000, 10_000] {
        // Shared schemas: every shard encoded on its own, interned by the tree.
        let mut tree = JoinTree::new();
        for key in 0..n {
            let variant = VARIANTS[key % VARIANTS.len()];
            tree.insert(key, Table::from_table_info(&shard(variant, 32, false)));
        }
        assert!(tree.joined().is_ok_and(|j| j.is_some()));
        let key = n / 2;
        let mine = Table::from_table_info(&shard(VARIANTS[key % VARIANTS.len()], 32, false));
        let next = Table::from_table_info(&shard(VARIANTS[key % VARIANTS.len()], 32, true));
        bench_flip(
            &mut group,
            "shared_schemas",
            n,
            &mut tree,
            key,
            [mine, next],
        );

        // Distinct schemas: one leaf per shard.
        let width = |key: usize| 32 + i64::try_from(key).unwrap_or(0);
        let mut tree = JoinTree::new();
        for key in 0..n {
            let variant = VARIANTS[key % VARIANTS.len()];
            tree.insert(
                key,
                Table::from_table_info(&shard(variant, width(key), false)),
            );
        }
        assert_eq!(tree.distinct_schemas(), n);
        let variant = VARIANTS[key % VARIANTS.len()];
        let mine = Table::from_table_info(&shard(variant, width(key), false));
        let next = Table::from_table_info(&shard(variant, width(n), true));
        bench_flip(
            &mut group,
            "distinct_schemas",
            n,
            &mut tree,
            key,
            [mine, next],
        );
    }
    group.finish();
}

/// One pairwise join of two 20-column shards, for scale.
fn bench_single_join(c: &mut Criterion) {
    let a = Table::from_table_info(&shard(Variant::Base, 32, false));
    let b = Table::from_table_info(&shard(Variant::ColumnAhead, 40, true));
    c.bench_function("join_two_20_column_tables", |bench| {
        bench.iter(|| black_box(a.join(black_box(&b))))
    });
    c.bench_function("compare_two_20_column_tables", |bench| {
        bench.iter(|| black_box(a.compare(black_box(&b))))
    });
}

criterion_group!(benches, bench_rejoin, bench_single_join);
criterion_main!(benches);
