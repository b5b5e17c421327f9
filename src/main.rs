//! The `sift` command: the console and the scripting commands.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use sift::backend::api::Api;
use sift::backend::embedded::Embedded;
use sift::config::{self, BackendFlags, BackendKind, Config, ResolvedBackend};
use sift::domain::{
    BacklogView, Filter, Intent, Severity, Status, TriageReason, TriageState, VerdictFilter,
};
use sift::store::{Pending, PendingMemoryChange, Store};
use sift::sync::{PassReport, SyncConfig};
use sift::text::inert;
use sift::tui::keymap::Keymap;
use sift::tui::model::Model;
use sift::tui::runtime;
use sift::tui::theme::Theme;
use sift::wire::v1;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use time::OffsetDateTime;

/// `println!` that hands a failed write back (a reader that stopped early,
/// `sift memories list | head`) instead of panicking; `main` treats a
/// broken pipe as success.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

mod commands;

/// Exit codes scripts can rely on (also in the README).
mod exit {
    pub const OK: u8 = 0;
    /// Something went wrong: the store, the config, the terminal.
    pub const ERROR: u8 = 1;
    // 2 is a usage error, reported by the argument parser.
    /// An input file was refused, or a decision made no sense; nothing was
    /// imported or recorded.
    pub const BAD_INPUT: u8 = 3;
    /// Decisions are recorded but the backend has not acknowledged them
    /// yet; they are kept and sent later.
    pub const PENDING: u8 = 4;
    /// The backend rejected decisions; they are kept, listed by `sift sync`.
    pub const REJECTED: u8 = 5;
}

#[derive(Parser)]
#[command(
    name = "sift",
    version,
    about = "A terminal triage console for Semgrep findings",
    long_about = "A terminal triage console for Semgrep findings.\n\n\
        With no command, sift opens the console on the configured backend \
        (the embedded one by default)."
)]
struct Cli {
    /// Directory of the embedded backend's store.
    #[arg(long, env = "SIFT_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Config file (default: the XDG config dir's sift/config.toml).
    #[arg(long, env = "SIFT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Record decisions without sending them; `sift sync` sends them later.
    #[arg(long)]
    offline: bool,
    /// embedded (sift's own store, the default) or api (the Semgrep API:
    /// semgrep.dev, a single-tenant host, or `sift serve`).
    #[arg(long, env = "SIFT_BACKEND", value_enum, value_name = "KIND")]
    backend: Option<BackendKind>,
    /// The API's host (default: SEMGREP_URL, SEMGREP_APP_URL, or
    /// https://semgrep.dev). Implies --backend api.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The deployment's slug (default: the one the token reaches).
    /// Implies --backend api.
    #[arg(long, value_name = "SLUG")]
    deployment: Option<String>,
    /// A backend named in the config file's [profiles.NAME].
    #[arg(long, env = "SIFT_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

impl Cli {
    fn backend_flags(&self) -> BackendFlags {
        BackendFlags {
            backend: self.backend,
            url: self.url.clone(),
            deployment: self.deployment.clone(),
            profile: self.profile.clone(),
        }
    }
}

/// Where a command reads findings and sends decisions: the embedded
/// backend's store, or an API backend through its local cache.
enum Target {
    Embedded(PathBuf),
    Api { cache: PathBuf, api: Arc<Api> },
}

impl Target {
    /// The store the command opens: the embedded one, or the cache.
    fn dir(&self) -> &Path {
        match self {
            Target::Embedded(dir) => dir,
            Target::Api { cache, .. } => cache,
        }
    }

    /// For the status bar and messages.
    fn label(&self) -> String {
        match self {
            Target::Embedded(dir) => format!("embedded {}", config::display_path(dir)),
            Target::Api { api, .. } => sift::backend::Backend::describe(&**api),
        }
    }
}

/// The backend the options, profile, config and environment name.
fn target(data_dir: Option<&Path>, flags: &BackendFlags, config: &Config) -> Result<Target> {
    let data_dir = config::data_dir(data_dir, config)?;
    match config::resolve_backend(flags, config)? {
        ResolvedBackend::Embedded => Ok(Target::Embedded(data_dir)),
        ResolvedBackend::Api {
            url,
            deployment,
            token,
            token_source,
        } => {
            let cache = config::api_cache_dir(&data_dir, &url, deployment.as_deref())?;
            sift::backend::api::prepare_cache_dir(&cache)?;
            tracing::info!(
                "api backend {url}, token from {}",
                token_source.as_deref().unwrap_or("nowhere")
            );
            let api =
                Api::new(&url, token, deployment, &cache)?.with_reviewer(&config::reviewer(config));
            Ok(Target::Api {
                cache,
                api: Arc::new(api),
            })
        }
    }
}

/// Runs one async task to its end on a small runtime.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(work))
}

/// When to fetch findings before a command reads the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// Always (scripts want the backend's state).
    Always,
    /// Only into an empty cache (the console pulls in the background).
    IfEmpty,
}

/// Brings an API backend's cache up to date (a no-op for the embedded
/// backend). Fails when it cannot and the cache is empty; otherwise says
/// that the cached findings are shown.
fn refresh(target: &Target, when: Refresh) -> Result<()> {
    let Target::Api { cache, api } = target else {
        return Ok(());
    };
    let empty = Store::open(cache)?.count_findings()? == 0;
    if !empty && when == Refresh::IfEmpty {
        return Ok(());
    }
    if empty {
        eprintln!("sift: fetching findings from {}…", inert(&target.label()));
    }
    let pulled = block_on(sift::backend::Backend::pull(&**api))?;
    match pulled {
        Ok(_) => Ok(()),
        Err(e) if empty => bail!("cannot fetch findings: {e}"),
        Err(e) => {
            eprintln!(
                "sift: showing the findings cached earlier; fetching new ones failed: {}",
                inert(&e.to_string())
            );
            Ok(())
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Open the console on a fresh demo backlog.
    Demo {
        /// Generate N findings instead of the curated backlog.
        #[arg(long, value_name = "N")]
        findings: Option<usize>,
        /// Write the backlog and exit without opening the console.
        #[arg(long)]
        seed_only: bool,
    },
    /// Load semgrep JSON, SARIF or Semgrep API findings dumps.
    Import {
        /// Files to import; all are read before anything is stored.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Project name (default: the repo root's name, or the file's name).
        #[arg(long)]
        project: Option<String>,
        /// Git ref the scan ran on (default: main), e.g. refs/pull/12/merge.
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// The scanned source tree, for code context and stable identities.
        #[arg(long, value_name = "DIR")]
        repo_root: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Print the findings the console would list.
    Findings {
        /// pre-production, needs-review, production, to-fix, reviewing,
        /// ignored, fixed or all.
        #[arg(long, default_value = "pre-production", value_parser = parse_view)]
        view: BacklogView,
        /// open, reviewing, fixing (to-fix), ignored, fixed, provisionally_ignored.
        #[arg(long, value_delimiter = ',', value_parser = parse_status)]
        status: Vec<Status>,
        /// true_positive (tp), false_positive (fp) or none.
        #[arg(long, value_delimiter = ',', value_parser = parse_verdict)]
        verdict: Vec<VerdictFilter>,
        #[arg(long)]
        project: Vec<String>,
        /// Full rule id.
        #[arg(long)]
        rule: Vec<String>,
        /// low, medium, high, critical.
        #[arg(long, value_delimiter = ',', value_parser = parse_severity)]
        severity: Vec<Severity>,
        /// Words to find in the rule id, path or message.
        #[arg(long)]
        text: Option<String>,
        /// Print `{"findings": [...]}` in the Semgrep API v1 shape.
        #[arg(long)]
        json: bool,
    },
    /// Decide findings and send the decisions to the backend.
    #[command(group = clap::ArgGroup::new("decision").args(["accept", "reject", "state"]))]
    Triage {
        /// Finding ids: the `id` values of `sift findings --json`.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<i64>,
        /// Agree with Assistant's verdict.
        #[arg(long)]
        accept: bool,
        /// Disagree with Assistant's verdict. Rejecting a true positive
        /// ignores the finding and needs --note.
        #[arg(long)]
        reject: bool,
        /// Set the status: ignored, reviewing, fixing (to-fix) or reopened
        /// (open).
        #[arg(long, value_name = "S", value_parser = parse_state)]
        state: Option<TriageState>,
        /// Why it is ignored (with --state ignored or --reject):
        /// false_positive, acceptable_risk, no_time, duplicate,
        /// no_triage_reason.
        #[arg(long, value_name = "R", value_parser = parse_reason)]
        reason: Option<TriageReason>,
        /// A note, at most 3,000 characters. Alone, it is added without
        /// changing the status.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Serve the embedded backend over HTTP with the Semgrep API's routes,
    /// so a team shares one backlog.
    Serve {
        /// Address to listen on. Anything but loopback needs --token-file.
        #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
        listen: String,
        /// Bearer tokens, one `TOKEN NAME` line per reviewer; every request
        /// must then carry one. Created (mode 0600) with a token for you
        /// when missing.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Add a new token for reviewer NAME to --token-file and exit.
        #[arg(long, value_name = "NAME", requires = "token_file")]
        add_token: Option<String>,
    },
    /// List, add, edit and remove memories; changes go through the outbox.
    Memories {
        #[command(subcommand)]
        command: commands::memories::MemoriesCommand,
    },
    /// Send the decisions and memory changes waiting in the outbox, fetch
    /// what changed, exit.
    Sync {
        /// Send the decisions and memory changes the backend rejected again
        /// (once the cause is fixed).
        #[arg(long, conflicts_with = "drop_rejected")]
        retry_rejected: bool,
        /// Give up on the decisions and memory changes the backend rejected.
        #[arg(long)]
        drop_rejected: bool,
        #[arg(long)]
        json: bool,
    },
}

fn parse_view(s: &str) -> Result<BacklogView, String> {
    BacklogView::parse(s).ok_or_else(|| {
        let all: Vec<_> = BacklogView::ALL.iter().map(|v| v.slug()).collect();
        format!("expected one of {}", all.join(", "))
    })
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse_loose(s).ok_or_else(|| {
        "expected open, reviewing, fixing, ignored, fixed or provisionally_ignored".into()
    })
}

fn parse_verdict(s: &str) -> Result<VerdictFilter, String> {
    VerdictFilter::parse(s).ok_or_else(|| "expected true_positive, false_positive or none".into())
}

fn parse_state(s: &str) -> Result<TriageState, String> {
    match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "ignored" | "ignore" => Ok(TriageState::Ignored),
        "reviewing" | "review" => Ok(TriageState::Reviewing),
        "fixing" | "to-fix" | "tofix" | "fix" => Ok(TriageState::Fixing),
        "reopened" | "reopen" | "open" => Ok(TriageState::Reopened),
        _ => Err("expected ignored, reviewing, fixing (to-fix) or reopened (open)".into()),
    }
}

fn parse_reason(s: &str) -> Result<TriageReason, String> {
    // The wire names, or the console's ("Acceptable risk", "No reason").
    let name = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let name = if name == "no_reason" {
        "no_triage_reason"
    } else {
        &name
    };
    TriageReason::parse(name).ok_or_else(|| {
        "expected false_positive, acceptable_risk, no_time, duplicate or no_triage_reason".into()
    })
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse_loose(s).ok_or_else(|| "expected low, medium, high or critical".into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        // A reader that stops early (`sift findings | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("sift: {}", inert(&format!("{e:#}")));
            ExitCode::from(exit::ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<u8> {
    let config = config::load(cli.config.as_deref())?;
    let flags = cli.backend_flags();
    let target = || target(cli.data_dir.as_deref(), &flags, &config);
    // Commands that work on the embedded store only.
    let embedded_only = |what: &str| -> Result<()> {
        if let ResolvedBackend::Api { .. } = config::resolve_backend(&flags, &config)? {
            bail!(
                "{what} works on the embedded backend's store (--data-dir), not on the \
                 Semgrep API; add --backend embedded (for a team's `sift serve`, use its \
                 --data-dir)"
            );
        }
        Ok(())
    };
    match cli.command {
        None => {
            let target = target()?;
            if !cli.offline {
                refresh(&target, Refresh::IfEmpty)?;
            }
            console(&target, &config, cli.offline)?;
            Ok(exit::OK)
        }
        Some(Command::Demo {
            findings,
            seed_only,
        }) => demo(
            cli.data_dir.as_deref(),
            &config,
            findings,
            seed_only,
            cli.offline,
        ),
        Some(Command::Import {
            files,
            project,
            git_ref,
            repo_root,
            json,
        }) => {
            embedded_only("`sift import`")?;
            let dir = config::data_dir(cli.data_dir.as_deref(), &config)?;
            let opts = sift::import::ImportOptions {
                project,
                git_ref,
                repo_root,
            };
            import(&dir, &files, &opts, json)
        }
        Some(Command::Findings {
            view,
            status,
            verdict,
            project,
            rule,
            severity,
            text,
            json,
        }) => {
            let target = target()?;
            refresh(&target, Refresh::Always)?;
            let filter = Filter {
                view,
                severities: severity,
                statuses: status,
                verdicts: verdict,
                projects: project,
                rules: rule,
                words: text
                    .map(|t| t.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                scope: None,
            };
            findings(target.dir(), &filter, json)?;
            Ok(exit::OK)
        }
        Some(Command::Triage {
            ids,
            accept,
            reject,
            state,
            reason,
            note,
            json,
        }) => {
            let intent = match (accept, reject, state) {
                (true, _, _) => Intent::Accept { comment: note },
                (_, true, _) => Intent::Reject {
                    reason,
                    comment: note,
                },
                (_, _, Some(state)) => Intent::SetState {
                    state,
                    reason,
                    note,
                },
                _ => match note {
                    Some(note) => Intent::Note(note),
                    None => usage_error(
                        "say what to do: --accept, --reject, --state S, or --note TEXT alone",
                    ),
                },
            };
            let reason_fits = matches!(
                intent,
                Intent::Reject { .. }
                    | Intent::SetState {
                        state: TriageState::Ignored,
                        ..
                    }
            );
            if reason.is_some() && !reason_fits {
                usage_error("--reason goes with --state ignored or --reject");
            }
            let target = target()?;
            // The ids are checked against the cache: fill it first.
            refresh(&target, Refresh::IfEmpty)?;
            let reviewer = config::reviewer(&config);
            triage(&target, &reviewer, &ids, &intent, json, cli.offline)
        }
        Some(Command::Serve {
            listen,
            token_file,
            add_token,
        }) => {
            if add_token.is_none() {
                embedded_only("`sift serve`")?;
            }
            let dir = config::data_dir(cli.data_dir.as_deref(), &config)?;
            serve(&dir, &config, &listen, token_file.as_deref(), add_token)
        }
        Some(Command::Memories { command }) => {
            let target = target()?;
            let actor = config::reviewer(&config);
            commands::memories::run(&target, &actor, command, cli.offline)
        }
        Some(Command::Sync {
            retry_rejected,
            drop_rejected,
            json,
        }) => {
            let target = target()?;
            sync(&target, retry_rejected, drop_rejected, json)
        }
    }
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8321";

/// `sift serve`: runs until SIGTERM or SIGINT.
fn serve(
    dir: &Path,
    config: &Config,
    listen: &str,
    token_file: Option<&Path>,
    add_token: Option<String>,
) -> Result<u8> {
    use sift::server::{self, ServerConfig, auth::Tokens};
    if let (Some(file), Some(name)) = (token_file, add_token) {
        Tokens::add_to_file(file, &name)?;
        say!(
            "added a token for {} to {}; hand it to them over a private channel",
            inert(&name),
            file.display()
        );
        return Ok(exit::OK);
    }
    let addr = resolve_listen(listen)?;
    let tokens = match token_file {
        None => None,
        Some(file) => {
            if !file.exists() {
                let me = config::reviewer(config);
                Tokens::add_to_file(file, &me)?;
                eprintln!(
                    "sift: created {} (mode 0600) with a token for {}; add one per reviewer \
                     with `sift serve --token-file {} --add-token NAME`",
                    file.display(),
                    inert(&me),
                    file.display()
                );
            }
            Some(Tokens::load(file)?)
        }
    };
    server::check_listen(addr, tokens.is_some())?;
    init_server_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let access = match &tokens {
            Some(t) => format!(
                "bearer tokens required ({} reviewer(s))",
                t.reviewers().count()
            ),
            None => "no tokens (loopback only)".into(),
        };
        let mut cfg = ServerConfig::new(dir.to_path_buf(), config::reviewer(config));
        cfg.tokens = tokens;
        eprintln!(
            "sift serve: http://{bound} (deployment \"{}\"), store {}; {access}",
            cfg.deployment.slug,
            config::display_path(dir)
        );
        tracing::info!("listening on {bound}");
        server::serve(listener, cfg, server::shutdown_signal()).await
    })?;
    eprintln!("sift serve: stopped");
    Ok(exit::OK)
}

/// `127.0.0.1:8321`, `[::1]:8321`, or a name such as `localhost:8321`.
fn resolve_listen(listen: &str) -> Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = listen.parse() {
        return Ok(addr);
    }
    let addrs: Vec<_> = listen
        .to_socket_addrs()
        .with_context(|| format!("--listen {listen}: expected ADDRESS:PORT"))?
        .collect();
    // A name must not reach beyond loopback through one of its addresses.
    addrs
        .iter()
        .find(|a| a.ip().is_loopback())
        .or(addrs.first())
        .copied()
        .with_context(|| format!("--listen {listen}: the name has no address"))
}

/// The server logs requests to stderr (`SIFT_LOG=debug` for more).
fn init_server_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Reports a wrong combination of `sift triage` arguments like the parser
/// does (exit 2).
fn usage_error(message: &str) -> ! {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    cli.build();
    match cli.find_subcommand_mut("triage") {
        Some(triage) => triage.error(clap::error::ErrorKind::ArgumentConflict, message),
        None => cli.error(clap::error::ErrorKind::ArgumentConflict, message),
    }
    .exit()
}

/// Opens the console on the backend: the embedded store, or an API
/// backend's cache, which its sync keeps up to date.
fn console(target: &Target, config: &Config, offline: bool) -> Result<()> {
    let dir = target.dir();
    let keymap = Keymap::with_overrides(&config.keys)
        .map_err(|e| anyhow::anyhow!("the keymap in the config file is not valid: {e}"))?;
    let _log = init_logging(dir);
    let store = Store::open(dir)?;
    let index = store.load_index()?;
    drop(store);
    let backend = target.label();
    let mut model = Model::new(
        index,
        backend,
        keymap,
        OffsetDateTime::now_utc().unix_timestamp(),
    );
    model.theme = Theme::for_env();
    if let Target::Api { .. } = target {
        // An API token cannot send Assistant feedback (it needs a browser
        // session): say what happens instead.
        model.verdict_feedback = Some(
            "sent as Semgrep triage; agree/disagree feedback to Assistant needs the web app".into(),
        );
    }
    tracing::info!("console opened on {}", dir.display());
    let session = runtime::Session {
        data_dir: dir.to_path_buf(),
        actor: config::reviewer(config),
        offline,
    };
    let pending = match target {
        Target::Embedded(dir) => runtime::run(model, session, Arc::new(Embedded::open(dir)?))?,
        Target::Api { api, .. } => runtime::run(model, session, api.clone())?,
    };
    if pending > 0 {
        eprintln!(
            "sift: {pending} decision(s) or memory change(s) are waiting for the backend; they \
             are kept and sent at the next start (or by `sift sync`)."
        );
    }
    Ok(())
}

fn demo(
    dir: Option<&Path>,
    config: &Config,
    count: Option<usize>,
    seed_only: bool,
    offline: bool,
) -> Result<u8> {
    // A temporary store is removed when the console closes, unless the
    // reviewer only asked for it to be written.
    let temp = match dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("sift-demo-").tempdir()?),
    };
    let dir = dir.map_or_else(
        || {
            temp.as_ref()
                .map(|t| t.path().to_path_buf())
                .unwrap_or_default()
        },
        Path::to_path_buf,
    );
    let mut store = Store::open(&dir)?;
    if store.count_findings()? > 0 {
        bail!(
            "{} already holds a backlog; the demo needs an empty directory (or none, for a temporary one)",
            dir.display()
        );
    }
    let summaries = sift::demo::seed(&mut store, count, OffsetDateTime::now_utc())?;
    drop(store);
    let total: usize = summaries.iter().map(|s| s.new).sum();
    if seed_only {
        let kept = temp.map(|t| t.keep()).unwrap_or(dir);
        say!(
            "Demo backlog with {total} findings written to {}",
            kept.display()
        );
        say!("Open it with: sift --data-dir {}", kept.display());
        return Ok(exit::OK);
    }
    console(&Target::Embedded(dir), config, offline)?;
    Ok(exit::OK)
}

fn import(
    dir: &Path,
    files: &[PathBuf],
    opts: &sift::import::ImportOptions,
    json: bool,
) -> Result<u8> {
    let mut scans = Vec::new();
    for file in files {
        match sift::import::load_file(file, opts) {
            Ok(s) => scans.extend(s),
            Err(e) => {
                eprintln!("sift: {}", inert(&e.to_string()));
                eprintln!("sift: nothing was imported");
                return Ok(exit::BAD_INPUT);
            }
        }
    }
    let mut store = Store::open(dir)?;
    let summaries = store.import(&scans)?;
    let warnings: Vec<String> = scans
        .iter()
        .flat_map(|s| s.warnings.iter().map(|w| format!("{}: {w}", s.origin)))
        .collect();
    if !json {
        for w in &warnings {
            eprintln!("sift: warning: {}", inert(w));
        }
    }
    if json {
        let errors: Vec<_> = scans
            .iter()
            .flat_map(|s| {
                s.errors.iter().map(|e| {
                    serde_json::json!({
                        "origin": s.origin, "level": e.level, "type": e.kind,
                        "message": e.message, "path": e.path,
                    })
                })
            })
            .collect();
        let out = serde_json::json!({
            "imported": summaries, "scanner_errors": errors, "warnings": warnings,
        });
        say!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(exit::OK);
    }
    for (s, scan) in summaries.iter().zip(&scans) {
        say!(
            "{}: {} @ {}: {} new, {} updated, {} fixed",
            inert(&s.origin),
            inert(&s.project),
            inert(&s.git_ref),
            s.new,
            s.updated,
            s.fixed
        );
        for e in &scan.errors {
            let path = e
                .path
                .as_deref()
                .map(|p| format!(" in {p}"))
                .unwrap_or_default();
            say!(
                "  scanner {} ({}){}: {}",
                inert(&e.level),
                inert(&e.kind),
                inert(&path),
                inert(&e.message)
            );
        }
    }
    Ok(exit::OK)
}

fn findings(dir: &Path, filter: &Filter, json: bool) -> Result<()> {
    let store = Store::open(dir)?;
    let index = store.load_index()?;
    let selected = index.select(filter);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        // Streamed in chunks so a large backlog is never held twice.
        out.write_all(b"{\"findings\": [")?;
        let mut first = true;
        let ids: Vec<i64> = selected
            .iter()
            .map(|&i| index.rows[i as usize].id)
            .collect();
        for chunk in ids.chunks(500) {
            for f in store.load_findings(chunk)? {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                out.write_all(b"\n  ")?;
                serde_json::to_writer(&mut out, &v1::Finding::from_domain(&f))?;
            }
        }
        out.write_all(b"\n]}\n")?;
    } else {
        for &pos in &selected {
            let r = &index.rows[pos as usize];
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}:{}",
                r.id,
                r.severity,
                r.status,
                r.verdict.map_or("none", |v| v.as_str()),
                inert(index.projects.get(r.project)),
                inert(index.rules.get(r.rule)),
                inert(index.paths.get(r.path)),
                r.line
            )?;
        }
    }
    out.flush().context("cannot write the findings")?;
    Ok(())
}

/// Records decisions on findings, all or none, then sends them in one sync
/// pass.
fn triage(
    target: &Target,
    reviewer: &str,
    ids: &[i64],
    intent: &Intent,
    json: bool,
    offline: bool,
) -> Result<u8> {
    let dir = target.dir();
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    let mut store = Store::open(dir)?;
    // Resolved against the findings as they stand (pending decisions
    // applied), the same way as in the console; all or nothing.
    let intents: Vec<(i64, Intent)> = unique.iter().map(|&id| (id, intent.clone())).collect();
    let decided = store.decide(&intents, reviewer, true)?;
    let refused = decided.refused;
    if !refused.is_empty() {
        let error = format!(
            "nothing was recorded: {} of {} decisions make no sense",
            refused.len(),
            unique.len()
        );
        if json {
            let refused: Vec<_> = refused
                .iter()
                .map(|(id, why)| serde_json::json!({ "id": id, "why": why }))
                .collect();
            let out = serde_json::json!({
                "recorded": 0, "acknowledged": 0, "pending": 0, "rejected": 0,
                "decisions": [], "refused": refused, "error": error,
            });
            say!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for (id, why) in &refused {
                eprintln!("sift: {id}: {}", inert(why));
            }
            eprintln!("sift: nothing was recorded");
        }
        return Ok(exit::BAD_INPUT);
    }
    // Durable before anything is sent.
    let (changes, outbox_ids) = (decided.changes, decided.outbox_ids);
    let report = pass_unless_offline(target, &mut store, offline);
    let left: Vec<Pending> = store
        .pending()?
        .into_iter()
        .filter(|p| outbox_ids.contains(&p.id))
        .collect();
    let outcome = |outbox_id: i64| match left.iter().find(|p| p.id == outbox_id) {
        None => ("acknowledged", None),
        Some(p) => match &p.rejected {
            Some(message) => ("rejected", Some(message.as_str())),
            None => ("pending", None),
        },
    };
    let rejected: Vec<&Pending> = left.iter().filter(|p| p.rejected.is_some()).collect();
    let pending = left.len() - rejected.len();
    let offline_reason = report.offline.as_ref().map(|o| o.reason.as_str());

    if json {
        let decisions: Vec<_> = changes
            .iter()
            .zip(&outbox_ids)
            .map(|((id, change), outbox_id)| {
                let (result, message) = outcome(*outbox_id);
                let mut d = serde_json::json!({
                    "id": id,
                    "new_triage_state": change.state,
                    "new_triage_reason": change.reason,
                    "new_note": change.note,
                    "result": result,
                });
                if let Some(message) = message {
                    d["message"] = message.into();
                }
                d
            })
            .collect();
        let error = match (pending, rejected.first()) {
            (_, Some(r)) => r.rejected.clone(),
            (n, None) if n > 0 => offline_reason.map(str::to_string),
            _ => None,
        };
        let out = serde_json::json!({
            "recorded": changes.len(),
            "acknowledged": changes.len() - left.len(),
            "pending": pending,
            "rejected": rejected.len(),
            "decisions": decisions,
            "error": error,
        });
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for ((id, change), outbox_id) in changes.iter().zip(&outbox_ids) {
            let (result, message) = outcome(*outbox_id);
            let result = match message {
                Some(m) => format!("{result}: {}", inert(m)),
                None => result.to_string(),
            };
            say!("{id}\t{}\t{result}", change.describe());
        }
        if pending > 0 {
            eprintln!(
                "sift: {} recorded but not sent yet: {}. The next `sift sync`, or the console, will send {}.",
                decisions(pending),
                inert(offline_reason.unwrap_or("the backend did not acknowledge them")),
                if pending == 1 { "it" } else { "them" }
            );
        }
        if !rejected.is_empty() {
            eprintln!(
                "sift: the backend rejected {}; kept, and listed by `sift sync`.",
                decisions(rejected.len())
            );
        }
    }
    Ok(if !rejected.is_empty() {
        exit::REJECTED
    } else if pending > 0 {
        exit::PENDING
    } else {
        exit::OK
    })
}

/// `sync_pass`, or with `--offline` none: everything recorded waits.
fn pass_unless_offline(target: &Target, store: &mut Store, offline: bool) -> PassReport {
    if !offline {
        return sync_pass(target, store);
    }
    PassReport {
        offline: Some(sift::sync::Offline {
            reason: "sift ran with --offline".into(),
            retry_after: None,
        }),
        waiting: store.waiting_count().unwrap_or(0),
        rejected_total: store.rejected_count().unwrap_or(0),
        ..PassReport::default()
    }
}

/// One push-and-pull pass against the configured backend. What cannot be
/// sent stays in the outbox; a failure is reported as the pass's reason.
fn sync_pass(target: &Target, store: &mut Store) -> PassReport {
    fn pass(target: &Target, store: &mut Store) -> Result<PassReport> {
        block_on(async {
            let cfg = SyncConfig::default();
            match target {
                Target::Embedded(dir) => {
                    let backend = Embedded::open(dir)?;
                    sift::sync::push_and_pull(&backend, store, &cfg).await
                }
                Target::Api { api, .. } => sift::sync::push_and_pull(&**api, store, &cfg).await,
            }
        })?
    }
    pass(target, store).unwrap_or_else(|e| PassReport {
        offline: Some(sift::sync::Offline {
            reason: format!("{e:#}"),
            retry_after: None,
        }),
        waiting: store.waiting_count().unwrap_or(0),
        rejected_total: store.rejected_count().unwrap_or(0),
        ..PassReport::default()
    })
}

fn decisions(n: usize) -> String {
    if n == 1 {
        "1 decision is".into()
    } else {
        format!("{n} decisions are")
    }
}

/// `sift sync`: one pass; says what is still waiting and what the backend
/// rejected, decisions and memory changes.
fn sync(target: &Target, retry_rejected: bool, drop_rejected: bool, json: bool) -> Result<u8> {
    let mut store = Store::open(target.dir())?;
    let (dropped, dropped_memory) = if drop_rejected {
        (
            store.drop_rejected()?,
            store.drop_rejected_memory_changes()?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    if retry_rejected {
        store.retry_rejected()?;
        store.retry_rejected_memory_changes()?;
    }
    let report = sync_pass(target, &mut store);
    let rejected = store.rejected()?;
    let rejected_memory = store.rejected_memory_changes()?;
    // `waiting` counts both; each is reported in its own words.
    let memory_waiting = store.memory_changes_waiting()?;
    let decisions_waiting = report.waiting.saturating_sub(memory_waiting);
    let offline_reason = report.offline.as_ref().map(|o| o.reason.as_str());
    if json {
        let list = |rows: &[Pending]| -> Vec<serde_json::Value> {
            rows.iter()
                .map(|p| {
                    serde_json::json!({
                        "id": p.finding_id,
                        "new_triage_state": p.change.state,
                        "new_triage_reason": p.change.reason,
                        "new_note": p.change.note,
                        "actor": p.actor,
                        "created_at": sift::wire::timestamp::format(p.created_at),
                        "message": p.rejected,
                    })
                })
                .collect()
        };
        let memory_list = |rows: &[PendingMemoryChange]| -> Vec<serde_json::Value> {
            rows.iter()
                .map(|c| {
                    serde_json::json!({
                        "op": c.change.verb(),
                        "memory_id": c.change.memory_id(),
                        "actor": c.actor,
                        "created_at": sift::wire::timestamp::format(c.created_at),
                        "message": c.rejected,
                    })
                })
                .collect()
        };
        let mut out = serde_json::json!({
            "acknowledged": report.acknowledged,
            "pending": decisions_waiting,
            "rejected": list(&rejected),
            "memory_changes_acknowledged": report.memory_changes_acknowledged,
            "memory_changes_pending": memory_waiting,
            "rejected_memory_changes": memory_list(&rejected_memory),
            "offline_reason": offline_reason,
        });
        if drop_rejected {
            out["dropped"] = list(&dropped).into();
            out["dropped_memory_changes"] = memory_list(&dropped_memory).into();
        }
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if !dropped.is_empty() {
            say!(
                "dropped {} the backend had rejected",
                count_of(dropped.len())
            );
        }
        if !dropped_memory.is_empty() {
            say!(
                "dropped {} the backend had rejected",
                memory_changes(dropped_memory.len())
            );
        }
        let sent = report.acknowledged + report.memory_changes_acknowledged;
        let nothing_left = report.waiting == 0 && rejected.is_empty() && rejected_memory.is_empty();
        if sent == 0 && nothing_left {
            say!("nothing to send");
        }
        if report.acknowledged > 0 {
            say!("sent {}", count_of(report.acknowledged));
        }
        if report.memory_changes_acknowledged > 0 {
            say!(
                "sent {}",
                memory_changes(report.memory_changes_acknowledged)
            );
        }
        for p in &rejected {
            say!(
                "{}\t{}\trejected: {}",
                p.finding_id,
                p.change.describe(),
                inert(p.rejected.as_deref().unwrap_or(""))
            );
        }
        for c in &rejected_memory {
            say!(
                "{}\t{} memory\trejected: {}",
                inert(c.change.memory_id()),
                c.change.verb(),
                inert(c.rejected.as_deref().unwrap_or(""))
            );
        }
        if report.waiting > 0 {
            let what = both(decisions_waiting, memory_waiting);
            let are = if report.waiting == 1 { "is" } else { "are" };
            eprintln!(
                "sift: {what} {are} not sent yet: {}. They are kept; the next `sift sync`, or the console, will send them.",
                inert(offline_reason.unwrap_or("the backend did not acknowledge them"))
            );
        } else if let Some(reason) = offline_reason {
            eprintln!(
                "sift: everything is sent, but fetching changes failed: {}",
                inert(reason)
            );
        }
        if !rejected.is_empty() || !rejected_memory.is_empty() {
            let what = both(rejected.len(), rejected_memory.len());
            eprintln!(
                "sift: the backend rejected {what}; they are kept. `sift sync --retry-rejected` sends them again, `--drop-rejected` gives up on them."
            );
        }
    }
    Ok(if !rejected.is_empty() || !rejected_memory.is_empty() {
        exit::REJECTED
    } else if report.waiting > 0 {
        exit::PENDING
    } else if report.offline.is_some() {
        exit::ERROR
    } else {
        exit::OK
    })
}

/// "3 decisions", "1 memory change", or "3 decisions and 1 memory change".
fn both(decisions: usize, memory: usize) -> String {
    match (decisions, memory) {
        (d, 0) => count_of(d),
        (0, m) => memory_changes(m),
        (d, m) => format!("{} and {}", count_of(d), memory_changes(m)),
    }
}

fn memory_changes(n: usize) -> String {
    if n == 1 {
        "1 memory change".into()
    } else {
        format!("{n} memory changes")
    }
}

fn count_of(n: usize) -> String {
    if n == 1 {
        "1 decision".into()
    } else {
        format!("{n} decisions")
    }
}

/// Logs go to a file, never to the screen. Returns the guard that flushes.
fn init_logging(data_dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = config::log_dir(data_dir);
    std::fs::create_dir_all(&dir).ok()?;
    let file = tracing_appender::rolling::never(&dir, "sift.log");
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
