//! Project and rule names given on the command line (`--project`, `--rule`),
//! checked against the names the store knows: a typo would otherwise select
//! nothing, silently. Every command says it alike: each unknown name on
//! stderr with the names the store has, `--json`'s failure shape, exit
//! code 3 (`cli::run` does the saying).

use crate::domain::{FindingIndex, rule_matches};
use crate::store::Store;
use crate::text::inert;
use anyhow::Result;

/// Names the store does not know, each problem in words. Carried as an
/// error to `cli::run`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct UnknownNames(pub Vec<String>);

impl UnknownNames {
    /// Says each problem on stderr, made inert.
    pub fn explain(&self) {
        for problem in &self.0 {
            eprintln!("sift: {}", inert(problem));
        }
    }
}

/// The names options are checked against.
pub struct Known<'a> {
    pub projects: Vec<&'a str>,
    pub rules: Vec<&'a str>,
    /// A rule may be named by its last part (`sql-injection`), as the
    /// console's filter allows; a memory's scope needs the full id.
    pub short_rule_names: bool,
}

impl<'a> Known<'a> {
    /// The projects and rules of the findings in `index`; short rule names
    /// allowed.
    pub fn in_index(index: &'a FindingIndex) -> Known<'a> {
        Known {
            projects: index.projects.iter().map(|(_, n)| n).collect(),
            rules: index.rules.iter().map(|(_, n)| n).collect(),
            short_rule_names: true,
        }
    }

    /// Checks the names asked for; every unknown one is named in the error.
    pub fn check(&self, projects: &[String], rules: &[String]) -> Result<(), UnknownNames> {
        let same: fn(&str, &str) -> bool = |name, asked| name == asked;
        let rule_matches: fn(&str, &str) -> bool = if self.short_rule_names {
            rule_matches
        } else {
            same
        };
        let mut problems = Vec::new();
        let kinds = [
            ("no project is named", projects, &self.projects, same),
            ("no rule has the id", rules, &self.rules, rule_matches),
        ];
        for (what, asked, table, matches) in kinds {
            let known = |n: &String| table.iter().any(|name| matches(name, n));
            let missing: Vec<&String> = asked.iter().filter(|n| !known(n)).collect();
            if missing.is_empty() {
                continue;
            }
            let mut known: Vec<&str> = table.clone();
            known.sort_unstable();
            known.dedup();
            problems.push(format!(
                "{what} {}; the store has{}",
                either(&missing),
                listed(&known)
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(UnknownNames(problems))
        }
    }
}

/// Checks the names a memory's scope or the memory list is given: full rule
/// ids (a scope matches rules by their id), against every project and rule
/// the store has, a rule with no finding yet included.
pub fn check_in_store(store: &Store, projects: &[String], rules: &[String]) -> Result<()> {
    let known_projects = store.projects()?;
    let known_rules = store.rule_classes()?;
    let known = Known {
        projects: known_projects
            .iter()
            .map(|(name, _)| name.as_str())
            .collect(),
        rules: known_rules.keys().map(String::as_str).collect(),
        short_rule_names: false,
    };
    Ok(known.check(projects, rules)?)
}

/// At most this many known names are listed when a name is not known.
const KNOWN_LISTED: usize = 10;

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn either(names: &[&String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// `: a, b, c`, at most [`KNOWN_LISTED`] names; ` none` for none.
fn listed(known: &[&str]) -> String {
    if known.is_empty() {
        return " none".into();
    }
    let shown = known[..known.len().min(KNOWN_LISTED)].join(", ");
    match known.len().saturating_sub(KNOWN_LISTED) {
        0 => format!(": {shown}"),
        more => format!(": {shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_projects_and_rules_are_named_with_the_known_ones() {
        let known = Known {
            projects: vec!["acme/web", "acme/api", "acme/web"],
            rules: vec!["py.django.sqli"],
            short_rule_names: true,
        };
        assert!(
            known
                .check(&names(&["acme/api"]), &names(&["sqli"]))
                .is_ok()
        );
        let unknown = known
            .check(&names(&["a", "acme/web", "b"]), &names(&["xss"]))
            .unwrap_err();
        assert_eq!(
            unknown.0,
            vec![
                "no project is named \"a\" or \"b\"; the store has: acme/api, acme/web",
                "no rule has the id \"xss\"; the store has: py.django.sqli",
            ]
        );
        let full_ids = Known {
            short_rule_names: false,
            ..known
        };
        let unknown = full_ids.check(&[], &names(&["sqli"])).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "no rule has the id \"sqli\"; the store has: py.django.sqli"
        );
    }

    #[test]
    fn at_most_ten_known_names_are_listed() {
        let many: Vec<String> = (0..12).map(|i| format!("p{i:02}")).collect();
        let known = Known {
            projects: many.iter().map(String::as_str).collect(),
            rules: Vec::new(),
            short_rule_names: true,
        };
        let unknown = known.check(&names(&["x"]), &names(&["r"])).unwrap_err();
        assert_eq!(
            unknown.0,
            vec![
                "no project is named \"x\"; the store has: p00, p01, p02, p03, p04, p05, p06, \
                 p07, p08, p09 and 2 more",
                "no rule has the id \"r\"; the store has none",
            ]
        );
    }
}
