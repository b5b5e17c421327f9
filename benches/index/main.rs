//! The console's index work in-process, on a seeded backlog: loading it,
//! a filter letter's pass (select and count), and bringing the list up to
//! date after a decision. CPU-bound work timed without a terminal, so a
//! change to the pass can be compared run against run.
//!
//! `cargo bench --bench index -- [--data DIR] [--runs N]`; DIR is a data
//! directory the console benchmark seeded (default: its 1M backlog).

use anyhow::{Context, Result};
use sift::domain::{Filter, FindingIndex, TriageState};
use sift::store::Store;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> Result<()> {
    let mut data =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/backlog-1000000");
    let mut runs = 15usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => data = args.next().context("--data DIR")?.into(),
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            // cargo bench passes --bench.
            "--bench" => {}
            other => anyhow::bail!("unknown option {other}; see benches/index/main.rs"),
        }
    }
    anyhow::ensure!(
        data.join("sift.db").exists(),
        "no backlog in {} (cargo bench --bench console -- --sizes 1m seeds one)",
        data.display()
    );
    let store = Store::open(&data)?;
    let load = timed(runs.min(5), || store.load_index().map(|i| i.len()))?;
    let index = store.load_index()?;
    println!("{} findings in {}", index.len(), data.display());
    report("load_index", &load);
    // The first filter makes the index's filter keys: the console's start.
    let first = timed(runs.min(5), || {
        let index = store.load_index()?;
        Ok(index.select_with_facets(&Filter::default()).0.len())
    })?;
    report("load_index and a first filter", &first);
    for line in [
        "",
        "s",
        "sq",
        "sql",
        "view:all severity:high",
        "sort:file s",
    ] {
        let mut filter = Filter::default();
        filter.apply_line(line).map_err(anyhow::Error::msg)?;
        let pass = timed(runs, || Ok(index.select_with_facets(&filter).0.len()))?;
        report(&format!("filter {line:?}"), &pass);
    }
    report("a decision's refilter", &decisions(&index, runs)?);
    Ok(())
}

/// One finding decided after another, as the console sees each come back.
fn decisions(index: &FindingIndex, runs: usize) -> Result<Took> {
    let mut index = index.clone();
    let filter = Filter::default();
    let (mut found, mut facets) = index.select_with_facets(&filter);
    let mut took = Vec::with_capacity(runs);
    for k in 0..runs {
        let Some(&p) = found.get(k) else { break };
        let before = index.rows[p as usize];
        index.decided(p as usize, TriageState::Ignored, before.status, true);
        let (started, cpu) = (Instant::now(), cpu_time());
        index
            .reselect(&filter, &[(p, before)], &mut found, &mut facets)
            .context("a decision moved a row")?;
        took.push((started.elapsed(), cpu_time().saturating_sub(cpu)));
    }
    Ok(took)
}

/// Wall-clock and CPU time (all threads) of each run.
type Took = Vec<(Duration, Duration)>;

fn timed(runs: usize, mut work: impl FnMut() -> Result<usize>) -> Result<Took> {
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (started, cpu) = (Instant::now(), cpu_time());
        std::hint::black_box(work()?);
        took.push((started.elapsed(), cpu_time().saturating_sub(cpu)));
    }
    Ok(took)
}

/// The process's CPU time: steadier than the wall clock on a shared machine.
fn cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn report(what: &str, took: &Took) {
    let ms = |pick: fn(&(Duration, Duration)) -> Duration| {
        let mut ms: Vec<f64> = took.iter().map(|t| pick(t).as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        ms
    };
    let (wall, cpu) = (ms(|t| t.0), ms(|t| t.1));
    let at = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.0);
    println!(
        "{what:<32} wall min {:8.2} ms, median {:8.2} ms; CPU median {:8.2} ms ({} runs)",
        at(&wall, 0),
        at(&wall, wall.len() / 2),
        at(&cpu, cpu.len() / 2),
        wall.len()
    );
}
