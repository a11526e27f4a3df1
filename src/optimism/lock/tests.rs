//! The lock, table-driven through [`check`]: every case of DM's
//! `optimism/lock_test.go` (the behaviour table of docs/protocol.md#try-sync and the
//! `TestTrySyncForOneDDL` sequence), then the deliberate differences.
//!
//! The cases live in the child modules, one topic each; this module holds
//! the step language and the helpers they share (also used by the keeper's
//! tests).
//!
//! Schemas are written as short specs (see [`ti`]); tables as `t` (source
//! `s1`, schema `db`) or `source.schema.table`.

use super::*;
use crate::tableinfo::{ColumnInfo, FieldType, IndexInfo};

mod differences;
mod internal;
mod tables;
mod try_sync;

const TASK: &str = "task";
const ID: &str = "task-`foo`.`bar`";

/// A schema from a spec like `id int pk, c1 varchar(4) notnull default=1,
/// unique idx(c1)`: columns `name type [pk] [notnull] [default=v]` with
/// types int, bigint, text, datetime, varchar(n); indexes `unique n(c)`,
/// `index n(c)`.
pub(crate) fn ti(spec: &str) -> TableInfo {
    let mut t = TableInfo::new("bar");
    let mut indexes = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let words: Vec<&str> = part.split_whitespace().collect();
        if words[0] == "unique" || words[0] == "index" {
            let (name, col) = words[1]
                .trim_end_matches(')')
                .split_once('(')
                .expect("n(c)");
            let index = IndexInfo::new(name, &[col]);
            indexes.push(if words[0] == "unique" {
                index.unique()
            } else {
                index
            });
            continue;
        }
        let ft = match words[1] {
            "int" => FieldType::int(),
            "bigint" => FieldType::bigint(),
            "text" => FieldType::text(),
            "datetime" => FieldType::datetime(0),
            v => {
                let n = v
                    .strip_prefix("varchar(")
                    .and_then(|n| n.strip_suffix(')'))
                    .expect("type");
                FieldType::varchar(n.parse().expect("length"))
            }
        };
        let mut column = ColumnInfo::new(words[0], ft);
        let mut not_null = false;
        for flag in &words[2..] {
            match *flag {
                "pk" => indexes.insert(0, IndexInfo::primary(&[words[0]])),
                "notnull" => not_null = true,
                d => column = column.default_value(d.strip_prefix("default=").expect("flag")),
            }
        }
        if not_null {
            column = column.not_null();
        }
        t.push_column(column);
    }
    for index in indexes {
        t.push_index(index);
    }
    t
}

pub(crate) fn enc(spec: &str) -> Table {
    Table::from_table_info(&ti(spec))
}

/// `t` is `s1.db.t`.
pub(crate) fn key(name: &str) -> TableKey {
    match name.split('.').collect::<Vec<_>>().as_slice() {
        [source, schema, table] => TableKey::new(source, schema, table),
        _ => TableKey::new("s1", "db", name),
    }
}

pub(crate) fn short(k: &TableKey) -> String {
    if k.source == "s1" && k.schema == "db" {
        k.table.clone()
    } else {
        format!("{}.{}.{}", k.source, k.schema, k.table)
    }
}

pub(crate) fn tts(tables: &[&str]) -> Vec<TargetTable> {
    let mut by_source: BTreeMap<String, super::super::table::UpSchemas> = BTreeMap::new();
    for t in tables {
        let k = key(t);
        by_source
            .entry(k.source)
            .or_default()
            .entry(k.schema)
            .or_default()
            .insert(k.table);
    }
    by_source
        .into_iter()
        .map(|(source, up)| TargetTable::new(TASK, &source, "foo", "bar", up))
        .collect()
}

pub(crate) fn info(table: &str, ddls: &[&str], before: &str, afters: &[&str]) -> Info {
    let k = key(table);
    Info {
        task: TASK.to_owned(),
        source: k.source,
        up_schema: k.schema,
        up_table: k.table,
        down_schema: "foo".to_owned(),
        down_table: "bar".to_owned(),
        ddls: Some(ddls.iter().map(|d| (*d).to_owned()).collect()),
        table_info_before: Some(ti(before).to_json_value().into()),
        table_info_after: Some(
            afters
                .iter()
                .map(|a| ti(a).to_json_value().into())
                .collect(),
        ),
        ignore_conflict: false,
    }
}

/// The done Operation of `table` in lock `id` (of the task `id` starts
/// with) that executed `ddls` and drops `cols`.
pub(crate) fn done_operation(id: &str, table: &str, ddls: &[&str], cols: &[&str]) -> Operation {
    let k = key(table);
    Operation {
        id: id.to_owned(),
        task: id.split('-').next().unwrap_or_default().to_owned(),
        source: k.source,
        up_schema: k.schema,
        up_table: k.table,
        ddls: Some(ddls.iter().map(|d| (*d).to_owned()).collect()),
        conflict_stage: ConflictStage::None,
        conflict_message: String::new(),
        done: true,
        cols: Some(cols.iter().map(|c| (*c).to_owned()).collect()),
    }
}

pub(crate) fn list<T: AsRef<str>>(items: &[T]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", items.join(" "))
}

fn keys(items: &[TableKey]) -> String {
    list(&items.iter().map(short).collect::<Vec<_>>())
}

/// `none`, `detected`, `skip`, or `error <code> <first sentence>`.
pub(crate) fn stage(e: Option<&OptimismError>) -> String {
    match e {
        None => "none".to_owned(),
        Some(OptimismError::TrySyncFail { .. }) => "detected".to_owned(),
        Some(OptimismError::NeedSkipAndRedirect { .. }) => "skip".to_owned(),
        Some(OptimismError::AddNotFullyDroppedColumn { detail, .. }) => {
            format!("error 11128 {}", detail.split('.').next().unwrap_or(""))
        }
        Some(e) => format!("error {}", e.code()),
    }
}

/// `stage [ddl indexes] [cols] r=remain` plus the effects.
fn result(info: &Info, r: &TrySyncResult) -> String {
    let ddls = info.ddls.clone().unwrap_or_default();
    let idx: Vec<String> = r
        .new_ddls
        .iter()
        .map(|d| match ddls.iter().position(|x| x == d) {
            Some(i) => i.to_string(),
            None => d.clone(),
        })
        .collect();
    let mut out = format!(
        "{} {} {} r={}",
        stage(r.error.as_ref()),
        list(&idx),
        list(&r.cols),
        r.remain
    );
    assert_eq!(r.synced, r.remain == 0);
    if !r.effects.redirects.is_empty() {
        let redirected: Vec<TableKey> = r
            .effects
            .redirects
            .iter()
            .map(|op| {
                assert_eq!(op.conflict_stage, ConflictStage::Resolved);
                assert_eq!((op.ddls.as_ref(), op.cols.as_ref()), (None, None));
                TableKey::new(&op.source, &op.up_schema, &op.up_table)
            })
            .collect();
        out.push_str(&format!(" redirect={}", keys(&redirected)));
    }
    if !r.effects.dropped_columns.is_empty() {
        out.push_str(&format!(" drop={}", list(&r.effects.dropped_columns)));
    }
    if !r.recheck.is_empty() {
        out.push_str(&format!(" recheck={}", keys(&r.recheck)));
    }
    out
}

fn ordering(o: Result<Ordering, Incompatible>) -> &'static str {
    match o {
        Ok(Ordering::Less) => "-1",
        Ok(Ordering::Equal) => "0",
        Ok(Ordering::Greater) => "1",
        Err(_) => "err",
    }
}

fn columns(l: &Lock) -> String {
    let parts: Vec<String> = l
        .columns()
        .iter()
        .map(|(c, tables)| {
            let t: Vec<String> = tables
                .iter()
                .map(|(k, s)| format!("{}:{}", short(k), s.as_i64()))
                .collect();
            format!("{c}{{{}}}", t.join(" "))
        })
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(" ")
    }
}

pub(crate) enum Step {
    /// TrySync of `info`.
    Sync(Info),
    /// The same with `ignore-conflict`.
    Ignore(Info),
    /// Replace the `tts` passed to TrySync.
    Tts(Vec<&'static str>),
    /// `+t` ready, `-t` not.
    Ready,
    /// `synced|unsynced r=N done=N resolved=B`.
    Status,
    /// The table's normal schema against the joined one.
    CmpJoined(&'static str),
    /// Two tables' normal schemas.
    CmpTables(&'static str, &'static str),
    MarkDone(&'static str),
    IsDone(&'static str),
    /// `delete_columns_by_op` for a done Operation `(table, ddls, cols)`.
    OpDone(&'static str, Vec<&'static str>, Vec<&'static str>),
    Columns,
    /// Install dropped columns `(column, table, stage)`.
    SetColumns(Vec<(&'static str, &'static str, DropColumnStage)>),
    Remove(&'static str),
    RemoveSources(Vec<&'static str>),
    /// Exec-unlock of an Info.
    Unlock(Info),
    /// Re-run the stored Info of a `detected` table.
    Recheck(&'static str),
    /// The redirects of the last TrySync failed.
    FailRedirects,
    /// The dropped columns of the last TrySync failed.
    FailDropped,
    /// A fresh lock (initial schema, tables).
    NewLock(&'static str, Vec<&'static str>),
}

use Step::*;

pub(crate) fn sync(table: &str, ddls: &[&str], before: &str, afters: &[&str]) -> Step {
    Sync(info(table, ddls, before, afters))
}

fn new_lock(init: &str, tables: &[&str]) -> Lock {
    Lock::new(ID, TASK, "foo", "bar", enc(init), &tts(tables), &|_| None)
}

/// Runs `steps` on a lock created from `init` and `tables`; each step's
/// rendering must equal its expectation. After every step the Info
/// versions match a per-table counter (DM's `vers`) and the invariants of
/// the module docs hold.
fn check<S: AsRef<str>>(init: &str, tables: &[&str], steps: Vec<(Step, S)>) {
    let mut l = new_lock(init, tables);
    let mut targets = tts(tables);
    let mut counters: BTreeMap<TableKey, i64> = BTreeMap::new();
    let mut versions: BTreeMap<TableKey, i64> = BTreeMap::new();
    let mut last: Option<(Info, TrySyncResult)> = None;
    for (i, (step, want)) in steps.into_iter().enumerate() {
        let got = match step {
            Sync(info) => {
                let r = sync_counted(&mut l, &info, &targets, &mut counters, &mut versions);
                let out = result(&info, &r);
                last = Some((info, r));
                out
            }
            Ignore(mut info) => {
                info.ignore_conflict = true;
                let r = sync_counted(&mut l, &info, &targets, &mut counters, &mut versions);
                result(&info, &r)
            }
            Tts(tables) => {
                targets = tts(&tables);
                String::new()
            }
            Ready => l
                .ready()
                .iter()
                .map(|(k, r)| format!("{}{}", if *r { "+" } else { "-" }, short(k)))
                .collect::<Vec<_>>()
                .join(" "),
            Status => {
                let (synced, remain) = l.is_synced();
                let done = l.keys().filter(|k| l.is_done(k)).count();
                format!(
                    "{} r={remain} done={done} resolved={}",
                    if synced { "synced" } else { "unsynced" },
                    l.is_resolved()
                )
            }
            CmpJoined(t) => {
                let joined = l.joined().ok().flatten().expect("joined");
                ordering(l.table(&key(t)).expect("table").compare(&joined)).to_owned()
            }
            CmpTables(a, b) => {
                let a = l.table(&key(a)).expect("table");
                ordering(a.compare(l.table(&key(b)).expect("table"))).to_owned()
            }
            MarkDone(t) => l.try_mark_done(&key(t)).to_string(),
            IsDone(t) => l.is_done(&key(t)).to_string(),
            OpDone(t, ddls, cols) => {
                let op = done_operation(ID, t, &ddls, &cols);
                let e = l.delete_columns_by_op(&op);
                assert_eq!(e.lock_id, ID);
                let put: Vec<String> = e
                    .put
                    .iter()
                    .map(|(c, k, s)| format!("{c}@{}={}", short(k), s.as_i64()))
                    .collect();
                format!(
                    "put={} delete={}{}",
                    list(&put),
                    list(&e.delete),
                    e.error
                        .map(|e| format!(" {}", stage(Some(&e))))
                        .unwrap_or_default()
                )
            }
            Columns => columns(&l),
            SetColumns(entries) => {
                let mut cols = DroppedColumns::new();
                for (c, t, s) in entries {
                    cols.entry(c.to_owned()).or_default().insert(key(t), s);
                }
                l.set_columns(cols);
                String::new()
            }
            Remove(t) => list(&l.try_remove_table(&key(t))),
            RemoveSources(sources) => {
                let sources: Vec<String> = sources.iter().map(|s| (*s).to_owned()).collect();
                format!(
                    "{} has_tables={}",
                    list(&l.try_remove_table_by_sources(&sources)),
                    l.has_tables()
                )
            }
            Unlock(info) => l.update_table_after_unlock(&info).to_string(),
            Recheck(t) => {
                let (info, version) = l
                    .detected_info(&key(t))
                    .map(|(i, v)| (i.clone(), v))
                    .expect("detected");
                let r = l.try_sync(&info, version, &targets, &|_| None);
                let out = result(&info, &r);
                last = Some((info, r));
                out
            }
            FailRedirects => {
                let (info, r) = last.take().expect("a TrySync");
                let r = l.redirect_failed(&info, r);
                result(&info, &r)
            }
            FailDropped => {
                let (info, r) = last.take().expect("a TrySync");
                let r = l.dropped_columns_failed(&info, r, "etcd is down");
                format!("{} {}", result(&info, &r), r.message())
            }
            NewLock(init, tables) => {
                l = new_lock(init, &tables);
                targets = tts(&tables);
                counters.clear();
                versions.clear();
                String::new()
            }
        };
        assert_eq!(got, want.as_ref(), "step {i}");
        for k in l.keys() {
            assert_eq!(
                l.get_version(k),
                versions.get(k).copied().unwrap_or(0),
                "version of {k:?} at step {i}"
            );
        }
        assert_invariants(&l);
    }
}

/// TrySync with the next version of the caller's Info (DM's
/// `newInfoWithVersion`); the lock records it unless the Info is rejected
/// before any change.
fn sync_counted(
    l: &mut Lock,
    info: &Info,
    targets: &[TargetTable],
    counters: &mut BTreeMap<TableKey, i64>,
    versions: &mut BTreeMap<TableKey, i64>,
) -> TrySyncResult {
    let k = TableKey::new(&info.source, &info.up_schema, &info.up_table);
    let v = counters.entry(k.clone()).or_insert(0);
    *v += 1;
    let r = l.try_sync(info, *v, targets, &|_| None);
    let rejected = matches!(
        r.error,
        Some(
            OptimismError::InconsistentDdlsAndInfo { .. }
                | OptimismError::TableInfoBeforeNotExist { .. }
                | OptimismError::MalformedTableInfo { .. }
        )
    );
    if !rejected {
        versions.insert(k, *v);
    }
    r
}

/// The invariants of the module docs.
fn assert_invariants(l: &Lock) {
    let normal: Vec<&TableKey> = l.tables.iter().map(|(k, _)| k).collect();
    let fin: Vec<&TableKey> = l.final_tables.iter().map(|(k, _)| k).collect();
    assert_eq!(normal, fin, "normal and final key sets");
    let mut undone = 0;
    for (k, _) in l.tables.iter() {
        let state = l
            .state(&k.source, &k.schema, &k.table)
            .expect("state for every table");
        undone += usize::from(!state.done);
        let want = l.conflict_tables.get(k).or_else(|| l.tables.get(k));
        assert_eq!(l.final_tables.get(k), want, "final view of {k:?}");
    }
    let states: usize = l
        .states
        .values()
        .flat_map(|s| s.values())
        .map(BTreeMap::len)
        .sum();
    assert_eq!(states, l.tables.len());
    assert_eq!(undone, l.undone);
    for (k, _) in l.conflict_tables.iter() {
        assert!(l.tables.contains_key(k));
    }
}

const ADD_C1: &str = "ALTER TABLE bar ADD COLUMN c1 INT";
/// The conflicting pair of DM's tests: the same column added as TEXT by
/// one table and as DATETIME by another.
pub(crate) const ADD_TEXT_C1: &str = "ALTER TABLE bar ADD COLUMN c1 TEXT";
pub(crate) const ADD_DATETIME_C1: &str = "ALTER TABLE bar ADD COLUMN c1 DATETIME";
/// The schemas after [`ADD_TEXT_C1`] and [`ADD_DATETIME_C1`].
pub(crate) const TEXT_C1: &str = "id int pk, c1 text";
pub(crate) const DATETIME_C1: &str = "id int pk, c1 datetime";

const T2: &[&str] = &["t1", "t2"];
