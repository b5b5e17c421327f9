//! Reading a provider's answer as a verdict, locally, whatever the
//! provider promised: anything that is not the schema is no verdict, with
//! the reason, never a guess.

use super::provider::Content;
use crate::domain::{ComponentRisk, Verdict};
use crate::store::{ComponentTag, Judgement};
use serde_json::{Map, Value};

/// Longest reason kept, in characters.
const MAX_REASON: usize = 2_000;
/// Longest component tag kept, in characters.
const MAX_TAG: usize = 40;

/// The JSON object a reply holds, or why there is none (in words for the
/// reviewer). Shared by every kind of answer.
pub fn object_in(content: &Content) -> Result<Map<String, Value>, String> {
    let text = match content {
        Content::Text(t) => t,
        Content::Refused(words) => {
            let words: String = words.chars().take(300).collect();
            return Err(format!("the model declined: {words}"));
        }
        Content::Truncated => {
            return Err("the answer was cut off at the token limit (max_output_tokens)".into());
        }
        Content::Empty => return Err("the answer was empty".into()),
        Content::Echoed => {
            return Err(
                "the answer repeats the prompt's evidence markers instead of answering".into(),
            );
        }
    };
    match json_in(text) {
        Some(Value::Object(object)) => Ok(object),
        Some(_) => Err("the answer is not a JSON object".into()),
        None => Err("the answer is not JSON (the model wrote prose)".into()),
    }
}

/// A string field, trimmed and cut to `max` characters (with `…`); empty
/// when missing or not a string.
pub fn text_field(object: &Map<String, Value>, name: &str, max: usize) -> String {
    let text = object
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if text.chars().count() > max {
        let mut cut: String = text.chars().take(max).collect();
        cut.push('…');
        cut
    } else {
        text.to_string()
    }
}

/// The judgement a reply holds.
pub fn read(content: &Content) -> Judgement {
    let none = |why: &str| Judgement::NoVerdict {
        why: why.to_string(),
    };
    let object = match object_in(content) {
        Ok(object) => object,
        Err(why) => return none(&why),
    };
    let verdict = object.get("verdict").and_then(Value::as_str);
    let reason = text_field(&object, "reason", MAX_REASON);
    let component = component(&object);
    match verdict {
        Some("true_positive") => Judgement::Verdict {
            verdict: Verdict::TruePositive,
            reason,
            component,
        },
        Some("false_positive") if !reason.is_empty() => Judgement::Verdict {
            verdict: Verdict::FalsePositive,
            reason,
            component,
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

/// The answer's component, when it has a usable one: a short tag (one
/// line, lower case) and a risk of the schema's. A verdict without one is
/// still a verdict.
fn component(object: &Map<String, Value>) -> Option<ComponentTag> {
    let c = object.get("component")?.as_object()?;
    let tag = text_field(c, "tag", MAX_TAG)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let risk = ComponentRisk::parse(&text_field(c, "risk", 10).to_lowercase())?;
    (!tag.is_empty()).then_some(ComponentTag { tag, risk })
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
                reason: "constant input".into(),
                component: None,
            }
        );
        assert_eq!(
            text("```json\n{\"verdict\": \"true_positive\", \"reason\": \"\"}\n```"),
            Judgement::Verdict {
                verdict: Verdict::TruePositive,
                reason: String::new(),
                component: None,
            }
        );
    }

    #[test]
    fn a_component_comes_with_the_verdict_when_usable() {
        let j = text(
            r#"{"verdict": "true_positive", "reason": "x",
                "component": {"tag": "  Payments\n API ", "risk": "HIGH"}}"#,
        );
        let Judgement::Verdict { component, .. } = j else {
            panic!()
        };
        assert_eq!(
            component,
            Some(ComponentTag {
                tag: "payments api".into(),
                risk: ComponentRisk::High
            })
        );
        let j = text(
            r#"{"verdict": "true_positive", "reason": "x",
                "component": {"tag": "payments", "risk": "extreme"}}"#,
        );
        assert!(matches!(
            j,
            Judgement::Verdict {
                component: None,
                ..
            }
        ));
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
