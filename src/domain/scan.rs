//! What an import hands to a backend: the findings of one project and ref.

use super::finding::Finding;
use super::identity::Evidence;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanSource {
    /// A scanner's full result for one project and ref: findings missing from
    /// it are fixed, and people's triage decisions are kept.
    Scanner,
    /// Records exported from a Semgrep backend: their triage state is the
    /// backend's truth, and nothing is marked fixed for being absent.
    Platform,
}

/// A problem the scanner reported (the `errors` array of its output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub level: String,
    pub kind: String,
    pub message: String,
    pub path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScanResults {
    /// The file it came from, for messages.
    pub origin: String,
    pub source: ScanSource,
    pub project: String,
    pub repository_url: Option<String>,
    pub git_ref: String,
    pub findings: Vec<Finding>,
    /// For scanner output, what identifies each finding, in the same order
    /// as `findings`; empty for platform records, whose ids are the truth.
    pub identities: Vec<Identity>,
    pub errors: Vec<ScanError>,
    /// What sift noticed while reading (a source tree that holds none of the
    /// scanned files): the import goes on.
    pub warnings: Vec<String>,
    /// The scanned source tree (`--repo-root`), for the code around a
    /// finding later.
    pub source_root: Option<std::path::PathBuf>,
}

impl ScanResults {
    /// An error of the whole scan (a fatal error, naming no file) or of a
    /// rule (one that did not parse: its file is the rule's): such a scan
    /// cannot say what was fixed, so nothing it no longer reports is
    /// marked fixed.
    pub fn failed(&self) -> Option<&ScanError> {
        self.errors.iter().find(|e| {
            let kind = e.kind.to_ascii_lowercase();
            let of_a_rule = kind.contains("rule") || kind.contains("pattern");
            e.level.eq_ignore_ascii_case("error") && (e.path.is_none() || of_a_rule)
        })
    }

    /// The files the scanner reported an error in (a timeout, a parse
    /// error): what it found there before is not taken as fixed.
    pub fn files_in_error(&self) -> std::collections::HashSet<&str> {
        self.errors
            .iter()
            .filter_map(|e| e.path.as_deref())
            .collect()
    }

    /// What a reviewer is told about `failed`.
    pub fn failed_warning(&self) -> Option<String> {
        self.failed().map(|e| {
            format!(
                "the scan reported an error of the whole scan or of a rule ({}): nothing \
                 it no longer reports is marked fixed",
                e.kind
            )
        })
    }

    /// Records from a Semgrep backend (a pull's page, an API dump) of one
    /// project: no scanner identities, errors or source tree.
    pub fn platform(
        origin: impl Into<String>,
        project: impl Into<String>,
        repository_url: Option<String>,
        git_ref: impl Into<String>,
        findings: Vec<Finding>,
    ) -> ScanResults {
        ScanResults {
            origin: origin.into(),
            source: ScanSource::Platform,
            project: project.into(),
            repository_url,
            git_ref: git_ref.into(),
            findings,
            identities: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            source_root: None,
        }
    }
}

/// How a scanner's result is recognised on a rescan (`domain::identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub evidence: Evidence,
    /// The scanner wrote its own fingerprint (then `match_based_id` is it);
    /// otherwise the id is derived and only names a finding that is new.
    pub fingerprinted: bool,
}

/// What placing one scanner's result among the known findings needs
/// (`Candidate`'s parts and its identity), for a scan whose findings are
/// not all held at once: read again a chunk at a time, in the same order,
/// to be stored. The rule, path and message are shared by the results that
/// repeat them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultKey {
    pub rule: std::sync::Arc<str>,
    pub path: std::sync::Arc<str>,
    pub message: std::sync::Arc<str>,
    pub identity: Identity,
    /// The scanner's fingerprint, or the derived id numbered across the file.
    pub match_based_id: String,
}
