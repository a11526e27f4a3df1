use super::*;
use crate::task_config::SubTaskConfig;

const SPEC: &str = include_str!("../testdata/spec_subtask.toml");
const SHARDING: &str = include_str!("../testdata/sharding_subtask_01.toml");

/// The short shape a benchmark or `dmctl etcd-start-task` writes.
const SHORT: &str = r#"is-sharding = true
shard-mode = "pessimistic"
online-ddl = false
case-sensitive = false
name = "task-\"1\"\u00e9"
mode = "incremental"
source-id = 'mysql-01'
meta-schema = "dm_meta"
flavor = "mysql"

[from]
host = "127.0.0.1"
port = 3306
user = "root"
password = ""

[to]
host = "127.0.0.1"
port = 1
user = "root"
password = "" # not encrypted
"#;

fn fixtures() -> Vec<String> {
    let ours = SubTaskConfig::from_toml(SPEC).unwrap().to_toml();
    vec![
        SPEC.to_string(),
        SHARDING.to_string(),
        SHORT.to_string(),
        SHORT.replace('\n', "\r\n"),
        ours,
    ]
}

/// What the decode makes of a text through the TOML parser alone.
fn parsed(text: &str) -> Result<RegistryInput, String> {
    parse(text)
        .and_then(Fields::into_registry_input)
        .map_err(|e| e.dm_string("config"))
}

#[test]
fn dm_configs_take_the_scanner_and_read_as_the_parser_does() {
    for text in fixtures() {
        let scanned = scan(&text).unwrap_or_else(|| panic!("scanner refused:\n{text}"));
        assert_eq!(Some(&scanned), parse(&text).ok().as_ref(), "{text}");
    }
}

#[test]
fn registry_input_matches_the_full_decode() {
    for text in fixtures() {
        let full = SubTaskConfig::from_toml(&text).unwrap().registry_input();
        assert_eq!(decode_registry_input(&text).unwrap(), full, "{text}");
    }
    let short = decode_registry_input(SHORT).unwrap();
    assert_eq!(short.task, "task-\"1\"é");
    assert_eq!(short.source, "mysql-01");
    assert_eq!(short.mode, ShardMode::Pessimistic);
    let sharding = decode_registry_input(SHARDING).unwrap();
    assert_eq!(sharding.routes.len(), 2);
    assert_eq!(sharding.routes[1].target_schema, "db_target");
}

#[test]
fn errors_are_dms() {
    let err = |text: &str| decode_registry_input(text).unwrap_err().dm_string("config");
    assert!(err("source-id = \"s\"\n").contains("code=20004"));
    assert!(err("name = \"t\"\n").contains("code=20005"));
    assert!(err(&format!(
        "name = \"t\"\nsource-id = \"{}\"\n",
        "s".repeat(40)
    ))
    .contains("code=20006"));
    let bad_mode = SPEC.replace("shard-mode = \"pessimistic\"", "shard-mode = \"eager\"");
    assert!(err(&bad_mode).starts_with("[code=20033:class=config"));
    assert!(err("name = [").contains("code=20002"));
    // A kept field of the wrong type: the parser's message, DM's code.
    assert!(err("name = 1\nsource-id = \"s\"\n").contains("code=20002"));
    let no_target = SHARDING.replace("target-schema = \"db_target\"", "target-schema = \"\"");
    assert!(err(&no_target).contains("target schema of table route rule should not be empty"));
    // The registry checks its own fields only: a bad port is the worker's.
    let bad_port = SHORT.replace("port = 1", "port = \"one\"");
    assert_eq!(
        decode_registry_input(&bad_port).unwrap().task,
        "task-\"1\"é"
    );
}

#[test]
fn route_patterns_are_lower_cased_unless_case_sensitive() {
    let text = "name = \"t\"\nsource-id = \"s\"\n\n[[route-rules]]\nschema-pattern = \"DB*\"\ntable-pattern = \"T*\"\ntarget-schema = \"Db\"\ntarget-table = \"T\"\n";
    let routes = decode_registry_input(text).unwrap().routes;
    assert_eq!(
        (
            routes[0].schema_pattern.as_str(),
            routes[0].target_schema.as_str()
        ),
        ("db*", "Db")
    );
    let sensitive = format!("case-sensitive = true\n{text}");
    let routes = decode_registry_input(&sensitive).unwrap().routes;
    assert_eq!(routes[0].schema_pattern, "DB*");
}

#[test]
fn values_outside_the_subset_go_to_the_parser() {
    for text in [
        "name = \"\"\"t\"\"\"\nsource-id = \"s\"\n",
        "name = \"t\"\nsource-id = \"s\"\nrows = 1.5\n",
        "name = \"t\"\nsource-id = \"s\"\nfrom = { host = \"h\" }\n",
        "name = \"t\"\n\"source-id\" = \"s\"\n",
        "name = \"t\"\nsource-id = \"s\"\nshadow-table-rules = [\n  \"a\",\n]\n",
        "name = \"t\"\nsource-id = \"s\"\n[[route-rules]]\nschema-pattern = \"a\"\ntarget-schema = \"b\"\n[route-rules.extract-table]\ntable-regexp = \"(.*)\"\ntarget-column = \"c\"\n",
    ] {
        assert_eq!(scan(text), None, "{text}");
        assert_eq!(
            decode_registry_input(text).map_err(|e| e.dm_string("config")),
            parsed(text),
            "{text}"
        );
    }
}

/// Whatever the scanner accepts, the parser accepts with the same fields:
/// checked on every one-character deletion and insertion of the short
/// config and on line-level edits of DM's full ones.
#[test]
fn scanner_never_accepts_what_the_parser_reads_otherwise() {
    let agree = |text: &str| {
        if let Some(scanned) = scan(text) {
            assert_eq!(parse(text).as_ref().ok(), Some(&scanned), "{text:?}");
        }
    };
    let short: Vec<char> = SHORT.chars().collect();
    for i in 0..=short.len() {
        if i < short.len() {
            let mut deleted = short.clone();
            deleted.remove(i);
            agree(&deleted.iter().collect::<String>());
        }
        for c in [
            '"', '\'', '[', ']', '=', '.', '#', '\\', ',', ' ', '\n', '0', '_', 'x',
        ] {
            let mut inserted = short.clone();
            inserted.insert(i, c);
            agree(&inserted.iter().collect::<String>());
        }
    }
    for text in [SPEC, SHARDING] {
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let mut dropped = lines.clone();
            dropped.remove(i);
            agree(&dropped.join("\n"));
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            agree(&doubled.join("\n"));
            let mut hoisted = lines.clone();
            let line = hoisted.remove(i);
            hoisted.insert(0, line);
            agree(&hoisted.join("\n"));
            let mut sunk = lines.clone();
            let line = sunk.remove(i);
            sunk.push(line);
            agree(&sunk.join("\n"));
        }
    }
    for text in [
        "a = 1\n[a]\n",
        "[a]\n[a]\n",
        "[a.b]\n[[a]]\n",
        "[[a]]\n[a]\n",
        "[a]\nb = 1\n[a.b]\n",
        "[a.b]\n[a]\nb = 1\n",
        "[[a]]\nb = 1\n[a.b]\n",
        "route-rules = []\n[[route-rules]]\n",
        "x = 00\n",
        "x = 1__0\n",
        "x = 9223372036854775808\n",
        "x = \"\\e\"\n",
        "x = \"\\uD800\"\n",
        "x = [\"a\" \"b\"]\n",
        "x = [,]\n",
        "name = \"t\" source-id = \"s\"\n",
    ] {
        agree(text);
    }
}

/// What the one pass over a line decides on its own: each text is either
/// scanned (and then reads as the parser reads it) or left to the parser.
#[test]
fn line_edges_are_scanned_as_the_parser_reads_them_or_left_to_it() {
    let base = "name = \"t\"\nsource-id = \"s\"\n";
    let scanned = [
        // Whitespace around keys, `=` and header paths; a tab before `=`.
        "name\t= \"t\"\n\tsource-id =\t\"s\"\t\n",
        "name = \"t\"\nsource-id = \"s\"\n[ from ]\nport = 1\n[[ route-rules ]]\nschema-pattern = \"a\"\ntarget-schema = \"b\"\n",
        // `#` and `=` inside strings; a comment after a value.
        "name = \"a#b=c\"\nsource-id = 's=#' # a comment\n",
        // CR LF line ends, and no line end at the end of the text.
        "name = \"t\"\r\nsource-id = \"s\"",
        "name = \"t\"\r\nsource-id = \"s\"\r\n\r\n# comment\r\n[to]\r\nport = 1\r\n",
        // An escape, a tab in a string and in a comment.
        "name = \"t\\u00e9\\t\"\nsource-id = \"s\tx\" #\tnote\n",
        "name = \"t\"\nsource-id = \"s\"\nx = [ \"a\" , 'b' ,]\ny = -1_000\nz = false#\n",
    ];
    let left = [
        // Control characters mid-line: in a string, a comment, after a value.
        "name = \"t\u{1}\"\nsource-id = \"s\"\n",
        "name = 't\u{7f}'\nsource-id = \"s\"\n",
        "name = \"t\\u00e9\u{0}\"\nsource-id = \"s\"\n",
        "name = \"t\" # \u{1b}\nsource-id = \"s\"\n",
        "name = \"t\"\u{c}\nsource-id = \"s\"\n",
        // A CR that does not end a line, also at the end of the text.
        "name = \"t\"\rsource-id = \"s\"\n",
        "name = \"t\r\"\nsource-id = \"s\"\n",
        "name = \"t\"\nsource-id = \"s\"\r",
        "name = \"t\"\nsource-id = \"s\" # x\r",
        // A string not closed on its line.
        "name = \"t\nsource-id = \"s\"\n",
        "name = 't\nsource-id = \"s\"\n",
        "name = \"t\\\n\"\nsource-id = \"s\"\n",
        // `=` inside a quoted key, a dotted key, a key without a value.
        "name = \"t\"\n\"source-id=\" = \"s\"\nsource-id = \"s\"\n",
        "name = \"t\"\nsource-id = \"s\"\n'a=b' = 1\n",
        "name = \"t\"\nsource-id = \"s\"\nfrom.port = 1\n",
        "name = \"t\"\nsource-id = \"s\"\nport =\n",
        "name = \"t\"\nsource-id = \"s\"\nport\n",
        // Whitespace inside a header path, a split `]]`.
        "name = \"t\"\nsource-id = \"s\"\n[from . x]\n",
        "name = \"t\"\nsource-id = \"s\"\n[[route-rules] ]\n",
        "name = \"t\"\nsource-id = \"s\"\n[ [route-rules]]\n",
    ];
    for text in scanned {
        let fields = scan(text).unwrap_or_else(|| panic!("scanner refused: {text:?}"));
        assert_eq!(parse(text).ok(), Some(fields), "{text:?}");
    }
    for text in left {
        assert_eq!(scan(text), None, "{text:?}");
        assert_eq!(
            decode_registry_input(text).map_err(|e| e.dm_string("config")),
            parsed(text),
            "{text:?}"
        );
    }
    assert!(scan(base).is_some());
}
