//! `sift digest` as a script (or cron) runs it: the built binary on a small
//! backlog whose ranking is known, in every format, and `--mail` against a
//! tiny SMTP server the test runs on loopback (plain SMTP, no TLS).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::Duration;
use tempfile::TempDir;
use time::OffsetDateTime;

const TOP_TASK: &str = "Fix the 12 SQL Injection findings in payments-api";
/// A vulnerability class a hostile scan could carry: markup and a terminal
/// escape (the title bar) in one.
const HOSTILE_CLASS: &str = "<script>alert(1)</script>\u{1b}]0;pwned\u{7}";
const PASSWORD_VAR: &str = "SIFT_TEST_SMTP_PASSWORD";

fn at(days_ago: i64) -> String {
    sift::wire::timestamp::format(OffsetDateTime::now_utc() - time::Duration::days(days_ago))
}

#[allow(clippy::too_many_arguments)]
fn finding(
    id: i64,
    project: &str,
    git_ref: &str,
    mbid: &str,
    class: &str,
    severity: &str,
    assistant: Value,
    days_ago: i64,
) -> Value {
    let rule = format!("rule.{}", class.to_lowercase().replace(' ', "-"));
    json!({
        "id": id,
        "ref": git_ref,
        "match_based_id": mbid,
        "repository": {"name": project},
        "state": "unresolved",
        "triage_state": "untriaged",
        "severity": severity,
        "confidence": "high",
        "categories": ["security"],
        "created_at": at(days_ago),
        "relevant_since": at(days_ago),
        "rule_name": rule,
        "rule": {"name": rule, "message": "m", "category": "security",
                 "vulnerability_classes": [class]},
        "location": {"file_path": format!("src/f{id}.py"), "line": id, "column": 1,
                     "end_line": id, "end_column": 9},
        "assistant": assistant,
    })
}

fn judged(verdict: &str, risk: Option<&str>) -> Value {
    let mut a = json!({"autotriage": {"verdict": verdict, "reason": "r"}});
    if let Some(risk) = risk {
        a["component"] = json!({"tag": "payments", "risk": risk});
    }
    a
}

/// payments-api: 12 high SQL injections judged true positives in a
/// high-risk component (one also on a pull request: the same finding),
/// an XSS not analysed, new this week, and two path traversals that the
/// test decides; web: a critical finding whose class is hostile text and
/// five low findings judged false positives. Old findings wait a year.
///
/// Points (see `digest::rank`): SQL injection 12 × 10 × 2 × 2 = 480;
/// hostile 40 × 2 = 80; XSS 3 × 0.5 × (1 + 1/90) ≈ 1.5; false positives
/// 5 × 0.1 × 2 = 1.
fn backlog() -> TempDir {
    let mut findings: Vec<Value> = (1..=12)
        .map(|i| {
            finding(
                i,
                "payments-api",
                "main",
                &format!("m_{i}"),
                "SQL Injection",
                "high",
                judged("true_positive", Some("high")),
                365,
            )
        })
        .collect();
    findings.push(finding(
        101,
        "payments-api",
        "refs/pull/9/merge",
        "m_1",
        "SQL Injection",
        "high",
        judged("true_positive", Some("high")),
        1,
    ));
    findings.push(finding(
        20,
        "payments-api",
        "main",
        "m_20",
        "XSS",
        "medium",
        Value::Null,
        1,
    ));
    for id in [30, 31] {
        findings.push(finding(
            id,
            "payments-api",
            "main",
            &format!("m_{id}"),
            "Path Traversal",
            "high",
            judged("true_positive", None),
            365,
        ));
    }
    findings.push(finding(
        40,
        "web",
        "main",
        "m_40",
        HOSTILE_CLASS,
        "critical",
        judged("true_positive", None),
        365,
    ));
    for id in 50..55 {
        findings.push(finding(
            id,
            "web",
            "main",
            &format!("m_{id}"),
            "Open Redirect",
            "low",
            judged("false_positive", None),
            365,
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    crate::common::import_into(&dir.path().join("data"), findings);
    let dir_ok = dir;
    // This week: one decision agrees with the Assistant, one does not.
    assert_eq!(code(&sift(&dir_ok, &["triage", "30", "--accept"])), 0);
    let out = sift(
        &dir_ok,
        &["triage", "31", "--reject", "--note", "constant input"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    dir_ok
}

fn config(dir: &Path) -> PathBuf {
    dir.join("config.toml")
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sift"));
    cmd.current_dir(dir)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(config(dir))
        .args(args)
        .env("USER", "carol")
        .env("HOME", dir)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env(PASSWORD_VAR, "hunter2-smtp-password")
        .env_remove("SIFT_PROFILE")
        .env_remove("SIFT_BACKEND");
    if !config(dir).exists() {
        std::fs::write(config(dir), "").unwrap();
    }
    cmd
}

fn sift(dir: &TempDir, args: &[&str]) -> Output {
    command(dir.path(), args).output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Where each of `titles` is in `text`, which must hold them in that order.
fn assert_in_order(text: &str, titles: &[&str]) {
    let mut from = 0;
    for t in titles {
        let at = text[from..]
            .find(t)
            .unwrap_or_else(|| panic!("{t:?} not after byte {from} in:\n{text}"));
        from += at + t.len();
    }
}

#[test]
fn text_names_the_top_three_tasks_in_order_and_the_weeks_figures() {
    let dir = backlog();
    let out = sift(&dir, &["digest"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert_in_order(
        &text,
        &[
            "The top 3 backlog tasks",
            &format!("1. {TOP_TASK} (score 480)"),
            "12 high; 12 judged true positives by the Assistant; 12 in high-risk components",
            "sift findings --view all --status open,provisionally_ignored --verdict tp,none \
             --project payments-api --rule rule.sql-injection",
            "2. Fix the ",
            " finding in web",
            "3. Triage the XSS finding in payments-api",
            "(and 1 more task;",
            "The figures for the last 7 days:",
            "Decided: 2",
            "Agreed with the Assistant: 1 of the 2 decided findings it had judged (50%)",
            "Waiting: 19 (13 judged true positives, 5 judged false positives, 1 not analysed)",
            "New: 1",
            "Decided by: carol 2",
        ],
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "a finding's text reaches the terminal inert:\n{text}"
    );
    assert!(text.contains("␛]0;pwned␇"), "{text}");
}

#[test]
fn json_carries_the_ranking_its_reasons_and_the_figures() {
    let dir = backlog();
    let out = sift(&dir, &["digest", "--format", "json", "--top", "5"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 4, "every task, fewer than --top");
    assert_eq!(v["more_tasks"], 0);
    assert_eq!(tasks[0]["rank"], 1);
    assert_eq!(tasks[0]["title"], TOP_TASK);
    assert_eq!(tasks[0]["kind"], "fix");
    assert_eq!(
        tasks[0]["findings"], 12,
        "the copy on the pull request is one"
    );
    assert_eq!(tasks[0]["score"], 480.0);
    assert_eq!(tasks[0]["high_risk_components"], 12);
    assert_eq!(tasks[1]["vulnerability_class"], HOSTILE_CLASS);
    assert_eq!(tasks[3]["kind"], "review_false_positives");
    assert_eq!(
        tasks[3]["title"],
        "Review the 5 findings the Assistant judged false positives in web"
    );
    let f = &v["figures"];
    assert_eq!(
        (&f["decided"], &f["compared_with_ai"], &f["agreed_with_ai"]),
        (&json!(2), &json!(2), &json!(1))
    );
    assert_eq!((&f["waiting"], &f["new"]), (&json!(19), &json!(1)));
    assert_eq!(v["window"], "the last 7 days");
}

#[test]
fn a_project_narrows_tasks_and_figures_and_an_unknown_one_is_refused() {
    let dir = backlog();
    let out = sift(&dir, &["digest", "--project", "web", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let projects: Vec<&Value> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["project"])
        .collect();
    assert_eq!(projects, [&json!("web"), &json!("web")]);
    assert_eq!(v["figures"]["decided"], 0);
    assert_eq!(v["figures"]["waiting"], 6);
    assert_eq!(v["figures"]["new"], 0);

    let out = sift(&dir, &["digest", "--project", "paymnets-api"]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("payments-api"), "{}", stderr(&out));
    let out = sift(&dir, &["digest", "--since", "next week"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("expected a span"), "{}", stderr(&out));
}

#[test]
fn html_and_markdown_escape_the_text_of_findings() {
    let dir = backlog();
    let out = sift(&dir, &["digest", "--format", "html"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let html = stdout(&out);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains(&format!("<strong>{TOP_TASK}</strong>")),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;␛]0;pwned␇"),
        "{html}"
    );

    let out = sift(&dir, &["digest", "--format", "markdown"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let md = stdout(&out);
    assert!(
        md.contains(&format!("1. **{TOP_TASK}** (score 480)")),
        "{md}"
    );
    assert!(
        md.contains(r"**Fix the \<script\>alert(1)\</script\>␛\]0;pwned␇ finding in web**"),
        "{md}"
    );
    assert!(!md.contains('\u{1b}'), "{md}");
}

/// What the SMTP server was given.
#[derive(Debug, Default)]
struct Captured {
    mail_from: String,
    recipients: Vec<String>,
    data: String,
}

/// A one-connection SMTP server on 127.0.0.1: it takes what it is sent
/// (refusing every recipient with 550 if told to) and hands it back when
/// the client has gone.
fn smtp_server(refuse_recipients: bool) -> (u16, JoinHandle<Captured>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // A guard against a test that hangs, not a timing the test needs.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        serve_smtp(stream, refuse_recipients)
    });
    (port, handle)
}

fn serve_smtp(stream: TcpStream, refuse_recipients: bool) -> Captured {
    let mut out = stream.try_clone().unwrap();
    let mut lines = BufReader::new(stream);
    let mut got = Captured::default();
    let mut say = |text: &str| {
        let _ = out.write_all(format!("{text}\r\n").as_bytes());
    };
    say("220 test.local ESMTP");
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return got;
        }
        let command = line.trim_end().to_string();
        let verb = command.to_ascii_uppercase();
        if verb.starts_with("EHLO") || verb.starts_with("HELO") {
            say("250-test.local");
            say("250 8BITMIME");
        } else if verb.starts_with("MAIL FROM:") {
            got.mail_from = command["MAIL FROM:".len()..].to_string();
            say("250 OK");
        } else if verb.starts_with("RCPT TO:") {
            if refuse_recipients {
                say("550 5.1.1 mailbox unavailable");
            } else {
                got.recipients.push(command["RCPT TO:".len()..].to_string());
                say("250 OK");
            }
        } else if verb == "DATA" {
            say("354 end with <CRLF>.<CRLF>");
            loop {
                line.clear();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    return got;
                }
                if line == ".\r\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                got.data.push_str(unstuffed);
            }
            say("250 OK queued");
        } else if verb == "QUIT" {
            say("221 bye");
            return got;
        } else if verb == "RSET" || verb == "NOOP" {
            say("250 OK");
        } else {
            say("502 not implemented");
        }
    }
}

/// Quoted-printable undone (soft breaks and `=XX`), enough to read a body.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn write_mail_config(dir: &Path, host: &str, port: u16, extra: &str) {
    std::fs::write(
        config(dir),
        format!(
            "[digest]\nrecipients = [\"lead@example.com\", \"Sam Appsec <sam@example.com>\"]\n\
             from = \"sift <sift@example.com>\"\nsmtp_host = \"{host}\"\nsmtp_port = {port}\n\
             tls = \"none\"\ntimeout_secs = 20\n{extra}"
        ),
    )
    .unwrap();
}

#[test]
fn mail_sends_the_digest_to_the_configured_recipients() {
    let dir = backlog();
    let (port, server) = smtp_server(false);
    write_mail_config(dir.path(), "127.0.0.1", port, "");
    let out = sift(&dir, &["digest", "--mail"]);
    let got = server.join().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("sent the digest (3 task(s)) to 2 recipient(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(got.mail_from, "<sift@example.com>");
    assert_eq!(got.recipients, ["<lead@example.com>", "<sam@example.com>"]);
    let headers = got
        .data
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n ", " ");
    let today = sift::digest::figures::day(OffsetDateTime::now_utc());
    assert!(
        headers.contains(&format!("Subject: sift digest {today}: {TOP_TASK}")),
        "{headers}"
    );
    assert!(
        headers.contains("To: lead@example.com, \"Sam Appsec\" <sam@example.com>"),
        "{headers}"
    );
    let body = unquote(&got.data);
    assert!(
        body.contains("text/plain") && body.contains("text/html"),
        "{body}"
    );
    assert!(
        body.contains(&format!("1. {TOP_TASK} (score 480)")),
        "{body}"
    );
    assert!(
        body.contains(&format!("<strong>{TOP_TASK}</strong>")),
        "{body}"
    );
    let html = body.split("text/html").nth(1).unwrap_or_default();
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
    assert!(
        !html.contains("<script>"),
        "the HTML part is escaped: {html}"
    );
}

#[test]
fn a_server_that_refuses_or_is_not_there_is_an_error_and_a_failed_exit() {
    let dir = backlog();
    let (port, server) = smtp_server(true);
    write_mail_config(dir.path(), "127.0.0.1", port, "");
    let out = sift(&dir, &["digest", "--mail"]);
    let got = server.join().unwrap();
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the SMTP server 127.0.0.1:{port} refused the digest"
        )) && err.contains("550")
            && err.contains("nothing was sent"),
        "{err}"
    );
    assert!(got.data.is_empty(), "no message after a refused recipient");

    // A port where nothing listens: bound, then closed.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    write_mail_config(dir.path(), "127.0.0.1", port, "");
    let out = sift(&dir, &["digest", "--mail"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!(
            "cannot send the digest by the SMTP server 127.0.0.1:{port}"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plain_smtp_elsewhere_and_a_missing_password_are_refused_before_sending() {
    let dir = backlog();
    write_mail_config(dir.path(), "smtp.example.com", 25, "");
    let out = sift(&dir, &["digest", "--mail"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("refusing plain SMTP to another machine"),
        "{}",
        stderr(&out)
    );

    let (port, server) = smtp_server(false);
    write_mail_config(
        dir.path(),
        "127.0.0.1",
        port,
        "username = \"sift\"\npassword_env = \"SIFT_TEST_NO_SUCH_VAR\"\n",
    );
    let out = sift(&dir, &["digest", "--mail"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("SIFT_TEST_NO_SUCH_VAR, which is not set"),
        "{}",
        stderr(&out)
    );
    // Nothing connected; let the server go.
    drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    assert!(server.join().unwrap().recipients.is_empty());
}
