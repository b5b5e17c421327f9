//! The findings of the current view: only the rows on screen are built, so
//! the cost of a frame does not grow with the backlog.

use super::sidebar::short_rule;
use super::{BorderMemo, draw_pane, is_focused};
use crate::domain::{Row, Severity, SortBy, Status};
use crate::text::inert;
use crate::tui::format::{age, fit, fit_start, pad};
use crate::tui::model::{Model, Pane, Spread};
use ratatui::Frame;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::borrow::Cow;
use std::collections::HashMap;
use unicode_width::UnicodeWidthStr;

/// What the list drew last. A frame lays out again only the rows that read
/// differently and copies the others' cells: moving the cursor within a
/// page draws no row anew (laying rows out was a third of a key's frame).
#[derive(Default)]
pub struct ListMemo {
    /// The page's places and its locations, with what they were worked out
    /// from (comparing the paths costs less than shortening them again).
    places: Kept<Vec<String>>,
    locations: Kept<Vec<String>>,
    /// The rows on screen by finding id: their columns and cells.
    rows: HashMap<i64, DrawnRow>,
    border: BorderMemo,
}

struct DrawnRow {
    columns: Vec<(String, usize, Style)>,
    cells: Vec<Cell>,
}

impl DrawnRow {
    fn shows(&self, columns: &[Column<'_>], width: usize) -> bool {
        self.cells.len() == width
            && self.columns.len() == columns.len()
            && self
                .columns
                .iter()
                .zip(columns)
                .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2 == b.2)
    }
}

/// A value worked out from a page, kept while the page reads the same
/// (`key` says what it was worked out from).
#[derive(Default)]
struct Kept<V> {
    key: Option<String>,
    value: V,
}

impl<V> Kept<V> {
    fn get(&mut self, key: String, make: impl FnOnce() -> V) -> &V {
        if self.key.as_ref() != Some(&key) {
            self.value = make();
            self.key = Some(key);
        }
        &self.value
    }
}

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, memo: &mut ListMemo) {
    let theme = &model.theme;
    let focused = is_focused(model, Pane::List);
    let mut title = vec![Span::raw(format!(
        " {} · {} ",
        model.filter.view.label(),
        model.visible.len()
    ))];
    if let Some(scope) = &model.filter.scope {
        let text = match scope.suggested {
            Some(_) => format!("suggested to close under \"{}\" ", inert(&scope.label)),
            None => format!("in memory \"{}\" ", inert(&scope.label)),
        };
        title.push(Span::styled(text, theme.key));
    }
    let filter = model.filter.to_line();
    if !filter.is_empty() {
        title.push(Span::styled(format!("/{} ", inert(&filter)), theme.key));
    }
    let buf = frame.buffer_mut();
    let inner = draw_pane(
        buf,
        area,
        Line::from(title),
        focused,
        theme,
        &mut memo.border,
    );
    if inner.is_empty() {
        return;
    }
    let width = inner.width as usize;

    if model.visible.is_empty() {
        let filter = model.filter.to_line();
        let first = if filter.is_empty() {
            "No findings here.".to_string()
        } else {
            format!("No findings in this view match /{}.", inert(&filter))
        };
        let lines = vec![
            Line::from(Span::styled(first, theme.dim)),
            Line::from(Span::styled(
                "Choose another view on the left, or change the filter (/; Backspace clears it).",
                theme.dim,
            )),
        ];
        ratatui::widgets::Widget::render(Paragraph::new(lines), inner, buf);
        return;
    }

    let page: Vec<&Row> = model
        .visible
        .iter()
        .skip(model.list.offset)
        .take((inner.height as usize).saturating_sub(1))
        .map(|&pos| &model.index.rows[pos as usize])
        .collect();
    // The place column as wide as the page's places need, within limits.
    let spans = model.spread.projects || model.spread.refs;
    let places_key = page_key(&page, |row, key| {
        if spans {
            key_part(key, model.index.projects.get(row.project));
            key_part(key, model.index.refs.get(row.git_ref));
        }
    });
    let places = memo
        .places
        .get(format!("{:?} {places_key}", model.spread), || match spans {
            true => page
                .iter()
                .map(|r| place_of(model, r, model.spread, usize::MAX))
                .collect(),
            false => Vec::new(),
        });
    let place_wanted = places.iter().map(|p| p.width()).max().unwrap_or(0);
    let cols = Columns::for_width(width, model.spread, place_wanted);
    let range = model.targets();
    let in_range = |id: i64| model.visual.is_some() && range.contains(&id);
    buf.set_stringn(inner.x, inner.y, cols.header(width), width, theme.dim);
    let locations_key = page_key(&page, |row, key| {
        key_part(key, model.index.paths.get(row.path));
        key_part(key, &row.line.to_string());
    });
    let locations = memo
        .locations
        .get(format!("{} {locations_key}", cols.location), || {
            locations(model, &page, cols.location)
        });
    let mut drawn = std::mem::take(&mut memo.rows);
    // Sorted by rule or file, a group's rows after its first show a ditto mark.
    let sort = model.filter.sort;
    // The top row always names its group.
    let grouped = |i: usize, row: &Row| {
        i > 0
            && match sort {
                SortBy::Rule => page[i - 1].rule == row.rule,
                SortBy::File => page[i - 1].path == row.path,
                _ => false,
            }
    };
    for (i, (row, location)) in page.iter().zip(locations).enumerate() {
        let n = model.list.offset + i;
        let location = match (grouped(i, row), sort) {
            (true, SortBy::File) => Cow::Owned(format!("  \":{}", row.line)),
            _ => Cow::Borrowed(location.as_str()),
        };
        let marker = if in_range(row.id) {
            "▌"
        } else if model.marked.contains(&row.id) {
            "●"
        } else {
            " "
        };
        let line = Rect {
            y: inner.y + 1 + i as u16,
            height: 1,
            ..inner
        };
        let cells = Cells {
            marker,
            place: places.get(i).map_or("", String::as_str),
            location,
            ditto_rule: sort == SortBy::Rule && grouped(i, row),
        };
        let columns = cols.of_row(model, row, &cells);
        let width = usize::from(line.width);
        let start = buf.index_of(line.x, line.y);
        match drawn.remove(&row.id) {
            Some(kept) if kept.shows(&columns, width) => {
                buf.content[start..start + width].clone_from_slice(&kept.cells);
                memo.rows.insert(row.id, kept);
            }
            _ => {
                write_row(buf, line, &columns);
                let kept = DrawnRow {
                    columns: columns
                        .into_iter()
                        .map(|(text, width, style)| (text.into_owned(), width, style))
                        .collect(),
                    cells: buf.content[start..start + width].to_vec(),
                };
                memo.rows.insert(row.id, kept);
            }
        }
        if n == model.list.selected {
            let sel = if focused {
                theme.selected
            } else {
                theme.selected_unfocused
            };
            buf.set_style(line, sel);
        }
    }
}

/// What a row shows that the page works out: its marker, place, location
/// and whether its rule is a ditto of the row above.
struct Cells<'a> {
    marker: &'a str,
    place: &'a str,
    location: Cow<'a, str>,
    ditto_rule: bool,
}

/// Column widths for a list width; narrow lists drop status and age. A
/// view that spans projects or refs gets a column saying which.
struct Columns {
    status: bool,
    age: bool,
    rule: usize,
    /// Project and ref, when the view has more than one of either.
    place: usize,
    spread: Spread,
    location: usize,
}

impl Columns {
    const MARK: usize = 1;
    const SEV: usize = 4;
    const VERDICT: usize = 2;
    const STATUS: usize = 8;
    const AGE: usize = 4;

    fn for_width(width: usize, spread: Spread, place_wanted: usize) -> Columns {
        let status = width >= 56;
        let age = width >= 44;
        let fixed = Self::MARK
            + Self::SEV
            + 1
            + Self::VERDICT
            + 1
            + if status { Self::STATUS + 1 } else { 0 }
            + if age { Self::AGE + 1 } else { 0 };
        let rest = width.saturating_sub(fixed + 1);
        let spans = spread.projects || spread.refs;
        let place = if spans {
            place_wanted.min(rest / 3).max(4) + 1
        } else {
            0
        };
        let rest = rest.saturating_sub(place);
        let rule = rest * 9 / 20;
        Columns {
            status,
            age,
            rule,
            place,
            spread,
            location: rest - rule,
        }
    }

    fn header(&self, width: usize) -> String {
        let mut s = format!(" {} {} ", pad("SEV", Self::SEV), pad("AI", Self::VERDICT));
        if self.status {
            s += &pad("STATUS", Self::STATUS);
            s.push(' ');
        }
        s += &pad("RULE", self.rule);
        s.push(' ');
        if self.place > 0 {
            let name = match (self.spread.projects, self.spread.refs) {
                (true, false) => "PROJECT",
                (false, true) => "REF",
                _ => "WHERE",
            };
            s += &pad(name, self.place - 1);
            s.push(' ');
        }
        s += &pad("LOCATION", self.location);
        if self.age {
            s.push(' ');
            s += &format!("{:>w$}", "AGE", w = Self::AGE);
        }
        pad(&s, width)
    }

    /// What one row of the list shows, column by column.
    fn of_row<'a>(&self, model: &'a Model, row: &Row, cells: &Cells<'a>) -> Vec<Column<'a>> {
        let t = &model.theme;
        let gap = || (Cow::Borrowed(" "), 1, Style::new());
        let mut columns = vec![
            (Cow::Borrowed(cells.marker), Self::MARK, t.key),
            (
                Cow::Borrowed(severity_label(row.severity)),
                Self::SEV,
                t.severity(row.severity),
            ),
            gap(),
            (
                Cow::Borrowed(row.verdict.map_or("--", |v| v.short())),
                Self::VERDICT,
                t.verdict(row.verdict),
            ),
            gap(),
        ];
        if self.status {
            // A trailing … says the backend has not acknowledged it yet.
            let label = status_label(row.status);
            let status = match row.pending {
                true => Cow::Owned(format!("{label}…")),
                false => Cow::Borrowed(label),
            };
            columns.push((status, Self::STATUS, t.status(row.status)));
            columns.push(gap());
        }
        if cells.ditto_rule {
            columns.push((Cow::Borrowed("  \""), self.rule, t.dim));
        } else {
            let rule = inert(short_rule(model.index.rules.get(row.rule)));
            columns.push((rule, self.rule, t.text));
        }
        columns.push(gap());
        if self.place > 0 {
            let place = place_within(model, row, self.spread, cells.place, self.place - 1);
            columns.push((place, self.place - 1, t.dim));
            columns.push(gap());
        }
        columns.push((cells.location.clone(), self.location, t.text));
        if self.age {
            columns.push(gap());
            let age = format!("{:>w$}", age(model.now, row.relevant_since), w = Self::AGE);
            columns.push((Cow::Owned(age), Self::AGE, t.dim));
        }
        columns
    }
}

/// One column of a row: its text, width and style.
type Column<'a> = (Cow<'a, str>, usize, Style);

/// A row's columns written straight into the buffer: as a paragraph of
/// styled spans, the list was most of a key's frame.
fn write_row(buf: &mut Buffer, line: Rect, columns: &[Column<'_>]) {
    let mut at = Cursor {
        buf,
        x: line.x,
        y: line.y,
        end: line.right(),
    };
    for (text, width, style) in columns {
        at.column(text, *width, *style);
    }
}

/// A page's rows as `each` writes them into one string (with `key_part`),
/// for `Kept`'s key.
fn page_key(page: &[&Row], each: impl Fn(&Row, &mut String)) -> String {
    let mut key = page.len().to_string();
    for row in page {
        each(row, &mut key);
    }
    key
}

/// `text` added to a key with its length first, so that no two lists of
/// texts make the same key, whatever they hold.
fn key_part(key: &mut String, text: &str) {
    use std::fmt::Write;
    let _ = write!(key, " {}:{text}", text.len());
}

/// Where the next column of a row starts in the buffer.
struct Cursor<'b> {
    buf: &'b mut Buffer,
    x: u16,
    y: u16,
    end: u16,
}

impl Cursor<'_> {
    /// `text` in a column `width` wide, cut with `…` when longer; the
    /// cursor moves past the column.
    fn column(&mut self, text: &str, width: usize, style: Style) {
        let room = usize::from(self.end.saturating_sub(self.x)).min(width);
        let text = match text.width() > width {
            true => Cow::Owned(fit(text, width)),
            false => Cow::Borrowed(text),
        };
        self.buf.set_stringn(self.x, self.y, &text, room, style);
        self.x = self
            .x
            .saturating_add(u16::try_from(width).unwrap_or(u16::MAX))
            .min(self.end);
    }
}

/// The place column's text `width` wide: the page's whole `place` when it
/// fits, else shortened as `place_of` shortens it.
fn place_within<'a>(
    model: &Model,
    row: &Row,
    spread: Spread,
    place: &'a str,
    width: usize,
) -> Cow<'a, str> {
    match place.width() <= width {
        true => Cow::Borrowed(place),
        false => Cow::Owned(place_of(model, row, spread, width)),
    }
}

/// Where a finding is, in the words the place column uses: the project's
/// last part and a short ref ("payments-api@pr42", "main"), `width` wide;
/// the ref is kept whole and the project's name gives way.
fn place_of(model: &Model, row: &Row, spread: Spread, width: usize) -> String {
    let project = model.index.projects.get(row.project);
    let project = inert(project.rsplit('/').next().unwrap_or(project));
    let git_ref = inert(&short_ref(model.index.refs.get(row.git_ref))).into_owned();
    match (spread.projects, spread.refs) {
        (true, true) => {
            let room = width.saturating_sub(git_ref.chars().count() + 1);
            if room < 3 {
                return fit_start(&git_ref, width);
            }
            format!("{}@{git_ref}", fit(&project, room))
        }
        (true, false) => fit(&project, width),
        _ => fit_start(&git_ref, width),
    }
}

/// A ref as people say it: `refs/pull/42/merge` is "pr42", a merge
/// request "mr7", `refs/heads/x` is "x".
pub fn short_ref(git_ref: &str) -> String {
    let parts: Vec<&str> = git_ref.split('/').collect();
    match parts.as_slice() {
        ["refs", "pull", n, ..] => format!("pr{n}"),
        ["refs", "merge-requests", n, ..] => format!("mr{n}"),
        ["refs", "heads", rest @ ..] if !rest.is_empty() => rest.join("/"),
        _ => git_ref.to_string(),
    }
}

/// The rows' locations, each fitted to `width` so that it keeps what tells
/// it from the other paths on screen: the folders where two paths ending
/// alike part ways ("…/sqli/…/low.php:32" beside "…/xss_r/…/low.php:9").
fn locations(model: &Model, page: &[&Row], width: usize) -> Vec<String> {
    let paths: Vec<std::borrow::Cow<str>> = page
        .iter()
        .map(|r| inert(model.index.paths.get(r.path)))
        .collect();
    // Split once: every path is compared with every other on each frame.
    let split: Vec<Vec<&str>> = paths.iter().map(|p| p.split('/').collect()).collect();
    page.iter()
        .zip(&split)
        .enumerate()
        .map(|(i, (row, parts))| {
            // The fewest last parts no other path on screen ends with.
            let telling = (1..=parts.len())
                .find(|&k| {
                    let tail = &parts[parts.len() - k..];
                    split.iter().zip(&paths).all(|(other, other_path)| {
                        *other_path == paths[i] || !other.ends_with(tail)
                    })
                })
                .unwrap_or(parts.len());
            fit_path(parts, telling, row.line, width)
        })
        .collect()
}

/// `parts` joined and followed by `:line`, shortened to `width`: the first
/// folder and the last `telling` parts, then the telling part and the file
/// name, then the file name's end. The first of these that fits.
fn fit_path(parts: &[&str], telling: usize, line: u32, width: usize) -> String {
    let n = parts.len();
    let at = |s: String| format!("{s}:{line}");
    let fits = |s: &str| unicode_width::UnicodeWidthStr::width(s) <= width;
    let full = at(parts.join("/"));
    if fits(&full) {
        return full;
    }
    let file = parts.last().copied().unwrap_or("");
    // As many of the last parts as fit, at least the telling ones.
    for k in (telling.max(1)..n).rev() {
        let shorter = at(format!("…/{}", parts[n - k..].join("/")));
        if fits(&shorter) {
            return shorter;
        }
    }
    if telling > 1 {
        let around = at(format!("…/{}/…/{file}", parts[n - telling]));
        if fits(&around) {
            return around;
        }
        // The telling folder wins over the whole file name.
        let head = format!("…/{}/", parts[n - telling]);
        let room = width.saturating_sub(unicode_width::UnicodeWidthStr::width(head.as_str()));
        if room >= 8 {
            let cut = format!("{head}{}", fit_start(&at(file.to_string()), room));
            if fits(&cut) {
                return cut;
            }
        }
    }
    let only_file = at(format!("…/{file}"));
    if fits(&only_file) {
        return only_file;
    }
    let last = if n > 1 {
        format!("…/{file}")
    } else {
        file.to_string()
    };
    fit_start(&at(last), width)
}

pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::High => "HIGH",
        Severity::Medium => "MED",
        Severity::Low => "LOW",
    }
}

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Open => "open",
        Status::Reviewing => "review",
        Status::Fixing => "to-fix",
        Status::Ignored => "ignored",
        Status::Fixed => "fixed",
        Status::ProvisionallyIgnored => "prov-ig",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_path_keeps_the_folder_that_tells_it_apart() {
        let sqli = ["DVWA", "vulnerabilities", "sqli", "source", "low.php"];
        // "low.php" and "source/low.php" are shared with xss_r's: the
        // telling part is three from the end.
        assert_eq!(fit_path(&sqli, 3, 32, 19), "…/sqli/…/low.php:32");
        assert_eq!(fit_path(&sqli, 3, 32, 24), "…/sqli/source/low.php:32");
        assert_eq!(
            fit_path(&sqli, 3, 32, 80),
            "DVWA/vulnerabilities/sqli/source/low.php:32"
        );
        assert_eq!(fit_path(&sqli, 1, 32, 14), "…/low.php:32");
        assert_eq!(fit_path(&sqli, 3, 32, 8), "….php:32");
        // Too narrow for the telling folder and the whole file name: the
        // folder stays, the name gives way.
        let weak = [
            "DVWA",
            "vulnerabilities",
            "weak_id",
            "source",
            "impossible.php",
        ];
        assert_eq!(fit_path(&weak, 3, 6, 22), "…/weak_id/…sible.php:6");
        assert_eq!(fit_path(&["app.py"], 1, 7, 5), "…py:7");
    }

    #[test]
    fn texts_in_a_key_never_run_together() {
        let (mut one, mut two) = (String::new(), String::new());
        key_part(&mut one, "a 1:b");
        key_part(&mut two, "a");
        key_part(&mut two, "b");
        assert_ne!(one, two);
    }

    #[test]
    fn refs_read_as_people_say_them() {
        assert_eq!(short_ref("refs/pull/42/merge"), "pr42");
        assert_eq!(short_ref("refs/merge-requests/7/head"), "mr7");
        assert_eq!(short_ref("refs/heads/release/2.1"), "release/2.1");
        assert_eq!(short_ref("main"), "main");
    }
}
