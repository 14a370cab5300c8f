//! Errors as VRP reports them: the offending line, a `^` under the failing token, VRP's
//! one-line message, and a precise explanation (the valid range, the expected words, the
//! rule that was broken).
#![deny(clippy::indexing_slicing)]

use std::fmt;

/// What kind of error, which decides VRP's headline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A word that is no command or keyword here (also a command of another view).
    Unrecognized,
    /// An abbreviation that matches more than one keyword.
    Ambiguous,
    /// The line ends where a keyword or value is still required.
    Incomplete,
    /// A value that does not parse or is out of range.
    WrongParameter,
    /// Words after a complete command.
    TooManyParameters,
    /// More entries than allowed: the 9th export host of a view, a full route table.
    LimitExceeded,
    /// `undo` of something that is not configured.
    NotConfigured,
    /// `commit` refused the candidate: a rule across commands is broken.
    CommitCheck,
}

impl ErrorKind {
    /// VRP's message for this kind.
    pub const fn headline(self) -> &'static str {
        match self {
            Self::Unrecognized => "Error: Unrecognized command found at '^' position.",
            Self::Ambiguous => "Error: Ambiguous command found at '^' position.",
            Self::Incomplete => "Error: Incomplete command found at '^' position.",
            Self::WrongParameter => "Error: Wrong parameter found at '^' position.",
            Self::TooManyParameters => "Error: Too many parameters found at '^' position.",
            Self::LimitExceeded => {
                "Error: The number of entries exceeds the upper limit at '^' position."
            }
            Self::NotConfigured => {
                "Error: The configuration to be deleted does not exist at '^' position."
            }
            Self::CommitCheck => "Error: The configuration cannot be committed.",
        }
    }
}

/// An error inside one line, before the line is placed in a file or session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// Which kind of error.
    pub kind: ErrorKind,
    /// 1-based character column of the caret.
    pub column: usize,
    /// The precise explanation.
    pub detail: String,
}

impl CommandError {
    /// An error of `kind` at `column`.
    pub fn new(kind: ErrorKind, column: usize, detail: impl Into<String>) -> Self {
        Self {
            kind,
            column,
            detail: detail.into(),
        }
    }

    /// The error placed on line `line` whose text is `text`.
    pub fn at_line(self, line: usize, text: &str) -> VrpError {
        VrpError {
            location: Some(Location {
                line,
                column: self.column,
                text: text.to_owned(),
            }),
            kind: self.kind,
            detail: self.detail,
        }
    }
}

/// Where an error is: a line of a file or of a session's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based character column of the caret.
    pub column: usize,
    /// The line as given.
    pub text: String,
}

/// One error with its place, rendered the way VRP does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct VrpError {
    /// The line and column, when the error comes from a line (a commit check of a
    /// configuration built in code has none).
    pub location: Option<Location>,
    /// Which kind of error.
    pub kind: ErrorKind,
    /// The precise explanation.
    pub detail: String,
}

impl VrpError {
    /// Writes the error; `numbered` puts `line N, column M:` before the echoed line (a
    /// file's errors), without it the line and caret follow as on VRP's terminal.
    fn render(&self, f: &mut fmt::Formatter<'_>, numbered: bool) -> fmt::Result {
        if let Some(loc) = &self.location {
            // Whitespace becomes one space so that the caret lines up under tabs too.
            let echo: String = loc
                .text
                .chars()
                .map(|c| if c.is_whitespace() { ' ' } else { c })
                .collect();
            if numbered {
                writeln!(f, "line {}, column {}:", loc.line, loc.column)?;
            }
            writeln!(f, "{}", echo.trim_end())?;
            writeln!(f, "{}^", " ".repeat(loc.column.saturating_sub(1)))?;
        }
        write!(f, "{}\n  {}", self.kind.headline(), self.detail)
    }
}

impl fmt::Display for VrpError {
    /// The error as in a file: `line N, column M:`, the line, the caret, the headline and
    /// the explanation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, true)
    }
}

/// Every error of a file, a line or a commit; nothing took effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Errors(pub Vec<VrpError>);

impl Errors {
    /// Writes every error, a blank line between them, numbered as in a file or not.
    fn render(&self, f: &mut fmt::Formatter<'_>, numbered: bool) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            e.render(f, numbered)?;
            writeln!(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for Errors {
    /// The errors as in a file, each with its `line N, column M:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, true)
    }
}

impl Errors {
    /// The errors as an interactive session shows them: the line, the caret, the headline
    /// and the explanation, without the `line N, column M:` of a file.
    pub fn interactive(&self) -> Interactive<'_> {
        Interactive(self)
    }
}

/// [`Errors`] shown in an interactive session ([`Errors::interactive`]).
#[derive(Debug, Clone, Copy)]
pub struct Interactive<'a>(&'a Errors);

impl fmt::Display for Interactive<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f, false)
    }
}

impl From<VrpError> for Errors {
    fn from(e: VrpError) -> Self {
        Self(vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_caret_headline_and_detail() {
        let e = CommandError::new(
            ErrorKind::WrongParameter,
            5,
            "port 0 is out of range 1-65535",
        )
        .at_line(7, "abc\tdef 0");
        assert_eq!(
            e.to_string(),
            "line 7, column 5:\nabc def 0\n    ^\nError: Wrong parameter found at '^' position.\n  port 0 is out of range 1-65535"
        );
        let e = VrpError {
            location: None,
            kind: ErrorKind::CommitCheck,
            detail: "x".into(),
        };
        assert_eq!(
            e.to_string(),
            "Error: The configuration cannot be committed.\n  x"
        );
        let one = Errors::from(CommandError::new(ErrorKind::Incomplete, 3, "d").at_line(2, "ab"));
        assert_eq!(
            one.interactive().to_string(),
            "ab\n  ^\nError: Incomplete command found at '^' position.\n  d\n"
        );
        assert!(one.to_string().starts_with("line 2, column 3:\nab\n"));
        assert_eq!(
            Errors(vec![e.clone(), e])
                .to_string()
                .matches("x\n")
                .count(),
            2
        );
    }

    #[test]
    fn every_headline_is_a_vrp_error_line() {
        use ErrorKind::*;
        for k in [
            Unrecognized,
            Ambiguous,
            Incomplete,
            WrongParameter,
            TooManyParameters,
            LimitExceeded,
            NotConfigured,
            CommitCheck,
        ] {
            assert!(k.headline().starts_with("Error: ") && k.headline().ends_with('.'));
        }
    }
}
