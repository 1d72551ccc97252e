"""The DeploymentBoundary alone, under an identity policy that allows everything: each fence it
holds on its own, played as an attack on another stage with the context the request would carry
(this region and account unless the attack is another's, the role's ownership tags as principal
tags, the foreign resource's ownership tags), next to the same request on the role's own stage,
which must stay allowed (so each attack fails for the fence it names, not for a context the
boundary never allows). The isolation enumeration (test_isolation_enumeration.py) proves the same
over the whole catalog; these are its readable examples."""
import json

import pytest

from harness import ACCOUNT, REGION
from iam_eval import ALLOW, Request, evaluate
from template_render import Rendered

KEYS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
OTHER_ACCOUNT = "210987654321"
EVERYTHING = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
PRINCIPAL = {"aws:PrincipalTag/serverless-access:service": "orders", "aws:PrincipalTag/serverless-access:stage": "dev",
             "aws:PrincipalTag/serverless-access:prefix": "orders-dev"}
HERE = {"aws:RequestedRegion": REGION, "s3:ResourceAccount": ACCOUNT, "aws:ResourceAccount": ACCOUNT}
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api"
PATH = f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/dev/0123456789abcdef"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
VIA_LAMBDA = {"kms:ViaService": f"lambda.{REGION}.amazonaws.com"}


def tags(kind, stage="dev", service="orders"):
    return {f"aws:{kind}/serverless-access:service": service, f"aws:{kind}/serverless-access:stage": stage}


@pytest.fixture(scope="module")
def boundary():
    return [Rendered({"AllowedKmsKeyArns": KEYS}).deployment_boundary_document()]


def decide(boundary, action, resource, ctx):
    return evaluate(EVERYTHING, Request(action, resource, {**PRINCIPAL, **HERE, **ctx}), boundary)


# (what the attack is, its request, the same request on the role's own stage)
FENCES = [
    ("another stage's generated bucket (dev2 shares the prefix): its policy",
     ("s3:PutBucketPolicy", "arn:aws:s3:::orders-dev2-serverlessdeploymentbucket-1a2b3c4d5e6f", {}),
     ("s3:PutBucketPolicy", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {})),
    ("another stage's generated bucket: deleting it",
     ("s3:DeleteBucket", "arn:aws:s3:::orders-prod-serverlessdeploymentbucket-1a2b3c4d5e6f", {}),
     ("s3:DeleteBucket", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {})),
    ("a service whose name nests (orders-api): its generated bucket",
     ("s3:PutBucketAcl", "arn:aws:s3:::orders-api-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {}),
     ("s3:PutBucketAcl", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {})),
    ("the same bucket name in another account",
     ("s3:PutBucketPolicy", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {"s3:ResourceAccount": OTHER_ACCOUNT}),
     ("s3:PutBucketPolicy", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {})),
    ("the same bucket name, asked in another region (a claim of this stage there)",
     ("s3:PutBucketPolicy", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {"aws:RequestedRegion": "eu-west-1"}),
     ("s3:PutBucketPolicy", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {})),
    ("S3 verbs the old Deny missed (tags, multipart) on any bucket",
     ("s3:TagResource", "arn:aws:s3:::orders-prod-data", {}),
     ("s3:TagResource", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-1a2b3c4d5e6f", {})),
    ("another stage's artifacts in the shared bucket",
     ("s3:GetObject", "arn:aws:s3:::serverless-framework-deployments-us-east-1-0a1b2c3d-4e5f/serverless/orders/dev2/1/orders.zip", {}),
     ("s3:GetObject", "arn:aws:s3:::serverless-framework-deployments-us-east-1-0a1b2c3d-4e5f/serverless/orders/dev/1/orders.zip", {})),
    ("another stage's function: reading its code and environment",
     ("lambda:GetFunction", FN.replace("orders-dev-", "orders-dev2-"), {}), ("lambda:GetFunction", FN, {})),
    ("another stage's function: starving it (reserved concurrency 0)",
     ("lambda:PutFunctionConcurrency", FN.replace("orders-dev-", "orders-prod-"), {}), ("lambda:PutFunctionConcurrency", FN, {})),
    ("another stage's function: its resource policy",
     ("lambda:PutResourcePolicy", FN.replace("orders-dev-", "orders-development-"), {}), ("lambda:PutResourcePolicy", FN, {})),
    ("the same function name in another region",
     ("lambda:UpdateFunctionCode", FN.replace(REGION, "eu-west-1"), {}), ("lambda:UpdateFunctionCode", FN, {})),
    ("another stage's layer in this account",
     ("lambda:GetLayerVersion", f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orders-prod-deps:1", {}),
     ("lambda:GetLayerVersion", f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orders-dev-deps:1", {})),
    ("another stage's log events",
     ("logs:FilterLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-dev2-api", {}),
     ("logs:FilterLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-dev-api", {})),
    ("another stage's rule",
     ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-prod-x", {}),
     ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-x", {})),
    ("the stage's rule sending events to another stage's function",
     ("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-x", {"events:TargetArn": [FN, FN.replace("-dev-", "-prod-")]}),
     ("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-x", {"events:TargetArn": [FN]})),
    ("the region's event bus permissions",
     ("events:PutPermission", "*", {}),  # authorised on "*" only
     ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-x", {})),
    ("another stage's event source mapping, moved to this stage's function",
     ("lambda:UpdateEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {"lambda:FunctionArn": FN, **tags("ResourceTag", "prod")}),
     ("lambda:UpdateEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {"lambda:FunctionArn": FN, **tags("ResourceTag")})),
    ("an untagged (not the stage's) event source mapping",
     ("lambda:DeleteEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111", {"lambda:FunctionArn": FN}),
     ("lambda:DeleteEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {"lambda:FunctionArn": FN, **tags("ResourceTag")})),
    ("the stage's mapping pointed at another stage's function",
     ("lambda:UpdateEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {"lambda:FunctionArn": FN.replace("-dev-", "-dev2-"), **tags("ResourceTag")}),
     ("lambda:UpdateEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {"lambda:FunctionArn": FN, **tags("ResourceTag")})),
    ("a mapping created for another stage's function",
     ("lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": FN.replace("-dev-", "-prod-"), **tags("RequestTag")}),
     ("lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": FN, **tags("RequestTag")})),
    ("a mapping created without the stage's ownership tags",
     ("lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": FN}),
     ("lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": FN, **tags("RequestTag")})),
    ("another stage's mapping retagged as this stage's",
     ("lambda:TagResource", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {**tags("ResourceTag", "prod"), **tags("RequestTag")}),
     ("lambda:TagResource", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111", {**tags("RequestTag")})),
    ("the stage's mapping handed to another stage (retagged)",
     ("lambda:TagResource", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {**tags("ResourceTag"), **tags("RequestTag", "prod")}),
     ("lambda:TagResource", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {**tags("ResourceTag"), **tags("RequestTag")})),
    ("the stage's mapping made nobody's (its ownership tags removed)",
     ("lambda:UntagResource", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {**tags("ResourceTag"), "aws:TagKeys": ["serverless-access:stage"]}),
     ("lambda:UntagResource", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1111",
      {**tags("ResourceTag"), "aws:TagKeys": ["team"]})),
    ("the stage's API made nobody's (its ownership tags removed; the role's own policy relies on this Deny)",
     ("apigateway:DELETE", f"arn:aws:apigateway:{REGION}::/tags/arn%3Aaws%3Aapigateway%3A{REGION}%3A%3A%2Frestapis%2Fa1b2c3d4e5",
      {**tags("ResourceTag"), "aws:TagKeys": ["serverless-access:service"]}),
     ("apigateway:DELETE", f"arn:aws:apigateway:{REGION}::/tags/arn%3Aaws%3Aapigateway%3A{REGION}%3A%3A%2Frestapis%2Fa1b2c3d4e5",
      {**tags("ResourceTag"), "aws:TagKeys": ["team"]})),
    ("another stage's REST API: re-pointing a method",
     ("apigateway:PUT", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5/resources/r1/methods/GET", tags("ResourceTag", "prod")),
     ("apigateway:PUT", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5/resources/r1/methods/GET", tags("ResourceTag"))),
    ("another service's HTTP API: its routes",
     ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/apis/a1b2c3d4e5/routes/r1", tags("ResourceTag", "dev", "billing")),
     ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/apis/a1b2c3d4e5/routes/r1", tags("ResourceTag"))),
    ("an untagged (not the stage's) API: its resource policy",
     ("apigateway:UpdateRestApiPolicy", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5", {}),
     ("apigateway:UpdateRestApiPolicy", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5", tags("ResourceTag"))),
    ("an API created without the stage's ownership tags",
     ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis", {}),
     ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis", tags("RequestTag"))),
    ("an API created as another stage's",
     ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/apis", tags("RequestTag", "prod")),
     ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/apis", tags("RequestTag"))),
    ("the stage's API handed to another stage (retagged)",
     ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5", {**tags("ResourceTag"), **tags("RequestTag", "prod")}),
     ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5", {**tags("ResourceTag"), **tags("RequestTag")})),
    ("the stage's API made nobody's (its ownership tags removed)",
     ("apigateway:DELETE", f"arn:aws:apigateway:{REGION}::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Fa1b2c3d4e5",
      {**tags("ResourceTag"), "aws:TagKeys": ["serverless-access:service"]}),
     ("apigateway:DELETE", f"arn:aws:apigateway:{REGION}::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Fa1b2c3d4e5",
      {**tags("ResourceTag"), "aws:TagKeys": ["team"]})),
    ("the same stage's API in another region",
     ("apigateway:DELETE", "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5", tags("ResourceTag")),
     ("apigateway:DELETE", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5", tags("ResourceTag"))),
    ("account-level API Gateway settings (the CloudWatch role)",
     ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/account", tags("ResourceTag")),
     ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5", tags("ResourceTag"))),
    ("another account's key, through Lambda",
     ("kms:Decrypt", KEY.replace(ACCOUNT, OTHER_ACCOUNT), VIA_LAMBDA), ("kms:Decrypt", KEY, VIA_LAMBDA)),
    ("a key of another region",
     ("kms:Encrypt", KEY.replace(REGION, "eu-west-1"), {"kms:ViaService": "lambda.eu-west-1.amazonaws.com"}),
     ("kms:Encrypt", KEY, VIA_LAMBDA)),
    ("an allowed key used directly, not through Lambda",
     ("kms:Decrypt", KEY, {}), ("kms:Decrypt", KEY, VIA_LAMBDA)),
    ("an allowed key used through another service",
     ("kms:Decrypt", KEY, {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}), ("kms:Decrypt", KEY, VIA_LAMBDA)),
    ("a grant for a principal of the role's choosing",
     ("kms:CreateGrant", KEY, {**VIA_LAMBDA, "kms:GrantIsForAWSResource": "false"}),
     ("kms:CreateGrant", KEY, {**VIA_LAMBDA, "kms:GrantIsForAWSResource": "true"})),
    ("passing the same stage's role of another region (a claim of this stage there)",
     ("iam:PassRole", f"{PATH}/orders-dev-eu-west-1-api", {"iam:PassedToService": "lambda.amazonaws.com"}),
     ("iam:PassRole", f"{PATH}/orders-dev-{REGION}-api", {"iam:PassedToService": "lambda.amazonaws.com"})),
    ("passing another stage's role (dev2 shares the prefix)",
     ("iam:PassRole", f"{PATH.replace('/dev/', '/dev2/')}/orders-dev2-{REGION}-api", {"iam:PassedToService": "lambda.amazonaws.com"}),
     ("iam:PassRole", f"{PATH}/orders-dev-{REGION}-api", {"iam:PassedToService": "lambda.amazonaws.com"})),
    ("passing the stage's own deployment role to Lambda",
     ("iam:PassRole", f"{PATH}/orders-dev-{REGION}.deploy", {"iam:PassedToService": "lambda.amazonaws.com"}),
     ("iam:PassRole", f"{PATH}/orders-dev-{REGION}-api", {"iam:PassedToService": "lambda.amazonaws.com"})),
    ("reading another stage's role",
     ("iam:GetRole", f"{PATH.replace('/dev/', '/prod/')}/orders-prod-{REGION}-api", {}),
     ("iam:GetRole", f"{PATH}/orders-dev-{REGION}-api", {})),
    ("VPC checks in another region",
     ("ec2:DescribeSubnets", "*", {"aws:RequestedRegion": "eu-west-1"}), ("ec2:DescribeSubnets", "*", {})),
]


@pytest.mark.parametrize("attack,request_,own", FENCES, ids=[f[0] for f in FENCES])
def test_the_deployment_boundary_alone_holds_the_stage(boundary, attack, request_, own):
    assert decide(boundary, *own) == ALLOW, f"the control: the same request on the own stage ({own})"
    assert decide(boundary, *request_) != ALLOW, attack


def test_layers_outside_the_service_are_readable_and_other_stages_layers_are_not(boundary):
    """Functions use AWS's and vendors' layers (readable where their owner grants them) and shared
    layers of other services of this account: the stack lists the exact versions (Layers), which the
    role's own policy holds; the boundary, one for every stage, reads every layer not named like the
    service, in this region. A layer named like the service is another stage's or a nesting
    service's, in any account (the validator refuses them in Layers)."""
    readable = [f"arn:aws:lambda:{REGION}:580247275435:layer:LambdaInsightsExtension:38",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:billing-shared:4",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orders-dev-deps:2"]  # the stage's own
    for layer in readable:
        assert decide(boundary, "lambda:GetLayerVersion", layer, {"aws:ResourceAccount": layer.split(":")[4]}) == ALLOW, layer
    for layer in (f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orders-prod-deps:2",
                  f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orders-dev2-deps:2",
                  f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orders-api-dev-deps:2",
                  f"arn:aws:lambda:{REGION}:210987654321:layer:orders-prod-deps:2"):
        assert decide(boundary, "lambda:GetLayerVersion", layer, {"aws:ResourceAccount": layer.split(":")[4]}) != ALLOW, layer
    # Another region's copy: the request's region is the layer's.
    other_region = "arn:aws:lambda:eu-west-1:580247275435:layer:LambdaInsightsExtension:38"
    assert decide(boundary, "lambda:GetLayerVersion", other_region, {"aws:RequestedRegion": "eu-west-1"}) != ALLOW
    # Reading is all: no publishing, deleting or sharing of a layer outside the stage.
    for action in ("lambda:PublishLayerVersion", "lambda:DeleteLayerVersion", "lambda:AddLayerVersionPermission"):
        assert decide(boundary, action, readable[1], {}) != ALLOW, action


def test_the_deployment_boundary_keeps_keys_to_lambda_and_the_allowed_keys():
    """The boundary knows no stage's key: it holds the template's AllowedKmsKeyArns, through Lambda
    only (see UNSCOPABLE in test_isolation_enumeration.py). With one key allowed, another key of the
    same account is out of reach; with none, every key is."""
    one = [Rendered({"AllowedKmsKeyArns": KEY}).deployment_boundary_document()]
    other = KEY[:-4] + "ffff"
    assert decide(one, "kms:Decrypt", KEY, VIA_LAMBDA) == ALLOW
    assert decide(one, "kms:Decrypt", other, VIA_LAMBDA) != ALLOW
    none = [Rendered({"AllowedKmsKeyArns": ""}).deployment_boundary_document()]
    assert not any("kms:Decrypt" in json.dumps(s.get("Action")) for s in none[0]["Statement"] if s["Effect"] == "Allow")
    assert decide(none, "kms:Decrypt", KEY, VIA_LAMBDA) != ALLOW


def test_the_deployment_boundary_fits_with_several_allowed_keys():
    """The boundary lists AllowedKmsKeyArns (the template's description says how many fit): four full
    key ARNs with the default IamPath stay under IAM's 6,144 characters of a managed policy."""
    keys = ",".join(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{i}f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" for i in range(4))
    doc = Rendered({"AllowedKmsKeyArns": keys}).deployment_boundary_document()
    assert len(json.dumps(doc, separators=(",", ":"))) <= 6144
