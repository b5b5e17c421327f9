//! Re-analysing the backlog under a memory: the undecided findings in a
//! triage memory's scope are judged again with the memory in the prompt,
//! and those now judged false positives become *suggestions* to close
//! under it. Nothing is decided here: a reviewer accepts suggestions.

use super::provider::Provider;
use super::run::{self, Event, Report, RunOptions};
use crate::domain::{MemoryStage, Verdict};
use crate::service::SharedStore;
use crate::store::Judgement;
use anyhow::{Result, bail};
use std::sync::Arc;

/// What a re-analysis did.
#[derive(Debug, Clone, Default)]
pub struct Reanalysis {
    /// The memory's id now (the backend's, once it gave one).
    pub memory_id: String,
    /// Undecided findings in its scope.
    pub in_scope: usize,
    /// The findings suggested for closing, with the Assistant's reason.
    pub suggested: Vec<(i64, String)>,
    pub report: Report,
}

/// Re-analyses the undecided findings in `memory_id`'s scope and records
/// the suggestions (replacing the memory's earlier ones).
pub async fn reanalyse(
    store: &SharedStore,
    provider: Arc<Provider>,
    memory_id: &str,
    events: Arc<dyn Fn(Event) + Send + Sync>,
) -> Result<Reanalysis> {
    let wanted = memory_id.to_string();
    let (memory_id, ids) = store
        .run(move |s| -> Result<(String, Vec<i64>)> {
            let id = s.memory_id_now(&wanted)?;
            let (memories, _) = s.memories_in_view()?;
            let Some(memory) = memories.into_iter().find(|m| m.id == id || m.id == wanted) else {
                bail!("no memory has the id {wanted}");
            };
            if memory.guidance {
                bail!("memory {id} is guidance for fixes: it does not change verdicts");
            }
            if memory.stage != MemoryStage::Live {
                bail!("memory {id} is suggested: make it live first, then re-analyse under it");
            }
            let index = s.load_index()?;
            let classes = s.rule_classes()?;
            Ok((
                memory.id,
                index.undecided_in_scope(&memory.scope, &classes, &[]),
            ))
        })
        .await??;
    let opts = RunOptions {
        fresh: true,
        ..RunOptions::default()
    };
    let (kind, model) = (
        provider.settings.kind.as_str().to_string(),
        provider.settings.model.clone(),
    );
    let report = run::run(store, provider, ids.clone(), opts, events).await?;
    let id = memory_id.clone();
    let suggested = store
        .run(move |s| -> Result<Vec<(i64, String)>> {
            let mut found = Vec::new();
            let mut keys = Vec::new();
            for (finding, key, memories) in run::verdict_questions(s, &ids, &kind, &model)? {
                // Only an answer the memory was part of says what it changes.
                if !memories.contains(&id) {
                    continue;
                }
                if let Some(answer) = s.ai_answer(&key)?
                    && let Judgement::Verdict {
                        verdict: Verdict::FalsePositive,
                        reason,
                        ..
                    } = answer.judgement
                {
                    found.push((finding, reason));
                    keys.push((finding, key));
                }
            }
            s.record_suggestions(&id, &keys)?;
            Ok(found)
        })
        .await??;
    Ok(Reanalysis {
        memory_id,
        in_scope: report.findings,
        suggested,
        report,
    })
}
