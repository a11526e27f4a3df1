//! Property tests on generated shard schemas: the join is commutative,
//! associative and idempotent, agrees with compare, fails symmetrically,
//! and `JoinTree` always equals the fold of `join` over its members.
//!
//! The generator draws each column from a small menu of variants that
//! overlap the way shard schemas do (wider types, extra ENUM members,
//! defaults added, keys added or dropped, conflicting types and defaults).
//! It stays away from the two corners where TiDB's join is not associative
//! (see the `schemacmp` module docs): it never mixes latin1 with utf8, and a
//! column that may be NOT NULL without default only ever gets its type's
//! zero value as an explicit default.

use std::cmp::Ordering;

use proptest::collection::vec;
use proptest::prelude::*;

use super::test_support::*;
use super::{JoinTree, Table};
use crate::tableinfo::{ColumnInfo, FieldType as T, IndexInfo, TableInfo};

fn charset() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![Just(("utf8mb4", "utf8mb4_bin")), Just(("utf8", "utf8_bin"))]
}

fn c1() -> impl Strategy<Value = ColumnInfo> {
    (
        prop_oneof![Just(10), Just(20), Just(40)],
        charset(),
        any::<bool>(),
    )
        .prop_map(|(len, (cs, co), with_default)| {
            let c = col("c1", T::varchar(len).with_charset(cs, co));
            if with_default {
                c.default_value("")
            } else {
                c
            }
        })
}

fn c2() -> impl Strategy<Value = ColumnInfo> {
    let ty = prop_oneof![Just(T::tinyint()), Just(T::int()), Just(T::bigint())];
    let default = prop_oneof![Just(None), Just(Some("0")), Just(Some("1"))];
    (ty, default).prop_map(|(ty, default)| match default {
        Some(d) => col("c2", ty).default_value(d),
        None => col("c2", ty),
    })
}

fn c3() -> impl Strategy<Value = ColumnInfo> {
    (1..=3usize, any::<bool>()).prop_map(|(members, with_default)| {
        let c = col("c3", T::enumeration(&["a", "b", "c"][..members])).not_null();
        if with_default {
            c.default_value("a")
        } else {
            c
        }
    })
}

fn c4() -> impl Strategy<Value = ColumnInfo> {
    prop_oneof![Just(T::text()), Just(T::mediumtext()), Just(T::longtext())]
        .prop_map(|ty| col("c4", ty))
}

fn c5() -> impl Strategy<Value = ColumnInfo> {
    prop_oneof![Just(T::int()), Just(T::varchar(10))].prop_map(|ty| col("c5", ty))
}

fn c6() -> impl Strategy<Value = ColumnInfo> {
    any::<bool>().prop_map(|with_default| {
        let c = col("c6", T::decimal(10, 2)).not_null();
        if with_default {
            c.default_value("0")
        } else {
            c
        }
    })
}

/// The choices a shard schema is built from; one "gene" per column, plus
/// the table charset and the set of secondary indexes.
#[derive(Clone, Debug)]
struct Genome {
    id: T,
    columns: [Option<ColumnInfo>; 6],
    charset: (&'static str, &'static str),
    keys: u8,
}

const GENES: usize = 9;

fn genome() -> BoxedStrategy<Genome> {
    let id = prop_oneof![Just(T::int()), Just(T::bigint())];
    let columns = (
        proptest::option::of(c1()),
        proptest::option::of(c2()),
        proptest::option::of(c3()),
        proptest::option::of(c4()),
        proptest::option::of(c5()),
        proptest::option::of(c6()),
    );
    (id, columns, charset(), 0..16u8)
        .prop_map(|(id, (c1, c2, c3, c4, c5, c6), charset, keys)| Genome {
            id,
            columns: [c1, c2, c3, c4, c5, c6],
            charset,
            keys,
        })
        .boxed()
}

impl Genome {
    /// This genome with gene `gene` taken from `other`: one DDL-sized step
    /// (a column added, dropped or changed, an index set or the charset
    /// changed), so related shards are often ordered.
    fn splice(&self, other: &Genome, gene: usize) -> Genome {
        let mut out = self.clone();
        match gene {
            0 => out.id = other.id.clone(),
            1..=6 => out.columns[gene - 1] = other.columns[gene - 1].clone(),
            7 => out.charset = other.charset,
            _ => out.keys = other.keys,
        }
        out
    }

    /// A shard schema: `id` primary key plus optional columns and indexes.
    fn build(&self) -> TableInfo {
        let [c1, c2, _, c4, _, _] = &self.columns;
        let keys = self.keys;
        let mut indexes: Vec<IndexInfo> = vec![primary(&["id"])];
        if keys & 1 != 0 && c1.is_some() {
            indexes.push(key("idx_c1", &["c1"]));
        } else if keys & 1 != 0 && c2.is_some() {
            // Same name, different column.
            indexes.push(key("idx_c1", &["c2"]));
        }
        if keys & 2 != 0 && c2.is_some() {
            indexes.push(unique("uk_c2", &["c2"]));
        }
        if keys & 4 != 0 && c1.is_some() && c2.is_some() {
            indexes.push(key("idx_c12", &["c1", "c2"]));
        }
        if keys & 8 != 0 && c4.is_some() {
            indexes.push(prefix_key("idx_c4", "c4", 16));
        }
        let columns = std::iter::once(col("id", self.id.clone()))
            .chain(self.columns.iter().flatten().cloned())
            .collect();
        let (cs, co) = self.charset;
        table(columns, indexes).with_charset(cs, co)
    }
}

fn table_info() -> impl Strategy<Value = TableInfo> {
    genome().prop_map(|g| g.build())
}

/// Three shards where each differs from the previous by one or two steps.
fn related_triple() -> BoxedStrategy<(Table, Table, Table)> {
    let step = || (genome(), 0..GENES);
    (genome(), step(), step(), step(), step())
        .prop_map(|(a, (f1, g1), (f2, g2), (f3, g3), (f4, g4))| {
            let b = a.splice(&f1, g1).splice(&f2, g2);
            let c = b.splice(&f3, g3).splice(&f4, g4);
            (enc(&a.build()), enc(&b.build()), enc(&c.build()))
        })
        .boxed()
}

/// Independent shards, or related ones (mostly ordered or joinable).
fn triple() -> BoxedStrategy<(Table, Table, Table)> {
    prop_oneof![(tables(), tables(), tables()), related_triple()].boxed()
}

/// Shard schemas that drift from one base by single steps.
fn drifting_tables() -> BoxedStrategy<Vec<Option<Table>>> {
    (
        genome(),
        vec(proptest::option::of((genome(), 0..GENES)), 1..40),
    )
        .prop_map(|(base, steps)| {
            steps
                .into_iter()
                .map(|step| step.map(|(fresh, gene)| enc(&base.splice(&fresh, gene).build())))
                .collect()
        })
        .boxed()
}

fn tables() -> BoxedStrategy<Table> {
    table_info().prop_map(|t| enc(&t)).boxed()
}

/// Both fail, or both succeed with the same schema.
fn same_outcome(
    a: &Result<Table, super::Incompatible>,
    b: &Result<Table, super::Incompatible>,
) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn join_is_idempotent(a in tables()) {
        prop_assert_eq!(a.join(&a).ok(), Some(a.clone()));
        prop_assert_eq!(a.compare(&a).ok(), Some(Ordering::Equal));
    }

    #[test]
    fn join_is_commutative((a, b, _) in triple()) {
        let ab = a.join(&b);
        let ba = b.join(&a);
        prop_assert!(same_outcome(&ab, &ba), "a ∨ b = {:?}, b ∨ a = {:?}", ab, ba);
    }

    #[test]
    fn join_is_associative((a, b, c) in triple()) {
        let left = a.join(&b).and_then(|ab| ab.join(&c));
        let right = b.join(&c).and_then(|bc| a.join(&bc));
        prop_assert!(same_outcome(&left, &right), "(a ∨ b) ∨ c = {:?}, a ∨ (b ∨ c) = {:?}", left, right);
    }

    #[test]
    fn compare_agrees_with_join((a, b, _) in triple()) {
        let cmp = a.compare(&b);
        let join = a.join(&b);
        // Less iff the join is b and a differs from b.
        let joined_to_b = matches!(&join, Ok(j) if *j == b);
        prop_assert_eq!(cmp.as_ref().ok() == Some(&Ordering::Less), joined_to_b && a != b);
        prop_assert_eq!(cmp.as_ref().ok() == Some(&Ordering::Equal), a == b);
        // Antisymmetric, and errors in one order are errors in the other.
        let back = b.compare(&a);
        prop_assert_eq!(cmp.as_ref().ok().map(|o| o.reverse()), back.as_ref().ok().copied());
        prop_assert_eq!(cmp.is_err(), back.is_err());
        prop_assert_eq!(join.is_err(), b.join(&a).is_err());
        // A join is an upper bound.
        if let Ok(j) = &join {
            prop_assert!(matches!(j.compare(&a), Ok(Ordering::Equal | Ordering::Greater)));
            prop_assert!(matches!(j.compare(&b), Ok(Ordering::Equal | Ordering::Greater)));
        }
    }

    #[test]
    fn table_info_json_round_trip(t in table_info()) {
        let value = t.to_json_value();
        let back = TableInfo::from_json_value(value.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.to_json_value().to_string(), value.to_string());
        prop_assert_eq!(enc(&back), enc(&t));
        // Decoding the encoded schema gives the same lattice element.
        prop_assert_eq!(enc(&enc(&t).to_table_info("t")), enc(&t));
    }

    #[test]
    fn join_tree_equals_fold(
        keys in vec(0..6u8, 40),
        tables in prop_oneof![drifting_tables(), vec(proptest::option::of(tables()), 1..40)],
    ) {
        let mut tree = JoinTree::new();
        for (key, table) in keys.into_iter().zip(tables) {
            match table {
                Some(t) => { tree.insert(key, t); }
                None => { tree.remove(&key); }
            }
            let fold = tree.iter().try_fold(None::<Table>, |acc, (_, t)| match acc {
                None => Ok(Some(t.clone())),
                Some(acc) => acc.join(t).map(Some),
            });
            let joined = tree.joined();
            match (&fold, &joined) {
                (Ok(f), Ok(j)) => prop_assert_eq!(f, j),
                (Err(_), Err(_)) => prop_assert!(tree.conflict().is_some()),
                _ => prop_assert!(false, "fold {:?} but tree {:?}", fold, joined),
            }
            prop_assert!(tree.distinct_schemas() <= tree.len());
        }
    }
}
