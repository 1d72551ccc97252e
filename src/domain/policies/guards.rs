//! Statements several documents share: the explicit Denies that keep every principal off the
//! provider, off other network configurations and from passing the deployment role anywhere but
//! CloudFormation, and passing this resource's execution roles to Lambda.
//!
//! Evaluated request by request in `tests/e2e/test_attacks.py` and `tests/e2e/test_invoke_and_vpc.py`.

use super::document::Statement;
use super::scope::StageScope;
use serde_json::{json, Value};

/// An explicit Deny of everything on the provider's own function, its log group and its stack, so
/// that no group pattern, today's or a future edit's, can reach the provider (validation already
/// refuses claims whose names cover them). `None` when the provider's names are unknown (`plan`
/// run without them).
pub fn deny_provider(scope: &StageScope) -> Option<Value> {
    (!scope.provider.is_empty()).then(|| {
        json!({
            "Sid": "DenyTheProviderItself",
            "Effect": "Deny",
            "Action": ["lambda:*", "logs:*", "cloudformation:*"],
            "Resource": scope.provider,
        })
    })
}

/// Explicit Denies that keep each function with a scoped `Vpc` on its declared subnets and
/// security groups: creating or reconfiguring it with any other is refused (`lambda:SubnetIds` and
/// `lambda:SecurityGroupIds`, which the Service Authorization Reference lists on CreateFunction and
/// UpdateFunctionConfiguration). The complement of an Allow with `ForAllValues:StringEquals`, as a
/// Deny so that no Allow elsewhere can outweigh it. A request without a VPC configuration carries
/// neither key and is not refused: its role's network rights stay the declared ones regardless.
pub fn deny_other_vpc_config(scope: &StageScope) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, deny) in scope.vpc_denies.iter().enumerate() {
        for (what, key, ids) in [
            ("Subnets", "lambda:SubnetIds", &deny.subnets),
            (
                "SecurityGroups",
                "lambda:SecurityGroupIds",
                &deny.security_groups,
            ),
        ] {
            out.push(json!({
                "Sid": format!("DenyOther{what}{}", i + 1),
                "Effect": "Deny",
                "Action": ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"],
                "Resource": deny.functions,
                "Condition": {"ForAnyValue:StringNotEquals": {key: ids}},
            }));
        }
    }
    out
}

/// A function names only layers the stage may read (its own, and the versions the stack names):
/// Deny, like the VPC fence, so no Allow can outweigh it. Without `Layers` the request carries no
/// `lambda:Layer` and is not refused.
pub fn deny_other_layers(scope: &StageScope) -> Value {
    json!({
        "Sid": "DenyOtherLayers",
        "Effect": "Deny",
        "Action": ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"],
        // A Deny on every function: the Allows name the stage's only, and the documents that hold
        // it have few characters to spare.
        "Resource": "*",
        "Condition": {"ForAnyValue:StringNotLike": {"lambda:Layer": scope.usable_layers}},
    })
}

/// A rule on the default bus receives every event of the account its pattern matches, CloudTrail's
/// records of every principal's API calls included (detail-type `AWS API Call via CloudTrail`,
/// source `aws.{service}`; EventBridge user guide, eb-service-event-cloudtrail). The stage's rules
/// may not name a CloudTrail detail-type, nor an AWS source without a detail-type (which matches
/// that service's CloudTrail records too). `events:detail-type` and `events:source` are the
/// pattern's values (eb-use-conditions). A pattern naming neither (content filters, schedules) is
/// not seen by IAM: README, "What a stage may do to the account". Denied on every rule: the Allows
/// name the stage's only.
pub fn deny_reading_the_accounts_api_calls() -> Vec<Value> {
    vec![
        json!({
            "Sid": "DenyRulesOnCloudTrailRecords",
            "Effect": "Deny",
            "Action": "events:PutRule",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringLike": {"events:detail-type": "*CloudTrail*"}},
        }),
        json!({
            "Sid": "DenyRulesOnAwsSourcesOfAnyDetailType",
            "Effect": "Deny",
            "Action": "events:PutRule",
            "Resource": "*",
            "Condition": {
                "ForAnyValue:StringLike": {"events:source": "aws.*"},
                "Null": {"events:detail-type": "true"},
            },
        }),
    ]
}

/// The deployment role goes to CloudFormation only: the execution-role pattern (every role under
/// the resource's path) covers it too, so passing it to anything else is denied explicitly.
pub fn deny_passing_the_deployment_role_elsewhere(scope: &StageScope) -> Value {
    json!({
        "Sid": "DenyPassingTheDeploymentRoleElsewhere",
        "Effect": "Deny",
        "Action": "iam:PassRole",
        "Resource": scope.deployment_role,
        "Condition": {"StringNotEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
    })
}

/// Reading this resource's execution roles and passing them to Lambda, and only to Lambda
/// (CreateFunction, and UpdateFunctionConfiguration with a Role, need PassRole of it).
pub fn execution_roles(scope: &StageScope) -> Vec<Value> {
    vec![
        Statement::allow(
            "ExecutionRolesRead",
            &["iam:GetRole"],
            vec![scope.roles.clone()],
        )
        .to_json(),
        Statement::allow(
            "ExecutionRolesPass",
            &["iam:PassRole"],
            vec![scope.roles.clone()],
        )
        .when(json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}))
        .to_json(),
    ]
}

/// Lambda checks a VpcConfig's subnets and security groups with the caller's rights, and the
/// function handler waits for a deleted function's network interfaces; EC2 authorises these
/// Describe calls on "*" only. Limited to the stack's region.
pub fn vpc_checks(scope: &StageScope) -> Value {
    Statement::allow(
        "NoResourceScopingVpcChecks",
        &[
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "ec2:DescribeNetworkInterfaces",
        ],
        vec!["*".into()],
    )
    .when(scope.region_only.clone())
    .to_json()
}

/// With a `KmsKeyArn`: what Lambda does with the caller's rights when a function's environment is
/// encrypted with that key (`kmsKeyArn` in serverless.yml; Lambda Developer Guide, "Securing
/// environment variables": `kms:CreateGrant` and `kms:Encrypt` to configure it, `kms:Decrypt` to
/// read it back; AWS::Lambda::Function's handler permissions add `GenerateDataKey` and
/// `DescribeKey`). Only through Lambda (`kms:ViaService`), grants only for Lambda's own use
/// (`kms:GrantIsForAWSResource`); the function's roles get their own grants from the provider.
pub fn service_key_for_lambda(scope: &StageScope) -> Vec<Value> {
    let Some(key) = &scope.service_key else {
        return vec![];
    };
    vec![
        Statement::allow(
            "ServiceKeyThroughLambda",
            &[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:GenerateDataKey",
                "kms:DescribeKey",
            ],
            vec![key.arn.clone()],
        )
        .when(json!({"StringEquals": {"kms:ViaService": key.via_lambda}}))
        .to_json(),
        Statement::allow(
            "ServiceKeyGrantsForLambda",
            &["kms:CreateGrant"],
            vec![key.arn.clone()],
        )
        .when(json!({
            "StringEquals": {"kms:ViaService": key.via_lambda},
            "Bool": {"kms:GrantIsForAWSResource": "true"}
        }))
        .to_json(),
    ]
}
