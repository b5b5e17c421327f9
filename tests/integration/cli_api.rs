//! The scripting commands with `--backend api` against `sift serve` on
//! loopback: the built binary, its cache, and the server's store.

use crate::common;

use common::{TestServer, standard_backlog};
use serde_json::Value;
use sift::domain::Status;
use sift::server::auth::Tokens;
use sift::store::Store;
use std::path::Path;
use std::process::{Command, Output};

/// Runs sift in a blocking task, with an environment of its own.
pub(crate) async fn sift(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sift"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .env("USER", "carol")
        .env("HOME", data)
        .env_remove("SIFT_CONFIG")
        .env_remove("SIFT_BACKEND")
        .env_remove("SIFT_PROFILE")
        .env_remove("SEMGREP_APP_TOKEN")
        .env_remove("SEMGREP_URL")
        .env_remove("SEMGREP_APP_URL")
        .env("XDG_CONFIG_HOME", data.join("no-config"))
        .env("XDG_STATE_HOME", data.join("state"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

pub(crate) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_triage_and_sync_through_the_api() {
    let served = standard_backlog();
    let server = TestServer::start(served.path()).await;
    let client = tempfile::tempdir().unwrap();
    let url = server.base.as_str();

    let out = sift(
        client.path(),
        &[],
        &["--url", url, "findings", "--view", "all", "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Every ref's copy: the backlog the server's store holds (issue 10).
    assert_eq!(json(&out)["findings"].as_array().unwrap().len(), 250);
    assert!(
        client
            .path()
            .join("cache")
            .join(format!(
                "{}-default",
                url.trim_start_matches("http://").replace(':', "-")
            ))
            .is_dir(),
        "a cache per backend in the data directory"
    );

    let out = sift(
        client.path(),
        &[],
        &[
            "--backend",
            "api",
            "--url",
            url,
            "triage",
            "4",
            "--state",
            "reviewing",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["decisions"][0]["result"], "acknowledged");
    let f = Store::open(served.path())
        .unwrap()
        .load_finding(4)
        .unwrap()
        .unwrap();
    assert_eq!(f.status(), Status::Reviewing);
    assert_eq!(f.activity.last().unwrap().actor, "carol", "who decided");

    // Another reviewer's decision arrives with the next sync.
    Store::open(served.path())
        .unwrap()
        .apply_triage(
            &[8],
            &sift::domain::TriageChange {
                state: Some(sift::domain::TriageState::Fixing),
                reason: None,
                note: None,
            },
            "dave",
            time::OffsetDateTime::now_utc(),
            None,
        )
        .unwrap();
    let out = sift(client.path(), &[], &["--url", url, "sync", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = sift(
        client.path(),
        &[],
        &["--url", url, "findings", "--view", "to-fix", "--json"],
    )
    .await;
    let ids: Vec<i64> = json(&out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&8), "{ids:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_profiles_and_refusals() {
    let served = standard_backlog();
    let token = "70707070707070707070707070707070";
    let server =
        TestServer::start_with(served.path(), Some(Tokens::single(token, "erin").unwrap())).await;
    let client = tempfile::tempdir().unwrap();
    let url = server.base.as_str();

    // No token: the reviewer is told what to do, with exit 1.
    let out = sift(client.path(), &[], &["--url", url, "findings"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("check SEMGREP_APP_TOKEN"),
        "{}",
        stderr(&out)
    );

    // The token from the environment; it never shows.
    let out = sift(
        client.path(),
        &[("SEMGREP_APP_TOKEN", token)],
        &[
            "--url", url, "triage", "5", "--state", "ignored", "--reason", "no_time",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(token));
    assert!(!stderr(&out).contains(token));
    let f = Store::open(served.path())
        .unwrap()
        .load_finding(5)
        .unwrap()
        .unwrap();
    assert_eq!(
        f.activity.last().unwrap().actor,
        "erin",
        "the token's reviewer"
    );

    // From the Semgrep CLI's settings file.
    std::fs::create_dir_all(client.path().join(".semgrep")).unwrap();
    std::fs::write(
        client.path().join(".semgrep/settings.yml"),
        format!("has_shown_metrics_notification: true\napi_token: {token}\n"),
    )
    .unwrap();
    let out = sift(client.path(), &[], &["--url", url, "findings"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A profile in the config file, with its token in a variable it names.
    let config = client.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.team]\nurl = \"{url}\"\ndeployment = \"local\"\ntoken_env = \"TEAM_TOKEN\"\n"
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let out = sift(
        client.path(),
        &[("TEAM_TOKEN", token)],
        &["--config", cfg, "--profile", "team", "sync", "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = sift(
        client.path(),
        &[],
        &["--config", cfg, "--profile", "team", "sync"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("TEAM_TOKEN is not set"),
        "{}",
        stderr(&out)
    );

    // A token in a config file others can read is warned about.
    std::fs::write(
        &config,
        format!("[profiles.team]\nurl = \"{url}\"\ntoken = \"{token}\"\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = sift(
            client.path(),
            &[],
            &["--config", cfg, "--profile", "team", "sync"],
        )
        .await;
        assert!(
            stderr(&out).contains("others may read it"),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains(token));
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = sift(
            client.path(),
            &[],
            &["--config", cfg, "--profile", "team", "sync"],
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(!stderr(&out).contains("others may read it"));
    }

    // Plain HTTP beyond loopback, and import into the API, are refused.
    let out = sift(
        client.path(),
        &[],
        &["--url", "http://192.0.2.1:8321", "sync"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refusing plain http://"),
        "{}",
        stderr(&out)
    );
    let out = sift(client.path(), &[], &["--url", url, "import", "x.json"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("embedded backend"),
        "{}",
        stderr(&out)
    );
    server.stop().await;
}
