//! Counts as the messages say them: "1 decision", "3 decisions and 1
//! memory change", "is" or "are". One place, so every command says them
//! alike.

/// "1 decision", "3 decisions".
pub fn decisions(n: usize) -> String {
    count(n, "decision", "decisions")
}

/// "1 memory change", "3 memory changes".
pub fn memory_changes(n: usize) -> String {
    count(n, "memory change", "memory changes")
}

/// "1 finding", "3 findings".
pub fn findings(n: usize) -> String {
    count(n, "finding", "findings")
}

/// "1 undecided finding", "3 undecided findings".
pub fn undecided_findings(n: usize) -> String {
    count(n, "undecided finding", "undecided findings")
}

/// "3 decisions", "1 memory change", or "3 decisions and 1 memory change";
/// "0 decisions" when there are neither.
pub fn decisions_and_memory_changes(decisions: usize, memory: usize) -> String {
    match (decisions, memory) {
        (d, 0) => self::decisions(d),
        (0, m) => memory_changes(m),
        (d, m) => format!("{} and {}", self::decisions(d), memory_changes(m)),
    }
}

/// The verb for `n` things: "1 decision is", "3 decisions are".
pub fn is_are(n: usize) -> &'static str {
    if n == 1 { "is" } else { "are" }
}

/// "it" or "them", for `n` things.
pub fn it_them(n: usize) -> &'static str {
    if n == 1 { "it" } else { "them" }
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_sentences() {
        assert_eq!(decisions(1), "1 decision");
        assert_eq!(decisions(3), "3 decisions");
        assert_eq!(decisions(0), "0 decisions");
        assert_eq!(memory_changes(1), "1 memory change");
        assert_eq!(memory_changes(2), "2 memory changes");
        assert_eq!(undecided_findings(1), "1 undecided finding");
        assert_eq!(decisions_and_memory_changes(3, 0), "3 decisions");
        assert_eq!(decisions_and_memory_changes(0, 1), "1 memory change");
        assert_eq!(
            decisions_and_memory_changes(3, 1),
            "3 decisions and 1 memory change"
        );
        assert_eq!(decisions_and_memory_changes(0, 0), "0 decisions");
        assert_eq!(format!("{} {}", decisions(1), is_are(1)), "1 decision is");
        assert_eq!(format!("{} {}", decisions(2), is_are(2)), "2 decisions are");
    }
}
