//! The Huawei VRP NetStream configuration language, as nsflow reads it (issue 6).
//!
//! A configuration is a sequence of VRP commands (`system-view`, `ipv6 netstream …`,
//! `ipv6 netstream aggregation MODE` and its view, `undo …`, `commit`). Nothing takes
//! effect before `commit`, which checks the whole candidate and returns a [`Diff`] of the
//! device programming and exports. The resolved views the rest of nsflow uses are
//! [`Config::engine_config`] (the device) and [`Config::export_configs`] (one
//! `nsflow_exporter::ExportConfig` per enabled mode, precedence applied).
//! The route file given on the command line is read by [`parse_routes`].
//! `docs/config.md` documents every command, range, default and error.
//!
//! | module | holds |
//! |---|---|
//! | [`lexer`] | tokens with columns, comment lines |
//! | [`cursor`] | keyword choice, typed values, expected words (errors and `?` help) |
//! | [`command`] | the grammar of each view: a line to a [`Command`] |
//! | [`model`] | the configuration data, ranges, `commit`'s whole-configuration check |
//! | [`precedence`] | which view's hosts and sources a mode uses (A1, A2) |
//! | [`resolve`] | engine configuration, exporter configurations, warnings, diff |
//! | [`session`] | views, candidate and running configuration, scripts, prompt, help |
//! | [`display`] | `display current-configuration`, `display this` |
//! | [`filter`] | output filters of the display commands: `\| include`, `\| exclude`, `\| begin` |
//! | [`error`] | VRP error messages with caret, for files and for a terminal |
//! | [`routes`] | the route/interface/label file |
//!
//! Entry points never panic, whatever the input.
//!
//! Configuration and route files are untrusted text: this module and each of its
//! submodules deny `clippy::indexing_slicing` (tokens are taken with `split`, positions
//! with `get`), and no text reaches an `unwrap` or `expect` outside the tests.
#![deny(clippy::indexing_slicing)]

pub mod command;
pub mod cursor;
pub mod display;
pub mod error;
pub mod filter;
pub mod lexer;
pub mod model;
pub mod precedence;
pub mod resolve;
pub mod routes;
pub mod session;

pub use command::{parse, Command, Operation, View};
pub use display::render;
pub use error::{ErrorKind, Errors, VrpError};
pub use filter::OutputFilter;
pub use model::Config;
pub use resolve::{Diff, Warning};
pub use routes::{parse_routes, RouteTables};
pub use session::{CommitReport, Response, Session};

/// Reads a configuration file (as [`Session::execute_script`] does, from an empty
/// configuration) and returns the committed configuration with the commit's warnings.
pub fn parse_config(text: &str) -> Result<(Config, Vec<Warning>), Errors> {
    let (session, report) = Session::from_script(text)?;
    Ok((session.running().clone(), report.warnings))
}

#[cfg(test)]
mod tests;
