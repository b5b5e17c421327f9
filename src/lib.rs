//! sift: a terminal triage console for Semgrep findings.

pub mod assistant;
pub mod backend;
pub mod cli;
pub mod config;
pub mod demo;
pub mod digest;
pub mod domain;
pub mod export;
pub mod ids;
pub mod import;
pub mod net;
pub mod server;
pub mod service;
pub mod show;
pub mod store;
pub mod sync;
pub mod text;
pub mod tui;
pub mod wire;
