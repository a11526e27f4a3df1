//! The MySQL dialect of `sqlparser`, extended with the column attributes
//! real MySQL DDL uses and `sqlparser` 0.63 rejects: `ZEROFILL`,
//! `CHARSET name` (short for `CHARACTER SET`), the `BINARY` attribute of
//! character types, `ASCII` / `UNICODE` / `BYTE`, and the NDB-only
//! `COLUMN_FORMAT` / `STORAGE`.
//!
//! PURE: no async, no I/O.
//!
//! Invariant: [`DmDialect`] behaves exactly like `MySqlDialect` everywhere
//! else. It reports `MySqlDialect`'s type id (so the parser's MySQL-only
//! branches stay on) and forwards every method `MySqlDialect` overrides; a
//! test parses a corpus with both and compares.

use std::any::TypeId;

use sqlparser::ast::{ColumnOption, Expr, ObjectName, Statement};
use sqlparser::dialect::{Dialect, MySqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::lex::bare_word;

/// `MySqlDialect` plus the column attributes listed in the module docs.
#[derive(Debug, Default)]
pub(crate) struct DmDialect(MySqlDialect);

/// Marker word of the `ZEROFILL` attribute inside
/// `ColumnOption::DialectSpecific`.
pub(crate) const ZEROFILL: &str = "ZEROFILL";
/// Marker word of the `BINARY` attribute (binary collation of the column's
/// charset) inside `ColumnOption::DialectSpecific`.
pub(crate) const BINARY: &str = "BINARY";

fn keyword(value: &str) -> Token {
    Token::make_keyword(value)
}

fn charset(name: &str) -> ColumnOption {
    ColumnOption::CharacterSet(ObjectName::from(vec![sqlparser::ast::Ident::new(name)]))
}

impl DmDialect {
    /// The column attributes `sqlparser` does not know. `Ok(None)` leaves
    /// the token to the normal option parser.
    fn column_attribute(parser: &mut Parser) -> Result<Option<ColumnOption>, ParserError> {
        let Some(first) = bare_word(&parser.peek_token().token) else {
            return Ok(None);
        };
        let option = match first.as_str() {
            "ZEROFILL" => {
                parser.advance_token();
                // MySQL accepts the sign attribute after ZEROFILL as well.
                let mut tokens = vec![keyword(ZEROFILL)];
                if let Some(next) = bare_word(&parser.peek_token().token) {
                    if next == "UNSIGNED" || next == "SIGNED" {
                        parser.advance_token();
                        tokens.push(keyword(&next));
                    }
                }
                ColumnOption::DialectSpecific(tokens)
            }
            "CHARSET" => {
                parser.advance_token();
                ColumnOption::CharacterSet(parser.parse_object_name(false)?)
            }
            "BINARY" => {
                parser.advance_token();
                ColumnOption::DialectSpecific(vec![keyword(BINARY)])
            }
            // `ASCII` and `UNICODE` are MySQL shorthands for these charsets,
            // `BYTE` for the binary charset.
            "ASCII" => {
                parser.advance_token();
                charset("latin1")
            }
            "UNICODE" => {
                parser.advance_token();
                charset("ucs2")
            }
            "BYTE" => {
                parser.advance_token();
                charset("binary")
            }
            "COLUMN_FORMAT" | "STORAGE" => {
                parser.advance_token();
                let value = parser.next_token().token;
                ColumnOption::DialectSpecific(vec![keyword(&first), value])
            }
            _ => return Ok(None),
        };
        Ok(Some(option))
    }
}

impl Dialect for DmDialect {
    fn dialect(&self) -> TypeId {
        self.0.dialect()
    }

    fn parse_column_option(
        &self,
        parser: &mut Parser,
    ) -> Result<Option<Result<Option<ColumnOption>, ParserError>>, ParserError> {
        Ok(Self::column_attribute(parser)?.map(|option| Ok(Some(option))))
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.0.supports_string_literal_backslash_escape()
    }
    fn supports_string_literal_concatenation(&self) -> bool {
        self.0.supports_string_literal_concatenation()
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        self.0.ignores_wildcard_escapes()
    }
    fn supports_numeric_prefix(&self) -> bool {
        self.0.supports_numeric_prefix()
    }
    fn supports_bitwise_shift_operators(&self) -> bool {
        self.0.supports_bitwise_shift_operators()
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        self.0.supports_multiline_comment_hints()
    }
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        self.0.parse_infix(parser, expr, precedence)
    }
    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        self.0.parse_statement(parser)
    }
    fn require_interval_qualifier(&self) -> bool {
        self.0.require_interval_qualifier()
    }
    fn supports_limit_comma(&self) -> bool {
        self.0.supports_limit_comma()
    }
    fn supports_create_table_select(&self) -> bool {
        self.0.supports_create_table_select()
    }
    fn supports_insert_set(&self) -> bool {
        self.0.supports_insert_set()
    }
    fn supports_user_host_grantee(&self) -> bool {
        self.0.supports_user_host_grantee()
    }
    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.0.is_table_factor_alias(explicit, kw, parser)
    }
    fn supports_table_hints(&self) -> bool {
        self.0.supports_table_hints()
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.0.requires_single_line_comment_whitespace()
    }
    fn supports_match_against(&self) -> bool {
        self.0.supports_match_against()
    }
    fn supports_select_modifiers(&self) -> bool {
        self.0.supports_select_modifiers()
    }
    fn supports_set_names(&self) -> bool {
        self.0.supports_set_names()
    }
    fn supports_comma_separated_set_assignments(&self) -> bool {
        self.0.supports_comma_separated_set_assignments()
    }
    fn supports_update_order_by(&self) -> bool {
        self.0.supports_update_order_by()
    }
    fn supports_data_type_signed_suffix(&self) -> bool {
        self.0.supports_data_type_signed_suffix()
    }
    fn supports_cross_join_constraint(&self) -> bool {
        self.0.supports_cross_join_constraint()
    }
    fn supports_double_ampersand_operator(&self) -> bool {
        self.0.supports_double_ampersand_operator()
    }
    fn supports_binary_kw_as_cast(&self) -> bool {
        self.0.supports_binary_kw_as_cast()
    }
    fn supports_comment_optimizer_hint(&self) -> bool {
        self.0.supports_comment_optimizer_hint()
    }
    fn supports_constraint_keyword_without_name(&self) -> bool {
        self.0.supports_constraint_keyword_without_name()
    }
    fn supports_key_column_option(&self) -> bool {
        self.0.supports_key_column_option()
    }
    fn supports_group_by_with_modifier(&self) -> bool {
        self.0.supports_group_by_with_modifier()
    }
    fn supports_left_associative_joins_without_parens(&self) -> bool {
        self.0.supports_left_associative_joins_without_parens()
    }
}
