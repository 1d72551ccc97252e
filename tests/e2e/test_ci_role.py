"""The real client as CI runs it without a long-lived key: a GitHub Actions job's token, exchanged
with STS AssumeRoleWithWebIdentity for the stage's ci role, as aws-actions/configure-aws-credentials
does (RoleSessionName "GitHubActions", DurationSeconds 3600: its src/index.ts defaults; the token
unsigned, audience sts.amazonaws.com: its action.yml), then osls deploying with the session's
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (what the action exports).

Why not let osls do the exchange: serverless-localstack injects static credentials when the
provider finds none (serverless-localstack/src/index.js), so the SDK's web-identity chain
(AWS_WEB_IDENTITY_TOKEN_FILE) is never reached under it; CI does the exchange first anyway.

The role is the provider's: `AssumableBy: {ci: [{GitHubActions: {Repository: acme/orders,
Environment: prod}}]}`, attribute CiRoleArn. The deployer's authorizing proxy (deployer_authz.py)
verifies the token and the role's trust policy as the provider wrote it (moto checks neither), then
authorizes every call of the session against the role's own documents as moto holds them (its
attached managed policies, its inline ones, the StageRoleBoundary); a token for another repository,
branch or environment is refused by the trust policy. Both deployment methods."""
import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import REGION, iam_snapshot
from test_real_deployer import OSLS, TOLERATED, App
from web_identity import GITHUB_ISSUER, STS_AUDIENCE, Issuer, github_claims, install_boundary

REPOSITORY, ENVIRONMENT = "acme/orders", "prod"
STAGE = "prod"
GROUPS = {"admin": f"orders-{STAGE}-us-east-1-admin", "ci": f"orders-{STAGE}-us-east-1-ci"}


@pytest.fixture(scope="module", autouse=True)
def osls_installed():
    assert OSLS.exists(), "osls is missing: `make e2e` installs it (`make deployer`)"


class Github:
    """GitHub's issuer and a job's exchange of its token, as configure-aws-credentials makes it."""

    def __init__(self, proxy, role_arn):
        self.issuer = Issuer(GITHUB_ISSUER)
        proxy.web.trust(self.issuer)
        self.role_arn = role_arn
        self.sts = boto3.client("sts", endpoint_url=f"http://127.0.0.1:{proxy.port}", region_name=REGION,
                                config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))

    def credentials(self, **job):
        token = self.issuer.mint(github_claims(REPOSITORY, **{"environment": ENVIRONMENT, **job}) if "repository" not in job
                                 else github_claims(**job))
        c = self.sts.assume_role_with_web_identity(RoleArn=self.role_arn, RoleSessionName="GitHubActions",
                                                   WebIdentityToken=token, DurationSeconds=3600)["Credentials"]
        return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


@pytest.fixture(params=["role", "caller"])
def ci(request, tmp_path, deployments, aws, iam, deployer_proxy):
    mode = request.param
    d = deployments()
    cfn = d.cfn
    # The template's StageRoleBoundary, as CloudFormation made it with the provider's stack.
    boundary = install_boundary(iam, d.template)
    # The account's platform made the OIDC provider (the provider only checks that it exists).
    provider_arn = iam.create_open_id_connect_provider(Url=GITHUB_ISSUER, ClientIDList=[STS_AUDIENCE],
                                                       ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    props = {"ServiceName": "orders", "Stage": STAGE, "Functions": [{"Name": "api"}], "DeployWith": mode,
             "AssumableBy": {"ci": [{"GitHubActions": {"Repository": REPOSITORY, "Environment": ENVIRONMENT}}]}}
    a = cfn.create(props)
    assert a["Status"] == "SUCCESS", a
    role_arn = a["Data"]["CiRoleArn"]
    role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    # The provider's role, trusting the provider the platform made, capped by the stage-role boundary.
    assert provider_arn in str(role["AssumeRolePolicyDocument"]) and role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    snap = iam_snapshot(iam)
    iam.create_user(UserName="admin-1")
    iam.add_user_to_group(UserName="admin-1", GroupName=GROUPS["admin"])
    k = iam.create_access_key(UserName="admin-1")["AccessKey"]
    proxy = deployer_proxy({k["AccessKeyId"]: "admin-1"})
    github = Github(proxy, role_arn)
    app = App(tmp_path, proxy, {"admin": (k["AccessKeyId"], k["SecretAccessKey"])},
              {"api": snap["roles"][f"orders-{STAGE}-us-east-1-api"]["arn"]}, a["Data"].get("DeploymentRoleArn"), stage=STAGE)
    app.github, app.role_arn, app.iam = github, role_arn, iam
    return app


def test_osls_deploys_as_ci_with_web_identity_credentials_and_every_call_is_the_roles(ci):
    ci.ok("admin", "deploy")  # the stack's first deployment, by an admin
    ci.keys["ci"] = ci.github.credentials()
    role_name = ci.role_arn.rsplit("/", 1)[1]
    before = len(ci.proxy.decisions)
    ci.change()
    ci.ok("ci", "deploy")
    ci.change()
    ci.ok("ci", "deploy", "function", "--function", "api")
    ci.ok("ci", "info")
    ci.ok("ci", "deploy", "list")
    session = [d for d in ci.proxy.decisions[before:] if d.user == f"role/{role_name}"]
    assert len(session) >= 20, "the CLI's calls were authorized as the role's session"
    assert all(d.allowed for d in session if d.action not in TOLERATED), [d for d in session if not d.allowed]
    exchange = [d for d in ci.proxy.decisions if d.action == "sts:AssumeRoleWithWebIdentity"]
    assert [(d.resource, d.allowed) for d in exchange] == [(ci.role_arn, True)]
    assert ci.proxy.web.checked["trust"] == 1 and ci.proxy.web.checked["signature"] == 1
    writes = [d for d in session if d.action in ("cloudformation:CreateChangeSet", "cloudformation:UpdateStack") and d.allowed]
    assert writes, "the ci session changed the stack"
    if ci.deployment_role:
        assert all(d.context.get("cloudformation:RoleArn") == ci.deployment_role for d in writes)
    else:
        assert not any("cloudformation:RoleArn" in d.context for d in writes)
    # What ci does not run is refused by the role's documents, as for the group.
    assert ci.refused("ci", "logs", "--function", "api")


FOREIGN = {
    "another repository": {"repository": "acme/payments", "environment": ENVIRONMENT},
    "another branch": {"environment": None, "ref": "refs/heads/feature"},
    "the main branch without the environment": {"environment": None, "ref": "refs/heads/main"},
    "another environment": {"environment": "staging"},
    "a pull request": {"environment": None, "event": "pull_request", "ref": "refs/pull/7/merge"},
}


@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_a_foreign_token_is_refused_the_ci_role(ci, case):
    job = FOREIGN[case]
    with pytest.raises(ClientError) as e:
        ci.github.credentials(**job)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    refused = [d for d in ci.proxy.refused() if d.action == "sts:AssumeRoleWithWebIdentity"]
    assert [(d.resource, d.context) for d in refused] == [(ci.role_arn, {"reason": "trust"})]
    ci.proxy.expect(refused)
    # The right job's token still works: the refusal was the token's, not the layer's.
    assert ci.github.credentials()[2]
    assert ci.proxy.authorized == 1 and not [u for u in ci.proxy.unattributed]
