//! A finding's triage history, as reviewers would have made it: each step
//! an intent resolved by the decision rules.

use super::*;

pub(super) struct Decision {
    pub(super) state: ScanState,
    pub(super) triage: TriageState,
    pub(super) reason: Option<TriageReason>,
    pub(super) comment: Option<String>,
    pub(super) at: Option<OffsetDateTime>,
    pub(super) activity: Vec<Activity>,
}

#[derive(Clone, Copy)]
pub(super) enum Outcome {
    Open,
    ProvisionallyIgnored,
    AgreeIgnore,
    DisagreeFix,
    Review,
    Fix,
    Ignore(TriageReason),
    RejectVerdict,
    Fixed,
    Reopened,
}

/// A triage history consistent with the verdict.
pub(super) fn decide(
    w: &World,
    rng: &mut Rng,
    verdict: Option<Verdict>,
    reason: &str,
    key: &ScanKey,
    created_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Decision {
    use Outcome::*;
    use TriageReason as R;
    let table: &[(Outcome, u32)] = match verdict {
        Some(Verdict::FalsePositive) => &[
            (ProvisionallyIgnored, 58),
            (AgreeIgnore, 22),
            (Open, 6),
            (DisagreeFix, 6),
            (Review, 5),
            (Fixed, 2),
            (Ignore(R::Duplicate), 1),
        ],
        Some(Verdict::TruePositive) => &[
            (Open, 48),
            (Fix, 20),
            (Review, 10),
            (Ignore(R::AcceptableRisk), 4),
            (Ignore(R::NoTime), 2),
            (Ignore(R::Duplicate), 2),
            (RejectVerdict, 3),
            (Fixed, 7),
            (Reopened, 4),
        ],
        None => &[
            (Open, 62),
            (Review, 8),
            (Fix, 10),
            (Ignore(R::AcceptableRisk), 4),
            (Ignore(R::NoTime), 2),
            (Ignore(R::Duplicate), 1),
            (RejectVerdict, 5),
            (Fixed, 8),
        ],
    };
    let total: u32 = table.iter().map(|t| t.1).sum();
    let mut x = rng.below(total as u64) as u32;
    let mut outcome = Open;
    for &(o, weight) in table {
        if x < weight {
            outcome = o;
            break;
        }
        x -= weight;
    }
    let notes = &w.cat.notes;
    let mut d = Decision {
        state: ScanState::Unresolved,
        triage: TriageState::Untriaged,
        reason: None,
        comment: None,
        at: None,
        activity: Vec::new(),
    };
    let mut t = created_at;
    let mut step = |rng: &mut Rng| {
        t = later(rng, t, now);
        t
    };
    // Each step is a reviewer's intent, resolved by the decision rules as
    // the console and `sift triage` resolve it.
    let mut decide = |d: &mut Decision, rng: &mut Rng, intent: Intent| {
        let at = step(rng);
        let who = w.person(key.0, rng).to_string();
        apply(d, at, &who, &intent, verdict, reason);
    };
    let set_state = |state, reason: Option<R>, note: Option<String>| Intent::SetState {
        state,
        reason,
        note,
    };
    match outcome {
        Open => {
            if rng.chance(0.12) {
                let note = rng.pick(&notes.comment).clone();
                decide(&mut d, rng, Intent::Note(note));
            }
        }
        ProvisionallyIgnored => d.triage = TriageState::ProvisionallyIgnored,
        AgreeIgnore => {
            let comment = rng.chance(0.3).then(|| rng.pick(&notes.agree).clone());
            decide(&mut d, rng, Intent::Accept { comment });
        }
        DisagreeFix => {
            let comment = Some(rng.pick(&notes.disagree).clone());
            decide(
                &mut d,
                rng,
                Intent::Reject {
                    reason: None,
                    comment,
                },
            );
        }
        Review => {
            let note = rng.chance(0.8).then(|| rng.pick(&notes.reviewing).clone());
            decide(&mut d, rng, set_state(TriageState::Reviewing, None, note));
        }
        Fix => {
            let note = rng.chance(0.7).then(|| rng.pick(&notes.fixing).clone());
            decide(&mut d, rng, set_state(TriageState::Fixing, None, note));
        }
        Ignore(reason) => {
            let pool = match reason {
                R::AcceptableRisk => &notes.acceptable_risk,
                R::NoTime => &notes.no_time,
                _ => &notes.duplicate,
            };
            let note = Some(rng.pick(pool).clone());
            decide(
                &mut d,
                rng,
                set_state(TriageState::Ignored, Some(reason), note),
            );
        }
        RejectVerdict => {
            let text = rng.pick(&notes.reject_tp).clone();
            let intent = match verdict {
                Some(_) => Intent::Reject {
                    reason: Some(R::FalsePositive),
                    comment: Some(text),
                },
                None => set_state(TriageState::Ignored, Some(R::FalsePositive), Some(text)),
            };
            decide(&mut d, rng, intent);
        }
        Fixed => {
            if rng.chance(0.6) {
                let note = rng.chance(0.7).then(|| rng.pick(&notes.fixing).clone());
                decide(&mut d, rng, set_state(TriageState::Fixing, None, note));
            }
            let at = step(rng);
            d.state = ScanState::Fixed;
            d.activity.push(Activity {
                at,
                actor: "scan".into(),
                action: "fixed: no longer reported".into(),
                note: Some(format!("CI scan of {}", ref_name(w, *key))),
                pending: false,
            });
        }
        Reopened => {
            let note = Some(rng.pick(&notes.acceptable_risk).clone());
            decide(
                &mut d,
                rng,
                set_state(TriageState::Ignored, Some(R::AcceptableRisk), note),
            );
            let note = Some(rng.pick(&notes.reopen).clone());
            decide(&mut d, rng, set_state(TriageState::Reopened, None, note));
        }
    }
    d
}

/// A reviewer's decision, as the decision rules resolve it and the backend
/// records it (state, reason, note and the history's wording).
pub(super) fn apply(
    d: &mut Decision,
    at: OffsetDateTime,
    actor: &str,
    intent: &Intent,
    verdict: Option<Verdict>,
    verdict_reason: &str,
) {
    let context = DecisionContext {
        status: Status::derive(d.state, d.triage),
        triage_state: d.triage,
        verdict,
        verdict_reason,
    };
    let Ok(change) = resolve(intent, context) else {
        return; // a decision the rules refuse leaves no trace, as in sift
    };
    if let Some(state) = change.state {
        d.triage = state;
        d.reason = change.reason;
        d.at = Some(at);
        if change.note.is_some() {
            d.comment = change.note.clone();
        }
    }
    d.activity.push(Activity {
        at,
        actor: actor.to_string(),
        action: change.activity(),
        note: change.note,
        pending: false,
    });
}

/// A moment between `from` and `now`: usually within a few days of `from`.
pub(super) fn later(rng: &mut Rng, from: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
    let room = (now - from).whole_seconds().max(2);
    let span = room.min(if rng.chance(0.7) { 3 * DAY } else { 20 * DAY });
    let offset = (span / 20).max(1) + rng.below((span - span / 20).max(1) as u64) as i64;
    from + Duration::seconds(offset.min(room - 1))
}

/// The reviewer's intent behind a hand-written history line ("set to
/// ignored (false positive)", "set to reviewing", "note"); none for what a
/// scan did.
pub(super) fn intent_of(action: &str, note: Option<String>) -> Option<Intent> {
    if action == "note" {
        return note.map(Intent::Note);
    }
    let rest = action.strip_prefix("set to ")?;
    let (state, reason) = match rest.split_once(" (") {
        Some((state, reason)) => {
            let reason = reason.trim_end_matches(')').replace(' ', "_");
            (state, TriageReason::parse(&reason))
        }
        None => (rest, None),
    };
    let state = match state {
        "fix" | "fixing" => TriageState::Fixing,
        other => TriageState::parse(other)?,
    };
    Some(Intent::SetState {
        state,
        reason,
        note,
    })
}
