use super::*;
use serde_json::json;

pub(crate) fn rules(allowed: &BTreeSet<String>) -> StatementRules<'_> {
    StatementRules {
        partition: "aws",
        region: "us-east-1",
        account: "123456789012",
        stage_prefix: "orders-prod",
        provider_function: Some("serverless-access-ProviderFunction-AbC123"),
        provider_stack: Some("serverless-access"),
        allowed_actions: allowed,
        resource_accounts: &[],
    }
}

fn check(v: Value) -> Vec<String> {
    let mut e = vec![];
    let none = BTreeSet::new();
    validate("function api statement 1", &v, &rules(&none), &mut e);
    e
}

#[test]
fn a_scoped_allow_statement_is_accepted_and_normalised() {
    let mut e = vec![];
    let none = BTreeSet::new();
    let out = validate(
        "s",
        &json!({"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}),
        &rules(&none),
        &mut e,
    );
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(out.unwrap()["Action"], json!(["dynamodb:GetItem"]));
}

#[test]
fn wildcard_actions_and_full_access_are_refused() {
    assert!(
        check(json!({"Effect":"Allow","Action":"*","Resource":"*"}))[0].contains("every action")
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
        check(json!({"Effect":"Deny","Action":["dynamodb:DeleteTable"],"Resource":"*"})).is_empty()
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
    assert!(check(json!({"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"})).is_empty());
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
    assert!(
        !check(json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:*:::b/*"}))
            .is_empty()
    );
}

#[test]
fn unknown_condition_operators_are_refused_before_any_write() {
    let e = check(
        json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
                         "Condition": {"StringEqualz": {"aws:SourceVpc": "vpc-1"}}}),
    );
    assert!(e[0].contains("StringEqualz"), "{e:?}");
    assert!(check(json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
                         "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "x*"}, "Null": {"aws:SourceVpc": "false"}}}))
        .is_empty());
}
