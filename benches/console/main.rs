//! The console benchmark (issue 6, DESIGN §6 budgets).
//!
//! ```sh
//! cargo bench --bench console                       # 10k, 100k and 1M findings
//! cargo bench --bench console -- --sizes 10k,100k   # skip 1M
//! ```
//!
//! For each size it seeds a backlog with `sift demo --findings N
//! --seed-only` (kept in target/bench-data between runs), then runs the
//! release `sift` on a real pseudo-terminal (120x40, TERM=xterm-256color)
//! and measures, from outside the process:
//! - start: spawn to the end of the first synchronized update
//!   (`CSI ? 2026 l`), i.e. the first complete, interactive frame;
//! - key: `j` written to the master to the end of the key's own frame (the
//!   first synchronized update after it), and that frame's bytes, for a
//!   move that does not scroll the list and one that scrolls it by a row;
//! - details at rest: the console loads the selected finding's details
//!   once the cursor has rested 90 ms and repaints the detail pane; the
//!   time from the key to the end of that frame, and its bytes;
//! - a held key: 10 `j` written 33 ms apart (key repeat), the bytes until
//!   the last key's frame per move, then those of the details at rest;
//! - filter: a letter typed in the filter prompt to the end of its own
//!   frame (the list filtered and counted), and to the details at rest;
//! - bytes per decision (`f`, on a throwaway copy, until quiet: including
//!   the frames the background sync's acknowledgement causes);
//! - VmRSS after start, from /proc.
//!
//! Then, without a terminal: the export of the whole backlog (`sift
//! findings --view all --json`); `sift serve` on loopback, a full pull of
//! the backlog by the Semgrep API backend and 10,000 decisions pushed back
//! (serve.rs); the same 10,000 decisions pushed to the embedded backend in
//! process; VisiData opening the export (visidata.rs); and the import of a
//! `semgrep scan --json` file of N results beside Python's `json.load` of
//! it (import.rs).
//!
//! It prints a table of medians, the growth from size to size, and the
//! budget check at 100k. See BENCHMARKS.md.

mod backlog;
mod console;
mod import;
mod pty;
mod serve;
mod visidata;

use anyhow::{Context, Result, bail};
use pty::Reply;
use std::path::PathBuf;
use std::time::Duration;

// The pulls are timed in this process: with sift's own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub struct Options {
    /// The release sift built next to this benchmark.
    pub sift: PathBuf,
    /// Cargo's target directory.
    pub target: PathBuf,
    /// Backlogs, exports and scratch copies (default target/bench-data).
    pub data: PathBuf,
    /// HOME and XDG_CONFIG_HOME for the programs measured.
    pub home: PathBuf,
    pub sizes: Vec<usize>,
    /// Console sessions per size.
    pub runs: usize,
    pub cols: u16,
    pub rows: u16,
    pub vd: bool,
    pub install_vd: bool,
    pub vd_max_mb: u64,
    pub vd_max_s: u64,
    /// Only the console on the pty: no export, sift serve, push or VisiData.
    pub console_only: bool,
    /// Only `sift serve`'s pulls and push: no console, export or VisiData.
    pub serve_only: bool,
    /// Only the import of `semgrep scan --json` output: no backlog.
    pub import_only: bool,
    /// The largest size the import is measured at (Python's `json.load`
    /// of a million results needs gigabytes).
    pub import_max: usize,
    /// Skip the full pull from sift serve when its first two pages suggest
    /// it would take longer than this (seconds).
    pub serve_max_s: u64,
}

const USAGE: &str = "\
cargo bench --bench console [-- OPTIONS]

  --sizes LIST     backlog sizes, e.g. 10k,100k,1m (default 10k,100k,1m;
                   env SIFT_BENCH_SIZES)
  --runs N         console sessions per size (default 5; env SIFT_BENCH_RUNS)
  --no-vd          skip the VisiData comparison (env SIFT_BENCH_NO_VD=1)
  --console-only   only the console on the pty (the budgets): no export,
                   sift serve, pushes or VisiData
  --serve-only     only the pulls from and the push to sift serve
  --import-only    only the import of a semgrep scan --json file of each
                   size beside Python's json.load of it (no backlog)
  --import-max N   measure the import at sizes up to N only (default 100k)
  --no-install     do not pip-install VisiData into target/bench-venv when
                   it is missing
  --vd-max-mb MB   stop VisiData above this resident memory (default 6144)
  --vd-max-s S     stop VisiData after this many seconds (default 300)
  --serve-max-s S  skip the full pull from sift serve when the first two
                   pages say it would take longer (default 600)

Backlogs are kept in target/bench-data (env SIFT_BENCH_DATA); delete a
backlog-N directory to seed it again.";

fn parse_size(s: &str) -> Result<usize> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, factor) = match s.strip_suffix('k') {
        Some(d) => (d, 1_000),
        None => match s.strip_suffix('m') {
            Some(d) => (d, 1_000_000),
            None => (s.as_str(), 1),
        },
    };
    let n: f64 = digits
        .replace('_', "")
        .parse()
        .with_context(|| format!("not a size: {s}"))?;
    Ok((n * factor as f64) as usize)
}

fn parse_sizes(list: &str) -> Result<Vec<usize>> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(parse_size)
        .collect()
}

impl Options {
    fn from_args() -> Result<Options> {
        let sift = PathBuf::from(env!("CARGO_BIN_EXE_sift"));
        let target = sift
            .parent()
            .and_then(|p| p.parent())
            .context("cannot tell the target directory from the sift path")?
            .to_path_buf();
        let data = std::env::var_os("SIFT_BENCH_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join("bench-data"));
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut opts = Options {
            home: data.join("home"),
            sizes: parse_sizes(&env("SIFT_BENCH_SIZES").unwrap_or("10k,100k,1m".into()))?,
            runs: env("SIFT_BENCH_RUNS").map_or(Ok(5), |r| r.parse())?,
            cols: 120,
            rows: 40,
            vd: env("SIFT_BENCH_NO_VD").is_none(),
            install_vd: true,
            vd_max_mb: 6144,
            vd_max_s: 300,
            serve_max_s: 600,
            console_only: false,
            serve_only: false,
            import_only: false,
            import_max: 100_000,
            sift,
            target,
            data,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                // cargo bench passes --bench to every benchmark.
                "--bench" => {}
                "--sizes" => opts.sizes = parse_sizes(&value()?)?,
                "--runs" => opts.runs = value()?.parse()?,
                "--no-vd" => opts.vd = false,
                "--console-only" => opts.console_only = true,
                "--serve-only" => opts.serve_only = true,
                "--import-only" => opts.import_only = true,
                "--import-max" => opts.import_max = parse_size(&value()?)?,
                "--no-install" => opts.install_vd = false,
                "--vd-max-mb" => opts.vd_max_mb = value()?.parse()?,
                "--vd-max-s" => opts.vd_max_s = value()?.parse()?,
                "--serve-max-s" => opts.serve_max_s = value()?.parse()?,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other}\n\n{USAGE}"),
            }
        }
        if [opts.console_only, opts.serve_only, opts.import_only]
            .iter()
            .filter(|&&only| only)
            .count()
            > 1
        {
            bail!(
                "--console-only, --serve-only and --import-only leave nothing to measure together"
            );
        }
        if opts.runs == 0 || opts.sizes.is_empty() {
            bail!("nothing to measure\n\n{USAGE}");
        }
        std::fs::create_dir_all(opts.home.join("config"))?;
        Ok(opts)
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn quantile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    Some(v[i])
}

/// Time to the key's own frame: the first frame after it.
fn frame_ms(r: &Reply) -> Option<f64> {
    r.first_frame.map(ms)
}

/// Time to the last frame before the console went quiet: the details of
/// the selected finding, loaded once the cursor rested, when they came.
fn rest_ms(r: &Reply) -> Option<f64> {
    (r.frames > 1).then_some(r.last_frame).flatten().map(ms)
}

/// Bytes after the key's own frame, until quiet.
fn rest_bytes(r: &Reply) -> f64 {
    (r.bytes - r.first_bytes) as f64
}

pub fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Everything measured at one size.
struct Size {
    n: usize,
    seed_s: f64,
    seeded_now: bool,
    sessions: Vec<console::Session>,
    decisions: Vec<Reply>,
    push: Option<backlog::Push>,
    export: Option<backlog::Export>,
    serve: Option<serve::Serve>,
    vd: Option<visidata::Vd>,
    import: Option<import::Import>,
}

/// The medians of the main table.
#[derive(Clone, Copy, Default)]
struct Row {
    start_ms: Option<f64>,
    /// `j`'s own frame: time (moves and scrolls) and bytes (moves).
    key_ms: Option<f64>,
    move_b: Option<f64>,
    /// The details once the cursor rests, after a non-scrolling `j`: the
    /// key to the end of their frame, and the bytes after the key's frame.
    rest_ms: Option<f64>,
    rest_b: Option<f64>,
    /// A held `j` (no scrolling): bytes per key up to the last key's frame.
    held_b: Option<f64>,
    /// A scrolling `j`'s own frame.
    scroll_b: Option<f64>,
    /// A filter letter's own frame.
    filter_ms: Option<f64>,
    decision_b: Option<f64>,
    rss_mb: Option<f64>,
}

impl Size {
    fn keys(&self) -> Vec<&Reply> {
        self.sessions
            .iter()
            .flat_map(|s| s.moves.iter().chain(&s.scrolls))
            .collect()
    }

    fn moves(&self) -> impl Iterator<Item = &Reply> {
        self.sessions.iter().flat_map(|s| &s.moves)
    }

    fn row(&self) -> Row {
        let s = &self.sessions;
        Row {
            start_ms: median(s.iter().map(|s| s.start_ms).collect()),
            key_ms: median(self.keys().into_iter().filter_map(frame_ms).collect()),
            move_b: median(self.moves().map(|r| r.first_bytes as f64).collect()),
            rest_ms: median(self.moves().filter_map(rest_ms).collect()),
            rest_b: median(self.moves().map(rest_bytes).collect()),
            held_b: median(
                s.iter()
                    .flat_map(|s| &s.held)
                    .map(|h| h.held_bytes as f64 / h.keys as f64)
                    .collect(),
            ),
            scroll_b: median(
                s.iter()
                    .flat_map(|s| &s.scrolls)
                    .map(|r| r.first_bytes as f64)
                    .collect(),
            ),
            filter_ms: median(
                s.iter()
                    .flat_map(|s| &s.filters)
                    .filter_map(frame_ms)
                    .collect(),
            ),
            decision_b: median(self.decisions.iter().map(|r| r.bytes as f64).collect()),
            rss_mb: median(s.iter().map(|s| s.rss_kb as f64 / 1024.0).collect()),
        }
    }
}

fn fmt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.decimals$}"))
}

fn measure(opts: &Options, n: usize, vd: Option<&std::path::Path>) -> Result<Size> {
    println!("\n## {} findings", label(n));
    if opts.import_only {
        let import = measure_import(opts, n)?;
        return Ok(Size {
            n,
            seed_s: 0.0,
            seeded_now: false,
            sessions: Vec::new(),
            decisions: Vec::new(),
            push: None,
            export: None,
            serve: None,
            vd: None,
            import,
        });
    }
    let backlog = backlog::ensure(opts, n)?;
    println!(
        "  backlog: {} ({} in {:.1} s{})",
        backlog.dir.display(),
        if backlog.seeded_now {
            "seeded now"
        } else {
            "seeded earlier"
        },
        backlog.seed_s,
        if backlog.seeded_now { "" } else { ", kept" }
    );
    let mut size = Size {
        n,
        seed_s: backlog.seed_s,
        seeded_now: backlog.seeded_now,
        sessions: Vec::new(),
        decisions: Vec::new(),
        push: None,
        export: None,
        serve: None,
        vd: None,
        import: None,
    };

    if opts.serve_only {
        size.serve = serve::measure(opts, &backlog, 10_000)?;
        print_serve(opts, size.serve.as_ref());
        return Ok(size);
    }

    // A first start reads the store from disk; the runs after it find it
    // in the page cache, as a reviewer's second start would.
    let warm = console::session(opts, &backlog.dir, false)?;
    println!(
        "  warm-up start (page cache cold or not): {:.1} ms",
        warm.start_ms
    );
    for run in 0..opts.runs {
        let s = console::session(opts, &backlog.dir, true)
            .with_context(|| format!("console session {}", run + 1))?;
        println!(
            "  run {}: start {:.1} ms, RSS {:.1} MB (peak {:.1} MB), key {} ms, filter {} ms",
            run + 1,
            s.start_ms,
            s.rss_kb as f64 / 1024.0,
            s.hwm_kb as f64 / 1024.0,
            fmt(
                median(
                    s.moves
                        .iter()
                        .chain(&s.scrolls)
                        .filter_map(frame_ms)
                        .collect()
                ),
                2
            ),
            fmt(median(s.filters.iter().filter_map(frame_ms).collect()), 2),
        );
        size.sessions.push(s);
    }
    let keys = size.keys();
    let key_ms: Vec<f64> = keys.iter().copied().filter_map(frame_ms).collect();
    let frames: Vec<f64> = keys.iter().map(|r| r.frames as f64).collect();
    println!(
        "  j: {} presses; its own frame median {} ms, p90 {} ms, max {} ms; frames until quiet per key median {}, max {}",
        key_ms.len(),
        fmt(median(key_ms.clone()), 2),
        fmt(quantile(key_ms.clone(), 0.9), 2),
        fmt(quantile(key_ms, 1.0), 2),
        fmt(median(frames.clone()), 0),
        fmt(quantile(frames, 1.0), 0),
    );
    let first_bytes = |rs: Vec<&Reply>| {
        let v: Vec<f64> = rs.iter().map(|r| r.first_bytes as f64).collect();
        (fmt(median(v.clone()), 0), fmt(quantile(v, 1.0), 0))
    };
    let (moves, moves_max) = first_bytes(size.moves().collect());
    let (scrolls, scrolls_max) =
        first_bytes(size.sessions.iter().flat_map(|s| &s.scrolls).collect());
    println!(
        "  bytes of j's own frame: not scrolling median {moves}, max {moves_max}; scrolling median {scrolls}, max {scrolls_max}"
    );
    let rest: Vec<f64> = size.moves().filter_map(rest_ms).collect();
    let rest_b: Vec<f64> = size.moves().map(rest_bytes).collect();
    println!(
        "  details once the cursor rests (non-scrolling j): their frame ends median {} ms after the key, p90 {} ms, max {} ms; \
         bytes after the key's frame median {}, max {}; moves without a frame after their own within {} ms: {} of {}",
        fmt(median(rest.clone()), 1),
        fmt(quantile(rest.clone(), 0.9), 1),
        fmt(quantile(rest.clone(), 1.0), 1),
        fmt(median(rest_b.clone()), 0),
        fmt(quantile(rest_b, 1.0), 0),
        console::QUIET.as_millis(),
        size.moves().count() - rest.len(),
        size.moves().count(),
    );
    let panes = |f: fn(&console::Session) -> &Vec<console::PaneBytes>| {
        let panes: Vec<&console::PaneBytes> = size.sessions.iter().flat_map(f).collect();
        let pane = |g: fn(&console::PaneBytes) -> usize| {
            fmt(median(panes.iter().map(|p| g(p) as f64).collect()), 0)
        };
        format!(
            "list {}, detail {}, sidebar {}, status line {}",
            pane(|p| p.list),
            pane(|p| p.detail),
            pane(|p| p.sidebar),
            pane(|p| p.other)
        )
    };
    println!(
        "  those bytes by pane (medians): j's own frame: {}; the details at rest: {}",
        panes(|s| &s.move_panes),
        panes(|s| &s.rest_panes),
    );
    for (what, held) in [
        (
            "from the top, not scrolling",
            size.sessions
                .iter()
                .flat_map(|s| &s.held)
                .collect::<Vec<_>>(),
        ),
        (
            "every key scrolling",
            size.sessions
                .iter()
                .flat_map(|s| &s.held_scrolling)
                .collect(),
        ),
    ] {
        let per_key = |f: fn(&pty::Held) -> usize| {
            fmt(
                median(held.iter().map(|h| f(h) as f64 / h.keys as f64).collect()),
                0,
            )
        };
        let of =
            |f: fn(&pty::Held) -> usize| fmt(median(held.iter().map(|h| f(h) as f64).collect()), 0);
        println!(
            "  j held ({} keys {} ms apart), {what}: {} B per key up to the last key's frame ({} frames); \
             then the details at rest: {} B in {} frame(s), ending {} ms after the last key; all in: {} B per key",
            console::HELD_KEYS,
            console::KEY_REPEAT.as_millis(),
            per_key(|h| h.held_bytes),
            of(|h| h.held_frames),
            of(|h| h.rest_bytes),
            of(|h| h.rest_frames),
            fmt(
                median(held.iter().filter_map(|h| h.rest.map(ms)).collect()),
                1
            ),
            per_key(|h| h.held_bytes + h.rest_bytes),
        );
    }
    let filters: Vec<&Reply> = size.sessions.iter().flat_map(|s| &s.filters).collect();
    let filter_ms: Vec<f64> = filters.iter().copied().filter_map(frame_ms).collect();
    let prompts: Vec<f64> = size
        .sessions
        .iter()
        .flat_map(|s| &s.prompts)
        .filter_map(frame_ms)
        .collect();
    println!(
        "  filter letters: {} typed; own frame median {} ms, p90 {} ms, max {} ms, {} B; details at rest median {} ms; opening the prompt (/) median {} ms",
        filter_ms.len(),
        fmt(median(filter_ms.clone()), 2),
        fmt(quantile(filter_ms.clone(), 0.9), 2),
        fmt(quantile(filter_ms, 1.0), 2),
        fmt(
            median(filters.iter().map(|r| r.first_bytes as f64).collect()),
            0
        ),
        fmt(
            median(filters.iter().copied().filter_map(rest_ms).collect()),
            1
        ),
        fmt(median(prompts), 2),
    );
    let cpu = |rs: Vec<&Reply>| fmt(median(rs.iter().filter_map(|r| r.cpu.map(ms)).collect()), 2);
    println!(
        "  CPU time of sift's threads (schedstat) from the key until quiet (its frame and the details at rest): per j median {} ms; per filter letter median {} ms",
        cpu(keys.clone()),
        cpu(filters),
    );

    {
        let scratch = backlog::Scratch::of(opts, &backlog)?;
        size.decisions = console::decisions(opts, &scratch.dir, 5)?;
        let d = &size.decisions;
        println!(
            "  decision (f): bytes median {}, first frame median {} ms, frames median {}",
            fmt(median(d.iter().map(|r| r.bytes as f64).collect()), 0),
            fmt(
                median(d.iter().filter_map(|r| r.first_frame.map(ms)).collect()),
                2
            ),
            fmt(median(d.iter().map(|r| r.frames as f64).collect()), 0),
        );
        if !opts.console_only {
            let push = backlog::push_decisions(&scratch.dir, 10_000)?;
            println!(
                "  {} decisions, in process: recorded in the outbox in {:.0} ms, pushed to the embedded backend in {:.0} ms ({} bulk calls, {} acknowledged)",
                push.decisions, push.record_ms, push.push_ms, push.calls, push.acknowledged
            );
            size.push = Some(push);
        }
    }

    if opts.console_only {
        return Ok(size);
    }
    let export = backlog::export(opts, &backlog)?;
    println!(
        "  export (sift findings --view all --json): {:.0} ms, {:.1} MB, peak RSS {:.1} MB",
        export.ms,
        export.bytes as f64 / 1e6,
        export.max_rss_kb as f64 / 1024.0
    );
    size.serve = serve::measure(opts, &backlog, 10_000)?;
    print_serve(opts, size.serve.as_ref());
    size.import = measure_import(opts, n)?;

    if let Some(vd) = vd {
        let v = visidata::measure(opts, vd, &export.file, n)?;
        match v.stopped {
            None => println!(
                "  VisiData: first screen {} ms, findings as rows (zEnter) {} ms more, RSS {:.1} MB (peak {:.1} MB)",
                fmt(v.screen_ms, 0),
                fmt(v.rows_ms, 0),
                v.rss_kb as f64 / 1024.0,
                v.hwm_kb as f64 / 1024.0
            ),
            Some(why) => println!(
                "  VisiData: stopped by the {why} after {:.0} ms at RSS {:.1} MB (first screen {} ms)",
                v.elapsed_ms,
                v.rss_kb as f64 / 1024.0,
                fmt(v.screen_ms, 0)
            ),
        }
        size.vd = Some(v);
    }
    let _ = std::fs::remove_file(&export.file);
    size.export = Some(export);
    Ok(size)
}

fn measure_import(opts: &Options, n: usize) -> Result<Option<import::Import>> {
    if n > opts.import_max {
        println!(
            "  import of semgrep scan --json: skipped above --import-max {}",
            label(opts.import_max)
        );
        return Ok(None);
    }
    let import = import::measure(opts, n)?;
    import::print(&import);
    Ok(Some(import))
}

fn print_serve(opts: &Options, serve: Option<&serve::Serve>) {
    let Some(v) = serve else { return };
    match v.skipped_estimate_s {
        Some(est) => println!(
            "  sift serve on loopback: first page of 3,000 in {:.0} ms, the next in {:.0} ms; \
             the full pull ({} pages) would take about {est:.0} s, over --serve-max-s {}: skipped",
            v.first_page_ms, v.next_page_ms, v.pages, opts.serve_max_s
        ),
        None => {
            println!(
                "  sift serve on loopback: full pull of {} findings ({} pages; first page {:.0} ms, \
                 second {:.0} ms) into an empty cache in {:.0} ms, peak RSS of the puller {:.0} MB",
                v.pulled,
                v.pages,
                v.first_page_ms,
                v.next_page_ms,
                v.pull_ms,
                v.pull_hwm_kb as f64 / 1024.0
            );
            println!(
                "  {} decisions through sift serve: recorded in {:.0} ms, pushed in {:.0} ms \
                 ({} bulk triage calls); the pass's pull after them {:.0} ms; a routine pull \
                 (nothing changed) {:.1} ms, {}",
                v.decisions,
                v.record_ms,
                v.push_ms,
                v.push_calls,
                v.pass_pull_ms,
                v.routine_pull_ms,
                if v.by_cursor {
                    "by the change cursor"
                } else {
                    "every page (no change cursor)"
                }
            );
        }
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 => format!("×{:.1}", b / a),
        _ => "–".into(),
    }
}

fn report(opts: &Options, sizes: &[Size]) {
    println!("\n# Results\n");
    if opts.import_only {
        imports_table(sizes);
        return;
    }
    println!(
        "Medians: start over {} runs per size; key, filter and their bytes over every keystroke of those runs; \
         held key over its bursts; RSS over the runs.\n\
         key ms and bytes/move: `j`'s own frame (the first frame after it). rest ms and rest B: the details that \
         follow once the cursor rests, the key to the end of their frame, and their bytes. held B/move: {} `j` \
         {} ms apart from the top, bytes per key up to the last key's frame. filter ms: a letter's own frame.\n",
        opts.runs,
        console::HELD_KEYS,
        console::KEY_REPEAT.as_millis(),
    );
    let columns = [
        "start ms",
        "key ms",
        "bytes/move",
        "rest ms",
        "rest B",
        "held B/move",
        "bytes/scroll",
        "filter ms",
        "bytes/decision",
        "RSS MB",
    ];
    let header = |first: &str| {
        println!("| {first} | {} |", columns.join(" | "));
        println!("|---|{}", "---:|".repeat(columns.len()));
    };
    header("size");
    let rows: Vec<(usize, Row)> = sizes.iter().map(|s| (s.n, s.row())).collect();
    let fields = |r: &Row| {
        [
            (r.start_ms, 1),
            (r.key_ms, 2),
            (r.move_b, 0),
            (r.rest_ms, 1),
            (r.rest_b, 0),
            (r.held_b, 0),
            (r.scroll_b, 0),
            (r.filter_ms, 2),
            (r.decision_b, 0),
            (r.rss_mb, 1),
        ]
    };
    for (n, r) in &rows {
        let cells: Vec<String> = fields(r).iter().map(|&(v, d)| fmt(v, d)).collect();
        println!("| {} | {} |", label(*n), cells.join(" | "));
    }

    if rows.len() > 1 {
        println!("\nGrowth from one size to the next (the backlog grows ×10 each step):\n");
        header("step");
        for w in rows.windows(2) {
            let ((a_n, a), (b_n, b)) = (&w[0], &w[1]);
            let cells: Vec<String> = fields(a)
                .iter()
                .zip(fields(b))
                .map(|(&(a, _), (b, _))| ratio(a, b))
                .collect();
            println!(
                "| {}→{} | {} |",
                label(*a_n),
                label(*b_n),
                cells.join(" | ")
            );
        }
    }

    if sizes
        .iter()
        .all(|s| s.export.is_none() && s.serve.is_none())
    {
        println!("\n(--console-only: no export, sift serve, pushes or VisiData)");
    } else {
        without_terminal(sizes);
        pulls_table(sizes);
    }
    if sizes.iter().any(|s| s.vd.is_some()) {
        visidata_table(sizes);
    }
    imports_table(sizes);
    budgets(&rows);
}

fn imports_table(sizes: &[Size]) {
    let rows: Vec<(usize, import::Import)> = sizes
        .iter()
        .filter_map(|s| Some((s.n, s.import?)))
        .collect();
    if !rows.is_empty() {
        import::table(&rows);
    }
}

fn without_terminal(sizes: &[Size]) {
    println!("\nWithout a terminal:\n");
    println!(
        "| size | seed s | export ms | export MB | serve: full pull ms | serve: push 10k ms | embedded: push 10k ms |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for s in sizes {
        let e = s.export.as_ref();
        let p = s.push.as_ref();
        let (pull, push) = match s.serve {
            None => ("–".to_string(), "–".to_string()),
            Some(v) => match v.skipped_estimate_s {
                Some(est) => (format!("skipped (≈ {:.0} s)", est), "–".into()),
                None => (format!("{:.0}", v.pull_ms), format!("{:.0}", v.push_ms)),
            },
        };
        println!(
            "| {} | {:.1}{} | {} | {} | {} | {} | {} |",
            label(s.n),
            s.seed_s,
            if s.seeded_now { "" } else { " (kept)" },
            fmt(e.map(|e| e.ms), 0),
            fmt(e.map(|e| e.bytes as f64 / 1e6), 1),
            pull,
            push,
            fmt(p.map(|p| p.push_ms), 0),
        );
    }
}

/// The pulls from `sift serve` against issue 16's goals.
fn pulls_table(sizes: &[Size]) {
    println!(
        "\nPulls from sift serve (goals at 100k: full ≤ 3 s, after 10k ≤ 300 ms, routine ≤ 100 ms):\n"
    );
    println!(
        "| size | full pull into an empty cache ms | pull after 10,000 decisions ms | routine pull ms | by cursor |"
    );
    println!("|---:|---:|---:|---:|---|");
    for s in sizes {
        let Some(v) = s.serve.filter(|v| v.skipped_estimate_s.is_none()) else {
            continue;
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.1} | {} |",
            label(s.n),
            v.pull_ms,
            v.pass_pull_ms,
            v.routine_pull_ms,
            if v.by_cursor { "yes" } else { "no" }
        );
    }
}

fn visidata_table(sizes: &[Size]) {
    println!("\nVisiData on the same export, same pty size:\n");
    println!(
        "| size | sift start ms | vd first screen ms | vd findings as rows ms | sift RSS MB | vd RSS MB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for s in sizes {
        let Some(v) = s.vd else { continue };
        let r = s.row();
        let (screen, rows) = match v.stopped {
            None => (fmt(v.screen_ms, 0), fmt(v.rows_ms, 0)),
            Some(why) => match v.screen_ms {
                Some(t) => (
                    format!("{t:.0}"),
                    format!("stopped ({why}) after {:.0} ms", v.elapsed_ms),
                ),
                None => (
                    format!("> {:.0} (stopped: {why})", v.elapsed_ms),
                    "–".into(),
                ),
            },
        };
        println!(
            "| {} | {} | {} | {} | {} | {}{} |",
            label(s.n),
            fmt(r.start_ms, 1),
            screen,
            rows,
            fmt(r.rss_mb, 1),
            if v.stopped == Some("memory cap") {
                "> "
            } else {
                ""
            },
            format_args!("{:.1}", v.rss_kb as f64 / 1024.0),
        );
    }
}

fn budgets(rows: &[(usize, Row)]) {
    println!("\nBudgets at 100k (DESIGN §6):\n");
    let Some((_, r)) = rows.iter().find(|(n, _)| *n == 100_000) else {
        println!("not measured: 100k is not among the sizes");
        return;
    };
    let check = |name: &str, v: Option<f64>, limit: f64, strict: bool, unit: &str| {
        let verdict = match v {
            Some(v) if (strict && v < limit) || (!strict && v <= limit) => "pass",
            Some(_) => "FAIL",
            None => "not measured",
        };
        println!(
            "| {name} | {} {unit} | {} {limit} {unit} | {verdict} |",
            fmt(v, 2),
            if strict { "<" } else { "≤" }
        );
    };
    println!("| budget | measured | limit | |");
    println!("|---|---:|---:|---|");
    check("start to first frame", r.start_ms, 150.0, false, "ms");
    check("navigation key to its frame", r.key_ms, 2.0, false, "ms");
    check(
        "filter keystroke to its frame",
        r.filter_ms,
        16.0,
        false,
        "ms",
    );
    check(
        "bytes per non-scrolling move (its frame)",
        r.move_b,
        1024.0,
        true,
        "B",
    );
    check("resident memory after start", r.rss_mb, 150.0, false, "MB");
    println!(
        "\nA move's frame is the list's answer to the key; the detail pane keeps the previous \
         finding (titled with the new one's number and '…'). The new finding's details follow \
         once the cursor has rested 90 ms: {} ms after the key, {} B more. A key held down \
         repaints only the list: {} B per key, the details once, when it is released.",
        fmt(r.rest_ms, 1),
        fmt(r.rest_b, 0),
        fmt(r.held_b, 0),
    );
}

fn main() -> Result<()> {
    let opts = Options::from_args()?;
    println!("# sift console benchmark");
    println!(
        "sift: {}\ndata: {}\nterminal: {}x{}, TERM=xterm-256color\nsizes: {}; {} runs each",
        opts.sift.display(),
        opts.data.display(),
        opts.cols,
        opts.rows,
        opts.sizes
            .iter()
            .map(|&n| label(n))
            .collect::<Vec<_>>()
            .join(", "),
        opts.runs
    );
    println!("machine: {}", machine());
    let vd = if opts.vd && !opts.console_only && !opts.import_only {
        let found = visidata::find(&opts);
        match &found {
            Some(vd) => println!("VisiData: {} ({})", vd.display(), visidata::version(vd)),
            None => println!(
                "VisiData: not found and not installed; the comparison is skipped \
                 (pip install visidata, or set SIFT_BENCH_VD)"
            ),
        }
        found
    } else {
        println!("VisiData: skipped (--no-vd)");
        None
    };
    let mut sizes = Vec::new();
    for &n in &opts.sizes {
        sizes.push(measure(&opts, n, vd.as_deref())?);
    }
    report(&opts, &sizes);
    Ok(())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(String::new(), |kb| {
            format!(", {:.0} GB RAM", kb as f64 / 1024.0 / 1024.0)
        });
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| {
            format!(
                ", load average {}",
                l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
            )
        })
        .unwrap_or_default();
    format!("{cpus} CPUs, {model}{mem}{load}")
}
