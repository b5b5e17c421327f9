//! The bottom line: backend, view and counts, hints; or the filter prompt.

use super::{colleagues, key_hints};
use crate::text::inert;
use crate::tui::action::Action;
use crate::tui::format::{fit, pad};
use crate::tui::keymap::Context;
use crate::tui::model::{Model, Overlay, SyncState};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use time::OffsetDateTime;
use unicode_width::UnicodeWidthStr;

pub fn draw(frame: &mut Frame, model: &Model, area: Rect) {
    let theme = &model.theme;
    let width = area.width as usize;
    if let Some(Overlay::Filter(input)) = model.top() {
        let prompt = format!("/{}", inert(&input.text));
        let note = input
            .error
            .as_deref()
            .map(|e| format!("  {e}"))
            .unwrap_or_else(|| {
                let hints = key_hints(
                    model,
                    Context::Filter,
                    &[
                        (&[&[Action::KeepFilter]], "keep"),
                        (&[&[Action::CancelFilter]], "cancel"),
                    ],
                );
                format!("  {}", hints.join(" · "))
            });
        let line = Line::from(vec![
            Span::styled(prompt, theme.text),
            Span::styled(
                note,
                if input.error.is_some() {
                    theme.error
                } else {
                    theme.dim
                },
            ),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        let before_cursor = inert(&input.text[..input.cursor]).width() as u16;
        let x = (area.x + 1 + before_cursor).min(area.right().saturating_sub(1));
        frame.set_cursor_position(Position::new(x, area.y));
        return;
    }
    // Most important first: a narrow terminal cuts from the right.
    let mut left = format!(
        " {} {}/{}",
        model.filter.view.label(),
        model.visible.len(),
        model.index.len(),
    );
    if model.visual.is_some() {
        left += &format!(" · VISUAL {}", model.targets().len());
    } else if !model.marked.is_empty() {
        left += &format!(" · {} marked", model.marked.len());
    }
    if let Some(job) = &model.assistant_job {
        let done = job.verdicts + job.no_verdicts + job.failed;
        left += &format!(" · AI {done}/{}", job.total);
        if job.failed > 0 {
            left += &format!(" ({} failed)", job.failed);
        }
    }
    if let Some(conflicts) = colleagues::count(model) {
        left += &format!(" · {conflicts}");
    }
    // What a conflict's sentence leaves of the left side: the view and
    // the count, at least.
    let kept_left = left.width() + 1;
    if let Some(sync) = sync_text(model) {
        left += &format!(" · {}", inert(&sync));
    }
    left += &format!(" · {}", model.backend);
    left.push(' ');
    let right = match (&model.notice, model.top()) {
        (Some(notice), _) => format!(" {} ", inert(notice)),
        (None, Some(Overlay::Memories(_))) => {
            let hints = key_hints(
                model,
                Context::Memories,
                &[
                    (&[&[Action::Open]], "findings"),
                    (&[&[Action::NewMemory]], "new"),
                    (&[&[Action::EditMemory]], "edit"),
                    (&[&[Action::DeleteMemory]], "delete"),
                    (&[&[Action::ActivateMemory]], "live"),
                    (&[&[Action::SortByImpact]], "sort"),
                    (&[&[Action::Filter]], "filter"),
                    (&[&[Action::Memories]], "back"),
                ],
            );
            format!(" {} ", hints.join("  "))
        }
        (None, None) => match colleagues::on_selected(model) {
            Some(conflict) => {
                let room = width.saturating_sub(kept_left + 2);
                format!(" {} ", fit(&inert(&conflict), room))
            }
            None => hints(model),
        },
        (None, _) => hints(model),
    };
    let right_w = right.width().min(width);
    let left = pad(&left, width.saturating_sub(right_w));
    let line = Line::from(vec![
        Span::styled(left, theme.status_bar),
        Span::styled(fit(&right, right_w), theme.status_bar),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// Where the sync stands, worded with the model's clock: "synced just now"
/// becomes "synced 12:03" as the clock moves on.
fn sync_text(model: &Model) -> Option<String> {
    match &model.sync {
        SyncState::Unknown => None,
        SyncState::OfflineByChoice => {
            Some("offline by choice: decisions wait for `sift sync`".into())
        }
        SyncState::Reported(status) => {
            let now = OffsetDateTime::from_unix_timestamp(model.now)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            Some(status.label(now))
        }
    }
}

/// Key hints from the live keymap, so they cannot drift from it.
fn hints(model: &Model) -> String {
    let hints = key_hints(
        model,
        Context::of(model.focus),
        &[
            (&[&[Action::Help]], "help"),
            (&[&[Action::Filter]], "filter"),
            (&[&[Action::FocusNext]], "pane"),
            (&[&[Action::Quit]], "quit"),
        ],
    );
    let mut out = String::from(" ");
    for hint in hints {
        out += &format!("{hint}  ");
    }
    out
}
