//! The catalog, prepared once for fast expansion.

use super::*;

pub(super) struct World {
    pub(super) cat: Catalog,
    pub(super) rules: Vec<PreparedRule>,
    pub(super) projects: Vec<PreparedProject>,
    pub(super) components: Vec<Component>,
    pub(super) test_component: Option<usize>,
    /// For each rule, the projects it can appear in.
    pub(super) rule_projects: Vec<Vec<usize>>,
    /// Cumulative project weights.
    pub(super) project_weights: Vec<u32>,
    /// Per project, who triages there: people indexes and cumulative weights.
    pub(super) triagers: Vec<(Vec<usize>, Vec<u32>)>,
    /// The hand-picked findings, each once per ref it is on.
    pub(super) featured: Vec<(usize, String)>,
}

pub(super) struct PreparedRule {
    pub(super) template: Rule,
    pub(super) severity: Severity,
    pub(super) confidence: Confidence,
    pub(super) fp_rate: f64,
    pub(super) snippets: Vec<PreparedSnippet>,
}

pub(super) struct PreparedSnippet {
    pub(super) message: String,
    pub(super) lines: Vec<String>,
    pub(super) first: u32,
    pub(super) last: u32,
    pub(super) column: u32,
    pub(super) end_column: u32,
    pub(super) fix: String,
    pub(super) fp: Vec<usize>,
    pub(super) fp_rate: Option<f64>,
}

pub(super) struct PreparedProject {
    pub(super) url: String,
    pub(super) files: Vec<PreparedFile>,
    /// Rules that can appear here, with the files and snippets that fit.
    pub(super) choices: Vec<RuleChoice>,
    /// Cumulative rule weights over `choices`.
    pub(super) choice_weights: Vec<u32>,
    pub(super) max_pr: u32,
}

pub(super) struct PreparedFile {
    pub(super) path: String,
    pub(super) lang: &'static str,
    pub(super) is_test: bool,
}

pub(super) struct RuleChoice {
    pub(super) rule: usize,
    /// (file, fitting snippets)
    pub(super) files: Vec<(usize, Vec<usize>)>,
}

pub(super) fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let cat: Catalog =
            serde_json::from_str(CATALOG_JSON).expect("assets/demo/catalog.json is malformed");
        World::prepare(cat)
    })
}

impl World {
    pub(super) fn prepare(cat: Catalog) -> World {
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

    pub(super) fn component_for(&self, project: usize, path: &str) -> Option<usize> {
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
    pub(super) fn person<'a>(&'a self, project: usize, rng: &mut Rng) -> &'a str {
        let (who, weights) = &self.triagers[project];
        match who.get(rng.weighted(weights)) {
            Some(&i) => &self.cat.people[i].name,
            None => "Security team",
        }
    }

    pub(super) fn project_index(&self, name: &str) -> usize {
        self.cat
            .projects
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("demo catalog: unknown project {name}"))
    }

    pub(super) fn rule_index(&self, id: &str) -> usize {
        self.cat
            .rules
            .iter()
            .position(|r| r.id == id)
            .unwrap_or_else(|| panic!("demo catalog: unknown rule {id}"))
    }
}

pub(super) fn prepare_rule(r: &RuleDef) -> PreparedRule {
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

pub(super) fn prepare_snippet(message: &str, s: &SnippetDef) -> PreparedSnippet {
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

pub(super) fn snippet_fits(rule: &RuleDef, s: &SnippetDef, f: &PreparedFile) -> bool {
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
pub(super) fn lang_of(path: &str) -> &'static str {
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

pub(super) fn is_test_path(path: &str) -> bool {
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

pub(super) fn cumulative(weights: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut total = 0;
    weights
        .map(|w| {
            total += w;
            total
        })
        .collect()
}
