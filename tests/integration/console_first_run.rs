//! The console as a new reviewer first meets it: a scan of the main branch
//! opens on a view with findings, an empty store says how to fill it with
//! the options sift was started with, the demo says its decisions go, and
//! an offline status bar keeps what waits and when sift tries again.

use crate::console::Console;
use sift::backend::Outage;
use sift::domain::BacklogView;
use sift::import::{ImportOptions, load_str};
use sift::store::Store;
use sift::sync::SyncStatus;
use sift::tui::action::Action;
use sift::tui::model::SyncState;
use time::macros::datetime;

const SCAN: &str = include_str!("../fixtures/import/semgrep_logged_out.json");

/// A store holding one ordinary `semgrep scan` of `main`: nothing on a
/// pull request, so nothing in Pre-production.
fn scan_of_main() -> Store {
    let mut store = Store::in_memory().unwrap();
    let scans = load_str("scan.json", SCAN, &ImportOptions::default()).unwrap();
    store.import(&scans).unwrap();
    store
}

fn status_line(c: &Console) -> String {
    c.render()
        .lines()
        .last()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

#[test]
fn a_scan_of_main_opens_on_the_first_view_with_findings_and_says_so() {
    let c = Console::on(scan_of_main(), 160, 48);
    assert_eq!(c.model.filter.view, BacklogView::Production);
    assert!(!c.listed().is_empty());
    assert!(c.selected().is_some(), "its first finding is selected");
    let status = status_line(&c);
    assert!(
        status.contains("Pre-production is empty; showing Production"),
        "{status}"
    );
    // Said once: the next key clears it.
    let mut c = c;
    c.keys("j");
    assert!(!status_line(&c).contains("is empty"));
}

#[test]
fn the_default_view_stays_when_it_has_findings() {
    let c = Console::new(160, 48);
    assert_eq!(c.model.filter.view, BacklogView::PreProduction);
    assert_eq!(c.model.notice, None);
}

#[test]
fn a_first_import_while_the_console_is_open_shows_its_findings() {
    let mut c = Console::on(Store::in_memory().unwrap(), 100, 30);
    assert_eq!(c.model.filter.view, BacklogView::PreProduction);
    let index = scan_of_main().load_index().unwrap();
    c.send(Action::IndexReloaded(Box::new(index)));
    assert_eq!(c.model.filter.view, BacklogView::Production);
    assert!(c.selected().is_some());
}

#[test]
fn the_empty_store_hint_carries_the_options_sift_was_started_with() {
    let mut c = Console::on(Store::in_memory().unwrap(), 100, 24);
    c.model.command = "sift --data-dir '/tmp/my scans' --profile team".into();
    let screen = c.render();
    assert!(
        screen.contains("sift --data-dir '/tmp/my scans' --profile team import results.json"),
        "{screen}"
    );
    assert!(screen.contains("sift demo"), "{screen}");
    // A path from the environment reaches the terminal inert.
    c.model.command = "sift --data-dir '/tmp/\u{1b}[2Jx'".into();
    let screen = c.render();
    assert!(!screen.contains('\u{1b}'), "{screen}");
}

#[test]
fn the_empty_store_hint_wraps_on_a_narrow_terminal() {
    let mut c = Console::on(Store::in_memory().unwrap(), 60, 15);
    c.model.command = "sift --data-dir /tmp/x".into();
    insta::assert_snapshot!(c.render());
}

#[test]
fn the_demo_says_its_decisions_are_discarded_at_every_width() {
    for (width, says) in [
        (160, "demo: your decisions are discarded on quit"),
        (80, "demo: your decisions are discarded on quit"),
        (60, "demo: discarded on quit"),
        (40, "demo"),
    ] {
        let mut c = Console::new(width, 24);
        c.model.throwaway = true;
        let status = status_line(&c);
        assert!(status.contains(says), "{width}: {status}");
        // Marks and the like do not push it off.
        c.keys("<space>");
        let status = status_line(&c);
        assert!(status.contains(" · demo"), "{width}: {status}");
    }
}

/// Offline for 40 seconds, 3 decisions waiting, the next try in 20.
fn offline(width: u16) -> Console {
    let mut c = Console::new(width, 24);
    let now = datetime!(2026-11-24 12:00 UTC);
    c.model.sync = SyncState::Reported(SyncStatus::Offline {
        since: now - time::Duration::seconds(40),
        reason: "cannot reach the backend for the triage: Connection refused (os error 111) \
                 at https://semgrep.example.com/api/v1/deployments/acme/triage"
            .into(),
        outage: Outage::ConnectionRefused,
        pending: 3,
        next_try: Some(now + time::Duration::seconds(20)),
    });
    c.model.backend = "api https://semgrep.example.com".into();
    c
}

#[test]
fn offline_the_status_bar_keeps_pending_and_retry_at_every_width() {
    let mut bars = String::new();
    for width in [160, 80, 60, 40] {
        let c = offline(width);
        let status = status_line(&c);
        assert!(status.contains("3 pending"), "{width}: {status}");
        assert!(status.contains("retry in 20s"), "{width}: {status}");
        assert!(!status.contains("os error"), "the raw error: {status}");
        bars += &format!("{width:>3} |{status}|\n");
    }
    insta::assert_snapshot!(bars);
}

#[test]
fn offline_with_a_notice_the_pending_count_and_retry_still_show() {
    for width in [80, 60, 40] {
        let mut c = offline(width);
        c.send(Action::Said(
            "Copied src/api/auth.py:42 and a long sentence after it".into(),
        ));
        let status = status_line(&c);
        assert!(status.contains("3 pending"), "{width}: {status}");
        assert!(status.contains("retry in 20s"), "{width}: {status}");
    }
}

#[test]
fn the_short_reason_comes_from_the_kind_of_failure() {
    let c = offline(160);
    let status = status_line(&c);
    assert!(
        status.contains("offline since 11:59: connection refused"),
        "{status}"
    );
    for (outage, says) in [
        (Outage::TimedOut, "offline: timed out"),
        (Outage::Http(503), "offline: HTTP 503"),
    ] {
        let mut c = offline(80);
        if let SyncState::Reported(SyncStatus::Offline { outage: o, .. }) = &mut c.model.sync {
            *o = outage;
        }
        let status = status_line(&c);
        assert!(status.contains(says), "{status}");
    }
}
