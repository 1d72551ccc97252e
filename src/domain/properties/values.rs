//! Reading CloudFormation's property values: every scalar arrives as a string.

use crate::domain::problem::{field, ProblemKind, Problems};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A required non-empty string; `parent` is the field path of `obj`.
pub fn required_string(
    obj: &Map<String, Value>,
    parent: &str,
    key: &str,
    errors: &mut Problems,
) -> Option<String> {
    let at = field(parent, key);
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(v) => {
            let kind = if v.is_string() {
                ProblemKind::Missing
            } else {
                ProblemKind::WrongType
            };
            errors.push(kind, at, format!("{key} must be a non-empty string"));
            None
        }
        None => {
            errors.push(ProblemKind::Missing, at, format!("{key} is required"));
            None
        }
    }
}

/// An optional string; empty counts as absent.
pub fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    errors: &mut Problems,
) -> Option<String> {
    match obj.get(key) {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(
                ProblemKind::WrongType,
                key,
                format!("{key} must be a string"),
            );
            None
        }
    }
}

/// Parses a CloudFormation boolean: `"true"`/`"false"` (any case) or a JSON boolean; absent is false.
/// `path` is the field path, `at` names the field in the message.
pub fn boolean(v: Option<&Value>, path: &str, at: &str, errors: &mut Problems) -> bool {
    match v {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            errors.push(
                ProblemKind::WrongType,
                path,
                format!("{at} must be \"true\" or \"false\", got {other}"),
            );
            false
        }
    }
}

/// A map of strings (tags, encryption context).
pub fn string_map(
    v: Option<&Value>,
    path: &str,
    at: &str,
    errors: &mut Problems,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match v {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => errors.push(
                        ProblemKind::WrongType,
                        field(path, k),
                        format!("{at}: value of {k:?} must be a string, got {other}"),
                    ),
                }
            }
        }
        Some(_) => errors.push(
            ProblemKind::WrongType,
            path,
            format!("{at} must be a map of strings"),
        ),
    }
    out
}

/// S3 bucket naming rules: 3–63 lowercase letters, digits, dots and hyphens, starting and ending
/// with a letter or digit.
pub fn check_bucket_name(b: &str) -> Result<(), String> {
    let bytes = b.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && bytes
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !b.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "DeploymentBucket {b:?} is not a valid S3 bucket name"
        ))
    }
}

/// A list property of at most `max` entries: its items, or none (a problem at `key`) when it is
/// not a list. Over `max` is a problem too, and the items are still returned so each is checked.
/// `shape` completes "{key} must be …"; `entries` names them in "{key} lists {n} {entries}".
pub fn bounded_list<'a>(
    v: &'a Value,
    key: &str,
    shape: &str,
    entries: &str,
    max: usize,
    errors: &mut Problems,
) -> &'a [Value] {
    let Some(items) = v.as_array() else {
        errors.push(
            ProblemKind::WrongType,
            key,
            format!("{key} must be {shape}"),
        );
        return &[];
    };
    if items.len() > max {
        errors.push(
            ProblemKind::OverLimit,
            key,
            format!("{key} lists {} {entries}; at most {max}", items.len()),
        );
    }
    items
}
