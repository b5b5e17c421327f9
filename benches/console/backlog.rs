//! The backlogs the benchmark runs on, and the measurements that need no
//! terminal: exporting the whole backlog, pushing 10,000 decisions.

use crate::{Options, ms};
use anyhow::{Context, Result, bail};
use sift::backend::embedded::Embedded;
use sift::domain::{TriageChange, TriageState};
use sift::store::Store;
use sift::sync::{SyncConfig, push_and_pull};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Marks a backlog as completely written; holds the seconds it took.
const SEEDED: &str = "bench-seeded";

/// A generated backlog of `n` findings, seeded by `sift demo --findings N
/// --seed-only` and kept between runs.
pub struct Backlog {
    pub n: usize,
    pub dir: PathBuf,
    /// Seconds `sift demo --seed-only` took (when this run or an earlier
    /// one wrote it).
    pub seed_s: f64,
    pub seeded_now: bool,
}

pub fn ensure(opts: &Options, n: usize) -> Result<Backlog> {
    let dir = opts.data.join(format!("backlog-{n}"));
    let marker = opts.data.join(format!("{SEEDED}-{n}"));
    if let Some(seed_s) = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|_| dir.join(sift::store::DB_FILE).exists())
    {
        return Ok(Backlog {
            n,
            dir,
            seed_s,
            seeded_now: false,
        });
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&opts.data)?;
    eprintln!("  seeding {n} findings into {} …", dir.display());
    let t = Instant::now();
    let out = Command::new(&opts.sift)
        .arg("--data-dir")
        .arg(&dir)
        .args(["demo", "--findings", &n.to_string(), "--seed-only"])
        .env("XDG_CONFIG_HOME", opts.home.join("config"))
        .stdin(Stdio::null())
        .output()
        .context("cannot run sift demo")?;
    if !out.status.success() {
        bail!(
            "sift demo --findings {n} --seed-only failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let seed_s = t.elapsed().as_secs_f64();
    std::fs::write(&marker, format!("{seed_s:.1}\n"))?;
    Ok(Backlog {
        n,
        dir,
        seed_s,
        seeded_now: true,
    })
}

/// A throwaway copy of a backlog's store, removed when dropped.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn of(opts: &Options, backlog: &Backlog) -> Result<Scratch> {
        let dir = opts.data.join(format!("scratch-{}", backlog.n));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        // Nothing has the store open now, so its files are consistent.
        for entry in std::fs::read_dir(&backlog.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), dir.join(entry.file_name()))?;
            }
        }
        Ok(Scratch { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `sift findings --view all --json > file`: the whole backlog in the
/// Semgrep API v1 shape.
pub struct Export {
    pub file: PathBuf,
    pub ms: f64,
    pub bytes: u64,
    /// Peak resident memory of the exporting process, KiB.
    pub max_rss_kb: u64,
}

pub fn export(opts: &Options, backlog: &Backlog) -> Result<Export> {
    let file = opts.data.join(format!("findings-{}.json", backlog.n));
    let usage = run_with_rusage(
        Command::new(&opts.sift)
            .arg("--data-dir")
            .arg(&backlog.dir)
            .args(["findings", "--view", "all", "--json"])
            .env("XDG_CONFIG_HOME", opts.home.join("config"))
            .stdout(File::create(&file)?),
    )?;
    if usage.status != 0 {
        bail!(
            "sift findings --view all --json failed (status {})",
            usage.status
        );
    }
    Ok(Export {
        bytes: std::fs::metadata(&file)?.len(),
        file,
        ms: usage.ms,
        max_rss_kb: usage.max_rss_kb,
    })
}

/// What a program measured from outside took.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Its wait status.
    pub status: i32,
    /// Wall-clock time from spawn to exit.
    pub ms: f64,
    /// User and system CPU time.
    pub cpu_ms: f64,
    /// Peak resident memory (VmHWM), KiB.
    pub max_rss_kb: u64,
}

/// Runs `command` (stdin from /dev/null) to its end and says what it took.
pub fn run_with_rusage(command: &mut Command) -> Result<Usage> {
    let t = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's; the pointers are valid for the call.
    let rc = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let elapsed = t.elapsed();
    if rc < 0 {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    Ok(Usage {
        status,
        ms: ms(elapsed),
        cpu_ms: secs(usage.ru_utime) + secs(usage.ru_stime),
        max_rss_kb: usage.ru_maxrss as u64,
    })
}

/// Storing decisions through the library, as the console and `sift triage`
/// do: written to the outbox, then sent by one push-and-pull pass.
pub struct Push {
    pub decisions: usize,
    pub record_ms: f64,
    pub push_ms: f64,
    pub acknowledged: usize,
    pub calls: usize,
}

/// Records `count` decisions (status "reviewing") on the first findings of
/// the backlog and pushes them to the embedded backend, in process.
/// "Reviewing" for the first `count` findings of the list: the decisions
/// the push measurements record.
pub fn reviewing(store: &Store, count: usize) -> Result<Vec<(i64, TriageChange)>> {
    let change = TriageChange {
        state: Some(TriageState::Reviewing),
        reason: None,
        note: None,
    };
    Ok(store
        .load_index()?
        .rows
        .iter()
        .take(count)
        .map(|r| (r.id, change.clone()))
        .collect())
}

pub fn push_decisions(dir: &Path, count: usize) -> Result<Push> {
    let mut store = Store::open(dir)?;
    let changes = reviewing(&store, count)?;
    let t = Instant::now();
    store.record(&changes, "bench")?;
    let record_ms = ms(t.elapsed());
    let backend = Embedded::open(dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let t = Instant::now();
    let report = rt.block_on(push_and_pull(&backend, &mut store, &SyncConfig::default()))?;
    let push_ms = ms(t.elapsed());
    if let Some(offline) = report.offline {
        bail!("pushing decisions failed: {}", offline.reason);
    }
    Ok(Push {
        decisions: changes.len(),
        record_ms,
        push_ms,
        acknowledged: report.acknowledged,
        calls: report.calls,
    })
}
