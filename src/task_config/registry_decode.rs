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
//!    comments. It reads each line once, left to right, and validates
//!    every byte it reads (syntax, control characters, line ends), then
//!    the document's structure (duplicate keys, table redefinitions, on
//!    hashes of the keys), so a value it accepts is one the TOML parser
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
    let mut cursor = Cursor { text, pos: 0 };
    while !cursor.at_end() {
        scanner.line(&mut cursor)?;
    }
    scanner.check_structure()?;
    Some(scanner.fields)
}

/// Control characters other than tab: TOML allows none of them unescaped
/// (a CR only before an LF, which ends the line).
const fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// A byte of a bare key (ASCII letters, digits, `_`, `-`).
const BARE: u8 = 1;
/// A byte a string takes as it is: not a quote, a backslash or a control
/// character.
const PLAIN: u8 = 2;
/// [`BARE`] and [`PLAIN`] of every byte: the loops over keys and strings,
/// where the scanner spends its time, test one entry per byte.
const CLASS: [u8; 256] = {
    let mut class = [0; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            class[i] |= BARE;
        }
        if !is_control(b) && b != b'"' && b != b'\'' && b != b'\\' {
            class[i] |= PLAIN;
        }
        i += 1;
    }
    class
};

/// How many bytes at the start of `bytes` are of the class `class`.
fn run_of(bytes: &[u8], class: u8) -> usize {
    (bytes.iter())
        .take_while(|&&b| CLASS[usize::from(b)] & class != 0)
        .count()
}

/// A position in the text. The scanner reads each line once, left to
/// right: every byte the cursor steps over is checked as it goes (a control
/// character, the line's end), so no line is searched twice.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Steps over `b` if it comes next.
    fn eat(&mut self, b: u8) -> bool {
        let next = self.peek() == Some(b);
        self.pos += usize::from(next);
        next
    }

    /// Steps over `s` if it comes next.
    fn eat_str(&mut self, s: &str) -> bool {
        let next = self.text.as_bytes()[self.pos..].starts_with(s.as_bytes());
        if next {
            self.pos += s.len();
        }
        next
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A bare key: ASCII letters, digits, `_` and `-`, at least one.
    fn bare_key(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.pos += run_of(&self.text.as_bytes()[start..], BARE);
        (self.pos > start).then(|| &self.text[start..self.pos])
    }

    /// A header's path: bare keys joined by dots, without inner whitespace.
    fn header_path(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.bare_key()?;
        while self.eat(b'.') {
            self.bare_key()?;
        }
        Some(&self.text[start..self.pos])
    }

    /// Whitespace, an optional comment and the line's end (LF, CR LF or the
    /// end of the text), stepped over.
    fn end_of_line(&mut self) -> Option<()> {
        self.skip_blanks();
        if self.eat(b'#') {
            while let Some(b) = self.peek().filter(|b| !matches!(b, b'\n' | b'\r')) {
                if is_control(b) {
                    return None;
                }
                self.pos += 1;
            }
        }
        match self.peek() {
            None => {}
            Some(b'\n') => self.pos += 1,
            // A CR not before an LF (even at the end of the text) is no
            // line end in TOML: the parser decides.
            Some(b'\r') if self.text.as_bytes().get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
            _ => return None,
        }
        Some(())
    }

    /// After a bare token: whitespace, a separator, a comment or the line's
    /// end must follow.
    fn token_end(&self) -> Option<()> {
        matches!(
            self.peek(),
            None | Some(b' ' | b'\t' | b',' | b']' | b'#' | b'\n' | b'\r')
        )
        .then_some(())
    }

    /// One value; the cursor stops right after it.
    fn value(&mut self) -> Option<Value<'a>> {
        if matches!(self.peek(), Some(b'"' | b'\'')) {
            return self.string().map(Value::Str);
        }
        if self.eat(b'[') {
            return self.array().map(|len| Value::Array { len });
        }
        for (word, b) in [("true", true), ("false", false)] {
            if self.eat_str(word) {
                self.token_end()?;
                return Some(Value::Bool(b));
            }
        }
        self.integer()?;
        Some(Value::Integer)
    }

    /// The rest of a one-line array of strings (after its `[`): its length.
    fn array(&mut self) -> Option<usize> {
        let mut len = 0;
        loop {
            self.skip_blanks();
            if self.eat(b']') {
                return Some(len);
            }
            self.string()?;
            len += 1;
            self.skip_blanks();
            if !self.eat(b',') && self.peek() != Some(b']') {
                return None;
            }
        }
    }

    /// A decimal integer that fits an i64 (the parser decides anything else).
    fn integer(&mut self) -> Option<()> {
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        let start = self.pos;
        let mut digits = 0;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' => digits += 1,
                b'_' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let number = &self.text.as_bytes()[start..self.pos];
        let well_formed = !number.is_empty()
            && !number.starts_with(b"_")
            && !number.ends_with(b"_")
            && !number.windows(2).any(|w| w == b"__")
            && (number == b"0" || !number.starts_with(b"0"))
            && digits <= 18;
        well_formed.then_some(())?;
        self.token_end()
    }

    /// A one-line basic (`"…"`) or literal (`'…'`) string.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let quote = self.peek().filter(|b| matches!(b, b'"' | b'\''))?;
        let start = self.pos + 1;
        // `"""` or `'''` opens a multi-line string: the parser decides.
        if bytes[start..].starts_with(&[quote, quote]) {
            return None;
        }
        let mut end = start;
        loop {
            end += run_of(&bytes[end..], PLAIN);
            match *bytes.get(end)? {
                b if b == quote => break,
                b'\\' if quote == b'"' => {
                    let (text, len) = unescape(&self.text[start..])?;
                    self.pos = start + len;
                    return Some(Cow::Owned(text));
                }
                // The other quote, or a backslash in a literal string.
                b'"' | b'\'' | b'\\' => end += 1,
                // A control character, the line's end included: the
                // string is not closed on this line.
                _ => return None,
            }
        }
        self.pos = end + 1;
        Some(Cow::Borrowed(&self.text[start..end]))
    }
}

/// A basic string with escapes, from after its opening quote: its value
/// and the length up to and including its closing quote.
fn unescape(body: &str) -> Option<(String, usize)> {
    let mut out = String::with_capacity(body.len().min(64));
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, escaped) = chars.next()?;
                let hex_len = match escaped {
                    'u' => 4,
                    'U' => 8,
                    _ => {
                        out.push(match escaped {
                            'b' => '\u{8}',
                            't' => '\t',
                            'n' => '\n',
                            'f' => '\u{c}',
                            'r' => '\r',
                            '"' | '\\' => escaped,
                            _ => return None,
                        });
                        continue;
                    }
                };
                let mut code = 0u32;
                for _ in 0..hex_len {
                    code = code * 16 + chars.next()?.1.to_digit(16)?;
                }
                out.push(char::from_u32(code)?);
            }
            c if c.is_ascii() && is_control(c as u8) => return None,
            c => out.push(c),
        }
    }
    None
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

/// A 64-bit hash of a key and the path of its table: [`Scanner::keys`]
/// holds these instead of the strings. Eight bytes at a time (a byte-wise
/// hash cost more than the rest of the structure check).
fn key_hash(path: &str, key: &str) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    fn mix(hash: u64, s: &str) -> u64 {
        let mut chunks = s.as_bytes().chunks_exact(8);
        let mut hash = hash ^ s.len() as u64;
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            hash = (hash ^ word).wrapping_mul(K).rotate_left(31);
        }
        let tail = (chunks.remainder().iter()).fold(0, |w, &b| w << 8 | u64::from(b));
        (hash ^ tail).wrapping_mul(K).rotate_left(31)
    }
    mix(mix(K, path), key)
}

#[derive(Debug)]
struct Scanner<'a> {
    fields: Fields,
    current: Option<Current<'a>>,
    /// Every header: its path and whether it is an `[[array]]`.
    headers: Vec<(&'a str, bool)>,
    /// [`key_hash`] of every key of the root (path "") and of `[table]`s.
    /// Checked once at the end (sorting beats a hash set for the few dozen
    /// keys of a config). Two keys with one hash count as the same key:
    /// a duplicate, or a collision the parser then decides.
    keys: Vec<u64>,
    /// Keys of the current array element.
    element_keys: Vec<&'a str>,
}

impl Default for Scanner<'_> {
    fn default() -> Self {
        Scanner {
            fields: Fields::default(),
            current: None,
            // A short config's keys and headers without regrowing.
            headers: Vec::with_capacity(8),
            keys: Vec::with_capacity(32),
            element_keys: Vec::new(),
        }
    }
}

impl<'a> Scanner<'a> {
    /// Reads one line, up to and including its end.
    fn line(&mut self, c: &mut Cursor<'a>) -> Option<()> {
        c.skip_blanks();
        match c.peek() {
            // An empty line or a comment.
            None | Some(b'\n' | b'\r' | b'#') => c.end_of_line(),
            Some(b'[') => {
                c.pos += 1;
                let array = c.eat(b'[');
                c.skip_blanks();
                let path = c.header_path()?;
                c.skip_blanks();
                (c.eat(b']') && (!array || c.eat(b']'))).then_some(())?;
                c.end_of_line()?;
                if array {
                    self.array_header(path)
                } else {
                    self.table_header(path)
                }
            }
            Some(_) => {
                // Quoted or dotted keys are not bare: the parser decides.
                let key = c.bare_key()?;
                c.skip_blanks();
                c.eat(b'=').then_some(())?;
                c.skip_blanks();
                let value = c.value()?;
                c.end_of_line()?;
                self.key_value(key, value)
            }
        }
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
                if self.keys.binary_search(&key_hash(parent, segment)).is_ok() {
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
                self.keys.push(key_hash(table, key));
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

#[cfg(test)]
mod tests;
