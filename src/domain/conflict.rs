//! Decisions that cross a colleague's (ARCHITECTURE §4): a decision carries
//! the triage state the reviewer saw when deciding; a backend that can check
//! it applies the decision only if no one else decided the finding since,
//! and otherwise answers with what the finding holds now. The reviewer then
//! settles it: keep theirs over the colleague's, or take the colleague's.

use super::enums::{TriageReason, TriageState};
use time::OffsetDateTime;

/// What a finding held on the backend when a reviewer's decision on it
/// arrived, decided by someone else since the reviewer last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageConflict {
    pub finding_id: i64,
    /// The finding's triage state on the backend.
    pub state: TriageState,
    pub reason: Option<TriageReason>,
    /// Who set it (untrusted text), if the backend knows.
    pub by: Option<String>,
    /// When, if the backend knows.
    pub at: Option<OffsetDateTime>,
}

/// Untriaged, reopened and provisionally ignored all mean "no reviewer has
/// decided": moving between them is nobody's decision to protect.
fn undecided(state: TriageState) -> bool {
    matches!(
        state,
        TriageState::Untriaged | TriageState::Reopened | TriageState::ProvisionallyIgnored
    )
}

/// Whether a decision setting `wanted`, made on a finding the reviewer saw
/// as `seen`, crosses someone else's decision now that the finding is
/// `now`. A colleague who set what the reviewer wants is no conflict.
pub fn crosses(seen: TriageState, now: TriageState, wanted: TriageState) -> bool {
    let same = |a: TriageState, b: TriageState| a == b || (undecided(a) && undecided(b));
    !same(seen, now) && !same(now, wanted)
}

/// A triage state as a sentence says it: "fixing", "ignored (false
/// positive)".
pub fn state_words(state: TriageState, reason: Option<TriageReason>) -> String {
    match (state, reason) {
        (TriageState::Ignored, Some(r)) => format!("ignored ({})", r.label().to_lowercase()),
        (s, _) => s.as_str().replace('_', " "),
    }
}

impl TriageConflict {
    /// What the colleague's decision was: "fixing", "ignored (false
    /// positive)".
    pub fn theirs(&self) -> String {
        state_words(self.state, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TriageState::*;

    #[test]
    fn only_a_decision_someone_else_made_since_crosses() {
        assert!(crosses(Untriaged, Ignored, Fixing), "the issue's case");
        assert!(!crosses(Untriaged, Untriaged, Fixing), "nothing changed");
        assert!(!crosses(Untriaged, Fixing, Fixing), "they set what I want");
        assert!(
            !crosses(Untriaged, ProvisionallyIgnored, Fixing),
            "Assistant's provisional ignore is no reviewer's decision"
        );
        assert!(!crosses(Reopened, Untriaged, Ignored));
        assert!(crosses(Ignored, Reopened, Fixing));
    }

    #[test]
    fn theirs_says_the_state_as_reviewers_do() {
        let conflict = TriageConflict {
            finding_id: 4,
            state: Ignored,
            reason: Some(TriageReason::FalsePositive),
            by: Some("ana".into()),
            at: None,
        };
        assert_eq!(conflict.theirs(), "ignored (false positive)");
    }
}
