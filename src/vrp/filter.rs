//! Output filters of the display commands, as VRP has them: `display … | include REGEX`
//! (the lines that match), `| exclude REGEX` (the lines that do not) and `| begin REGEX`
//! (from the first line that matches). REGEX is the rest of the line, spaces included,
//! in the syntax of the `regex` crate; a match anywhere in a line counts.
#![deny(clippy::indexing_slicing)]

use super::cursor::{kw, Cursor};
use super::error::{CommandError, ErrorKind};
use regex::Regex;

/// Which lines a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// `| include`: the lines that match.
    Include,
    /// `| exclude`: the lines that do not match.
    Exclude,
    /// `| begin`: every line from the first that matches.
    Begin,
}

/// `| {include | exclude | begin} REGEX` after a display command.
#[derive(Debug, Clone)]
pub struct OutputFilter {
    /// Which lines are kept.
    pub kind: FilterKind,
    /// The expression the lines are matched against.
    pub regex: Regex,
}

impl PartialEq for OutputFilter {
    /// The same kind and the same expression, as typed.
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.regex.as_str() == other.regex.as_str()
    }
}

impl Eq for OutputFilter {}

impl OutputFilter {
    /// The lines of `text` the filter keeps, each with its line end.
    pub fn apply(&self, text: &str) -> String {
        let mut begun = false;
        text.split_inclusive('\n')
            .filter(|line| {
                let hit = self.regex.is_match(line.trim_end_matches(['\n', '\r']));
                match self.kind {
                    FilterKind::Include => hit,
                    FilterKind::Exclude => !hit,
                    FilterKind::Begin => {
                        begun |= hit;
                        begun
                    }
                }
            })
            .collect()
    }
}

/// `text` through `filter`, when there is one.
pub fn filtered(filter: Option<&OutputFilter>, text: String) -> String {
    match filter {
        Some(f) => f.apply(&text),
        None => text,
    }
}

/// An optional `| {include | exclude | begin} REGEX` at the cursor; it takes the rest of
/// the line. An expression that does not compile is a wrong parameter.
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Option<OutputFilter>, CommandError> {
    if cur
        .opt_keyword(&[kw("|", "Matching output", ())])?
        .is_none()
    {
        return Ok(None);
    }
    let kind = cur.keyword(&[
        kw(
            "begin",
            "Begin with the line that matches",
            FilterKind::Begin,
        ),
        kw("exclude", "Exclude lines that match", FilterKind::Exclude),
        kw("include", "Include lines that match", FilterKind::Include),
    ])?;
    let (pattern, column) = cur.rest("<regular-expression>", "A regular expression")?;
    let regex = Regex::new(pattern).map_err(|e| {
        // The crate's message ends with the reason on its last line.
        let text = e.to_string();
        let why = text
            .lines()
            .last()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        CommandError::new(
            ErrorKind::WrongParameter,
            column,
            format!("`{pattern}` is not a regular expression: {why}"),
        )
    })?;
    Ok(Some(OutputFilter { kind, regex }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(line: &str) -> Result<Option<OutputFilter>, CommandError> {
        parse(&mut Cursor::new(line))
    }

    const TEXT: &str =
        "#\nipv6 netstream as-mode 32\n#\nipv6 netstream aggregation as\n enable\n#\nreturn\n";

    #[test]
    fn include_exclude_begin() {
        let f = |line: &str| filter(line).unwrap().unwrap().apply(TEXT);
        assert_eq!(
            f("| include aggregation|as-mode"),
            "ipv6 netstream as-mode 32\nipv6 netstream aggregation as\n"
        );
        assert_eq!(
            f("| exclude ^#"),
            "ipv6 netstream as-mode 32\nipv6 netstream aggregation as\n enable\nreturn\n"
        );
        assert_eq!(
            f("| begin aggregation"),
            "ipv6 netstream aggregation as\n enable\n#\nreturn\n"
        );
        assert_eq!(f("| inc ^ enable$"), " enable\n");
        // The expression is the rest of the line, spaces included.
        assert_eq!(f("| include netstream as"), "ipv6 netstream as-mode 32\n");
        assert_eq!(f("| begin nothing"), "");
    }

    #[test]
    fn no_filter_and_errors() {
        assert_eq!(filter(""), Ok(None));
        assert_eq!(filtered(None, "x\n".into()), "x\n");
        let e = filter("| include (").unwrap_err();
        assert_eq!((e.kind, e.column), (ErrorKind::WrongParameter, 11));
        assert!(
            e.detail.starts_with("`(` is not a regular expression: "),
            "{}",
            e.detail
        );
        assert!(!e.detail.contains('\n'), "{}", e.detail);
        let e = filter("| include").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Incomplete);
        assert!(e.detail.contains("<regular-expression>"), "{}", e.detail);
        let e = filter("| count").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unrecognized);
        assert!(e.detail.contains("begin, exclude, include"), "{}", e.detail);
    }
}
