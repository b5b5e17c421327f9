//! `sift digest`: the top backlog tasks and the figures of the week, as
//! text, Markdown, HTML or JSON, or mailed by SMTP (`--mail`, the config's
//! `[digest]`). The ranking is `digest::rank`'s, written in the README.

use super::context::Refresh;
use super::findings::Selection;
use super::{Context, Exit, output};
use crate::digest::figures::Since;
use crate::digest::mail::{self, MailSettings};
use crate::digest::render::{self, Format};
use crate::digest::{self, Scope, TOP_TASKS};
use crate::domain::BacklogView;
use anyhow::{Result, anyhow};
use clap::Args;
use std::collections::HashSet;
use time::OffsetDateTime;

#[derive(Args)]
pub struct DigestArgs {
    /// The figures' window: a span back from now (24h, 7d, 2w) or a date
    /// (2026-01-05, from its midnight UTC).
    #[arg(long, default_value = "7d", value_name = "SPAN|DATE")]
    pub since: String,
    /// text, markdown, html or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only these projects (repeat for several).
    #[arg(long)]
    pub project: Vec<String>,
    /// How many tasks to name.
    #[arg(long, default_value_t = TOP_TASKS as u16, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub top: u16,
    /// Send the digest (text and HTML) to the config's [digest] recipients
    /// instead of printing it.
    #[arg(long, conflicts_with = "format")]
    pub mail: bool,
}

impl DigestArgs {
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

pub fn run(ctx: &Context, args: DigestArgs) -> Result<Exit> {
    let now = OffsetDateTime::now_utc();
    let since = Since::parse(&args.since, now).map_err(|e| anyhow!("--since: {e}"));
    let since = match since {
        Ok(since) => since,
        Err(e) => super::usage_error(&["digest"], &format!("{e:#}")),
    };
    // Checked before the store is read, so a broken section fails at once.
    let mail_settings = if args.mail {
        let section = ctx
            .config
            .digest
            .as_ref()
            .ok_or_else(|| anyhow!("{}", mail::NOT_CONFIGURED))?;
        Some(MailSettings::resolve(section)?)
    } else {
        None
    };

    ctx.refresh(Refresh::Always)?;
    let store = ctx.read_store()?;
    let index = store.load_index()?;
    let selection = Selection {
        view: Some(BacklogView::All),
        status: Vec::new(),
        verdict: Vec::new(),
        project: args.project.clone(),
        rule: Vec::new(),
        severity: Vec::new(),
        component: Vec::new(),
        risk: Vec::new(),
        text: None,
        sort: None,
        filter_line: None,
    };
    let positions = selection.select(&index, BacklogView::All)?;
    let rows = positions.iter().map(|&p| &index.rows[p as usize]);
    let ids: HashSet<i64> = rows.clone().map(|r| r.id).collect();
    let undecided: Vec<i64> = rows
        .filter(|r| r.status.is_undecided())
        .map(|r| r.id)
        .collect();
    let scope = Scope {
        ids,
        projects: args.project.clone(),
    };
    let digest = digest::build(
        &store,
        &scope,
        &undecided,
        &since.window(now),
        usize::from(args.top),
    )?;

    if let Some(settings) = mail_settings {
        mail::send(&settings, &digest)?;
        say!(
            "sift: sent the digest ({} task(s)) to {} recipient(s) by {}",
            digest.tasks.len(),
            settings.recipients.len(),
            settings.server()
        );
        return Ok(Exit::Ok);
    }
    match args.format {
        Format::Text => print!("{}", render::text(&digest)),
        Format::Markdown => print!("{}", render::markdown(&digest)),
        Format::Html => print!("{}", render::html(&digest)),
        Format::Json => output::print(&render::json(&digest))?,
    }
    Ok(Exit::Ok)
}
