//! The backlog over HTTP: `sift serve` on loopback, a full pull by the
//! Semgrep API backend into an empty cache, then 10,000 decisions recorded
//! in that cache and pushed back by the sync's push-and-pull pass, whose
//! pull brings them back (only the changes, by `sift serve`'s change
//! cursor); then routine pulls, with nothing changed.

use crate::backlog::{Backlog, Scratch};
use crate::{Options, ms};
use anyhow::{Context, Result, bail};
use sift::backend::api::{Api, prepare_cache_dir};
use sift::backend::{Backend, BackendError, TriageRequest, TriageResponse};
use sift::store::Store;
use sift::sync::{SyncConfig, push_and_pull};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
pub struct Serve {
    /// The first page alone (3,000 findings): the server selects.
    pub first_page_ms: f64,
    /// The second page: sliced from the first page's selection.
    pub next_page_ms: f64,
    /// Pages a full pull takes.
    pub pages: usize,
    /// Skipped: the estimate from the first two pages exceeded the time
    /// cap; the estimate, in seconds.
    pub skipped_estimate_s: Option<f64>,
    /// Findings the pull brought into the cache.
    pub pulled: usize,
    /// `Api::pull` into an empty cache: every page, then the import.
    pub pull_ms: f64,
    /// Peak resident memory of the benchmark process during the pull, KiB.
    pub pull_hwm_kb: u64,
    pub decisions: usize,
    /// Writing them to the cache's outbox.
    pub record_ms: f64,
    /// The bulk triage calls of the push-and-pull pass.
    pub push_ms: f64,
    pub push_calls: usize,
    /// The pull that ends the pass: the 10,000 decisions come back.
    pub pass_pull_ms: f64,
    /// Pulls with nothing changed since the last, as the console makes
    /// them every few seconds: the median of `ROUTINE_PULLS`.
    pub routine_pull_ms: f64,
    /// Whether the client held a change cursor (asked only for changes).
    pub by_cursor: bool,
}

/// Routine pulls timed after the pass.
const ROUTINE_PULLS: usize = 5;

/// Whether this sift has a `serve` command.
pub fn available(opts: &Options) -> bool {
    Command::new(&opts.sift)
        .args(["serve", "--help"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The server, stopped (SIGTERM, then SIGKILL) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Times the calls a sync pass makes to the backend.
struct Timed<B> {
    inner: B,
    triage: Mutex<(Duration, usize)>,
    pull: Mutex<Duration>,
}

impl<B: Backend> Backend for Timed<B> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn triage(&self, request: TriageRequest) -> Result<TriageResponse, BackendError> {
        let t = Instant::now();
        let answer = self.inner.triage(request).await;
        let mut total = self.triage.lock().unwrap_or_else(|e| e.into_inner());
        total.0 += t.elapsed();
        total.1 += 1;
        answer
    }

    async fn pull(&self) -> Result<bool, BackendError> {
        let t = Instant::now();
        let answer = self.inner.pull().await;
        *self.pull.lock().unwrap_or_else(|e| e.into_inner()) += t.elapsed();
        answer
    }
}

/// Resets this process's peak resident memory (VmHWM).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_kb() -> u64 {
    crate::pty::memory_of(std::process::id()).map_or(0, |(_, hwm)| hwm)
}

/// Starts `sift serve` on a free loopback port over `dir`.
fn start(opts: &Options, dir: &Path, log: &str) -> Result<(Server, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = std::fs::File::create(opts.data.join(log))?;
    let server = Server(
        Command::new(&opts.sift)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("XDG_CONFIG_HOME", opts.home.join("config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start sift serve")?,
    );
    Ok((server, format!("http://127.0.0.1:{port}")))
}

/// A client of the server at `url` with its cache in `cache`, once the
/// server answers.
async fn client(url: &str, cache: &Path) -> Result<Api> {
    let api = Api::new(url, None, None, cache)?
        // Every ref's findings: the whole backlog, not one per match.
        .with_dedup(false)
        .with_timeout(Duration::from_secs(600))?;
    let up = Instant::now() + Duration::from_secs(60);
    while let Err(e) = api.ping().await {
        if Instant::now() > up {
            bail!("sift serve did not answer within 60 s: {e}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(api)
}

pub fn measure(opts: &Options, backlog: &Backlog, decisions: usize) -> Result<Option<Serve>> {
    if !available(opts) {
        println!("  sift serve: this sift has no serve command; skipped");
        return Ok(None);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cache = CacheDir::new(opts.data.join(format!("cache-{}", backlog.n)))?;
    let mut out = Serve::default();

    // Pulling only reads: serve the kept backlog itself.
    {
        let (_server, url) = start(opts, &backlog.dir, &format!("serve-{}.log", backlog.n))?;
        rt.block_on(async {
            let api = client(&url, &cache.0).await?;
            let query = sift::wire::v1::FindingsQuery {
                page_size: sift::wire::v1::MAX_PAGE_SIZE,
                ..Default::default()
            };
            let t = Instant::now();
            api.findings_page(&query).await?;
            out.first_page_ms = ms(t.elapsed());
            out.pages = backlog.n.div_ceil(query.page_size as usize).max(1);
            // The server selects on the first page and slices the next
            // ones from that selection: time one of those too.
            let t = Instant::now();
            api.findings_page(&sift::wire::v1::FindingsQuery {
                page: 1,
                ..query.clone()
            })
            .await?;
            out.next_page_ms = ms(t.elapsed());
            let estimate_s =
                (out.first_page_ms + out.next_page_ms * (out.pages - 1) as f64) / 1000.0;
            if estimate_s > opts.serve_max_s as f64 {
                out.skipped_estimate_s = Some(estimate_s);
                return Ok(());
            }
            reset_peak();
            let t = Instant::now();
            api.pull().await?;
            out.pull_ms = ms(t.elapsed());
            out.pull_hwm_kb = peak_kb();
            anyhow::Ok(())
        })?;
    }
    if out.skipped_estimate_s.is_some() {
        return Ok(Some(out));
    }

    // The decisions change the served store: serve a throwaway copy.
    let scratch = Scratch::of(opts, backlog)?;
    let (_server, url) = start(opts, &scratch.dir, &format!("serve-push-{}.log", backlog.n))?;
    let api = rt.block_on(client(&url, &cache.0))?;
    let mut store = Store::open(&cache.0)?;
    out.pulled = store.count_findings()?;
    let changes = crate::backlog::reviewing(&store, decisions)?;
    out.decisions = changes.len();
    let t = Instant::now();
    store.record(&changes, "bench")?;
    out.record_ms = ms(t.elapsed());
    let timed = Timed {
        inner: api,
        triage: Mutex::new((Duration::ZERO, 0)),
        pull: Mutex::new(Duration::ZERO),
    };
    let report = rt.block_on(push_and_pull(&timed, &mut store, &SyncConfig::default()))?;
    if let Some(offline) = report.offline {
        bail!("pushing to sift serve failed: {}", offline.reason);
    }
    // A decision on a finding a scan fixed is refused, not lost.
    let refused: usize = report.rejected.iter().map(|r| r.outbox_ids.len()).sum();
    if report.acknowledged + refused != out.decisions {
        bail!(
            "sift serve acknowledged {} and refused {refused} of {} decisions",
            report.acknowledged,
            out.decisions
        );
    }
    let (push, calls) = *timed.triage.lock().unwrap_or_else(|e| e.into_inner());
    out.push_ms = ms(push);
    out.push_calls = calls;
    out.pass_pull_ms = ms(*timed.pull.lock().unwrap_or_else(|e| e.into_inner()));
    out.by_cursor = timed.inner.pulls_cheaply();
    let mut routine = Vec::with_capacity(ROUTINE_PULLS);
    for _ in 0..ROUTINE_PULLS {
        let t = Instant::now();
        let changed = rt.block_on(timed.inner.pull())?;
        routine.push(ms(t.elapsed()));
        if changed {
            bail!("a routine pull found changes where there were none");
        }
    }
    routine.sort_by(f64::total_cmp);
    out.routine_pull_ms = routine[routine.len() / 2];
    Ok(Some(out))
}

/// An empty cache directory for the API backend, removed when dropped.
struct CacheDir(PathBuf);

impl CacheDir {
    fn new(dir: PathBuf) -> Result<CacheDir> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        prepare_cache_dir(&dir)?;
        Ok(CacheDir(dir))
    }
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
