//! Keys to actions, from TOML: the built-in keymap, then the user's
//! overrides. The help overlay is generated from the same data.

use super::action::Action;
use super::model::Pane;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::collections::HashMap;

const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Global,
    Sidebar,
    List,
    Detail,
    Memories,
    /// Typing a filter, for the findings or in the memory pane.
    Filter,
    /// A dialog: a decision's, or a memory's.
    Dialog,
    /// Choosing projects or rules for a memory's scope from a list.
    Picker,
    /// The findings a memory would apply to, listed in its dialog.
    InScope,
    /// A question (delete this memory?).
    Confirm,
}

impl Context {
    pub const ALL: [Context; 10] = [
        Context::Global,
        Context::Sidebar,
        Context::List,
        Context::Detail,
        Context::Memories,
        Context::Filter,
        Context::Dialog,
        Context::Picker,
        Context::InScope,
        Context::Confirm,
    ];

    fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Sidebar => "sidebar",
            Context::List => "list",
            Context::Detail => "detail",
            Context::Memories => "memories",
            Context::Filter => "filter",
            Context::Dialog => "dialog",
            Context::Picker => "picker",
            Context::InScope => "in_scope",
            Context::Confirm => "confirm",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Sidebar => "Views, projects and rules",
            Context::List => "Findings list",
            Context::Detail => "Finding details",
            Context::Memories => "Memory pane",
            Context::Filter => "Filter line (/)",
            Context::Dialog => "Dialogs (ignore, reject, note, memory)",
            Context::Picker => "Choosing projects or rules for a memory",
            Context::InScope => "The findings a memory would apply to",
            Context::Confirm => "Questions (delete a memory?)",
        }
    }

    /// Whether a key not bound here means what it means everywhere (the
    /// panes); elsewhere (a line or a dialog being typed in, a question)
    /// the global keys do not apply.
    fn falls_back(self) -> bool {
        matches!(
            self,
            Context::Sidebar | Context::List | Context::Detail | Context::Memories
        )
    }

    /// Where a key is looked up while `pane` has the focus.
    pub fn of(pane: Pane) -> Context {
        match pane {
            Pane::Sidebar => Context::Sidebar,
            Pane::List => Context::List,
            Pane::Detail => Context::Detail,
        }
    }
}

/// A key as written in the keymap: `j`, `G`, `ctrl-d`, `pagedown`, `enter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    ctrl: bool,
    alt: bool,
}

impl Key {
    pub fn parse(spec: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = spec;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" | "shift-tab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
                    _ => return Err(format!("unknown key '{spec}'")),
                }
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    pub fn from_event(e: &KeyEvent) -> Key {
        let ctrl = e.modifiers.contains(KeyModifiers::CONTROL);
        let code = match e.code {
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            c => c,
        };
        Key {
            code,
            ctrl,
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// How the help overlay writes the key.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Backspace => "Bksp".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Char(c) => c.to_string(),
            _ => "?".into(),
        };
        match (self.ctrl, self.alt) {
            (true, _) => format!("C-{base}"),
            (_, true) => format!("M-{base}"),
            _ => base,
        }
    }
}

/// What an action does where it is bound, for the help overlay: the same
/// action says more in some places.
fn describe(context: Context, action: &Action) -> String {
    match (context, action) {
        (Context::Picker, Action::Choose) => "choose or unchoose".into(),
        (Context::Picker, Action::Back) => "back: the choice stays as it was".into(),
        (Context::InScope, Action::Back) => "back to the dialog".into(),
        (Context::InScope, Action::Down) => "scroll down".into(),
        (Context::InScope, Action::Up) => "scroll up".into(),
        (Context::InScope, Action::PageDown) => "scroll a page down".into(),
        (Context::InScope, Action::PageUp) => "scroll a page up".into(),
        _ => action.describe(),
    }
}

/// Which keys are text, typed into what has the keys, rather than looked
/// up in the keymap: only the others can be bound there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// Nothing is typed: every key is looked up.
    Nothing,
    /// A line or a text box: characters, and the keys that move in or
    /// delete text.
    Text,
    /// A list narrowed by typing: characters (Space aside) and Backspace.
    Narrowing,
}

impl Typing {
    pub fn takes(self, event: &KeyEvent) -> bool {
        if event.modifiers.contains(KeyModifiers::CONTROL) {
            return false;
        }
        match self {
            Typing::Nothing => false,
            Typing::Text => matches!(
                event.code,
                KeyCode::Char(_)
                    | KeyCode::Backspace
                    | KeyCode::Delete
                    | KeyCode::Left
                    | KeyCode::Right
                    | KeyCode::Up
                    | KeyCode::Down
                    | KeyCode::Home
                    | KeyCode::End
                    | KeyCode::PageUp
                    | KeyCode::PageDown
            ),
            Typing::Narrowing => {
                matches!(
                    event.code,
                    KeyCode::Char(c) if c != ' '
                ) || event.code == KeyCode::Backspace
            }
        }
    }
}

/// A binding value: an action, or "none" to remove a default binding.
#[derive(Deserialize)]
#[serde(untagged)]
enum Binding {
    Action(Action),
    Unbind(String),
}

pub type KeymapToml = HashMap<String, toml::Table>;

#[derive(Debug, Clone)]
pub struct Keymap {
    /// Per context, in the order the keymap lists them.
    bindings: Vec<(Context, Key, Action)>,
}

impl Keymap {
    /// The built-in keymap.
    pub fn default_keymap() -> Keymap {
        let table: KeymapToml =
            toml::from_str(DEFAULT_KEYMAP).expect("the built-in keymap is valid TOML");
        let mut keymap = Keymap {
            bindings: Vec::new(),
        };
        keymap
            .apply(&table)
            .expect("the built-in keymap names only known keys and actions");
        keymap
    }

    /// The built-in keymap with a user's overrides (`[keys.<pane>]` tables).
    pub fn with_overrides(overrides: &KeymapToml) -> Result<Keymap, String> {
        let mut keymap = Keymap::default_keymap();
        keymap.apply(overrides)?;
        Ok(keymap)
    }

    fn apply(&mut self, table: &KeymapToml) -> Result<(), String> {
        for (context_name, entries) in table {
            let context = Context::ALL
                .into_iter()
                .find(|c| c.name() == context_name)
                .ok_or_else(|| {
                    let names: Vec<&str> = Context::ALL.iter().map(|c| c.name()).collect();
                    format!(
                        "unknown keymap section '{context_name}' ({})",
                        names.join(", ")
                    )
                })?;
            for (key_spec, value) in entries {
                let key = Key::parse(key_spec)?;
                let binding: Binding = value.clone().try_into().map_err(|e: toml::de::Error| {
                    format!("[keys.{context_name}] \"{key_spec}\": {}", e.message())
                })?;
                self.bindings
                    .retain(|(c, k, _)| !(*c == context && *k == key));
                match binding {
                    Binding::Action(action) => self.bindings.push((context, key, action)),
                    Binding::Unbind(s) if s == "none" => {}
                    Binding::Unbind(s) => {
                        return Err(format!(
                            "[keys.{context_name}] \"{key_spec}\": unknown action '{s}'"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The action for a key in the focused pane, falling back to global keys.
    pub fn lookup(&self, pane: Pane, event: &KeyEvent) -> Option<&Action> {
        self.lookup_in(Context::of(pane), event)
    }

    /// The action bound to a key in `context` (or, in the panes, globally).
    pub fn lookup_in(&self, context: Context, event: &KeyEvent) -> Option<&Action> {
        let key = Key::from_event(event);
        let find = |context| {
            self.bindings
                .iter()
                .find(|(c, k, _)| *c == context && *k == key)
                .map(|(_, _, a)| a)
        };
        find(context).or_else(|| {
            context
                .falls_back()
                .then(|| find(Context::Global))
                .flatten()
        })
    }

    /// What a key press means in `context`: text typed into what has the
    /// keys (as `typing` says), else the action it is bound to. Where
    /// something is typed into or asked, an unbound key is handed over as
    /// it is (a field may have a use for it; a question takes it as "no");
    /// in the panes it means nothing.
    pub fn resolve(&self, context: Context, typing: Typing, event: &KeyEvent) -> Option<Action> {
        if typing.takes(event) {
            return Some(Action::TextInput(*event));
        }
        match self.lookup_in(context, event) {
            Some(action) => Some(action.clone()),
            None if !context.falls_back() => Some(Action::TextInput(*event)),
            None => None,
        }
    }

    /// The first key bound to `action` in `context` (or, in the panes,
    /// globally), as hints write it.
    pub fn key_in(&self, context: Context, action: &Action) -> Option<String> {
        let find = |context| {
            self.bindings
                .iter()
                .find(|(c, _, a)| *c == context && a == action)
                .map(|(_, k, _)| k.label())
        };
        find(context).or_else(|| {
            context
                .falls_back()
                .then(|| find(Context::Global))
                .flatten()
        })
    }

    /// Help rows per context, the focused pane's first: (keys, description),
    /// one row per action; all view switches share one row.
    pub fn help(&self, focused: Pane) -> Vec<(Context, Vec<(String, String)>)> {
        let first = Context::of(focused);
        let order = std::iter::once(first).chain(Context::ALL.into_iter().filter(|c| *c != first));
        order
            .map(|context| {
                let mut rows: Vec<(Action, Vec<String>)> = Vec::new();
                for (_, key, action) in self.bindings.iter().filter(|(c, _, _)| *c == context) {
                    let same = |a: &Action| {
                        a == action
                            || matches!((a, action), (Action::ShowView(_), Action::ShowView(_)))
                    };
                    match rows.iter_mut().find(|(a, _)| same(a)) {
                        Some((_, keys)) => keys.push(key.label()),
                        None => rows.push((action.clone(), vec![key.label()])),
                    }
                }
                let rows = rows
                    .into_iter()
                    .map(|(a, keys)| {
                        let what = match a {
                            Action::ShowView(_) if keys.len() > 1 => {
                                "switch view (in left-pane order)".to_string()
                            }
                            a => describe(context, &a),
                        };
                        (keys.join(" "), what)
                    })
                    .collect();
                (context, rows)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn default_keymap_binds_vim_keys_and_arrows() {
        let km = Keymap::default_keymap();
        let none = KeyModifiers::NONE;
        assert_eq!(
            km.lookup(Pane::List, &key(KeyCode::Char('j'), none)),
            Some(&Action::Down)
        );
        assert_eq!(
            km.lookup(Pane::List, &key(KeyCode::Down, none)),
            Some(&Action::Down)
        );
        assert_eq!(
            km.lookup(Pane::List, &key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(&Action::Bottom)
        );
        assert_eq!(
            km.lookup(Pane::Detail, &key(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(&Action::Help),
            "global keys work in every pane"
        );
        assert_eq!(
            km.lookup(Pane::List, &key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(&Action::Quit)
        );
    }

    #[test]
    fn overrides_rebind_and_unbind() {
        let overrides: KeymapToml =
            toml::from_str("[list]\nx = \"bottom\"\nj = \"none\"\n").unwrap();
        let km = Keymap::with_overrides(&overrides).unwrap();
        let none = KeyModifiers::NONE;
        assert_eq!(
            km.lookup(Pane::List, &key(KeyCode::Char('x'), none)),
            Some(&Action::Bottom)
        );
        assert_eq!(km.lookup(Pane::List, &key(KeyCode::Char('j'), none)), None);
        let help = km.help(Pane::List);
        let list = &help.iter().find(|(c, _)| *c == Context::List).unwrap().1;
        assert!(
            list.iter()
                .any(|(keys, what)| keys.split(' ').any(|k| k == "x") && what == "go to the bottom")
        );
    }

    #[test]
    fn bad_overrides_are_explained() {
        let bad: KeymapToml = toml::from_str("[list]\nj = \"explode\"\n").unwrap();
        let err = Keymap::with_overrides(&bad).unwrap_err();
        assert!(err.contains("explode"), "{err}");
        let bad: KeymapToml = toml::from_str("[lists]\nj = \"down\"\n").unwrap();
        assert!(Keymap::with_overrides(&bad).unwrap_err().contains("lists"));
    }

    #[test]
    fn typed_text_goes_to_the_field_and_the_other_keys_to_the_keymap() {
        let km = Keymap::default_keymap();
        let none = KeyModifiers::NONE;
        let left = key(KeyCode::Left, none);
        let text = |k: KeyEvent| Some(Action::TextInput(k));
        // In a text box, ← moves the cursor; on a choice, it changes it.
        assert_eq!(km.resolve(Context::Dialog, Typing::Text, &left), text(left));
        assert_eq!(
            km.resolve(Context::Dialog, Typing::Nothing, &left),
            Some(Action::PrevChoice)
        );
        let tab = key(KeyCode::Tab, none);
        assert_eq!(
            km.resolve(Context::Dialog, Typing::Text, &tab),
            Some(Action::NextField)
        );
        // Global keys do not apply where text is typed: q is typed.
        let q = key(KeyCode::Char('q'), none);
        assert_eq!(km.resolve(Context::Filter, Typing::Text, &q), text(q));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            km.resolve(Context::Filter, Typing::Text, &ctrl_c),
            text(ctrl_c)
        );
        assert_eq!(
            km.resolve(Context::Filter, Typing::Text, &key(KeyCode::Enter, none)),
            Some(Action::KeepFilter)
        );
        // A list narrowed by typing: Space chooses, letters narrow.
        let space = key(KeyCode::Char(' '), none);
        assert_eq!(
            km.resolve(Context::Picker, Typing::Narrowing, &space),
            Some(Action::Choose)
        );
        let j = key(KeyCode::Char('j'), none);
        assert_eq!(km.resolve(Context::Picker, Typing::Narrowing, &j), text(j));
        assert_eq!(
            km.resolve(Context::InScope, Typing::Nothing, &j),
            Some(Action::Down)
        );
        // A question: y says yes, any other key is handed over (no).
        assert_eq!(
            km.resolve(
                Context::Confirm,
                Typing::Nothing,
                &key(KeyCode::Char('y'), none)
            ),
            Some(Action::Confirm)
        );
        assert_eq!(km.resolve(Context::Confirm, Typing::Nothing, &q), text(q));
        // In the panes an unbound key means nothing.
        let unbound = key(KeyCode::Char('Q'), none);
        assert_eq!(km.resolve(Context::List, Typing::Nothing, &unbound), None);
    }

    #[test]
    fn every_context_has_its_section_in_the_help() {
        let km = Keymap::default_keymap();
        let help = km.help(Pane::List);
        for context in Context::ALL {
            let rows = &help.iter().find(|(c, _)| *c == context).unwrap().1;
            assert!(!rows.is_empty(), "{context:?}");
        }
        let dialog = &help.iter().find(|(c, _)| *c == Context::Dialog).unwrap().1;
        assert!(dialog.contains(&("C-j M-Enter".into(), Action::NewLine.describe())));
        let overrides: KeymapToml = toml::from_str("[dialog]\n\"ctrl-s\" = \"save\"\n").unwrap();
        let km = Keymap::with_overrides(&overrides).unwrap();
        assert_eq!(
            km.key_in(Context::Dialog, &Action::Save).as_deref(),
            Some("Enter")
        );
        assert_eq!(
            km.resolve(
                Context::Dialog,
                Typing::Text,
                &key(KeyCode::Char('s'), KeyModifiers::CONTROL)
            ),
            Some(Action::Save)
        );
    }
}
