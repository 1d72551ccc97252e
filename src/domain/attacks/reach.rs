//! Attacks on reach: resources as wide as `*`, other accounts, the provider's own resources in
//! any region or through any qualifier, wildcards inside a resource type, policy variables, other
//! stages' deployment artifacts. Each is refused before anything is written.

use super::*;

#[test]
fn attack_3_any_lambda_action_on_the_providers_own_function_is_refused() {
    for r in [
        "arn:aws:lambda:us-east-1:123456789012:function:serverless-access-ProviderFunction-AbC123",
        "arn:aws:lambda:us-east-1:123456789012:function:serverless-access-*",
        "arn:aws:lambda:us-east-1:123456789012:function:serverless-*:*",
    ] {
        assert_refused(
            allow("lambda:InvokeFunction", r),
            ProblemKind::ReachesProvider,
        );
    }
    // Invoking another service's function stays allowed.
    assert_accepted(allow(
        "lambda:InvokeFunction",
        "arn:aws:lambda:us-east-1:123456789012:function:billing-prod-charge",
    ));
}

#[test]
fn attack_4_wildcards_as_wide_as_star_are_refused() {
    for (a, r) in [
        ("s3:GetObject", "arn:aws:s3:::*/*"),
        (
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:*:*:secret:*",
        ),
        ("dynamodb:GetItem", "arn:aws:dynamodb:*:*:*"),
        (
            "dynamodb:GetItem",
            "arn:aws:dynamodb:us-east-1:123456789012:table/*",
        ),
        (
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter/*",
        ),
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:*:orders"),
    ] {
        assert_refused(allow(a, r), ProblemKind::TooWide);
    }
}

#[test]
fn attack_4_resources_of_another_account_are_refused_unless_allowed() {
    let st = allow(
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:210987654321:orders",
    );
    assert_refused(st.clone(), ProblemKind::NotAllowedHere);
    let g = Guardrails {
        resource_accounts: vec!["210987654321".into()],
        ..guard()
    };
    assert!(refusal(st, &g).is_empty());
}

#[test]
fn attack_reaching_the_provider_in_another_region_or_through_a_qualifier_or_its_queue_is_refused() {
    for (a, r) in [
        ("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:serverless-access-*"),
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:serverless-access-ProviderFunction-AbC123:$LATEST"),
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:serverless-access-ProviderFunction-AbC123:live"),
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:serverless-*"),
        ("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:123456789012:serverless-access-FailureQueue-X"),
        ("logs:GetLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/serverless-access-ProviderFunction-AbC123:*"),
        ("cloudformation:DescribeStacks", "arn:aws:cloudformation:us-east-1:123456789012:stack/serverless-access/*"),
        ("cloudformation:DescribeStacks", "arn:aws:cloudformation:eu-west-1:123456789012:stack/serverless-*/*"),
    ] {
        assert_refused(allow(a, r), ProblemKind::ReachesProvider);
    }
}

#[test]
fn attack_wildcards_inside_the_resource_type_and_policy_variables_are_refused() {
    for (a, r) in [
        (
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:123456789012:s*",
        ),
        (
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter*",
        ),
        (
            "dynamodb:GetItem",
            "arn:aws:dynamodb:us-east-1:123456789012:table?*",
        ),
    ] {
        assert_refused(allow(a, r), ProblemKind::TooWide);
    }
    assert_refused(
        allow(
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:${aws:UserAgent}",
        ),
        ProblemKind::TooWide,
    );
}

#[test]
fn attack_writing_another_stages_deployment_artifacts_is_refused() {
    for r in [
        "arn:aws:s3:::billing-prod-serverlessdeploymentbucket-*/serverless/billing/prod/*",
        "arn:aws:s3:::serverless-framework-deployments-us-east-1-abcd/serverless/billing/prod/*",
        "arn:aws:s3:::billing-*/*",
    ] {
        let e = refusal(allow("s3:PutObject", r), &guard());
        assert!(
            e.iter().any(|p| p.kind == ProblemKind::OutsideStage),
            "{r}: {e:?}"
        );
    }
    assert_accepted(allow(
        "s3:PutObject",
        "arn:aws:s3:::orders-prod-data/incoming/*",
    ));
}

#[test]
fn attack_changing_another_stages_lambda_settings_is_refused() {
    let f = "arn:aws:lambda:us-east-1:123456789012:function";
    for (action, r) in [
        ("lambda:PutFunctionConcurrency", format!("{f}:orders-dev-api")),
        ("lambda:DeleteAlias", format!("{f}:orders-dev-api:live")),
        ("lambda:PutRuntimeManagementConfig", format!("{f}:orders-api-prod-x")),
        ("lambda:UpdateEventSourceMapping", "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()),
    ] {
        assert_refused(allow(action, &r), ProblemKind::OutsideStage);
    }
}

#[test]
fn attack_reaching_another_stages_data_logs_and_rules_is_refused() {
    for (action, r) in [
        (
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:orders-dev-api",
        ),
        (
            "logs:DeleteLogGroup",
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders-dev-api",
        ),
        (
            "events:PutTargets",
            "arn:aws:events:us-east-1:123456789012:rule/orders-dev-Schedule",
        ),
        (
            "dynamodb:DeleteItem",
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders-development-orders",
        ),
        (
            "sqs:PurgeQueue",
            "arn:aws:sqs:us-east-1:123456789012:orders-api-prod-jobs",
        ),
        ("s3:DeleteObject", "arn:aws:s3:::orders-dev-data/*"),
        (
            "dynamodb:GetItem",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-prod-orders",
        ),
    ] {
        assert_refused(allow(action, r), ProblemKind::OutsideStage);
    }
    // API Gateway management (PATCH /account sets the account's CloudWatch role) is outside what
    // the default boundary allows.
    assert_refused(
        allow("apigateway:PATCH", "arn:aws:apigateway:us-east-1::/account"),
        ProblemKind::NotAllowedHere,
    );
}
