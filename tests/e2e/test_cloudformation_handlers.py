"""CloudFormation's own calls, evaluated: every permission the resource handlers of the types
Serverless emits may need (`cfn_handler_permissions.py`, from the registry schemas) is allowed to
whoever CloudFormation acts as — the deployment role under its boundary (`DeployWith: role`), or
the deploying group (`caller`) — on this stage's resources, or is named below as outside what the
groups support, with the property that would need it. The same calls on another stage are refused."""
import pytest

import iam_eval
from cfn_handler_permissions import HANDLER_PERMISSIONS
from harness import ACCOUNT, iam_snapshot
from template_render import Rendered
from test_policies import broad, group_docs

R = "us-east-1"
# The provider of these tests runs with this AllowedKmsKeyArns (conftest.py), which the deployment
# boundary's key statement lists.
TEMPLATE = Rendered({"AllowedKmsKeyArns": f"arn:aws:kms:{R}:{ACCOUNT}:key/*"})

# Permissions a handler calls only for properties Serverless does not emit or the groups do not
# support (README, "Outside what the groups support"), each with why.
OUTSIDE = {
    "elasticfilesystem:DescribeMountTargets": "FileSystemConfigs (EFS mounts)",
    "s3files:ListMountTargets": "FileSystemConfigs (S3 Files mounts)",
    "lambda:GetCodeSigningConfig": "CodeSigningConfigArn",
    "lambda:PutFunctionCodeSigningConfig": "CodeSigningConfigArn",
    "lambda:DeleteFunctionCodeSigningConfig": "CodeSigningConfigArn",
    "lambda:PassCapacityProvider": "CapacityProviderConfig (Lambda managed instances)",
    "lambda:PutFunctionScalingConfig": "CapacityProviderConfig (Lambda managed instances)",
    "codedeploy:CreateDeployment": "Alias RoutingConfig with CodeDeploy (deployment preferences)",
    "codedeploy:GetDeployment": "Alias RoutingConfig with CodeDeploy",
    "codedeploy:GetDeploymentConfig": "Alias RoutingConfig with CodeDeploy",
    "codedeploy:GetDeploymentGroup": "Alias RoutingConfig with CodeDeploy",
    "codedeploy:StopDeployment": "Alias RoutingConfig with CodeDeploy",
    "firehose:TagDeliveryStream": "log group deliveries to Firehose",
    "s3:REST.PUT.OBJECT": "log group deliveries to S3 (not an IAM action)",
    "logs:AssociateKmsKey": "log group KmsKeyId",
    "logs:DisassociateKmsKey": "log group KmsKeyId",
    "logs:CreateLogDelivery": "log group deliveries",
    "logs:PutDataProtectionPolicy": "log group DataProtectionPolicy",
    "logs:DeleteDataProtectionPolicy": "log group DataProtectionPolicy",
    "logs:PutIndexPolicy": "log group FieldIndexPolicies",
    "logs:DeleteIndexPolicy": "log group FieldIndexPolicies",
    "logs:PutResourcePolicy": "log group ResourcePolicyDocument (a resource-policy writer)",
    "logs:DeleteResourcePolicy": "log group ResourcePolicyDocument",
    "logs:DescribeResourcePolicies": "log group ResourcePolicyDocument",
    "logs:PutBearerTokenAuthentication": "log group BearerTokenAuthenticationEnabled",
    "logs:PutLogGroupDeletionProtection": "log group DeletionProtectionEnabled",
    "iam:PassRole": "roles for rules, API integrations, methods and buckets (RoleArn, CredentialsArn, replication); "
                    "functions' own roles are checked separately below",
    "s3:GetObject": "API definitions from S3 (BodyS3Location); functions' and layers' code is checked separately below",
    "s3:getObject": "HTTP API definitions from S3 (BodyS3Location)",
    "apigateway:TagResource": "not an API Gateway IAM action (tags are apigateway:PUT/DELETE on /tags)",
    "apigateway:UntagResource": "not an API Gateway IAM action",
    "s3:DeleteObject": "the bucket is emptied by `remove` with admin's rights before DeleteStack (V3 remove/lib/bucket.js)",
    "kms:Decrypt": "event source mappings' KmsKeyArn (filter criteria); function keys are checked separately below",
    "kms:DescribeKey": "event source mappings' KmsKeyArn; function keys are checked separately below",
    "kms:GenerateDataKey": "event source mappings' KmsKeyArn; function keys are checked separately below",
}
# Of Serverless's deployment bucket (deploymentBucket: versioning, blockPublicAccess, tags, its
# encryption), everything else the bucket handler may configure is outside.
BUCKET_PROPERTIES = {"s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketAcl", "s3:PutBucketVersioning",
                     "s3:PutBucketTagging", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock",
                     "s3:PutBucketOwnershipControls"}


def ownership(stage, kind):
    """The stage's ownership tags as CloudFormation's requests carry them: the stack's tags
    (Serverless provider.stackTags), set on a mapping or API when it is created (`RequestTag`) and
    carried by it, and inherited by a REST API's children, afterwards (`ResourceTag`)."""
    return {f"aws:{kind}/serverless-access:service": "orders", f"aws:{kind}/serverless-access:stage": stage}


def request(resource_type, action, stage="dev"):
    """A representative request of `action` by the handler of `resource_type` on stage `stage`."""
    s = f"orders-{stage}"
    fn = f"arn:aws:lambda:{R}:{ACCOUNT}:function:{s}-api"
    service = action.split(":")[0]
    ctx = {}
    if service == "lambda":
        if "EventSourceMapping" in action or resource_type == "AWS::Lambda::EventSourceMapping":
            resource = "*" if action == "lambda:CreateEventSourceMapping" else f"arn:aws:lambda:{R}:{ACCOUNT}:event-source-mapping:0f0f0f0f-1111-2222-3333-444444444444"
            ctx["lambda:FunctionArn"] = fn
            if action != "lambda:CreateEventSourceMapping":
                ctx.update(ownership(stage, "ResourceTag"))
            if action in ("lambda:CreateEventSourceMapping", "lambda:TagResource"):
                ctx.update(ownership(stage, "RequestTag"))
        elif "Layer" in action:
            resource = f"arn:aws:lambda:{R}:{ACCOUNT}:layer:{s}-deps:3"
        elif resource_type in ("AWS::Lambda::Alias", "AWS::Lambda::Version") or "Provisioned" in action:
            resource = f"{fn}:live"
        else:
            resource = fn
        if action == "lambda:AddPermission":
            ctx["lambda:Principal"] = "apigateway.amazonaws.com"
        if "FunctionUrlConfig" in action:
            ctx["lambda:FunctionUrlAuthType"] = "AWS_IAM"
    elif service == "logs":
        # Wildcard-only in the Service Authorization Reference: asked on "*", as AWS authorises them.
        resource = "*" if action in ("logs:DescribeLogGroups", "logs:DescribeIndexPolicies") else f"arn:aws:logs:{R}:{ACCOUNT}:log-group:/aws/lambda/{s}-api"
    elif service == "events":
        resource = f"arn:aws:events:{R}:{ACCOUNT}:rule/{s}-ApiEventsRuleSchedule1-ABCDEF123456"
        if action == "events:PutTargets":
            ctx["events:TargetArn"] = [fn]
    elif service == "apigateway":
        api = "/apis/a1b2c3d4e5/routes/r1" if "V2" in resource_type else "/restapis/a1b2c3d4e5/resources/r1/methods/GET"
        resource = f"arn:aws:apigateway:{R}::{api}"
        ctx.update(ownership(stage, "ResourceTag"))
        if action == "apigateway:POST" and resource_type in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
            # Creating the API itself: the collection, tagged by the request.
            resource = f"arn:aws:apigateway:{R}::/{'apis' if 'V2' in resource_type else 'restapis'}"
            ctx = ownership(stage, "RequestTag")
    elif service == "s3":
        resource = f"arn:aws:s3:::{s}-serverlessdeploymentbucket-1a2b3c4d5e6f"
        if action.startswith("s3:GetObject"):  # the code of a function or layer
            resource += f"/serverless/orders/{stage}/1700000000000-2026-11-23T00:00:00.000Z/orders.zip"
        ctx["s3:ResourceAccount"] = ACCOUNT
    elif service == "ec2":
        resource = "*"
    elif service == "kms":
        resource = KEY
        ctx["kms:ViaService"] = f"lambda.{R}.amazonaws.com"
        if action == "kms:CreateGrant":
            ctx["kms:GrantIsForAWSResource"] = "true"
    else:
        resource = "*"
    return action, resource, ctx


KEY = f"arn:aws:kms:{R}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
MODES = ["role", "caller"]


@pytest.fixture(params=MODES)
def acting(request, cfn, iam, key_arn):
    """Whoever CloudFormation acts as for orders/dev: (documents, boundary, principal tags) per group."""
    global KEY
    KEY = key_arn
    assert cfn.create(broad(key_arn, DeployWith=request.param))["Status"] == "SUCCESS"
    snap = iam_snapshot(iam)
    if request.param == "role":
        (role,) = snap["deployment_roles"].values()
        tags = {f"aws:PrincipalTag/{k}": v for k, v in role["tags"].items()}
        return {"deployment role": (list(role["inline"].values()), [TEMPLATE.deployment_boundary_document()], tags)}, snap
    return {g: (group_docs(snap, f"orders-dev-us-east-1-{g}"), None, {}) for g in ("admin", "developer", "ci")}, snap


def may(principal, action, resource, ctx):
    docs, boundary, tags = principal
    return iam_eval.allowed(docs, action, resource, dict(ctx, **tags, **{"aws:RequestedRegion": R}), boundary)


def handler_calls():
    for resource_type, handlers in HANDLER_PERMISSIONS.items():
        for action in sorted(set(handlers["create"]) | set(handlers["update"]) | set(handlers["delete"])):
            if action in OUTSIDE or (resource_type == "AWS::S3::Bucket" and action.startswith("s3") and action not in BUCKET_PROPERTIES):
                continue
            yield resource_type, action


def test_every_handler_call_of_serverless_resource_types_is_allowed_on_the_stage(acting):
    who, _ = acting
    for name, principal in who.items():
        # With the caller's rights, the generated bucket is created and deleted with the stack:
        # admin's (README); an update leaves it alone.
        bucket_too = name in ("deployment role", "admin")
        refused = [(t, a) for t, a in handler_calls()
                   if (bucket_too or not t.startswith("AWS::S3::")) and not may(principal, *request(t, a))]
        assert not refused, f"{name} cannot: {refused}"


def test_the_same_handler_calls_on_another_stage_are_refused(acting):
    who, _ = acting
    for name, principal in who.items():
        for stage in ("dev2", "prod"):
            reached = []
            for t, a in handler_calls():
                action, resource, ctx = request(t, a, stage)
                if resource == "*" or action.startswith(("apigateway:", "kms:")):
                    continue  # "*" only (region-limited); API ids are random (README); the key is the stage's own
                if action in ("lambda:TagResource", "lambda:UntagResource") and "event-source-mapping" in resource:
                    continue  # the region's mapping tags (README)
                if may(principal, action, resource, ctx):
                    reached.append((t, action, resource))
            assert not reached, f"{name} reaches stage {stage}: {reached}"


def test_what_the_handlers_do_with_the_callers_rights_for_functions_is_allowed_only_for_this_resource(acting):
    """Lambda checks with the caller's rights: passing the function's role, reading its code (and
    layers'), the VPC checks and the function's environment key."""
    who, snap = acting
    own_role = snap["roles"]["orders-dev-us-east-1-api"]["arn"]
    artifact = "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f/serverless/orders/dev/1700000000000-2026-11-23T00:00:00.000Z/orders.zip"
    via_lambda = {"kms:ViaService": f"lambda.{R}.amazonaws.com"}
    for name, principal in who.items():
        assert may(principal, "iam:PassRole", own_role, {"iam:PassedToService": "lambda.amazonaws.com"}), name
        assert not may(principal, "iam:PassRole", own_role.replace("-api", "-x").replace("/dev/", "/prod/"), {"iam:PassedToService": "lambda.amazonaws.com"})
        for action in ("s3:GetObject", "s3:GetObjectVersion"):
            assert may(principal, action, artifact, {"s3:ResourceAccount": ACCOUNT}), (name, action)
            other_stage = artifact.replace("orders-dev-", "orders-prod-").replace("/orders/dev/", "/orders/prod/")
            assert not may(principal, action, other_stage, {"s3:ResourceAccount": ACCOUNT}), (name, action)
        for action in ("kms:CreateGrant", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"):
            ctx = dict(via_lambda, **({"kms:GrantIsForAWSResource": "true"} if action == "kms:CreateGrant" else {}))
            assert may(principal, action, KEY, ctx), (name, action)
            # Not directly, not another key, and no grant for a principal of the caller's choosing.
            assert not may(principal, action, KEY, {}), (name, action)
            assert not may(principal, action, KEY.replace("00000000", "11111111") if "00000000" in KEY else KEY[:-4] + "ffff", ctx)
        assert not may(principal, "kms:CreateGrant", KEY, dict(via_lambda, **{"kms:GrantIsForAWSResource": "false"}))
