//! The compact in-memory index of every finding: what the list, the counts
//! and the filters need, and nothing more. Details are loaded on demand.

use super::enums::{ComponentRisk, Severity, Status, TriageState, Verdict};
use super::finding::Lifecycle;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};

/// One finding in the index. Strings are ids into the index's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    /// Unix seconds.
    pub relevant_since: i64,
    pub project: u32,
    pub rule: u32,
    pub path: u32,
    pub message: u32,
    pub git_ref: u32,
    pub line: u32,
    pub severity: Severity,
    pub status: Status,
    pub triage_state: TriageState,
    pub verdict: Option<Verdict>,
    /// The component an Assistant tagged ("" when none) and its risk.
    pub component: u32,
    pub risk: Option<ComponentRisk>,
    pub lifecycle: Lifecycle,
    /// A decision on it waits for the backend.
    pub pending: bool,
}

/// What a filter pass reads of a row, packed in 20 bytes where a row has
/// 56: at a million findings the pass is bound by the memory it reads,
/// not by its tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FilterKey {
    pub project: u32,
    pub rule: u32,
    pub path: u32,
    pub message: u32,
    /// Its `RowKind`'s code: a filter looks up what it makes of every kind
    /// of row at once, not of each field.
    pub kind: u16,
}

impl FilterKey {
    pub fn of(row: &Row) -> FilterKey {
        FilterKey {
            project: row.project,
            rule: row.rule,
            path: row.path,
            message: row.message,
            kind: RowKind::of(row).code(),
        }
    }
}

/// The fields of a row that views and filters test, other than its
/// strings: few enough combinations to number them all (`code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowKind {
    pub severity: Severity,
    pub status: Status,
    pub triage_state: TriageState,
    pub verdict: Option<Verdict>,
    pub risk: Option<ComponentRisk>,
    pub lifecycle: Lifecycle,
}

impl RowKind {
    /// How many kinds there are: every code is below.
    pub const COUNT: usize = Severity::ALL.len()
        * Status::ALL.len()
        * TriageState::ALL.len()
        * (Verdict::ALL.len() + 1)
        * (ComponentRisk::ALL.len() + 1)
        * Lifecycle::ALL.len();

    pub fn of(row: &Row) -> RowKind {
        RowKind {
            severity: row.severity,
            status: row.status,
            triage_state: row.triage_state,
            verdict: row.verdict,
            risk: row.risk,
            lifecycle: row.lifecycle,
        }
    }

    /// Each field's position in its `ALL` (an option's `None` first), as
    /// the digits of one number.
    pub fn code(self) -> u16 {
        let digits = [
            (self.severity as usize, Severity::ALL.len()),
            (self.status as usize, Status::ALL.len()),
            (self.triage_state as usize, TriageState::ALL.len()),
            (
                self.verdict.map_or(0, |v| v as usize + 1),
                Verdict::ALL.len() + 1,
            ),
            (
                self.risk.map_or(0, |r| r as usize + 1),
                ComponentRisk::ALL.len() + 1,
            ),
            (self.lifecycle as usize, Lifecycle::ALL.len()),
        ];
        digits
            .iter()
            .fold(0, |code, &(digit, base)| code * base + digit) as u16
    }

    /// Every kind, in the order of their codes.
    pub fn all() -> impl Iterator<Item = RowKind> {
        let options = |n: usize| 0..=n;
        Severity::ALL.iter().flat_map(move |&severity| {
            Status::ALL.iter().flat_map(move |&status| {
                TriageState::ALL.iter().flat_map(move |&triage_state| {
                    options(Verdict::ALL.len()).flat_map(move |v| {
                        options(ComponentRisk::ALL.len()).flat_map(move |r| {
                            Lifecycle::ALL.into_iter().map(move |lifecycle| RowKind {
                                severity,
                                status,
                                triage_state,
                                verdict: v.checked_sub(1).map(|i| Verdict::ALL[i]),
                                risk: r.checked_sub(1).map(|i| ComponentRisk::ALL[i]),
                                lifecycle,
                            })
                        })
                    })
                })
            })
        })
    }

    /// A row of this kind (its strings and numbers zero), for what asks a
    /// row.
    pub fn row(self) -> Row {
        Row {
            id: 0,
            relevant_since: 0,
            project: 0,
            rule: 0,
            path: 0,
            message: 0,
            git_ref: 0,
            line: 0,
            severity: self.severity,
            status: self.status,
            triage_state: self.triage_state,
            verdict: self.verdict,
            component: 0,
            risk: self.risk,
            lifecycle: self.lifecycle,
            pending: false,
        }
    }
}

/// The keys of `rows`, a large index's in two halves at once: the kernel
/// zeroes each fresh page as it is first written.
fn keys_of(rows: &[Row]) -> Vec<FilterKey> {
    fn fill(slots: &mut [std::mem::MaybeUninit<FilterKey>], rows: &[Row]) {
        for (slot, row) in slots.iter_mut().zip(rows) {
            slot.write(FilterKey::of(row));
        }
    }
    let mut keys = Vec::with_capacity(rows.len());
    let half = if rows.len() >= KEYS_IN_HALVES_FROM {
        rows.len() / 2
    } else {
        rows.len()
    };
    let (low, high) = keys.spare_capacity_mut()[..rows.len()].split_at_mut(half);
    std::thread::scope(|scope| {
        if !high.is_empty() {
            scope.spawn(|| fill(high, &rows[half..]));
        }
        fill(low, &rows[..half]);
    });
    // SAFETY: both halves of the first `rows.len()` slots were written (a
    // panic in either would have ended this function before).
    unsafe { keys.set_len(rows.len()) };
    keys
}

/// Below this many rows one thread makes the filter keys.
const KEYS_IN_HALVES_FROM: usize = 100_000;

/// The filter keys of an index's rows, made when a filter first needs them.
/// A cache: indexes equal but for it are equal.
#[derive(Debug, Default, Clone)]
pub(crate) struct FilterKeys(std::sync::OnceLock<Vec<FilterKey>>);

impl PartialEq for FilterKeys {
    fn eq(&self, _: &FilterKeys) -> bool {
        true
    }
}

impl Eq for FilterKeys {}

/// An append-only table of distinct strings, kept in one buffer so a large
/// backlog costs no allocation per string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StringTable {
    text: String,
    /// End offset in `text` of each string.
    ends: Vec<u32>,
}

impl StringTable {
    pub fn get(&self, id: u32) -> &str {
        let i = id as usize;
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start as usize..end as usize]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        (0..self.ends.len() as u32).map(|id| (id, self.get(id)))
    }

    pub fn find(&self, text: &str) -> Option<u32> {
        self.iter().find(|(_, s)| *s == text).map(|(id, _)| id)
    }

    /// The table's buffer and the end offset of each string, as stored.
    pub fn parts(&self) -> (&str, &[u32]) {
        (&self.text, &self.ends)
    }

    /// A table from stored parts; `None` unless every end lies, in order,
    /// on a character boundary of `text`.
    pub fn from_parts(text: String, ends: Vec<u32>) -> Option<StringTable> {
        let mut start = 0u32;
        for &end in &ends {
            if end < start || !text.is_char_boundary(end as usize) {
                return None;
            }
            start = end;
        }
        Some(StringTable { text, ends })
    }

    fn push(&mut self, text: &str) -> u32 {
        self.text.push_str(text);
        self.ends.push(self.text.len() as u32);
        (self.ends.len() - 1) as u32
    }

    fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Interns while the index is built; dropped when it is finished.
#[derive(Debug, Default)]
struct Interner {
    /// String hash -> the first id with that hash.
    ids: FxHashMap<u64, u32>,
    /// The rare further ids whose strings share a hash.
    collisions: FxHashMap<u64, Vec<u32>>,
    table: StringTable,
}

impl Interner {
    /// An interner that goes on from a finished table.
    fn over(table: StringTable) -> Interner {
        let mut interner = Interner::default();
        for (id, text) in table.iter() {
            let hash = hash_of(text);
            match interner.ids.get(&hash) {
                None => {
                    interner.ids.insert(hash, id);
                }
                Some(_) => interner.collisions.entry(hash).or_default().push(id),
            }
        }
        interner.table = table;
        interner
    }

    fn intern(&mut self, text: &str) -> u32 {
        let hash = hash_of(text);
        match self.ids.get(&hash) {
            None => {
                let id = self.table.push(text);
                self.ids.insert(hash, id);
                id
            }
            Some(&id) if self.table.get(id) == text => id,
            Some(_) => {
                let others = self.collisions.entry(hash).or_default();
                if let Some(&id) = others.iter().find(|&&id| self.table.get(id) == text) {
                    return id;
                }
                let id = self.table.push(text);
                others.push(id);
                id
            }
        }
    }

    fn finish(mut self) -> StringTable {
        self.table.shrink_to_fit();
        self.table
    }
}

fn hash_of(text: &str) -> u64 {
    let mut h = FxHasher::default();
    text.hash(&mut h);
    h.finish()
}

/// The finding fields the index keeps, as the store hands them over.
pub struct IndexEntry<'a> {
    pub id: i64,
    pub relevant_since: i64,
    pub project: &'a str,
    pub rule: &'a str,
    pub path: &'a str,
    pub message: &'a str,
    pub git_ref: &'a str,
    pub line: u32,
    pub severity: Severity,
    pub status: Status,
    pub triage_state: TriageState,
    pub verdict: Option<Verdict>,
    pub component: &'a str,
    pub risk: Option<ComponentRisk>,
    pub lifecycle: Lifecycle,
    pub pending: bool,
}

#[derive(Debug, Default)]
pub struct IndexBuilder {
    rows: Vec<Row>,
    projects: Interner,
    rules: Interner,
    paths: Interner,
    messages: Interner,
    refs: Interner,
    components: Interner,
}

impl IndexBuilder {
    pub fn with_capacity(n: usize) -> Self {
        IndexBuilder {
            rows: Vec::with_capacity(n),
            ..Default::default()
        }
    }

    pub fn push(&mut self, e: IndexEntry<'_>) {
        let row = Row {
            id: e.id,
            relevant_since: e.relevant_since,
            project: self.projects.intern(e.project),
            rule: self.rules.intern(e.rule),
            path: self.paths.intern(e.path),
            message: self.messages.intern(e.message),
            git_ref: self.refs.intern(e.git_ref),
            line: e.line,
            severity: e.severity,
            status: e.status,
            triage_state: e.triage_state,
            verdict: e.verdict,
            component: self.components.intern(e.component),
            risk: e.risk,
            lifecycle: e.lifecycle,
            pending: e.pending,
        };
        self.rows.push(row);
    }

    /// Adds the findings of another builder (of other findings), as if
    /// they had been pushed here.
    pub fn append(&mut self, other: IndexBuilder) {
        let rows = self.remapped(other);
        self.rows.extend(rows);
    }

    /// `other`'s rows with their strings interned here.
    fn remapped(&mut self, other: IndexBuilder) -> Vec<Row> {
        let remap = |into: &mut Interner, from: Interner| -> Vec<u32> {
            from.table.iter().map(|(_, s)| into.intern(s)).collect()
        };
        let projects = remap(&mut self.projects, other.projects);
        let rules = remap(&mut self.rules, other.rules);
        let paths = remap(&mut self.paths, other.paths);
        let messages = remap(&mut self.messages, other.messages);
        let refs = remap(&mut self.refs, other.refs);
        let components = remap(&mut self.components, other.components);
        other
            .rows
            .into_iter()
            .map(|r| Row {
                project: projects[r.project as usize],
                rule: rules[r.rule as usize],
                path: paths[r.path as usize],
                message: messages[r.message as usize],
                git_ref: refs[r.git_ref as usize],
                component: components[r.component as usize],
                ..r
            })
            .collect()
    }

    pub fn finish(mut self) -> FindingIndex {
        self.rows.sort_unstable_by(list_order);
        self.into_index()
    }

    /// The index of rows already in list order.
    fn into_index(self) -> FindingIndex {
        let positions = Positions::of(&self.rows);
        self.into_index_at(positions)
    }

    /// `into_index`, each row's position being known.
    fn into_index_at(mut self, positions: Positions) -> FindingIndex {
        // A little room is left: a few more rows then cost no copy.
        if self.rows.capacity() - self.rows.len() > self.rows.len() / 16 {
            self.rows.shrink_to_fit();
        }
        FindingIndex {
            positions,
            rows: self.rows,
            projects: self.projects.finish(),
            rules: self.rules.finish(),
            paths: self.paths.finish(),
            messages: self.messages.finish(),
            refs: self.refs.finish(),
            components: self.components.finish(),
            orders: Orders::default(),
            keys: FilterKeys::default(),
        }
    }
}

/// The list order: most severe first, then newest, then highest id.
pub fn list_order(a: &Row, b: &Row) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then(b.relevant_since.cmp(&a.relevant_since))
        .then(b.id.cmp(&a.id))
}

/// Finding id -> position in the rows. Store ids are dense, so a table
/// indexed by id costs one pass to build, where a hash map of a million
/// ids cost tens of milliseconds of the start.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Positions {
    /// `slots[id - base]` is the position, or `u32::MAX` for no finding.
    Dense { base: i64, slots: Vec<u32> },
    /// Ids too far apart for a table.
    Sparse(FxHashMap<i64, u32>),
}

impl Default for Positions {
    fn default() -> Self {
        Positions::Dense {
            base: 0,
            slots: Vec::new(),
        }
    }
}

impl Positions {
    fn of(rows: &[Row]) -> Positions {
        let span = rows.iter().fold(None, |span, r| match span {
            None => Some((r.id, r.id)),
            Some((low, high)) => Some((r.id.min(low), r.id.max(high))),
        });
        Positions::spanning(rows, span)
    }

    /// `of`, the lowest and highest id being known.
    fn spanning(rows: &[Row], span: Option<(i64, i64)>) -> Positions {
        let Some((low, high)) = span else {
            return Positions::default();
        };
        let width = (high as i128 - low as i128 + 1) as u128;
        if width > (rows.len() as u128).saturating_mul(4).max(1024) {
            let map = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id, i as u32))
                .collect();
            return Positions::Sparse(map);
        }
        let mut slots = vec![u32::MAX; width as usize];
        for (i, r) in rows.iter().enumerate() {
            slots[(r.id - low) as usize] = i as u32;
        }
        Positions::Dense { base: low, slots }
    }

    fn get(&self, id: i64) -> Option<usize> {
        match self {
            Positions::Dense { base, slots } => {
                let slot = usize::try_from(id.checked_sub(*base)?).ok()?;
                slots
                    .get(slot)
                    .filter(|&&p| p != u32::MAX)
                    .map(|&p| p as usize)
            }
            Positions::Sparse(map) => map.get(&id).map(|&p| p as usize),
        }
    }
}

/// Every finding, in list order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FindingIndex {
    pub rows: Vec<Row>,
    positions: Positions,
    pub projects: StringTable,
    pub rules: StringTable,
    pub paths: StringTable,
    pub messages: StringTable,
    pub refs: StringTable,
    pub components: StringTable,
    /// Rows change in place only by a decision (`decided`), never in what
    /// the list is sorted by: these stay true.
    pub(crate) orders: Orders,
    keys: FilterKeys,
}

/// Every position of an index in the order of a sort other than the
/// default, made when first asked for (`FindingIndex::order`). A cache:
/// indexes equal but for it are equal.
#[derive(Debug, Default, Clone)]
pub(crate) struct Orders(pub(crate) [std::sync::OnceLock<Vec<u32>>; 4]);

impl PartialEq for Orders {
    fn eq(&self, _: &Orders) -> bool {
        true
    }
}

impl Eq for Orders {}

/// The string tables of an index, in the order of `FindingIndex`'s fields.
pub type Tables = [StringTable; 6];

impl FindingIndex {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn position_of(&self, id: i64) -> Option<usize> {
        self.positions.get(id)
    }

    /// A decision on the row at `p` as the store answered it: its state,
    /// status and whether it waits for the backend. The only change made
    /// to a row in place (the filter keys follow).
    pub fn decided(&mut self, p: usize, triage_state: TriageState, status: Status, pending: bool) {
        let Some(row) = self.rows.get_mut(p) else {
            return;
        };
        row.triage_state = triage_state;
        row.status = status;
        row.pending = pending;
        let key = FilterKey::of(row);
        if let Some(keys) = self.keys.0.get_mut()
            && let Some(slot) = keys.get_mut(p)
        {
            *slot = key;
        }
    }

    /// Each row's filter key, by position.
    pub fn filter_keys(&self) -> &[FilterKey] {
        self.keys.0.get_or_init(|| keys_of(&self.rows))
    }

    pub fn tables(&self) -> [&StringTable; 6] {
        [
            &self.projects,
            &self.rules,
            &self.paths,
            &self.messages,
            &self.refs,
            &self.components,
        ]
    }

    /// An index of stored rows; `None` unless they are in list order with
    /// distinct ids and every string id names a string of its table.
    pub fn from_parts(rows: Vec<Row>, tables: Tables) -> Option<FindingIndex> {
        let [projects, rules, paths, messages, refs, components] = tables;
        let lens = [&projects, &rules, &paths, &messages, &refs, &components].map(|t| t.len());
        // One pass: a million rows are checked in a few milliseconds.
        let mut span: Option<(i64, i64)> = None;
        let mut before: Option<&Row> = None;
        for r in &rows {
            let ids = [r.project, r.rule, r.path, r.message, r.git_ref, r.component];
            if ids.iter().zip(lens).any(|(&id, len)| id as usize >= len)
                || before.is_some_and(|b| !list_order(b, r).is_lt())
            {
                return None;
            }
            span = Some(span.map_or((r.id, r.id), |(low, high)| (r.id.min(low), r.id.max(high))));
            before = Some(r);
        }
        Some(FindingIndex {
            positions: Positions::spanning(&rows, span),
            rows,
            projects,
            rules,
            paths,
            messages,
            refs,
            components,
            orders: Orders::default(),
            keys: FilterKeys::default(),
        })
    }

    /// This index with `changed` findings in place of those with the same
    /// ids and the new ones added, in list order.
    ///
    /// Patched in place: a start brings a million rows up to date with a
    /// few, and a sort or a copy of the rows (56 MB, zeroed by the kernel
    /// page by page) was most of what the start had left.
    pub fn updated(self, changed: IndexBuilder) -> FindingIndex {
        if changed.rows.is_empty() {
            return self;
        }
        let FindingIndex {
            rows,
            positions,
            projects,
            rules,
            paths,
            messages,
            refs,
            components,
            ..
        } = self;
        let mut builder = IndexBuilder {
            rows,
            projects: Interner::over(projects),
            rules: Interner::over(rules),
            paths: Interner::over(paths),
            messages: Interner::over(messages),
            refs: Interner::over(refs),
            components: Interner::over(components),
        };
        // Rows that take another place in the list: their old place goes,
        // and they are merged in at the new one.
        let mut gone: Vec<usize> = Vec::new();
        let mut placed: Vec<Row> = Vec::new();
        for row in builder.remapped(changed) {
            match positions.get(row.id) {
                Some(p) if list_order(&builder.rows[p], &row).is_eq() => builder.rows[p] = row,
                Some(p) => {
                    gone.push(p);
                    placed.push(row);
                }
                None => placed.push(row),
            }
        }
        if placed.is_empty() {
            return builder.into_index_at(positions);
        }
        gone.sort_unstable();
        let mut next_gone = gone.iter().peekable();
        let mut at = 0;
        builder.rows.retain(|_| {
            let keep = next_gone.next_if_eq(&&at).is_none();
            at += 1;
            keep
        });
        placed.sort_unstable_by(list_order);
        merge_in(&mut builder.rows, &placed);
        builder.into_index()
    }
}

/// Merges `placed` (in list order) into `rows` (in list order), from the
/// back, in place: only the rows after the first one placed move.
fn merge_in(rows: &mut Vec<Row>, placed: &[Row]) {
    let Some(&filler) = placed.first() else {
        return;
    };
    let (mut kept, mut from) = (rows.len(), placed.len());
    rows.resize(kept + from, filler);
    let mut to = rows.len();
    while from > 0 {
        to -= 1;
        if kept > 0 && list_order(&rows[kept - 1], &placed[from - 1]).is_gt() {
            rows[to] = rows[kept - 1];
            kept -= 1;
        } else {
            rows[to] = placed[from - 1];
            from -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, rule: &'static str, path: &'static str) -> IndexEntry<'static> {
        IndexEntry {
            id,
            relevant_since: id * 10,
            project: if id % 2 == 0 { "acme/web" } else { "acme/api" },
            rule,
            path,
            message: "Possible SQL injection",
            git_ref: "main",
            line: id as u32,
            severity: Severity::High,
            status: Status::Open,
            triage_state: TriageState::Untriaged,
            verdict: None,
            component: "",
            risk: None,
            lifecycle: Lifecycle::Production,
            pending: id == 3,
        }
    }

    fn resolved(index: &FindingIndex) -> Vec<(i64, &str, &str, &str, &str, &str, bool)> {
        index
            .rows
            .iter()
            .map(|r| {
                (
                    r.id,
                    index.projects.get(r.project),
                    index.rules.get(r.rule),
                    index.paths.get(r.path),
                    index.messages.get(r.message),
                    index.refs.get(r.git_ref),
                    r.pending,
                )
            })
            .collect()
    }

    #[test]
    fn a_filter_key_holds_what_its_row_holds() {
        for i in 0..16usize {
            let mut e = entry(i as i64, "sqli", "a.py");
            e.severity = Severity::ALL[i % Severity::ALL.len()];
            e.status = Status::ALL[i % Status::ALL.len()];
            e.triage_state = TriageState::ALL[i % TriageState::ALL.len()];
            e.verdict = (i % 3 != 0).then(|| Verdict::ALL[i % Verdict::ALL.len()]);
            e.risk = (i % 2 == 0).then(|| ComponentRisk::ALL[i % ComponentRisk::ALL.len()]);
            e.lifecycle = Lifecycle::ALL[i % Lifecycle::ALL.len()];
            let mut b = IndexBuilder::default();
            b.push(e);
            let mut index = b.finish();
            let (row, key) = (index.rows[0], index.filter_keys()[0]);
            assert_eq!(kind_of(key.kind), RowKind::of(&row));
            assert_eq!(
                (key.project, key.rule, key.path, key.message),
                (row.project, row.rule, row.path, row.message)
            );
            // A decision made in place reaches the key.
            let state = TriageState::ALL[(i + 1) % TriageState::ALL.len()];
            index.decided(0, state, Status::ALL[0], true);
            assert_eq!(kind_of(index.filter_keys()[0].kind).triage_state, state);
        }
    }

    /// The kind numbered `code`.
    fn kind_of(code: u16) -> RowKind {
        RowKind::all().nth(code as usize).expect("a kind's code")
    }

    #[test]
    fn every_kind_has_its_own_code_in_order() {
        let codes: Vec<u16> = RowKind::all().map(RowKind::code).collect();
        assert_eq!(codes.len(), RowKind::COUNT);
        assert!(codes.iter().enumerate().all(|(i, &c)| c as usize == i));
        assert!(RowKind::COUNT <= usize::from(u16::MAX));
    }

    #[test]
    fn an_index_updated_in_place_is_the_index_built_again() {
        let rules = ["sqli", "xss", "ssrf"];
        let base = |id: i64| {
            let mut e = entry(id, rules[id as usize % 3], "a.py");
            e.relevant_since = id % 7;
            e.severity = Severity::ALL[id as usize % Severity::ALL.len()];
            e
        };
        let mut before = IndexBuilder::default();
        for id in 1..=300 {
            before.push(base(id));
        }
        let index = before.finish();
        // A decision (same place), findings seen again later (new places),
        // a new rule's finding and new findings.
        let change = |id: i64| {
            let mut e = base(id);
            match id % 3 {
                0 => e.pending = !e.pending,
                1 => e.relevant_since += 100,
                _ => e.severity = Severity::ALL[(id as usize + 1) % Severity::ALL.len()],
            }
            if id > 300 {
                e.rule = "path-traversal";
            }
            e
        };
        let changed_ids: Vec<i64> = (1..=300).step_by(17).chain(301..=310).collect();
        let mut changed = IndexBuilder::default();
        for &id in &changed_ids {
            changed.push(change(id));
        }
        let updated = index.updated(changed);
        let mut again = IndexBuilder::default();
        for id in 1..=310 {
            again.push(if changed_ids.contains(&id) {
                change(id)
            } else {
                base(id)
            });
        }
        let again = again.finish();
        assert_eq!(resolved(&updated), resolved(&again));
        for r in &updated.rows {
            assert_eq!(updated.rows[updated.position_of(r.id).unwrap()].id, r.id);
        }
    }

    #[test]
    fn appending_a_builder_is_pushing_its_findings() {
        let entries = [
            (1, "sqli", "a.py"),
            (2, "xss", "b.py"),
            (3, "sqli", "c.py"),
            (4, "ssrf", "a.py"),
            (5, "xss", "d.py"),
        ];
        let mut one = IndexBuilder::default();
        for &(id, rule, path) in &entries {
            one.push(entry(id, rule, path));
        }
        let (mut low, mut high) = (IndexBuilder::default(), IndexBuilder::default());
        for &(id, rule, path) in &entries {
            let half = if id <= 2 { &mut low } else { &mut high };
            half.push(entry(id, rule, path));
        }
        low.append(high);
        let (a, b) = (one.finish(), low.finish());
        assert_eq!(resolved(&a), resolved(&b));
        assert_eq!(b.rules.len(), 3, "strings stay interned once");
        assert_eq!(b.paths.len(), 4);
        for r in &b.rows {
            assert_eq!(b.rows[b.position_of(r.id).unwrap()].id, r.id);
        }
    }
}
