//! Validation of the extra statements a stack asks for on an execution role.
//!
//! Refused: `Action: "*"` and any wildcard in an action, `NotAction`/`NotResource` with Allow,
//! `Resource: "*"` on an action that AWS lets you scope to a resource, effects other than
//! Allow/Deny, malformed ARNs, unknown keys, and any Allow on the services that administer
//! identities or the account (IAM, Organizations, ...), through which a function could escalate.

use serde_json::{Map, Value};
use std::collections::HashSet;
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

/// Services whose Allow a function role may never receive: they administer identities, the
/// organization or the account, i.e. they are how a role escalates.
const FORBIDDEN_SERVICES: &[&str] = &["iam", "organizations", "account", "sso", "identitystore"];

/// Validates one statement; `at` names it for messages (`function api statement 2`).
/// Returns the statement normalised (lists for Action/Resource) or the problems found.
pub fn validate(at: &str, raw: &Value, errors: &mut Vec<String>) -> Option<Value> {
    let Some(obj) = raw.as_object() else {
        errors.push(format!("{at}: must be an object"));
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
            errors.push(format!(
                "{at}: unknown key {k:?} (Principal is not allowed in an identity policy)"
            ));
        }
    }
    let effect = obj.get("Effect").and_then(Value::as_str).unwrap_or("");
    if effect != "Allow" && effect != "Deny" {
        errors.push(format!("{at}: Effect must be \"Allow\" or \"Deny\""));
    }
    if let Some(sid) = obj.get("Sid") {
        let ok = sid.as_str().is_some_and(|s| {
            !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if !ok {
            errors.push(format!("{at}: Sid must be letters and digits"));
        } else if sid.as_str().is_some_and(|s| {
            s.starts_with("ServerlessAccess") || s.starts_with("NoResourceScoping")
        }) {
            errors.push(format!(
                "{at}: Sid prefixes ServerlessAccess and NoResourceScoping are reserved"
            ));
        }
    }
    let allow = effect == "Allow";
    let actions = string_list(at, obj, "Action", "NotAction", errors);
    let resources = string_list(at, obj, "Resource", "NotResource", errors);
    if allow && obj.contains_key("NotAction") {
        errors.push(format!(
            "{at}: NotAction with Allow grants everything not listed"
        ));
    }
    if allow && obj.contains_key("NotResource") {
        errors.push(format!(
            "{at}: NotResource with Allow grants every resource not listed"
        ));
    }
    for a in &actions {
        check_action(at, a, allow, errors);
    }
    for r in &resources {
        if r == "*" {
            if allow {
                let scoped: Vec<&String> =
                    actions.iter().filter(|a| !is_unscoped_action(a)).collect();
                if !scoped.is_empty() || obj.contains_key("NotAction") {
                    let list = scoped
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    errors.push(format!("{at}: Resource \"*\" is not allowed for {list}: they can be scoped to resource ARNs"));
                }
            }
        } else if let Err(e) = super::arn::Arn::parse(r) {
            errors.push(format!("{at}: Resource {e}"));
        } else if r
            .split(':')
            .take(3)
            .any(|p| p.contains('*') || p.contains('?'))
        {
            errors.push(format!(
                "{at}: Resource {r:?} has a wildcard in its partition or service"
            ));
        }
    }
    if let Some(c) = obj.get("Condition") {
        let ok = c.as_object().is_some_and(|m| {
            !m.is_empty()
                && m.values()
                    .all(|v| v.as_object().is_some_and(|inner| !inner.is_empty()))
        });
        if !ok {
            errors.push(format!(
                "{at}: Condition must map operators to non-empty key/value objects"
            ));
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
    at: &str,
    obj: &Map<String, Value>,
    key: &str,
    not_key: &str,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let (name, v) = match (obj.get(key), obj.get(not_key)) {
        (Some(_), Some(_)) => {
            errors.push(format!("{at}: give {key} or {not_key}, not both"));
            return vec![];
        }
        (Some(v), None) => (key, v),
        (None, Some(v)) => (not_key, v),
        (None, None) => {
            errors.push(format!("{at}: {key} is required"));
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
            errors.push(format!(
                "{at}: {name} must be a string or a non-empty list of strings"
            ));
            vec![]
        }
    }
}

fn check_action(at: &str, a: &str, allow: bool, errors: &mut Vec<String>) {
    if a == "*" {
        errors.push(format!("{at}: Action \"*\" grants every action"));
        return;
    }
    let Some((service, name)) = a.split_once(':') else {
        errors.push(format!("{at}: Action {a:?} must be service:Action"));
        return;
    };
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !service_ok
        || name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
    {
        errors.push(format!("{at}: Action {a:?} must be service:Action"));
        return;
    }
    if name.contains('*') || name.contains('?') {
        errors.push(format!(
            "{at}: Action {a:?} has a wildcard; list the actions"
        ));
        return;
    }
    if allow && FORBIDDEN_SERVICES.contains(&service) {
        errors.push(format!("{at}: Action {a:?} may not be allowed to a function role ({service} administers identities or the account)"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Vec<String> {
        let mut e = vec![];
        validate("function api statement 1", &v, &mut e);
        e
    }

    #[test]
    fn a_scoped_allow_statement_is_accepted_and_normalised() {
        let mut e = vec![];
        let out = validate(
            "s",
            &json!({"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}),
            &mut e,
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(out.unwrap()["Action"], json!(["dynamodb:GetItem"]));
    }

    #[test]
    fn wildcard_actions_and_full_access_are_refused() {
        assert!(
            check(json!({"Effect":"Allow","Action":"*","Resource":"*"}))[0]
                .contains("every action")
        );
        assert!(
            check(json!({"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}))[0]
                .contains("wildcard")
        );
        assert!(
            check(json!({"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"}))[0]
                .contains("wildcard")
        );
    }

    #[test]
    fn resource_star_is_refused_only_where_aws_offers_scoping() {
        let e = check(json!({"Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":"*"}));
        assert!(e[0].contains("dynamodb:GetItem"), "{e:?}");
        assert!(
            check(json!({"Effect":"Allow","Action":["xray:PutTraceSegments"],"Resource":"*"}))
                .is_empty()
        );
        assert!(
            check(json!({"Effect":"Deny","Action":["dynamodb:DeleteTable"],"Resource":"*"}))
                .is_empty()
        );
    }

    #[test]
    fn not_action_and_not_resource_are_refused_with_allow_only() {
        assert!(!check(
            json!({"Effect":"Allow","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})
        )
        .is_empty());
        assert!(!check(
            json!({"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/*"})
        )
        .is_empty());
        assert!(
            check(json!({"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"})).is_empty()
        );
    }

    #[test]
    fn bad_effects_arns_keys_and_iam_writes_are_refused() {
        assert!(!check(
            json!({"Effect":"allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})
        )
        .is_empty());
        assert!(
            !check(json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"bucket/key"}))
                .is_empty()
        );
        assert!(!check(json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Principal":"*"})).is_empty());
        assert!(!check(json!({"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::123456789012:role/x"})).is_empty());
        assert!(!check(
            json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:*:::b/*"})
        )
        .is_empty());
    }
}
