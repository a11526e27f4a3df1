//! Dependencies point one way: the pure core (records, keys, lock cores,
//! schema lattice, task registry) imports nothing that does I/O or runs
//! async, so it can be tested without etcd and reused by the worker. This
//! test reads the sources of the pure modules and fails on an import of
//! an I/O module.

/// Source files of the pure core, relative to the crate root.
const PURE: &[&str] = &[
    "src/keys.rs",
    "src/ddl_words.rs",
    "src/gojson.rs",
    "src/task.rs",
    "src/lock_view.rs",
    "src/tableinfo.rs",
    "src/tableinfo/json.rs",
    "src/tableinfo/mysql.rs",
    "src/schemacmp.rs",
    "src/schemacmp/charset.rs",
    "src/schemacmp/error.rs",
    "src/schemacmp/join_tree.rs",
    "src/schemacmp/lattice.rs",
    "src/schemacmp/table.rs",
    "src/schemacmp/types.rs",
    "src/pessimism/info.rs",
    "src/pessimism/operation.rs",
    "src/pessimism/lock.rs",
    "src/pessimism/keeper.rs",
    "src/pessimism/keeper/decision.rs",
    "src/pessimism/keeper/rebuild.rs",
    "src/pessimism/keeper/unlock.rs",
    "src/pessimism/operator.rs",
    "src/optimism/info.rs",
    "src/optimism/operation.rs",
    "src/optimism/table.rs",
    "src/optimism/column.rs",
    "src/optimism/lock.rs",
    "src/optimism/lock/column_name.rs",
    "src/optimism/lock/dropped_columns.rs",
    "src/optimism/lock/effects.rs",
    "src/optimism/lock/try_sync.rs",
    "src/optimism/keeper.rs",
    "src/optimism/table_keeper.rs",
    "src/optimism/error.rs",
];

/// Paths whose use makes a module impure: the etcd boundary and its
/// transactions, the actors and servers, process metrics and config, and
/// the async runtime, logging and file system.
const IMPURE: &[&str] = &[
    "crate::etcd",
    "super::ops",
    "::ops::",
    "crate::coordinator",
    "crate::server",
    "crate::election",
    "crate::metrics",
    "crate::config",
    "etcd_client",
    "tokio",
    "tonic",
    "tracing",
    "std::fs",
    "std::net",
    "async fn",
    ".await",
];

fn source(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn pure_modules_import_no_io() {
    let mut found = Vec::new();
    for path in PURE {
        for (n, line) in source(path).lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for impure in IMPURE {
                if code.contains(impure) {
                    found.push(format!("{path}:{}: {impure}: {code}", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "pure modules use I/O:\n{}",
        found.join("\n")
    );
}

/// The lattice primitives stand below the charset ladders, not beside
/// them: `charset` implements `Lattice`, so `lattice` must not import it.
#[test]
fn lattice_does_not_import_charset() {
    assert!(!source("src/schemacmp/lattice.rs").contains("super::charset"));
}
