//! Trying a drafted rule on its examples with the reviewer's own semgrep
//! (`sift rules new`): where semgrep is, a run on the bad and good examples
//! in a temporary directory, and what its JSON report says about them.
//!
//! Semgrep runs with `--metrics=off` and without its version check, so a
//! test sends nothing anywhere.

use super::rule::Request;
use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The variable that names the semgrep to test with.
pub const SEMGREP_ENV: &str = "SIFT_SEMGREP";

/// Longest a run may take (semgrep's start-up alone takes seconds).
const TIME_LIMIT: Duration = Duration::from_secs(300);
/// Most of one semgrep error message kept (in characters).
const MAX_ERROR: usize = 500;
/// Most matched lines of the good example quoted back.
const MAX_QUOTED_LINES: usize = 3;

/// The semgrep to run: `named` (a path, or a name looked up on PATH), else
/// `semgrep` on PATH. `Ok(None)`: none is installed; an error: the one
/// named is not there.
pub fn find(named: Option<&Path>) -> Result<Option<PathBuf>, String> {
    let Some(named) = named.filter(|n| !n.as_os_str().is_empty()) else {
        return Ok(on_path(Path::new("semgrep")));
    };
    let found = if named.components().count() > 1 {
        is_executable(named).then(|| named.to_path_buf())
    } else {
        on_path(named)
    };
    found.map(Some).ok_or_else(|| {
        format!(
            "no semgrep at {} (named by --semgrep or {SEMGREP_ENV}): no executable file there",
            named.display()
        )
    })
}

fn on_path(name: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// What a run of the rule on the examples showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trial {
    /// The bad example's lines the rule matched (`None`: no bad example).
    pub bad: Option<Vec<u64>>,
    /// The good example's lines the rule matched (`None`: no good example).
    pub good: Option<Vec<u64>>,
    /// What is wrong, in words the model (and the reviewer) can act on;
    /// none when the rule passed.
    pub problems: Vec<String>,
    /// What semgrep warned about without failing (an example it could not
    /// parse in full, say).
    pub warnings: Vec<String>,
}

impl Trial {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// One line on what the run showed, for people and the rule's comment.
    pub fn summary(&self) -> String {
        let lines = |l: &[u64]| {
            let shown: Vec<String> = l.iter().map(u64::to_string).collect();
            format!(
                "line{} {}",
                if l.len() == 1 { "" } else { "s" },
                shown.join(", ")
            )
        };
        let mut parts = Vec::new();
        match &self.bad {
            Some(l) if l.is_empty() => parts.push("it misses the bad example".to_string()),
            Some(l) => parts.push(format!("it matches the bad example ({})", lines(l))),
            None => {}
        }
        match &self.good {
            Some(l) if l.is_empty() => parts.push("it is silent on the good example".to_string()),
            Some(l) => parts.push(format!("it matches the good example ({})", lines(l))),
            None => {}
        }
        if parts.is_empty() {
            return "semgrep rejected the rule".to_string();
        }
        parts.join("; ")
    }
}

/// Runs `semgrep` with the rule (`yaml`) on the request's examples. An
/// error is semgrep failing (it cannot start, crashes, or writes no
/// report), not the rule failing.
pub async fn try_rule(semgrep: &Path, yaml: &str, request: &Request) -> Result<Trial> {
    let dir = tempfile::tempdir().context("cannot make a temporary directory for the test")?;
    std::fs::write(dir.path().join("rule.yaml"), yaml)
        .context("cannot write the rule for the test")?;
    let mut targets = Vec::new();
    for (side, text) in [("bad", &request.bad), ("good", &request.good)] {
        if let Some(text) = text {
            let target = Path::new(side).join(request.language.file);
            std::fs::create_dir_all(dir.path().join(side))
                .and_then(|()| std::fs::write(dir.path().join(&target), text))
                .context("cannot write the examples for the test")?;
            targets.push(target);
        }
    }
    let mut command = tokio::process::Command::new(semgrep);
    command
        .args(["scan", "--config", "rule.yaml", "--json", "--quiet"])
        .args(["--metrics=off", "--disable-version-check"])
        .args(&targets)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let shown = semgrep.display();
    let out = tokio::time::timeout(TIME_LIMIT, command.output())
        .await
        .map_err(|_| {
            anyhow!(
                "semgrep ({shown}) did not finish within {}",
                crate::show::human(TIME_LIMIT)
            )
        })?
        .with_context(|| format!("cannot run semgrep ({shown})"))?;
    let report = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .filter(|r| r["results"].is_array());
    let Some(report) = report else {
        let status = match out.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        bail!(
            "semgrep ({shown}) failed ({status}) without a report{}",
            said(&out.stderr)
        );
    };
    let trial = read(&report, request);
    if !out.status.success() && trial.problems.is_empty() {
        bail!(
            "semgrep ({shown}) failed (exit status {}) and reported no error{}",
            out.status.code().unwrap_or(-1),
            said(&out.stderr)
        );
    }
    Ok(trial)
}

/// The last lines semgrep wrote on stderr, as `: …`.
fn said(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", cut(tail.trim(), MAX_ERROR))
    }
}

/// Semgrep's JSON report read against the examples.
fn read(report: &Value, request: &Request) -> Trial {
    let matched = |side: &str| -> Vec<u64> {
        let mut lines: Vec<u64> = report["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["path"].as_str().is_some_and(|p| in_side(p, side)))
            .filter_map(|r| r["start"]["line"].as_u64())
            .collect();
        lines.sort_unstable();
        lines.dedup();
        lines
    };
    let mut trial = Trial {
        bad: request.bad.as_ref().map(|_| matched("bad")),
        good: request.good.as_ref().map(|_| matched("good")),
        ..Trial::default()
    };
    for error in report["errors"].as_array().into_iter().flatten() {
        let message = error["message"]
            .as_str()
            .or_else(|| error["long_msg"].as_str())
            .or_else(|| error["short_msg"].as_str())
            .unwrap_or("an error without a message");
        let message = cut(message.trim(), MAX_ERROR);
        if error["level"].as_str() == Some("error") {
            trial
                .problems
                .push(format!("semgrep rejected the rule: {message}"));
        } else {
            trial.warnings.push(message);
        }
    }
    if !trial.problems.is_empty() {
        // A rule semgrep rejects matched nothing: its matches say nothing.
        trial.bad = None;
        trial.good = None;
        return trial;
    }
    if trial.bad.as_ref().is_some_and(Vec::is_empty) {
        trial
            .problems
            .push("it does not match the bad example".to_string());
    }
    if let (Some(lines), Some(text)) = (&trial.good, &request.good) {
        let source: Vec<&str> = text.lines().collect();
        for line in lines.iter().take(MAX_QUOTED_LINES) {
            let code = usize::try_from(*line)
                .ok()
                .and_then(|n| source.get(n.checked_sub(1)?))
                .map_or("", |l| l.trim());
            trial.problems.push(format!(
                "it matches the good example at line {line}: {}",
                cut(code, 200)
            ));
        }
    }
    trial
}

/// Is semgrep's `path` the example of this side (`bad/…`, `./bad/…`)?
fn in_side(path: &str, side: &str) -> bool {
    Path::new(path)
        .components()
        .find(|c| !matches!(c, std::path::Component::CurDir))
        .is_some_and(|c| c.as_os_str() == side)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assistant::rule::language;
    use serde_json::json;

    fn request() -> Request {
        Request {
            language: language("python").unwrap(),
            prompt: "os.system".into(),
            bad: Some("import os\nos.system(cmd)\n".into()),
            good: Some("import os\nos.system(\"ls\")\n".into()),
        }
    }

    fn result(path: &str, line: u64) -> Value {
        json!({"check_id": "r", "path": path, "start": {"line": line, "col": 1},
               "extra": {"lines": "requires login"}})
    }

    #[test]
    fn a_rule_that_matches_bad_and_not_good_passes() {
        let t = read(
            &json!({"results": [result("bad/example.py", 2)], "errors": []}),
            &request(),
        );
        assert!(t.passed(), "{t:?}");
        assert_eq!(t.bad, Some(vec![2]));
        assert_eq!(t.good, Some(vec![]));
        assert_eq!(
            t.summary(),
            "it matches the bad example (line 2); it is silent on the good example"
        );
    }

    #[test]
    fn each_failure_is_a_problem_the_model_can_act_on() {
        let report = json!({"results": [result("./good/example.py", 2)], "errors": [
            {"level": "warn", "type": "Syntax error", "message": "bad/example.py:3"}
        ]});
        let t = read(&report, &request());
        assert!(!t.passed());
        assert_eq!(
            t.problems,
            [
                "it does not match the bad example",
                "it matches the good example at line 2: os.system(\"ls\")",
            ]
        );
        assert_eq!(t.warnings, ["bad/example.py:3"]);
        assert_eq!(
            t.summary(),
            "it misses the bad example; it matches the good example (line 2)"
        );
    }

    #[test]
    fn a_rule_semgrep_rejects_has_no_matches_to_speak_of() {
        let report = json!({"results": [], "errors": [
            {"level": "error", "type": "Rule parse error", "message": "Invalid pattern"}
        ]});
        let t = read(&report, &request());
        assert_eq!(t.problems, ["semgrep rejected the rule: Invalid pattern"]);
        assert_eq!((&t.bad, &t.good), (&None, &None));
        assert_eq!(t.summary(), "semgrep rejected the rule");
    }

    #[test]
    fn a_semgrep_named_but_missing_is_an_error_and_none_on_path_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("semgrep");
        assert!(find(Some(&missing)).unwrap_err().contains("no semgrep at"));
        std::fs::write(&missing, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert!(find(Some(&missing)).is_err(), "not executable");
            std::fs::set_permissions(&missing, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(find(Some(&missing)), Ok(Some(missing.clone())));
    }
}
