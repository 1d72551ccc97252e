use super::*;
use crate::domain::arn::{parse_stack_id, KeyAllowList};
use serde_json::json;

static GUARD: std::sync::LazyLock<Guardrails> = std::sync::LazyLock::new(|| Guardrails {
    provider_function: Some("serverless-access-ProviderFunction-AbC123".into()),
    provider_stack: Some("serverless-access".into()),
    ..Guardrails::default()
});

pub const STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-access/5b3e0c40";

pub fn parse_with(props: Value, boundary: Option<&str>) -> Result<Spec, Vec<String>> {
    parse_full(props, boundary, &GUARD)
}

pub fn parse_with_guardrails(props: Value, g: &Guardrails) -> Result<Spec, Vec<String>> {
    parse_full(props, None, g)
}

fn parse_full(props: Value, boundary: Option<&str>, g: &Guardrails) -> Result<Spec, Vec<String>> {
    let stack = parse_stack_id(STACK).unwrap();
    let ctx = Context {
        stack_id: STACK,
        logical_id: "Access",
        stack: &stack,
        iam_path: "/serverless-access/",
        enforced_boundary: boundary,
        allowed_keys: &KeyAllowList::OwnAccountAndRegion,
        provider_account: "123456789012",
        provider_region: "us-east-1",
        guardrails: g,
    };
    parse(&props, &ctx)
}

pub fn full_props() -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:serverless-access",
        "ServiceTimeout": "300",
        "ServiceName": "orders", "Stage": "prod",
        "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "Tags": {"team": "payments"},
        "Functions": [
            {"Name": "api", "Vpc": "true", "Tracing": "false", "Kms": ["Decrypt", "GenerateDataKey"],
             "EncryptionContext": {"LambdaFunctionName": "orders-prod-api"},
             "Statements": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                             "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]},
            {"Name": "worker", "Tracing": "true"}
        ]
    })
}

#[test]
fn string_booleans_are_parsed_and_false_is_false() {
    let spec = parse_with(full_props(), None).unwrap();
    assert!(spec.functions[0].vpc);
    assert!(!spec.functions[0].tracing);
    assert!(spec.functions[1].tracing);
    assert_eq!(spec.groups.len(), 3);
    assert_eq!(spec.kms_key.as_ref().unwrap().region, "us-east-1");
}

#[test]
fn a_non_boolean_names_the_field() {
    let mut p = full_props();
    p["Functions"][1]["Vpc"] = json!("yes");
    let e = parse_with(p, None).unwrap_err();
    assert!(
        e.iter().any(|m| m.contains("function worker: Vpc")),
        "{e:?}"
    );
}

#[test]
fn every_problem_is_reported_together() {
    let p = json!({"ServiceName": "1bad", "Stage": "dev-x", "Groups": ["root"], "Bogus": "1",
                   "Functions": [{"Name": "a", "Kms": ["Decrypt"]}, {"Name": "A"}]});
    let e = parse_with(p, None).unwrap_err();
    for needle in [
        "ServiceName",
        "Stage",
        "Groups",
        "Bogus",
        "Kms needs KmsKeyArn",
        "same Name",
    ] {
        assert!(
            e.iter().any(|m| m.contains(needle)),
            "missing {needle}: {e:?}"
        );
    }
}

#[test]
fn an_enforced_boundary_is_applied_and_another_is_refused() {
    let b = "arn:aws:iam::123456789012:policy/serverless-access/boundary";
    assert_eq!(
        parse_with(full_props(), Some(b))
            .unwrap()
            .permissions_boundary
            .as_deref(),
        Some(b)
    );
    let mut p = full_props();
    p["PermissionsBoundary"] = json!("arn:aws:iam::123456789012:policy/other");
    assert!(parse_with(p, Some(b)).unwrap_err()[0].contains("not allowed"));
}

#[test]
fn keys_outside_the_allowance_or_region_are_refused() {
    let mut p = full_props();
    p["KmsKeyArn"] = json!("arn:aws:kms:us-east-1:210987654321:key/abc");
    assert!(parse_with(p, None).unwrap_err()[0].contains("not allowed"));
}

#[test]
fn duplicate_statement_ids_are_refused() {
    let mut p = full_props();
    let st = json!({"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
    p["Functions"][1]["Statements"] = json!([st.clone(), st]);
    assert!(parse_with(p, None).unwrap_err()[0].contains("used twice"));
}

#[test]
fn deployed_function_names_over_64_are_refused() {
    let mut p = full_props();
    p["Functions"] = json!([{"Name": "x".repeat(60)}]);
    assert!(parse_with(p, None)
        .unwrap_err()
        .iter()
        .any(|m| m.contains("Lambda allows 64")));
}

#[test]
fn reserved_and_excess_tags_are_refused() {
    let mut p = full_props();
    p["Tags"] = json!({"aws:x": "1", "serverless-access:owner": "me"});
    assert_eq!(parse_with(p, None).unwrap_err().len(), 2);
    let mut p = full_props();
    p["Tags"] = json!({"team": "pay<ments>"});
    assert!(parse_with(p, None).unwrap_err()[0].contains("IAM's tag characters"));
    let mut p = full_props();
    p["Tags"] = Value::Object((0..47).map(|i| (format!("k{i}"), json!("v"))).collect());
    assert!(parse_with(p, None).unwrap_err()[0].contains("at most 46"));
}

#[test]
fn kms_grant_constraint_limits_are_enforced_before_any_write() {
    let mut p = full_props();
    p["Functions"][0]["EncryptionContext"] =
        Value::Object((0..9).map(|i| (format!("k{i}"), json!("v"))).collect());
    assert!(parse_with(p, None).unwrap_err()[0].contains("allows 8"));
    let mut p = full_props();
    p["Functions"][0]["EncryptionContext"] = json!({"k": "v".repeat(385)});
    assert!(parse_with(p, None).unwrap_err()[0].contains("1-384"));
}
