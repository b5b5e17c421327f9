//! `sift assist`: verdicts from the team's own AI provider on the undecided
//! findings that have none, stored as they arrive; `sift assist eval`: how
//! the AI does on the findings reviewers decided.

use super::context::block_on;
use super::findings::Selection;
use super::{Context, Exit, output};
use crate::assistant::eval::{Evaluation, Tally, human_verdict};
use crate::assistant::fix;
use crate::assistant::run::{self, Event, Report, RunOptions, Task};
use crate::assistant::{NOT_CONFIGURED, Provider, ProviderSettings, prompt};
use crate::config;
use crate::domain::{BacklogView, Verdict};
use crate::store::{AnswerKind, Judgement, Store};
use crate::text::inert;
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AssistArgs {
    #[command(subcommand)]
    pub command: Option<AssistCommand>,
    #[command(flatten)]
    pub selection: Selection,
    /// Ask again for findings that already have sift's verdict (and fix).
    #[arg(long)]
    pub again: bool,
    /// Verdicts only: no guidance and fixes for the true positives.
    #[arg(long)]
    pub no_fixes: bool,
    /// Requests at once (default: the config's `jobs`, else 4).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Say how many findings would be sent and roughly how many tokens;
    /// send nothing.
    #[arg(long, conflicts_with = "show_prompt")]
    pub dry_run: bool,
    /// Print exactly what would leave the machine for finding ID (the
    /// request's JSON body), and send nothing.
    #[arg(long, value_name = "ID")]
    pub show_prompt: Option<i64>,
    /// No progress on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print what the run did as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum AssistCommand {
    /// Measure the AI against the findings reviewers decided, changing
    /// nothing: agreement, the false positive confidence rate and recall,
    /// per rule and overall.
    Eval(EvalArgs),
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Requests at once (default: the config's `jobs`, else 4).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    #[arg(long, short)]
    pub quiet: bool,
    #[arg(long)]
    pub json: bool,
}

impl AssistArgs {
    pub fn json(&self) -> bool {
        match &self.command {
            Some(AssistCommand::Eval(e)) => e.json,
            None => self.json,
        }
    }
}

pub fn run(ctx: &Context, args: AssistArgs) -> Result<Exit> {
    if ctx.backend()?.is_remote() {
        bail!(
            "sift assist judges the findings of sift's own store; on the Semgrep API, Semgrep's \
             own Assistant judges them. For a team's `sift serve`, run it where the server \
             keeps its store: sift --data-dir DIR assist"
        );
    }
    let settings = config::assistant(ctx.flags.profile.as_deref(), &ctx.config)?;
    match args.command {
        Some(AssistCommand::Eval(eval)) => evaluate(ctx, settings, eval),
        None => assist(ctx, settings, args),
    }
}

/// The provider to ask, or the reason nothing can be asked.
fn configured(settings: Option<ProviderSettings>, jobs: Option<usize>) -> Result<ProviderSettings> {
    let Some(mut s) = settings else {
        bail!("{NOT_CONFIGURED}");
    };
    if let Some(jobs) = jobs {
        s.jobs = jobs.clamp(1, 64);
    }
    Ok(s)
}

/// The undecided findings a selection names (open or provisionally
/// ignored): the ones a verdict is for.
fn undecided(store: &Store, selection: &Selection) -> Result<Vec<i64>> {
    let index = store.load_index()?;
    Ok(selection
        .select(&index, BacklogView::All)?
        .into_iter()
        .map(|p| &index.rows[p as usize])
        .filter(|r| r.status.is_undecided())
        .map(|r| r.id)
        .collect())
}

#[derive(Serialize)]
struct AssistOutput<'a> {
    findings: usize,
    questions: usize,
    reused: usize,
    verdicts: usize,
    no_verdicts: usize,
    fixes: usize,
    guidance_only: usize,
    no_fixes: usize,
    failed: Vec<Failure<'a>>,
    input_tokens: u64,
    output_tokens: u64,
    provider: String,
    stopped: Option<&'a str>,
}

#[derive(Serialize)]
struct Failure<'a> {
    id: i64,
    why: &'a str,
}

fn assist(ctx: &Context, settings: Option<ProviderSettings>, args: AssistArgs) -> Result<Exit> {
    let store = ctx.read_store()?;
    let ids = undecided(&store, &args.selection)?;
    if let Some(id) = args.show_prompt {
        return show_prompt(&store, settings, id);
    }
    if args.dry_run {
        let (kind, model) = settings
            .as_ref()
            .map_or(("none".into(), "none".into()), |s| {
                (s.kind.as_str().to_string(), s.model.clone())
            });
        let survey = run::survey(&store, &ids, &kind, &model, args.again)?;
        if args.json {
            output::print(&survey)?;
        } else {
            say!(
                "{} finding(s) would be judged: {} question(s) sent, {} answered from \
                 earlier answers; about {} tokens in, {} out. Then each true positive without \
                 a fix takes two more questions (the fix and its review; --no-fixes: none)",
                survey.findings,
                survey.questions,
                survey.reused,
                survey.estimated_input_tokens,
                survey.estimated_output_tokens
            );
            if settings.is_none() {
                eprintln!("sift: {}", NOT_CONFIGURED.lines().next().unwrap_or(""));
            }
        }
        return Ok(Exit::Ok);
    }
    let settings = configured(settings, args.jobs)?;
    let describe = settings.describe();
    let provider = Arc::new(Provider::new(settings)?);
    drop(store);
    let shared = ctx.shared_store()?;
    let progress = Progress::new(ids.len(), !args.quiet && !args.json);
    let events: Arc<dyn Fn(Event) + Send + Sync> = {
        let progress = progress.clone();
        Arc::new(move |e| progress.hear(&e))
    };
    let opts = RunOptions {
        again: args.again,
        attach: true,
        ..RunOptions::default()
    };
    let mut report = block_on(run::run(
        &shared,
        provider.clone(),
        ids.clone(),
        opts,
        events,
    ))??;
    progress.finish();
    // Then guidance and a fix for each true positive among them.
    if !args.no_fixes && report.stopped.is_none() {
        let fixes = RunOptions {
            task: Task::Fixes,
            ..opts
        };
        let wanted = block_on(shared.run(move |s| {
            let findings = s.load_findings(&ids)?;
            let answered = s.ai_answered(&ids, AnswerKind::Fix)?;
            anyhow::Ok(
                findings
                    .iter()
                    .filter(|f| fix::wants_fix(f, answered.contains(&f.id), args.again, false))
                    .map(|f| f.id)
                    .collect::<Vec<_>>(),
            )
        }))???;
        if !wanted.is_empty() {
            let progress = Progress::new(wanted.len(), !args.quiet && !args.json);
            let events: Arc<dyn Fn(Event) + Send + Sync> = {
                let progress = progress.clone();
                Arc::new(move |e| progress.hear(&e))
            };
            let fixed = block_on(run::run(&shared, provider, wanted, fixes, events))??;
            progress.finish();
            report.add_fixes(fixed);
        }
    }
    print_report(&report, &describe, args.json)?;
    Ok(if report.stopped.is_some() {
        Exit::Error
    } else if !report.failed.is_empty() {
        Exit::Pending
    } else {
        Exit::Ok
    })
}

fn print_report(report: &Report, provider: &str, json: bool) -> Result<()> {
    if json {
        return output::print(&AssistOutput {
            findings: report.findings,
            questions: report.questions,
            reused: report.reused,
            verdicts: report.verdicts,
            no_verdicts: report.no_verdicts,
            fixes: report.fixes,
            guidance_only: report.guidance_only,
            no_fixes: report.no_fixes,
            failed: report
                .failed
                .iter()
                .map(|(id, why)| Failure { id: *id, why })
                .collect(),
            input_tokens: report.input_tokens,
            output_tokens: report.output_tokens,
            provider: provider.to_string(),
            stopped: report.stopped.as_deref(),
        });
    }
    say!(
        "{} finding(s): {} verdict(s), {} without a verdict, {} fix(es), {} with guidance only, \
         {} without a fix, {} answered from earlier answers, {} failed; {} question(s) to {}, {} \
         tokens in, {} out",
        report.findings,
        report.verdicts,
        report.no_verdicts,
        report.fixes,
        report.guidance_only,
        report.no_fixes,
        report.reused,
        report.failed.len(),
        report.questions,
        inert(provider),
        report.input_tokens,
        report.output_tokens
    );
    if let Some(why) = &report.stopped {
        eprintln!("sift: stopped: {}", inert(why));
    } else if let Some((_, why)) = report.failed.first() {
        eprintln!(
            "sift: {} finding(s) got no answer this time ({}); run it again to ask for them",
            report.failed.len(),
            inert(why)
        );
    }
    Ok(())
}

fn show_prompt(store: &Store, settings: Option<ProviderSettings>, id: i64) -> Result<Exit> {
    let Some(f) = store.load_finding(id)? else {
        eprintln!("sift: no finding has the id {id}");
        return Ok(Exit::BadInput);
    };
    let memories = store.memories_in_view()?.0;
    let classes = store.rule_classes()?;
    let evidence = prompt::gather(store, &f, &memories, &classes)?;
    match settings {
        Some(settings) => {
            let question = prompt::question(&f, &evidence, settings.kind.as_str(), &settings.model);
            let target = settings.endpoint.clone();
            let provider = Provider::unsent(settings)?;
            eprintln!("sift: POST {target} (the key goes in a header, never in the body)");
            say!(
                "{}",
                serde_json::to_string_pretty(&provider.request_body(&question.ask))?
            );
        }
        None => {
            let question = prompt::question(&f, &evidence, "none", "none");
            eprintln!("sift: {}", NOT_CONFIGURED.lines().next().unwrap_or(""));
            say!(
                "--- system\n{}\n--- user\n{}",
                question.ask.system,
                question.ask.user
            );
        }
    }
    Ok(Exit::Ok)
}

/// A progress line on the terminal (stderr): done/total, rate, time left,
/// tokens, failures.
#[derive(Clone)]
struct Progress(Arc<Mutex<ProgressState>>);

struct ProgressState {
    total: usize,
    done: usize,
    failed: usize,
    tokens: u64,
    started: Instant,
    shown: bool,
    waiting: Option<u64>,
}

impl Progress {
    fn new(total: usize, show: bool) -> Progress {
        Progress(Arc::new(Mutex::new(ProgressState {
            total,
            done: 0,
            failed: 0,
            tokens: 0,
            started: Instant::now(),
            shown: show && std::io::stderr().is_terminal(),
            waiting: None,
        })))
    }

    fn hear(&self, e: &Event) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match e {
            Event::Planned { reused, .. } => s.done += reused,
            Event::Answered {
                findings,
                input_tokens,
                output_tokens,
                ..
            }
            | Event::Fixed {
                findings,
                input_tokens,
                output_tokens,
                ..
            } => {
                s.done += findings.len();
                s.tokens += input_tokens + output_tokens;
                s.waiting = None;
            }
            Event::Failed { findings, .. } => {
                s.done += findings.len();
                s.failed += findings.len();
            }
            Event::Waiting { seconds } => s.waiting = Some(*seconds),
        }
        if s.shown {
            let line = s.line();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
    }

    fn finish(&self) {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if s.shown {
            let _ = writeln!(std::io::stderr());
        }
    }
}

impl ProgressState {
    fn line(&self) -> String {
        const WIDTH: usize = 24;
        let total = self.total.max(1);
        let filled = (self.done * WIDTH / total).min(WIDTH);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.done as f64 / secs;
        let left = if rate > 0.0 && self.done < self.total {
            let eta = std::time::Duration::from_secs_f64((self.total - self.done) as f64 / rate);
            format!(" · ETA {}", crate::show::human(eta))
        } else {
            String::new()
        };
        let mut line = format!(
            "[{}{}] {}/{} · {rate:.1}/s{left} · {} tokens",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            self.done,
            self.total,
            self.tokens
        );
        if self.failed > 0 {
            line += &format!(" · {} failed", self.failed);
        }
        if let Some(s) = self.waiting {
            line += &format!(" · rate limited, waiting {s}s");
        }
        line
    }
}

#[derive(Serialize)]
struct EvalRule<'a> {
    rule: &'a str,
    #[serde(flatten)]
    tally: &'a Tally,
    agreement: Option<f64>,
    false_positive_confidence_rate: Option<f64>,
    false_positive_recall: Option<f64>,
}

#[derive(Serialize)]
struct EvalOutput<'a> {
    overall: EvalRule<'a>,
    rules: Vec<EvalRule<'a>>,
    input_tokens: u64,
    output_tokens: u64,
}

fn rule_output<'a>(rule: &'a str, tally: &'a Tally) -> EvalRule<'a> {
    EvalRule {
        rule,
        tally,
        agreement: tally.agreement(),
        false_positive_confidence_rate: tally.fp_precision(),
        false_positive_recall: tally.fp_recall(),
    }
}

fn evaluate(ctx: &Context, settings: Option<ProviderSettings>, args: EvalArgs) -> Result<Exit> {
    let store = ctx.read_store()?;
    let index = store.load_index()?;
    // A name the store does not know is said before a missing provider,
    // as `sift assist` does.
    let positions = args.selection.select(&index, BacklogView::All)?;
    let settings = configured(settings, args.jobs)?;
    let ids: Vec<i64> = positions
        .iter()
        .map(|&p| index.rows[p as usize].id)
        .collect();
    // The findings a reviewer decided one way or the other.
    let mut decided = Vec::new();
    for chunk in ids.chunks(500) {
        for f in store.load_findings(chunk)? {
            if let Some(human) = human_verdict(&f) {
                decided.push((f.id, human));
            }
        }
    }
    let (kind, model) = (settings.kind.as_str().to_string(), settings.model.clone());
    let provider = Arc::new(Provider::new(settings)?);
    let shared = ctx.shared_store()?;
    let progress = Progress::new(decided.len(), !args.quiet && !args.json);
    let events: Arc<dyn Fn(Event) + Send + Sync> = {
        let progress = progress.clone();
        Arc::new(move |e| progress.hear(&e))
    };
    let opts = RunOptions {
        again: false,
        attach: false,
        ..RunOptions::default()
    };
    let asked: Vec<i64> = decided.iter().map(|(id, _)| *id).collect();
    let report = block_on(run::run(&shared, provider, asked, opts, events))??;
    progress.finish();
    if let Some(why) = &report.stopped {
        bail!("{why}");
    }
    let failed: std::collections::HashSet<i64> = report.failed.iter().map(|(id, _)| *id).collect();
    let mut evaluation = Evaluation {
        input_tokens: report.input_tokens,
        output_tokens: report.output_tokens,
        ..Evaluation::default()
    };
    let memories = store.memories()?;
    let classes = store.rule_classes()?;
    for chunk in decided.chunks(500) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        let own = store.ai_verdicts(&ids)?;
        for f in store.load_findings(&ids)? {
            let human = chunk.iter().find(|(id, _)| *id == f.id).map(|(_, h)| *h);
            let Some(human) = human else { continue };
            if failed.contains(&f.id) {
                evaluation.unanswered(&f.rule.name);
                continue;
            }
            let answer = match own.get(&f.id) {
                Some(a) => Some(a.judgement.clone()),
                None => {
                    let evidence = prompt::gather(&store, &f, &memories, &classes)?;
                    let key = prompt::question(&f, &evidence, &kind, &model).key;
                    store.ai_answer(&key)?.map(|a| a.judgement)
                }
            };
            let ai: Option<Verdict> = match answer {
                Some(Judgement::Verdict { verdict, .. }) => Some(verdict),
                Some(Judgement::NoVerdict { .. }) => None,
                None => {
                    evaluation.unanswered(&f.rule.name);
                    continue;
                }
            };
            evaluation.add(&f.rule.name, human, ai);
        }
    }
    if args.json {
        output::print(&EvalOutput {
            overall: rule_output("(all)", &evaluation.overall),
            rules: evaluation
                .rules
                .iter()
                .map(|(rule, t)| rule_output(rule, t))
                .collect(),
            input_tokens: evaluation.input_tokens,
            output_tokens: evaluation.output_tokens,
        })?;
    } else {
        print_evaluation(&evaluation)?;
    }
    Ok(Exit::Ok)
}

fn percent(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.0}%", r * 100.0))
}

fn print_evaluation(e: &Evaluation) -> Result<()> {
    say!("compared\tagreement\tFP confidence\tFP recall\tno verdict\trule");
    for (rule, t) in e
        .rules
        .iter()
        .map(|(r, t)| (r.as_str(), t))
        .chain([("(all)", &e.overall)])
    {
        say!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            t.compared,
            percent(t.agreement()),
            percent(t.fp_precision()),
            percent(t.fp_recall()),
            t.no_verdict,
            inert(rule)
        );
    }
    say!(
        "FP confidence: of the AI's false-positive calls, the share reviewers also made \
         (Semgrep's \"false positive confidence rate\"); FP recall: of the reviewers' false \
         positives, the share the AI called. {} tokens in, {} out.",
        e.input_tokens,
        e.output_tokens
    );
    if e.overall.unanswered > 0 {
        eprintln!(
            "sift: {} decided finding(s) got no answer this time; run it again to ask for them",
            e.overall.unanswered
        );
    }
    Ok(())
}
