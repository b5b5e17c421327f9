//! The findings of the current view: only the rows on screen are built, so
//! the cost of a frame does not grow with the backlog.

use super::sidebar::short_rule;
use super::{is_focused, pane_block};
use crate::domain::{Row, Severity, SortBy, Status};
use crate::text::inert;
use crate::tui::format::{age, fit, fit_start, pad};
use crate::tui::model::{Model, Pane, Spread};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, model: &Model, area: Rect) {
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
    let block = pane_block(Line::from(title), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
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
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }

    let page_rows: Vec<&Row> = model
        .visible
        .iter()
        .skip(model.list.offset)
        .take((inner.height as usize).saturating_sub(1))
        .map(|&pos| &model.index.rows[pos as usize])
        .collect();
    // The place column as wide as the page's places need, within limits.
    let place_wanted = page_rows
        .iter()
        .map(|r| place_of(model, r, model.spread, usize::MAX).chars().count())
        .max()
        .unwrap_or(0);
    let cols = Columns::for_width(width, model.spread, place_wanted);
    let range = model.targets();
    let in_range = |id: i64| model.visual.is_some() && range.contains(&id);
    let mut lines = Vec::with_capacity(inner.height as usize);
    lines.push(Line::from(Span::styled(cols.header(width), theme.dim)));
    let page = page_rows;
    let places = locations(model, &page, cols.location);
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
    for (i, (row, place)) in page.iter().zip(places).enumerate() {
        let n = model.list.offset + i;
        let place = match (grouped(i, row), sort) {
            (true, SortBy::File) => format!("  \":{}", row.line),
            _ => place,
        };
        let ditto_rule = sort == SortBy::Rule && grouped(i, row);
        let marker = if in_range(row.id) {
            "▌"
        } else if model.marked.contains(&row.id) {
            "●"
        } else {
            " "
        };
        let mut line = cols.line(model, row, width, marker, &place, ditto_rule);
        if n == model.list.selected {
            let sel = if focused {
                theme.selected
            } else {
                theme.selected_unfocused
            };
            line = line.patch_style(sel);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
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

    fn line(
        &self,
        model: &Model,
        row: &Row,
        width: usize,
        marker: &str,
        location: &str,
        ditto_rule: bool,
    ) -> Line<'static> {
        let t = &model.theme;
        let mut spans = vec![
            Span::styled(marker.to_string(), t.key),
            Span::styled(
                pad(severity_label(row.severity), Self::SEV),
                t.severity(row.severity),
            ),
            Span::raw(" "),
            Span::styled(
                pad(row.verdict.map_or("--", |v| v.short()), Self::VERDICT),
                t.verdict(row.verdict),
            ),
            Span::raw(" "),
        ];
        if self.status {
            // A trailing … says the backend has not acknowledged it yet.
            let status = if row.pending {
                format!("{}…", status_label(row.status))
            } else {
                status_label(row.status).to_string()
            };
            spans.push(Span::styled(
                pad(&status, Self::STATUS),
                t.status(row.status),
            ));
            spans.push(Span::raw(" "));
        }
        if ditto_rule {
            spans.push(Span::styled(pad("  \"", self.rule), t.dim));
        } else {
            let rule = inert(short_rule(model.index.rules.get(row.rule))).into_owned();
            spans.push(Span::styled(pad(&rule, self.rule), t.text));
        }
        spans.push(Span::raw(" "));
        if self.place > 0 {
            let place = place_of(model, row, self.spread, self.place - 1);
            spans.push(Span::styled(pad(&place, self.place - 1), t.dim));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(pad(location, self.location), t.text));
        if self.age {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                format!("{:>w$}", age(model.now, row.relevant_since), w = Self::AGE),
                t.dim,
            ));
        }
        let used: usize = spans.iter().map(|s| s.width()).sum();
        spans.push(Span::raw(" ".repeat(width.saturating_sub(used))));
        Line::from(spans)
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
    fn refs_read_as_people_say_them() {
        assert_eq!(short_ref("refs/pull/42/merge"), "pr42");
        assert_eq!(short_ref("refs/merge-requests/7/head"), "mr7");
        assert_eq!(short_ref("refs/heads/release/2.1"), "release/2.1");
        assert_eq!(short_ref("main"), "main");
    }
}
