"""examples/github-actions.yml, read as GitHub runs it: the token its deploy job gets is one the
trust policy of the example resource's ci role (examples/access-stack.yaml, `AssumableBy`, as
`serverless-access plan` writes it) allows, and nothing in the workflow weakens that (id-token
permission, the configure-aws-credentials action and its audience, the stage it deploys, the role
it assumes).

The job's subject follows GitHub's precedence (github/docs content/actions/reference/security/oidc.md,
"Example subject claims"): a job with an environment gets `repo:O/R:environment:ENV` whatever the
event, else a pull_request event `repo:O/R:pull_request`, else `repo:O/R:ref:<ref>`; a `:` in a
value is encoded `%3A`."""
import json
import re

import yaml

from harness import ACCOUNT, ROOT
from iam_eval import ALLOW, Caller, Request, evaluate_trust
from test_examples import example_properties, example_stack, plan
from web_identity import STS_AUDIENCE

WORKFLOW = ROOT / "examples" / "github-actions.yml"
GH = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GH}"


def subjects(workflow, job, repository):
    """Every `sub` the job's token can have, one per event (and branch) that runs it; `ref:*` for an
    event that may run on any ref."""
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
            out.add(f"repo:{repository}:ref:*")
    return out


def trusted(role, sub, aud=STS_AUDIENCE):
    ctx = {f"{GH}:sub": sub, f"{GH}:aud": aud}
    return evaluate_trust(role["trustPolicy"], Request("sts:AssumeRoleWithWebIdentity", role["arn"], ctx),
                          Caller("federated", PROVIDER, ACCOUNT)) == ALLOW


def load():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return workflow, job


def example_ci(tmp_path):
    """The example's GitHub source and its ci stage role as `plan` makes it."""
    props = example_properties()
    (source,) = props["AssumableBy"]["ci"]
    planned = plan(props, "--json", tmp_path=tmp_path)
    assert planned.returncode == 0, planned.stderr
    (role,) = [r for r in json.loads(planned.stdout)["roles"] if r["kind"] == "stage" and r.get("holdsDocumentsOf") == "ci"]
    return source["GitHubActions"], role, props


def test_the_example_jobs_token_is_one_the_example_ci_roles_trust_policy_allows(tmp_path):
    workflow, job = load()
    github, role, props = example_ci(tmp_path)
    repository = github["Repository"]
    subs = subjects(workflow, job, repository)
    assert subs == {f"repo:{repository}:environment:{github['Environment']}"}
    assert all(trusted(role, s) for s in subs)
    # The same job without its environment would get its branch's (or any ref's) subject: refused,
    # as would a pull request's, another audience's, and another repository's.
    bare = {k: v for k, v in job.items() if k != "environment"}
    assert subjects(workflow, bare, repository) == {f"repo:{repository}:ref:refs/heads/main", f"repo:{repository}:ref:*"}
    assert not any(trusted(role, s) for s in subjects(workflow, bare, repository))
    assert not trusted(role, f"repo:{repository}:pull_request")
    assert not trusted(role, next(iter(subs)), aud=f"https://github.com/{repository.split('/')[0]}")
    assert not trusted(role, next(iter(subs)).replace(repository, "acme/payments"))
    # The workflow deploys the stage the role is for.
    runs = [s.get("run", "") for s in job["steps"]]
    deploy = [r for r in runs if "serverless deploy" in r]
    assert deploy and all(f"--stage {props['Stage']}" in r for r in deploy)


def test_the_example_asks_for_the_token_and_the_role_as_configure_aws_credentials_documents(tmp_path):
    workflow, job = load()
    _, role, _ = example_ci(tmp_path)
    permissions = {**workflow.get("permissions", {}), **job.get("permissions", {})}
    assert permissions.get("id-token") == "write", "without it the job gets no OIDC token"
    (creds,) = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert creds["uses"] == "aws-actions/configure-aws-credentials@v6"
    inputs = creds["with"]
    assert inputs["role-to-assume"] and "aws-access-key-id" not in inputs and "aws-secret-access-key" not in inputs
    # The role is the example stack's CiRoleArn output.
    assert example_stack()["Outputs"]["CiRoleArn"]["Value"].value == "Access.CiRoleArn"
    assert "CiRoleArn" in WORKFLOW.read_text()
    # The audience the OIDC provider's client ID and the trust policy name (the action's default).
    assert inputs.get("audience", STS_AUDIENCE) == STS_AUDIENCE
    # RoleSessionName 2..64 of [\w+=,.@-] (STS; the action checks the same, src/index.ts), an
    # expression standing for a run id of up to 20 digits.
    session = re.sub(r"\$\{\{[^}]*\}\}", "9" * 20, inputs.get("role-session-name", "GitHubActions"))
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", session), session
    # STS DurationSeconds 900..43200, and no more than the role's MaxSessionDuration ("Asking for
    # more than the role max fails": STS AssumeRoleWithWebIdentity DurationSeconds).
    assert 900 <= int(inputs.get("role-duration-seconds", 3600)) <= (role["maxSessionDuration"] or 3600)
    runs = [s.get("run", "") for s in job["steps"]]
    assert job["steps"].index(creds) < next(i for i, r in enumerate(runs) if "serverless deploy" in r)
