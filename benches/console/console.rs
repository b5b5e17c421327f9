//! The console on a real pseudo-terminal: start to first frame; a key's
//! own frame (time and bytes) for moves, scrolls and filter letters; the
//! details that follow once the cursor rests; a held key; decisions;
//! resident memory.

use crate::pty::{FRAME_END, Held, Pty, Reply};
use crate::{Options, ms};
use anyhow::{Context, Result};
use sift::tui::layout::{self, Panes};
use sift::tui::model::Pane;
use std::path::Path;
use std::time::Duration;
use unicode_width::UnicodeWidthChar;

/// Rows of the list the console keeps between the cursor and the list's
/// edge before it scrolls (`SCROLLOFF` in src/tui/update/nav.rs).
const SCROLLOFF: usize = 3;
/// `j` presses per session: enough to scroll at any terminal height used.
const MOVES: usize = 45;
/// Filter rounds per session: `/`, then `s`, `q`, `l`, then Esc.
const FILTER_ROUNDS: usize = 3;
const FILTER_KEYS: &[u8] = b"sql";
/// No output for this long means the console has finished answering a key,
/// the details it loads once the cursor rests included (it waits 90 ms for
/// that: `DETAIL_REST` in src/tui/runtime.rs).
pub const QUIET: Duration = Duration::from_millis(300);
/// After start, and after a decision (the sync answers asynchronously).
const SETTLE: Duration = Duration::from_millis(600);
/// A held key: this many `j`, written this far apart (a terminal's key
/// repeat: 30 per second).
pub const HELD_KEYS: usize = 10;
pub const KEY_REPEAT: Duration = Duration::from_millis(33);

/// One console session.
#[derive(Debug, Default)]
pub struct Session {
    /// Spawn to the end of the first synchronized update.
    pub start_ms: f64,
    /// VmRSS and VmHWM once the console has settled after start, KiB.
    pub rss_kb: u64,
    pub hwm_kb: u64,
    /// `j` presses that move the cursor without scrolling the list: the
    /// key's own frame, then the details once the cursor rests.
    pub moves: Vec<Reply>,
    /// Their bytes by where on the screen they land: the key's own frame,
    /// and what follows it (the details at rest).
    pub move_panes: Vec<PaneBytes>,
    pub rest_panes: Vec<PaneBytes>,
    /// `j` presses that scroll the list by one row.
    pub scrolls: Vec<Reply>,
    /// `j` held down from the top of the list (no scrolling) and from
    /// below the scroll margin (every key scrolls).
    pub held: Vec<Held>,
    pub held_scrolling: Vec<Held>,
    /// Letters typed in the filter prompt (each re-filters the backlog).
    pub filters: Vec<Reply>,
    /// `/`: opening the filter prompt.
    pub prompts: Vec<Reply>,
}

/// The list rows a terminal of `rows` lines shows (see src/tui/layout.rs:
/// the status line, the list's border and its header row).
pub fn list_rows(rows: u16) -> usize {
    (rows as usize).saturating_sub(4)
}

fn spawn(opts: &Options, data: &Path) -> Result<Pty> {
    let data = data.to_str().context("data dir is not UTF-8")?;
    let config = opts.home.join("config");
    let config = config.to_str().context("home is not UTF-8")?;
    Pty::spawn(
        &opts.sift,
        &["--data-dir", data],
        &[
            ("XDG_CONFIG_HOME", config),
            ("SIFT_LOG", "warn"),
            ("COLORTERM", "truecolor"),
        ],
        opts.cols,
        opts.rows,
    )
}

/// Starts the console, waits for the first frame, then moves and filters.
pub fn session(opts: &Options, data: &Path, interact: bool) -> Result<Session> {
    let mut pty = spawn(opts, data)?;
    let (first, _) = pty
        .until(FRAME_END, Duration::from_secs(300))
        .context("waiting for the first frame")?;
    let mut s = Session {
        start_ms: ms(first - pty.spawned_at),
        ..Session::default()
    };
    pty.settle(first, SETTLE, Duration::from_secs(30))?;
    (s.rss_kb, s.hwm_kb) = pty.memory()?;
    if interact {
        // The cursor starts on row 0; the list scrolls once it is within
        // SCROLLOFF rows of the bottom.
        let first_scroll = list_rows(opts.rows).saturating_sub(SCROLLOFF);
        anyhow::ensure!(HELD_KEYS < first_scroll, "the held key would scroll");
        let panes = layout::panes(opts.cols, opts.rows, Pane::List, false);
        for n in 1..=MOVES {
            pty.capture = Some(Vec::new());
            let r = pty.press(b"j", QUIET)?;
            let drawn = pty.capture.take().unwrap_or_default();
            if n < first_scroll {
                let (own, rest) = drawn.split_at(r.first_bytes.min(drawn.len()));
                s.moves.push(r);
                s.move_panes.push(PaneBytes::of(own, &panes));
                s.rest_panes.push(PaneBytes::of(rest, &panes));
            } else {
                s.scrolls.push(r);
            }
        }
        // The cursor is below the scroll margin: every key scrolls.
        s.held_scrolling
            .push(pty.hold(b"j", HELD_KEYS, KEY_REPEAT, QUIET)?);
        // Back to the top (`g`), where HELD_KEYS moves do not scroll.
        pty.press(b"g", QUIET)?;
        s.held.push(pty.hold(b"j", HELD_KEYS, KEY_REPEAT, QUIET)?);
        for _ in 0..FILTER_ROUNDS {
            s.prompts.push(pty.press(b"/", QUIET)?);
            for &k in FILTER_KEYS {
                s.filters.push(pty.press(&[k], QUIET)?);
            }
            // Esc restores the previous filter.
            pty.press(b"\x1b", QUIET)?;
        }
    }
    pty.quit(b"q", Duration::from_secs(30))?;
    Ok(s)
}

/// Decisions on a throwaway copy of the backlog: `f` (to fix) on the
/// finding under the cursor, then the background sync's acknowledgement.
pub fn decisions(opts: &Options, data: &Path, count: usize) -> Result<Vec<Reply>> {
    let mut pty = spawn(opts, data)?;
    let (first, _) = pty.until(FRAME_END, Duration::from_secs(300))?;
    pty.settle(first, SETTLE, Duration::from_secs(30))?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(pty.press(b"f", SETTLE)?);
    }
    pty.quit(b"q", Duration::from_secs(60))?;
    Ok(out)
}

/// Bytes written to the terminal, by the pane of the cells they draw.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaneBytes {
    pub sidebar: usize,
    pub list: usize,
    pub detail: usize,
    /// The status line, and anything outside the panes.
    pub other: usize,
}

impl PaneBytes {
    /// Follows the cursor through `out` (ratatui positions it with
    /// `CSI row ; col H` before each run of changed cells) and charges each
    /// byte, escape sequences included, to the pane under the cursor.
    pub fn of(out: &[u8], panes: &Panes) -> PaneBytes {
        let mut counts = PaneBytes::default();
        let (mut row, mut col) = (0u16, 0u16);
        let text = String::from_utf8_lossy(out);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let mut len = c.len_utf8();
            if c == '\x1b' && chars.peek() == Some(&'[') {
                let mut seq = String::new();
                chars.next();
                len += 1;
                for d in chars.by_ref() {
                    len += d.len_utf8();
                    if ('\x40'..='\x7e').contains(&d) {
                        if d == 'H' {
                            let mut it = seq.split(';').map(|v| v.parse::<u16>().unwrap_or(1));
                            row = it.next().unwrap_or(1).saturating_sub(1);
                            col = it.next().unwrap_or(1).saturating_sub(1);
                        }
                        break;
                    }
                    seq.push(d);
                }
            }
            let cell = ratatui::layout::Position::new(col, row);
            let inside = |r: Option<ratatui::layout::Rect>| r.is_some_and(|r| r.contains(cell));
            if inside(panes.sidebar) {
                counts.sidebar += len;
            } else if inside(panes.list) {
                counts.list += len;
            } else if inside(panes.detail) {
                counts.detail += len;
            } else {
                counts.other += len;
            }
            if c != '\x1b' {
                col = col.saturating_add(c.width().unwrap_or(0) as u16);
            }
        }
        counts
    }
}
