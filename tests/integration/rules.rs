//! `sift rules new` through the built binary, against the fake provider and
//! a stand-in `semgrep` (a shell script written here): a draft that fails
//! its test is asked for again with what semgrep showed, an answer that is
//! not a rule is sent back with why, a rule is written only when it passed
//! (or nothing could test it), and each fault says what happened with its
//! own exit code.

use saphyr::{LoadableYamlNode, YamlOwned};
use serde_json::Value;
use sift::assistant::fake::{FakeFault, FakeProvider};
use std::path::PathBuf;
use std::process::{Command, Output};

const KEY_VAR: &str = "SIFT_TEST_AI_KEY";
const KEY: &str = "sk-test-0123456789abcdefghij";

const BAD: &str = "import os\n\n\ndef run(cmd):\n    os.system(cmd)\n";
const GOOD: &str = "import os\n\nSAFE_COMMAND = \"ls\"\nos.system(SAFE_COMMAND)\n";

/// Stands in for `semgrep scan --config RULE --json … FILE…`: a rule's
/// first `pattern` ending in `(...)` matches each line holding the text
/// before `...)`, any other pattern each line holding it; a line holding
/// the `pattern-not` text is no finding. `FAKE_SEMGREP_MODE=reject` rejects
/// every rule as semgrep does an invalid pattern; `crash` dies without a
/// report. Each run's arguments go to `FAKE_SEMGREP_LOG`.
const FAKE_SEMGREP: &str = r#"#!/bin/sh
[ -n "$FAKE_SEMGREP_LOG" ] && echo "$*" >> "$FAKE_SEMGREP_LOG"
case "$FAKE_SEMGREP_MODE" in
  crash) echo "Traceback (most recent call last):" >&2; echo "MemoryError" >&2; exit 2 ;;
  reject) printf '{"results": [], "errors": [{"code": 2, "level": "error", "type": "Rule parse error", "message": "Invalid pattern for Python"}]}\n'; exit 2 ;;
esac
config=""
files=""
while [ $# -gt 0 ]; do
  case "$1" in
    scan) ;;
    --config) shift; config="$1" ;;
    --*) ;;
    *) files="$files $1" ;;
  esac
  shift
done
pattern=$(sed -n 's/^ *-\{0,1\} *pattern: "\(.*\)"$/\1/p' "$config" | head -n 1)
not=$(sed -n 's/^ *- pattern-not: "\(.*\)"$/\1/p' "$config" | head -n 1)
case "$pattern" in
  *'...)') needle="${pattern%...)}" ;;
  *) needle="$pattern" ;;
esac
results=$(for f in $files; do
  grep -nF -- "$needle" "$f" | while IFS=: read -r line text; do
    if [ -n "$not" ] && printf '%s' "$text" | grep -qF -- "$not"; then continue; fi
    printf '{"check_id": "r", "path": "%s", "start": {"line": %s, "col": 1}, "end": {"line": %s, "col": 2}, "extra": {"lines": "requires login"}}\n' "$f" "$line" "$line"
  done
done | paste -sd, -)
printf '{"version": "1.0.0-fake", "results": [%s], "errors": []}\n' "$results"
"#;

/// A temporary home with a config naming the fake provider, the two
/// examples, and a directory holding the stand-in semgrep.
struct Lab {
    dir: tempfile::TempDir,
    fake: FakeProvider,
}

impl Lab {
    async fn new() -> Lab {
        let fake = FakeProvider::start().await;
        let dir = tempfile::tempdir().unwrap();
        let lab = Lab { dir, fake };
        std::fs::write(
            lab.path("config.toml"),
            format!(
                "[assistant]\nprovider = \"openai\"\nurl = \"{}/v1\"\nmodel = \"fake-model\"\n\
                 api_key_env = \"{KEY_VAR}\"\ntimeout_secs = 3\n",
                lab.fake.base
            ),
        )
        .unwrap();
        std::fs::write(lab.path("bad.py"), BAD).unwrap();
        std::fs::write(lab.path("good.py"), GOOD).unwrap();
        std::fs::create_dir_all(lab.path("bin")).unwrap();
        std::fs::create_dir_all(lab.path("empty")).unwrap();
        let semgrep = lab.path("bin/semgrep");
        std::fs::write(&semgrep, FAKE_SEMGREP).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&semgrep, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// sift with the stand-in semgrep first on PATH (`semgrep: true`), or
    /// with no semgrep anywhere on PATH.
    fn command(&self, semgrep: bool, args: &[&str]) -> Command {
        let tools = std::env::var_os("PATH").unwrap_or_default();
        let path = if semgrep {
            let mut dirs = vec![self.path("bin")];
            dirs.extend(std::env::split_paths(&tools));
            std::env::join_paths(dirs).unwrap()
        } else {
            self.path("empty").into_os_string()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sift"));
        cmd.current_dir(self.dir.path())
            .arg("--data-dir")
            .arg(self.path("data"))
            .arg("--config")
            .arg(self.path("config.toml"))
            .args(args)
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("XDG_STATE_HOME", self.path("state"))
            .env("FAKE_SEMGREP_LOG", self.path("semgrep.log"))
            .env(KEY_VAR, KEY)
            .env_remove("SIFT_SEMGREP")
            .env_remove("FAKE_SEMGREP_MODE")
            .env_remove("SIFT_PROFILE")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy");
        cmd
    }

    /// Runs sift off the async threads, so the fake can answer.
    async fn run_with(&self, mut cmd: Command) -> Output {
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    async fn run(&self, semgrep: bool, args: &[&str]) -> Output {
        self.run_with(self.command(semgrep, args)).await
    }

    /// The semgrep runs, one line of arguments each.
    fn semgrep_runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("semgrep.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The user message of each request the fake received.
    fn questions(&self) -> Vec<String> {
        self.fake
            .requests()
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_str(&r.body).unwrap();
                body["messages"][1]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }
}

const NEW: &[&str] = &[
    "rules",
    "new",
    "--lang",
    "py",
    "--prompt",
    "os.system called with a variable",
    "--bad",
    "bad.py",
    "--good",
    "good.py",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    NEW.iter().copied().chain(extra.iter().copied()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// The one rule in a Semgrep config file.
fn parsed_rule(yaml: &str) -> YamlOwned {
    let docs = YamlOwned::load_from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
    let doc = docs.into_iter().next().expect("a YAML document");
    assert_eq!(doc["rules"].as_vec().map(Vec::len), Some(1), "{yaml}");
    doc["rules"][0].clone()
}

fn text(node: &YamlOwned) -> &str {
    node.as_str()
        .unwrap_or_else(|| panic!("not a string: {node:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_that_fails_its_test_is_asked_again_with_what_semgrep_showed() {
    let lab = Lab::new().await;
    let out = lab.run(true, &args(&["-o", "rule.yaml", "--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let outcomes: Vec<&str> = report["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failed", "passed"], "{report}");
    assert_eq!(
        report["rounds"][0]["why"][0],
        "it matches the good example at line 4: os.system(SAFE_COMMAND)"
    );
    let test = &report["test"];
    assert_eq!(test["status"], "passed");
    assert_eq!(test["bad_example"]["matched"], true);
    assert_eq!(test["bad_example"]["lines"], serde_json::json!([5]));
    assert_eq!(test["good_example"]["matched"], false);
    assert_eq!(test["semgrep"], lab.path("bin/semgrep").to_str().unwrap());
    assert_eq!(report["rule"]["language"], "python");
    assert_eq!(report["written"], "rule.yaml");

    // The second question carried the first draft and what semgrep showed,
    // between markers.
    let questions = lab.questions();
    assert_eq!(questions.len(), 2);
    assert!(!questions[0].contains("WHAT SEMGREP SHOWED"));
    let second = &questions[1];
    let at = |s: &str| second.find(s).unwrap_or_else(|| panic!("{s} in {second}"));
    assert!(at("<<<PREVIOUS DRAFT") < at("os.system(...)"));
    assert!(at("<<<WHAT SEMGREP SHOWED") < at("matches the good example at line 4"));

    // Semgrep ran twice, sending nothing anywhere.
    let runs = lab.semgrep_runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.contains("--metrics=off")), "{runs:?}");

    // The file is the rule printed, and says what its test showed.
    let written = std::fs::read_to_string(lab.path("rule.yaml")).unwrap();
    assert_eq!(report["yaml"], written.as_str());
    assert!(
        written.starts_with(
            "# Drafted by `sift rules new`: review it before use.\n# Tested with semgrep: it \
             matches the bad example (line 5); it is silent on the good example.\n"
        ),
        "{written}"
    );
    let rule = parsed_rule(&written);
    assert_eq!(text(&rule["id"]), "fake-drafted-rule");
    assert_eq!(text(&rule["languages"][0]), "python");
    assert_eq!(text(&rule["severity"]), "ERROR");
    assert!(!text(&rule["message"]).is_empty());
    let terms = rule["patterns"].as_vec().unwrap();
    assert_eq!(text(&terms[0]["pattern"]), "os.system(...)");
    assert_eq!(text(&terms[1]["pattern-not"]), "os.system(SAFE_COMMAND)");

    // A second run does not replace it without --force; with it, it does.
    std::fs::write(lab.path("rule.yaml"), "mine\n").unwrap();
    let asked = lab.fake.requests().len();
    let out = lab.run(true, &args(&["-o", "rule.yaml"])).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(lab.path("rule.yaml")).unwrap(),
        "mine\n"
    );
    assert_eq!(lab.fake.requests().len(), asked, "nothing was asked");
    let out = lab
        .run(true, &args(&["-o", "rule.yaml", "--force", "-q"]))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_to_string(lab.path("rule.yaml")).unwrap();
    assert_eq!(stdout(&out), written, "stdout holds the rule alone");
    assert!(
        stderr(&out).contains("tested with semgrep"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_is_not_a_rule_is_sent_back_and_without_semgrep_sift_says_untested() {
    let lab = Lab::new().await;
    lab.fake.then(FakeFault::InvalidRule);
    let out = lab.run(false, &args(&["-o", "rule.yaml"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("draft 1 is not a usable rule: the draft has no pattern"),
        "{err}"
    );
    assert!(err.contains("UNTESTED"), "{err}");
    assert!(err.contains("semgrep is not installed"), "{err}");
    assert!(err.contains("wrote rule.yaml"), "{err}");
    let questions = lab.questions();
    assert_eq!(questions.len(), 2);
    assert!(
        questions[1].contains("<<<WHY IT WAS NOT USABLE"),
        "{}",
        questions[1]
    );
    assert!(questions[1].contains("no pattern"));
    // The rule on stdout (and in the file) says it was never tested.
    let printed = stdout(&out);
    assert!(
        printed.contains("\n# UNTESTED: semgrep is not installed"),
        "{printed}"
    );
    assert_eq!(text(&parsed_rule(&printed)["pattern"]), "os.system(...)");
    assert_eq!(
        std::fs::read_to_string(lab.path("rule.yaml")).unwrap(),
        printed
    );

    let out = lab.run(false, &args(&["--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["test"]["status"], "untested");
    assert_eq!(report["test"]["semgrep"], Value::Null);
    assert!(
        report["test"]["why_untested"]
            .as_str()
            .unwrap()
            .contains("semgrep is not installed"),
        "{report}"
    );
    assert_eq!(report["rounds"][0]["outcome"], "untested");
    assert_eq!(report["written"], Value::Null);

    // No example: nothing to test, said so, even with semgrep there.
    let out = lab
        .run(
            true,
            &[
                "rules",
                "new",
                "--lang",
                "go",
                "--prompt",
                "exec.Command",
                "--json",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert!(
        report["test"]["why_untested"]
            .as_str()
            .unwrap()
            .contains("no --bad or --good example"),
        "{report}"
    );
    assert!(lab.semgrep_runs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_never_passes_is_printed_but_not_written() {
    let lab = Lab::new().await;
    let semgrep = lab.path("bin/semgrep");
    let mut cmd = lab.command(false, &args(&["--rounds", "2", "-o", "rule.yaml"]));
    cmd.env("SIFT_SEMGREP", &semgrep)
        .env("FAKE_SEMGREP_MODE", "reject");
    let out = lab.run_with(cmd).await;
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("still FAILS its test"), "{err}");
    assert!(
        err.contains("semgrep rejected the rule: Invalid pattern for Python"),
        "{err}"
    );
    assert!(err.contains("nothing written to rule.yaml"), "{err}");
    assert!(!lab.path("rule.yaml").exists());
    assert!(
        stdout(&out).contains("# FAILED its test with semgrep"),
        "{}",
        stdout(&out)
    );
    assert_eq!(lab.questions().len(), 2, "two rounds at most");
    assert!(lab.questions()[1].contains("Invalid pattern for Python"));
    assert_eq!(lab.semgrep_runs().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semgrep_crashing_is_an_error_that_says_so() {
    let lab = Lab::new().await;
    let semgrep = lab.path("bin/semgrep");
    let mut cmd = lab.command(
        false,
        &args(&[
            "--semgrep",
            semgrep.to_str().unwrap(),
            "-o",
            "rule.yaml",
            "--json",
        ]),
    );
    cmd.env("FAKE_SEMGREP_MODE", "crash");
    let out = lab.run_with(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("failed (exit status 2) without a report: Traceback (most recent call last): / MemoryError"),
        "{err}"
    );
    assert!(
        json(&out)["error"]
            .as_str()
            .unwrap()
            .contains("MemoryError")
    );
    assert!(!lab.path("rule.yaml").exists());

    // A semgrep named but not there is refused before anything is asked.
    let out = lab
        .run(false, &args(&["--semgrep", "/nonexistent/semgrep"]))
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no semgrep at /nonexistent/semgrep"));
    assert_eq!(lab.fake.requests().len(), 1, "only the crashed run asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_faults_are_retried_or_reported() {
    let lab = Lab::new().await;
    // A 500 is retried.
    lab.fake.then(FakeFault::ServerError);
    let out = lab.run(true, &args(&["-q"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(lab.fake.requests().len(), 3, "the 500, then two drafts");

    // A refused key stops at once, naming the variable.
    lab.fake.then(FakeFault::Unauthorized);
    let out = lab.run(true, &args(&["--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(KEY_VAR), "{}", stderr(&out));
    assert!(json(&out)["error"].as_str().unwrap().contains("401"));
    assert!(!stderr(&out).contains(KEY));

    // A refusal ends the drafting: no rule, exit 6.
    lab.fake.then(FakeFault::Refusal);
    let asked = lab.fake.requests().len();
    let out = lab.run(true, &args(&["--json"])).await;
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["rule"], Value::Null);
    assert_eq!(report["yaml"], Value::Null);
    assert_eq!(report["rounds"][0]["outcome"], "declined");
    assert_eq!(lab.fake.requests().len(), asked + 1);

    // Prose every time: no rule after the rounds.
    lab.fake.then(FakeFault::Prose).then(FakeFault::Prose);
    let out = lab.run(true, &args(&["--rounds", "2"])).await;
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no usable rule after 2 draft(s); the last: the answer is not JSON"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());

    // No provider configured: nothing leaves, and sift says how to add one.
    std::fs::write(lab.path("config.toml"), "").unwrap();
    let asked = lab.fake.requests().len();
    let out = lab.run(true, &args(&[])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("[assistant]"), "{}", stderr(&out));
    assert_eq!(lab.fake.requests().len(), asked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused_before_anything_is_asked() {
    let lab = Lab::new().await;
    let refused = |out: &Output, code: i32, words: &str| {
        assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
        assert!(stderr(out).contains(words), "{words}: {}", stderr(out));
    };
    let new = |extra: &[&'static str]| -> Vec<&'static str> {
        ["rules", "new", "--prompt", "x"]
            .into_iter()
            .chain(extra.iter().copied())
            .collect()
    };
    refused(
        &lab.run(true, &new(&["--lang", "cobol"])).await,
        2,
        "one of: apex",
    );
    refused(
        &lab.run(true, &new(&["--lang", "py", "--bad", "missing.py"]))
            .await,
        3,
        "--bad: cannot read missing.py",
    );
    std::fs::write(lab.path("blob.bin"), [0xff, 0xfe, 0x00]).unwrap();
    refused(
        &lab.run(true, &new(&["--lang", "py", "--good", "blob.bin"]))
            .await,
        3,
        "not UTF-8",
    );
    refused(
        &lab.run(true, &["rules", "new", "--lang", "py", "--prompt", " "])
            .await,
        3,
        "--prompt is empty",
    );
    refused(
        &lab.run(true, &new(&["--lang", "py", "--rounds", "9"]))
            .await,
        2,
        "9",
    );
    assert!(lab.fake.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_from_the_model_is_inert() {
    let lab = Lab::new().await;
    for flags in [&["-o", "rule.yaml"][..], &["--json"][..]] {
        lab.fake.then(FakeFault::HostileReason);
        let out = lab.run(false, &args(flags)).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        for shown in [stdout(&out), stderr(&out)] {
            assert!(
                !shown.contains('\u{1b}')
                    && !shown.contains('\u{202e}')
                    && !shown.contains('\u{7}'),
                "raw: {shown:?}"
            );
        }
    }
    let written = std::fs::read_to_string(lab.path("rule.yaml")).unwrap();
    let rule = parsed_rule(&written);
    assert_eq!(text(&rule["id"]), "x-31m");
    let message = text(&rule["message"]);
    assert!(message.starts_with("Bad ]52;c;cm0gLXJmIH4="), "{message:?}");
}
