//! `cargo bench --bench assist`: `sift assist` on a generated backlog
//! against the fake provider with a fixed latency. It reports throughput
//! beside what the provider allows (jobs ÷ latency), the run's peak memory
//! at two sizes (it should stay flat), the same run with no latency (what
//! the store alone allows), and the prompt tokens per finding.
//!
//! Options: `--findings N` (default 10000), `--jobs N` (16),
//! `--latency-ms N` (20).

use serde_json::{Value, json};
use sift::assistant::fake::FakeProvider;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PER_FILE: usize = 100;

struct Options {
    findings: usize,
    jobs: usize,
    latency_ms: u64,
}

fn options() -> Options {
    let mut o = Options {
        findings: 10_000,
        jobs: 16,
        latency_ms: 20,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--findings", Some(v)) => o.findings = v as usize,
            ("--jobs", Some(v)) => o.jobs = v as usize,
            ("--latency-ms", Some(v)) => o.latency_ms = v,
            // cargo bench passes --bench; anything else is ignored.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// A project of `n` findings, each on its own line of code (so each is its
/// own question), imported with its source tree.
fn backlog(dir: &Path, n: usize) -> PathBuf {
    let tree = dir.join("tree");
    let mut results = Vec::with_capacity(n);
    for file in 0..n.div_ceil(PER_FILE) {
        let path = format!("app/views_{file}.py");
        let mut text = String::from("from app.db import cursor\n\n");
        for k in 0..PER_FILE.min(n - file * PER_FILE) {
            let line = 3 + 3 * k;
            text += &format!(
                "def view_{k}(request):\n    cursor.execute(\"SELECT * FROM t{file}_{k} WHERE id = \" + request.GET[\"id\"])\n\n"
            );
            results.push(json!({
                "check_id": "python.django.security.injection.sql.sql-injection-db-cursor-execute",
                "path": path,
                "start": {"line": line + 1, "col": 5, "offset": 0},
                "end": {"line": line + 1, "col": 80, "offset": 0},
                "extra": {"message": "SQL built from user input", "severity": "ERROR",
                          "metadata": {"cwe": ["CWE-89"], "confidence": "HIGH", "category": "security"},
                          "fingerprint": "requires login", "lines": "requires login"}
            }));
        }
        let file_path = tree.join(&path);
        std::fs::create_dir_all(file_path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(file_path, text).expect("write source");
    }
    let scan = dir.join("scan.json");
    std::fs::write(
        &scan,
        json!({"version": "1.100.0", "errors": [], "results": results}).to_string(),
    )
    .expect("write scan");
    tree
}

struct Run {
    seconds: f64,
    max_rss_mb: f64,
    report: Value,
}

fn sift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sift"))
}

/// Imports a fresh backlog of `n` and runs `sift assist` on it.
fn run(n: usize, jobs: usize, base: &str) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = backlog(dir.path(), n);
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[assistant]\nprovider = \"openai\"\nurl = \"{base}/v1\"\nmodel = \"fake-model\"\njobs = {jobs}\n"
        ),
    )
    .expect("config");
    let env = |c: &mut Command| {
        c.arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy");
    };
    let mut import = sift();
    env(&mut import);
    let out = import
        .args(["import", "--project", "bench", "--repo-root"])
        .arg(&tree)
        .arg(dir.path().join("scan.json"))
        .output()
        .expect("sift import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut assist = sift();
    env(&mut assist);
    assist
        .args(["assist", "--no-fixes", "--json", "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let mut child = assist.spawn().expect("sift assist");
    // The kernel's high-water mark of the process's resident memory, read
    // until it exits.
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    while child.try_wait().expect("wait").is_none() {
        if let Some(kb) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .map(str::to_string)
            })
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        {
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("sift assist");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        seconds,
        max_rss_mb: peak_kb as f64 / 1024.0,
        report: serde_json::from_slice(&out.stdout).expect("the report"),
    }
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let fake = runtime.block_on(FakeProvider::start());
    let base = fake.base.clone();

    // Without latency: what sift and its store allow on their own.
    fake.set_latency(Duration::ZERO);
    let small = o.findings / 10;
    let bare = runtime.block_on(async {
        let base = base.clone();
        tokio::task::spawn_blocking(move || run(small, o.jobs, &base))
            .await
            .expect("run")
    });
    fake.set_latency(Duration::from_millis(o.latency_ms));
    let timed = runtime.block_on(async {
        let base = base.clone();
        tokio::task::spawn_blocking(move || run(o.findings, o.jobs, &base))
            .await
            .expect("run")
    });

    let allowed = o.jobs as f64 / (o.latency_ms.max(1) as f64 / 1000.0);
    let rate = |r: &Run| r.report["findings"].as_f64().unwrap_or(0.0) / r.seconds;
    let tokens = |r: &Run| {
        r.report["input_tokens"].as_f64().unwrap_or(0.0)
            / r.report["questions"].as_f64().unwrap_or(1.0).max(1.0)
    };
    println!("sift assist against the fake provider (jobs {})", o.jobs);
    println!(
        "  {} findings, {} ms latency: {:.1} s, {:.0} findings/s; the provider allows {:.0}/s ({:.0}%)",
        o.findings,
        o.latency_ms,
        timed.seconds,
        rate(&timed),
        allowed,
        100.0 * rate(&timed) / allowed
    );
    println!(
        "  {} findings, no latency: {:.1} s, {:.0} findings/s (sift and its store alone)",
        small,
        bare.seconds,
        rate(&bare)
    );
    println!(
        "  peak memory of sift assist: {:.0} MB at {} findings, {:.0} MB at {}",
        bare.max_rss_mb, small, timed.max_rss_mb, o.findings
    );
    println!(
        "  prompt tokens per question: {:.0} (the fake counts one per four characters of the request)",
        tokens(&timed)
    );
    println!("  report: {}", timed.report);
}
