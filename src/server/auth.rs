//! Bearer tokens for `sift serve`: one per reviewer, so the activity says
//! who decided. The token file has one `TOKEN NAME` line per reviewer
//! (`#` comments and blank lines are skipped). Tokens are kept only as
//! SHA-256 digests in memory and never logged.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Shorter tokens are refused: they could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

#[derive(Clone)]
pub struct Tokens {
    /// (digest of the token, reviewer name)
    entries: Vec<([u8; 32], String)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|(_, n)| n.as_str()).collect();
        f.debug_struct("Tokens").field("reviewers", &names).finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Reads `TOKEN NAME` lines; the error names the line, never the token.
    pub fn parse(text: &str) -> Result<Tokens> {
        let mut entries: Vec<([u8; 32], String)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (token, name) = match line.split_once(char::is_whitespace) {
                Some((t, n)) => (t, n.trim()),
                None => bail!(
                    "line {}: expected `TOKEN NAME`, the reviewer's name is missing",
                    i + 1
                ),
            };
            if token.chars().count() < MIN_TOKEN_CHARS {
                bail!(
                    "line {}: the token for {name} is shorter than {MIN_TOKEN_CHARS} characters",
                    i + 1
                );
            }
            if name.is_empty() || name.chars().any(char::is_control) {
                bail!(
                    "line {}: the reviewer's name is empty or not printable",
                    i + 1
                );
            }
            let d = digest(token);
            if entries.iter().any(|(e, _)| *e == d) {
                bail!(
                    "line {}: this token is already given to someone else",
                    i + 1
                );
            }
            entries.push((d, name.to_string()));
        }
        if entries.is_empty() {
            bail!("it holds no `TOKEN NAME` line");
        }
        Ok(Tokens { entries })
    }

    /// Reads the token file, warning (in the log and on stderr) when others
    /// may read it.
    pub fn load(path: &Path) -> Result<Tokens> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        warn_if_readable_by_others(path);
        Tokens::parse(&text).with_context(|| format!("the token file {}", path.display()))
    }

    /// A single reviewer's token, for tests and `Tokens::generate`.
    pub fn single(token: &str, name: &str) -> Result<Tokens> {
        Tokens::parse(&format!("{token} {name}"))
    }

    /// The reviewer a bearer token belongs to.
    pub fn check(&self, token: &str) -> Option<&str> {
        let d = digest(token.trim());
        // Compare every entry, without stopping early.
        let mut found = None;
        for (e, name) in &self.entries {
            let same = e
                .iter()
                .zip(d.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            if same {
                found = Some(name.as_str());
            }
        }
        found
    }

    pub fn reviewers(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(_, n)| n.as_str())
    }

    /// Creates the token file (mode 0600) with a new token for `name`,
    /// or appends one to an existing file. Returns the new token.
    pub fn add_to_file(path: &Path, name: &str) -> Result<String> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            bail!("the reviewer's name is empty or not printable");
        }
        let token = new_token()?;
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .with_context(|| format!("cannot write the token file {}", path.display()))?;
        writeln!(file, "{token} {name}")
            .with_context(|| format!("cannot write the token file {}", path.display()))?;
        warn_if_readable_by_others(path);
        Ok(token)
    }
}

/// 32 random bytes as 64 hex digits (the shape of a Semgrep token).
pub fn new_token() -> Result<String> {
    crate::ids::random_hex(32).context("cannot make a token")
}

/// True (after a warning) when the file's mode lets others read it.
pub fn warn_if_readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            let message = format!(
                "{} holds secrets but others may read it; `chmod 600 {}`",
                path.display(),
                path.display()
            );
            tracing::warn!("{message}");
            eprintln!("sift: warning: {message}");
            return true;
        }
    }
    let _ = path;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "0123456789abcdef0123456789abcdef";
    const BOB: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn each_token_names_its_reviewer() {
        let t = Tokens::parse(&format!(
            "# reviewers\n{ALICE} alice\n\n{BOB}   Bob Smith  \n"
        ))
        .unwrap();
        assert_eq!(t.check(ALICE), Some("alice"));
        assert_eq!(t.check(BOB), Some("Bob Smith"));
        assert_eq!(t.check("0123456789abcdef0123456789abcdeX"), None);
        assert_eq!(t.check(""), None);
        assert!(
            !format!("{t:?}").contains(ALICE),
            "Debug never shows a token"
        );
    }

    #[test]
    fn bad_files_are_refused_without_quoting_tokens() {
        for (text, words) in [
            ("", "no `TOKEN NAME`"),
            (ALICE, "name is missing"),
            ("short alice", "shorter than 16"),
            (
                &format!("{ALICE} alice\n{ALICE} bob") as &str,
                "already given",
            ),
        ] {
            let e = format!("{:#}", Tokens::parse(text).unwrap_err());
            assert!(e.contains(words), "{e}");
            assert!(!e.contains(ALICE), "{e}");
        }
    }

    #[test]
    fn new_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        let a = Tokens::add_to_file(&path, "alice").unwrap();
        let b = Tokens::add_to_file(&path, "bob").unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let t = Tokens::load(&path).unwrap();
        assert_eq!(t.check(&a), Some("alice"));
        assert_eq!(t.check(&b), Some("bob"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
