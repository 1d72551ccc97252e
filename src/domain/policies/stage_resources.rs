//! What CloudFormation does for a stage's resources: its functions and their triggers, logs and
//! APIs. The deployment role holds these (`DeployWith: role`); with `DeployWith: caller` the
//! deploying groups do (their deploy-functions policy).
//!
//! Evaluated against CloudFormation's handler permissions in
//! `tests/e2e/test_cloudformation_handlers.py`, and against attacks in `tests/e2e/test_attacks.py`.

use super::document::Statement;
use super::scope::StageScope;
use serde_json::{json, Value};

/// What CloudFormation needs for the stage's functions and their triggers: in the deploy-functions
/// policy (`DeployWith: caller`) or in the deployment role's policy.
pub fn resource_statements(scope: &StageScope) -> Vec<Value> {
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
            vec![scope.functions.clone()],
        )
        .to_json(),
        // Resource-policy statements only for the AWS services Serverless's events use, by
        // exact name: a pattern such as `*.amazonaws.com` would also match a role ARN
        // (`arn:aws:iam::<other>:role/x.amazonaws.com`), and so another account.
        Statement::allow(
            "FunctionPermissionsForServices",
            &["lambda:AddPermission"],
            vec![scope.functions.clone()],
        )
        .when(json!({"StringEquals": {"lambda:Principal": scope.service_principals}}))
        .to_json(),
        function_urls(scope),
        Statement::allow(
            "Layers",
            &[
                "lambda:PublishLayerVersion",
                "lambda:GetLayerVersion",
                "lambda:DeleteLayerVersion",
            ],
            vec![scope.layers.clone()],
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
            ],
            vec![scope.log_groups.clone()],
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
            vec![scope.rules.clone()],
        )
        .to_json(),
        // A rule's targets: this stage's functions (any qualifier) and queues, in this account and
        // region only, so no rule forwards events elsewhere.
        Statement::allow(
            "EventRuleTargets",
            &["events:PutTargets"],
            vec![scope.rules.clone()],
        )
        .when(json!({"ForAllValues:ArnLike": {"events:TargetArn": [
            scope.functions,
            scope.function_qualifiers,
            scope.queues,
        ]}}))
        .to_json(),
    ]
    .into_iter()
    .chain(public_url_permission(scope))
    .collect()
}

/// CreateFunction and UpdateFunctionConfiguration with `Layers` need `GetLayerVersion` of each
/// (Lambda checks it with the caller's rights): the stage's own layers and the exact versions the
/// stack names, no other (`deny_other_layers` keeps functions to the same list). Both stand where
/// functions are created or updated: the deployment role, `deploy function`'s policy, and with
/// `DeployWith: caller` the deploy policy, without the Deny (no room; Lambda's own check of the
/// reads holds there).
pub fn layer_version_reads(scope: &StageScope) -> Value {
    Statement::allow(
        "LayerVersionReads",
        &["lambda:GetLayerVersion"],
        scope.usable_layers.clone(),
    )
    .to_json()
}

/// Reads AWS authorises on `"*"` only (Service Authorization Reference) that CloudFormation's
/// handlers make: listing event source mappings, log groups and log groups' index policies (the
/// log group handler reads them). Limited to the stack's region.
pub fn no_resource_scoping_reads(scope: &StageScope) -> Value {
    Statement::allow(
        "NoResourceScopingResourceReads",
        &[
            "lambda:ListEventSourceMappings",
            "logs:DescribeLogGroups",
            "logs:DescribeIndexPolicies",
        ],
        vec!["*".into()],
    )
    .when(scope.region_only.clone())
    .to_json()
}

/// Function URLs: IAM-authorized only, unless the resource allows public ones
/// (`PublicFunctionUrls`), which then also need the permission for everyone that a public URL is.
fn function_urls(scope: &StageScope) -> Value {
    Statement::allow(
        "FunctionUrls",
        &[
            "lambda:CreateFunctionUrlConfig",
            "lambda:UpdateFunctionUrlConfig",
        ],
        vec![scope.functions.clone()],
    )
    .when(json!({"StringEquals": {"lambda:FunctionUrlAuthType": scope.function_url_auth_types}}))
    .to_json()
}

/// With `PublicFunctionUrls`: the permission a public (`NONE`) URL needs, for everyone, on the URL
/// only (`lambda:FunctionUrlAuthType`), never for plain invocation.
fn public_url_permission(scope: &StageScope) -> Option<Value> {
    // Since October 2025 a public URL also needs a `lambda:InvokeFunction` permission for `*`
    // (`InvokedViaFunctionUrl`, which no condition key exposes): the opt-in therefore allows the
    // permission for everyone as such. Public means public: whoever reaches the URL invokes it.
    scope.public_function_urls.then(|| {
        Statement::allow(
            "PublicFunctionUrlPermission",
            &["lambda:AddPermission"],
            vec![scope.functions.clone()],
        )
        .when(json!({"StringEquals": {"lambda:Principal": "*"}}))
        .to_json()
    })
}
