//! How the AI does on the team's own decisions, changing nothing: on
//! findings a reviewer decided, the AI's verdict (asked, or the one it gave
//! before) against the reviewer's, per rule and overall.
//!
//! A reviewer's decision counts as "false positive" when the finding was
//! ignored as a false positive, and as "true positive" when it was set to
//! fix or ignored as an acceptable risk or for lack of time (the issue is
//! real). Reviewing, duplicates and ignores without a reason say neither.
//!
//! The figures follow Semgrep's definitions: *agreement* is the share of
//! findings where the AI and the reviewer say the same; the *false positive
//! confidence rate* (Semgrep's published "over 95% accurate") is, of the
//! findings the AI called false positives, the share the reviewer also
//! did; *recall* is, of the findings the reviewer called false positives,
//! the share the AI caught.

use crate::domain::{Finding, TriageReason, TriageState, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the reviewer's decision says of a finding, if anything.
pub fn human_verdict(f: &Finding) -> Option<Verdict> {
    match (f.triage_state, f.triage_reason) {
        (TriageState::Ignored, Some(TriageReason::FalsePositive)) => Some(Verdict::FalsePositive),
        (TriageState::Ignored, Some(TriageReason::AcceptableRisk | TriageReason::NoTime)) => {
            Some(Verdict::TruePositive)
        }
        (TriageState::Fixing, _) => Some(Verdict::TruePositive),
        _ => None,
    }
}

/// The counts for a rule or for all findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Findings with a reviewer's verdict and the AI's.
    pub compared: usize,
    pub agreed: usize,
    /// The AI said false positive.
    pub ai_false_positives: usize,
    /// … and so did the reviewer.
    pub confirmed_false_positives: usize,
    /// The reviewer said false positive.
    pub human_false_positives: usize,
    /// Asked, and the AI gave no verdict.
    pub no_verdict: usize,
    /// Not answered this time (the provider failed).
    pub unanswered: usize,
}

impl Tally {
    pub fn add(&mut self, human: Verdict, ai: Option<Verdict>) {
        let Some(ai) = ai else {
            self.no_verdict += 1;
            return;
        };
        self.compared += 1;
        if ai == human {
            self.agreed += 1;
        }
        if ai == Verdict::FalsePositive {
            self.ai_false_positives += 1;
            if human == Verdict::FalsePositive {
                self.confirmed_false_positives += 1;
            }
        }
        if human == Verdict::FalsePositive {
            self.human_false_positives += 1;
        }
    }

    /// Share of compared findings where both said the same.
    pub fn agreement(&self) -> Option<f64> {
        ratio(self.agreed, self.compared)
    }

    /// Semgrep's false positive confidence rate (precision of FP calls).
    pub fn fp_precision(&self) -> Option<f64> {
        ratio(self.confirmed_false_positives, self.ai_false_positives)
    }

    /// Share of the reviewer's false positives the AI called so.
    pub fn fp_recall(&self) -> Option<f64> {
        ratio(self.confirmed_false_positives, self.human_false_positives)
    }
}

fn ratio(n: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| n as f64 / of as f64)
}

/// Per rule and overall, with the tokens the evaluation cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    pub overall: Tally,
    pub rules: BTreeMap<String, Tally>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Evaluation {
    pub fn add(&mut self, rule: &str, human: Verdict, ai: Option<Verdict>) {
        self.overall.add(human, ai);
        self.rules
            .entry(rule.to_string())
            .or_default()
            .add(human, ai);
    }

    pub fn unanswered(&mut self, rule: &str) {
        self.overall.unanswered += 1;
        self.rules.entry(rule.to_string()).or_default().unanswered += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{FalsePositive as FP, TruePositive as TP};

    #[test]
    fn the_figures_follow_semgreps_definitions() {
        let mut t = Tally::default();
        // The AI calls four false positives; the reviewer agrees on three.
        for (human, ai) in [(FP, FP), (FP, FP), (FP, FP), (TP, FP), (FP, TP), (TP, TP)] {
            t.add(human, Some(ai));
        }
        t.add(TP, None);
        assert_eq!(t.compared, 6);
        assert_eq!(t.agreement(), Some(4.0 / 6.0));
        assert_eq!(t.fp_precision(), Some(3.0 / 4.0), "of the AI's FP calls");
        assert_eq!(t.fp_recall(), Some(3.0 / 4.0), "of the reviewer's FPs");
        assert_eq!(t.no_verdict, 1);
        assert_eq!(
            Tally::default().fp_precision(),
            None,
            "no FP calls: no figure"
        );
    }
}
