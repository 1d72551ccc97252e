use super::*;
use crate::domain::arn::{parse_stack_id, KeyAllowList};
use serde_json::json;

static GUARD: std::sync::LazyLock<Guardrails> = std::sync::LazyLock::new(|| Guardrails {
    provider_function: Some("serverless-access-ProviderFunction-AbC123".into()),
    provider_stack: Some("serverless-access".into()),
    ..Guardrails::default()
});

/// The provider's deployment boundary in unit tests.
pub const DEPLOYMENT_BOUNDARY: &str =
    "arn:aws:iam::123456789012:policy/serverless-access-system/serverless-access-DeploymentBoundary-X";

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
        deployment_boundary: Some(DEPLOYMENT_BOUNDARY),
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
    assert_eq!(spec.functions[0].vpc, Vpc::Any);
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

#[test]
fn a_scoped_vpc_keeps_its_subnets_and_security_groups_sorted_and_unique() {
    let mut p = full_props();
    p["Functions"][1]["Vpc"] = json!({"SubnetIds": ["subnet-0123456789abcdef0", "subnet-1a2b3c4d"],
                                      "SecurityGroupIds": ["sg-0123456789abcdef0"]});
    let spec = parse_with(p, None).unwrap();
    let Vpc::Scoped {
        subnets,
        security_groups,
    } = &spec.functions[1].vpc
    else {
        panic!("{:?}", spec.functions[1].vpc)
    };
    assert_eq!(
        subnets.iter().collect::<Vec<_>>(),
        ["subnet-0123456789abcdef0", "subnet-1a2b3c4d"]
    );
    assert_eq!(security_groups.len(), 1);
}

#[test]
fn a_scoped_vpc_outside_lambdas_limits_or_with_malformed_ids_is_refused() {
    let cases = [
        (
            json!({"SubnetIds": [], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            "0 ids; Lambda takes 1 to 16",
        ),
        (
            json!({"SubnetIds": (0..17).map(|i| format!("subnet-{i:08x}")).collect::<Vec<_>>(), "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            "17 ids; Lambda takes 1 to 16",
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d"], "SecurityGroupIds": (0..6).map(|i| format!("sg-{i:08x}")).collect::<Vec<_>>()}),
            "6 ids; Lambda takes 1 to 5",
        ),
        (
            json!({"SubnetIds": ["subnet-*"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            "\"subnet-*\" is not an id subnet-",
        ),
        (
            json!({"SubnetIds": ["subnet-1A2B3C4D"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            "is not an id subnet-",
        ),
        (
            json!({"SubnetIds": ["sg-1a2b3c4d"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            "is not an id subnet-",
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d", "subnet-1a2b3c4d"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            "listed twice",
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d"]}),
            "SecurityGroupIds must be a list",
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d"], "SecurityGroupIds": ["sg-1a2b3c4d"], "VpcId": "vpc-1a2b3c4d"}),
            "unknown key \"VpcId\"",
        ),
    ];
    for (vpc, expected) in cases {
        let mut p = full_props();
        p["Functions"][1]["Vpc"] = vpc.clone();
        let e = parse_with(p, None).unwrap_err();
        assert!(
            e.iter()
                .any(|m| m.contains("function worker: Vpc") && m.contains(expected)),
            "{vpc}: {e:?}"
        );
    }
}

#[test]
fn invoke_marks_and_api_stages_are_parsed_and_an_url_needs_invoke() {
    let mut p = full_props();
    p["Functions"][0]["Invoke"] = json!("true");
    p["Functions"][0]["InvokeUrl"] = json!(true);
    p["InvokeApis"] = json!([{"ApiId": "a1b2c3d4e5", "Stage": "prod"}, {"ApiId": "z9y8x7w6v5", "Stage": "$default"}]);
    let spec = parse_with(p, None).unwrap();
    assert!(spec.functions[0].invoke && spec.functions[0].invoke_url);
    assert!(!spec.functions[1].invoke);
    assert_eq!(spec.invoke_apis.len(), 2);
    assert!(spec.invokable());
    let mut p = full_props();
    p["Functions"][1]["InvokeUrl"] = json!("true");
    let e = parse_with(p, None).unwrap_err();
    assert!(
        e.iter()
            .any(|m| m.contains("function worker: InvokeUrl needs Invoke")),
        "{e:?}"
    );
    assert!(!parse_with(full_props(), None).unwrap().invokable());
}

#[test]
fn an_api_stage_that_could_widen_the_execute_api_arn_is_refused() {
    for (api, expected) in [
        (json!({"ApiId": "*", "Stage": "prod"}), "ApiId \"*\" is not"),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "*"}),
            "Stage \"*\" must be",
        ),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "prod/GET"}),
            "Stage \"prod/GET\" must be",
        ),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "${aws:username}"}),
            "must be",
        ),
        (
            json!({"ApiId": "A1B2C3D4E5", "Stage": "prod"}),
            "is not an API Gateway id",
        ),
        (json!({"ApiId": "a1b2c3d4e5"}), "Stage \"\" must be"),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "prod", "Method": "GET"}),
            "unknown key \"Method\"",
        ),
    ] {
        let mut p = full_props();
        p["InvokeApis"] = json!([api.clone()]);
        let e = parse_with(p, None).unwrap_err();
        assert!(
            e.iter()
                .any(|m| m.starts_with("InvokeApis[0]") && m.contains(expected)),
            "{api}: {e:?}"
        );
    }
    let mut p = full_props();
    p["InvokeApis"] =
        json!([{"ApiId": "a1b2c3d4e5", "Stage": "prod"}, {"ApiId": "a1b2c3d4e5", "Stage": "prod"}]);
    assert!(parse_with(p, None)
        .unwrap_err()
        .iter()
        .any(|m| m.contains("listed twice")));
}

#[test]
fn invoker_is_a_group_kind_only_when_listed() {
    let mut p = full_props();
    p["Groups"] = json!(["developer", "invoker"]);
    let spec = parse_with(p, None).unwrap();
    assert!(spec.groups.contains(&GroupKind::Invoker));
    assert!(!parse_with(full_props(), None)
        .unwrap()
        .groups
        .contains(&GroupKind::Invoker));
}
