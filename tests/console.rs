//! The console, headless: `update` driven by key presses through the real
//! keymap, effects carried out against a real store, views rendered on
//! ratatui's TestBackend and compared with insta snapshots.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sift::domain::BacklogView;
use sift::import::{ImportOptions, load_str};
use sift::store::Store;
use sift::tui::action::{Action, Effect};
use sift::tui::keymap::Keymap;
use sift::tui::model::{Mode, Model, Pane};
use sift::tui::runtime::key_action;
use sift::tui::theme::Theme;
use sift::tui::{update, view};
use time::macros::datetime;

const BACKLOG: &str = include_str!("fixtures/console_backlog.json");

struct Console {
    store: Store,
    model: Model,
    /// Every effect update asked for, in order.
    effects: Vec<Effect>,
}

impl Console {
    fn new(width: u16, height: u16) -> Console {
        let mut store = Store::in_memory().unwrap();
        let scans = load_str("backlog.json", BACKLOG, &ImportOptions::default()).unwrap();
        store.import(&scans).unwrap();
        Console::on(store, width, height)
    }

    fn on(store: Store, width: u16, height: u16) -> Console {
        let now = datetime!(2026-11-24 12:00 UTC).unix_timestamp();
        let mut model = Model::new(
            store.load_index().unwrap(),
            "embedded ~/.local/share/sift".into(),
            Keymap::default_keymap(),
            now,
        );
        model.theme = Theme::mono();
        let mut c = Console {
            store,
            model,
            effects: Vec::new(),
        };
        c.send(Action::Resize(width, height));
        let effects = update::init(&mut c.model);
        c.run(effects);
        c
    }

    fn send(&mut self, action: Action) {
        let effects = update::update(&mut self.model, action);
        self.run(effects);
    }

    /// Carries out effects the way the runtime does, synchronously.
    fn run(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.effects.push(effect.clone());
            if let Effect::LoadDetail(id) = effect {
                let f = self.store.load_finding(id).unwrap().unwrap();
                let more = update::update(&mut self.model, Action::DetailLoaded(Box::new(f)));
                self.run(more);
            }
        }
    }

    /// Presses keys: single characters, or names in angle brackets
    /// ("<enter>", "<esc>", "<tab>", "<down>", "<bs>", "<cu>" for ctrl-u).
    fn keys(&mut self, keys: &str) {
        let mut chars = keys.chars().peekable();
        while let Some(c) = chars.next() {
            let code = if c == '<' && chars.peek().is_some_and(|n| n.is_ascii_lowercase()) {
                let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                match name.as_str() {
                    "enter" => KeyCode::Enter,
                    "esc" => KeyCode::Esc,
                    "tab" => KeyCode::Tab,
                    "down" => KeyCode::Down,
                    "up" => KeyCode::Up,
                    "bs" => KeyCode::Backspace,
                    "cu" => {
                        let key = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
                        if let Some(action) = key_action(&self.model, key) {
                            self.send(action);
                        }
                        continue;
                    }
                    other => panic!("unknown key name {other}"),
                }
            } else {
                KeyCode::Char(c)
            };
            let key = KeyEvent::new(code, KeyModifiers::NONE);
            if let Some(action) = key_action(&self.model, key) {
                self.send(action);
            }
        }
    }

    fn render(&self) -> String {
        let backend = TestBackend::new(self.model.width, self.model.height);
        let mut terminal = Terminal::new(backend).unwrap();
        terminal.draw(|f| view::draw(f, &self.model)).unwrap();
        terminal.backend().to_string()
    }

    fn selected(&self) -> Option<i64> {
        self.model.selected_id()
    }

    fn listed(&self) -> Vec<i64> {
        self.model
            .visible
            .iter()
            .map(|&i| self.model.index.rows[i as usize].id)
            .collect()
    }
}

#[test]
fn opens_on_the_pre_production_backlog_with_the_first_finding_loaded() {
    let c = Console::new(160, 48);
    assert_eq!(c.model.filter.view, BacklogView::PreProduction);
    // Most severe first: the critical XSS, then the high SQLi, then the medium one.
    assert_eq!(c.listed(), vec![103, 101, 102]);
    assert_eq!(c.effects, vec![Effect::LoadDetail(103)]);
    assert_eq!(c.model.detail.finding.as_ref().map(|f| f.id), Some(103));
}

#[test]
fn j_and_k_move_and_load_details_latest_first() {
    let mut c = Console::new(160, 48);
    c.keys("j");
    assert_eq!(c.selected(), Some(101));
    assert_eq!(c.model.detail.finding.as_ref().unwrap().id, 101);
    c.keys("jjjj");
    assert_eq!(c.selected(), Some(102), "stops at the last finding");
    c.keys("k<up>");
    assert_eq!(c.selected(), Some(103));
    c.keys("G");
    assert_eq!(c.selected(), Some(102));
    c.keys("g");
    assert_eq!(c.selected(), Some(103));
}

#[test]
fn a_late_detail_for_another_finding_is_dropped() {
    let mut c = Console::new(160, 48);
    c.keys("j"); // now 101
    let stale = c.store.load_finding(103).unwrap().unwrap();
    c.send(Action::DetailLoaded(Box::new(stale)));
    assert_eq!(c.model.detail.finding.as_ref().unwrap().id, 101);
}

#[test]
fn number_keys_and_brackets_switch_views() {
    let mut c = Console::new(160, 48);
    c.keys("3");
    assert_eq!(c.model.filter.view, BacklogView::Production);
    assert_eq!(c.listed(), vec![104]);
    c.keys("8");
    assert_eq!(c.listed().len(), 7);
    c.keys("]");
    assert_eq!(
        c.model.filter.view,
        BacklogView::PreProduction,
        "wraps around"
    );
    c.keys("[");
    assert_eq!(c.model.filter.view, BacklogView::All);
    c.keys("4");
    assert_eq!(c.listed(), vec![105]);
}

#[test]
fn filter_is_live_and_esc_restores_the_previous_one() {
    let mut c = Console::new(160, 48);
    c.keys("/sql");
    assert!(matches!(c.model.mode, Mode::Filter(_)));
    assert_eq!(c.listed(), vec![101], "narrows while typing");
    c.keys("<esc>");
    assert_eq!(c.listed(), vec![103, 101, 102]);
    assert_eq!(c.model.mode, Mode::Normal);

    c.keys("/verdict:fp<enter>");
    assert_eq!(c.listed(), vec![102]);
    assert_eq!(c.model.mode, Mode::Normal, "Enter keeps the filter");
    c.keys("/<cu>sev:urgent");
    let Mode::Filter(input) = &c.model.mode else {
        panic!("still filtering")
    };
    assert!(input.error.as_deref().unwrap().contains("urgent"));
    assert_eq!(
        c.listed(),
        vec![103, 101, 102],
        "an invalid line is not applied"
    );
    c.keys("<enter>");
    assert!(
        matches!(c.model.mode, Mode::Filter(_)),
        "Enter refuses an invalid filter"
    );
    c.keys("<esc>");
}

#[test]
fn selection_survives_a_filter_that_keeps_it() {
    let mut c = Console::new(160, 48);
    c.keys("j");
    assert_eq!(c.selected(), Some(101));
    c.keys("/payments<enter>");
    assert_eq!(c.listed(), vec![101, 102]);
    assert_eq!(c.selected(), Some(101));
}

#[test]
fn sidebar_chooses_projects_and_rules() {
    let mut c = Console::new(160, 48);
    c.keys("h");
    assert_eq!(c.model.focus, Pane::Sidebar);
    // 8 views, then the "Projects" heading is stepped over.
    c.keys("jjjjjjjj");
    assert_eq!(c.model.sidebar.selected, 9);
    c.keys("<enter>");
    assert_eq!(
        c.model.filter.projects,
        vec!["acme/payments-api".to_string()]
    );
    assert_eq!(c.listed(), vec![101, 102]);
    c.keys("<enter>");
    assert!(c.model.filter.projects.is_empty(), "Enter again unchooses");
    c.keys("g<enter>");
    assert_eq!(c.model.filter.view, BacklogView::PreProduction);
}

#[test]
fn focus_moves_between_panes_and_detail_scrolls() {
    let mut c = Console::new(80, 24);
    c.keys("j<enter>");
    assert_eq!(c.model.focus, Pane::Detail);
    c.keys("jjj");
    assert_eq!(c.model.detail.scroll, 3);
    c.keys("G");
    let bottom = c.model.detail.scroll;
    c.keys("j");
    assert_eq!(
        c.model.detail.scroll, bottom,
        "does not scroll past the end"
    );
    c.keys("<esc>");
    assert_eq!(c.model.focus, Pane::List);
    c.keys("<tab><tab>");
    assert_eq!(c.model.focus, Pane::Sidebar);
}

#[test]
fn empty_view_cannot_focus_the_detail_pane() {
    let mut c = Console::new(80, 24);
    c.keys("5"); // reviewing: empty
    assert!(c.listed().is_empty());
    c.keys("l");
    assert_eq!(c.model.focus, Pane::List);
    assert!(c.render().contains("No finding selected"));
}

#[test]
fn help_lists_the_live_keymap_and_closes() {
    let mut c = Console::new(80, 24);
    c.keys("?");
    assert!(matches!(c.model.mode, Mode::Help { .. }));
    let screen = c.render();
    assert!(screen.contains("move down"), "{screen}");
    assert!(screen.contains("filter"));
    insta::assert_snapshot!("help_80x24", screen);
    c.keys("?");
    assert_eq!(c.model.mode, Mode::Normal);
}

#[test]
fn quit_key() {
    let mut c = Console::new(80, 24);
    c.keys("q");
    assert!(c.model.quit);
}

#[test]
fn hostile_text_is_shown_inert() {
    let mut c = Console::new(160, 48);
    c.keys("<enter>"); // the finding with escape sequences in its message
    let screen = c.render();
    assert!(!screen.contains('\u{1b}'), "no ESC reaches the screen");
    assert!(
        !screen.contains('\u{202e}'),
        "no bidi override reaches the screen"
    );
    assert!(screen.contains("␛]0;pwned␇"), "{screen}");
    assert!(screen.contains("<U+202E>"));
}

#[test]
fn snapshot_80x24() {
    let c = Console::new(80, 24);
    insta::assert_snapshot!("list_80x24", c.render());
}

#[test]
fn snapshot_160x48_with_details() {
    let mut c = Console::new(160, 48);
    c.keys("j");
    insta::assert_snapshot!("three_panes_160x48", c.render());
}

#[test]
fn snapshot_detail_at_80x24() {
    let mut c = Console::new(80, 24);
    c.keys("j<enter>");
    insta::assert_snapshot!("detail_80x24", c.render());
}

#[test]
fn tiny_terminals_degrade_and_never_panic() {
    let mut c = Console::new(30, 8);
    insta::assert_snapshot!("one_pane_30x8", c.render());
    for (w, h) in [
        (1, 1),
        (2, 2),
        (19, 4),
        (20, 5),
        (59, 7),
        (61, 9),
        (119, 30),
    ] {
        c.send(Action::Resize(w, h));
        for keys in ["j", "<enter>", "jjG", "<esc>h", "jj<enter>", "?", "?"] {
            c.keys(keys);
            c.render();
        }
    }
    c.send(Action::Resize(10, 3));
    insta::assert_snapshot!("too_small_10x3", c.render());
}

#[test]
fn an_empty_backlog_says_how_to_fill_it() {
    let c = Console::on(Store::in_memory().unwrap(), 80, 24);
    let screen = c.render();
    assert!(screen.contains("sift import"), "{screen}");
    assert!(screen.contains("sift demo"));
    insta::assert_snapshot!("empty_80x24", screen);
}
