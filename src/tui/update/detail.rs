//! The detail pane: the finding's details as they arrive, and its lines,
//! computed again only when what they show, the pane's width or the clock
//! moved on.

use crate::domain::Finding;
use crate::tui::action::Effect;
use crate::tui::detail_lines::{Aside, Shown, detail_lines};
use crate::tui::model::Model;

pub fn loaded(model: &mut Model, finding: Box<Finding>) -> Vec<Effect> {
    if model.detail.requested == Some(finding.id) {
        model.detail.finding = Some(finding);
        model.detail.error = None;
        model.detail.touch();
    }
    Vec::new()
}

pub fn highlighted(
    model: &mut Model,
    id: i64,
    colours: std::sync::Arc<crate::tui::highlight::Highlight>,
) -> Vec<Effect> {
    if model.detail.requested == Some(id) {
        model.detail.highlight = Some((id, colours));
        model.detail.touch();
    }
    Vec::new()
}

pub fn other_refs(model: &mut Model, id: i64, refs: Vec<String>) -> Vec<Effect> {
    if model.detail.requested == Some(id) {
        model.detail.other_refs = (id, refs);
        model.detail.touch();
    }
    Vec::new()
}

pub fn failed(model: &mut Model, id: i64, error: String) -> Vec<Effect> {
    if model.detail.requested == Some(id) {
        model.detail.finding = None;
        model.detail.error = Some(error);
        model.detail.touch();
    }
    Vec::new()
}

/// Computes the pane's lines again if they are not those of what it shows
/// at its width and time, and keeps the scroll within them. A hidden pane
/// waits until it shows.
pub fn keep_lines(model: &mut Model) {
    let panes = model.panes();
    let Some(area) = panes.detail else {
        return;
    };
    let width = area.width.saturating_sub(2);
    let detail = &model.detail;
    if !detail.lines.current(detail.version, width, model.now) {
        let shown = match (&detail.finding, &detail.error) {
            (_, Some(error)) => Shown::Error(error),
            (Some(f), None) => Shown::Finding(f),
            (None, None) if detail.requested.is_some() => Shown::Loading,
            (None, None) => Shown::Nothing,
        };
        let suggestion = model
            .filter
            .scope
            .as_ref()
            .filter(|s| s.suggested.is_some())
            .zip(model.suggestions.as_ref())
            .and_then(|(scope, (_, found))| {
                let id = detail.finding.as_ref()?.id;
                let s = found.iter().find(|s| s.finding_id == id)?;
                Some((scope.label.as_str(), s.reason.as_str()))
            });
        let colours = detail
            .highlight
            .as_ref()
            .filter(|(id, _)| Some(*id) == detail.finding.as_ref().map(|f| f.id))
            .map(|(_, h)| h.as_ref());
        let fixes = Aside {
            min: model.min_fix_confidence,
            before: model.fix_before.as_ref(),
            suggestion,
            colours,
            other_refs: Some(&detail.other_refs)
                .filter(|(id, _)| Some(*id) == detail.finding.as_ref().map(|f| f.id))
                .map_or(&[][..], |(_, refs)| refs.as_slice()),
        };
        let lines = detail_lines(
            shown,
            &model.memories,
            fixes,
            model.now,
            width,
            &model.theme,
            detail.version,
        );
        model.detail.lines = lines;
    }
    let max = max_scroll(model, panes.detail_rows());
    model.detail.scroll = model.detail.scroll.min(max);
}

/// How far the pane scrolls with `rows` on screen.
pub fn max_scroll(model: &Model, rows: usize) -> usize {
    model.detail.lines.len().saturating_sub(rows)
}
