//! The table keeper, table-driven through [`check`]: DM's `table_test.go`
//! (`TestSourceTablesAddRemove`, `TestToRouteTable`, `TestDiffSourceTable`)
//! and `keeper_test.go` (`TestTableKeeper`, `TestTargetTablesForTask`,
//! `TestUpdateSourceTables`).

use super::*;

/// `source:schema.table>down_table` routes, down schema `db`.
fn st(task: &str, source: &str, routes: &[&str]) -> SourceTables {
    let mut st = SourceTables::new(task, source);
    for r in routes {
        let (up, down) = r.split_once('>').unwrap_or((r, "tbl"));
        let (schema, table) = up.split_once('.').expect("schema.table");
        st.add_table(schema, table, "db", down);
    }
    st
}

fn routes(r: &BTreeSet<RouteTable>) -> String {
    let items: Vec<String> = r
        .iter()
        .map(|r| format!("{}.{}>{}", r.up_schema, r.up_table, r.down_table))
        .collect();
    format!("[{}]", items.join(" "))
}

/// `source{schema.table ...}` per target table, or `none`.
fn found(tts: Option<Vec<TargetTable>>) -> String {
    match tts {
        None => "none".to_owned(),
        Some(tts) => {
            let items: Vec<String> = tts
                .iter()
                .map(|tt| {
                    assert!(!tt.is_empty());
                    let tables: Vec<String> = tt
                        .up_tables
                        .iter()
                        .flat_map(|(s, ts)| ts.iter().map(move |t| format!("{s}.{t}")))
                        .collect();
                    format!("{}{{{}}}", tt.source, tables.join(" "))
                })
                .collect();
            format!("[{}]", items.join(" "))
        }
    }
}

enum Ev {
    Init(Vec<SourceTables>),
    Update(SourceTables),
    Delete(SourceTables),
    /// `find_tables(task, "db", down_table)`.
    Find(&'static str, &'static str),
    /// `source_table_exist(task, source, schema, table, "db", "tbl")`.
    Exist(&'static str, &'static str, &'static str, &'static str),
    Add(&'static str, &'static str, &'static str, &'static str),
    AddTo(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
    Remove(&'static str, &'static str, &'static str, &'static str),
    RemoveTask(&'static str),
    RemoveSources(&'static str, Vec<&'static str>),
}

fn check(steps: Vec<(Ev, &str)>) {
    let mut tk = TableKeeper::new();
    for (i, (ev, want)) in steps.into_iter().enumerate() {
        let got = match ev {
            Ev::Init(sts) => {
                let mut stm: BTreeMap<String, BTreeMap<String, SourceTables>> = BTreeMap::new();
                for st in sts {
                    stm.entry(st.task.clone())
                        .or_default()
                        .insert(st.source.clone(), st);
                }
                tk.init(stm);
                String::new()
            }
            Ev::Update(st) => {
                let preview = tk.diff(&st, false);
                let (added, dropped) = tk.update(&st, false);
                assert_eq!(preview, (added.clone(), dropped.clone()));
                format!("+{} -{}", routes(&added), routes(&dropped))
            }
            Ev::Delete(st) => {
                let (added, dropped) = tk.update(&st, true);
                format!("+{} -{}", routes(&added), routes(&dropped))
            }
            Ev::Find(task, table) => found(tk.find_tables(task, "db", table)),
            Ev::Exist(task, source, schema, table) => tk
                .source_table_exist(task, source, schema, table, "db", "tbl")
                .to_string(),
            Ev::Add(task, source, schema, table) => tk
                .add_table(task, source, schema, table, "db", "tbl")
                .to_string(),
            Ev::AddTo(task, source, schema, table, down) => tk
                .add_table(task, source, schema, table, "db", down)
                .to_string(),
            Ev::Remove(task, source, schema, table) => tk
                .remove_table(task, source, schema, table, "db", "tbl")
                .to_string(),
            Ev::RemoveTask(task) => tk.remove_table_by_task(task).to_string(),
            Ev::RemoveSources(task, sources) => {
                let sources: Vec<String> = sources.iter().map(|s| (*s).to_owned()).collect();
                tk.remove_table_by_task_and_sources(task, &sources);
                String::new()
            }
        };
        assert_eq!(got, want, "step {i}");
    }
}

/// DM `TestTableKeeper`.
#[test]
fn table_keeper() {
    use Ev::*;
    let st11 = st("task-1", "mysql-1", &["db.tbl-1", "db.tbl-2"]);
    let st12 = st("task-1", "mysql-2", &["db.tbl-1", "db.tbl-2"]);
    let st21 = st("task-2", "mysql-2", &["db.tbl-3"]);
    let st22 = st("task-2", "mysql-2", &["db.tbl-3", "db.tbl-4"]);
    let both = "[mysql-1{db.tbl-1 db.tbl-2} mysql-2{db.tbl-1 db.tbl-2}]";
    check(vec![
        (Find("task-1", "tbl"), "none"),
        (Exist("task-1", "mysql-1", "db", "tbl-1"), "false"),
        (Init(vec![]), ""),
        (Find("task-1", "tbl"), "none"),
        (Init(vec![st12.clone(), st11.clone()]), ""),
        (Find("task-1", "tbl"), both),
        (Exist("task-1", "mysql-1", "db", "tbl-1"), "true"),
        (Exist("task-1", "mysql-1", "db", "tbl-2"), "true"),
        (Update(st21), "+[db.tbl-3>tbl] -[]"),
        (Find("task-2", "tbl"), "[mysql-2{db.tbl-3}]"),
        (Update(st22.clone()), "+[db.tbl-4>tbl] -[]"),
        (Find("task-2", "tbl"), "[mysql-2{db.tbl-3 db.tbl-4}]"),
        (Exist("task-2", "mysql-2", "db", "tbl-4"), "true"),
        (Delete(st22.clone()), "+[] -[db.tbl-3>tbl db.tbl-4>tbl]"),
        (Find("task-2", "tbl"), "none"),
        (Exist("task-2", "mysql-2", "db", "tbl-4"), "false"),
        (Delete(st22), "+[] -[]"),
        (Delete(st("not-exist", "mysql-2", &["db.tbl-3"])), "+[] -[]"),
        (Find("task-1", "tbl"), both),
        (Add("task-1", "mysql-1", "db-2", "tbl-3"), "true"),
        (Add("task-1", "mysql-1", "db-2", "tbl-3"), "false"),
        (
            Find("task-1", "tbl"),
            "[mysql-1{db.tbl-1 db.tbl-2 db-2.tbl-3} mysql-2{db.tbl-1 db.tbl-2}]",
        ),
        (Remove("task-1", "mysql-1", "db-2", "tbl-3"), "true"),
        (Remove("task-1", "mysql-1", "db-2", "tbl-3"), "false"),
        (Find("task-1", "tbl"), both),
        // Unknown tasks are ignored; unknown sources of a known task added.
        (Add("not-exist", "mysql-1", "db-2", "tbl-3"), "false"),
        (Add("task-1", "new-source", "db-2", "tbl-3"), "true"),
        (
            Find("task-1", "tbl"),
            "[mysql-1{db.tbl-1 db.tbl-2} mysql-2{db.tbl-1 db.tbl-2} new-source{db-2.tbl-3}]",
        ),
        (Remove("not-exist", "mysql-2", "db", "tbl-1"), "false"),
        (Remove("task-1", "not-exist", "db", "tbl-1"), "false"),
        (RemoveTask("hahaha"), "false"),
        (RemoveSources("hahaha", vec![]), ""),
        (RemoveSources("task-1", vec!["hahaha"]), ""),
        (
            Find("task-1", "tbl"),
            "[mysql-1{db.tbl-1 db.tbl-2} mysql-2{db.tbl-1 db.tbl-2} new-source{db-2.tbl-3}]",
        ),
        (RemoveSources("task-1", vec!["mysql-1", "mysql-2"]), ""),
        (Find("task-1", "tbl"), "[new-source{db-2.tbl-3}]"),
        (RemoveTask("task-1"), "true"),
        (Find("task-1", "tbl"), "none"),
    ]);
}

/// DM `TestTargetTablesForTask`: sources without tables give an empty
/// list, not `None`; other target tables are kept apart.
#[test]
fn target_tables_for_task_cases() {
    use Ev::*;
    check(vec![
        (
            Init(vec![
                st("task1", "s1", &[]),
                st("task1", "s2", &[]),
                st("task2", "s1", &[]),
            ]),
            "",
        ),
        (Find("not-exist", "bar"), "none"),
        (Find("task1", "bar"), "[]"),
        (
            Init(vec![
                st("task1", "s1", &["foo-1.bar-1>bar", "foo-1.bar-2>bar"]),
                st("task1", "s2", &["foo-2.bar-3>bar"]),
                st("task2", "s1", &["foo-3.bar-1>bar"]),
            ]),
            "",
        ),
        (
            Find("task1", "bar"),
            "[s1{foo-1.bar-1 foo-1.bar-2} s2{foo-2.bar-3}]",
        ),
        (Find("task2", "bar"), "[s1{foo-3.bar-1}]"),
        (AddTo("task1", "s1", "foo-1", "bar-3", "rab"), "true"),
        (AddTo("task1", "s1", "foo-1", "bar-4", "rab"), "true"),
        (Find("task1", "rab"), "[s1{foo-1.bar-3 foo-1.bar-4}]"),
        (
            Find("task1", "bar"),
            "[s1{foo-1.bar-1 foo-1.bar-2} s2{foo-2.bar-3}]",
        ),
    ]);
}

/// DM `TestUpdateSourceTables`: the routes each PUT / DELETE adds and
/// drops.
#[test]
fn update_source_tables() {
    use Ev::*;
    let st11 = st("task-1", "s1", &["db.tbl-1", "db.tbl-2"]);
    let st12 = st("task-1", "s2", &["db.tbl-1", "db.tbl-2"]);
    let st12b = st("task-1", "s2", &["db.tbl-2", "db.tbl-3"]);
    check(vec![
        (Update(st11.clone()), "+[db.tbl-1>tbl db.tbl-2>tbl] -[]"),
        (Update(st11), "+[] -[]"),
        (Update(st12), "+[db.tbl-1>tbl db.tbl-2>tbl] -[]"),
        (Update(st12b.clone()), "+[db.tbl-3>tbl] -[db.tbl-1>tbl]"),
        (Update(st12b.clone()), "+[] -[]"),
        (Delete(st12b), "+[] -[db.tbl-2>tbl db.tbl-3>tbl]"),
    ]);
}

/// DM `TestSourceTablesAddRemove`, `TestToRouteTable`, `TestDiffSourceTable`.
#[test]
fn source_tables_routes_and_diff() {
    let mut s = SourceTables::new("task", "s1");
    assert!(s.target_table("foo", "bar1").is_empty());
    assert!(s.add_table("foo1", "bar1", "foo", "bar1"));
    assert!(!s.add_table("foo1", "bar1", "foo", "bar1"));
    let tt = s.target_table("foo", "bar1");
    assert_eq!(
        tt,
        TargetTable::new(
            "task",
            "s1",
            "foo",
            "bar1",
            [("foo1".to_owned(), ["bar1".to_owned()].into())].into()
        )
    );
    assert!(s.target_table("foo", "bar2").is_empty());
    assert!(s.remove_table("foo1", "bar1", "foo", "bar1"));
    assert!(s.target_table("foo", "bar1").is_empty());

    let empty = SourceTables::default();
    let one = st("t", "s", &["db.tbl-1"]);
    let two = st("t", "s", &["db.tbl-2"]);
    let both = st("t", "s", &["db.tbl-1", "db.tbl-2"]);
    assert_eq!(routes(&both.route_tables()), "[db.tbl-1>tbl db.tbl-2>tbl]");
    let diff = |a: &SourceTables, b: &SourceTables| {
        let (added, dropped) = diff_source_tables(a, b);
        format!("+{} -{}", routes(&added), routes(&dropped))
    };
    assert_eq!(diff(&empty, &empty), "+[] -[]");
    assert_eq!(diff(&one, &empty), "+[] -[db.tbl-1>tbl]");
    assert_eq!(diff(&empty, &one), "+[db.tbl-1>tbl] -[]");
    assert_eq!(diff(&one, &two), "+[db.tbl-2>tbl] -[db.tbl-1>tbl]");
}
