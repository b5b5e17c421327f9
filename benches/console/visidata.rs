//! What a reviewer would otherwise use to look through a large findings
//! file in a terminal: VisiData, opening the export of `sift findings
//! --view all --json`, on a pty of the same size.
//!
//! The export is one JSON object, `{"findings": [...]}`, so VisiData opens
//! it as a sheet of one row whose `findings` cell shows the list's length,
//! `[N]`; `zEnter` opens that cell as a sheet of N rows, and the status line
//! then says `N dict`. The criteria:
//! - first screen: spawn until `[N]` is drawn (the file is parsed and the
//!   first screen with the data is up; VisiData keeps redrawing its status
//!   line every 100 ms, so "output goes quiet" never happens);
//! - findings as rows: `zEnter` written until `N dict` is drawn.
//!
//! Its memory is read from /proc like sift's. A run that would take more
//! than `VD_MAX_MB` of memory or `VD_MAX_S` of time is stopped and reported
//! as "more than".

use crate::pty::Pty;
use crate::{Options, ms};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
pub struct Vd {
    /// Spawn to the first screen with the data; `None`: stopped first.
    pub screen_ms: Option<f64>,
    /// `zEnter` to the sheet of N findings.
    pub rows_ms: Option<f64>,
    /// VmRSS once the findings are rows (or when stopped), and VmHWM, KiB.
    pub rss_kb: u64,
    pub hwm_kb: u64,
    /// Why it was stopped, if it was.
    pub stopped: Option<&'static str>,
    pub elapsed_ms: f64,
}

/// Finds `vd`: $SIFT_BENCH_VD, the benchmark's venv, PATH; installs it in
/// the venv (target/bench-venv) when missing and allowed.
pub fn find(opts: &Options) -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SIFT_BENCH_VD") {
        return Some(PathBuf::from(p)).filter(|p| works(p));
    }
    let venv = opts.target.join("bench-venv");
    let local = venv.join("bin/vd");
    if works(&local) {
        return Some(local);
    }
    if works(Path::new("vd")) {
        return Some(PathBuf::from("vd"));
    }
    if !opts.install_vd {
        return None;
    }
    println!("VisiData: installing it with pip into {} …", venv.display());
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "visidata"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    (ok && works(&local)).then_some(local)
}

fn works(vd: &Path) -> bool {
    Command::new(vd)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn version(vd: &Path) -> String {
    Command::new(vd)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Opens `file` (the export of `n` findings) in VisiData.
pub fn measure(opts: &Options, vd: &Path, file: &Path, n: usize) -> Result<Vd> {
    let home = opts.home.join("vd");
    std::fs::create_dir_all(&home)?;
    let file = file.to_str().context("export path is not UTF-8")?;
    let home = home.to_str().context("home is not UTF-8")?;
    // -N: no ~/.visidatarc, no plugins.
    let mut pty = Pty::spawn(vd, &["-N", file], &[("HOME", home)], opts.cols, opts.rows)?;
    let spawned = pty.spawned_at;
    let mut out = Vd::default();
    let screen = format!("[{n}]");
    match wait_watching(&mut pty, screen.as_bytes(), opts)? {
        Ok(at) => out.screen_ms = Some(ms(at - spawned)),
        Err(why) => {
            out.stopped = Some(why);
            (out.rss_kb, out.hwm_kb) = pty.memory().unwrap_or_default();
            out.elapsed_ms = ms(spawned.elapsed());
            pty.kill();
            return Ok(out);
        }
    }
    // Let it finish drawing the first screen.
    pty.settle(
        Instant::now(),
        Duration::from_millis(50),
        Duration::from_secs(1),
    )?;
    let sent = pty.send(b"z\r")?;
    let rows = format!("{n} dict");
    match wait_watching(&mut pty, rows.as_bytes(), opts)? {
        Ok(at) => out.rows_ms = Some(ms(at - sent)),
        Err(why) => out.stopped = Some(why),
    }
    (out.rss_kb, out.hwm_kb) = pty.memory().unwrap_or_default();
    out.elapsed_ms = ms(spawned.elapsed());
    // gq: quit all sheets.
    if pty.quit(b"gq", Duration::from_secs(10)).is_err() {
        eprintln!("  VisiData did not quit on gq; it was killed");
    }
    Ok(out)
}

/// Waits for `marker`, checking memory and time every 200 ms.
fn wait_watching(
    pty: &mut Pty,
    marker: &[u8],
    opts: &Options,
) -> Result<Result<Instant, &'static str>> {
    let start = Instant::now();
    loop {
        if let Some((at, _)) = pty.wait_for(marker, Duration::from_millis(200))? {
            return Ok(Ok(at));
        }
        let (rss, _) = pty.memory().unwrap_or_default();
        if rss / 1024 > opts.vd_max_mb {
            return Ok(Err("memory cap"));
        }
        if start.elapsed() > Duration::from_secs(opts.vd_max_s) {
            return Ok(Err("time cap"));
        }
    }
}
