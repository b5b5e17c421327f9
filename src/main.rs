//! The `sift` command: parses the command line, runs it (`sift::cli`), and
//! turns the result into an exit code.

use clap::Parser;
use sift::cli::{Cli, Exit, errors};
use sift::text::inert_lines;
use std::process::ExitCode;

// A pull or an import allocates and frees millions of small strings, many
// on another thread than made them: glibc's allocator spent nearly a third
// of a first pull's time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match sift::cli::run(cli) {
        Ok(exit) => exit.into(),
        // A reader that stops early (`sift findings | head`) is not an error.
        Err(e) if errors::is_broken_pipe(&e) => Exit::Ok.into(),
        Err(e) => {
            // Line by line, each inert; later lines indented, so no text
            // from outside can pass for a line of sift's own.
            let message = format!("{e:#}");
            for (i, line) in inert_lines(&message).enumerate() {
                match i {
                    0 => eprintln!("sift: {line}"),
                    _ if line.is_empty() => eprintln!(),
                    _ => eprintln!("  {line}"),
                }
            }
            Exit::Error.into()
        }
    }
}
