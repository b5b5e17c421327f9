//! `sift rules new`: a Semgrep rule drafted by the team's AI provider from
//! a request and two examples, tested with semgrep when it is installed,
//! printed, and written to a file on request.

use super::context::block_on;
use super::{Context, Exit, output};
use crate::assistant::drafting::{self, Drafted, Outcome, Round};
use crate::assistant::rule::{self, LANGUAGES, Language, Request};
use crate::assistant::semgrep::{self, SEMGREP_ENV, Trial};
use crate::assistant::{NOT_CONFIGURED, Provider};
use crate::config;
use crate::text::{inert, inert_lines};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Longest example and request read (bytes): they go to the provider.
const MAX_EXAMPLE: u64 = 64 * 1024;
const MAX_PROMPT: usize = 4_000;

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Draft a Semgrep rule with the team's AI provider from what it should
    /// find and, best, an example it must match and one it must not; test
    /// it with semgrep when semgrep is installed.
    New(NewArgs),
}

impl RulesCommand {
    pub fn json(&self) -> bool {
        match self {
            RulesCommand::New(a) => a.json,
        }
    }
}

#[derive(Args)]
pub struct NewArgs {
    /// The rule's language, as Semgrep names it (python, javascript, go,
    /// java, …; generic for any text).
    #[arg(long, value_name = "LANG", value_parser = parse_language)]
    pub lang: &'static Language,
    /// What the rule should find, in your words.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// Code the rule must match.
    #[arg(long, value_name = "FILE")]
    pub bad: Option<PathBuf>,
    /// Code the rule must not match.
    #[arg(long, value_name = "FILE")]
    pub good: Option<PathBuf>,
    /// Write the rule to FILE (a rule that passed its test, or that nothing
    /// could test).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE when it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Drafts at most: each failed test goes back to the model.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub rounds: u8,
    /// The semgrep to test with: a path, or a name on PATH (default:
    /// `semgrep` on PATH).
    #[arg(long, env = SEMGREP_ENV, value_name = "PATH")]
    pub semgrep: Option<PathBuf>,
    /// Nothing on stderr about each round.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the rule and its test as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_language(name: &str) -> Result<&'static Language, String> {
    rule::language(name).ok_or_else(|| {
        let names: Vec<&str> = LANGUAGES.iter().map(|l| l.name).collect();
        format!(
            "semgrep has no language {name:?}; one of: {}",
            names.join(", ")
        )
    })
}

pub fn run(ctx: &Context, command: RulesCommand) -> Result<Exit> {
    match command {
        RulesCommand::New(args) => new(ctx, args),
    }
}

/// Refuses with exit code 3: the message on stderr, and as JSON.
fn refuse(json: bool, message: &str) -> Result<Exit> {
    eprintln!("sift: {}", inert(message));
    if json {
        output::print(&output::Failed { error: message })?;
    }
    Ok(Exit::BadInput)
}

fn new(ctx: &Context, args: NewArgs) -> Result<Exit> {
    let prompt = args.prompt.trim();
    if prompt.is_empty() {
        return refuse(
            args.json,
            "--prompt is empty: say what the rule should find",
        );
    }
    if prompt.chars().count() > MAX_PROMPT {
        return refuse(
            args.json,
            &format!("--prompt is longer than {MAX_PROMPT} characters"),
        );
    }
    let mut examples = Vec::new();
    for (option, path) in [("--bad", &args.bad), ("--good", &args.good)] {
        match path.as_deref().map(read_example).transpose() {
            Ok(text) => examples.push(text),
            Err(why) => return refuse(args.json, &format!("{option}: {why}")),
        }
    }
    let good = examples.pop().flatten();
    let bad = examples.pop().flatten();
    if let Some(out) = &args.output
        && !args.force
        && out.symlink_metadata().is_ok()
    {
        return refuse(
            args.json,
            &format!("{} exists; --force replaces it", out.display()),
        );
    }
    let semgrep = match semgrep::find(args.semgrep.as_deref()) {
        Ok(found) => found,
        Err(why) => return refuse(args.json, &why),
    };
    let Some(settings) = config::assistant(ctx.flags.profile.as_deref(), &ctx.config)? else {
        bail!("{NOT_CONFIGURED}");
    };
    let described = settings.describe();
    let provider = Provider::new(settings)?;
    let request = Request {
        language: args.lang,
        prompt: prompt.to_string(),
        bad,
        good,
    };
    let show_rounds = !args.quiet && !args.json;
    let heard = move |round: &Round| {
        if show_rounds {
            hear(round);
        }
    };
    let drafted = block_on(drafting::draft(
        &provider,
        &request,
        semgrep.as_deref(),
        usize::from(args.rounds),
        &heard,
    ))??;

    let untested = untested_because(&request, semgrep.as_deref());
    let notes = notes(&drafted, untested.as_deref());
    let yaml = drafted.rule.as_ref().map(|r| r.to_yaml_noted(&notes));
    let written = match (&yaml, &args.output) {
        (Some(yaml), Some(out)) if drafted.usable() => {
            write_rule(out, yaml, args.force)?;
            Some(out.clone())
        }
        _ => None,
    };
    if args.json {
        print_json(
            &drafted,
            yaml.as_deref(),
            &semgrep,
            untested,
            &written,
            &described,
        )?;
    } else {
        if let Some(yaml) = &yaml {
            for line in inert_lines(yaml.trim_end()) {
                say!("{line}");
            }
        }
        tell(
            &drafted,
            &semgrep,
            untested.as_deref(),
            &args.output,
            &written,
        );
    }
    Ok(if drafted.usable() {
        Exit::Ok
    } else {
        Exit::NoRule
    })
}

/// An example's text: a readable UTF-8 file, not too long for a prompt.
fn read_example(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a file"));
    }
    if meta.len() > MAX_EXAMPLE {
        return Err(format!(
            "{shown} is {} bytes; an example is at most {MAX_EXAMPLE} (keep the few lines that \
             show the issue)",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(format!("{shown} is empty"));
    }
    Ok(text)
}

/// Why the rule was not tested, when it was not.
fn untested_because(request: &Request, semgrep: Option<&Path>) -> Option<String> {
    if request.bad.is_none() && request.good.is_none() {
        return Some("there is no --bad or --good example to test it on".into());
    }
    semgrep.is_none().then(|| {
        format!(
            "semgrep is not installed (no `semgrep` on PATH; --semgrep or {SEMGREP_ENV} names \
             one)"
        )
    })
}

/// What the rule's comment says about its test.
fn notes(drafted: &Drafted, untested: Option<&str>) -> Vec<String> {
    match (&drafted.trial, untested) {
        (Some(t), _) if t.passed() => vec![format!("Tested with semgrep: {}.", t.summary())],
        (Some(t), _) => vec![format!("FAILED its test with semgrep: {}.", t.summary())],
        (None, Some(why)) => vec![format!("UNTESTED: {why}.")],
        (None, None) => Vec::new(),
    }
}

/// A round as it ends, on stderr.
fn hear(round: &Round) {
    let n = round.number;
    match &round.outcome {
        Outcome::Unusable(why) => {
            eprintln!("sift: draft {n} is not a usable rule: {}", inert(why));
        }
        Outcome::Failed(t) => {
            eprintln!("sift: draft {n} failed its test: {}", inert(&t.summary()));
        }
        Outcome::Declined(_) | Outcome::Passed(_) | Outcome::Untested => {}
    }
}

/// Semgrep's multi-line messages on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the drafting came to, on stderr (stdout holds the rule alone).
fn tell(
    drafted: &Drafted,
    semgrep: &Option<PathBuf>,
    untested: Option<&str>,
    output: &Option<PathBuf>,
    written: &Option<PathBuf>,
) {
    let rounds = drafted.rounds.len();
    let last = drafted.rounds.last().map(|r| &r.outcome);
    match (&drafted.rule, &drafted.trial) {
        (None, _) => {
            let why = match last {
                Some(Outcome::Declined(words)) => format!("the model declined: {words}"),
                Some(Outcome::Unusable(why)) => why.clone(),
                _ => "no answer".to_string(),
            };
            eprintln!(
                "sift: no usable rule after {rounds} draft(s); the last: {}",
                inert(&why)
            );
        }
        (Some(_), Some(t)) => {
            let path = semgrep.as_deref().map(Path::display);
            let path = path.map(|p| p.to_string()).unwrap_or_default();
            if t.passed() {
                eprintln!(
                    "sift: tested with semgrep ({}) on the examples: {} (draft {rounds})",
                    inert(&path),
                    t.summary()
                );
            } else {
                eprintln!(
                    "sift: the rule still FAILS its test with semgrep ({}) after {rounds} \
                     draft(s):",
                    inert(&path)
                );
                for problem in &t.problems {
                    eprintln!("  - {}", inert(&one_line(problem)));
                }
            }
            for warning in &t.warnings {
                eprintln!("sift: semgrep warned: {}", inert(&one_line(warning)));
            }
        }
        (Some(_), None) => {
            eprintln!(
                "sift: the rule is UNTESTED: {}; try it with `semgrep scan --config FILE` on \
                 code you know before use",
                untested.unwrap_or("it was not tested")
            );
        }
    }
    match (output, written) {
        (_, Some(path)) => eprintln!("sift: wrote {}", inert(&path.display().to_string())),
        (Some(path), None) => eprintln!(
            "sift: nothing written to {}: no rule passed its test",
            inert(&path.display().to_string())
        ),
        (None, None) => {}
    }
}

/// Writes the rule to a new file beside `path` and moves it into place, so
/// a reader never sees half a rule; without `force`, an existing file
/// (even one created meanwhile) stays.
fn write_rule(path: &Path, yaml: &str, force: bool) -> Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let shown = path.display();
    let mut file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write {shown}"))?;
    file.write_all(yaml.as_bytes())
        .with_context(|| format!("cannot write {shown}"))?;
    if force {
        file.persist(path)
            .with_context(|| format!("cannot write {shown}"))?;
    } else {
        file.persist_noclobber(path)
            .with_context(|| format!("cannot write {shown} (does it exist now?)"))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct RuleOutput<'a> {
    id: &'a str,
    language: &'a str,
    severity: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct ExampleOutput<'a> {
    matched: bool,
    lines: &'a [u64],
}

#[derive(Serialize)]
struct TestOutput<'a> {
    /// passed, failed or untested.
    status: &'static str,
    semgrep: Option<String>,
    why_untested: Option<String>,
    bad_example: Option<ExampleOutput<'a>>,
    good_example: Option<ExampleOutput<'a>>,
    problems: &'a [String],
    warnings: &'a [String],
}

#[derive(Serialize)]
struct RoundOutput<'a> {
    round: usize,
    /// unusable, declined, failed, passed or untested.
    outcome: &'static str,
    why: Vec<&'a str>,
}

#[derive(Serialize)]
struct NewOutput<'a> {
    rule: Option<RuleOutput<'a>>,
    yaml: Option<&'a str>,
    test: TestOutput<'a>,
    rounds: Vec<RoundOutput<'a>>,
    written: Option<String>,
    provider: &'a str,
    input_tokens: u64,
    output_tokens: u64,
}

fn example(lines: &Option<Vec<u64>>) -> Option<ExampleOutput<'_>> {
    lines.as_ref().map(|l| ExampleOutput {
        matched: !l.is_empty(),
        lines: l,
    })
}

fn print_json(
    drafted: &Drafted,
    yaml: Option<&str>,
    semgrep: &Option<PathBuf>,
    untested: Option<String>,
    written: &Option<PathBuf>,
    provider: &str,
) -> Result<()> {
    let none = Trial::default();
    let trial = drafted.trial.as_ref().unwrap_or(&none);
    let status = match &drafted.trial {
        Some(t) if t.passed() => "passed",
        Some(_) => "failed",
        None => "untested",
    };
    let tested = drafted.trial.is_some();
    output::print(&NewOutput {
        rule: drafted.rule.as_ref().map(|r| RuleOutput {
            id: &r.id,
            language: r.language.name,
            severity: r.severity.as_str(),
            message: &r.message,
        }),
        yaml,
        test: TestOutput {
            status,
            semgrep: semgrep.as_ref().map(|p| p.display().to_string()),
            why_untested: if tested || drafted.rule.is_none() {
                None
            } else {
                untested
            },
            bad_example: example(&trial.bad),
            good_example: example(&trial.good),
            problems: &trial.problems,
            warnings: &trial.warnings,
        },
        rounds: drafted
            .rounds
            .iter()
            .map(|r| {
                let (outcome, why) = match &r.outcome {
                    Outcome::Unusable(why) => ("unusable", vec![why.as_str()]),
                    Outcome::Declined(words) => ("declined", vec![words.as_str()]),
                    Outcome::Failed(t) => {
                        ("failed", t.problems.iter().map(String::as_str).collect())
                    }
                    Outcome::Passed(_) => ("passed", Vec::new()),
                    Outcome::Untested => ("untested", Vec::new()),
                };
                RoundOutput {
                    round: r.number,
                    outcome,
                    why,
                }
            })
            .collect(),
        written: written.as_ref().map(|p| p.display().to_string()),
        provider,
        input_tokens: drafted.input_tokens,
        output_tokens: drafted.output_tokens,
    })
}
