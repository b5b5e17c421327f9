//! Drafting a rule in rounds (`sift rules new`): ask the provider, check
//! the answer, try the rule on the examples with semgrep when it is there,
//! and ask again with what went wrong, a few rounds at most.

use super::provider::{Content, Provider};
use super::rule::{self, Draft, Feedback, Request, Rule};
use super::run::{Gate, ask_patiently};
use super::semgrep::{self, Trial};
use anyhow::Result;
use std::path::Path;

/// What one round gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The answer was not a rule: why.
    Unusable(String),
    /// The model declined, in its words; no further round is asked.
    Declined(String),
    /// A rule that failed its test.
    Failed(Trial),
    /// A rule that passed its test.
    Passed(Trial),
    /// A rule, not tested (no semgrep, or no example to test on).
    Untested,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// From 1.
    pub number: usize,
    pub outcome: Outcome,
}

/// What the rounds gave: the last rule drafted and its test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drafted {
    pub rule: Option<Rule>,
    /// The last rule's test, when it was tested.
    pub trial: Option<Trial>,
    pub rounds: Vec<Round>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Drafted {
    /// A rule to use: it passed, or nothing could test it.
    pub fn usable(&self) -> bool {
        self.rule.is_some() && self.trial.as_ref().is_none_or(Trial::passed)
    }
}

/// Drafts a rule in at most `rounds` rounds, testing each with `semgrep`
/// (when given and the request has an example); `heard` hears of each
/// round as it ends. An error is the provider failing after its retries,
/// or semgrep failing to run.
pub async fn draft(
    provider: &Provider,
    request: &Request,
    semgrep: Option<&Path>,
    rounds: usize,
    heard: &(dyn Fn(&Round) + Send + Sync),
) -> Result<Drafted> {
    let testable = request.bad.is_some() || request.good.is_some();
    let semgrep = semgrep.filter(|_| testable);
    let gate = Gate::default();
    let mut drafted = Drafted::default();
    let mut feedback: Option<Feedback> = None;
    for number in 1..=rounds.max(1) {
        let ask = rule::question(request, feedback.as_ref());
        let reply = ask_patiently(provider, &ask, &gate, &|_| {}).await?;
        drafted.input_tokens += reply.input_tokens;
        drafted.output_tokens += reply.output_tokens;
        let (outcome, next) = match rule::read(&reply.content, request) {
            Draft::Declined(words) => (Outcome::Declined(words), None),
            Draft::Unusable(why) => {
                let answer = match &reply.content {
                    Content::Text(text) => text.clone(),
                    _ => String::new(),
                };
                let feedback = Feedback::Unusable {
                    answer,
                    why: why.clone(),
                };
                (Outcome::Unusable(why), Some(feedback))
            }
            Draft::Rule(rule) => {
                let yaml = rule.to_yaml();
                let trial = match semgrep {
                    Some(semgrep) => Some(semgrep::try_rule(semgrep, &yaml, request).await?),
                    None => None,
                };
                drafted.rule = Some(*rule);
                drafted.trial = trial.clone();
                match trial {
                    None => (Outcome::Untested, None),
                    Some(t) if t.passed() => (Outcome::Passed(t), None),
                    Some(t) => {
                        let problems = t.problems.clone();
                        (
                            Outcome::Failed(t),
                            Some(Feedback::Failed { yaml, problems }),
                        )
                    }
                }
            }
        };
        let round = Round { number, outcome };
        heard(&round);
        drafted.rounds.push(round);
        match next {
            Some(next) => feedback = Some(next),
            None => break,
        }
    }
    Ok(drafted)
}
