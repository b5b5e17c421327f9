//! The left pane: backlog views, then projects and rules with counts.

use super::refilter;
use crate::domain::BacklogView;
use crate::tui::action::Effect;
use crate::tui::model::{Model, Pane, SidebarEntry};

/// Rebuilds the entries from the current facets, keeping the cursor on the
/// same entry when it is still there.
pub fn rebuild(model: &mut Model) {
    let current = model.sidebar_entries.get(model.sidebar.selected).copied();
    let mut entries: Vec<SidebarEntry> = BacklogView::ALL
        .iter()
        .map(|v| SidebarEntry::View(*v))
        .collect();
    // A chosen project or rule stays listed even when nothing is left in it,
    // so that it can be unchosen.
    let mut projects: Vec<u32> = model.facets.projects.iter().map(|(p, _)| *p).collect();
    for id in model
        .filter
        .projects
        .iter()
        .filter_map(|n| model.index.projects.find(n))
    {
        if !projects.contains(&id) {
            projects.push(id);
        }
    }
    let mut rules: Vec<u32> = model.facets.rules.iter().map(|(r, _)| *r).collect();
    for id in model
        .filter
        .rules
        .iter()
        .filter_map(|n| model.index.rules.find(n))
    {
        if !rules.contains(&id) {
            rules.push(id);
        }
    }
    if !projects.is_empty() {
        entries.push(SidebarEntry::Heading("Projects"));
        entries.extend(projects.into_iter().map(SidebarEntry::Project));
    }
    if !rules.is_empty() {
        entries.push(SidebarEntry::Heading("Rules"));
        entries.extend(rules.into_iter().map(SidebarEntry::Rule));
    }
    model.sidebar_entries = entries;
    if let Some(pos) = current.and_then(|c| model.sidebar_entries.iter().position(|e| *e == c)) {
        model.sidebar.selected = pos;
    }
}

/// On a start with nothing in the default view (a scan of the main branch
/// has no pull-request findings) and findings elsewhere: opens the first
/// view, in the sidebar's order, that has some, and says so.
pub fn open_on_findings(model: &mut Model) -> Vec<Effect> {
    let empty = model.filter.view;
    if !model.visible.is_empty() || model.index.is_empty() {
        return Vec::new();
    }
    let first = BacklogView::ALL
        .iter()
        .zip(&model.facets.views)
        .find(|(_, count)| **count > 0);
    let Some((&view, _)) = first else {
        return Vec::new();
    };
    model.filter.view = view;
    let effects = refilter(model);
    let entry = SidebarEntry::View(view);
    if let Some(at) = model.sidebar_entries.iter().position(|e| *e == entry) {
        model.sidebar.selected = at;
    }
    model.notice = Some(format!(
        "{} is empty; showing {}",
        empty.label(),
        view.label()
    ));
    effects
}

/// Enter on an entry: switch view, or choose / unchoose a project or rule.
pub fn open(model: &mut Model) -> Vec<Effect> {
    let Some(entry) = model.sidebar_entries.get(model.sidebar.selected).copied() else {
        return Vec::new();
    };
    match entry {
        SidebarEntry::View(v) => model.filter.view = v,
        SidebarEntry::Project(id) => {
            let name = model.index.projects.get(id).to_string();
            toggle(&mut model.filter.projects, name);
        }
        SidebarEntry::Rule(id) => {
            let name = model.index.rules.get(id).to_string();
            toggle(&mut model.filter.rules, name);
        }
        SidebarEntry::Heading(_) => return Vec::new(),
    }
    let effects = refilter(model);
    if matches!(entry, SidebarEntry::View(_)) && model.width < 60 {
        // In one-pane layouts, choosing a view shows its findings.
        model.focus = Pane::List;
    }
    effects
}

fn toggle(chosen: &mut Vec<String>, name: String) {
    if let Some(i) = chosen.iter().position(|n| *n == name) {
        chosen.remove(i);
    } else {
        chosen.clear();
        chosen.push(name);
    }
}
