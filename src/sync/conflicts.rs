//! How a conflict reads to the reviewer whose decision it stopped, for the
//! console and the command line alike.

use crate::domain::conflict::state_words;
use crate::domain::{TriageChange, TriageConflict};
use crate::show::human;
use time::OffsetDateTime;

/// "ana set this to fixing 3s before you set it to ignored; theirs reached
/// the server first". `decided_at` is when the reviewer decided. The
/// colleague's name is untrusted: make the sentence inert before it reaches
/// a terminal.
pub fn conflict_sentence(
    conflict: &TriageConflict,
    mine: &TriageChange,
    decided_at: OffsetDateTime,
) -> String {
    let who = conflict.by.as_deref().unwrap_or("someone else");
    let theirs = conflict.theirs();
    let yours = match mine.state {
        Some(state) => state_words(state, mine.reason),
        None => "a note".into(),
    };
    let gap = |d: time::Duration| human(std::time::Duration::try_from(d).unwrap_or_default());
    match conflict.at {
        Some(at) if at <= decided_at => format!(
            "{who} set this to {theirs} {} before you set it to {yours}; theirs reached the \
             server first",
            gap(decided_at - at)
        ),
        Some(at) => format!(
            "{who} set this to {theirs} {} after you set it to {yours}, but theirs reached the \
             server first",
            gap(at - decided_at)
        ),
        None => {
            format!("{who} set this to {theirs} before your decision ({yours}) reached the server")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TriageReason, TriageState};
    use time::macros::datetime;

    #[test]
    fn says_who_what_and_when() {
        let at = datetime!(2026-09-01 12:00:00 UTC);
        let mut conflict = TriageConflict {
            finding_id: 4,
            state: TriageState::Fixing,
            reason: None,
            by: Some("ana".into()),
            at: Some(at),
        };
        let mine = TriageChange {
            state: Some(TriageState::Ignored),
            reason: Some(TriageReason::FalsePositive),
            note: None,
        };
        assert_eq!(
            conflict_sentence(&conflict, &mine, at + time::Duration::seconds(3)),
            "ana set this to fixing 3s before you set it to ignored (false positive); theirs \
             reached the server first"
        );
        assert_eq!(
            conflict_sentence(&conflict, &mine, at - time::Duration::minutes(2)),
            "ana set this to fixing 2 min after you set it to ignored (false positive), but \
             theirs reached the server first"
        );
        conflict.by = None;
        conflict.at = None;
        assert_eq!(
            conflict_sentence(&conflict, &mine, at),
            "someone else set this to fixing before your decision (ignored (false positive)) \
             reached the server"
        );
    }
}
