//! [`Cursor`]: a reading position over the non-blank tokens of one
//! statement, with the look-ahead and word matching the classifiers use.

use sqlparser::tokenizer::Token;

use super::tokens::{bare_word, ident_value, is_blank, trim, unescape_string};

/// A cursor over the non-blank tokens of a statement.
pub(super) struct Cursor<'a> {
    pub(super) tokens: &'a [Token],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(tokens: &'a [Token]) -> Self {
        Cursor { tokens, pos: 0 }
    }

    pub(super) fn skip_blank(&mut self) {
        while self.pos < self.tokens.len() && is_blank(&self.tokens[self.pos]) {
            self.pos += 1;
        }
    }

    pub(super) fn peek(&mut self) -> Option<&'a Token> {
        self.skip_blank();
        self.tokens.get(self.pos)
    }

    /// The `n`-th non-blank token from here (0 = next).
    pub(super) fn peek_nth(&self, n: usize) -> Option<&'a Token> {
        self.tokens
            .iter()
            .skip(self.pos)
            .filter(|t| !is_blank(t))
            .nth(n)
    }

    pub(super) fn peek_word(&mut self) -> Option<String> {
        self.peek().and_then(bare_word)
    }

    pub(super) fn peek_nth_word(&self, n: usize) -> Option<String> {
        self.peek_nth(n).and_then(bare_word)
    }

    pub(super) fn next(&mut self) -> Option<&'a Token> {
        self.skip_blank();
        let token = self.tokens.get(self.pos);
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    /// The next token outside parentheses: a parenthesised group is passed
    /// over whole, and its parentheses with it.
    pub(super) fn next_top_level(&mut self) -> Option<&'a Token> {
        let mut depth = 0usize;
        loop {
            match self.next()? {
                Token::LParen => depth += 1,
                Token::RParen => depth = depth.saturating_sub(1),
                _ if depth > 0 => {}
                token => return Some(token),
            }
        }
    }

    pub(super) fn eat_word(&mut self, word: &str) -> bool {
        if self.peek_word().as_deref() == Some(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes all of `words` or none of them.
    pub(super) fn eat_words(&mut self, words: &[&str]) -> bool {
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

    pub(super) fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// The tokens after the cursor, trimmed.
    pub(super) fn rest(&mut self) -> &'a [Token] {
        self.skip_blank();
        trim(&self.tokens[self.pos..])
    }

    pub(super) fn ident(&mut self) -> Option<String> {
        let value = self.peek().and_then(ident_value)?;
        self.pos += 1;
        Some(value)
    }

    /// `ident [. ident]*`.
    pub(super) fn name(&mut self) -> Option<Vec<String>> {
        let mut parts = vec![self.ident()?];
        while self.eat(&Token::Period) {
            parts.push(self.ident()?);
        }
        Some(parts)
    }

    /// A value after an option key: a word, a string, a number.
    pub(super) fn option_value(&mut self) -> Option<String> {
        match self.next()? {
            Token::SingleQuotedString(raw) => Some(unescape_string(raw)),
            token => ident_value(token).or_else(|| Some(token.to_string())),
        }
    }
}
