//! The lock, table-driven through [`check`]: every case of DM's
//! `optimism/lock_test.go` (the behaviour table of docs/protocol.md#try-sync and the
//! `TestTrySyncForOneDDL` sequence), then the deliberate differences.
//!
//! Schemas are written as short specs (see [`ti`]); tables as `t` (source
//! `s1`, schema `db`) or `source.schema.table`.

use super::*;
use crate::tableinfo::{ColumnInfo, FieldType, IndexInfo};

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
        table_info_before: Some(ti(before).to_json_value()),
        table_info_after: Some(afters.iter().map(|a| ti(a).to_json_value()).collect()),
        ignore_conflict: false,
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
                let k = key(t);
                let op = Operation {
                    id: ID.to_owned(),
                    task: TASK.to_owned(),
                    source: k.source,
                    up_schema: k.schema,
                    up_table: k.table,
                    ddls: Some(ddls.iter().map(|d| (*d).to_owned()).collect()),
                    conflict_stage: ConflictStage::None,
                    conflict_message: String::new(),
                    done: true,
                    cols: Some(cols.iter().map(|c| (*c).to_owned()).collect()),
                };
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

/// DM `TestLockTrySyncNormal`: ADD / DROP columns on 8 tables, one and
/// several DDLs per Info, replays.
#[test]
fn try_sync_normal() {
    let ddls2 = [
        "ALTER TABLE bar ADD COLUMN c2 BIGINT",
        "ALTER TABLE bar ADD COLUMN c3 TEXT",
    ];
    let ddls3 = ["ALTER TABLE bar DROP COLUMN c3"];
    let ddls4 = [
        "ALTER TABLE bar DROP COLUMN c2",
        "ALTER TABLE bar DROP COLUMN c1",
    ];
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, c2 bigint, c3 text";
    let ti2_1 = "id int pk, c1 int, c2 bigint";
    let ti3 = ti2_1;
    let (ti4, ti4_1) = (ti0, ti1);
    let all: Vec<&'static str> = vec![
        "s1.db1.bar1",
        "s1.db1.bar2",
        "s1.db2.bar1",
        "s1.db2.bar2",
        "s2.db1.bar1",
        "s2.db1.bar2",
        "s2.db2.bar1",
        "s2.db2.bar2",
    ];
    let ready = |plus_first_four: bool| {
        all.iter()
            .enumerate()
            .map(|(i, t)| format!("{}{t}", if (i < 4) == plus_first_four { "+" } else { "-" }))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let ready_s1 = ready(true);
    let ready_s2 = ready(false);
    let mut steps: Vec<(Step, String)> = vec![(Status, "synced r=0 done=0 resolved=false".into())];

    // Every table: ADD COLUMN (larger): returned to every table.
    for (i, t) in all.iter().enumerate() {
        if i == 4 {
            steps.push((Ready, ready_s1.clone()));
        }
        steps.push((
            sync(t, &[ADD_C1], ti0, &[ti1]),
            format!("none [0] [] r={}", 7 - i),
        ));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));
    // Replaying after synced is idempotent.
    steps.push((
        sync(all[0], &[ADD_C1], ti0, &[ti1]),
        "none [0] [] r=0".into(),
    ));

    // Two DDLs in one Info, replayed; then one table does them one by one.
    let (a, b) = (all[0], all[1]);
    for _ in 0..2 {
        steps.push((
            sync(a, &ddls2, ti1, &[ti2_1, ti2]),
            "none [0 1] [] r=7".into(),
        ));
    }
    for _ in 0..2 {
        steps.push((
            sync(b, &ddls2[..1], ti1, &[ti2_1]),
            "none [0] [] r=7".into(),
        ));
    }
    steps.push((CmpTables(a, b), "1".into()));
    for _ in 0..2 {
        steps.push((
            sync(b, &ddls2[1..], ti2_1, &[ti2]),
            "none [0] [] r=6".into(),
        ));
    }
    steps.push((CmpTables(a, b), "0".into()));
    for (i, t) in all.iter().enumerate() {
        let remain = 6usize.saturating_sub(i.saturating_sub(1));
        steps.push((
            sync(t, &ddls2, ti1, &[ti2_1, ti2]),
            format!("none [0 1] [] r={remain}"),
        ));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));

    // Every table: DROP COLUMN (smaller): returned to the last table only.
    for (i, t) in all.iter().enumerate() {
        if i == 4 {
            steps.push((Ready, ready_s2.clone()));
        }
        let want = if i == 7 {
            "none [0] [c3] r=0 drop=[c3]".to_owned()
        } else {
            format!("none [] [c3] r={} drop=[c3]", i + 1)
        };
        steps.push((sync(t, &ddls3, ti2, &[ti3]), want));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));

    // Two DROPs in one Info, replayed; then one by one on another table.
    steps.push((
        sync(a, &ddls4, ti3, &[ti4_1, ti4]),
        "none [] [c2 c1] r=1 drop=[c2 c1]".into(),
    ));
    steps.push((
        sync(a, &ddls4, ti3, &[ti4_1, ti4]),
        "none [] [c2 c1] r=1".into(),
    ));
    steps.push((
        sync(b, &ddls4[..1], ti3, &[ti4_1]),
        "none [] [c2] r=2 drop=[c2]".into(),
    ));
    steps.push((CmpTables(a, b), "-1".into()));
    steps.push((
        sync(b, &ddls4[..1], ti3, &[ti4_1]),
        "none [] [c2] r=2".into(),
    ));
    steps.push((
        sync(b, &ddls4[1..], ti4_1, &[ti4]),
        "none [] [c1] r=2 drop=[c1]".into(),
    ));
    steps.push((CmpTables(a, b), "0".into()));
    steps.push((
        sync(b, &ddls4[1..], ti4_1, &[ti4]),
        "none [] [c1] r=2".into(),
    ));
    for (i, t) in all[2..].iter().enumerate() {
        let want = if i == 5 {
            "none [0 1] [c2 c1] r=0 drop=[c2 c1]".to_owned()
        } else {
            format!("none [] [c2 c1] r={} drop=[c2 c1]", i + 3)
        };
        steps.push((sync(t, &ddls4, ti3, &[ti4_1, ti4]), want));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));
    check(ti0, &all, steps);
}

const T2: &[&str] = &["t1", "t2"];

/// DM `TestLockTrySyncIndex`: DROP INDEX is returned at once (larger), ADD
/// UNIQUE INDEX only to the last table (smaller).
#[test]
fn try_sync_index() {
    let drop_idx = ["ALTER TABLE bar DROP INDEX idx_c1"];
    let add_idx = ["ALTER TABLE bar ADD UNIQUE INDEX idx_c1(c1)"];
    let ti0 = "id int pk, c1 int, unique idx_c1(c1)";
    let ti1 = "id int pk, c1 int";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false"),
            (sync("t1", &drop_idx, ti0, &[ti1]), "none [0] [] r=1"),
            (sync("t2", &drop_idx, ti0, &[ti1]), "none [0] [] r=0"),
            (sync("t1", &add_idx, ti1, &[ti0]), "none [] [] r=1"),
            (sync("t2", &add_idx, ti1, &[ti0]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncNullNotNull`: NULL → NOT NULL only to the last table,
/// NOT NULL → NULL at once; two rounds.
#[test]
fn try_sync_null_not_null() {
    let not_null = ["ALTER TABLE bar MODIFY COLUMN c1 INT NOT NULL DEFAULT 1234"];
    let null = ["ALTER TABLE bar MODIFY COLUMN c1 INT NULL DEFAULT 1234"];
    let ti0 = "id int pk, c1 int default=1234";
    let ti1 = "id int pk, c1 int notnull default=1234";
    let mut steps = Vec::new();
    for _ in 0..2 {
        steps.extend([
            (sync("t1", &not_null, ti0, &[ti1]), "none [] [] r=1"),
            (sync("t2", &not_null, ti0, &[ti1]), "none [0] [] r=0"),
            (sync("t1", &null, ti1, &[ti0]), "none [0] [] r=1"),
            (sync("t2", &null, ti1, &[ti0]), "none [0] [] r=0"),
        ]);
    }
    check(ti0, T2, steps);
}

/// DM `TestLockTrySyncIntBigint`: widening is returned to every table.
#[test]
fn try_sync_int_bigint() {
    let modify = ["ALTER TABLE bar MODIFY COLUMN c1 BIGINT NOT NULL DEFAULT 1234"];
    let ti0 = "id int pk, c1 int notnull default=1234";
    let ti1 = "id int pk, c1 bigint notnull default=1234";
    check(
        ti0,
        T2,
        vec![
            (sync("t1", &modify, ti0, &[ti1]), "none [0] [] r=1"),
            (sync("t2", &modify, ti0, &[ti1]), "none [0] [] r=0"),
        ],
    );
}

/// DM `TestLockTrySyncNoDiff`: a RENAME on the first table must wait.
#[test]
fn try_sync_no_diff() {
    let ti0 = "id int pk, c1 int";
    check(
        ti0,
        T2,
        vec![(
            sync(
                "t1",
                &["ALTER TABLE bar RENAME c1 TO c2"],
                ti0,
                &["id int pk, c2 int"],
            ),
            "skip [] [] r=2",
        )],
    );
}

/// DM `TestLockTrySyncNewTable`: tables outside `tts` join on the fly with
/// the initial schema.
#[test]
fn try_sync_new_table() {
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    check(
        ti0,
        &["s1.foo1.bar1"],
        vec![
            (Status, "synced r=0 done=0 resolved=false"),
            (
                sync("s2.foo2.bar2", &[ADD_C1], ti0, &[ti1]),
                "none [0] [] r=1",
            ),
            (Ready, "-s1.foo1.bar1 +s2.foo2.bar2"),
            (
                Tts(vec!["s1.foo1.bar1", "s1.foo1.bar2", "s2.foo2.bar1"]),
                "",
            ),
            (
                sync("s1.foo1.bar1", &[ADD_C1], ti0, &[ti1]),
                "none [0] [] r=2",
            ),
            (
                Ready,
                "+s1.foo1.bar1 -s1.foo1.bar2 -s2.foo2.bar1 +s2.foo2.bar2",
            ),
            (
                sync("s1.foo1.bar2", &[ADD_C1], ti0, &[ti1]),
                "none [0] [] r=1",
            ),
            (
                Ready,
                "+s1.foo1.bar1 +s1.foo1.bar2 -s2.foo2.bar1 +s2.foo2.bar2",
            ),
        ],
    );
}

/// DM `TestLockTrySyncRevert`: a table adds columns and drops them again.
#[test]
fn try_sync_revert() {
    let add_c1 = "ALTER TABLE bar ADD COLUMN c1 TEXT";
    let add_c2 = "ALTER TABLE bar ADD COLUMN c2 INT";
    let drop_c1 = "ALTER TABLE bar DROP COLUMN c1";
    let drop_c2 = "ALTER TABLE bar DROP COLUMN c2";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 text";
    let ti3 = "id int pk, c1 text, c2 int";
    check(
        ti0,
        T2,
        vec![
            // Revert of a single DDL.
            (sync("t1", &[add_c1], ti0, &[ti1]), "none [0] [] r=1"),
            (Ready, "+t1 -t2"),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (
                sync("t1", &[drop_c1], ti1, &[ti0]),
                "none [0] [c1] r=0 drop=[c1]",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
            (
                OpDone("t1", vec![drop_c1], vec!["c1"]),
                "put=[c1@t1=2] delete=[c1]",
            ),
            // Revert of several DDLs, in two steps.
            (
                sync("t1", &[add_c1, add_c2], ti0, &[ti1, ti3]),
                "none [0 1] [] r=1",
            ),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (
                sync("t1", &[drop_c2], ti3, &[ti1]),
                "none [0] [c2] r=1 drop=[c2]",
            ),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (
                sync("t1", &[drop_c1], ti1, &[ti0]),
                "none [0] [c1] r=0 drop=[c1]",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
            (
                OpDone("t1", vec![drop_c2], vec!["c2"]),
                "put=[c2@t1=2] delete=[c2]",
            ),
            (
                OpDone("t1", vec![drop_c1], vec!["c1"]),
                "put=[c1@t1=2] delete=[c1]",
            ),
            (Columns, "none"),
            // Revert of part of several DDLs; the other table catches up.
            (
                sync("t1", &[add_c1, add_c2], ti0, &[ti1, ti3]),
                "none [0 1] [] r=1",
            ),
            (
                sync("t1", &[drop_c2], ti3, &[ti1]),
                "none [0] [c2] r=1 drop=[c2]",
            ),
            (CmpJoined("t1"), "0"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &[add_c1], ti0, &[ti1]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncConflictNonIntrusive` (behaviour table: `ADD c1 TEXT`
/// vs `ADD c1 DATETIME`): the second table is `detected` and reset; after
/// the first drops the column, its retry succeeds. With DM gap O6 in docs/dm-gaps.md fixed the
/// drop reports the blocked table for re-evaluation.
#[test]
fn try_sync_conflict_non_intrusive() {
    let ddls2 = [
        "ALTER TABLE bar ADD COLUMN c1 DATETIME",
        "ALTER TABLE bar ADD COLUMN c2 INT",
    ];
    let drop_c1 = "ALTER TABLE bar DROP COLUMN c1";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 text";
    let ti2 = "id int pk, c1 datetime, c2 int";
    let ti2_1 = "id int pk, c1 datetime";
    check(
        ti0,
        T2,
        vec![
            (
                sync("t1", &["ALTER TABLE bar ADD COLUMN c1 TEXT"], ti0, &[ti1]),
                "none [0] [] r=1",
            ),
            (Ready, "+t1 -t2"),
            (sync("t2", &ddls2, ti0, &[ti2_1, ti2]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (Ready, "+t1 -t2"),
            (
                sync("t1", &[drop_c1], ti1, &[ti0]),
                "none [0] [c1] r=0 drop=[c1] recheck=[t2]",
            ),
            (Ready, "+t1 +t2"),
            (sync("t2", &ddls2, ti0, &[ti2_1, ti2]), "none [0 1] [] r=1"),
            (CmpJoined("t2"), "0"),
            (
                OpDone("t1", vec![drop_c1], vec!["c1"]),
                "put=[c1@t1=2] delete=[c1]",
            ),
            (sync("t1", &ddls2, ti0, &[ti2_1, ti2]), "none [0 1] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncConflictIntrusive`: the conflicting table changes its
/// own DDLs to resolve the conflict.
#[test]
fn try_sync_conflict_intrusive() {
    let ddls1 = ["ALTER TABLE bar ADD COLUMN c1 TEXT"];
    let ddls2 = [
        "ALTER TABLE bar ADD COLUMN c1 DATETIME",
        "ALTER TABLE bar ADD COLUMN c2 INT",
    ];
    let ddls3 = ["ALTER TABLE bar ADD COLUMN c1 DATETIME"];
    let ddls5 = ["ALTER TABLE bar ADD COLUMN c2 TEXT"];
    let ddls6 = [
        "ALTER TABLE bar ADD COLUMN c2 DATETIME",
        "ALTER TABLE bar ADD COLUMN c3 INT",
    ];
    let ddls7 = ["ALTER TABLE bar ADD COLUMN c3 INT"];
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 text";
    let ti2 = "id int pk, c1 datetime, c2 int";
    let ti3 = "id int pk, c1 datetime";
    let ti5 = "id int pk, c1 text, c2 text";
    let ti6 = "id int pk, c1 text, c2 datetime, c3 int";
    let ti6_1 = "id int pk, c1 text, c2 datetime";
    let ti7 = "id int pk, c1 text, c3 int";
    let ti8 = "id int pk, c1 text, c2 text, c3 int";
    check(
        ti0,
        T2,
        vec![
            // Revert all changes to resolve the conflict.
            (sync("t1", &ddls1, ti0, &[ti1]), "none [0] [] r=1"),
            (sync("t2", &ddls2, ti0, &[ti3, ti2]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &ddls2, ti0, &[ti3, ti2]), "detected [] [] r=1"),
            (sync("t2", &ddls3, ti0, &[ti3]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &ddls1, ti0, &[ti1]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
            // Revert part of the changes.
            (sync("t1", &ddls5, ti1, &[ti5]), "none [0] [] r=1"),
            (sync("t2", &ddls6, ti1, &[ti6_1, ti6]), "detected [] [] r=1"),
            (CmpJoined("t2"), "-1"),
            (sync("t2", &ddls7, ti1, &[ti7]), "none [0] [] r=2"),
            (Ready, "-t1 -t2"),
            (CmpJoined("t1"), "-1"),
            (CmpJoined("t2"), "-1"),
            (sync("t1", &ddls7, ti5, &[ti8]), "none [0] [] r=1"),
            (Ready, "+t1 -t2"),
            (sync("t2", &ddls5, ti7, &[ti8]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// DM `TestLockTrySyncMultipleChangeDDL` (behaviour table: `[ADD c2, DROP
/// c1]` on every table): the ADD goes out at once, the DROP with the last
/// table; inconsistent Infos change nothing.
#[test]
fn try_sync_multiple_change_ddl() {
    let ddls1 = [
        "ALTER TABLE bar ADD COLUMN c2 INT",
        "ALTER TABLE bar DROP COLUMN c1",
    ];
    let ddls2 = [
        "ALTER TABLE bar DROP COLUMN c2",
        "ALTER TABLE bar ADD COLUMN c3 TEXT",
    ];
    let ti0 = "id int pk, c1 int";
    let ti1_1 = "id int pk, c1 int, c2 int";
    let ti1 = "id int pk, c2 int";
    let ti2 = "id int pk, c3 text";
    let ti2_1 = "id int pk";
    let all: Vec<&'static str> = vec![
        "s1.db1.bar1",
        "s1.db1.bar2",
        "s1.db2.bar1",
        "s1.db2.bar2",
        "s2.db1.bar1",
        "s2.db1.bar2",
        "s2.db2.bar1",
        "s2.db2.bar2",
    ];
    let mut steps: Vec<(Step, String)> = vec![
        (
            sync(all[0], &ddls1[..1], ti0, &[ti1_1, ti1]),
            "error 38054 [] [] r=0".into(),
        ),
        (
            sync(all[0], &ddls1, ti0, &[ti1]),
            "error 38054 [] [] r=0".into(),
        ),
        (Status, "synced r=0 done=0 resolved=false".into()),
    ];
    for (i, t) in all.iter().enumerate() {
        let want = if i == 7 {
            "none [0 1] [c1] r=0 drop=[c1]".to_owned()
        } else {
            "none [0] [c1] r=8 drop=[c1]".to_owned()
        };
        steps.push((sync(t, &ddls1, ti0, &[ti1_1, ti1]), want));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));
    steps.push((
        sync(all[0], &ddls1, ti0, &[ti1_1, ti1]),
        "none [0 1] [c1] r=0".into(),
    ));
    for (i, t) in all.iter().enumerate() {
        let want = if i == 7 {
            "none [0 1] [c2] r=0 drop=[c2]".to_owned()
        } else {
            "none [1] [c2] r=8 drop=[c2]".to_owned()
        };
        steps.push((sync(t, &ddls2, ti1, &[ti2_1, ti2]), want));
    }
    steps.push((Status, "synced r=0 done=0 resolved=false".into()));
    steps.push((
        sync(all[0], &ddls2, ti1, &[ti2_1, ti2]),
        "none [0 1] [c2] r=0".into(),
    ));
    check(ti0, &all, steps);
}

/// DM `TestTryRemoveTable`: the joined schema follows the remaining tables.
#[test]
fn try_remove_table() {
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, c2 int";
    check(
        ti0,
        T2,
        vec![
            (sync("t1", &[ADD_C1], ti0, &[ti1]), "none [0] [] r=1"),
            (Ready, "+t1 -t2"),
            (
                SetColumns(vec![("col", "t2", DropColumnStage::NotDone)]),
                "",
            ),
            (Remove("t2"), "[col]"),
            (Ready, "+t1"),
            (Columns, "none"),
            // The table comes back with a newer schema, then leaves again.
            (
                sync("t2", &["ALTER TABLE bar ADD COLUMN c2 INT"], ti1, &[ti2]),
                "none [0] [] r=1",
            ),
            (Ready, "-t1 +t2"),
            (Remove("t2"), "[]"),
            (Ready, "+t1"),
            (Remove("not-exist"), "[]"),
            (Remove("s1.not-exist.t1"), "[]"),
            (Remove("not-exist.db.t1"), "[]"),
        ],
    );
}

/// DM `TestTryRemoveTableWithSources`.
#[test]
fn try_remove_table_by_sources() {
    let drop_c1 = ["ALTER TABLE bar DROP COLUMN c1"];
    let ti0 = "id int pk, c1 int";
    let ti1 = "id int pk";
    let tables = ["s1.db.t1", "s1.db.t2", "s2.db.t1", "s2.db.t2"];
    check(
        ti0,
        &tables,
        vec![
            (
                sync("t1", &drop_c1, ti0, &[ti1]),
                "none [] [c1] r=1 drop=[c1]",
            ),
            (Ready, "-t1 +t2 +s2.db.t1 +s2.db.t2"),
            (RemoveSources(vec![]), "[] has_tables=true"),
            (Tts(vec!["s1.db.t1", "s1.db.t2"]), ""),
            (RemoveSources(vec!["hahaha"]), "[] has_tables=true"),
            (RemoveSources(vec!["s2"]), "[] has_tables=true"),
            (Ready, "-t1 +t2"),
            (
                sync("t2", &drop_c1, ti0, &[ti1]),
                "none [0] [c1] r=0 drop=[c1]",
            ),
            (Ready, "+t1 +t2"),
            (RemoveSources(vec!["s1"]), "[c1] has_tables=false"),
            (Columns, "none"),
        ],
    );
}

/// DM `TestLockTryMarkDone`: done flags, their revert by a new DDL, and
/// resolution.
#[test]
fn try_mark_done() {
    let add_c2 = "ALTER TABLE bar ADD COLUMN c2 INT";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, c2 int";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false"),
            (sync("t1", &[ADD_C1], ti0, &[ti1]), "none [0] [] r=1"),
            (Status, "unsynced r=1 done=0 resolved=false"),
            (MarkDone("t1"), "true"),
            (IsDone("t1"), "true"),
            (IsDone("t2"), "false"),
            (
                sync("t2", &[ADD_C1, add_c2], ti0, &[ti1, ti2]),
                "none [0 1] [] r=1",
            ),
            (IsDone("t1"), "true"),
            (MarkDone("t2"), "true"),
            // Both done, but with different schemas.
            (Status, "unsynced r=1 done=2 resolved=false"),
            (sync("t1", &[add_c2], ti1, &[ti2]), "none [0] [] r=0"),
            (IsDone("t1"), "false"),
            (IsDone("t2"), "true"),
            (Status, "synced r=0 done=1 resolved=false"),
            (MarkDone("t1"), "true"),
            (Status, "synced r=0 done=2 resolved=true"),
            (MarkDone("not-exist"), "false"),
            (MarkDone("s1.not-exist.t1"), "false"),
            (MarkDone("not-exist.db.t1"), "false"),
            (IsDone("not-exist"), "false"),
        ],
    );
}

/// DM `TestAddDifferentFieldLenColumns` (behaviour table: `ADD c1
/// VARCHAR(4)` then `VARCHAR(5)`, and the reverse).
#[test]
fn add_different_field_len_columns_cases() {
    let add4 = "ALTER TABLE bar ADD COLUMN c1 VARCHAR(4)";
    let add5 = "ALTER TABLE bar ADD COLUMN c1 VARCHAR(5)";
    let ti0 = "id int pk";
    let ti1 = "id int pk, c1 varchar(4)";
    let ti2 = "id int pk, c1 varchar(5)";
    let direct = |ddl, a, b| match add_different_field_len_columns(ID, ddl, &enc(a), &enc(b)) {
        Ok(c) => format!("ok {c}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(direct(add4, ti0, ti1), "ok c1");
    let wider = "fail to resolve adding not fully dropped columns for optimistic shard ddl lock task-`foo`.`bar`: add columns with different field lengths. ddl: ALTER TABLE bar ADD COLUMN c1 VARCHAR(5), origLen: 4, newLen: 5";
    assert_eq!(direct(add5, ti1, ti2), wider);
    assert!(direct(add4, ti2, ti1).contains("origLen: 5, newLen: 4"));

    let flen = "error 11128 add columns with different field lengths";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false".to_owned()),
            (
                sync("t1", &[add4], ti0, &[ti1]),
                "none [0] [] r=1".to_owned(),
            ),
            (
                sync("t2", &[add5], ti0, &[ti2]),
                format!("{flen} [] [] r=1"),
            ),
            // Narrower after wider.
            (NewLock(ti0, T2.to_vec()), String::new()),
            (
                sync("t2", &[add5], ti0, &[ti2]),
                "none [0] [] r=1".to_owned(),
            ),
            (
                sync("t1", &[add4], ti0, &[ti1]),
                format!("{flen} [] [] r=1"),
            ),
        ],
    );
}

/// DM `TestAddNotFullyDroppedColumns` (behaviour table: re-adding a
/// column before every dropper finished; `[DROP c, ADD c]` in one Info).
#[test]
fn add_not_fully_dropped_columns() {
    let drop_c = "ALTER TABLE bar DROP COLUMN c";
    let drop_b = "ALTER TABLE bar DROP COLUMN b";
    let add_b = "ALTER TABLE bar ADD COLUMN b INT";
    let add_c = "ALTER TABLE bar ADD COLUMN c INT";
    let ti0 = "id int pk, b int, c int";
    let ti1 = "id int pk, b int";
    let ti2 = "id int pk";
    let ti3 = "id int pk, c int";
    assert_eq!(
        get_column_name(ID, drop_c, ColumnKind::DropColumn),
        Ok("c".to_owned())
    );
    assert_eq!(
        get_column_name(ID, drop_b, ColumnKind::DropColumn),
        Ok("b".to_owned())
    );
    let not_dropped = "error 11128 add column c that wasn't fully dropped in downstream";
    check(
        ti0,
        T2,
        vec![
            (Status, "synced r=0 done=0 resolved=false".to_owned()),
            (
                sync("t1", &[drop_c], ti0, &[ti1]),
                "none [] [c] r=1 drop=[c]".to_owned(),
            ),
            (
                sync("t1", &[drop_b], ti1, &[ti2]),
                "none [] [b] r=1 drop=[b]".to_owned(),
            ),
            (Columns, "b{t1:0} c{t1:0}".to_owned()),
            (
                sync("t2", &[drop_b], ti0, &[ti3]),
                "none [0] [b] r=1 drop=[b]".to_owned(),
            ),
            (
                OpDone("t2", vec![drop_b], vec!["b"]),
                "put=[b@t2=2] delete=[]".to_owned(),
            ),
            (Columns, "b{t1:0 t2:2} c{t1:0}".to_owned()),
            (
                OpDone("t1", vec![], vec!["b"]),
                "put=[b@t1=1] delete=[b]".to_owned(),
            ),
            (Columns, "c{t1:0}".to_owned()),
            // b is fully dropped: re-adding it is fine; c is not.
            (
                sync("t1", &[add_b], ti2, &[ti1]),
                "none [0] [] r=2".to_owned(),
            ),
            (
                sync("t1", &[add_c], ti1, &[ti0]),
                format!("{not_dropped} [] [] r=2"),
            ),
            (
                sync("t2", &[drop_c], ti3, &[ti2]),
                "none [0] [c] r=1 drop=[c]".to_owned(),
            ),
            (
                OpDone("t2", vec![drop_c], vec!["c"]),
                "put=[c@t2=2] delete=[]".to_owned(),
            ),
            // t2's before-schema is trusted, and kept on the error.
            (
                sync("t2", &[add_c], ti1, &[ti0]),
                format!("{not_dropped} [] [] r=0"),
            ),
            (
                OpDone("t1", vec![], vec!["c"]),
                "put=[c@t1=1] delete=[c]".to_owned(),
            ),
            (
                sync("t1", &[add_c], ti1, &[ti0]),
                "none [0] [] r=1".to_owned(),
            ),
            (
                sync("t1", &[drop_c, add_c], ti0, &[ti1, ti0]),
                format!("{not_dropped} [] [] r=1"),
            ),
            (Status, "unsynced r=1 done=0 resolved=false".to_owned()),
        ],
    );
}

/// DM `TestLockTrySyncDifferentIndex`: DROP INDEX on one table, ADD
/// another INDEX on both.
#[test]
fn try_sync_different_index() {
    let ti0 = "id int pk, c1 int, unique idx_c1(c1)";
    let ti1 = "id int pk, c1 int";
    let ti2 = "id int pk, c1 int, index new_idx(c1)";
    let add = ["ALTER TABLE bar ADD INDEX new_idx(c1)"];
    check(
        ti0,
        T2,
        vec![
            (
                sync("t1", &["ALTER TABLE bar DROP INDEX idx_c1"], ti0, &[ti1]),
                "none [0] [] r=1",
            ),
            (CmpTables("t2", "t2"), "0"),
            (sync("t2", &add, ti1, &[ti2]), "none [] [] r=1"),
            (CmpJoined("t1"), "0"),
            (sync("t1", &add, ti1, &[ti2]), "none [0] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}

/// Steps on a lock's private state, for DM's tests of its internals.
/// Schemas are named (`T0`, `T1`, ...) in a table given to
/// [`check_internal`].
enum In {
    /// Set a table's normal schema only.
    Normal(&'static str, &'static str),
    /// Park a conflicting schema (conflict and final view).
    Conflict(&'static str, &'static str),
    /// Set a table's final schema only.
    Final(&'static str, &'static str),
    Unconflict(&'static str),
    /// DM's `resolveTables`: every final schema becomes normal; renders
    /// each table's schema name.
    DmResolve,
    /// `all_smaller` and `all_larger` over the conflict and the final view,
    /// as four digits.
    Preds,
    /// `no_conflict_with_one_normal_table(table, prev, post)`.
    OneNormal(&'static str, &'static str, &'static str),
    /// `check_add_drop_column(table, ddl, prev, post, [])`.
    AddDrop(&'static str, &'static str, &'static str, &'static str),
    /// `try_sync_for_one_ddl(table, prev, post)`.
    OneDdl(&'static str, &'static str, &'static str),
    SetColumns(Vec<(&'static str, &'static str, DropColumnStage)>),
}

fn check_internal(schemas: &[(&str, &str)], tables: &[&str], steps: Vec<(In, &str)>) {
    let named: BTreeMap<&str, Table> = schemas.iter().map(|(n, s)| (*n, enc(s))).collect();
    let schema = |n: &str| named.get(n).cloned().expect("named schema");
    let name_of = |t: &Table| {
        named
            .iter()
            .find(|(_, s)| *s == t)
            .map_or("?".to_owned(), |(n, _)| (*n).to_owned())
    };
    let mut l = new_lock(schemas[0].1, tables);
    for (i, (step, want)) in steps.into_iter().enumerate() {
        let got = match step {
            In::Normal(t, s) => {
                l.tables.insert(key(t), schema(s));
                String::new()
            }
            In::Conflict(t, s) => {
                l.conflict_tables.insert(key(t), schema(s));
                l.final_tables.insert(key(t), schema(s));
                String::new()
            }
            In::Final(t, s) => {
                l.final_tables.insert(key(t), schema(s));
                String::new()
            }
            In::Unconflict(t) => {
                l.conflict_tables.remove(&key(t));
                String::new()
            }
            In::DmResolve => {
                l.conflict_tables = JoinTree::new();
                let finals: Vec<(TableKey, Table)> = l
                    .final_tables
                    .iter()
                    .map(|(k, t)| (k.clone(), t.clone()))
                    .collect();
                for (k, t) in finals {
                    l.tables.insert(k, t);
                }
                l.tables
                    .iter()
                    .map(|(k, t)| format!("{}:{}", short(k), name_of(t)))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            In::Preds => {
                let bit = |b: bool| if b { '1' } else { '0' };
                [
                    l.all_smaller(l.conflict_tables.joined()),
                    l.all_larger(&l.conflict_tables),
                    l.all_smaller(l.final_tables.joined()),
                    l.all_larger(&l.final_tables),
                ]
                .map(bit)
                .iter()
                .collect()
            }
            In::OneNormal(t, prev, post) => l
                .no_conflict_with_one_normal_table(&key(t), &schema(prev), &schema(post))
                .to_string(),
            In::AddDrop(t, ddl, prev, post) => {
                match l.check_add_drop_column(&key(t), ddl, &schema(prev), &schema(post), &[]) {
                    Ok(col) => format!("ok {col}"),
                    Err(e) => stage(Some(&e)),
                }
            }
            In::OneDdl(t, prev, post) => {
                let mut run = Run::default();
                let (changed, stage) = l.try_sync_for_one_ddl(
                    &key(t),
                    &schema(prev),
                    &schema(post),
                    "ddl",
                    0,
                    &mut run,
                );
                let mut out = format!("({changed}, {stage:?})");
                if !run.redirects.is_empty() {
                    let r: Vec<TableKey> = run.redirects.into_iter().collect();
                    out.push_str(&format!(" redirect={}", keys(&r)));
                }
                out
            }
            In::SetColumns(entries) => {
                let mut cols = DroppedColumns::new();
                for (c, t, s) in entries {
                    cols.entry(c.to_owned()).or_default().insert(key(t), s);
                }
                l.set_columns(cols);
                String::new()
            }
        };
        assert_eq!(got, want, "step {i}");
    }
}

/// DM `TestTrySyncForOneDDL`, the 13-step conflict sequence of
/// docs/protocol.md#try-sync (with DM's extra replay of step 2).
#[test]
fn try_sync_for_one_ddl_sequence() {
    let schemas = [
        ("T0", "id int pk, col1 int"),
        ("T1", "id int pk, col1 int, col2 int"),
        ("T2", "id int pk"),
        ("T3", "id int pk, col1 int, col3 int"),
        ("T4", "id int pk, col2 int"),
        ("T5", "id int pk, col3 int"),
        ("T6", "id int pk, col3 varchar(4)"),
        ("T8", "id int pk, col3 varchar(4), col4 int notnull"),
        ("T9", "id int pk, col2 varchar(4), col4 int notnull"),
        ("T10", "id int pk, col3 int, col4 int notnull"),
    ];
    check_internal(
        &schemas,
        T2,
        vec![
            // 1. CREATE TABLE: same schema.
            (In::OneDdl("t1", "T0", "T0"), "(true, None)"),
            // 2. ADD COLUMN, and a replay (no-op DDLs such as partitions).
            (In::OneDdl("t1", "T0", "T1"), "(true, None)"),
            (In::OneDdl("t1", "T0", "T1"), "(true, None)"),
            // 3. DROP COLUMN on the other table.
            (In::OneDdl("t2", "T0", "T2"), "(false, None)"),
            // 4. RENAME col2 TO col3: must wait.
            (In::OneDdl("t1", "T1", "T3"), "(false, SkipWaitRedirect)"),
            // 5. The other table adds col2.
            (In::OneDdl("t2", "T2", "T4"), "(true, None)"),
            // 6. ... and renames it too: resolved, t1 redirected.
            (In::OneDdl("t2", "T4", "T5"), "(true, None) redirect=[t1]"),
            // 7. MODIFY col3 INT → VARCHAR(4): must wait.
            (In::OneDdl("t2", "T5", "T6"), "(false, SkipWaitRedirect)"),
            // 8. The other table drops col1.
            (In::OneDdl("t1", "T3", "T5"), "(true, None)"),
            // 9. ... and modifies col3 too: resolved, t2 redirected.
            (In::OneDdl("t1", "T5", "T6"), "(true, None) redirect=[t2]"),
            // 10. ADD col4 NOT NULL without default, and a replay.
            (In::OneDdl("t1", "T6", "T8"), "(false, SkipWaitRedirect)"),
            (In::OneDdl("t1", "T6", "T8"), "(false, SkipWaitRedirect)"),
            // 11. The same on the other table: resolved; its replay is
            // idempotent.
            (In::OneDdl("t2", "T6", "T8"), "(true, None) redirect=[t1]"),
            (In::OneDdl("t2", "T6", "T8"), "(true, None)"),
            // 12. RENAME col3 TO col2: must wait.
            (In::OneDdl("t1", "T8", "T9"), "(false, SkipWaitRedirect)"),
            // 13. MODIFY col3 back to INT: two incompatible pending conflicts.
            (In::OneDdl("t2", "T8", "T10"), "(false, Detected)"),
        ],
    );
}

const PREDICATE_SCHEMAS: [(&str, &str); 10] = [
    ("T0", "id int pk, col int"),
    ("T1", "id int pk, new_col int"),
    ("T2", "id int pk, new_col varchar(4)"),
    ("T3", "a int pk, new_col varchar(4)"),
    ("T4", "id int pk, new_col2 varchar(4)"),
    ("T5", "id varchar(4) pk, new_col int"),
    ("T6", "id int pk, col int, new_col int"),
    ("T7", "id int pk, col int, new_col varchar(4)"),
    ("T8", "id int pk, col int, col2 int notnull"),
    ("T9", "a int pk, new_col int"),
];

/// DM `TestAllTableSmallerLarger`: the conflict predicates, digits
/// `all_smaller(conflict) all_larger(conflict) all_smaller(final)
/// all_larger(final)`.
#[test]
fn all_table_smaller_larger() {
    use In::*;
    check_internal(
        &PREDICATE_SCHEMAS,
        T2,
        vec![
            (Preds, "1111"),
            // rename
            (Conflict("t1", "T1"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T1"), ""),
            (Preds, "1111"),
            (DmResolve, "t1:T1 t2:T1"),
            // modify
            (Conflict("t1", "T2"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T2"), ""),
            (Preds, "1111"),
            (DmResolve, "t1:T2 t2:T2"),
            // different renames
            (Conflict("t1", "T3"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T4"), ""),
            (Preds, "0000"),
            (Final("t1", "T1"), ""),
            (Final("t2", "T1"), ""),
            (DmResolve, "t1:T1 t2:T1"),
            // different modifications
            (Conflict("t1", "T2"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T5"), ""),
            (Preds, "0000"),
            (Final("t1", "T1"), ""),
            (Final("t2", "T1"), ""),
            (DmResolve, "t1:T1 t2:T1"),
            // one rename, one modification
            (Conflict("t1", "T4"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T5"), ""),
            (Preds, "0000"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // one rename, one add and drop
            (Conflict("t1", "T1"), ""),
            (Preds, "1100"),
            (Final("t2", "T6"), ""),
            (Preds, "1101"),
            (Final("t2", "T1"), ""),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // one modification, one add and drop
            (Conflict("t1", "T2"), ""),
            (Preds, "1100"),
            (Final("t2", "T7"), ""),
            (Preds, "1101"),
            (Final("t2", "T2"), ""),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // NOT NULL without default
            (Conflict("t1", "T8"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T8"), ""),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
            // several renames
            (Conflict("t1", "T1"), ""),
            (Preds, "1100"),
            (Conflict("t2", "T1"), ""),
            (Preds, "1111"),
            (DmResolve, "t1:T1 t2:T1"),
            (Conflict("t1", "T9"), ""),
            (OneNormal("t1", "T1", "T9"), "false"),
            (Preds, "1100"),
            (Normal("t2", "T0"), ""),
            (Conflict("t2", "T1"), ""),
            (OneNormal("t2", "T0", "T1"), "true"),
            (Unconflict("t2"), ""),
            (Normal("t2", "T1"), ""),
            (Conflict("t2", "T9"), ""),
            (OneNormal("t2", "T1", "T9"), "false"),
            (Preds, "1111"),
            (Final("t1", "T0"), ""),
            (Final("t2", "T0"), ""),
            (DmResolve, "t1:T0 t2:T0"),
        ],
    );
}

/// DM `TestNoConflictWithOneNormalTable`.
#[test]
fn no_conflict_with_one_normal_table_cases() {
    use In::*;
    let schemas = [
        ("T0", "id int pk, a int, col int"),
        ("T1", "id int pk, a int, new_col int"),
        ("T2", "id int pk, a int, col varchar(4)"),
        ("T3", "id int pk, a int, new_col2 int"),
        ("T4", "id int pk, b int, new_col int"),
    ];
    check_internal(
        &schemas,
        T2,
        vec![
            (OneNormal("t2", "T0", "T1"), "false"),
            // t1 renamed the column already.
            (Normal("t1", "T1"), ""),
            (OneNormal("t2", "T0", "T1"), "true"),
            (OneNormal("t2", "T0", "T2"), "false"),
            (OneNormal("t2", "T0", "T3"), "false"),
            // t1 also renamed another column: same answers.
            (Normal("t1", "T4"), ""),
            (OneNormal("t2", "T0", "T1"), "true"),
            (OneNormal("t2", "T0", "T2"), "false"),
            (OneNormal("t2", "T0", "T3"), "false"),
        ],
    );
}

/// DM `TestCheckAddDropColumns`.
#[test]
fn check_add_drop_columns() {
    use In::*;
    let schemas = [
        ("T0", "id int pk, col int"),
        ("T1", "id int pk, col int, a varchar(1)"),
        ("T2", "id int pk, col int, a varchar(2)"),
        ("T3", "id int pk, a varchar(2)"),
    ];
    check_internal(
        &schemas,
        T2,
        vec![
            (Normal("t1", "T0"), ""),
            (Normal("t2", "T1"), ""),
            (
                AddDrop("t1", "ALTER TABLE bar ADD COLUMN a VARCHAR(1)", "T0", "T1"),
                "ok ",
            ),
            (Normal("t1", "T1"), ""),
            (
                AddDrop("t2", "ALTER TABLE bar ADD COLUMN a VARCHAR(2)", "T0", "T2"),
                "error 11128 add columns with different field lengths",
            ),
            (
                AddDrop("t1", "ALTER TABLE bar DROP COLUMN col", "T2", "T3"),
                "ok col",
            ),
            (
                SetColumns(vec![("col", "t1", DropColumnStage::NotDone)]),
                "",
            ),
            (
                AddDrop("t1", "ALTER TABLE bar ADD COLUMN col int", "T3", "T2"),
                "error 11128 add column col that wasn't fully dropped in downstream",
            ),
        ],
    );
}

/// `get_column_name`: the first spec only, names as written, sqlparser's
/// gaps filled by the token reader, and DM's parse error otherwise.
#[test]
fn column_names() {
    use ColumnKind::{AddColumns as Add, DropColumn as Drop};
    let cases: &[(&str, ColumnKind, &str)] = &[
        ("ALTER TABLE bar ADD COLUMN c1 INT", Add, "c1"),
        ("ALTER TABLE bar ADD c1 INT", Add, "c1"),
        (
            "ALTER TABLE `db`.`bar` ADD COLUMN `C1` INT NOT NULL DEFAULT 1",
            Add,
            "C1",
        ),
        ("ALTER TABLE bar ADD COLUMN c1 INT", Drop, ""),
        ("ALTER TABLE bar DROP COLUMN c1", Drop, "c1"),
        ("ALTER TABLE bar DROP c1", Drop, "c1"),
        ("ALTER TABLE bar DROP COLUMN c1", Add, ""),
        ("ALTER TABLE bar DROP INDEX idx_c1", Drop, ""),
        ("ALTER TABLE bar ADD UNIQUE INDEX idx_c1(c1)", Add, ""),
        ("ALTER TABLE bar MODIFY COLUMN c1 BIGINT", Add, ""),
        // DM gap O15: only the first spec counts.
        (
            "ALTER TABLE bar ADD COLUMN c1 INT, DROP COLUMN c2",
            Drop,
            "",
        ),
        (
            "ALTER TABLE bar DROP COLUMN c2, ADD COLUMN c1 INT",
            Drop,
            "c2",
        ),
        ("CREATE TABLE bar (id INT)", Add, ""),
        ("CREATE INDEX idx ON bar (c1)", Drop, ""),
        // TiDB syntax sqlparser may not know.
        ("ALTER TABLE bar ADD COLUMN IF NOT EXISTS c1 INT", Add, "c1"),
        ("ALTER TABLE bar ADD COLUMN (c1 INT, c2 INT)", Add, "c1"),
        ("ALTER TABLE bar DROP COLUMN IF EXISTS c1", Drop, "c1"),
        ("ALTER TABLE bar SET TIFLASH REPLICA 1", Drop, ""),
        (
            "ALTER TABLE bar ADD COLUMN c1 BIGINT AUTO_RANDOM(5) PRIMARY KEY",
            Add,
            "c1",
        ),
        (
            "ALTER TABLE bar ADD INDEX idx ((lower(c1))) INVISIBLE",
            Add,
            "",
        ),
    ];
    for (ddl, kind, want) in cases {
        assert_eq!(
            get_column_name(ID, ddl, *kind).as_deref(),
            Ok(*want),
            "{ddl}"
        );
    }
    for ddl in [
        "this is not sql",
        "",
        "ALTER TABLE bar ADD COLUMN",
        "ALTER TABLE bar ADD COLUMN `c1",
    ] {
        let e = get_column_name(ID, ddl, ColumnKind::AddColumns).expect_err(ddl);
        let text = e.dm_string();
        let head = format!(
            "[code=11128:class=functional:scope=internal:level=medium], Message: fail to resolve adding not fully dropped columns for optimistic shard ddl lock {ID}: fail to parse ddl {ddl}, RawCause: "
        );
        assert!(text.starts_with(&head), "{text}");
        assert!(
            text.ends_with(", Workaround: Please use `binlog skip` command to skip this error.")
        );
        assert_eq!(e.stage(), ConflictStage::Error);
    }
}

/// DM gap O6: a `detected` table is reported after the change that unblocks
/// it, and re-running its stored Info succeeds; nothing is reported while
/// it stays blocked or after failed calls.
#[test]
fn detected_tables_are_rechecked() {
    let add_text = ["ALTER TABLE bar ADD COLUMN c1 TEXT"];
    let add_datetime = ["ALTER TABLE bar ADD COLUMN c1 DATETIME"];
    let drop_c1 = ["ALTER TABLE bar DROP COLUMN c1"];
    let ti0 = "id int pk";
    let text = "id int pk, c1 text";
    let datetime = "id int pk, c1 datetime";
    check(
        ti0,
        &["t1", "t2", "t3"],
        vec![
            (sync("t1", &add_text, ti0, &[text]), "none [0] [] r=2"),
            (
                sync("t2", &add_datetime, ti0, &[datetime]),
                "detected [] [] r=2",
            ),
            (
                sync("t3", &add_datetime, ti0, &[datetime]),
                "detected [] [] r=2",
            ),
            // A change that does not unblock still reports both.
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar ADD COLUMN c2 INT"],
                    text,
                    &["id int pk, c1 text, c2 int"],
                ),
                "none [0] [] r=2 recheck=[t2 t3]",
            ),
            (Recheck("t2"), "detected [] [] r=2"),
            (
                sync(
                    "t1",
                    &drop_c1,
                    "id int pk, c1 text, c2 int",
                    &["id int pk, c2 int"],
                ),
                "none [0] [c1] r=2 drop=[c1] recheck=[t2 t3]",
            ),
            // t2 goes through and reports t3, which goes through too.
            (Recheck("t2"), "none [0] [] r=3 recheck=[t3]"),
            (Recheck("t3"), "none [0] [] r=3"),
            (Status, "unsynced r=3 done=0 resolved=false"),
        ],
    );
}

/// DM gap O10: an exec-unlock moves the final view too, so readiness follows
/// (DM leaves the final view at the reset before-schema).
#[test]
fn unlock_updates_final_tables() {
    let ti0 = "id int pk";
    let text = "id int pk, c1 text";
    let datetime = "id int pk, c1 datetime";
    let blocked = info(
        "t2",
        &["ALTER TABLE bar ADD COLUMN c1 DATETIME"],
        ti0,
        &[datetime],
    );
    check(
        ti0,
        T2,
        vec![
            (
                sync("t1", &["ALTER TABLE bar ADD COLUMN c1 TEXT"], ti0, &[text]),
                "none [0] [] r=1",
            ),
            (Sync(blocked.clone()), "detected [] [] r=1"),
            (Unlock(blocked), "true"),
            // Both views now hold t2's DATETIME column: nothing joins.
            (Ready, "-t1 -t2"),
            (CmpTables("t1", "t2"), "err"),
            (Status, "unsynced r=2 done=0 resolved=false"),
        ],
    );
}

/// DM gap O14: mixed-case column names are checked like lower-case ones.
#[test]
fn column_names_are_case_insensitive() {
    let ti0 = "id int pk, C int";
    check(
        ti0,
        T2,
        vec![
            // Different lengths under a mixed-case name.
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar ADD COLUMN Col VARCHAR(4)"],
                    ti0,
                    &["id int pk, C int, Col varchar(4)"],
                ),
                "none [0] [] r=1",
            ),
            (
                sync(
                    "t2",
                    &["ALTER TABLE bar ADD COLUMN col VARCHAR(5)"],
                    ti0,
                    &["id int pk, C int, col varchar(5)"],
                ),
                "error 11128 add columns with different field lengths [] [] r=1",
            ),
            // A drop written `C`, re-added as `c`.
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar DROP COLUMN C"],
                    "id int pk, C int, Col varchar(4)",
                    &["id int pk, Col varchar(4)"],
                ),
                "none [] [C] r=2 drop=[C]",
            ),
            (
                sync(
                    "t1",
                    &["ALTER TABLE bar ADD COLUMN c INT"],
                    "id int pk, Col varchar(4)",
                    &["id int pk, Col varchar(4), c int"],
                ),
                "error 11128 add column c that wasn't fully dropped in downstream [] [] r=2",
            ),
            (
                sync(
                    "t2",
                    &["ALTER TABLE bar DROP COLUMN c"],
                    ti0,
                    &["id int pk"],
                ),
                "none [0] [c] r=1 drop=[C]",
            ),
            (Columns, "C{t1:0 t2:0}"),
            (
                OpDone("t2", vec!["ALTER TABLE bar DROP COLUMN c"], vec!["c"]),
                "put=[C@t2=2] delete=[]",
            ),
            (OpDone("t1", vec![], vec!["C"]), "put=[C@t1=1] delete=[C]"),
        ],
    );
}

/// DM gap O17 and malformed Infos: an error answer, no change.
#[test]
fn unreadable_infos() {
    let ti0 = "id int pk";
    let mut no_before = info("t1", &[ADD_C1], ti0, &["id int pk, c1 int"]);
    no_before.table_info_before = None;
    let mut null_after = info("t1", &[ADD_C1], ti0, &[ti0]);
    null_after.table_info_after = Some(vec![Value::Null]);
    let mut bad_before = info("t1", &[ADD_C1], ti0, &[ti0]);
    bad_before.table_info_before = Some(serde_json::json!({"cols": "not a list"}));
    let mut no_ddls = info("t1", &[], ti0, &[]);
    no_ddls.ddls = None;
    no_ddls.table_info_after = None;
    check(
        ti0,
        T2,
        vec![
            (Sync(no_before), "error 38055 [] [] r=0"),
            (Sync(null_after), "error 42501 [] [] r=0"),
            (Sync(bad_before), "error 42501 [] [] r=0"),
            (Sync(no_ddls), "error 38054 [] [] r=0"),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
    let e = OptimismError::TableInfoBeforeNotExist {
        ddls: vec!["a b".to_owned(), "c".to_owned()],
    };
    assert_eq!(
        e.dm_string(),
        "[code=38055:class=dm-master:scope=internal:level=high], Message: table-info-before not exist in optimistic ddls: [a b c]"
    );
}

/// Failed effects: the redirect txn (the resolution is undone, the caller
/// gets DM's `detected`), and the dropped-column records (stage `error`
/// with the write's text; DDLs kept; caller reset).
#[test]
fn failed_effects() {
    let rename = ["ALTER TABLE bar RENAME COLUMN c1 TO c2"];
    let (ti0, ti1) = ("id int pk, c1 int", "id int pk, c2 int");
    let mixed = [
        "ALTER TABLE bar ADD COLUMN c3 INT",
        "ALTER TABLE bar DROP COLUMN c2",
    ];
    check(
        ti0,
        T2,
        vec![
            (sync("t1", &rename, ti0, &[ti1]), "skip [] [] r=2"),
            (
                sync("t2", &rename, ti0, &[ti1]),
                "none [0] [] r=0 redirect=[t1]",
            ),
            (FailRedirects, "detected [] [] r=2"),
            (Ready, "-t1 -t2"),
            (
                sync("t2", &rename, ti0, &[ti1]),
                "none [0] [] r=0 redirect=[t1]",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
            (
                sync(
                    "t1",
                    &mixed,
                    ti1,
                    &["id int pk, c2 int, c3 int", "id int pk, c3 int"],
                ),
                "none [0] [c2] r=2 drop=[c2]",
            ),
            (FailDropped, "error 42501 [0] [c2] r=0 etcd is down"),
            (Columns, "none"),
            (CmpTables("t1", "t2"), "0"),
        ],
    );
}

/// ignore-conflict Infos force the caller's schema on any error.
#[test]
fn ignore_conflict_forces_schema() {
    let ti0 = "id int pk";
    let text = "id int pk, c1 text";
    let datetime = "id int pk, c1 datetime";
    check(
        ti0,
        T2,
        vec![
            (
                sync("t1", &["ALTER TABLE bar ADD COLUMN c1 TEXT"], ti0, &[text]),
                "none [0] [] r=1",
            ),
            (
                Ignore(info("t2", &[""], datetime, &[datetime])),
                "detected [] [] r=2",
            ),
            (CmpTables("t1", "t2"), "err"),
            (
                Ignore(info("t2", &[""], text, &[text])),
                "error 11128 fail to parse ddl  [] [] r=0",
            ),
            (Status, "synced r=0 done=0 resolved=false"),
        ],
    );
}
