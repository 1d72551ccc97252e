"""Stage roles (`AssumableBy`) through the real binary, every provider call authorized against the
rendered ProviderRole (the `deployments` fixture fails the test on any denial): Create, Update (a
trust change in place, a kind removed, session-duration drift repaired) and Delete, in both
deployment modes; each role read back from moto holds exactly its group's documents. A stage role
trusting an issuer whose OIDC provider the account lacks is answered FAILED naming both, before any
write."""
import pytest

from harness import ACCOUNT, iam_snapshot

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
