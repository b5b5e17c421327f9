//! The built binary run as a script runs it, on a small fixed backlog in a
//! temp dir: the environment holds nothing of the user's (config, logs,
//! tokens).
#![allow(dead_code)]

use sift::store::Store;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// A backlog in a temp dir: `data/` is the store, the fixtures are copied
/// next to it so that their names (the imports' origins) are relative.
pub struct Backlog {
    pub dir: TempDir,
}

impl Backlog {
    /// An empty directory, fixtures copied in, nothing imported.
    pub fn empty() -> Backlog {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
        for name in ["api_dump.json", "semgrep_logged_in.json", "truncated.json"] {
            std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
        }
        Backlog { dir }
    }

    /// The fixed backlog: the API dump (acme/webapp, acme/api) and a scan
    /// of "shop" on a pull request.
    pub fn new() -> Backlog {
        let b = Backlog::empty();
        b.ok(&["import", "api_dump.json"]);
        b.ok(&[
            "import",
            "semgrep_logged_in.json",
            "--project",
            "shop",
            "--ref",
            "refs/pull/3/merge",
        ]);
        b
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_in(&self.data(), args)
    }

    /// A command on the store in `data` instead.
    pub fn command_in(&self, data: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sift"));
        cmd.current_dir(self.dir.path())
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .env("USER", "carol")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env_remove("SIFT_CONFIG")
            .env_remove("SIFT_BACKEND")
            .env_remove("SIFT_PROFILE")
            .env_remove("SIFT_LOG")
            .env_remove("SEMGREP_APP_TOKEN")
            .env_remove("SEMGREP_URL")
            .env_remove("SEMGREP_APP_URL");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn run_in(&self, data: &Path, args: &[&str]) -> Output {
        self.command_in(data, args).output().unwrap()
    }

    /// Runs a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        out
    }

    pub fn store(&self) -> Store {
        Store::open(&self.data()).unwrap()
    }
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
