//! Every user intent (named for the keymap) and every effect `update` asks
//! the runtime to carry out.

use super::model::UndoEntry;
use super::summary::Summary;
use crate::domain::{BacklogView, Finding, FindingIndex, Intent, MemoryChange};
use crate::domain::{Decided, RowUpdate};
use crate::sync::SyncEvent;
use crossterm::event::KeyEvent;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Down,
    Up,
    PageDown,
    PageUp,
    HalfPageDown,
    HalfPageUp,
    Top,
    Bottom,
    /// Next pane (Tab).
    FocusNext,
    FocusPrev,
    /// Pane to the left / right (h / l).
    FocusLeft,
    FocusRight,
    /// Open the selection: a finding's details, or a view, project or rule.
    Open,
    /// Close a dialog, leave the detail pane, or clear a transient message.
    Back,
    /// Edit the filter line.
    Filter,
    ClearFilter,
    NextView,
    PrevView,
    Suspend,
    /// Switch to a view directly (keys 1-8).
    ShowView(ViewName),
    /// Agree with Assistant's verdict.
    Accept,
    /// Disagree with Assistant's verdict.
    Reject,
    /// Ignore, with a reason and a note.
    Ignore,
    ToFix,
    Review,
    Reopen,
    /// Add a note without changing the status.
    AddNote,
    /// Mark or unmark the finding under the cursor, and move on.
    ToggleMark,
    /// Start or end a visual range.
    VisualRange,
    /// Mark every finding in the view (or unmark all when all are marked).
    MarkAll,
    /// Mark the findings in the view of the cursor's rule (its file when
    /// sorted by file): a group to work through at once.
    MarkGroup,
    /// Take back the last decision.
    Undo,
    /// Open or close the memory pane.
    Memories,
    /// The memory pane, with the memories that cover the selected finding.
    MemoriesOfFinding,
    /// In the memory pane: most findings in scope first, or newest first.
    SortByImpact,
    /// In the list: the next order (severity, risk, age, rule, file).
    CycleSort,
    /// In the memory pane: judge its scope again with the memory (the AI).
    Reanalyse,
    /// In the memory pane: list the findings suggested to close under it.
    ShowSuggestions,
    /// In the memory pane: close every finding suggested under it (asks).
    AcceptSuggestions,

    /// Copy the finding's suggested fix to the clipboard (OSC 52).
    CopyFix,
    /// Open the finding's file at its line in $VISUAL / $EDITOR.
    OpenFile,
    /// Copy the finding's `path:line` to the clipboard (OSC 52).
    CopyLocation,
    /// Write the findings the list shows, with their history, to a SARIF
    /// file in the current directory.
    Export,
    /// Copy the finding's rule id to the clipboard.
    CopyRule,
    /// Copy the finding's id to the clipboard.
    CopyId,
    /// Copy the link to the finding's line of code to the clipboard.
    CopyUrl,
    /// Open the link to the finding's line of code in a browser.
    OpenUrl,
    /// The selected finding alone, full width, or the panes again.
    Zoom,
    /// The next finding in the list, from the finding's pane too.
    NextFinding,
    /// The previous finding in the list.
    PrevFinding,
    /// A colleague decided the finding first: send yours again over theirs.
    KeepMine,
    /// A colleague decided the finding first: drop yours, take theirs.
    TakeTheirs,
    /// Something to say in the status bar.
    #[serde(skip)]
    Said(String),
    /// Accept a false-positive verdict and remember why (a memory).
    AcceptAndRemember,
    /// Guidance for fixes of this rule in this project (a memory).
    CustomizeFix,
    /// In the memory pane: write a new memory.
    NewMemory,
    /// In the memory pane: edit the selected memory's text and scope.
    EditMemory,
    /// In the memory pane: delete the selected memory (asks first).
    DeleteMemory,
    /// In the memory pane: make a suggested memory live.
    ActivateMemory,
    /// Filter line: keep the filter typed.
    KeepFilter,
    /// Filter line: put the filter back as it was.
    CancelFilter,
    /// Filter line: clear it.
    ClearLine,
    /// Filter line: delete the word before the cursor.
    DeleteWord,
    /// Dialog: the next field.
    NextField,
    /// Dialog: the previous field.
    PrevField,
    /// Dialog: save it (record the decision, the memory).
    Save,
    /// Dialog: close it, saving nothing.
    Cancel,
    /// Dialog: a new line in the note or the memory's text.
    NewLine,
    /// Dialog: edit the note or the memory's text in $VISUAL / $EDITOR.
    OpenEditor,
    /// Dialog: "remember this", a memory with the decision, on or off.
    Remember,
    /// Dialog: list the findings in the memory's scope.
    ListInScope,
    /// Dialog: the previous choice in a field (the reason, projects,
    /// rules), or a toggle.
    PrevChoice,
    /// Dialog: the next choice in a field, or a toggle.
    NextChoice,
    /// Dialog: the next reason, a toggle, or the list to choose projects
    /// or rules from; in that list, choose or unchoose.
    Choose,
    /// In the list of projects or rules: keep what is chosen.
    KeepChoice,
    /// Answer yes to a question (any other key says no).
    Confirm,
    /// Ask sift's own Assistant for a verdict on the finding under the
    /// cursor, the marked ones or the range (again, if they have one).
    AskAssistant,
    /// Not bindable: everything below comes from the runtime.
    #[serde(skip)]
    Resize(u16, u16),
    #[serde(skip)]
    TextInput(KeyEvent),
    #[serde(skip)]
    DetailLoaded(Box<Finding>),
    /// The other refs a finding is on, loaded with it.
    #[serde(skip)]
    OtherRefs(i64, Vec<String>),
    /// A bulk decision, counted, to be asked before it is recorded.
    #[serde(skip)]
    BulkCounted(Box<BulkQuestion>),
    /// The colours of a finding's code, computed after it loaded.
    #[serde(skip)]
    CodeHighlighted(i64, std::sync::Arc<super::highlight::Highlight>),
    #[serde(skip)]
    DetailFailed(i64, String),
    /// Recorded, and what that did.
    #[serde(skip)]
    Recorded(Box<Decided>, Summary),
    #[serde(skip)]
    RecordFailed(String),
    #[serde(skip)]
    RowsUpdated(Vec<RowUpdate>, Option<String>),
    #[serde(skip)]
    IndexReloaded(Box<FindingIndex>),
    /// What the background sync reports.
    #[serde(skip)]
    Synced(SyncEvent),
    /// The clock moved on (the runtime set `Model::now`).
    #[serde(skip)]
    Tick,
    #[serde(skip)]
    MemoriesLoaded(
        Vec<crate::domain::Memory>,
        std::collections::HashSet<String>,
        crate::domain::RuleClasses,
    ),
    /// The note written in $EDITOR, or why it could not be.
    #[serde(skip)]
    EditorDone(Result<String, String>),
    /// What the Assistant's job in the background did.
    #[serde(skip)]
    AssistantNews(AssistantNews),
    /// How many open suggestions each memory has.
    #[serde(skip)]
    SuggestionCounts(std::collections::HashMap<String, usize>),
    /// A memory's suggestions, for the list (answers LoadSuggestions).
    #[serde(skip)]
    SuggestionsLoaded(String, Vec<crate::store::Suggestion>),
    /// The decisions in conflict with a colleague's (answers LoadConflicts).
    #[serde(skip)]
    ConflictsLoaded(Vec<crate::store::Pending>),
}

/// What the console's Assistant job reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum AssistantNews {
    /// Answers arrived (and are stored) for these findings: so many
    /// verdicts, so many without one.
    Answered { findings: Vec<i64>, verdict: bool },
    /// No answer for these findings this time.
    Failed { findings: Vec<i64>, why: String },
    /// Fixes arrived (and are stored) for these findings, or (`ok` false)
    /// none came this time.
    Fixed { findings: Vec<i64>, ok: bool },
    /// A re-analysis under a memory suggested closing so many findings.
    Reanalysed { suggested: usize },
    /// A memory drafted from an ignore note (its text, now a suggested
    /// memory in the outbox), none (the note holds nothing to remember),
    /// or why no draft came.
    Drafted(Result<Option<String>, String>),
    /// The job ended; `stopped` when the provider could not be used.
    Done { stopped: Option<String> },
}

/// A decision on many findings, as the reviewer is asked about it before
/// it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkQuestion {
    pub intents: Vec<(i64, Intent)>,
    pub summary: Summary,
    /// What becomes of the findings decided, per outcome ("ignored (false
    /// positive)", "set to fix"), most first.
    pub outcomes: Vec<(String, usize)>,
    /// Findings left out, per reason.
    pub skipped: Vec<(String, usize)>,
    /// The same findings on other refs, which the decision changes too.
    pub copies: usize,
}

/// What the console asks the Assistant for in the background.
#[derive(Debug, Clone, PartialEq)]
pub enum AssistantWork {
    /// Verdicts on these findings, then fixes for the true positives.
    Verdicts(Vec<i64>),
    /// A new fix for this finding, with the guidance saved now.
    Fix(i64),
    /// The undecided findings in this memory's scope, judged again with it.
    Reanalyse(String),
    /// A suggested memory drafted from the note the reviewer just wrote
    /// ignoring this finding.
    DraftMemory {
        finding: i64,
        reason: crate::domain::TriageReason,
        note: String,
    },
}

/// A view's name as written in the keymap (`{ show_view = "production" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ViewName(pub BacklogView);

impl TryFrom<String> for ViewName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        BacklogView::parse(&s)
            .map(ViewName)
            .ok_or_else(|| format!("unknown view '{s}'"))
    }
}

impl Action {
    /// What the help overlay says the action does.
    pub fn describe(&self) -> String {
        match self {
            Action::Quit => "quit".into(),
            Action::Help => "show or hide this help".into(),
            Action::Down => "move down".into(),
            Action::Up => "move up".into(),
            Action::PageDown => "page down".into(),
            Action::PageUp => "page up".into(),
            Action::HalfPageDown => "half a page down".into(),
            Action::HalfPageUp => "half a page up".into(),
            Action::Top => "go to the top".into(),
            Action::Bottom => "go to the bottom".into(),
            Action::FocusNext => "next pane".into(),
            Action::FocusPrev => "previous pane".into(),
            Action::FocusLeft => "pane to the left".into(),
            Action::FocusRight => "pane to the right".into(),
            Action::Open => "open the selection".into(),
            Action::Back => "back / close".into(),
            Action::Filter => "filter (text, or key:value such as sev:high)".into(),
            Action::ClearFilter => "clear the filter".into(),
            Action::NextView => "next backlog view".into(),
            Action::PrevView => "previous backlog view".into(),
            Action::Suspend => "suspend to the shell".into(),
            Action::ShowView(v) => format!("view: {}", v.0.label()),
            Action::Accept => "accept Assistant's verdict".into(),
            Action::Reject => "reject Assistant's verdict".into(),
            Action::Ignore => "ignore, with a reason and a note".into(),
            Action::ToFix => "set to fix".into(),
            Action::Review => "set to reviewing".into(),
            Action::Reopen => "reopen".into(),
            Action::AddNote => "add a note".into(),
            Action::ToggleMark => "mark / unmark and move down".into(),
            Action::VisualRange => "start / end a visual range".into(),
            Action::MarkAll => "mark all in the view / unmark all".into(),
            Action::MarkGroup => {
                "mark the view's findings of this rule (of this file when sorted by file)".into()
            }
            Action::Undo => "undo the last decision".into(),
            Action::Memories => "memories: open / close the memory pane".into(),
            Action::MemoriesOfFinding => "the memories that cover this finding".into(),
            Action::SortByImpact => "sort by findings in scope / by date".into(),
            Action::CycleSort => "sort by severity, risk, age, rule or file".into(),
            Action::CopyFix => "copy the suggested fix to the clipboard (works over SSH)".into(),
            Action::OpenFile => "open the file at the finding's line in $EDITOR".into(),
            Action::CopyLocation => "copy the finding's path:line to the clipboard".into(),
            Action::Export => {
                "export what the list shows, with decisions, to a SARIF file here".into()
            }
            Action::CopyRule => "copy the finding's rule id to the clipboard".into(),
            Action::CopyId => "copy the finding's id to the clipboard".into(),
            Action::CopyUrl => "copy the link to the finding's line of code".into(),
            Action::OpenUrl => "open the link to the finding's line of code ($BROWSER)".into(),
            Action::Zoom => "zoom: the finding alone, full width / the panes again".into(),
            Action::NextFinding => "next finding (the finding's pane stays)".into(),
            Action::PrevFinding => "previous finding".into(),
            Action::KeepMine => "a colleague decided first: keep your decision".into(),
            Action::TakeTheirs => "a colleague decided first: take theirs, drop yours".into(),
            Action::Reanalyse => {
                "re-analyse its scope with the AI: suggests findings to close".into()
            }
            Action::ShowSuggestions => "list the findings suggested to close under it".into(),
            Action::AcceptSuggestions => {
                "close every finding suggested under it (asks first)".into()
            }
            Action::AcceptAndRemember => "accept a false-positive verdict, remember why".into(),
            Action::CustomizeFix => "customize fix: guidance for this rule in this project".into(),
            Action::NewMemory => "new memory".into(),
            Action::EditMemory => "edit the memory's text and scope".into(),
            Action::DeleteMemory => "delete the memory (asks first)".into(),
            Action::ActivateMemory => "make a suggested memory live".into(),
            Action::KeepFilter => "keep the filter".into(),
            Action::CancelFilter => "cancel: the filter as it was".into(),
            Action::ClearLine => "clear the line".into(),
            Action::DeleteWord => "delete the word before the cursor".into(),
            Action::NextField => "next field".into(),
            Action::PrevField => "previous field".into(),
            Action::Save => "save".into(),
            Action::Cancel => "cancel: nothing is saved".into(),
            Action::NewLine => "new line (the note, the memory's text)".into(),
            Action::OpenEditor => "edit the note or the memory in $VISUAL / $EDITOR".into(),
            Action::Remember => "remember this: a memory for Assistant (on / off)".into(),
            Action::ListInScope => "list the findings in the memory's scope".into(),
            Action::PrevChoice => "previous choice (reason, projects, rules); toggle".into(),
            Action::NextChoice => "next choice; toggle".into(),
            Action::Choose => "next reason; toggle; the list of projects or rules".into(),
            Action::KeepChoice => "keep the choice".into(),
            Action::Confirm => "yes (any other key: no)".into(),
            Action::AskAssistant => {
                "ask the AI for a verdict (this finding, the marked, the range)".into()
            }
            Action::Resize(..)
            | Action::TextInput(_)
            | Action::DetailLoaded(_)
            | Action::CodeHighlighted(..)
            | Action::BulkCounted(_)
            | Action::OtherRefs(..)
            | Action::DetailFailed(..)
            | Action::Recorded(..)
            | Action::RecordFailed(_)
            | Action::RowsUpdated(..)
            | Action::IndexReloaded(_)
            | Action::Synced(_)
            | Action::Tick
            | Action::MemoriesLoaded(..)
            | Action::SuggestionCounts(_)
            | Action::Said(_)
            | Action::SuggestionsLoaded(..)
            | Action::ConflictsLoaded(_)
            | Action::EditorDone(_)
            | Action::AssistantNews(_) => String::new(),
        }
    }
}

/// Work `update` hands to the runtime; results come back as actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Load a finding's details (latest request wins; answered by
    /// DetailLoaded or DetailFailed).
    LoadDetail(i64),
    /// Read the memories again (answered by MemoriesLoaded).
    LoadMemories,
    /// Read the index again, another writer having changed the store
    /// (answered by MemoriesLoaded and IndexReloaded).
    ReloadIndex,
    /// Show findings as they now stand, and perhaps say something about
    /// them (answered by RowsUpdated).
    RefreshRows {
        ids: Vec<i64>,
        notice: Option<String>,
    },
    /// Stop the process with SIGTSTP after restoring the terminal.
    Suspend,
    /// Record decisions in the outbox before anything shows them
    /// (answered by Recorded or RecordFailed).
    Record {
        intents: Vec<(i64, Intent)>,
        /// What they do, for the notice and undo.
        summary: Summary,
        /// A memory change recorded in the same transaction.
        memory: Option<MemoryChange>,
    },
    /// Take a decision back (answered by RowsUpdated).
    Undo(UndoEntry),
    /// Edit a note in $VISUAL / $EDITOR (answered by EditorDone).
    OpenEditor(String),
    /// Ask the Assistant about these findings in the background (answered
    /// by AssistantNews as answers arrive).
    AskAssistant(AssistantWork),
    /// Put this text on the reviewer's clipboard (OSC 52).
    Copy(String),
    /// Read a memory's suggestions (answered by SuggestionsLoaded).
    LoadSuggestions(String),
    /// Open this finding's file at its line in the reviewer's editor (the
    /// source tree given at import).
    OpenFile(i64),
    /// Write the findings this filter selects to a SARIF file (answered by
    /// Said).
    Export(Box<crate::domain::Filter>),
    /// Count what a large decision would touch (its copies on other refs),
    /// to ask before recording it (answered by BulkCounted).
    CountBulk(Box<BulkQuestion>),
    /// Open this link in the reviewer's browser ($BROWSER), or say why not.
    OpenUrl(String),
    /// Close every finding suggested under this memory (answered by
    /// Recorded, like any decision).
    CloseSuggested(String),
    /// Read the decisions in conflict with a colleague's (answered by
    /// ConflictsLoaded).
    LoadConflicts,
    /// Settle conflicts: send the reviewer's decisions again (`keep`), or
    /// drop them for the colleague's (answered by ConflictsLoaded and
    /// RowsUpdated).
    SettleConflicts { outbox_ids: Vec<i64>, keep: bool },
    /// Say why the finding the cursor was on left the view (answered by
    /// Said).
    SayWhyItLeft(i64),
}

impl Effect {
    /// What the status bar says while this write is on its way to the store
    /// (off the key path; nothing shows it done before it is durable).
    pub fn saving(&self) -> Option<String> {
        match self {
            Effect::Record { intents, .. } => Some(match intents.len() {
                0 => "Saving…".into(),
                1 => "Saving the decision…".into(),
                n => format!("Saving {n} decisions…"),
            }),
            Effect::Undo(_) => Some("Undoing…".into()),
            Effect::SettleConflicts { .. } => Some("Saving…".into()),
            _ => None,
        }
    }
}
