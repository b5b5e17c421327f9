//! The command line: the clap tree, and one module per command. `run`
//! resolves what the commands share once (the [`Context`]), runs the
//! command, and turns what it did into an [`Exit`] code.

/// `println!` that hands a failed write back (a reader that stopped early,
/// `sift memories list | head`) instead of panicking; `main` treats a
/// broken pipe as success.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

pub mod assist;
pub mod conflicts;
pub mod console;
pub mod context;
pub mod digest;
pub mod errors;
pub mod exit;
pub mod export;
pub mod findings;
pub mod fix;
pub mod import;
pub mod logging;
pub mod memories;
pub mod names;
pub mod output;
pub mod reanalyse;
pub mod rules;
pub mod serve;
pub mod sync;
pub mod triage;
pub mod words;

pub use context::Context;
pub use exit::Exit;

use crate::config::{BackendFlags, BackendKind};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "sift",
    version,
    about = "A terminal triage console for Semgrep findings",
    long_about = "A terminal triage console for Semgrep findings.\n\n\
        With no command, sift opens the console on the configured backend \
        (the embedded one by default)."
)]
pub struct Cli {
    /// Directory of the embedded backend's store.
    #[arg(long, env = "SIFT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file (default: the XDG config dir's sift/config.toml).
    #[arg(long, env = "SIFT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Record decisions without sending them; `sift sync` sends them later.
    #[arg(long)]
    pub offline: bool,
    /// embedded (sift's own store, the default) or api (the Semgrep API:
    /// semgrep.dev, a single-tenant host, or `sift serve`).
    #[arg(long, env = "SIFT_BACKEND", value_enum, value_name = "KIND")]
    pub backend: Option<BackendKind>,
    /// The API's host (default: SEMGREP_URL, SEMGREP_APP_URL, or
    /// https://semgrep.dev). Implies --backend api.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The deployment's slug (default: the one the token reaches).
    /// Implies --backend api.
    #[arg(long, value_name = "SLUG")]
    pub deployment: Option<String>,
    /// A backend named in the config file's [profiles.NAME].
    #[arg(long, env = "SIFT_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    pub fn backend_flags(&self) -> BackendFlags {
        BackendFlags {
            backend: self.backend,
            url: self.url.clone(),
            deployment: self.deployment.clone(),
            profile: self.profile.clone(),
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Open the console on a fresh demo backlog.
    Demo(console::DemoArgs),
    /// Load semgrep JSON, SARIF or Semgrep API findings dumps.
    Import(import::ImportArgs),
    /// Print the findings the console would list.
    Findings(findings::FindingsArgs),
    /// Write the findings a selection shows, each with its decision
    /// history, as SARIF 2.1.0 (decisions as suppressions), JSON or CSV.
    Export(export::ExportArgs),
    /// Decide findings and send the decisions to the backend.
    Triage(triage::TriageArgs),
    /// Serve the embedded backend over HTTP with the Semgrep API's routes,
    /// so a team shares one backlog.
    Serve(serve::ServeArgs),
    /// List, add, edit and remove memories; changes go through the outbox.
    Memories {
        #[command(subcommand)]
        command: memories::MemoriesCommand,
    },
    /// Send the decisions and memory changes waiting in the outbox, fetch
    /// what changed, exit.
    Sync(sync::SyncArgs),
    /// List your decisions a colleague's crossed (they decided the finding
    /// first), and keep yours or take theirs.
    Conflicts(conflicts::ConflictsArgs),
    /// Ask the team's own AI provider for verdicts on the undecided
    /// findings that have none, then guidance and a rated fix for the true
    /// positives (see the config's [assistant]).
    Assist(Box<assist::AssistArgs>),
    /// Print a finding's fix as a unified diff that `git apply` takes in
    /// the source tree given at import (`sift import --repo-root`), asking
    /// the AI provider for one when it has none. Exit 3: no fix to print
    /// (stale, rated below min_fix_confidence, or none with --no-ask).
    Fix(fix::FixArgs),
    /// The top three backlog tasks and the week's figures, printed or
    /// mailed (the config's [digest]); run it every Monday.
    Digest(digest::DigestArgs),
    /// Draft Semgrep rules with the team's AI provider.
    Rules {
        #[command(subcommand)]
        command: rules::RulesCommand,
    },
}

impl Command {
    /// What `--json` prints when the command fails, if it was given.
    fn json_failure(&self) -> Option<output::Failure> {
        use output::Failure;
        match self {
            Command::Import(a) => a.json.then_some(Failure::Import),
            Command::Findings(a) => a.json.then_some(Failure::Findings),
            Command::Triage(a) => a.json.then_some(Failure::Plain),
            Command::Sync(a) => a.json.then_some(Failure::Plain),
            Command::Conflicts(a) => a.json.then_some(Failure::Plain),
            Command::Memories { command } => command.json_failure(),
            Command::Assist(a) => a.json().then_some(Failure::Plain),
            Command::Fix(a) => a.json.then_some(Failure::Plain),
            Command::Digest(a) => a.json().then_some(Failure::Plain),
            Command::Rules { command } => command.json().then_some(Failure::Plain),
            Command::Demo(_) | Command::Serve(_) | Command::Export(_) => None,
        }
    }
}

/// Runs the command line. An error is the command's failure (exit code 1),
/// already printed as JSON when `--json` asked for it; `main` says it on
/// stderr.
pub fn run(cli: Cli) -> Result<Exit> {
    let json_failure = cli.command.as_ref().and_then(Command::json_failure);
    let result = Context::new(&cli)
        .and_then(|ctx| dispatch(&ctx, cli.command).map_err(|e| errors::explain(e, &ctx)));
    // The store's log is left checkpointed, not for the next command.
    crate::store::wait_for_checkpoints();
    // A name the store does not know: said alike by every command.
    if let Err(e) = &result
        && let Some(unknown) = e.downcast_ref::<names::UnknownNames>()
    {
        unknown.explain();
        if let Some(failure) = json_failure {
            failure.print(&unknown.to_string());
        }
        return Ok(Exit::BadInput);
    }
    match result {
        Err(e) if !errors::is_broken_pipe(&e) => {
            if let Some(failure) = json_failure {
                failure.print(&format!("{e:#}"));
            }
            Err(e)
        }
        done => done,
    }
}

fn dispatch(ctx: &Context, command: Option<Command>) -> Result<Exit> {
    match command {
        None => console::run(ctx),
        Some(Command::Demo(args)) => console::demo(ctx, args),
        Some(Command::Import(args)) => import::run(ctx, args),
        Some(Command::Findings(args)) => findings::run(ctx, args),
        Some(Command::Export(args)) => export::run(ctx, args),
        Some(Command::Triage(args)) => triage::run(ctx, args),
        Some(Command::Serve(args)) => serve::run(ctx, args),
        Some(Command::Memories { command }) => memories::run(ctx, command),
        Some(Command::Sync(args)) => sync::run(ctx, args),
        Some(Command::Conflicts(args)) => conflicts::run(ctx, args),
        Some(Command::Assist(args)) => assist::run(ctx, *args),
        Some(Command::Fix(args)) => fix::run(ctx, args),
        Some(Command::Digest(args)) => digest::run(ctx, args),
        Some(Command::Rules { command }) => rules::run(ctx, command),
    }
}

/// Reports a wrong combination of arguments like the parser does (exit 2),
/// for the (sub)command at `path`, e.g. `["memories", "edit"]`.
pub(crate) fn usage_error(path: &[&str], message: &str) -> ! {
    use clap::CommandFactory;
    let mut command = Cli::command();
    command.build();
    for name in path {
        match command.find_subcommand(name) {
            Some(sub) => command = sub.clone(),
            None => break,
        }
    }
    command
        .error(clap::error::ErrorKind::ArgumentConflict, message)
        .exit()
}
