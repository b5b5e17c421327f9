//! The import of `semgrep scan --json` output (issue 16): a file of N
//! results, written here in the shape of the real CLI's output (not logged
//! in: fingerprints and lines read "requires login", so every identity is
//! derived), parsed by Python's `json.load` and imported by the release
//! `sift import` into a fresh data dir. The goal: sift within 3x Python's
//! time, in bounded memory.

use crate::backlog::{Usage, run_with_rusage};
use crate::{Options, median};
use anyhow::{Context, Result, bail};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs of each program per size; the medians are reported.
const RUNS: usize = 3;

#[derive(Debug, Clone, Copy)]
pub struct Import {
    pub results: usize,
    pub file_bytes: u64,
    /// `json.load` of the file; none without python3.
    pub python: Option<Usage>,
    /// `sift import FILE --project P` into an empty data dir.
    pub sift: Usage,
}

impl Import {
    /// sift's time over Python's.
    pub fn ratio(&self) -> Option<f64> {
        self.python
            .filter(|p| p.ms > 0.0)
            .map(|p| self.sift.ms / p.ms)
    }
}

/// Whether python3 runs here.
fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn measure(opts: &Options, n: usize) -> Result<Import> {
    let file = scan_file(opts, n);
    std::fs::create_dir_all(&opts.data)?;
    write_scan(&file, n).with_context(|| format!("cannot write {}", file.display()))?;
    let file_bytes = std::fs::metadata(&file)?.len();
    let python = python_available();
    let mut pythons = Vec::new();
    let mut sifts = Vec::new();
    for _ in 0..RUNS {
        if python {
            let usage = run_with_rusage(
                Command::new("python3")
                    .args(["-c", "import json,sys; json.load(open(sys.argv[1]))"])
                    .arg(&file)
                    .stdout(Stdio::null()),
            )?;
            if usage.status != 0 {
                bail!("python3 could not parse {}", file.display());
            }
            pythons.push(usage);
        }
        let dir = opts.data.join(format!("import-{n}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let usage = run_with_rusage(
            Command::new(&opts.sift)
                .arg("--data-dir")
                .arg(&dir)
                .arg("import")
                .arg(&file)
                .args(["--project", "bench"])
                .stdout(Stdio::null())
                .env("XDG_CONFIG_HOME", opts.home.join("config")),
        )?;
        if usage.status != 0 {
            bail!("sift import {} failed", file.display());
        }
        let imported = sift::store::Store::open(&dir)?.count_findings()?;
        if imported != n {
            bail!("sift import stored {imported} of {n} results");
        }
        sifts.push(usage);
        std::fs::remove_dir_all(&dir)?;
    }
    let _ = std::fs::remove_file(&file);
    Ok(Import {
        results: n,
        file_bytes,
        python: (!pythons.is_empty()).then(|| median_usage(&pythons)),
        sift: median_usage(&sifts),
    })
}

/// The median of each measure on its own.
fn median_usage(runs: &[Usage]) -> Usage {
    let of = |f: fn(&Usage) -> f64| median(runs.iter().map(f).collect()).unwrap_or(0.0);
    Usage {
        status: 0,
        ms: of(|u| u.ms),
        cpu_ms: of(|u| u.cpu_ms),
        max_rss_kb: of(|u| u.max_rss_kb as f64) as u64,
    }
}

/// A rule as the scan reports it: its id, severity, message and metadata
/// (the kinds real rules carry: lists or strings, nested objects, flags).
struct RuleShape {
    check_id: &'static str,
    severity: &'static str,
    message: &'static str,
    metadata: &'static str,
    fix: Option<&'static str>,
}

const RULES: [RuleShape; 5] = [
    RuleShape {
        check_id: "semgrep-rules.python.lang.best-practice.unspecified-open-encoding",
        severity: "WARNING",
        message: "Missing 'encoding' parameter. 'open()' uses device locale encodings by default, corrupting files with special characters. Specify the encoding to ensure cross-platform support when opening files in text mode (e.g. encoding=\"utf-8\").",
        metadata: r#"{"category": "best-practice", "technology": ["python"], "references": ["https://www.python.org/dev/peps/pep-0597/", "https://docs.python.org/3/library/functions.html#open"]}"#,
        fix: None,
    },
    RuleShape {
        check_id: "semgrep-rules.python.lang.security.audit.dangerous-subprocess-use-audit",
        severity: "ERROR",
        message: "Detected subprocess function 'Popen' without a static string. If this data can be controlled by a malicious actor, it may be an instance of command injection. Audit the use of this call to ensure it is not controllable by an external resource. You may consider using 'shlex.escape()'.",
        metadata: r#"{"owasp": ["A01:2017 - Injection", "A03:2021 - Injection"], "cwe": ["CWE-78: Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')"], "asvs": {"control_id": "5.3.8 OS Command Injection", "control_url": "https://github.com/OWASP/ASVS/blob/master/4.0/en/0x13-V5-Validation-Sanitization-Encoding.md#v53-output-encoding-and-injection-prevention-requirements", "section": "V5: Validation, Sanitization and Encoding Verification Requirements", "version": "4"}, "references": ["https://stackoverflow.com/questions/3172470/actual-meaning-of-shell-true-in-subprocess", "https://docs.python.org/3/library/subprocess.html", "https://docs.python.org/3/library/shlex.html", "https://semgrep.dev/docs/cheat-sheets/python-command-injection/"], "category": "security", "technology": ["python"], "confidence": "LOW", "cwe2022-top25": true, "cwe2021-top25": true, "subcategory": ["audit"], "likelihood": "LOW", "impact": "HIGH"}"#,
        fix: None,
    },
    RuleShape {
        check_id: "semgrep-rules.python.django.security.audit.xss.template-autoescape-off",
        severity: "WARNING",
        message: "Detected a template block where autoescaping is explicitly disabled with '{% autoescape off %}'. This allows rendering of raw HTML in this segment. Turn autoescaping on to prevent cross-site scripting (XSS).",
        metadata: r#"{"cwe": "CWE-79: Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')", "owasp": "A07:2017 - Cross-Site Scripting (XSS)", "references": ["https://docs.djangoproject.com/en/3.1/ref/templates/builtins/#autoescape"], "category": "security", "technology": ["django"], "confidence": "LOW", "subcategory": ["audit"], "likelihood": "LOW", "impact": "MEDIUM"}"#,
        fix: None,
    },
    RuleShape {
        check_id: "semgrep-rules.generic.secrets.security.detected-generic-secret",
        severity: "ERROR",
        message: "Generic Secret detected",
        metadata: r#"{"cwe": ["CWE-798: Use of Hard-coded Credentials"], "source-rule-url": "https://github.com/dxa4481/truffleHogRegexes/blob/master/truffleHogRegexes/regexes.json", "category": "security", "technology": ["secrets"], "confidence": "LOW", "owasp": ["A07:2021 - Identification and Authentication Failures"], "references": ["https://owasp.org/Top10/A07_2021-Identification_and_Authentication_Failures"], "subcategory": ["audit"], "likelihood": "LOW", "impact": "MEDIUM"}"#,
        fix: None,
    },
    RuleShape {
        check_id: "semgrep-rules.python.flask.security.audit.debug-enabled",
        severity: "WARNING",
        message: "Detected Flask app with debug=True. Do not deploy to production with this flag enabled as it will leak sensitive information. Instead, consider using Flask configuration variables or setting 'debug' using system environment variables.",
        metadata: r#"{"cwe": ["CWE-489: Active Debug Code"], "owasp": "A06:2017 - Security Misconfiguration", "references": ["https://labs.detectify.com/2015/10/02/how-patreon-got-hacked-publicly-exposed-werkzeug-debugger/"], "category": "security", "technology": ["flask"], "confidence": "HIGH", "subcategory": ["vuln"], "likelihood": "HIGH", "impact": "MEDIUM"}"#,
        fix: Some("app.run(debug=False)"),
    },
];

/// Writes a `semgrep scan --json` output of `n` results: the CLI's
/// top-level keys, results spread over files of about 20 results each.
fn write_scan(path: &Path, n: usize) -> Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    write!(out, "{{\"version\": \"1.185.0\", \"results\": [")?;
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let files = n.div_ceil(20).max(1);
    for i in 0..n {
        let rule = &RULES[(next() % RULES.len() as u64) as usize];
        let file = i % files;
        let line = 1 + next() % 900;
        let col = 1 + next() % 40;
        let offset = line * 35 + col;
        let span_lines = next() % 3;
        let end_col = 1 + next() % 60;
        let end_offset = offset + span_lines * 35 + end_col + 5;
        if i > 0 {
            out.write_all(b", ")?;
        }
        write!(
            out,
            "{{\"check_id\": \"{}\", \"path\": \"bench/app{}/module{}/views.py\", \
             \"start\": {{\"line\": {line}, \"col\": {col}, \"offset\": {offset}}}, \
             \"end\": {{\"line\": {}, \"col\": {end_col}, \"offset\": {end_offset}}}, \
             \"extra\": {{\"message\": {}, \"metadata\": {}, \"severity\": \"{}\", ",
            rule.check_id,
            file / 50,
            file % 50,
            line + span_lines,
            serde_json::to_string(rule.message)?,
            rule.metadata,
            rule.severity,
        )?;
        if let Some(fix) = rule.fix {
            write!(out, "\"fix\": {}, ", serde_json::to_string(fix)?)?;
        }
        write!(
            out,
            "\"fingerprint\": \"requires login\", \"lines\": \"requires login\", \
             \"validation_state\": \"NO_VALIDATOR\", \"engine_kind\": \"OSS\"}}}}"
        )?;
    }
    writeln!(
        out,
        "], \"errors\": [], \"paths\": {{\"scanned\": [{}]}}, \
         \"time\": {{\"rules\": [], \"rules_parse_time\": 0.41, \"profiling_times\": {{}}, \
         \"parsing_time\": {{}}, \"scanning_time\": {{}}, \"matching_time\": {{}}, \
         \"tainting_time\": {{}}, \"fixpoint_timeouts\": [], \"prefiltering\": {{}}, \
         \"targets\": [], \"total_bytes\": 0, \"max_memory_bytes\": 0}}, \
         \"engine_requested\": \"OSS\", \"skipped_rules\": [], \"profiling_results\": []}}",
        (0..files)
            .map(|f| format!("\"bench/app{}/module{}/views.py\"", f / 50, f % 50))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    out.flush()?;
    Ok(())
}

/// The import's line under a size's heading.
pub fn print(i: &Import) {
    let python = match i.python {
        Some(p) => format!(
            "python3 json.load {:.0} ms (CPU {:.0} ms, peak RSS {:.0} MB)",
            p.ms,
            p.cpu_ms,
            p.max_rss_kb as f64 / 1024.0
        ),
        None => "python3 not found: no comparison".into(),
    };
    println!(
        "  import of a {:.1} MB semgrep scan --json ({} results): {python}; sift import {:.0} ms \
         (CPU {:.0} ms, peak RSS {:.0} MB){}",
        i.file_bytes as f64 / 1e6,
        i.results,
        i.sift.ms,
        i.sift.cpu_ms,
        i.sift.max_rss_kb as f64 / 1024.0,
        i.ratio()
            .map_or(String::new(), |r| format!(", ×{r:.2} Python's time"))
    );
}

/// The table of imports, against the goal.
pub fn table(rows: &[(usize, Import)]) {
    println!(
        "\nImport of semgrep scan --json (goal at 100k: ≤ 3x Python's json.load, in bounded memory):\n"
    );
    println!(
        "| size | file MB | python json.load ms | sift import ms | ratio | sift CPU ms | sift peak RSS MB | python peak RSS MB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, i) in rows {
        let p = i.python;
        println!(
            "| {} | {:.1} | {} | {:.0} | {} | {:.0} | {:.0} | {} |",
            crate::label(*n),
            i.file_bytes as f64 / 1e6,
            p.map_or("–".into(), |p| format!("{:.0}", p.ms)),
            i.sift.ms,
            i.ratio().map_or("–".into(), |r| format!("×{r:.2}")),
            i.sift.cpu_ms,
            i.sift.max_rss_kb as f64 / 1024.0,
            p.map_or("–".into(), |p| format!(
                "{:.0}",
                p.max_rss_kb as f64 / 1024.0
            )),
        );
    }
}

/// Where the generated file of `n` results goes (removed once measured).
fn scan_file(opts: &Options, n: usize) -> PathBuf {
    opts.data.join(format!("semgrep-{n}.json"))
}
