//! Every integration test, in one binary (one link of SQLite, reqwest,
//! axum and ratatui instead of one per file). `cargo test NAME` runs the
//! tests whose path contains NAME, e.g. `cargo test console::` or
//! `cargo test identity`.

mod binary;
mod common;

mod api_client;
mod assist;
mod cli_api;
mod cli_errors;
mod cli_json;
mod cli_memories;
mod cli_triage;
mod colleagues;
mod colleagues_latency;
mod conformance;
mod console;
mod console_first_run;
mod demo;
mod digest;
mod e2e_tmux;
mod export;
mod identity;
mod import;
mod import_streamed;
mod index_load;
mod memories_http;
mod pull;
mod rules;
mod scopes;
mod security;
mod serve;
mod sync;
mod sync_http;
