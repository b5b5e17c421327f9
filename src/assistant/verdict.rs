//! Reading a provider's answer as a verdict, locally, whatever the
//! provider promised: anything that is not the schema is no verdict, with
//! the reason, never a guess.

use super::provider::Content;
use crate::domain::Verdict;
use crate::store::Judgement;
use serde_json::Value;

/// Longest reason kept, in characters.
const MAX_REASON: usize = 2_000;

/// The judgement a reply holds.
pub fn read(content: &Content) -> Judgement {
    let none = |why: &str| Judgement::NoVerdict {
        why: why.to_string(),
    };
    let text = match content {
        Content::Text(t) => t,
        Content::Refused(words) => {
            let words: String = words.chars().take(300).collect();
            return none(&format!("the model declined: {words}"));
        }
        Content::Truncated => {
            return none("the answer was cut off at the token limit (max_output_tokens)");
        }
        Content::Empty => return none("the answer was empty"),
    };
    let Some(value) = json_in(text) else {
        return none("the answer is not JSON (the model wrote prose)");
    };
    let Some(object) = value.as_object() else {
        return none("the answer is not a JSON object");
    };
    let verdict = object.get("verdict").and_then(Value::as_str);
    let reason = object
        .get("reason")
        .and_then(Value::as_str)
        .map(|r| r.trim())
        .unwrap_or("");
    let reason: String = if reason.chars().count() > MAX_REASON {
        let mut r: String = reason.chars().take(MAX_REASON).collect();
        r.push('…');
        r
    } else {
        reason.to_string()
    };
    match verdict {
        Some("true_positive") => Judgement::Verdict {
            verdict: Verdict::TruePositive,
            reason,
        },
        Some("false_positive") if !reason.is_empty() => Judgement::Verdict {
            verdict: Verdict::FalsePositive,
            reason,
        },
        Some("false_positive") => none("a false-positive verdict came without a reason"),
        Some("no_verdict") if reason.is_empty() => none("the model could not tell"),
        Some("no_verdict") => Judgement::NoVerdict {
            why: format!("the model could not tell: {reason}"),
        },
        Some(other) => {
            let other: String = other.chars().take(40).collect();
            none(&format!(
                "the answer's verdict \"{other}\" is not one of the schema's"
            ))
        }
        None => none("the answer has no verdict"),
    }
}

/// The JSON object in a reply: the whole text, or (JSON mode on a small
/// model) one fenced or embedded in a little prose.
pub(crate) fn json_in(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Some(v);
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start)
        .then(|| serde_json::from_str(&text[start..=end]).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Judgement {
        read(&Content::Text(t.to_string()))
    }

    fn why(j: Judgement) -> String {
        match j {
            Judgement::NoVerdict { why } => why,
            v => panic!("a verdict: {v:?}"),
        }
    }

    #[test]
    fn schema_answers_are_verdicts() {
        assert_eq!(
            text(r#"{"verdict": "false_positive", "reason": "constant input"}"#),
            Judgement::Verdict {
                verdict: Verdict::FalsePositive,
                reason: "constant input".into()
            }
        );
        assert_eq!(
            text("```json\n{\"verdict\": \"true_positive\", \"reason\": \"\"}\n```"),
            Judgement::Verdict {
                verdict: Verdict::TruePositive,
                reason: String::new()
            }
        );
    }

    #[test]
    fn anything_else_is_no_verdict_with_why() {
        assert!(why(text("It is definitely a false positive.")).contains("prose"));
        assert!(why(text(r#"{"verdict": "maybe", "reason": "x"}"#)).contains("\"maybe\""));
        assert!(why(text(r#"{"verdict": "false_positive"}"#)).contains("without a reason"));
        assert!(why(text(r#"["false_positive"]"#)).contains("not a JSON object"));
        assert!(
            why(text(
                r#"{"verdict": "no_verdict", "reason": "needs the caller"}"#
            ))
            .contains("needs the caller")
        );
        assert!(why(read(&Content::Truncated)).contains("cut off"));
        assert!(why(read(&Content::Refused("I can't help".into()))).contains("declined"));
        assert!(why(read(&Content::Empty)).contains("empty"));
    }

    #[test]
    fn a_long_reason_is_cut() {
        let long = "a".repeat(5_000);
        let Judgement::Verdict { reason, .. } = text(&format!(
            r#"{{"verdict": "true_positive", "reason": "{long}"}}"#
        )) else {
            panic!()
        };
        assert_eq!(reason.chars().count(), MAX_REASON + 1);
    }
}
