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

/// `MySqlDialect`'s answer for each of these yes/no capabilities, unchanged.
macro_rules! forward_flags {
    ($($name:ident),+ $(,)?) => {
        $(fn $name(&self) -> bool {
            self.0.$name()
        })+
    };
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
    forward_flags!(
        supports_string_literal_backslash_escape,
        supports_string_literal_concatenation,
        ignores_wildcard_escapes,
        supports_numeric_prefix,
        supports_bitwise_shift_operators,
        supports_multiline_comment_hints,
        require_interval_qualifier,
        supports_limit_comma,
        supports_create_table_select,
        supports_insert_set,
        supports_user_host_grantee,
        supports_table_hints,
        requires_single_line_comment_whitespace,
        supports_match_against,
        supports_select_modifiers,
        supports_set_names,
        supports_comma_separated_set_assignments,
        supports_update_order_by,
        supports_data_type_signed_suffix,
        supports_cross_join_constraint,
        supports_double_ampersand_operator,
        supports_binary_kw_as_cast,
        supports_comment_optimizer_hint,
        supports_constraint_keyword_without_name,
        supports_key_column_option,
        supports_group_by_with_modifier,
        supports_left_associative_joins_without_parens,
    );
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
    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.0.is_table_factor_alias(explicit, kw, parser)
    }
}
