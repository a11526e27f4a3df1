//! Tracker tests: DDL text to TableInfo fields (table-driven through
//! `check_*` helpers), split and routed statements, the forms `sqlparser`
//! cannot parse, errors, and agreement with schemacmp; one child module per
//! topic, the helpers they share here.

use std::cmp::Ordering::{Equal, Greater, Less};

use dm_master::schemacmp::Table;
use dm_master::tableinfo::mysql::*;
use dm_master::tableinfo::{ColumnInfo, TableInfo};
use serde_json::{json, Value};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::{Parser, ParserOptions};

use super::*;

mod agreement;
mod columns;
mod errors;
mod indexes;
mod roundtrip;
mod statements;
mod types;

const DB: &str = "db";

fn t() -> TableName {
    TableName::new(DB, "t")
}

/// Applies `ddls` in order to a fresh tracker; panics on error.
fn tracker_after(ddls: &[&str]) -> Tracker {
    let mut tracker = Tracker::new();
    for ddl in ddls {
        if let Err(e) = tracker.apply(DB, ddl, &SameName) {
            panic!("{ddl}: {e}");
        }
    }
    tracker
}

/// Applies `ddl` to `tracker` in `db`, names unchanged; panics on error.
fn apply(tracker: &mut Tracker, ddl: &str) -> TrackedDdl {
    tracker
        .apply(DB, ddl, &SameName)
        .unwrap_or_else(|e| panic!("{ddl}: {e}"))
}

/// The schema of `db.t` after `ddls`.
fn table_after(ddls: &[&str]) -> TableInfo {
    tracker_after(ddls)
        .table(&t())
        .cloned()
        .unwrap_or_else(|| panic!("db.t not tracked after {ddls:?}"))
}

fn column<'a>(ti: &'a TableInfo, name: &str) -> &'a ColumnInfo {
    ti.column(name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", names(ti)))
}

fn names(ti: &TableInfo) -> Vec<String> {
    ti.columns.iter().map(|c| c.name.o.clone()).collect()
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn enc(ti: &TableInfo) -> Table {
    Table::from_table_info(ti)
}

const B: &str = "binary";
const U: &str = "utf8mb4";
const UB: &str = "utf8mb4_bin";

/// Name, key parts, unique, primary, index type.
type IndexSummary = (String, Vec<(String, i64)>, bool, bool, i64);

fn index_summary(ti: &TableInfo) -> Vec<IndexSummary> {
    ti.indices
        .iter()
        .map(|i| {
            (
                i.name.o.clone(),
                i.columns
                    .iter()
                    .map(|c| (c.name.o.clone(), c.length))
                    .collect(),
                i.is_unique,
                i.is_primary,
                i.index_type,
            )
        })
        .collect()
}

fn flags(ti: &TableInfo) -> Vec<(String, u64)> {
    ti.columns
        .iter()
        .map(|c| (c.name.o.clone(), c.field_type.flag))
        .collect()
}

fn parts(cols: &[(&str, i64)]) -> Vec<(String, i64)> {
    cols.iter().map(|(c, l)| ((*c).to_owned(), *l)).collect()
}

/// The schemacmp encoding of `db.t` after `ddls`.
fn schema(ddls: &[&str]) -> Table {
    enc(&table_after(ddls))
}
