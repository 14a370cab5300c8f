//! A cursor over the tokens of one line, from which the grammars ([`super::command`],
//! [`super::routes`]) are written: keyword choice with VRP's unique abbreviations, typed
//! and range-checked values, and the set of words that were acceptable at the current
//! position. That set makes the error explanations ("expected one of …") and the `?` help
//! of an interactive shell come from the grammar itself.
#![deny(clippy::indexing_slicing)]

use super::error::{CommandError, ErrorKind};
use super::lexer::{tokenize, Token};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;

/// One word acceptable at a position, with its help text, as `?` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpItem {
    /// A keyword, a value placeholder such as `<1-65535>`, or `<cr>` (the command may end).
    pub word: String,
    /// What it means.
    pub help: String,
}

impl HelpItem {
    /// Whether this item is a keyword (not a placeholder or `<cr>`).
    pub fn is_keyword(&self) -> bool {
        !self.word.starts_with('<')
    }
}

/// A numeric parameter: its range and what it is, shared by the grammar (which refuses
/// values outside it) and [`super::model::Config::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What the value is, for messages and help.
    pub what: &'static str,
    /// Smallest accepted value.
    pub min: u32,
    /// Largest accepted value.
    pub max: u32,
}

impl Limit {
    /// The limit called `what` over `range`, a range defined where the value is used (the
    /// exporter's constants), so that the language does not repeat its numbers.
    pub const fn of(what: &'static str, range: &RangeInclusive<u16>) -> Self {
        Self {
            what,
            min: *range.start() as u32,
            max: *range.end() as u32,
        }
    }

    /// The placeholder `?` shows, e.g. `<1-65535>`.
    pub fn placeholder(&self) -> String {
        format!("<{}-{}>", self.min, self.max)
    }

    /// `Ok` when `value` is in range, else the explanation.
    pub fn check(&self, value: u64) -> Result<(), String> {
        self.check_shown(value, &value.to_string())
    }

    /// Like [`Self::check`], naming the value as `shown` (a number too long for `u64`
    /// is checked as `u64::MAX` but shown as typed).
    fn check_shown(&self, value: u64, shown: &str) -> Result<(), String> {
        if (u64::from(self.min)..=u64::from(self.max)).contains(&value) {
            Ok(())
        } else {
            Err(format!(
                "{} {shown} is out of range: it must be an integer from {} to {}",
                self.what, self.min, self.max
            ))
        }
    }

    /// `Ok` when `name` has `min`–`max` characters, all printable ASCII (no spaces), else
    /// the explanation.
    pub fn check_name(&self, name: &str) -> Result<(), String> {
        let n = name.chars().count();
        if !name.chars().all(|c| c.is_ascii_graphic()) {
            Err(format!(
                "{} `{name}` must be printable ASCII without spaces",
                self.what
            ))
        } else if !(self.min as usize..=self.max as usize).contains(&n) {
            Err(format!(
                "{} `{name}` has {n} characters: it must have {} to {}",
                self.what, self.min, self.max
            ))
        } else {
            Ok(())
        }
    }
}

/// An address parameter: its placeholder, help, and what to say when the other family is
/// given.
#[derive(Debug, Clone, Copy)]
pub struct AddrSpec {
    /// Placeholder, e.g. `<ipv4-address>`.
    pub word: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Explanation when an address of the other family is given.
    pub other_family: &'static str,
}

/// One keyword of a choice and the value it stands for.
#[derive(Debug, Clone, Copy)]
pub struct Kw<T> {
    /// The keyword (lower case).
    pub word: &'static str,
    /// Help text (unused when not listed).
    pub help: &'static str,
    /// The value chosen by this keyword.
    pub value: T,
    /// Listed by `?` and matched by abbreviation; an unlisted keyword must be typed in full
    /// (used for words that are recognized only to be refused with a precise message).
    pub listed: bool,
}

/// A listed keyword.
pub const fn kw<T>(word: &'static str, help: &'static str, value: T) -> Kw<T> {
    Kw {
        word,
        help,
        value,
        listed: true,
    }
}

/// A keyword that is recognized (typed in full) but not offered.
pub const fn unlisted<T>(word: &'static str, value: T) -> Kw<T> {
    Kw {
        word,
        help: "",
        value,
        listed: false,
    }
}

/// The cursor: the tokens of a line, the position, and what was acceptable there.
#[derive(Debug)]
pub struct Cursor<'a> {
    line: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    end_column: usize,
    expected: Vec<HelpItem>,
}

impl<'a> Cursor<'a> {
    /// A cursor at the first token of `line`.
    pub fn new(line: &'a str) -> Self {
        let (tokens, end_column) = tokenize(line);
        Self {
            line,
            tokens,
            pos: 0,
            end_column,
            expected: Vec::new(),
        }
    }

    /// Whether every token has been consumed.
    pub fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Column of the current token, or just past the line at its end.
    pub fn column(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.end_column, |t| t.column)
    }

    /// Column of the token consumed last (the first column when none was).
    pub fn last_column(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(1, |t| t.column)
    }

    /// The words that were acceptable at the current position so far.
    pub fn expected(&self) -> &[HelpItem] {
        &self.expected
    }

    /// An error of `kind` with its caret under the token consumed last.
    pub fn refuse_last(&self, kind: ErrorKind, detail: impl Into<String>) -> CommandError {
        CommandError::new(kind, self.last_column(), detail)
    }

    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn advance(&mut self) {
        self.pos += 1;
        self.expected.clear();
    }

    fn expect(&mut self, word: String, help: &str) {
        if !self.expected.iter().any(|e| e.word == word) {
            self.expected.push(HelpItem {
                word,
                help: help.to_owned(),
            });
        }
    }

    fn expected_list(&self) -> String {
        let words: Vec<&str> = self.expected.iter().map(|e| e.word.as_str()).collect();
        words.join(", ")
    }

    fn incomplete(&self) -> CommandError {
        CommandError::new(
            ErrorKind::Incomplete,
            self.end_column,
            format!(
                "the command continues with one of: {}",
                self.expected_list()
            ),
        )
    }

    fn wrong(&self, detail: String) -> CommandError {
        CommandError::new(ErrorKind::WrongParameter, self.column(), detail)
    }

    /// The value of the keyword at the cursor, one of `table`.
    pub fn keyword<T: Copy>(&mut self, table: &[Kw<T>]) -> Result<T, CommandError> {
        match self.opt_keyword(table)? {
            Some(v) => Ok(v),
            None if self.at_end() => Err(self.incomplete()),
            None => Err(CommandError::new(
                ErrorKind::Unrecognized,
                self.column(),
                format!(
                    "`{}` is not valid here; expected one of: {}",
                    self.peek().map_or("", |t| t.text),
                    self.expected_list()
                ),
            )),
        }
    }

    /// Like [`Self::keyword`], but a missing or different word is `None` (nothing consumed).
    /// Keywords match case-insensitively; an exact match wins, else a unique prefix of a
    /// listed keyword; a prefix of several is ambiguous.
    pub fn opt_keyword<T: Copy>(&mut self, table: &[Kw<T>]) -> Result<Option<T>, CommandError> {
        for k in table.iter().filter(|k| k.listed) {
            self.expect(k.word.to_owned(), k.help);
        }
        let Some(tok) = self.peek() else {
            return Ok(None);
        };
        let word = tok.text.to_ascii_lowercase();
        if let Some(k) = table.iter().find(|k| k.word == word) {
            self.advance();
            return Ok(Some(k.value));
        }
        let candidates: Vec<&Kw<T>> = table
            .iter()
            .filter(|k| k.listed && k.word.starts_with(&word))
            .collect();
        match candidates.as_slice() {
            [] => Ok(None),
            [k] => {
                let v = k.value;
                self.advance();
                Ok(Some(v))
            }
            many => Err(CommandError::new(
                ErrorKind::Ambiguous,
                tok.column,
                format!(
                    "`{}` abbreviates several keywords: {}",
                    tok.text,
                    many.iter().map(|k| k.word).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// A required integer in `limit`, converted to `T`.
    pub fn int<T: TryFrom<u32>>(&mut self, limit: &Limit, help: &str) -> Result<T, CommandError> {
        match self.opt_int(limit, help)? {
            Some(v) => Ok(v),
            None => Err(self.incomplete()),
        }
    }

    /// An optional integer in `limit`: `None` at the end of the line; any other word must
    /// be such an integer.
    pub fn opt_int<T: TryFrom<u32>>(
        &mut self,
        limit: &Limit,
        help: &str,
    ) -> Result<Option<T>, CommandError> {
        self.expect(limit.placeholder(), help);
        let Some(tok) = self.peek() else {
            return Ok(None);
        };
        if tok.text.is_empty() || !tok.text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.wrong(format!(
                "{}: `{}` is not an integer (expected {})",
                limit.what,
                tok.text,
                limit.placeholder()
            )));
        }
        // All digits: anything longer than u64 is out of every range.
        let value = tok.text.parse::<u64>().unwrap_or(u64::MAX);
        limit
            .check_shown(value, tok.text)
            .map_err(|d| self.wrong(d))?;
        let v = u32::try_from(value)
            .ok()
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| self.wrong(format!("{} {value} is too large", limit.what)))?;
        self.advance();
        Ok(Some(v))
    }

    /// A required IPv4 address.
    pub fn ipv4(&mut self, spec: &AddrSpec) -> Result<Ipv4Addr, CommandError> {
        self.addr(spec, |a| match a {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
    }

    /// A required IPv6 address.
    pub fn ipv6(&mut self, spec: &AddrSpec) -> Result<Ipv6Addr, CommandError> {
        self.addr(spec, |a| match a {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        })
    }

    fn addr<A>(
        &mut self,
        spec: &AddrSpec,
        family: impl Fn(IpAddr) -> Option<A>,
    ) -> Result<A, CommandError> {
        self.expect(spec.word.to_owned(), spec.help);
        let Some(tok) = self.peek() else {
            return Err(self.incomplete());
        };
        match tok.text.parse::<IpAddr>() {
            Ok(a) => match family(a) {
                Some(a) => {
                    self.advance();
                    Ok(a)
                }
                None => Err(self.wrong(format!("`{}`: {}", tok.text, spec.other_family))),
            },
            Err(_) => Err(self.wrong(format!(
                "`{}` is not a valid {}",
                tok.text,
                spec.word.trim_matches(['<', '>'])
            ))),
        }
    }

    /// A required IPv6 prefix `ADDR/LEN` with no bits set past `LEN`.
    pub fn ipv6_prefix(&mut self, help: &str) -> Result<(Ipv6Addr, u8), CommandError> {
        self.expect("<ipv6-prefix/length>".to_owned(), help);
        let Some(tok) = self.peek() else {
            return Err(self.incomplete());
        };
        let Some((addr, len)) = tok.text.split_once('/') else {
            return Err(self.wrong(format!(
                "`{}` is not a prefix: write ADDRESS/LENGTH, e.g. 2001:db8::/32",
                tok.text
            )));
        };
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| self.wrong(format!("`{addr}` is not a valid IPv6 address")))?;
        let len_limit = Limit {
            what: "prefix length",
            min: 0,
            max: 128,
        };
        let len: u8 = if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) {
            let v = len.parse::<u64>().unwrap_or(u64::MAX);
            len_limit.check(v).map_err(|d| self.wrong(d))?;
            u8::try_from(v).map_err(|_| self.wrong(format!("prefix length {v} is too large")))?
        } else {
            return Err(self.wrong(format!("prefix length `{len}` is not an integer")));
        };
        let masked = nsflow_rtl::key::mask_prefix(addr.octets(), len);
        if masked != addr.octets() {
            return Err(self.wrong(format!(
                "`{}` has bits set past /{len}; the prefix is {}/{len}",
                tok.text,
                Ipv6Addr::from(masked)
            )));
        }
        self.advance();
        Ok((addr, len))
    }

    /// A required name of `limit.min`–`limit.max` printable ASCII characters, kept as typed
    /// (case-sensitive).
    pub fn name(&mut self, limit: &Limit, help: &str) -> Result<String, CommandError> {
        self.expect(format!("<{}>", limit.what), help);
        let Some(tok) = self.peek() else {
            return Err(self.incomplete());
        };
        limit.check_name(tok.text).map_err(|d| self.wrong(d))?;
        self.advance();
        Ok(tok.text.to_owned())
    }

    /// The rest of the line from the current word, as typed (inner whitespace kept), and
    /// its column; every word is consumed. An incomplete-command error at the end of the
    /// line.
    pub fn rest(
        &mut self,
        placeholder: &str,
        help: &str,
    ) -> Result<(&'a str, usize), CommandError> {
        self.expect(placeholder.to_owned(), help);
        let Some(tok) = self.peek() else {
            return Err(self.incomplete());
        };
        let start = self
            .line
            .char_indices()
            .nth(tok.column.saturating_sub(1))
            .map_or(self.line.len(), |(i, _)| i);
        let text = self.line.get(start..).unwrap_or_default().trim_end();
        self.pos = self.tokens.len();
        self.expected.clear();
        Ok((text, tok.column))
    }

    /// The end of the command: no word may follow.
    pub fn end(&mut self) -> Result<(), CommandError> {
        self.expect("<cr>".to_owned(), "end of the command");
        let Some(tok) = self.peek() else {
            return Ok(());
        };
        if self.expected.len() > 1 {
            Err(CommandError::new(
                ErrorKind::Unrecognized,
                tok.column,
                format!(
                    "`{}` is not valid here; expected one of: {}",
                    tok.text,
                    self.expected_list()
                ),
            ))
        } else {
            Err(CommandError::new(
                ErrorKind::TooManyParameters,
                tok.column,
                format!("the command is complete before `{}`", tok.text),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: [Kw<u8>; 4] = [
        kw("export", "e", 1),
        kw("enable", "n", 2),
        kw("exit-not", "x", 3),
        unlisted("5", 9),
    ];
    const PORT: Limit = Limit {
        what: "port",
        min: 1,
        max: 65535,
    };
    const V4: AddrSpec = AddrSpec {
        word: "<ipv4-address>",
        help: "h",
        other_family: "IPv6 needs `ipv6`",
    };

    #[test]
    fn keywords_exact_abbreviated_ambiguous_unlisted() {
        assert_eq!(Cursor::new("ENABLE").keyword(&WORDS), Ok(2));
        assert_eq!(Cursor::new("en").keyword(&WORDS), Ok(2));
        assert_eq!(Cursor::new("exp").keyword(&WORDS), Ok(1));
        let e = Cursor::new("ex").keyword(&WORDS).unwrap_err();
        assert_eq!((e.kind, e.column), (ErrorKind::Ambiguous, 1));
        assert_eq!(Cursor::new("5").keyword(&WORDS), Ok(9));
        let mut c = Cursor::new("  zz");
        let e = c.keyword(&WORDS).unwrap_err();
        assert_eq!((e.kind, e.column), (ErrorKind::Unrecognized, 3));
        assert!(
            e.detail.contains("export, enable, exit-not"),
            "{}",
            e.detail
        );
        assert_eq!(c.expected().len(), 3, "unlisted words are not offered");
        let e = Cursor::new("").keyword(&WORDS).unwrap_err();
        assert_eq!((e.kind, e.column), (ErrorKind::Incomplete, 1));
        assert_eq!(Cursor::new("zz").opt_keyword(&WORDS), Ok(None));
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(Cursor::new("65535").int::<u16>(&PORT, ""), Ok(65535));
        for bad in ["0", "65536", "99999999999999999999999", "+5", "-1", "x"] {
            let e = Cursor::new(bad).int::<u16>(&PORT, "").unwrap_err();
            assert_eq!(e.kind, ErrorKind::WrongParameter, "{bad}");
        }
        assert!(Cursor::new("70000")
            .int::<u16>(&PORT, "")
            .unwrap_err()
            .detail
            .contains("from 1 to 65535"));
        assert!(Cursor::new("99999999999999999999999")
            .int::<u16>(&PORT, "")
            .unwrap_err()
            .detail
            .starts_with("port 99999999999999999999999 is out of range"));
        let big = Limit {
            what: "big",
            min: 0,
            max: 1000,
        };
        let e = Cursor::new("300").int::<u8>(&big, "").unwrap_err();
        assert!(e.detail.contains("too large"));
        assert_eq!(Cursor::new("").opt_int::<u16>(&PORT, ""), Ok(None));
        assert_eq!(
            Cursor::new("").int::<u16>(&PORT, "").unwrap_err().kind,
            ErrorKind::Incomplete
        );
    }

    #[test]
    fn addresses_and_families() {
        assert_eq!(
            Cursor::new("10.0.0.1").ipv4(&V4),
            Ok(Ipv4Addr::new(10, 0, 0, 1))
        );
        let e = Cursor::new("::1").ipv4(&V4).unwrap_err();
        assert!(e.detail.contains("needs `ipv6`"));
        let e = Cursor::new("10.0.0.256").ipv4(&V4).unwrap_err();
        assert!(e.detail.contains("not a valid ipv4-address"));
        assert_eq!(
            Cursor::new("").ipv6(&V4).unwrap_err().kind,
            ErrorKind::Incomplete
        );
    }

    #[test]
    fn prefixes() {
        let p = Cursor::new("2001:db8::/32").ipv6_prefix("").unwrap();
        assert_eq!(p, ("2001:db8::".parse().unwrap(), 32));
        for bad in [
            "2001:db8::",
            "2001:db8::1/32",
            "2001:db8::/129",
            "x/3",
            "::/x",
            "::/",
        ] {
            let e = Cursor::new(bad).ipv6_prefix("").unwrap_err();
            assert_eq!(e.kind, ErrorKind::WrongParameter, "{bad}");
        }
        assert!(Cursor::new("")
            .ipv6_prefix("")
            .is_err_and(|e| e.kind == ErrorKind::Incomplete));
    }

    #[test]
    fn rest_of_the_line_as_typed() {
        let mut c = Cursor::new("a  b é  c\t ");
        assert_eq!(c.keyword(&[kw("a", "", ())]), Ok(()));
        assert_eq!(c.rest("<x>", ""), Ok(("b é  c", 4)));
        assert!(c.at_end());
        assert_eq!(c.end(), Ok(()));
        let e = Cursor::new(" ").rest("<x>", "").unwrap_err();
        assert_eq!((e.kind, e.column), (ErrorKind::Incomplete, 2));
    }

    #[test]
    fn names_and_end() {
        let l = Limit {
            what: "vpn-instance-name",
            min: 1,
            max: 3,
        };
        assert_eq!(Cursor::new("AbC").name(&l, ""), Ok("AbC".into()));
        assert!(Cursor::new("abcd").name(&l, "").is_err());
        assert!(Cursor::new("é").name(&l, "").is_err());
        assert!(Cursor::new("").name(&l, "").is_err());
        let mut c = Cursor::new("x");
        assert_eq!(c.end().unwrap_err().kind, ErrorKind::TooManyParameters);
        let mut c = Cursor::new("x");
        assert_eq!(c.opt_keyword(&WORDS), Ok(None));
        assert_eq!(c.end().unwrap_err().kind, ErrorKind::Unrecognized);
        assert_eq!(Cursor::new("  ").end(), Ok(()));
    }
}
