//! Working beside colleagues: decisions a colleague's crossed (the sync
//! reports them; the reviewer keeps theirs or takes the colleague's), and
//! the finding under the cursor leaving the view after someone else's
//! decision.

use crate::sync::Conflicted;
use crate::tui::action::{Action, Effect};
use crate::tui::keymap::Context;
use crate::tui::model::Model;

/// The sync reports decisions a colleague's crossed: they are read again
/// from the store, the findings shown as they now stand, and the reviewer
/// told what to do about them.
pub(super) fn arrived(model: &mut Model, conflicts: Vec<Conflicted>) -> Vec<Effect> {
    let ids: Vec<i64> = conflicts.iter().map(|c| c.conflict.finding_id).collect();
    let n = ids.len();
    let notice = if n == 1 {
        format!(
            "A colleague decided a finding before your decision reached the server: yours is \
             kept, not applied. {}",
            settle_keys(model)
        )
    } else {
        format!(
            "Colleagues decided {n} findings before your decisions reached the server: yours \
             are kept, not applied. On each, {}",
            settle_keys(model)
        )
    };
    vec![
        Effect::LoadConflicts,
        Effect::RefreshRows {
            ids,
            notice: Some(notice),
        },
    ]
}

/// "K keeps yours, T takes theirs", from the live keymap.
fn settle_keys(model: &Model) -> String {
    let key = |action: Action, command: &str| {
        model
            .keymap
            .key_in(Context::of(model.focus), &action)
            .unwrap_or_else(|| format!("`sift conflicts {command}`"))
    };
    format!(
        "{} keeps yours, {} takes theirs",
        key(Action::KeepMine, "keep"),
        key(Action::TakeTheirs, "drop")
    )
}

/// Settles the conflicts on the findings a decision would apply to (the
/// range, the marked ones, the one under the cursor): `keep` sends the
/// reviewer's decisions again, otherwise they are dropped for the
/// colleague's.
pub(super) fn settle(model: &mut Model, keep: bool) -> Vec<Effect> {
    let targets = model.targets();
    let outbox_ids: Vec<i64> = model
        .conflicts
        .iter()
        .filter(|p| targets.contains(&p.finding_id))
        .map(|p| p.id)
        .collect();
    if outbox_ids.is_empty() {
        model.notice = Some(match model.conflicts.len() {
            0 => "No decision of yours is in conflict with a colleague's".into(),
            n => {
                format!("No conflict on this finding ({n} elsewhere: `sift conflicts` lists them)")
            }
        });
        return Vec::new();
    }
    model.visual = None;
    model.marked.clear();
    vec![Effect::SettleConflicts { outbox_ids, keep }]
}

/// After a reload: when the finding the cursor was on is no longer listed
/// (someone else's decision, or a scan, moved it out of the view), the
/// cursor has stayed at its place in the list, and the reviewer is told
/// why.
pub(super) fn left_view(model: &Model, before: Option<i64>) -> Vec<Effect> {
    let Some(id) = before else {
        return Vec::new();
    };
    let listed = model
        .visible
        .iter()
        .any(|&i| model.index.rows[i as usize].id == id);
    if listed {
        Vec::new()
    } else {
        vec![Effect::SayWhyItLeft(id)]
    }
}
