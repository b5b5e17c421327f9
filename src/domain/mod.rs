//! Plain types and rules about findings and memories. No I/O.

pub mod conflict;
mod decision;
mod enums;
mod finding;
mod identity;
mod index;
mod memory;
pub mod patch;
mod path_scope;
mod query;
mod scan;

pub use conflict::TriageConflict;
pub use decision::*;
pub use enums::*;
pub use finding::*;
pub use identity::{Candidate, Evidence, PathMap, code_hash, match_results};
pub use index::*;
pub use memory::*;
pub use path_scope::PathScope;
pub use query::*;
pub use scan::*;
