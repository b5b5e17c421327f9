//! The memory pane: every memory with the findings its scope covers, and a
//! jump to those findings.

use super::{memory_form, refilter};
use crate::domain::{
    BacklogView, Memory, MemoryChange, MemoryStage, RuleScope, ScopeFilter, TriageReason,
    same_class,
};
use crate::store::Suggestion;
use crate::tui::action::{Action, AssistantWork, Effect};
use crate::tui::model::text_field;
use crate::tui::model::{
    AssistantJob, Dialog, DialogKind, Field, MemoryForm, MemoryPane, Model, Overlay, Pane,
};
use crate::tui::summary::{MemoryDone, Summary};
use crossterm::event::{KeyCode, KeyModifiers};

pub fn open(model: &mut Model) -> Vec<Effect> {
    open_filtered(model, String::new())
}

/// `M`: the pane, showing the memories whose scope covers the selected
/// finding.
pub fn covering(model: &mut Model) -> Vec<Effect> {
    let Some(id) = model.selected_id() else {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    };
    open_filtered(model, format!("finding:{id}"))
}

fn open_filtered(model: &mut Model, filter: String) -> Vec<Effect> {
    let impact = impacts(model);
    let mut pane = MemoryPane {
        impact,
        filter,
        ..MemoryPane::default()
    };
    arrange(model, &mut pane, None);
    model.open(Overlay::Memories(Box::new(pane)));
    Vec::new()
}

/// Filters and sorts the memories into `order`, keeping the cursor on the
/// same memory when it is still listed.
fn arrange(model: &Model, pane: &mut MemoryPane, keep: Option<&str>) {
    let words: Vec<String> = pane
        .filter
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let mut order: Vec<usize> = (0..model.memories.len())
        .filter(|&i| words.iter().all(|w| matches(model, &model.memories[i], w)))
        .collect();
    if pane.by_impact {
        let impact = |i: usize| pane.impact.get(i).copied().unwrap_or(0);
        order.sort_by(|&a, &b| impact(b).cmp(&impact(a)).then(a.cmp(&b)));
    } else {
        order.sort_by(|&a, &b| {
            model.memories[b]
                .created_at
                .cmp(&model.memories[a].created_at)
                .then(a.cmp(&b))
        });
    }
    pane.order = order;
    pane.cursor.selected = keep
        .and_then(|id| {
            pane.order
                .iter()
                .position(|&i| model.memories.get(i).is_some_and(|m| m.id == id))
        })
        .unwrap_or(0);
    pane.cursor.offset = 0;
}

/// The id of the memory under the pane's cursor (the pane may be under a
/// dialog).
pub fn selected_id(model: &Model) -> Option<String> {
    let pane = model.memory_pane()?;
    pane.order
        .get(pane.cursor.selected)
        .and_then(|&i| model.memories.get(i))
        .map(|m| m.id.clone())
}

/// Whether a memory passes one word of the pane's filter: `project:P` and
/// `rule:R` keep the memories whose scope covers that project or rule (all
/// projects cover every one; a class covers its rules), `finding:ID` those
/// that cover the finding; other words are looked for in the text, the
/// scope and the author.
fn matches(model: &Model, m: &Memory, word: &str) -> bool {
    let has = |name: &str, part: &str| name.to_lowercase().contains(part);
    if let Some(id) = word.strip_prefix("finding:") {
        let Some(row) = id
            .parse()
            .ok()
            .and_then(|id| model.index.position_of(id))
            .map(|p| &model.index.rows[p])
        else {
            return false;
        };
        let rule = model.index.rules.get(row.rule);
        let classes = model.rule_classes.get(rule).map_or(&[][..], |c| &c[..]);
        return m.scope.covers(
            model.index.projects.get(row.project),
            rule,
            classes,
            model.index.paths.get(row.path),
        );
    }
    if let Some(p) = word.strip_prefix("project:") {
        return m.scope.projects.is_empty() || m.scope.projects.iter().any(|x| has(x, p));
    }
    if let Some(r) = word.strip_prefix("rule:") {
        return match &m.scope.rules {
            RuleScope::All => true,
            RuleScope::Rules(rules) => rules.iter().any(|x| has(x, r)),
            RuleScope::Class(class) => model.rule_classes.iter().any(|(rule, classes)| {
                has(rule, r) && classes.iter().any(|c| same_class(c, class))
            }),
        };
    }
    let rules = match &m.scope.rules {
        RuleScope::All => String::new(),
        RuleScope::Rules(r) => r.join(" "),
        RuleScope::Class(c) => c.clone(),
    };
    [
        m.content.as_str(),
        &m.scope.projects.join(" "),
        &rules,
        &m.scope.path_prefixes.join(" "),
        &m.created_by,
    ]
    .iter()
    .any(|part| has(part, word))
}

pub fn update(model: &mut Model, action: Action) -> Vec<Effect> {
    let rows = model.memory_rows();
    let Some(pane) = model.memory_pane_mut() else {
        return Vec::new();
    };
    if pane.filtering {
        // Typed into the filter; Enter keeps it, Esc clears it.
        match action {
            Action::CancelFilter => {
                pane.filter.clear();
                pane.filtering = false;
            }
            Action::KeepFilter => pane.filtering = false,
            Action::TextInput(key) => match key.code {
                KeyCode::Backspace => {
                    pane.filter.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    pane.filter.push(c)
                }
                _ => return Vec::new(),
            },
            _ => return Vec::new(),
        }
        rearrange(model);
        return Vec::new();
    }
    if let Some(id) = pane.confirm_close.take() {
        if action == Action::Confirm {
            return vec![Effect::CloseSuggested(id)];
        }
        return Vec::new();
    }
    if let Some(id) = pane.confirm_delete.take() {
        // Yes deletes the memory the question named, any other key keeps
        // it.
        if action == Action::Confirm {
            return vec![Effect::Record {
                intents: Vec::new(),
                summary: Summary::memory(MemoryDone::Deleted),
                memory: Some(MemoryChange::Delete(id)),
            }];
        }
        return Vec::new();
    }
    match action {
        Action::NewMemory => return new_memory(model),
        Action::EditMemory => return edit_memory(model),
        Action::DeleteMemory => {
            let id = selected_id(model);
            if let Some(pane) = model.memory_pane_mut() {
                pane.confirm_delete = id;
            }
        }
        Action::ActivateMemory => return activate(model),
        Action::Reanalyse => return reanalyse(model),
        Action::ShowSuggestions => {
            if let Some(id) = selected_id(model) {
                return vec![Effect::LoadSuggestions(id)];
            }
        }
        Action::AcceptSuggestions => {
            let id = selected_id(model);
            let n = id
                .as_ref()
                .and_then(|id| model.suggestion_counts.get(id))
                .copied()
                .unwrap_or(0);
            if n == 0 {
                model.notice = Some(
                    "No findings are suggested to close under this memory (R re-analyses)".into(),
                );
            } else if let Some(pane) = model.memory_pane_mut() {
                pane.confirm_close = id;
            }
        }
        Action::Down
        | Action::Up
        | Action::PageDown
        | Action::PageUp
        | Action::HalfPageDown
        | Action::HalfPageUp
        | Action::Top
        | Action::Bottom => {
            let len = pane.order.len();
            super::nav::move_cursor(&mut pane.cursor, len, rows, &action);
        }
        Action::Filter => pane.filtering = true,
        Action::SortByImpact => {
            pane.by_impact = !pane.by_impact;
            rearrange(model);
        }
        Action::Open => return jump(model),
        Action::Memories | Action::Back => {
            model.close();
        }
        Action::Quit => model.quit = true,
        _ => {}
    }
    Vec::new()
}

/// `R`: the undecided findings in the memory's scope judged again with
/// it, in the background; those now judged false positives become
/// suggestions to close.
fn reanalyse(model: &mut Model) -> Vec<Effect> {
    let Some(memory) = selected(model) else {
        return Vec::new();
    };
    let why_not = if model.assistant.is_none() {
        Some("No AI provider is configured: add [assistant] to sift's config file")
    } else if memory.guidance {
        Some("This memory is guidance for fixes: it does not change verdicts")
    } else if memory.stage != MemoryStage::Live {
        Some("This memory is suggested: make it live (L) first")
    } else if model.assistant_job.is_some() {
        Some("The Assistant is busy; ask again when it is done")
    } else {
        None
    };
    if let Some(why) = why_not {
        model.notice = Some(why.into());
        return Vec::new();
    }
    let id = memory.id.clone();
    let total = model
        .index
        .undecided_in_scope(&memory.scope, &model.rule_classes, &[])
        .len();
    model.assistant_job = Some(AssistantJob {
        total,
        ..AssistantJob::default()
    });
    model.notice = Some(format!(
        "Re-analysing {total} undecided finding(s) under the memory…"
    ));
    vec![Effect::AskAssistant(AssistantWork::Reanalyse(id))]
}

/// The findings suggested to close under a memory, in the list, where `a`
/// closes one (or the marked) and the memory pane's key closes them all.
pub fn show_suggestions(model: &mut Model, memory_id: &str, found: Vec<Suggestion>) -> Vec<Effect> {
    if found.is_empty() {
        model.notice =
            Some("No findings are suggested to close under this memory (R re-analyses)".into());
        return Vec::new();
    }
    let Some(memory) = model.memories.iter().find(|m| m.id == memory_id) else {
        return Vec::new();
    };
    let mut ids: Vec<i64> = found.iter().map(|s| s.finding_id).collect();
    ids.sort_unstable();
    let label = first_words(memory);
    let scope = memory.scope.resolved(&model.rule_classes);
    model.suggestions = Some((memory_id.to_string(), found));
    show_in_list(model, label, scope, Some(ids))
}

fn first_words(memory: &Memory) -> String {
    memory
        .content
        .split_whitespace()
        .take(6)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The findings in the selected memory's scope, in the list.
fn jump(model: &mut Model) -> Vec<Effect> {
    let Some(pane) = model.memory_pane() else {
        return Vec::new();
    };
    let Some(memory) = pane
        .order
        .get(pane.cursor.selected)
        .map(|&i| &model.memories[i])
    else {
        return Vec::new();
    };
    let label = first_words(memory);
    let scope = memory.scope.resolved(&model.rule_classes);
    model.suggestions = None;
    show_in_list(model, label, scope, None)
}

fn show_in_list(
    model: &mut Model,
    label: String,
    scope: crate::domain::Scope,
    suggested: Option<Vec<i64>>,
) -> Vec<Effect> {
    model.filter = crate::domain::Filter {
        view: BacklogView::All,
        scope: Some(ScopeFilter {
            label,
            scope,
            suggested,
        }),
        ..Default::default()
    };
    model.detail.touch();
    model.close();
    model.focus = Pane::List;
    model.list.selected = 0;
    model.list.offset = 0;
    refilter(model)
}

/// The memory under the pane's cursor.
fn selected(model: &Model) -> Option<&Memory> {
    let pane = model.memory_pane()?;
    pane.order
        .get(pane.cursor.selected)
        .map(|&i| &model.memories[i])
}

/// Opens a memory dialog over the pane; closing it comes back here.
fn open_form(model: &mut Model, form: MemoryForm, targets: Vec<i64>) -> Vec<Effect> {
    let note = text_field(vec![String::new()], "The note");
    model.open(Overlay::Dialog(Box::new(Dialog {
        kind: DialogKind::Memory,
        targets,
        reason: TriageReason::FalsePositive,
        note,
        error: None,
        field: Field::Text,
        memory: Some(Box::new(form)),
    })));
    Vec::new()
}

/// `n`: a new memory, scoped to the selected finding's project and rule to
/// start with.
fn new_memory(model: &mut Model) -> Vec<Effect> {
    let around: Vec<i64> = model.selected_id().into_iter().collect();
    let form = memory_form::new_form(model, &around, &[], "", false);
    open_form(model, form, Vec::new())
}

/// `e`: the selected memory's text and scope, with what the change does.
fn edit_memory(model: &mut Model) -> Vec<Effect> {
    let Some(memory) = selected(model).cloned() else {
        return Vec::new();
    };
    let form = memory_form::edit_form(model, &memory);
    open_form(model, form, Vec::new())
}

/// `L`: a suggested memory goes live.
fn activate(model: &mut Model) -> Vec<Effect> {
    let Some(memory) = selected(model).cloned() else {
        return Vec::new();
    };
    if memory.stage == MemoryStage::Live {
        model.notice = Some("This memory is already live".into());
        return Vec::new();
    }
    let mut memory = Memory {
        stage: MemoryStage::Live,
        ..memory
    };
    memory.touch();
    vec![Effect::Record {
        intents: Vec::new(),
        summary: Summary::memory(MemoryDone::MadeLive),
        memory: Some(MemoryChange::Update(memory)),
    }]
}

/// The memories changed (recorded here, or pulled): the pane follows.
/// `keep` is the memory the cursor was on.
pub fn reloaded(model: &mut Model, keep: Option<String>) {
    let mut overlays = std::mem::take(&mut model.overlays);
    // Counting what each memory covers is only for a pane that is open.
    for overlay in &mut overlays {
        if let Overlay::Memories(pane) = overlay {
            pane.impact = impacts(model);
            arrange(model, pane, keep.as_deref());
        }
    }
    model.overlays = overlays;
}

/// The pane's filter or order changed: arranged again, the cursor staying
/// on its memory.
fn rearrange(model: &mut Model) {
    let keep = selected_id(model);
    let Some(Overlay::Memories(mut pane)) = model.close() else {
        return;
    };
    arrange(model, &mut pane, keep.as_deref());
    model.open(Overlay::Memories(pane));
}

fn impacts(model: &Model) -> Vec<usize> {
    model
        .memories
        .iter()
        .map(|m| {
            model
                .index
                .in_scope(&m.scope, &model.rule_classes, true)
                .len()
        })
        .collect()
}
