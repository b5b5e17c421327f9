//! Semantic styles. With NO_COLOR every role uses only bold, dim, reverse
//! and underline, so the console stays readable without colour.

use super::highlight::Token;
use crate::domain::{Severity, Status, Verdict};
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub text: Style,
    pub dim: Style,
    pub heading: Style,
    pub border: Style,
    pub border_focused: Style,
    pub selected: Style,
    pub selected_unfocused: Style,
    pub matched_line: Style,
    pub error: Style,
    pub status_bar: Style,
    pub key: Style,
    /// A fix's lines as a diff: removed and added.
    pub removed: Style,
    pub added: Style,
    /// Code by kind of token (`highlight::Token`).
    code: [Style; 7],
    severity: [Style; 4],
    tp: Style,
    fp: Style,
    done: Style,
}

impl Theme {
    pub fn for_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color {
            Theme::mono()
        } else {
            Theme::color()
        }
    }

    /// Sixteen ANSI colours only, so it survives tmux and old terminals.
    pub fn color() -> Theme {
        let bold = Modifier::BOLD;
        Theme {
            text: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            heading: Style::new().fg(Color::Cyan).add_modifier(bold),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            matched_line: Style::new().fg(Color::Yellow).add_modifier(bold),
            error: Style::new().fg(Color::Red).add_modifier(bold),
            status_bar: Style::new().add_modifier(Modifier::REVERSED),
            key: Style::new().fg(Color::Cyan).add_modifier(bold),
            removed: Style::new().fg(Color::Red),
            added: Style::new().fg(Color::Green),
            code: [
                Style::new().fg(Color::Magenta),
                Style::new().fg(Color::Green),
                Style::new().fg(Color::DarkGray),
                Style::new().fg(Color::Cyan),
                Style::new().fg(Color::Cyan),
                Style::new().fg(Color::Blue),
                Style::new().fg(Color::LightBlue),
            ],
            severity: [
                Style::new().fg(Color::Gray),
                Style::new().fg(Color::Yellow),
                Style::new().fg(Color::LightRed).add_modifier(bold),
                Style::new().fg(Color::Magenta).add_modifier(bold),
            ],
            tp: Style::new().fg(Color::LightRed),
            fp: Style::new().fg(Color::Green),
            done: Style::new().fg(Color::DarkGray),
        }
    }

    pub fn mono() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let dim = Style::new().add_modifier(Modifier::DIM);
        Theme {
            text: plain,
            dim,
            heading: bold,
            border: dim,
            border_focused: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            matched_line: bold,
            error: bold,
            status_bar: Style::new().add_modifier(Modifier::REVERSED),
            key: bold,
            removed: dim,
            added: bold,
            // Only comments stand apart without colour.
            code: [plain, plain, dim, plain, plain, plain, plain],
            severity: [plain, plain, bold, bold],
            tp: bold,
            fp: plain,
            done: dim,
        }
    }

    pub fn severity(&self, s: Severity) -> Style {
        self.severity[s as usize]
    }

    pub fn token(&self, t: Token) -> Style {
        self.code[t as usize]
    }

    pub fn verdict(&self, v: Option<Verdict>) -> Style {
        match v {
            Some(Verdict::TruePositive) => self.tp,
            Some(Verdict::FalsePositive) => self.fp,
            None => self.dim,
        }
    }

    pub fn status(&self, s: Status) -> Style {
        if s.is_undecided() {
            self.text
        } else {
            self.done
        }
    }
}
