//! End to end in a real terminal: tmux runs the built binary, send-keys
//! types, capture-pane reads the screen. Each test uses its own tmux server
//! socket, so they run in parallel without seeing each other. The socket
//! and the console's log live in a temp dir of the test's, removed after
//! it: a test run leaves nothing in /tmp or the user's state directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SIFT: &str = env!("CARGO_BIN_EXE_sift");

struct Tmux {
    socket: PathBuf,
    /// Holds the socket and the state directory (the console's log).
    dir: TempDir,
}

impl Tmux {
    /// Starts `command` in a detached session of the given size.
    fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let dir = tempfile::Builder::new()
            .prefix("sift-e2e-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join(format!("{name}.sock"));
        let t = Tmux { socket, dir };
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Keep the pane after the program exits, to read what it left.
        t.tmux(&["set-option", "-g", "remain-on-exit", "on"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        // The server started by the first call passes its environment on
        // to the command it runs: the console logs under the temp dir.
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .env("XDG_STATE_HOME", state_dir(self.dir.path()))
            .output()
            .expect("tmux is installed (.ci/run installs it)")
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", k]);
        }
    }

    fn screen(&self) -> String {
        // -J joins lines the terminal wrapped.
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-J"]).stdout).into_owned()
    }

    /// Waits until the screen contains `text`, or fails showing the screen.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("timed out waiting for {text:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn title(&self) -> String {
        let out = self.tmux(&["display-message", "-p", "#{pane_title}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// The XDG state directory (where the console logs) for a test's runs of
/// sift: under its temp dir `dir`.
fn state_dir(dir: &Path) -> PathBuf {
    dir.join("state")
}

/// sift, run directly, with its log under the temp dir `dir`.
fn sift(dir: &Path) -> Command {
    let mut cmd = Command::new(SIFT);
    cmd.env("XDG_STATE_HOME", state_dir(dir));
    cmd
}

/// Sends a signal to the sift process working on `data_dir`.
fn signal_sift(data_dir: &Path, signal: &str) {
    let out = Command::new("pgrep")
        .args(["-f", &format!("^{SIFT} --data-dir {}", data_dir.display())])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(!pid.is_empty(), "sift is running");
    let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
    assert!(sent.success());
}

fn shell_command(data_dir: &Path, args: &str) -> String {
    // After sift exits, print a marker so the test sees the shell's view of
    // the terminal again.
    // After a SIGKILL nothing restored the terminal: stty sane, as a
    // reviewer would, and start the marker on a fresh line.
    format!(
        "TERM=xterm-256color {SIFT} --data-dir '{}' {args}; rc=$?; stty sane 2>/dev/null; \
         printf '\\r\\n'; echo \"sift exited $rc\"; sleep 30",
        data_dir.display()
    )
}

#[test]
fn demo_navigate_help_quit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = Tmux::start("demo", 100, 30, &shell_command(&data, "demo"));
    // The whole first frame: tmux may be captured while it is half written.
    t.wait_for("Pre-production");
    t.wait_for("Needs review");
    t.wait_for("Projects");

    // Moving down changes the finding shown in the detail pane.
    t.keys(&["l"]);
    let detail_before = t.wait_for("Finding ");
    t.keys(&["h", "j", "j", "j"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["l"]);
    let detail_after = t.wait_for("Finding ");
    let id = |s: &str| {
        s.lines().find_map(|l| {
            l.split("Finding ")
                .nth(1)
                .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
        })
    };
    assert_ne!(
        id(&detail_before),
        id(&detail_after),
        "j moved to another finding"
    );
    t.keys(&["Escape"]);

    // Help, generated from the keymap, opens and closes.
    t.keys(&["?"]);
    t.wait_for("move down");
    t.keys(&["?"]);

    // The filter narrows the list.
    t.keys(&[
        "/", "v", "e", "r", "d", "i", "c", "t", ":", "f", "p", "Enter",
    ]);
    t.wait_for("/verdict:false_positive");

    // Quit restores the terminal: the shell's output is visible again.
    t.keys(&["q"]);
    let after = t.wait_for("sift exited 0");
    assert!(
        !after.contains("Pre-production"),
        "left the alternate screen:\n{after}"
    );
}

#[test]
fn resize_and_a_tiny_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = Tmux::start("resize", 160, 48, &shell_command(&data, "demo"));
    t.wait_for("Pre-production");
    t.tmux(&["resize-window", "-x", "15", "-y", "4"]);
    t.wait_for("too small");
    t.tmux(&["resize-window", "-x", "80", "-y", "24"]);
    t.wait_for("Pre-production");
    t.keys(&["q"]);
    t.wait_for("sift exited 0");
}

#[test]
fn sighup_and_sigterm_restore_the_terminal() {
    for signal in ["HUP", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let t = Tmux::start(
            &format!("sig{signal}"),
            100,
            30,
            &shell_command(&data, "demo"),
        );
        t.wait_for("Pre-production");
        signal_sift(&data, &format!("-{signal}"));
        let after = t.wait_for("sift exited");
        assert!(
            !after.contains("Needs review"),
            "SIG{signal} left the alternate screen:\n{after}"
        );
    }
}

#[test]
fn hostile_finding_text_does_not_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let scan = dir.path().join("scan.json");
    std::fs::write(
        &scan,
        r#"{"results": [{"check_id": "demo.rule", "path": "app.py",
            "start": {"line": 1, "col": 1, "offset": 0}, "end": {"line": 1, "col": 5, "offset": 4},
            "extra": {"message": "pwn \u001b]0;HACKED\u0007 \u001b[2J here", "severity": "ERROR",
                      "metadata": {}, "lines": "x = 1", "fingerprint": "f_0"}}],
            "errors": [], "paths": {"scanned": ["app.py"]}}"#,
    )
    .unwrap();
    let status = sift(dir.path())
        .args(["--data-dir"])
        .arg(&data)
        .args([
            "import",
            "--ref",
            "refs/pull/1/merge",
            "--project",
            "acme/app",
        ])
        .arg(&scan)
        .status()
        .unwrap();
    assert!(status.success());
    let t = Tmux::start("hostile", 120, 30, &shell_command(&data, ""));
    t.wait_for("Pre-production");
    let title_before = t.title();
    t.keys(&["l"]);
    let screen = t.wait_for("␛]0;HACKED␇");
    assert!(!title_before.contains("HACKED"));
    assert!(
        !t.title().contains("HACKED"),
        "the OSC title sequence changed the title"
    );
    assert!(
        screen.contains("Pre-production"),
        "the screen was not cleared by CSI 2J"
    );
    t.keys(&["q"]);
}

#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An interactive shell with job control, as a reviewer has (and no
    // history file: it would go to the user's ~/.bash_history).
    let t = Tmux::start(
        "suspend",
        100,
        30,
        "env PS1='shell$ ' HISTFILE= bash --norc --noprofile -i",
    );
    t.wait_for("shell$");
    t.keys(&[
        &format!(
            "TERM=xterm-256color {SIFT} --data-dir '{}' demo",
            data.display()
        ),
        "Enter",
    ]);
    t.wait_for("Pre-production");
    t.keys(&["C-z"]);
    let stopped = t.wait_for("Stopped");
    assert!(
        !stopped.contains("Needs review"),
        "the shell is back on the normal screen"
    );
    t.keys(&["fg", "Enter"]);
    // Drawn again at once, without waiting for a key.
    t.wait_for("Needs review");
    t.keys(&["q"]);
    // Typed only once sift has given the terminal back, or sift reads it.
    let start = Instant::now();
    while t.screen().contains("Needs review") && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    t.keys(&["echo done-$?", "Enter"]);
    t.wait_for("done-0");
}

/// X writes what the list shows to a SARIF file in the current directory,
/// off the key path, and says where.
#[test]
fn x_exports_the_view_as_sarif_beside_the_reviewer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let here = dir.path().join("here");
    std::fs::create_dir(&here).unwrap();
    let t = Tmux::start(
        "export",
        160,
        40,
        &format!(
            "cd '{}' && env TERM=xterm-256color {SIFT} --data-dir '{}' demo",
            here.display(),
            data.display()
        ),
    );
    t.wait_for("Pre-production");
    t.keys(&["X"]);
    let screen = t.wait_for("Exported");
    t.keys(&["q"]);
    let files: Vec<_> = std::fs::read_dir(&here)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}\n{screen}");
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(
        screen.contains(&format!("Exported {} findings", results.len())),
        "{screen}"
    );
}

/// Where nothing can resume it (no shell with job control), Ctrl-Z says
/// so instead of doing nothing, and keys typed next are not lost in a stop.
#[test]
fn ctrl_z_without_job_control_says_it_cannot_suspend() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // sift is the pane's own program: no shell to resume it.
    let t = Tmux::start(
        "nojobs",
        100,
        30,
        &format!(
            "env TERM=xterm-256color {SIFT} --data-dir '{}' demo",
            data.display()
        ),
    );
    t.wait_for("Pre-production");
    t.keys(&["C-z"]);
    t.wait_for("Cannot suspend");
    t.keys(&["q"]);
}

/// Decisions made in the console survive SIGKILL before they were sent, and
/// the next start sends each exactly once.
#[test]
fn decisions_survive_sigkill_and_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = seeded_demo(dir.path());

    // Offline, so nothing is acknowledged before the kill.
    let t = Tmux::start("kill", 120, 40, &shell_command(&data, "--offline"));
    t.wait_for("offline by choice");
    t.keys(&["1", "g", "f", "f", "v"]);
    t.wait_for("Set to reviewing 1 finding");
    signal_sift(&data, "-KILL");
    t.wait_for("sift exited 137");

    // (finding, what the activity will say) for each decision.
    let (decided, actor): (Vec<(i64, String)>, String) = {
        let store = sift::store::Store::open(&data).unwrap();
        let pending = store.pending().unwrap();
        assert_eq!(
            pending.len(),
            3,
            "every decision was in the outbox before it showed"
        );
        (
            pending
                .iter()
                .map(|p| (p.finding_id, p.change.activity()))
                .collect(),
            pending[0].actor.clone(),
        )
    };
    // Keys typed while a decision was being stored waited for it: each
    // decided the finding the cursor had moved on to.
    let findings: std::collections::HashSet<i64> = decided.iter().map(|(id, _)| *id).collect();
    assert_eq!(findings.len(), 3, "three findings decided: {decided:?}");

    // Restarted, the console sends what waits.
    let t2 = Tmux::start("restart", 120, 40, &shell_command(&data, ""));
    t2.wait_for("synced");
    t2.keys(&["q"]);
    t2.wait_for("sift exited 0");

    let store = sift::store::Store::open(&data).unwrap();
    assert_eq!(store.pending_count().unwrap(), 0);
    for (id, action) in &decided {
        let f = store.load_finding(*id).unwrap().unwrap();
        let entries = f
            .activity
            .iter()
            .filter(|a| a.actor == actor && &a.action == action)
            .count();
        assert_eq!(entries, 1, "finding {id}: '{action}' arrived exactly once");
    }
}

#[test]
fn a_decision_and_q_typed_at_once_are_both_carried_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = seeded_demo(dir.path());

    let t = Tmux::start("at-once", 120, 40, &shell_command(&data, "--offline"));
    t.wait_for("offline by choice");
    // One write: the console reads both keys in the same batch, and the
    // decision goes to the writer only after the frame that says so.
    t.keys(&["1", "g", "vq"]);
    t.wait_for("sift exited 0");

    let store = sift::store::Store::open(&data).unwrap();
    let pending = store.pending().unwrap();
    assert_eq!(pending.len(), 1, "the decision was stored: {pending:?}");
    assert_eq!(
        pending[0].change.state,
        Some(sift::domain::TriageState::Reviewing)
    );
}

/// The (project, rule) of the demo with the most open findings: how many
/// are open, and how many undecided (open or provisionally ignored).
fn project_and_rule_with_open_findings(data: &Path) -> (String, String, usize, usize) {
    use sift::domain::Status;
    let index = sift::store::Store::open(data)
        .unwrap()
        .load_index()
        .unwrap();
    let mut counts: std::collections::BTreeMap<(u32, u32), (usize, usize)> = Default::default();
    for r in &index.rows {
        let c = counts.entry((r.project, r.rule)).or_default();
        c.0 += usize::from(r.status == Status::Open);
        c.1 += usize::from(r.status.is_undecided());
    }
    let ((p, r), (open, undecided)) = counts
        .into_iter()
        .max_by_key(|(_, (open, _))| *open)
        .expect("the demo has open findings");
    assert!(
        open >= 2,
        "the demo has a project and rule with open findings"
    );
    (
        index.projects.get(p).to_string(),
        index.rules.get(r).to_string(),
        open,
        undecided,
    )
}

fn count_before(screen: &str, marker: &str) -> usize {
    let at = screen.find(marker).expect("the marker is on screen");
    screen[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .expect("a number before the marker")
}

/// What the issue asks a reviewer to do: ignore a finding with a memory
/// scoped to its project and rule, applied to the findings in scope; edit
/// the memory's text and scope in the memory pane; delete it. The backend
/// (the embedded store) then holds exactly what the preview promised.
#[test]
fn ignore_remember_apply_edit_and_delete_a_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = seeded_demo(dir.path());
    memory_flow("memory", &shell_command(&data, ""), &data, &data);
}

/// The same against a Semgrep-compatible server: `sift serve` on the demo
/// backlog, the console on its own cache through `--url`.
#[test]
fn the_memory_flow_against_sift_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data = seeded_demo(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = sift(dir.path())
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = dir.path().join("client");
    let cache = sift::config::api_cache_dir(&client, &url, None).unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "sift serve started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The console's data dir is the client's; its store is the cache.
    let command = shell_command(&client, &format!("--url {url}"));
    memory_flow("memory-serve", &command, &cache, &data);
    let _ = server.kill();
    let _ = server.wait();
}

/// The flow: `command` runs the console, `console` is its own store (what
/// it previews from), `backend` the backend's store, checked afterwards.
fn memory_flow(name: &str, command: &str, console: &Path, backend: &Path) {
    use sift::domain::{RuleScope, Status};
    let t = Tmux::start(name, 140, 45, command);
    t.wait_for("synced");
    let (project, rule, open, undecided) = project_and_rule_with_open_findings(console);
    // Every view, the open findings of that project and rule.
    t.keys(&["8", "/"]);
    t.keys(&["-l", &format!("project:{project} rule:{rule} status:open")]);
    t.keys(&["Enter"]);
    t.wait_for(&format!("· {open} "));
    t.keys(&["i"]);
    t.wait_for("Remember this");
    t.keys(&["-l", "Reached only through the internal gateway"]);
    t.keys(&["C-r"]);
    let screen = t.wait_for("other open finding");
    let promised = count_before(&screen, "other open finding");
    assert_eq!(
        promised,
        undecided - 1,
        "this project and rule's undecided findings, less this one"
    );
    // Text -> Projects -> Rules -> Paths -> Apply: ignore them too.
    t.keys(&["Tab", "Tab", "Tab", "Tab", "Space", "Enter"]);
    t.wait_for("remembered");
    // The sync sends it in the background: wait until the outbox is empty.
    sent(console);

    let store = sift::store::Store::open(backend).unwrap();
    let memories = store.memories().unwrap();
    let m = memories
        .iter()
        .find(|m| m.content == "Reached only through the internal gateway")
        .expect("the memory reached the backend");
    assert_eq!(m.scope.projects, vec![project.clone()]);
    assert_eq!(m.scope.rules, RuleScope::Rules(vec![rule.clone()]));
    let id = m.id.clone();
    let note = "Ignored under the memory \"Reached only through the internal gateway\"";
    // The backend: nothing in scope is left undecided. (It triages the same
    // finding on every ref, so it may hold more copies than the console's
    // deduplicated view.)
    let index = store.load_index().unwrap();
    for r in &index.rows {
        if index.projects.get(r.project) == project && index.rules.get(r.rule) == rule {
            assert!(
                !r.status.is_undecided(),
                "nothing in scope is left undecided"
            );
        }
    }
    drop(store);
    // What the console previewed: exactly those were ignored, each with the note.
    let seen = sift::store::Store::open(console).unwrap();
    let index = seen.load_index().unwrap();
    let mut applied = 0;
    for r in &index.rows {
        if index.projects.get(r.project) != project || index.rules.get(r.rule) != rule {
            continue;
        }
        let f = seen.load_finding(r.id).unwrap().unwrap();
        if f.activity.iter().any(|a| a.note.as_deref() == Some(note)) {
            applied += 1;
            assert_eq!(f.status(), Status::Ignored);
        }
    }
    assert_eq!(
        applied, promised,
        "exactly the findings the preview counted"
    );
    drop(seen);

    // Edit: the newest memory is at the top of the pane.
    t.keys(&["m"]);
    t.wait_for("Memories ·");
    t.keys(&["e"]);
    t.wait_for("Edit memory");
    t.keys(&["-l", " (edge only)"]);
    t.keys(&["Tab", "Right", "Enter"]);
    t.wait_for("Projects  all");
    sent(console);
    let edited = sift::store::Store::open(backend)
        .unwrap()
        .memories()
        .unwrap()
        .into_iter()
        .find(|m| m.id == id)
        .expect("still there");
    assert_eq!(
        edited.content,
        "Reached only through the internal gateway (edge only)"
    );
    assert!(edited.scope.projects.is_empty(), "all projects now");

    // Delete, confirmed.
    t.keys(&["d"]);
    t.wait_for("Delete this memory?");
    t.keys(&["y"]);
    t.wait_for("Memories · 6");
    sent(console);
    t.keys(&["m", "q"]);
    t.wait_for("sift exited 0");
    let store = sift::store::Store::open(backend).unwrap();
    assert!(store.memories().unwrap().iter().all(|m| m.id != id));
    assert_eq!(
        sift::store::Store::open(console)
            .unwrap()
            .pending_count()
            .unwrap(),
        0
    );
}

/// Waits until the outbox is empty: everything reached the backend.
fn sent(data: &Path) {
    let start = Instant::now();
    let store = sift::store::Store::open(data).unwrap();
    while store.pending_count().unwrap() > 0 || store.waiting_count().unwrap() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the sync did not send the outbox"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A data dir under `dir` with the demo backlog.
fn seeded_demo(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let seeded = sift(dir)
        .arg("--data-dir")
        .arg(&data)
        .args(["demo", "--seed-only"])
        .output()
        .unwrap();
    assert!(seeded.status.success());
    data
}

#[test]
fn j_asks_the_assistant_and_the_verdict_shows() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(sift::assistant::fake::FakeProvider::start());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let scan =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/semgrep_logged_out.json");
    let out = sift(dir.path())
        .arg("--data-dir")
        .arg(&data)
        .args([
            "import",
            scan.to_str().unwrap(),
            "--ref",
            "refs/pull/1/merge",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[assistant]\nprovider = \"openai\"\nurl = \"{}/v1\"\nmodel = \"fake-model\"\n",
            fake.base
        ),
    )
    .unwrap();
    let t = Tmux::start(
        "assist",
        140,
        40,
        &shell_command(&data, &format!("--config '{}'", config.display())),
    );
    t.wait_for("Pre-production");
    t.keys(&["J"]);
    t.wait_for("The Assistant judged 1 finding(s): 1 verdict(s)");
    t.keys(&["l"]);
    let screen = t.wait_for("Judged by");
    assert!(screen.contains("fake-model (openai)"), "{screen}");
    // One verdict asked (a true positive's fix and its review may follow).
    let verdicts = fake
        .requests()
        .iter()
        .filter(|r| r.body.contains("triage_verdict"))
        .count();
    assert_eq!(verdicts, 1);
    t.keys(&["q"]);
    t.wait_for("sift exited 0");
}

/// `sift demo` on its temporary store: on quit it says the decisions went
/// with it, and how to keep them next time.
#[test]
fn the_demo_says_on_quit_that_its_decisions_were_discarded() {
    let dir = tempfile::tempdir().unwrap();
    // The temporary store goes under the test's own directory.
    let command = format!(
        "TERM=xterm-256color TMPDIR='{}' {SIFT} demo; echo \"sift exited $?\"; sleep 30",
        dir.path().display()
    );
    let t = Tmux::start("demo-quit", 100, 30, &command);
    t.wait_for("discarded on quit");
    t.keys(&["q"]);
    let after = t.wait_for("sift exited 0");
    assert!(
        after.contains("the demo's decisions were discarded")
            && after.contains("--data-dir DIR demo"),
        "{after}"
    );
}

/// A console whose terminal hangs up (tmux killed, an SSH session dropped)
/// ends, instead of reading the dead terminal forever.
#[test]
fn a_console_whose_terminal_hangs_up_ends() {
    let dir = tempfile::tempdir().unwrap();
    let data = seeded_demo(dir.path());
    let t = Tmux::start("hangup", 100, 30, &shell_command(&data, "--offline"));
    t.wait_for("offline by choice");
    t.tmux(&["kill-server"]);
    let running = || {
        Command::new("pgrep")
            .args(["-f", &format!("^{SIFT} --data-dir {}", data.display())])
            .status()
            .is_ok_and(|s| s.success())
    };
    let start = Instant::now();
    while running() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "sift still runs after its terminal hung up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
