//! A TOML writer that reproduces the bytes of Go's BurntSushi/toml v1.6.0
//! encoder, which DM uses for every config it stores.
//!
//! PURE. Callers build a [`Table`] in the Go struct's declaration order
//! (map keys already sorted, nil values left out); the writer applies the
//! encoder's layout rules:
//! - in every table, plain values first, then sub-tables and arrays of
//!   tables, each group in declaration order;
//! - a blank line before every top-level `[x]` and before every `[[x]]`;
//! - two spaces of indentation per nesting level below the top;
//! - an empty array of tables is a plain `key = []`.

use std::fmt::Write;

/// One TOML value in the encoder's model.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    /// An inline array (`["a", "b"]`, `[1, 2]`, `[]`).
    Array(Vec<Value>),
    Table(Table),
    /// An array of tables (`[[x]]`); written as `x = []` when empty.
    Tables(Vec<Table>),
}

/// Entries of a table in declaration order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table(pub Vec<(String, Value)>);

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Table {
        self.0.push((key.into(), Value::Str(value.into())));
        self
    }

    pub fn int(&mut self, key: &str, value: i64) -> &mut Table {
        self.0.push((key.into(), Value::Int(value)));
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Table {
        self.0.push((key.into(), Value::Bool(value)));
        self
    }

    /// A string list; `None` (Go's nil slice) writes nothing.
    pub fn strs(&mut self, key: &str, value: Option<&[String]>) -> &mut Table {
        if let Some(items) = value {
            let items = items.iter().map(|s| Value::Str(s.clone())).collect();
            self.0.push((key.into(), Value::Array(items)));
        }
        self
    }

    /// A byte slice, which Go writes as an array of integers.
    pub fn bytes(&mut self, key: &str, value: Option<&[u8]>) -> &mut Table {
        if let Some(items) = value {
            let items = items.iter().map(|b| Value::Int(i64::from(*b))).collect();
            self.0.push((key.into(), Value::Array(items)));
        }
        self
    }

    pub fn table(&mut self, key: &str, value: Table) -> &mut Table {
        self.0.push((key.into(), Value::Table(value)));
        self
    }

    /// A list of structs; `None` (nil) writes nothing.
    pub fn tables(&mut self, key: &str, value: Option<Vec<Table>>) -> &mut Table {
        if let Some(items) = value {
            self.0.push((key.into(), Value::Tables(items)));
        }
        self
    }

    /// Encodes this table as a whole document.
    pub fn encode(&self) -> String {
        let mut writer = Writer::default();
        writer.table_body(&mut Vec::new(), self);
        writer.out
    }
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    /// The encoder's `newline()`: a line break, but never as the first byte.
    fn blank_line(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn table_body(&mut self, path: &mut Vec<String>, table: &Table) {
        let is_sub = |v: &Value| match v {
            Value::Table(_) => true,
            Value::Tables(items) => !items.is_empty(),
            _ => false,
        };
        for (key, value) in table.0.iter().filter(|(_, v)| !is_sub(v)) {
            let _ = writeln!(
                self.out,
                "{}{} = {}",
                indent(path.len()),
                quote_key(key),
                inline(value)
            );
        }
        for (key, value) in table.0.iter().filter(|(_, v)| is_sub(v)) {
            path.push(key.clone());
            match value {
                Value::Table(sub) => {
                    if path.len() == 1 {
                        self.blank_line();
                    }
                    let _ = writeln!(self.out, "{}[{}]", indent(path.len() - 1), dotted(path));
                    self.table_body(path, sub);
                }
                Value::Tables(items) => {
                    for item in items {
                        self.blank_line();
                        let _ =
                            writeln!(self.out, "{}[[{}]]", indent(path.len() - 1), dotted(path));
                        self.table_body(path, item);
                    }
                }
                _ => {}
            }
            path.pop();
        }
    }
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

fn dotted(path: &[String]) -> String {
    path.iter()
        .map(|k| quote_key(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_string()
    } else {
        quote_str(key)
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::Str(s) => quote_str(s),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        // Only reached for an empty array of tables (see `table_body`).
        Value::Tables(_) | Value::Table(_) => "[]".to_string(),
    }
}

/// BurntSushi's basic-string escaping (its `dblQuotedReplacer`: control
/// characters as lowercase `\u00xx`). Every TOML writer of the workspace
/// quotes with it.
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod quote_tests {
    use super::quote_str;

    #[test]
    fn strings_are_quoted_byte_for_byte_as_burntsushi_writes_them() {
        assert_eq!(
            quote_str("a\"b\\c\u{8}\t\n\u{c}\r\u{b}\u{1f}\u{7f}é"),
            r#""a\"b\\c\b\t\n\f\r\u000b\u001f\u007fé""#
        );
    }
}
