//! The console, headless: `update` driven by key presses through the real
//! keymap, effects carried out against a real store, views rendered on
//! ratatui's TestBackend and compared with insta snapshots.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sift::domain::BacklogView;
use sift::import::{ImportOptions, load_str};
use sift::store::Store;
use sift::tui::action::{Action, AssistantWork, Effect};
use sift::tui::keymap::Keymap;
use sift::tui::model::{Model, Overlay, Pane};
use sift::tui::perform::Perform;
use sift::tui::runtime::key_action;
use sift::tui::theme::Theme;
use sift::tui::{update, view};
use time::macros::datetime;

const BACKLOG: &str = include_str!("../fixtures/console_backlog.json");

pub(crate) struct Console {
    /// The store, and the effects on it carried out as the runtime does.
    perform: Perform,
    pub(crate) model: Model,
    /// Every effect update asked for, in order.
    effects: Vec<Effect>,
    /// What the frames drawn so far left, as the runtime keeps it.
    memo: std::cell::RefCell<view::Memo>,
}

impl Console {
    pub(crate) fn new(width: u16, height: u16) -> Console {
        let mut store = Store::in_memory().unwrap();
        let scans = load_str("backlog.json", BACKLOG, &ImportOptions::default()).unwrap();
        store.import(&scans).unwrap();
        Console::on(store, width, height)
    }

    pub(crate) fn on(store: Store, width: u16, height: u16) -> Console {
        let now = datetime!(2026-11-24 12:00 UTC).unix_timestamp();
        let mut model = Model::new(
            store.load_index().unwrap(),
            "embedded ~/.local/share/sift".into(),
            Keymap::default_keymap(),
            now,
        );
        model.theme = Theme::mono();
        (model.memories, model.pending_memories) = store.memories_in_view().unwrap();
        model.actor = "tester".into();
        model.rule_classes = store.rule_classes().unwrap();
        let mut c = Console {
            perform: Perform::new(store, "tester"),
            model,
            effects: Vec::new(),
            memo: Default::default(),
        };
        c.send(Action::Resize(width, height));
        let effects = update::init(&mut c.model);
        c.run(effects);
        c
    }

    pub(crate) fn store(&self) -> &Store {
        self.perform.store()
    }

    pub(crate) fn send(&mut self, action: Action) {
        let effects = update::update(&mut self.model, action);
        self.run(effects);
    }

    /// Carries out effects the way the runtime does, synchronously: those
    /// on the store through the same `Perform`, the terminal's by hand.
    fn run(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.effects.push(effect.clone());
            let answers = match effect {
                Effect::OpenEditor(text) => vec![Action::EditorDone(Ok(format!(
                    "{text}\nfrom the editor\u{1b}[2J"
                )))],
                Effect::Suspend => continue,
                effect => self.perform.perform(effect),
            };
            for answer in answers {
                let more = update::update(&mut self.model, answer);
                self.run(more);
            }
        }
    }

    /// Presses keys: single characters, or names in angle brackets
    /// ("<enter>", "<esc>", "<tab>", "<stab>" for shift-tab, "<down>",
    /// "<left>", "<bs>", "<cu>" for ctrl-u).
    pub(crate) fn keys(&mut self, keys: &str) {
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
                    "space" => KeyCode::Char(' '),
                    "stab" => KeyCode::BackTab,
                    "left" => KeyCode::Left,
                    "right" => KeyCode::Right,
                    // Control keys: <cj> is ctrl-j.
                    ctrl if ctrl.len() == 2 && ctrl.starts_with('c') => {
                        let c = ctrl.chars().nth(1).unwrap();
                        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
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

    pub(crate) fn render(&self) -> String {
        let backend = TestBackend::new(self.model.width, self.model.height);
        let mut terminal = Terminal::new(backend).unwrap();
        let memo = &mut self.memo.borrow_mut();
        terminal
            .draw(|f| view::draw_with(f, &self.model, memo))
            .unwrap();
        let kept = terminal.backend().buffer().clone();
        // The same cells and styles as a frame drawn from scratch.
        let mut fresh =
            Terminal::new(TestBackend::new(self.model.width, self.model.height)).unwrap();
        fresh.draw(|f| view::draw(f, &self.model)).unwrap();
        assert_eq!(&kept, fresh.backend().buffer());
        terminal.backend().to_string()
    }

    pub(crate) fn selected(&self) -> Option<i64> {
        self.model.selected_id()
    }

    pub(crate) fn listed(&self) -> Vec<i64> {
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
fn until_the_details_arrive_the_previous_finding_stays_titled_as_stale() {
    let mut c = Console::new(160, 48);
    // The runtime holds the load until the cursor rests; here it never comes.
    let effects = update::update(&mut c.model, Action::Down);
    assert_eq!(effects, vec![Effect::LoadDetail(101)]);
    assert_eq!(c.model.detail.finding.as_ref().map(|f| f.id), Some(103));
    let screen = c.render();
    assert!(screen.contains(" Finding 101 … "), "{screen}");
    assert!(!screen.contains("Loading"), "{screen}");
    c.run(effects);
    let screen = c.render();
    assert!(screen.contains(" Finding 101 "), "{screen}");
    assert!(!screen.contains(" Finding 101 … "), "{screen}");
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
    let stale = c.store().load_finding(103).unwrap().unwrap();
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
    assert!(matches!(c.model.top(), Some(Overlay::Filter(_))));
    assert_eq!(c.listed(), vec![101], "narrows while typing");
    c.keys("<esc>");
    assert_eq!(c.listed(), vec![103, 101, 102]);
    assert!(c.model.top().is_none());

    c.keys("/verdict:fp<enter>");
    assert_eq!(c.listed(), vec![102]);
    assert!(c.model.top().is_none(), "Enter keeps the filter");
    c.keys("/<cu>sev:urgent");
    let Some(Overlay::Filter(input)) = c.model.top() else {
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
        matches!(c.model.top(), Some(Overlay::Filter(_))),
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
    assert!(matches!(c.model.top(), Some(Overlay::Help { .. })));
    let screen = c.render();
    assert!(screen.contains("move down"), "{screen}");
    assert!(screen.contains("filter"));
    insta::assert_snapshot!("help_80x24", screen);
    c.keys("?");
    assert!(c.model.top().is_none());
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
    // The memory dialog, its lists and the memory pane, as small as it gets.
    c.send(Action::Resize(119, 30));
    c.keys("<esc>");
    c.model.focus = Pane::List;
    c.keys("gi<cr>");
    assert!(form(&c).preview.len() < 10, "the memory part is open");
    for (w, h) in [(1, 1), (5, 3), (12, 6), (30, 8), (59, 12), (84, 30)] {
        c.send(Action::Resize(w, h));
        for keys in [
            "x",
            "<tab><space>",
            "a<down><space>",
            "<enter><cl>",
            "<esc>",
        ] {
            c.keys(keys);
            c.render();
        }
    }
    c.keys("<esc><esc>m");
    assert!(matches!(c.model.top(), Some(Overlay::Memories(_))));
    for (w, h) in [(1, 1), (5, 3), (30, 8)] {
        c.send(Action::Resize(w, h));
        for keys in ["j", "e", "<esc>", "d", "n", "/x", "<enter>"] {
            c.keys(keys);
            c.render();
        }
    }
}

#[test]
fn an_empty_backlog_says_how_to_fill_it() {
    let c = Console::on(Store::in_memory().unwrap(), 80, 24);
    let screen = c.render();
    assert!(screen.contains("sift import"), "{screen}");
    assert!(screen.contains("sift demo"));
    insta::assert_snapshot!("empty_80x24", screen);
}

// ---- Decisions -------------------------------------------------------------

/// (finding, new state, reason, note) of each pending decision.
type PendingRow = (i64, Option<String>, Option<String>, Option<String>);

fn pending(c: &Console) -> Vec<PendingRow> {
    c.store()
        .pending()
        .unwrap()
        .into_iter()
        .map(|p| {
            (
                p.finding_id,
                p.change.state.map(|s| s.as_str().to_string()),
                p.change.reason.map(|r| r.as_str().to_string()),
                p.change.note,
            )
        })
        .collect()
}

fn row(c: &Console, id: i64) -> sift::domain::Row {
    c.model.index.rows[c.model.index.position_of(id).unwrap()]
}

#[test]
fn a_then_a_goes_through_the_view() {
    let mut c = Console::new(160, 48);
    c.keys("j"); // 101: true positive
    c.keys("a");
    assert_eq!(pending(&c), vec![(101, Some("fixing".into()), None, None)]);
    assert_eq!(c.model.notice.as_deref(), Some("Accepted 1 finding"));
    assert_eq!(
        c.listed(),
        vec![103, 102],
        "the decided finding left the view"
    );
    assert_eq!(c.selected(), Some(102), "the cursor is on the next finding");
    assert!(row(&c, 101).pending);
    c.keys("a"); // 102: false positive
    let p = pending(&c);
    assert_eq!(p[1].1.as_deref(), Some("ignored"));
    assert_eq!(p[1].2.as_deref(), Some("false_positive"));
    assert_eq!(
        p[1].3.as_deref(),
        Some(
            "Agreed with Assistant: The value is a fixed test token in a test module, not a real credential."
        )
    );
    assert_eq!(c.listed(), vec![103]);
    // In the "All" view the decided findings show as pending.
    c.keys("8");
    let screen = c.render();
    assert!(screen.contains("to-fix…"), "{screen}");
}

#[test]
fn a_key_that_makes_no_sense_says_why() {
    let mut c = Console::new(160, 48);
    c.keys("a"); // 103 has no verdict
    assert!(pending(&c).is_empty());
    assert_eq!(
        c.model.notice.as_deref(),
        Some("Assistant gave no verdict to accept")
    );
    c.keys("7k"); // fixed view: 107
    c.keys("f");
    assert_eq!(
        c.model.notice.as_deref(),
        Some("A fixed finding cannot be triaged")
    );
    assert!(pending(&c).is_empty());
    c.keys("h");
    c.keys("a");
    assert!(
        c.model
            .notice
            .as_deref()
            .unwrap()
            .contains("Choose a finding first")
    );
}

#[test]
fn rejecting_a_false_positive_sends_it_to_fix() {
    let mut c = Console::new(160, 48);
    c.keys("jj"); // 102: false positive
    c.keys("r");
    assert_eq!(
        pending(&c),
        vec![(
            102,
            Some("fixing".into()),
            None,
            Some("Disagreed with Assistant".into())
        )]
    );
}

#[test]
fn rejecting_a_true_positive_asks_why() {
    let mut c = Console::new(80, 24);
    c.keys("j"); // 101: true positive
    c.keys("r");
    assert!(matches!(c.model.top(), Some(Overlay::Dialog(_))));
    insta::assert_snapshot!("reject_dialog_80x24", c.render());
    c.keys("<enter>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("the dialog stays")
    };
    assert_eq!(d.error.as_deref(), Some("Say why Assistant is wrong"));
    c.keys("<stab><right><tab>"); // acceptable risk, back to the note
    c.keys("Internal admin only");
    c.keys("<enter>");
    assert!(c.model.top().is_none());
    assert_eq!(
        pending(&c),
        vec![(
            101,
            Some("ignored".into()),
            Some("acceptable_risk".into()),
            Some("Internal admin only".into())
        )]
    );
}

#[test]
fn ignore_dialog_with_reason_and_note() {
    let mut c = Console::new(160, 48);
    c.keys("i"); // 103
    // Shift-Tab to the reason: false positive -> acceptable risk -> no time
    // -> duplicate; Tab back to the note.
    c.keys("<stab><right><right><right><tab>");
    c.keys("Same as 101<cj>tracked in PAY-311");
    c.keys("<enter>");
    assert_eq!(
        pending(&c),
        vec![(
            103,
            Some("ignored".into()),
            Some("duplicate".into()),
            Some("Same as 101\ntracked in PAY-311".into())
        )]
    );
    // Esc cancels without recording anything.
    c.keys("i<esc>");
    assert_eq!(pending(&c).len(), 1);
}

#[test]
fn notes_do_not_change_the_status() {
    let mut c = Console::new(160, 48);
    c.keys("n<enter>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("an empty note is refused")
    };
    assert_eq!(d.error.as_deref(), Some("The note is empty"));
    c.keys("Asked the owner<enter>");
    assert_eq!(
        pending(&c),
        vec![(103, None, None, Some("Asked the owner".into()))]
    );
    assert_eq!(c.listed(), vec![103, 101, 102], "still in the view");
    // The activity shows it as pending.
    let f = c.model.detail.finding.as_ref().unwrap();
    assert!(
        f.activity
            .iter()
            .any(|a| a.pending && a.note.as_deref() == Some("Asked the owner"))
    );
}

#[test]
fn long_notes_are_refused_and_the_editor_text_is_inert() {
    let mut c = Console::new(160, 48);
    c.keys("n");
    let long = "x".repeat(3001);
    c.keys(&long);
    c.keys("<enter>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("refused")
    };
    assert!(d.error.as_deref().unwrap().contains("at most 3000"));
    c.keys("<esc>n<ce>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("still open")
    };
    let text = d.note.lines().join("\n");
    assert!(text.contains("from the editor"));
    assert!(
        !text.contains('\u{1b}'),
        "the editor's escape sequence is made inert"
    );
}

#[test]
fn marks_and_visual_ranges_decide_many() {
    let mut c = Console::new(160, 48);
    c.keys("8"); // all: 103 101 105 107 102 106 104
    c.keys("<space>");
    c.keys("j<space>");
    assert_eq!(c.model.marked.len(), 2);
    assert!(c.render().contains("2 marked"));
    c.keys("v");
    let p = pending(&c);
    assert_eq!(p.len(), 2, "only the marked findings");
    assert!(p.iter().all(|p| p.1.as_deref() == Some("reviewing")));
    assert!(c.model.marked.is_empty(), "marks clear after a decision");

    c.keys("gV");
    c.keys("jj");
    assert!(c.render().contains("VISUAL 3"));
    c.keys("o");
    assert_eq!(pending(&c).len(), 5);

    c.keys("*");
    assert_eq!(c.model.marked.len(), 7);
    c.keys("<esc>");
    assert!(c.model.marked.is_empty(), "Esc clears marks");
}

#[test]
fn a_range_decided_out_of_the_view_leaves_the_cursor_on_the_next_finding() {
    let mut c = Console::new(160, 48);
    // Every finding to review, then the Reviewing view.
    c.keys("8*v5");
    let listed = c.listed();
    assert!(listed.len() >= 5, "{listed:?}");
    let before = pending(&c).len();
    c.keys("gVjj");
    c.keys("f");
    assert_eq!(pending(&c).len(), before + 3);
    assert_eq!(c.listed(), listed[3..], "the range left the view");
    assert_eq!(
        c.selected(),
        Some(listed[3]),
        "the cursor is on the finding after the range, none skipped"
    );
    // Drawn upwards, the range leaves the cursor at its top: the same.
    let listed = c.listed();
    c.keys("jVk");
    c.keys("o");
    assert_eq!(c.listed(), listed[2..]);
    assert_eq!(c.selected(), Some(listed[2]));
}

#[test]
fn undo_before_sending_drops_the_decision() {
    let mut c = Console::new(160, 48);
    c.keys("jja"); // accept 102
    assert_eq!(c.listed(), vec![103, 101]);
    c.keys("u");
    assert!(pending(&c).is_empty(), "dropped from the outbox");
    assert_eq!(c.listed(), vec![103, 101, 102], "back in the view");
    assert!(!row(&c, 102).pending);
    c.keys("u");
    assert_eq!(c.model.notice.as_deref(), Some("Nothing to undo"));
}

#[test]
fn undo_after_sending_sends_the_previous_state_back() {
    let mut c = Console::new(160, 48);
    c.keys("jf"); // 101 to fix
    // The backend acknowledges it.
    let batch = c.store().next_batch(3000).unwrap().unwrap();
    c.store()
        .apply_triage(
            &batch.finding_ids,
            &batch.change,
            "tester",
            time::OffsetDateTime::now_utc(),
            None,
        )
        .unwrap();
    c.store().acknowledge(&batch.outbox_ids).unwrap();
    c.keys("u");
    assert_eq!(
        pending(&c),
        vec![(
            101,
            Some("reopened".into()),
            None,
            Some("Undo: set to fix 1 finding".into())
        )]
    );
    assert!(c.listed().contains(&101), "open again, so back in the view");
}

#[test]
fn an_undone_accept_that_was_already_sent_stays_in_needs_review() {
    let mut c = Console::new(160, 48);
    c.keys("2");
    let before = c.listed();
    let first = c.selected().unwrap();
    c.keys("a");
    assert!(!c.listed().contains(&first));
    // The sync took the decision into a request before u was pressed.
    let out = c.store().next_batch(3000).unwrap().unwrap();
    c.keys("u");
    let notice = c.model.notice.clone().unwrap_or_default();
    assert!(notice.starts_with("Undone: 1 decision"), "{notice}");
    assert!(notice.contains("already sent"), "{notice}");
    assert_eq!(c.listed().len(), before.len(), "back in Needs review");
    assert!(c.listed().contains(&first));
    // The request lands after all; the restoring decision follows it.
    let now = time::OffsetDateTime::now_utc();
    for batch in [out, c.store().next_batch(3000).unwrap().unwrap()] {
        c.store()
            .apply_triage(
                &batch.finding_ids,
                &batch.change,
                "tester",
                now,
                Some(&batch.request_key),
            )
            .unwrap();
        c.store().acknowledge(&batch.outbox_ids).unwrap();
    }
    let index = c.store().load_index().unwrap();
    let row = index.rows.iter().find(|r| r.id == first).unwrap();
    assert!(
        BacklogView::NeedsReview.contains(row),
        "undecided, with its verdict: {row:?}"
    );
}

#[test]
fn snapshot_ignore_dialog_160x48() {
    let mut c = Console::new(160, 48);
    c.keys("i");
    c.keys("Only reachable from the admin VPN");
    insta::assert_snapshot!("ignore_dialog_160x48", c.render());
}

#[test]
fn the_activity_says_what_is_pending() {
    let mut c = Console::new(160, 48);
    c.keys("n");
    c.keys("Checked with the team<enter>");
    let screen = c.render();
    assert!(
        screen.contains("tester: added a note (pending)"),
        "{screen}"
    );
    assert!(screen.contains("Checked with the team"));
}

#[test]
fn in_the_all_view_the_cursor_still_moves_on() {
    let mut c = Console::new(160, 48);
    c.keys("8g"); // 103 first
    c.keys("v");
    assert_eq!(c.selected(), Some(101), "on to the next finding");
    c.keys("v");
    assert_eq!(
        pending(&c).iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![103, 101]
    );
}

// ---- Memories --------------------------------------------------------------

fn with_memories(width: u16, height: u16) -> Console {
    use sift::domain::{Memory, MemoryStage, RuleScope, Scope};
    let mut store = Store::in_memory().unwrap();
    let scans = load_str("backlog.json", BACKLOG, &ImportOptions::default()).unwrap();
    store.import(&scans).unwrap();
    let at = datetime!(2026-11-01 9:00 UTC);
    let memory = |id: &str, content: &str, scope: Scope, days: i64| Memory {
        id: id.into(),
        content: content.into(),
        scope,
        stage: MemoryStage::Live,
        guidance: false,
        created_by: "alice@acme.example".into(),
        created_at: at + time::Duration::days(days),
        updated_at: at,
    };
    store
        .put_memory(&memory(
            "m1",
            "Values passed through sanitize_sql() are safe",
            Scope {
                projects: vec!["acme/payments-api".into()],
                rules: RuleScope::Class("SQL Injection".into()),
                path_prefixes: vec!["payments/".into()],
            },
            2,
        ))
        .unwrap();
    store
        .put_memory(&memory(
            "m2",
            "Test fixtures hold fake credentials",
            Scope {
                projects: vec![],
                rules: RuleScope::All,
                path_prefixes: vec!["payments/tests/".into()],
            },
            1,
        ))
        .unwrap();
    Console::on(store, width, height)
}

#[test]
fn the_memory_pane_shows_what_each_memory_covers_and_jumps_there() {
    let mut c = with_memories(120, 30);
    c.keys("m");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!("the pane opens")
    };
    // The store lists m2 (older) then m1; the pane shows the newest first.
    assert_eq!(pane.order, vec![1, 0]);
    // m1 (payments-api x SQL Injection under payments/): 101 is open, 105
    // is to fix. m2 (payments/tests/ anywhere): 102.
    assert_eq!(pane.impact, vec![1, 1]);
    insta::assert_snapshot!("memories_120x30", c.render());
    c.keys("<enter>");
    assert!(c.model.top().is_none());
    assert_eq!(
        c.listed(),
        vec![101, 105],
        "every finding in the scope, any status"
    );
    assert!(c.render().contains("in memory \"Values passed"));
    c.keys("<bs>");
    assert!(
        c.model.filter.scope.is_none(),
        "clearing the filter leaves the scope too"
    );
}

#[test]
fn memories_filter_and_sort() {
    let mut c = with_memories(120, 30);
    c.keys("m/fixtures<enter>");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!()
    };
    assert_eq!(pane.order, vec![0]);
    c.keys("/<esc>s");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!()
    };
    assert!(pane.by_impact);
    assert_eq!(pane.order.len(), 2);
    // project: and rule: keep the memories whose scope covers them.
    c.keys("/project:storefront<enter>");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!()
    };
    assert_eq!(pane.order, vec![0], "m1 is the payments API's only");
    c.keys("/<esc>/rule:sql-injection-db<enter>");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!()
    };
    assert_eq!(
        pane.order.len(),
        2,
        "m1 through its class, m2 for all rules"
    );
    c.keys("/<esc>/rule:useless-assign<enter>");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!()
    };
    assert_eq!(pane.order, vec![0]);
    c.keys("/<esc>m");
    assert!(c.model.top().is_none());
}

#[test]
fn m_shows_the_memories_that_cover_the_finding() {
    let mut c = with_memories(120, 30);
    c.keys("j"); // 101: in m1's scope (memories[1]), not m2's
    c.keys("M");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!("the pane opens")
    };
    assert_eq!(pane.filter, "finding:101");
    assert_eq!(pane.order, vec![1]);
    c.keys("mk"); // 103: in no scope
    c.keys("M");
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!()
    };
    assert!(pane.order.is_empty());
}

#[test]
fn a_finding_lists_the_memories_that_cover_it() {
    let mut c = with_memories(160, 60);
    c.keys("j"); // 101, in m1's scope
    let screen = c.render();
    assert!(screen.contains("Memories that cover it"), "{screen}");
    assert!(screen.contains("sanitize_sql()"));
    c.keys("k"); // 103, in no scope
    assert!(!c.render().contains("Memories that cover it"));
}

#[test]
fn over_the_semgrep_api_accepting_says_it_went_as_triage() {
    let mut c = Console::new(160, 48);
    c.model.verdict_feedback = Some("sent as Semgrep triage".into());
    c.keys("j");
    c.keys("a");
    assert_eq!(
        c.model.notice.as_deref(),
        Some("Accepted 1 finding · sent as Semgrep triage")
    );
    c.keys("f");
    assert_eq!(c.model.notice.as_deref(), Some("Set to fix 1 finding"));
}

fn form(c: &Console) -> &sift::tui::model::MemoryForm {
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("a dialog is open")
    };
    d.memory.as_deref().expect("the memory part is open")
}

fn memory_changes(c: &Console) -> Vec<sift::domain::MemoryChange> {
    c.store()
        .memory_changes()
        .unwrap()
        .into_iter()
        .map(|p| p.change)
        .collect()
}

#[test]
fn ignore_and_remember_applies_to_exactly_the_findings_previewed() {
    use sift::domain::{MemoryChange, RuleScope, Scope};
    let mut c = Console::new(160, 48);
    c.keys("j"); // 101: acme/payments-api, the SQL injection rule
    c.keys("iParameterised by the ORM<cr>");
    let f = form(&c);
    assert_eq!(f.text.lines().join("\n"), "Parameterised by the ORM");
    let sqli = "python.django.security.injection.sql.sql-injection-db-cursor-execute";
    assert_eq!(
        f.scope(),
        Scope {
            projects: vec!["acme/payments-api".into()],
            rules: RuleScope::Rules(vec![sqli.into()]),
            path_prefixes: vec![],
        },
        "this project and this rule to start with"
    );
    assert!(f.preview.is_empty(), "105 is to fix: nothing else is open");
    // Rules: this one -> (wrap) chosen -> all rules.
    c.keys("<tab><tab><left><left>");
    assert_eq!(form(&c).scope().rules, RuleScope::All);
    assert_eq!(
        form(&c).preview,
        vec![102],
        "the project's open findings (107 is fixed, 105 to fix)"
    );
    insta::assert_snapshot!("ignore_and_remember_160x48", c.render());
    c.keys("<cl>");
    assert!(c.render().contains("1 open finding in scope"));
    assert!(c.render().contains("logger-credential-leak"));
    c.keys("<esc><tab><tab><space><enter>");
    assert!(c.model.top().is_none(), "saved");

    let note = "Ignored under the memory \"Parameterised by the ORM\"";
    let mut decided = pending(&c);
    decided.sort();
    assert_eq!(
        decided,
        vec![
            (
                101,
                Some("ignored".into()),
                Some("false_positive".into()),
                Some("Parameterised by the ORM".into())
            ),
            (
                102,
                Some("ignored".into()),
                Some("false_positive".into()),
                Some(note.into())
            ),
        ],
        "exactly what the preview promised"
    );
    let changes = memory_changes(&c);
    let [MemoryChange::Create(m)] = changes.as_slice() else {
        panic!("one memory created")
    };
    assert_eq!(m.content, "Parameterised by the ORM");
    assert_eq!(m.scope.projects, vec!["acme/payments-api"]);
    assert_eq!(m.scope.rules, RuleScope::All);
    assert_eq!(m.created_by, "tester");
    assert!(c.model.pending_memories.contains(&m.id));
    assert!(c.model.memories.iter().any(|x| x.id == m.id));
    assert!(c.model.notice.as_deref().unwrap().contains("remembered"));
}

#[test]
fn scopes_are_picked_from_lists() {
    use sift::domain::RuleScope;
    let mut c = Console::new(160, 48);
    c.keys("j"); // 101
    c.keys("i<cr>");
    c.keys("Internal callers only");
    // Projects: Space opens the list; type to narrow, Space to choose.
    c.keys("<tab><space>");
    assert!(form(&c).picker.is_some());
    insta::assert_snapshot!("memory_picker_160x48", c.render());
    // It starts from this project: unchoose it, choose the storefront.
    c.keys("pay<space><bs><bs><bs>store<space><enter>");
    let f = form(&c);
    assert!(f.picker.is_none());
    assert_eq!(f.scope().projects, vec!["acme/storefront"]);
    // Rules: pick two from the list.
    c.keys("<tab><space>sql<space><bs><bs><bs>useless<space><bs><bs><bs><bs><bs><bs><bs>insecure<space><enter>");
    let RuleScope::Rules(rules) = form(&c).scope().rules else {
        panic!("chosen rules")
    };
    assert_eq!(
        rules,
        vec![
            "javascript.browser.security.insecure-document-method",
            "javascript.lang.correctness.useless-assign"
        ]
    );
    assert_eq!(form(&c).preview, vec![103, 104]);
    // Path prefixes narrow it.
    c.keys("<tab>src/components/");
    assert_eq!(form(&c).preview, vec![103]);
    assert_eq!(form(&c).scope().path_prefixes, vec!["src/components/"]);
    // Nothing chosen is refused rather than read as "all".
    c.keys("<stab><stab><space>store<space><enter>");
    assert!(form(&c).preview.is_empty());
    c.keys("<enter>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("still open")
    };
    assert!(
        d.error
            .as_deref()
            .unwrap()
            .contains("Choose at least one project")
    );
}

#[test]
fn a_glob_in_the_memory_form_previews_what_it_covers_and_a_bad_one_is_refused() {
    let mut c = with_memories(120, 30);
    c.keys("m");
    c.keys("nViews are behind the gateway");
    c.keys("<tab><right>"); // all projects
    c.keys("<tab><left><left>"); // all rules
    c.keys("<tab>**/views/*.py");
    assert_eq!(form(&c).preview, vec![101], "the glob, not a prefix");
    c.keys(", src/**");
    let mut preview = form(&c).preview.clone();
    preview.sort();
    assert_eq!(preview, vec![101, 103, 104]);
    c.keys("<bs><bs>[a-z");
    c.keys("<enter>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("still open")
    };
    assert_eq!(
        d.error.as_deref(),
        Some("The path \"src/[a-z\" is not a valid glob: a `[` is not closed by a `]`")
    );
    assert!(memory_changes(&c).is_empty(), "nothing was saved");
}

#[test]
fn the_memory_pane_creates_edits_activates_and_deletes() {
    use sift::domain::{MemoryChange, MemoryStage, RuleScope};
    let mut c = with_memories(120, 30);
    c.keys("m");
    // New: text, then the scope (the selected finding's project and rule).
    c.keys("nTest data is fake");
    c.keys("<tab><right>"); // all projects
    c.keys("<tab><left><left>"); // all rules
    c.keys("<tab>payments/tests/");
    let f = form(&c);
    assert_eq!(f.preview, vec![102], "payments/tests/… is the only match");
    insta::assert_snapshot!("new_memory_120x30", c.render());
    c.keys("<enter>");
    assert!(
        matches!(c.model.top(), Some(Overlay::Memories(_))),
        "back to the pane"
    );
    let created = match memory_changes(&c).as_slice() {
        [MemoryChange::Create(m)] => m.clone(),
        other => panic!("{other:?}"),
    };
    assert!(created.scope.projects.is_empty());
    assert_eq!(created.scope.rules, RuleScope::All);
    assert_eq!(created.scope.path_prefixes, vec!["payments/tests/"]);
    assert!(c.render().contains("Test data is fake"));

    // Edit the newest (it is at the top): the preview says what changes.
    c.keys("g");
    c.keys("e");
    assert_eq!(form(&c).covered_before, Some(1));
    c.keys(" in CI<tab><tab><tab><bs><bs><bs><bs><bs><bs>");
    assert_eq!(form(&c).preview, vec![101, 102]);
    c.keys("<enter>");
    let Some(MemoryChange::Update(m)) = memory_changes(&c).last().cloned() else {
        panic!("an update")
    };
    assert_eq!(m.id, created.id);
    assert_eq!(m.content, "Test data is fake in CI");
    assert_eq!(m.scope.path_prefixes, vec!["payments/"]);

    // A suggested memory goes live.
    let suggested = c
        .model
        .memories
        .iter()
        .position(|m| m.stage == MemoryStage::Suggested);
    if let Some(i) = suggested {
        let Some(Overlay::Memories(pane)) = c.model.top_mut() else {
            unreachable!()
        };
        pane.cursor.selected = pane.order.iter().position(|&o| o == i).unwrap();
        c.keys("L");
        assert!(matches!(
            memory_changes(&c).last(),
            Some(MemoryChange::Update(m)) if m.stage == MemoryStage::Live
        ));
        c.keys("g");
    }

    // Delete asks first; any key but y keeps it.
    c.keys("dn");
    assert!(!matches!(
        memory_changes(&c).last(),
        Some(MemoryChange::Delete(_))
    ));
    c.keys("d");
    assert!(c.render().contains("Delete this memory?"));
    c.keys("y");
    assert_eq!(
        memory_changes(&c).last(),
        Some(&MemoryChange::Delete(created.id.clone()))
    );
    assert!(!c.model.memories.iter().any(|m| m.id == created.id));
}

#[test]
fn customize_fix_records_guidance_for_the_project_and_rule() {
    use sift::domain::{MemoryChange, RuleScope};
    let mut c = Console::new(160, 48);
    c.keys("j"); // 101 has a suggested fix
    c.keys("c");
    assert!(c.render().contains("Customize fix"), "{:?}", c.model.notice);
    c.keys("Use the ORM's parameter binding, never f-strings<enter>");
    if let Some(Overlay::Dialog(d)) = c.model.top() {
        panic!("{:?} {:?}", d.error, d.field);
    }
    let changes = memory_changes(&c);
    let [MemoryChange::Create(m)] = changes.as_slice() else {
        panic!("one memory")
    };
    assert!(m.guidance);
    assert_eq!(m.scope.projects, vec!["acme/payments-api"]);
    assert_eq!(
        m.scope.rules,
        RuleScope::Rules(vec![
            "python.django.security.injection.sql.sql-injection-db-cursor-execute".into()
        ])
    );
    assert!(pending(&c).is_empty(), "guidance decides nothing");
}

#[test]
fn accept_and_remember_starts_from_assistants_reason() {
    use sift::domain::MemoryChange;
    let mut c = Console::new(160, 48);
    c.keys("jj"); // 102: a false-positive verdict
    assert_eq!(c.selected(), Some(102));
    c.keys("A");
    let reason = c
        .model
        .detail
        .finding
        .as_ref()
        .unwrap()
        .assistant
        .as_ref()
        .unwrap()
        .verdict_reason
        .clone();
    assert_eq!(form(&c).text.lines().join("\n"), reason);
    c.keys("<enter>");
    if let Some(Overlay::Dialog(d)) = c.model.top() {
        panic!("{:?} {:?}", d.error, d.field);
    }
    assert!(pending(&c).len() == 1, "{:?}", c.model.notice);
    assert_eq!(pending(&c).len(), 1);
    assert_eq!(pending(&c)[0].1.as_deref(), Some("ignored"));
    assert!(matches!(
        memory_changes(&c).as_slice(),
        [MemoryChange::Create(_)]
    ));
    // On a finding without a false-positive verdict, A says so.
    c.keys("gA");
    assert!(c.model.top().is_none());
}

#[test]
fn hostile_memory_text_stays_inert_in_the_pane_and_the_form() {
    use sift::domain::{Memory, RuleScope, Scope};
    let mut c = with_memories(120, 30);
    let hostile = Memory::new(
        "Safe \u{1b}]0;owned\u{7}\u{1b}[2J text \u{202e}gpj.exe".into(),
        Scope {
            projects: vec![],
            rules: RuleScope::All,
            path_prefixes: vec![],
        },
        false,
        "mallory\u{1b}[31m",
    );
    c.store().put_memory(&hostile).unwrap();
    let (memories, pending) = c.store().memories_in_view().unwrap();
    let classes = c.model.rule_classes.clone();
    c.send(Action::MemoriesLoaded(memories, pending, classes));
    c.keys("m");
    let screen = c.render();
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{202e}'),
        "{screen}"
    );
    assert!(screen.contains("Safe"), "{screen}");
    // The newest is at the top: its edit form holds the text made inert.
    c.keys("ge");
    let text = form(&c).text.lines().join("\n");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    let screen = c.render();
    assert!(!screen.contains('\u{1b}'), "{screen}");
    // Saved without touching the text: its exact characters are kept, and
    // they are what every way in refuses, so the form says why.
    c.keys("<tab><tab><tab>src/<enter>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("a text with control characters is not saved")
    };
    assert!(
        d.error
            .as_deref()
            .unwrap_or("")
            .contains("control character"),
        "{:?}",
        d.error
    );
    assert!(memory_changes(&c).is_empty());
}

#[test]
fn the_review_cases_of_the_memory_dialog() {
    use sift::domain::{MemoryChange, RuleScope};
    let mut c = Console::new(160, 48);
    c.keys("j"); // 101
    c.keys("i<cr>");
    // Keys a selector field has no use for go nowhere (not into the note).
    c.keys("<tab>xyz");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!()
    };
    assert_eq!(d.note.lines().join(""), "");
    // Space opens the list; Esc leaves the choice as it was.
    c.keys("<space><esc>");
    assert_eq!(form(&c).scope().projects, vec!["acme/payments-api"]);
    // A count that went stale is refreshed, not applied blindly.
    c.keys("<tab><left><left><tab><tab><space>");
    assert_eq!(form(&c).scope().rules, RuleScope::All);
    c.keys("<stab><stab><stab><stab>Known safe");
    if let Some(Overlay::Dialog(d)) = c.model.top_mut() {
        let f = d.memory.as_mut().unwrap();
        assert!(f.apply);
        f.preview.push(999);
    }
    c.keys("<enter>");
    let Some(Overlay::Dialog(d)) = c.model.top() else {
        panic!("not saved on a stale count")
    };
    assert!(d.error.as_deref().unwrap().contains("changed meanwhile"));
    assert_eq!(form(&c).preview, vec![102]);
    c.keys("<enter>");
    assert!(c.model.top().is_none());
    assert_eq!(pending(&c).len(), 2);
    // Undo takes back the decisions and says the memory stays.
    let label = &c.model.undo.last().unwrap().label;
    assert!(label.contains("the memory stays"), "{label}");
    assert!(!label.contains("remembered"), "{label}");
    c.keys("u");
    assert!(pending(&c).is_empty());
    let notice = c.model.notice.clone().unwrap_or_default();
    assert!(
        notice.starts_with("Undone: 2 decisions"),
        "counts what it undid: {notice}"
    );
    assert!(matches!(
        memory_changes(&c).as_slice(),
        [MemoryChange::Create(_)]
    ));
}

#[test]
fn the_pane_survives_reloads_and_deletes_the_memory_it_named() {
    use sift::domain::{Memory, MemoryChange, RuleScope, Scope};
    let mut c = with_memories(120, 30);
    c.keys("mG"); // the oldest: m2
    let Some(Overlay::Memories(pane)) = c.model.top() else {
        panic!()
    };
    let named = c.model.memories[pane.order[pane.cursor.selected]]
        .id
        .clone();
    c.keys("d");
    // Meanwhile another writer adds a memory: the positions shift.
    let newer = Memory::new(
        "From a script".into(),
        Scope {
            projects: vec![],
            rules: RuleScope::All,
            path_prefixes: vec![],
        },
        false,
        "bob",
    );
    c.store().put_memory(&newer).unwrap();
    let reload = |c: &mut Console| {
        let (memories, pending) = c.store().memories_in_view().unwrap();
        let classes = c.model.rule_classes.clone();
        c.send(Action::MemoriesLoaded(memories, pending, classes));
    };
    reload(&mut c);
    c.keys("y");
    assert_eq!(
        memory_changes(&c),
        vec![MemoryChange::Delete(named.clone())],
        "the memory the question named"
    );
    assert!(
        c.model
            .notice
            .as_deref()
            .unwrap()
            .contains("Memory deleted")
    );
    // An edit dialog over the pane, and the memories shrink under it.
    c.keys("ge");
    c.store().delete_memory(&newer.id).unwrap();
    reload(&mut c);
    c.render();
    c.keys("<esc>");
    assert!(matches!(c.model.top(), Some(Overlay::Memories(_))));
    c.render();
    // Saving a memory alone says so.
    c.keys("nJust a memory<enter>");
    assert_eq!(c.model.notice.as_deref(), Some("Remembered"));
}

#[test]
fn times_on_screen_follow_the_clock() {
    use sift::sync::{SyncEvent, SyncStatus};
    let mut c = Console::new(160, 48);
    let at = datetime!(2026-11-24 12:00 UTC);
    c.send(Action::Synced(SyncEvent::Status(SyncStatus::Synced { at })));
    assert!(c.render().contains("synced just now"), "{}", c.render());
    let first_seen = |c: &Console| {
        c.render()
            .lines()
            .find_map(|l| l.split("First seen").nth(1).map(|r| r[..20].to_string()))
            .unwrap()
    };
    let before = first_seen(&c);
    // The runtime moves the clock on; what reads it reads differently.
    c.model.now += 86_400 * 30;
    c.send(Action::Tick);
    let screen = c.render();
    assert!(screen.contains("synced 2026-11-24 12:00"), "{screen}");
    assert_ne!(first_seen(&c), before, "the finding's age moved on");
}

#[test]
fn dialog_and_filter_keys_come_from_the_keymap() {
    use sift::tui::keymap::KeymapToml;
    let mut c = Console::new(160, 48);
    let overrides: KeymapToml =
        toml::from_str("[dialog]\n\"ctrl-s\" = \"save\"\n\"enter\" = \"none\"\n[filter]\n\"tab\" = \"keep_filter\"\n")
            .unwrap();
    c.model.keymap = Keymap::with_overrides(&overrides).unwrap();
    c.keys("i"); // 103
    let screen = c.render();
    assert!(screen.contains("C-s save"), "the hints follow: {screen}");
    c.keys("Checked<cs>");
    assert!(c.model.top().is_none(), "saved");
    assert_eq!(
        pending(&c),
        vec![(
            103,
            Some("ignored".into()),
            Some("false_positive".into()),
            Some("Checked".into())
        )]
    );
    c.keys("/sql<tab>");
    assert!(c.model.top().is_none(), "Tab keeps the filter");
    assert_eq!(c.listed(), vec![101]);
}

#[test]
fn the_help_has_a_section_for_the_dialogs_and_the_filter() {
    let mut c = Console::new(160, 48);
    c.keys("?");
    // Scrolled to the end.
    for _ in 0..20 {
        c.keys("<cd>");
    }
    let screen = c.render();
    for text in [
        "Dialogs (ignore, reject, note, memory)",
        "next field",
        "Choosing projects or rules for a memory",
        "Questions (delete a memory?)",
    ] {
        assert!(screen.contains(text), "{text}: {screen}");
    }
}

#[test]
fn the_first_frame_says_the_details_are_loading() {
    let mut store = Store::in_memory().unwrap();
    let scans = load_str("backlog.json", BACKLOG, &ImportOptions::default()).unwrap();
    store.import(&scans).unwrap();
    let now = datetime!(2026-11-24 12:00 UTC).unix_timestamp();
    let mut model = Model::new(
        store.load_index().unwrap(),
        "x".into(),
        Keymap::default_keymap(),
        now,
    );
    update::update(&mut model, Action::Resize(160, 48));
    // The runtime draws before the details arrive if they are slow.
    assert_eq!(update::init(&mut model), vec![Effect::LoadDetail(103)]);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| view::draw(f, &model)).unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("Loading…"), "{screen}");
}

#[test]
fn j_asks_the_assistant_in_the_background_and_answers_show_as_they_arrive() {
    use sift::tui::action::AssistantNews;
    let mut c = Console::new(160, 48);
    c.keys("J");
    let notice = c.model.notice.clone().unwrap_or_default();
    assert!(notice.contains("[assistant]"), "says how: {notice}");
    assert!(
        !c.effects
            .iter()
            .any(|e| matches!(e, Effect::AskAssistant(_)))
    );

    c.model.assistant = Some("openai fake-model at 127.0.0.1".into());
    c.keys("j <space>"); // mark two findings
    let marked: Vec<i64> = c.model.marked.iter().copied().collect();
    assert_eq!(marked.len(), 2);
    c.keys("J");
    let asked = c
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::AskAssistant(AssistantWork::Verdicts(ids)) => Some(ids.clone()),
            _ => None,
        })
        .expect("asked in the background");
    assert_eq!(asked, marked);
    assert!(c.render().contains("AI 0/2"), "progress in the status bar");
    // The reviewer keeps working meanwhile.
    c.keys("k");
    c.send(Action::AssistantNews(AssistantNews::Answered {
        findings: vec![asked[0]],
        verdict: true,
    }));
    assert!(c.render().contains("AI 1/2"));
    c.send(Action::AssistantNews(AssistantNews::Failed {
        findings: vec![asked[1]],
        why: "the fake is down".into(),
    }));
    c.send(Action::AssistantNews(AssistantNews::Done { stopped: None }));
    let notice = c.model.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("1 verdict(s)") && notice.contains("1 unanswered"),
        "{notice}"
    );
    assert!(c.model.assistant_job.is_none());
    assert!(!c.render().contains("AI 1/2"));
}

#[test]
fn the_detail_pane_says_who_judged_and_with_which_memories() {
    use sift::domain::{Judge, Memory, RuleScope, Scope, Verdict};
    use sift::store::{Answer, Judgement};
    let mut c = Console::new(160, 48);
    let id = c.selected().unwrap();
    let memory = Memory::new(
        "Staging keys in test fixtures are fake".into(),
        Scope {
            projects: vec![],
            rules: RuleScope::All,
            path_prefixes: vec![],
        },
        false,
        "tester",
    );
    c.store().put_memory(&memory).unwrap();
    let (memories, pending) = c.store().memories_in_view().unwrap();
    let classes = c.model.rule_classes.clone();
    c.send(Action::MemoriesLoaded(memories, pending, classes));
    // A finding without Semgrep's verdict, judged by sift's own Assistant.
    let plain = c
        .model
        .index
        .rows
        .iter()
        .find(|r| r.verdict.is_none())
        .map(|r| r.id)
        .unwrap();
    let answer = Answer {
        judgement: Judgement::Verdict {
            verdict: Verdict::FalsePositive,
            reason: "The key is a documented placeholder.".into(),
            component: None,
        },
        judge: Judge {
            provider: "openai".into(),
            model: "fake-model".into(),
            prompt_version: 1,
            at: time::OffsetDateTime::now_utc(),
            memories: vec![memory.id.clone()],
        },
        input_tokens: 10,
        output_tokens: 5,
    };
    c.store().record_verdict("k1", &answer, &[plain]).unwrap();
    let f = c.store().load_finding(plain).unwrap().unwrap();
    assert_ne!(id, 0);
    c.send(Action::DetailLoaded(Box::new(f)));
    let screen = c.render();
    assert!(screen.contains("Judged by"), "{screen}");
    assert!(screen.contains("fake-model (openai)"), "{screen}");
    assert!(
        screen.contains("Memories   Staging keys in test fixtures are fake"),
        "{screen}"
    );
    assert!(screen.contains("documented placeholder"), "{screen}");
}

#[test]
fn suggestions_to_close_are_listed_and_closed_only_by_the_reviewer() {
    use sift::domain::{Judge, Memory, RuleScope, Scope, Status, Verdict};
    use sift::store::{Answer, Judgement};
    let mut c = Console::new(160, 48);
    c.model.assistant = Some("openai fake-model at 127.0.0.1".into());
    let memory = Memory::new(
        "Refund queries go through the ORM's escaping".into(),
        Scope {
            projects: vec![],
            rules: RuleScope::All,
            path_prefixes: vec![],
        },
        false,
        "tester",
    );
    c.store().put_memory(&memory).unwrap();
    // A re-analysis under it judged two open findings false positives.
    let open: Vec<i64> = c
        .model
        .index
        .rows
        .iter()
        .filter(|r| r.status == Status::Open)
        .map(|r| r.id)
        .take(2)
        .collect();
    assert_eq!(open.len(), 2);
    let mut keys = Vec::new();
    for (n, &id) in open.iter().enumerate() {
        let answer = Answer {
            judgement: Judgement::Verdict {
                verdict: Verdict::FalsePositive,
                reason: format!("Escaped by the ORM ({n})."),
                component: None,
            },
            judge: Judge {
                provider: "openai".into(),
                model: "fake-model".into(),
                prompt_version: 2,
                at: time::OffsetDateTime::now_utc(),
                memories: vec![memory.id.clone()],
            },
            input_tokens: 1,
            output_tokens: 1,
        };
        let key = format!("re{n}");
        c.store().record_verdict(&key, &answer, &[]).unwrap();
        keys.push((id, key));
    }
    c.store().record_suggestions(&memory.id, &keys).unwrap();
    c.run(vec![Effect::LoadMemories]);
    c.keys("m");
    assert!(c.render().contains("2 to close"), "{}", c.render());
    // S lists them; nothing is closed yet.
    c.keys("S");
    let screen = c.render();
    assert!(screen.contains("suggested to close under"), "{screen}");
    assert_eq!(c.model.visible.len(), 2);
    assert!(screen.contains("Escaped by the ORM"), "{screen}");
    for &id in &open {
        let f = c.store().load_finding(id).unwrap().unwrap();
        assert_eq!(f.status(), Status::Open);
    }
    // a closes the one under the cursor, with the memory and the reason.
    let first = c.selected().unwrap();
    c.keys("a");
    let f = c.store().load_finding(first).unwrap().unwrap();
    assert_eq!(f.status(), Status::Ignored);
    let note = f.triage_comment.clone().unwrap_or_default();
    assert!(note.contains("Refund queries go through"), "{note}");
    assert!(note.contains("Escaped by the ORM"), "{note}");
    // The memory pane closes the rest, after asking.
    c.keys("m");
    assert!(c.render().contains("1 to close"), "{}", c.render());
    c.keys("C");
    assert!(
        c.render().contains("Close the 1 finding(s)"),
        "{}",
        c.render()
    );
    c.keys("y");
    for &id in &open {
        let f = c.store().load_finding(id).unwrap().unwrap();
        assert_eq!(f.status(), Status::Ignored, "{id}");
    }
    assert!(!c.render().contains("to close ·"), "{}", c.render());
}

#[test]
fn an_ignore_with_a_note_asks_for_a_drafted_memory_when_an_ai_is_configured() {
    let mut c = Console::new(160, 48);
    c.model.assistant = Some("openai fake-model at 127.0.0.1".into());
    let id = c.selected().unwrap();
    c.keys("i");
    c.keys("Staging config only, never deployed");
    c.keys("<enter>");
    let asked = c.effects.iter().find_map(|e| match e {
        Effect::AskAssistant(AssistantWork::DraftMemory { finding, note, .. }) => {
            Some((*finding, note.clone()))
        }
        _ => None,
    });
    assert_eq!(
        asked,
        Some((id, "Staging config only, never deployed".to_string())),
        "{:?}",
        c.effects
    );
    // The answer says what was drafted and where it is.
    c.send(Action::AssistantNews(
        sift::tui::action::AssistantNews::Drafted(Ok(Some(
            "Staging config is never deployed".into(),
        ))),
    ));
    assert!(c.render().contains("L makes it live"), "{}", c.render());
}

#[test]
fn e_opens_the_findings_file_in_the_editor() {
    let mut c = Console::new(160, 48);
    c.keys("j"); // a plain path
    let id = c.selected().unwrap();
    c.keys("E");
    assert!(c.effects.contains(&Effect::OpenFile(id)), "{:?}", c.effects);
    // Y copies where it is.
    let row = c.model.selected_row().unwrap();
    let at = format!("{}:{}", c.model.index.paths.get(row.path), row.line);
    c.keys("Y");
    assert!(c.effects.contains(&Effect::Copy(at)), "{:?}", c.effects);
    // Where it cannot, the status bar says why.
    c.send(Action::Said(
        "Cannot open the file: its project has no source tree".into(),
    ));
    assert!(c.render().contains("has no source tree"), "{}", c.render());
}

/// The selected finding with code around it: a long matched line, and the
/// colours the store's thread would send after it.
fn with_code(c: &mut Console) {
    let id = c.selected().unwrap();
    let mut f = c.store().load_finding(id).unwrap().unwrap();
    let lines: Vec<String> = [
        "def refund(request):",
        "    account = request.GET['account']  # from the query string",
        "    cursor.execute(f\"SELECT * FROM refunds WHERE account = '{account}' AND status = 'open' ORDER BY created_at DESC\")",
        "    return render(request, 'refunds.html')",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.location.line = 48;
    f.location.end_line = 48;
    f.code = Some(sift::domain::CodeContext {
        start_line: 46,
        lines: lines.clone(),
    });
    let colours = sift::tui::highlight::highlight("refunds.py", &lines).unwrap();
    c.send(Action::DetailLoaded(Box::new(f)));
    c.send(Action::CodeHighlighted(id, std::sync::Arc::new(colours)));
}

#[test]
fn zoom_shows_the_finding_alone_with_its_code_whole() {
    for (w, h) in [(160, 48), (80, 24), (60, 15)] {
        let mut c = Console::new(w, h);
        c.keys("j");
        with_code(&mut c);
        c.keys("z");
        assert!(c.model.zoom && c.model.focus == Pane::Detail);
        let screen = c.render();
        // No other pane; the code near the top, the long matched line
        // wrapped, not cut.
        assert!(!screen.contains("Backlog"), "{screen}");
        assert!(screen.contains("Code"), "{w}x{h}: {screen}");
        insta::assert_snapshot!(format!("zoom_{w}x{h}"), screen);
        if h < 24 {
            c.keys("<cd>");
        }
        let screen = c.render();
        assert!(screen.contains("ORDER BY"), "{w}x{h}: {screen}");
        // The next finding without leaving the zoom, and back to the panes.
        let before = c.selected();
        c.keys("<cn>");
        assert_ne!(c.selected(), before);
        assert!(c.model.zoom);
        c.keys("<cp><esc>");
        assert_eq!(c.selected(), before);
        assert!(!c.model.zoom && c.model.focus == Pane::List);
    }
}

#[test]
fn enter_in_the_list_zooms_and_tab_leaves_the_zoom() {
    let mut c = Console::new(160, 48);
    c.keys("<enter>");
    assert!(c.model.zoom);
    c.keys("<tab>");
    assert!(!c.model.zoom);
    assert!(c.render().contains("Backlog"));
}

#[test]
fn code_is_coloured_by_kind_of_token() {
    let mut c = Console::new(160, 48);
    c.model.theme = Theme::color();
    c.keys("j");
    with_code(&mut c);
    let keyword = Theme::color().token(sift::tui::highlight::Token::Keyword);
    let coloured: Vec<String> = c
        .model
        .detail
        .lines
        .lines
        .iter()
        .flat_map(|l| l.spans.iter())
        .filter(|s| s.style.fg == keyword.fg)
        .map(|s| s.content.to_string())
        .collect();
    assert!(coloured.iter().any(|s| s == "def"), "{coloured:?}");
}

#[test]
fn copies_name_the_rule_the_id_and_the_link() {
    let mut c = Console::new(160, 48);
    c.keys("j");
    let id = c.selected().unwrap();
    c.keys("#");
    assert!(c.effects.contains(&Effect::Copy(id.to_string())));
    c.keys("R");
    assert!(
        c.effects
            .iter()
            .any(|e| matches!(e, Effect::Copy(r) if r.starts_with("python.django.")))
    );
    // The fixture's finding has no link to its line of code: said, not copied.
    let copies = c.effects.len();
    c.keys("U");
    assert_eq!(c.effects.len(), copies);
    assert!(c.render().contains("no link"));
}

#[test]
fn text_with_a_control_or_invisible_character_is_not_copied() {
    let mut c = Console::new(160, 48);
    assert_eq!(c.selected(), Some(103), "its path holds a bidi override");
    c.keys("Y");
    assert!(
        !c.effects.iter().any(|e| matches!(e, Effect::Copy(_))),
        "{:?}",
        c.effects
    );
    let screen = c.render();
    assert!(screen.contains("Not copied"), "{screen}");
    assert!(screen.contains("U+202E"), "{screen}");
}

/// What the screen shows of a field when it has the focus.
fn focused_mark(field: sift::tui::model::Field) -> &'static str {
    use sift::tui::model::Field;
    match field {
        Field::Reason => "▸ Reason",
        Field::Note => "▸ Note",
        Field::Remember => "Remember this",
        Field::Text => "▸ Memory",
        Field::Projects => "▸ Projects",
        Field::Rules => "▸ Rules",
        Field::Paths => "▸ Paths",
        Field::Apply => "Ignore them too",
    }
}

#[test]
fn no_dialog_field_can_be_focused_while_hidden() {
    for height in 6..=34 {
        let mut c = Console::new(100, height);
        c.keys("j");
        c.keys("iwhy<cr>"); // ignore, with "remember this"
        // Rules: all, so the memory applies to another finding.
        c.keys("<tab><tab><left><left>");
        let Some(Overlay::Dialog(d)) = c.model.top() else {
            panic!("the dialog is open")
        };
        let reachable = d.layout(height).shown;
        let mut seen = Vec::new();
        for _ in 0..12 {
            c.keys("<tab>");
            let Some(Overlay::Dialog(d)) = c.model.top() else {
                panic!("the dialog is open")
            };
            let field = d.field;
            assert!(reachable.contains(&field), "{height} rows: {field:?}");
            let screen = c.render();
            assert!(
                screen.contains(focused_mark(field)),
                "{height} rows: {field:?} focused but not shown:\n{screen}"
            );
            if field == sift::tui::model::Field::Apply {
                assert!(screen.contains("Applies to"), "{screen}");
            }
            seen.push(field);
        }
        if height >= 16 {
            assert!(
                seen.contains(&sift::tui::model::Field::Apply),
                "{height} rows: every field is reachable: {seen:?}"
            );
        }
    }
}

#[test]
fn the_dialog_title_counts_every_finding_it_will_decide() {
    let mut c = Console::new(160, 48);
    c.keys("j");
    c.keys("iwhy<cr><tab><tab><left><left>");
    assert!(c.render().contains("Ignore 1 finding "));
    // "Ignore them too": the one in the memory's scope counts as well.
    c.keys("<tab><tab><space>");
    let screen = c.render();
    assert!(
        screen.contains("Ignore 2 findings (1 chosen, 1 in the memory's scope)"),
        "{screen}"
    );
    // Made small, the toggle is out of sight, and the title still says it.
    c.send(Action::Resize(60, 12));
    assert!(c.render().contains("Ignore 2 findings"));
}

#[test]
fn dialog_text_wraps_and_keeps_its_beginning_in_sight() {
    let note = "Only reachable from the admin VPN, behind the SSO proxy that strips every header a client sends, and logged";
    for (w, h) in [(160, 48), (80, 24), (60, 15)] {
        let mut c = Console::new(w, h);
        c.keys("i");
        c.keys(note);
        let screen = c.render();
        assert!(screen.contains("Only reachable"), "{w}x{h}: {screen}");
        assert!(screen.contains("logged"), "{w}x{h}: {screen}");
        insta::assert_snapshot!(format!("ignore_note_wrapped_{w}x{h}"), screen);
    }
}

/// The console on the demo backlog (about 180 findings, on several refs).
fn on_demo(width: u16, height: u16) -> Console {
    let mut store = Store::in_memory().unwrap();
    // Generated for the console's clock, so ages read the same every run.
    sift::demo::seed(&mut store, None, datetime!(2026-11-24 12:00 UTC)).unwrap();
    Console::on(store, width, height)
}

#[test]
fn a_large_bulk_decision_says_what_it_will_do_and_asks_once() {
    let mut c = on_demo(160, 48);
    c.keys("8"); // every view
    let listed = c.listed().len();
    assert!(listed >= 25, "{listed}");
    c.keys("*a");
    // Asked, not recorded.
    assert!(matches!(c.model.top(), Some(Overlay::Confirm(_))));
    assert!(pending(&c).is_empty());
    let screen = c.render();
    let Some(Overlay::Confirm(q)) = c.model.top() else {
        unreachable!()
    };
    let (deciding, skipped): (usize, usize) =
        (q.intents.len(), q.skipped.iter().map(|(_, n)| n).sum());
    assert_eq!(
        deciding + skipped,
        listed,
        "each marked finding is counted once"
    );
    assert!(skipped > 0, "some findings have no verdict to accept");
    assert!(
        screen.contains(&format!("Decide {deciding} findings?")),
        "{screen}"
    );
    assert!(screen.contains("Left out:"), "{screen}");
    // What accepting makes of them: false positives ignored, the rest to fix.
    assert!(screen.contains("ignored (false positive)"), "{screen}");
    assert!(screen.contains("set to fix"), "{screen}");
    // Any other key: nothing happens.
    c.keys("n");
    assert!(c.model.top().is_none());
    assert!(pending(&c).is_empty());
    assert!(c.render().contains("Nothing decided"));
    // Yes: recorded, once.
    c.keys("ay");
    assert_eq!(pending(&c).len(), deciding);
}

#[test]
fn copies_on_other_refs_are_counted_before_a_bulk_decision() {
    let mut c = on_demo(160, 48);
    let store = c.store();
    let ids: Vec<i64> = c.model.index.rows.iter().map(|r| r.id).collect();
    // Every finding that has a copy elsewhere: choosing one of each pair
    // counts the other.
    let with_copies: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !store.other_refs(*id).unwrap().is_empty())
        .collect();
    assert!(
        !with_copies.is_empty(),
        "the demo has findings on several refs"
    );
    let one = with_copies[0];
    let others = store.other_refs(one).unwrap().len();
    assert_eq!(store.copies_on_other_refs(&[one]).unwrap(), others);
    // Both copies chosen: nothing else changes.
    let all_copies = store.copies_on_other_refs(&ids).unwrap();
    assert_eq!(all_copies, 0);
    // The finding's pane names the other refs.
    c.keys("8g");
    // Every view spans projects and refs: the list says where each is.
    let screen = c.render();
    assert!(screen.contains("WHERE"), "{screen}");
    assert!(
        screen.contains("@main") || screen.contains("@pr"),
        "{screen}"
    );
    let at = c.listed().iter().position(|id| *id == one).unwrap();
    c.keys(&"j".repeat(at));
    assert_eq!(c.selected(), Some(one));
    let screen = c.render();
    assert!(screen.contains("Also on"), "{screen}");
}

#[test]
fn sorted_by_rule_a_group_reads_as_one_and_plus_marks_it() {
    let mut c = on_demo(160, 48);
    c.keys("8/sort:rule<enter>");
    let rule_of = |c: &Console, id: i64| {
        let row = &c.model.index.rows[c.model.index.position_of(id).unwrap()];
        c.model.index.rules.get(row.rule).to_string()
    };
    let listed = c.listed();
    // The first finding whose rule has more than one in the view.
    let at = (1..listed.len())
        .find(|&i| rule_of(&c, listed[i]) == rule_of(&c, listed[i - 1]))
        .unwrap();
    c.keys(&"j".repeat(at));
    let rule = rule_of(&c, listed[at]);
    let group: Vec<i64> = listed
        .iter()
        .copied()
        .filter(|id| rule_of(&c, *id) == rule)
        .collect();
    assert!(group.len() >= 2);
    assert!(c.render().contains("  \""), "a ditto for the repeated rule");
    c.keys("+");
    let marked: Vec<i64> = c.model.marked.iter().copied().collect();
    let mut want = group.clone();
    want.sort();
    assert_eq!(marked, want);
    assert!(
        c.render()
            .contains(&format!("Marked {} findings of", group.len()))
    );
}

#[test]
fn snapshot_the_list_with_refs_and_groups_at_three_sizes() {
    for (w, h) in [(160, 48), (80, 24), (60, 15)] {
        let mut c = on_demo(w, h);
        c.keys("8/sort:rule<enter>");
        let screen = c.render();
        assert!(
            screen.contains("WHERE") || screen.contains("REF") || w < 80,
            "{w}x{h}: {screen}"
        );
        assert!(
            screen.contains("  \""),
            "{w}x{h}: a group's ditto\n{screen}"
        );
        insta::assert_snapshot!(format!("list_refs_groups_{w}x{h}"), screen);
    }
}

/// The runtime keeps rows drawn on one frame for the next (`view::Memo`);
/// `Console::render` checks each frame against one drawn from scratch.
/// This walks the demo backlog through what changes rows: moves within
/// and past a page, marks, a visual range, decisions, sorts that group
/// rows, a filter, views and a narrower terminal.
#[test]
fn rows_kept_from_the_last_frame_draw_as_a_fresh_frame_would() {
    let mut c = on_demo(120, 30);
    c.keys("8");
    let steps = [
        "j",
        "j",
        "k",
        "<cd>",
        "j",
        "<cu>",
        "G",
        "g",
        " ",
        "j",
        " ",
        "V",
        "jj",
        "<esc>",
        "a",
        "j",
        "r",
        "s",
        "j",
        "s",
        "jj",
        "s",
        "/sql<enter>",
        "j",
        "<bs>",
        "1",
        "jj",
        "u",
    ];
    let mut screens = std::collections::HashSet::new();
    for keys in steps {
        c.keys(keys);
        screens.insert(c.render());
    }
    c.send(Action::Resize(90, 24));
    for keys in ["j", "jj", "<cd>", "k"] {
        c.keys(keys);
        screens.insert(c.render());
    }
    assert!(screens.len() > 20, "the keys changed the screen");
}
