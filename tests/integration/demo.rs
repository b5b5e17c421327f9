//! The demo backlog: what a newcomer sees on `sift demo` must look like a real
//! organisation's backlog, be the same every time, and store cleanly.

use sift::demo::{self, Demo};
use sift::domain::{Finding, MemoryStage, ScanSource, Status, TriageState, Verdict, is_review_ref};
use sift::store::Store;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-09-01 09:30:00 UTC);

fn findings(d: &Demo) -> impl Iterator<Item = &Finding> {
    d.scans.iter().flat_map(|s| s.findings.iter())
}

fn language(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("py") => "python",
        Some("ts" | "tsx" | "js" | "jsx") => "typescript",
        Some("go") => "go",
        Some("java") => "java",
        Some("tf") => "terraform",
        _ if name == "Dockerfile" => "dockerfile",
        _ => "other",
    }
}

#[test]
fn the_curated_backlog_looks_like_an_organisation() {
    let d = demo::generate(None, NOW);
    let all: Vec<&Finding> = findings(&d).collect();
    assert!(all.len() >= 150, "only {} findings", all.len());

    let projects: HashSet<&str> = all.iter().map(|f| f.project.as_str()).collect();
    assert!(projects.len() >= 4, "projects: {projects:?}");
    let languages: HashSet<&str> = all
        .iter()
        .map(|f| language(&f.location.path))
        .filter(|l| *l != "other")
        .collect();
    assert!(languages.len() >= 4, "languages: {languages:?}");
    let rules: HashSet<&str> = all.iter().map(|f| f.rule.name.as_str()).collect();
    assert!(rules.len() >= 25, "only {} rules", rules.len());

    let verdicts: HashSet<Option<Verdict>> = all.iter().map(|f| f.verdict()).collect();
    assert!(verdicts.contains(&Some(Verdict::TruePositive)));
    assert!(verdicts.contains(&Some(Verdict::FalsePositive)));
    assert!(
        verdicts.contains(&None),
        "some findings were never analysed"
    );
    let with_verdict = all.iter().filter(|f| f.verdict().is_some()).count();
    assert!(with_verdict * 2 > all.len(), "most findings have a verdict");

    let on_prs = all.iter().filter(|f| is_review_ref(&f.git_ref)).count();
    assert!(
        on_prs * 10 >= all.len() * 4,
        "{on_prs} of {} on PR refs",
        all.len()
    );
    assert!(all.iter().any(|f| f.git_ref == "main"));
    assert!(all.iter().any(|f| f.git_ref == "master"));

    let statuses: HashSet<Status> = all.iter().map(|f| f.status()).collect();
    for s in Status::ALL {
        assert!(statuses.contains(s), "no {s} finding");
    }
    assert!(all.iter().any(|f| !f.activity.is_empty()));
    assert!(!d.memories.is_empty());
    assert!(d.memories.iter().any(|m| m.stage == MemoryStage::Live));
    assert!(d.memories.iter().any(|m| m.stage == MemoryStage::Suggested));
    assert!(d.memories.iter().any(|m| m.guidance));

    // The same finding on the primary branch and on a pull request.
    let mut refs_by_id: HashMap<(&str, &str), HashSet<&str>> = HashMap::new();
    for f in &all {
        refs_by_id
            .entry((f.project.as_str(), f.match_based_id.as_str()))
            .or_default()
            .insert(f.git_ref.as_str());
    }
    assert!(refs_by_id.values().any(|refs| refs.len() > 1));
}

#[test]
fn findings_are_consistent_with_the_triage_rules() {
    let d = demo::generate(None, NOW);
    let ninety_days_ago = NOW - time::Duration::days(91);
    for s in &d.scans {
        assert_eq!(s.source, ScanSource::Platform);
        let mut ids = HashSet::new();
        for f in &s.findings {
            let what = format!("{} {} {}", f.project, f.git_ref, f.rule.name);
            assert_eq!(f.id, 0, "{what}");
            assert_eq!((&f.project, &f.git_ref), (&s.project, &s.git_ref));
            assert!(
                ids.insert(&f.match_based_id),
                "identity twice on one ref: {what}"
            );
            if f.triage_state == TriageState::Ignored {
                assert!(
                    f.triage_reason.is_some(),
                    "ignored without a reason: {what}"
                );
            }
            if f.triage_state == TriageState::ProvisionallyIgnored {
                assert_eq!(f.verdict(), Some(Verdict::FalsePositive), "{what}");
            }
            if let Some(a) = &f.assistant {
                match a.verdict {
                    Some(Verdict::FalsePositive) => assert!(!a.verdict_reason.is_empty()),
                    Some(Verdict::TruePositive) => {
                        assert!(a.verdict_reason.is_empty());
                        assert!(a.guidance.is_some() && a.autofix_code.is_some(), "{what}");
                    }
                    None => {}
                }
            }
            assert!(
                f.created_at > ninety_days_ago && f.created_at < NOW,
                "{what}"
            );
            assert!(
                f.activity
                    .iter()
                    .all(|a| a.at >= f.created_at && a.at <= NOW)
            );
            let code = f.code.as_ref().expect("code context");
            assert!(code.start_line <= f.location.line);
            let last = code.start_line as usize + code.lines.len() - 1;
            assert!(f.location.end_line as usize <= last, "{what}");
            let url = f.line_of_code_url.as_deref().unwrap();
            assert!(url.starts_with("https://git.example.com/"), "{url}");
            assert!(url.ends_with(&format!("/{}#L{}", f.location.path, f.location.line)));
        }
    }
}

#[test]
fn hostile_text_is_present_for_the_console_to_defuse() {
    let d = demo::generate(None, NOW);
    let texts = |f: &Finding| {
        let mut t = vec![f.message.clone()];
        t.extend(f.code.iter().flat_map(|c| c.lines.iter().cloned()));
        t
    };
    let has = |needle: &str| findings(&d).any(|f| texts(f).iter().any(|t| t.contains(needle)));
    assert!(has("\u{1b}]0;pwned\u{7}"), "an OSC title sequence");
    assert!(has("\u{1b}["), "a CSI sequence");
    assert!(has("\u{202e}"), "a bidi override");
    assert!(
        findings(&d).any(|f| f.message.contains('\u{1b}')),
        "a message, not only code"
    );
}

#[test]
fn the_same_inputs_give_the_same_backlog() {
    let a = demo::generate(None, NOW);
    let b = demo::generate(None, NOW);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let a = demo::generate(Some(500), NOW);
    let b = demo::generate(Some(500), NOW);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    // `now` only moves the timestamps.
    let later = demo::generate(None, NOW + time::Duration::days(3));
    let ids = |d: &Demo| {
        findings(d)
            .map(|f| f.match_based_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&demo::generate(None, NOW)), ids(&later));
}

#[test]
fn a_generated_backlog_has_exactly_the_requested_size() {
    for n in [0, 1, 7, 1000] {
        let d = demo::generate(Some(n), NOW);
        assert_eq!(findings(&d).count(), n, "n = {n}");
    }
    let d = demo::generate(Some(1000), NOW);
    let paths: HashSet<&str> = findings(&d).map(|f| f.location.path.as_str()).collect();
    assert!(paths.len() > 300, "only {} distinct paths", paths.len());
    let prs: HashSet<&str> = findings(&d)
        .map(|f| f.git_ref.as_str())
        .filter(|r| is_review_ref(r))
        .collect();
    assert!(prs.len() > 50, "only {} PR refs", prs.len());
}

#[test]
fn seeding_stores_every_finding_and_memory() {
    let mut store = Store::in_memory().unwrap();
    let d = demo::generate(None, NOW);
    let summaries = demo::seed(&mut store, None, NOW).unwrap();
    let total = findings(&d).count();
    assert_eq!(summaries.iter().map(|s| s.new).sum::<usize>(), total);
    assert_eq!(store.load_index().unwrap().len(), total);
    assert_eq!(store.memories().unwrap().len(), d.memories.len());
    let primary: HashMap<String, String> = store.projects().unwrap().into_iter().collect();
    assert_eq!(primary["larkspur/settlement-engine"], "master");
    assert_eq!(primary["larkspur/ledger-api"], "main");

    // Triage history and code context survive the store.
    let index = store.load_index().unwrap();
    let ids: Vec<i64> = index.rows.iter().map(|r| r.id).collect();
    let stored = store.load_findings(&ids).unwrap();
    assert!(stored.iter().any(|f| !f.activity.is_empty()));
    assert!(stored.iter().all(|f| f.code.is_some()));

    let mut store = Store::in_memory().unwrap();
    demo::seed(&mut store, Some(2_000), NOW).unwrap();
    assert_eq!(store.load_index().unwrap().len(), 2_000);
}

/// `cargo test --release --test demo -- --ignored --nocapture`
#[test]
#[ignore]
fn large_backlogs_are_fast() {
    let t = std::time::Instant::now();
    let d = demo::generate(Some(100_000), NOW);
    let generated = t.elapsed();
    assert_eq!(findings(&d).count(), 100_000);
    drop(d);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let t = std::time::Instant::now();
    demo::seed(&mut store, Some(100_000), NOW).unwrap();
    let seeded = t.elapsed();
    let size = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!("100k: generate {generated:?}, generate+store {seeded:?}, db {size} bytes");
    assert_eq!(store.count_findings().unwrap(), 100_000);
}
