//! The closed vocabularies of findings, with their Semgrep API spellings.

/// Defines a fieldless enum whose variants have one canonical wire spelling.
/// `parse` is strict; callers decide what an unknown value means.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {}: {text}", stringify!($name)))
                })
            }
        }
    };
}

wire_enum!(
    /// Ordered from least to most severe.
    Severity { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
);

impl Severity {
    /// Reads both the API's lowercase values and the scanner's
    /// ERROR/WARNING/INFO and CRITICAL/HIGH/MEDIUM/LOW.
    pub fn parse_loose(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "critical" | "crit" => Some(Self::Critical),
            "high" | "error" => Some(Self::High),
            "medium" | "med" | "warning" | "moderate" => Some(Self::Medium),
            "low" | "info" | "note" => Some(Self::Low),
            _ => None,
        }
    }
}

wire_enum!(Confidence { Low = "low", Medium = "medium", High = "high" });

impl Confidence {
    pub fn parse_loose(text: &str) -> Option<Self> {
        Self::parse(&text.to_ascii_lowercase())
    }
}

wire_enum!(
    /// What the last scan says; only scans change it.
    ScanState { Unresolved = "unresolved", Fixed = "fixed", Muted = "muted" }
);

wire_enum!(
    /// What people (or Assistant, for provisionally ignored) decided.
    TriageState {
        Untriaged = "untriaged",
        Ignored = "ignored",
        Reopened = "reopened",
        Reviewing = "reviewing",
        Fixing = "fixing",
        ProvisionallyIgnored = "provisionally_ignored",
    }
);

wire_enum!(
    /// What a reviewer sees, derived from scan state and triage state.
    Status {
        Open = "open",
        Reviewing = "reviewing",
        Fixing = "fixing",
        Ignored = "ignored",
        Fixed = "fixed",
        ProvisionallyIgnored = "provisionally_ignored",
    }
);

impl Status {
    /// The one place where scan state and triage state become a status
    /// (ARCHITECTURE §3).
    pub fn derive(state: ScanState, triage: TriageState) -> Status {
        match (state, triage) {
            (ScanState::Fixed, _) => Status::Fixed,
            (ScanState::Muted, _) => Status::Ignored,
            (ScanState::Unresolved, TriageState::Untriaged | TriageState::Reopened) => Status::Open,
            (ScanState::Unresolved, TriageState::Ignored) => Status::Ignored,
            (ScanState::Unresolved, TriageState::Reviewing) => Status::Reviewing,
            (ScanState::Unresolved, TriageState::Fixing) => Status::Fixing,
            (ScanState::Unresolved, TriageState::ProvisionallyIgnored) => {
                Status::ProvisionallyIgnored
            }
        }
    }

    /// The words the Semgrep UI uses.
    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "Open",
            Status::Reviewing => "Reviewing",
            Status::Fixing => "To fix",
            Status::Ignored => "Ignored",
            Status::Fixed => "Fixed",
            Status::ProvisionallyIgnored => "Prov. ignored",
        }
    }

    /// Still waiting for a human decision.
    pub fn is_undecided(self) -> bool {
        matches!(self, Status::Open | Status::ProvisionallyIgnored)
    }

    /// Accepts the API spelling and the UI's "to-fix".
    pub fn parse_loose(text: &str) -> Option<Self> {
        let t = text.to_ascii_lowercase().replace('-', "_");
        match t.as_str() {
            "to_fix" | "tofix" => Some(Status::Fixing),
            _ => Self::parse(&t),
        }
    }
}

wire_enum!(
    TriageReason {
        FalsePositive = "false_positive",
        AcceptableRisk = "acceptable_risk",
        NoTime = "no_time",
        Duplicate = "duplicate",
        NoTriageReason = "no_triage_reason",
    }
);

impl TriageReason {
    pub fn label(self) -> &'static str {
        match self {
            TriageReason::FalsePositive => "False positive",
            TriageReason::AcceptableRisk => "Acceptable risk",
            TriageReason::NoTime => "No time",
            TriageReason::Duplicate => "Duplicate",
            TriageReason::NoTriageReason => "No reason",
        }
    }
}

wire_enum!(
    /// Assistant's autotriage verdict.
    Verdict { TruePositive = "true_positive", FalsePositive = "false_positive" }
);

impl Verdict {
    pub fn short(self) -> &'static str {
        match self {
            Verdict::TruePositive => "TP",
            Verdict::FalsePositive => "FP",
        }
    }
}

wire_enum!(
    /// Assistant's judgement of how sensitive the code's component is.
    ComponentRisk { High = "high", Low = "low", Neutral = "neutral" }
);

wire_enum!(
    /// How far a review pass trusts an AI-written fix, from least to most.
    FixConfidence { Low = "low", Medium = "medium", High = "high" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_derivation_table() {
        use ScanState::*;
        use TriageState::*;
        assert_eq!(Status::derive(Fixed, Ignored), Status::Fixed);
        assert_eq!(Status::derive(Muted, Untriaged), Status::Ignored);
        assert_eq!(Status::derive(Unresolved, Untriaged), Status::Open);
        assert_eq!(Status::derive(Unresolved, Reopened), Status::Open);
        assert_eq!(Status::derive(Unresolved, Ignored), Status::Ignored);
        assert_eq!(Status::derive(Unresolved, Reviewing), Status::Reviewing);
        assert_eq!(Status::derive(Unresolved, Fixing), Status::Fixing);
        assert_eq!(
            Status::derive(Unresolved, ProvisionallyIgnored),
            Status::ProvisionallyIgnored
        );
    }

    #[test]
    fn severities_read_scanner_and_api_spellings() {
        assert_eq!(Severity::parse_loose("ERROR"), Some(Severity::High));
        assert_eq!(Severity::parse_loose("WARNING"), Some(Severity::Medium));
        assert_eq!(Severity::parse_loose("INFO"), Some(Severity::Low));
        assert_eq!(Severity::parse_loose("CRITICAL"), Some(Severity::Critical));
        assert_eq!(Severity::parse_loose("bogus"), None);
        assert!(Severity::Critical > Severity::Low);
    }

    #[test]
    fn status_accepts_to_fix() {
        assert_eq!(Status::parse_loose("to-fix"), Some(Status::Fixing));
        assert_eq!(Status::parse_loose("Fixing"), Some(Status::Fixing));
    }
}
