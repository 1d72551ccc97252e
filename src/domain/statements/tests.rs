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
        default_boundary: true,
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

#[test]
fn every_catalog_lambda_write_outside_the_stages_functions_and_layers_is_refused() {
    let f = "arn:aws:lambda:us-east-1:123456789012:function";
    for (action, resource) in [
        ("lambda:PutFunctionConcurrency", format!("{f}:orders-dev-api")),
        ("lambda:DeleteAlias", format!("{f}:orders-dev-api:live")),
        ("lambda:DeleteFunctionUrlConfig", format!("{f}:billing-prod-api")),
        (
            "lambda:PutProvisionedConcurrencyConfig",
            format!("{f}:orders-dev-api:1"),
        ),
        (
            "lambda:DeleteEventSourceMapping",
            "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
        ),
        (
            "lambda:DeleteLayerVersion",
            "arn:aws:lambda:us-east-1:123456789012:layer:orders-dev-deps:1".into(),
        ),
        (
            "lambda:DeleteCapacityProvider",
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:orders-prod-x".into(),
        ),
        ("lambda:TagResource", format!("{f}:orders-dev-api")),
    ] {
        // Refused for its resource (and, for an action outside the default boundary's data
        // planes, for the action too: the boundary gives it on the stage's own resources only).
        let e = check(json!({"Effect":"Allow","Action":action,"Resource":resource}));
        let on_resource: Vec<_> = e
            .iter()
            .filter(|p| p.at.as_str() != "Functions[0].Statements[0].Action")
            .collect();
        assert_eq!(
            on_resource
                .iter()
                .map(|p| (p.kind, p.at.as_str()))
                .collect::<Vec<_>>(),
            vec![(K::OutsideStage, "Functions[0].Statements[0].Resource")],
            "{action} {resource}: {e:?}"
        );
        assert!(
            on_resource[0]
                .message()
                .contains("may change only its own stage's functions and layers"),
            "{e:?}"
        );
    }
    // The stage's own functions and layers; invoking another service's function.
    for (action, resource) in [
        (
            "lambda:PutFunctionConcurrency",
            format!("{f}:orders-prod-api"),
        ),
        ("lambda:TagResource", format!("{f}:orders-prod-api")),
        ("lambda:InvokeFunction", format!("{f}:billing-prod-api")),
    ] {
        assert!(
            check(json!({"Effect":"Allow","Action":action,"Resource":resource})).is_empty(),
            "{action} {resource}"
        );
    }
}

#[test]
fn names_of_other_stages_and_nesting_services_other_regions_and_id_named_resources_are_refused() {
    for r in [
        "arn:aws:lambda:us-east-1:123456789012:function:orders-dev-api",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders-api-prod-x:*",
        "arn:aws:events:us-east-1:123456789012:event-bus/orders-dev-bus",
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders-dev-orders",
        "arn:aws:s3:::orders-prod2-data/*",
        "arn:aws:sqs:eu-west-1:123456789012:orders-prod-jobs",
        "arn:aws:logs:us-east-1:123456789012:scheduled-query:0a1b2c3d",
    ] {
        let action = match r.split(':').nth(2) {
            Some("lambda") => "lambda:InvokeFunction",
            Some("logs") => "logs:PutLogEvents",
            Some("events") => "events:PutEvents",
            Some("dynamodb") => "dynamodb:GetItem",
            Some("s3") => "s3:GetObject",
            _ => "sqs:SendMessage",
        };
        assert_eq!(
            kinds(json!({"Effect":"Allow","Action":action,"Resource":r})),
            one(K::OutsideStage, "Resource"),
            "{r}"
        );
    }
}

#[test]
fn actions_outside_the_default_boundary_are_refused_unless_allowed_by_name() {
    let st = json!({"Effect":"Allow","Action":"athena:StartQueryExecution",
        "Resource":"arn:aws:athena:us-east-1:123456789012:workgroup/orders-prod-wg"});
    let e = check(st.clone());
    assert_eq!(
        (e[0].kind, e[0].at.as_str()),
        (K::NotAllowedHere, "Functions[0].Statements[0].Action"),
        "{e:?}"
    );
    assert!(e[0].message().contains("PermissionsBoundaryArn"), "{e:?}");
    let allowed: BTreeSet<String> = ["athena:startqueryexecution".to_string()].into();
    let mut errors = Problems::default();
    validate(&place(), &st, &rules(&allowed), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    // API Gateway management is refused on its own account (random ids), and lifted by name too.
    let api = json!({"Effect":"Allow","Action":"apigateway:PATCH","Resource":"arn:aws:apigateway:us-east-1::/account"});
    assert_eq!(kinds(api.clone()), one(K::NotAllowedHere, "Action"));
    let allowed: BTreeSet<String> = ["apigateway:patch".to_string()].into();
    let mut errors = Problems::default();
    validate(&place(), &api, &rules(&allowed), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_stages_own_resources_take_any_action_of_their_service_and_others_only_the_data_planes() {
    let own = [
        (
            "dynamodb:UpdateTimeToLive",
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders-prod-orders",
        ),
        (
            "states:DescribeExecution",
            "arn:aws:states:us-east-1:123456789012:execution:orders-prod-flow:*",
        ),
        (
            "s3:PutLifecycleConfiguration",
            "arn:aws:s3:::orders-prod-data",
        ),
        (
            "events:DescribeRule",
            "arn:aws:events:us-east-1:123456789012:rule/orders-prod-Schedule",
        ),
    ];
    for (action, resource) in own {
        assert!(
            check(json!({"Effect":"Allow","Action":action,"Resource":resource})).is_empty(),
            "{action} {resource}"
        );
        // The same action on another service's resource is outside the default boundary.
        let other = resource.replace("orders-prod", "billing-prod");
        assert_eq!(
            kinds(json!({"Effect":"Allow","Action":action,"Resource":other})),
            one(K::NotAllowedHere, "Action"),
            "{action} {other}"
        );
        // And on the stage's own resource together with another, too.
        assert_eq!(
            kinds(json!({"Effect":"Allow","Action":action,"Resource":[resource, other]})),
            one(K::NotAllowedHere, "Action"),
            "{action} both"
        );
    }
    // Data planes stay allowed on other services' resources.
    assert!(check(json!({"Effect":"Allow","Action":"dynamodb:GetItem",
        "Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/billing-prod-x"}))
    .is_empty());
}

#[test]
fn under_a_platforms_own_boundary_the_default_boundarys_allow_list_does_not_refuse() {
    let none = BTreeSet::new();
    let platform = StatementRules {
        default_boundary: false,
        ..rules(&none)
    };
    let under_platform = |v: Value| -> Vec<(K, String)> {
        let mut e = Problems::default();
        validate(&place(), &v, &platform, &mut e);
        e.into_vec()
            .into_iter()
            .map(|p| {
                (
                    p.kind,
                    p.at.trim_start_matches("Functions[0].Statements[0].")
                        .to_string(),
                )
            })
            .collect()
    };
    let athena = json!({"Effect":"Allow","Action":"athena:StartQueryExecution",
        "Resource":"arn:aws:athena:us-east-1:123456789012:workgroup/orders-prod-wg"});
    assert_eq!(kinds(athena.clone()), one(K::NotAllowedHere, "Action"));
    assert!(under_platform(athena).is_empty());
    // The families and the stage fence still hold.
    let command = json!({"Effect":"Allow","Action":"ssm:SendCommand",
        "Resource":"arn:aws:ssm:us-east-1:123456789012:document/x"});
    assert_eq!(under_platform(command), one(K::SensitiveAction, "Action"));
    let other_stage = json!({"Effect":"Allow","Action":"dynamodb:GetItem",
        "Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders-dev-x"});
    assert_eq!(
        under_platform(other_stage),
        one(K::OutsideStage, "Resource")
    );
    let api = json!({"Effect":"Allow","Action":"apigateway:PATCH",
        "Resource":"arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5"});
    assert_eq!(
        under_platform(api.clone()),
        one(K::NotAllowedHere, "Action")
    );
    assert_eq!(kinds(api), one(K::NotAllowedHere, "Action"));
}
