//! What the shard-DDL lock relies on: the direction each DDL moves a
//! schema, and the two corners where the join depends on the operands'
//! order, inherited from TiDB.

use super::*;

/// The two corners where TiDB's join depends on the order of the operands
/// (kept on purpose, see the module docs): checked so a change is noticed.
#[test]
fn join_order_dependence_inherited_from_tidb() {
    // latin1 and utf8 have no join, although both fit under utf8mb4.
    let latin1 = enc(&t(ab()).with_charset("latin1", "latin1_bin"));
    let utf8 = enc(&t(ab()).with_charset("utf8", "utf8_bin"));
    let utf8mb4 = enc(&t(ab()));
    assert!(latin1.join(&utf8mb4).and_then(|j| j.join(&utf8)).is_ok());
    assert_eq!(
        latin1.join(&utf8).map_err(|e| e.to_string()),
        Err("at tuple index 0: incompatible mysql charset (latin1 vs utf8)".to_owned())
    );

    // A NOT NULL column without default gets its zero default only when
    // joined with a table that lacks it, which can clash with an explicit
    // default met later.
    let no_default = enc(&t(with(ab(), vec![int("c").not_null()])));
    let without = enc(&t(ab()));
    let five = enc(&t(with(ab(), vec![int("c").not_null().default_value("5")])));
    assert!(no_default
        .join(&five)
        .and_then(|j| j.join(&without))
        .is_ok());
    assert_eq!(
        no_default
            .join(&without)
            .and_then(|j| j.join(&five))
            .map_err(|e| e.to_string()),
        Err(
            r#"at tuple index 2: at map key "c": at tuple index 0: distinct singletons (0 vs 5)"#
                .to_owned()
        )
    );
}

/// DM's lock-level consequences of the lattice (docs/protocol.md#schema-lattice): the direction
/// each DDL moves a shard's schema, as `compare(before, after)`.
#[test]
fn ddl_directions_seen_by_the_lock() {
    let before = || {
        table(
            vec![int("id"), int("a"), varchar10("b")],
            vec![primary(&["id"]), key("idx_b", &["b"])],
        )
    };
    let after = |columns: Vec<ColumnInfo>, indexes: Vec<IndexInfo>| table(columns, indexes);
    let keys = || vec![primary(&["id"]), key("idx_b", &["b"])];
    let cases: Vec<(&str, TableInfo, Result<Ordering, ()>)> = vec![
        (
            "ADD COLUMN",
            after(vec![int("id"), int("a"), varchar10("b"), int("c")], keys()),
            Ok(Less),
        ),
        (
            "DROP INDEX",
            after(
                vec![int("id"), int("a"), varchar10("b")],
                vec![primary(&["id"])],
            ),
            Ok(Less),
        ),
        (
            "INT -> BIGINT",
            after(
                vec![int("id"), col("a", T::bigint()), varchar10("b")],
                keys(),
            ),
            Ok(Less),
        ),
        (
            "DROP COLUMN",
            after(vec![int("id"), varchar10("b")], keys()),
            Ok(Greater),
        ),
        (
            "ADD INDEX",
            after(
                vec![int("id"), int("a"), varchar10("b")],
                vec![primary(&["id"]), key("idx_b", &["b"]), key("idx_a", &["a"])],
            ),
            Ok(Greater),
        ),
        (
            "NULL -> NOT NULL",
            after(vec![int("id"), int("a").not_null(), varchar10("b")], keys()),
            Ok(Greater),
        ),
        (
            "RENAME COLUMN",
            after(vec![int("id"), int("a2"), varchar10("b")], keys()),
            Err(()),
        ),
        (
            "MODIFY COLUMN type",
            after(
                vec![int("id"), col("a", T::varchar(10)), varchar10("b")],
                keys(),
            ),
            Err(()),
        ),
        (
            "ADD COLUMN NOT NULL without default",
            after(
                vec![int("id"), int("a"), varchar10("b"), int("c").not_null()],
                keys(),
            ),
            Err(()),
        ),
    ];
    let base = enc(&before());
    for (name, after, want) in cases {
        let got = base.compare(&enc(&after)).map_err(|_| ());
        assert_eq!(got, want, "{name}");
    }
    // NOT NULL -> NULL is the reverse of NULL -> NOT NULL.
    let not_null = enc(&after(
        vec![int("id"), int("a").not_null(), varchar10("b")],
        keys(),
    ));
    assert_eq!(not_null.compare(&base).ok(), Some(Less));

    // Two shards add the same column with different types: no join.
    let with_int = enc(&after(
        vec![int("id"), int("a"), varchar10("b"), int("c")],
        keys(),
    ));
    let with_text = enc(&after(
        vec![int("id"), int("a"), varchar10("b"), col("c", T::text())],
        keys(),
    ));
    assert!(base
        .join(&with_int)
        .and_then(|j| j.join(&with_text))
        .is_err());
}
