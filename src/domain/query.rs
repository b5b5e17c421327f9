//! Backlog views and filters over the index: what the console lists and what
//! `sift findings` prints are the same selection.

use super::enums::{ComponentRisk, Severity, Status, TriageState, Verdict};
use super::finding::Lifecycle;
use super::index::{FilterKey, FindingIndex, Row, RowKind, StringTable};
use super::memory::{RuleClasses, Scope};
use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BacklogView {
    /// Undecided findings on pull/merge-request refs.
    #[default]
    PreProduction,
    /// A verdict from Assistant and no human decision yet.
    NeedsReview,
    /// Undecided findings on the primary branch.
    Production,
    ToFix,
    Reviewing,
    Ignored,
    Fixed,
    All,
}

impl BacklogView {
    pub const ALL: [BacklogView; 8] = [
        BacklogView::PreProduction,
        BacklogView::NeedsReview,
        BacklogView::Production,
        BacklogView::ToFix,
        BacklogView::Reviewing,
        BacklogView::Ignored,
        BacklogView::Fixed,
        BacklogView::All,
    ];

    pub fn label(self) -> &'static str {
        match self {
            BacklogView::PreProduction => "Pre-production",
            BacklogView::NeedsReview => "Needs review",
            BacklogView::Production => "Production",
            BacklogView::ToFix => "To fix",
            BacklogView::Reviewing => "Reviewing",
            BacklogView::Ignored => "Ignored",
            BacklogView::Fixed => "Fixed",
            BacklogView::All => "All",
        }
    }

    /// The name used on the command line and in the filter line.
    pub fn slug(self) -> &'static str {
        match self {
            BacklogView::PreProduction => "pre-production",
            BacklogView::NeedsReview => "needs-review",
            BacklogView::Production => "production",
            BacklogView::ToFix => "to-fix",
            BacklogView::Reviewing => "reviewing",
            BacklogView::Ignored => "ignored",
            BacklogView::Fixed => "fixed",
            BacklogView::All => "all",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let t = text.to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|v| v.slug() == t)
    }

    pub fn contains(self, row: &Row) -> bool {
        match self {
            BacklogView::PreProduction => {
                row.lifecycle == Lifecycle::PreProduction && row.status.is_undecided()
            }
            // Reopened is undecided too: an undone decision and "mark as
            // open" leave the verdict waiting for a reviewer again.
            BacklogView::NeedsReview => {
                row.verdict.is_some()
                    && row.status.is_undecided()
                    && matches!(
                        row.triage_state,
                        TriageState::Untriaged
                            | TriageState::ProvisionallyIgnored
                            | TriageState::Reopened
                    )
            }
            BacklogView::Production => {
                row.lifecycle == Lifecycle::Production && row.status.is_undecided()
            }
            BacklogView::ToFix => row.status == Status::Fixing,
            BacklogView::Reviewing => row.status == Status::Reviewing,
            BacklogView::Ignored => row.status == Status::Ignored,
            BacklogView::Fixed => row.status == Status::Fixed,
            BacklogView::All => true,
        }
    }
}

/// Filter on Assistant's verdict, including "no verdict".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictFilter {
    TruePositive,
    FalsePositive,
    NoVerdict,
}

impl VerdictFilter {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "tp" | "true_positive" => Some(Self::TruePositive),
            "fp" | "false_positive" => Some(Self::FalsePositive),
            "none" | "no_verdict" => Some(Self::NoVerdict),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TruePositive => "true_positive",
            Self::FalsePositive => "false_positive",
            Self::NoVerdict => "none",
        }
    }

    fn matches(self, verdict: Option<Verdict>) -> bool {
        match self {
            Self::TruePositive => verdict == Some(Verdict::TruePositive),
            Self::FalsePositive => verdict == Some(Verdict::FalsePositive),
            Self::NoVerdict => verdict.is_none(),
        }
    }
}

/// The order of the list. The default puts the most severe first, then
/// the newest; the others sort by their key and then in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Severity,
    /// High-risk components first, then low, then neutral, then untagged.
    Risk,
    /// Oldest first: what has waited longest.
    Age,
    Rule,
    File,
}

impl SortBy {
    pub const ALL: [SortBy; 5] = [
        SortBy::Severity,
        SortBy::Risk,
        SortBy::Age,
        SortBy::Rule,
        SortBy::File,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Severity => "severity",
            SortBy::Risk => "risk",
            SortBy::Age => "age",
            SortBy::Rule => "rule",
            SortBy::File => "file",
        }
    }

    pub fn parse(text: &str) -> Option<SortBy> {
        let t = text.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == t || (t == "sev" && *s == SortBy::Severity))
    }

    /// The next order, for a key that cycles through them.
    pub fn next(self) -> SortBy {
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// Ranks risks for sorting: high first, untagged last.
fn risk_rank(risk: Option<ComponentRisk>) -> u8 {
    match risk {
        Some(ComponentRisk::High) => 0,
        Some(ComponentRisk::Low) => 1,
        Some(ComponentRisk::Neutral) => 2,
        None => 3,
    }
}

/// Whether a rule id is the one `asked` names: the full id, or its last
/// part, the short name the list shows (`sql-injection` for
/// `python.django.security.injection.sql-injection`).
pub fn rule_matches(full: &str, asked: &str) -> bool {
    full == asked || rule_short_name(full) == asked
}

/// A rule id's last part, the short name the list shows.
pub fn rule_short_name(full: &str) -> &str {
    full.rsplit('.').next().unwrap_or(full)
}

/// A view plus narrowing filters. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub view: BacklogView,
    pub severities: Vec<Severity>,
    pub statuses: Vec<Status>,
    pub verdicts: Vec<VerdictFilter>,
    pub projects: Vec<String>,
    pub rules: Vec<String>,
    /// Components an Assistant tagged: each a case-insensitive part of the
    /// tag (`pay` finds "payments").
    pub components: Vec<String>,
    pub risks: Vec<ComponentRisk>,
    /// The list's order.
    pub sort: SortBy,
    /// Words that must each appear in the rule id, the path or the message
    /// (case-insensitive).
    pub words: Vec<String>,
    /// Only findings in a memory's scope (set from the memory pane).
    pub scope: Option<ScopeFilter>,
}

/// A memory's scope as a filter, its class already turned into rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeFilter {
    /// What the list's title says, e.g. the memory's first words.
    pub label: String,
    pub scope: Scope,
    /// Only these findings (sorted): those a re-analysis under the memory
    /// suggested closing.
    pub suggested: Option<Vec<i64>>,
}

impl Filter {
    /// True when only the view is set.
    pub fn is_plain(&self) -> bool {
        *self
            == Filter {
                view: self.view,
                ..Filter::default()
            }
    }

    /// The filter as filter-line text (without the view), the inverse of
    /// [`Filter::apply_line`].
    pub fn to_line(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let join = |items: Vec<&str>| items.join(",");
        if !self.severities.is_empty() {
            parts.push(format!(
                "severity:{}",
                join(self.severities.iter().map(|s| s.as_str()).collect())
            ));
        }
        if !self.statuses.is_empty() {
            parts.push(format!(
                "status:{}",
                join(self.statuses.iter().map(|s| s.as_str()).collect())
            ));
        }
        if !self.verdicts.is_empty() {
            parts.push(format!(
                "verdict:{}",
                join(self.verdicts.iter().map(|s| s.as_str()).collect())
            ));
        }
        for p in &self.projects {
            parts.push(format!("project:{p}"));
        }
        for r in &self.rules {
            parts.push(format!("rule:{r}"));
        }
        for c in &self.components {
            parts.push(format!("component:{c}"));
        }
        if !self.risks.is_empty() {
            parts.push(format!(
                "risk:{}",
                join(self.risks.iter().map(|r| r.as_str()).collect())
            ));
        }
        if self.sort != SortBy::default() {
            parts.push(format!("sort:{}", self.sort.as_str()));
        }
        parts.extend(self.words.iter().cloned());
        parts.join(" ")
    }

    /// Replaces everything but the view with what a filter line says:
    /// `key:value[,value]` tokens (severity, status, verdict, project, rule,
    /// component, risk, sort, view) and free words.
    pub fn apply_line(&mut self, line: &str) -> Result<(), String> {
        // The memory scope is not written in the line: it stays.
        let mut next = Filter {
            view: self.view,
            scope: self.scope.clone(),
            ..Filter::default()
        };
        for token in line.split_whitespace() {
            let Some((key, value)) = token.split_once(':').filter(|(k, _)| is_filter_key(k)) else {
                next.words.push(token.to_string());
                continue;
            };
            let values = value.split(',').filter(|v| !v.is_empty());
            match key.to_ascii_lowercase().as_str() {
                "severity" | "sev" => {
                    for v in values {
                        next.severities.push(
                            Severity::parse_loose(v)
                                .ok_or_else(|| format!("unknown severity '{v}'"))?,
                        );
                    }
                }
                "status" => {
                    for v in values {
                        next.statuses.push(
                            Status::parse_loose(v)
                                .ok_or_else(|| format!("unknown status '{v}'"))?,
                        );
                    }
                }
                "verdict" => {
                    for v in values {
                        next.verdicts.push(
                            VerdictFilter::parse(v)
                                .ok_or_else(|| format!("unknown verdict '{v}' (tp, fp, none)"))?,
                        );
                    }
                }
                "project" => next.projects.extend(values.map(str::to_string)),
                "rule" => next.rules.extend(values.map(str::to_string)),
                "component" => next.components.extend(values.map(str::to_string)),
                "risk" => {
                    for v in values {
                        next.risks.push(
                            ComponentRisk::parse(&v.to_ascii_lowercase()).ok_or_else(|| {
                                format!("unknown risk '{v}' (high, low, neutral)")
                            })?,
                        );
                    }
                }
                "sort" => {
                    next.sort = SortBy::parse(value).ok_or_else(|| {
                        format!("unknown order '{value}' (severity, risk, age, rule, file)")
                    })?
                }
                "view" => {
                    next.view = BacklogView::parse(value)
                        .ok_or_else(|| format!("unknown view '{value}'"))?
                }
                _ => unreachable!("is_filter_key admits only the keys above"),
            }
        }
        *self = next;
        Ok(())
    }
}

fn is_filter_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "severity"
            | "sev"
            | "status"
            | "verdict"
            | "project"
            | "rule"
            | "view"
            | "component"
            | "risk"
            | "sort"
    )
}

/// A filter resolved against one index: names become table ids and words
/// become per-string match tables, so each row costs a few lookups (a
/// million rows are filtered on each keystroke).
struct Compiled<'a> {
    filter: &'a Filter,
    /// By `RowKind` code: the views that hold such a row (bit i:
    /// `BacklogView::ALL[i]`), and bit 8 set when its severity, status,
    /// verdict and risk are all admitted.
    kinds: Vec<u16>,
    /// By project id: the `project:` values (every project when none).
    projects: Vec<bool>,
    rules: Vec<bool>,
    /// Which component tags the `component:` values name.
    components: Option<Vec<bool>>,
    /// By rule, path and message: which of the first few words each
    /// contains (bit i: word i); `all_words` has a bit for each of them.
    words: [Vec<WordMask>; 3],
    all_words: WordMask,
    /// For each word after those: which rules, paths and messages contain
    /// it.
    more_words: Vec<[Vec<bool>; 3]>,
    /// The memory scope: which projects, rules and paths it admits.
    scope: Option<[Vec<bool>; 3]>,
    /// Only these finding ids (sorted).
    suggested: Option<&'a [i64]>,
    /// Any of the tests above that few filters make (component, scope,
    /// suggested ids, more words than a mask holds): a pass without them
    /// runs a loop without their branches (`Compiled::parts`).
    rare: bool,
}

impl<'a> Compiled<'a> {
    fn new(index: &FindingIndex, filter: &'a Filter) -> Self {
        let named = |table: &StringTable, admit: &dyn Fn(&str) -> bool| -> Vec<bool> {
            table.iter().map(|(_, s)| admit(s)).collect()
        };
        let (first, more) = filter.words.split_at(filter.words.len().min(WORD_BITS));
        let tables = [&index.rules, &index.paths, &index.messages];
        let words = tables.map(|table| word_masks(table, first));
        let all_words = (0..first.len()).fold(0, |all: WordMask, i| all | 1 << i);
        let more_words: Vec<[Vec<bool>; 3]> = more
            .iter()
            .map(|w| tables.map(|table| match_table(table, w)))
            .collect();
        let scope = filter.scope.as_ref().map(|f| {
            let s = &f.scope;
            let paths = s.paths();
            [
                named(&index.projects, &|p| s.covers_project(p)),
                // The class was turned into its rules: no classes needed.
                named(&index.rules, &|r| s.covers_rule_of(r, &[])),
                named(&index.paths, &|p| paths.covers(p)),
            ]
        });
        let components = (!filter.components.is_empty()).then(|| {
            let wanted: Vec<String> = filter.components.iter().map(|c| c.to_lowercase()).collect();
            named(&index.components, &|tag| {
                !tag.is_empty() && wanted.iter().any(|w| contains_ignore_case(tag, w))
            })
        });
        let admitted = |kind: &RowKind| {
            (filter.severities.is_empty() || filter.severities.contains(&kind.severity))
                && (filter.statuses.is_empty() || filter.statuses.contains(&kind.status))
                && (filter.verdicts.is_empty()
                    || filter.verdicts.iter().any(|v| v.matches(kind.verdict)))
                && (filter.risks.is_empty() || kind.risk.is_some_and(|r| filter.risks.contains(&r)))
        };
        let kinds = kinds_and_views()
            .iter()
            .map(|(kind, views)| u16::from(*views) | u16::from(admitted(kind)) << ADMITTED_BIT)
            .collect();
        let suggested = filter.scope.as_ref().and_then(|s| s.suggested.as_deref());
        Compiled {
            filter,
            kinds,
            projects: named(&index.projects, &|p| {
                filter.projects.is_empty() || filter.projects.iter().any(|n| n == p)
            }),
            rules: named(&index.rules, &|full| {
                filter.rules.is_empty() || filter.rules.iter().any(|r| rule_matches(full, r))
            }),
            rare: components.is_some()
                || scope.is_some()
                || suggested.is_some()
                || !more_words.is_empty(),
            components,
            words,
            all_words,
            more_words,
            scope,
            suggested,
        }
    }

    /// Each dimension's verdict on a row, computed once.
    ///
    /// Tests are joined with `&`, not `&&`: each is a lookup, and a branch
    /// on each, taken one way or the other row by row, was mispredicted
    /// more often than not on a real backlog. The branches left depend on
    /// the filter only.
    ///
    /// The row's packed key is read; the row itself only for the rare
    /// filters on what the key leaves out (component, suggested ids).
    /// `RARE` false leaves out the rare tests (the caller knows there are
    /// none): the tests every filter makes are lookups in small tables,
    /// made whether the filter has words or names or not, which costs less
    /// than a branch and the registers it holds in a million rows' loop.
    #[inline(always)]
    fn parts<const RARE: bool>(&self, key: FilterKey, row: &Row) -> Parts {
        let at = |table: &[bool], id: u32| table.get(id as usize).copied().unwrap_or(false);
        let kind = self.kinds.get(key.kind as usize).copied().unwrap_or(0);
        // No words: the masks are empty, and found and all_words are 0.
        let [rules, paths, messages] = &self.words;
        let mask = |table: &[WordMask], id: u32| table.get(id as usize).copied().unwrap_or(0);
        let found = mask(rules, key.rule) | mask(paths, key.path) | mask(messages, key.message);
        let mut rest = (kind >> ADMITTED_BIT != 0) & (found == self.all_words);
        if RARE {
            if let Some(components) = &self.components {
                rest &= at(components, row.component);
            }
            if let Some([projects, rules, paths]) = &self.scope {
                rest &= at(projects, key.project) & at(rules, key.rule) & at(paths, key.path);
            }
            if let Some(ids) = self.suggested {
                rest = rest && ids.binary_search(&row.id).is_ok();
            }
            for [rules, paths, messages] in &self.more_words {
                rest &= at(rules, key.rule) | at(paths, key.path) | at(messages, key.message);
            }
        }
        Parts {
            rest,
            views: kind as u8,
            project: at(&self.projects, key.project),
            rule: at(&self.rules, key.rule),
        }
    }

    fn matches(&self, row: &Row) -> bool {
        let p = self.parts::<true>(FilterKey::of(row), row);
        p.rest && p.project && p.rule && self.filter.view.contains(row)
    }
}

/// Every `RowKind`, in the order of their codes, with the views that hold
/// such a row (bit i: `BacklogView::ALL[i]`). Made once: a decision's
/// refilter compiles its filter too.
fn kinds_and_views() -> &'static [(RowKind, u8)] {
    static KINDS: std::sync::OnceLock<Vec<(RowKind, u8)>> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| {
        RowKind::all()
            .map(|kind| {
                let row = kind.row();
                let views = BacklogView::ALL
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.contains(&row))
                    .fold(0u8, |m, (bit, _)| m | 1 << bit);
                (kind, views)
            })
            .collect()
    })
}

/// In `Compiled::kinds`, the bit for "admitted" (the views' bits below).
const ADMITTED_BIT: u16 = 8;

/// Which words a string contains, one bit each. Eight: a mask per path
/// of a large backlog stays in the processor's nearest cache, and a
/// filter rarely has more words (those are tested one by one).
type WordMask = u8;
const WORD_BITS: usize = WordMask::BITS as usize;

struct Parts {
    /// Severity, status, verdict, risk and words.
    rest: bool,
    /// The views that hold the row (bit i: `BacklogView::ALL[i]`).
    views: u8,
    project: bool,
    rule: bool,
}

/// For each string of `table`, which of `words` (at most `WORD_BITS`) it
/// contains.
fn word_masks(table: &StringTable, words: &[String]) -> Vec<WordMask> {
    if words.is_empty() {
        return Vec::new();
    }
    let mut masks = vec![0; table.len()];
    for (bit, word) in words.iter().enumerate() {
        for (mask, found) in masks.iter_mut().zip(match_table(table, word)) {
            *mask |= WordMask::from(found) << bit;
        }
    }
    masks
}

fn match_table(table: &StringTable, word: &str) -> Vec<bool> {
    let needle = word.to_lowercase();
    table
        .iter()
        .map(|(_, s)| contains_ignore_case(s, &needle))
        .collect()
}

/// `needle` must already be lowercase.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    if !needle.is_ascii() {
        return haystack.to_lowercase().contains(needle);
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    // Only where the first letter is, in either case, is the rest compared:
    // every path and message of a million findings is searched per letter.
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), h).any(|at| {
        h.get(at + 1..at + n.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(rest))
    })
}

/// Counts for the left pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// Per view, in `BacklogView::ALL` order, with the other filters applied.
    pub views: [usize; 8],
    /// (project id, count) for projects with findings in the current view.
    pub projects: Vec<(u32, usize)>,
    /// (rule id, count), most findings first.
    pub rules: Vec<(u32, usize)>,
}

impl FindingIndex {
    /// Positions (into `rows`) of the findings the filter selects, in list order.
    pub fn select(&self, filter: &Filter) -> Vec<u32> {
        let compiled = Compiled::new(self, filter);
        let mut found: Vec<u32> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| compiled.matches(r))
            .map(|(i, _)| i as u32)
            .collect();
        self.sort(&mut found, filter.sort);
        found
    }

    /// Puts positions (ascending) in `sort`'s order; ties keep the index's
    /// order (most severe, then newest). One pass over the sort's order of
    /// every row, not a sort: at a million findings sorting the selection
    /// by file took a quarter of a second on every letter typed.
    fn sort(&self, positions: &mut Vec<u32>, sort: SortBy) {
        let Some(order) = self.order(sort) else {
            return;
        };
        if positions.len() == order.len() {
            positions.copy_from_slice(order);
            return;
        }
        let mut chosen = vec![false; self.rows.len()];
        for &p in positions.iter() {
            chosen[p as usize] = true;
        }
        positions.clear();
        positions.extend(order.iter().copied().filter(|&p| chosen[p as usize]));
    }

    /// Every position in `sort`'s order (ties: the index's order), made
    /// once; `None` for the default sort, the index's own order.
    fn order(&self, sort: SortBy) -> Option<&[u32]> {
        let slot = match sort {
            SortBy::Severity => return None,
            SortBy::Risk => 0,
            SortBy::Age => 1,
            SortBy::Rule => 2,
            SortBy::File => 3,
        };
        let order = self.orders.0[slot].get_or_init(|| {
            let rows = &self.rows;
            let mut order: Vec<u32> = (0..rows.len() as u32).collect();
            // Keys made unique by the position: an unstable sort keeps ties
            // in the index's order.
            match sort {
                SortBy::Severity => {}
                SortBy::Risk => {
                    order.sort_unstable_by_key(|&p| (risk_rank(rows[p as usize].risk), p))
                }
                SortBy::Age => {
                    order.sort_unstable_by_key(|&p| (rows[p as usize].relevant_since, p))
                }
                SortBy::Rule => {
                    let rank = ranks(&self.rules);
                    order.sort_unstable_by_key(|&p| (rank[rows[p as usize].rule as usize], p));
                }
                SortBy::File => {
                    let rank = ranks(&self.paths);
                    order.sort_unstable_by_key(|&p| {
                        let row = &rows[p as usize];
                        (rank[row.path as usize], row.line, p)
                    });
                }
            }
            order
        });
        Some(order)
    }

    /// `select` and the counts per view, project and rule (each ignoring
    /// its own dimension) in one pass over the rows: the console needs both
    /// on each keystroke of a filter. A large index is passed over in two
    /// halves at once.
    pub fn select_with_facets(&self, filter: &Filter) -> (Vec<u32>, Facets) {
        let compiled = Compiled::new(self, filter);
        let keys = self.filter_keys();
        let half = keys.len().div_ceil(2).max(PARALLEL_FROM);
        let mut tallies = std::thread::scope(|scope| {
            let compiled = &compiled;
            let others: Vec<_> = keys
                .chunks(half)
                .enumerate()
                .skip(1)
                .map(|(k, keys)| scope.spawn(move || self.tally(compiled, keys, k * half)))
                .collect();
            let first = self.tally(compiled, &keys[..half.min(keys.len())], 0);
            let mut tallies = vec![first];
            for other in others {
                tallies.push(
                    other
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                );
            }
            tallies
        })
        .into_iter();
        let mut all = tallies.next().unwrap_or_else(|| Tally::new(self));
        for t in tallies {
            all.found.extend(t.found);
            for (a, b) in all.by_views.iter_mut().zip(t.by_views) {
                *a += b;
            }
            for (a, b) in all.projects.iter_mut().zip(t.projects) {
                *a += b;
            }
            for (a, b) in all.rules.iter_mut().zip(t.rules) {
                *a += b;
            }
        }
        let mut found = all.found;
        self.sort(&mut found, filter.sort);
        let nonzero = |counts: Vec<usize>| -> Vec<(u32, usize)> {
            counts
                .into_iter()
                .enumerate()
                .filter(|(_, n)| *n > 0)
                .map(|(i, n)| (i as u32, n))
                .collect()
        };
        let mut projects = nonzero(all.projects);
        projects.sort_by(|a, b| self.projects.get(a.0).cmp(self.projects.get(b.0)));
        let mut rules = nonzero(all.rules);
        rules.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| self.rules.get(a.0).cmp(self.rules.get(b.0)))
        });
        let mut views = [0usize; 8];
        for (mask, n) in all.by_views.iter().enumerate() {
            for (bit, count) in views.iter_mut().enumerate() {
                if mask >> bit & 1 == 1 {
                    *count += n;
                }
            }
        }
        let facets = Facets {
            views,
            projects,
            rules,
        };
        (found, facets)
    }

    /// `select_with_facets` over the rows from position `first` on, whose
    /// keys are `keys`.
    fn tally(&self, compiled: &Compiled, keys: &[FilterKey], first: usize) -> Tally {
        match compiled.rare {
            true => self.tally_rows::<true>(compiled, keys, first),
            false => self.tally_rows::<false>(compiled, keys, first),
        }
    }

    /// `tally`, with or without the rare tests (`Compiled::parts`).
    fn tally_rows<const RARE: bool>(
        &self,
        compiled: &Compiled,
        keys: &[FilterKey],
        first: usize,
    ) -> Tally {
        let mut t = Tally::new(self);
        let rows = &self.rows[first..first + keys.len()];
        // Distinct slices, so that a count written does not make the
        // compiler read the others' places again.
        let (projects, rules) = (&mut t.projects[..], &mut t.rules[..]);
        // Rows in turn count in four copies of the view counts: a row
        // counted as the row before it would otherwise wait for that
        // row's count to be written.
        let mut by_views = [[0usize; 256]; 4];
        // A block's positions, then those found: a slot for every row of
        // the pass would be megabytes of fresh pages on every letter.
        let mut slots = [0u32; TALLY_BLOCK];
        for (b, (keys, rows)) in keys
            .chunks(TALLY_BLOCK)
            .zip(rows.chunks(TALLY_BLOCK))
            .enumerate()
        {
            let at = first + b * TALLY_BLOCK;
            let mut n = 0;
            // Every row is written and counted, selected or not, by 0 or
            // 1: no branch on what the filter decided (see
            // `Compiled::parts`).
            for (i, (&key, row)) in keys.iter().zip(rows).enumerate() {
                let c = Counted::of::<RARE>(compiled, key, row);
                slots[n] = (at + i) as u32;
                n += usize::from(c.found);
                by_views[i % 4][c.views as usize] += 1;
                projects[key.project as usize] += usize::from(c.project);
                rules[key.rule as usize] += usize::from(c.rule);
            }
            t.found.extend_from_slice(&slots[..n]);
        }
        for copy in by_views {
            for (all, n) in t.by_views.iter_mut().zip(copy) {
                *all += n;
            }
        }
        t
    }

    /// `select_with_facets`'s answer brought up to date after a few rows
    /// changed in place (`changed`: each one's position, once, and the row
    /// as it was), without a pass over the index: what a decision needs at a
    /// million findings. `None`, and nothing touched, when a change moved
    /// a row in the list's order: then the whole pass is needed.
    pub fn reselect(
        &self,
        filter: &Filter,
        changed: &[(u32, Row)],
        found: &mut Vec<u32>,
        facets: &mut Facets,
    ) -> Option<Reselected> {
        let keeps_its_place = |&(p, before): &(u32, Row)| {
            self.rows.get(p as usize).is_some_and(|now| {
                (now.id, now.severity, now.relevant_since, now.risk)
                    == (
                        before.id,
                        before.severity,
                        before.relevant_since,
                        before.risk,
                    )
                    && (now.rule, now.path, now.line) == (before.rule, before.path, before.line)
            })
        };
        if !changed.iter().all(keeps_its_place) {
            return None;
        }
        let mut membership = Reselected::default();
        let compiled = Compiled::new(self, filter);
        let mut projects: FxHashMap<u32, isize> = FxHashMap::default();
        let mut rules: FxHashMap<u32, isize> = FxHashMap::default();
        for &(p, before) in changed {
            let now = &self.rows[p as usize];
            let (was, is) = (
                Counted::of::<true>(&compiled, FilterKey::of(&before), &before),
                Counted::of::<true>(&compiled, FilterKey::of(now), now),
            );
            for (counted, row, by) in [(was, &before, -1), (is, now, 1)] {
                for (bit, count) in facets.views.iter_mut().enumerate() {
                    if counted.views >> bit & 1 == 1 {
                        *count = count.saturating_add_signed(by);
                    }
                }
                if counted.project {
                    *projects.entry(row.project).or_default() += by;
                }
                if counted.rule {
                    *rules.entry(row.rule).or_default() += by;
                }
            }
            if was.found != is.found {
                // Ties in every order are broken by position.
                let place = found.partition_point(|&q| self.listed_before(q, p, filter.sort));
                if is.found {
                    found.insert(place, p);
                    membership.entered += 1;
                } else if found.get(place) == Some(&p) {
                    found.remove(place);
                    membership.left += 1;
                }
            }
        }
        adjust(&mut facets.projects, projects);
        facets
            .projects
            .sort_by(|a, b| self.projects.get(a.0).cmp(self.projects.get(b.0)));
        adjust(&mut facets.rules, rules);
        facets.rules.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| self.rules.get(a.0).cmp(self.rules.get(b.0)))
        });
        Some(membership)
    }

    /// Where the row at position `p` stands in `found`, a list in `sort`'s
    /// order (as `select` makes it), if it is listed there.
    pub fn place_in(&self, found: &[u32], p: u32, sort: SortBy) -> Option<usize> {
        let place = found.partition_point(|&q| self.listed_before(q, p, sort));
        (found.get(place) == Some(&p)).then_some(place)
    }

    /// Whether the row at position `a` comes before the one at `b` in a
    /// list in `sort`'s order (ties: the index's order).
    fn listed_before(&self, a: u32, b: u32, sort: SortBy) -> bool {
        let (x, y) = (&self.rows[a as usize], &self.rows[b as usize]);
        let by_key = match sort {
            SortBy::Severity => std::cmp::Ordering::Equal,
            SortBy::Risk => risk_rank(x.risk).cmp(&risk_rank(y.risk)),
            SortBy::Age => x.relevant_since.cmp(&y.relevant_since),
            SortBy::Rule => self.rules.get(x.rule).cmp(self.rules.get(y.rule)),
            SortBy::File => self
                .paths
                .get(x.path)
                .cmp(self.paths.get(y.path))
                .then(x.line.cmp(&y.line)),
        };
        by_key.then(a.cmp(&b)).is_lt()
    }
}

/// How many rows `reselect` added to the list and took out of it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reselected {
    pub entered: usize,
    pub left: usize,
}

/// Each string's place among its table's strings in order (they are
/// distinct).
fn ranks(table: &StringTable) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..table.len() as u32).collect();
    ids.sort_unstable_by(|&a, &b| table.get(a).cmp(table.get(b)));
    let mut rank = vec![0; ids.len()];
    for (place, id) in ids.into_iter().enumerate() {
        rank[id as usize] = place as u32;
    }
    rank
}

/// Adds `deltas` to counts by id, dropping those that fall to nothing.
fn adjust(counts: &mut Vec<(u32, usize)>, deltas: FxHashMap<u32, isize>) {
    for (id, delta) in deltas {
        match counts.iter_mut().find(|(c, _)| *c == id) {
            Some((_, n)) => *n = n.saturating_add_signed(delta),
            None if delta > 0 => counts.push((id, delta as usize)),
            None => {}
        }
    }
    counts.retain(|(_, n)| *n > 0);
}

/// What one row adds to a pass of `select_with_facets`.
#[derive(Clone, Copy)]
struct Counted {
    /// Selected: listed.
    found: bool,
    /// Counted under these views (bit i: `BacklogView::ALL[i]`; 0: none).
    views: u8,
    /// Counted for its project, and for its rule.
    project: bool,
    rule: bool,
}

impl Counted {
    #[inline(always)]
    fn of<const RARE: bool>(compiled: &Compiled, key: FilterKey, row: &Row) -> Counted {
        let p = compiled.parts::<RARE>(key, row);
        let views = p.views;
        let in_view = views & (1u8 << compiled.filter.view as u8) != 0;
        let counted = p.rest & p.project & p.rule;
        Counted {
            found: counted & in_view,
            views: views & u8::from(counted).wrapping_neg(),
            project: p.rest & in_view & p.rule,
            rule: p.rest & in_view & p.project,
        }
    }
}

/// Rows a pass tests before it keeps those found (`tally_rows`).
const TALLY_BLOCK: usize = 4096;

/// Below this many rows the filter passes over the index on one thread.
const PARALLEL_FROM: usize = 100_000;

/// What one pass of `select_with_facets` found and counted.
struct Tally {
    found: Vec<u32>,
    /// Rows by the views that hold them (bit i: `BacklogView::ALL[i]`): one count
    /// per row, spread over the views at the end.
    by_views: [usize; 256],
    projects: Vec<usize>,
    rules: Vec<usize>,
}

impl Tally {
    fn new(index: &FindingIndex) -> Tally {
        Tally {
            found: Vec::new(),
            by_views: [0; 256],
            projects: vec![0; index.projects.len()],
            rules: vec![0; index.rules.len()],
        }
    }
}

impl FindingIndex {
    /// Positions (in list order) of the findings a scope covers; with
    /// `undecided_only`, those still open or provisionally ignored.
    pub fn in_scope(&self, scope: &Scope, classes: &RuleClasses, undecided_only: bool) -> Vec<u32> {
        let filter = Filter {
            view: BacklogView::All,
            scope: Some(ScopeFilter {
                label: String::new(),
                scope: scope.resolved(classes),
                suggested: None,
            }),
            ..Filter::default()
        };
        let mut found = self.select(&filter);
        if undecided_only {
            found.retain(|&p| self.rows[p as usize].status.is_undecided());
        }
        found
    }
}

impl FindingIndex {
    /// The ids of the undecided findings in a scope (open or provisionally
    /// ignored), less `except`: what applying a memory would ignore.
    pub fn undecided_in_scope(
        &self,
        scope: &Scope,
        classes: &RuleClasses,
        except: &[i64],
    ) -> Vec<i64> {
        self.in_scope(scope, classes, true)
            .into_iter()
            .map(|p| self.rows[p as usize].id)
            .filter(|id| !except.contains(id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::index::{IndexBuilder, IndexEntry};

    fn entry<'a>(
        id: i64,
        project: &'a str,
        rule: &'a str,
        git_ref: &'a str,
        status: Status,
        verdict: Option<Verdict>,
    ) -> IndexEntry<'a> {
        IndexEntry {
            id,
            relevant_since: id,
            project,
            rule,
            path: "src/app.py",
            message: "Possible SQL injection",
            git_ref,
            line: 1,
            severity: Severity::High,
            status,
            triage_state: TriageState::Untriaged,
            verdict,
            component: "",
            risk: None,
            lifecycle: Lifecycle::of(git_ref, "main"),
            pending: false,
        }
    }

    fn index() -> FindingIndex {
        let mut b = IndexBuilder::default();
        b.push(entry(
            1,
            "acme/web",
            "sqli",
            "refs/pull/1/merge",
            Status::Open,
            Some(Verdict::TruePositive),
        ));
        b.push(entry(
            2,
            "acme/web",
            "xss",
            "refs/pull/1/merge",
            Status::Open,
            None,
        ));
        b.push(entry(
            3,
            "acme/api",
            "sqli",
            "main",
            Status::Open,
            Some(Verdict::FalsePositive),
        ));
        b.push(entry(4, "acme/api", "sqli", "main", Status::Ignored, None));
        b.finish()
    }

    fn ids(index: &FindingIndex, filter: &Filter) -> Vec<i64> {
        let found = index.select(filter);
        assert_eq!(
            index.select_with_facets(filter).0,
            found,
            "the console's pass"
        );
        found
            .into_iter()
            .map(|i| index.rows[i as usize].id)
            .collect()
    }

    #[test]
    fn views_select_by_lifecycle_and_status() {
        let index = index();
        let mut f = Filter::default();
        assert_eq!(ids(&index, &f), vec![2, 1]);
        f.view = BacklogView::Production;
        assert_eq!(ids(&index, &f), vec![3]);
        f.view = BacklogView::NeedsReview;
        assert_eq!(ids(&index, &f), vec![3, 1]);
        f.view = BacklogView::Ignored;
        assert_eq!(ids(&index, &f), vec![4]);
        f.view = BacklogView::All;
        assert_eq!(ids(&index, &f).len(), 4);
    }

    #[test]
    fn every_word_is_looked_for_however_many_there_are() {
        let index = index();
        let mut f = Filter {
            view: BacklogView::All,
            ..Filter::default()
        };
        // One word past those tested together decides.
        f.words = vec!["sqli".to_string(); WORD_BITS];
        assert_eq!(ids(&index, &f), vec![4, 3, 1]);
        f.words.push("xss".to_string());
        assert_eq!(ids(&index, &f), Vec::<i64>::new());
        f.words = vec!["xs".to_string(); WORD_BITS];
        f.words.push("xss".to_string());
        assert_eq!(ids(&index, &f), vec![2]);
    }

    #[test]
    fn filter_line_sets_structured_filters_and_words() {
        let index = index();
        let mut f = Filter {
            view: BacklogView::All,
            ..Filter::default()
        };
        f.apply_line("project:acme/api verdict:fp").unwrap();
        assert_eq!(ids(&index, &f), vec![3]);
        f.apply_line("XSS").unwrap();
        assert_eq!(ids(&index, &f), vec![2]);
        assert!(f.apply_line("severity:urgent").is_err());
        assert_eq!(
            f.to_line(),
            "XSS",
            "a failed line leaves the filter as it was"
        );
        f.apply_line("sev:high,critical rule:sqli").unwrap();
        assert_eq!(f.to_line(), "severity:high,critical rule:sqli");
    }

    #[test]
    fn rules_by_short_name_and_severity_by_abbreviation() {
        let index = index();
        let mut f = Filter {
            view: BacklogView::All,
            ..Filter::default()
        };
        f.apply_line("rule:xss").unwrap();
        assert_eq!(ids(&index, &f), vec![2]);
        f.apply_line("sev:high,crit").unwrap();
        assert_eq!(ids(&index, &f).len(), 4);
        assert!(rule_matches("python.django.sql-injection", "sql-injection"));
        assert!(!rule_matches("python.django.sql-injection", "injection"));
    }

    #[test]
    fn component_and_risk_filter_and_sort() {
        let mut b = IndexBuilder::default();
        let tagged = |id, component, risk| IndexEntry {
            component,
            risk,
            ..entry(id, "acme/web", "sqli", "main", Status::Open, None)
        };
        b.push(tagged(1, "", None));
        b.push(tagged(2, "Payments", Some(ComponentRisk::High)));
        b.push(tagged(3, "tests", Some(ComponentRisk::Low)));
        b.push(tagged(4, "user data", Some(ComponentRisk::Neutral)));
        let index = b.finish();
        let mut f = Filter {
            view: BacklogView::All,
            ..Filter::default()
        };
        f.apply_line("component:pay").unwrap();
        assert_eq!(ids(&index, &f), vec![2]);
        f.apply_line("risk:low,neutral").unwrap();
        assert_eq!(ids(&index, &f), vec![4, 3]);
        f.apply_line("sort:risk").unwrap();
        assert_eq!(ids(&index, &f), vec![2, 3, 4, 1]);
        assert_eq!(f.to_line(), "sort:risk");
        f.apply_line("sort:age").unwrap();
        assert_eq!(ids(&index, &f), vec![1, 2, 3, 4]);
        assert!(f.apply_line("risk:extreme").is_err());
        assert!(f.apply_line("sort:colour").is_err());
        assert_eq!(SortBy::File.next(), SortBy::Severity);
    }

    /// Counts as `select_with_facets` defines them, one `select` each.
    fn counted_one_by_one(index: &FindingIndex, filter: &Filter) -> Facets {
        let views = BacklogView::ALL.map(|view| {
            let f = Filter {
                view,
                ..filter.clone()
            };
            index.select(&f).len()
        });
        let count_by = |f: &Filter, of: &dyn Fn(&Row) -> u32| {
            let mut counts = std::collections::BTreeMap::<u32, usize>::new();
            for p in index.select(f) {
                *counts.entry(of(&index.rows[p as usize])).or_default() += 1;
            }
            counts
        };
        let projects = count_by(
            &Filter {
                projects: vec![],
                ..filter.clone()
            },
            &|r| r.project,
        );
        let rules = count_by(
            &Filter {
                rules: vec![],
                ..filter.clone()
            },
            &|r| r.rule,
        );
        let mut rules: Vec<(u32, usize)> = rules.into_iter().collect();
        rules.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| index.rules.get(a.0).cmp(index.rules.get(b.0)))
        });
        let mut projects: Vec<(u32, usize)> = projects.into_iter().collect();
        projects.sort_by(|a, b| index.projects.get(a.0).cmp(index.projects.get(b.0)));
        Facets {
            views,
            projects,
            rules,
        }
    }

    #[test]
    fn a_large_index_is_filtered_and_counted_in_halves_as_in_one() {
        let (statuses, refs) = (Status::ALL, ["main", "refs/pull/7/head", "dev"]);
        let rules = ["sqli", "xss", "ssrf", "path-traversal", "md5"];
        let mut b = IndexBuilder::default();
        for id in 0..(PARALLEL_FROM as i64 * 2 + 17) {
            let k = id as usize;
            let mut e = entry(
                id,
                ["acme/web", "acme/api", "acme/pay"][k % 3],
                rules[k % 5],
                refs[k % 7 % 3],
                statuses[k % 11 % statuses.len()],
                (!k.is_multiple_of(4)).then_some(Verdict::ALL[k % Verdict::ALL.len()]),
            );
            e.triage_state = TriageState::ALL[k % 13 % TriageState::ALL.len()];
            b.push(e);
        }
        let index = b.finish();
        for line in [
            "",
            "sql",
            "view:all severity:high",
            "project:acme/web rule:xss",
            // The rare tests: more words than a mask holds, a component.
            "s q l i m a i n s x",
            "component:pay",
        ] {
            let mut f = Filter::default();
            f.apply_line(line).unwrap();
            let (found, facets) = index.select_with_facets(&f);
            assert_eq!(found, index.select(&f), "{line:?}");
            assert_eq!(facets, counted_one_by_one(&index, &f), "{line:?}");
        }
    }

    #[test]
    fn a_few_changed_rows_are_reselected_as_a_whole_pass_would() {
        let rules = ["sqli", "xss", "ssrf"];
        let mut b = IndexBuilder::default();
        for id in 0..600i64 {
            let k = id as usize;
            let mut e = entry(
                id,
                ["acme/web", "acme/api", "acme/pay"][k % 3],
                rules[k % 7 % 3],
                ["main", "refs/pull/7/head"][k % 5 % 2],
                Status::ALL[k % 11 % Status::ALL.len()],
                (!k.is_multiple_of(4)).then_some(Verdict::ALL[k % Verdict::ALL.len()]),
            );
            e.triage_state = TriageState::ALL[k % 13 % TriageState::ALL.len()];
            e.relevant_since = (k % 17) as i64;
            b.push(e);
        }
        let mut index = b.finish();
        for line in [
            "",
            "sql",
            "view:all",
            "view:ignored project:acme/web",
            "rule:xss sort:age",
            "view:all sort:file",
            "sort:rule",
        ] {
            let mut f = Filter::default();
            f.apply_line(line).unwrap();
            let (mut found, mut facets) = index.select_with_facets(&f);
            for round in 0..40usize {
                // A decision, an undo, a colleague's: state and status move.
                let ids = [round as i64 * 7 % 600, round as i64 * 13 % 600 + 1];
                let mut changed = Vec::new();
                for id in ids {
                    let p = index.position_of(id).unwrap() as u32;
                    let before = index.rows[p as usize];
                    index.decided(
                        p as usize,
                        TriageState::ALL[(round + id as usize) % TriageState::ALL.len()],
                        Status::ALL[(round * 3 + id as usize) % Status::ALL.len()],
                        round % 2 == 0,
                    );
                    changed.push((p, before));
                }
                let before = found.len();
                let moved = index
                    .reselect(&f, &changed, &mut found, &mut facets)
                    .unwrap();
                assert_eq!(found.len() + moved.left, before + moved.entered);
                let whole = index.select_with_facets(&f);
                assert_eq!(found, whole.0, "{line:?} round {round}");
                assert_eq!(facets, whole.1, "{line:?} round {round}");
            }
        }
        // A row that moves in the list's order needs the whole pass.
        let f = Filter::default();
        let (mut found, mut facets) = index.select_with_facets(&f);
        let p = index.position_of(5).unwrap() as u32;
        let before = index.rows[p as usize];
        index.rows[p as usize].relevant_since += 1;
        let whole = (found.clone(), facets.clone());
        assert!(
            index
                .reselect(&f, &[(p, before)], &mut found, &mut facets)
                .is_none()
        );
        assert_eq!((found, facets), whole, "nothing touched");
    }

    #[test]
    fn words_are_found_in_either_case_as_a_window_by_window_search_finds_them() {
        let slow = |h: &str, n: &str| {
            n.is_empty()
                || h.as_bytes()
                    .windows(n.len())
                    .any(|w| w.eq_ignore_ascii_case(n.as_bytes()))
        };
        let hay = [
            "",
            "s",
            "src/SQL/query.py",
            "Possible SQL injection via sqlAlchemy",
            "ssssql",
            "sq",
            "é/sql/ü.py",
            "S",
            "xsqL",
        ];
        for h in hay {
            for n in ["", "s", "sq", "sql", "l", "ql", "x", "sqlx", "ssql"] {
                assert_eq!(contains_ignore_case(h, n), slow(h, n), "{h:?} {n:?}");
            }
        }
        assert!(contains_ignore_case("Ünïcode PATH", "ünï"));
    }

    #[test]
    fn facets_ignore_their_own_dimension() {
        let index = index();
        let f = Filter {
            projects: vec!["acme/web".into()],
            ..Filter::default()
        };
        let (found, facets) = index.select_with_facets(&f);
        assert_eq!(found, index.select(&f), "the same findings as select");
        assert_eq!(facets, counted_one_by_one(&index, &f));
        assert_eq!(facets.views[0], 2, "pre-production in acme/web");
        assert_eq!(facets.views[2], 0, "production in acme/web");
        // Projects are counted as if no project were chosen.
        let names: Vec<_> = facets
            .projects
            .iter()
            .map(|(p, n)| (index.projects.get(*p), *n))
            .collect();
        assert_eq!(names, vec![("acme/web", 2)]);
    }
}
