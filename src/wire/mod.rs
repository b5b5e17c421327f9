//! The Semgrep API's wire format, shared by imports, output, client and server.

pub mod timestamp;
pub mod v1;
pub mod v2;
