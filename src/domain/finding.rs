//! A finding with everything the detail pane shows.

use super::enums::*;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    /// The rule id, e.g. `python.django.security.injection.sql.sql-injection`.
    pub name: String,
    /// The rule's message as written (metavariables not filled in).
    pub message: String,
    pub category: Option<String>,
    pub confidence: Option<Confidence>,
    pub subcategories: Vec<String>,
    pub vulnerability_classes: Vec<String>,
    pub cwe_names: Vec<String>,
    pub owasp_names: Vec<String>,
    pub references: Vec<String>,
    pub technologies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Guidance {
    pub summary: String,
    pub instructions: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub tag: String,
    pub risk: Option<ComponentRisk>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleExplanation {
    pub summary: String,
    pub explanation: String,
}

/// What Semgrep Assistant, or sift's own, said about a finding. Every part
/// may be missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assistant {
    pub verdict: Option<Verdict>,
    /// Why: for a false positive (Semgrep's are empty for true positives).
    pub verdict_reason: String,
    /// sift's own Assistant judged it (Semgrep's judgements have none).
    pub judged_by: Option<Judge>,
    /// sift's own Assistant was asked and gave no verdict: why.
    pub no_verdict: Option<String>,
    pub autofix_code: Option<String>,
    pub guidance: Option<Guidance>,
    pub component: Option<Component>,
    pub rule_explanation: Option<RuleExplanation>,
    /// sift's own Assistant wrote the guidance and fix: how and with what.
    pub fixed_by: Option<FixProvenance>,
    /// sift's own Assistant was asked for a fix and wrote none: why.
    pub no_fix: Option<String>,
}

/// Where one of sift's own Assistant's fixes came from and how far its
/// review pass trusts it.
#[derive(Debug, Clone, PartialEq)]
pub struct FixProvenance {
    /// None: guidance only, the model wrote no fix for these lines.
    pub confidence: Option<FixConfidence>,
    /// What the review pass found, in words.
    pub review: String,
    /// The matched lines the fix was written for (a fix for other code is
    /// stale).
    pub replaces: String,
    /// Who wrote it; `memories` are the guidance memories it followed.
    pub judge: Judge,
}

/// Who made one of sift's own Assistant's judgements, and with what.
#[derive(Debug, Clone, PartialEq)]
pub struct Judge {
    /// `openai`, `azure` or `anthropic`.
    pub provider: String,
    pub model: String,
    pub prompt_version: u32,
    pub at: OffsetDateTime,
    /// The memories that were in the prompt (their ids).
    pub memories: Vec<String>,
}

/// Source lines around the match, kept at import time because the tree may
/// not be there later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeContext {
    /// Line number of `lines[0]`.
    pub start_line: u32,
    pub lines: Vec<String>,
}

/// What a Semgrep backend records about a finding that sift only keeps and
/// serves again (from an API dump or pull).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlatformRecord {
    pub first_seen_scan_id: Option<i64>,
    pub state_updated_at: Option<OffsetDateTime>,
    pub sourcing_policy: Option<PolicyReference>,
    pub external_ticket: Option<ExternalTicket>,
}

/// The policy that brought a finding in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyReference {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub slug: Option<String>,
}

/// A ticket tracking a finding elsewhere (Jira, …).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExternalTicket {
    pub external_slug: Option<String>,
    pub id: Option<i64>,
    pub linked_issue_ids: Vec<i64>,
    pub url: Option<String>,
}

/// One entry of a finding's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub at: OffsetDateTime,
    pub actor: String,
    /// What happened, e.g. "set to ignored (false positive)" or "note".
    pub action: String,
    pub note: Option<String>,
    /// Recorded here, not yet acknowledged by the backend.
    pub pending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Backend id; 0 for a finding not stored yet.
    pub id: i64,
    pub project: String,
    pub repository_url: Option<String>,
    pub git_ref: String,
    /// Identity across scans and refs (Semgrep's match_based_id).
    pub match_based_id: String,
    pub syntactic_id: Option<String>,
    pub rule: Rule,
    /// The message for this match, metavariables filled in.
    pub message: String,
    pub severity: Severity,
    /// The rule's confidence; `None` when the rule does not say.
    pub confidence: Option<Confidence>,
    pub location: Location,
    pub line_of_code_url: Option<String>,
    pub state: ScanState,
    pub triage_state: TriageState,
    pub triage_reason: Option<TriageReason>,
    pub triage_comment: Option<String>,
    pub triaged_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub relevant_since: OffsetDateTime,
    pub assistant: Option<Assistant>,
    /// The rule's own fix for this match (semgrep's `fix`), code that
    /// replaces the matched text.
    pub rule_fix: Option<String>,
    /// What a Semgrep backend recorded that sift keeps and passes on.
    pub platform: PlatformRecord,
    pub code: Option<CodeContext>,
    pub activity: Vec<Activity>,
}

impl Finding {
    pub fn status(&self) -> Status {
        Status::derive(self.state, self.triage_state)
    }

    pub fn verdict(&self) -> Option<Verdict> {
        self.assistant.as_ref().and_then(|a| a.verdict)
    }
}

/// Where in the development lifecycle a ref sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// A pull or merge request ref.
    PreProduction,
    /// The project's primary branch.
    Production,
    /// Any other branch.
    Other,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 3] = [
        Lifecycle::PreProduction,
        Lifecycle::Production,
        Lifecycle::Other,
    ];

    pub fn of(git_ref: &str, primary_branch: &str) -> Lifecycle {
        if is_review_ref(git_ref) {
            Lifecycle::PreProduction
        } else if branch_name(git_ref) == branch_name(primary_branch) {
            Lifecycle::Production
        } else {
            Lifecycle::Other
        }
    }
}

/// `refs/pull/12/merge` (GitHub), `refs/merge-requests/7/head` (GitLab),
/// `refs/pull-requests/3/from` (Bitbucket) and their short forms.
pub fn is_review_ref(git_ref: &str) -> bool {
    let r = git_ref.strip_prefix("refs/").unwrap_or(git_ref);
    ["pull/", "merge-requests/", "pull-requests/", "mr/", "pr/"]
        .iter()
        .any(|p| r.starts_with(p))
}

fn branch_name(git_ref: &str) -> &str {
    git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_of_refs() {
        assert_eq!(
            Lifecycle::of("refs/pull/12/merge", "main"),
            Lifecycle::PreProduction
        );
        assert_eq!(
            Lifecycle::of("refs/merge-requests/7/head", "main"),
            Lifecycle::PreProduction
        );
        assert_eq!(
            Lifecycle::of("main", "refs/heads/main"),
            Lifecycle::Production
        );
        assert_eq!(
            Lifecycle::of("refs/heads/main", "main"),
            Lifecycle::Production
        );
        assert_eq!(Lifecycle::of("feature/x", "main"), Lifecycle::Other);
    }
}
