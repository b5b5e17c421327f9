//! Backlog tasks and their ranking: pure functions over the undecided
//! findings, so the order the digest promises (README, "The Monday
//! digest") is the order the tests check.
//!
//! Each undecided finding earns points:
//!
//! ```text
//! points = severity × confidence × verdict × component risk × age
//!   severity        critical 40, high 10, medium 3, low 1
//!   confidence      the rule's: high 1.0, medium 0.8, low 0.5, not stated 0.8
//!   verdict         true positive 1.0, not analysed 0.5, false positive 0.1
//!   component risk  high 2.0, neutral or not stated 1.0, low 0.5
//!   age             1 + (whole days waiting, at most 90) / 90, so 1.0 to 2.0
//! ```
//!
//! Findings become tasks a team acts on in one go: the findings of one
//! project and one vulnerability class (the rule's first, else the rule
//! itself) that the Assistant judged true positives or did not analyse
//! ("Fix the 12 SQL Injection findings in payments-api"; "Triage …" when
//! fewer than half of them are judged true positives), and, per project,
//! those it judged false positives ("Review the 40 findings the Assistant
//! judged false positives in payments-api": accepted in one go). A task's
//! score is the sum of its findings' points: a task grows with its size,
//! a critical finding weighs as much as forty low ones, a false positive a
//! tenth of a true one. Ties go to the most severe finding, then the larger
//! task, then the title. Copies of a finding on several refs count once.

use crate::domain::{ComponentRisk, Confidence, Finding, Severity, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Days of waiting after which age adds nothing more.
pub const AGE_CAP_DAYS: i64 = 90;

/// One undecided finding, reduced to what ranks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub project: String,
    /// The rule's first vulnerability class, if it names one.
    pub class: Option<String>,
    pub rule: String,
    pub severity: Severity,
    pub confidence: Option<Confidence>,
    pub verdict: Option<Verdict>,
    pub component_risk: Option<ComponentRisk>,
    /// Since when it has waited (Semgrep's `relevant_since`).
    pub waiting_since: OffsetDateTime,
}

impl Candidate {
    pub fn of(f: &Finding) -> Candidate {
        let assistant = f.assistant.as_ref();
        Candidate {
            project: f.project.clone(),
            class: f
                .rule
                .vulnerability_classes
                .iter()
                .map(|c| c.trim())
                .find(|c| !c.is_empty())
                .map(str::to_string),
            rule: f.rule.name.clone(),
            severity: f.severity,
            confidence: f.confidence.or(f.rule.confidence),
            verdict: f.verdict(),
            component_risk: assistant
                .and_then(|a| a.component.as_ref())
                .and_then(|c| c.risk),
            waiting_since: f.relevant_since,
        }
    }

    /// Whole days it has waited at `now` (never negative).
    pub fn days_waiting(&self, now: OffsetDateTime) -> i64 {
        (now - self.waiting_since).whole_days().max(0)
    }

    /// Its points, in thousandths (integers add up the same in any order).
    pub fn points(&self, now: OffsetDateTime) -> u64 {
        let age = 1.0 + self.days_waiting(now).min(AGE_CAP_DAYS) as f64 / AGE_CAP_DAYS as f64;
        let points = severity_weight(self.severity)
            * confidence_weight(self.confidence)
            * verdict_weight(self.verdict)
            * risk_weight(self.component_risk)
            * age;
        (points * 1000.0).round() as u64
    }
}

pub fn severity_weight(s: Severity) -> f64 {
    match s {
        Severity::Critical => 40.0,
        Severity::High => 10.0,
        Severity::Medium => 3.0,
        Severity::Low => 1.0,
    }
}

pub fn confidence_weight(c: Option<Confidence>) -> f64 {
    match c {
        Some(Confidence::High) => 1.0,
        Some(Confidence::Medium) | None => 0.8,
        Some(Confidence::Low) => 0.5,
    }
}

pub fn verdict_weight(v: Option<Verdict>) -> f64 {
    match v {
        Some(Verdict::TruePositive) => 1.0,
        None => 0.5,
        Some(Verdict::FalsePositive) => 0.1,
    }
}

pub fn risk_weight(r: Option<ComponentRisk>) -> f64 {
    match r {
        Some(ComponentRisk::High) => 2.0,
        Some(ComponentRisk::Neutral) | None => 1.0,
        Some(ComponentRisk::Low) => 0.5,
    }
}

/// What a team does with a task's findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// At least half are judged true positives: fix them.
    Fix,
    /// Mostly not analysed: decide what they are.
    Triage,
    /// Judged false positives: check and accept the verdicts in one go.
    ReviewFalsePositives,
}

/// Findings per severity, most severe first in what is said of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BySeverity {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

impl BySeverity {
    fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
        }
    }

    /// The most severe level present.
    pub fn highest(&self) -> Option<Severity> {
        [
            (self.critical, Severity::Critical),
            (self.high, Severity::High),
            (self.medium, Severity::Medium),
            (self.low, Severity::Low),
        ]
        .into_iter()
        .find(|(n, _)| *n > 0)
        .map(|(_, s)| s)
    }

    /// "3 critical, 9 high".
    pub fn describe(&self) -> String {
        [
            (self.critical, "critical"),
            (self.high, "high"),
            (self.medium, "medium"),
            (self.low, "low"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{n} {label}"))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// Findings per Assistant verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ByVerdict {
    pub true_positive: usize,
    pub false_positive: usize,
    /// Not analysed (or no verdict given).
    pub none: usize,
}

impl ByVerdict {
    pub fn add(&mut self, v: Option<Verdict>) {
        match v {
            Some(Verdict::TruePositive) => self.true_positive += 1,
            Some(Verdict::FalsePositive) => self.false_positive += 1,
            None => self.none += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.true_positive + self.false_positive + self.none
    }
}

/// A rule among a task's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    pub rule: String,
    pub findings: usize,
}

/// Findings a team can act on together, with why it ranks where it does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub kind: TaskKind,
    pub project: String,
    /// The vulnerability class the findings share (none for a review of
    /// false positives, or when the rule names no class).
    pub vulnerability_class: Option<String>,
    /// Most findings first.
    pub rules: Vec<RuleCount>,
    pub findings: usize,
    /// The sum of its findings' points, in thousandths.
    #[serde(skip)]
    pub points: u64,
    pub severities: BySeverity,
    pub verdicts: ByVerdict,
    pub high_risk_components: usize,
    pub high_confidence: usize,
    pub oldest_waiting_days: i64,
}

impl Task {
    /// The score as people read it: points, one decimal.
    pub fn score(&self) -> f64 {
        (self.points as f64 / 100.0).round() / 10.0
    }

    /// "Fix the 12 SQL Injection findings in payments-api".
    pub fn title(&self) -> String {
        let n = self.findings;
        let subject = match (&self.vulnerability_class, n) {
            (Some(class), 1) => format!("the {class} finding"),
            (Some(class), n) => format!("the {n} {class} findings"),
            (None, 1) => format!("the finding of {}", self.first_rule()),
            (None, n) => format!("the {n} findings of {}", self.first_rule()),
        };
        match self.kind {
            TaskKind::Fix => format!("Fix {subject} in {}", self.project),
            TaskKind::Triage => format!("Triage {subject} in {}", self.project),
            TaskKind::ReviewFalsePositives if n == 1 => format!(
                "Review the finding the Assistant judged a false positive in {}",
                self.project
            ),
            TaskKind::ReviewFalsePositives => format!(
                "Review the {n} findings the Assistant judged false positives in {}",
                self.project
            ),
        }
    }

    fn first_rule(&self) -> &str {
        self.rules.first().map_or("", |r| r.rule.as_str())
    }

    /// Why it ranks where it does, one factor a line.
    pub fn why(&self) -> Vec<String> {
        let mut why = vec![self.severities.describe()];
        let v = &self.verdicts;
        let mut judged = Vec::new();
        if v.true_positive > 0 {
            judged.push(format!(
                "{} judged {} by the Assistant",
                v.true_positive,
                plural(v.true_positive, "a true positive", "true positives")
            ));
        }
        if v.false_positive > 0 {
            judged.push(format!(
                "{} judged {} by the Assistant",
                v.false_positive,
                plural(v.false_positive, "a false positive", "false positives")
            ));
        }
        if v.none > 0 {
            judged.push(format!("{} not analysed", v.none));
        }
        why.push(judged.join(", "));
        if self.high_risk_components > 0 {
            why.push(format!(
                "{} in {}",
                self.high_risk_components,
                plural(
                    self.high_risk_components,
                    "a high-risk component",
                    "high-risk components"
                )
            ));
        }
        if self.high_confidence > 0 {
            why.push(format!(
                "{} from high-confidence rules",
                self.high_confidence
            ));
        }
        why.push(match self.oldest_waiting_days {
            0 => "new today".to_string(),
            1 => "oldest waiting 1 day".to_string(),
            d => format!("oldest waiting {d} days"),
        });
        why
    }

    /// The `sift findings` command that lists its findings (copies on other
    /// refs included), every name quoted for the shell.
    pub fn command(&self) -> String {
        let mut words = vec![
            "sift findings".to_string(),
            "--view all --status open,provisionally_ignored".to_string(),
            format!("--verdict {}", self.verdict_filter()),
            format!("--project {}", shell_quote(&self.project)),
        ];
        if self.kind != TaskKind::ReviewFalsePositives {
            words.extend(
                self.rules
                    .iter()
                    .map(|r| format!("--rule {}", shell_quote(&r.rule))),
            );
        }
        words.join(" ")
    }

    /// The console's filter line for it, when its names can be written in
    /// one (no spaces or commas in them).
    pub fn console_filter(&self) -> Option<String> {
        let plain = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == ',');
        let mut line = format!(
            "view:all status:open,provisionally_ignored verdict:{} project:{}",
            self.verdict_filter(),
            self.project
        );
        if !plain(&self.project) {
            return None;
        }
        if self.kind != TaskKind::ReviewFalsePositives {
            if !self.rules.iter().all(|r| plain(&r.rule)) {
                return None;
            }
            let rules: Vec<&str> = self.rules.iter().map(|r| r.rule.as_str()).collect();
            line.push_str(&format!(" rule:{}", rules.join(",")));
        }
        Some(line)
    }

    fn verdict_filter(&self) -> &'static str {
        match self.kind {
            TaskKind::ReviewFalsePositives => "fp",
            TaskKind::Fix | TaskKind::Triage => "tp,none",
        }
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `text` as one shell word: bare when it holds only characters no shell
/// reads specially, else in single quotes (a project or rule name is
/// untrusted, and a reader may paste the command).
pub fn shell_quote(text: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_./:@%+=-".contains(c);
    if !text.is_empty() && text.chars().all(bare) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Which task a finding belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TaskKey {
    project: String,
    /// False positives go in one task per project.
    false_positives: bool,
    /// The class (lowercase, so spellings meet), else `rule:` and the rule.
    group: String,
}

impl TaskKey {
    fn of(c: &Candidate) -> TaskKey {
        let false_positives = c.verdict == Some(Verdict::FalsePositive);
        let group = if false_positives {
            String::new()
        } else {
            match &c.class {
                Some(class) => class.to_lowercase(),
                None => format!("rule:{}", c.rule),
            }
        };
        TaskKey {
            project: c.project.clone(),
            false_positives,
            group,
        }
    }
}

/// Every task the candidates make, best first (see the module's doc).
pub fn rank(candidates: &[Candidate], now: OffsetDateTime) -> Vec<Task> {
    let mut groups: BTreeMap<TaskKey, Vec<&Candidate>> = BTreeMap::new();
    for c in candidates {
        groups.entry(TaskKey::of(c)).or_default().push(c);
    }
    let mut tasks: Vec<Task> = groups
        .into_iter()
        .map(|(key, members)| task(&key, &members, now))
        .collect();
    tasks.sort_by(|a, b| {
        b.points
            .cmp(&a.points)
            .then(b.severities.highest().cmp(&a.severities.highest()))
            .then(b.findings.cmp(&a.findings))
            .then_with(|| a.title().cmp(&b.title()))
    });
    tasks
}

fn task(key: &TaskKey, members: &[&Candidate], now: OffsetDateTime) -> Task {
    let mut severities = BySeverity::default();
    let mut verdicts = ByVerdict::default();
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    let mut class: Option<&str> = None;
    let (mut points, mut high_risk, mut high_confidence, mut oldest) = (0, 0, 0, 0);
    for c in members {
        severities.add(c.severity);
        verdicts.add(c.verdict);
        *rules.entry(c.rule.as_str()).or_default() += 1;
        points += c.points(now);
        high_risk += usize::from(c.component_risk == Some(ComponentRisk::High));
        high_confidence += usize::from(c.confidence == Some(Confidence::High));
        oldest = oldest.max(c.days_waiting(now));
        // The spelling the first (alphabetically) finding uses, so the
        // title does not depend on the store's order.
        if let Some(name) = c.class.as_deref()
            && class.is_none_or(|seen| name < seen)
        {
            class = Some(name);
        }
    }
    let mut rules: Vec<RuleCount> = rules
        .into_iter()
        .map(|(rule, findings)| RuleCount {
            rule: rule.to_string(),
            findings,
        })
        .collect();
    rules.sort_by(|a, b| b.findings.cmp(&a.findings).then(a.rule.cmp(&b.rule)));
    let kind = if key.false_positives {
        TaskKind::ReviewFalsePositives
    } else if verdicts.true_positive * 2 >= members.len() {
        TaskKind::Fix
    } else {
        TaskKind::Triage
    };
    Task {
        kind,
        project: key.project.clone(),
        vulnerability_class: (!key.false_positives)
            .then(|| class.map(str::to_string))
            .flatten(),
        rules,
        findings: members.len(),
        points,
        severities,
        verdicts,
        high_risk_components: high_risk,
        high_confidence,
        oldest_waiting_days: oldest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 08:00 UTC);

    fn candidate(project: &str, class: Option<&str>, severity: Severity) -> Candidate {
        Candidate {
            project: project.into(),
            class: class.map(str::to_string),
            rule: format!("rule.{}", class.unwrap_or("none").to_lowercase()),
            severity,
            confidence: Some(Confidence::High),
            verdict: Some(Verdict::TruePositive),
            component_risk: None,
            waiting_since: NOW,
        }
    }

    #[test]
    fn points_follow_the_documented_formula() {
        let mut c = candidate("p", Some("SQL Injection"), Severity::High);
        assert_eq!(c.points(NOW), 10_000, "high, high confidence, TP, new");
        c.confidence = None;
        c.verdict = None;
        c.component_risk = Some(ComponentRisk::High);
        c.waiting_since = NOW - Duration::days(45);
        // 10 × 0.8 × 0.5 × 2 × 1.5
        assert_eq!(c.points(NOW), 12_000);
        c.waiting_since = NOW - Duration::days(400);
        assert_eq!(c.points(NOW), 16_000, "age is capped at 90 days");
        c.waiting_since = NOW + Duration::days(3);
        assert_eq!(c.days_waiting(NOW), 0, "a clock ahead is no negative age");
    }

    #[test]
    fn findings_group_by_project_and_class_and_false_positives_by_project() {
        let mut fp = candidate("pay", Some("XSS"), Severity::Low);
        fp.verdict = Some(Verdict::FalsePositive);
        let mut fp2 = candidate("pay", Some("SQL Injection"), Severity::Low);
        fp2.verdict = Some(Verdict::FalsePositive);
        let mut other_rule = candidate("pay", Some("sql injection"), Severity::High);
        other_rule.rule = "rule.formatted-sql".into();
        let list = vec![
            candidate("pay", Some("SQL Injection"), Severity::High),
            other_rule,
            candidate("web", Some("SQL Injection"), Severity::High),
            fp,
            fp2,
        ];
        let tasks = rank(&list, NOW);
        assert_eq!(tasks.len(), 3, "{tasks:#?}");
        assert_eq!(tasks[0].title(), "Fix the 2 SQL Injection findings in pay");
        assert_eq!(tasks[0].rules.len(), 2, "a class spans rules");
        assert_eq!(tasks[1].title(), "Fix the SQL Injection finding in web");
        assert_eq!(
            tasks[2].title(),
            "Review the 2 findings the Assistant judged false positives in pay"
        );
        assert_eq!(tasks[2].vulnerability_class, None);
    }

    #[test]
    fn a_critical_true_positive_in_a_high_risk_component_outranks_thirty_old_low_ones() {
        let mut critical = candidate("pay", Some("Code Injection"), Severity::Critical);
        critical.component_risk = Some(ComponentRisk::High);
        let mut list = vec![critical];
        for _ in 0..30 {
            let mut low = candidate("web", Some("Open Redirect"), Severity::Low);
            low.waiting_since = NOW - Duration::days(120);
            list.push(low);
        }
        let tasks = rank(&list, NOW);
        assert_eq!(tasks[0].project, "pay");
        assert_eq!(tasks[0].score(), 80.0);
        assert_eq!(tasks[1].score(), 60.0);
    }

    #[test]
    fn a_dozen_high_true_positives_outrank_one_critical_and_size_counts() {
        let mut list: Vec<Candidate> = (0..12)
            .map(|_| candidate("pay", Some("SQL Injection"), Severity::High))
            .collect();
        list.push(candidate("web", Some("Code Injection"), Severity::Critical));
        let tasks = rank(&list, NOW);
        assert_eq!(tasks[0].findings, 12);
        assert_eq!(tasks[1].findings, 1);
    }

    #[test]
    fn verdict_confidence_risk_and_age_each_move_a_task_up() {
        let base = candidate("a", Some("X"), Severity::Medium);
        type Weaken = fn(&mut Candidate);
        let variants: [(&str, Weaken); 4] = [
            ("verdict", |c| c.verdict = None),
            ("confidence", |c| c.confidence = Some(Confidence::Low)),
            ("risk", |c| c.component_risk = Some(ComponentRisk::Low)),
            ("age", |c| c.waiting_since = NOW),
        ];
        for (what, weaken) in variants {
            let mut weaker = base.clone();
            weaker.project = "b".into();
            weaker.waiting_since = NOW - Duration::days(10);
            let mut stronger = base.clone();
            stronger.waiting_since = NOW - Duration::days(10);
            weaken(&mut weaker);
            let tasks = rank(&[weaker, stronger], NOW);
            assert_eq!(tasks[0].project, "a", "{what} should rank a first");
        }
    }

    #[test]
    fn false_positives_weigh_a_tenth_so_only_many_of_them_make_a_task_worth_it() {
        let tp = candidate("a", Some("X"), Severity::High);
        let fps: Vec<Candidate> = (0..9)
            .map(|_| {
                let mut c = candidate("b", Some("X"), Severity::High);
                c.verdict = Some(Verdict::FalsePositive);
                c
            })
            .collect();
        let mut list = fps.clone();
        list.push(tp.clone());
        assert_eq!(rank(&list, NOW)[0].kind, TaskKind::Fix, "9 FPs < 1 TP");
        list.push(fps[0].clone());
        list.push(fps[0].clone());
        assert_eq!(
            rank(&list, NOW)[0].kind,
            TaskKind::ReviewFalsePositives,
            "11 FPs > 1 TP"
        );
    }

    #[test]
    fn mostly_unanalysed_findings_are_a_triage_task() {
        let mut list = vec![candidate("a", Some("X"), Severity::High)];
        for _ in 0..2 {
            let mut c = candidate("a", Some("X"), Severity::High);
            c.verdict = None;
            list.push(c);
        }
        let t = &rank(&list, NOW)[0];
        assert_eq!(t.kind, TaskKind::Triage);
        assert_eq!(t.title(), "Triage the 3 X findings in a");
        assert_eq!(
            t.why(),
            [
                "3 high",
                "1 judged a true positive by the Assistant, 2 not analysed",
                "3 from high-confidence rules",
                "new today"
            ]
        );
    }

    #[test]
    fn ties_break_by_severity_then_size_then_title_so_the_order_is_stable() {
        // One high finding weighs as much as ten low ones.
        let mut lows: Vec<Candidate> = (0..10)
            .map(|_| candidate("b", Some("Y"), Severity::Low))
            .collect();
        lows.push(candidate("a", Some("X"), Severity::High));
        let tasks = rank(&lows, NOW);
        assert_eq!(tasks[0].points, tasks[1].points);
        assert_eq!(tasks[0].project, "a", "the more severe first");
        let same = vec![
            candidate("b", Some("X"), Severity::High),
            candidate("a", Some("X"), Severity::High),
        ];
        let tasks = rank(&same, NOW);
        assert_eq!(tasks[0].project, "a");
    }

    #[test]
    fn commands_quote_untrusted_names() {
        let mut c = candidate("x; rm -rf ~", Some("X"), Severity::High);
        c.rule = "it's".into();
        let t = &rank(&[c], NOW)[0];
        assert_eq!(
            t.command(),
            "sift findings --view all --status open,provisionally_ignored --verdict tp,none \
             --project 'x; rm -rf ~' --rule 'it'\\''s'"
        );
        assert_eq!(
            t.console_filter(),
            None,
            "a name with spaces cannot be written"
        );
        let plain = &rank(&[candidate("acme/web", Some("X"), Severity::High)], NOW)[0];
        assert_eq!(
            plain.console_filter().as_deref(),
            Some(
                "view:all status:open,provisionally_ignored verdict:tp,none project:acme/web rule:rule.x"
            )
        );
        assert_eq!(shell_quote("acme/web"), "acme/web");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn a_rule_without_a_class_is_its_own_group() {
        let c = candidate("a", None, Severity::Medium);
        let t = &rank(&[c.clone(), c], NOW)[0];
        assert_eq!(t.title(), "Fix the 2 findings of rule.none in a");
    }
}
