//! Owns the terminal, turns events into actions, carries out effects, and
//! draws only when something changed.

use super::action::{Action, AssistantWork, Effect};
use super::compact::Compact;
use super::highlight::Highlight;
use super::model::{Model, SyncState};
use super::perform::Perform;
use super::{update, view};
use crate::assistant::ProviderSettings;
use crate::backend::Backend;
use crate::domain::Finding;
use crate::store::Store;
use crate::sync::{self, SyncConfig, SyncEvent};
use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyEvent, KeyEventKind};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::buffer::Buffer;
use std::collections::VecDeque;
use std::io::{Stdout, Write, stdout};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

type Term = Terminal<Compact<CrosstermBackend<Stdout>>>;

/// What the console runs against.
pub struct Session {
    pub data_dir: PathBuf,
    /// The reviewer, named in the activity of what they decide.
    pub actor: String,
    /// Record decisions without sending them (`sift sync` sends them).
    pub offline: bool,
    /// sift's own Assistant, when a provider is configured and the
    /// backend is sift's own (Semgrep's Assistant judges the API's).
    pub assistant: Option<ProviderSettings>,
}

/// Runs the console until the reviewer quits or the session ends, with the
/// background sync to `backend`. Returns how many decisions still wait to
/// be sent.
pub fn run<B: Backend>(model: Model, session: Session, backend: Arc<B>) -> Result<usize> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(event_loop(model, session, backend))
}

async fn event_loop<B: Backend>(
    mut model: Model,
    session: Session,
    backend: Arc<B>,
) -> Result<usize> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let store = StoreWorker::spawn(session.data_dir.clone(), tx.clone())?;
    // Decisions are written on the writer's thread, in order; keys wait
    // while one is on its way, and no frame shows it before it is stored.
    let (written_tx, mut written_rx) = mpsc::unbounded_channel::<Written>();
    let writer = StoreWriter::spawn(
        Perform::new(Store::open(&session.data_dir)?, session.actor.clone()),
        written_tx,
    )?;
    watch_for_hangup(writer.busy.clone());
    let mut in_flight = 0usize;
    // Writes wait for the frame that says they are on their way: on two
    // cores the writer would take the frame's core (and the terminal's).
    let mut to_write: Vec<Effect> = Vec::new();
    let mut held: VecDeque<Event> = VecDeque::new();
    let perform = Perform::new(Store::open(&session.data_dir)?, session.actor.clone());
    let (sync_tx, mut sync_rx) = mpsc::unbounded_channel::<SyncEvent>();
    let sync = if session.offline {
        model.sync = SyncState::OfflineByChoice;
        None
    } else {
        Some(sync::spawn(
            backend,
            session.data_dir.clone(),
            SyncConfig::default(),
            sync_tx,
        ))
    };
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;

    (model.memories, model.pending_memories) = perform.store().memories_in_view()?;
    model.conflicts = perform.store().conflicts()?;
    model.actor = session.actor.clone();
    model.assistant = session.assistant.as_ref().map(ProviderSettings::describe);
    model.rule_classes = perform.store().rule_classes()?;

    install_panic_hook();
    let mut terminal = enter()?;
    let size = terminal.size()?;
    let mut effects: VecDeque<Effect> =
        update::update(&mut model, Action::Resize(size.width, size.height)).into();
    effects.extend(update::init(&mut model));
    let mut events = EventStream::new();
    let mut dirty = true;
    let mut memo = view::Memo::default();
    let mut shown_once = false;
    let mut deadline: Option<Instant> = None;
    let mut detail_due: Option<(i64, Instant)> = None;

    loop {
        while let Some(effect) = effects.pop_front() {
            dirty = true;
            let answers = match effect {
                Effect::LoadDetail(id) => {
                    // Another finding's details wait until the cursor rests, so
                    // a held key repaints only the list.
                    let shown = model.detail.finding.as_ref().map(|f| f.id);
                    if shown.is_none() || shown == Some(id) {
                        store.load_detail(id);
                        detail_due = None;
                    } else {
                        detail_due = Some((id, Instant::now() + DETAIL_REST));
                    }
                    continue;
                }
                Effect::ReloadIndex => {
                    store.reload_index();
                    continue;
                }
                Effect::AskAssistant(work) => {
                    if let Some(settings) = session.assistant.clone() {
                        tokio::spawn(assistant_job(
                            settings,
                            session.data_dir.clone(),
                            session.actor.clone(),
                            work,
                            tx.clone(),
                        ));
                    }
                    continue;
                }
                Effect::Suspend => {
                    // What waits for the writer is not held up by the shell.
                    writer.send_all(&mut to_write);
                    if suspend(&mut terminal)? {
                        continue;
                    }
                    vec![Action::Said(
                        "Cannot suspend: the shell that started sift has no job control (q quits)"
                            .into(),
                    )]
                }
                Effect::Copy(text) => {
                    copy(&text);
                    continue;
                }
                Effect::OpenUrl(url) => vec![Action::Said(open_url(&url))],
                Effect::Export(filter) => {
                    // Off the key path, on a connection of its own.
                    let (data_dir, tx) = (session.data_dir.clone(), tx.clone());
                    tokio::task::spawn_blocking(move || {
                        let said = export_view(&data_dir, &filter);
                        let _ = tx.send(Action::Said(said));
                    });
                    continue;
                }
                Effect::OpenFile(id) => {
                    writer.send_all(&mut to_write);
                    let said = match file_of(perform.store(), id) {
                        Ok((path, line)) => {
                            drop(events);
                            let ran = run_editor(&mut terminal, path, Some(line)).await;
                            events = EventStream::new();
                            match ran {
                                Ok(s) if s.success() => None,
                                Ok(s) => Some(format!("The editor exited with {s}")),
                                Err(e) => Some(e),
                            }
                        }
                        Err(why) => Some(format!("Cannot open the file: {why}")),
                    };
                    said.map(Action::Said).into_iter().collect()
                }
                Effect::OpenEditor(text) => {
                    writer.send_all(&mut to_write);
                    // The event stream must not read keys meant for the editor.
                    drop(events);
                    let result = edit_externally(&mut terminal, text).await;
                    events = EventStream::new();
                    vec![Action::EditorDone(result)]
                }
                effect => {
                    let saying = effect.saving();
                    to_write.push(effect);
                    in_flight += 1;
                    saying.map(Action::Said).into_iter().collect()
                }
            };
            for action in answers {
                effects.extend(update::update(&mut model, action));
            }
        }
        if model.quit {
            writer.send_all(&mut to_write);
            break;
        }
        // Keys held while the store was busy, one at a time: each sees the
        // console as the one before it left it.
        if in_flight == 0
            && let Some(event) = held.pop_front()
        {
            if let Some(action) = action_for(&model, event) {
                effects.extend(update::update(&mut model, action));
                dirty = true;
            }
            continue;
        }
        let mut drawn = Ok(());
        if dirty {
            // A detail load usually answers within a millisecond: hold the
            // frame briefly so a key costs one frame, not "Loading…" and then
            // the finding. Not the first frame: the store's reader is still
            // starting (tens of milliseconds at a million findings), and the
            // backlog is worth showing at once.
            let hold = shown_once
                && awaiting_detail(&model)
                && *deadline.get_or_insert_with(|| Instant::now() + DETAIL_WAIT) > Instant::now();
            if !hold {
                drawn = draw(&mut terminal, &model, &mut memo);
                shown_once = true;
                dirty = false;
                deadline = None;
            }
        }
        // After the frame, and even when the terminal is gone.
        writer.send_all(&mut to_write);
        drawn?;
        // While something on screen tells the time, wake when the minute
        // turns: no tick otherwise.
        let minute = view::tells_time(&model).then(next_minute);
        tokio::select! {
            _ = sleep_until(deadline), if deadline.is_some() && dirty => {}
            _ = sleep_until(minute), if minute.is_some() => {
                // Redraw only if the text on screen reads differently now.
                let before = (!dirty).then(|| screen(&model, view::draw));
                model.now = clock();
                effects.extend(update::update(&mut model, Action::Tick));
                dirty = dirty || before != Some(screen(&model, view::draw));
            }
            _ = sleep_until(detail_due.map(|(_, at)| at)), if detail_due.is_some() => {
                if let Some((id, _)) = detail_due.take() {
                    store.load_detail(id);
                }
            }
            event = events.next() => {
                let Some(event) = event else { break };
                let mut batch = vec![event?];
                // Coalesce a burst (key repeat, paste) into one frame: take
                // what is ready now, polling with this task's own waker (a
                // no-op waker, as now_or_never uses, leaves the stream unable
                // to wake us; a zero timeout waits for the next timer tick).
                std::future::poll_fn(|cx| {
                    while let std::task::Poll::Ready(Some(Ok(e))) = events.poll_next_unpin(cx) {
                        batch.push(e);
                    }
                    std::task::Poll::Ready(())
                })
                .await;
                model.now = clock();
                for event in batch {
                    // After a key that goes to the store, the next keys wait
                    // for its answer (a resize does not).
                    let busy = in_flight > 0 || effects.iter().any(goes_to_writer);
                    if (busy || !held.is_empty()) && !matches!(event, Event::Resize(..)) {
                        held.push_back(event);
                        continue;
                    }
                    if let Some(action) = action_for(&model, event) {
                        effects.extend(update::update(&mut model, action));
                        dirty = true;
                    }
                }
            }
            Some(written) = written_rx.recv() => {
                in_flight -= 1;
                // Something new is in the outbox: send it now.
                if written.wrote
                    && let Some(sync) = &sync
                    && written
                        .answers
                        .iter()
                        .any(|a| matches!(a, Action::Recorded(..) | Action::RowsUpdated(..)))
                {
                    sync.wake();
                }
                model.now = clock();
                for action in written.answers {
                    effects.extend(update::update(&mut model, action));
                }
                dirty = true;
            }
            Some(action) = rx.recv() => {
                model.now = clock();
                effects.extend(update::update(&mut model, action));
                dirty = true;
            }
            Some(event) = sync_rx.recv() => {
                // A pull every few seconds that finds nothing new draws
                // nothing. Where the sync stands shows on the status line
                // alone: the whole screen drawn twice off screen for each
                // report was a third of a busy console's drawing.
                let part = match event {
                    SyncEvent::Status(_) => view::draw_status_line,
                    _ => view::draw,
                };
                let before = (!dirty).then(|| screen(&model, part));
                model.now = clock();
                effects.extend(update::update(&mut model, Action::Synced(event)));
                dirty = dirty || before != Some(screen(&model, part));
            }
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        }
    }
    leave(&mut terminal);
    // What the reviewer decided is stored before the console ends.
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|_| anyhow::anyhow!("the store's writer stopped"))?;
    if let Some(sync) = sync {
        sync.shutdown().await;
    }
    perform.store().waiting_count()
}

/// Ends the process when its terminal hangs up (an SSH session dropped,
/// tmux killed). crossterm's reader loops on a hung-up terminal, whose
/// reads return nothing forever, without ever returning to the loop that
/// would see the SIGHUP: it spun at full CPU for hours. A thread of its own
/// waits for the hang-up, lets a write in progress finish, and exits.
fn watch_for_hangup(busy: Arc<std::sync::Mutex<()>>) {
    use std::os::unix::io::AsRawFd;
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return;
    };
    let watching = std::thread::Builder::new()
        .name("hangup".into())
        .spawn(move || {
            let mut watched = libc::pollfd {
                fd: tty.as_raw_fd(),
                // Hang-ups and errors are reported whatever is asked.
                events: 0,
                revents: 0,
            };
            loop {
                // SAFETY: poll(2) on one pollfd we own.
                let n = unsafe { libc::poll(&mut watched, 1, -1) };
                if n < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    return;
                }
                if watched.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                    break;
                }
            }
            tracing::warn!("the terminal hung up: sift ends");
            let _done = busy.lock();
            std::process::exit(129);
        });
    if let Err(e) = watching {
        tracing::warn!("cannot watch the terminal for a hang-up: {e}");
    }
}

/// Whether `effect` is carried out on the writer's thread.
fn goes_to_writer(effect: &Effect) -> bool {
    !matches!(
        effect,
        Effect::LoadDetail(_)
            | Effect::ReloadIndex
            | Effect::AskAssistant(_)
            | Effect::Suspend
            | Effect::Copy(_)
            | Effect::OpenUrl(_)
            | Effect::Export(_)
            | Effect::OpenFile(_)
            | Effect::OpenEditor(_)
    )
}

/// The answers to one effect the writer carried out.
struct Written {
    answers: Vec<Action>,
    /// It changed the outbox (a decision, an undo, a settled conflict).
    wrote: bool,
}

/// Carries out the store's effects on its own thread, in the order given:
/// decisions and what reads after them.
struct StoreWriter {
    requests: std_mpsc::Sender<Effect>,
    thread: std::thread::JoinHandle<()>,
    /// Held while an effect is carried out.
    busy: Arc<std::sync::Mutex<()>>,
}

impl StoreWriter {
    fn spawn(mut perform: Perform, replies: mpsc::UnboundedSender<Written>) -> Result<StoreWriter> {
        let (requests, incoming) = std_mpsc::channel::<Effect>();
        let busy = Arc::new(std::sync::Mutex::new(()));
        let working = busy.clone();
        let thread = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || {
                for effect in incoming {
                    // What the status bar calls saving is what changes the outbox.
                    let wrote = effect.saving().is_some();
                    let answers = {
                        let _busy = working.lock();
                        perform.perform(effect)
                    };
                    // The console may be gone: what was asked is done all
                    // the same.
                    let _ = replies.send(Written { answers, wrote });
                }
            })?;
        Ok(StoreWriter {
            requests,
            thread,
            busy,
        })
    }

    fn send(&self, effect: Effect) {
        let _ = self.requests.send(effect);
    }

    /// Sends each of `effects`, in order, leaving it empty.
    fn send_all(&self, effects: &mut Vec<Effect>) {
        effects.drain(..).for_each(|e| self.send(e));
    }

    /// Waits for what was sent to be carried out.
    fn finish(self) {
        drop(self.requests);
        let _ = self.thread.join();
    }
}

/// Asks the Assistant in the background, telling the console as answers
/// arrive; they are stored as they do. `Verdicts`: a verdict for each
/// finding (again, if it has one), then guidance and a fix for the true
/// positives that have none. `Fix`: a new fix for one finding, whatever it
/// had (after `c` saved new guidance).
async fn assistant_job(
    settings: ProviderSettings,
    data_dir: PathBuf,
    actor: String,
    work: AssistantWork,
    tx: mpsc::UnboundedSender<Action>,
) {
    use crate::assistant::run::{self, Event, RunOptions, Task};
    use crate::tui::action::AssistantNews;
    let done = |stopped| {
        let _ = tx.send(Action::AssistantNews(AssistantNews::Done { stopped }));
    };
    let (provider, store) = match (
        crate::assistant::Provider::new(settings),
        crate::service::SharedStore::open(&data_dir),
    ) {
        (Ok(p), Ok(s)) => (Arc::new(p), s),
        (Err(e), _) | (_, Err(e)) => return done(Some(format!("{e:#}"))),
    };
    let events = |task: Task| -> Arc<dyn Fn(Event) + Send + Sync> {
        let news = tx.clone();
        Arc::new(move |e| {
            let said = match e {
                Event::Answered {
                    findings,
                    judgement,
                    ..
                } => AssistantNews::Answered {
                    findings,
                    verdict: matches!(judgement, crate::store::Judgement::Verdict { .. }),
                },
                Event::Fixed { findings, .. } => AssistantNews::Fixed { findings, ok: true },
                Event::Failed { findings, .. } if task == Task::Fixes => AssistantNews::Fixed {
                    findings,
                    ok: false,
                },
                Event::Failed { findings, why } => AssistantNews::Failed { findings, why },
                Event::Planned { .. } | Event::Waiting { .. } => return,
            };
            let _ = news.send(Action::AssistantNews(said));
        })
    };
    let verdicts = RunOptions {
        again: true,
        attach: true,
        ..RunOptions::default()
    };
    let fixes = RunOptions {
        task: Task::Fixes,
        again: false,
        ..verdicts
    };
    let ran = match work {
        AssistantWork::Verdicts(ids) => {
            match run::run(
                &store,
                provider.clone(),
                ids.clone(),
                verdicts,
                events(Task::Verdicts),
            )
            .await
            {
                Ok(report) if report.stopped.is_none() => {
                    run::run(&store, provider, ids, fixes, events(Task::Fixes)).await
                }
                other => other,
            }
        }
        AssistantWork::DraftMemory {
            finding,
            reason,
            note,
        } => {
            let drafted = draft_memory(&store, &provider, finding, reason, note, actor).await;
            let _ = tx.send(Action::AssistantNews(AssistantNews::Drafted(drafted)));
            return;
        }
        AssistantWork::Reanalyse(memory) => {
            let events = events(Task::Verdicts);
            match crate::assistant::reanalyse::reanalyse(&store, provider, &memory, events).await {
                Ok(done) => {
                    let _ = tx.send(Action::AssistantNews(AssistantNews::Reanalysed {
                        suggested: done.suggested.len(),
                    }));
                    Ok(done.report)
                }
                Err(e) => Err(e),
            }
        }
        AssistantWork::Fix(id) => {
            let again = RunOptions {
                again: true,
                on_demand: true,
                ..fixes
            };
            run::run(&store, provider, vec![id], again, events(Task::Fixes)).await
        }
    };
    match ran {
        Ok(report) => done(report.stopped),
        Err(e) => {
            tracing::error!("the Assistant's job failed: {e:#}");
            done(Some(format!("{e:#}")));
        }
    }
}

/// Drafts a suggested memory from an ignore note and puts it in the outbox
/// (the sync sends it like any memory change).
async fn draft_memory(
    store: &crate::service::SharedStore,
    provider: &crate::assistant::Provider,
    finding: i64,
    reason: crate::domain::TriageReason,
    note: String,
    actor: String,
) -> Result<Option<String>, String> {
    let loaded = store
        .run(move |s| -> anyhow::Result<_> {
            let f = s
                .load_finding(finding)?
                .ok_or_else(|| anyhow::anyhow!("the finding is gone"))?;
            let memories = s.memories_in_view()?.0;
            let classes = s.rule_classes()?;
            let evidence = crate::assistant::prompt::gather(s, &f, &memories, &classes)?;
            Ok((f, evidence))
        })
        .await
        .and_then(|r| r);
    let (f, evidence) = loaded.map_err(|e| format!("{e:#}"))?;
    let memory =
        crate::assistant::draft::draft(provider, &f, &evidence, reason, &note, &actor).await?;
    let Some(memory) = memory else {
        return Ok(None);
    };
    let text = memory.content.clone();
    store
        .run(move |s| s.record_memory_change(&crate::domain::MemoryChange::Create(memory), &actor))
        .await
        .and_then(|r| r)
        .map_err(|e| format!("{e:#}"))?;
    Ok(Some(text))
}

/// Runs $VISUAL or $EDITOR (vi without) on `path`, at `line` (`+LINE`,
/// which vi, vim, nano, emacs and most others take), with the terminal
/// handed over until it exits.
async fn run_editor(
    terminal: &mut Term,
    path: PathBuf,
    line: Option<u32>,
) -> Result<std::process::ExitStatus, String> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    leave(terminal);
    // The editor command may carry arguments ("code --wait").
    let mut words = editor.split_whitespace().map(str::to_string);
    let program = words.next().unwrap_or_else(|| "vi".into());
    let mut args: Vec<String> = words.collect();
    if let Some(line) = line {
        args.push(format!("+{line}"));
    }
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .args(&args)
            .arg(&path)
            .status()
            .map_err(|e| format!("cannot start the editor '{program}': {e}"))
    })
    .await
    .map_err(|e| format!("the editor failed: {e}"));
    if let Ok(t) = enter() {
        *terminal = t;
    }
    status?
}

/// The finding's file in the project's source tree, and its line.
fn file_of(store: &Store, id: i64) -> Result<(PathBuf, u32), String> {
    let f = store
        .load_finding(id)
        .map_err(|e| format!("{e:#}"))?
        .ok_or("the finding is gone")?;
    let root = store
        .source_root(&f.project)
        .map_err(|e| format!("{e:#}"))?
        .ok_or("its project has no source tree: import with --repo-root DIR")?;
    let (relative, _) = crate::import::file_in_tree(&root, &f.location.path)
        .ok_or("its file is not in the project's source tree")?;
    Ok((root.join(relative), f.location.line))
}

/// Writes `text` to a private temporary file, opens $VISUAL or $EDITOR on
/// it with the terminal handed over, and reads it back.
async fn edit_externally(terminal: &mut Term, text: String) -> Result<String, String> {
    let file = tempfile::Builder::new()
        .prefix("sift-note-")
        .suffix(".txt")
        .tempfile()
        .map_err(|e| format!("cannot create a file for the editor: {e}"))?;
    std::fs::write(file.path(), text).map_err(|e| format!("cannot write the note: {e}"))?;
    match run_editor(terminal, file.path().to_path_buf(), None).await? {
        s if s.success() => {
            std::fs::read_to_string(file.path()).map_err(|e| format!("cannot read the note: {e}"))
        }
        s => Err(format!("the editor exited with {s}; the note is unchanged")),
    }
}

/// How long a frame may wait for the selected finding's details.
const DETAIL_WAIT: Duration = Duration::from_millis(25);

/// How long the cursor must rest on a finding before its details replace
/// the ones shown: longer than a key repeat's interval, short enough to feel
/// immediate.
const DETAIL_REST: Duration = Duration::from_millis(90);

fn awaiting_detail(model: &Model) -> bool {
    model.detail.requested.is_some()
        && model.detail.finding.is_none()
        && model.detail.error.is_none()
}

/// The wall clock, in unix seconds.
fn clock() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// When the wall clock's next minute begins.
fn next_minute() -> Instant {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into_minute = Duration::from_nanos((since_epoch.as_nanos() % 60_000_000_000) as u64);
    Instant::now() + (Duration::from_secs(60) - into_minute)
}

/// What `part` of the view draws of the model, off screen: to tell whether
/// the clock or a sync changed anything on it.
fn screen(model: &Model, part: fn(&mut ratatui::Frame, &Model)) -> Option<Buffer> {
    let mut terminal = Terminal::new(TestBackend::new(model.width, model.height)).ok()?;
    terminal.draw(|frame| part(frame, model)).ok()?;
    Some(terminal.backend().buffer().clone())
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

/// The action a key press means where it lands, through the keymap.
pub fn key_action(model: &Model, key: KeyEvent) -> Option<Action> {
    let (context, typing) = model.key_context();
    let action = model.keymap.resolve(context, typing, &key)?;
    match model.dialog() {
        // A key the dialog has no use for goes to the field.
        Some(dialog) if !dialog.takes(&action) => Some(Action::TextInput(key)),
        _ => Some(action),
    }
}

fn draw(terminal: &mut Term, model: &Model, memo: &mut view::Memo) -> Result<()> {
    // Synchronized output: the terminal shows the frame whole or not at all.
    execute!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|frame| view::draw_with(frame, model, memo))?;
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}

fn enter() -> Result<Term> {
    crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
    // NO_COLOR is handled by the theme; crossterm's own NO_COLOR path would
    // reset bold and reverse along with colours.
    crossterm::style::force_color_output(true);
    execute!(stdout(), EnterAlternateScreen, cursor::Hide)?;
    // Cleared through the backend, which then knows the screen is blank.
    let mut backend = Compact::new(CrosstermBackend::new(stdout()));
    ratatui::backend::Backend::clear(&mut backend)?;
    Ok(Terminal::new(backend)?)
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
/// Stops sift until the shell's `fg`; false when it did not stop.
fn suspend(terminal: &mut Term) -> Result<bool> {
    leave(terminal);
    let asked = std::time::Instant::now();
    // SAFETY: raise() only sends a signal to this process; SIGTSTP's default
    // action stops it until the shell sends SIGCONT.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    // Without job control (an orphaned process group) the kernel discards
    // the stop and raise returns at once; a stop and an `fg` take a person
    // far longer.
    let stopped = asked.elapsed() >= std::time::Duration::from_millis(20);
    // A new Terminal has empty buffers, so the next frame is drawn whole.
    // (Terminal::clear would ask the terminal for the cursor position, and
    // the live event stream would swallow the answer.)
    *terminal = enter()?;
    Ok(stopped)
}

/// Writes the findings `filter` selects, with their history, to a new
/// SARIF file in the current directory; says where, or why not.
fn export_view(data_dir: &std::path::Path, filter: &crate::domain::Filter) -> String {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    let base = format!("sift-export-{}-{stamp}", filter.view.slug());
    // A new file only: an export never replaces anything, its own from the
    // same second included; readable by the reviewer alone.
    let mut created = None;
    for n in 1..100 {
        let name = match n {
            1 => format!("{base}.sarif"),
            n => format!("{base}-{n}.sarif"),
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&name) {
            Ok(file) => {
                created = Some((name, file));
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return format!("Export failed: cannot create {name}: {e}"),
        }
    }
    let Some((name, file)) = created else {
        return format!("Export failed: {base}.sarif and its numbered names exist");
    };
    let written = (|| -> Result<crate::export::ExportSummary> {
        let store = Store::open(data_dir)?;
        let mut out = std::io::BufWriter::new(file);
        let summary = crate::export::write(&store, filter, crate::export::Format::Sarif, &mut out)?;
        out.flush()?;
        Ok(summary)
    })();
    match written {
        Ok(summary) => format!(
            "Exported {} findings to ./{name} (SARIF; `sift export` writes JSON or CSV)",
            summary.findings
        ),
        Err(e) => {
            // Only the file this export created goes.
            let _ = std::fs::remove_file(&name);
            format!("Export failed: {e:#}")
        }
    }
}

/// Puts `text` on the reviewer's clipboard (OSC 52, through tmux too).
fn copy(text: &str) {
    let in_tmux = std::env::var_os("TMUX").is_some();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(super::clipboard::osc52(text, in_tmux).as_bytes());
    let _ = out.flush();
}

/// Opens `url` with $BROWSER, or the desktop's opener when there is a
/// display; over SSH there is neither, so the link is copied instead. Says
/// what happened.
fn open_url(url: &str) -> String {
    let desktop = std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
        || cfg!(target_os = "macos");
    let opener = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .or_else(|| {
            desktop.then(|| {
                if cfg!(target_os = "macos") {
                    "open".to_string()
                } else {
                    "xdg-open".to_string()
                }
            })
        });
    let Some(opener) = opener else {
        copy(url);
        return "No browser here (no $BROWSER, no display): the link is copied".into();
    };
    // The browser command may carry arguments; the link is one argument of
    // its own, never seen by a shell.
    let mut words = opener.split_whitespace();
    let program = words.next().unwrap_or("xdg-open");
    let started = std::process::Command::new(program)
        .args(words)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match started {
        // Reaped on its own thread: browsers may outlive the wait.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            format!("Opened with {program}")
        }
        Err(e) => {
            copy(url);
            format!("Cannot start '{program}' ({e}): the link is copied")
        }
    }
}

/// Reads from the store on its own thread; only the latest detail request
/// is served, so holding j never queues up stale loads.
struct StoreWorker {
    requests: std_mpsc::Sender<Request>,
}

enum Request {
    Detail(i64),
    Index,
}

impl StoreWorker {
    fn spawn(data_dir: PathBuf, replies: mpsc::UnboundedSender<Action>) -> Result<StoreWorker> {
        // It only reads: nobody is named as deciding anything.
        let mut perform = Perform::new(Store::open(&data_dir)?, "");
        let (requests, incoming) = std_mpsc::channel::<Request>();
        let mut highlights = HighlightCache::default();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                while let Ok(first) = incoming.recv() {
                    // Serve the latest detail request and at most one reload.
                    let (mut detail, mut index) = (None, false);
                    for request in std::iter::once(first).chain(incoming.try_iter()) {
                        match request {
                            Request::Detail(id) => detail = Some(id),
                            Request::Index => index = true,
                        }
                    }
                    let mut effects = Vec::new();
                    if index {
                        effects.push(Effect::ReloadIndex);
                    }
                    effects.extend(detail.map(Effect::LoadDetail));
                    for effect in effects {
                        for answer in perform.perform(effect) {
                            // The code's colours follow the finding, so
                            // it shows without waiting for them.
                            let colours = match &answer {
                                Action::DetailLoaded(f) => Some((f.id, highlights.get(f))),
                                _ => None,
                            };
                            if replies.send(answer).is_err() {
                                return;
                            }
                            if let Some((id, Some(h))) = colours
                                && replies.send(Action::CodeHighlighted(id, h)).is_err()
                            {
                                return;
                            }
                        }
                    }
                }
            })?;
        // The grammars load once, off the key path, before the first
        // finding needs them.
        std::thread::Builder::new()
            .name("grammars".into())
            .spawn(super::highlight::warm)?;
        Ok(StoreWorker { requests })
    }

    fn load_detail(&self, id: i64) {
        let _ = self.requests.send(Request::Detail(id));
    }

    fn reload_index(&self) {
        let _ = self.requests.send(Request::Index);
    }
}

/// The code colours of the findings seen last, so moving back and forth
/// does not parse again.
#[derive(Default)]
struct HighlightCache {
    /// Latest last: the finding, the code coloured, its colours.
    kept: std::collections::VecDeque<(i64, Vec<String>, Option<Arc<Highlight>>)>,
}

impl HighlightCache {
    const SIZE: usize = 64;

    fn get(&mut self, f: &Finding) -> Option<Arc<Highlight>> {
        let code = f.code.as_ref()?;
        if let Some(i) = self
            .kept
            .iter()
            .position(|(id, lines, _)| *id == f.id && *lines == code.lines)
        {
            let hit = self.kept.remove(i)?;
            let colours = hit.2.clone();
            self.kept.push_back(hit);
            return colours;
        }
        let colours = super::highlight::highlight(&f.location.path, &code.lines).map(Arc::new);
        if self.kept.len() == Self::SIZE {
            self.kept.pop_front();
        }
        self.kept
            .push_back((f.id, code.lines.clone(), colours.clone()));
        colours
    }
}
