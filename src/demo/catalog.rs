//! The catalog, as written in assets/demo/catalog.json: projects, rules,
//! code, Assistant's texts, people, memories and hand-picked findings.

use super::*;

pub(super) const CATALOG_JSON: &str = include_str!("../../assets/demo/catalog.json");

#[derive(Deserialize)]
pub(super) struct Catalog {
    #[allow(dead_code)]
    pub(super) organisation: String,
    pub(super) git_host: String,
    pub(super) people: Vec<Person>,
    pub(super) components: Vec<ComponentDef>,
    pub(super) projects: Vec<ProjectDef>,
    pub(super) rules: Vec<RuleDef>,
    pub(super) memories: Vec<MemoryDef>,
    pub(super) featured: Vec<FeaturedDef>,
    pub(super) notes: Notes,
}

#[derive(Deserialize)]
pub(super) struct Person {
    pub(super) name: String,
    pub(super) weight: u32,
    /// The projects this person triages; empty for all.
    #[serde(default)]
    pub(super) projects: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct ComponentDef {
    pub(super) tag: String,
    pub(super) risk: String,
}

#[derive(Deserialize)]
pub(super) struct ProjectDef {
    pub(super) name: String,
    pub(super) primary_branch: String,
    pub(super) pull_requests: Vec<u32>,
    pub(super) weight: u32,
    pub(super) areas: Vec<AreaDef>,
    pub(super) files: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct AreaDef {
    pub(super) prefix: String,
    pub(super) component: String,
}

#[derive(Deserialize)]
pub(super) struct RuleDef {
    pub(super) id: String,
    pub(super) languages: Vec<String>,
    #[serde(default)]
    pub(super) projects: Vec<String>,
    pub(super) severity: String,
    pub(super) confidence: String,
    pub(super) fp_rate: f64,
    pub(super) weight: u32,
    pub(super) category: String,
    pub(super) subcategories: Vec<String>,
    #[serde(default)]
    pub(super) technologies: Vec<String>,
    pub(super) message: String,
    pub(super) vulnerability_classes: Vec<String>,
    pub(super) cwe: Vec<String>,
    pub(super) owasp: Vec<String>,
    pub(super) references: Vec<String>,
    pub(super) explanation: ExplanationDef,
    pub(super) guidance: GuidanceDef,
    pub(super) fp_reasons: Vec<String>,
    pub(super) snippets: Vec<SnippetDef>,
}

#[derive(Deserialize, Clone)]
pub(super) struct ExplanationDef {
    pub(super) summary: String,
    pub(super) explanation: String,
}

#[derive(Deserialize, Clone)]
pub(super) struct GuidanceDef {
    pub(super) summary: String,
    pub(super) instructions: String,
}

#[derive(Deserialize)]
pub(super) struct SnippetDef {
    pub(super) lines: Vec<String>,
    /// First and last matched line, as indexes into `lines`.
    #[serde(rename = "match")]
    pub(super) matched: [u32; 2],
    pub(super) fix: String,
    /// Metavariable values filled into the rule's message.
    #[serde(default)]
    pub(super) vars: BTreeMap<String, String>,
    /// For generic rules: the language of the file the snippet fits.
    #[serde(default)]
    pub(super) lang: Option<String>,
    /// Which of the rule's false-positive reasons fit this snippet.
    #[serde(default)]
    pub(super) fp: Vec<usize>,
    #[serde(default)]
    pub(super) fp_rate: Option<f64>,
    /// Path prefixes the snippet may appear under.
    #[serde(default)]
    pub(super) paths: Vec<String>,
    /// "tests" or "app": only in test code, or only outside it.
    #[serde(default, rename = "where")]
    pub(super) place: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct MemoryDef {
    pub(super) id: String,
    pub(super) stage: String,
    pub(super) guidance: bool,
    pub(super) created_by: String,
    pub(super) age_days: i64,
    pub(super) updated_days: i64,
    pub(super) projects: Vec<String>,
    #[serde(default)]
    pub(super) rules: Vec<String>,
    #[serde(default)]
    pub(super) class: Option<String>,
    pub(super) path_prefixes: Vec<String>,
    pub(super) content: String,
}

#[derive(Deserialize)]
pub(super) struct FeaturedDef {
    pub(super) project: String,
    #[serde(rename = "ref")]
    pub(super) git_ref: String,
    #[serde(default)]
    pub(super) also_on: Vec<String>,
    pub(super) rule: String,
    #[serde(default)]
    pub(super) snippet: Option<usize>,
    #[serde(default)]
    pub(super) code: Option<SnippetDef>,
    #[serde(default)]
    pub(super) message: Option<String>,
    pub(super) path: String,
    pub(super) line: u32,
    pub(super) age_days: i64,
    pub(super) verdict: Option<String>,
    #[serde(default)]
    pub(super) reason: Option<usize>,
    #[serde(default)]
    pub(super) reason_text: Option<String>,
    pub(super) triage: String,
    #[serde(default)]
    pub(super) state: Option<String>,
    #[serde(default)]
    pub(super) triage_reason: Option<String>,
    #[serde(default)]
    pub(super) activity: Vec<ActivityDef>,
}

#[derive(Deserialize)]
pub(super) struct ActivityDef {
    pub(super) who: String,
    pub(super) days_ago: i64,
    pub(super) action: String,
    pub(super) note: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Notes {
    pub(super) agree: Vec<String>,
    pub(super) disagree: Vec<String>,
    pub(super) reject_tp: Vec<String>,
    pub(super) acceptable_risk: Vec<String>,
    pub(super) no_time: Vec<String>,
    pub(super) duplicate: Vec<String>,
    pub(super) fixing: Vec<String>,
    pub(super) reviewing: Vec<String>,
    pub(super) reopen: Vec<String>,
    pub(super) comment: Vec<String>,
    pub(super) test_fp: Vec<String>,
}
