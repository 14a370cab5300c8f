//! A configuration session: the current view, the candidate being edited and the running
//! configuration. Nothing takes effect before `commit`, which checks the whole candidate
//! and reports what changed ([`Diff`]) and what will not be exported ([`Warning`]).
//!
//! Two ways in: [`Session::feed_line`] for an interactive shell (one line at a time in the
//! current view, [`Session::prompt`], [`Session::help`], [`Session::complete`]), and
//! [`Session::execute_script`] for a configuration file (all or nothing).
//!
//! Interactively, leaving the configuration views (`quit` in the system view, `return`)
//! with uncommitted changes asks as VRP does ([`EXIT_QUESTION`]): `Y` commits and leaves,
//! `N` discards the changes and leaves, `C` stays. So the user view never holds an
//! uncommitted candidate, and `quit` there drops nothing. A file's `quit` and `return`
//! only move between views.
#![deny(clippy::indexing_slicing)]

use super::command::{parse_with, Command, Operation, Parsed, Shown, View};
use super::cursor::{Cursor, HelpItem};
use super::display::{render, render_view};
use super::error::{CommandError, ErrorKind, Errors, Location, VrpError};
use super::filter::filtered;
use super::filter::OutputFilter;
use super::lexer::is_comment;
use super::model::{
    AggregationSetting, ApplyError, Collector, Config, ExportChange, MplsAware, SystemSetting,
    Violation,
};
use super::resolve::{Diff, Warning};
use nsflow_rtl::AggregationMode;
use std::collections::BTreeMap;
use std::mem::discriminant;

/// The device name in prompts.
pub const HOSTNAME: &str = "nsflow";

/// VRP's question (two-stage commit mode) when the configuration views are left with
/// uncommitted changes; it is the prompt until answered.
pub const EXIT_QUESTION: &str = "Warning: Uncommitted configurations found. Are you sure to commit them before exiting? [Y(yes)/N(no)/C(cancel)]:";

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
    /// cache`) and the filter of its output: the shell answers it.
    Operation(Operation, Option<OutputFilter>),
}

/// The result of a successful commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    /// What changed from the previous running configuration.
    pub diff: Diff,
    /// What the new running configuration will not export.
    pub warnings: Vec<Warning>,
    /// Whether the running configuration changed (it may with an empty diff: a setting no
    /// enabled mode uses).
    pub changed: bool,
}

impl CommitReport {
    /// What a shell prints after the commit: each warning, then `Info:` and what changed on
    /// the device and the exporters, or that nothing reached them, or that nothing changed.
    pub fn message(&self) -> String {
        let mut text: String = self
            .warnings
            .iter()
            .map(|w| format!("Warning: {w}\n"))
            .collect();
        let info = if !self.diff.is_empty() {
            self.diff.to_string().replace('\n', "; ")
        } else if self.changed {
            "the configuration was committed; no enabled aggregation mode uses what changed, so the device and the exporters are unchanged".to_owned()
        } else {
            self.diff.to_string()
        };
        text.push_str(&format!("Info: {info}.\n"));
        text
    }
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
    /// The last command that named each VPN instance in a host or deleted it, where a
    /// commit refusing an undeclared instance points.
    vpn_origin: BTreeMap<String, Location>,
    /// [`EXIT_QUESTION`] was asked: the next line is its answer.
    exit_asked: bool,
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
            vpn_origin: BTreeMap::new(),
            exit_asked: false,
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
        self.view.clone()
    }

    /// VRP's prompt for the current view: `<nsflow>`, `[~nsflow]`,
    /// `[~nsflow-aggregation-ipv6-MODE]`, `[~nsflow-vpn-instance-NAME]`; `*` instead of `~` while uncommitted changes exist;
    /// [`EXIT_QUESTION`] while it waits for its answer.
    pub fn prompt(&self) -> String {
        if self.exit_asked {
            return EXIT_QUESTION.to_owned();
        }
        let mark = if self.candidate == self.running {
            '~'
        } else {
            '*'
        };
        match &self.view {
            View::User => format!("<{HOSTNAME}>"),
            View::System => format!("[{mark}{HOSTNAME}]"),
            View::Aggregation(m) => format!("[{mark}{HOSTNAME}-aggregation-ipv6-{m}]"),
            View::VpnInstance(name) => format!("[{mark}{HOSTNAME}-vpn-instance-{name}]"),
        }
    }

    /// Executes one line in the current view. A command of an enclosing configuration view
    /// is run there and the session moves to that view (as VRP does); a command of the user
    /// view (`system-view`, `reset …`) runs without leaving the configuration views. On
    /// error nothing changes. After [`EXIT_QUESTION`] the line is its answer: `y`/`yes`
    /// commits and leaves (a refused commit stays), `n`/`no` discards the changes and
    /// leaves, `c`/`cancel` stays; anything else asks again.
    pub fn feed_line(&mut self, line: &str) -> Result<Response, Errors> {
        self.lines += 1;
        if self.exit_asked {
            return self.answer_exit(line);
        }
        self.execute(self.lines, line, true)
    }

    /// Forgets an unanswered or answered [`EXIT_QUESTION`]: the session stays in its view
    /// (a shell whose device refused the commit of a `Y` puts the session back so).
    pub fn cancel_exit(&mut self) {
        self.exit_asked = false;
    }

    fn answer_exit(&mut self, answer: &str) -> Result<Response, Errors> {
        let response = match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => {
                self.exit_asked = false;
                let report = self.commit()?;
                Response::Committed(report)
            }
            "n" | "no" => {
                self.exit_asked = false;
                self.candidate = self.running.clone();
                Response::Done
            }
            "c" | "cancel" => {
                self.exit_asked = false;
                return Ok(Response::Done);
            }
            _ => return Ok(Response::Done),
        };
        self.view = View::User;
        Ok(response)
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
            if let Err(Errors(e)) = scratch.execute(i + 1, line, false) {
                errors.extend(e);
            }
        }
        if !errors.is_empty() {
            return Err(Errors(errors));
        }
        let warnings = scratch.commit()?.warnings;
        let diff = Diff::between(&self.running, &scratch.running);
        let changed = scratch.running != self.running;
        scratch.view = self.view.clone();
        scratch.lines = self.lines;
        *self = scratch;
        Ok(CommitReport {
            diff,
            warnings,
            changed,
        })
    }

    /// Checks the candidate; if it passes it becomes the running configuration. On failure
    /// the running configuration is unchanged and the candidate is kept for fixing.
    pub fn commit(&mut self) -> Result<CommitReport, Errors> {
        if let Err(violations) = self.candidate.validate() {
            return Err(Errors(
                violations
                    .into_iter()
                    .map(|v| VrpError {
                        location: match &v {
                            Violation::MplsLabelNeedsMplsAware => self.mpls_origin.clone(),
                            Violation::UndeclaredVpnInstance { name, .. } => {
                                self.vpn_origin.get(name).cloned()
                            }
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
            changed: self.candidate != self.running,
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
            match parse_with(&view, &mut cur) {
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
        std::iter::successors(Some(self.view.clone()), View::parent).collect()
    }

    /// Runs one line; `interactive` asks [`EXIT_QUESTION`] where a file just moves.
    fn execute(
        &mut self,
        line_no: usize,
        line: &str,
        interactive: bool,
    ) -> Result<Response, Errors> {
        if line.trim().is_empty() || is_comment(line) {
            return Ok(Response::Done);
        }
        let (view, parsed) = self.resolve(line).map_err(|e| e.at_line(line_no, line))?;
        // VRP climbs back up to the system view at most: a user-view command leaves the
        // session where it is.
        if view != View::User {
            self.view = view;
        }
        self.run(
            parsed.command,
            Location {
                line: line_no,
                column: parsed.focus,
                text: line.to_owned(),
            },
            interactive,
        )
    }

    /// Moves to the user view, or with uncommitted changes in an interactive session asks
    /// [`EXIT_QUESTION`] first.
    fn leave(&mut self, interactive: bool) {
        if interactive && self.candidate != self.running {
            self.exit_asked = true;
        } else {
            self.view = View::User;
        }
    }

    /// The view a line runs in and its parse, or the most telling error: the one that got
    /// furthest, the current view's on a tie.
    fn resolve(&self, line: &str) -> Result<(View, Parsed), CommandError> {
        let mut best = match parse_with(&self.view, &mut Cursor::new(line)) {
            Ok(p) => return Ok((self.view.clone(), p)),
            Err(e) => e,
        };
        for view in self.chain().into_iter().skip(1) {
            match parse_with(&view, &mut Cursor::new(line)) {
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
    /// in or below (the user view is below every view, so only these can be).
    fn other_view_hint(&self, line: &str) -> Option<&'static str> {
        let chain = self.chain();
        [
            (View::System, "a command of the system view"),
            (
                View::Aggregation(AggregationMode::Prefix),
                "a command of an aggregation view: enter one with `ipv6 netstream aggregation MODE`",
            ),
            (
                View::VpnInstance(String::new()),
                "a command of a VPN instance view: enter one with `ip vpn-instance NAME`",
            ),
        ]
        .into_iter()
        .find(|(v, _)| {
            !chain.iter().any(|c| discriminant(c) == discriminant(v))
                && parse_with(v, &mut Cursor::new(line)).is_ok()
        })
        .map(|(_, hint)| hint)
    }

    fn run(
        &mut self,
        command: Command,
        loc: Location,
        interactive: bool,
    ) -> Result<Response, Errors> {
        let fail = |kind: ErrorKind, e: ApplyError| -> Errors {
            CommandError::new(kind, loc.column, e.to_string())
                .at_line(loc.line, &loc.text)
                .into()
        };
        match command {
            Command::SystemView => self.view = View::System,
            Command::Quit => match self.view {
                View::User => return Ok(Response::Closed),
                View::System => self.leave(interactive),
                View::Aggregation(_) | View::VpnInstance(_) => self.view = View::System,
            },
            Command::Return => self.leave(interactive),
            Command::Commit => return self.commit().map(Response::Committed),
            Command::Display(shown, filter) => {
                let text = match shown {
                    Shown::Running => render(&self.running),
                    Shown::Candidate => render(&self.candidate),
                    Shown::This => render_view(&self.running, &self.view),
                };
                return Ok(Response::Output(filtered(filter.as_ref(), text)));
            }
            Command::Operation(op, filter) => return Ok(Response::Operation(op, filter)),
            Command::EnterVpnInstance(name) => {
                self.candidate
                    .vpn_instances
                    .entry(name.clone())
                    .or_default();
                self.view = View::VpnInstance(name);
            }
            Command::DeleteVpnInstance(name) => {
                if self.candidate.vpn_instances.remove(&name).is_none() {
                    return Err(fail(
                        ErrorKind::NotConfigured,
                        ApplyError::NoSuchVpnInstance(name),
                    ));
                }
                self.vpn_origin.insert(name, loc);
            }
            Command::VpnInstance(name, s, typed) => {
                let vpn = self.candidate.vpn_instances.entry(name).or_default();
                check_undo(typed, vpn.settings(), &loc, |t| {
                    let mut probe = vpn.clone();
                    probe.apply(t);
                    probe.settings()
                })?;
                vpn.apply(s);
            }
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
            Command::System(s, typed) => {
                let system = &mut self.candidate.system;
                check_undo(typed, system.settings(), &loc, |t| {
                    let mut probe = system.clone();
                    probe.apply(t);
                    probe.settings()
                })?;
                system.apply(s);
                if s == SystemSetting::MplsAware(MplsAware::IpOnly) {
                    self.mpls_origin = Some(loc);
                }
            }
            Command::Aggregation(m, s, typed) => {
                let agg = self.candidate.aggregations.entry(m).or_default();
                check_undo(typed, agg.settings(), &loc, |t| {
                    let mut probe = agg.clone();
                    probe.apply(t);
                    probe.settings()
                })?;
                agg.apply(s);
                if (m, s) == (AggregationMode::MplsLabel, AggregationSetting::Enable(true)) {
                    self.mpls_origin = Some(loc);
                }
            }
            Command::Export(scope, change) => {
                if let ExportChange::AddHost(Collector {
                    vpn_instance: Some(name),
                    ..
                }) = &change
                {
                    self.vpn_origin.insert(name.clone(), loc.clone());
                }
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

/// `undo … VALUE`: the value typed must be the configured one (one of `current`, the
/// view's settings); otherwise nothing is undone and the error points at the value and
/// names the configured one (the setting that `apply`, the view's settings with the typed
/// value applied, has changed).
fn check_undo<S: Clone + PartialEq + std::fmt::Display, const N: usize>(
    typed: Option<S>,
    current: [S; N],
    loc: &Location,
    apply: impl FnOnce(S) -> [S; N],
) -> Result<(), Errors> {
    let Some(typed) = typed else {
        return Ok(());
    };
    if current.contains(&typed) {
        return Ok(());
    }
    let configured = current
        .into_iter()
        .zip(apply(typed.clone()))
        .find(|(now, then)| now != then)
        .map_or(String::new(), |(now, _)| {
            format!(" (the configuration is `{now}`)")
        });
    Err(CommandError::new(
        ErrorKind::NotConfigured,
        loc.column,
        format!("`{typed}` is not configured{configured}"),
    )
    .at_line(loc.line, &loc.text)
    .into())
}
