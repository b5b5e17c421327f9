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
