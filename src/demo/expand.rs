//! Expansion: finding `i` of the backlog, derived from its index alone.

use super::*;

/// What to generate: how many findings, and how.
pub(super) struct Plan {
    pub(super) total: usize,
    /// Curated: catalog paths and pull requests only, every rule at least once.
    pub(super) curated: bool,
    pub(super) seed: u64,
    /// The highest pull-request number a generated ref gets (per project at least
    /// the catalog's own).
    pub(super) pr_pool: u32,
}

impl Plan {
    pub(super) fn new(w: &World, count: Option<usize>) -> Plan {
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
pub(super) type ScanKey = (usize, Option<u32>);

/// Commit hashes per scan, computed once.
#[derive(Default)]
pub(super) struct ShaCache(pub(super) HashMap<ScanKey, String>);

impl ShaCache {
    pub(super) fn get(&mut self, w: &World, key: ScanKey) -> &str {
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

pub(super) fn ref_name(w: &World, key: ScanKey) -> String {
    match key.1 {
        Some(n) => format!("refs/pull/{n}/merge"),
        None => w.cat.projects[key.0].primary_branch.clone(),
    }
}

pub(super) fn code_url(
    w: &World,
    shas: &mut ShaCache,
    key: ScanKey,
    path: &str,
    line: u32,
) -> String {
    let url = &w.projects[key.0].url;
    let sha = shas.get(w, key);
    format!("{url}/blob/{sha}/{path}#L{line}")
}

pub(super) fn finding_at(
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

pub(super) fn pick_pr(w: &World, plan: &Plan, project: usize, rng: &mut Rng) -> u32 {
    let prs = &w.cat.projects[project].pull_requests;
    if plan.curated || prs.is_empty() {
        return prs.get(rng.index(prs.len())).copied().unwrap_or(1);
    }
    let top = w.projects[project].max_pr.max(plan.pr_pool);
    1 + rng.below(top as u64) as u32
}

/// Finding `i` from its own generator, without the copy rule.
pub(super) fn procedural(
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
pub(super) fn place(
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

pub(super) fn assistant(
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
            judged_by: None,
            no_verdict: None,
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
            fixed_by: None,
            no_fix: None,
        },
        Verdict::FalsePositive => Assistant {
            verdict: Some(verdict),
            verdict_reason: reason,
            judged_by: None,
            no_verdict: None,
            autofix_code: None,
            guidance: None,
            component,
            rule_explanation: None,
            fixed_by: None,
            no_fix: None,
        },
    })
}

/// A sibling of `path`: same directory and naming style, another module name.
pub(super) fn vary_path(path: &str, rng: &mut Rng) -> String {
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

pub(super) fn pascal(word: &str) -> String {
    word.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub(super) fn camel(word: &str) -> String {
    let p = pascal(word);
    let mut c = p.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// One of the hand-picked findings of the catalog.
pub(super) fn featured_finding(
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

/// One scan per (project, ref): the primary branch first, then pull requests.
pub(super) fn assemble(w: &World, items: Vec<(ScanKey, Finding)>) -> Vec<ScanResults> {
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
            ScanResults::platform(
                format!("demo backlog: {name} {git_ref}"),
                name.clone(),
                Some(w.projects[key.0].url.clone()),
                git_ref,
                findings,
            )
        })
        .collect()
}

pub(super) fn memories(w: &World, now: OffsetDateTime) -> Vec<Memory> {
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
