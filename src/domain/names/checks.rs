//! The rules names must follow before anything is derived from them: the provider's IAM path,
//! service names, stages and function keys.

use super::PATH_MAX;

/// Checks the provider's IAM path: 1–512 characters, `/` then one or more segments of
/// `[A-Za-z0-9.,+@=_-]` each followed by `/`. The root path `/`, or one with `*` or `?`, would
/// give the provider's role rights over all of IAM (its policy scopes every write to
/// `…{path}*`), so they are refused.
pub fn check_iam_path(p: &str) -> Result<(), String> {
    let segments: Vec<&str> = p
        .strip_prefix('/')
        .and_then(|r| r.strip_suffix('/'))
        .map(|r| r.split('/').collect())
        .unwrap_or_default();
    let ok = p.len() <= PATH_MAX
        && !segments.is_empty()
        && segments
            .iter()
            .all(|s| !s.is_empty() && s.bytes().all(crate::domain::charset::is_path_segment_byte));
    if ok {
        Ok(())
    } else {
        Err(format!("IAM path {p:?} must be at most {PATH_MAX} characters: '/' then one or more segments of letters, digits and . , + @ = _ - each ending in '/' (not '/' alone, no '*' or '?')"))
    }
}

/// Checks a Serverless service name: a letter, then letters, digits and hyphens; at most 50.
pub fn check_service(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 50
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!("ServiceName {s:?} must be 1-50 letters, digits and single hyphens, starting with a letter"))
    }
}

/// Checks a stage: letters and digits only, at most 16. A hyphen would let the patterns of stage
/// `dev` (`{service}-dev-*`) reach stage `dev-x`, so it is refused.
pub fn check_stage(s: &str) -> Result<(), String> {
    if !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!(
            "Stage {s:?} must be 1-16 letters and digits (no hyphen: it would make this stage's patterns match other stages)"
        ))
    }
}

/// Checks a function key: letters, digits, hyphens and underscores, at most 64.
pub fn check_function_key(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(format!(
            "function Name {s:?} must be 1-64 letters, digits, hyphens and underscores"
        ))
    }
}
