//! The admin, developer and ci policies for one service and stage.
//!
//! Every group that deploys gets the **deploy** and **deploy-functions** managed policies (what the
//! Serverless CLI calls; with `DeployWith: caller` also what CloudFormation does, from
//! [`super::stack_rights`]); developer and admin add the inline **operate** policy (invoke, read logs,
//! metrics); admin adds the inline **admin** policy (create and delete the stack, empty its deployment
//! bucket). No statement grants an IAM write other than `iam:PassRole` of this resource's own
//! execution roles to Lambda and of its deployment role to CloudFormation, so no group can escalate.
//!
//! Patterns always put a separator after the stage (`{service}-{stage}-*`, `stack/{service}-{stage}/*`),
//! so stage `dev` never matches `dev2` or `development`. `Resource: "*"` appears only in the
//! statements whose Sid starts with `NoResourceScoping`, for actions AWS authorises on `*` only
//! (listed in the README), and those are limited to the stack's region.

use super::names::Naming;
use super::policy::{document, Statement};
use super::spec::{generated_bucket_prefix, DeployWith, Spec, Vpc};
use super::stack_rights::{
    no_resource_scoping_reads, resource_statements, service_key_for_lambda, vpc_checks,
};
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
