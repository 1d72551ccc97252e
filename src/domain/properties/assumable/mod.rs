//! `AssumableBy`: who may assume the stage role of each principal kind.
//!
//! ```yaml
//! AssumableBy:
//!   ci:
//!     - GitHubActions: {Repository: acme/orders, Environment: prod}   # or Branch: main
//!     - GitLab: {Project: acme/orders, Branch: main}
//!   developer:
//!     - IdentityCenterPermissionSet: OrdersDevelopers
//!   admin:
//!     - Principal: arn:aws:iam::123456789012:role/platform-admins
//! ```
//!
//! Every trust is exact: OIDC subjects are whole strings compared with `StringEquals` (never
//! `StringLike`), with the issuer's audience; no value may hold `*` or `?` (IAM wildcards, which
//! only `StringLike` and `ArnLike` honour, but a later edit might switch the operator), `${`
//! (a policy variable), or reach pull requests. The threat model's "CI token holder" and "another
//! person of the organisation" are the attackers these rules are for.

mod oidc;

use super::values::bounded_list;
use crate::domain::principals::GroupKind;
use crate::domain::problem::{field, ProblemKind, Problems};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// At most this many sources per kind (the trust policy must fit IAM's 2,048 characters anyway).
const MAX_SOURCES: usize = 10;
/// GitHub's OIDC issuer (docs.github.com, "OpenID Connect reference": standard claims).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The audience aws-actions/configure-aws-credentials asks for (its action.yml input `audience`,
/// default `sts.amazonaws.com`).
pub const GITHUB_AUDIENCE: &str = "sts.amazonaws.com";
/// GitLab.com, the default GitLab host.
pub const GITLAB_HOST: &str = "gitlab.com";

/// An OIDC trust: the account's provider for `issuer`, the audience, the exact subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcTrust {
    /// Issuer URL, `https://host[/path]`.
    pub issuer: String,
    /// The `aud` the token must carry.
    pub audience: String,
    /// Exact `sub` values, any of which is accepted.
    pub subjects: Vec<String>,
    /// Further exact claims (`repository_id`), by claim name.
    pub claims: BTreeMap<String, String>,
}

impl OidcTrust {
    /// `host[/path]`: the OIDC provider's name in its ARN, and the prefix of its condition keys
    /// (`token.actions.githubusercontent.com:sub`).
    pub fn provider_name(&self) -> &str {
        self.issuer.strip_prefix("https://").unwrap_or(&self.issuer)
    }
}

/// One source a stage role trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trustee {
    /// A CI system's tokens (GitHubActions, GitLab, Oidc).
    Oidc(OidcTrust),
    /// The roles IAM Identity Center provisions in this account for a permission set.
    IdentityCenter(String),
    /// A named role or user.
    Principal(String),
}

/// Where named principals may live.
#[derive(Debug, Clone, Copy)]
pub struct TrustScope<'a> {
    /// The stack's partition.
    pub partition: &'a str,
    /// The stack's account.
    pub account: &'a str,
    /// Other accounts the provider allows (its `AssumableByAccounts`).
    pub other_accounts: &'a [String],
}

/// Parses `AssumableBy`: a source list per kind (kinds without sources are absent).
pub fn parse_assumable_by(
    v: Option<&Value>,
    scope: &TrustScope<'_>,
    errors: &mut Problems,
) -> BTreeMap<GroupKind, Vec<Trustee>> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return out };
    let Some(m) = v.as_object() else {
        errors.push(
            ProblemKind::WrongType,
            "AssumableBy",
            "AssumableBy must be a map of admin, developer, ci, invoker to lists of sources",
        );
        return out;
    };
    for (k, list) in m {
        let at = field("AssumableBy", k);
        let Some(kind) = GroupKind::parse(k) else {
            errors.push(
                ProblemKind::UnknownKey,
                &at,
                format!("AssumableBy: {k:?} is not one of admin, developer, ci, invoker"),
            );
            continue;
        };
        let items = bounded_list(
            list,
            &at,
            "a list of sources (GitHubActions, GitLab, Oidc, IdentityCenterPermissionSet, Principal)",
            "sources",
            MAX_SOURCES,
            errors,
        );
        if items.is_empty() && list.is_array() {
            errors.push(
                ProblemKind::Missing,
                &at,
                format!("{at} is empty: name at least one source, or leave the kind out"),
            );
        }
        let mut sources = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{at}[{i}]");
            if let Some(t) = parse_source(item, &at, scope, errors) {
                if sources.contains(&t) {
                    errors.push(
                        ProblemKind::Duplicate,
                        &at,
                        format!("{at} repeats an earlier source"),
                    );
                } else {
                    sources.push(t);
                }
            }
        }
        if !sources.is_empty() {
            out.insert(kind, sources);
        }
    }
    out
}

fn parse_source(
    item: &Value,
    at: &str,
    scope: &TrustScope<'_>,
    errors: &mut Problems,
) -> Option<Trustee> {
    let one = item.as_object().filter(|o| o.len() == 1);
    let Some((key, body)) = one.and_then(|o| o.iter().next()) else {
        errors.push(ProblemKind::WrongType, at, format!(
            "{at} must be one of {{GitHubActions: …}}, {{GitLab: …}}, {{Oidc: …}}, {{IdentityCenterPermissionSet: NAME}}, {{Principal: ARN}}"
        ));
        return None;
    };
    let at = field(at, key);
    match key.as_str() {
        "GitHubActions" => oidc::github(body, &at, errors).map(Trustee::Oidc),
        "GitLab" => oidc::gitlab(body, &at, errors).map(Trustee::Oidc),
        "Oidc" => oidc::generic(body, &at, errors).map(Trustee::Oidc),
        "IdentityCenterPermissionSet" => {
            permission_set(body, &at, errors).map(Trustee::IdentityCenter)
        }
        "Principal" => principal(body, &at, scope, errors).map(Trustee::Principal),
        other => {
            errors.push(ProblemKind::UnknownKey, &at, format!(
                "{at}: unknown source {other:?} (known: GitHubActions, GitLab, Oidc, IdentityCenterPermissionSet, Principal)"
            ));
            None
        }
    }
}

/// The object of a source, with only `known` keys.
fn object<'a>(
    body: &'a Value,
    at: &str,
    known: &[&str],
    errors: &mut Problems,
) -> Option<&'a Map<String, Value>> {
    let Some(o) = body.as_object() else {
        errors.push(
            ProblemKind::WrongType,
            at,
            format!("{at} must be an object {{{}}}", known.join(", ")),
        );
        return None;
    };
    let mut ok = true;
    for k in o.keys() {
        if !known.contains(&k.as_str()) {
            errors.push(
                ProblemKind::UnknownKey,
                field(at, k),
                format!("{at}: unknown key {k:?} (known: {})", known.join(", ")),
            );
            ok = false;
        }
    }
    ok.then_some(o)
}

/// A string value (CloudFormation sends numbers as strings; JSON numbers are taken too).
fn text(o: &Map<String, Value>, key: &str) -> Option<String> {
    match o.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Refuses what may never stand in an exact trust value: IAM's wildcards, a policy variable,
/// control characters. `what` names the value in the message.
fn exact(value: &str, at: &str, what: &str, errors: &mut Problems) -> bool {
    if value.contains(['*', '?']) {
        errors.push(ProblemKind::TooWide, at, format!(
            "{at}: {what} {value:?} holds a wildcard; a trust must name exactly who may assume the role"
        ));
        return false;
    }
    if value.contains("${") || value.chars().any(char::is_control) {
        errors.push(
            ProblemKind::Malformed,
            at,
            format!("{at}: {what} {value:?} may not hold \"${{\" or control characters"),
        );
        return false;
    }
    true
}

fn required(
    o: &Map<String, Value>,
    key: &str,
    at: &str,
    what: &str,
    errors: &mut Problems,
) -> Option<String> {
    let at = field(at, key);
    let Some(v) = text(o, key) else {
        errors.push(
            ProblemKind::Missing,
            &at,
            format!("{at}: {what} is required (a non-empty string)"),
        );
        return None;
    };
    exact(&v, &at, what, errors).then_some(v)
}

fn optional(
    o: &Map<String, Value>,
    key: &str,
    at: &str,
    what: &str,
    errors: &mut Problems,
) -> Option<Option<String>> {
    if !o.contains_key(key) {
        return Some(None);
    }
    required(o, key, at, what, errors).map(Some)
}

/// A git branch name as `git check-ref-format` allows it (no `:`, space, `~^?*[\`, `..`, `@{`),
/// given without `refs/heads/`.
fn branch(o: &Map<String, Value>, at: &str, errors: &mut Problems) -> Option<String> {
    let b = required(o, "Branch", at, "Branch", errors)?;
    let at = field(at, "Branch");
    let bad = b.starts_with("refs/")
        || b.starts_with('-')
        || b.starts_with('/')
        || b.ends_with('/')
        || b.ends_with(".lock")
        || b.ends_with('.')
        || b.contains("..")
        || b.contains("@{")
        || b.contains("//")
        || b.chars().any(|c| " ~^:[\\".contains(c));
    if bad {
        errors.push(ProblemKind::Malformed, &at, format!(
            "{at}: {b:?} is not a branch name (give it without refs/heads/; git refuses spaces, ~ ^ : [ \\, .. and @{{)"
        ));
        return None;
    }
    Some(b)
}

/// One path segment of an owner, repository, group or project name.
fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s != "."
        && s != ".."
}

fn digits(v: &Option<String>) -> bool {
    v.as_ref()
        .is_none_or(|s| s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// An IAM Identity Center permission-set name: 1-32 of `[\w+=,.@-]` (sso-admin API, shape
/// `PermissionSetName`).
fn permission_set(body: &Value, at: &str, errors: &mut Problems) -> Option<String> {
    let name = body.as_str().unwrap_or_default();
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if !ok {
        if name.contains(['*', '?']) {
            errors.push(
                ProblemKind::TooWide,
                at,
                format!("{at}: {name:?} holds a wildcard; name one permission set"),
            );
        } else {
            errors.push(
                ProblemKind::Malformed,
                at,
                format!(
                "{at}: {body} is not a permission-set name (1-32 letters, digits and _ + = , . @ -)"
            ),
            );
        }
        return None;
    }
    Some(name.to_string())
}

/// A role or user ARN of the stack's account, or of an account the provider allows.
fn principal(
    body: &Value,
    at: &str,
    scope: &TrustScope<'_>,
    errors: &mut Problems,
) -> Option<String> {
    let arn = body.as_str().unwrap_or_default();
    if arn == "*" || arn.contains(['*', '?']) {
        errors.push(
            ProblemKind::TooWide,
            at,
            format!("{at}: {arn:?} holds a wildcard; name one role or user"),
        );
        return None;
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ("arn", partition, "iam", "", account, resource) = (
        parts.first().copied().unwrap_or_default(),
        parts.get(1).copied().unwrap_or_default(),
        parts.get(2).copied().unwrap_or_default(),
        parts.get(3).copied().unwrap_or_default(),
        parts.get(4).copied().unwrap_or_default(),
        parts.get(5).copied().unwrap_or_default(),
    ) else {
        errors.push(ProblemKind::Malformed, at, format!(
            "{at}: {body} is not an IAM role or user ARN (arn:PARTITION:iam::ACCOUNT:role/NAME or user/NAME)"
        ));
        return None;
    };
    let kind_ok = resource.split_once('/').is_some_and(|(k, rest)| {
        (k == "role" || k == "user")
            && !rest.is_empty()
            && !rest.ends_with('/')
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
    });
    if !kind_ok {
        errors.push(ProblemKind::Malformed, at, format!(
            "{at}: {arn:?} names no role or user (the account root, assumed-role sessions and other principals are refused)"
        ));
        return None;
    }
    if partition != scope.partition {
        errors.push(
            ProblemKind::Inconsistent,
            at,
            format!(
                "{at}: {arn:?} is not in the stack's partition {}",
                scope.partition
            ),
        );
        return None;
    }
    if account != scope.account && !scope.other_accounts.iter().any(|a| a == account) {
        errors.push(ProblemKind::NotAllowedHere, at, format!(
            "{at}: {arn:?} is in account {account}; this provider lets stage roles trust principals of the stack's account {} only (and of its AssumableByAccounts)",
            scope.account
        ));
        return None;
    }
    Some(arn.to_string())
}

#[cfg(test)]
mod tests;
