//! The decision dialogs: ignore (reason and note), reject a true positive
//! (reason and required comment), and a note.

use super::{centered, fit};
use crate::domain::{MAX_NOTE_CHARS, TriageReason};
use crate::tui::model::{Dialog, DialogKind, Model};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, dialog: &Dialog) {
    let theme = &model.theme;
    let rect = centered(area, 72, 16);
    let n = dialog.targets.len();
    let what = if n == 1 {
        "1 finding".to_string()
    } else {
        format!("{n} findings")
    };
    let title = match dialog.kind {
        DialogKind::Ignore => format!(" Ignore {what} "),
        DialogKind::RejectTruePositive => format!(" Reject Assistant's verdict on {what} "),
        DialogKind::Note => format!(" Note on {what} "),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(theme.border_focused)
        .title(title);
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let width = inner.width as usize;
    let mut top: Vec<Line> = Vec::new();
    if dialog.kind != DialogKind::Note {
        let mut spans = vec![Span::styled("Reason ", theme.dim)];
        for r in TriageReason::ALL {
            // Brackets as well as reverse video, for terminals without colour.
            let (text, style) = if *r == dialog.reason {
                (format!("[{}]", r.label()), theme.selected)
            } else {
                (format!(" {} ", r.label()), theme.text)
            };
            spans.push(Span::styled(text, style));
        }
        top.push(Line::from(spans));
        top.push(Line::from(""));
    }
    let top_h = top.len() as u16;
    frame.render_widget(
        Paragraph::new(top),
        Rect {
            height: top_h,
            ..inner
        },
    );

    let count = dialog.note.lines().join("\n").trim().chars().count();
    let hint = match dialog.kind {
        DialogKind::Note => "Enter save · C-j new line · C-e $EDITOR · Esc cancel",
        _ => "Tab reason · Enter save · C-j new line · C-e $EDITOR · Esc cancel",
    };
    let footer = vec![
        Line::from(match &dialog.error {
            Some(e) => Span::styled(fit(e, width), theme.error),
            None => Span::styled(format!("{count}/{MAX_NOTE_CHARS}"), theme.dim),
        }),
        Line::from(Span::styled(fit(hint, width), theme.dim)),
    ];
    let note_area = Rect {
        y: inner.y + top_h,
        height: inner.height.saturating_sub(top_h + 2),
        ..inner
    };
    let mut note = dialog.note.clone();
    note.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border),
    );
    frame.render_widget(&note, note_area);
    let footer_area = Rect {
        y: note_area.bottom(),
        height: 2.min(inner.bottom().saturating_sub(note_area.bottom())),
        ..inner
    };
    frame.render_widget(Paragraph::new(footer), footer_area);
}
