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
    let mut parts = left_parts(model);
    let right = match (&model.notice, model.top()) {
        (Some(notice), _) => Part::flexible(format!(" {} ", inert(notice)), Yield::Notice),
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
            Part::flexible(format!(" {} ", hints.join("  ")), Yield::Hints)
        }
        (None, None) => match colleagues::on_selected(model) {
            Some(conflict) => Part::flexible(format!(" {} ", inert(&conflict)), Yield::Notice),
            None => hints(model),
        },
        (None, _) => hints(model),
    };
    parts.push(right);
    make_room(&mut parts, width);
    let right = parts
        .pop()
        .map(|p| p.text().to_string())
        .unwrap_or_default();
    let left: String = parts.iter().map(Part::text).collect::<String>() + " ";
    let right_w = right.width().min(width);
    let left = pad(&left, width.saturating_sub(right_w));
    let line = Line::from(vec![
        Span::styled(left, theme.status_bar),
        Span::styled(fit(&right, right_w), theme.status_bar),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// In what order the parts of the bar give way on a narrow terminal, first
/// first. What the bar is there for (the counts, what waits to be sent and
/// when sift tries again) never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Yield {
    Backend,
    Hints,
    /// Since when the sync is offline; "synced 12:03".
    SyncSince,
    Assistant,
    /// The demo's sentence, to its short form.
    DemoSentence,
    /// The help key, the last of the hints.
    Help,
    /// Why the sync is offline.
    SyncReason,
    View,
    /// The demo's short form, to "demo".
    Demo,
    /// A notice, or a colleague's conflict on the selected finding.
    Notice,
    /// "offline", when the pending count and the retry are all that fits.
    Offline,
    Never,
}

/// A part of the bar, in its forms longest first, each with when it gives
/// way to the next; a flexible one (a sentence) is cut to what room is
/// left instead.
struct Part {
    forms: Vec<(String, Yield)>,
    form: usize,
    flexible: bool,
}

impl Part {
    fn stepped(forms: Vec<(String, Yield)>) -> Part {
        Part {
            forms,
            form: 0,
            flexible: false,
        }
    }

    /// Forms that all give way alike.
    fn forms(forms: Vec<String>, yields: Yield) -> Part {
        Part::stepped(forms.into_iter().map(|f| (f, yields)).collect())
    }

    fn fixed(text: String) -> Part {
        Part::forms(vec![text], Yield::Never)
    }

    fn flexible(text: String, yields: Yield) -> Part {
        Part {
            flexible: true,
            ..Part::forms(vec![text], yields)
        }
    }

    fn text(&self) -> &str {
        self.forms.get(self.form).map_or("", |(text, _)| text)
    }

    fn yields(&self) -> Yield {
        self.forms.get(self.form).map_or(Yield::Never, |(_, y)| *y)
    }

    fn can_shrink(&self) -> bool {
        if self.flexible {
            !self.text().is_empty()
        } else {
            self.form + 1 < self.forms.len()
        }
    }

    /// One step shorter; a flexible part loses `over` columns at once (all
    /// of it when too little would be left to read).
    fn shrink(&mut self, over: usize) {
        if !self.flexible {
            self.form += 1;
            return;
        }
        let room = self.text().width().saturating_sub(over);
        let cut = if room < 8 {
            String::new()
        } else {
            fit(self.text(), room)
        };
        self.forms.push((cut, self.yields()));
        self.form = self.forms.len() - 1;
    }
}

/// Shortens the parts, those that give way first first, until the line
/// fits in `width` or nothing more can give way.
fn make_room(parts: &mut [Part], width: usize) {
    loop {
        // One column for the space that ends the left side.
        let used: usize = parts.iter().map(|p| p.text().width()).sum::<usize>() + 1;
        if used <= width {
            return;
        }
        // Of equals, the rightmost gives way first.
        let next = parts
            .iter_mut()
            .rev()
            .filter(|p| p.can_shrink())
            .min_by_key(|p| p.yields());
        match next {
            Some(part) => part.shrink(used - width),
            None => return,
        }
    }
}

/// The left side, most important first: view and counts, marks, the
/// Assistant's job, conflicts, the demo, the sync, the backend.
fn left_parts(model: &Model) -> Vec<Part> {
    let counts = format!("{}/{}", model.visible.len(), model.index.len());
    let mut parts = vec![Part::forms(
        vec![
            format!(" {} {counts}", model.filter.view.label()),
            format!(" {counts}"),
        ],
        Yield::View,
    )];
    if model.visual.is_some() {
        parts.push(Part::fixed(format!(" · VISUAL {}", model.targets().len())));
    } else if !model.marked.is_empty() {
        parts.push(Part::fixed(format!(" · {} marked", model.marked.len())));
    }
    if let Some(job) = &model.assistant_job {
        let done = job.verdicts + job.no_verdicts + job.failed;
        let short = format!(" · AI {done}/{}", job.total);
        let mut long = short.clone();
        if job.failed > 0 {
            long += &format!(" ({} failed)", job.failed);
        }
        parts.push(Part::forms(vec![long, short], Yield::Assistant));
    }
    if let Some(conflicts) = colleagues::count(model) {
        parts.push(Part::fixed(format!(" · {conflicts}")));
    }
    if model.throwaway {
        parts.push(Part::stepped(vec![
            (
                " · demo: your decisions are discarded on quit".into(),
                Yield::DemoSentence,
            ),
            (" · demo: discarded on quit".into(), Yield::Demo),
            (" · demo".into(), Yield::Never),
        ]));
    }
    parts.extend(sync_parts(model));
    parts.push(Part::flexible(
        format!(" · {}", inert(&model.backend)),
        Yield::Backend,
    ));
    parts
}

/// Where the sync stands, worded with the model's clock: "synced just now"
/// becomes "synced 12:03" as the clock moves on. Offline, the reason
/// shortens first and "3 pending · retry in 20s" stays.
fn sync_parts(model: &Model) -> Vec<Part> {
    let words = match &model.sync {
        SyncState::Unknown => return Vec::new(),
        SyncState::OfflineByChoice => {
            return vec![
                Part::fixed(" · offline by choice".into()),
                Part::forms(
                    vec![": decisions wait for `sift sync`".into(), String::new()],
                    Yield::SyncReason,
                ),
            ];
        }
        SyncState::Reported(status) => {
            let now = OffsetDateTime::from_unix_timestamp(model.now)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            status.words(now)
        }
    };
    let waiting = words.pending.is_some() || words.retry.is_some();
    // "since 12:01: timed out" gives way to "timed out" early; the reason
    // holds on longer.
    let last = words.detail.len().saturating_sub(1);
    let mut detail: Vec<(String, Yield)> = words
        .detail
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let yields = if i < last {
                Yield::SyncSince
            } else {
                Yield::SyncReason
            };
            (inert(d).into_owned(), yields)
        })
        .collect();
    detail.push((String::new(), Yield::Never));
    let mut parts = vec![
        // Offline, the word holds on longer than why; "synced 12:03"
        // gives way early.
        Part::forms(
            vec![format!(" · {}", words.state), String::new()],
            if waiting {
                Yield::Offline
            } else {
                Yield::SyncSince
            },
        ),
        Part::stepped(detail),
    ];
    parts.extend(words.pending.map(|p| Part::fixed(format!(" · {p}"))));
    parts.extend(words.retry.map(|r| Part::fixed(format!(" · {r}"))));
    parts
}

/// Key hints from the live keymap, so they cannot drift from it; on a
/// narrow terminal the help key holds on longest.
fn hints(model: &Model) -> Part {
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
    let words = |hints: &[String]| {
        let mut out = String::from(" ");
        for hint in hints {
            out += &format!("{hint}  ");
        }
        out
    };
    Part::stepped(vec![
        (words(&hints), Yield::Hints),
        (words(&hints[..hints.len().min(1)]), Yield::Help),
        (String::new(), Yield::Never),
    ])
}
