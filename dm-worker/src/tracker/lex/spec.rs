//! One ALTER TABLE operation to a [`Spec`]: the word lists that tell
//! table options and schema-neutral operations apart, and the key
//! definitions (`VISIBLE` / `INVISIBLE`, their names) on the vocabulary the
//! master shares.

use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::tokens::{bare_word, render, split_top_level};
use super::{parse_options, Spec, TableOptions};

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
pub(super) use dm_master::ddl_words::KEY_DEFINITION as KEY_DEFINITION_WORDS;

/// Removes top-level `VISIBLE` / `INVISIBLE` words from a key definition
/// (MySQL 8 prints them, `sqlparser` rejects them); returns the remaining
/// tokens and the visibility given, if any.
pub(super) fn strip_visibility(tokens: &[Token]) -> (Vec<Token>, Option<bool>) {
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
pub(super) fn key_definition_name(tokens: &[Token]) -> Option<String> {
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
pub(super) fn classify_spec(tokens: &[Token]) -> Result<Vec<Spec>, String> {
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
