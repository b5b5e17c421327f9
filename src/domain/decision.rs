//! What a reviewer's decision means for one finding (ARCHITECTURE §3): the single
//! place where "accept" and "reject" become triage states, reasons and notes.

use super::enums::{Status, TriageReason, TriageState, Verdict};

/// Semgrep refuses longer notes.
pub const MAX_NOTE_CHARS: usize = 3_000;

/// What the reviewer asked for, before it meets a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Agree with Assistant's verdict.
    Accept { comment: Option<String> },
    /// Disagree with Assistant's verdict. `reason` is used when rejecting a
    /// true positive (the finding is then ignored).
    Reject {
        reason: Option<TriageReason>,
        comment: Option<String>,
    },
    /// Set a state by hand: ignored (with a reason), reviewing, fixing or
    /// reopened.
    SetState {
        state: TriageState,
        reason: Option<TriageReason>,
        note: Option<String>,
    },
    /// Add a note without changing the state.
    Note(String),
}

/// What goes over the wire for one finding (v1 bulk triage).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TriageChange {
    pub state: Option<TriageState>,
    /// Only with `state == Ignored`.
    pub reason: Option<TriageReason>,
    pub note: Option<String>,
}

impl TriageChange {
    /// A short description for activity and messages.
    pub fn describe(&self) -> String {
        match (self.state, self.reason) {
            (Some(TriageState::Ignored), Some(r)) => {
                format!("ignored ({})", r.label().to_lowercase())
            }
            (Some(TriageState::Fixing), _) => "to fix".into(),
            (Some(s), _) => s.as_str().replace('_', " "),
            (None, _) => "note".into(),
        }
    }

    /// What a finding's history says of it: "set to ignored (false
    /// positive)", "set to fix", "added a note".
    pub fn activity(&self) -> String {
        match self.state {
            None => "added a note".into(),
            Some(TriageState::Fixing) => "set to fix".into(),
            Some(_) => format!("set to {}", self.describe()),
        }
    }

    /// The state change a history entry's words record, the inverse of
    /// [`TriageChange::activity`] (the `activity` table keeps only the
    /// words); `None` for entries that are not a reviewer's decision, such
    /// as a scan's "fixed: no longer reported". The note is not included.
    pub fn from_activity(action: &str) -> Option<TriageChange> {
        // Every change's words, worked out once: an export reads them back
        // for each entry of every finding's history.
        static ALL: std::sync::OnceLock<Vec<(String, TriageChange)>> = std::sync::OnceLock::new();
        let all = ALL.get_or_init(|| {
            let note = std::iter::once(TriageChange {
                state: None,
                reason: None,
                note: None,
            });
            let states = TriageState::ALL.iter().flat_map(|&state| {
                let reasons = if state == TriageState::Ignored {
                    TriageReason::ALL
                } else {
                    &[]
                };
                std::iter::once(None)
                    .chain(reasons.iter().copied().map(Some))
                    .map(move |reason| TriageChange {
                        state: Some(state),
                        reason,
                        note: None,
                    })
            });
            note.chain(states).map(|c| (c.activity(), c)).collect()
        });
        all.iter()
            .find(|(words, _)| words == action)
            .map(|(_, change)| change.clone())
    }
}

/// The finding facts a decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct DecisionContext<'a> {
    pub status: Status,
    pub triage_state: TriageState,
    pub verdict: Option<Verdict>,
    pub verdict_reason: &'a str,
}

/// Turns an intent into the change for one finding, or says why it makes no
/// sense for this finding.
pub fn resolve(intent: &Intent, f: DecisionContext<'_>) -> Result<TriageChange, String> {
    if f.status == Status::Fixed && !matches!(intent, Intent::Note(_)) {
        return Err("a fixed finding cannot be triaged".into());
    }
    let change = match intent {
        Intent::Accept { comment } => match f.verdict {
            None => return Err("Assistant gave no verdict to accept".into()),
            Some(Verdict::FalsePositive) => TriageChange {
                state: Some(TriageState::Ignored),
                reason: Some(TriageReason::FalsePositive),
                note: Some(join(&agreed_note(f.verdict_reason), comment.as_deref())),
            },
            Some(Verdict::TruePositive) => TriageChange {
                state: Some(TriageState::Fixing),
                reason: None,
                note: non_empty(comment.as_deref()),
            },
        },
        Intent::Reject { reason, comment } => match f.verdict {
            None => return Err("Assistant gave no verdict to reject".into()),
            Some(Verdict::FalsePositive) => TriageChange {
                state: Some(TriageState::Fixing),
                reason: None,
                note: Some(join("Disagreed with Assistant", comment.as_deref())),
            },
            Some(Verdict::TruePositive) => {
                let Some(comment) = non_empty(comment.as_deref()) else {
                    return Err("rejecting a true-positive verdict needs a comment".into());
                };
                TriageChange {
                    state: Some(TriageState::Ignored),
                    reason: Some(reason.unwrap_or(TriageReason::FalsePositive)),
                    note: Some(comment),
                }
            }
        },
        Intent::SetState {
            state,
            reason,
            note,
        } => {
            match state {
                TriageState::Ignored
                | TriageState::Reviewing
                | TriageState::Fixing
                | TriageState::Reopened => {}
                other => return Err(format!("{} is set by Semgrep, not by reviewers", other)),
            }
            TriageChange {
                state: Some(*state),
                reason: (*state == TriageState::Ignored)
                    .then(|| reason.unwrap_or(TriageReason::NoTriageReason)),
                note: non_empty(note.as_deref()),
            }
        }
        Intent::Note(text) => match non_empty(Some(text)) {
            Some(note) => TriageChange {
                state: None,
                reason: None,
                note: Some(note),
            },
            None => return Err("the note is empty".into()),
        },
    };
    if let Some(note) = &change.note {
        let n = note.chars().count();
        if n > MAX_NOTE_CHARS {
            return Err(format!(
                "the note is {n} characters; Semgrep accepts at most {MAX_NOTE_CHARS}"
            ));
        }
    }
    Ok(change)
}

/// How a finding stood before a decision, for undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Before {
    pub finding_id: i64,
    pub triage_state: TriageState,
    pub triage_reason: Option<TriageReason>,
    /// False for a note alone: there is no state to restore.
    pub changed_state: bool,
}

/// What recording decisions (and perhaps a memory change with them) did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decided {
    /// Outbox ids of what was recorded.
    pub outbox_ids: Vec<i64>,
    /// What was recorded, per finding.
    pub changes: Vec<(i64, TriageChange)>,
    /// Findings the intent made no sense for, and why.
    pub refused: Vec<(i64, String)>,
    pub before: Vec<Before>,
    /// How the decided findings show now.
    pub updates: Vec<RowUpdate>,
    /// The memory change recorded with the decisions, if any.
    pub memory_outbox_id: Option<i64>,
}

/// How a finding shows after its decisions, for the console's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowUpdate {
    pub id: i64,
    pub triage_state: TriageState,
    pub status: Status,
    pub pending: bool,
}

/// What undoing decisions did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Undone {
    /// Decisions dropped before they were sent.
    pub taken_back: usize,
    /// Decisions the backend may have had, answered by restoring ones.
    pub answered: usize,
    /// What could not be restored exactly.
    pub notes: Vec<String>,
    /// How the findings show now.
    pub updates: Vec<RowUpdate>,
}

impl Undone {
    /// "Undone: 3 decisions: …label…", and what was not restored exactly.
    pub fn message(&self, label: &str) -> String {
        let n = self.taken_back + self.answered;
        let mut message = format!(
            "Undone: {n} decision{}: {label}",
            if n == 1 { "" } else { "s" }
        );
        if self.answered > 0 {
            message += &format!(
                " · {} already sent, restored by {}",
                self.answered,
                if self.answered == 1 {
                    "another decision"
                } else {
                    "other decisions"
                }
            );
        }
        for n in &self.notes {
            message += &format!(" · {n}");
        }
        message
    }
}

fn agreed_note(reason: &str) -> String {
    if reason.trim().is_empty() {
        "Agreed with Assistant".into()
    } else {
        format!("Agreed with Assistant: {}", reason.trim())
    }
}

fn join(head: &str, comment: Option<&str>) -> String {
    match non_empty(comment) {
        Some(c) => format!("{head}\n\n{c}"),
        None => head.to_string(),
    }
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_words_read_back_as_the_change() {
        for &state in TriageState::ALL {
            for reason in std::iter::once(None).chain(TriageReason::ALL.iter().copied().map(Some)) {
                let reason = reason.filter(|_| state == TriageState::Ignored);
                let change = TriageChange {
                    state: Some(state),
                    reason,
                    note: None,
                };
                assert_eq!(
                    TriageChange::from_activity(&change.activity()),
                    Some(change.clone()),
                    "{}",
                    change.activity()
                );
            }
        }
        assert_eq!(
            TriageChange::from_activity("added a note").map(|c| c.state),
            Some(None)
        );
        assert_eq!(
            TriageChange::from_activity("fixed: no longer reported"),
            None
        );
    }

    fn ctx(verdict: Option<Verdict>) -> DecisionContext<'static> {
        DecisionContext {
            status: Status::Open,
            triage_state: TriageState::Untriaged,
            verdict,
            verdict_reason: "Constant input.",
        }
    }

    #[test]
    fn accepting_a_false_positive_ignores_it_with_the_reason() {
        let c = resolve(
            &Intent::Accept { comment: None },
            ctx(Some(Verdict::FalsePositive)),
        )
        .unwrap();
        assert_eq!(c.state, Some(TriageState::Ignored));
        assert_eq!(c.reason, Some(TriageReason::FalsePositive));
        assert_eq!(
            c.note.as_deref(),
            Some("Agreed with Assistant: Constant input.")
        );
        let c = resolve(
            &Intent::Accept {
                comment: Some("checked".into()),
            },
            ctx(Some(Verdict::FalsePositive)),
        )
        .unwrap();
        assert_eq!(
            c.note.as_deref(),
            Some("Agreed with Assistant: Constant input.\n\nchecked")
        );
    }

    #[test]
    fn rejecting_a_false_positive_sends_it_to_fix() {
        let c = resolve(
            &Intent::Reject {
                reason: None,
                comment: None,
            },
            ctx(Some(Verdict::FalsePositive)),
        )
        .unwrap();
        assert_eq!(c.state, Some(TriageState::Fixing));
        assert_eq!(c.reason, None);
        assert_eq!(c.note.as_deref(), Some("Disagreed with Assistant"));
    }

    #[test]
    fn true_positives() {
        let c = resolve(
            &Intent::Accept { comment: None },
            ctx(Some(Verdict::TruePositive)),
        )
        .unwrap();
        assert_eq!((c.state, c.note), (Some(TriageState::Fixing), None));
        let err = resolve(
            &Intent::Reject {
                reason: None,
                comment: Some("  ".into()),
            },
            ctx(Some(Verdict::TruePositive)),
        )
        .unwrap_err();
        assert!(err.contains("comment"));
        let c = resolve(
            &Intent::Reject {
                reason: Some(TriageReason::AcceptableRisk),
                comment: Some("internal only".into()),
            },
            ctx(Some(Verdict::TruePositive)),
        )
        .unwrap();
        assert_eq!(c.state, Some(TriageState::Ignored));
        assert_eq!(c.reason, Some(TriageReason::AcceptableRisk));
    }

    #[test]
    fn no_verdict_means_no_accept_or_reject() {
        assert!(resolve(&Intent::Accept { comment: None }, ctx(None)).is_err());
        let c = resolve(
            &Intent::SetState {
                state: TriageState::Ignored,
                reason: None,
                note: None,
            },
            ctx(None),
        )
        .unwrap();
        assert_eq!(c.reason, Some(TriageReason::NoTriageReason));
        let c = resolve(
            &Intent::SetState {
                state: TriageState::Reviewing,
                reason: Some(TriageReason::Duplicate),
                note: None,
            },
            ctx(None),
        )
        .unwrap();
        assert_eq!(c.reason, None, "a reason goes only with ignored");
    }

    #[test]
    fn refusals() {
        let fixed = DecisionContext {
            status: Status::Fixed,
            ..ctx(Some(Verdict::TruePositive))
        };
        assert!(resolve(&Intent::Accept { comment: None }, fixed).is_err());
        assert!(resolve(&Intent::Note("still a note".into()), fixed).is_ok());
        let set = |state| Intent::SetState {
            state,
            reason: None,
            note: None,
        };
        assert!(resolve(&set(TriageState::ProvisionallyIgnored), ctx(None)).is_err());
        assert!(resolve(&set(TriageState::Untriaged), ctx(None)).is_err());
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert!(
            resolve(&Intent::Note(long), ctx(None))
                .unwrap_err()
                .contains("3000")
        );
        assert!(resolve(&Intent::Note("  ".into()), ctx(None)).is_err());
    }
}
