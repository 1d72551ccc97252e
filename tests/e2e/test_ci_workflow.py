"""examples/github-actions.yml, read as GitHub runs it: the token its deploy job gets is one the
example resource's ci role trusts, and nothing in it weakens that (id-token permission, the
configure-aws-credentials action and audience, the stage it deploys).

The job's subject follows GitHub's precedence (github/docs content/actions/reference/security/oidc.md,
"Example subject claims"): a job with an environment gets `repo:O/R:environment:ENV` whatever the
event, else a pull_request event `repo:O/R:pull_request`, else `repo:O/R:ref:<ref>`."""
import re

import yaml

from harness import ACCOUNT, ROOT
from iam_eval import ALLOW, Caller, Request, evaluate_trust
from test_ci_role import ENVIRONMENT, REPOSITORY, STAGE, github_environment_trust
from web_identity import GITHUB_ISSUER, STS_AUDIENCE, Issuer

WORKFLOW = ROOT / "examples" / "github-actions.yml"
PROVIDER = Issuer(GITHUB_ISSUER).provider_arn


def subjects(workflow, job, repository):
    """Every `sub` the job's token can have, one per event (and branch) that runs it."""
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    events = on if isinstance(on, dict) else {e: None for e in ([on] if isinstance(on, str) else on)}
    environment = job.get("environment")
    environment = environment.get("name") if isinstance(environment, dict) else environment
    out = set()
    for event, spec in events.items():
        if environment is not None:
            out.add(f"repo:{repository}:environment:{str(environment).replace(':', '%3A')}")
        elif event == "pull_request":
            out.add(f"repo:{repository}:pull_request")
        elif event == "push" and spec and spec.get("branches"):
            out.update(f"repo:{repository}:ref:refs/heads/{b}" for b in spec["branches"])
        else:
            out.add(f"repo:{repository}:ref:*")  # any branch the event may run on: no exact subject
    return out


def trusted(trust, sub, aud=STS_AUDIENCE):
    ctx = {"token.actions.githubusercontent.com:sub": sub, "token.actions.githubusercontent.com:aud": aud}
    req = Request("sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{ACCOUNT}:role/orders-prod-ci", ctx)
    return evaluate_trust(trust, req, Caller("federated", PROVIDER, ACCOUNT)) == ALLOW


def load():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return workflow, job


def test_the_example_jobs_token_is_one_the_ci_roles_trust_policy_allows():
    workflow, job = load()
    trust = github_environment_trust(PROVIDER, REPOSITORY, ENVIRONMENT)
    subs = subjects(workflow, job, REPOSITORY)
    assert subs == {f"repo:{REPOSITORY}:environment:{ENVIRONMENT}"}
    assert all(trusted(trust, s) for s in subs)
    # The same job without its environment would get its branch's subject: refused.
    bare = {k: v for k, v in job.items() if k != "environment"}
    assert subjects(workflow, bare, REPOSITORY) == {f"repo:{REPOSITORY}:ref:refs/heads/main", f"repo:{REPOSITORY}:ref:*"}
    assert not any(trusted(trust, s) for s in subjects(workflow, bare, REPOSITORY))
    # A pull request run of it would too.
    assert not trusted(trust, f"repo:{REPOSITORY}:pull_request")


def test_the_example_asks_for_the_token_and_the_role_as_configure_aws_credentials_documents():
    workflow, job = load()
    permissions = {**workflow.get("permissions", {}), **job.get("permissions", {})}
    assert permissions.get("id-token") == "write", "without it the job gets no OIDC token"
    (creds,) = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert creds["uses"] == "aws-actions/configure-aws-credentials@v6"
    inputs = creds["with"]
    assert inputs["role-to-assume"] and "aws-access-key-id" not in inputs and "aws-secret-access-key" not in inputs
    # The audience the OIDC provider's client ID and the trust policy name.
    assert inputs.get("audience", STS_AUDIENCE) == STS_AUDIENCE
    # RoleSessionName 2..64 of [\w+=,.@-] (STS; the action checks the same, src/index.ts), with a
    # run id (up to 20 digits) for the expression.
    session = re.sub(r"\$\{\{[^}]*\}\}", "9" * 20, inputs.get("role-session-name", "GitHubActions"))
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", session), session
    # STS DurationSeconds 900..43200 (and no more than the role's MaxSessionDuration).
    assert 900 <= int(inputs.get("role-duration-seconds", 3600)) <= 43200
    # It deploys the stage the role is for, after the credentials.
    runs = [s.get("run", "") for s in job["steps"]]
    deploy = [r for r in runs if "serverless deploy" in r]
    assert deploy and all(f"--stage {STAGE}" in r for r in deploy)
    assert job["steps"].index(creds) < runs.index(deploy[0])
