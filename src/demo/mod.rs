//! The demo backlog: the Semgrep findings of a fictional payments company, as a
//! Semgrep backend would hold them, Assistant verdicts and triage history included.
//!
//! The content (projects, rules, code, Assistant's texts, people, memories, a few
//! hand-picked findings) is hand-written in `assets/demo/catalog.json`. This module
//! expands it deterministically: the same `count` and `now` always give the same
//! backlog. Every finding is derived from its index alone, so a large backlog can
//! be generated and stored in chunks.

use crate::domain::{
    Activity, Assistant, CodeContext, Component, ComponentRisk, Confidence, DecisionContext,
    Finding, Guidance, Intent, Location, Memory, MemoryStage, Rule, RuleExplanation, RuleScope,
    ScanResults, ScanSource, ScanState, Scope, Severity, Status, TriageReason, TriageState,
    Verdict, resolve,
};
use crate::store::{ImportSummary, Store};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;
use time::{Duration, OffsetDateTime};

/// The demo backlog: one scan per (project, ref), and the organisation's memories.
#[derive(Debug, Clone)]
pub struct Demo {
    pub scans: Vec<ScanResults>,
    pub memories: Vec<Memory>,
}

/// Findings in the curated backlog (hand-picked ones included).
pub const CURATED_FINDINGS: usize = 180;

/// How many findings `seed` generates and stores per transaction.
const SEED_CHUNK: usize = 25_000;

const DAY: i64 = 86_400;

/// The curated demo backlog (`count = None`) or `n` generated findings
/// (`count = Some(n)`); deterministic for the same inputs. `now` anchors all
/// timestamps (findings from the last ~90 days).
pub fn generate(count: Option<usize>, now: OffsetDateTime) -> Demo {
    let w = world();
    let plan = Plan::new(w, count);
    let mut shas = ShaCache::default();
    let items = (0..plan.total)
        .map(|i| finding_at(w, &plan, i, now, &mut shas))
        .collect();
    Demo {
        scans: assemble(w, items),
        memories: memories(w, now),
    }
}

/// Generates and stores the demo backlog: `store.import` of its scans, then
/// `store.put_memory` for each memory. A large generated backlog is stored in
/// chunks of 25,000 findings, one transaction each, so memory stays bounded;
/// the summaries are merged to one per (project, ref).
pub fn seed(
    store: &mut Store,
    count: Option<usize>,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<ImportSummary>> {
    let w = world();
    let plan = Plan::new(w, count);
    let mut shas = ShaCache::default();
    let mut merged: Vec<ImportSummary> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    let mut start = 0;
    while start < plan.total || (start == 0 && plan.total == 0) {
        let end = (start + SEED_CHUNK).min(plan.total);
        let items = (start..end)
            .map(|i| finding_at(w, &plan, i, now, &mut shas))
            .collect();
        let scans = assemble(w, items);
        for s in store.import(&scans)? {
            match by_key.get(&(s.project.clone(), s.git_ref.clone())) {
                Some(&k) => {
                    let m = &mut merged[k];
                    m.new += s.new;
                    m.updated += s.updated;
                    m.fixed += s.fixed;
                    m.errors += s.errors;
                }
                None => {
                    by_key.insert((s.project.clone(), s.git_ref.clone()), merged.len());
                    merged.push(s);
                }
            }
        }
        if end == plan.total {
            break;
        }
        start = end;
    }
    for m in memories(w, now) {
        store.put_memory(&m)?;
    }
    Ok(merged)
}

// ---------------------------------------------------------------------------
// The catalog, as written in assets/demo/catalog.json.

const CATALOG_JSON: &str = include_str!("../../assets/demo/catalog.json");

#[derive(Deserialize)]
struct Catalog {
    #[allow(dead_code)]
    organisation: String,
    git_host: String,
    people: Vec<Person>,
    components: Vec<ComponentDef>,
    projects: Vec<ProjectDef>,
    rules: Vec<RuleDef>,
    memories: Vec<MemoryDef>,
    featured: Vec<FeaturedDef>,
    notes: Notes,
}

#[derive(Deserialize)]
struct Person {
    name: String,
    weight: u32,
    /// The projects this person triages; empty for all.
    #[serde(default)]
    projects: Vec<String>,
}

#[derive(Deserialize)]
struct ComponentDef {
    tag: String,
    risk: String,
}

#[derive(Deserialize)]
struct ProjectDef {
    name: String,
    primary_branch: String,
    pull_requests: Vec<u32>,
    weight: u32,
    areas: Vec<AreaDef>,
    files: Vec<String>,
}

#[derive(Deserialize)]
struct AreaDef {
    prefix: String,
    component: String,
}

#[derive(Deserialize)]
struct RuleDef {
    id: String,
    languages: Vec<String>,
    #[serde(default)]
    projects: Vec<String>,
    severity: String,
    confidence: String,
    fp_rate: f64,
    weight: u32,
    category: String,
    subcategories: Vec<String>,
    #[serde(default)]
    technologies: Vec<String>,
    message: String,
    vulnerability_classes: Vec<String>,
    cwe: Vec<String>,
    owasp: Vec<String>,
    references: Vec<String>,
    explanation: ExplanationDef,
    guidance: GuidanceDef,
    fp_reasons: Vec<String>,
    snippets: Vec<SnippetDef>,
}

#[derive(Deserialize, Clone)]
struct ExplanationDef {
    summary: String,
    explanation: String,
}

#[derive(Deserialize, Clone)]
struct GuidanceDef {
    summary: String,
    instructions: String,
}

#[derive(Deserialize)]
struct SnippetDef {
    lines: Vec<String>,
    /// First and last matched line, as indexes into `lines`.
    #[serde(rename = "match")]
    matched: [u32; 2],
    fix: String,
    /// Metavariable values filled into the rule's message.
    #[serde(default)]
    vars: BTreeMap<String, String>,
    /// For generic rules: the language of the file the snippet fits.
    #[serde(default)]
    lang: Option<String>,
    /// Which of the rule's false-positive reasons fit this snippet.
    #[serde(default)]
    fp: Vec<usize>,
    #[serde(default)]
    fp_rate: Option<f64>,
    /// Path prefixes the snippet may appear under.
    #[serde(default)]
    paths: Vec<String>,
    /// "tests" or "app": only in test code, or only outside it.
    #[serde(default, rename = "where")]
    place: Option<String>,
}

#[derive(Deserialize)]
struct MemoryDef {
    id: String,
    stage: String,
    guidance: bool,
    created_by: String,
    age_days: i64,
    updated_days: i64,
    projects: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    class: Option<String>,
    path_prefixes: Vec<String>,
    content: String,
}

#[derive(Deserialize)]
struct FeaturedDef {
    project: String,
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    also_on: Vec<String>,
    rule: String,
    #[serde(default)]
    snippet: Option<usize>,
    #[serde(default)]
    code: Option<SnippetDef>,
    #[serde(default)]
    message: Option<String>,
    path: String,
    line: u32,
    age_days: i64,
    verdict: Option<String>,
    #[serde(default)]
    reason: Option<usize>,
    #[serde(default)]
    reason_text: Option<String>,
    triage: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    triage_reason: Option<String>,
    #[serde(default)]
    activity: Vec<ActivityDef>,
}

#[derive(Deserialize)]
struct ActivityDef {
    who: String,
    days_ago: i64,
    action: String,
    note: Option<String>,
}

#[derive(Deserialize)]
struct Notes {
    agree: Vec<String>,
    disagree: Vec<String>,
    reject_tp: Vec<String>,
    acceptable_risk: Vec<String>,
    no_time: Vec<String>,
    duplicate: Vec<String>,
    fixing: Vec<String>,
    reviewing: Vec<String>,
    reopen: Vec<String>,
    comment: Vec<String>,
    test_fp: Vec<String>,
}

// ---------------------------------------------------------------------------
// The catalog, prepared once for fast expansion.

struct World {
    cat: Catalog,
    rules: Vec<PreparedRule>,
    projects: Vec<PreparedProject>,
    components: Vec<Component>,
    test_component: Option<usize>,
    /// For each rule, the projects it can appear in.
    rule_projects: Vec<Vec<usize>>,
    /// Cumulative project weights.
    project_weights: Vec<u32>,
    /// Per project, who triages there: people indexes and cumulative weights.
    triagers: Vec<(Vec<usize>, Vec<u32>)>,
    /// The hand-picked findings, each once per ref it is on.
    featured: Vec<(usize, String)>,
}

struct PreparedRule {
    template: Rule,
    severity: Severity,
    confidence: Confidence,
    fp_rate: f64,
    snippets: Vec<PreparedSnippet>,
}

struct PreparedSnippet {
    message: String,
    lines: Vec<String>,
    first: u32,
    last: u32,
    column: u32,
    end_column: u32,
    fix: String,
    fp: Vec<usize>,
    fp_rate: Option<f64>,
}

struct PreparedProject {
    url: String,
    files: Vec<PreparedFile>,
    /// Rules that can appear here, with the files and snippets that fit.
    choices: Vec<RuleChoice>,
    /// Cumulative rule weights over `choices`.
    choice_weights: Vec<u32>,
    max_pr: u32,
}

struct PreparedFile {
    path: String,
    lang: &'static str,
    is_test: bool,
}

struct RuleChoice {
    rule: usize,
    /// (file, fitting snippets)
    files: Vec<(usize, Vec<usize>)>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let cat: Catalog =
            serde_json::from_str(CATALOG_JSON).expect("assets/demo/catalog.json is malformed");
        World::prepare(cat)
    })
}

impl World {
    fn prepare(cat: Catalog) -> World {
        let components: Vec<Component> = cat
            .components
            .iter()
            .map(|c| Component {
                tag: c.tag.clone(),
                risk: ComponentRisk::parse(&c.risk),
            })
            .collect();
        let test_component = components.iter().position(|c| c.tag == "test fixtures");
        let rules: Vec<PreparedRule> = cat.rules.iter().map(prepare_rule).collect();
        let mut projects = Vec::new();
        let mut rule_projects = vec![Vec::new(); rules.len()];
        for (pi, p) in cat.projects.iter().enumerate() {
            let files: Vec<PreparedFile> = p
                .files
                .iter()
                .map(|path| PreparedFile {
                    path: path.clone(),
                    lang: lang_of(path),
                    is_test: is_test_path(path),
                })
                .collect();
            let mut choices = Vec::new();
            for (ri, r) in cat.rules.iter().enumerate() {
                if !r.projects.is_empty() && !r.projects.contains(&p.name) {
                    continue;
                }
                let fitting: Vec<(usize, Vec<usize>)> = files
                    .iter()
                    .enumerate()
                    .filter_map(|(fi, f)| {
                        let snippets: Vec<usize> = (0..r.snippets.len())
                            .filter(|&si| snippet_fits(r, &r.snippets[si], f))
                            .collect();
                        (!snippets.is_empty()).then_some((fi, snippets))
                    })
                    .collect();
                if !fitting.is_empty() {
                    choices.push(RuleChoice {
                        rule: ri,
                        files: fitting,
                    });
                    rule_projects[ri].push(pi);
                }
            }
            let choice_weights =
                cumulative(choices.iter().map(|c| cat.rules[c.rule].weight.max(1)));
            projects.push(PreparedProject {
                url: format!("{}/{}", cat.git_host.trim_end_matches('/'), p.name),
                files,
                choices,
                choice_weights,
                max_pr: p.pull_requests.iter().copied().max().unwrap_or(1),
            });
        }
        let project_weights = cumulative(cat.projects.iter().map(|p| p.weight.max(1)));
        let triagers = cat
            .projects
            .iter()
            .map(|p| {
                let who: Vec<usize> = (0..cat.people.len())
                    .filter(|&i| {
                        let scope = &cat.people[i].projects;
                        scope.is_empty() || scope.contains(&p.name)
                    })
                    .collect();
                let weights = cumulative(who.iter().map(|&i| cat.people[i].weight.max(1)));
                (who, weights)
            })
            .collect();
        let mut featured = Vec::new();
        for (k, f) in cat.featured.iter().enumerate() {
            featured.push((k, f.git_ref.clone()));
            for r in &f.also_on {
                featured.push((k, r.clone()));
            }
        }
        World {
            cat,
            rules,
            projects,
            components,
            test_component,
            rule_projects,
            project_weights,
            triagers,
            featured,
        }
    }

    fn component_for(&self, project: usize, path: &str) -> Option<usize> {
        if is_test_path(path) {
            return self.test_component;
        }
        let tag = self.cat.projects[project]
            .areas
            .iter()
            .filter(|a| path.starts_with(a.prefix.as_str()))
            .max_by_key(|a| a.prefix.len())?
            .component
            .as_str();
        self.components.iter().position(|c| c.tag == tag)
    }

    /// Someone who triages findings of `project`.
    fn person<'a>(&'a self, project: usize, rng: &mut Rng) -> &'a str {
        let (who, weights) = &self.triagers[project];
        match who.get(rng.weighted(weights)) {
            Some(&i) => &self.cat.people[i].name,
            None => "Security team",
        }
    }

    fn project_index(&self, name: &str) -> usize {
        self.cat
            .projects
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("demo catalog: unknown project {name}"))
    }

    fn rule_index(&self, id: &str) -> usize {
        self.cat
            .rules
            .iter()
            .position(|r| r.id == id)
            .unwrap_or_else(|| panic!("demo catalog: unknown rule {id}"))
    }
}

fn prepare_rule(r: &RuleDef) -> PreparedRule {
    let confidence = Confidence::parse(&r.confidence).unwrap_or(Confidence::Medium);
    PreparedRule {
        template: Rule {
            name: r.id.clone(),
            message: r.message.clone(),
            category: Some(r.category.clone()),
            confidence: Some(confidence),
            subcategories: r.subcategories.clone(),
            vulnerability_classes: r.vulnerability_classes.clone(),
            cwe_names: r.cwe.clone(),
            owasp_names: r.owasp.clone(),
            references: r.references.clone(),
            technologies: r.technologies.clone(),
        },
        severity: Severity::parse(&r.severity).unwrap_or(Severity::Medium),
        confidence,
        fp_rate: r.fp_rate,
        snippets: r
            .snippets
            .iter()
            .map(|s| prepare_snippet(&r.message, s))
            .collect(),
    }
}

fn prepare_snippet(message: &str, s: &SnippetDef) -> PreparedSnippet {
    let last_index = s.lines.len().saturating_sub(1) as u32;
    let first = s.matched[0].min(last_index);
    let last = s.matched[1].clamp(first, last_index);
    let first_line = s.lines.get(first as usize).map_or("", String::as_str);
    let last_line = s.lines.get(last as usize).map_or("", String::as_str);
    let mut filled = message.to_string();
    for (var, value) in &s.vars {
        filled = filled.replace(var.as_str(), value);
    }
    PreparedSnippet {
        message: filled,
        lines: s.lines.clone(),
        first,
        last,
        column: first_line.chars().take_while(|c| c.is_whitespace()).count() as u32 + 1,
        end_column: last_line.chars().count() as u32 + 1,
        fix: s.fix.clone(),
        fp: s.fp.clone(),
        fp_rate: s.fp_rate,
    }
}

fn snippet_fits(rule: &RuleDef, s: &SnippetDef, f: &PreparedFile) -> bool {
    let lang_ok = if rule.languages.iter().any(|l| l == "generic") {
        s.lang.as_deref().unwrap_or("generic") == f.lang
    } else {
        rule.languages.iter().any(|l| l == f.lang) && s.lang.as_deref().is_none_or(|l| l == f.lang)
    };
    let path_ok = s.paths.is_empty() || s.paths.iter().any(|p| f.path.starts_with(p.as_str()));
    let place_ok = match s.place.as_deref() {
        Some("tests") => f.is_test,
        Some("app") => !f.is_test,
        _ => true,
    };
    lang_ok && path_ok && place_ok
}

/// The language Semgrep would scan a file as, from its name.
fn lang_of(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "Dockerfile" {
        return "dockerfile";
    }
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("py") => "python",
        Some("ts" | "tsx") => "typescript",
        Some("js" | "jsx") => "javascript",
        Some("go") => "go",
        Some("java") => "java",
        Some("tf") => "terraform",
        _ => "generic",
    }
}

fn is_test_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    ["tests/", "testdata/", "src/test/", "src/mocks/"]
        .iter()
        .any(|p| path.starts_with(p))
        || ["/tests/", "/testdata/", "/__tests__/"]
            .iter()
            .any(|p| path.contains(p))
        || name.starts_with("test_")
        || name == "conftest.py"
        || name.ends_with("_test.go")
        || name.contains(".test.")
        || name.contains(".spec.")
        || name.ends_with("Test.java")
}

fn cumulative(weights: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut total = 0;
    weights
        .map(|w| {
            total += w;
            total
        })
        .collect()
}

// ---------------------------------------------------------------------------
// A tiny deterministic PRNG (splitmix64).

struct Rng(u64);

impl Rng {
    /// The generator for one finding: independent of every other index.
    fn at(seed: u64, index: u64) -> Rng {
        Rng(mix(seed ^ mix(index.wrapping_add(0x632B_E59B_D9B4_E019))))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index into the cumulative weights.
    fn weighted(&mut self, cumulative: &[u32]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0) as u64;
        let x = self.below(total) as u32;
        cumulative.partition_point(|&c| c <= x)
    }

    /// `words` random 64-bit words in hex, then `suffix`.
    fn hex(&mut self, words: usize, suffix: &str) -> String {
        let mut s = String::with_capacity(words * 16 + suffix.len());
        for _ in 0..words {
            let _ = write!(s, "{:016x}", self.next_u64());
        }
        s.push_str(suffix);
        s
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------
// Expansion.

/// What to generate: how many findings, and how.
struct Plan {
    total: usize,
    /// Curated: catalog paths and pull requests only, every rule at least once.
    curated: bool,
    seed: u64,
    /// The highest pull-request number a generated ref gets (per project at least
    /// the catalog's own).
    pr_pool: u32,
}

impl Plan {
    fn new(w: &World, count: Option<usize>) -> Plan {
        match count {
            None => Plan {
                total: CURATED_FINDINGS.max(w.featured.len()),
                curated: true,
                seed: 0x1A2C_5EED_0000_0001,
                pr_pool: 0,
            },
            Some(n) => Plan {
                total: n,
                curated: false,
                seed: 0x1A2C_5EED_0000_0002,
                pr_pool: u32::try_from(n / 50).unwrap_or(u32::MAX),
            },
        }
    }
}

/// The key of the scan a finding belongs to: project, and PR number (None for
/// the primary branch).
type ScanKey = (usize, Option<u32>);

/// Commit hashes per scan, computed once.
#[derive(Default)]
struct ShaCache(HashMap<ScanKey, String>);

impl ShaCache {
    fn get(&mut self, w: &World, key: ScanKey) -> &str {
        self.0.entry(key).or_insert_with(|| {
            let p = &w.cat.projects[key.0];
            let digest = Sha256::digest(format!("{}@{}", p.name, ref_name(w, key)).as_bytes());
            digest[..20]
                .iter()
                .fold(String::with_capacity(40), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                })
        })
    }
}

fn ref_name(w: &World, key: ScanKey) -> String {
    match key.1 {
        Some(n) => format!("refs/pull/{n}/merge"),
        None => w.cat.projects[key.0].primary_branch.clone(),
    }
}

fn code_url(w: &World, shas: &mut ShaCache, key: ScanKey, path: &str, line: u32) -> String {
    let url = &w.projects[key.0].url;
    let sha = shas.get(w, key);
    format!("{url}/blob/{sha}/{path}#L{line}")
}

fn finding_at(
    w: &World,
    plan: &Plan,
    i: usize,
    now: OffsetDateTime,
    shas: &mut ShaCache,
) -> (ScanKey, Finding) {
    let featured = w.featured.len().min(plan.total);
    if i < featured {
        return featured_finding(w, i, now, shas);
    }
    let (key, f) = procedural(w, plan, i, now, shas);
    // Now and then a finding on a pull request is one that is also on the primary
    // branch: the previous finding, same identity. Only i copies i - 1, so no
    // identity appears twice on one ref.
    if key.1.is_some() && i > featured {
        let mut rng = Rng::at(plan.seed ^ 0xC0FF_EE00, i as u64);
        if rng.chance(0.12) {
            let (prev_key, mut prev) = procedural(w, plan, i - 1, now, shas);
            if prev_key.1.is_none() {
                let pr_key = (prev_key.0, Some(pick_pr(w, plan, prev_key.0, &mut rng)));
                prev.git_ref = ref_name(w, pr_key);
                prev.line_of_code_url = Some(code_url(
                    w,
                    shas,
                    pr_key,
                    &prev.location.path,
                    prev.location.line,
                ));
                return (pr_key, prev);
            }
        }
    }
    (key, f)
}

fn pick_pr(w: &World, plan: &Plan, project: usize, rng: &mut Rng) -> u32 {
    let prs = &w.cat.projects[project].pull_requests;
    if plan.curated || prs.is_empty() {
        return prs.get(rng.index(prs.len())).copied().unwrap_or(1);
    }
    let top = w.projects[project].max_pr.max(plan.pr_pool);
    1 + rng.below(top as u64) as u32
}

/// Finding `i` from its own generator, without the copy rule.
fn procedural(
    w: &World,
    plan: &Plan,
    i: usize,
    now: OffsetDateTime,
    shas: &mut ShaCache,
) -> (ScanKey, Finding) {
    let mut rng = Rng::at(plan.seed, i as u64);
    let k = i - w.featured.len().min(plan.total);
    // Where: project, rule, file, snippet.
    let (p, rule) = if plan.curated && k < w.rules.len() && !w.rule_projects[k].is_empty() {
        (*rng.pick(&w.rule_projects[k]), k)
    } else {
        let p = rng.weighted(&w.project_weights);
        let proj = &w.projects[p];
        (p, proj.choices[rng.weighted(&proj.choice_weights)].rule)
    };
    let proj = &w.projects[p];
    let choice = proj
        .choices
        .iter()
        .find(|c| c.rule == rule)
        .expect("a rule is only picked for a project it fits");
    let (file, snippets) = rng.pick(&choice.files);
    let si = *rng.pick(snippets);
    let file = &proj.files[*file];
    let path = if !plan.curated && rng.chance(0.85) {
        vary_path(&file.path, &mut rng)
    } else {
        file.path.clone()
    };
    let r = &w.rules[rule];
    let snippet = &r.snippets[si];
    let line = snippet.first + 6 + rng.below(if plan.curated { 320 } else { 900 }) as u32;
    let on_pr = rng.chance(0.45);
    let key = (p, on_pr.then(|| pick_pr(w, plan, p, &mut rng)));
    let age = if on_pr {
        600 + rng.below(21 * DAY as u64) as i64
    } else {
        3_600 + rng.below(89 * DAY as u64) as i64
    };
    let created_at = now - Duration::seconds(age);

    // What Assistant said.
    let component = w.component_for(p, &path);
    let risk = component.and_then(|c| w.components[c].risk);
    let is_test = is_test_path(&path);
    let analysed = match r.severity {
        Severity::Critical | Severity::High => 0.92,
        Severity::Medium => 0.8,
        Severity::Low => 0.62,
    };
    let verdict = rng.chance(analysed).then(|| {
        let base = snippet.fp_rate.unwrap_or(r.fp_rate);
        let p_fp = if is_test {
            base.max(0.92)
        } else {
            match risk {
                Some(ComponentRisk::High) => base * 0.8,
                Some(ComponentRisk::Low) => base + (1.0 - base) * 0.4,
                _ => base,
            }
        };
        if rng.chance(p_fp) {
            Verdict::FalsePositive
        } else {
            Verdict::TruePositive
        }
    });
    let reason = match verdict {
        Some(Verdict::FalsePositive) => {
            let rule_def = &w.cat.rules[rule];
            if is_test && rng.chance(0.6) {
                rng.pick(&w.cat.notes.test_fp).clone()
            } else if snippet.fp.is_empty() {
                rng.pick(&rule_def.fp_reasons).clone()
            } else {
                rule_def.fp_reasons[*rng.pick(&snippet.fp)].clone()
            }
        }
        _ => String::new(),
    };

    // What people did.
    let decision = decide(w, &mut rng, verdict, &reason, &key, created_at, now);

    let mut f = Finding {
        id: 0,
        project: w.cat.projects[p].name.clone(),
        repository_url: Some(proj.url.clone()),
        git_ref: ref_name(w, key),
        match_based_id: rng.hex(4, "_0"),
        syntactic_id: Some(rng.hex(2, "")),
        rule: r.template.clone(),
        message: snippet.message.clone(),
        severity: r.severity,
        confidence: Some(r.confidence),
        location: Location::default(),
        line_of_code_url: None,
        state: decision.state,
        triage_state: decision.triage,
        triage_reason: decision.reason,
        triage_comment: decision.comment,
        triaged_at: decision.at,
        created_at,
        relevant_since: created_at,
        assistant: assistant(w, rule, snippet, verdict, reason, component),
        rule_fix: None,
        platform: Default::default(),
        code: None,
        activity: decision.activity,
    };
    place(w, shas, key, &mut f, path, line, snippet);
    (key, f)
}

/// Sets location, code context and link for a snippet matched at `line`.
fn place(
    w: &World,
    shas: &mut ShaCache,
    key: ScanKey,
    f: &mut Finding,
    path: String,
    line: u32,
    s: &PreparedSnippet,
) {
    let line = line.max(s.first + 1);
    f.line_of_code_url = Some(code_url(w, shas, key, &path, line));
    f.location = Location {
        path,
        line,
        column: s.column,
        end_line: line + (s.last - s.first),
        end_column: s.end_column,
    };
    f.code = Some(CodeContext {
        start_line: line - s.first,
        lines: s.lines.clone(),
    });
}

fn assistant(
    w: &World,
    rule: usize,
    s: &PreparedSnippet,
    verdict: Option<Verdict>,
    reason: String,
    component: Option<usize>,
) -> Option<Assistant> {
    let verdict = verdict?;
    let component = component.map(|c| w.components[c].clone());
    let def = &w.cat.rules[rule];
    Some(match verdict {
        Verdict::TruePositive => Assistant {
            verdict: Some(verdict),
            verdict_reason: String::new(),
            autofix_code: Some(s.fix.clone()),
            guidance: Some(Guidance {
                summary: def.guidance.summary.clone(),
                instructions: def.guidance.instructions.clone(),
            }),
            component,
            rule_explanation: Some(RuleExplanation {
                summary: def.explanation.summary.clone(),
                explanation: def.explanation.explanation.clone(),
            }),
        },
        Verdict::FalsePositive => Assistant {
            verdict: Some(verdict),
            verdict_reason: reason,
            autofix_code: None,
            guidance: None,
            component,
            rule_explanation: None,
        },
    })
}

struct Decision {
    state: ScanState,
    triage: TriageState,
    reason: Option<TriageReason>,
    comment: Option<String>,
    at: Option<OffsetDateTime>,
    activity: Vec<Activity>,
}

#[derive(Clone, Copy)]
enum Outcome {
    Open,
    ProvisionallyIgnored,
    AgreeIgnore,
    DisagreeFix,
    Review,
    Fix,
    Ignore(TriageReason),
    RejectVerdict,
    Fixed,
    Reopened,
}

/// A triage history consistent with the verdict.
fn decide(
    w: &World,
    rng: &mut Rng,
    verdict: Option<Verdict>,
    reason: &str,
    key: &ScanKey,
    created_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Decision {
    use Outcome::*;
    use TriageReason as R;
    let table: &[(Outcome, u32)] = match verdict {
        Some(Verdict::FalsePositive) => &[
            (ProvisionallyIgnored, 58),
            (AgreeIgnore, 22),
            (Open, 6),
            (DisagreeFix, 6),
            (Review, 5),
            (Fixed, 2),
            (Ignore(R::Duplicate), 1),
        ],
        Some(Verdict::TruePositive) => &[
            (Open, 48),
            (Fix, 20),
            (Review, 10),
            (Ignore(R::AcceptableRisk), 4),
            (Ignore(R::NoTime), 2),
            (Ignore(R::Duplicate), 2),
            (RejectVerdict, 3),
            (Fixed, 7),
            (Reopened, 4),
        ],
        None => &[
            (Open, 62),
            (Review, 8),
            (Fix, 10),
            (Ignore(R::AcceptableRisk), 4),
            (Ignore(R::NoTime), 2),
            (Ignore(R::Duplicate), 1),
            (RejectVerdict, 5),
            (Fixed, 8),
        ],
    };
    let total: u32 = table.iter().map(|t| t.1).sum();
    let mut x = rng.below(total as u64) as u32;
    let mut outcome = Open;
    for &(o, weight) in table {
        if x < weight {
            outcome = o;
            break;
        }
        x -= weight;
    }
    let notes = &w.cat.notes;
    let mut d = Decision {
        state: ScanState::Unresolved,
        triage: TriageState::Untriaged,
        reason: None,
        comment: None,
        at: None,
        activity: Vec::new(),
    };
    let mut t = created_at;
    let mut step = |rng: &mut Rng| {
        t = later(rng, t, now);
        t
    };
    // Each step is a reviewer's intent, resolved by the decision rules as
    // the console and `sift triage` resolve it.
    let mut decide = |d: &mut Decision, rng: &mut Rng, intent: Intent| {
        let at = step(rng);
        let who = w.person(key.0, rng).to_string();
        apply(d, at, &who, &intent, verdict, reason);
    };
    let set_state = |state, reason: Option<R>, note: Option<String>| Intent::SetState {
        state,
        reason,
        note,
    };
    match outcome {
        Open => {
            if rng.chance(0.12) {
                let note = rng.pick(&notes.comment).clone();
                decide(&mut d, rng, Intent::Note(note));
            }
        }
        ProvisionallyIgnored => d.triage = TriageState::ProvisionallyIgnored,
        AgreeIgnore => {
            let comment = rng.chance(0.3).then(|| rng.pick(&notes.agree).clone());
            decide(&mut d, rng, Intent::Accept { comment });
        }
        DisagreeFix => {
            let comment = Some(rng.pick(&notes.disagree).clone());
            decide(
                &mut d,
                rng,
                Intent::Reject {
                    reason: None,
                    comment,
                },
            );
        }
        Review => {
            let note = rng.chance(0.8).then(|| rng.pick(&notes.reviewing).clone());
            decide(&mut d, rng, set_state(TriageState::Reviewing, None, note));
        }
        Fix => {
            let note = rng.chance(0.7).then(|| rng.pick(&notes.fixing).clone());
            decide(&mut d, rng, set_state(TriageState::Fixing, None, note));
        }
        Ignore(reason) => {
            let pool = match reason {
                R::AcceptableRisk => &notes.acceptable_risk,
                R::NoTime => &notes.no_time,
                _ => &notes.duplicate,
            };
            let note = Some(rng.pick(pool).clone());
            decide(
                &mut d,
                rng,
                set_state(TriageState::Ignored, Some(reason), note),
            );
        }
        RejectVerdict => {
            let text = rng.pick(&notes.reject_tp).clone();
            let intent = match verdict {
                Some(_) => Intent::Reject {
                    reason: Some(R::FalsePositive),
                    comment: Some(text),
                },
                None => set_state(TriageState::Ignored, Some(R::FalsePositive), Some(text)),
            };
            decide(&mut d, rng, intent);
        }
        Fixed => {
            if rng.chance(0.6) {
                let note = rng.chance(0.7).then(|| rng.pick(&notes.fixing).clone());
                decide(&mut d, rng, set_state(TriageState::Fixing, None, note));
            }
            let at = step(rng);
            d.state = ScanState::Fixed;
            d.activity.push(Activity {
                at,
                actor: "scan".into(),
                action: "fixed: no longer reported".into(),
                note: Some(format!("CI scan of {}", ref_name(w, *key))),
                pending: false,
            });
        }
        Reopened => {
            let note = Some(rng.pick(&notes.acceptable_risk).clone());
            decide(
                &mut d,
                rng,
                set_state(TriageState::Ignored, Some(R::AcceptableRisk), note),
            );
            let note = Some(rng.pick(&notes.reopen).clone());
            decide(&mut d, rng, set_state(TriageState::Reopened, None, note));
        }
    }
    d
}

/// A reviewer's decision, as the decision rules resolve it and the backend
/// records it (state, reason, note and the history's wording).
fn apply(
    d: &mut Decision,
    at: OffsetDateTime,
    actor: &str,
    intent: &Intent,
    verdict: Option<Verdict>,
    verdict_reason: &str,
) {
    let context = DecisionContext {
        status: Status::derive(d.state, d.triage),
        triage_state: d.triage,
        verdict,
        verdict_reason,
    };
    let Ok(change) = resolve(intent, context) else {
        return; // a decision the rules refuse leaves no trace, as in sift
    };
    if let Some(state) = change.state {
        d.triage = state;
        d.reason = change.reason;
        d.at = Some(at);
        if change.note.is_some() {
            d.comment = change.note.clone();
        }
    }
    d.activity.push(Activity {
        at,
        actor: actor.to_string(),
        action: change.activity(),
        note: change.note,
        pending: false,
    });
}

/// A moment between `from` and `now`: usually within a few days of `from`.
fn later(rng: &mut Rng, from: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
    let room = (now - from).whole_seconds().max(2);
    let span = room.min(if rng.chance(0.7) { 3 * DAY } else { 20 * DAY });
    let offset = (span / 20).max(1) + rng.below((span - span / 20).max(1) as u64) as i64;
    from + Duration::seconds(offset.min(room - 1))
}

/// A sibling of `path`: same directory and naming style, another module name.
fn vary_path(path: &str, rng: &mut Rng) -> String {
    const WORDS: &[&str] = &[
        "refunds",
        "chargebacks",
        "payout_batches",
        "ledger_entries",
        "statements",
        "invoices",
        "fees",
        "fx_rates",
        "merchants",
        "accounts",
        "balances",
        "disputes",
        "transfers",
        "settlements",
        "reconciliation",
        "webhooks",
        "api_keys",
        "sessions",
        "audit_log",
        "exports",
        "imports",
        "notifications",
        "limits",
        "risk_scores",
        "devices",
        "cards",
        "mandates",
        "payment_links",
        "subscriptions",
        "tax_reports",
        "partners",
        "bank_files",
        "schedules",
        "retries",
        "holds",
        "reserves",
        "adjustments",
        "onboarding",
        "kyc_checks",
        "pricing",
        "receipts",
        "search",
        "filters",
        "reports",
        "metrics",
        "health",
        "admin",
        "migrations",
    ];
    const SUBDIRS: &[&str] = &[
        "",
        "",
        "",
        "",
        "v2/",
        "legacy/",
        "internal/",
        "handlers/",
        "jobs/",
        "services/",
    ];
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", path),
    };
    let lang = lang_of(name);
    if !matches!(lang, "python" | "typescript" | "javascript" | "go" | "java") {
        return path.to_string();
    }
    let (stem, ext) = name.split_once('.').unwrap_or((name, ""));
    let word = *rng.pick(WORDS);
    let sub = *rng.pick(SUBDIRS);
    let styled = match lang {
        "java" => {
            // Keep the class-name suffix: ScoreController -> RefundsController.
            match stem.rfind(|c: char| c.is_ascii_uppercase()) {
                Some(split) if split > 0 => format!("{}{}", pascal(word), &stem[split..]),
                _ => pascal(word),
            }
        }
        "typescript" | "javascript" if name.ends_with("x") => pascal(word),
        "typescript" | "javascript" => camel(word),
        _ if stem.starts_with("test_") => format!("test_{word}"),
        _ if stem.ends_with("_test") => format!("{word}_test"),
        _ => word.to_string(),
    };
    let dir = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    if ext.is_empty() {
        format!("{dir}{sub}{styled}")
    } else {
        format!("{dir}{sub}{styled}.{ext}")
    }
}

fn pascal(word: &str) -> String {
    word.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn camel(word: &str) -> String {
    let p = pascal(word);
    let mut c = p.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// One of the hand-picked findings of the catalog.
fn featured_finding(
    w: &World,
    i: usize,
    now: OffsetDateTime,
    shas: &mut ShaCache,
) -> (ScanKey, Finding) {
    let (k, git_ref) = &w.featured[i];
    let def = &w.cat.featured[*k];
    let p = w.project_index(&def.project);
    let rule = w.rule_index(&def.rule);
    let r = &w.rules[rule];
    let rule_def = &w.cat.rules[rule];
    let inline;
    let snippet = match (&def.code, def.snippet) {
        (Some(code), _) => {
            inline = prepare_snippet(&rule_def.message, code);
            &inline
        }
        (None, Some(s)) => &r.snippets[s],
        (None, None) => &r.snippets[0],
    };
    let key: ScanKey = if *git_ref == w.cat.projects[p].primary_branch {
        (p, None)
    } else {
        let n = git_ref
            .strip_prefix("refs/pull/")
            .and_then(|r| r.strip_suffix("/merge"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("demo catalog: unsupported ref {git_ref}"));
        (p, Some(n))
    };
    let mut rng = Rng::at(0xFEA7_04ED, *k as u64);
    let hours = |rng: &mut Rng| Duration::minutes(rng.below(8 * 60) as i64);
    let created_at = now - Duration::days(def.age_days) - hours(&mut rng);
    let verdict = def.verdict.as_deref().and_then(Verdict::parse);
    let reason = match verdict {
        Some(Verdict::FalsePositive) => def.reason_text.clone().unwrap_or_else(|| {
            rule_def.fp_reasons[def.reason.unwrap_or(0).min(rule_def.fp_reasons.len() - 1)].clone()
        }),
        _ => String::new(),
    };
    // The hand-written history, through the decision rules.
    let mut d = Decision {
        state: ScanState::Unresolved,
        triage: TriageState::Untriaged,
        reason: None,
        comment: None,
        at: None,
        activity: Vec::new(),
    };
    for a in &def.activity {
        let at = (now - Duration::days(a.days_ago) + hours(&mut rng)).min(now);
        match intent_of(&a.action, a.note.clone()) {
            Some(intent) => apply(&mut d, at, &a.who, &intent, verdict, &reason),
            None => d.activity.push(Activity {
                at,
                actor: a.who.clone(),
                action: a.action.clone(),
                note: a.note.clone(),
                pending: false,
            }),
        }
    }
    let component = w.component_for(p, &def.path);
    let mut f = Finding {
        id: 0,
        project: def.project.clone(),
        repository_url: Some(w.projects[p].url.clone()),
        git_ref: git_ref.clone(),
        match_based_id: rng.hex(4, "_0"),
        syntactic_id: Some(rng.hex(2, "")),
        rule: r.template.clone(),
        message: def
            .message
            .clone()
            .unwrap_or_else(|| snippet.message.clone()),
        severity: r.severity,
        confidence: Some(r.confidence),
        location: Location::default(),
        line_of_code_url: None,
        state: def
            .state
            .as_deref()
            .and_then(ScanState::parse)
            .unwrap_or(ScanState::Unresolved),
        triage_state: TriageState::parse(&def.triage).unwrap_or(d.triage),
        triage_reason: def
            .triage_reason
            .as_deref()
            .and_then(TriageReason::parse)
            .or(d.reason),
        triage_comment: d.comment,
        triaged_at: d.at,
        created_at,
        relevant_since: created_at,
        assistant: assistant(w, rule, snippet, verdict, reason, component),
        rule_fix: None,
        platform: Default::default(),
        code: None,
        activity: d.activity,
    };
    place(w, shas, key, &mut f, def.path.clone(), def.line, snippet);
    (key, f)
}

/// The reviewer's intent behind a hand-written history line ("set to
/// ignored (false positive)", "set to reviewing", "note"); none for what a
/// scan did.
fn intent_of(action: &str, note: Option<String>) -> Option<Intent> {
    if action == "note" {
        return note.map(Intent::Note);
    }
    let rest = action.strip_prefix("set to ")?;
    let (state, reason) = match rest.split_once(" (") {
        Some((state, reason)) => {
            let reason = reason.trim_end_matches(')').replace(' ', "_");
            (state, TriageReason::parse(&reason))
        }
        None => (rest, None),
    };
    let state = match state {
        "fix" | "fixing" => TriageState::Fixing,
        other => TriageState::parse(other)?,
    };
    Some(Intent::SetState {
        state,
        reason,
        note,
    })
}

/// One scan per (project, ref): the primary branch first, then pull requests.
fn assemble(w: &World, items: Vec<(ScanKey, Finding)>) -> Vec<ScanResults> {
    // In identity order within a scan, so the store's index grows in order; the
    // findings are moved once (moving them is a large part of the cost).
    let mut order: Vec<(ScanKey, &str, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, (key, f))| (*key, f.match_based_id.as_str(), i))
        .collect();
    order.sort_unstable();
    let order: Vec<(ScanKey, usize)> = order.into_iter().map(|(k, _, i)| (k, i)).collect();
    let mut slots: Vec<Option<Finding>> = items.into_iter().map(|(_, f)| Some(f)).collect();
    let mut groups: BTreeMap<ScanKey, Vec<Finding>> = BTreeMap::new();
    for run in order.chunk_by(|a, b| a.0 == b.0) {
        groups.insert(run[0].0, Vec::with_capacity(run.len()));
    }
    for (key, i) in order {
        if let Some(f) = slots[i].take() {
            groups.entry(key).or_default().push(f);
        }
    }
    // The store takes a project's first scan's ref as its primary branch.
    let with_prs: Vec<usize> = groups.keys().map(|k| k.0).collect();
    for p in with_prs {
        groups.entry((p, None)).or_default();
    }
    groups
        .into_iter()
        .map(|(key, findings)| {
            let name = &w.cat.projects[key.0].name;
            let git_ref = ref_name(w, key);
            ScanResults {
                origin: format!("demo backlog: {name} {git_ref}"),
                source: ScanSource::Platform,
                project: name.clone(),
                repository_url: Some(w.projects[key.0].url.clone()),
                git_ref,
                findings,
                identities: Vec::new(),
                errors: Vec::new(),
                warnings: Vec::new(),
            }
        })
        .collect()
}

fn memories(w: &World, now: OffsetDateTime) -> Vec<Memory> {
    w.cat
        .memories
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let minutes = Duration::minutes(((i as i64) * 137) % 480);
            let created_at = now - Duration::days(m.age_days) - minutes;
            let updated_at = (now - Duration::days(m.updated_days) - minutes).max(created_at);
            let rules = if let Some(class) = &m.class {
                RuleScope::Class(class.clone())
            } else if m.rules.is_empty() {
                RuleScope::All
            } else {
                RuleScope::Rules(m.rules.clone())
            };
            Memory {
                id: m.id.clone(),
                content: m.content.clone(),
                scope: Scope {
                    projects: m.projects.clone(),
                    rules,
                    path_prefixes: m.path_prefixes.clone(),
                },
                stage: MemoryStage::parse(&m.stage).unwrap_or(MemoryStage::Suggested),
                guidance: m.guidance,
                created_by: m.created_by.clone(),
                created_at,
                updated_at,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_snippet_has_a_place() {
        let w = world();
        for (ri, r) in w.cat.rules.iter().enumerate() {
            assert!(
                !w.rule_projects[ri].is_empty(),
                "rule {} fits no project",
                r.id
            );
            for (si, s) in r.snippets.iter().enumerate() {
                let placed = w.projects.iter().any(|p| {
                    p.choices
                        .iter()
                        .any(|c| c.rule == ri && c.files.iter().any(|f| f.1.contains(&si)))
                });
                assert!(placed, "snippet {si} of {} fits no file", r.id);
                assert!(s.matched[0] <= s.matched[1] && (s.matched[1] as usize) < s.lines.len());
                assert!(s.fp.iter().all(|&k| k < r.fp_reasons.len()), "{}", r.id);
            }
        }
    }

    #[test]
    fn sibling_paths_keep_directory_and_style() {
        let mut rng = Rng::at(1, 2);
        for path in [
            "src/main/java/com/larkspur/risk/api/ScoreController.java",
            "internal/bankfile/sftp_test.go",
            "src/features/payments/RefundDialog.tsx",
            "tests/payments/test_refunds.py",
        ] {
            for _ in 0..20 {
                let v = vary_path(path, &mut rng);
                let dir = path.rsplit_once('/').unwrap().0;
                assert!(v.starts_with(dir), "{v}");
                assert_eq!(lang_of(&v), lang_of(path), "{v}");
                assert_eq!(is_test_path(&v), is_test_path(path), "{v}");
            }
        }
        assert!(vary_path("Dockerfile", &mut rng) == "Dockerfile");
    }

    #[test]
    fn weighted_picks_stay_in_range() {
        let mut rng = Rng::at(7, 7);
        let cum = cumulative([3, 0, 5].into_iter());
        for _ in 0..1000 {
            let i = rng.weighted(&cum);
            assert!(i == 0 || i == 2);
        }
    }
}
