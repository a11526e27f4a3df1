//! The coordinators' decode of a stored subtask config: only the fields the
//! task registry keeps (task, source, shard mode, routes), with DM's checks
//! of those fields and DM's error codes and texts.
//!
//! PURE: no async, no I/O.
//!
//! A new leader reads every subtask config before its first rebuild, so
//! this decode is on the cold-start path: 30,000 configs through a full
//! TOML parser and DM's whole `Adjust` took longer than reading them from
//! etcd. Two steps:
//!
//! 1. A line scanner reads the simple TOML subset that DM's encoder (and
//!    ours) writes: one `key = value` per line with bare keys, one-line
//!    basic or literal strings, booleans, decimal integers, one-line arrays
//!    of strings, `[table]` and `[[array]]` headers with bare dotted paths,
//!    comments. It validates every line it reads (syntax, duplicate keys,
//!    table redefinitions), so a value it accepts is one the TOML parser
//!    accepts with the same field values.
//! 2. Anything else (multi-line strings or arrays, inline tables, floats,
//!    dates, quoted keys, a field of the wrong type, route extractors, a
//!    line it does not understand) goes to the TOML parser, whose error is
//!    DM's `20002` text.
//!
//! Invariant: both steps yield the same [`RegistryInput`] or the same
//! error for every value step 1 accepts (`tests.rs` checks this on DM's
//! configs and on mutations of them). The checks are those of DM's
//! `Adjust` that concern the kept fields (task name, source ID, shard mode,
//! route rules); fields the registry does not keep are the worker's to
//! validate when it starts the subtask.

use std::borrow::Cow;

use serde::Deserialize;

use super::error::ConfigError;
use super::model::TableRule;
use super::subtask::{check_identity, check_route_rules, RegistryInput};
use crate::task::{RouteRule, ShardMode, SubTask};

/// Decodes the registry's part of a subtask config TOML (see the module
/// docs). The error is DM's, as its `SubTaskConfig.Decode` would report
/// for these fields.
pub fn decode_registry_input(text: &str) -> Result<RegistryInput, ConfigError> {
    let fields = match scan(text) {
        Some(fields) => fields,
        None => parse(text)?,
    };
    fields.into_registry_input()
}

/// The same fields through the TOML parser (step 2; also what tests compare
/// the scanner against).
fn parse(text: &str) -> Result<Fields, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::TomlDecode {
        context: "decode subtask config from data",
        cause: e.to_string(),
    })
}

/// The kept fields of DM's `SubTaskConfig`, with its TOML names and Go's
/// zero values as defaults.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
struct Fields {
    #[serde(rename = "is-sharding")]
    is_sharding: bool,
    #[serde(rename = "shard-mode")]
    shard_mode: String,
    #[serde(rename = "strict-optimistic-shard-mode")]
    strict_optimistic_shard_mode: bool,
    #[serde(rename = "case-sensitive")]
    case_sensitive: bool,
    name: String,
    #[serde(rename = "source-id")]
    source_id: String,
    #[serde(rename = "route-rules")]
    route_rules: Option<Vec<TableRule>>,
}

impl Fields {
    /// DM's `Adjust` steps for these fields, in DM's order.
    fn into_registry_input(mut self) -> Result<RegistryInput, ConfigError> {
        check_identity(
            &self.name,
            &self.source_id,
            &mut self.shard_mode,
            self.is_sharding,
            self.strict_optimistic_shard_mode,
        )?;
        let mut rules = self.route_rules.unwrap_or_default();
        if !self.case_sensitive {
            for r in &mut rules {
                r.schema_pattern = r.schema_pattern.to_lowercase();
                r.table_pattern = r.table_pattern.to_lowercase();
            }
        }
        check_route_rules(&rules)?;
        // `check_shard_mode` accepted the value and filled in the fallback.
        let mode =
            ShardMode::from_config(&self.shard_mode, self.is_sharding).unwrap_or(ShardMode::None);
        Ok(SubTask {
            task: self.name,
            source: self.source_id,
            mode,
            routes: rules
                .into_iter()
                .map(|r| RouteRule {
                    schema_pattern: r.schema_pattern,
                    table_pattern: r.table_pattern,
                    target_schema: r.target_schema,
                    target_table: r.target_table,
                })
                .collect(),
        })
    }
}

/// Step 1: `None` when the text leaves the subset (or is not valid TOML).
fn scan(text: &str) -> Option<Fields> {
    let mut scanner = Scanner::default();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // Control characters (a stray CR included) are rare and subtle in
        // TOML: the parser decides.
        if line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return None;
        }
        scanner.line(line.trim_start_matches([' ', '\t']))?;
    }
    scanner.check_structure()?;
    Some(scanner.fields)
}

/// Which table the following keys belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current<'a> {
    Root,
    /// A `[table]` (its dotted path as written).
    Table(&'a str),
    /// An element of `[[route-rules]]` (its keys are tracked per element).
    RouteRule,
    /// An element of another `[[array]]`.
    OtherArray,
}

/// FNV-1a of a key and the path of its table (the sort key of
/// [`Scanner::keys`]; equal hashes fall back to comparing the strings).
fn key_hash(path: &str, key: &str) -> u64 {
    let bytes = path.bytes().chain([0xff]).chain(key.bytes());
    bytes.fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Debug, Default)]
struct Scanner<'a> {
    fields: Fields,
    current: Option<Current<'a>>,
    /// Every header: its path and whether it is an `[[array]]`.
    headers: Vec<(&'a str, bool)>,
    /// `(hash, table path, key)` of every key of the root (path "") and
    /// of `[table]`s. Checked once at the end (sorting beats a hash set for
    /// the few dozen keys of a config); the hash comes first so the sort
    /// compares integers, not keys that share long prefixes.
    keys: Vec<(u64, &'a str, &'a str)>,
    /// Keys of the current array element.
    element_keys: Vec<&'a str>,
}

impl<'a> Scanner<'a> {
    fn line(&mut self, line: &'a str) -> Option<()> {
        if line.is_empty() {
            return Some(());
        }
        if line.starts_with('#') {
            return Some(());
        }
        if let Some(rest) = line.strip_prefix("[[") {
            let (path, rest) = rest.split_once("]]")?;
            end_of_line(rest)?;
            return self.array_header(header_path(path)?);
        }
        if let Some(rest) = line.strip_prefix('[') {
            let (path, rest) = rest.split_once(']')?;
            end_of_line(rest)?;
            return self.table_header(header_path(path)?);
        }
        let (key, rest) = line.split_once('=')?;
        let key = key.trim_end_matches([' ', '\t']);
        if !is_bare_key(key) {
            return None;
        }
        let (value, rest) = value(rest.trim_start_matches([' ', '\t']))?;
        end_of_line(rest)?;
        self.key_value(key, value)
    }

    /// The document's tables are consistent: no key or table defined
    /// twice, no `[table]` that is also an `[[array]]`, no header whose path
    /// runs through a key (or names one), and no header inside an array
    /// element (left to the parser). None of these depends on the order of
    /// the lines, so they are checked once, at the end.
    fn check_structure(&mut self) -> Option<()> {
        self.keys.sort_unstable();
        if self.keys.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        self.headers.sort_unstable();
        // Sorted, a path's entries are adjacent, tables (false) first: a
        // repeated path is only allowed as array elements.
        if self.headers.windows(2).any(|w| w[0].0 == w[1].0 && !w[0].1) {
            return None;
        }
        let is_array = |path: &str| self.headers.binary_search(&(path, true)).is_ok();
        for &(path, _) in &self.headers {
            let mut parent = "";
            for (end, _) in path.match_indices('.').chain([(path.len(), "")]) {
                let prefix = &path[..end];
                let segment = &prefix[parent.len() + usize::from(!parent.is_empty())..];
                if self
                    .keys
                    .binary_search(&(key_hash(parent, segment), parent, segment))
                    .is_ok()
                {
                    return None;
                }
                if end < path.len() && is_array(prefix) {
                    return None;
                }
                parent = prefix;
            }
        }
        Some(())
    }

    fn table_header(&mut self, path: &'a str) -> Option<()> {
        self.headers.push((path, false));
        self.current = Some(Current::Table(path));
        Some(())
    }

    fn array_header(&mut self, path: &'a str) -> Option<()> {
        self.headers.push((path, true));
        self.element_keys.clear();
        if path == "route-rules" {
            self.fields
                .route_rules
                .get_or_insert_with(Vec::new)
                .push(TableRule::default());
            self.current = Some(Current::RouteRule);
        } else {
            self.current = Some(Current::OtherArray);
        }
        Some(())
    }

    fn key_value(&mut self, key: &'a str, value: Value<'a>) -> Option<()> {
        let current = self.current.unwrap_or(Current::Root);
        match current {
            Current::Root | Current::Table(_) => {
                let table = match current {
                    Current::Table(path) => path,
                    _ => "",
                };
                self.keys.push((key_hash(table, key), table, key));
                if current == Current::Root {
                    self.root_field(key, value)?;
                }
            }
            Current::RouteRule | Current::OtherArray => {
                if self.element_keys.contains(&key) {
                    return None;
                }
                self.element_keys.push(key);
                if current == Current::RouteRule {
                    let rule = self.fields.route_rules.as_mut()?.last_mut()?;
                    let slot = match key {
                        "schema-pattern" => &mut rule.schema_pattern,
                        "table-pattern" => &mut rule.table_pattern,
                        "target-schema" => &mut rule.target_schema,
                        "target-table" => &mut rule.target_table,
                        // Extractors and unknown keys: the parser decides.
                        _ => return None,
                    };
                    *slot = value.string()?;
                }
            }
        }
        Some(())
    }

    /// A root key: a kept field takes its value (of the right type, or the
    /// parser reports the mismatch), any other key is skipped.
    fn root_field(&mut self, key: &str, value: Value<'a>) -> Option<()> {
        let f = &mut self.fields;
        match key {
            "name" => f.name = value.string()?,
            "source-id" => f.source_id = value.string()?,
            "shard-mode" => f.shard_mode = value.string()?,
            "is-sharding" => f.is_sharding = value.bool()?,
            "strict-optimistic-shard-mode" => f.strict_optimistic_shard_mode = value.bool()?,
            "case-sensitive" => f.case_sensitive = value.bool()?,
            "route-rules" => match value {
                // `route-rules = []`: no rules (as the parser reads it).
                Value::Array { len: 0 } => f.route_rules = Some(Vec::new()),
                _ => return None,
            },
            _ => {}
        }
        Some(())
    }
}

/// A value the scanner understood.
#[derive(Debug)]
enum Value<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Integer,
    /// A one-line array of strings.
    Array {
        len: usize,
    },
}

impl Value<'_> {
    fn string(self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.into_owned()),
            _ => None,
        }
    }

    fn bool(self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// Parses one value at the start of `s`; returns it and the rest.
fn value(s: &str) -> Option<(Value<'_>, &str)> {
    if s.starts_with('"') || s.starts_with('\'') {
        let (text, rest) = string(s)?;
        return Some((Value::Str(text), rest));
    }
    if let Some(rest) = s.strip_prefix("true") {
        return Some((Value::Bool(true), token_end(rest)?));
    }
    if let Some(rest) = s.strip_prefix("false") {
        return Some((Value::Bool(false), token_end(rest)?));
    }
    if let Some(mut rest) = s.strip_prefix('[') {
        let mut len = 0;
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            if let Some(after) = rest.strip_prefix(']') {
                return Some((Value::Array { len }, after));
            }
            let (_, after) = string(rest)?;
            len += 1;
            rest = after.trim_start_matches([' ', '\t']);
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with(']') {
                return None;
            }
        }
    }
    integer(s).map(|rest| (Value::Integer, rest))
}

/// A decimal integer that fits an i64 (the parser decides anything else).
fn integer(s: &str) -> Option<&str> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let len = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(unsigned.len());
    let (number, rest) = unsigned.split_at(len);
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    let well_formed = !number.is_empty()
        && !number.starts_with('_')
        && !number.ends_with('_')
        && !number.contains("__")
        && (number == "0" || !number.starts_with('0'))
        && digits <= 18;
    well_formed.then_some(())?;
    token_end(rest)
}

/// After a bare token: whitespace, a comment or the end must follow.
fn token_end(rest: &str) -> Option<&str> {
    (rest.is_empty() || rest.starts_with([' ', '\t', ',', ']', '#'])).then_some(rest)
}

/// A one-line basic (`"…"`) or literal (`'…'`) string at the start of `s`.
fn string(s: &str) -> Option<(Cow<'_, str>, &str)> {
    if let Some(body) = s.strip_prefix('\'') {
        if body.starts_with("''") {
            return None;
        }
        let end = body.find('\'')?;
        return Some((Cow::Borrowed(&body[..end]), &body[end + 1..]));
    }
    let body = s.strip_prefix('"')?;
    if body.starts_with("\"\"") {
        return None;
    }
    let end = body.find(['"', '\\'])?;
    if body.as_bytes()[end] == b'"' {
        return Some((Cow::Borrowed(&body[..end]), &body[end + 1..]));
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((Cow::Owned(out), &body[i + 1..])),
            '\\' => {
                let (_, escaped) = chars.next()?;
                let hex_len = match escaped {
                    'b' => {
                        out.push('\u{8}');
                        continue;
                    }
                    't' => {
                        out.push('\t');
                        continue;
                    }
                    'n' => {
                        out.push('\n');
                        continue;
                    }
                    'f' => {
                        out.push('\u{c}');
                        continue;
                    }
                    'r' => {
                        out.push('\r');
                        continue;
                    }
                    '"' | '\\' => {
                        out.push(escaped);
                        continue;
                    }
                    'u' => 4,
                    'U' => 8,
                    _ => return None,
                };
                let mut code = 0u32;
                for _ in 0..hex_len {
                    code = code * 16 + chars.next()?.1.to_digit(16)?;
                }
                out.push(char::from_u32(code)?);
            }
            c => out.push(c),
        }
    }
    None
}

/// Whitespace and an optional comment up to the end of the line.
fn end_of_line(rest: &str) -> Option<()> {
    let rest = rest.trim_start_matches([' ', '\t']);
    (rest.is_empty() || rest.starts_with('#')).then_some(())
}

/// A header's path of bare keys joined by dots, without inner whitespace.
fn header_path(path: &str) -> Option<&str> {
    let path = path.trim_matches([' ', '\t']);
    path.split('.').all(is_bare_key).then_some(path)
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests;
