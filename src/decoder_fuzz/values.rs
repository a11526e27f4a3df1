//! Strategies for valid values of every record the decoders read: names
//! that need escaping, both modes' Infos and Operations, TiDB table infos,
//! SourceTables and subtask TOML.

use super::*;

/// Characters of generated names: plain ones, and those that need escaping
/// in JSON, TOML, hex keys or lock IDs.
pub(super) const NAME_CHARS: &[char] = &[
    'a', 'b', 'Z', '0', '9', '_', '-', '.', '`', '/', ' ', '"', '\\', '\'', '<', '&', '=', '#',
    '\n', '\u{0}', '\u{7f}', 'é', '\u{2028}', '𝔸',
];

/// Names as the records carry them: drawn from [`NAME_CHARS`], sometimes
/// any string. (Cheaper than a regex strategy, which keeps the normal test
/// run fast.)
pub(super) fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => vec(prop::sample::select(NAME_CHARS), 0..12).prop_map(String::from_iter),
        1 => any::<String>(),
    ]
}

pub(super) fn ddls() -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::of(vec(
        prop_oneof![
            Just("ALTER TABLE `t` ADD COLUMN `c` INT".to_owned()),
            any::<String>(),
        ],
        0..3,
    ))
}

pub(super) fn pessimism_info() -> impl Strategy<Value = pessimism::Info> {
    (name(), name(), name(), name(), ddls()).prop_map(|(task, source, schema, table, ddls)| {
        pessimism::Info {
            task,
            source,
            schema,
            table,
            ddls,
        }
    })
}

pub(super) fn pessimism_operation() -> impl Strategy<Value = pessimism::Operation> {
    (name(), name(), name(), ddls(), any::<bool>(), any::<bool>()).prop_map(
        |(id, task, source, ddls, exec, done)| pessimism::Operation {
            id,
            task,
            source,
            ddls,
            exec,
            done,
        },
    )
}

/// TiDB `TableInfo` JSON documents: the fixtures, as written by TiDB.
pub(super) fn table_info_fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("tests/fixtures")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "json"))
        .map(|entry| std::fs::read(entry.path()).expect("fixture"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no TableInfo fixtures in {dir}");
    out
}

pub(super) fn table_info_value() -> impl Strategy<Value = Value> {
    let fixtures: Vec<Value> = table_info_fixtures()
        .iter()
        .map(|b| serde_json::from_slice(b).expect("fixture JSON"))
        .collect();
    prop::sample::select(fixtures)
}

pub(super) fn optimism_info() -> impl Strategy<Value = optimism::Info> {
    (
        (name(), name(), name(), name(), name(), name()),
        ddls(),
        prop::option::of(table_info_value()),
        prop::option::of(vec(
            prop_oneof![table_info_value(), Just(Value::Null)],
            0..3,
        )),
        any::<bool>(),
    )
        .prop_map(
            |(
                (task, source, up_schema, up_table, down_schema, down_table),
                ddls,
                before,
                after,
                ignore_conflict,
            )| optimism::Info {
                task,
                source,
                up_schema,
                up_table,
                down_schema,
                down_table,
                ddls,
                table_info_before: before.map(Into::into),
                table_info_after: after.map(|a| a.into_iter().map(Into::into).collect()),
                ignore_conflict,
            },
        )
}

pub(super) fn optimism_operation() -> impl Strategy<Value = optimism::Operation> {
    (
        (name(), name(), name(), name(), name()),
        ddls(),
        prop_oneof![
            Just(ConflictStage::None),
            Just(ConflictStage::Detected),
            Just(ConflictStage::Resolved),
            Just(ConflictStage::Unlocked),
            Just(ConflictStage::SkipWaitRedirect),
            Just(ConflictStage::Error),
            name().prop_map(|s| ConflictStage::from_wire(&s)),
        ],
        name(),
        any::<bool>(),
        prop::option::of(vec(name(), 0..3)),
    )
        .prop_map(
            |((id, task, source, up_schema, up_table), ddls, stage, message, done, cols)| {
                optimism::Operation {
                    id,
                    task,
                    source,
                    up_schema,
                    up_table,
                    ddls,
                    conflict_stage: stage,
                    conflict_message: message,
                    done,
                    cols,
                }
            },
        )
}

pub(super) fn source_tables() -> impl Strategy<Value = SourceTables> {
    (name(), name(), vec((name(), name(), name(), name()), 0..5)).prop_map(
        |(task, source, tables)| {
            let mut st = SourceTables::new(task, source);
            for (down_schema, down_table, up_schema, up_table) in tables {
                st.add_table(&up_schema, &up_table, &down_schema, &down_table);
            }
            st
        },
    )
}

/// A name DM's subtask `Adjust` accepts everywhere (task, source, route
/// patterns and targets must not be empty; the mutations supply the rest).
pub(super) fn plain_name() -> impl Strategy<Value = String> {
    vec(prop::sample::select(&['a', 'Z', '0', '_', '-'][..]), 1..10).prop_map(String::from_iter)
}

pub(super) fn subtask_toml() -> impl Strategy<Value = Vec<u8>> {
    (
        plain_name(),
        plain_name(),
        any::<bool>(),
        prop_oneof![
            Just(String::new()),
            Just("pessimistic".to_owned()),
            Just("optimistic".to_owned()),
        ],
        vec(
            (plain_name(), plain_name(), plain_name(), plain_name()),
            0..3,
        ),
    )
        .prop_map(|(name, source_id, is_sharding, shard_mode, routes)| {
            SubTaskConfig {
                name,
                source_id,
                is_sharding,
                shard_mode,
                route_rules: routes
                    .into_iter()
                    .map(|(s, t, ts, tt)| RouteRule {
                        schema_pattern: s,
                        table_pattern: t,
                        target_schema: ts,
                        target_table: tt,
                    })
                    .collect(),
            }
            .to_toml()
            .into_bytes()
        })
}
