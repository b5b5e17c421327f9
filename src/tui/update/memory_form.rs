//! The memory part of a dialog: its text, a scope picked from lists (a
//! project, all, or chosen ones × a rule, a class, all, or chosen ones ×
//! path prefixes), and a live preview of the undecided findings in scope,
//! which saving may ignore too.

use crate::domain::{Memory, RuleScope, Scope};
use crate::tui::action::Action;
use crate::tui::format::capitalise;
use crate::tui::model::text_field;
use crate::tui::model::{
    Cursor, Dialog, Field, MemoryForm, Model, Overlay, Picker, ProjectOption, RuleOption,
};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui_textarea::TextArea;
use std::collections::BTreeSet;

/// A form for a new memory about the findings `about` (their projects and
/// rules are offered first), with `text` to start from; its count leaves
/// out the findings `decided` (those the dialog decides itself).
pub fn new_form(
    model: &Model,
    about: &[i64],
    decided: &[i64],
    text: &str,
    guidance: bool,
) -> MemoryForm {
    let mut projects = BTreeSet::new();
    let mut rules = BTreeSet::new();
    for id in about {
        if let Some(p) = model.index.position_of(*id) {
            let row = &model.index.rows[p];
            projects.insert(model.index.projects.get(row.project).to_string());
            rules.insert(model.index.rules.get(row.rule).to_string());
        }
    }
    let scope = Scope {
        projects: projects.into_iter().collect(),
        rules: RuleScope::Rules(rules.into_iter().collect()),
        path_prefixes: Vec::new(),
    };
    form_for(model, &scope, text, guidance, decided)
}

/// A form to edit `memory`.
pub fn edit_form(model: &Model, memory: &Memory) -> MemoryForm {
    let mut form = form_for(model, &memory.scope, &memory.content, memory.guidance, &[]);
    // The form starts on the memory's own scope.
    form.covered_before = Some(form.preview.len());
    form.editing = Some(memory.clone());
    form
}

/// A form showing `scope`: one project or rule is offered by name, more
/// are the chosen ones; classes of the rules in scope come next.
fn form_for(
    model: &Model,
    scope: &Scope,
    text: &str,
    guidance: bool,
    decided: &[i64],
) -> MemoryForm {
    let mut projects = Vec::new();
    if let [one] = scope.projects.as_slice() {
        projects.push(ProjectOption::One(one.clone()));
    }
    projects.extend([ProjectOption::All, ProjectOption::Chosen]);
    let (project_at, chosen_projects) = match scope.projects.len() {
        0 => (projects.len() - 2, Vec::new()),
        1 => (0, Vec::new()),
        _ => (projects.len() - 1, scope.projects.clone()),
    };

    let one_rule = match &scope.rules {
        RuleScope::Rules(r) if r.len() == 1 => Some(r[0].clone()),
        _ => None,
    };
    let mut classes: Vec<String> = match (&one_rule, &scope.rules) {
        (Some(rule), _) => model.rule_classes.get(rule).cloned().unwrap_or_default(),
        (None, RuleScope::Class(c)) => vec![c.clone()],
        _ => Vec::new(),
    };
    if one_rule.is_none() {
        // No rule to start from: every known class.
        let known: BTreeSet<&String> = model.rule_classes.values().flatten().collect();
        for c in known {
            if !classes.contains(c) {
                classes.push(c.clone());
            }
        }
    }
    let mut rules: Vec<RuleOption> = one_rule.iter().cloned().map(RuleOption::One).collect();
    rules.extend(classes.into_iter().map(RuleOption::Class));
    rules.extend([RuleOption::All, RuleOption::Chosen]);
    let (rule_at, chosen_rules) = match &scope.rules {
        RuleScope::Rules(r) if r.len() == 1 => (0, Vec::new()),
        RuleScope::Rules(r) => (rules.len() - 1, r.clone()),
        RuleScope::Class(c) => (
            rules
                .iter()
                .position(|o| *o == RuleOption::Class(c.clone()))
                .unwrap_or(0),
            Vec::new(),
        ),
        RuleScope::All => (rules.len() - 2, Vec::new()),
    };

    let mut form = MemoryForm {
        text: text_area(
            text,
            "What Assistant should know, e.g. input passed through sanitize_sql() is safe",
        ),
        projects,
        project_at,
        chosen_projects,
        rules,
        rule_at,
        chosen_rules,
        paths: text_area(&scope.path_prefixes.join(", "), "none: any path"),
        apply: false,
        guidance,
        editing: None,
        covered_before: None,
        preview: Vec::new(),
        picker: None,
        listing: None,
    };
    refresh(model, &mut form, decided);
    form
}

/// Text as an editable box shows it.
fn shown(text: &str) -> String {
    crate::text::inert_lines(text)
        .map(|l| l.into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn text_area(text: &str, placeholder: &str) -> TextArea<'static> {
    // The text may come from Assistant or the backend: keep it inert.
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        crate::text::inert_lines(text)
            .map(|l| l.into_owned())
            .collect()
    };
    let mut area = text_field(lines, placeholder);
    area.move_cursor(ratatui_textarea::CursorMove::Bottom);
    area.move_cursor(ratatui_textarea::CursorMove::End);
    area
}

/// Recomputes which undecided findings the scope covers.
pub fn refresh(model: &Model, form: &mut MemoryForm, targets: &[i64]) {
    let scope = form.scope();
    form.preview = if form.chosen_nothing() {
        Vec::new()
    } else {
        model
            .index
            .undecided_in_scope(&scope, &model.rule_classes, targets)
    };
}

/// The index or the memories changed under an open form: its count
/// follows, so what saving applies is what it shows.
pub fn refresh_open(model: &mut Model) {
    let mut overlays = std::mem::take(&mut model.overlays);
    for overlay in &mut overlays {
        if let Overlay::Dialog(d) = overlay
            && let Some(form) = d.memory.as_mut()
        {
            refresh(model, form, &d.targets);
        }
    }
    model.overlays = overlays;
}

/// The memory the form describes, or why it cannot be saved.
pub fn memory(form: &MemoryForm, author: &str) -> Result<Memory, String> {
    if form.projects.get(form.project_at) == Some(&ProjectOption::Chosen)
        && form.chosen_projects.is_empty()
    {
        return Err("Choose at least one project (Space on Projects), or all".into());
    }
    let mut text = form.text.lines().join("\n").trim().to_string();
    let mut scope = form.scope();
    let memory = match &form.editing {
        Some(before) => {
            // The boxes show text made inert: what was not edited keeps
            // its exact characters.
            if text == shown(&before.content).trim() {
                text = before.content.clone();
            }
            if scope.path_prefixes.join(", ") == shown(&before.scope.path_prefixes.join(", ")) {
                scope.path_prefixes = before.scope.path_prefixes.clone();
            }
            let mut m = Memory {
                content: text,
                scope,
                ..before.clone()
            };
            m.touch();
            m
        }
        None => Memory::new(text, scope, form.guidance, author),
    };
    match memory.problem() {
        Some(p) => Err(capitalise(&p)),
        None => Ok(memory),
    }
}

/// Actions on the memory fields, the picker and the listing. True when the
/// action was used.
pub fn act(model: &Model, dialog: &mut Dialog, action: &Action) -> bool {
    let targets = dialog.targets.clone();
    let field = dialog.field;
    let Some(form) = dialog.memory.as_mut() else {
        return false;
    };
    if let Some(scroll) = form.listing.as_mut() {
        let last = form.preview.len().saturating_sub(1);
        match action {
            Action::Back => form.listing = None,
            Action::Down => *scroll = (*scroll + 1).min(last),
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::PageDown => *scroll = (*scroll + 10).min(last),
            Action::PageUp => *scroll = scroll.saturating_sub(10),
            _ => {}
        }
        return true;
    }
    if form.picker.is_some() {
        picker_act(form, action);
        if form.picker.is_none() {
            refresh(model, form, &targets);
        }
        return true;
    }
    match action {
        Action::ListInScope => {
            form.listing = Some(0);
            return true;
        }
        // Saving, the editor, "remember this", moving between fields and
        // leaving belong to the dialog.
        Action::Save
        | Action::Cancel
        | Action::NextField
        | Action::PrevField
        | Action::OpenEditor
        | Action::Remember => return false,
        _ => {}
    }
    let used = match (field, action) {
        (Field::Text, Action::NewLine) => {
            form.text.insert_newline();
            true
        }
        (Field::Text, Action::TextInput(key)) => {
            form.text.input(*key);
            true
        }
        // Path prefixes are one line.
        (Field::Paths, Action::NewLine) => true,
        (Field::Paths, Action::TextInput(key)) => {
            form.paths.input(*key);
            true
        }
        (Field::Projects, Action::PrevChoice | Action::NextChoice) => {
            cycle(&mut form.project_at, form.projects.len(), action);
            true
        }
        (Field::Rules, Action::PrevChoice | Action::NextChoice) => {
            cycle(&mut form.rule_at, form.rules.len(), action);
            true
        }
        (Field::Projects, Action::Choose) => {
            open_picker(model, form, false);
            true
        }
        (Field::Rules, Action::Choose) => {
            open_picker(model, form, true);
            true
        }
        (Field::Apply, Action::PrevChoice | Action::NextChoice | Action::Choose) => {
            form.apply = !form.apply;
            true
        }
        _ => false,
    };
    // Only the scope changes what the memory covers.
    if used && matches!(field, Field::Projects | Field::Rules | Field::Paths) {
        refresh(model, form, &targets);
    }
    used
}

fn cycle(at: &mut usize, len: usize, action: &Action) {
    let len = len.max(1);
    *at = if *action == Action::PrevChoice {
        (*at + len - 1) % len
    } else {
        (*at + 1) % len
    };
}

fn open_picker(model: &Model, form: &mut MemoryForm, rules: bool) {
    let (table, chosen) = if rules {
        (&model.index.rules, &form.chosen_rules)
    } else {
        (&model.index.projects, &form.chosen_projects)
    };
    let mut items: Vec<String> = table.iter().map(|(_, s)| s.to_string()).collect();
    items.sort();
    items.dedup();
    // Nothing chosen yet: start from the project or rule the scope names.
    let mut chosen: BTreeSet<String> = chosen.iter().cloned().collect();
    if chosen.is_empty() {
        let one = if rules {
            form.rules.iter().find_map(|o| match o {
                RuleOption::One(r) => Some(r.clone()),
                _ => None,
            })
        } else {
            form.projects.iter().find_map(|o| match o {
                ProjectOption::One(p) => Some(p.clone()),
                _ => None,
            })
        };
        chosen.extend(one);
    }
    form.picker = Some(Picker {
        rules,
        items,
        chosen,
        filter: String::new(),
        cursor: Cursor::default(),
    });
}

/// Type to narrow, ↑↓ to move, Space to choose, Enter to keep, Esc to
/// leave the choice as it was.
fn picker_act(form: &mut MemoryForm, action: &Action) {
    let Some(picker) = form.picker.as_mut() else {
        return;
    };
    let shown = picker.shown().len();
    match action {
        Action::Back => form.picker = None,
        Action::KeepChoice => {
            // Keeping the list makes it the scope's choice.
            let chosen: Vec<String> = picker.chosen.iter().cloned().collect();
            if picker.rules {
                form.chosen_rules = chosen;
                form.rule_at = form.rules.len() - 1;
            } else {
                form.chosen_projects = chosen;
                form.project_at = form.projects.len() - 1;
            }
            form.picker = None;
        }
        Action::Down => {
            picker.cursor.selected = (picker.cursor.selected + 1).min(shown.saturating_sub(1))
        }
        Action::Up => picker.cursor.selected = picker.cursor.selected.saturating_sub(1),
        Action::Choose => {
            if let Some(item) = picker
                .shown()
                .get(picker.cursor.selected)
                .map(|s| s.to_string())
                && !picker.chosen.remove(&item)
            {
                picker.chosen.insert(item);
            }
        }
        Action::TextInput(key) => match key.code {
            KeyCode::Backspace => {
                picker.filter.pop();
                picker.cursor = Cursor::default();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                picker.filter.push(c);
                picker.cursor = Cursor::default();
            }
            _ => {}
        },
        _ => {}
    }
}

/// Turns "remember this" on (the text starts from the note) or off.
pub fn toggle_remember(model: &Model, dialog: &mut Dialog) {
    if dialog.memory.take().is_some() {
        dialog.field = Field::Remember;
        return;
    }
    let note = dialog.note.lines().join("\n").trim().to_string();
    let form = new_form(model, &dialog.targets, &dialog.targets, &note, false);
    dialog.memory = Some(Box::new(form));
    dialog.field = Field::Text;
}
