//! Carries out the effects that read or write the store, and says what
//! came of them as actions for `update`. The one interpreter of these
//! effects: the runtime uses it (its store worker too, for the loads it
//! makes off the terminal's thread), and so do the tests that drive the
//! console headless.

use super::action::{Action, Effect};
use super::summary::{Decision, Summary};
use crate::store::Store;

/// The store, and who decides.
pub struct Perform {
    store: Store,
    /// The reviewer, named in the activity of what they decide.
    actor: String,
}

impl Perform {
    pub fn new(store: Store, actor: impl Into<String>) -> Perform {
        Perform {
            store,
            actor: actor.into(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Carries out `effect` and returns its answers, in order. Effects on
    /// the terminal (suspending, the editor) are the runtime's: they answer
    /// nothing here.
    pub fn perform(&mut self, effect: Effect) -> Vec<Action> {
        match effect {
            Effect::LoadDetail(id) => {
                let mut answers = vec![self.detail(id)];
                // The same finding on other refs, which its decisions change too.
                if let Ok(refs) = self.store.other_refs(id) {
                    answers.push(Action::OtherRefs(id, refs));
                }
                answers
            }
            Effect::LoadMemories => self.memories().into_iter().chain(self.counts()).collect(),
            Effect::CloseSuggested(memory) => self.close_suggested(&memory),
            Effect::LoadSuggestions(memory) => match self.store.suggestions(&memory) {
                Ok(found) => vec![Action::SuggestionsLoaded(memory, found)],
                Err(e) => vec![Action::RecordFailed(format!("{e:#}"))],
            },
            Effect::ReloadIndex => self.reload(),
            Effect::CountBulk(mut question) => {
                let ids: Vec<i64> = question.intents.iter().map(|(id, _)| *id).collect();
                match self.store.copies_on_other_refs(&ids) {
                    Ok(copies) => {
                        question.copies = copies;
                        vec![Action::BulkCounted(question)]
                    }
                    Err(e) => vec![Action::RecordFailed(format!("{e:#}"))],
                }
            }
            Effect::Record {
                intents,
                summary,
                memory,
            } => {
                let decided =
                    self.store
                        .decide_with_memory(&intents, memory.as_ref(), &self.actor, false);
                match decided {
                    Ok(decided) => {
                        // The memory shows at once, pending.
                        let mut answers: Vec<Action> = match memory {
                            Some(_) => self.memories().into_iter().collect(),
                            None => Vec::new(),
                        };
                        answers.push(Action::Recorded(Box::new(decided), summary));
                        // Closed findings are no longer suggestions.
                        answers.extend(self.counts());
                        answers
                    }
                    Err(e) => {
                        tracing::error!("recording decisions: {e:#}");
                        vec![Action::RecordFailed(format!("{e:#}"))]
                    }
                }
            }
            Effect::Undo(entry) => {
                let undone =
                    self.store
                        .undo(&entry.outbox_ids, &entry.before, &entry.label, &self.actor);
                vec![match undone {
                    Ok(undone) => {
                        let message = undone.message(&entry.label);
                        Action::RowsUpdated(undone.updates, Some(message))
                    }
                    Err(e) => Action::RecordFailed(format!("{e:#}")),
                }]
            }
            Effect::RefreshRows { ids, notice } => match self.store.row_updates(&ids) {
                Ok(updates) => vec![Action::RowsUpdated(updates, notice)],
                Err(e) => {
                    tracing::warn!("reading findings {ids:?}: {e:#}");
                    // What there is to say is said all the same.
                    notice
                        .map(|n| Action::RowsUpdated(Vec::new(), Some(n)))
                        .into_iter()
                        .collect()
                }
            },
            Effect::LoadConflicts => match self.store.conflicts() {
                Ok(conflicts) => vec![Action::ConflictsLoaded(conflicts)],
                Err(e) => vec![Action::RecordFailed(format!("{e:#}"))],
            },
            Effect::SettleConflicts { outbox_ids, keep } => self.settle(&outbox_ids, keep),
            Effect::SayWhyItLeft(id) => self.why_it_left(id).into_iter().collect(),
            // The runtime's: the terminal, and jobs in the background.
            Effect::Suspend
            | Effect::OpenEditor(_)
            | Effect::AskAssistant(_)
            | Effect::Copy(_)
            | Effect::OpenFile(_)
            | Effect::OpenUrl(_)
            | Effect::Export(_) => Vec::new(),
        }
    }

    /// Keeps the reviewer's decisions in conflict (they go again at the
    /// next pass) or drops them for the colleague's.
    fn settle(&self, outbox_ids: &[i64], keep: bool) -> Vec<Action> {
        let settled = (|| -> anyhow::Result<_> {
            let findings: Vec<i64> = self
                .store
                .conflicts()?
                .iter()
                .filter(|p| outbox_ids.contains(&p.id))
                .map(|p| p.finding_id)
                .collect();
            let n = if keep {
                self.store.keep_mine(outbox_ids)?
            } else {
                self.store.take_theirs(outbox_ids)?
            };
            Ok((
                self.store.conflicts()?,
                self.store.row_updates(&findings)?,
                n,
            ))
        })();
        match settled {
            Ok((conflicts, updates, n)) => {
                let decisions = if n == 1 {
                    "decision".to_string()
                } else {
                    format!("{n} decisions")
                };
                let notice = if keep {
                    format!("Your {decisions} will be sent again over your colleague's")
                } else {
                    format!("Your {decisions} dropped: your colleague's stands")
                };
                vec![
                    Action::ConflictsLoaded(conflicts),
                    Action::RowsUpdated(updates, Some(notice)),
                ]
            }
            Err(e) => vec![Action::RecordFailed(format!("{e:#}"))],
        }
    }

    /// Why the finding the cursor was on left the view: "The finding you
    /// were on was set to ignored by ana; it left this view".
    fn why_it_left(&self, id: i64) -> Option<Action> {
        let f = match self.store.load_finding(id) {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Some(Action::Said(
                    "The finding you were on is gone from the store; it left this view".into(),
                ));
            }
            Err(e) => {
                tracing::warn!("loading finding {id}: {e:#}");
                return None;
            }
        };
        let status = f.status().as_str().replace('_', " ");
        // Who decided, when the history holds the decision that set the
        // state (an API backend's cache holds only this reviewer's own).
        let by = f
            .activity
            .last()
            .filter(|a| !a.pending && Some(a.at) == f.triaged_at)
            .map(|a| a.actor.as_str());
        Some(Action::Said(match by {
            Some(who) => {
                format!("The finding you were on was set to {status} by {who}; it left this view")
            }
            None => format!("The finding you were on is now {status}; it left this view"),
        }))
    }

    /// A finding's details, or why there are none.
    fn detail(&self, id: i64) -> Action {
        match self.store.load_finding(id) {
            Ok(Some(f)) => Action::DetailLoaded(Box::new(f)),
            Ok(None) => Action::DetailFailed(id, "it is no longer in the store".into()),
            Err(e) => {
                tracing::warn!("loading finding {id}: {e:#}");
                Action::DetailFailed(id, format!("{e:#}"))
            }
        }
    }

    /// The memories as the reviewer sees them now.
    fn memories(&self) -> Option<Action> {
        let loaded = self
            .store
            .memories_in_view()
            .and_then(|(memories, pending)| Ok((memories, pending, self.store.rule_classes()?)));
        match loaded {
            Ok((memories, pending, classes)) => {
                Some(Action::MemoriesLoaded(memories, pending, classes))
            }
            Err(e) => {
                tracing::warn!("reading memories: {e:#}");
                None
            }
        }
    }

    /// Closes every finding suggested under the memory: each ignored as a
    /// false positive, with a note naming it and the Assistant's reason.
    fn close_suggested(&mut self, memory_id: &str) -> Vec<Action> {
        let closed = (|| -> anyhow::Result<_> {
            let (memories, _) = self.store.memories_in_view()?;
            let memory = memories
                .into_iter()
                .find(|m| m.id == memory_id)
                .ok_or_else(|| anyhow::anyhow!("the memory is gone"))?;
            let accepted: Vec<(i64, String)> = self
                .store
                .suggestions(memory_id)?
                .into_iter()
                .map(|s| (s.finding_id, s.reason))
                .collect();
            let intents = memory.suggestion_intents(&accepted);
            let n = intents.len();
            Ok((
                self.store
                    .decide_with_memory(&intents, None, &self.actor, false)?,
                n,
            ))
        })();
        match closed {
            Ok((decided, n)) => {
                let summary = Summary::decided(Decision::ClosedSuggested, n);
                let mut answers = vec![Action::Recorded(Box::new(decided), summary)];
                answers.extend(self.counts());
                answers
            }
            Err(e) => vec![Action::RecordFailed(format!("{e:#}"))],
        }
    }

    /// How many findings each memory suggests closing.
    fn counts(&self) -> Option<Action> {
        match self.store.suggestion_counts() {
            Ok(counts) => Some(Action::SuggestionCounts(counts)),
            Err(e) => {
                tracing::warn!("reading suggestions: {e:#}");
                None
            }
        }
    }

    /// The index (and the memories, whose counts follow the findings)
    /// read again after another writer changed the store.
    fn reload(&self) -> Vec<Action> {
        let loaded = self.store.load_index().and_then(|index| {
            Ok((
                index,
                self.store.memories_in_view()?,
                self.store.rule_classes()?,
            ))
        });
        match loaded {
            Ok((index, (memories, pending), classes)) => {
                let mut answers = vec![Action::MemoriesLoaded(memories, pending, classes)];
                answers.extend(self.counts());
                answers.push(Action::IndexReloaded(Box::new(index)));
                answers
            }
            Err(e) => {
                tracing::warn!("reloading the index: {e:#}");
                Vec::new()
            }
        }
    }
}
