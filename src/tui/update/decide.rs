//! Decisions: accept, reject, ignore, to fix, reviewing, reopen, notes;
//! marks and visual ranges for bulk decisions; undo. `update` only asks for
//! a decision to be recorded; the finding changes on screen once the
//! runtime reports it is in the outbox.

use super::memory_form;
use super::selection_changed;
use crate::domain::{
    Decided, DecisionContext, Intent, MAX_NOTE_CHARS, MemoryChange, RowUpdate, TriageReason,
    TriageState, Verdict, resolve,
};
use crate::text::inert_lines;
use crate::tui::action::{Action, AssistantWork, BulkQuestion, Effect};
use crate::tui::detail_lines::FixBefore;
use crate::tui::format::capitalise;
use crate::tui::model::text_field;
use crate::tui::model::{AssistantJob, Dialog, DialogKind, Field, Model, Overlay, UndoEntry};
use crate::tui::summary::{Decision, MemoryDone, Summary};
use ratatui_textarea::TextArea;

pub fn update(model: &mut Model, action: Action) -> Vec<Effect> {
    match action {
        Action::Accept => match accept_suggested(model) {
            Some(effects) => effects,
            None => decide(model, Intent::Accept { comment: None }, Decision::Accepted),
        },
        Action::Reject => {
            let targets = model.targets();
            let any_tp = targets
                .iter()
                .any(|id| verdict_of(model, *id) == Some(Verdict::TruePositive));
            if any_tp {
                // Rejecting a true positive ignores it, and says why.
                open_dialog(model, DialogKind::RejectTruePositive, targets)
            } else {
                decide(
                    model,
                    Intent::Reject {
                        reason: None,
                        comment: None,
                    },
                    Decision::Rejected,
                )
            }
        }
        Action::Ignore => {
            let targets = model.targets();
            open_dialog(model, DialogKind::Ignore, targets)
        }
        Action::AddNote => {
            let targets = model.targets();
            open_dialog(model, DialogKind::Note, targets)
        }
        Action::AcceptAndRemember => accept_and_remember(model),
        Action::CustomizeFix => customize_fix(model),
        Action::ToFix => decide(model, set(TriageState::Fixing), Decision::SetToFix),
        Action::Review => decide(model, set(TriageState::Reviewing), Decision::SetToReviewing),
        Action::Reopen => decide(model, set(TriageState::Reopened), Decision::Reopened),
        Action::ToggleMark => {
            if let Some(id) = model.selected_id() {
                if !model.marked.remove(&id) {
                    model.marked.insert(id);
                }
                return super::nav::move_focused_list(model, &Action::Down);
            }
            Vec::new()
        }
        Action::VisualRange => {
            model.visual = match model.visual {
                Some(_) => {
                    // Ending the range keeps it as marks.
                    let range = model.targets();
                    model.marked.extend(range);
                    None
                }
                None => Some(model.list.selected),
            };
            Vec::new()
        }
        Action::MarkAll => {
            let all: Vec<i64> = model
                .visible
                .iter()
                .map(|&i| model.index.rows[i as usize].id)
                .collect();
            if !all.is_empty() && all.iter().all(|id| model.marked.contains(id)) {
                model.marked.clear();
            } else {
                model.marked.extend(all);
            }
            model.visual = None;
            Vec::new()
        }
        Action::MarkGroup => mark_group(model),
        Action::Undo => match model.undo.pop() {
            Some(entry) => {
                model.notice = Some(format!("Undoing: {}", entry.label));
                vec![Effect::Undo(entry)]
            }
            None => {
                model.notice = Some("Nothing to undo".into());
                Vec::new()
            }
        },
        Action::Recorded(decided, summary) => recorded(model, *decided, summary),
        Action::RecordFailed(error) => {
            model.notice = Some(format!("Not recorded, nothing changed: {error}"));
            Vec::new()
        }
        Action::RowsUpdated(updates, message) => {
            let effects = apply(model, &updates);
            if message.is_some() {
                model.notice = message;
            }
            effects
        }
        _ => Vec::new(),
    }
}

/// In the list of findings suggested to close under a memory, `a` closes
/// the targets that are suggested: ignored as false positives, with the
/// memory and the Assistant's reason in the note.
fn accept_suggested(model: &mut Model) -> Option<Vec<Effect>> {
    model.filter.scope.as_ref()?.suggested.as_ref()?;
    let (memory_id, suggestions) = model.suggestions.as_ref()?;
    let targets = model.targets();
    let chosen: Vec<(i64, String)> = suggestions
        .iter()
        .filter(|s| targets.contains(&s.finding_id))
        .map(|s| (s.finding_id, s.reason.clone()))
        .collect();
    if chosen.is_empty() {
        return None;
    }
    let memory = model.memories.iter().find(|m| m.id == *memory_id)?;
    let intents = memory.suggestion_intents(&chosen);
    let n = intents.len();
    Some(vec![Effect::Record {
        intents,
        summary: Summary::decided(Decision::ClosedSuggested, n),
        memory: None,
    }])
}

/// Marks the findings in the view that share the cursor's rule (its file
/// when the list is sorted by file), and says how many.
fn mark_group(model: &mut Model) -> Vec<Effect> {
    let Some(row) = model.selected_row().copied() else {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    };
    let by_file = model.filter.sort == crate::domain::SortBy::File;
    let same = |r: &crate::domain::Row| {
        if by_file {
            r.path == row.path
        } else {
            r.rule == row.rule
        }
    };
    let group: Vec<i64> = model
        .visible
        .iter()
        .map(|&i| &model.index.rows[i as usize])
        .filter(|r| same(r))
        .map(|r| r.id)
        .collect();
    let name = if by_file {
        model.index.paths.get(row.path)
    } else {
        let rule = model.index.rules.get(row.rule);
        rule.rsplit('.').next().unwrap_or(rule)
    };
    model.notice = Some(format!(
        "Marked {} findings of {} (Esc clears the marks)",
        group.len(),
        crate::text::inert(name)
    ));
    model.visual = None;
    model.marked.extend(group);
    Vec::new()
}

fn set(state: TriageState) -> Intent {
    Intent::SetState {
        state,
        reason: None,
        note: None,
    }
}

fn verdict_of(model: &Model, id: i64) -> Option<Verdict> {
    model
        .index
        .position_of(id)
        .and_then(|p| model.index.rows[p].verdict)
}

/// Checks the intent against what the list knows of each target, so a key
/// that makes no sense says why instead of doing anything.
fn decide(model: &mut Model, intent: Intent, decision: Decision) -> Vec<Effect> {
    let targets = model.targets();
    if targets.is_empty() {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    }
    let mut refusals = Vec::new();
    let mut outcomes = Vec::new();
    let intents: Vec<(i64, Intent)> = targets
        .iter()
        .filter(|&&id| {
            let Some(row) = model.index.position_of(id).map(|p| model.index.rows[p]) else {
                return false;
            };
            let context = DecisionContext {
                status: row.status,
                triage_state: row.triage_state,
                verdict: row.verdict,
                verdict_reason: "",
            };
            match resolve(&intent, context) {
                Ok(change) => {
                    outcomes.push(change.activity());
                    true
                }
                Err(why) => {
                    refusals.push(why);
                    false
                }
            }
        })
        .map(|&id| (id, intent.clone()))
        .collect();
    if intents.is_empty() {
        model.notice = Some(match (targets.len(), refusals.first()) {
            (1, Some(why)) => capitalise(why),
            (n, Some(why)) => format!("None of the {n} findings: {why}"),
            _ => "Nothing to decide".into(),
        });
        return Vec::new();
    }
    let summary = Summary::decided(decision, intents.len());
    if intents.len() >= ASK_FROM {
        // Many at once: counted (copies on other refs), then asked.
        return vec![Effect::CountBulk(Box::new(BulkQuestion {
            intents,
            summary,
            outcomes: tally(outcomes),
            skipped: tally(refusals),
            copies: 0,
        }))];
    }
    vec![Effect::Record {
        intents,
        summary,
        memory: None,
    }]
}

/// A decision on this many findings or more is asked about first.
pub const ASK_FROM: usize = 25;

/// Each reason, and how many findings it left out, most first.
fn tally(reasons: Vec<String>) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for why in reasons {
        match counts.iter_mut().find(|(w, _)| *w == why) {
            Some((_, n)) => *n += 1,
            None => counts.push((why, 1)),
        }
    }
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
}

/// The bulk decision counted: asked over the panes.
pub fn counted(model: &mut Model, question: Box<BulkQuestion>) -> Vec<Effect> {
    model.open(Overlay::Confirm(question));
    Vec::new()
}

/// The answer to a bulk question: yes records it, any other key drops it.
pub fn answered(model: &mut Model, action: Action) -> Vec<Effect> {
    let Some(Overlay::Confirm(question)) = model.close() else {
        return Vec::new();
    };
    if action != Action::Confirm {
        model.notice = Some("Nothing decided".into());
        return Vec::new();
    }
    let BulkQuestion {
        intents, summary, ..
    } = *question;
    vec![Effect::Record {
        intents,
        summary,
        memory: None,
    }]
}

fn open_dialog(model: &mut Model, kind: DialogKind, targets: Vec<i64>) -> Vec<Effect> {
    if targets.is_empty() {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    }
    model.open(Overlay::Dialog(Box::new(new_dialog(kind, targets))));
    Vec::new()
}

fn new_dialog(kind: DialogKind, targets: Vec<i64>) -> Dialog {
    let note = text_field(
        vec![String::new()],
        match kind {
            DialogKind::Ignore => "Why (optional)",
            DialogKind::AcceptFalsePositive => "A comment (optional)",
            DialogKind::RejectTruePositive => "Why Assistant is wrong (required)",
            DialogKind::Note | DialogKind::Memory => "The note",
        },
    );
    Dialog {
        kind,
        targets,
        reason: match kind {
            DialogKind::Ignore | DialogKind::RejectTruePositive => TriageReason::FalsePositive,
            _ => TriageReason::NoTriageReason,
        },
        note,
        error: None,
        field: if kind == DialogKind::Memory {
            Field::Text
        } else {
            Field::Note
        },
        memory: None,
    }
}

/// `A`: accept false-positive verdicts and remember why; the memory starts
/// from Assistant's reason.
fn accept_and_remember(model: &mut Model) -> Vec<Effect> {
    let targets: Vec<i64> = model
        .targets()
        .into_iter()
        .filter(|id| verdict_of(model, *id) == Some(Verdict::FalsePositive))
        .collect();
    if targets.is_empty() {
        model.notice = Some("No false-positive verdict to accept here".into());
        return Vec::new();
    }
    let reason = model
        .detail
        .finding
        .as_ref()
        .filter(|f| targets.contains(&f.id))
        .and_then(|f| f.assistant.as_ref())
        .map(|a| a.verdict_reason.clone())
        .unwrap_or_default();
    let mut dialog = new_dialog(DialogKind::AcceptFalsePositive, targets);
    let form = memory_form::new_form(model, &dialog.targets, &dialog.targets, &reason, false);
    dialog.memory = Some(Box::new(form));
    dialog.field = Field::Text;
    model.open(Overlay::Dialog(Box::new(dialog)));
    Vec::new()
}

/// `c`: guidance for fixing this rule in this project, a memory whose
/// context is fixes rather than triage.
fn customize_fix(model: &mut Model) -> Vec<Effect> {
    let Some(id) = model.selected_id() else {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    };
    let fix = model
        .detail
        .finding
        .as_ref()
        .filter(|f| f.id == id)
        .and_then(|f| f.assistant.as_ref())
        .is_some_and(|a| a.autofix_code.is_some() || a.guidance.is_some());
    // With sift's own Assistant, the guidance writes a fix where there was none.
    if !fix && model.assistant.is_none() {
        model.notice = Some("Assistant suggests no fix for this finding".into());
        return Vec::new();
    }
    let mut dialog = new_dialog(DialogKind::Memory, vec![id]);
    dialog.memory = Some(Box::new(memory_form::new_form(model, &[id], &[], "", true)));
    model.open(Overlay::Dialog(Box::new(dialog)));
    Vec::new()
}

/// An action while a dialog is open (its keys are in the keymap's dialog,
/// picker and in_scope contexts; text typed comes as TextInput).
pub fn dialog(model: &mut Model, action: Action) -> Vec<Effect> {
    // The dialog is taken off the stack while it works on the model; it
    // goes back on unless it closed.
    let Some(Overlay::Dialog(mut dialog)) = model.close() else {
        return Vec::new();
    };
    let (effects, open) = dialog_action(model, &mut dialog, action);
    if open {
        model.open(Overlay::Dialog(dialog));
    }
    effects
}

/// After a resize, the dialog's focus moves to a field still on screen.
pub fn keep_field_in_sight(model: &mut Model) {
    let height = model.height;
    if let Some(Overlay::Dialog(dialog)) = model.top_mut() {
        let shown = dialog.layout(height).shown;
        if !shown.contains(&dialog.field)
            && let Some(first) = shown.first()
        {
            dialog.field = *first;
        }
    }
}

/// What an action did, and whether the dialog stays open.
type Step = (Vec<Effect>, bool);

fn dialog_action(model: &mut Model, dialog: &mut Dialog, action: Action) -> Step {
    // The memory part takes its actions first (and all of them while a
    // list is open over it).
    if memory_form::act(model, dialog, &action) {
        dialog.error = None;
        return (Vec::new(), true);
    }
    // Only the fields on screen can be reached.
    let fields = dialog.layout(model.height).shown;
    match action {
        Action::Cancel => return (Vec::new(), false),
        Action::Save => return submit(model, dialog),
        Action::NextField | Action::PrevField => {
            let i = fields.iter().position(|f| *f == dialog.field).unwrap_or(0);
            let n = fields.len().max(1);
            let step = if action == Action::NextField {
                1
            } else {
                n - 1
            };
            dialog.field = fields.get((i + step) % n).copied().unwrap_or(Field::Note);
        }
        Action::Remember if fields.contains(&Field::Remember) => {
            memory_form::toggle_remember(model, dialog);
        }
        Action::NewLine if dialog.field == Field::Note => dialog.note.insert_newline(),
        Action::OpenEditor => {
            let text = match (dialog.field, &dialog.memory) {
                (Field::Text, Some(form)) => form.text.lines().join("\n"),
                (Field::Note, _) => dialog.note.lines().join("\n"),
                _ => return (Vec::new(), true),
            };
            return (vec![Effect::OpenEditor(text)], true);
        }
        Action::PrevChoice | Action::NextChoice | Action::Choose => match dialog.field {
            Field::Reason => {
                let all = TriageReason::ALL;
                let i = all.iter().position(|r| *r == dialog.reason).unwrap_or(0);
                let step = if action == Action::PrevChoice {
                    all.len() - 1
                } else {
                    1
                };
                dialog.reason = all[(i + step) % all.len()];
            }
            Field::Remember => memory_form::toggle_remember(model, dialog),
            _ => {}
        },
        Action::TextInput(key) if dialog.field == Field::Note => {
            dialog.note.input(key);
        }
        // What a field has no use for does nothing.
        _ => {}
    }
    dialog.error = note_error(&dialog.note);
    (Vec::new(), true)
}

/// Text from $EDITOR replaces the note, or the memory's text.
pub fn editor_done(model: &mut Model, result: Result<String, String>) -> Vec<Effect> {
    let Some(dialog) = model.dialog_mut() else {
        return Vec::new();
    };
    match result {
        Ok(text) => {
            // The editor may have written anything: keep it inert.
            let lines: Vec<String> = inert_lines(text.trim_end_matches('\n'))
                .map(|l| l.into_owned())
                .collect();
            let area = match (dialog.field, dialog.memory.as_mut()) {
                (Field::Text, Some(form)) => &mut form.text,
                _ => &mut dialog.note,
            };
            *area = text_field(lines, area.placeholder_text());
            dialog.error = note_error(&dialog.note);
        }
        Err(e) => dialog.error = Some(e),
    }
    Vec::new()
}

fn note_error(note: &TextArea) -> Option<String> {
    let n = note_text(note).chars().count();
    (n > MAX_NOTE_CHARS).then(|| format!("{n} characters: at most {MAX_NOTE_CHARS}"))
}

fn note_text(note: &TextArea) -> String {
    note.lines().join("\n").trim().to_string()
}

fn submit(model: &mut Model, dialog: &mut Dialog) -> Step {
    let text = note_text(&dialog.note);
    // An ignore with a note and no memory: sift's own Assistant may draft a
    // suggested memory from the note, as Semgrep's does.
    let draft = match (dialog.kind, &dialog.memory, dialog.targets.first()) {
        (DialogKind::Ignore, None, Some(&finding))
            if !text.is_empty() && model.assistant.is_some() =>
        {
            Some(Effect::AskAssistant(AssistantWork::DraftMemory {
                finding,
                reason: dialog.reason,
                note: text.clone(),
            }))
        }
        _ => None,
    };
    if let Some(e) = note_error(&dialog.note) {
        dialog.error = Some(e);
        return (Vec::new(), true);
    }
    let note = (!text.is_empty()).then_some(text);
    let decision = match dialog.kind {
        DialogKind::Ignore => Some((
            Intent::SetState {
                state: TriageState::Ignored,
                reason: Some(dialog.reason),
                note,
            },
            Decision::Ignored(dialog.reason),
        )),
        DialogKind::AcceptFalsePositive => {
            Some((Intent::Accept { comment: note }, Decision::Accepted))
        }
        DialogKind::RejectTruePositive => {
            if note.is_none() {
                dialog.error = Some("Say why Assistant is wrong".into());
                return (Vec::new(), true);
            }
            Some((
                Intent::Reject {
                    reason: Some(dialog.reason),
                    comment: note,
                },
                Decision::Rejected,
            ))
        }
        DialogKind::Note => match note {
            Some(n) => Some((Intent::Note(n), Decision::Noted)),
            None => {
                dialog.error = Some("The note is empty".into());
                return (Vec::new(), true);
            }
        },
        DialogKind::Memory => None,
    };
    let mut intents: Vec<(i64, Intent)> = Vec::new();
    let mut summary = Summary::default();
    if let Some((intent, decision)) = decision {
        intents = dialog
            .targets
            .iter()
            .map(|&id| (id, intent.clone()))
            .collect();
        summary = Summary::decided(decision, intents.len());
    }
    let mut change = None;
    if let Some(form) = &dialog.memory {
        let memory = match memory_form::memory(form, &model.actor) {
            Ok(m) => m,
            Err(e) => {
                dialog.error = Some(e);
                dialog.field = Field::Text;
                return (Vec::new(), true);
            }
        };
        summary.memory = Some(match (&form.editing, form.guidance) {
            (Some(_), _) => MemoryDone::Saved,
            (None, true) => MemoryDone::GuidanceRemembered,
            (None, false) => MemoryDone::Remembered,
        });
        if form.apply && !form.guidance {
            // What is applied is what the count says now.
            let shown = form.preview.clone();
            let mut fresh = form.as_ref().clone();
            memory_form::refresh(model, &mut fresh, &dialog.targets);
            if fresh.preview != shown {
                let n = fresh.preview.len();
                dialog.memory = Some(Box::new(fresh));
                dialog.error = Some(format!(
                    "The findings in scope changed meanwhile: now {n}. Enter saves with these."
                ));
                return (Vec::new(), true);
            }
        }
        if form.apply && !form.guidance && !form.preview.is_empty() {
            let reason = match dialog.kind {
                DialogKind::Ignore => dialog.reason,
                _ => TriageReason::FalsePositive,
            };
            intents.extend(memory.apply_intents(&form.preview, reason));
            summary.applied = form.preview.len();
        }
        change = Some(if form.editing.is_some() {
            MemoryChange::Update(memory)
        } else {
            MemoryChange::Create(memory)
        });
    }
    // New guidance from `c` rewrites this finding's fix with it, when sift's
    // own Assistant writes fixes; the old one shows beside the new.
    let rewrite = match (&dialog.memory, &dialog.targets[..]) {
        (Some(form), &[id])
            if form.guidance && form.editing.is_none() && model.assistant.is_some() =>
        {
            let a = model
                .detail
                .finding
                .as_ref()
                .filter(|f| f.id == id)
                .and_then(|f| f.assistant.as_ref());
            model.fix_before = Some(FixBefore {
                finding: id,
                code: a.and_then(|a| a.autofix_code.clone()),
                confidence: a
                    .and_then(|a| a.fixed_by.as_ref())
                    .and_then(|b| b.confidence),
            });
            model.detail.touch();
            model
                .assistant_job
                .get_or_insert_with(AssistantJob::default);
            Some(Effect::AskAssistant(AssistantWork::Fix(id)))
        }
        _ => None,
    };
    let record = Effect::Record {
        intents,
        summary,
        memory: change,
    };
    (
        std::iter::once(record)
            .chain(rewrite)
            .chain(draft)
            .collect(),
        false,
    )
}

/// The decisions are in the outbox: show them, and move on.
fn recorded(model: &mut Model, decided: Decided, summary: Summary) -> Vec<Effect> {
    if !decided.outbox_ids.is_empty() {
        // Undo takes back the decisions; a memory saved with them stays
        // (the memory pane deletes it).
        model.undo.push(UndoEntry {
            label: summary.undo_label(),
            outbox_ids: decided.outbox_ids.clone(),
            before: decided.before.clone(),
        });
    }
    model.marked.clear();
    model.visual = None;
    let mut notice = if decided.outbox_ids.is_empty() && decided.memory_outbox_id.is_none() {
        "Nothing recorded".to_string()
    } else {
        summary.notice()
    };
    if let Some((_, why)) = decided.refused.first() {
        notice += &format!(" · {} skipped: {why}", decided.refused.len());
    }
    // A triage memory can change verdicts: say how to see what it changes.
    if matches!(
        summary.memory,
        Some(MemoryDone::Remembered | MemoryDone::Saved)
    ) && model.assistant.is_some()
    {
        notice += " · R in the memory pane (m) re-analyses its scope with it";
    }
    if let Some(note) = &model.verdict_feedback
        && summary.judges_verdict()
    {
        notice += &format!(" · {note}");
    }
    let decided_here = model.selected_id();
    let mut effects = apply(model, &decided.updates);
    // Where the decided finding stays listed (the All view, say), move on
    // to the next one all the same.
    if decided.changes.len() == 1
        && decided.changes[0].1.state.is_some()
        && decided_here == Some(decided.changes[0].0)
        && model.selected_id() == decided_here
    {
        effects = super::nav::move_focused_list(model, &Action::Down);
    }
    model.notice = Some(notice);
    effects
}

/// Shows findings as they now stand; those that left the view leave the
/// cursor on the next one.
pub fn apply(model: &mut Model, updates: &[RowUpdate]) -> Vec<Effect> {
    let selected = model.selected_id();
    let mut changed = Vec::with_capacity(updates.len());
    for u in updates {
        if let Some(p) = model.index.position_of(u.id) {
            changed.push((p as u32, model.index.rows[p]));
            model.index.decided(p, u.triage_state, u.status, u.pending);
        }
    }
    // A row updated twice is one change, from the row as it first was.
    changed.sort_by_key(|(p, _)| *p);
    changed.dedup_by_key(|(p, _)| *p);
    let mut effects = super::refilter_changed(model, &changed);
    // The finding on screen changed: show it as it is now.
    if effects.is_empty() && selected.is_some_and(|id| updates.iter().any(|u| u.id == id)) {
        model.detail.requested = None;
        effects = selection_changed(model, selected);
    }
    effects
}
