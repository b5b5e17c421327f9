//! What an import hands to a backend: the findings of one project and ref.

use super::finding::Finding;

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
    pub errors: Vec<ScanError>,
}
