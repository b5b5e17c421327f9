//! Asking for many verdicts: the findings in chunks (memory stays flat),
//! one question per distinct prompt (copies and identical code are asked
//! once), answers reused when the same question was answered before,
//! requests at once up to `jobs`, 429s and `Retry-After` honoured by every
//! request, transient failures retried with backoff. Each answer is stored
//! as it arrives, so a kill loses at most the requests in flight and a
//! rerun asks only what is left.

use super::prompt::{self, Evidence, Question};
use super::provider::{Ask, Content, Provider, ProviderError, Reply};
use super::{fix, verdict};
use crate::domain::{Finding, Judge};
use crate::service::SharedStore;
use crate::store::{Answer, AnswerKind, FixOutcome, FixRecord, Judgement, Store};
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

/// Findings planned and asked at a time.
const CHUNK: usize = 256;
/// Tries per question when the provider is unavailable.
const MAX_ATTEMPTS: u32 = 4;
/// Consoles are told about new verdicts at most this often.
const NEWS_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub task: Task,
    /// Ask again for findings that already have an answer.
    pub again: bool,
    /// Make each answer the finding's verdict or fix; without, answers are
    /// only kept (for `sift assist eval`, which changes nothing).
    pub attach: bool,
    /// Fixes for the findings named, whatever their verdict (`sift fix`).
    pub on_demand: bool,
    /// Ask about findings that have an answer when their question is new
    /// (a memory changed it); an identical question is still answered
    /// from before (a re-analysis under a memory).
    pub fresh: bool,
}

/// What a run asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Task {
    #[default]
    Verdicts,
    /// Guidance and a fix, rated by a review pass.
    Fixes,
}

/// What the run tells its caller as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A chunk is planned: its findings, the questions to ask, the
    /// findings answered from earlier answers.
    Planned {
        findings: usize,
        questions: usize,
        reused: usize,
    },
    /// An answer arrived for these findings (stored already).
    Answered {
        findings: Vec<i64>,
        judgement: Judgement,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// A fix (or why there is none) arrived for these findings (stored).
    Fixed {
        findings: Vec<i64>,
        outcome: FixOutcome,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// No answer for these findings this time; a rerun asks again.
    Failed { findings: Vec<i64>, why: String },
    /// The provider asked to wait.
    Waiting { seconds: u64 },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub findings: usize,
    pub questions: usize,
    pub reused: usize,
    pub verdicts: usize,
    pub no_verdicts: usize,
    /// Findings given a fix, guidance without a fix, or neither.
    pub fixes: usize,
    pub guidance_only: usize,
    pub no_fixes: usize,
    pub failed: Vec<(i64, String)>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The run stopped early: the provider cannot be used as configured.
    pub stopped: Option<String>,
}

impl Report {
    /// Adds what a run for fixes did to a run for verdicts on the same
    /// findings.
    pub fn add_fixes(&mut self, fixes: Report) {
        self.questions += fixes.questions;
        self.reused += fixes.reused;
        self.fixes += fixes.fixes;
        self.guidance_only += fixes.guidance_only;
        self.no_fixes += fixes.no_fixes;
        self.failed.extend(fixes.failed);
        self.input_tokens += fixes.input_tokens;
        self.output_tokens += fixes.output_tokens;
        self.stopped = self.stopped.take().or(fixes.stopped);
    }
}

/// Findings the run asks about: those without an answer (or all, with
/// `again`), never one Semgrep's own Assistant judged.
pub fn wants_asking(f: &Finding, answered: bool, again: bool) -> bool {
    let semgreps = f
        .assistant
        .as_ref()
        .is_some_and(|a| a.verdict.is_some() && a.judged_by.is_none());
    !semgreps && (again || !answered)
}

/// What a run would do, without asking or storing anything.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Survey {
    /// Findings that would be asked about, or answered from before.
    pub findings: usize,
    /// Distinct questions that would be sent.
    pub questions: usize,
    /// Findings answered from earlier answers, without a request.
    pub reused: usize,
    /// Tokens the questions would take (about four characters a token),
    /// and their answers (about 150 a question).
    pub estimated_input_tokens: u64,
    pub estimated_output_tokens: u64,
}

/// Plans a run on `ids` and says what it would send.
pub fn survey(
    store: &Store,
    ids: &[i64],
    provider: &str,
    model: &str,
    again: bool,
) -> Result<Survey> {
    let opts = RunOptions {
        again,
        ..RunOptions::default()
    };
    let mut out = Survey::default();
    for chunk in ids.chunks(CHUNK) {
        let (questions, reused, _) = plan(store, chunk, provider, model, opts)?;
        out.reused += reused;
        out.questions += questions.len();
        out.findings += reused + questions.iter().map(|q| q.findings.len()).sum::<usize>();
        for q in &questions {
            let chars = q.question.ask.system.len() + q.question.ask.user.len();
            out.estimated_input_tokens += (chars / 4) as u64;
            out.estimated_output_tokens += 150;
        }
    }
    Ok(out)
}

/// A question and the findings it is for.
struct Planned {
    question: Question,
    findings: Vec<i64>,
    /// For a fix: the finding asked about, its evidence and the lines the
    /// fix replaces, for the review pass.
    fixing: Option<(Box<Finding>, Evidence, String)>,
}

/// Asks about `ids` and stores the answers; `events` hears of each.
pub async fn run(
    store: &SharedStore,
    provider: Arc<Provider>,
    ids: Vec<i64>,
    opts: RunOptions,
    events: Arc<dyn Fn(Event) + Send + Sync>,
) -> Result<Report> {
    let report = Arc::new(Mutex::new(Report {
        findings: ids.len(),
        ..Report::default()
    }));
    let gate = Gate::default();
    let slots = Arc::new(Semaphore::new(provider.settings.jobs));
    let mut news = Instant::now();
    // One set across chunks: the next chunk is planned while the last
    // one's requests are still in flight (the slots bound them).
    let mut tasks = tokio::task::JoinSet::new();
    let mut asked: std::collections::HashSet<String> = Default::default();
    let mut waiting_for: Vec<(String, Vec<i64>)> = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let chunk = chunk.to_vec();
        let (kind, model) = (
            provider.settings.kind.as_str().to_string(),
            provider.settings.model.clone(),
        );
        let (questions, reused, unanswerable) = store
            .run(move |s| plan(s, &chunk, &kind, &model, opts))
            .await??;
        {
            let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
            r.questions += questions.len();
            r.reused += reused;
            r.failed.extend(unanswerable.iter().cloned());
        }
        for (id, why) in unanswerable {
            events(Event::Failed {
                findings: vec![id],
                why,
            });
        }
        events(Event::Planned {
            findings: questions.iter().map(|q| q.findings.len()).sum::<usize>() + reused,
            questions: questions.len(),
            reused,
        });
        for planned in questions {
            // The same question is in flight from an earlier chunk: its
            // answer is reused once it is in.
            if !asked.insert(planned.question.key.clone()) {
                waiting_for.push((planned.question.key.clone(), planned.findings));
                continue;
            }
            let slot = slots.clone().acquire_owned().await?;
            // Checked once a slot is free: a request that stopped the run
            // may have just ended.
            if report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stopped
                .is_some()
            {
                break;
            }
            let (provider, shared, gate, report, events) = (
                provider.clone(),
                store.clone(),
                gate.clone(),
                report.clone(),
                events.clone(),
            );
            tasks.spawn(async move {
                let _slot = slot;
                ask_one(&provider, &shared, &gate, planned, opts, &report, &*events).await
            });
            while let Some(done) = tasks.try_join_next() {
                done??;
            }
            if news.elapsed() >= NEWS_EVERY && opts.attach {
                store.run(|s| s.findings_changed()).await??;
                news = Instant::now();
            }
        }
        if report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stopped
            .is_some()
        {
            break;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let reused = store
        .run(move |s| reuse_answers(s, &waiting_for, opts))
        .await??;
    {
        let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
        r.reused += reused.len();
        r.questions -= reused.len().min(r.questions);
    }
    if opts.attach {
        store.run(|s| s.findings_changed()).await??;
    }
    let report = report.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(report)
}

/// Gives findings whose question was in flight when they were planned the
/// answer it got; those whose question got none stay for the next run.
fn reuse_answers(
    store: &Store,
    waiting_for: &[(String, Vec<i64>)],
    opts: RunOptions,
) -> Result<Vec<i64>> {
    let mut reused = Vec::new();
    for (key, findings) in waiting_for {
        let found = match opts.task {
            Task::Verdicts => store.ai_answer(key)?.map(|answer| {
                let to: &[i64] = if opts.attach { findings } else { &[] };
                store.record_verdict(key, &answer, to)
            }),
            Task::Fixes => store
                .ai_fix_answer(key)?
                .map(|record| store.record_fix(key, &record, findings)),
        };
        if let Some(recorded) = found {
            recorded?;
            reused.extend(findings);
        }
    }
    Ok(reused)
}

/// The questions to ask, how many findings were answered from before, and
/// the findings that cannot be asked about, with why.
type Plan = (Vec<Planned>, usize, Vec<(i64, String)>);

/// The questions for a chunk of findings, grouped; findings whose question
/// was answered before get that answer now. Returns the questions to ask,
/// how many findings were answered from before, and the findings that
/// cannot be asked about, with why.
fn plan(store: &Store, ids: &[i64], provider: &str, model: &str, opts: RunOptions) -> Result<Plan> {
    let findings = store.load_findings(ids)?;
    let kind = match opts.task {
        Task::Verdicts => AnswerKind::Verdict,
        Task::Fixes => AnswerKind::Fix,
    };
    let answered = store.ai_answered(ids, kind)?;
    // As the reviewer sees them: one saved a moment ago counts already.
    let memories = store.memories_in_view()?.0;
    let classes = store.rule_classes()?;
    let mut groups: BTreeMap<String, Planned> = BTreeMap::new();
    let mut unanswerable = Vec::new();
    for f in &findings {
        let answered = answered.contains(&f.id);
        let planned = match opts.task {
            Task::Verdicts => {
                if !wants_asking(f, answered && !opts.fresh, opts.again) {
                    continue;
                }
                let evidence = prompt::gather(store, f, &memories, &classes)?;
                Planned {
                    question: prompt::question(f, &evidence, provider, model),
                    findings: Vec::new(),
                    fixing: None,
                }
            }
            Task::Fixes => {
                if !fix::wants_fix(f, answered, opts.again, opts.on_demand) {
                    continue;
                }
                let mut evidence = prompt::gather(store, f, &memories, &classes)?;
                let Some(replaces) = evidence.code.as_ref().and_then(|c| fix::matched(f, c)) else {
                    unanswerable.push((f.id, NO_CODE.to_string()));
                    continue;
                };
                evidence.memories = fix::guidance_memories(f, &memories, &classes);
                evidence.examples.clear();
                Planned {
                    question: fix::question(f, &evidence, provider, model),
                    findings: Vec::new(),
                    fixing: Some((Box::new(f.clone()), evidence, replaces)),
                }
            }
        };
        groups
            .entry(planned.question.key.clone())
            .or_insert(planned)
            .findings
            .push(f.id);
    }
    let mut reused = 0;
    let mut to_ask = Vec::new();
    for (key, planned) in groups {
        let earlier = if opts.again {
            None
        } else {
            match opts.task {
                Task::Verdicts => store.ai_answer(&key)?.map(|answer| {
                    if opts.attach {
                        store.record_verdict(&key, &answer, &planned.findings)
                    } else {
                        Ok(())
                    }
                }),
                Task::Fixes => store
                    .ai_fix_answer(&key)?
                    .map(|record| store.record_fix(&key, &record, &planned.findings)),
            }
        };
        match earlier {
            Some(recorded) => {
                recorded?;
                reused += planned.findings.len();
            }
            None => to_ask.push(planned),
        }
    }
    Ok((to_ask, reused, unanswerable))
}

/// The verdict question each finding would be asked now, by its key, and
/// the memories in it: what a run with `fresh` answers.
pub fn verdict_questions(
    store: &Store,
    ids: &[i64],
    provider: &str,
    model: &str,
) -> Result<Vec<(i64, String, Vec<String>)>> {
    let memories = store.memories_in_view()?.0;
    let classes = store.rule_classes()?;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        for f in store.load_findings(chunk)? {
            let evidence = prompt::gather(store, &f, &memories, &classes)?;
            let q = prompt::question(&f, &evidence, provider, model);
            out.push((f.id, q.key, q.memories));
        }
    }
    Ok(out)
}

/// Why a finding gets no fix: there is no code to replace.
pub const NO_CODE: &str = "no code to fix: the scan hid it and no source tree was given \
                           (import with --repo-root)";

async fn ask_one(
    provider: &Provider,
    store: &SharedStore,
    gate: &Gate,
    planned: Planned,
    opts: RunOptions,
    report: &Mutex<Report>,
    events: &(dyn Fn(Event) + Send + Sync),
) -> Result<()> {
    let Planned {
        question,
        findings,
        fixing,
    } = planned;
    let reply = match ask_with_retries(provider, gate, &question.ask, report, events).await {
        // A small model may answer with the prompt's own markers.
        Ok(mut reply) if echoes(&reply.content, &question.boundary) => {
            reply.content = Content::Echoed;
            reply
        }
        Ok(reply) => reply,
        Err(why) => {
            report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .failed
                .extend(findings.iter().map(|&id| (id, why.clone())));
            events(Event::Failed { findings, why });
            return Ok(());
        }
    };
    let judge = Judge {
        provider: provider.settings.kind.as_str().to_string(),
        model: provider.settings.model.clone(),
        prompt_version: prompt::PROMPT_VERSION,
        at: OffsetDateTime::now_utc(),
        memories: question.memories.clone(),
    };
    let key = question.key.clone();
    match fixing {
        None => {
            let judgement = verdict::read(&reply.content);
            let answer = Answer {
                judgement: judgement.clone(),
                judge,
                input_tokens: reply.input_tokens,
                output_tokens: reply.output_tokens,
            };
            let attach = findings.clone();
            store
                .run(move |s| {
                    let to: &[i64] = if opts.attach { &attach } else { &[] };
                    s.record_verdict(&key, &answer, to)
                })
                .await??;
            {
                let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
                match judgement {
                    Judgement::Verdict { .. } => r.verdicts += findings.len(),
                    Judgement::NoVerdict { .. } => r.no_verdicts += findings.len(),
                }
                r.input_tokens += reply.input_tokens;
                r.output_tokens += reply.output_tokens;
            }
            events(Event::Answered {
                findings,
                judgement,
                input_tokens: reply.input_tokens,
                output_tokens: reply.output_tokens,
            });
        }
        Some((finding, evidence, replaces)) => {
            let (mut input_tokens, mut output_tokens) = (reply.input_tokens, reply.output_tokens);
            let outcome = match fix::read(&reply.content, &replaces) {
                Err(why) => FixOutcome::NotWritten { why },
                Ok(mut answer) => {
                    if !answer.fix_code.is_empty() {
                        let (kind, model) =
                            (provider.settings.kind.as_str(), &provider.settings.model);
                        let review = fix::review_question(
                            &finding,
                            &evidence,
                            &answer.fix_code,
                            kind,
                            model,
                        );
                        let reviewed =
                            ask_with_retries(provider, gate, &review.ask, report, events).await;
                        if let Ok(r) = &reviewed {
                            input_tokens += r.input_tokens;
                            output_tokens += r.output_tokens;
                        }
                        fix::rate(
                            &mut answer,
                            reviewed.as_ref().map(|r| &r.content).map_err(String::clone),
                        );
                    }
                    FixOutcome::Written(answer)
                }
            };
            let record = FixRecord {
                outcome: outcome.clone(),
                judge,
                input_tokens,
                output_tokens,
            };
            let attach = findings.clone();
            store
                .run(move |s| s.record_fix(&key, &record, &attach))
                .await??;
            {
                let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
                match &outcome {
                    FixOutcome::Written(a) if a.fix_code.is_empty() => {
                        r.guidance_only += findings.len()
                    }
                    FixOutcome::Written(_) => r.fixes += findings.len(),
                    FixOutcome::NotWritten { .. } => r.no_fixes += findings.len(),
                }
                r.input_tokens += input_tokens;
                r.output_tokens += output_tokens;
            }
            events(Event::Fixed {
                findings,
                outcome,
                input_tokens,
                output_tokens,
            });
        }
    }
    Ok(())
}

/// Asks one question, waiting as long as the provider (or `gate`) says and
/// retrying when it is unavailable, up to [`MAX_ATTEMPTS`] tries; `waiting`
/// hears of each wait the provider asked for. The error is the last one.
pub async fn ask_patiently(
    provider: &Provider,
    ask: &Ask,
    gate: &Gate,
    waiting: &(dyn Fn(u64) + Send + Sync),
) -> Result<Reply, ProviderError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(wait) = gate.wait_needed() {
            waiting(wait.as_secs().max(1));
            tokio::time::sleep(wait).await;
        }
        match provider.ask(ask).await {
            Err(ProviderError::Unavailable {
                message,
                retry_after,
            }) => {
                if let Some(wait) = retry_after {
                    gate.hold(wait);
                }
                if attempt >= MAX_ATTEMPTS {
                    return Err(ProviderError::Unavailable {
                        message,
                        retry_after,
                    });
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
            done => return done,
        }
    }
}

fn echoes(content: &Content, boundary: &str) -> bool {
    matches!(content, Content::Text(text) if !boundary.is_empty() && text.contains(boundary))
}

/// [`ask_patiently`] for a run: its waits are events, and a provider that
/// cannot be used as configured stops the run. The error is in words.
async fn ask_with_retries(
    provider: &Provider,
    gate: &Gate,
    ask: &Ask,
    report: &Mutex<Report>,
    events: &(dyn Fn(Event) + Send + Sync),
) -> Result<Reply, String> {
    let waiting = |seconds| events(Event::Waiting { seconds });
    match ask_patiently(provider, ask, gate, &waiting).await {
        Ok(reply) => Ok(reply),
        Err(ProviderError::Unusable { message }) => {
            let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
            r.stopped.get_or_insert_with(|| message.clone());
            Err(message)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// 1 s, 2 s, 4 s…, up to a minute.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// When the provider may be asked again, shared by every request.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<Option<Instant>>>);

impl Gate {
    fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none_or(|u| u < until) {
            *g = Some(until);
        }
    }

    fn wait_needed(&self) -> Option<Duration> {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.and_then(|u| u.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }
}
