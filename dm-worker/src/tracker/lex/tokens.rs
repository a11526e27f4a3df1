//! Working with `sqlparser`'s tokens as text: tokenizing without
//! unescaping, printing tokens back exactly, trimming and splitting at
//! top-level separators, and the values of word, identifier and string
//! tokens.

use sqlparser::tokenizer::{Token, Tokenizer, Word};

use crate::tracker::dialect::DmDialect;

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
pub(super) fn double_to_single(raw: &str) -> String {
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

pub(super) fn is_blank(token: &Token) -> bool {
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
pub(super) fn split_top_level<'a>(tokens: &'a [Token], separator: &Token) -> Vec<&'a [Token]> {
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
pub(crate) fn bare_word(token: &Token) -> Option<String> {
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
pub(super) fn ident_value(token: &Token) -> Option<String> {
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
pub(super) fn string_value(token: &Token) -> Option<String> {
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
