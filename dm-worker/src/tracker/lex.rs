//! The pre-parser: MySQL DDL text to [`Raw`] statements, before `sqlparser`
//! sees any of it.
//!
//! PURE: no async, no I/O.
//!
//! `sqlparser` 0.63 cannot parse several DDL forms MySQL users send
//! (table options and `CONVERT TO` in ALTER, `RENAME` without `TO`,
//! parenthesised `ADD COLUMN (..)`, partition management, `DROP KEY`,
//! `RENAME INDEX`, `ALTER INDEX .. VISIBLE`, `PARTITION BY` after CREATE
//! TABLE, database statements). This module works on `sqlparser`'s own
//! tokens, so quoting, comments and `/*! .. */` hints behave the same:
//!
//! - a statement is split off at top-level `;`;
//! - an `ALTER TABLE` is split at top-level commas into one [`Spec`] per
//!   operation, the way DM splits a multi-spec ALTER: the forms above become
//!   typed specs or opaque text, everything else is handed to `sqlparser`
//!   one operation at a time;
//! - a `CREATE TABLE` is cut after its definition list: `sqlparser` parses
//!   the head, the table options (and any `PARTITION BY`) are read here and
//!   re-attached verbatim when the statement is printed.
//!
//! Invariant: tokens are produced with unescaping off, so printing them
//! gives back the input text exactly (string literals keep their
//! backslashes, identifiers their doubled backquotes).

use sqlparser::tokenizer::{Token, Tokenizer, Word};

use super::dialect::DmDialect;

/// One statement as the pre-parser understood it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    /// `ALTER TABLE name spec, spec, ...`.
    AlterTable { name: Vec<String>, specs: Vec<Spec> },
    /// `CREATE TABLE ...`: `head` (up to the end of the definition list, or
    /// the whole `LIKE` form) goes to `sqlparser`; `options` are read from
    /// `tail`, which is re-attached verbatim.
    CreateTable {
        head: String,
        options: TableOptions,
        tail: String,
        /// Keys declared `INVISIBLE` (by name): `sqlparser` cannot read the
        /// attribute, so it is cut from `head` and tracked from here.
        invisible_indexes: Vec<String>,
    },
    /// `CREATE {DATABASE | SCHEMA}`.
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        options: TableOptions,
    },
    /// `ALTER {DATABASE | SCHEMA} [name] options`.
    AlterDatabase {
        name: Option<String>,
        options: TableOptions,
    },
    /// `DROP {DATABASE | SCHEMA}`.
    DropDatabase { name: String, if_exists: bool },
    /// A statement about one table that changes nothing the tracker models
    /// (e.g. `CREATE FULLTEXT INDEX`): printed as `prefix` + routed name +
    /// `suffix`.
    OpaqueOnTable {
        prefix: String,
        name: Vec<String>,
        suffix: String,
    },
    /// Anything else, for `sqlparser`.
    Sql(String),
}

/// One operation of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Spec {
    /// One operation `sqlparser` parses (as `ALTER TABLE t <text>`).
    Sql(String),
    /// Table options (`ENGINE=`, `[DEFAULT] CHARSET=`, `COMMENT=`, ...).
    Options(TableOptions),
    /// `CONVERT TO CHARACTER SET cs [COLLATE co]`.
    Convert(TableOptions),
    /// `RENAME [TO | AS] name`.
    RenameTable(Vec<String>),
    /// `RENAME {INDEX | KEY} from TO to`.
    RenameIndex { from: String, to: String },
    /// `ALTER INDEX name {VISIBLE | INVISIBLE}`.
    IndexVisibility { name: String, invisible: bool },
    /// An operation that does not change the tracked schema (partition
    /// management, `FORCE`, `ORDER BY`, ...), passed through as written.
    Opaque(String),
}

/// What the tracker needs from a list of table (or database) options, plus
/// the options as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TableOptions {
    /// `[DEFAULT] CHARACTER SET` / `CHARSET`, lower-cased.
    pub charset: Option<String>,
    /// `[DEFAULT] COLLATE`, lower-cased.
    pub collate: Option<String>,
    /// `COMMENT`, unescaped.
    pub comment: Option<String>,
    /// The options as written (trimmed).
    pub text: String,
}

/// Tokenizes `sql` the way `sqlparser`'s MySQL dialect does, without
/// unescaping, and turns double-quoted strings into single-quoted ones
/// (MySQL reads `"x"` as a string; `sqlparser` does not accept it where a
/// literal is required).
pub(crate) fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let tokens = Tokenizer::new(&DmDialect::default(), sql)
        .with_unescape(false)
        .tokenize()
        .map_err(|e| e.to_string())?;
    Ok(tokens
        .into_iter()
        .map(|token| match token {
            Token::DoubleQuotedString(raw) => Token::SingleQuotedString(double_to_single(&raw)),
            other => other,
        })
        .collect())
}

/// Re-quotes the raw body of a `"..."` literal for `'...'`: `""` becomes
/// `"`, a bare `'` becomes `''`, backslash escapes stay as they are.
fn double_to_single(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '"' if chars.peek() == Some(&'"') => {
                chars.next();
                out.push('"');
            }
            '\'' => out.push_str("''"),
            _ => out.push(c),
        }
    }
    out
}

/// The text of `tokens`, exactly as written.
pub(crate) fn render(tokens: &[Token]) -> String {
    tokens.iter().map(ToString::to_string).collect()
}

fn is_blank(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

/// `tokens` without leading and trailing whitespace and comments.
pub(crate) fn trim(tokens: &[Token]) -> &[Token] {
    let start = tokens
        .iter()
        .position(|t| !is_blank(t))
        .unwrap_or(tokens.len());
    let end = tokens
        .iter()
        .rposition(|t| !is_blank(t))
        .map_or(start, |i| i + 1);
    &tokens[start..end.max(start)]
}

/// Splits at `separator` tokens outside parentheses; parts are trimmed and
/// empty parts dropped.
fn split_top_level<'a>(tokens: &'a [Token], separator: &Token) -> Vec<&'a [Token]> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            t if depth == 0 && t == separator => {
                parts.push(trim(&tokens[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(trim(&tokens[start..]));
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The statements of `tokens` (split at top-level `;`), trimmed.
pub(crate) fn split_statements(tokens: &[Token]) -> Vec<&[Token]> {
    split_top_level(tokens, &Token::SemiColon)
}

/// The upper-cased text of an unquoted word.
fn bare_word(token: &Token) -> Option<String> {
    match token {
        Token::Word(Word {
            value,
            quote_style: None,
            ..
        }) => Some(value.to_ascii_uppercase()),
        _ => None,
    }
}

/// The name an identifier token stands for: backquoted names lose their
/// quotes and doubled backquotes.
fn ident_value(token: &Token) -> Option<String> {
    match token {
        Token::Word(Word {
            value,
            quote_style: Some('`'),
            ..
        }) => Some(value.replace("``", "`")),
        Token::Word(Word {
            value,
            quote_style: None,
            ..
        }) => Some(value.clone()),
        // MySQL identifiers may start with digits (`1col`).
        Token::Number(n, false) => Some(n.clone()),
        _ => None,
    }
}

/// The value of a string literal token, unescaped as MySQL reads it.
fn string_value(token: &Token) -> Option<String> {
    match token {
        Token::SingleQuotedString(raw) => Some(unescape_string(raw)),
        _ => None,
    }
}

/// MySQL's reading of the raw body of a `'...'` literal: `''` is a quote,
/// backslash escapes (`\n`, `\t`, `\0`, `\Z`, `\b`, `\r`, `\\`, `\'`, `\"`)
/// are decoded, `\%` and `\_` keep their backslash, any other `\x` is `x`.
pub(crate) fn unescape_string(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('0') => out.push('\0'),
                Some('Z') => out.push('\u{1a}'),
                Some(k @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(k);
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            _ => out.push(c),
        }
    }
    out
}

/// A cursor over the non-blank tokens of a statement.
struct Cursor<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(tokens: &'a [Token]) -> Self {
        Cursor { tokens, pos: 0 }
    }

    fn skip_blank(&mut self) {
        while self.pos < self.tokens.len() && is_blank(&self.tokens[self.pos]) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<&'a Token> {
        self.skip_blank();
        self.tokens.get(self.pos)
    }

    /// The `n`-th non-blank token from here (0 = next).
    fn peek_nth(&self, n: usize) -> Option<&'a Token> {
        self.tokens
            .iter()
            .skip(self.pos)
            .filter(|t| !is_blank(t))
            .nth(n)
    }

    fn peek_word(&mut self) -> Option<String> {
        self.peek().and_then(bare_word)
    }

    fn peek_nth_word(&self, n: usize) -> Option<String> {
        self.peek_nth(n).and_then(bare_word)
    }

    fn next(&mut self) -> Option<&'a Token> {
        self.skip_blank();
        let token = self.tokens.get(self.pos);
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.peek_word().as_deref() == Some(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes all of `words` or none of them.
    fn eat_words(&mut self, words: &[&str]) -> bool {
        let matches = words
            .iter()
            .enumerate()
            .all(|(i, w)| self.peek_nth_word(i).as_deref() == Some(*w));
        if matches {
            for _ in words {
                self.next();
            }
        }
        matches
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// The tokens after the cursor, trimmed.
    fn rest(&mut self) -> &'a [Token] {
        self.skip_blank();
        trim(&self.tokens[self.pos..])
    }

    fn ident(&mut self) -> Option<String> {
        let value = self.peek().and_then(ident_value)?;
        self.pos += 1;
        Some(value)
    }

    /// `ident [. ident]*`.
    fn name(&mut self) -> Option<Vec<String>> {
        let mut parts = vec![self.ident()?];
        while self.eat(&Token::Period) {
            parts.push(self.ident()?);
        }
        Some(parts)
    }

    /// A value after an option key: a word, a string, a number.
    fn option_value(&mut self) -> Option<String> {
        match self.next()? {
            Token::SingleQuotedString(raw) => Some(unescape_string(raw)),
            token => ident_value(token).or_else(|| Some(token.to_string())),
        }
    }
}

/// Reads the charset, collation and comment out of a list of table or
/// database options; all other options are kept only as text.
pub(crate) fn parse_options(tokens: &[Token]) -> TableOptions {
    let tokens = trim(tokens);
    let mut options = TableOptions {
        text: render(tokens),
        ..TableOptions::default()
    };
    let mut cursor = Cursor::new(tokens);
    let mut depth = 0usize;
    while let Some(token) = cursor.next() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            token => match bare_word(token).as_deref() {
                Some("CHARSET") => {
                    cursor.eat(&Token::Eq);
                    options.charset = cursor.option_value().map(|v| v.to_lowercase());
                }
                Some("CHARACTER") if cursor.eat_word("SET") => {
                    cursor.eat(&Token::Eq);
                    options.charset = cursor.option_value().map(|v| v.to_lowercase());
                }
                Some("COLLATE") => {
                    cursor.eat(&Token::Eq);
                    options.collate = cursor.option_value().map(|v| v.to_lowercase());
                }
                Some("COMMENT") => {
                    cursor.eat(&Token::Eq);
                    options.comment = cursor.peek().and_then(string_value);
                    cursor.next();
                }
                _ => {}
            },
        }
    }
    // `CHARSET = DEFAULT` means "the database default": no explicit value.
    if options.charset.as_deref() == Some("default") {
        options.charset = None;
    }
    if options.collate.as_deref() == Some("default") {
        options.collate = None;
    }
    options
}

/// First words of an ALTER TABLE operation that is a table option.
const TABLE_OPTION_WORDS: &[&str] = &[
    "AUTOEXTEND_SIZE",
    "AUTO_ID_CACHE",
    "AUTO_INCREMENT",
    "AUTO_RANDOM_BASE",
    "AVG_ROW_LENGTH",
    "CHARACTER",
    "CHARSET",
    "CHECKSUM",
    "COLLATE",
    "COMMENT",
    "COMPRESSION",
    "CONNECTION",
    "DATA",
    "DEFAULT",
    "DELAY_KEY_WRITE",
    "ENCRYPTION",
    "ENGINE",
    "ENGINE_ATTRIBUTE",
    "IETF_QUOTES",
    "INSERT_METHOD",
    "KEY_BLOCK_SIZE",
    "MAX_ROWS",
    "MIN_ROWS",
    "PACK_KEYS",
    "PAGE_CHECKSUM",
    "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL",
    "PASSWORD",
    "PLACEMENT",
    "PRE_SPLIT_REGIONS",
    "ROW_FORMAT",
    "SECONDARY_ENGINE",
    "SECONDARY_ENGINE_ATTRIBUTE",
    "SEQUENCE",
    "SHARD_ROW_ID_BITS",
    "STATS_AUTO_RECALC",
    "STATS_PERSISTENT",
    "STATS_SAMPLE_PAGES",
    "TABLESPACE",
    "TABLE_CHECKSUM",
    "TRANSACTIONAL",
    "TTL",
    "TTL_ENABLE",
    "TTL_JOB_INTERVAL",
    "UNION",
];

/// First words of ALTER TABLE operations that leave the tracked schema
/// alone (partitioning, maintenance, row order, validation).
const OPAQUE_WORDS: &[&str] = &[
    "ANALYZE",
    "CHECK",
    "COALESCE",
    "DISABLE",
    "DISCARD",
    "ENABLE",
    "EXCHANGE",
    "FORCE",
    "IMPORT",
    "OPTIMIZE",
    "ORDER",
    "PARTITION",
    "REBUILD",
    "REMOVE",
    "REORGANIZE",
    "REPAIR",
    "SECONDARY_LOAD",
    "SECONDARY_UNLOAD",
    "TRUNCATE",
    "UPGRADE",
    "WITH",
    "WITHOUT",
];

/// Words that start a key or constraint definition inside `ADD (...)`:
/// the vocabulary the master reads DDL with too.
use dm_master::ddl_words::KEY_DEFINITION as KEY_DEFINITION_WORDS;

/// Removes top-level `VISIBLE` / `INVISIBLE` words from a key definition
/// (MySQL 8 prints them, `sqlparser` rejects them); returns the remaining
/// tokens and the visibility given, if any.
fn strip_visibility(tokens: &[Token]) -> (Vec<Token>, Option<bool>) {
    let mut depth = 0usize;
    let mut out = Vec::with_capacity(tokens.len());
    let mut invisible = None;
    for token in tokens {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth == 0 => match bare_word(token).as_deref() {
                Some("VISIBLE") => {
                    invisible = Some(false);
                    continue;
                }
                Some("INVISIBLE") => {
                    invisible = Some(true);
                    continue;
                }
                _ => {}
            },
            _ => {}
        }
        out.push(token.clone());
    }
    (out, invisible)
}

/// The name of a key definition (`[CONSTRAINT [c]] {PRIMARY KEY | UNIQUE
/// [KEY] | KEY | INDEX ...} [name] ...`), or `None` when anonymous.
fn key_definition_name(tokens: &[Token]) -> Option<String> {
    let mut cursor = Cursor::new(tokens);
    let mut constraint_name = None;
    if cursor.eat_word("CONSTRAINT") {
        let next = cursor.peek_word();
        if !next.is_some_and(|w| KEY_DEFINITION_WORDS.contains(&w.as_str())) {
            constraint_name = cursor.ident();
        }
    }
    match cursor.peek_word().as_deref() {
        Some("PRIMARY") => return Some("PRIMARY".to_owned()),
        Some("UNIQUE" | "FULLTEXT" | "SPATIAL") => {
            cursor.next();
            if !cursor.eat_word("KEY") {
                cursor.eat_word("INDEX");
            }
        }
        Some("KEY" | "INDEX") => {
            cursor.next();
        }
        _ => return None,
    }
    let named = match cursor.peek() {
        Some(token @ Token::Word(w)) => {
            w.quote_style.is_some() || bare_word(token).as_deref() != Some("USING")
        }
        _ => false,
    };
    if named {
        cursor.ident()
    } else {
        constraint_name
    }
}

/// Classifies one comma-separated ALTER TABLE operation. `ALGORITHM=` and
/// `LOCK=` give no spec: they only say how to run the other operations and
/// would mean a table rebuild on their own.
fn classify_spec(tokens: &[Token]) -> Result<Vec<Spec>, String> {
    let text = render(tokens);
    let mut cursor = Cursor::new(tokens);
    let Some(first) = cursor.peek_word() else {
        return Ok(vec![Spec::Sql(text)]);
    };
    let second = cursor.peek_nth_word(1);
    let spec = match first.as_str() {
        "ADD" => {
            cursor.next();
            cursor.eat_word("COLUMN");
            if cursor.eat(&Token::LParen) {
                let inner = cursor.rest();
                let inner = match inner.split_last() {
                    Some((Token::RParen, body)) => body,
                    _ => return Err(format!("unbalanced parentheses in `{text}`")),
                };
                return Ok(split_top_level(inner, &Token::Comma)
                    .into_iter()
                    .map(|def| {
                        let starts_key = Cursor::new(def)
                            .peek_word()
                            .is_some_and(|w| KEY_DEFINITION_WORDS.contains(&w.as_str()));
                        if starts_key {
                            Spec::Sql(format!("ADD {}", render(def)))
                        } else {
                            Spec::Sql(format!("ADD COLUMN {}", render(def)))
                        }
                    })
                    .collect());
            }
            let defines_key = cursor
                .peek_word()
                .is_some_and(|w| KEY_DEFINITION_WORDS.contains(&w.as_str()));
            if second.as_deref() == Some("PARTITION") {
                Spec::Opaque(text)
            } else if defines_key {
                // `ADD INDEX ... INVISIBLE`: the key, then its visibility.
                let (stripped, invisible) = strip_visibility(cursor.rest());
                match (invisible, key_definition_name(&stripped)) {
                    (Some(invisible), Some(name)) => {
                        return Ok(vec![
                            Spec::Sql(format!("ADD {}", render(&stripped))),
                            Spec::IndexVisibility { name, invisible },
                        ])
                    }
                    _ => Spec::Sql(text),
                }
            } else {
                Spec::Sql(text)
            }
        }
        "DROP" => match second.as_deref() {
            Some("KEY") => {
                cursor.next();
                cursor.next();
                Spec::Sql(format!("DROP INDEX {}", render(cursor.rest())))
            }
            Some("PARTITION" | "CHECK") => Spec::Opaque(text),
            _ => Spec::Sql(text),
        },
        "RENAME" => {
            cursor.next();
            match cursor.peek_word().as_deref() {
                Some("COLUMN") => Spec::Sql(text),
                Some("INDEX" | "KEY") => {
                    cursor.next();
                    let from = cursor.ident();
                    let to = if cursor.eat_word("TO") {
                        cursor.ident()
                    } else {
                        None
                    };
                    match (from, to, cursor.at_end()) {
                        (Some(from), Some(to), true) => Spec::RenameIndex { from, to },
                        _ => return Err(format!("cannot read `{text}`")),
                    }
                }
                _ => {
                    if !cursor.eat_word("TO") {
                        cursor.eat_word("AS");
                    }
                    match (cursor.name(), cursor.at_end()) {
                        (Some(name), true) => Spec::RenameTable(name),
                        _ => return Err(format!("cannot read `{text}`")),
                    }
                }
            }
        }
        "ALTER" => {
            cursor.next();
            match cursor.peek_word().as_deref() {
                Some("INDEX" | "KEY") => {
                    cursor.next();
                    let name = cursor.ident();
                    let visibility = cursor.peek_word();
                    cursor.next();
                    match (name, visibility.as_deref(), cursor.at_end()) {
                        (Some(name), Some("VISIBLE"), true) => Spec::IndexVisibility {
                            name,
                            invisible: false,
                        },
                        (Some(name), Some("INVISIBLE"), true) => Spec::IndexVisibility {
                            name,
                            invisible: true,
                        },
                        _ => return Err(format!("cannot read `{text}`")),
                    }
                }
                Some("CHECK" | "CONSTRAINT") => Spec::Opaque(text),
                _ => Spec::Sql(text),
            }
        }
        "CONVERT" => {
            cursor.next();
            if !cursor.eat_word("TO") {
                return Err(format!("cannot read `{text}`"));
            }
            let options = parse_options(cursor.rest());
            if options.charset.is_none() && options.collate.is_none() {
                return Err(format!("`{text}` names no character set"));
            }
            Spec::Convert(TableOptions { text, ..options })
        }
        "ALGORITHM" | "LOCK" => return Ok(Vec::new()),
        "INDEX" if second.as_deref() == Some("DIRECTORY") => Spec::Options(parse_options(tokens)),
        w if TABLE_OPTION_WORDS.contains(&w) => Spec::Options(parse_options(tokens)),
        w if OPAQUE_WORDS.contains(&w) => Spec::Opaque(text),
        _ => Spec::Sql(text),
    };
    Ok(vec![spec])
}

/// Reads one statement (already split off and trimmed).
pub(crate) fn classify(tokens: &[Token]) -> Result<Raw, String> {
    let mut cursor = Cursor::new(tokens);
    let first = cursor.peek_word();
    let second = cursor.peek_nth_word(1);
    match (first.as_deref(), second.as_deref()) {
        (Some("ALTER"), Some("DATABASE" | "SCHEMA")) => {
            cursor.next();
            cursor.next();
            let name = match cursor.peek() {
                Some(token) if !starts_database_option(token) => Some(
                    cursor
                        .ident()
                        .ok_or_else(|| "expected a database name".to_owned())?,
                ),
                _ => None,
            };
            Ok(Raw::AlterDatabase {
                name,
                options: parse_options(cursor.rest()),
            })
        }
        (Some("ALTER"), _) => classify_alter_table(cursor),
        (Some("CREATE"), Some("DATABASE" | "SCHEMA")) => {
            cursor.next();
            cursor.next();
            let if_not_exists = cursor.eat_words(&["IF", "NOT", "EXISTS"]);
            let name = cursor
                .ident()
                .ok_or_else(|| "expected a database name".to_owned())?;
            Ok(Raw::CreateDatabase {
                name,
                if_not_exists,
                options: parse_options(cursor.rest()),
            })
        }
        (Some("DROP"), Some("DATABASE" | "SCHEMA")) => {
            cursor.next();
            cursor.next();
            let if_exists = cursor.eat_words(&["IF", "EXISTS"]);
            let name = cursor
                .ident()
                .ok_or_else(|| "expected a database name".to_owned())?;
            if !cursor.at_end() {
                return Err("unexpected text after the database name".to_owned());
            }
            Ok(Raw::DropDatabase { name, if_exists })
        }
        (Some("CREATE"), Some("FULLTEXT" | "SPATIAL")) => classify_opaque_index(tokens),
        (Some("CREATE"), Some("TABLE")) => classify_create_table(tokens),
        (Some("CREATE"), Some("TEMPORARY"))
            if cursor.peek_nth_word(2).as_deref() == Some("TABLE") =>
        {
            classify_create_table(tokens)
        }
        _ => Ok(Raw::Sql(render(tokens))),
    }
}

fn starts_database_option(token: &Token) -> bool {
    matches!(
        bare_word(token).as_deref(),
        Some("DEFAULT" | "CHARACTER" | "CHARSET" | "COLLATE" | "ENCRYPTION" | "READ" | "COMMENT")
    )
}

fn classify_alter_table(mut cursor: Cursor<'_>) -> Result<Raw, String> {
    let all = cursor.tokens;
    cursor.next(); // ALTER
                   // `ONLINE` / `IGNORE` are MySQL 5.x / MariaDB modifiers without effect
                   // on the resulting schema.
    cursor.eat_word("ONLINE");
    cursor.eat_word("IGNORE");
    if !cursor.eat_word("TABLE") {
        return Ok(Raw::Sql(render(all)));
    }
    let name = cursor
        .name()
        .ok_or_else(|| "expected a table name after ALTER TABLE".to_owned())?;
    let mut specs = Vec::new();
    for part in split_top_level(cursor.rest(), &Token::Comma) {
        specs.extend(classify_spec(part)?);
    }
    Ok(Raw::AlterTable { name, specs })
}

/// `CREATE {FULLTEXT | SPATIAL} INDEX name ON table (...)`.
fn classify_opaque_index(tokens: &[Token]) -> Result<Raw, String> {
    let mut cursor = Cursor::new(tokens);
    while let Some(token) = cursor.next() {
        if bare_word(token).as_deref() == Some("ON") {
            let prefix = render(&tokens[..cursor.pos]);
            let name = cursor
                .name()
                .ok_or_else(|| "expected a table name after ON".to_owned())?;
            let suffix = render(trim(&tokens[cursor.pos..]));
            return Ok(Raw::OpaqueOnTable {
                prefix: format!("{} ", prefix.trim_end()),
                name,
                suffix: format!(" {suffix}"),
            });
        }
    }
    Err("expected ON <table>".to_owned())
}

/// Cuts a `CREATE TABLE` after its definition list (see [`Raw::CreateTable`]).
fn classify_create_table(tokens: &[Token]) -> Result<Raw, String> {
    let mut depth = 0usize;
    let mut cut = None;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    cut = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(cut) = cut else {
        // `CREATE TABLE a LIKE b` (or not a table at all): all for sqlparser.
        return Ok(Raw::Sql(render(tokens)));
    };
    let tail = trim(&tokens[cut..]);
    let mut cursor = Cursor::new(tail);
    let mut depth = 0usize;
    let mut partition_at = tail.len();
    while let Some(token) = cursor.next() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            token => match bare_word(token).as_deref() {
                Some("SELECT" | "AS" | "IGNORE" | "REPLACE") => {
                    return Err("CREATE TABLE ... SELECT is not supported".to_owned());
                }
                Some("PARTITION") if cursor.peek_word().as_deref() == Some("BY") => {
                    partition_at = partition_at.min(cursor.pos - 1);
                }
                _ => {}
            },
        }
    }
    let (head, invisible_indexes) = strip_key_visibility(&tokens[..cut]);
    Ok(Raw::CreateTable {
        head,
        options: parse_options(&tail[..partition_at]),
        tail: render(tail),
        invisible_indexes,
    })
}

/// The CREATE TABLE head without `VISIBLE` / `INVISIBLE` on its key
/// definitions, and the names of the invisible keys.
fn strip_key_visibility(head: &[Token]) -> (String, Vec<String>) {
    let (Some(open), Some((Token::RParen, _))) = (
        head.iter().position(|t| *t == Token::LParen),
        head.split_last(),
    ) else {
        return (render(head), Vec::new());
    };
    let body = &head[open + 1..head.len() - 1];
    let mut changed = false;
    let mut invisible = Vec::new();
    let mut definitions = Vec::new();
    for definition in split_top_level(body, &Token::Comma) {
        let is_key = Cursor::new(definition)
            .peek_word()
            .is_some_and(|w| KEY_DEFINITION_WORDS.contains(&w.as_str()));
        let (stripped, visibility) = if is_key {
            strip_visibility(definition)
        } else {
            (definition.to_vec(), None)
        };
        if let Some(hidden) = visibility {
            changed = true;
            if let (true, Some(name)) = (hidden, key_definition_name(&stripped)) {
                invisible.push(name);
            }
        }
        definitions.push(render(&stripped));
    }
    if !changed {
        return (render(head), Vec::new());
    }
    let head = format!("{}{})", render(&head[..=open]), definitions.join(", "));
    (head, invisible)
}
