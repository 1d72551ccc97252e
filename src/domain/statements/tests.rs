use super::*;
use crate::domain::problem::{Problem, ProblemKind as K};
use serde_json::json;

pub(crate) fn rules(allowed: &BTreeSet<String>) -> StatementRules<'_> {
    StatementRules {
        partition: "aws",
        region: "us-east-1",
        account: "123456789012",
        service: "orders",
        stage_prefix: "orders-prod",
        provider_function: Some("serverless-access-ProviderFunction-AbC123"),
        provider_stack: Some("serverless-access"),
        allowed_actions: allowed,
        resource_accounts: &[],
    }
}

fn place() -> Place {
    Place {
        path: "Functions[0].Statements[0]".into(),
        label: "function api statement 1".into(),
    }
}

fn check(v: Value) -> Vec<Problem> {
    let mut e = Problems::default();
    let none = BTreeSet::new();
    validate(&place(), &v, &rules(&none), &mut e);
    e.into_vec()
}

/// The kind and the key of the statement of each problem of `v`.
fn kinds(v: Value) -> Vec<(K, String)> {
    check(v)
        .into_iter()
        .map(|p| {
            let key =
                p.at.strip_prefix("Functions[0].Statements[0]")
                    .unwrap_or(&p.at)
                    .trim_start_matches('.')
                    .to_string();
            (p.kind, key)
        })
        .collect()
}

fn one(kind: K, key: &str) -> Vec<(K, String)> {
    vec![(kind, key.to_string())]
}

#[test]
fn a_scoped_allow_statement_is_accepted_and_normalised() {
    let mut e = Problems::default();
    let none = BTreeSet::new();
    let out = validate(
        &place(),
        &json!({"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}),
        &rules(&none),
        &mut e,
    );
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(out.unwrap()["Action"], json!(["dynamodb:GetItem"]));
}

#[test]
fn wildcard_actions_and_full_access_are_refused() {
    let e = check(json!({"Effect":"Allow","Action":"*","Resource":"*"}));
    assert_eq!(
        (e[0].kind, e[0].at.as_str()),
        (K::TooWide, "Functions[0].Statements[0].Action")
    );
    assert!(e[0].message().contains("every action"), "{e:?}");
    assert_eq!(
        kinds(json!({"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"})),
        one(K::TooWide, "Action")
    );
    assert_eq!(
        kinds(json!({"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"})),
        one(K::TooWide, "Action")
    );
}

#[test]
fn resource_star_is_refused_only_where_aws_offers_scoping() {
    let e = check(json!({"Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":"*"}));
    assert_eq!(e[0].kind, K::TooWide, "{e:?}");
    assert!(e[0].message().contains("dynamodb:GetItem"), "{e:?}");
    assert!(
        check(json!({"Effect":"Allow","Action":["xray:PutTraceSegments"],"Resource":"*"}))
            .is_empty()
    );
    assert!(
        check(json!({"Effect":"Deny","Action":["dynamodb:DeleteTable"],"Resource":"*"})).is_empty()
    );
}

#[test]
fn not_action_and_not_resource_are_refused_with_allow_only() {
    assert_eq!(
        kinds(json!({"Effect":"Allow","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})),
        one(K::TooWide, "NotAction")
    );
    assert_eq!(
        kinds(json!({"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/*"})),
        one(K::TooWide, "NotResource")
    );
    assert!(check(json!({"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"})).is_empty());
}

#[test]
fn bad_effects_arns_keys_and_iam_writes_are_refused() {
    assert_eq!(
        kinds(json!({"Effect":"allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})),
        one(K::Malformed, "Effect")
    );
    assert_eq!(
        kinds(json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"bucket/key"})),
        one(K::Malformed, "Resource")
    );
    assert_eq!(
        kinds(
            json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Principal":"*"})
        ),
        one(K::UnknownKey, "Principal")
    );
    assert_eq!(
        kinds(
            json!({"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::123456789012:role/x"})
        ),
        one(K::SensitiveAction, "Action")
    );
    assert_eq!(
        kinds(json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:*:::b/*"})),
        one(K::Malformed, "Resource")
    );
}

#[test]
fn unknown_condition_operators_are_refused_before_any_write() {
    let e = check(
        json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
                         "Condition": {"StringEqualz": {"aws:SourceVpc": "vpc-1"}}}),
    );
    assert_eq!(
        (e[0].kind, e[0].at.as_str()),
        (K::Malformed, "Functions[0].Statements[0].Condition")
    );
    assert!(e[0].message().contains("StringEqualz"), "{e:?}");
    assert!(check(json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
                         "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "x*"}, "Null": {"aws:SourceVpc": "false"}}}))
        .is_empty());
}
