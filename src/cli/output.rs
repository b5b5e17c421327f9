//! What the commands print for scripts: JSON.

use anyhow::Result;
use serde::Serialize;
use std::io::Write as _;

/// `value` as indented JSON.
pub fn to_pretty(value: &impl Serialize) -> Result<String> {
    Ok(serde_json::to_string_pretty(value)?)
}

/// `value` as JSON on one line.
pub fn to_line(value: &impl Serialize) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

/// Prints `value` as indented JSON on stdout.
pub fn print(value: &impl Serialize) -> Result<()> {
    let text = to_pretty(value)?;
    writeln!(std::io::stdout(), "{text}")?;
    Ok(())
}

/// What `--json` prints on stdout when a command fails (its message also
/// goes to stderr): `{"error": "…"}`, or, for the commands that list or
/// import, the usual shape holding nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `{"error"}`.
    Plain,
    /// `{"imported": [], "scanner_errors": [], "warnings": [], "error"}`.
    Import,
    /// `{"findings": [], "error"}`.
    Findings,
    /// `{"memories": [], "error"}`.
    Memories,
}

/// `{"error": "…"}`.
#[derive(Serialize)]
pub struct Failed<'a> {
    pub error: &'a str,
}

impl Failure {
    /// Prints the failure's JSON; a reader gone already changes nothing.
    pub fn print(self, message: &str) {
        let printed = match self {
            Failure::Plain => print(&Failed { error: message }),
            Failure::Import => print(&super::import::ImportOutput::failed(message)),
            Failure::Findings => print(&super::findings::FindingsFailed::new(message)),
            Failure::Memories => print(&super::memories::ListOutput::failed(message)),
        };
        let _ = printed;
    }
}
