//! `sift memories`: list, add, edit and remove memories from scripts. Every
//! change goes through the memory outbox, as the console's do, and is sent in
//! one sync pass (unless `--offline`); the exit codes are `sift triage`'s.

use super::context::Refresh;
use super::triage::parse_reason;
use super::{Context, Exit, names, output, usage_error, words};
use crate::domain::{
    FindingIndex, Memory, MemoryChange, MemoryStage, Row, RuleClasses, RuleScope, Scope,
    TriageReason, same_class,
};
use crate::store::Store;
use crate::text::{inert, inert_lines};
use crate::wire::timestamp;
use anyhow::{Context as _, Result};
use clap::Subcommand;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use time::OffsetDateTime;

#[derive(Subcommand)]
pub enum MemoriesCommand {
    /// List the memories as the console shows them (changes not sent yet
    /// included), with the undecided findings in each one's scope.
    List {
        /// Only memories whose scope covers this project (repeatable).
        #[arg(long, value_name = "P")]
        project: Vec<String>,
        /// Only memories whose scope covers this rule id (repeatable).
        #[arg(long, value_name = "R")]
        rule: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Create a memory; with --apply, also ignore the undecided findings in
    /// its scope.
    Add {
        /// The memory's text, at most 3,000 characters; `-` reads it from
        /// stdin.
        #[arg(long, value_name = "T")]
        text: String,
        /// A project it is about (repeatable; default: all projects).
        #[arg(long, value_name = "P")]
        project: Vec<String>,
        /// A rule id it is about (repeatable; default: all rules).
        #[arg(long, value_name = "R", conflicts_with = "class")]
        rule: Vec<String>,
        /// Every rule of a vulnerability class, e.g. "SQL Injection".
        #[arg(long, value_name = "C")]
        class: Option<String>,
        /// Only findings under this path (a prefix, e.g. `app/`), or whose
        /// path matches this glob (`**/tests/**`, `src/*.py`) (repeatable).
        #[arg(long, value_name = "X")]
        path_prefix: Vec<String>,
        /// A guidance memory (shapes fix advice) rather than a triage one.
        #[arg(long)]
        guidance: bool,
        /// Create it as suggested rather than live.
        #[arg(long, conflicts_with = "apply")]
        suggested: bool,
        /// Also ignore every undecided finding in its scope, each with a
        /// note naming the memory.
        #[arg(long)]
        apply: bool,
        /// Why they are ignored (with --apply): false_positive (default),
        /// acceptable_risk, no_time, duplicate, no_triage_reason.
        #[arg(long, value_name = "R", requires = "apply", value_parser = parse_reason)]
        reason: Option<TriageReason>,
        /// With --apply: say which findings it would ignore, and which in
        /// its scope it would skip, and record nothing.
        #[arg(long, requires = "apply")]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change a memory's text, scope or stage; what is not given stays.
    Edit {
        /// The memory's id (`sift memories list`).
        id: String,
        /// The new text; `-` reads it from stdin.
        #[arg(long, value_name = "T")]
        text: Option<String>,
        /// The projects it is about, instead of the present ones (repeatable).
        #[arg(long, value_name = "P", conflicts_with = "all_projects")]
        project: Vec<String>,
        /// About every project.
        #[arg(long)]
        all_projects: bool,
        /// The rule ids it is about, instead of the present rules (repeatable).
        #[arg(long, value_name = "R", conflicts_with_all = ["class", "all_rules"])]
        rule: Vec<String>,
        /// Every rule of a vulnerability class, instead of the present rules.
        #[arg(long, value_name = "C", conflicts_with = "all_rules")]
        class: Option<String>,
        /// About every rule.
        #[arg(long)]
        all_rules: bool,
        /// The paths (prefixes or globs), instead of the present ones
        /// (repeatable).
        #[arg(long, value_name = "X", conflicts_with = "no_path_prefixes")]
        path_prefix: Vec<String>,
        /// Drop the path prefixes.
        #[arg(long)]
        no_path_prefixes: bool,
        /// Activate a suggested memory.
        #[arg(long)]
        live: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a memory; decisions made under it stay.
    Rm {
        /// The memory's id (`sift memories list`).
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Judge the undecided findings in a triage memory's scope again with
    /// the memory in the prompt (the team's AI provider); those now judged
    /// false positives become suggestions to close. Nothing is closed.
    Reanalyse(super::reanalyse::ReanalyseArgs),
    /// The findings a re-analysis suggested closing under the memory, with
    /// the Assistant's reasons (those nobody decided since).
    Suggestions {
        /// The memory's id.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Draft a suggested memory from the note a reviewer wrote when
    /// ignoring a finding (the team's AI provider); `L` in the console or
    /// `edit --live` makes it live.
    Draft {
        /// The ignored finding whose note to draft from.
        #[arg(long, value_name = "ID")]
        finding: i64,
        #[arg(long)]
        json: bool,
    },
    /// Close suggested findings: each is ignored as a false positive, with
    /// a note naming the memory and the Assistant's reason.
    AcceptSuggestions {
        /// The memory's id.
        id: String,
        /// Only this finding (repeatable; default: every suggestion).
        #[arg(long, value_name = "ID")]
        finding: Vec<i64>,
        #[arg(long)]
        json: bool,
    },
}

impl MemoriesCommand {
    /// What `--json` prints when the command fails, if it was given.
    pub(super) fn json_failure(&self) -> Option<output::Failure> {
        use output::Failure;
        match self {
            MemoriesCommand::List { json, .. } => json.then_some(Failure::Memories),
            MemoriesCommand::Add { json, .. }
            | MemoriesCommand::Edit { json, .. }
            | MemoriesCommand::Rm { json, .. }
            | MemoriesCommand::Suggestions { json, .. }
            | MemoriesCommand::Draft { json, .. }
            | MemoriesCommand::AcceptSuggestions { json, .. } => json.then_some(Failure::Plain),
            MemoriesCommand::Reanalyse(a) => a.json.then_some(Failure::Plain),
        }
    }
}

/// `sift memories list --json`.
#[derive(Serialize)]
pub struct ListOutput<'a> {
    pub memories: Vec<MemoryJson<'a>>,
    /// Why nothing is listed; only when the command failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl<'a> ListOutput<'a> {
    pub fn failed(error: &'a str) -> ListOutput<'a> {
        ListOutput {
            memories: Vec::new(),
            error: Some(error),
        }
    }
}

/// A memory for scripts.
#[derive(Serialize)]
pub struct MemoryJson<'a> {
    pub id: &'a str,
    /// `live` or `suggested`.
    pub stage: &'static str,
    /// `triage` or `guidance`.
    pub kind: &'static str,
    /// A change to it is not acknowledged yet.
    pub pending: bool,
    pub text: &'a str,
    pub scope: ScopeJson<'a>,
    pub author: &'a str,
    pub created_at: String,
    pub updated_at: String,
    pub undecided_in_scope: usize,
}

/// A memory's scope for scripts.
#[derive(Serialize)]
pub struct ScopeJson<'a> {
    pub all_projects: bool,
    pub projects: &'a [String],
    pub all_rules: bool,
    pub rules: &'a [String],
    pub class: Option<&'a str>,
    pub path_prefixes: &'a [String],
}

impl<'a> MemoryJson<'a> {
    pub fn new(m: &'a Memory, pending: bool, in_scope: usize) -> MemoryJson<'a> {
        let (rules, class): (&[String], _) = match &m.scope.rules {
            RuleScope::All => (&[], None),
            RuleScope::Rules(rules) => (rules, None),
            RuleScope::Class(class) => (&[], Some(class.as_str())),
        };
        MemoryJson {
            id: &m.id,
            stage: m.stage.as_str(),
            kind: kind(m),
            pending,
            text: &m.content,
            scope: ScopeJson {
                all_projects: m.scope.projects.is_empty(),
                projects: &m.scope.projects,
                all_rules: m.scope.rules == RuleScope::All,
                rules,
                class,
                path_prefixes: &m.scope.path_prefixes,
            },
            author: &m.created_by,
            created_at: timestamp::format(m.created_at),
            updated_at: timestamp::format(m.updated_at),
            undecided_in_scope: in_scope,
        }
    }
}

/// `sift memories add --json`.
#[derive(Serialize)]
pub struct AddOutput<'a> {
    pub memory: MemoryJson<'a>,
    /// `acknowledged`, `pending` or `rejected`.
    pub result: &'static str,
    /// The backend's message, for a rejected change.
    pub message: Option<&'a str>,
    /// The findings ignored under it (`--apply`).
    pub ignored: Vec<i64>,
    pub decisions: DecisionCounts,
    pub error: Option<String>,
}

/// What became of the decisions recorded with a memory.
#[derive(Serialize)]
pub struct DecisionCounts {
    pub acknowledged: usize,
    pub pending: usize,
    pub rejected: usize,
}

/// `sift memories edit --json`.
#[derive(Serialize)]
pub struct EditOutput<'a> {
    pub memory: MemoryJson<'a>,
    /// `acknowledged`, `pending`, `rejected` or `unchanged`.
    pub result: &'static str,
    pub message: Option<&'a str>,
    pub undecided_in_scope: BeforeNow,
    pub error: Option<String>,
}

/// Undecided findings in a memory's scope before and after an edit.
#[derive(Serialize)]
pub struct BeforeNow {
    pub before: usize,
    pub now: usize,
}

/// `sift memories rm --json`.
#[derive(Serialize)]
pub struct RmOutput<'a> {
    pub id: &'a str,
    pub result: &'static str,
    pub message: Option<&'a str>,
    /// Undecided findings it covered.
    pub undecided_in_scope: usize,
    pub error: Option<String>,
}

/// `--json` when nothing was recorded (exit code 3).
#[derive(Serialize)]
pub struct NotRecorded<'a> {
    pub recorded: bool,
    pub error: &'a str,
}

/// Nothing is recorded: a name or id the store does not know, or a memory
/// that cannot be saved. Carried as an error to `run`, which says why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Refused(pub(super) String);

fn refused<T>(why: impl Into<String>) -> Result<T> {
    Err(Refused(why.into()).into())
}

/// Runs a `sift memories` command as the reviewer on the backend's store.
pub fn run(ctx: &Context, command: MemoriesCommand) -> Result<Exit> {
    let json = command.json_failure().is_some();
    match memories(ctx, command) {
        Err(e) => match e.downcast::<Refused>() {
            Ok(Refused(why)) => refuse(&why, json),
            Err(e) => Err(e),
        },
        done => done,
    }
}

fn memories(ctx: &Context, command: MemoriesCommand) -> Result<Exit> {
    if !ctx.offline {
        // Names and ids are checked against an API backend's cache: bring
        // it up to date (a no-op for the embedded backend).
        let when = match command {
            MemoriesCommand::Add { .. } => Refresh::IfEmpty,
            _ => Refresh::Always,
        };
        ctx.refresh(when)?;
    }
    let mut store = match command {
        // Only reads: a store that is not there is not created.
        MemoriesCommand::List { .. } | MemoriesCommand::Suggestions { .. } => ctx.read_store()?,
        _ => ctx.open_store()?,
    };
    let actor = ctx.reviewer.as_str();
    let send = |store: &mut Store, memory: i64, decisions: &[i64]| {
        send(ctx, store, Some(memory), decisions)
    };
    match command {
        MemoriesCommand::List {
            project,
            rule,
            json,
        } => list(&store, &project, &rule, json),
        MemoriesCommand::Add {
            text,
            project,
            rule,
            class,
            path_prefix,
            guidance,
            suggested,
            apply,
            reason,
            dry_run,
            json,
        } => {
            let mut memory = Memory::new(read_text(text)?, Scope::default(), guidance, actor);
            if suggested {
                memory.stage = MemoryStage::Suggested;
            }
            let edit = ScopeEdit {
                projects: Some(project).filter(|p| !p.is_empty()),
                rules: match (rule.is_empty(), class) {
                    (false, _) => Some(RuleScope::Rules(rule)),
                    (true, Some(class)) => Some(RuleScope::Class(class)),
                    (true, None) => None,
                },
                path_prefixes: Some(path_prefix).filter(|p| !p.is_empty()),
            };
            let classes = store.rule_classes()?;
            edit.apply_to(&mut memory.scope, &store, &classes)?;
            if let Some(problem) = memory.problem() {
                return refused(problem);
            }
            let reason = apply.then(|| reason.unwrap_or(TriageReason::FalsePositive));
            match reason {
                Some(reason) if dry_run => apply_dry_run(&store, &memory, reason, json),
                _ => add(&mut store, memory, reason, actor, json, send),
            }
        }
        MemoriesCommand::Edit {
            id,
            text,
            project,
            all_projects,
            rule,
            class,
            all_rules,
            path_prefix,
            no_path_prefixes,
            live,
            json,
        } => {
            let edit = ScopeEdit {
                projects: if all_projects {
                    Some(Vec::new())
                } else {
                    Some(project).filter(|p| !p.is_empty())
                },
                rules: match (rule.is_empty(), class, all_rules) {
                    (false, _, _) => Some(RuleScope::Rules(rule)),
                    (true, Some(class), _) => Some(RuleScope::Class(class)),
                    (true, None, true) => Some(RuleScope::All),
                    (true, None, false) => None,
                },
                path_prefixes: if no_path_prefixes {
                    Some(Vec::new())
                } else {
                    Some(path_prefix).filter(|p| !p.is_empty())
                },
            };
            if text.is_none() && !live && edit.is_empty() {
                usage_error(
                    &["memories", "edit"],
                    "say what to change: --text, a scope option (--project, --all-projects, \
                     --rule, --class, --all-rules, --path-prefix, --no-path-prefixes) or --live",
                );
            }
            let text = text.map(read_text).transpose()?;
            edit_memory(&mut store, &id, text, edit, live, actor, json, send)
        }
        MemoriesCommand::Rm { id, json } => remove(&mut store, &id, actor, json, send),
        MemoriesCommand::Suggestions { id, json } => {
            let memory = find(&store, &id)?;
            super::reanalyse::list(&store, &memory, json)
        }
        MemoriesCommand::AcceptSuggestions { id, finding, json } => {
            let memory = find(&store, &id)?;
            let suggested = store.suggestions(&memory.id)?;
            let chosen: Vec<(i64, String)> = suggested
                .into_iter()
                .filter(|s| finding.is_empty() || finding.contains(&s.finding_id))
                .map(|s| (s.finding_id, s.reason))
                .collect();
            if let Some(f) = finding
                .iter()
                .find(|f| !chosen.iter().any(|(c, _)| c == *f))
            {
                return refused(format!(
                    "finding {f} is not suggested for closing under memory {}",
                    memory.id
                ));
            }
            let decided =
                store.decide_with_memory(&memory.suggestion_intents(&chosen), None, actor, true)?;
            let sent = self::send(ctx, &mut store, None, &decided.outbox_ids)?;
            let closed: Vec<i64> = decided.changes.iter().map(|(id, _)| *id).collect();
            if json {
                output::print(&serde_json::json!({
                    "memory": memory.id,
                    "closed": closed,
                    "decisions": sent.decisions(),
                    "error": sent.error(),
                }))?;
            } else {
                say!(
                    "{} closed under memory {}",
                    words::findings(closed.len()),
                    inert(&memory.id)
                );
                sent.explain();
            }
            Ok(sent.exit())
        }
        MemoriesCommand::Reanalyse(args) => {
            drop(store);
            super::reanalyse::run(ctx, args)
        }
        MemoriesCommand::Draft { finding, json } => {
            let Some(memory) = super::reanalyse::draft(ctx, &store, finding, actor)? else {
                if json {
                    output::print(&serde_json::json!({ "memory": null }))?;
                } else {
                    say!("the note holds nothing to remember: no memory drafted");
                }
                return Ok(Exit::Ok);
            };
            let outbox_id =
                store.record_memory_change(&MemoryChange::Create(memory.clone()), actor)?;
            let sent = self::send(ctx, &mut store, Some(outbox_id), &[])?;
            let (now, pending) = in_view(&store, &memory)?.unwrap_or((memory, true));
            if json {
                let left = undecided(&store, &now.scope)?.len();
                output::print(&serde_json::json!({
                    "memory": MemoryJson::new(&now, pending, left),
                    "result": sent.memory.word(),
                    "error": sent.error(),
                }))?;
            } else {
                say!("{}	suggested	{}", inert(&now.id), sent.memory.text());
                for line in inert_lines(&now.content) {
                    say!("  {line}");
                }
                sent.explain();
            }
            Ok(sent.exit())
        }
    }
}

/// `--text -` reads the text from stdin (one trailing newline dropped).
fn read_text(text: String) -> Result<String> {
    if text != "-" {
        return Ok(text);
    }
    let mut read = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut read)
        .context("cannot read the memory's text from stdin")?;
    // Text from an editor on another system: its line ends are not text.
    let read = read.replace("\r\n", "\n");
    let trimmed = read
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t));
    Ok(trimmed.map(str::to_string).unwrap_or(read))
}

/// Nothing was recorded: says why; exit code 3.
fn refuse(why: &str, json: bool) -> Result<Exit> {
    if json {
        // Already failing: a reader gone early changes nothing.
        let _ = output::print(&NotRecorded {
            recorded: false,
            error: why,
        });
    } else {
        eprintln!("sift: {}", inert(why));
        eprintln!("sift: nothing was recorded");
    }
    Ok(Exit::BadInput)
}

/// The parts of a scope a command sets; `None` leaves a part as it is.
#[derive(Default)]
struct ScopeEdit {
    projects: Option<Vec<String>>,
    rules: Option<RuleScope>,
    path_prefixes: Option<Vec<String>>,
}

impl ScopeEdit {
    fn is_empty(&self) -> bool {
        self.projects.is_none() && self.rules.is_none() && self.path_prefixes.is_none()
    }

    /// Checks the names against the store (as every way in does) and sets
    /// them on `scope`; a name the store does not know refuses the command
    /// (exit 3).
    fn apply_to(self, scope: &mut Scope, store: &Store, classes: &RuleClasses) -> Result<()> {
        let rules = match self.rules {
            Some(RuleScope::Rules(rules)) => Some(RuleScope::Rules(dedup(rules))),
            Some(RuleScope::Class(class)) => Some(RuleScope::Class(known_class(classes, class))),
            other => other,
        };
        let named_rules = match &rules {
            Some(RuleScope::Rules(rules)) => &rules[..],
            _ => &[],
        };
        let projects = self.projects.as_deref().unwrap_or_default();
        if let Err(e) = names::check_in_store(store, projects, named_rules) {
            return match e.downcast::<names::UnknownNames>() {
                Ok(unknown) => refused(unknown.to_string()),
                Err(e) => Err(e),
            };
        }
        if let Some(projects) = self.projects {
            scope.projects = dedup(projects);
        }
        if let Some(rules) = rules {
            scope.rules = rules;
        }
        if let Some(prefixes) = self.path_prefixes {
            scope.path_prefixes = dedup(prefixes);
        }
        Ok(())
    }
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// A class as the rules spell it; a class no rule has yet is kept as
/// given, with a warning (it covers no finding until such a rule comes).
fn known_class(classes: &RuleClasses, class: String) -> String {
    let found = classes.values().flatten().find(|c| same_class(c, &class));
    match found {
        Some(c) => c.clone(),
        None => {
            eprintln!(
                "sift: no rule in the store has the class \"{}\"; the memory covers no finding \
                 until one does",
                inert(&class)
            );
            class
        }
    }
}

fn list(store: &Store, projects: &[String], rules: &[String], json: bool) -> Result<Exit> {
    names::check_in_store(store, projects, rules)?;
    let (memories, pending) = store.memories_in_view()?;
    let classes = store.rule_classes()?;
    let index = store.load_index()?;
    let shown: Vec<&Memory> = memories
        .iter()
        .filter(|m| projects.is_empty() || projects.iter().any(|p| m.scope.covers_project(p)))
        .filter(|m| {
            rules.is_empty()
                || rules.iter().any(|r| {
                    let of = classes.get(r).map_or(&[][..], |c| &c[..]);
                    m.scope.covers_rule_of(r, of)
                })
        })
        .collect();
    let in_scope = |m: &Memory| index.undecided_in_scope(&m.scope, &classes, &[]).len();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        let list = ListOutput {
            memories: shown
                .iter()
                .map(|m| MemoryJson::new(m, pending.contains(&m.id), in_scope(m)))
                .collect(),
            error: None,
        };
        writeln!(out, "{}", output::to_pretty(&list)?)?;
    } else {
        for (i, m) in shown.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write_memory(&mut out, m, pending.contains(&m.id), in_scope(m))?;
        }
    }
    out.flush().context("cannot write the memories")?;
    Ok(Exit::Ok)
}

fn kind(m: &Memory) -> &'static str {
    if m.guidance { "guidance" } else { "triage" }
}

fn date(t: OffsetDateTime) -> String {
    t.date().to_string()
}

/// One memory for a reader: every untrusted part made inert.
fn write_memory(out: &mut impl Write, m: &Memory, pending: bool, in_scope: usize) -> Result<()> {
    let mark = if pending { "\tpending" } else { "" };
    writeln!(
        out,
        "{}\t{}\t{}{mark}",
        inert(&m.id),
        m.stage.as_str(),
        kind(m)
    )?;
    writeln!(out, "  projects: {}", inert(&m.scope.projects_text()))?;
    writeln!(out, "  rules: {}", inert(&m.scope.rules_text()))?;
    if !m.scope.path_prefixes.is_empty() {
        writeln!(out, "  paths: {}", inert(&m.scope.path_prefixes.join(", ")))?;
    }
    writeln!(
        out,
        "  by {}, created {}, updated {}",
        inert(&m.created_by),
        date(m.created_at),
        date(m.updated_at)
    )?;
    writeln!(out, "  in scope: {}", words::undecided_findings(in_scope))?;
    for (i, line) in inert_lines(&m.content).enumerate() {
        let label = if i == 0 { "text:" } else { "     " };
        writeln!(out, "  {label} {line}")?;
    }
    Ok(())
}

/// What became of a recorded memory change (and the decisions recorded
/// with it) after the sync pass.
struct Sent {
    memory: Outcome,
    decisions_acknowledged: usize,
    decisions_pending: usize,
    /// The backend's messages for the decisions it refused.
    decisions_rejected: Vec<String>,
    /// Why things are still pending.
    reason: String,
}

enum Outcome {
    Acknowledged,
    Pending,
    Rejected(String),
}

impl Outcome {
    fn word(&self) -> &'static str {
        match self {
            Outcome::Acknowledged => "acknowledged",
            Outcome::Pending => "pending",
            Outcome::Rejected(_) => "rejected",
        }
    }

    fn message(&self) -> Option<&str> {
        match self {
            Outcome::Rejected(m) => Some(m),
            _ => None,
        }
    }

    /// "acknowledged", "pending", "rejected: <message>", for a reader.
    fn text(&self) -> String {
        match self {
            Outcome::Rejected(m) => format!("rejected: {}", inert(m)),
            other => other.word().into(),
        }
    }
}

impl Sent {
    fn rejected(&self) -> bool {
        matches!(self.memory, Outcome::Rejected(_)) || !self.decisions_rejected.is_empty()
    }

    fn pending(&self) -> bool {
        matches!(self.memory, Outcome::Pending) || self.decisions_pending > 0
    }

    /// `sift triage`'s exit codes: 5 wins over 4.
    fn exit(&self) -> Exit {
        Exit::of_outbox(self.rejected(), self.pending())
    }

    /// For `--json`: the first refusal, else why things wait.
    fn error(&self) -> Option<String> {
        let first = self
            .memory
            .message()
            .or(self.decisions_rejected.first().map(String::as_str));
        match first {
            Some(m) => Some(m.to_string()),
            None => self.pending().then(|| self.reason.clone()),
        }
    }

    fn decisions(&self) -> DecisionCounts {
        DecisionCounts {
            acknowledged: self.decisions_acknowledged,
            pending: self.decisions_pending,
            rejected: self.decisions_rejected.len(),
        }
    }

    /// Says on stderr what waits and what was refused.
    fn explain(&self) {
        if let Outcome::Pending = self.memory {
            eprintln!(
                "sift: the memory change is recorded but not sent yet: {}. The next `sift \
                 sync`, or the console, will send it.",
                inert(&self.reason)
            );
        }
        if self.decisions_pending > 0 {
            eprintln!(
                "sift: {} {} recorded but not sent yet: {}. The next `sift sync`, or the console, \
                 will send them.",
                words::decisions(self.decisions_pending),
                words::is_are(self.decisions_pending),
                inert(&self.reason)
            );
        }
        if let Outcome::Rejected(m) = &self.memory {
            eprintln!(
                "sift: the backend rejected the memory change: {}; kept, and listed by `sift sync`.",
                inert(m)
            );
        }
        if !self.decisions_rejected.is_empty() {
            eprintln!(
                "sift: the backend rejected {}; kept, and listed by `sift sync`.",
                words::decisions(self.decisions_rejected.len())
            );
        }
    }
}

/// One sync pass (none with `--offline`), then what became of the memory
/// change `memory` and the decisions `decisions` (outbox ids).
fn send(ctx: &Context, store: &mut Store, memory: Option<i64>, decisions: &[i64]) -> Result<Sent> {
    let report = ctx.sync_pass(store);
    let reason = report.offline.map_or_else(
        || "the backend did not acknowledge it".to_string(),
        |o| o.reason,
    );
    let memory = match store
        .memory_changes()?
        .into_iter()
        .find(|c| Some(c.id) == memory)
    {
        None => Outcome::Acknowledged,
        Some(c) => c.rejected.map_or(Outcome::Pending, Outcome::Rejected),
    };
    let left: Vec<_> = store
        .pending()?
        .into_iter()
        .filter(|p| decisions.contains(&p.id))
        .collect();
    let decisions_rejected: Vec<String> = left.iter().filter_map(|p| p.rejected.clone()).collect();
    Ok(Sent {
        memory,
        decisions_acknowledged: decisions.len() - left.len(),
        decisions_pending: left.len() - decisions_rejected.len(),
        decisions_rejected,
        reason,
    })
}

/// The memory as the reviewer now sees it (under the backend's id, if it
/// gave one), and whether a change to it is still pending.
fn in_view(store: &Store, m: &Memory) -> Result<Option<(Memory, bool)>> {
    let (memories, pending) = store.memories_in_view()?;
    let id = store.memory_id_now(&m.id)?;
    let found = memories.iter().find(|v| v.id == id).cloned();
    Ok(found.map(|v| {
        let pending = pending.contains(&v.id);
        (v, pending)
    }))
}

fn undecided(store: &Store, scope: &Scope) -> Result<Vec<i64>> {
    let index: FindingIndex = store.load_index()?;
    Ok(index.undecided_in_scope(scope, &store.rule_classes()?, &[]))
}

/// `sift memories add`: records the memory (and, with `reason`, the ignore
/// decisions for the undecided findings in its scope) in one transaction.
fn add(
    store: &mut Store,
    memory: Memory,
    apply: Option<TriageReason>,
    actor: &str,
    json: bool,
    send: impl Fn(&mut Store, i64, &[i64]) -> Result<Sent>,
) -> Result<Exit> {
    let in_scope = undecided(store, &memory.scope)?;
    let intents = match apply {
        Some(reason) => memory.apply_intents(&in_scope, reason),
        None => Vec::new(),
    };
    let change = MemoryChange::Create(memory.clone());
    let decided = store.decide_with_memory(&intents, Some(&change), actor, true)?;
    if !decided.refused.is_empty() {
        return refused(refusals(&decided.refused));
    }
    let outbox_id = decided
        .memory_outbox_id
        .context("the memory change was not recorded")?;
    let ignored: Vec<i64> = decided.changes.iter().map(|(id, _)| *id).collect();
    let sent = send(store, outbox_id, &decided.outbox_ids)?;
    let (now, pending) = in_view(store, &memory)?.unwrap_or((memory, true));
    if json {
        let left = undecided(store, &now.scope)?.len();
        output::print(&AddOutput {
            memory: MemoryJson::new(&now, pending, left),
            result: sent.memory.word(),
            message: sent.memory.message(),
            ignored,
            decisions: sent.decisions(),
            error: sent.error(),
        })?;
    } else {
        say!("{}\tcreated\t{}", inert(&now.id), sent.memory.text());
        if apply.is_some() {
            let mut result = format!("{} acknowledged", sent.decisions_acknowledged);
            if sent.decisions_pending > 0 {
                result += &format!(", {} pending", sent.decisions_pending);
            }
            if !sent.decisions_rejected.is_empty() {
                result += &format!(", {} rejected", sent.decisions_rejected.len());
            }
            say!(
                "ignored {} in its scope: {result}",
                words::undecided_findings(ignored.len())
            );
        } else {
            say!(
                "{} in its scope, not changed (--apply ignores them)",
                words::undecided_findings(in_scope.len())
            );
        }
        sent.explain();
    }
    Ok(sent.exit())
}

/// "finding 12: why; finding 14: why".
fn refusals(refused: &[(i64, String)]) -> String {
    let why: Vec<String> = refused
        .iter()
        .map(|(id, why)| format!("finding {id}: {why}"))
        .collect();
    why.join("; ")
}

/// `sift memories add --apply --dry-run --json`.
#[derive(Serialize)]
struct DryRunOutput<'a> {
    dry_run: bool,
    /// The memory as it would be created (its id is not kept).
    memory: MemoryJson<'a>,
    reason: &'static str,
    /// The undecided findings it would ignore.
    would_ignore: Vec<i64>,
    by_project: BTreeMap<&'a str, usize>,
    by_rule: BTreeMap<&'a str, usize>,
    /// The other findings in its scope, by status: decided already.
    skipped: BTreeMap<&'static str, usize>,
}

/// `sift memories add --apply --dry-run`: what adding the memory would
/// ignore and skip, resolved as the real run resolves it; nothing is
/// recorded. A decision the real run would refuse refuses this too (exit
/// 3), so a script learns it before anything is written.
fn apply_dry_run(store: &Store, memory: &Memory, reason: TriageReason, json: bool) -> Result<Exit> {
    let index = store.load_index()?;
    let classes = store.rule_classes()?;
    let in_scope: Vec<&Row> = index
        .in_scope(&memory.scope, &classes, false)
        .into_iter()
        .map(|p| &index.rows[p as usize])
        .collect();
    let (undecided, decided): (Vec<&Row>, Vec<&Row>) =
        in_scope.into_iter().partition(|r| r.status.is_undecided());
    let ids: Vec<i64> = undecided.iter().map(|r| r.id).collect();
    let resolved = store.resolve_intents(&memory.apply_intents(&ids, reason))?;
    if !resolved.refused.is_empty() {
        return refused(refusals(&resolved.refused));
    }
    let mut by_project = BTreeMap::new();
    let mut by_rule = BTreeMap::new();
    for r in &undecided {
        *by_project.entry(index.projects.get(r.project)).or_insert(0) += 1;
        *by_rule.entry(index.rules.get(r.rule)).or_insert(0) += 1;
    }
    let mut skipped = BTreeMap::new();
    for r in &decided {
        *skipped.entry(r.status.as_str()).or_insert(0) += 1;
    }
    if json {
        output::print(&DryRunOutput {
            dry_run: true,
            memory: MemoryJson::new(memory, false, ids.len()),
            reason: reason.as_str(),
            would_ignore: ids,
            by_project,
            by_rule,
            skipped,
        })?;
        return Ok(Exit::Ok);
    }
    say!(
        "would create the memory ({}) and ignore {} in its scope as {}:",
        inert(&memory.scope.summary()),
        words::undecided_findings(ids.len()),
        reason.label().to_lowercase()
    );
    for (what, counts) in [("project", &by_project), ("rule", &by_rule)] {
        for (name, n) in counts {
            say!("  {what} {}: {n}", inert(name));
        }
    }
    if skipped.is_empty() {
        say!("skipped: none (no finding in its scope is decided already)");
    } else {
        let each: Vec<String> = skipped
            .iter()
            .map(|(status, n)| format!("{n} {}", status.replace('_', " ")))
            .collect();
        say!(
            "skipped {} in its scope, decided already: {}",
            words::findings(decided.len()),
            each.join(", ")
        );
    }
    say!("nothing was recorded (--dry-run)");
    Ok(Exit::Ok)
}

/// The memory with this id as the reviewer sees it, or a refusal (exit 3).
fn find(store: &Store, id: &str) -> Result<Memory> {
    let (memories, _) = store.memories_in_view()?;
    match memories.into_iter().find(|m| m.id == id) {
        Some(m) => Ok(m),
        None => refused(format!("no memory has the id {id}")),
    }
}

/// `sift memories edit`: records the memory with what is given changed.
#[allow(clippy::too_many_arguments)]
fn edit_memory(
    store: &mut Store,
    id: &str,
    text: Option<String>,
    edit: ScopeEdit,
    live: bool,
    actor: &str,
    json: bool,
    send: impl Fn(&mut Store, i64, &[i64]) -> Result<Sent>,
) -> Result<Exit> {
    let before = find(store, id)?;
    let mut after = before.clone();
    if let Some(text) = text {
        after.content = text;
    }
    if live {
        after.stage = MemoryStage::Live;
    }
    let classes = store.rule_classes()?;
    edit.apply_to(&mut after.scope, store, &classes)?;
    if let Some(problem) = after.problem() {
        return refused(problem);
    }
    let covered = undecided(store, &before.scope)?.len();
    if after == before {
        if json {
            output::print(&EditOutput {
                memory: MemoryJson::new(&before, false, covered),
                result: "unchanged",
                message: None,
                undecided_in_scope: BeforeNow {
                    before: covered,
                    now: covered,
                },
                error: None,
            })?;
        } else {
            say!("{}\tunchanged", inert(&before.id));
        }
        return Ok(Exit::Ok);
    }
    after.touch();
    let outbox_id = store.record_memory_change(&MemoryChange::Update(after.clone()), actor)?;
    let sent = send(store, outbox_id, &[])?;
    let (now, pending) = in_view(store, &after)?.unwrap_or((after, true));
    let covers = undecided(store, &now.scope)?.len();
    if json {
        output::print(&EditOutput {
            memory: MemoryJson::new(&now, pending, covers),
            result: sent.memory.word(),
            message: sent.memory.message(),
            undecided_in_scope: BeforeNow {
                before: covered,
                now: covers,
            },
            error: sent.error(),
        })?;
    } else {
        say!("{}\tupdated\t{}", inert(&now.id), sent.memory.text());
        if now.scope != before.scope {
            say!(
                "scope: {} → {}",
                inert(&before.scope.summary()),
                inert(&now.scope.summary())
            );
        }
        if now.content != before.content {
            say!("text: changed");
        }
        if now.stage != before.stage {
            say!("stage: {} → {}", before.stage.as_str(), now.stage.as_str());
        }
        say!(
            "in scope: {} before, {covers} now",
            words::undecided_findings(covered)
        );
        sent.explain();
    }
    Ok(sent.exit())
}

/// `sift memories rm`: records the deletion; decisions made under the
/// memory stay.
fn remove(
    store: &mut Store,
    id: &str,
    actor: &str,
    json: bool,
    send: impl Fn(&mut Store, i64, &[i64]) -> Result<Sent>,
) -> Result<Exit> {
    let memory = find(store, id)?;
    let covered = undecided(store, &memory.scope)?.len();
    let outbox_id = store.record_memory_change(&MemoryChange::Delete(memory.id.clone()), actor)?;
    let sent = send(store, outbox_id, &[])?;
    if json {
        output::print(&RmOutput {
            id: &memory.id,
            result: sent.memory.word(),
            message: sent.memory.message(),
            undecided_in_scope: covered,
            error: sent.error(),
        })?;
    } else {
        say!("{}\tdeleted\t{}", inert(&memory.id), sent.memory.text());
        say!(
            "it covered {}; decisions already made under it stay",
            words::undecided_findings(covered)
        );
        sent.explain();
    }
    Ok(sent.exit())
}
