//! `JoinTree` scenarios: what the optimistic lock does with shard schemas.

use std::cmp::Ordering;

use super::*;
use crate::schemacmp::test_support::*;
use crate::tableinfo::{ColumnInfo, FieldType as T, TableInfo};

/// `id INT PRIMARY KEY, c1 VARCHAR(20)` plus `extra` columns.
fn shard(extra: &[(&str, T)]) -> Table {
    let mut columns = vec![col("id", T::int()), col("c1", T::varchar(20))];
    columns.extend(
        extra
            .iter()
            .map(|(name, ft)| ColumnInfo::new(name, ft.clone())),
    );
    enc(&table(columns, vec![primary(&["id"])]))
}

fn old() -> Table {
    shard(&[])
}

fn new() -> Table {
    shard(&[("c2", T::int())])
}

fn clash() -> Table {
    shard(&[("c2", T::varchar(10))])
}

enum Op {
    Put(&'static str, Table),
    Del(&'static str),
}

/// Applies `ops` and checks `joined()` (a table, `None`, or an error text),
/// that it matches the fold of `join` over the members in key order, and
/// the number of distinct schemas.
fn check(ops: Vec<Op>, want: Result<Option<Table>, &str>, distinct: usize) {
    let mut tree = JoinTree::new();
    for op in ops {
        match op {
            Op::Put(k, t) => {
                tree.insert(k, t);
            }
            Op::Del(k) => {
                tree.remove(&k);
            }
        }
    }
    let got = tree.joined();
    match (&got, &want) {
        (Ok(g), Ok(w)) => assert_eq!(g, w),
        (Err(g), Err(w)) => assert_eq!(g.to_string(), *w),
        _ => panic!("joined() = {got:?}, expected {want:?}"),
    }
    let fold = tree
        .iter()
        .try_fold(None::<Table>, |acc, (_, t)| match acc {
            None => Ok(Some(t.clone())),
            Some(acc) => acc.join(t).map(Some),
        });
    assert_eq!(fold.is_ok(), got.is_ok(), "fold agrees on success");
    if let (Ok(Some(f)), Ok(Some(g))) = (&fold, &got) {
        assert_eq!(f.compare(g).ok(), Some(Ordering::Equal));
    }
    assert_eq!(tree.distinct_schemas(), distinct);
    assert_eq!(tree.conflict().is_some(), got.is_err());
    // `schemas()` partitions the members by schema.
    assert_eq!(tree.schemas().count(), distinct);
    let mut members = 0;
    for (id, schema, count) in tree.schemas() {
        let keys: Vec<_> = tree.keys_with(schema).collect();
        assert!(!keys.is_empty());
        assert_eq!(keys.len(), count);
        for k in keys {
            assert_eq!(tree.get(k), Some(schema));
            assert_eq!(tree.schema_id(k), Some(id));
        }
        members += count;
    }
    assert_eq!(members, tree.len());
    assert!(tree.members().all(|(k, id)| tree.schema_id(k) == Some(id)));
}

#[test]
fn scenarios() {
    use Op::*;
    check(vec![], Ok(None), 0);
    check(vec![Put("a", old())], Ok(Some(old())), 1);
    check(vec![Put("a", old()), Del("a")], Ok(None), 0);
    // One shard ahead: the join is the new schema.
    check(
        vec![Put("a", old()), Put("b", old()), Put("c", new())],
        Ok(Some(new())),
        2,
    );
    // Every shard caught up.
    check(
        vec![Put("a", old()), Put("b", new()), Put("a", new())],
        Ok(Some(new())),
        1,
    );
    // A shard reverts its change.
    check(
        vec![Put("a", old()), Put("b", new()), Put("b", old())],
        Ok(Some(old())),
        1,
    );
    // Two shards add the same column with different types.
    check(
        vec![Put("a", old()), Put("b", new()), Put("c", clash())],
        Err(
            r#"at tuple index 2: at map key "c2": at tuple index 3: at tuple index 0: incompatible mysql type (3 vs 15)"#,
        ),
        3,
    );
    // ... and the tree recovers when the offender goes away.
    check(
        vec![
            Put("a", old()),
            Put("b", new()),
            Put("c", clash()),
            Del("b"),
        ],
        Ok(Some(clash())),
        2,
    );
    check(
        vec![Put("a", new()), Put("c", clash()), Put("c", new())],
        Ok(Some(new())),
        1,
    );
    // Removing an absent key changes nothing.
    check(vec![Put("a", new()), Del("zz")], Ok(Some(new())), 1);
}

#[test]
fn members_and_interning() {
    let mut tree = JoinTree::new();
    assert!(tree.is_empty());
    assert_eq!(tree.insert(1, old()), None);
    // An equal schema from another encoding shares the leaf.
    assert_eq!(tree.insert(2, old()), None);
    assert_eq!(tree.distinct_schemas(), 1);
    assert_eq!(tree.insert(2, new()), Some(old()));
    assert_eq!(tree.insert(2, new()), Some(new()));
    assert_eq!(tree.len(), 2);
    assert_eq!(tree.get(&2), Some(&new()));
    assert!(tree.contains_key(&1) && !tree.contains_key(&3));
    assert_eq!(tree.keys_with(&old()).collect::<Vec<_>>(), [&1]);
    assert_eq!(tree.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(tree.remove(&1), Some(old()));
    assert_eq!(tree.remove(&1), None);
    assert_eq!(tree.distinct_schemas(), 1);
    assert_eq!(tree.joined().ok(), Some(Some(new())));
}

#[test]
fn conflict_names_a_member() {
    let mut tree = JoinTree::new();
    tree.insert("a", old());
    tree.insert("b", new());
    tree.insert("c", clash());
    let conflict = tree.conflict().expect("conflict");
    assert_eq!(
        conflict.error.to_string(),
        tree.joined().expect_err("incompatible").to_string()
    );
    assert_eq!(
        conflict.joined.join(&conflict.table).err(),
        Some(conflict.error.clone())
    );
    assert_eq!(conflict.key, "c");
    assert_eq!(conflict.table, clash());
}

/// Many distinct schemas: the tree grows, frees and reuses leaves, and its
/// root always equals the fold.
#[test]
fn growth_and_reuse() {
    let widths: Vec<Table> = (1..=40)
        .map(|n| enc(&TableInfo::new("t").with_column(ColumnInfo::new("v", T::varchar(n)))))
        .collect();
    let mut tree = JoinTree::new();
    for (i, t) in widths.iter().enumerate() {
        tree.insert(i, t.clone());
        assert_eq!(
            tree.joined().ok(),
            Some(Some(t.clone())),
            "after inserting {i}"
        );
    }
    assert_eq!(tree.distinct_schemas(), 40);
    for i in (10..40).rev() {
        tree.remove(&i);
        assert_eq!(tree.joined().ok(), Some(Some(widths[i - 1].clone())));
    }
    for i in 0..10 {
        tree.insert(i, widths[39 - i].clone());
    }
    assert_eq!(tree.joined().ok(), Some(Some(widths[39].clone())));
    assert_eq!(tree.distinct_schemas(), 10);
}
