//! What a recorded change did, said in words: the notice once it is in the
//! outbox, and the label undo uses. It travels with the effect that records
//! the change and comes back with the answer, as data, not as text.

use crate::domain::TriageReason;
use crate::tui::format::capitalise;

/// What a decision did to its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accepted,
    Rejected,
    Ignored(TriageReason),
    SetToFix,
    SetToReviewing,
    Reopened,
    Noted,
    /// Closed as the Assistant suggested, under a memory.
    ClosedSuggested,
}

impl Decision {
    fn verb(self) -> String {
        match self {
            Decision::Accepted => "accepted".into(),
            Decision::Rejected => "rejected".into(),
            Decision::Ignored(reason) => format!("ignored ({})", reason.label().to_lowercase()),
            Decision::SetToFix => "set to fix".into(),
            Decision::SetToReviewing => "set to reviewing".into(),
            Decision::Reopened => "reopened".into(),
            Decision::Noted => "noted".into(),
            Decision::ClosedSuggested => "closed as suggested under the memory".into(),
        }
    }
}

/// What happened to a memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryDone {
    /// A new memory about triage.
    Remembered,
    /// A new memory about fixes.
    GuidanceRemembered,
    /// An edited memory.
    Saved,
    MadeLive,
    Deleted,
}

impl MemoryDone {
    fn words(self) -> &'static str {
        match self {
            MemoryDone::Remembered => "remembered",
            MemoryDone::GuidanceRemembered => "fix guidance remembered",
            MemoryDone::Saved => "memory saved",
            MemoryDone::MadeLive => "memory made live",
            MemoryDone::Deleted => "memory deleted",
        }
    }
}

/// A recorded change: a decision on some findings, a memory, or both (the
/// memory perhaps applied to more findings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// The decision and how many findings it was asked for.
    pub decision: Option<(Decision, usize)>,
    pub memory: Option<MemoryDone>,
    /// Findings ignored under the memory.
    pub applied: usize,
}

impl Summary {
    pub fn decided(decision: Decision, findings: usize) -> Summary {
        Summary {
            decision: Some((decision, findings)),
            ..Summary::default()
        }
    }

    pub fn memory(done: MemoryDone) -> Summary {
        Summary {
            memory: Some(done),
            ..Summary::default()
        }
    }

    /// As the status bar says it once recorded: "Accepted 1 finding",
    /// "Ignored (false positive) 1 finding · remembered · applied to 2
    /// findings", "Memory deleted".
    pub fn notice(&self) -> String {
        capitalise(&self.parts(true).join(" · "))
    }

    /// As undo names it: the decisions, and that a memory saved with them
    /// stays ("accepted 2 findings; the memory stays").
    pub fn undo_label(&self) -> String {
        // A memory that led the summary still names it.
        let memory = self.decision.is_none();
        let label = self.parts(memory).join(" · ");
        match self.memory {
            Some(_) => format!("{label}; the memory stays"),
            None => label,
        }
    }

    /// Whether Assistant's verdict was agreed or disagreed with.
    pub fn judges_verdict(&self) -> bool {
        matches!(
            self.decision,
            Some((Decision::Accepted | Decision::Rejected, _))
        )
    }

    fn parts(&self, with_memory: bool) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some((decision, n)) = self.decision {
            parts.push(format!("{} {}", decision.verb(), findings(n)));
        }
        if let Some(done) = self.memory.filter(|_| with_memory) {
            parts.push(if parts.is_empty() {
                capitalise(done.words())
            } else {
                done.words().to_string()
            });
        }
        if self.applied > 0 {
            parts.push(format!("applied to {}", findings(self.applied)));
        }
        parts
    }
}

fn findings(n: usize) -> String {
    if n == 1 {
        "1 finding".into()
    } else {
        format!("{n} findings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_and_undo_labels() {
        let accepted = Summary::decided(Decision::Accepted, 1);
        assert_eq!(accepted.notice(), "Accepted 1 finding");
        assert_eq!(accepted.undo_label(), "accepted 1 finding");
        assert!(accepted.judges_verdict());
        let fix = Summary::decided(Decision::SetToFix, 3);
        assert_eq!(fix.notice(), "Set to fix 3 findings");
        assert!(!fix.judges_verdict());

        let remembered = Summary {
            memory: Some(MemoryDone::Remembered),
            applied: 1,
            ..Summary::decided(Decision::Ignored(TriageReason::FalsePositive), 1)
        };
        assert_eq!(
            remembered.notice(),
            "Ignored (false positive) 1 finding · remembered · applied to 1 finding"
        );
        assert_eq!(
            remembered.undo_label(),
            "ignored (false positive) 1 finding · applied to 1 finding; the memory stays"
        );

        assert_eq!(
            Summary::memory(MemoryDone::Deleted).notice(),
            "Memory deleted"
        );
        assert_eq!(
            Summary::memory(MemoryDone::Remembered).notice(),
            "Remembered"
        );
        let alone = Summary {
            applied: 2,
            ..Summary::memory(MemoryDone::Saved)
        };
        assert_eq!(alone.notice(), "Memory saved · applied to 2 findings");
        assert_eq!(
            alone.undo_label(),
            "Memory saved · applied to 2 findings; the memory stays"
        );
    }
}
