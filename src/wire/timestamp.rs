//! Timestamps as the Semgrep API writes them.

use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Reads any RFC 3339 timestamp, and the `2020-11-18 23:28:12.391807+00:00`
/// form found in the spec's examples.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let with_t = text.replacen(' ', "T", 1);
    if let Ok(t) = OffsetDateTime::parse(&with_t, &Rfc3339) {
        return Some(t);
    }
    // A naive timestamp is taken as UTC.
    let naive = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(&with_t, &naive)
        .ok()
        .map(|t| t.assume_offset(UtcOffset::UTC))
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always UTC.
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.format(&fmt).unwrap_or_else(|_| EPOCH.into())
}

/// What [`format`] writes for the Unix epoch.
pub const EPOCH: &str = "1970-01-01T00:00:00.000000Z";

/// [`format`] of what [`parse`] reads in `text`, borrowed when `text` is
/// written that way already (most stored timestamps are); none when it
/// reads none.
pub fn reformat(text: &str) -> Option<Cow<'_, str>> {
    let at = parse(text)?;
    Some(match is_formatted(text) {
        true => Cow::Borrowed(text),
        false => Cow::Owned(format(at)),
    })
}

/// Whether `text` has the form [`format`] writes, with seconds below 60 (a
/// leap second is written otherwise).
fn is_formatted(text: &str) -> bool {
    const FORM: &[u8; 27] = b"0000-00-00T00:00:00.000000Z";
    let bytes = text.as_bytes();
    bytes.len() == FORM.len()
        && bytes.iter().zip(FORM).all(|(b, f)| match f {
            b'0' => b.is_ascii_digit(),
            _ => b == f,
        })
        && bytes[17] < b'6'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_the_api_uses() {
        let a = parse("2024-07-11T20:46:25.269650Z").unwrap();
        let b = parse("2024-07-11 20:46:25.269650+00:00").unwrap();
        let c = parse("2024-07-11T22:46:25.26965+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(format(a), "2024-07-11T20:46:25.269650Z");
        assert!(parse("2024-07-11T20:46:25").is_some());
        assert!(parse("yesterday").is_none());
    }

    #[test]
    fn reformats_only_what_is_not_written_as_format_writes_it() {
        let kept = "2024-07-11T20:46:25.269650Z";
        assert!(matches!(reformat(kept), Some(Cow::Borrowed(t)) if t == kept));
        for (text, written) in [
            (
                "2024-07-11T22:46:25.26965+02:00",
                "2024-07-11T20:46:25.269650Z",
            ),
            (
                " 2024-07-11T20:46:25.269650Z",
                "2024-07-11T20:46:25.269650Z",
            ),
            ("2024-06-30T23:59:60.000000Z", "2024-06-30T23:59:59.999999Z"),
        ] {
            let got = reformat(text).unwrap();
            assert!(matches!(got, Cow::Owned(_)), "{text}");
            assert_eq!(got, written, "{text}");
        }
        assert_eq!(reformat("2024-02-30T00:00:00.000000Z"), None);
        assert_eq!(format(OffsetDateTime::UNIX_EPOCH), EPOCH);
    }
}
