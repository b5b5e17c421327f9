//! `sift` (the console on the configured backend) and `sift demo` (the
//! console on a fresh demo backlog).

use super::context::Refresh;
use super::{Context, Exit, logging};
use crate::backend::Backend;
use crate::backend::configured::Configured;
use crate::digest::rank::shell_quote;
use crate::text::inert;
use crate::tui::keymap::Keymap;
use crate::tui::model::Model;
use crate::tui::runtime;
use crate::tui::theme::Theme;
use anyhow::{Result, bail};
use clap::Args;
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;

#[derive(Args)]
pub struct DemoArgs {
    /// Generate N findings instead of the curated backlog.
    #[arg(long, value_name = "N")]
    pub findings: Option<usize>,
    /// Write the backlog and exit without opening the console.
    #[arg(long)]
    pub seed_only: bool,
}

/// `sift`: the console on the configured backend. An API backend's empty
/// cache is filled first; otherwise the console pulls in the background.
pub fn run(ctx: &Context) -> Result<Exit> {
    let backend = ctx.backend()?.clone();
    if !ctx.offline {
        ctx.refresh(Refresh::IfEmpty)?;
    }
    console(ctx, backend, false)?;
    Ok(Exit::Ok)
}

/// Opens the console on the backend's store (the embedded one, or an API
/// backend's cache, which its sync keeps up to date); a `throwaway` one is
/// removed when the console closes.
fn console(ctx: &Context, backend: Arc<Configured>, throwaway: bool) -> Result<()> {
    let dir = backend.store_dir().to_path_buf();
    let keymap = Keymap::with_overrides(&ctx.config.keys)
        .map_err(|e| anyhow::anyhow!("the keymap in the config file is not valid: {e}"))?;
    let _log = logging::to_file(&dir);
    let store = ctx.open_store_in(&dir)?;
    let index = store.load_index()?;
    drop(store);
    let mut model = Model::new(
        index,
        backend.describe(),
        keymap,
        OffsetDateTime::now_utc().unix_timestamp(),
    );
    model.theme = Theme::for_env();
    model.command = invocation(ctx);
    model.throwaway = throwaway;
    if throwaway {
        // The status bar says the decisions go; this, once, how to keep them.
        model.notice = Some(KEEP_THE_DEMO.into());
    }
    if backend.is_semgrep_dev() {
        // An API token cannot send Assistant feedback (it needs a browser
        // session on semgrep.dev): say what happens instead. `sift serve`
        // has no such feedback to miss.
        model.verdict_feedback = Some(
            "sent as Semgrep triage; agree/disagree feedback to Assistant needs the web app".into(),
        );
    }
    tracing::info!("console opened on {}", dir.display());
    // Semgrep's own Assistant judges the API's findings; sift's own judges
    // the embedded store's, when a provider is configured.
    let assistant = if backend.is_remote() {
        None
    } else {
        crate::config::assistant(ctx.flags.profile.as_deref(), &ctx.config).unwrap_or_else(|e| {
            eprintln!(
                "sift: {}; the console opens without the Assistant",
                inert(&format!("{e:#}"))
            );
            None
        })
    };
    model.min_fix_confidence =
        crate::config::min_fix_confidence(ctx.flags.profile.as_deref(), &ctx.config)
            .unwrap_or_else(|e| {
                eprintln!("sift: {}; every fix is shown", inert(&format!("{e:#}")));
                crate::domain::FixConfidence::Low
            });
    let session = runtime::Session {
        data_dir: dir,
        actor: ctx.reviewer.clone(),
        offline: ctx.offline,
        assistant,
    };
    backend.open()?;
    let pending = runtime::run(model, session, backend)?;
    if pending > 0 {
        eprintln!(
            "sift: {pending} decision(s) or memory change(s) are waiting for the backend; they \
             are kept and sent at the next start (or by `sift sync`)."
        );
    }
    Ok(())
}

/// How to keep a demo's decisions, said when it opens.
const KEEP_THE_DEMO: &str = "Keep decisions: sift --data-dir DIR demo";

/// `sift demo`: a fresh demo backlog in `--data-dir` (which must hold
/// none) or in a temporary directory removed when the console closes.
pub fn demo(ctx: &Context, args: DemoArgs) -> Result<Exit> {
    // A temporary store is removed when the console closes, unless the
    // reviewer only asked for it to be written.
    let temp = match ctx.data_dir_flag {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("sift-demo-").tempdir()?),
    };
    let dir = ctx.data_dir_flag.as_deref().map_or_else(
        || {
            temp.as_ref()
                .map(|t| t.path().to_path_buf())
                .unwrap_or_default()
        },
        Path::to_path_buf,
    );
    let mut store = ctx.open_store_in(&dir)?;
    if store.count_findings()? > 0 {
        bail!(
            "{} already holds a backlog; the demo needs an empty directory (or none, for a temporary one)",
            dir.display()
        );
    }
    let summaries = crate::demo::seed(&mut store, args.findings, OffsetDateTime::now_utc())?;
    drop(store);
    let total: usize = summaries.iter().map(|s| s.new).sum();
    if args.seed_only {
        let kept = temp.map(|t| t.keep()).unwrap_or(dir);
        say!(
            "Demo backlog with {total} findings written to {}",
            kept.display()
        );
        say!("Open it with: sift --data-dir {}", kept.display());
        return Ok(Exit::Ok);
    }
    console(ctx, Arc::new(Configured::embedded(&dir)), temp.is_some())?;
    if temp.is_some() {
        eprintln!(
            "sift: the demo's decisions were discarded with its temporary store; to keep them \
             next time, start it as `sift --data-dir DIR demo` (DIR new or empty) and reopen it \
             with `sift --data-dir DIR`."
        );
    }
    Ok(Exit::Ok)
}

/// How the reviewer started sift, for the commands the console suggests:
/// "sift --data-dir /tmp/x", each word as a shell takes it.
fn invocation(ctx: &Context) -> String {
    let mut command = String::from("sift");
    if let Some(dir) = &ctx.data_dir_flag {
        command += &format!(" --data-dir {}", shell_quote(&dir.to_string_lossy()));
    }
    if let Some(profile) = &ctx.flags.profile {
        command += &format!(" --profile {}", shell_quote(profile));
    }
    command
}
