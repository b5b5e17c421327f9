//! The JSON export: `{"export": {...}, "findings": [...]}`, one finding a
//! line, each with its history. Characters a terminal would act on or hide
//! are escaped (`text::escape_hidden_json`), as in every `--json` output.

use super::{Header, Records};
use anyhow::Result;
use serde::Serialize;
use std::io::Write;

pub fn write(
    header: &Header,
    records: &mut Records<'_>,
    out: &mut (impl Write + ?Sized),
) -> Result<()> {
    out.write_all(b"{\"export\": ")?;
    write_value(out, header)?;
    out.write_all(b",\n\"findings\": [")?;
    records.write_each(out, (b"\n  ", b",\n  "), |record, text| {
        write_value(text, record)
    })?;
    out.write_all(b"\n]}\n")?;
    Ok(())
}

/// `value` as JSON on one line, its hidden characters escaped.
pub(super) fn write_value(out: &mut (impl Write + ?Sized), value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string(value)?;
    out.write_all(crate::text::escape_hidden_json(&text).as_bytes())?;
    Ok(())
}
