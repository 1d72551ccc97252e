//! The role tags a stack author may set (`Tags`): IAM's rules for tags and the provider's own.

use super::{OWNER_TAG_PREFIX, OWN_TAG_COUNT};
use crate::domain::problem::{field, ProblemKind, Problems};
use crate::domain::provider_guards::Guardrails;
use std::collections::BTreeMap;

/// Role tags: IAM's lengths and characters; keys unique ignoring case (IAM treats `Team` and
/// `team` as one key); no key IAM or the provider reserves, in any case; only the keys the
/// provider allows when it names them (accounts deciding access by principal tags).
pub(super) fn check_tags(tags: &BTreeMap<String, String>, g: &Guardrails, errors: &mut Problems) {
    let mut seen = BTreeMap::new();
    for (k, v) in tags {
        let at = field("Tags", k);
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            errors.push(
                ProblemKind::OverLimit,
                &at,
                format!("Tags: {k:?} must be 1-128 characters with a value of at most 256"),
            );
        }
        if !k
            .chars()
            .chain(v.chars())
            .all(crate::domain::charset::is_tag_char)
        {
            errors.push(ProblemKind::Malformed, &at, format!(
                "Tags: {k:?} may hold only letters, digits, spaces and _ . : / = + - @ (IAM's tag characters)"
            ));
        }
        let lower = k.to_lowercase();
        if lower.starts_with("aws:") || lower.starts_with(OWNER_TAG_PREFIX) {
            errors.push(
                ProblemKind::Reserved,
                &at,
                format!("Tags: key {k:?} is reserved"),
            );
        } else if let Some(allowed) = &g.allowed_tag_keys {
            if !allowed.contains(k) {
                errors.push(ProblemKind::NotAllowedHere, &at, format!(
                    "Tags: key {k:?} is not one this provider lets stacks set (its AllowedTagKeys: {})",
                    allowed.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        if let Some(first) = seen.insert(lower, k) {
            errors.push(
                ProblemKind::Duplicate,
                &at,
                format!("Tags: {first:?} and {k:?} are the same key to IAM (tag keys ignore case)"),
            );
        }
    }
    if tags.len() + OWN_TAG_COUNT > 50 {
        errors.push(
            ProblemKind::OverLimit,
            "Tags",
            format!(
                "Tags: at most {} tags (IAM allows 50 per role; the provider adds {OWN_TAG_COUNT})",
                50 - OWN_TAG_COUNT
            ),
        );
    }
}
