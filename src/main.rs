//! The `sift` command: the console and the scripting commands.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use sift::config::{self, Config};
use sift::domain::{BacklogView, Filter, Severity, Status, VerdictFilter};
use sift::store::Store;
use sift::tui::keymap::Keymap;
use sift::tui::model::Model;
use sift::tui::runtime;
use sift::tui::text::inert;
use sift::tui::theme::Theme;
use sift::wire::v1;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::OffsetDateTime;

/// Exit codes scripts can rely on (also in the README).
mod exit {
    pub const OK: u8 = 0;
    /// Something went wrong: the store, the config, the terminal.
    pub const ERROR: u8 = 1;
    // 2 is a usage error, reported by the argument parser.
    /// An input file was refused; nothing was imported.
    pub const BAD_INPUT: u8 = 3;
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
    #[command(subcommand)]
    command: Option<Command>,
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
    match cli.command {
        None => {
            let dir = config::data_dir(cli.data_dir.as_deref(), &config)?;
            console(&dir, &config)?;
            Ok(exit::OK)
        }
        Some(Command::Demo {
            findings,
            seed_only,
        }) => demo(cli.data_dir.as_deref(), &config, findings, seed_only),
        Some(Command::Import {
            files,
            project,
            git_ref,
            repo_root,
            json,
        }) => {
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
            let dir = config::data_dir(cli.data_dir.as_deref(), &config)?;
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
            };
            findings(&dir, &filter, json)?;
            Ok(exit::OK)
        }
    }
}

/// Opens the console on the embedded backend in `dir`.
fn console(dir: &Path, config: &Config) -> Result<()> {
    let keymap = Keymap::with_overrides(&config.keys)
        .map_err(|e| anyhow::anyhow!("the keymap in the config file is not valid: {e}"))?;
    let _log = init_logging(dir);
    let store = Store::open(dir)?;
    let index = store.load_index()?;
    drop(store);
    let backend = format!("embedded {}", config::display_path(dir));
    let mut model = Model::new(
        index,
        backend,
        keymap,
        OffsetDateTime::now_utc().unix_timestamp(),
    );
    model.theme = Theme::for_env();
    tracing::info!("console opened on {}", dir.display());
    runtime::run(model, dir.to_path_buf())
}

fn demo(dir: Option<&Path>, config: &Config, count: Option<usize>, seed_only: bool) -> Result<u8> {
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
        println!(
            "Demo backlog with {total} findings written to {}",
            kept.display()
        );
        println!("Open it with: sift --data-dir {}", kept.display());
        return Ok(exit::OK);
    }
    console(&dir, config)?;
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
        let out = serde_json::json!({ "imported": summaries, "scanner_errors": errors });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(exit::OK);
    }
    for (s, scan) in summaries.iter().zip(&scans) {
        println!(
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
            println!(
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
