"""The adversarial suite, evaluated: the documents the provider generates (`serverless-access plan
--json`) and the template's provider role and default boundary (rendered as CloudFormation would),
checked request by request with the IAM evaluator (iam_eval.py). Each test plays one attack of the
threat model and would fail without the defence it names; positive controls keep what real
deployers and functions need allowed. The validator's refusals are unit-tested in
src/domain/attacks.rs; attacks that need the provider running are in test_access.py."""
import json
import os
import subprocess

import pytest

from harness import ACCOUNT, REGION, ROOT
from iam_eval import ALLOW, DENY, Request, allowed, evaluate, glob
from template_render import PROVIDER_FUNCTION, STACK_NAME, Rendered

BIN = os.environ.get("SERVERLESS_ACCESS_BIN", str(ROOT / "target" / "release" / "serverless-access"))
KEYS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"


@pytest.fixture(scope="module")
def template():
    return Rendered({"AllowedKmsKeyArns": KEYS})


def plan(props, template, tmp_path, expect_ok=True):
    f = tmp_path / "props.json"
    f.write_text(json.dumps(props))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVERLESS_ACCESS_")}
    env.update(template.provider_env())
    env["AWS_LAMBDA_FUNCTION_NAME"] = PROVIDER_FUNCTION
    out = subprocess.run([BIN, "plan", "--json", str(f)], capture_output=True, text=True, env=env, timeout=60)
    if not expect_ok:
        assert out.returncode == 2, out
        return out.stdout + out.stderr
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def group_docs(p, kind):
    g = next(g for g in p["groups"] if g["name"].endswith(f"-{kind}"))
    managed = {m["arn"]: m["document"] for m in p["managedPolicies"]}
    return list(g["inline"].values()) + [managed[a] for a in g["attached"]]


PROPS = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}, {"Name": "worker"}]}
PROVIDER_FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PROVIDER_FUNCTION}"
PROVIDER_STACK_ARN = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/0a0a0a0a-1111-2222-3333-444444444444"
PROVIDER_LOGS_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{PROVIDER_FUNCTION}:log-stream:x"


def test_the_evaluator_follows_awss_rules():
    # Version 2012-10-17: without it AWS reads the policy variable below as text.
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}}},
        {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode",
         "Resource": "arn:aws:lambda:r:1:function:${aws:PrincipalTag/svc}-*"},
    ]}
    assert allowed([doc], "S3:getobject", "arn:aws:s3:::b/k")
    assert not allowed([doc], "s3:GetObject", "arn:aws:s3:::b/secret/k")
    assert not allowed([doc], "s3:PutObject", "arn:aws:s3:::b/k")
    assert allowed([doc], "iam:PassRole", "arn:aws:iam::1:role/x", {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allowed([doc], "iam:PassRole", "arn:aws:iam::1:role/x", {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not allowed([doc], "iam:PassRole", "arn:aws:iam::1:role/x")
    assert allowed([doc], "kms:CreateGrant", "k", {"kms:GrantOperations": ["Decrypt"]})
    assert not allowed([doc], "kms:CreateGrant", "k", {"kms:GrantOperations": ["Decrypt", "CreateGrant"]})
    fn = "arn:aws:lambda:r:1:function:orders-api"
    assert allowed([doc], "lambda:UpdateFunctionCode", fn, {"aws:PrincipalTag/svc": "orders"})
    assert not allowed([doc], "lambda:UpdateFunctionCode", fn, {"aws:PrincipalTag/svc": "billing"})
    assert not allowed([doc], "lambda:UpdateFunctionCode", fn)
    boundary = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
                              {"Effect": "Deny", "Action": "s3:GetBucketPolicy", "NotResource": "arn:aws:s3:::b"}]}
    assert allowed([doc], "s3:GetObject", "arn:aws:s3:::b/k", boundary_docs=[boundary])
    assert not allowed([doc], "iam:PassRole", "x", {"iam:PassedToService": "lambda.amazonaws.com"}, boundary_docs=[boundary])
    assert allowed([doc], "s3:GetBucketPolicy", "arn:aws:s3:::b/x")
    assert not allowed([doc], "s3:GetBucketPolicy", "arn:aws:s3:::b/x", boundary_docs=[boundary])
    neg = {"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*",
                          "Condition": {"StringNotEquals": {"s3:prefix": "private"}}}]}
    assert allowed([neg], "s3:ListBucket") and not allowed([neg], "s3:ListBucket", context={"s3:prefix": "private"})
    assert glob("a?", "a1") and not glob("a?", "a12") and glob("a[b]", "a[b]") and not glob("a[b]", "ab")
    none_of = {"Statement": [{"Effect": "Allow", "Action": "x:Y", "Resource": "*",
                              "Condition": {"ForAllValues:StringNotEquals": {"k": ["a", "b"]}}}]}
    assert not allowed([none_of], "x:Y", context={"k": ["a"]}) and allowed([none_of], "x:Y", context={"k": ["c"]})


def test_attack_1_provider_takeover_by_name_is_refused(template, tmp_path):
    reason = plan({"ServiceName": "serverless", "Stage": "access"}, template, tmp_path, expect_ok=False)
    assert "own function" in reason and "own stack" in reason, reason


@pytest.mark.parametrize("action,resource,why", [
    ("lambda:PutFunctionConcurrency", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api",
     "may change only its own stage's functions and layers"),
    ("lambda:DeleteEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
     "may change only its own stage's functions and layers"),
    ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api", "belongs to another stage of orders"),
    ("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-api-prod-x", "belongs to another stage of orders"),
    ("sqs:PurgeQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-development-jobs", "belongs to another stage of orders"),
    ("dynamodb:GetItem", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders-prod-orders", "only its own region's"),
    ("logs:DeleteScheduledQuery", f"arn:aws:logs:{REGION}:{ACCOUNT}:scheduled-query:0a1b2c3d", "is named by a random id"),
    ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/account", "manages API Gateway"),
])
def test_attack_a_role_statement_reaching_beyond_its_stage_is_refused(template, tmp_path, action, resource, why):
    """Issue 19: the validator refuses, through the real binary, what the default boundary denies."""
    props = {"ServiceName": "orders", "Stage": "prod",
             "Functions": [{"Name": "api", "Statements": [{"Effect": "Allow", "Action": action, "Resource": resource}]}]}
    reason = plan(props, template, tmp_path, expect_ok=False)
    assert "function api statement 1" in reason and why in reason, reason


def test_attack_1_every_group_denies_the_provider_even_after_a_careless_allow(template, tmp_path):
    p = plan(PROPS, template, tmp_path)
    careless = {"Statement": [{"Effect": "Allow", "Action": ["lambda:*", "cloudformation:*", "logs:*"], "Resource": "*"}]}
    for kind in ("admin", "developer", "ci"):
        docs = group_docs(p, kind)
        for action, resource in [
            ("lambda:UpdateFunctionCode", PROVIDER_FN_ARN),
            ("lambda:InvokeFunction", PROVIDER_FN_ARN),
            ("lambda:InvokeFunction", PROVIDER_FN_ARN + ":$LATEST"),
            ("cloudformation:UpdateStack", PROVIDER_STACK_ARN),
            ("cloudformation:CreateChangeSet", PROVIDER_STACK_ARN),
            ("logs:GetLogEvents", PROVIDER_LOGS_ARN),
        ]:
            assert evaluate(docs + [careless], Request(action, resource)) == DENY, (kind, action)
        assert allowed(docs + [careless], "lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-api")


ATTACKS_ON_THE_BOUNDARY = [
    ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ("sts:AssumeRole", "arn:aws:iam::210987654321:role/x"),
    ("ssm:SendCommand", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc"),
    ("ssm:StartSession", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc"),
    ("codebuild:StartBuild", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/deploy"),
    ("ecs:ExecuteCommand", f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"),
    ("ec2-instance-connect:SendSSHPublicKey", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc"),
    ("cloudformation:UpdateStack", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/x/1"),
    ("cloudformation:ExecuteChangeSet", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/x/1"),
    ("s3:PutBucketPolicy", "arn:aws:s3:::orders-data"),
    ("kms:PutKeyPolicy", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc"),
    ("kms:CreateGrant", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc"),
    ("secretsmanager:PutResourcePolicy", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:x"),
    ("lambda:AddPermission", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-api"),
    ("events:PutPermission", "*"),
    ("logs:PutResourcePolicy", "*"),
    ("s3:PutAccountPublicAccessBlock", "*"),
    ("ec2:DisableEbsEncryptionByDefault", "*"),
    ("cloudtrail:StopLogging", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org"),
    ("sso-directory:CreateUser", "*"),
    ("route53domains:TransferDomain", "*"),
    ("support:CreateCase", "*"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:billing-prod-api"),
    ("lambda:UpdateFunctionConfiguration", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod2-api"),
    ("lambda:PublishLayerVersion", f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:shared"),
    ("lambda:InvokeFunction", PROVIDER_FN_ARN),
    ("lambda:InvokeFunction", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{STACK_NAME}-ProviderFunction-0ther"),
    ("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK_NAME}-FailureQueue-X"),
    ("s3:PutObject", "arn:aws:s3:::billing-prod-serverlessdeploymentbucket-abc/serverless/billing/prod/x.zip"),
    ("s3:PutObject", "arn:aws:s3:::serverless-framework-deployments-us-east-1-abcd/serverless/billing/prod/x.zip"),
    ("states:UpdateStateMachine", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:billing-prod-x"),
    # Another stage's (or a nesting service's) Lambda settings, data, logs and rules (issue 19).
    ("lambda:PutFunctionConcurrency", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod2-api"),
    ("lambda:DeleteAlias", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api:live"),
    ("lambda:DeleteEventSourceMapping", f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
    ("lambda:CreateEventSourceMapping", "*"),
    ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api"),
    ("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-api-prod-x"),
    ("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-Schedule"),
    ("dynamodb:DeleteItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-development-orders"),
    ("s3:DeleteObject", "arn:aws:s3:::orders-dev-data/x.json"),
    ("logs:DeleteScheduledQuery", f"arn:aws:logs:{REGION}:{ACCOUNT}:scheduled-query:0a1b2c3d"),
    ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/account"),
    ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/apikeys"),
    ("glue:StartJobRun", f"arn:aws:glue:{REGION}:{ACCOUNT}:job/x"),
    ("lambda:PutResourcePolicy", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-api"),
]

ROLE_TAGS = {"aws:PrincipalTag/serverless-access:service": "orders", "aws:PrincipalTag/serverless-access:stage": "prod",
             "aws:PrincipalTag/serverless-access:prefix": "orders-prod"}
# What AWS puts in every request of the stage's own region and account.
HERE = {"aws:RequestedRegion": REGION, "aws:ResourceAccount": ACCOUNT}


@pytest.mark.parametrize("action,resource", ATTACKS_ON_THE_BOUNDARY)
def test_attacks_3_and_5_the_default_boundary_denies_what_the_validator_refuses(template, action, resource):
    """Even a role policy allowing everything (a validator bug) stays inside the boundary."""
    everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    assert evaluate(everything, Request(action, resource, dict(ROLE_TAGS, **HERE)), [template.boundary_document()]) != ALLOW


@pytest.mark.parametrize("action,resource,ctx", [
    ("s3:GetObject", "arn:aws:s3:::orders-prod-data/x.json", {"aws:ResourceAccount": "210987654321"}),
    ("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-prod-orders", {"aws:RequestedRegion": "eu-west-1"}),
    ("s3:PutObject", "arn:aws:s3:::orders-prod-data/x.json", {"aws:RequestedRegion": "eu-west-1"}),
])
def test_the_default_boundary_keeps_the_role_in_its_region_and_account(template, action, resource, ctx):
    everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    boundary = [template.boundary_document()]
    assert evaluate(everything, Request(action, resource, dict(ROLE_TAGS, **HERE)), boundary) == ALLOW
    assert evaluate(everything, Request(action, resource, {**ROLE_TAGS, **HERE, **ctx}), boundary) == DENY


def test_the_account_fence_leaves_requests_without_a_resource_account_alone(template):
    """DenyOtherAccounts is guarded by Null: without the guard, StringNotEquals on an absent
    aws:ResourceAccount would deny (X-Ray's writes name no resource)."""
    everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    ctx = dict(ROLE_TAGS, **{"aws:RequestedRegion": REGION})
    assert evaluate(everything, Request("xray:PutTraceSegments", "*", ctx), [template.boundary_document()]) == ALLOW
    doc = json.loads(json.dumps(template.boundary_document()))
    (fence,) = [st for st in doc["Statement"] if st["Sid"] == "DenyOtherAccounts"]
    del fence["Condition"]["Null"]
    assert evaluate(everything, Request("xray:PutTraceSegments", "*", ctx), [doc]) == DENY


def test_positive_controls_the_boundary_lets_functions_do_their_work(template):
    everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    for action, resource in [
        ("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"),
        ("s3:PutObject", "arn:aws:s3:::orders-prod-data/in/x"),
        ("s3:GetObject", "arn:aws:s3:::acme-shared-reference/x.json"),
        ("dynamodb:Query", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-prod-orders/index/byDate"),
        ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-prod-api:log-stream:x"),
        ("ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/orders/prod"),
        ("sts:GetCallerIdentity", "*"),
        ("lambda:PutFunctionConcurrency", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-api"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orders/db"),
        ("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"),
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"),
        ("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders-prod-x"),
        ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:billing-prod-api"),
        ("lambda:UpdateFunctionConfiguration", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-worker"),
        ("xray:PutTraceSegments", "*"),
        ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc"),
    ]:
        assert evaluate(everything, Request(action, resource, dict(ROLE_TAGS, **HERE)), [template.boundary_document()]) == ALLOW, action


def test_attack_6_the_provider_cannot_edit_its_boundary_or_its_own_role(template):
    role = template.provider_policies()
    boundary_arn = template.ref("DefaultBoundary")
    own_role = template.get_att("ProviderRole", "Arn")
    for action, resource in [
        ("iam:CreatePolicyVersion", boundary_arn),
        ("iam:SetDefaultPolicyVersion", boundary_arn),
        ("iam:DeletePolicy", boundary_arn),
        ("iam:PutRolePolicy", own_role),
        ("iam:UpdateAssumeRolePolicy", own_role),
        ("iam:AttachRolePolicy", own_role),
        ("iam:DeleteRolePermissionsBoundary", own_role),
    ]:
        ctx = {"iam:PermissionsBoundary": boundary_arn, "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
        assert evaluate(role, Request(action, resource, ctx)) == DENY, action
    # What it is for stays allowed: a bounded role under its path.
    ours = f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod/0123456789abcdef/orders-prod-us-east-1-api"
    assert allowed(role, "iam:CreateRole", ours, {"iam:PermissionsBoundary": boundary_arn})
    assert not allowed(role, "iam:CreateRole", ours)
    assert not boundary_arn.startswith(f"arn:aws:iam::{ACCOUNT}:policy/serverless-access/")


def test_attack_7_the_template_refuses_an_iam_path_covering_all_of_iam(template):
    import re
    pattern = template.t["Parameters"]["IamPath"]["AllowedPattern"]
    for bad in ["/", "/*/", "/a*/", "/?/", "//"]:
        assert not re.fullmatch(pattern, bad), bad
    assert re.fullmatch(pattern, "/serverless-access/")


def test_the_provider_role_may_detach_anything_someone_attached_to_its_groups(template):
    role = template.provider_policies()
    group = f"arn:aws:iam::{ACCOUNT}:group/serverless-access/orders/prod/0123456789abcdef/orders-prod-us-east-1-developer"
    assert allowed(role, "iam:DetachGroupPolicy", group, {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    assert not allowed(role, "iam:AttachGroupPolicy", group, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"})
    assert not allowed(role, "iam:DetachGroupPolicy", f"arn:aws:iam::{ACCOUNT}:group/admins", {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"})


def test_the_default_boundary_fits_iams_managed_policy_limit(template):
    doc = template.boundary_document()
    assert len(json.dumps(doc, separators=(",", ":"))) <= 6144
    # With a provider stack name of 40 characters (the DefaultBoundary's comment says so) and three
    # resource accounts, it still fits.
    long = Rendered({"ResourceAccountIds": "111111111111,222222222222,333333333333"})
    long.pseudo["AWS::StackName"] = "s" * 40
    assert len(json.dumps(long.resource("DefaultBoundary")["PolicyDocument"], separators=(",", ":"))) <= 6144


def test_reserved_concurrency_is_optional_and_none_by_default():
    """Accounts with a low concurrency quota (new ones, every account a StackSet reaches) cannot
    reserve any: the template reserves none unless asked."""
    default = Rendered({}).resource("ProviderFunction")
    assert "ReservedConcurrentExecutions" not in default
    assert Rendered({"ReservedConcurrency": "5"}).resource("ProviderFunction")["ReservedConcurrentExecutions"] == "5"


def test_attack_a_claim_of_another_region_cannot_reach_this_regions_deployment_bucket(template, tmp_path):
    """S3 ARNs carry no region: every bucket statement of the groups is limited to the claim's region."""
    p = plan(PROPS, template, tmp_path)
    bucket = "orders-prod-serverlessdeploymentbucket-1a2b3c4d5e6f"
    artifact = f"arn:aws:s3:::{bucket}/serverless/orders/prod/1-2026/orders.zip"
    for kind in ("admin", "developer", "ci"):
        docs = group_docs(p, kind)
        here = {"aws:RequestedRegion": REGION, "s3:ResourceAccount": "123456789012"}
        assert allowed(docs, "s3:PutObject", artifact, here)
        assert not allowed(docs, "s3:PutObject", artifact, dict(here, **{"aws:RequestedRegion": "eu-west-1"}))
        assert not allowed(docs, "s3:ListBucket", f"arn:aws:s3:::{bucket}", dict(here, **{"aws:RequestedRegion": "eu-west-1"}))


def test_attack_a_same_named_bucket_of_another_account_is_out_of_reach(template, tmp_path):
    """S3 ARNs carry no account: every bucket statement of the groups names this account
    (s3:ResourceAccount), so a bucket that matches a pattern elsewhere cannot receive or leak data."""
    p = plan(PROPS, template, tmp_path)
    for bucket in ("orders-prod-serverlessdeploymentbucket-1a2b3c4d5e6f", "serverless-framework-deployments-us-east-1-0a1b2c3d-4e5f"):
        artifact = f"arn:aws:s3:::{bucket}/serverless/orders/prod/1-2026/orders.zip"
        for kind in ("admin", "developer", "ci"):
            docs = group_docs(p, kind)
            mine = {"aws:RequestedRegion": REGION, "s3:ResourceAccount": "123456789012"}
            theirs = dict(mine, **{"s3:ResourceAccount": "210987654321"})
            assert allowed(docs, "s3:PutObject", artifact, mine), (kind, bucket)
            for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
                assert not allowed(docs, action, artifact, theirs), (kind, action, bucket)


# The deployment role (DeployWith: role): whoever may pass it (the stage's groups) acts as it through
# CloudFormation, so its boundary must hold it to its stage even under a policy allowing everything.
ATTACKS_WITH_THE_DEPLOYMENT_ROLE = [
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/x"),
    ("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod/0123456789abcdef/orders-prod-us-east-1-api"),
    ("iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod/0123456789abcdef/orders-prod-us-east-1.deploy"),
    ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"),
    ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/serverless-access/billing/prod/0123456789abcdef/billing-prod-us-east-1-api"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod2/0123456789abcdef/orders-prod2-us-east-1-api"),
    ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:billing-prod-api"),
    ("lambda:AddPermission", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod2-api"),
    ("lambda:CreateFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other"),
    ("lambda:InvokeFunction", PROVIDER_FN_ARN),
    ("lambda:UpdateFunctionCode", PROVIDER_FN_ARN),
    ("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/billing-prod-api"),
    ("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{PROVIDER_FUNCTION}"),
    ("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/billing-prod-x"),
    ("cloudformation:DeleteStack", PROVIDER_STACK_ARN),
    ("s3:PutObject", "arn:aws:s3:::orders-prod-serverlessdeploymentbucket-abc/serverless/orders/prod/x.zip"),
    ("s3:PutObject", "arn:aws:s3:::serverless-framework-deployments-us-east-1-abcd/serverless/billing/prod/x.zip"),
    ("s3:PutBucketPolicy", "arn:aws:s3:::orders-data"),
    ("dynamodb:DeleteTable", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"),
    ("kms:ScheduleKeyDeletion", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc"),
    ("organizations:LeaveOrganization", "*"),
]


@pytest.mark.parametrize("action,resource", ATTACKS_WITH_THE_DEPLOYMENT_ROLE)
def test_the_deployment_boundary_holds_the_deployment_role_to_its_stage(template, action, resource):
    """Not allowed by the boundary (its Allows name the stage; an explicit Deny is not needed)."""
    everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    ctx = dict(ROLE_TAGS, **{"iam:PassedToService": "lambda.amazonaws.com", "aws:RequestedRegion": REGION,
                             "s3:ResourceAccount": ACCOUNT})
    assert evaluate(everything, Request(action, resource, ctx), [template.deployment_boundary_document()]) != ALLOW


def test_positive_controls_the_deployment_boundary_lets_cloudformation_deploy_the_stage(template):
    """With the context the requests carry: this region and account, the ownership tags the stack's
    tags set on a new mapping or API and that it carries afterwards."""
    everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-api"
    here = {"aws:RequestedRegion": REGION, "s3:ResourceAccount": ACCOUNT}
    tagging = {"aws:RequestTag/serverless-access:service": "orders", "aws:RequestTag/serverless-access:stage": "prod"}
    tagged = {"aws:ResourceTag/serverless-access:service": "orders", "aws:ResourceTag/serverless-access:stage": "prod"}
    for action, resource, ctx in [
        ("lambda:CreateFunction", fn, {}),
        ("lambda:AddPermission", f"{fn}:live", {}),
        ("lambda:CreateEventSourceMapping", "*", dict(tagging, **{"lambda:FunctionArn": fn})),
        ("lambda:PublishLayerVersion", f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orders-prod-deps", {}),
        ("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-prod-api", {}),
        ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-prod-x", {}),
        ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis", tagging),
        ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5/stages/prod", tagged),
        ("s3:CreateBucket", "arn:aws:s3:::orders-prod-serverlessdeploymentbucket-abc", {}),
        ("s3:PutBucketPolicy", "arn:aws:s3:::orders-prod-serverlessdeploymentbucket-abc", {}),
        ("s3:GetObject", "arn:aws:s3:::serverless-framework-deployments-us-east-1-abcd/serverless/orders/prod/x.zip", {}),
        ("ec2:DescribeSubnets", "*", {}),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod/0123456789abcdef/orders-prod-us-east-1-api",
         {"iam:PassedToService": "lambda.amazonaws.com"}),
    ]:
        decision = evaluate(everything, Request(action, resource, dict(ROLE_TAGS, **here, **ctx)),
                            [template.deployment_boundary_document()])
        assert decision == ALLOW, action
    # Passing even the stage's own role to anything but Lambda is denied.
    own = f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod/0123456789abcdef/orders-prod-us-east-1-api"
    ctx = dict(ROLE_TAGS, **{"iam:PassedToService": "ec2.amazonaws.com"})
    assert evaluate(everything, Request("iam:PassRole", own, ctx), [template.deployment_boundary_document()]) == DENY


def test_the_provider_gives_the_deployment_boundary_only_to_deployment_role_names(template):
    role = template.provider_policies()
    deployment = template.ref("DeploymentBoundary")
    path = f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod/0123456789abcdef"
    assert allowed(role, "iam:CreateRole", f"{path}/orders-prod-us-east-1.deploy", {"iam:PermissionsBoundary": deployment})
    assert allowed(role, "iam:PutRolePolicy", f"{path}/orders-prod-us-east-1.deploy", {"iam:PermissionsBoundary": deployment})
    # An execution role (a function's, trusted by Lambda) never gets the wider deployment boundary,
    # and no role is created outside the path or without a boundary.
    for name in ("orders-prod-us-east-1-api", "orders-prod-us-east-1-deploy", "orders-prod-us-east-1.deploy/x"):
        assert not allowed(role, "iam:CreateRole", f"{path}/{name}", {"iam:PermissionsBoundary": deployment}), name
    assert not allowed(role, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/elsewhere/x.deploy", {"iam:PermissionsBoundary": deployment})
    assert not allowed(role, "iam:CreateRole", f"{path}/orders-prod-us-east-1.deploy")
    # Neither boundary can be edited by the provider.
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not allowed(role, action, deployment), action


def test_the_deployment_boundary_fits_iams_managed_policy_limit(template):
    assert len(json.dumps(template.deployment_boundary_document(), separators=(",", ":"))) <= 6144
