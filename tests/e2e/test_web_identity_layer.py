"""Canaries for the authorizing layer's STS checks (authz.py with web_identity.py), which moto does
not make: a role created by hand with a GitHub trust policy (aud sts.amazonaws.com and exact
subjects, as configure-aws-credentials' README writes it) is assumed with the right token, and
refused — recorded, never reaching moto — for a token of another repository, branch or
environment, a pull_request subject, a wrong audience, an expired or forged token, an issuer the
account has no OIDC provider for, and a role that does not exist. The key moto issues then acts as
the role: its own policies decide its calls. A signed sts:AssumeRole is decided by the trust policy
and the caller's policies."""
import json

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from authz import Principal
from conftest import PROVIDER_KEY
from harness import ACCOUNT, REGION
from web_identity import GITHUB_ISSUER, STS_AUDIENCE, Issuer, github_claims, install_boundary

GH = "token.actions.githubusercontent.com"
ROLE_NAME = "orders-prod-ci"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/teams/{ROLE_NAME}"


def github_trust(provider_arn):
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{GH}:aud": STS_AUDIENCE,
                                       f"{GH}:sub": ["repo:acme/orders:environment:prod", "repo:acme/orders:ref:refs/heads/main"]}}}]}


@pytest.fixture()
def github(deployments, iam):
    """A provider's layer that trusts GitHub's (test) issuer, the account's OIDC provider for it and
    a role that trusts it, allowed to list roles and nothing else."""
    d = deployments()
    issuer = Issuer(GITHUB_ISSUER)
    d.authorizer.web.trust(issuer)
    iam.create_open_id_connect_provider(Url=GITHUB_ISSUER, ClientIDList=[STS_AUDIENCE], ThumbprintList=["a" * 40])
    iam.create_role(RoleName=ROLE_NAME, Path="/teams/", AssumeRolePolicyDocument=json.dumps(github_trust(issuer.provider_arn)))
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="list", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}]}))
    sts = boto3.client("sts", endpoint_url=d.proxy.url, region_name=REGION,
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))

    def assume(token, role_arn=ROLE_ARN):
        return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="GitHubActions", WebIdentityToken=token)

    d.issuer, d.assume = issuer, assume
    return d


def test_the_right_token_is_allowed_and_its_key_acts_as_the_role(github, iam):
    answer = github.assume(github.issuer.mint(github_claims("acme/orders", environment="prod")))
    creds = answer["Credentials"]
    assert github.authorizer.web.checked == {"signature": 1, "issuer": 1, "expiry": 1, "provider": 1, "audience": 1, "trust": 1}
    assert github.assume(github.issuer.mint(github_claims("acme/orders", ref="refs/heads/main")))["Credentials"]
    as_role = boto3.client("iam", endpoint_url=github.proxy.url, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                           aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                           config=Config(retries={"max_attempts": 1}))
    as_role.list_roles()
    principal = github.authorizer.principals[creds["AccessKeyId"]]
    assert principal.arn == ROLE_ARN and principal.boundary_docs is None
    assert github.authorizer.authorized == 3 and not github.authorizer.denials


@pytest.mark.expect_denials("iam:CreateGroup")
def test_the_roles_key_is_refused_what_the_roles_policies_do_not_allow(github, iam):
    creds = github.assume(github.issuer.mint(github_claims("acme/orders", environment="prod")))["Credentials"]
    as_role = boto3.client("iam", endpoint_url=github.proxy.url, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                           aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                           config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        as_role.create_group(GroupName="intruders")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    (denial,) = github.authorizer.denials
    assert (denial.principal, denial.action) == (ROLE_ARN, "iam:CreateGroup")
    assert not iam.list_groups()["Groups"], "nothing reached moto"


FORGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)

REFUSED = {
    "another repository": (lambda i: i.mint(github_claims("acme/payments", environment="prod")), "AccessDenied", "trust"),
    "another owner": (lambda i: i.mint(github_claims("evil/orders", environment="prod")), "AccessDenied", "trust"),
    "another branch": (lambda i: i.mint(github_claims("acme/orders", ref="refs/heads/feature")), "AccessDenied", "trust"),
    "a tag": (lambda i: i.mint(github_claims("acme/orders", ref="refs/tags/main")), "AccessDenied", "trust"),
    "another environment": (lambda i: i.mint(github_claims("acme/orders", environment="staging")), "AccessDenied", "trust"),
    "a pull_request subject": (lambda i: i.mint(github_claims("acme/orders", event="pull_request", ref="refs/pull/7/merge")),
                               "AccessDenied", "trust"),
    "a wrong audience": (lambda i: i.mint(github_claims("acme/orders", environment="prod", aud="https://github.com/acme")),
                         "InvalidIdentityToken", "audience"),
    "an expired token": (lambda i: i.mint(github_claims("acme/orders", environment="prod"), lifetime=-60), "ExpiredTokenException", "expiry"),
    "a bad signature": (lambda i: i.mint(github_claims("acme/orders", environment="prod"), key=FORGER), "InvalidIdentityToken", "signature"),
    "an unsigned token": (lambda i: i.mint(github_claims("acme/orders", environment="prod"), alg="none"), "InvalidIdentityToken", "signature"),
    "a token of an issuer the layer does not know": (
        lambda i: Issuer("https://token.actions.example.com").mint(github_claims("acme/orders", environment="prod")),
        "InvalidIdentityToken", "issuer"),
    "not a JWT": (lambda i: "not-a-token", "InvalidIdentityToken", "malformed"),
}


@pytest.mark.expect_denials("sts:AssumeRoleWithWebIdentity")
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_token_the_trust_policy_or_sts_would_refuse_is_refused_and_recorded(github, case):
    mint, code, reason = REFUSED[case]
    with pytest.raises(ClientError) as e:
        github.assume(mint(github.issuer))
    assert e.value.response["Error"]["Code"] == code
    (denial,) = github.authorizer.denials
    assert (denial.action, denial.resource, denial.detail) == ("sts:AssumeRoleWithWebIdentity", ROLE_ARN, reason)
    assert github.proxy.calls[("sts", "AssumeRoleWithWebIdentity")] == 1 and not github.proxy.landed, "nothing reached moto"
    # Every request was counted; the allowed one proves the checks ran at all.
    github.assume(github.issuer.mint(github_claims("acme/orders", environment="prod")))
    assert (github.authorizer.decided, github.authorizer.authorized) == (2, 1)


@pytest.mark.expect_denials("sts:AssumeRoleWithWebIdentity")
def test_an_issuer_without_an_oidc_provider_in_the_account_is_refused(github, iam):
    gitlab = Issuer("https://gitlab.com")
    github.authorizer.web.trust(gitlab)  # the layer has its keys; the account has no provider for it
    with pytest.raises(ClientError) as e:
        github.assume(gitlab.mint({"sub": "project_path:acme/orders:ref_type:branch:ref:main", "aud": STS_AUDIENCE}))
    assert e.value.response["Error"]["Code"] == "InvalidIdentityToken"
    assert [d.detail for d in github.authorizer.denials] == ["provider"]
    github.assume(github.issuer.mint(github_claims("acme/orders", environment="prod")))


@pytest.mark.expect_denials("sts:AssumeRoleWithWebIdentity")
@pytest.mark.parametrize("role_arn", [f"arn:aws:iam::{ACCOUNT}:role/teams/absent",
                                      f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}",  # the right name on another path
                                      f"arn:aws:iam::210987654321:role/teams/{ROLE_NAME}"])
def test_a_role_that_is_not_the_one_named_is_refused(github, role_arn):
    # moto would answer any RoleArn ("the role does not need to exist").
    with pytest.raises(ClientError) as e:
        github.assume(github.issuer.mint(github_claims("acme/orders", environment="prod")), role_arn)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert [d.detail for d in github.authorizer.denials] == ["role"]
    github.assume(github.issuer.mint(github_claims("acme/orders", environment="prod")))


@pytest.mark.expect_denials("sts:AssumeRole")
def test_a_signed_assume_role_is_decided_by_the_trust_policy_and_the_callers_policies(deployments, iam):
    d = deployments()
    alice, bob = f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/bob"
    may_assume = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}]
    d.authorizer.principals["AKIAALICE00000000001"] = Principal(alice, [])
    d.authorizer.principals["AKIABOB0000000000001"] = Principal(bob, may_assume)
    iam.create_role(RoleName="admins", Path="/teams/", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": alice}, "Action": "sts:AssumeRole"}]}))

    def sts(key):
        return boto3.client("sts", endpoint_url=d.proxy.url, region_name=REGION, aws_access_key_id=key,
                            aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}))

    role = f"arn:aws:iam::{ACCOUNT}:role/teams/admins"
    creds = sts("AKIAALICE00000000001").assume_role(RoleArn=role, RoleSessionName="alice")["Credentials"]
    assert d.authorizer.principals[creds["AccessKeyId"]].arn == role
    with pytest.raises(ClientError) as e:  # bob may assume roles, but the role does not trust him
        sts("AKIABOB0000000000001").assume_role(RoleArn=role, RoleSessionName="bob")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert [(x.principal, x.action, x.detail) for x in d.authorizer.denials] == [(bob, "sts:AssumeRole", "trust")]
    boto3.client("iam", endpoint_url=d.proxy.url, region_name=REGION, aws_access_key_id=PROVIDER_KEY,
                 aws_secret_access_key="secret").list_roles(PathPrefix="/serverless-access/")


@pytest.mark.expect_denials("unattributed")
def test_a_session_key_without_its_session_token_is_refused(github, iam):
    creds = github.assume(github.issuer.mint(github_claims("acme/orders", environment="prod")))["Credentials"]
    for token in (None, "another-session"):
        keyed = dict(aws_session_token=token) if token else {}
        as_role = boto3.client("iam", endpoint_url=github.proxy.url, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                               aws_secret_access_key=creds["SecretAccessKey"], config=Config(retries={"max_attempts": 1}), **keyed)
        with pytest.raises(ClientError) as e:
            as_role.list_roles()
        assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert [(d.kind, d.detail) for d in github.authorizer.denials] == [
        ("unattributed", f"unknown access key {creds['AccessKeyId']} without its session token")] * 2


# --- the provider's stage roles, assumed through the layer --------------------------------------
SSO = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com"
STAGE_PREFIX = "orders-prod-us-east-1"


def sso_session(iam, authorizer, name, key, may_assume=True):
    """An Identity Center session: the permission set's provisioned role (made here as Identity
    Center would), its key known to the layer with the permission set's policy."""
    arn = iam.create_role(RoleName=name, Path="/aws-reserved/sso.amazonaws.com/eu-west-1/", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sso.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    docs = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}] if may_assume else []
    authorizer.principals[key] = Principal(arn, docs)
    return key


@pytest.mark.expect_denials("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity")
def test_the_providers_stage_roles_are_assumed_only_by_whom_their_trust_names(deployments, iam):
    d = deployments()
    install_boundary(iam, d.template)
    issuer = Issuer(GITHUB_ISSUER)
    d.authorizer.web.trust(issuer)
    iam.create_open_id_connect_provider(Url=GITHUB_ISSUER, ClientIDList=[STS_AUDIENCE], ThumbprintList=["a" * 40])
    iam.create_role(RoleName="platform-admins", AssumeRolePolicyDocument=json.dumps(github_trust(issuer.provider_arn)))
    iam.create_role(RoleName="platform-auditors", AssumeRolePolicyDocument=json.dumps(github_trust(issuer.provider_arn)))
    a = d.cfn.create({"ServiceName": "orders", "Stage": "prod", "Groups": ["admin", "developer", "ci", "invoker"],
                      "Functions": [{"Name": "api", "Invoke": "true"}],
                      "AssumableBy": {"admin": [{"Principal": f"arn:aws:iam::{ACCOUNT}:role/platform-admins"}],
                                      "developer": [{"IdentityCenterPermissionSet": "OrdersDevelopers"}],
                                      "ci": [{"GitHubActions": {"Repository": "acme/orders", "Environment": "prod"}}]}})
    assert a["Status"] == "SUCCESS", a
    admin, developer, ci = a["Data"]["AdminRoleArn"], a["Data"]["DeveloperRoleArn"], a["Data"]["CiRoleArn"]
    d.authorizer.principals["AKIAPLATFORMADMINS01"] = Principal(f"arn:aws:iam::{ACCOUNT}:role/platform-admins", [])
    d.authorizer.principals["AKIAPLATFORMAUDITOR1"] = Principal(f"arn:aws:iam::{ACCOUNT}:role/platform-auditors",
                                                                [{"Version": "2012-10-17", "Statement": [
                                                                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}])
    sso_session(iam, d.authorizer, "AWSReservedSSO_OrdersDevelopers_0123456789abcdef", "AKIASSODEVELOPERS001")
    sso_session(iam, d.authorizer, "AWSReservedSSO_OrdersDevelopers_x_0123456789abcdef", "AKIASSOOTHERSET00001")
    sso_session(iam, d.authorizer, "AWSReservedSSO_OrdersDevelopersX_0123456789abcdef", "AKIASSOOTHERSET00002")
    sso_session(iam, d.authorizer, "AWSReservedSSO_OrdersDevelopers_fedcba9876543210", "AKIASSONOPOLICY00001", may_assume=False)

    def sts(key):
        return boto3.client("sts", endpoint_url=d.proxy.url, region_name=REGION, aws_access_key_id=key,
                            aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}))

    def assume(key, role):
        try:
            return sts(key).assume_role(RoleArn=role, RoleSessionName="someone")["Credentials"]["AccessKeyId"]
        except ClientError as e:
            assert e.response["Error"]["Code"] == "AccessDenied"
            return None

    # Who is named may assume; the key then acts as the stage role with the group's documents.
    session = assume("AKIASSODEVELOPERS001", developer)
    assert session and d.authorizer.principals[session].arn == developer
    group = f"{STAGE_PREFIX}-developer"
    group_docs = [iam.get_group_policy(GroupName=group, PolicyName=n)["PolicyDocument"] for n in iam.list_group_policies(GroupName=group)["PolicyNames"]]
    attached = [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]]
    held = d.authorizer.principals[session].identity_docs
    assert len(held) == len(group_docs) + len(attached) and all(doc in held for doc in group_docs)
    assert d.authorizer.principals[session].boundary_docs == [d.template.stage_role_boundary_document()], "capped by the stage-role boundary"
    assert assume("AKIAPLATFORMADMINS01", admin)
    unsigned = boto3.client("sts", endpoint_url=d.proxy.url, region_name=REGION, config=Config(signature_version=UNSIGNED))
    token = issuer.mint(github_claims("acme/orders", environment="prod"))
    creds = unsigned.assume_role_with_web_identity(RoleArn=ci, RoleSessionName="GitHubActions", WebIdentityToken=token)["Credentials"]
    assert d.authorizer.principals[creds["AccessKeyId"]].arn == ci
    # Nobody else: another permission set (with `_` or without), a set without sts:AssumeRole in its
    # policy (the trust names only the account), a role the trust does not name (even allowed to
    # assume anything), one kind's principal asking for another kind's role.
    refused = [(k, r) for k, r in [("AKIASSOOTHERSET00001", developer), ("AKIASSOOTHERSET00002", developer),
                                   ("AKIASSONOPOLICY00001", developer), ("AKIAPLATFORMAUDITOR1", admin),
                                   ("AKIAPLATFORMADMINS01", developer), ("AKIASSODEVELOPERS001", admin),
                                   ("AKIASSODEVELOPERS001", ci)] if assume(k, r) is None]
    assert len(refused) == 7, refused
    with pytest.raises(ClientError) as e:  # the ci token for the developer role
        unsigned.assume_role_with_web_identity(RoleArn=developer, RoleSessionName="GitHubActions", WebIdentityToken=token)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert [(x.action, x.detail) for x in d.authorizer.denials] == [("sts:AssumeRole", "trust")] * 7 + [("sts:AssumeRoleWithWebIdentity", "trust")]
