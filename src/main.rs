//! The `sift` command: parses the command line, runs it (`sift::cli`), and
//! turns the result into an exit code.

use clap::Parser;
use sift::cli::{Cli, Exit, errors};
use sift::text::inert;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match sift::cli::run(cli) {
        Ok(exit) => exit.into(),
        // A reader that stops early (`sift findings | head`) is not an error.
        Err(e) if errors::is_broken_pipe(&e) => Exit::Ok.into(),
        Err(e) => {
            eprintln!("sift: {}", inert(&format!("{e:#}")));
            Exit::Error.into()
        }
    }
}
