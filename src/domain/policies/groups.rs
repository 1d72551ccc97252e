//! The documents of the admin, developer and ci groups for one service and stage.
//!
//! Every group that deploys gets the **deploy** and **deploy-functions** managed policies (what the
//! Serverless CLI calls; with `DeployWith: caller` also what CloudFormation does, from
//! [`super::stage_resources`]); developer and admin add the inline **operate** policy (invoke, read
//! logs, metrics); admin adds the inline **admin** policy (create and delete the stack, empty its
//! deployment bucket). Which kind holds which is decided in [`crate::domain::principals`]; which
//! variant (through the deployment role, or with the caller's rights) in [`super`]. No statement
//! grants an IAM write other than `iam:PassRole` of this resource's own execution roles to Lambda
//! and of its deployment role to CloudFormation, so no group can escalate.
//!
//! `Resource: "*"` appears only in the statements whose Sid starts with `NoResourceScoping`, for
//! actions AWS authorises on `*` only (listed in the README), and those are limited to the stack's
//! region.
//!
//! Evaluated per deployer command in `tests/e2e/test_deployers.py`, `tests/e2e/test_real_deployer.py`
//! and `tests/e2e/test_access.py`; attacks in `tests/e2e/test_attacks.py`.

use super::document::{document, Statement};
use super::guards::{
    deny_other_layers, deny_other_vpc_config, deny_passing_the_deployment_role_elsewhere,
    deny_provider, deny_reading_the_accounts_api_calls, execution_roles, service_key_for_lambda,
    vpc_checks,
};
use super::ownership::{
    cli_api_statement, deny_api_ownership_untag, owned_statements, rest_api_lookup,
};
use super::scope::StageScope;
use super::stage_resources::{layer_version_reads, no_resource_scoping_reads, resource_statements};
use serde_json::{json, Value};

/// The deploy managed policy when CloudFormation deploys with the deployment role: the stack,
/// every stack write bound to that role, passing it to CloudFormation only, and the artifacts.
pub fn deploy_through_role(scope: &StageScope) -> Value {
    let mut statements: Vec<Value> = deny_provider(scope).into_iter().collect();
    statements
        .push(Statement::allow("StackReads", STACK_READS, vec![scope.stack.clone()]).to_json());
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
            vec![scope.stack.clone()],
        )
        .when(role_arn_is(scope))
        .to_json(),
    );
    statements.push(deny_passing_the_deployment_role_elsewhere(scope));
    statements.push(
        Statement::allow(
            "PassTheDeploymentRoleToCloudFormation",
            &["iam:PassRole"],
            vec![scope.deployment_role.clone()],
        )
        .when(json!({"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}))
        .to_json(),
    );
    statements.extend(artifacts(scope));
    // The CLI's own calls on the stage's REST API (its stage, after the deploy); with `caller`
    // the deploy-owned policy holds them.
    statements.push(rest_api_lookup(scope));
    statements.push(cli_api_statement(scope));
    statements.push(deny_api_ownership_untag(scope));
    document(statements)
}

/// The deploy managed policy when CloudFormation deploys with the caller's rights: the stack and
/// the artifacts, passing this resource's roles to Lambda, the function key, and what else
/// CloudFormation does with the deployer's rights (deploy-functions is full).
pub fn deploy_as_caller(scope: &StageScope) -> Value {
    let mut statements: Vec<Value> = deny_provider(scope).into_iter().collect();
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
            vec![scope.stack.clone()],
        )
        .to_json(),
    );
    statements.extend(artifacts(scope));
    statements.extend(execution_roles(scope));
    statements.extend(service_key_for_lambda(scope));
    statements.push(no_resource_scoping_reads(scope));
    statements.push(vpc_checks(scope));
    document(statements)
}

/// Template validation, the deployment bucket and this stage's artifacts in it; Serverless v4's
/// shared bucket when no bucket is named.
fn artifacts(scope: &StageScope) -> Vec<Value> {
    let mut out = vec![
        // AWS authorises template validation on "*" only; limited to the stack's region.
        Statement::allow(
            "NoResourceScopingValidate",
            &["cloudformation:ValidateTemplate"],
            vec!["*".into()],
        )
        .when(scope.region_only.clone())
        .to_json(),
        bucket_list(scope),
        Statement::allow(
            "BucketLocation",
            &["s3:GetBucketLocation"],
            vec![scope.bucket.clone()],
        )
        .when(scope.s3_only.clone())
        .to_json(),
        Statement::allow(
            "Artifacts",
            &[
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
            ],
            vec![scope.artifacts.clone()],
        )
        .when(scope.s3_only.clone())
        .to_json(),
    ];
    out.extend(shared_bucket(scope));
    out
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

/// The condition binding a stack write to the deployment role.
fn role_arn_is(scope: &StageScope) -> Value {
    json!({"StringEquals": {"cloudformation:RoleArn": scope.deployment_role}})
}

/// The deploy-functions managed policy when CloudFormation deploys with the deployment role (a
/// second policy: one would pass IAM's 6,144 characters): what `deploy function`,
/// `rollback function` and `deploy list functions` do without CloudFormation: read and update the
/// stage's functions directly, pass them this resource's roles, use the function key.
pub fn deploy_functions_directly(scope: &StageScope) -> Value {
    let mut statements: Vec<Value> = deny_provider(scope).into_iter().collect();
    statements.extend(deny_other_vpc_config(scope));
    statements.push(deny_other_layers(scope));
    statements.push(
        Statement::allow(
            "DeployFunction",
            &[
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                // `deploy list functions` pages through each function's versions.
                "lambda:ListVersionsByFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
            ],
            vec![scope.functions.clone()],
        )
        .to_json(),
    );
    // `deploy function` sends the function's Layers too.
    statements.push(layer_version_reads(scope));
    statements.extend(execution_roles(scope));
    // `deploy function` sends the function's KMSKeyArn and VpcConfig with its configuration.
    statements.extend(service_key_for_lambda(scope));
    statements.push(vpc_checks(scope));
    document(statements)
}

/// The deploy-owned managed policy with the caller's rights: the stage's APIs and event source
/// mappings by their ownership tags, the region's REST API list the CLI reads, and what the other
/// two deploy policies have no room for: the functions' layers (exact reads, and the `lambda:Layer`
/// fence) and the fence of the stage's rules.
pub fn deploy_owned_as_caller(scope: &StageScope) -> Value {
    let mut statements = vec![deny_other_layers(scope)];
    statements.extend(deny_reading_the_accounts_api_calls());
    statements.extend(owned_statements(scope));
    statements.push(deny_api_ownership_untag(scope));
    statements.push(rest_api_lookup(scope));
    statements.push(layer_version_reads(scope));
    document(statements)
}

/// The deploy-functions managed policy with the caller's rights: what CloudFormation does with the
/// deployer's rights for the stage's functions and their triggers.
pub fn deploy_functions_as_caller(scope: &StageScope) -> Value {
    let mut statements: Vec<Value> = deny_provider(scope).into_iter().collect();
    statements.extend(deny_other_vpc_config(scope));
    statements.extend(resource_statements(scope));
    document(statements)
}

/// Serverless v4's shared deployment bucket (when no `DeploymentBucket` is named): its name from SSM,
/// then, on every deploy, `CreateBucket` and (where that succeeds: us-east-1 answers an owner's
/// repeat with 200) `PutBucketVersioning` (packages/util/src/globalBucket/index.js,
/// packages/engine/src/lib/aws/s3.js); listing only this stage's prefix; artifacts under it. The
/// bucket is every service's, so neither its policy nor its deletion is granted, and its first
/// creation (with `ssm:PutParameter`) is the platform team's (README).
fn shared_bucket(scope: &StageScope) -> Vec<Value> {
    let Some(shared) = &scope.shared else {
        return vec![];
    };
    vec![
        Statement::allow(
            "SharedBucketName",
            &["ssm:GetParameter"],
            vec![shared.parameter.clone()],
        )
        .to_json(),
        Statement::allow(
            "SharedBucketEnsure",
            &[
                "s3:CreateBucket",
                "s3:PutBucketVersioning",
                "s3:GetBucketLocation",
            ],
            vec![shared.bucket.clone()],
        )
        .when(scope.s3_only.clone())
        .to_json(),
        Statement::allow(
            "SharedBucketList",
            &["s3:ListBucket"],
            vec![shared.bucket.clone()],
        )
        .when(scope.s3_stage_prefix_only.clone())
        .to_json(),
        Statement::allow(
            "SharedBucketArtifacts",
            &[
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
            ],
            vec![shared.artifacts.clone()],
        )
        .when(scope.s3_only.clone())
        .to_json(),
    ]
}

/// Listing the deployment bucket: the generated bucket is this stage's alone, so it may be listed
/// whole (HeadBucket needs that); a named bucket may be shared, so only this stage's prefix.
/// S3 ARNs carry no region and no account: the conditions keep a claim of another region off this
/// region's bucket (S3 serves a bucket only from its own region), and every claim off a
/// same-named bucket of another account.
fn bucket_list(scope: &StageScope) -> Value {
    let condition = if scope.bucket_is_generated {
        &scope.s3_only
    } else {
        &scope.s3_stage_prefix_only
    };
    Statement::allow("BucketList", &["s3:ListBucket"], vec![scope.bucket.clone()])
        .when(condition.clone())
        .to_json()
}

/// What making, configuring and deleting Serverless's generated deployment bucket (the stack's
/// `ServerlessDeploymentBucket` and its TLS-only policy) takes.
pub const GENERATED_BUCKET_LIFECYCLE: &[&str] = &[
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
pub fn operate(scope: &StageScope) -> Value {
    document([
        Statement::allow(
            "Invoke",
            &["lambda:InvokeFunction"],
            vec![scope.functions.clone()],
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
            vec![scope.log_groups.clone()],
        )
        .to_json(),
        // CloudWatch metric reads: a metric has no resource type, so "*" (limited to the stack's
        // region) is the only way to read the stage's own numbers.
        Statement::allow(
            "NoResourceScopingMetrics",
            &[
                "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
            ],
            vec!["*".into()],
        )
        .when(scope.region_only.clone())
        .to_json(),
        // The catalog gives GetMetricData and ListMetrics an optional resource type, a dataset,
        // which the "*" above would reach in any account: no stage owns one.
        json!({
            "Sid": "DenyMetricDatasets",
            "Effect": "Deny",
            "Action": ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
            "Resource": scope.metric_datasets,
        }),
    ])
}

/// The admin inline policy when CloudFormation deploys with the deployment role: create and remove
/// the stack only with that role; `remove` empties the generated bucket (CloudFormation creates,
/// configures and deletes it with the role).
pub fn admin_through_role(scope: &StageScope) -> Value {
    let mut statements = vec![
        Statement::allow(
            "StackLifecycleThroughTheDeploymentRole",
            &["cloudformation:CreateStack", "cloudformation:DeleteStack"],
            vec![scope.stack.clone()],
        )
        .when(role_arn_is(scope))
        .to_json(),
        Statement::allow(
            "StackProtection",
            &["cloudformation:UpdateTerminationProtection"],
            vec![scope.stack.clone()],
        )
        .to_json(),
    ];
    statements.extend(bucket_removal(
        scope,
        "DeploymentBucketEmpty",
        &["s3:ListBucket", "s3:ListBucketVersions"],
    ));
    document(statements)
}

/// The admin inline policy with the caller's rights: create and remove the stack and the whole
/// lifecycle of its generated deployment bucket.
pub fn admin_as_caller(scope: &StageScope) -> Value {
    let mut statements = vec![Statement::allow(
        "StackLifecycle",
        &[
            "cloudformation:CreateStack",
            "cloudformation:DeleteStack",
            "cloudformation:UpdateTerminationProtection",
        ],
        vec![scope.stack.clone()],
    )
    .to_json()];
    statements.extend(bucket_removal(
        scope,
        "DeploymentBucketLifecycle",
        GENERATED_BUCKET_LIFECYCLE,
    ));
    document(statements)
}

/// What `serverless remove` does to the buckets when none is named: (v4) empties this stage's prefix
/// of the shared, versioned bucket, every version of every object under it; (v3) empties the
/// generated bucket, which belongs to this stage alone, with `generated_actions` on it. A named
/// DeploymentBucket may be shared by stages, so its lifecycle and policy stay with whoever owns it
/// (PutBucketPolicy there would reach other stages).
fn bucket_removal(
    scope: &StageScope,
    generated_sid: &str,
    generated_actions: &[&str],
) -> Vec<Value> {
    let Some(shared) = &scope.shared else {
        return vec![];
    };
    vec![
        // `remove` first checks the shared bucket with HeadBucket, which S3 authorises as a
        // ListBucket without a prefix (a 403 fails the command): admin may list the key names of
        // the shared bucket of its region; reading and deleting stay limited to its prefix.
        Statement::allow(
            "SharedBucketHead",
            &["s3:ListBucket"],
            vec![shared.bucket.clone()],
        )
        .when(scope.s3_only.clone())
        .to_json(),
        Statement::allow(
            "SharedBucketRemove",
            &["s3:ListBucketVersions"],
            vec![shared.bucket.clone()],
        )
        .when(scope.s3_stage_prefix_only.clone())
        .to_json(),
        Statement::allow(
            "SharedBucketRemoveObjects",
            &["s3:DeleteObject", "s3:DeleteObjectVersion"],
            vec![shared.artifacts.clone()],
        )
        .when(scope.s3_only.clone())
        .to_json(),
        Statement::allow(generated_sid, generated_actions, vec![scope.bucket.clone()])
            .when(scope.s3_only.clone())
            .to_json(),
        Statement::allow(
            "DeploymentBucketObjects",
            &[
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            ],
            vec![scope.all_objects.clone()],
        )
        .when(scope.s3_only.clone())
        .to_json(),
    ]
}
