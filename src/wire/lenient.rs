//! Tolerant pieces of typed reading, shared by the importers and the
//! Semgrep API wire types: outside data is read as leniently as it can be
//! without guessing, and what cannot be read is an error naming the field.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A missing or null field reads as its default.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An id as the API may write it: a number (the spec says int64, some
/// schemas say "number", so `120.0` too) or a string of digits.
#[derive(Deserialize)]
#[serde(untagged)]
enum LooseId {
    Int(i64),
    Float(f64),
    Str(String),
}

impl LooseId {
    fn into_i64<E: serde::de::Error>(self) -> Result<i64, E> {
        match self {
            LooseId::Int(n) => Ok(n),
            LooseId::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(x as i64),
            LooseId::Float(x) => Err(E::custom(format!("id {x} is not a whole number"))),
            LooseId::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("id '{s}' is not a number"))),
        }
    }
}

pub fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    LooseId::deserialize(d)?.into_i64()
}

pub fn ids_int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    Option::<Vec<LooseId>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(LooseId::into_i64)
        .collect()
}

pub fn opt_int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<LooseId>::deserialize(d)?
        .map(LooseId::into_i64)
        .transpose()
}

/// Tags are declared as a string holding an array: take either.
pub fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<Option<String>>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) if s.trim().is_empty() => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v.into_iter().flatten().collect(),
    })
}

/// A missing or null id reads as 0.
pub fn id_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(opt_int_or_string(d)?.unwrap_or(0))
}

/// A line or column: any JSON number, clamped to `0..=u32::MAX` (negative,
/// fractional and huge values are not worth failing a file for); null is 0.
/// Anything else is the wrong type.
pub fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(d.deserialize_any(NumberVisitor)?
        .map_or(0, |n| n.clamp(0, u32::MAX as i64) as u32))
}

/// A byte offset: negative (the scanner's "unknown") and null are `None`.
pub fn lenient_offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(d.deserialize_any(NumberVisitor)?
        .filter(|&n| n >= 0)
        .map(|n| n as u64))
}

struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `as` saturates, and NaN becomes 0.
        Ok(Some(v as i64))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A string, or a number written as one (proto3 int64s are strings).
pub fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s).filter(|s| !s.is_empty()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "expected a string or a number, found {other}"
            )));
        }
    })
}

pub fn loose_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<serde_json::Value>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect())
}

pub fn loose_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(loose_string(d)?.and_then(|s| s.trim().parse().ok()))
}
