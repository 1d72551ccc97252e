//! What CloudFormation does for a stage's resources: its functions and their triggers, logs and
//! APIs, the VPC checks and the function key Lambda uses with the caller's rights. The deployment
//! role holds these (`DeployWith: role`); with `DeployWith: caller` the deploying groups do
//! (their deploy-functions and deploy policies).

use super::group_policies::Arns;
use super::policy::Statement;
use super::spec::Spec;
use serde_json::{json, Value};

/// Lambda checks a VpcConfig's subnets and security groups with the caller's rights, and the
/// function handler waits for a deleted function's network interfaces; EC2 authorises these
/// Describe calls on "*" only. Limited to the stack's region.
pub(super) fn vpc_checks(x: &Arns) -> Value {
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
    .when(x.region_only.clone())
    .to_json()
}

/// What CloudFormation needs for the stage's functions and their triggers: in the deploy-functions
/// policy (`DeployWith: caller`) or in the deployment role's policy.
pub(super) fn resource_statements(spec: &Spec, x: &Arns) -> Vec<Value> {
    let (p, r, a, s) = (&x.p, &x.r, &x.a, &x.s);
    [
        Statement::allow(
            "Functions",
            &[
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PublishVersion",
                "lambda:ListVersionsByFunction",
                "lambda:CreateAlias",
                "lambda:UpdateAlias",
                "lambda:DeleteAlias",
                "lambda:GetAlias",
                "lambda:ListAliases",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:GetFunctionConcurrency",
                "lambda:PutFunctionEventInvokeConfig",
                "lambda:UpdateFunctionEventInvokeConfig",
                "lambda:DeleteFunctionEventInvokeConfig",
                "lambda:GetFunctionEventInvokeConfig",
                "lambda:DeleteFunctionUrlConfig",
                "lambda:GetFunctionUrlConfig",
                // The function handler reads and keeps these settings (AWS::Lambda::Function's
                // and ::Version's handler permissions); provisioned concurrency of versions and aliases.
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:GetFunctionRecursionConfig",
                "lambda:PutFunctionRecursionConfig",
                "lambda:GetRuntimeManagementConfig",
                "lambda:PutRuntimeManagementConfig",
                "lambda:GetProvisionedConcurrencyConfig",
                "lambda:PutProvisionedConcurrencyConfig",
                "lambda:DeleteProvisionedConcurrencyConfig",
            ],
            vec![x.functions.clone()],
        )
        .to_json(),
        // Resource-policy statements only for the AWS services Serverless's events use, by
        // exact name: a pattern such as `*.amazonaws.com` would also match a role ARN
        // (`arn:aws:iam::<other>:role/x.amazonaws.com`), and so another account.
        Statement::allow(
            "FunctionPermissionsForServices",
            &["lambda:AddPermission"],
            vec![x.functions.clone()],
        )
        .when(json!({"StringEquals": {"lambda:Principal": service_principals(r)}}))
        .to_json(),
        function_urls(spec, x),
        // CreateEventSourceMapping has no resource type; the function it targets is the condition.
        Statement::allow(
            "EventSourceMappings",
            &[
                "lambda:GetEventSourceMapping",
                "lambda:UpdateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
            ],
            vec![format!("arn:{p}:lambda:{r}:{a}:event-source-mapping:*")],
        )
        .when(json!({"ArnLike": {"lambda:FunctionArn": x.functions}}))
        .to_json(),
        // CloudFormation tags the mappings it creates (its stack tags); tags grant nothing here.
        Statement::allow(
            "EventSourceMappingTags",
            &[
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
            ],
            vec![format!("arn:{p}:lambda:{r}:{a}:event-source-mapping:*")],
        )
        .to_json(),
        Statement::allow(
            "EventSourceMappingCreate",
            &["lambda:CreateEventSourceMapping"],
            // AWS authorises CreateEventSourceMapping on "*" only; the condition names the function.
            vec!["*".into()],
        )
        .when(json!({"ArnLike": {"lambda:FunctionArn": x.functions}}))
        .to_json(),
        Statement::allow(
            "Layers",
            &[
                "lambda:PublishLayerVersion",
                "lambda:GetLayerVersion",
                "lambda:DeleteLayerVersion",
            ],
            vec![format!("arn:{p}:lambda:{r}:{a}:layer:{s}-*")],
        )
        .to_json(),
        // CreateFunction with Layers needs GetLayerVersion of each, and functions use layers of
        // other accounts (AWS's Lambda Insights, vendors' extensions): reading any layer version of
        // the region.
        Statement::allow(
            "LayerVersionReads",
            &["lambda:GetLayerVersion"],
            vec![format!("arn:{p}:lambda:{r}:*:layer:*:*")],
        )
        .to_json(),
        Statement::allow(
            "LogGroups",
            &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                "logs:TagLogGroup",
                "logs:ListTagsLogGroup",
                "logs:GetDataProtectionPolicy",
                "logs:DescribeIndexPolicies",
            ],
            vec![x.log_groups.clone()],
        )
        .to_json(),
        Statement::allow(
            "EventRules",
            &[
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:EnableRule",
                "events:DisableRule",
                "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource",
                "events:UntagResource",
                "events:ListTagsForResource",
            ],
            vec![format!("arn:{p}:events:{r}:{a}:rule/{s}-*")],
        )
        .to_json(),
        // A rule's targets: this stage's functions (any qualifier) and queues, in this account and
        // region only, so no rule forwards events elsewhere.
        Statement::allow(
            "EventRuleTargets",
            &["events:PutTargets"],
            vec![format!("arn:{p}:events:{r}:{a}:rule/{s}-*")],
        )
        .when(json!({"ForAllValues:ArnLike": {"events:TargetArn": [
            x.functions,
            format!("{}:*", x.functions),
            format!("arn:{p}:sqs:{r}:{a}:{s}-*"),
        ]}}))
        .to_json(),
        // API ids are random, so AWS offers no name-level scoping: limited to this region's REST and
        // HTTP APIs (see README, "API Gateway").
        Statement::allow(
            "ApiGateway",
            &[
                "apigateway:GET",
                "apigateway:POST",
                "apigateway:PUT",
                "apigateway:PATCH",
                "apigateway:DELETE",
                "apigateway:UpdateRestApiPolicy",
            ],
            vec![
                format!("arn:{p}:apigateway:{r}::/restapis"),
                format!("arn:{p}:apigateway:{r}::/restapis/*"),
                format!("arn:{p}:apigateway:{r}::/apis"),
                format!("arn:{p}:apigateway:{r}::/apis/*"),
                format!("arn:{p}:apigateway:{r}::/tags/*"),
            ],
        )
        .to_json(),
    ]
    .into_iter()
    .chain(public_url_permission(spec, x))
    .collect()
}

/// With a `KmsKeyArn`: what Lambda does with the caller's rights when a function's environment is
/// encrypted with that key (`kmsKeyArn` in serverless.yml; Lambda Developer Guide, "Securing
/// environment variables": `kms:CreateGrant` and `kms:Encrypt` to configure it, `kms:Decrypt` to
/// read it back; AWS::Lambda::Function's handler permissions add `GenerateDataKey` and
/// `DescribeKey`). Only through Lambda (`kms:ViaService`), grants only for Lambda's own use
/// (`kms:GrantIsForAWSResource`); the function's roles get their own grants from the provider.
pub(super) fn service_key_for_lambda(spec: &Spec) -> Vec<Value> {
    let Some(key) = &spec.kms_key else {
        return vec![];
    };
    let via_lambda = format!("lambda.{}.amazonaws.com", spec.naming.region);
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
        .when(json!({"StringEquals": {"kms:ViaService": via_lambda}}))
        .to_json(),
        Statement::allow(
            "ServiceKeyGrantsForLambda",
            &["kms:CreateGrant"],
            vec![key.arn.clone()],
        )
        .when(json!({
            "StringEquals": {"kms:ViaService": via_lambda},
            "Bool": {"kms:GrantIsForAWSResource": "true"}
        }))
        .to_json(),
    ]
}

/// Reads AWS authorises on `"*"` only (Service Authorization Reference) that CloudFormation's
/// handlers make: listing event source mappings and log groups. Limited to the stack's region.
pub(super) fn no_resource_scoping_reads(x: &Arns) -> Value {
    Statement::allow(
        "NoResourceScopingResourceReads",
        &["lambda:ListEventSourceMappings", "logs:DescribeLogGroups"],
        vec!["*".into()],
    )
    .when(x.region_only.clone())
    .to_json()
}

/// Function URLs: IAM-authorized only, unless the resource allows public ones
/// (`PublicFunctionUrls`), which then also need the permission for everyone that a public URL is.
fn function_urls(spec: &Spec, x: &Arns) -> Value {
    let mut auth_types = vec!["AWS_IAM"];
    if spec.public_function_urls {
        auth_types.push("NONE");
    }
    Statement::allow(
        "FunctionUrls",
        &[
            "lambda:CreateFunctionUrlConfig",
            "lambda:UpdateFunctionUrlConfig",
        ],
        vec![x.functions.clone()],
    )
    .when(json!({"StringEquals": {"lambda:FunctionUrlAuthType": auth_types}}))
    .to_json()
}

/// With `PublicFunctionUrls`: the permission a public (`NONE`) URL needs, for everyone, on the URL
/// only (`lambda:FunctionUrlAuthType`), never for plain invocation.
fn public_url_permission(spec: &Spec, x: &Arns) -> Option<Value> {
    // Since October 2025 a public URL also needs a `lambda:InvokeFunction` permission for `*`
    // (`InvokedViaFunctionUrl`, which no condition key exposes): the opt-in therefore allows the
    // permission for everyone as such. Public means public: whoever reaches the URL invokes it.
    spec.public_function_urls.then(|| {
        Statement::allow(
            "PublicFunctionUrlPermission",
            &["lambda:AddPermission"],
            vec![x.functions.clone()],
        )
        .when(json!({"StringEquals": {"lambda:Principal": "*"}}))
        .to_json()
    })
}

/// The service principals Serverless's events give permissions to (API Gateway for `http`,
/// `httpApi` and `websocket`; EventBridge for `schedule`, `eventBridge`, `cloudwatchEvent`; S3; SNS;
/// CloudWatch Logs of the region for `cloudwatchLog`; IoT; Cognito user pools; ALB; Alexa).
fn service_principals(region: &str) -> Vec<String> {
    let mut out: Vec<String> = [
        "apigateway.amazonaws.com",
        "events.amazonaws.com",
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "iot.amazonaws.com",
        "cognito-idp.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "alexa-appkit.amazon.com",
        "alexa-connectedhome.amazon.com",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    out.push(format!("logs.{region}.amazonaws.com"));
    out
}
