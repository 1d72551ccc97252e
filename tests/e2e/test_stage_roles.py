"""Stage roles (`AssumableBy`) through the real binary, every provider call authorized against the
rendered ProviderRole (the `deployments` fixture fails the test on any denial): Create, Update (a
trust change in place, a kind removed, session-duration drift repaired) and Delete, in both
deployment modes; each role read back from moto holds exactly its group's documents. A stage role
trusting an issuer whose OIDC provider the account lacks is answered FAILED naming both, before any
write."""
import pytest

from harness import ACCOUNT
from harness import iam_snapshot as snapshot_of

KINDS = (".admin", ".developer", ".ci", ".invoker")


def iam_snapshot(iam):
    """The harness's snapshot, the stage roles apart (with their MaxSessionDuration)."""
    snap = snapshot_of(iam)
    snap["stage_roles"] = {n: r for n, r in snap["roles"].items() if n.endswith(KINDS)}
    snap["roles"] = {n: r for n, r in snap["roles"].items() if not n.endswith(KINDS)}
    for n, r in snap["stage_roles"].items():
        r["max_session"] = iam.get_role(RoleName=n)["Role"].get("MaxSessionDuration")
    return snap

GITHUB = "https://token.actions.githubusercontent.com"
GITHUB_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
PREFIX = "orders-prod-us-east-1"


def props(mode, assumable):
    return {
        "ServiceName": "orders", "Stage": "prod", "DeployWith": mode, "Tags": {"team": "payments"},
        "Groups": ["admin", "developer", "ci", "invoker"],
        "Functions": [{"Name": "api", "Invoke": "true"}],
        "AssumableBy": assumable,
    }


ALL_KINDS = {
    "admin": [{"Principal": f"arn:aws:iam::{ACCOUNT}:role/platform-admins"}],
    "developer": [{"IdentityCenterPermissionSet": "OrdersDevelopers"}],
    "ci": [{"GitHubActions": {"Repository": "acme/orders", "Environment": "prod"}}],
    "invoker": [{"IdentityCenterPermissionSet": "OrdersCallers"}],
}


def assert_roles_hold_their_groups(snap, kinds, boundary):
    assert sorted(snap["stage_roles"]) == sorted(f"{PREFIX}.{k}" for k in kinds)
    for kind in kinds:
        role, group = snap["stage_roles"][f"{PREFIX}.{kind}"], snap["groups"][f"{PREFIX}-{kind}"]
        assert role["attached"] and role["attached"] == group["attached"], kind
        assert role["inline"] == group["inline"], kind
        assert role["boundary"] == boundary
        assert role["tags"]["serverless-access:service"] == "orders" and role["tags"]["serverless-access:stage"] == "prod"
        assert role["max_session"] == 3600


@pytest.mark.parametrize("mode", ["role", "caller"])
def test_stage_roles_are_created_updated_in_place_and_deleted_with_zero_denials(cfn, iam, mode):
    iam.create_open_id_connect_provider(Url=GITHUB, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40])
    boundary = cfn.provider_env["SERVERLESS_ACCESS_STAGE_ROLE_BOUNDARY_ARN"]
    p = props(mode, ALL_KINDS)
    a = cfn.create(p)
    assert a["Status"] == "SUCCESS", a
    snap = iam_snapshot(iam)
    assert_roles_hold_their_groups(snap, ALL_KINDS, boundary)
    for kind in ALL_KINDS:
        assert a["Data"][f"{kind.capitalize()}RoleArn"] == snap["stage_roles"][f"{PREFIX}.{kind}"]["arn"]
    ci = snap["stage_roles"][f"{PREFIX}.ci"]
    assert ci["trust"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"Federated": GITHUB_PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                       "token.actions.githubusercontent.com:sub": "repo:acme/orders:environment:prod"}}}]
    dev = snap["stage_roles"][f"{PREFIX}.developer"]["trust"]["Statement"][0]
    assert dev["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert dev["Condition"]["ArnLike"]["aws:PrincipalArn"][0].endswith("/AWSReservedSSO_OrdersDevelopers_" + "?" * 16)

    # Update: the ci trust changes (a branch), admin is no longer assumable, and someone raised the
    # developer role's session duration: repaired with UpdateRole.
    iam.update_role(RoleName=f"{PREFIX}.developer", MaxSessionDuration=43200)
    ci_id = ci["id"]
    new_kinds = {**ALL_KINDS, "ci": [{"GitHubActions": {"Repository": "acme/orders", "Branch": "main"}}]}
    del new_kinds["admin"]
    new = props(mode, new_kinds)
    b = cfn.update(a["PhysicalResourceId"], new, p)
    assert b["Status"] == "SUCCESS", b
    assert "AdminRoleArn" not in b["Data"]
    snap = iam_snapshot(iam)
    assert_roles_hold_their_groups(snap, new_kinds, boundary)
    ci = snap["stage_roles"][f"{PREFIX}.ci"]
    assert ci["id"] == ci_id, "the trust is changed in place, the role is not recreated"
    assert ci["trust"]["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        "repo:acme/orders:ref:refs/heads/main"
    assert f"{PREFIX}-admin" in snap["groups"], "the group stays; only its role goes"

    assert cfn.delete(a["PhysicalResourceId"], new)["Status"] == "SUCCESS"
    snap = iam_snapshot(iam)
    assert snap["stage_roles"] == {} and snap["policies"] == {} and snap["groups"] == {}


def test_a_missing_oidc_provider_fails_the_request_naming_the_issuer_and_its_arn(cfn, iam):
    a = cfn.create(props("role", {"ci": ALL_KINDS["ci"]}))
    assert a["Status"] == "FAILED", a
    assert GITHUB in a["Reason"] and GITHUB_PROVIDER in a["Reason"], a["Reason"]
    snap = iam_snapshot(iam)
    assert snap["stage_roles"] == {} and snap["groups"] == {} and snap["policies"] == {}


# --- The provider role's new rights and the StageRoleBoundary, evaluated (both directions) -------

from iam_eval import ALLOW, DENY, Request, allowed, evaluate  # noqa: E402
from template_render import Rendered  # noqa: E402

PATH = f"arn:aws:iam::{ACCOUNT}:role/serverless-access/orders/prod/0123456789abcdef"
OWN_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/serverless-access/orders/prod/0123456789abcdef/orders-prod-us-east-1-deploy"
TAGS = {"aws:PrincipalTag/serverless-access:service": "orders", "aws:PrincipalTag/serverless-access:stage": "prod"}
EVERYTHING = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
# What every request of a stage role carries: its tags, this region, and for S3 the bucket's account.
HERE = dict(TAGS, **{"aws:RequestedRegion": "us-east-1", "s3:ResourceAccount": ACCOUNT})


@pytest.fixture(scope="module")
def template():
    return Rendered({})


def test_the_provider_gives_the_stage_role_boundary_only_to_stage_role_names(template):
    role, stage = template.provider_policies(), template.ref("StageRoleBoundary")
    for kind in ("admin", "developer", "ci", "invoker"):
        name = f"{PATH}/orders-prod-us-east-1.{kind}"
        for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateRole"):
            assert allowed(role, action, name, {"iam:PermissionsBoundary": stage}), (action, kind)
        assert not allowed(role, "iam:CreateRole", name), "never without a boundary"
    # An execution or deployment role never gets it, nothing outside the path does, and no other
    # role has its session duration or description changed.
    for name in (f"{PATH}/orders-prod-us-east-1-api", f"{PATH}/orders-prod-us-east-1.deploy",
                 f"{PATH}/orders-prod-us-east-1.ci/x", f"arn:aws:iam::{ACCOUNT}:role/elsewhere/x.ci"):
        assert not allowed(role, "iam:CreateRole", name, {"iam:PermissionsBoundary": stage}), name
        assert not allowed(role, "iam:UpdateRole", name, {"iam:PermissionsBoundary": template.ref("DefaultBoundary")}), name
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not allowed(role, action, stage), action


def test_the_provider_attaches_only_its_own_policies_and_only_to_stage_roles(template):
    role, stage = template.provider_policies(), template.ref("StageRoleBoundary")
    ci = f"{PATH}/orders-prod-us-east-1.ci"
    assert allowed(role, "iam:AttachRolePolicy", ci, {"iam:PolicyARN": OWN_POLICY, "iam:PermissionsBoundary": stage})
    for policy in ("arn:aws:iam::aws:policy/AdministratorAccess", f"arn:aws:iam::{ACCOUNT}:policy/admin"):
        assert not allowed(role, "iam:AttachRolePolicy", ci, {"iam:PolicyARN": policy, "iam:PermissionsBoundary": stage}), policy
    assert not allowed(role, "iam:AttachRolePolicy", ci, {"iam:PolicyARN": OWN_POLICY})
    for other in (f"{PATH}/orders-prod-us-east-1-api", f"{PATH}/orders-prod-us-east-1.deploy",
                  template.get_att("ProviderRole", "Arn")):
        assert not allowed(role, "iam:AttachRolePolicy", other,
                           {"iam:PolicyARN": OWN_POLICY, "iam:PermissionsBoundary": stage}), other


def test_the_provider_reads_oidc_providers_and_never_writes_them(template):
    role = template.provider_policies()
    github = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert allowed(role, "iam:GetOpenIDConnectProvider", github)
    for action in ("iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:AddClientIDToOpenIDConnectProvider",
                   "iam:UpdateOpenIDConnectProviderThumbprint", "iam:TagOpenIDConnectProvider"):
        assert not allowed(role, action, github), action
    assert not allowed(role, "iam:GetOpenIDConnectProvider", "arn:aws:iam::210987654321:oidc-provider/x")


def test_the_stage_role_boundary_fits_and_alone_keeps_a_stage_role_to_its_stage(template):
    import json
    doc = template.stage_role_boundary_document()
    assert len(json.dumps(doc, separators=(",", ":"))) <= 6144
    long = Rendered({})
    long.pseudo["AWS::StackName"] = "s" * 40
    assert len(json.dumps(long.stage_role_boundary_document(), separators=(",", ":"))) <= 6144
    other_role = f"arn:aws:iam::{ACCOUNT}:role/serverless-access/billing/prod/0123456789abcdef/billing-prod-us-east-1-api"
    for action, resource, ctx in [
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x", {}),
        ("iam:AttachRolePolicy", f"{PATH}/orders-prod-us-east-1.ci", {}),
        ("iam:PassRole", other_role, {"iam:PassedToService": "lambda.amazonaws.com"}),
        ("iam:PassRole", f"{PATH}/orders-prod-us-east-1-api", {"iam:PassedToService": "ec2.amazonaws.com"}),
        ("sts:AssumeRole", other_role, {}),
        ("cloudformation:UpdateStack", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/billing-prod/1", {}),
        ("cloudformation:DeleteStack", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/serverless-access/1", {}),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:serverless-access-ProviderFunction-x", {}),
        ("kms:CreateGrant", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k", {"kms:GrantIsForAWSResource": "false"}),
        ("organizations:LeaveOrganization", "*", {}),
        ("sso:CreatePermissionSet", "*", {}),
        ("dynamodb:DeleteTable", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders", {}),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-prod2-api", {}),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-api-prod-x", {}),
        ("logs:GetLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/billing-prod-api:*", {}),
        ("events:PutTargets", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/orders-dev-x", {}),
        ("s3:GetObject", "arn:aws:s3:::orders-dev-serverlessdeploymentbucket-abc/serverless/orders/dev/x.zip", {}),
        ("s3:PutBucketPolicy", "arn:aws:s3:::acme-data", {}),
        ("apigateway:PATCH", "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod",
         {"aws:ResourceTag/serverless-access:service": "billing", "aws:ResourceTag/serverless-access:stage": "prod"}),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:orders-prod-api", {"aws:RequestedRegion": "eu-west-1"}),
    ]:
        assert evaluate(EVERYTHING, Request(action, resource, dict(HERE, **ctx)), [doc]) != ALLOW, action
    # Positive controls: what the kinds' documents do on their own stage stays possible.
    for action, resource, ctx in [
        ("cloudformation:UpdateStack", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/orders-prod/1", {}),
        ("cloudformation:ValidateTemplate", "*", {}),
        ("iam:PassRole", f"{PATH}/orders-prod-us-east-1.deploy", {"iam:PassedToService": "cloudformation.amazonaws.com"}),
        ("iam:PassRole", f"{PATH}/orders-prod-us-east-1-api", {"iam:PassedToService": "lambda.amazonaws.com"}),
        ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-prod-api", {}),
        ("s3:PutObject", "arn:aws:s3:::orders-prod-serverlessdeploymentbucket-abc/serverless/orders/prod/x.zip", {}),
        ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/serverless-framework/deployment/s3-bucket", {}),
        ("logs:FilterLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/orders-prod-api:*", {}),
        ("apigateway:PATCH", "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod",
         {"aws:ResourceTag/serverless-access:service": "orders", "aws:ResourceTag/serverless-access:stage": "prod"}),
    ]:
        assert evaluate(EVERYTHING, Request(action, resource, dict(HERE, **ctx)), [doc]) == ALLOW, action


# --- The trust policies, evaluated as IAM would compare the request's context --------------------

def trust_condition_allows(statement, ctx):
    """Whether `statement`'s Condition holds for `ctx` (the evaluator's operators and wildcards)."""
    probe = {"Statement": [{"Effect": "Allow", "Action": statement["Action"], "Resource": "*",
                            "Condition": statement.get("Condition", {})}]}
    return evaluate([probe], Request(statement["Action"], "*", ctx)) == ALLOW


def test_trusts_admit_exactly_who_is_named(cfn, iam):
    iam.create_open_id_connect_provider(Url=GITHUB, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40])
    a = cfn.create(props("role", ALL_KINDS))
    assert a["Status"] == "SUCCESS", a
    roles = iam_snapshot(iam)["stage_roles"]
    (ci,) = roles[f"{PREFIX}.ci"]["trust"]["Statement"]
    gh = "token.actions.githubusercontent.com"
    good = {f"{gh}:sub": "repo:acme/orders:environment:prod", f"{gh}:aud": "sts.amazonaws.com"}
    assert trust_condition_allows(ci, good)
    for sub in ("repo:acme/orders:pull_request", "repo:acme/orders:ref:refs/heads/main", "repo:acme/orders:environment:prod2",
                "repo:acme/orders-fork:environment:prod", "repo:evil/orders:environment:prod", "repo:acme/orders:environment:*"):
        assert not trust_condition_allows(ci, dict(good, **{f"{gh}:sub": sub})), sub
    assert not trust_condition_allows(ci, dict(good, **{f"{gh}:aud": "https://github.com/acme"}))
    assert not trust_condition_allows(ci, {f"{gh}:sub": good[f"{gh}:sub"]}), "no audience, no trust"
    (dev,) = roles[f"{PREFIX}.developer"]["trust"]["Statement"]
    sso = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com"
    for arn in (f"{sso}/AWSReservedSSO_OrdersDevelopers_1234567890abcdef",
                f"{sso}/eu-west-1/AWSReservedSSO_OrdersDevelopers_1234567890abcdef"):
        assert trust_condition_allows(dev, {"aws:PrincipalArn": arn}), arn
    for arn in (f"{sso}/AWSReservedSSO_OrdersDevelopers_x_1234567890abcdef",   # set "OrdersDevelopers_x"
                f"{sso}/AWSReservedSSO_OrdersDevelopersX_1234567890abcdef",
                f"{sso}/AWSReservedSSO_OrdersDevelopers_1234567890abcde",
                f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_OrdersDevelopers_1234567890abcdef",
                f"arn:aws:iam::210987654321:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_OrdersDevelopers_1234567890abcdef"):
        assert not trust_condition_allows(dev, {"aws:PrincipalArn": arn}), arn
    assert dev["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    (admin,) = roles[f"{PREFIX}.admin"]["trust"]["Statement"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:role/platform-admins"} and "Condition" not in admin


def test_an_update_that_matches_makes_no_writes_to_stage_roles(cfn, iam, log_dir):
    """The trust policies as IAM returns them compare equal to what was written (single values,
    lists, ArnLike patterns): a converged resource plans nothing."""
    from test_access import writes_of_last_request
    iam.create_open_id_connect_provider(Url=GITHUB, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40])
    many = {**ALL_KINDS, "ci": [{"GitHubActions": {"Repository": "acme/orders", "Branch": "main", "OwnerId": "1",
                                                   "RepositoryId": "2"}},
                                {"Principal": f"arn:aws:iam::{ACCOUNT}:role/a"},
                                {"Principal": f"arn:aws:iam::{ACCOUNT}:user/b"}]}
    p = props("caller", many)
    a = cfn.create(p)
    assert a["Status"] == "SUCCESS", a
    ev = cfn.event("Update", p, physical_id=a["PhysicalResourceId"], old_props=p)
    assert cfn.send(ev)["Status"] == "SUCCESS"
    assert writes_of_last_request(log_dir, ev["RequestId"]) == 0
