//! How DM's yaml.v2 decodes a task file, rebuilt on serde_norway: unit
//! configs (`mydumper`, `loader`, `syncer`, `validator`) overlaid on DM's
//! defaults key by key, and decode errors rendered in yaml.v2's words.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::task_config::model::{LoaderConfig, MydumperConfig, SyncerConfig, ValidatorConfig};

/// A unit config type with DM's YAML defaults and DM's Go type name (for
/// yaml.v2's "field x not found in type …" text).
pub(crate) trait UnitConfig: Serialize + DeserializeOwned {
    const GO_TYPE: &'static str;
    fn yaml_defaults() -> Self;
}

impl UnitConfig for MydumperConfig {
    const GO_TYPE: &'static str = "config.rawMydumperConfig";
    fn yaml_defaults() -> Self {
        MydumperConfig::dm_default()
    }
}

impl UnitConfig for LoaderConfig {
    const GO_TYPE: &'static str = "config.rawLoaderConfig";
    fn yaml_defaults() -> Self {
        LoaderConfig::dm_default()
    }
}

impl UnitConfig for SyncerConfig {
    const GO_TYPE: &'static str = "config.rawSyncerConfig";
    fn yaml_defaults() -> Self {
        SyncerConfig::dm_default()
    }
}

impl UnitConfig for ValidatorConfig {
    const GO_TYPE: &'static str = "config.ValidatorConfig";
    /// Named validators decode onto Go's zero value (no custom unmarshaler).
    fn yaml_defaults() -> Self {
        ValidatorConfig::default()
    }
}

/// Decodes one unit config the way DM's `UnmarshalYAML` does: the user's
/// keys over DM's defaults, unknown keys refused, scalars coerced into
/// string fields as yaml.v2 does.
fn overlay_on_defaults<T: UnitConfig>(user: serde_norway::Value) -> Result<T, String> {
    let user = match user {
        serde_norway::Value::Null => serde_norway::Mapping::new(),
        serde_norway::Value::Mapping(m) => m,
        other => {
            return Err(format!(
                "cannot unmarshal {} into {}",
                yaml_kind(&other),
                T::GO_TYPE
            ))
        }
    };
    let defaults = serde_norway::to_value(T::yaml_defaults()).map_err(|e| e.to_string())?;
    let serde_norway::Value::Mapping(mut merged) = defaults else {
        return Err(format!("{} defaults are not a mapping", T::GO_TYPE));
    };
    for (key, value) in user {
        let Some(default) = merged.get(&key) else {
            let name = key
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{key:?}"));
            return Err(format!("field {name} not found in type {}", T::GO_TYPE));
        };
        let value = match (default, value) {
            (serde_norway::Value::String(_), serde_norway::Value::Number(n)) => {
                serde_norway::Value::String(n.to_string())
            }
            (serde_norway::Value::String(_), serde_norway::Value::Bool(b)) => {
                serde_norway::Value::String(b.to_string())
            }
            (_, v) => v,
        };
        merged.insert(key, value);
    }
    serde_norway::from_value(serde_norway::Value::Mapping(merged)).map_err(|e| e.to_string())
}

fn yaml_kind(v: &serde_norway::Value) -> &'static str {
    match v {
        serde_norway::Value::Sequence(_) => "!!seq",
        serde_norway::Value::String(_) => "!!str",
        serde_norway::Value::Number(_) => "!!int",
        serde_norway::Value::Bool(_) => "!!bool",
        _ => "!!map",
    }
}

pub(super) fn unit_on_dm_defaults<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: UnitConfig,
{
    let raw = Option::<serde_norway::Value>::deserialize(d)?;
    match raw {
        None | Some(serde_norway::Value::Null) => Ok(None),
        Some(v) => overlay_on_defaults(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

pub(super) fn units_on_dm_defaults<'de, D, T>(d: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: UnitConfig,
{
    let raw = Option::<BTreeMap<String, serde_norway::Value>>::deserialize(d)?;
    raw.unwrap_or_default()
        .into_iter()
        .map(|(name, v)| {
            overlay_on_defaults(v)
                .map(|cfg| (name, cfg))
                .map_err(serde::de::Error::custom)
        })
        .collect()
}

/// Renders a serde_norway error in yaml.v2's words where the shapes match:
/// an unknown key becomes `yaml: unmarshal errors:\n  line N: field K not
/// found in type T`; anything else keeps serde_norway's text.
pub(super) fn yaml_v2_cause(err: &serde_norway::Error) -> String {
    let text = err.to_string();
    let Some((_, rest)) = text.split_once("unknown field `") else {
        return text;
    };
    let Some((field, rest)) = rest.split_once('`') else {
        return text;
    };
    let go_type = go_type_of_expected(rest);
    match err.location() {
        Some(loc) => format!(
            "yaml: unmarshal errors:\n  line {}: field {field} not found in type {go_type}",
            loc.line()
        ),
        None => format!("yaml: unmarshal errors:\n  field {field} not found in type {go_type}"),
    }
}

/// The Go type whose field list serde reported (`expected one of ...`).
fn go_type_of_expected(expected: &str) -> &'static str {
    let has = |field: &str| expected.contains(&format!("`{field}`"));
    if has("task-mode") {
        "config.TaskConfig"
    } else if has("source-id") {
        "config.MySQLInstance"
    } else if has("host") {
        "dbconfig.DBConfig"
    } else if has("ssl-ca") {
        "security.Security"
    } else if has("target-schema") {
        "router.TableRule"
    } else if has("action") {
        "bf.BinlogEventRule"
    } else if has("do-dbs") {
        "filter.Rules"
    } else if has("tbl-name") {
        "filter.Table"
    } else if has("insert-value-expr") {
        "config.ExpressionFilter"
    } else if has("binlog-name") {
        "config.Meta"
    } else if has("target-column") {
        "router.TableExtractor"
    } else {
        "struct { AsyncCheckpointFlush bool \"yaml:\\\"async-checkpoint-flush\\\" toml:\\\"async-checkpoint-flush\\\" json:\\\"async-checkpoint-flush\\\"\" }"
    }
}
