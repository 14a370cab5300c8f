//! Splitting one line into whitespace-separated tokens that remember their column, so that
//! every error can put its caret under the token that caused it.
//!
//! Lines are untrusted text: no indexing or slicing (`clippy::indexing_slicing` is
//! denied); tokens are the pieces of `str::split`.
#![deny(clippy::indexing_slicing)]

/// One word of a line and the 1-based character column it starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// The word as typed.
    pub text: &'a str,
    /// 1-based character column of its first character.
    pub column: usize,
}

/// Whether a line is a comment or a section separator: its first non-blank character is `#`
/// (VRP's separator in `display current-configuration`) or `!` (VRP's header lines).
pub fn is_comment(line: &str) -> bool {
    matches!(line.trim_start().chars().next(), Some('#' | '!'))
}

/// The tokens of `line` and the column just past its last character (where an
/// "incomplete command" caret goes).
pub fn tokenize(line: &str) -> (Vec<Token<'_>>, usize) {
    let mut tokens = Vec::new();
    // Characters before the current piece. The pieces are separated by exactly one
    // whitespace character each (runs of whitespace give empty pieces).
    let mut before = 0;
    for piece in line.split(char::is_whitespace) {
        if !piece.is_empty() {
            tokens.push(Token {
                text: piece,
                column: before + 1,
            });
        }
        before += piece.chars().count() + 1;
    }
    // `before` counted a separator after the last piece, which is not there: it is the
    // number of characters plus one, the column just past the line.
    (tokens, before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_character_columns() {
        let (t, end) = tokenize("  ab\tcé  d ");
        let got: Vec<_> = t.iter().map(|t| (t.text, t.column)).collect();
        assert_eq!(got, vec![("ab", 3), ("cé", 6), ("d", 10)]);
        assert_eq!(end, 12);
        let (t, end) = tokenize("");
        assert!(t.is_empty());
        assert_eq!(end, 1);
    }

    #[test]
    fn comments_and_separators() {
        assert!(is_comment("#"));
        assert!(is_comment("  # note"));
        assert!(is_comment("!Software Version V800R012C10"));
        assert!(!is_comment("enable # not a comment"));
        assert!(!is_comment(""));
    }
}
