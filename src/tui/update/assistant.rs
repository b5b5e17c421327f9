//! Asking sift's own Assistant from the console: the job runs in the
//! background while the reviewer works on; answers show as they arrive.

use crate::tui::action::{AssistantNews, AssistantWork, Effect};
use crate::tui::clipboard::MAX_COPY;
use crate::tui::model::{AssistantJob, Model};

/// `J`: the finding under the cursor, the marked ones or the range.
pub fn ask(model: &mut Model) -> Vec<Effect> {
    let Some(provider) = &model.assistant else {
        model.notice = Some(
            "No AI provider is configured: add [assistant] to sift's config file (see the \
             README, \"sift's own Assistant\")"
                .into(),
        );
        return Vec::new();
    };
    if let Some(job) = &model.assistant_job {
        model.notice = Some(format!(
            "The Assistant is still on {} finding(s); ask again when it is done",
            job.total - job.verdicts - job.no_verdicts - job.failed
        ));
        return Vec::new();
    }
    let targets = model.targets();
    if targets.is_empty() {
        return Vec::new();
    }
    model.notice = Some(format!(
        "Asking {provider} about {} finding(s)…",
        targets.len()
    ));
    model.assistant_job = Some(AssistantJob {
        total: targets.len(),
        ..AssistantJob::default()
    });
    model.marked.clear();
    model.visual = None;
    vec![Effect::AskAssistant(AssistantWork::Verdicts(targets))]
}

/// What the job did: counts, the answered findings shown as they now are.
pub fn news(model: &mut Model, news: AssistantNews) -> Vec<Effect> {
    let job = model
        .assistant_job
        .get_or_insert_with(AssistantJob::default);
    match news {
        AssistantNews::Answered { findings, verdict } => {
            if verdict {
                job.verdicts += findings.len();
            } else {
                job.no_verdicts += findings.len();
            }
            vec![Effect::ReloadIndex]
        }
        AssistantNews::Failed { findings, .. } => {
            job.failed += findings.len();
            Vec::new()
        }
        AssistantNews::Fixed { findings, ok } => {
            if ok {
                job.fixes += findings.len();
            } else {
                job.fix_failed += findings.len();
            }
            let mut effects = vec![Effect::ReloadIndex];
            // The fix shows in the pane at once.
            if let Some(id) = model.detail.finding.as_ref().map(|f| f.id)
                && findings.contains(&id)
            {
                effects.push(Effect::LoadDetail(id));
            }
            effects
        }
        AssistantNews::Drafted(drafted) => {
            model.notice = Some(match drafted {
                Ok(Some(text)) => format!(
                    "The Assistant drafted a suggested memory from your note: \"{text}\" · m \
                     shows it, L makes it live"
                ),
                Ok(None) => "Your note holds nothing to remember: no memory drafted".into(),
                Err(why) => format!("No memory drafted from your note: {why}"),
            });
            vec![Effect::LoadMemories]
        }
        AssistantNews::Reanalysed { suggested, .. } => {
            job.reanalysed = Some(suggested);
            vec![Effect::LoadMemories]
        }
        AssistantNews::Done { stopped } => {
            let job = model.assistant_job.take().unwrap_or_default();
            model.notice = Some(match stopped {
                Some(why) => format!("The Assistant stopped: {why}"),
                None if job.reanalysed.is_some() => match job.reanalysed {
                    Some(0) | None => "Re-analysed under the memory: nothing more to close".into(),
                    Some(n) => format!(
                        "Re-analysed under the memory: {n} finding(s) suggested to close; S in the \
                         memory pane lists them, nothing is closed until you accept"
                    ),
                },
                None if job.total == 0 => match (job.fixes, job.fix_failed) {
                    (0, 0) => "The Assistant had nothing to write".to_string(),
                    (0, _) => "No new fix this time (ask again later)".to_string(),
                    _ => "The Assistant rewrote the fix with your guidance: before and after \
                          are in the finding pane"
                        .to_string(),
                },
                None => {
                    let mut said = format!(
                        "The Assistant judged {} finding(s): {} verdict(s), {} without one",
                        job.total, job.verdicts, job.no_verdicts
                    );
                    if job.failed > 0 {
                        said += &format!(", {} unanswered (ask again later)", job.failed);
                    }
                    if job.fixes > 0 {
                        said += &format!("; {} fix(es) written", job.fixes);
                    }
                    if job.fix_failed > 0 {
                        said += &format!(", {} not (ask again later)", job.fix_failed);
                    }
                    said
                }
            });
            vec![Effect::ReloadIndex]
        }
    }
}

/// `y`: the fix the finding pane shows, on the clipboard: the rule's own
/// when it has one, else the Assistant's when it is shown (not hidden by
/// its rating, not stale).
pub fn copy_fix(model: &mut Model) -> Vec<Effect> {
    let Some(f) = model
        .detail
        .finding
        .as_ref()
        .filter(|f| Some(f.id) == model.selected_id())
    else {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    };
    let fix = match crate::assistant::fix::shown_fix(f, model.min_fix_confidence) {
        Ok(fix) => fix,
        Err(why) => {
            model.notice = Some(format!("Nothing to copy: {why}"));
            return Vec::new();
        }
    };
    if fix.len() > MAX_COPY {
        model.notice = Some("The fix is too long to copy: `sift fix ID` prints it".into());
        return Vec::new();
    }
    model.notice = Some(format!(
        "Fix copied ({} line(s)) to the clipboard",
        fix.lines().count()
    ));
    vec![Effect::Copy(fix)]
}
