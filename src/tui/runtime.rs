//! Owns the terminal, turns events into actions, carries out effects, and
//! draws only when something changed.

use super::action::{Action, Effect};
use super::model::{Mode, Model};
use super::{update, view};
use crate::store::Store;
use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyEvent, KeyEventKind};
use crossterm::terminal::{
    BeginSynchronizedUpdate, Clear, ClearType, EndSynchronizedUpdate, EnterAlternateScreen,
    LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, Write, stdout};
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

type Term = Terminal<CrosstermBackend<Stdout>>;

/// Runs the console until the reviewer quits or the session ends.
pub fn run(model: Model, data_dir: PathBuf) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(event_loop(model, data_dir))
}

async fn event_loop(mut model: Model, data_dir: PathBuf) -> Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let store = StoreWorker::spawn(data_dir, tx.clone())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;

    install_panic_hook();
    let mut terminal = enter()?;
    let size = terminal.size()?;
    let mut effects = update::update(&mut model, Action::Resize(size.width, size.height));
    effects.extend(update::init(&mut model));
    let mut events = EventStream::new();
    let mut dirty = true;
    let mut deadline: Option<Instant> = None;

    loop {
        for effect in effects.drain(..) {
            match effect {
                Effect::LoadDetail(id) => store.load_detail(id),
                Effect::Suspend => {
                    suspend(&mut terminal)?;
                    dirty = true;
                }
            }
        }
        if model.quit {
            break;
        }
        if dirty {
            // A detail load usually answers within a millisecond: hold the
            // frame briefly so a key costs one frame, not "Loading…" and then
            // the finding.
            let hold = awaiting_detail(&model)
                && *deadline.get_or_insert_with(|| Instant::now() + DETAIL_WAIT) > Instant::now();
            if !hold {
                draw(&mut terminal, &model)?;
                dirty = false;
                deadline = None;
            }
        }
        tokio::select! {
            _ = sleep_until(deadline), if deadline.is_some() && dirty => {}
            event = events.next() => {
                let Some(event) = event else { break };
                let mut batch = vec![event?];
                // Coalesce a burst (key repeat, paste) into one frame. The
                // zero timeout polls with this task's waker: a no-op waker
                // (now_or_never) would leave the stream unable to wake us.
                while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::ZERO, events.next()).await {
                    batch.push(e);
                }
                for event in batch {
                    if let Some(action) = action_for(&model, event) {
                        effects.extend(update::update(&mut model, action));
                        dirty = true;
                    }
                }
            }
            Some(action) = rx.recv() => {
                effects.extend(update::update(&mut model, action));
                dirty = true;
            }
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        }
    }
    leave(&mut terminal);
    Ok(())
}

/// How long a frame may wait for the selected finding's details.
const DETAIL_WAIT: Duration = Duration::from_millis(25);

fn awaiting_detail(model: &Model) -> bool {
    model.detail.requested.is_some()
        && model.detail.finding.is_none()
        && model.detail.error.is_none()
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(d.into()).await;
    }
}

fn action_for(model: &Model, event: Event) -> Option<Action> {
    match event {
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        Event::Key(key) if key.kind != KeyEventKind::Release => key_action(model, key),
        _ => None,
    }
}

/// The action a key press means in the model's current mode and pane.
pub fn key_action(model: &Model, key: KeyEvent) -> Option<Action> {
    if matches!(model.mode, Mode::Filter(_)) {
        return Some(Action::TextInput(key));
    }
    model.keymap.lookup(model.focus, &key).cloned()
}

fn draw(terminal: &mut Term, model: &Model) -> Result<()> {
    // Synchronized output: the terminal shows the frame whole or not at all.
    execute!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|frame| view::draw(frame, model))?;
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}

fn enter() -> Result<Term> {
    crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
    // NO_COLOR is handled by the theme; crossterm's own NO_COLOR path would
    // reset bold and reverse along with colours.
    crossterm::style::force_color_output(true);
    execute!(
        stdout(),
        EnterAlternateScreen,
        Clear(ClearType::All),
        cursor::Hide
    )?;
    Ok(Terminal::new(CrosstermBackend::new(stdout()))?)
}

/// Puts the terminal back as it was; safe to call more than once.
fn restore() {
    let _ = crossterm::terminal::disable_raw_mode();
    let mut out = stdout();
    let _ = execute!(
        out,
        EndSynchronizedUpdate,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
}

fn leave(terminal: &mut Term) {
    let _ = terminal.show_cursor();
    restore();
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// Ctrl-Z: raw mode swallows it, so stop ourselves the way the shell would.
fn suspend(terminal: &mut Term) -> Result<()> {
    leave(terminal);
    // SAFETY: raise() only sends a signal to this process; SIGTSTP's default
    // action stops it until the shell sends SIGCONT.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    // A new Terminal has empty buffers, so the next frame is drawn whole.
    // (Terminal::clear would ask the terminal for the cursor position, and
    // the live event stream would swallow the answer.)
    *terminal = enter()?;
    Ok(())
}

/// Reads from the store on its own thread; only the latest detail request
/// is served, so holding j never queues up stale loads.
struct StoreWorker {
    requests: std_mpsc::Sender<i64>,
}

impl StoreWorker {
    fn spawn(data_dir: PathBuf, replies: mpsc::UnboundedSender<Action>) -> Result<StoreWorker> {
        let store = Store::open(&data_dir)?;
        let (requests, incoming) = std_mpsc::channel::<i64>();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                while let Ok(mut id) = incoming.recv() {
                    while let Ok(newer) = incoming.try_recv() {
                        id = newer;
                    }
                    let reply = match store.load_finding(id) {
                        Ok(Some(f)) => Action::DetailLoaded(Box::new(f)),
                        Ok(None) => Action::DetailFailed(id, "it is no longer in the store".into()),
                        Err(e) => {
                            tracing::warn!("loading finding {id}: {e:#}");
                            Action::DetailFailed(id, format!("{e:#}"))
                        }
                    };
                    if replies.send(reply).is_err() {
                        break;
                    }
                }
            })?;
        Ok(StoreWorker { requests })
    }

    fn load_detail(&self, id: i64) {
        let _ = self.requests.send(id);
    }
}
