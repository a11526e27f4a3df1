//! The column an ALTER TABLE adds or drops, read from the DDL text (DM
//! `GetColumnName`), with a token-level fallback for TiDB syntax sqlparser
//! rejects. The keywords come from the shared [`crate::ddl_words`].

use std::cell::RefCell;
use std::collections::VecDeque;

use sqlparser::ast::{AlterTableOperation, Statement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::optimism::error::OptimismError;
use crate::schemacmp::Table;

/// Which ALTER spec [`get_column_name`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `ADD [COLUMN] c ...`: the first new column.
    AddColumns,
    /// `DROP [COLUMN] c`: the dropped column.
    DropColumn,
}

/// DM `AddDifferentFieldLenColumns`: the column an `ADD COLUMN` adds, or an
/// error if the two joined schemas give it different lengths. DM gap O14: the
/// name is looked up lower-cased (schema keys are), so a mixed-case DDL is
/// checked too.
pub fn add_different_field_len_columns(
    lock_id: &str,
    ddl: &str,
    old_joined: &Table,
    new_joined: &Table,
) -> Result<String, OptimismError> {
    let col = get_column_name(lock_id, ddl, ColumnKind::AddColumns)?;
    if col.is_empty() {
        return Ok(col);
    }
    let lower = col.to_lowercase();
    if let (Some(old), Some(new)) = (
        old_joined.column_field_type(&lower),
        new_joined.column_field_type(&lower),
    ) {
        if old.flen != new.flen {
            return Err(OptimismError::AddNotFullyDroppedColumn {
                lock_id: lock_id.to_owned(),
                detail: format!(
                    "add columns with different field lengths. ddl: {ddl}, origLen: {}, newLen: {}",
                    old.flen, new.flen
                ),
                cause: None,
            });
        }
    }
    Ok(col)
}

/// DM `GetColumnName`: if `ddl` is an ALTER TABLE whose **first** spec is
/// of `kind`, the column it adds or drops, as written (unquoted); else `""`
/// (DM gap O15: later specs are not read; the worker splits them).
///
/// Parsed with sqlparser's MySQL dialect. sqlparser rejects some TiDB-only
/// syntax that TiDB's parser (which produced every DDL a worker sends)
/// accepts, so a rejected statement is read token by token instead: an
/// ALTER TABLE's first spec, or a statement starting with another DDL verb
/// (`""`). Only when that fails too is it DM's parse error
/// (ErrShardDDLOptimismAddNotFullyDroppedColumn, `fail to parse ddl <ddl>`,
/// with sqlparser's text as the raw cause).
pub fn get_column_name(
    lock_id: &str,
    ddl: &str,
    kind: ColumnKind,
) -> Result<String, OptimismError> {
    remembered(ddl, kind).map_err(|cause| OptimismError::AddNotFullyDroppedColumn {
        lock_id: lock_id.to_owned(),
        detail: format!("fail to parse ddl {ddl}"),
        cause: Some(cause),
    })
}

/// How many DDLs each thread remembers the column of.
const REMEMBERED_DDLS: usize = 16;
/// Longer DDLs are read every time, so the memory stays small.
const REMEMBERED_DDL_BYTES: usize = 4096;

/// [`read_column_name`], remembered per thread for the last few DDLs: every
/// table of a lock sends the same DDL text, and parsing it once per table
/// and Operation was a tenth of the work of answering an Info on a
/// 1,000-table lock. The answer depends on the text and `kind` only.
fn remembered(ddl: &str, kind: ColumnKind) -> Result<String, String> {
    type Entry = (ColumnKind, Box<str>, Result<String, String>);
    thread_local! {
        static READ: RefCell<VecDeque<Entry>> = const { RefCell::new(VecDeque::new()) };
    }
    if ddl.len() > REMEMBERED_DDL_BYTES {
        return read_column_name(ddl, kind);
    }
    let hit = READ.with_borrow(|read| {
        read.iter()
            .find(|(k, text, _)| *k == kind && **text == *ddl)
            .map(|(_, _, column)| column.clone())
    });
    if let Some(column) = hit {
        return column;
    }
    let column = read_column_name(ddl, kind);
    READ.with_borrow_mut(|read| {
        if read.len() == REMEMBERED_DDLS {
            read.pop_front();
        }
        read.push_back((kind, ddl.into(), column.clone()));
    });
    column
}

/// The column, or sqlparser's reason the DDL does not parse.
fn read_column_name(ddl: &str, kind: ColumnKind) -> Result<String, String> {
    match Parser::parse_sql(&MySqlDialect {}, ddl) {
        Ok(statements) => match statements.as_slice() {
            [statement] => Ok(column_of_statement(statement, kind)),
            _ => Err(format!(
                "expected one statement, found {}",
                statements.len()
            )),
        },
        Err(e) => column_from_tokens(ddl, kind).ok_or_else(|| e.to_string()),
    }
}

fn column_of_statement(statement: &Statement, kind: ColumnKind) -> String {
    let Statement::AlterTable(alter) = statement else {
        return String::new();
    };
    match (kind, alter.operations.first()) {
        (ColumnKind::AddColumns, Some(AlterTableOperation::AddColumn { column_def, .. })) => {
            column_def.name.value.clone()
        }
        (ColumnKind::DropColumn, Some(AlterTableOperation::DropColumn { column_names, .. })) => {
            column_names
                .first()
                .map(|c| c.value.clone())
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The fallback of [`get_column_name`] for statements sqlparser rejects:
/// `Some(column or "")` when the first ALTER spec can be read, `None` when
/// the statement is not recognisable.
fn column_from_tokens(ddl: &str, kind: ColumnKind) -> Option<String> {
    let tokens = Tokenizer::new(&MySqlDialect {}, ddl).tokenize().ok()?;
    let mut tokens = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .peekable();
    let is_word = |t: Option<&Token>, w: &str| matches!(t, Some(Token::Word(word)) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w));
    let first = tokens.next();
    if !is_word(first.as_ref(), "ALTER") {
        return crate::ddl_words::OTHER_DDL_VERBS
            .iter()
            .any(|verb| is_word(first.as_ref(), verb))
            .then(String::new);
    }
    if is_word(tokens.peek(), "IGNORE") {
        tokens.next();
    }
    if !is_word(tokens.next().as_ref(), "TABLE") {
        return Some(String::new());
    }
    // [schema.]table
    if !matches!(tokens.next(), Some(Token::Word(_))) {
        return None;
    }
    if matches!(tokens.peek(), Some(Token::Period)) {
        tokens.next();
        if !matches!(tokens.next(), Some(Token::Word(_))) {
            return None;
        }
    }
    let verb = match kind {
        ColumnKind::AddColumns => "ADD",
        ColumnKind::DropColumn => "DROP",
    };
    if !is_word(tokens.peek(), verb) {
        return Some(String::new());
    }
    tokens.next();
    let column_keyword = is_word(tokens.peek(), "COLUMN");
    if column_keyword {
        tokens.next();
    }
    let guard: &[&str] = match kind {
        ColumnKind::AddColumns => &["IF", "NOT", "EXISTS"],
        ColumnKind::DropColumn => &["IF", "EXISTS"],
    };
    if is_word(tokens.peek(), "IF") {
        for word in guard {
            if !is_word(tokens.next().as_ref(), word) {
                return None;
            }
        }
    }
    let mut next = tokens.next();
    if kind == ColumnKind::AddColumns && matches!(next, Some(Token::LParen)) {
        next = tokens.next();
    }
    match next {
        Some(Token::Word(word)) => {
            let keyword = word.quote_style.is_none()
                && crate::ddl_words::starts_non_column_spec(&word.value.to_ascii_uppercase());
            if keyword && !column_keyword {
                Some(String::new())
            } else {
                Some(word.value)
            }
        }
        _ => None,
    }
}
