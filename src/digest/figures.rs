//! The week's figures: the window they cover (`--since`), the findings
//! decided in it and how often the decision agreed with the AI's verdict,
//! the findings new in it, and what waits.

use super::rank::ByVerdict;
use crate::assistant::eval::human_verdict;
use crate::domain::Finding;
use serde::Serialize;
use std::collections::HashSet;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, Time};

/// The longest `--since` span: ten years.
const MAX_DAYS: i64 = 3650;

/// `--since` as written: a span back from now (`24h`, `7d`, `2w`) or a
/// date (from its midnight, UTC) or an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// A number of hours, days or weeks.
    Ago {
        count: i64,
        unit: SpanUnit,
    },
    At(OffsetDateTime),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanUnit {
    Hours,
    Days,
    Weeks,
}

impl SpanUnit {
    fn hours(self) -> i64 {
        match self {
            SpanUnit::Hours => 1,
            SpanUnit::Days => 24,
            SpanUnit::Weeks => 24 * 7,
        }
    }

    fn word(self, count: i64) -> &'static str {
        match (self, count) {
            (SpanUnit::Hours, 1) => "hour",
            (SpanUnit::Hours, _) => "hours",
            (SpanUnit::Days, 1) => "day",
            (SpanUnit::Days, _) => "days",
            (SpanUnit::Weeks, 1) => "week",
            (SpanUnit::Weeks, _) => "weeks",
        }
    }
}

impl Default for Since {
    fn default() -> Since {
        Since::Ago {
            count: 7,
            unit: SpanUnit::Days,
        }
    }
}

impl Since {
    /// Reads `24h`, `7d`, `2w`, `2026-01-05` or `2026-01-05T08:00:00Z`; a
    /// time after `now` is refused.
    pub fn parse(text: &str, now: OffsetDateTime) -> Result<Since, String> {
        const EXPECTED: &str =
            "expected a span such as 24h, 7d or 2w, or a date such as 2026-01-05";
        let text = text.trim();
        let since = if let Some(unit) = text.chars().last().and_then(|c| match c {
            'h' | 'H' => Some(SpanUnit::Hours),
            'd' | 'D' => Some(SpanUnit::Days),
            'w' | 'W' => Some(SpanUnit::Weeks),
            _ => None,
        }) && text.len() > 1
            && text[..text.len() - 1].bytes().all(|b| b.is_ascii_digit())
        {
            let count: i64 = text[..text.len() - 1]
                .parse()
                .map_err(|_| format!("{text:?} is too long a span; {EXPECTED}"))?;
            if count == 0 {
                return Err(format!("{text:?} is an empty span; {EXPECTED}"));
            }
            if count.saturating_mul(unit.hours()) > MAX_DAYS * 24 {
                return Err(format!("{text:?} is more than ten years"));
            }
            Since::Ago { count, unit }
        } else if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
            Since::At(date.with_time(Time::MIDNIGHT).assume_utc())
        } else if let Some(at) = crate::wire::timestamp::parse(text).filter(|_| text.len() > 10) {
            Since::At(at)
        } else {
            return Err(format!("cannot read {text:?}: {EXPECTED}"));
        };
        if let Since::At(at) = since
            && at > now
        {
            return Err(format!("{text} is in the future"));
        }
        Ok(since)
    }

    /// The window from this point to `now`.
    pub fn window(&self, now: OffsetDateTime) -> Window {
        match *self {
            Since::Ago { count, unit } => Window {
                since: now - Duration::hours(count * unit.hours()),
                until: now,
                label: if count == 1 {
                    format!("the last {}", unit.word(1))
                } else {
                    format!("the last {count} {}", unit.word(count))
                },
            },
            Since::At(at) => Window {
                since: at,
                until: now,
                label: format!("since {}", day(at)),
            },
        }
    }
}

/// The stretch of time the figures cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
    /// "the last 7 days", "since 2026-01-05".
    pub label: String,
}

/// `2026-01-05` (UTC).
pub fn day(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// What happened in the window, and what waits at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Findings whose standing decision (ignored, to fix, reviewing) was
    /// made in the window.
    pub decided: usize,
    /// Of those, the ones the AI had judged and whose decision says true or
    /// false positive (as `sift assist eval` reads decisions).
    pub compared_with_ai: usize,
    /// … and of those, where the reviewer said what the AI said.
    pub agreed_with_ai: usize,
    /// Undecided findings (open or provisionally ignored) now.
    pub waiting: usize,
    pub waiting_by_verdict: ByVerdict,
    /// Findings first seen in the window.
    pub new: usize,
    /// Who decided how many, as far as this store's activity knows.
    pub deciders: Vec<Decider>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decider {
    pub name: String,
    pub decided: usize,
}

/// How the decided findings compare with the AI: (decided, compared,
/// agreed). Copies of a finding on several refs count once.
pub fn tally_decisions(decided: &[Finding]) -> (usize, usize, usize) {
    let mut seen = HashSet::new();
    let (mut count, mut compared, mut agreed) = (0, 0, 0);
    for f in decided {
        if !seen.insert((f.project.as_str(), f.match_based_id.as_str())) {
            continue;
        }
        count += 1;
        if let (Some(human), Some(ai)) = (human_verdict(f), f.verdict()) {
            compared += 1;
            agreed += usize::from(human == ai);
        }
    }
    (count, compared, agreed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 08:00 UTC);

    #[test]
    fn spans_and_dates_read_as_documented() {
        let window = |t: &str| Since::parse(t, NOW).unwrap().window(NOW);
        assert_eq!(window("7d").since, datetime!(2026-02-23 08:00 UTC));
        assert_eq!(window("7d").label, "the last 7 days");
        assert_eq!(window("24h").since, datetime!(2026-03-01 08:00 UTC));
        assert_eq!(window("1w").label, "the last week");
        assert_eq!(window("2W").since, datetime!(2026-02-16 08:00 UTC));
        assert_eq!(window("2026-02-01").since, datetime!(2026-02-01 00:00 UTC));
        assert_eq!(window("2026-02-01").label, "since 2026-02-01");
        assert_eq!(
            window("2026-03-01T12:00:00+02:00").since,
            datetime!(2026-03-01 10:00 UTC)
        );
        assert_eq!(Since::default().window(NOW), window("7d"));
    }

    #[test]
    fn nonsense_is_refused_with_what_is_expected() {
        for bad in [
            "",
            "d",
            "0d",
            "-3d",
            "7",
            "7 days",
            "7y",
            "1.5d",
            "2026-13-01",
            "next week",
            "99999999999999999999d",
        ] {
            let e = Since::parse(bad, NOW).unwrap_err();
            assert!(
                e.contains("expected") || e.contains("ten years"),
                "{bad:?}: {e}"
            );
        }
        assert!(
            Since::parse("3651d", NOW)
                .unwrap_err()
                .contains("ten years")
        );
        assert!(
            Since::parse("2026-03-03", NOW)
                .unwrap_err()
                .contains("in the future")
        );
    }
}
