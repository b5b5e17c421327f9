//! The digest written out: plain text (inert for a terminal), Markdown and
//! HTML (every text from findings escaped) and JSON. Project names, rule
//! ids and vulnerability classes come from scans, so none is trusted.

use super::Digest;
use super::figures::{Figures, day};
use super::rank::Task;
use crate::text::inert;
use serde::Serialize;
use std::fmt::Write as _;

/// The formats `--format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Html,
    Json,
}

/// The mail's subject: the date and the top task, on one line.
pub fn subject(d: &Digest) -> String {
    let top = d
        .tasks
        .first()
        .map_or_else(|| "nothing waits".to_string(), Task::title);
    inert(&format!("sift digest {}: {top}", day(d.generated_at))).into_owned()
}

fn heading(d: &Digest) -> String {
    let projects = if d.projects.is_empty() {
        "all projects".to_string()
    } else {
        d.projects.join(", ")
    };
    format!(
        "sift digest, {} ({}; {projects})",
        day(d.generated_at),
        d.window
    )
}

fn tasks_heading(d: &Digest) -> String {
    match d.tasks.len() {
        0 => "No backlog task: nothing waits for a decision".to_string(),
        1 => "The backlog task".to_string(),
        n => format!("The top {n} backlog tasks"),
    }
}

fn more(d: &Digest) -> Option<String> {
    match d.more_tasks {
        0 => None,
        1 => Some("and 1 more task".to_string()),
        n => Some(format!("and {n} more tasks")),
    }
}

/// The figures, one line each, as people read them.
fn figure_lines(f: &Figures) -> Vec<String> {
    let mut lines = vec![format!("Decided: {}", f.decided)];
    if f.compared_with_ai > 0 {
        lines.push(format!(
            "Agreed with the Assistant: {} of the {} decided findings it had judged ({}%)",
            f.agreed_with_ai,
            f.compared_with_ai,
            f.agreed_with_ai * 100 / f.compared_with_ai
        ));
    } else {
        lines.push("Agreed with the Assistant: no decided finding had its verdict".to_string());
    }
    let v = &f.waiting_by_verdict;
    lines.push(format!(
        "Waiting: {} ({} judged true positives, {} judged false positives, {} not analysed)",
        f.waiting, v.true_positive, v.false_positive, v.none
    ));
    lines.push(format!("New: {}", f.new));
    if !f.deciders.is_empty() {
        let who: Vec<String> = f
            .deciders
            .iter()
            .map(|d| format!("{} {}", d.name, d.decided))
            .collect();
        lines.push(format!("Decided by: {}", who.join(", ")));
    }
    lines
}

/// Plain text, every line inert.
pub fn text(d: &Digest) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(&inert(s));
        out.push('\n');
    };
    line(&heading(d));
    line("");
    line(&format!("{}:", tasks_heading(d)));
    for (i, t) in d.tasks.iter().enumerate() {
        line("");
        line(&format!("{}. {} (score {})", i + 1, t.title(), t.score()));
        line(&format!("   {}", t.why().join("; ")));
        line(&format!("   {}", t.command()));
    }
    if let Some(more) = more(d) {
        line("");
        line(&format!("({more}; `sift digest --top N` lists more)"));
    }
    line("");
    line(&format!("The figures for {}:", d.window));
    for f in figure_lines(&d.figures) {
        line(&format!("  {f}"));
    }
    out
}

/// Markdown: text escaped so that no name becomes a link, an image or
/// markup; commands in code spans.
pub fn markdown(d: &Digest) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md(&heading(d)));
    let _ = writeln!(out, "## {}\n", md(&tasks_heading(d)));
    for (i, t) in d.tasks.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. **{}** (score {})",
            i + 1,
            md(&t.title()),
            t.score()
        );
        for why in t.why() {
            let _ = writeln!(out, "   - {}", md(&why));
        }
        let _ = writeln!(out, "   - {}\n", code_span(&t.command()));
    }
    if let Some(more) = more(d) {
        let _ = writeln!(out, "{}\n", md(&format!("({more})")));
    }
    let _ = writeln!(out, "## {}\n", md(&format!("The figures for {}", d.window)));
    for f in figure_lines(&d.figures) {
        let _ = writeln!(out, "- {}", md(&f));
    }
    out
}

/// `text` inert and with every character Markdown reads as markup
/// backslash-escaped (inline: every line written starts with sift's own
/// marker, so what starts a block cannot).
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in inert(text).chars() {
        if "\\`*_[]<>#!|~&".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` inert, in a code span whose fence no run of backticks in it can
/// close.
fn code_span(text: &str) -> String {
    let text = inert(text);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {text} {fence}")
}

/// A whole HTML document (for a mail or a browser), every text escaped.
pub fn html(d: &Digest) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{}</title>\n</head>\n<body>", esc(&heading(d)));
    let _ = writeln!(out, "<h1>{}</h1>", esc(&heading(d)));
    let _ = writeln!(out, "<h2>{}</h2>", esc(&tasks_heading(d)));
    if !d.tasks.is_empty() {
        out.push_str("<ol>\n");
        for t in &d.tasks {
            let _ = writeln!(
                out,
                "<li><strong>{}</strong> (score {})<ul>",
                esc(&t.title()),
                t.score()
            );
            for why in t.why() {
                let _ = writeln!(out, "<li>{}</li>", esc(&why));
            }
            let _ = writeln!(out, "<li><code>{}</code></li>", esc(&t.command()));
            out.push_str("</ul></li>\n");
        }
        out.push_str("</ol>\n");
    }
    if let Some(more) = more(d) {
        let _ = writeln!(out, "<p>({})</p>", esc(&more));
    }
    let _ = writeln!(out, "<h2>The figures for {}</h2>\n<ul>", esc(&d.window));
    for f in figure_lines(&d.figures) {
        let _ = writeln!(out, "<li>{}</li>", esc(&f));
    }
    out.push_str("</ul>\n</body>\n</html>\n");
    out
}

/// `text` inert and escaped for HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in inert(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A task as `--format json` prints it: its fields and what the other
/// formats say of it.
#[derive(Serialize)]
struct TaskJson<'a> {
    rank: usize,
    title: String,
    score: f64,
    why: Vec<String>,
    command: String,
    console_filter: Option<String>,
    #[serde(flatten)]
    task: &'a Task,
}

#[derive(Serialize)]
struct DigestJson<'a> {
    #[serde(flatten)]
    digest: &'a Digest,
    tasks: Vec<TaskJson<'a>>,
}

/// The digest as JSON (printed through `cli::output`, which escapes what a
/// terminal would act on).
pub fn json(d: &Digest) -> impl Serialize + '_ {
    DigestJson {
        digest: d,
        tasks: d
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| TaskJson {
                rank: i + 1,
                title: t.title(),
                score: t.score(),
                why: t.why(),
                command: t.command(),
                console_filter: t.console_filter(),
                task: t,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_shows_controls() {
        assert_eq!(
            esc("<a href=\"x\">it's & \u{1b}[31m</a>"),
            "&lt;a href=&quot;x&quot;&gt;it&#39;s &amp; ␛[31m&lt;/a&gt;"
        );
    }

    #[test]
    fn markdown_makes_no_link_image_or_emphasis_of_a_name() {
        assert_eq!(
            md("![x](http://e/p.png) *b* _i_ <b>"),
            r"\!\[x\](http://e/p.png) \*b\* \_i\_ \<b\>"
        );
        assert_eq!(code_span("a `b` c"), "`` a `b` c ``");
        assert_eq!(code_span("x``"), "``` x`` ```");
    }
}
