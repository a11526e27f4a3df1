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

use sqlparser::tokenizer::Token;

mod cursor;
mod spec;
mod tokens;

use cursor::Cursor;
use spec::{classify_spec, key_definition_name, strip_visibility, KEY_DEFINITION_WORDS};
pub(crate) use tokens::{bare_word, render, split_statements, tokenize, trim, unescape_string};
use tokens::{split_top_level, string_value};

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

/// Reads the charset, collation and comment out of a list of table or
/// database options; all other options are kept only as text.
pub(crate) fn parse_options(tokens: &[Token]) -> TableOptions {
    let tokens = trim(tokens);
    let mut options = TableOptions {
        text: render(tokens),
        ..TableOptions::default()
    };
    let mut cursor = Cursor::new(tokens);
    while let Some(token) = cursor.next_top_level() {
        match bare_word(token).as_deref() {
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
    // `ALTER`, then `ONLINE` / `IGNORE`: MySQL 5.x / MariaDB modifiers
    // without effect on the resulting schema.
    cursor.next();
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
    let mut partition_at = tail.len();
    while let Some(token) = cursor.next_top_level() {
        match bare_word(token).as_deref() {
            Some("SELECT" | "AS" | "IGNORE" | "REPLACE") => {
                return Err("CREATE TABLE ... SELECT is not supported".to_owned());
            }
            Some("PARTITION") if cursor.peek_word().as_deref() == Some("BY") => {
                partition_at = partition_at.min(cursor.pos - 1);
            }
            _ => {}
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
