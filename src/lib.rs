//! sift: a terminal triage console for Semgrep findings.

pub mod demo;
pub mod domain;
pub mod import;
pub mod store;
pub mod wire;
