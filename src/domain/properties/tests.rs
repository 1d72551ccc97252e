use super::*;
use crate::domain::fixtures::*;
use crate::domain::principals::GroupKind;
use crate::domain::problem::{has, ProblemKind as K};
use serde_json::json;

/// The kinds and places of the problems of `props`, or a panic when they are valid.
#[track_caller]
fn problems(props: Value) -> Vec<Problem> {
    match parse_with(props, None) {
        Ok(_) => panic!("the properties were accepted"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_problem(e: &[Problem], kind: K, at: &str) {
    assert!(has(e, kind, at), "no {kind:?} at {at}: {e:?}");
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
    let e = problems(p);
    assert_problem(&e, K::WrongType, "Functions[1].Vpc");
    assert!(e[0].message().starts_with("function worker: Vpc"), "{e:?}");
}

#[test]
fn every_problem_is_reported_together() {
    let p = json!({"ServiceName": "1bad", "Stage": "dev-x", "Groups": ["root"], "Bogus": "1",
                   "Functions": [{"Name": "a", "Kms": ["Decrypt"]}, {"Name": "A"}]});
    let e = problems(p);
    for (kind, at) in [
        (K::Malformed, "ServiceName"),
        (K::Malformed, "Stage"),
        (K::Malformed, "Groups[0]"),
        (K::UnknownKey, "Bogus"),
        (K::Inconsistent, "Functions[0].Kms"),
        (K::Duplicate, "Functions[1].Name"),
    ] {
        assert_problem(&e, kind, at);
    }
    assert_eq!(e.len(), 6, "{e:?}");
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
    assert_problem(
        &parse_with(p, Some(b)).unwrap_err(),
        K::NotAllowedHere,
        "PermissionsBoundary",
    );
}

#[test]
fn keys_outside_the_allowance_or_region_are_refused() {
    let mut p = full_props();
    p["KmsKeyArn"] = json!("arn:aws:kms:us-east-1:210987654321:key/abc");
    assert_problem(&problems(p), K::NotAllowedHere, "KmsKeyArn");
}

#[test]
fn duplicate_statement_ids_are_refused() {
    let mut p = full_props();
    let st = json!({"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
    p["Functions"][1]["Statements"] = json!([st.clone(), st]);
    assert_problem(&problems(p), K::Duplicate, "Functions[1].Statements");
}

#[test]
fn deployed_function_names_over_64_are_refused() {
    let mut p = full_props();
    p["Functions"] = json!([{"Name": "x".repeat(60)}]);
    assert_problem(&problems(p), K::OverLimit, "Functions[0].Name");
}

#[test]
fn reserved_and_excess_tags_are_refused() {
    let mut p = full_props();
    p["Tags"] = json!({"aws:x": "1", "serverless-access:owner": "me"});
    let e = problems(p);
    assert_eq!(e.len(), 2);
    assert_problem(&e, K::Reserved, "Tags.aws:x");
    assert_problem(&e, K::Reserved, "Tags.serverless-access:owner");
    let mut p = full_props();
    p["Tags"] = json!({"team": "pay<ments>"});
    assert_problem(&problems(p), K::Malformed, "Tags.team");
    let mut p = full_props();
    p["Tags"] = Value::Object((0..47).map(|i| (format!("k{i}"), json!("v"))).collect());
    let e = problems(p);
    assert_problem(&e, K::OverLimit, "Tags");
    assert!(e[0].message().contains("at most 45"), "{e:?}");
}

#[test]
fn kms_grant_constraint_limits_are_enforced_before_any_write() {
    let mut p = full_props();
    p["Functions"][0]["EncryptionContext"] =
        Value::Object((0..9).map(|i| (format!("k{i}"), json!("v"))).collect());
    assert_problem(&problems(p), K::OverLimit, "Functions[0].EncryptionContext");
    let mut p = full_props();
    p["Functions"][0]["EncryptionContext"] = json!({"k": "v".repeat(385)});
    assert_problem(
        &problems(p),
        K::OverLimit,
        "Functions[0].EncryptionContext.k",
    );
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
            (K::OverLimit, "SubnetIds"),
        ),
        (
            json!({"SubnetIds": (0..17).map(|i| format!("subnet-{i:08x}")).collect::<Vec<_>>(), "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            (K::OverLimit, "SubnetIds"),
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d"], "SecurityGroupIds": (0..6).map(|i| format!("sg-{i:08x}")).collect::<Vec<_>>()}),
            (K::OverLimit, "SecurityGroupIds"),
        ),
        (
            json!({"SubnetIds": ["subnet-*"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            (K::Malformed, "SubnetIds"),
        ),
        (
            json!({"SubnetIds": ["subnet-1A2B3C4D"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            (K::Malformed, "SubnetIds"),
        ),
        (
            json!({"SubnetIds": ["sg-1a2b3c4d"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            (K::Malformed, "SubnetIds"),
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d", "subnet-1a2b3c4d"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
            (K::Duplicate, "SubnetIds"),
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d"]}),
            (K::WrongType, "SecurityGroupIds"),
        ),
        (
            json!({"SubnetIds": ["subnet-1a2b3c4d"], "SecurityGroupIds": ["sg-1a2b3c4d"], "VpcId": "vpc-1a2b3c4d"}),
            (K::UnknownKey, "VpcId"),
        ),
    ];
    for (vpc, (kind, key)) in cases {
        let mut p = full_props();
        p["Functions"][1]["Vpc"] = vpc.clone();
        let e = problems(p);
        assert_problem(&e, kind, &format!("Functions[1].Vpc.{key}"));
        assert!(
            e.iter()
                .all(|m| m.message().starts_with("function worker: Vpc")),
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
    assert_problem(&problems(p), K::Inconsistent, "Functions[1].InvokeUrl");
    assert!(!parse_with(full_props(), None).unwrap().invokable());
}

#[test]
fn an_api_stage_that_could_widen_the_execute_api_arn_is_refused() {
    for (api, expected) in [
        (
            json!({"ApiId": "*", "Stage": "prod"}),
            (K::Malformed, "ApiId"),
        ),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "*"}),
            (K::Malformed, "Stage"),
        ),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "prod/GET"}),
            (K::Malformed, "Stage"),
        ),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "${aws:username}"}),
            (K::Malformed, "Stage"),
        ),
        (
            json!({"ApiId": "A1B2C3D4E5", "Stage": "prod"}),
            (K::Malformed, "ApiId"),
        ),
        (json!({"ApiId": "a1b2c3d4e5"}), (K::Malformed, "Stage")),
        (
            json!({"ApiId": "a1b2c3d4e5", "Stage": "prod", "Method": "GET"}),
            (K::UnknownKey, "Method"),
        ),
    ] {
        let (kind, key) = expected;
        let mut p = full_props();
        p["InvokeApis"] = json!([api.clone()]);
        let e = problems(p);
        assert_problem(&e, kind, &format!("InvokeApis[0].{key}"));
        assert!(
            e.iter().all(|m| m.message().starts_with("InvokeApis[0]")),
            "{api}: {e:?}"
        );
    }
    let mut p = full_props();
    p["InvokeApis"] =
        json!([{"ApiId": "a1b2c3d4e5", "Stage": "prod"}, {"ApiId": "a1b2c3d4e5", "Stage": "prod"}]);
    assert_problem(&problems(p), K::Duplicate, "InvokeApis[1]");
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

/// AWS's Lambda Insights extension (another account, granted to every account by its owner).
const INSIGHTS: &str = "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:53";

#[test]
fn layers_of_the_region_at_an_exact_version_are_accepted() {
    let mut p = full_props();
    let shared = "arn:aws:lambda:us-east-1:123456789012:layer:payments-prod-sdk:7";
    let own = "arn:aws:lambda:us-east-1:123456789012:layer:orders-prod-deps:2";
    p["Layers"] = json!([INSIGHTS, shared, own]);
    let spec = parse_with(p, None).unwrap();
    assert_eq!(spec.layers, [INSIGHTS, shared, own]);
}

#[test]
fn a_layer_of_another_stage_or_a_nesting_service_is_refused() {
    for name in [
        "orders-dev-deps",
        "orders-prod2-deps",
        "orders-api-prod-deps",
        "orders-production-x",
    ] {
        for account in ["123456789012", "999988887777"] {
            let mut p = full_props();
            p["Layers"] = json!([format!("arn:aws:lambda:us-east-1:{account}:layer:{name}:1")]);
            assert_problem(&problems(p), K::OutsideStage, "Layers[0]");
        }
    }
}

#[test]
fn a_layer_that_is_not_one_exact_version_of_the_region_is_refused() {
    for (layer, kind) in [
        (
            "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:*",
            K::Malformed,
        ),
        (
            "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension",
            K::Malformed,
        ),
        (
            "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:01",
            K::Malformed,
        ),
        (
            "arn:aws:lambda:us-east-1:580247275435:layer:*:53",
            K::Malformed,
        ),
        (
            "arn:aws:lambda:us-east-1:*:layer:LambdaInsightsExtension:53",
            K::Malformed,
        ),
        (
            "arn:aws:lambda:us-east-1:580247275435:function:LambdaInsightsExtension:53",
            K::Malformed,
        ),
        (
            "arn:aws:s3:us-east-1:580247275435:layer:LambdaInsightsExtension:53",
            K::Malformed,
        ),
        (
            "arn:aws:lambda:eu-west-1:580247275435:layer:LambdaInsightsExtension:53",
            K::Inconsistent,
        ),
    ] {
        let mut p = full_props();
        p["Layers"] = json!([layer]);
        assert_problem(&problems(p), kind, "Layers[0]");
    }
}

#[test]
fn layers_are_a_short_list_without_repeats() {
    let mut p = full_props();
    p["Layers"] = json!([INSIGHTS, INSIGHTS]);
    assert_problem(&problems(p), K::Duplicate, "Layers[1]");
    let mut p = full_props();
    p["Layers"] = json!((1..=6)
        .map(|v| format!("arn:aws:lambda:us-east-1:580247275435:layer:x:{v}"))
        .collect::<Vec<_>>());
    assert_problem(&problems(p), K::OverLimit, "Layers");
    let mut p = full_props();
    p["Layers"] = json!(INSIGHTS);
    assert_problem(&problems(p), K::WrongType, "Layers");
}
