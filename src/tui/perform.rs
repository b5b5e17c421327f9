//! Carries out the effects that read or write the store, and says what
//! came of them as actions for `update`. The one interpreter of these
//! effects: the runtime uses it (its store worker too, for the loads it
//! makes off the terminal's thread), and so do the tests that drive the
//! console headless.

use super::action::{Action, Effect};
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
            Effect::LoadDetail(id) => vec![self.detail(id)],
            Effect::LoadMemories => self.memories().into_iter().collect(),
            Effect::ReloadIndex => self.reload(),
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
            // The runtime's: the terminal, and jobs in the background.
            Effect::Suspend | Effect::OpenEditor(_) | Effect::AskAssistant(_) | Effect::Copy(_) => {
                Vec::new()
            }
        }
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
            Ok((index, (memories, pending), classes)) => vec![
                Action::MemoriesLoaded(memories, pending, classes),
                Action::IndexReloaded(Box::new(index)),
            ],
            Err(e) => {
                tracing::warn!("reloading the index: {e:#}");
                Vec::new()
            }
        }
    }
}
