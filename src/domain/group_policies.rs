//! The admin, developer and ci policies for one service and stage.
//!
//! Every group that deploys gets the **deploy** managed policy (what `serverless deploy` with change sets
//! needs); developer and admin add the inline **operate** policy (invoke, read logs, metrics); admin
//! adds the inline **admin** policy (create and delete the stack and its deployment bucket). No
//! statement grants an IAM write other than `iam:PassRole` of this resource's own execution roles to
//! Lambda, so no group can escalate.
//!
//! Patterns always put a separator after the stage (`{service}-{stage}-*`, `stack/{service}-{stage}/*`),
//! so stage `dev` never matches `dev2` or `development`. `Resource: "*"` appears only in the
//! statements whose Sid starts with `NoResourceScoping`, for actions AWS authorises on `*` only
//! (listed in the README), and those are limited to the stack's region.

use super::names::Naming;
use super::policy::{document, Statement};
use super::spec::{generated_bucket_prefix, DeployWith, Spec, Vpc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Name of the inline policy with interactive rights (developer, admin).
pub const OPERATE_POLICY_NAME: &str = "operate";
/// Name of the inline policy with stack and bucket lifecycle rights (admin).
pub const ADMIN_POLICY_NAME: &str = "admin";

/// ARNs the policies are built from.
pub(super) struct Arns {
    pub(super) stack: String,
    pub(super) functions: String,
    pub(super) bucket: String,
    pub(super) artifacts: String,
    pub(super) all_objects: String,
    pub(super) log_groups: String,
    pub(super) roles: String,
    /// The deployment role (exists with `DeployWith: role`).
    pub(super) deployment_role: String,
    pub(super) shared_bucket: String,
    pub(super) shared_artifacts: String,
    /// For S3: this region and this account (S3 ARNs carry neither, so a bucket name pattern could
    /// match another account's bucket, or, for a claim of another region, this region's).
    pub(super) s3_only: Value,
    pub(super) stage_prefixes: Value,
    pub(super) region_only: Value,
    pub(super) p: String,
    pub(super) r: String,
    pub(super) a: String,
    pub(super) s: String,
}

impl Arns {
    pub(super) fn new(spec: &Spec) -> Self {
        let n: &Naming = &spec.naming;
        let (p, r, a, s) = (
            n.partition.clone(),
            n.region.clone(),
            n.account.clone(),
            n.stack_name(),
        );
        let bucket = match &spec.deployment_bucket {
            Some(b) => format!("arn:{p}:s3:::{b}"),
            None => format!("arn:{p}:s3:::{}*", generated_bucket_prefix(n)),
        };
        Arns {
            stack: format!("arn:{p}:cloudformation:{r}:{a}:stack/{s}/*"),
            functions: format!("arn:{p}:lambda:{r}:{a}:function:{s}-*"),
            artifacts: format!("{bucket}/serverless/{}/{}/*", n.service, n.stage),
            all_objects: format!("{bucket}/*"),
            bucket,
            log_groups: format!("arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{s}-*"),
            roles: n.role_arn("*"),
            deployment_role: n.role_arn(&n.deployment_role_name()),
            shared_artifacts: format!(
                "{}/serverless/{}/{}/*",
                shared_bucket_arn(&p, &r),
                n.service,
                n.stage
            ),
            shared_bucket: shared_bucket_arn(&p, &r),
            s3_only: json!({"StringEquals": {"aws:RequestedRegion": r, "s3:ResourceAccount": a}}),
            // Serverless lists with both forms (with and without the trailing slash).
            stage_prefixes: json!([
                format!("serverless/{}/{}", n.service, n.stage),
                format!("serverless/{}/{}/*", n.service, n.stage)
            ]),
            region_only: json!({"StringEquals": {"aws:RequestedRegion": r}}),
            p,
            r,
            a,
            s,
        }
    }
}

/// Serverless v4's shared deployment bucket of region `r`: `serverless-framework-deployments-{r}-`
/// and the first 13 characters of a UUID (packages/util/src/globalBucket/deployment.js). Thirteen
/// `?`, not `*`: a `*` would run on into object keys (`…-x/serverless/billing/prod/serverless/orders/…`).
fn shared_bucket_arn(p: &str, r: &str) -> String {
    format!("arn:{p}:s3:::serverless-framework-deployments-{r}-?????????????")
}

/// SSM parameter where Serverless v4 keeps the shared bucket's name.
pub const SHARED_BUCKET_PARAMETER: &str = "serverless-framework/deployment/s3-bucket";

/// An explicit Deny of everything on the provider's own function, its log group and its stack, so
/// that no group pattern, today's or a future edit's, can reach the provider (validation already
/// refuses claims whose names cover them). `None` when the provider's names are unknown (`plan`
/// run without them).
pub fn deny_provider(spec: &Spec) -> Option<Value> {
    let n = &spec.naming;
    let (p, r, a) = (&n.partition, &n.region, &n.account);
    let mut resources = Vec::new();
    if let Some(f) = &spec.provider_function {
        resources.push(format!("arn:{p}:lambda:{r}:{a}:function:{f}"));
        resources.push(format!("arn:{p}:lambda:{r}:{a}:function:{f}:*"));
        resources.push(format!("arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{f}"));
        resources.push(format!("arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{f}:*"));
    }
    if let Some(st) = &spec.provider_stack {
        resources.push(format!("arn:{p}:cloudformation:{r}:{a}:stack/{st}/*"));
    }
    (!resources.is_empty()).then(|| {
        serde_json::json!({
            "Sid": "DenyTheProviderItself",
            "Effect": "Deny",
            "Action": ["lambda:*", "logs:*", "cloudformation:*"],
            "Resource": resources,
        })
    })
}

/// Explicit Denies that keep each function with a scoped `Vpc` on its declared subnets and
/// security groups: creating or reconfiguring it with any other is refused (`lambda:SubnetIds` and
/// `lambda:SecurityGroupIds`, which the Service Authorization Reference lists on CreateFunction and
/// UpdateFunctionConfiguration). The complement of an Allow with `ForAllValues:StringEquals`, as a
/// Deny so that no Allow elsewhere can outweigh it. A request without a VPC configuration carries
/// neither key and is not refused: its role's network rights stay the declared ones regardless.
pub fn deny_other_vpc_config(spec: &Spec) -> Vec<Value> {
    let mut by_config: BTreeMap<(&BTreeSet<String>, &BTreeSet<String>), Vec<String>> =
        BTreeMap::new();
    for f in &spec.functions {
        if let Vpc::Scoped {
            subnets,
            security_groups,
        } = &f.vpc
        {
            by_config
                .entry((subnets, security_groups))
                .or_default()
                .extend(spec.naming.function_arns(&f.name));
        }
    }
    let mut out = Vec::new();
    for (i, ((subnets, security_groups), functions)) in by_config.into_iter().enumerate() {
        for (what, key, ids) in [
            ("Subnets", "lambda:SubnetIds", subnets),
            ("SecurityGroups", "lambda:SecurityGroupIds", security_groups),
        ] {
            out.push(json!({
                "Sid": format!("DenyOther{what}{}", i + 1),
                "Effect": "Deny",
                "Action": ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"],
                "Resource": functions,
                "Condition": {"ForAnyValue:StringNotEquals": {key: ids}},
            }));
        }
    }
    out
}

/// The deploy managed policy: every group that deploys has it. The stack and the artifacts; with
/// `DeployWith: role`, passing the deployment role to CloudFormation and every stack write bound
/// to it; with `caller`, passing this resource's roles to Lambda and the function key.
pub fn deploy_policy(spec: &Spec) -> Value {
    let x = Arns::new(spec);
    let through_role = spec.deploy_with == DeployWith::Role;
    let mut statements: Vec<Value> = deny_provider(spec).into_iter().collect();
    if through_role {
        statements
            .push(Statement::allow("StackReads", STACK_READS, vec![x.stack.clone()]).to_json());
        // Every stack write names the deployment role (`cloudformation:RoleArn`; a request without
        // RoleARN has no key and is refused), so no stack operation runs with the caller's own
        // rights and no stack is switched to another role. ExecuteChangeSet carries no RoleArn:
        // it runs with the role its change set was created with, which CreateChangeSet binds.
        statements.push(
            Statement::allow(
                "StackWritesThroughTheDeploymentRole",
                &[
                    "cloudformation:UpdateStack",
                    "cloudformation:CreateChangeSet",
                ],
                vec![x.stack.clone()],
            )
            .when(role_arn_is(&x))
            .to_json(),
        );
        statements.push(deny_passing_the_deployment_role_elsewhere(&x));
        statements.push(
            Statement::allow(
                "PassTheDeploymentRoleToCloudFormation",
                &["iam:PassRole"],
                vec![x.deployment_role.clone()],
            )
            .when(json!({"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}))
            .to_json(),
        );
    } else {
        statements.push(
            Statement::allow(
                "StackDeploys",
                &[
                    STACK_READS,
                    &[
                        "cloudformation:UpdateStack",
                        "cloudformation:CreateChangeSet",
                    ],
                ]
                .concat(),
                vec![x.stack.clone()],
            )
            .to_json(),
        );
    }
    statements.extend([
        // AWS authorises template validation on "*" only; limited to the stack's region.
        Statement::allow(
            "NoResourceScopingValidate",
            &["cloudformation:ValidateTemplate"],
            vec!["*".into()],
        )
        .when(x.region_only.clone())
        .to_json(),
        bucket_list(spec, &x),
        Statement::allow(
            "BucketLocation",
            &["s3:GetBucketLocation"],
            vec![x.bucket.clone()],
        )
        .when(x.s3_only.clone())
        .to_json(),
        Statement::allow(
            "Artifacts",
            &[
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
            ],
            vec![x.artifacts.clone()],
        )
        .when(x.s3_only.clone())
        .to_json(),
    ]);
    statements.extend(shared_bucket(spec, &x));
    if !through_role {
        // What else CloudFormation does with the deployer's rights (deploy-functions is full).
        statements.extend(execution_roles(&x));
        statements.extend(service_key_for_lambda(spec));
        statements.push(no_resource_scoping_reads(&x));
        statements.push(vpc_checks(&x));
    }
    document(statements)
}

/// Stack reads every deploying group needs, and the change-set steps that never choose a role.
const STACK_READS: &[&str] = &[
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:ListChangeSets",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource",
    "cloudformation:DescribeStackResources",
    "cloudformation:ListStackResources",
    "cloudformation:GetTemplate",
    "cloudformation:GetTemplateSummary",
];

/// The deployment role goes to CloudFormation only: the execution-role pattern (every role under
/// the resource's path) covers it too, so passing it to anything else is denied explicitly.
pub(super) fn deny_passing_the_deployment_role_elsewhere(x: &Arns) -> Value {
    json!({
        "Sid": "DenyPassingTheDeploymentRoleElsewhere",
        "Effect": "Deny",
        "Action": "iam:PassRole",
        "Resource": x.deployment_role,
        "Condition": {"StringNotEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
    })
}

/// The condition binding a stack write to the deployment role.
fn role_arn_is(x: &Arns) -> Value {
    json!({"StringEquals": {"cloudformation:RoleArn": x.deployment_role}})
}

/// Reading this resource's execution roles and passing them to Lambda, and only to Lambda
/// (CreateFunction, and UpdateFunctionConfiguration with a Role, need PassRole of it).
pub(super) fn execution_roles(x: &Arns) -> Vec<Value> {
    vec![
        Statement::allow(
            "ExecutionRolesRead",
            &["iam:GetRole"],
            vec![x.roles.clone()],
        )
        .to_json(),
        Statement::allow(
            "ExecutionRolesPass",
            &["iam:PassRole"],
            vec![x.roles.clone()],
        )
        .when(json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}))
        .to_json(),
    ]
}

/// The deploy-functions managed policy: every group that deploys has it too (a second policy: one
/// would pass IAM's 6,144 characters). With `DeployWith: role`, what `deploy function` and
/// `rollback function` do without CloudFormation: update the stage's functions directly, pass
/// them this resource's roles, use the function key. With `caller`, what CloudFormation does with
/// the deployer's rights for the stage's functions and their triggers.
pub fn deploy_functions_policy(spec: &Spec) -> Value {
    let x = Arns::new(spec);
    let mut statements: Vec<Value> = deny_provider(spec).into_iter().collect();
    statements.extend(deny_other_vpc_config(spec));
    match spec.deploy_with {
        DeployWith::Role => {
            statements.push(
                Statement::allow(
                    "DeployFunction",
                    &[
                        "lambda:GetFunction",
                        "lambda:GetFunctionConfiguration",
                        "lambda:UpdateFunctionCode",
                        "lambda:UpdateFunctionConfiguration",
                    ],
                    vec![x.functions.clone()],
                )
                .to_json(),
            );
            statements.extend(execution_roles(&x));
            // `deploy function` sends the function's KMSKeyArn and VpcConfig with its configuration.
            statements.extend(service_key_for_lambda(spec));
            statements.push(vpc_checks(&x));
        }
        DeployWith::Caller => statements.extend(resource_statements(spec, &x)),
    }
    document(statements)
}

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

/// Serverless v4's shared deployment bucket (when no `DeploymentBucket` is named): its name from SSM,
/// then, on every deploy, `CreateBucket` and (where that succeeds: us-east-1 answers an owner's
/// repeat with 200) `PutBucketVersioning` (packages/util/src/globalBucket/index.js,
/// packages/engine/src/lib/aws/s3.js); listing only this stage's prefix; artifacts under it. The
/// bucket is every service's, so neither its policy nor its deletion is granted, and its first
/// creation (with `ssm:PutParameter`) is the platform team's (README).
fn shared_bucket(spec: &Spec, x: &Arns) -> Vec<Value> {
    if spec.deployment_bucket.is_some() {
        return vec![];
    }
    let n = &spec.naming;
    vec![
        Statement::allow(
            "SharedBucketName",
            &["ssm:GetParameter"],
            vec![format!(
                "arn:{}:ssm:{}:{}:parameter/{SHARED_BUCKET_PARAMETER}",
                n.partition, n.region, n.account
            )],
        )
        .to_json(),
        Statement::allow(
            "SharedBucketEnsure",
            &[
                "s3:CreateBucket",
                "s3:PutBucketVersioning",
                "s3:GetBucketLocation",
            ],
            vec![x.shared_bucket.clone()],
        )
        .when(x.s3_only.clone())
        .to_json(),
        Statement::allow(
            "SharedBucketList",
            &["s3:ListBucket"],
            vec![x.shared_bucket.clone()],
        )
        .when(json!({
            "StringLike": {"s3:prefix": x.stage_prefixes},
            "StringEquals": {"aws:RequestedRegion": x.r, "s3:ResourceAccount": x.a}
        }))
        .to_json(),
        Statement::allow(
            "SharedBucketArtifacts",
            &[
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
            ],
            vec![x.shared_artifacts.clone()],
        )
        .when(x.s3_only.clone())
        .to_json(),
    ]
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

/// Listing the deployment bucket: the generated bucket is this stage's alone, so it may be listed
/// whole (HeadBucket needs that); a named bucket may be shared, so only this stage's prefix.
fn bucket_list(spec: &Spec, x: &Arns) -> Value {
    let statement = Statement::allow("BucketList", &["s3:ListBucket"], vec![x.bucket.clone()]);
    // S3 ARNs carry no region and no account: the conditions keep a claim of another region off
    // this region's bucket (S3 serves a bucket only from its own region), and every claim off a
    // same-named bucket of another account.
    match spec.deployment_bucket {
        None => statement.when(x.s3_only.clone()).to_json(),
        Some(_) => statement
            .when(json!({
                "StringLike": {"s3:prefix": x.stage_prefixes},
                "StringEquals": {"aws:RequestedRegion": x.r, "s3:ResourceAccount": x.a}
            }))
            .to_json(),
    }
}

/// What making, configuring and deleting Serverless's generated deployment bucket (the stack's
/// `ServerlessDeploymentBucket` and its TLS-only policy) takes.
pub(super) const GENERATED_BUCKET_LIFECYCLE: &[&str] = &[
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:GetBucketVersioning",
    "s3:PutBucketVersioning",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls",
    "s3:GetBucketAcl",
];

/// The operate inline policy: interactive rights of developer and admin.
pub fn operate_policy(spec: &Spec) -> Value {
    let x = Arns::new(spec);
    document([
        Statement::allow(
            "Invoke",
            &["lambda:InvokeFunction"],
            vec![x.functions.clone()],
        )
        .to_json(),
        Statement::allow(
            "ReadLogs",
            &[
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:GetQueryResults",
            ],
            vec![x.log_groups.clone()],
        )
        .to_json(),
        // CloudWatch metric reads have no resource types; limited to the stack's region.
        Statement::allow(
            "NoResourceScopingMetrics",
            &[
                "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
            ],
            vec!["*".into()],
        )
        .when(x.region_only.clone())
        .to_json(),
    ])
}

/// The admin inline policy: create and remove the stack and its deployment bucket.
pub fn admin_policy(spec: &Spec) -> Value {
    let x = Arns::new(spec);
    let through_role = spec.deploy_with == DeployWith::Role;
    let mut statements = vec![];
    if through_role {
        statements.push(
            Statement::allow(
                "StackLifecycleThroughTheDeploymentRole",
                &["cloudformation:CreateStack", "cloudformation:DeleteStack"],
                vec![x.stack.clone()],
            )
            .when(role_arn_is(&x))
            .to_json(),
        );
        statements.push(
            Statement::allow(
                "StackProtection",
                &["cloudformation:UpdateTerminationProtection"],
                vec![x.stack.clone()],
            )
            .to_json(),
        );
    } else {
        statements.push(
            Statement::allow(
                "StackLifecycle",
                &[
                    "cloudformation:CreateStack",
                    "cloudformation:DeleteStack",
                    "cloudformation:UpdateTerminationProtection",
                ],
                vec![x.stack.clone()],
            )
            .to_json(),
        );
    }
    if spec.deployment_bucket.is_none() {
        // `serverless remove` (v4) empties this stage's prefix of the shared, versioned bucket:
        // every version of every object under it.
        // `remove` first checks the shared bucket with HeadBucket, which S3 authorises as a
        // ListBucket without a prefix (a 403 fails the command): admin may list the key names of
        // the shared bucket of its region; reading and deleting stay limited to its prefix.
        statements.push(
            Statement::allow(
                "SharedBucketHead",
                &["s3:ListBucket"],
                vec![x.shared_bucket.clone()],
            )
            .when(x.s3_only.clone())
            .to_json(),
        );
        statements.push(
            Statement::allow(
                "SharedBucketRemove",
                &["s3:ListBucketVersions"],
                vec![x.shared_bucket.clone()],
            )
            .when(json!({
                "StringLike": {"s3:prefix": x.stage_prefixes},
                "StringEquals": {"aws:RequestedRegion": x.r, "s3:ResourceAccount": x.a}
            }))
            .to_json(),
        );
        statements.push(
            Statement::allow(
                "SharedBucketRemoveObjects",
                &["s3:DeleteObject", "s3:DeleteObjectVersion"],
                vec![x.shared_artifacts.clone()],
            )
            .when(x.s3_only.clone())
            .to_json(),
        );
        // The generated bucket belongs to this stage alone. With the deployment role,
        // CloudFormation creates, configures and deletes it with that role, and admin's `remove`
        // only empties it; otherwise admin does all of it. A named DeploymentBucket may be shared
        // by stages, so its lifecycle and policy stay with whoever owns it (PutBucketPolicy there
        // would reach other stages).
        let (sid, actions): (&str, &[&str]) = if through_role {
            (
                "DeploymentBucketEmpty",
                &["s3:ListBucket", "s3:ListBucketVersions"],
            )
        } else {
            ("DeploymentBucketLifecycle", GENERATED_BUCKET_LIFECYCLE)
        };
        statements.push(
            Statement::allow(sid, actions, vec![x.bucket.clone()])
                .when(x.s3_only.clone())
                .to_json(),
        );
        statements.push(
            Statement::allow(
                "DeploymentBucketObjects",
                &[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                ],
                vec![x.all_objects.clone()],
            )
            .when(x.s3_only.clone())
            .to_json(),
        );
    }
    document(statements)
}
