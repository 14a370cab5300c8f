//! A configuration session: the current view, the candidate being edited and the running
//! configuration. Nothing takes effect before `commit`, which checks the whole candidate
//! and reports what changed ([`Diff`]) and what will not be exported ([`Warning`]).
//!
//! Two ways in: [`Session::feed_line`] for an interactive shell (one line at a time in the
//! current view, [`Session::prompt`], [`Session::help`], [`Session::complete`]), and
//! [`Session::execute_script`] for a configuration file (all or nothing).
#![deny(clippy::indexing_slicing)]

use super::command::{parse_with, Command, Operation, Parsed, Shown, View};
use super::cursor::{Cursor, HelpItem};
use super::display::render;
use super::error::{CommandError, ErrorKind, Errors, Location, VrpError};
use super::lexer::is_comment;
use super::model::{AggregationSetting, ApplyError, Config, MplsAware, SystemSetting, Violation};
use super::resolve::{Diff, Warning};
use nsflow_rtl::AggregationMode;
use std::mem::discriminant;

/// The device name in prompts.
pub const HOSTNAME: &str = "nsflow";

/// What a line did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Executed; nothing to show.
    Done,
    /// Text to show (`display …`).
    Output(String),
    /// `commit` succeeded.
    Committed(CommitReport),
    /// `quit` in the user view: the shell should end.
    Closed,
    /// A command about the device (`display ipv6 netstream …`, `reset ipv6 netstream
    /// cache`): the shell answers it.
    Operation(Operation),
}

/// The result of a successful commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    /// What changed from the previous running configuration.
    pub diff: Diff,
    /// What the new running configuration will not export.
    pub warnings: Vec<Warning>,
}

/// A session: views, candidate and running configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    running: Config,
    candidate: Config,
    view: View,
    lines: usize,
    /// The last command that can break A12 (`enable` in the `mpls-label` view, `mpls-aware`
    /// set to ip-only), where a commit refusing A12 points.
    mpls_origin: Option<Location>,
}

impl Default for Session {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl Session {
    /// A session in the user view whose running configuration (and candidate) is `running`.
    pub fn new(running: Config) -> Self {
        Self {
            candidate: running.clone(),
            running,
            view: View::User,
            lines: 0,
            mpls_origin: None,
        }
    }

    /// A session whose running configuration is the file `text`, or every error in it.
    pub fn from_script(text: &str) -> Result<(Self, CommitReport), Errors> {
        let mut s = Self::default();
        let report = s.execute_script(text)?;
        Ok((s, report))
    }

    /// The running configuration.
    pub fn running(&self) -> &Config {
        &self.running
    }

    /// The candidate configuration (equal to the running one when nothing is pending).
    pub fn candidate(&self) -> &Config {
        &self.candidate
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// VRP's prompt for the current view: `<nsflow>`, `[~nsflow]`,
    /// `[~nsflow-aggregation-ipv6-MODE]`; `*` instead of `~` while uncommitted changes exist.
    pub fn prompt(&self) -> String {
        let mark = if self.candidate == self.running {
            '~'
        } else {
            '*'
        };
        match self.view {
            View::User => format!("<{HOSTNAME}>"),
            View::System => format!("[{mark}{HOSTNAME}]"),
            View::Aggregation(m) => format!("[{mark}{HOSTNAME}-aggregation-ipv6-{m}]"),
        }
    }

    /// Executes one line in the current view. A command of an enclosing view is run there
    /// and the session moves to that view (as VRP does). On error nothing changes.
    pub fn feed_line(&mut self, line: &str) -> Result<Response, Errors> {
        self.lines += 1;
        self.execute(self.lines, line)
    }

    /// Runs a configuration file on top of the candidate, starting in the system view, then
    /// commits. All or nothing: with any error (every line is checked and every error
    /// reported, with its file line number) the session is unchanged. `commit` lines are
    /// allowed; the report covers everything the file changed.
    pub fn execute_script(&mut self, text: &str) -> Result<CommitReport, Errors> {
        let mut scratch = self.clone();
        scratch.view = View::System;
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Err(Errors(e)) = scratch.execute(i + 1, line) {
                errors.extend(e);
            }
        }
        if !errors.is_empty() {
            return Err(Errors(errors));
        }
        let warnings = scratch.commit()?.warnings;
        let diff = Diff::between(&self.running, &scratch.running);
        scratch.view = self.view;
        scratch.lines = self.lines;
        *self = scratch;
        Ok(CommitReport { diff, warnings })
    }

    /// Checks the candidate; if it passes it becomes the running configuration. On failure
    /// the running configuration is unchanged and the candidate is kept for fixing.
    pub fn commit(&mut self) -> Result<CommitReport, Errors> {
        if let Err(violations) = self.candidate.validate() {
            return Err(Errors(
                violations
                    .into_iter()
                    .map(|v| VrpError {
                        location: match v {
                            Violation::MplsLabelNeedsMplsAware => self.mpls_origin.clone(),
                            _ => None,
                        },
                        kind: ErrorKind::CommitCheck,
                        detail: v.to_string(),
                    })
                    .collect(),
            ));
        }
        let report = CommitReport {
            diff: Diff::between(&self.running, &self.candidate),
            warnings: self.candidate.warnings(),
        };
        self.running = self.candidate.clone();
        Ok(report)
    }

    /// What `?` shows after `partial` in the current view (and the views it falls back to):
    /// the keywords and values that may come next, `<cr>` when the command may end here. An
    /// error when `partial` is wrong before its end.
    pub fn help(&self, partial: &str) -> Result<Vec<HelpItem>, CommandError> {
        let mut items: Vec<HelpItem> = Vec::new();
        let mut first_error = None;
        for view in self.chain() {
            let mut cur = Cursor::new(partial);
            match parse_with(view, &mut cur) {
                Err(e) if e.kind != ErrorKind::Incomplete => {
                    first_error.get_or_insert(e);
                }
                _ => {
                    for e in cur.expected() {
                        if !items.iter().any(|i| i.word == e.word) {
                            items.push(e.clone());
                        }
                    }
                }
            }
        }
        match first_error {
            Some(e) if items.is_empty() => Err(e),
            _ => Ok(items),
        }
    }

    /// Completions of the last (partial) word of `partial`: the keywords it may become.
    pub fn complete(&self, partial: &str) -> Vec<String> {
        let head = partial.trim_end_matches(|c: char| !c.is_whitespace());
        // `head` is a prefix of `partial`: the rest is the last word.
        let word = partial
            .strip_prefix(head)
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.help(head)
            .unwrap_or_default()
            .into_iter()
            .filter(|i| i.is_keyword() && i.word.starts_with(&word))
            .map(|i| i.word)
            .collect()
    }

    /// The current view and the views it falls back to.
    fn chain(&self) -> Vec<View> {
        std::iter::successors(Some(self.view), |v| v.parent()).collect()
    }

    fn execute(&mut self, line_no: usize, line: &str) -> Result<Response, Errors> {
        if line.trim().is_empty() || is_comment(line) {
            return Ok(Response::Done);
        }
        let (view, parsed) = self.resolve(line).map_err(|e| e.at_line(line_no, line))?;
        self.view = view;
        self.run(
            parsed.command,
            Location {
                line: line_no,
                column: parsed.focus,
                text: line.to_owned(),
            },
        )
    }

    /// The view a line runs in and its parse, or the most telling error: the one that got
    /// furthest, the current view's on a tie.
    fn resolve(&self, line: &str) -> Result<(View, Parsed), CommandError> {
        let mut best = match parse_with(self.view, &mut Cursor::new(line)) {
            Ok(p) => return Ok((self.view, p)),
            Err(e) => e,
        };
        for view in self.chain().into_iter().skip(1) {
            match parse_with(view, &mut Cursor::new(line)) {
                Ok(p) => return Ok((view, p)),
                Err(e) if e.column > best.column => best = e,
                Err(_) => {}
            }
        }
        if best.kind == ErrorKind::Unrecognized {
            if let Some(hint) = self.other_view_hint(line) {
                best.detail = format!("{} ({hint})", best.detail);
            }
        }
        Err(best)
    }

    /// "a command of the … view", when the line is a command of a view the session is not
    /// in or below (the user view is below every view, so only these two can be).
    fn other_view_hint(&self, line: &str) -> Option<&'static str> {
        let chain = self.chain();
        [
            (View::System, "a command of the system view"),
            (
                View::Aggregation(AggregationMode::Prefix),
                "a command of an aggregation view: enter one with `ipv6 netstream aggregation MODE`",
            ),
        ]
        .into_iter()
        .find(|(v, _)| {
            !chain.iter().any(|c| discriminant(c) == discriminant(v))
                && parse_with(*v, &mut Cursor::new(line)).is_ok()
        })
        .map(|(_, hint)| hint)
    }

    fn run(&mut self, command: Command, loc: Location) -> Result<Response, Errors> {
        let fail = |kind: ErrorKind, e: ApplyError| -> Errors {
            CommandError::new(kind, loc.column, e.to_string())
                .at_line(loc.line, &loc.text)
                .into()
        };
        match command {
            Command::SystemView => self.view = View::System,
            Command::Quit => {
                self.view = match self.view {
                    View::User => return Ok(Response::Closed),
                    View::System => View::User,
                    View::Aggregation(_) => View::System,
                }
            }
            Command::Return => self.view = View::User,
            Command::Commit => return self.commit().map(Response::Committed),
            Command::Display(Shown::Running) => return Ok(Response::Output(render(&self.running))),
            Command::Display(Shown::Candidate) => {
                return Ok(Response::Output(render(&self.candidate)))
            }
            Command::Operation(op) => return Ok(Response::Operation(op)),
            Command::EnterAggregation(m) => {
                self.candidate.aggregations.entry(m).or_default();
                self.view = View::Aggregation(m);
            }
            Command::DeleteAggregation(m) => {
                if self.candidate.aggregations.remove(&m).is_none() {
                    return Err(fail(
                        ErrorKind::NotConfigured,
                        ApplyError::NoSuchAggregation(m),
                    ));
                }
            }
            Command::System(s) => {
                self.candidate.system.apply(s);
                if s == SystemSetting::MplsAware(MplsAware::IpOnly) {
                    self.mpls_origin = Some(loc);
                }
            }
            Command::Aggregation(m, s) => {
                self.candidate.aggregations.entry(m).or_default().apply(s);
                if (m, s) == (AggregationMode::MplsLabel, AggregationSetting::Enable(true)) {
                    self.mpls_origin = Some(loc);
                }
            }
            Command::Export(scope, change) => {
                let export = match scope {
                    None => &mut self.candidate.system.export,
                    Some(m) => &mut self.candidate.aggregations.entry(m).or_default().export,
                };
                change.apply_to(export).map_err(|e| match e {
                    ApplyError::TooManyHosts => fail(ErrorKind::LimitExceeded, e),
                    other => fail(ErrorKind::NotConfigured, other),
                })?;
            }
        }
        Ok(Response::Done)
    }
}
