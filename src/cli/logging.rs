//! Logs: the console's go to a file, never to the screen; `sift serve`'s
//! requests go to stderr. `SIFT_LOG=debug` for more, in both.

use crate::config;
use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("SIFT_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The console's log: `sift.log` in the XDG state directory (or the data
/// directory). Returns the guard that flushes it; none when it cannot be
/// written, which the console does without.
pub fn to_file(data_dir: &Path) -> Option<WorkerGuard> {
    let dir = config::log_dir(data_dir);
    std::fs::create_dir_all(&dir).ok()?;
    let file = tracing_appender::rolling::never(&dir, "sift.log");
    let (writer, guard) = tracing_appender::non_blocking(file);
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}

/// `sift serve` logs requests to stderr.
pub fn to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
