//! sift's own Assistant: verdicts on findings Semgrep's Assistant never
//! sees (the embedded backend, `sift serve`), from the team's own AI
//! provider (ARCHITECTURE §7).
//!
//! - Nothing leaves the machine until a provider is configured; its key is
//!   read from an environment variable, never stored, printed or logged.
//! - A verdict is provisional: it never overrides a human decision, and a
//!   false-positive verdict makes an open finding provisionally ignored.
//! - The answer is always asked for against a schema and always checked
//!   here; anything else is no verdict, with the reason.
//! - Repository content is evidence between markers, never instructions;
//!   a secret's value is masked before it leaves.
//! - Answers are stored as they arrive, by the question that produced them.

pub mod config;
pub mod draft;
pub mod drafting;
pub mod eval;
#[cfg(feature = "faults")]
pub mod fake;
pub mod fix;
pub mod prompt;
pub mod provider;
pub mod reanalyse;
pub mod rule;
pub mod run;
pub mod semgrep;
pub mod verdict;

pub use config::{AssistantToml, NOT_CONFIGURED, ProviderKind, ProviderSettings};
pub use provider::Provider;
