//! The sync (ARCHITECTURE §4): sends the outbox to the backend and pulls what
//! changed, once (`push_and_pull`, for `sift sync` and `sift triage`) or in
//! the background for the console (`spawn`).
//!
//! Identical decisions by the same reviewer go in one bulk triage call of at
//! most `batch_size` findings. A decision leaves the outbox only when the
//! backend has acknowledged it, so a crash, a kill or a backend that is down
//! loses nothing; sending it again is harmless because triage is idempotent.
//! Every request has a timeout. After a failure the background task waits
//! with exponential backoff and jitter, and at least as long as the backend
//! asked (`Retry-After`). A decision the backend refuses is kept, marked
//! rejected, and reported; it does not hold back the others.
//!
//! Each decision carries the state the reviewer saw the finding in. A
//! backend that checks it (the embedded one, `sift serve`) leaves a finding
//! someone else decided since alone and says so: the decision stays in the
//! outbox as a conflict until the reviewer keeps it or takes theirs.

mod conflicts;

pub use conflicts::conflict_sentence;

use crate::backend::{Backend, BackendError, Outage, TriageRequest};
use crate::domain::{TriageChange, TriageConflict};
pub use crate::show::human;
use crate::store::Store;
use anyhow::Result;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How the sync talks to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Longest wait for one answer; then the request counts as failed.
    pub request_timeout: Duration,
    /// First wait after a failure; it doubles with each failure in a row.
    pub backoff_base: Duration,
    /// Longest wait between attempts (unless the backend asks for more).
    pub backoff_max: Duration,
    /// Most findings in one bulk triage call (Semgrep accepts 3,000).
    pub batch_size: usize,
    /// How often to pull when there is nothing to send.
    pub poll_interval: Duration,
    /// How often instead when the backend pulls cheaply (only what
    /// changed: `sift serve`, the embedded store), so that a colleague's
    /// decision shows within seconds.
    pub cheap_poll_interval: Duration,
    /// Longest wait for a whole pull, which may take many pages (each
    /// page's request has its own time limit in the backend).
    pub pull_timeout: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            request_timeout: Duration::from_secs(20),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5 * 60),
            batch_size: 3_000,
            poll_interval: Duration::from_secs(30),
            cheap_poll_interval: Duration::from_secs(2),
            pull_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// Why a pass stopped early: the backend could not be reached or asked to
/// wait. What was not sent stays in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offline {
    /// What happened, e.g. "the backend answered 500".
    pub reason: String,
    /// How long the backend asked to wait (Retry-After), if it did.
    pub retry_after: Option<Duration>,
    /// What kind of failure, for the status bar.
    pub outage: Outage,
}

/// Decisions the backend refused in one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedBatch {
    pub outbox_ids: Vec<i64>,
    pub finding_ids: Vec<i64>,
    pub change: TriageChange,
    /// The backend's message (untrusted text).
    pub message: String,
}

/// A decision the backend left alone because someone else decided the
/// finding since the reviewer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicted {
    pub outbox_id: i64,
    /// The reviewer's decision.
    pub change: TriageChange,
    pub actor: String,
    /// What the finding holds, and who set it when.
    pub conflict: TriageConflict,
}

/// What one push-and-pull pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Bulk triage calls made, including failed ones.
    pub calls: usize,
    /// Decisions the backend acknowledged (they left the outbox).
    pub acknowledged: usize,
    /// Findings the backend triaged, including the same finding on other
    /// refs; ascending, no duplicates.
    pub triaged: Vec<i64>,
    /// Decisions refused in this pass.
    pub rejected: Vec<RejectedBatch>,
    /// Decisions left alone in this pass: a colleague decided first.
    pub conflicts: Vec<Conflicted>,
    /// Decisions in conflict in the outbox after the pass, from this pass
    /// or earlier ones.
    pub conflicts_total: usize,
    /// Memory changes the backend acknowledged.
    pub memory_changes_acknowledged: usize,
    /// Why the backend refused memory changes in this pass (untrusted).
    pub memory_changes_rejected: Vec<String>,
    /// Set when the pass stopped because the backend was unavailable.
    pub offline: Option<Offline>,
    /// The pull found changes the console should reload.
    pub changed: bool,
    /// Decisions still to send after the pass.
    pub waiting: usize,
    /// Rejected decisions in the outbox after the pass, from this pass or
    /// earlier ones.
    pub rejected_total: usize,
    /// When the backend asked (Retry-After) not to be asked before, as
    /// stored for every process (unix seconds).
    pub not_before: Option<i64>,
}

/// One pass: sends every decision waiting in the outbox, in bulk calls, until
/// the outbox is empty or the backend is unavailable; then pulls. Errors are
/// the local store's; the backend's are in the report. A backend that asked
/// any process on the store to wait (Retry-After) is not asked before then.
pub async fn push_and_pull<B: Backend>(
    backend: &B,
    store: &mut Store,
    cfg: &SyncConfig,
) -> Result<PassReport> {
    pass_after(backend, store, cfg, None).await
}

/// `push_and_pull` for a caller that already waited out the Retry-After it
/// stored itself (`waited`, as the report gave it).
async fn pass_after<B: Backend>(
    backend: &B,
    store: &mut Store,
    cfg: &SyncConfig,
    waited: Option<i64>,
) -> Result<PassReport> {
    let mut report = PassReport::default();
    let mut triaged = std::collections::BTreeSet::new();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let not_before = store.not_before()?;
    if not_before > now && Some(not_before) != waited {
        let wait = Duration::from_secs((not_before - now) as u64);
        report.offline = Some(Offline {
            reason: format!("the backend asked to wait {} more", human(wait)),
            retry_after: Some(wait),
            outage: Outage::AskedToWait,
        });
    }
    if report.offline.is_none() {
        push_memory_changes(backend, store, cfg, &mut report).await?;
    }
    while report.offline.is_none()
        && let Some(batch) = store.next_batch(cfg.batch_size.max(1))?
    {
        let request = TriageRequest {
            issue_ids: batch.finding_ids.clone(),
            change: batch.change.clone(),
            actor: batch.actor.clone(),
            key: Some(batch.request_key.clone()),
            preconditions: batch.preconditions.clone(),
        };
        report.calls += 1;
        match within(cfg.request_timeout, backend.triage(request)).await {
            Ok(answer) => {
                // A decision the backend could not apply is refused, not sent.
                let refused: Vec<(i64, &str)> = batch
                    .outbox_ids
                    .iter()
                    .zip(&batch.finding_ids)
                    .filter_map(|(o, f)| {
                        let (_, why) = answer.not_applied.iter().find(|(id, _)| id == f)?;
                        Some((*o, why.as_str()))
                    })
                    .collect();
                // A decision a colleague's crossed is kept, not applied.
                let crossed: Vec<(i64, &TriageConflict)> = batch
                    .outbox_ids
                    .iter()
                    .zip(&batch.finding_ids)
                    .filter_map(|(o, f)| {
                        let c = answer.conflicts.iter().find(|c| c.finding_id == *f)?;
                        Some((*o, c))
                    })
                    .collect();
                let applied: Vec<i64> = batch
                    .outbox_ids
                    .iter()
                    .filter(|o| !refused.iter().any(|(r, _)| r == *o))
                    .filter(|o| !crossed.iter().any(|(c, _)| c == *o))
                    .copied()
                    .collect();
                for (outbox_id, conflict) in crossed {
                    tracing::info!(
                        "a decision on {} was not applied: someone else decided it first",
                        conflict.finding_id
                    );
                    store.mark_conflicted(outbox_id, conflict)?;
                    report.conflicts.push(Conflicted {
                        outbox_id,
                        change: batch.change.clone(),
                        actor: batch.actor.clone(),
                        conflict: conflict.clone(),
                    });
                }
                store.acknowledge(&applied)?;
                report.acknowledged += applied.len();
                triaged.extend(answer.triaged);
                for (outbox_id, why) in refused {
                    let finding = batch.finding_ids[batch
                        .outbox_ids
                        .iter()
                        .position(|o| *o == outbox_id)
                        .unwrap_or(0)];
                    tracing::warn!("the backend did not apply a decision on {finding}: {why}");
                    store.mark_rejected(&[outbox_id], why)?;
                    report.rejected.push(RejectedBatch {
                        outbox_ids: vec![outbox_id],
                        finding_ids: vec![finding],
                        change: batch.change.clone(),
                        message: why.to_string(),
                    });
                    triaged.insert(finding);
                }
                triaged.extend(&batch.finding_ids);
            }
            Err(BackendError::Unavailable {
                message,
                retry_after,
                outage,
            }) => {
                tracing::warn!(
                    "sending {} decisions failed: {message}",
                    batch.outbox_ids.len()
                );
                store.record_failure(&batch.outbox_ids, &message)?;
                report.not_before = remember_retry_after(store, retry_after)?;
                report.offline = Some(Offline {
                    reason: message,
                    retry_after,
                    outage,
                });
                break;
            }
            Err(BackendError::Rejected { message }) => {
                tracing::warn!(
                    "the backend refused {} decisions: {message}",
                    batch.outbox_ids.len()
                );
                store.mark_rejected(&batch.outbox_ids, &message)?;
                report.rejected.push(RejectedBatch {
                    outbox_ids: batch.outbox_ids,
                    finding_ids: batch.finding_ids,
                    change: batch.change,
                    message,
                });
            }
        }
    }
    if report.offline.is_none() {
        match within(cfg.pull_timeout, backend.pull()).await {
            Ok(changed) => report.changed = changed,
            Err(BackendError::Unavailable {
                message,
                retry_after,
                outage,
            }) => {
                report.offline = Some(Offline {
                    reason: format!("fetching findings failed: {message}"),
                    retry_after,
                    outage,
                })
            }
            Err(BackendError::Rejected { message }) => {
                report.offline = Some(Offline {
                    reason: format!("the backend refused to list findings: {message}"),
                    retry_after: None,
                    outage: Outage::Refused,
                })
            }
        }
    }
    report.triaged = triaged.into_iter().collect();
    report.waiting = store.waiting_count()?;
    report.rejected_total = store.rejected_count()?;
    report.conflicts_total = store.conflict_count()?;
    Ok(report)
}

/// Sends the memory changes in the outbox, oldest first, one call each,
/// until none is left or the backend is unavailable.
async fn push_memory_changes<B: Backend>(
    backend: &B,
    store: &mut Store,
    cfg: &SyncConfig,
    report: &mut PassReport,
) -> Result<()> {
    while let Some(pending) = store.next_memory_change()? {
        report.calls += 1;
        let call = backend.memory(pending.change.clone(), pending.actor.clone());
        match within(cfg.request_timeout, call).await {
            Ok(stored) => {
                store.acknowledge_memory_change(pending.id, stored.as_ref())?;
                report.memory_changes_acknowledged += 1;
            }
            Err(BackendError::Unavailable {
                message,
                retry_after,
                outage,
            }) => {
                tracing::warn!("sending a memory change failed: {message}");
                store.record_memory_failure(pending.id, &message)?;
                report.not_before = remember_retry_after(store, retry_after)?;
                report.offline = Some(Offline {
                    reason: message,
                    retry_after,
                    outage,
                });
                break;
            }
            Err(BackendError::Rejected { message }) => {
                tracing::warn!("the backend refused a memory change: {message}");
                store.mark_memory_rejected(pending.id, &message)?;
                report.memory_changes_rejected.push(message);
            }
        }
    }
    Ok(())
}

/// Keeps the backend's Retry-After in the store, so that no process on it
/// asks before then; returns the time stored.
fn remember_retry_after(store: &Store, retry_after: Option<Duration>) -> Result<Option<i64>> {
    let Some(wait) = retry_after else {
        return Ok(None);
    };
    let until = OffsetDateTime::now_utc().unix_timestamp()
        + i64::try_from(wait.as_secs()).unwrap_or(i64::MAX / 2);
    store.set_not_before(until)?;
    Ok(Some(until))
}

/// Runs a request with a time limit; running out counts as unavailable.
async fn within<T>(
    limit: Duration,
    request: impl Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    match tokio::time::timeout(limit, request).await {
        Ok(answer) => answer,
        Err(_) => Err(BackendError::outage(
            Outage::TimedOut,
            format!("the backend did not answer within {}", human(limit)),
        )),
    }
}

/// What the status bar says about the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStatus {
    /// Nothing waits to be sent; the backend last answered at `at`.
    Synced { at: OffsetDateTime },
    /// Sending `pending` decisions now.
    Syncing { pending: usize },
    /// Decisions wait to be sent (the backend answers).
    Pending { count: usize },
    /// The backend has not answered since `since` (the first failure in a
    /// row); `next_try` is when sift tries again.
    Offline {
        since: OffsetDateTime,
        /// Untrusted text (it may quote the backend): make it inert before
        /// it reaches the terminal.
        reason: String,
        /// What kind of failure: the status bar says this, not `reason`.
        outage: Outage,
        pending: usize,
        next_try: Option<OffsetDateTime>,
    },
}

/// The status bar's words for the sync, in parts that give way in turn
/// on a narrow terminal: `detail` shortens (its forms are longest first),
/// while `pending` and `retry` always stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncWords {
    /// "synced 12:03", "offline".
    pub state: String,
    /// What follows the state, for an outage: " since 12:01: timed out",
    /// ": timed out".
    pub detail: Vec<String>,
    /// "3 pending", while offline.
    pub pending: Option<String>,
    /// "retry in 40s", "retrying", while offline.
    pub retry: Option<String>,
}

impl SyncStatus {
    /// For the status bar: "synced 12:03", "syncing 3…", "3 pending",
    /// "offline since 12:01: HTTP 500 · 3 pending · retry in 40s". Times
    /// are UTC. The full reason is in the log and `sift sync`.
    pub fn label(&self, now: OffsetDateTime) -> String {
        let words = self.words(now);
        let state = words.state + words.detail.first().map_or("", String::as_str);
        let mut parts = vec![state.as_str()];
        parts.extend(words.pending.as_deref());
        parts.extend(words.retry.as_deref());
        parts.join(" · ")
    }

    /// `label` in parts, for a status bar that has to make room.
    pub fn words(&self, now: OffsetDateTime) -> SyncWords {
        let only = |state: String| SyncWords {
            state,
            detail: Vec::new(),
            pending: None,
            retry: None,
        };
        match self {
            SyncStatus::Synced { at } => only(if (now - *at).whole_seconds() < 60 {
                "synced just now".into()
            } else {
                format!("synced {}", clock(*at, now))
            }),
            SyncStatus::Syncing { pending: 0 } => only("syncing…".into()),
            SyncStatus::Syncing { pending } => only(format!("syncing {pending}…")),
            SyncStatus::Pending { count } => only(format!("{count} pending")),
            SyncStatus::Offline {
                since,
                outage,
                pending,
                next_try,
                ..
            } => {
                let why = outage.summary();
                let retry = next_try.map(|at| {
                    let wait = at - now;
                    if wait.is_positive() {
                        let wait = Duration::try_from(wait).unwrap_or_default();
                        format!("retry in {}", human(wait))
                    } else {
                        "retrying".into()
                    }
                });
                SyncWords {
                    state: "offline".into(),
                    detail: vec![
                        format!(" since {}: {why}", clock(*since, now)),
                        format!(": {why}"),
                    ],
                    pending: (*pending > 0).then(|| format!("{pending} pending")),
                    retry,
                }
            }
        }
    }
}

/// HH:MM (UTC), with the date when it is not today.
fn clock(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let hm = format!("{:02}:{:02}", at.hour(), at.minute());
    if at.date() == now.to_offset(time::UtcOffset::UTC).date() {
        hm
    } else {
        format!("{} {hm}", at.date())
    }
}

/// What the background sync tells the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    Status(SyncStatus),
    /// The backend acknowledged decisions on these findings (including the
    /// same findings on other refs): they are no longer pending.
    Acknowledged(Vec<i64>),
    /// Something else changed the store (a pull, an import, a script):
    /// reload.
    Changed,
    /// The backend refused these decisions. They stay in the outbox and
    /// are listed by `sift sync`; later decisions are not held back.
    Rejected {
        finding_ids: Vec<i64>,
        /// The backend's message: untrusted text.
        message: String,
    },
    /// The backend left these decisions alone: someone else decided the
    /// findings first. They wait in the outbox for the reviewer.
    Conflicts(Vec<Conflicted>),
    /// The backend acknowledged memory changes: they are no longer
    /// pending.
    MemoriesChanged,
    /// The backend refused a memory change; it stays in the outbox.
    MemoryRejected {
        /// The backend's message: untrusted text.
        message: String,
    },
}

/// The running background sync.
pub struct SyncHandle {
    wake: Arc<Notify>,
    task: Option<JoinHandle<()>>,
}

impl SyncHandle {
    /// Sends what is waiting now (call it after recording a decision). While
    /// the backend is failing, the wait before the next attempt is kept, so
    /// a burst of decisions does not hammer it; the status's pending count
    /// is updated at once.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the sync (at quit). A request in flight is abandoned: its
    /// decisions stay in the outbox and are sent at the next start; the
    /// backend applies a repeated decision only once.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Starts the background sync on the current tokio runtime. It opens its
/// own connection to the store in `data_dir`, passes at once, and then
/// whenever woken, every `poll_interval` when all is well (every
/// `cheap_poll_interval` when the backend pulls cheaply), or after the
/// backoff when the backend failed. It stops when `events` is closed or at
/// `shutdown`.
pub fn spawn<B: Backend>(
    backend: Arc<B>,
    data_dir: PathBuf,
    cfg: SyncConfig,
    events: UnboundedSender<SyncEvent>,
) -> SyncHandle {
    let wake = Arc::new(Notify::new());
    let task = tokio::spawn(run(backend, data_dir, cfg, events, wake.clone()));
    SyncHandle {
        wake,
        task: Some(task),
    }
}

async fn run<B: Backend>(
    backend: Arc<B>,
    data_dir: PathBuf,
    cfg: SyncConfig,
    events: UnboundedSender<SyncEvent>,
    wake: Arc<Notify>,
) {
    let mut jitter = Jitter::seeded();
    let mut store: Option<Store> = None;
    // Failures in a row, and when the first of them happened.
    let mut failures: u32 = 0;
    let mut since: Option<OffsetDateTime> = None;
    let mut own_wait: Option<i64> = None;
    loop {
        let outcome = match &mut store {
            Some(store) => pass(&*backend, store, &cfg, &events, &mut own_wait).await,
            None => match Store::open(&data_dir) {
                Ok(opened) => {
                    let store = store.insert(opened);
                    pass(&*backend, store, &cfg, &events, &mut own_wait).await
                }
                Err(e) => Err(e),
            },
        };
        let now = OffsetDateTime::now_utc();
        let (status, delay) = match outcome {
            Ok(None) => {
                failures = 0;
                since = None;
                let waiting = store.as_ref().map_or(Ok(0), Store::waiting_count);
                match waiting {
                    // Decisions recorded during the pass: go again.
                    Ok(count) if count > 0 => (SyncStatus::Pending { count }, Duration::ZERO),
                    _ => (
                        SyncStatus::Synced { at: now },
                        poll_interval(&*backend, &cfg),
                    ),
                }
            }
            Ok(Some(offline)) => {
                failures = failures.saturating_add(1);
                let delay = retry_delay(&cfg, failures, offline.retry_after, &mut jitter);
                let pending = store
                    .as_ref()
                    .and_then(|s| s.waiting_count().ok())
                    .unwrap_or(0);
                tracing::info!(
                    "sync offline: {}; next try in {}",
                    offline.reason,
                    human(delay)
                );
                let status = SyncStatus::Offline {
                    since: *since.get_or_insert(now),
                    reason: offline.reason,
                    outage: offline.outage,
                    pending,
                    next_try: Some(now + delay),
                };
                (status, delay)
            }
            Err(e) => {
                // The local store failed: open it afresh next time.
                store = None;
                failures = failures.saturating_add(1);
                let delay = retry_delay(&cfg, failures, None, &mut jitter);
                tracing::error!("sync: the local store failed: {e:#}");
                let status = SyncStatus::Offline {
                    since: *since.get_or_insert(now),
                    reason: format!("the local store failed: {e:#}"),
                    outage: Outage::LocalStore,
                    pending: 0,
                    next_try: Some(now + delay),
                };
                (status, delay)
            }
        };
        if events.send(SyncEvent::Status(status.clone())).is_err() {
            return;
        }
        let deadline = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = wake.notified() => {
                    if failures == 0 {
                        break;
                    }
                    // Backing off: keep the wait, tell how much now waits.
                    if let (SyncStatus::Offline { since, reason, outage, next_try, .. }, Some(store)) =
                        (&status, &store)
                        && let Ok(pending) = store.waiting_count()
                    {
                        let status = SyncStatus::Offline {
                            since: *since,
                            reason: reason.clone(),
                            outage: *outage,
                            pending,
                            next_try: *next_try,
                        };
                        if events.send(SyncEvent::Status(status)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// One pass of the background task, telling the console as it goes.
/// Returns why it stopped early, if it did.
/// `own_wait` is the Retry-After this task stored, which its own backoff
/// honours.
async fn pass<B: Backend>(
    backend: &B,
    store: &mut Store,
    cfg: &SyncConfig,
    events: &UnboundedSender<SyncEvent>,
    own_wait: &mut Option<i64>,
) -> Result<Option<Offline>> {
    let waiting = store.waiting_count()?;
    if waiting > 0 {
        let _ = events.send(SyncEvent::Status(SyncStatus::Syncing { pending: waiting }));
    }
    let report = pass_after(backend, store, cfg, *own_wait).await?;
    if report.not_before.is_some() {
        *own_wait = report.not_before;
    }
    if !report.triaged.is_empty() {
        let _ = events.send(SyncEvent::Acknowledged(report.triaged));
    }
    for r in report.rejected {
        let _ = events.send(SyncEvent::Rejected {
            finding_ids: r.finding_ids,
            message: r.message,
        });
    }
    if !report.conflicts.is_empty() {
        let _ = events.send(SyncEvent::Conflicts(report.conflicts));
    }
    if report.memory_changes_acknowledged > 0 {
        let _ = events.send(SyncEvent::MemoriesChanged);
    }
    for message in report.memory_changes_rejected {
        let _ = events.send(SyncEvent::MemoryRejected { message });
    }
    if report.changed {
        let _ = events.send(SyncEvent::Changed);
    }
    Ok(report.offline)
}

/// How long to wait before the next pull when all is well.
fn poll_interval<B: Backend>(backend: &B, cfg: &SyncConfig) -> Duration {
    if backend.pulls_cheaply() {
        cfg.cheap_poll_interval.min(cfg.poll_interval)
    } else {
        cfg.poll_interval
    }
}

/// How long to wait after `failures` failures in a row: exponential backoff
/// with full jitter (anywhere between the base and the doubled cap), at
/// least what the backend asked for.
fn retry_delay(
    cfg: &SyncConfig,
    failures: u32,
    retry_after: Option<Duration>,
    jitter: &mut Jitter,
) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    let cap = cfg
        .backoff_base
        .checked_mul(1 << doublings)
        .unwrap_or(cfg.backoff_max)
        .min(cfg.backoff_max);
    let backoff = jitter.between(cfg.backoff_base.min(cap), cap);
    retry_after.map_or(backoff, |asked| asked.max(backoff))
}

/// A tiny PRNG (splitmix64) for jitter: retries from many consoles should
/// not arrive in step; nothing here needs to be unpredictable.
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter(nanos ^ (u64::from(std::process::id()) << 32))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi] (to the nanosecond).
    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        if hi <= lo {
            return lo;
        }
        let span = u64::try_from((hi - lo).as_nanos()).unwrap_or(u64::MAX);
        lo + Duration::from_nanos(self.next() % span.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn defaults_follow_the_design() {
        let cfg = SyncConfig::default();
        assert_eq!(cfg.batch_size, 3_000, "Semgrep's bulk triage limit");
        assert_eq!(cfg.request_timeout, Duration::from_secs(20));
        assert_eq!(cfg.backoff_max, Duration::from_secs(300));
    }

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap() {
        let cfg = SyncConfig::default();
        let mut jitter = Jitter(7);
        for failures in 1..40 {
            let cap = Duration::from_secs(1 << (failures - 1).min(20)).min(cfg.backoff_max);
            let mut seen = std::collections::HashSet::new();
            for _ in 0..50 {
                let d = retry_delay(&cfg, failures, None, &mut jitter);
                assert!(d >= cfg.backoff_base && d <= cap, "{failures}: {d:?}");
                seen.insert(d);
            }
            if failures > 1 {
                assert!(seen.len() > 1, "jittered");
            }
        }
        let asked = Duration::from_secs(3600);
        assert_eq!(retry_delay(&cfg, 3, Some(asked), &mut jitter), asked);
        let d = retry_delay(&cfg, 9, Some(Duration::from_secs(2)), &mut jitter);
        assert!(d >= Duration::from_secs(1));
    }

    #[test]
    fn labels_say_what_is_going_on() {
        let now = datetime!(2026-09-01 12:05:30 UTC);
        let synced = |at| SyncStatus::Synced { at }.label(now);
        assert_eq!(
            synced(datetime!(2026-09-01 12:05:00 UTC)),
            "synced just now"
        );
        assert_eq!(synced(datetime!(2026-09-01 12:03:10 UTC)), "synced 12:03");
        assert_eq!(
            synced(datetime!(2026-08-31 23:59:00 UTC)),
            "synced 2026-08-31 23:59"
        );
        assert_eq!(SyncStatus::Syncing { pending: 3 }.label(now), "syncing 3…");
        assert_eq!(SyncStatus::Pending { count: 3 }.label(now), "3 pending");
        let offline = SyncStatus::Offline {
            since: datetime!(2026-09-01 12:01:00 UTC),
            reason: "the backend answered 500: <html>…".into(),
            outage: Outage::Http(500),
            pending: 3,
            next_try: Some(datetime!(2026-09-01 12:06:10 UTC)),
        };
        assert_eq!(
            offline.label(now),
            "offline since 12:01: HTTP 500 · 3 pending · retry in 40s"
        );
        assert!(
            offline
                .label(datetime!(2026-09-01 12:07:00 UTC))
                .ends_with("· retrying")
        );
    }
}
