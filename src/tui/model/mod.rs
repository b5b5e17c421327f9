//! The Model: plain data that the views read and `update` changes, and the
//! queries derived from it that both of them ask.

mod dialog;
mod overlay;

pub use dialog::*;
pub use overlay::*;

use super::detail_lines::{DetailLines, FixBefore};
use super::keymap::Keymap;
use super::layout;
use super::theme::Theme;
use crate::domain::{
    BacklogView, Before, Facets, Filter, Finding, FindingIndex, FixConfidence, Memory, Row,
    RuleClasses,
};
use crate::sync::SyncStatus;
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Sidebar,
    List,
    Detail,
}

/// A selectable line of the left pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidebarEntry {
    View(BacklogView),
    /// A project id in the index.
    Project(u32),
    /// A rule id in the index.
    Rule(u32),
    /// A section title; the cursor steps over it.
    Heading(&'static str),
}

/// Whether the findings listed span more than one project or ref: the
/// list then says which each is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spread {
    pub projects: bool,
    pub refs: bool,
}

impl Spread {
    pub fn of(index: &FindingIndex, visible: &[u32]) -> Spread {
        let mut rows = visible.iter().map(|&i| &index.rows[i as usize]);
        let Some(first) = rows.next() else {
            return Spread::default();
        };
        let mut spread = Spread::default();
        for row in rows {
            spread.projects |= row.project != first.project;
            spread.refs |= row.git_ref != first.git_ref;
            if spread.projects && spread.refs {
                break;
            }
        }
        spread
    }
}

/// A selection in a scrolling list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub selected: usize,
    /// The first row on screen.
    pub offset: usize,
}

/// One decision, as `u` takes it back.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoEntry {
    /// What undo calls it (`Summary::undo_label`): in its notice, and in
    /// the note of a decision that restores what was already sent.
    pub label: String,
    pub outbox_ids: Vec<i64>,
    pub before: Vec<Before>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detail {
    pub finding: Option<Box<Finding>>,
    /// The finding asked for; a late answer for another one is dropped.
    pub requested: Option<i64>,
    pub error: Option<String>,
    pub scroll: usize,
    /// Moves whenever what the pane shows changes (another finding, an
    /// error, the memories that may cover it), so its lines are computed
    /// again.
    pub version: u64,
    /// The pane's lines, kept current by `update`.
    pub lines: DetailLines,
    /// The other refs a finding is on (its id first).
    pub other_refs: (i64, Vec<String>),
    /// The colours of a finding's code, when they arrived for it.
    pub highlight: Option<(i64, std::sync::Arc<super::highlight::Highlight>)>,
}

impl Detail {
    /// What the pane shows changed: its lines are out of date.
    pub fn touch(&mut self) {
        self.version += 1;
    }
}

/// Where the sync stands.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SyncState {
    /// Nothing heard from it yet.
    #[default]
    Unknown,
    /// `--offline`: decisions wait for `sift sync`.
    OfflineByChoice,
    /// What it last reported.
    Reported(SyncStatus),
}

#[derive(Debug)]
pub struct Model {
    pub index: FindingIndex,
    pub filter: Filter,
    /// Positions in `index.rows` of the findings listed, in order.
    pub visible: Vec<u32>,
    pub spread: Spread,
    pub facets: Facets,
    pub sidebar_entries: Vec<SidebarEntry>,
    pub list: Cursor,
    pub sidebar: Cursor,
    pub focus: Pane,
    /// The selected finding alone, full width (`z`, Enter in the list).
    pub zoom: bool,
    /// What is open over the panes, bottom first: the top one takes the
    /// keys, and closing it shows what was under it.
    pub overlays: Vec<Overlay>,
    pub detail: Detail,
    pub width: u16,
    pub height: u16,
    /// What the status bar names as the backend, e.g. "embedded ~/.local/share/sift".
    pub backend: String,
    /// The clock, in unix seconds: ages and times on screen are worded
    /// with it. The runtime sets it before it hands events to `update`.
    pub now: i64,
    /// A one-line notice in the status bar until the next key.
    pub notice: Option<String>,
    pub keymap: Keymap,
    pub theme: Theme,
    /// Findings marked for a bulk decision (ids).
    pub marked: BTreeSet<i64>,
    /// Where a visual range started (a position in `visible`).
    pub visual: Option<usize>,
    /// Decisions this session, latest last.
    pub undo: Vec<UndoEntry>,
    /// Where the sync stands, for the status bar (which words it with the
    /// clock, `now`).
    pub sync: SyncState,
    /// The reviewer, the author of the memories they write.
    pub actor: String,
    pub memories: Vec<Memory>,
    /// Memories with changes not yet acknowledged by the backend.
    pub pending_memories: HashSet<String>,
    pub rule_classes: RuleClasses,
    /// Said after accepting or rejecting a verdict when the backend cannot
    /// take Assistant feedback (the Semgrep API with a token).
    pub verdict_feedback: Option<String>,
    /// sift's own Assistant: the provider, when one is configured.
    pub assistant: Option<String>,
    /// The Assistant's job in the background, while it runs.
    pub assistant_job: Option<AssistantJob>,
    /// Fixes rated lower are not shown (`[assistant] min_fix_confidence`).
    pub min_fix_confidence: FixConfidence,
    /// The fix `c` replaced, shown beside the new one.
    pub fix_before: Option<FixBefore>,
    /// Open suggestions to close, per memory id.
    pub suggestion_counts: std::collections::HashMap<String, usize>,
    /// The suggestions the list shows (under `filter.scope`), with the
    /// Assistant's reasons.
    pub suggestions: Option<(String, Vec<crate::store::Suggestion>)>,
    /// The reviewer's decisions a colleague's crossed, to keep or drop.
    pub conflicts: Vec<crate::store::Pending>,
    /// How the reviewer started sift, as a shell takes it again ("sift
    /// --data-dir /tmp/x"): the empty backlog's commands start with it.
    pub command: String,
    /// The store is thrown away on quit (`sift demo`): said on screen.
    pub throwaway: bool,
    pub quit: bool,
}

/// How far the console's Assistant job has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AssistantJob {
    pub total: usize,
    pub verdicts: usize,
    pub no_verdicts: usize,
    pub failed: usize,
    /// Fixes written (or found not possible) so far, and those that got
    /// no answer.
    pub fixes: usize,
    pub fix_failed: usize,
    /// A re-analysis under a memory: how many findings it suggested closing.
    pub reanalysed: Option<usize>,
}

impl Model {
    pub fn new(index: FindingIndex, backend: String, keymap: Keymap, now: i64) -> Model {
        Model {
            index,
            filter: Filter::default(),
            visible: Vec::new(),
            spread: Spread::default(),
            facets: Facets::default(),
            sidebar_entries: Vec::new(),
            list: Cursor::default(),
            sidebar: Cursor::default(),
            focus: Pane::List,
            zoom: false,
            overlays: Vec::new(),
            detail: Detail::default(),
            width: 80,
            height: 24,
            backend,
            now,
            notice: None,
            keymap,
            theme: Theme::color(),
            marked: BTreeSet::new(),
            visual: None,
            undo: Vec::new(),
            sync: SyncState::default(),
            actor: String::new(),
            memories: Vec::new(),
            pending_memories: HashSet::new(),
            rule_classes: RuleClasses::new(),
            verdict_feedback: None,
            assistant: None,
            assistant_job: None,
            min_fix_confidence: FixConfidence::Low,
            fix_before: None,
            suggestion_counts: Default::default(),
            suggestions: None,
            conflicts: Vec::new(),
            command: "sift".into(),
            throwaway: false,
            quit: false,
        }
    }

    /// The finding under the list cursor.
    pub fn selected_row(&self) -> Option<&Row> {
        self.visible
            .get(self.list.selected)
            .map(|&i| &self.index.rows[i as usize])
    }

    pub fn selected_id(&self) -> Option<i64> {
        self.selected_row().map(|r| r.id)
    }

    /// The findings a decision applies to: the visual range, else the
    /// marked findings, else the one under the cursor.
    pub fn targets(&self) -> Vec<i64> {
        if let Some(anchor) = self.visual {
            let (a, b) = if anchor <= self.list.selected {
                (anchor, self.list.selected)
            } else {
                (self.list.selected, anchor)
            };
            return self
                .visible
                .get(a..=b.min(self.visible.len().saturating_sub(1)))
                .unwrap_or_default()
                .iter()
                .map(|&i| self.index.rows[i as usize].id)
                .collect();
        }
        if !self.marked.is_empty() {
            return self.marked.iter().copied().collect();
        }
        self.selected_id().into_iter().collect()
    }

    /// The panes for the model's size and focus.
    pub fn panes(&self) -> layout::Panes {
        layout::panes(self.width, self.height, self.focus, self.zoom)
    }

    /// Rows of memories on screen in the memory pane: the terminal less
    /// the status bar, the pane's border and its header.
    pub fn memory_rows(&self) -> usize {
        (self.height as usize).saturating_sub(4).max(1)
    }
}
