//! The paths a memory's scope names: each a prefix (`app/`) or, when it
//! holds `*`, `?` or `[`, a glob matched against the whole path
//! (`**/tests/**`, `src/*.py`). Prefixes came first: a path scope with none
//! of those characters keeps meaning what it always meant.
//!
//! In a glob, `*` matches any characters but `/` (within one folder or file
//! name), `**` any characters including `/`, and `**/` any number of whole
//! folders, none included (`**/tests/**` covers `tests/a.py` and
//! `app/tests/a.py`). `?` matches one character but `/`; `[abc]`, `[a-z]`
//! one of those, `[!abc]` (or `[^abc]`) one character not among them. Case
//! counts, as it does in a prefix.

/// A path scope is a glob when it holds one of these; otherwise a prefix.
const GLOB_CHARACTERS: [char; 3] = ['*', '?', '['];

/// Whether `pattern` is read as a glob rather than a prefix.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(GLOB_CHARACTERS)
}

/// Why `pattern` cannot be a path scope's glob, if it cannot (a prefix
/// always can).
pub fn glob_problem(pattern: &str) -> Option<String> {
    if !is_glob(pattern) {
        return None;
    }
    Glob::parse(pattern)
        .err()
        .map(|why| format!("the path \"{pattern}\" is not a valid glob: {why}"))
}

/// A scope's paths, read once to be matched against many paths.
#[derive(Debug, Clone)]
pub struct PathScope {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
enum Pattern {
    Prefix(String),
    Glob(Glob),
}

impl PathScope {
    pub fn new(patterns: &[String]) -> PathScope {
        let patterns = patterns
            .iter()
            .map(|p| match is_glob(p).then(|| Glob::parse(p)) {
                Some(Ok(glob)) => Pattern::Glob(glob),
                // A glob sift would refuse now was saved as a prefix
                // before globs were read: it keeps that meaning.
                Some(Err(_)) | None => Pattern::Prefix(p.clone()),
            })
            .collect();
        PathScope { patterns }
    }

    /// No paths named (any path), or one that covers `path`.
    pub fn covers(&self, path: &str) -> bool {
        self.patterns.is_empty()
            || self.patterns.iter().any(|p| match p {
                Pattern::Prefix(prefix) => path.starts_with(prefix.as_str()),
                Pattern::Glob(glob) => glob.matches(path),
            })
    }
}

/// One step of a glob.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    /// `?`
    AnyChar,
    /// `[...]`: inclusive ranges (one character is a range of one).
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`
    Star,
    /// `**` not followed by `/`
    Anything,
    /// `**/` at the start of a folder: no folder or any whole folders.
    Folders,
}

#[derive(Debug, Clone, PartialEq)]
struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    fn parse(pattern: &str) -> Result<Glob, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    let stars = chars[i..].iter().take_while(|&&c| c == '*').count();
                    let folder_start = i == 0 || chars[i - 1] == '/';
                    i += stars;
                    if stars == 1 {
                        tokens.push(Token::Star);
                    } else if folder_start && chars.get(i) == Some(&'/') {
                        tokens.push(Token::Folders);
                        i += 1;
                    } else {
                        tokens.push(Token::Anything);
                    }
                }
                '?' => {
                    tokens.push(Token::AnyChar);
                    i += 1;
                }
                '[' => {
                    let (class, next) = parse_class(&chars, i)?;
                    tokens.push(class);
                    i = next;
                }
                c => {
                    tokens.push(Token::Char(c));
                    i += 1;
                }
            }
        }
        Ok(Glob { tokens })
    }

    /// Whether the glob matches the whole of `path`. The positions in the
    /// path each step can reach are followed together, so no pattern costs
    /// more than (steps × path length).
    fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        let n = chars.len();
        let mut at = vec![false; n + 1];
        at[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; n + 1];
            match token {
                Token::Char(_) | Token::AnyChar | Token::Class { .. } => {
                    for p in 0..n {
                        if at[p] && one_char(token, chars[p]) {
                            next[p + 1] = true;
                        }
                    }
                }
                Token::Star | Token::Anything => {
                    // Reachable from any earlier reached position, over
                    // characters that are not `/` (for `*`).
                    let mut reached = false;
                    for p in 0..=n {
                        reached |= at[p];
                        next[p] = reached;
                        if *token == Token::Star && p < n && chars[p] == '/' {
                            reached = false;
                        }
                    }
                }
                Token::Folders => {
                    // Where it was, or just after any later `/`.
                    let mut reached = false;
                    for p in 0..=n {
                        next[p] = at[p] || (reached && p > 0 && chars[p - 1] == '/');
                        reached |= at[p];
                    }
                }
            }
            if !next.contains(&true) {
                return false;
            }
            at = next;
        }
        at[n]
    }
}

/// Whether a one-character step matches `c`; no step but a literal `/`
/// matches `/`.
fn one_char(token: &Token, c: char) -> bool {
    match token {
        Token::Char(want) => *want == c,
        Token::AnyChar => c != '/',
        Token::Class { negated, ranges } => {
            c != '/' && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
        _ => false,
    }
}

/// The class opening at `chars[open]` (a `[`) and the position after it. A
/// `]` first in the class (after `!` or `^`) is one of its characters.
fn parse_class(chars: &[char], open: usize) -> Result<(Token, usize), String> {
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let first = i;
    let mut ranges = Vec::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("a `[` is not closed by a `]`".into());
        };
        if c == ']' && i > first {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                if hi < c {
                    return Err(format!("the range `{c}-{hi}` runs backwards"));
                }
                ranges.push((c, hi));
                i += 3;
            }
            _ => {
                ranges.push((c, c));
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(pattern: &str, path: &str) -> bool {
        PathScope::new(&[pattern.to_string()]).covers(path)
    }

    #[test]
    fn a_path_without_glob_characters_is_a_prefix() {
        assert!(covers("app/", "app/db.py"));
        assert!(covers("app", "application/x.py"));
        assert!(!covers("app/", "lib/app/db.py"));
        assert!(covers("impossible.php", "impossible.php"));
        assert!(!covers("impossible.php", "vulnerabilities/impossible.php"));
        assert!(!is_glob("app/db.py") && glob_problem("app/[x").is_some());
    }

    #[test]
    fn a_star_stays_within_a_folder() {
        assert!(covers("src/*.py", "src/a.py"));
        assert!(!covers("src/*.py", "src/sub/a.py"));
        assert!(
            !covers("src/*.py", "src/a.pyc"),
            "a glob matches the whole path"
        );
        assert!(covers("*", "setup.py"));
        assert!(!covers("*", "app/setup.py"));
        assert!(covers("src/*", "src/x"));
        assert!(covers("a*b*c", "abbbc"));
        assert!(!covers("a*b*c", "abbb"));
    }

    #[test]
    fn double_stars_cross_folders() {
        for path in [
            "tests/a.py",
            "app/tests/a.py",
            "a/b/tests/c/d.py",
            "tests/x/y",
        ] {
            assert!(covers("**/tests/**", path), "{path}");
        }
        for path in ["app/testsuite/a.py", "tests", "app/mytests/a.py"] {
            assert!(!covers("**/tests/**", path), "{path}");
        }
        assert!(covers("**/impossible.php", "impossible.php"));
        assert!(covers(
            "**/impossible.php",
            "vulnerabilities/sqli/source/impossible.php"
        ));
        assert!(!covers("**/impossible.php", "x/not-impossible.php"));
        assert!(covers("src/**", "src/a/b/c.py"));
        assert!(!covers("src/**", "lib/src/a.py"));
        assert!(covers("src/**/*.py", "src/a.py"));
        assert!(covers("src/**/*.py", "src/a/b/c.py"));
        assert!(!covers("src/**/*.py", "src/a/b/c.js"));
        assert!(covers("**.py", "a/b/c.py"), "** elsewhere crosses folders");
        assert!(covers("**", "anything/at/all"));
    }

    #[test]
    fn question_marks_and_classes_match_one_character() {
        assert!(covers("v?/x", "v1/x"));
        assert!(!covers("v?/x", "v12/x"));
        assert!(
            !covers("a?b", "a/b"),
            "no wildcard matches a folder separator"
        );
        assert!(covers("v[0-9].py", "v7.py"));
        assert!(!covers("v[0-9].py", "vx.py"));
        assert!(covers("v[!0-9].py", "vx.py"));
        assert!(covers("v[^0-9].py", "vx.py"));
        assert!(!covers("v[!0-9].py", "v7.py"));
        assert!(!covers("a[!x]b", "a/b"));
        assert!(covers("[]]x", "]x"), "a leading ] is a member");
        assert!(covers("[a-]x", "-x"), "a trailing - is a member");
        assert!(covers("[ab]", "b") && !covers("[ab]", "c"));
    }

    #[test]
    fn a_bad_glob_is_named_and_an_old_one_stays_a_prefix() {
        assert_eq!(
            glob_problem("src/[abc").as_deref(),
            Some("the path \"src/[abc\" is not a valid glob: a `[` is not closed by a `]`")
        );
        assert_eq!(
            glob_problem("[z-a].py").as_deref(),
            Some("the path \"[z-a].py\" is not a valid glob: the range `z-a` runs backwards")
        );
        assert!(glob_problem("[]").is_some(), "a class needs a member");
        assert!(glob_problem("**/tests/**").is_none());
        assert!(glob_problem("app/").is_none());
        // Saved before globs were read: still a prefix.
        assert!(covers("src/[abc", "src/[abc/x.py"));
    }

    #[test]
    fn several_paths_cover_a_path_any_of_them_covers() {
        let scope = PathScope::new(&["app/".to_string(), "**/tests/**".to_string()]);
        assert!(scope.covers("app/x.py"));
        assert!(scope.covers("lib/tests/x.py"));
        assert!(!scope.covers("lib/x.py"));
        assert!(PathScope::new(&[]).covers("anything"));
    }

    #[test]
    fn long_patterns_on_long_paths_stay_cheap() {
        let pattern = "*a".repeat(400);
        let path = "a".repeat(999) + "b";
        assert!(!covers(&pattern, &path));
        assert!(covers(&pattern, &"a".repeat(1000)));
    }
}
