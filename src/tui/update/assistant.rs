//! Asking sift's own Assistant from the console: the job runs in the
//! background while the reviewer works on; answers show as they arrive.

use crate::tui::action::{AssistantNews, Effect};
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
    vec![Effect::AskAssistant(targets)]
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
        AssistantNews::Done { stopped } => {
            let job = model.assistant_job.take().unwrap_or_default();
            model.notice = Some(match stopped {
                Some(why) => format!("The Assistant stopped: {why}"),
                None => {
                    let mut said = format!(
                        "The Assistant judged {} finding(s): {} verdict(s), {} without one",
                        job.total, job.verdicts, job.no_verdicts
                    );
                    if job.failed > 0 {
                        said += &format!(", {} unanswered (ask again later)", job.failed);
                    }
                    said
                }
            });
            vec![Effect::ReloadIndex]
        }
    }
}
