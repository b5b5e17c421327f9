//! `update(&mut Model, Action) -> Vec<Effect>`: every change to the model,
//! with no I/O. One file per area.

mod assistant;
mod colleagues;
mod decide;
mod detail;
mod filter;
mod memories;
pub mod memory_form;
mod nav;
mod sidebar;

use super::action::{Action, Effect};
use super::model::{Model, Overlay, Pane, SyncState};
use crate::sync::SyncEvent;

/// Prepares a fresh model: selects the default view (or the first with
/// findings, when it has none) and asks for the first finding's details.
pub fn init(model: &mut Model) -> Vec<Effect> {
    let mut effects = refilter(model);
    effects.extend(sidebar::open_on_findings(model));
    detail::keep_lines(model);
    effects
}

pub fn update(model: &mut Model, action: Action) -> Vec<Effect> {
    let effects = act(model, action);
    detail::keep_lines(model);
    effects
}

fn act(model: &mut Model, action: Action) -> Vec<Effect> {
    match action {
        Action::Resize(w, h) => {
            model.width = w;
            model.height = h;
            nav::clamp_all(model);
            decide::keep_field_in_sight(model);
            return Vec::new();
        }
        Action::DetailLoaded(finding) => return detail::loaded(model, finding),
        Action::DetailFailed(id, error) => return detail::failed(model, id, error),
        Action::CodeHighlighted(id, colours) => return detail::highlighted(model, id, colours),
        Action::OtherRefs(id, refs) => return detail::other_refs(model, id, refs),
        Action::Recorded(..) | Action::RecordFailed(_) | Action::RowsUpdated(..) => {
            return decide::update(model, action);
        }
        Action::EditorDone(result) => return decide::editor_done(model, result),
        Action::BulkCounted(question) => return decide::counted(model, question),
        Action::IndexReloaded(index) => return reload(model, *index),
        // The runtime moved the clock: what reads it is computed again
        // (see `detail::keep_lines`).
        Action::Tick => return Vec::new(),
        Action::Synced(event) => return synced(model, event),
        Action::AssistantNews(news) => return assistant::news(model, news),
        Action::Said(text) => {
            model.notice = Some(text);
            return Vec::new();
        }
        Action::SuggestionCounts(counts) => {
            model.suggestion_counts = counts;
            return Vec::new();
        }
        Action::SuggestionsLoaded(memory, found) => {
            return memories::show_suggestions(model, &memory, found);
        }
        Action::ConflictsLoaded(conflicts) => {
            model.conflicts = conflicts;
            return Vec::new();
        }
        Action::MemoriesLoaded(memories, pending, classes) => {
            let keep = memories::selected_id(model);
            model.memories = memories;
            model.pending_memories = pending;
            model.rule_classes = classes;
            // Which of them cover the finding shown may have changed.
            model.detail.touch();
            memories::reloaded(model, keep);
            memory_form::refresh_open(model);
            return Vec::new();
        }
        _ => {}
    }
    model.notice = None;
    match model.top() {
        Some(Overlay::Filter(_)) => filter::update(model, action),
        Some(Overlay::Help { .. }) => help(model, action),
        Some(Overlay::Dialog(_)) => decide::dialog(model, action),
        Some(Overlay::Memories(_)) => memories::update(model, action),
        Some(Overlay::Confirm(_)) => decide::answered(model, action),
        None => normal(model, action),
    }
}

/// A fresh index from the store (another writer changed it): the same
/// finding stays selected and the list does not jump.
fn reload(model: &mut Model, index: crate::domain::FindingIndex) -> Vec<Effect> {
    let offset = model.list.offset;
    // Read before the index changes: positions in `visible` name rows of
    // the old index.
    let selected = model.selected_id();
    let first_findings = model.index.is_empty();
    model.index = index;
    model.list.offset = offset;
    // What the memories cover may have changed with the findings.
    let kept = memories::selected_id(model);
    memories::reloaded(model, kept);
    memory_form::refresh_open(model);
    // The old rows' positions name nothing in the new index: the cursor
    // follows its finding alone.
    let cursor = Cursor {
        id: selected,
        following: Vec::new(),
    };
    let mut effects = refilter_from(model, cursor);
    if first_findings {
        // An import into the empty store, from another terminal.
        effects.extend(sidebar::open_on_findings(model));
    }
    if effects.is_empty() && selected.is_some() {
        // Same finding, perhaps changed: show it as it is now.
        model.detail.requested = None;
        effects = selection_changed(model, selected);
    }
    effects.extend(colleagues::left_view(model, selected));
    effects
}

/// What the background sync reports, and what the console does about it.
fn synced(model: &mut Model, event: SyncEvent) -> Vec<Effect> {
    match event {
        SyncEvent::Status(status) => {
            model.sync = SyncState::Reported(status);
            Vec::new()
        }
        SyncEvent::Acknowledged(ids) => vec![Effect::RefreshRows { ids, notice: None }],
        SyncEvent::Changed => vec![Effect::ReloadIndex],
        SyncEvent::MemoriesChanged => vec![Effect::LoadMemories],
        SyncEvent::Conflicts(conflicts) => colleagues::arrived(model, conflicts),
        // It stays in the outbox, shown as pending: nothing to reload.
        SyncEvent::MemoryRejected { message } => decide::update(
            model,
            Action::RowsUpdated(
                Vec::new(),
                Some(format!(
                    "The backend refused a memory change: {message}. It is kept; `sift sync` lists it."
                )),
            ),
        ),
        SyncEvent::Rejected {
            finding_ids,
            message,
        } => {
            let notice = match finding_ids.len() {
                1 => format!(
                    "The backend refused a decision: {message}. It is kept; `sift sync` lists it."
                ),
                n => format!(
                    "The backend refused {n} decisions: {message}. They are kept; `sift sync` lists them."
                ),
            };
            vec![Effect::RefreshRows {
                ids: finding_ids,
                notice: Some(notice),
            }]
        }
    }
}

fn normal(model: &mut Model, action: Action) -> Vec<Effect> {
    match action {
        Action::Quit => {
            model.quit = true;
            Vec::new()
        }
        Action::Help => {
            model.open(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::Suspend => vec![Effect::Suspend],
        Action::Filter => filter::start(model),
        Action::ClearFilter => {
            let view = model.filter.view;
            model.filter = Default::default();
            model.filter.view = view;
            refilter(model)
        }
        Action::NextView | Action::PrevView => {
            let views = crate::domain::BacklogView::ALL;
            let i = views
                .iter()
                .position(|v| *v == model.filter.view)
                .unwrap_or(0);
            let step = if action == Action::NextView {
                1
            } else {
                views.len() - 1
            };
            model.filter.view = views[(i + step) % views.len()];
            refilter(model)
        }
        Action::ShowView(v) => {
            model.filter.view = v.0;
            refilter(model)
        }
        Action::CycleSort => {
            model.filter.sort = model.filter.sort.next();
            model.notice = Some(format!("Sorted by {}", model.filter.sort.as_str()));
            refilter(model)
        }
        Action::FocusNext => focus(model, cycle(model.focus, 1)),
        Action::FocusPrev => focus(model, cycle(model.focus, 2)),
        Action::FocusLeft => match model.focus {
            Pane::Detail => focus(model, Pane::List),
            _ => focus(model, Pane::Sidebar),
        },
        Action::FocusRight => match model.focus {
            Pane::Sidebar => focus(model, Pane::List),
            _ => focus(model, Pane::Detail),
        },
        Action::Back => {
            if model.visual.is_some() || !model.marked.is_empty() {
                model.visual = None;
                model.marked.clear();
                model.notice = Some("Marks cleared".into());
                Vec::new()
            } else if model.focus == Pane::Detail {
                // Out of the zoom and the finding's pane at once.
                focus(model, Pane::List)
            } else {
                Vec::new()
            }
        }
        Action::Open => match model.focus {
            Pane::Sidebar => sidebar::open(model),
            // The finding, full width: the evidence is what a reviewer reads.
            Pane::List => zoom(model, true),
            Pane::Detail => Vec::new(),
        },
        Action::Zoom => zoom(model, !model.zoom),
        Action::Export => {
            if model.visible.is_empty() {
                model.notice = Some("Nothing to export: the list is empty".into());
                return Vec::new();
            }
            model.notice = Some(format!("Exporting {} findings…", model.visible.len()));
            vec![Effect::Export(Box::new(model.filter.clone()))]
        }
        Action::NextFinding => nav::move_focused_list(model, &Action::Down),
        Action::PrevFinding => nav::move_focused_list(model, &Action::Up),
        Action::Down
        | Action::Up
        | Action::PageDown
        | Action::PageUp
        | Action::HalfPageDown
        | Action::HalfPageUp
        | Action::Top
        | Action::Bottom => nav::move_focused(model, &action),
        Action::Accept
        | Action::Reject
        | Action::Ignore
        | Action::ToFix
        | Action::Review
        | Action::Reopen
        | Action::AddNote
        | Action::ToggleMark
        | Action::VisualRange
        | Action::MarkAll
        | Action::MarkGroup
        | Action::AcceptAndRemember
        | Action::CustomizeFix
        | Action::Undo => {
            if model.focus == Pane::Sidebar && action != Action::Undo {
                model.notice = Some("Choose a finding first (Tab to the list)".into());
                return Vec::new();
            }
            decide::update(model, action)
        }
        Action::Memories => memories::open(model),
        Action::MemoriesOfFinding => memories::covering(model),
        Action::CopyFix => assistant::copy_fix(model),
        Action::CopyLocation | Action::CopyRule | Action::CopyId | Action::CopyUrl => {
            copy_of_selected(model, &action)
        }
        Action::OpenUrl => match selected_url(model) {
            Ok(url) => vec![Effect::OpenUrl(url)],
            Err(why) => {
                model.notice = Some(why.into());
                Vec::new()
            }
        },
        Action::KeepMine => colleagues::settle(model, true),
        Action::TakeTheirs => colleagues::settle(model, false),
        Action::OpenFile => match model.selected_id() {
            Some(id) => vec![Effect::OpenFile(id)],
            None => {
                model.notice = Some("No finding selected".into());
                Vec::new()
            }
        },
        Action::AskAssistant => {
            if model.focus == Pane::Sidebar {
                model.notice = Some("Choose a finding first (Tab to the list)".into());
                return Vec::new();
            }
            assistant::ask(model)
        }
        _ => Vec::new(),
    }
}

fn help(model: &mut Model, action: Action) -> Vec<Effect> {
    let Some(Overlay::Help { scroll }) = model.top_mut() else {
        return Vec::new();
    };
    match action {
        Action::Down => *scroll += 1,
        Action::Up => *scroll = scroll.saturating_sub(1),
        Action::PageDown | Action::HalfPageDown => *scroll += 10,
        Action::PageUp | Action::HalfPageUp => *scroll = scroll.saturating_sub(10),
        Action::Top => *scroll = 0,
        Action::Help | Action::Back | Action::Quit => {
            model.close();
        }
        _ => {}
    }
    Vec::new()
}

fn cycle(pane: Pane, step: usize) -> Pane {
    let order = [Pane::Sidebar, Pane::List, Pane::Detail];
    let i = order.iter().position(|p| *p == pane).unwrap_or(1);
    order[(i + step) % order.len()]
}

fn focus(model: &mut Model, pane: Pane) -> Vec<Effect> {
    if pane == Pane::Detail && model.selected_row().is_none() {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    }
    // The zoom shows the finding's pane alone: leaving it leaves the zoom.
    if pane != Pane::Detail {
        model.zoom = false;
    }
    model.focus = pane;
    nav::clamp_all(model);
    Vec::new()
}

/// The selected finding alone, full width (`on`), or the panes again.
fn zoom(model: &mut Model, on: bool) -> Vec<Effect> {
    if !on {
        model.zoom = false;
        return focus(model, Pane::List);
    }
    let effects = focus(model, Pane::Detail);
    model.zoom = model.focus == Pane::Detail;
    nav::clamp_all(model);
    effects
}

/// What `Y`, `R`, `#` and `U` copy: the selected finding's path:line, rule
/// id, id or link to its line of code.
fn copy_of_selected(model: &mut Model, action: &Action) -> Vec<Effect> {
    let Some(row) = model.selected_row() else {
        model.notice = Some("No finding selected".into());
        return Vec::new();
    };
    let text = match action {
        Action::CopyRule => model.index.rules.get(row.rule).to_string(),
        Action::CopyId => row.id.to_string(),
        Action::CopyUrl => match selected_url(model) {
            Ok(url) => url,
            Err(why) => {
                model.notice = Some(why.into());
                return Vec::new();
            }
        },
        _ => format!("{}:{}", model.index.paths.get(row.path), row.line),
    };
    // Pasted into a shell, a control character acts: the text is not
    // copied (a fix holding one is not offered either).
    if let Some(c) = text.chars().find(|&c| crate::text::needs_marking(c)) {
        model.notice = Some(format!(
            "Not copied: it holds a control or invisible character (U+{:04X}): {}",
            c as u32,
            crate::text::inert(&text)
        ));
        return Vec::new();
    }
    model.notice = Some(format!("Copied {}", crate::text::inert(&text)));
    vec![Effect::Copy(text)]
}

/// The link to the selected finding's line of code, once its details are
/// loaded.
fn selected_url(model: &Model) -> Result<String, &'static str> {
    let id = model.selected_id().ok_or("No finding selected")?;
    match &model.detail.finding {
        Some(f) if f.id == id => f
            .line_of_code_url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or("This finding has no link to its line of code"),
        _ => Err("The finding is still loading; try again"),
    }
}

/// Re-runs the filter, keeping the selected finding when it is still listed,
/// and asks for the details of whatever is selected afterwards.
pub(super) fn refilter(model: &mut Model) -> Vec<Effect> {
    let before = Cursor::of(model, FOLLOWING_LOOKED_AT);
    refilter_from(model, before)
}

/// The selected finding before the list is filtered again, and the ones
/// that followed it: when it leaves the view, the cursor goes to the
/// first of those still listed, not to whatever now holds its row (rows
/// above it that left too would skip as many findings).
struct Cursor {
    id: Option<i64>,
    following: Vec<u32>,
}

impl Cursor {
    fn of(model: &Model, following: usize) -> Cursor {
        let from = (model.list.selected + 1).min(model.visible.len());
        let to = from.saturating_add(following).min(model.visible.len());
        Cursor {
            id: model.selected_id(),
            following: model.visible[from..to].to_vec(),
        }
    }
}

/// The findings after the cursor that a filter typed or a view changed
/// looks at for the next one still listed.
const FOLLOWING_LOOKED_AT: usize = 64;

/// `refilter` after a few rows changed in place (their positions, and each
/// row as it was): only those are looked at again when that is enough.
pub(super) fn refilter_changed(
    model: &mut Model,
    changed: &[(u32, crate::domain::Row)],
) -> Vec<Effect> {
    // Every changed row may have followed the cursor and left (beyond
    // what a reselection takes, the cursor keeps its row, as a million
    // lookups would cost a decision's frame).
    let before = Cursor::of(model, (changed.len() + 1).min(RESELECT_UP_TO + 1));
    let reselected = (changed.len() <= RESELECT_UP_TO)
        .then(|| {
            model.index.reselect(
                &model.filter,
                changed,
                &mut model.visible,
                &mut model.facets,
            )
        })
        .flatten();
    let Some(moved) = reselected else {
        return refilter_from(model, before);
    };
    // Rows leaving a list of one project and ref leave it so; otherwise
    // the spread is looked at again (it stops at the first difference).
    if moved.entered > 0 || (moved.left > 0 && model.spread != Default::default()) {
        model.spread = crate::tui::model::Spread::of(&model.index, &model.visible);
    }
    shown_again(model, before)
}

/// Beyond this many changed rows a whole pass is as quick.
const RESELECT_UP_TO: usize = 2_000;

/// `refilter`, the cursor having stood at `before`.
fn refilter_from(model: &mut Model, before: Cursor) -> Vec<Effect> {
    (model.visible, model.facets) = model.index.select_with_facets(&model.filter);
    model.spread = crate::tui::model::Spread::of(&model.index, &model.visible);
    shown_again(model, before)
}

/// The sidebar and the cursor after the list was filtered again.
fn shown_again(model: &mut Model, before: Cursor) -> Vec<Effect> {
    sidebar::rebuild(model);
    // Positions, not rows, are compared: a million rows are not read.
    let kept = before
        .id
        .and_then(|id| model.index.position_of(id))
        .and_then(|p| model.visible.iter().position(|&i| i as usize == p));
    // When the selected finding left the view (decided, or filtered out),
    // the cursor goes to the first one after it still listed; when none
    // is, it stays where it was.
    let next = || {
        before
            .following
            .iter()
            .find_map(|&p| model.index.place_in(&model.visible, p, model.filter.sort))
    };
    model.list.selected = kept.or_else(next).unwrap_or(model.list.selected);
    nav::clamp_all(model);
    selection_changed(model, before.id)
}

/// Asks for the details of the selected finding if it is not the one shown.
pub(super) fn selection_changed(model: &mut Model, before: Option<i64>) -> Vec<Effect> {
    let now = model.selected_id();
    if now == before && model.detail.requested == now && now.is_some() {
        return Vec::new();
    }
    if model.detail.error.is_some() || model.detail.finding.is_none() {
        // An error or a "Loading…" gives way; a finding shown stays until
        // the next one arrives.
        model.detail.touch();
    }
    model.detail.scroll = 0;
    model.detail.requested = now;
    model.detail.error = None;
    match now {
        // The finding on screen stays, titled as stale, until the new one
        // arrives: a move then repaints no more than it must.
        Some(id) => vec![Effect::LoadDetail(id)],
        None => {
            model.detail.finding = None;
            if model.focus == Pane::Detail {
                model.focus = Pane::List;
                model.zoom = false;
            }
            Vec::new()
        }
    }
}
