//! Validation of the extra statements a stack asks for on an execution role.
//!
//! A role's rights are its deployers' rights (they run code as it), so an Allow is refused when:
//! - an action is `*` or has a wildcard, or `NotAction`/`NotResource` is used;
//! - an action belongs to a family of [`action_rules`] (identity administration, acting as another
//!   principal, permissions management, account switches) and the provider does not allow it by name;
//! - an action is outside what the default boundary allows (the data planes functions use) and the
//!   provider does not allow it by name;
//! - a Lambda write (every one the IAM catalog lists, outside Invoke*) names anything but the
//!   stage's own functions and layers, or any Lambda action can reach the provider's own function
//!   (invoking it forges requests);
//! - a resource of a platform service (Lambda, Logs, EventBridge, API Gateway, S3, SQS, SNS,
//!   DynamoDB, Step Functions) is named like another stage's or a nesting service's
//!   (`{service}-…` but not `{service}-{stage}-…`), or an ARN names another region;
//! - a resource is `*` or as wide as `*` (a wildcard in its account or region, or no literal prefix
//!   before the first wildcard) and the action is not on the list of actions accepted on `*`;
//! - a resource names an account other than the stack's that the provider does not allow.
//!
//! Deny statements only take away, so only their shape is checked.

mod checks;
mod patterns;
mod reach;
mod stage;

pub use patterns::{is_condition_operator, is_wildcard_equivalent, pattern_matches};
pub use stage::{default_boundary_allows, is_lambda_write, DEFAULT_BOUNDARY_ACTIONS};

use super::arn::Arn;
use super::problem::{field, ProblemKind, Problems};
use checks::{check_action, check_lambda, check_star};
use reach::{deployment_artifacts, reaches_provider};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

/// Actions that AWS authorises on `Resource: "*"` only, lower-case, generated from the IAM
/// catalog by `tools/gen_action_catalog.py`.
const UNSCOPED_ACTIONS: &str = include_str!("unscoped_actions.txt");

fn unscoped() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| UNSCOPED_ACTIONS.lines().filter(|l| !l.is_empty()).collect())
}

/// Whether AWS offers no resource-level scoping for `action` (`service:Name`, any case).
pub fn is_unscoped_action(action: &str) -> bool {
    unscoped().contains(action.to_ascii_lowercase().as_str())
}

/// What statements are checked against: the stack and the provider's settings.
#[derive(Debug, Clone)]
pub struct StatementRules<'a> {
    /// The stack's partition.
    pub partition: &'a str,
    /// The stack's region.
    pub region: &'a str,
    /// The stack's account.
    pub account: &'a str,
    /// The service: names starting with `{service}-` but not `{stage_prefix}-` are another
    /// stage's (or a nesting service's).
    pub service: &'a str,
    /// `{service}-{stage}`: the stage's functions and layers start with it and a hyphen.
    pub stage_prefix: &'a str,
    /// The provider's own function name, when known.
    pub provider_function: Option<&'a str>,
    /// The provider's own stack name, when known: its function, log group and queue start with it.
    pub provider_stack: Option<&'a str>,
    /// Actions the provider allows by name despite their family or on `*` (lower case).
    pub allowed_actions: &'a BTreeSet<String>,
    /// Accounts besides the stack's whose resources statements may name.
    pub resource_accounts: &'a [String],
    /// Whether the default boundary caps the roles (its allow-list applies to statements).
    pub default_boundary: bool,
}

/// Where a statement is: its field path and how messages name it.
#[derive(Debug, Clone)]
pub struct Place {
    /// `Functions[1].Statements[0]`.
    pub path: String,
    /// `function api statement 1`.
    pub label: String,
}

/// Validates one statement at `place`. Returns the statement normalised (lists for
/// Action/Resource) or records the problems found.
pub fn validate(
    place: &Place,
    raw: &Value,
    rules: &StatementRules<'_>,
    errors: &mut Problems,
) -> Option<Value> {
    let at = place.label.as_str();
    let path = place.path.as_str();
    let Some(obj) = raw.as_object() else {
        errors.push(
            ProblemKind::WrongType,
            path,
            format!("{at}: must be an object"),
        );
        return None;
    };
    let before = errors.len();
    for k in obj.keys() {
        if ![
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ]
        .contains(&k.as_str())
        {
            errors.push(
                ProblemKind::UnknownKey,
                field(path, k),
                format!("{at}: unknown key {k:?} (Principal is not allowed in an identity policy)"),
            );
        }
    }
    let effect = obj.get("Effect").and_then(Value::as_str).unwrap_or("");
    if effect != "Allow" && effect != "Deny" {
        errors.push(
            ProblemKind::Malformed,
            field(path, "Effect"),
            format!("{at}: Effect must be \"Allow\" or \"Deny\""),
        );
    }
    if let Some(sid) = obj.get("Sid") {
        let ok = sid.as_str().is_some_and(|s| {
            !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if !ok {
            errors.push(
                ProblemKind::Malformed,
                field(path, "Sid"),
                format!("{at}: Sid must be letters and digits"),
            );
        } else if sid.as_str().is_some_and(|s| {
            s.starts_with("ServerlessAccess") || s.starts_with("NoResourceScoping")
        }) {
            errors.push(
                ProblemKind::Reserved,
                field(path, "Sid"),
                format!("{at}: Sid prefixes ServerlessAccess and NoResourceScoping are reserved"),
            );
        }
    }
    let allow = effect == "Allow";
    let actions = string_list(place, obj, "Action", "NotAction", errors);
    let resources = string_list(place, obj, "Resource", "NotResource", errors);
    if allow && obj.contains_key("NotAction") {
        errors.push(
            ProblemKind::TooWide,
            field(path, "NotAction"),
            format!("{at}: NotAction with Allow grants everything not listed"),
        );
    }
    if allow && obj.contains_key("NotResource") {
        errors.push(
            ProblemKind::TooWide,
            field(path, "NotResource"),
            format!("{at}: NotResource with Allow grants every resource not listed"),
        );
    }
    let action_key = if obj.contains_key("NotAction") {
        "NotAction"
    } else {
        "Action"
    };
    let resource_key = if obj.contains_key("NotResource") {
        "NotResource"
    } else {
        "Resource"
    };
    let action_path = field(path, action_key);
    let resource_path = field(path, resource_key);
    let own_only = resource_key == "Resource"
        && !resources.is_empty()
        && resources.iter().all(|r| {
            !r.contains("${")
                && Arn::parse(r).is_ok_and(|arn| stage::own_stage_resource(&arn, rules))
        });
    for a in &actions {
        check_action(at, &action_path, a, allow, own_only, rules, errors);
    }
    for r in &resources {
        let mut refuse = |kind: ProblemKind, message: String| {
            errors.push(kind, &resource_path, message);
        };
        if r == "*" {
            if allow {
                check_star(at, &actions, "Resource \"*\"", rules, &mut refuse);
            }
            continue;
        }
        let arn = match Arn::parse(r) {
            Ok(arn) => arn,
            Err(e) => {
                refuse(ProblemKind::Malformed, format!("{at}: Resource {e}"));
                continue;
            }
        };
        if r.split(':')
            .take(3)
            .any(|p| p.contains('*') || p.contains('?'))
        {
            refuse(
                ProblemKind::TooWide,
                format!("{at}: Resource {r:?} has a wildcard in its partition or service"),
            );
            continue;
        }
        if !allow {
            continue;
        }
        if r.contains("${") {
            refuse(
                ProblemKind::TooWide,
                format!(
                    "{at}: Resource {r:?} has a policy variable: the caller could choose the resource"
                ),
            );
            continue;
        }
        if let Some(why) = deployment_artifacts(&actions, &arn) {
            refuse(
                ProblemKind::OutsideStage,
                format!("{at}: Resource {r:?} {why}"),
            );
            continue;
        }
        if is_wildcard_equivalent(&arn) {
            check_star(
                at,
                &actions,
                &format!("Resource {r:?} (as wide as \"*\": wildcard account or region, or no literal prefix)"),
                rules,
                &mut refuse,
            );
        }
        let foreign = !arn.account.is_empty()
            && !arn.account.contains(['*', '?'])
            && arn.account != rules.account
            && arn.account != "aws"
            && !rules.resource_accounts.iter().any(|a| a == arn.account);
        if foreign {
            refuse(ProblemKind::NotAllowedHere, format!("{at}: Resource {r:?} is in account {}, which this provider does not allow (its ResourceAccountIds)", arn.account));
        }
        if let Some(what) = reaches_provider(&arn, rules) {
            refuse(ProblemKind::ReachesProvider, format!("{at}: Resource {r:?} can reach {what}, in any region: nothing may be granted on the provider (invoking it forges requests)"));
            continue;
        }
        if check_lambda(at, &actions, r, &arn, rules, &mut refuse) {
            continue;
        }
        if let Some(why) = stage::random_id(&arn, &actions) {
            refuse(
                ProblemKind::OutsideStage,
                format!("{at}: Resource {r:?} {why}"),
            );
            continue;
        }
        if let Some(why) = stage::outside_stage(&arn, rules) {
            refuse(
                ProblemKind::OutsideStage,
                format!("{at}: Resource {r:?} {why}"),
            );
        }
    }
    if let Some(c) = obj.get("Condition") {
        let ok = c.as_object().is_some_and(|m| {
            !m.is_empty()
                && m.values()
                    .all(|v| v.as_object().is_some_and(|inner| !inner.is_empty()))
        });
        if !ok {
            errors.push(
                ProblemKind::Malformed,
                field(path, "Condition"),
                format!("{at}: Condition must map operators to non-empty key/value objects"),
            );
        }
        for op in c.as_object().into_iter().flat_map(|m| m.keys()) {
            if !is_condition_operator(op) {
                errors.push(
                    ProblemKind::Malformed,
                    field(path, "Condition"),
                    format!("{at}: Condition operator {op:?} is not one IAM knows"),
                );
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    let mut out = obj.clone();
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(v) = out.get_mut(key) {
            if let Value::String(s) = v {
                *v = Value::Array(vec![Value::String(s.clone())]);
            }
        }
    }
    Some(Value::Object(out))
}

fn string_list(
    place: &Place,
    obj: &Map<String, Value>,
    key: &str,
    not_key: &str,
    errors: &mut Problems,
) -> Vec<String> {
    let at = &place.label;
    let (name, v) = match (obj.get(key), obj.get(not_key)) {
        (Some(_), Some(_)) => {
            errors.push(
                ProblemKind::WrongType,
                field(&place.path, key),
                format!("{at}: give {key} or {not_key}, not both"),
            );
            return vec![];
        }
        (Some(v), None) => (key, v),
        (None, Some(v)) => (not_key, v),
        (None, None) => {
            errors.push(
                ProblemKind::Missing,
                field(&place.path, key),
                format!("{at}: {key} is required"),
            );
            return vec![];
        }
    };
    let list: Option<Vec<String>> = match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => {
            a.iter().map(|x| x.as_str().map(String::from)).collect()
        }
        _ => None,
    };
    match list {
        Some(l) => l,
        None => {
            errors.push(
                ProblemKind::WrongType,
                field(&place.path, name),
                format!("{at}: {name} must be a string or a non-empty list of strings"),
            );
            vec![]
        }
    }
}

#[cfg(test)]
mod tests;
