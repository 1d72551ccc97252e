"""The groups against what Serverless v4 (defaults: direct deploys, the shared bucket) and v3 (osls:
change sets, the per-service bucket) call, command by command (`deployer_calls.py`, each row with
its source), through the deployment role (`provider.iam.deploymentRole`, the default) and with the
caller's rights (`DeployWith: caller`): every call of a command a group runs is allowed; a command
it does not run has a call it is refused; the same calls on another stage, another service and
another region are refused."""
import pytest

import iam_eval
from deployer_calls import CALLS, COMMANDS, ROLE_CALLS, STACK_WRITES
from harness import ACCOUNT, iam_snapshot

R = "us-east-1"
GROUPS = ("admin", "developer", "ci")
V4_BUCKET = "serverless-framework-deployments-{r}-0a1b2c3d-4e5f"
V3_BUCKET = "{svc}-{stage}-serverlessdeploymentbucket-1a2b3c4d5e6f"


def fill(template, svc="orders", stage="dev", region=R, account=ACCOUNT, role=None):
    values = {"r": region, "a": account, "svc": svc, "stage": stage, "s": f"{svc}-{stage}"}
    values["deployrole"] = role or f"arn:aws:iam::{account}:role/serverless-access/{svc}/{stage}/x/{svc}-{stage}-{region}.deploy"
    values["v4bucket"] = V4_BUCKET.format(**values)
    values["v3bucket"] = V3_BUCKET.format(**values)
    return template.format(**values)


def request(row, role=None, **where):
    """The request of a call-list row; `role`: the deployment role the deployer names (the
    resource's own, whatever stage `where` moves the rest to: an attacker names the role it has)."""
    deployer, command, action, resource, ctx, shared, source = row
    region = where.get("region", R)
    context = {k: fill(v, **where) for k, v in ctx.items()}
    context["aws:RequestedRegion"] = region
    if action.startswith("s3:"):
        context["s3:ResourceAccount"] = where.get("account", ACCOUNT)
    if role and action in STACK_WRITES:
        context["cloudformation:RoleArn"] = role
    return action, fill(resource, role=role if role and not where else None, **where), context


def group_docs(snap, group):
    g = snap["groups"][f"orders-dev-us-east-1-{group}"]
    return list(g["inline"].values()) + [p["document"] for p in snap["policies"].values() if p["arn"] in g["attached"]]


class Groups(dict):
    """The three groups' documents of orders/dev, the deployment role they pass (if any) and the
    call list that applies."""

    def __init__(self, docs, role):
        super().__init__(docs)
        self.role = role
        self.calls = CALLS + (ROLE_CALLS if role else [])


@pytest.fixture(params=["role", "caller"])
def docs(request, cfn, iam):
    """The three groups of orders/dev (Serverless's generated or shared bucket), in each mode."""
    props = {"ServiceName": "orders", "Stage": "dev", "Functions": [{"Name": "api"}], "DeployWith": request.param}
    assert cfn.create(props)["Status"] == "SUCCESS"
    snap = iam_snapshot(iam)
    role = next((r["arn"] for r in snap["deployment_roles"].values()), None)
    assert (role is not None) == (request.param == "role")
    return Groups({g: group_docs(snap, g) for g in GROUPS}, role)


def runs(group, deployer, command):
    if deployer == "v3" and command == "deploy (first)":
        # A change set of type CREATE needs nothing an update's does not (CloudFormation has no
        # condition key for ChangeSetType): under v3 any deploying group can make the stack.
        return True
    return group in COMMANDS[command]


def commands(calls=CALLS):
    return sorted({(row[0], row[1]) for row in calls})


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_runs_exactly_its_commands_with_v4_and_v3(docs, group):
    problems = []
    for deployer, command in commands(docs.calls):
        rows = [row for row in docs.calls if row[:2] == (deployer, command)]
        verdicts = [(row, iam_eval.allowed(docs[group], *request(row, docs.role))) for row in rows]
        if runs(group, deployer, command):
            refused = [(row[2], row[6]) for row, ok in verdicts if not ok]
            if refused:
                problems.append(f"cannot run `serverless {command}` ({deployer}): {refused}")
        elif all(ok for _, ok in verdicts):
            problems.append(f"can run `serverless {command}` ({deployer})")
    assert not problems, f"{group}: " + "; ".join(problems)


ELSEWHERE = [{"stage": "dev2"}, {"stage": "prod"}, {"svc": "billing"}, {"svc": "orders-api"}, {"region": "us-west-2"},
             {"account": "210987654321"}]


@pytest.mark.parametrize("group", GROUPS)
def test_no_call_reaches_another_stage_service_or_region(docs, group):
    reached = []
    for elsewhere in ELSEWHERE:
        for row in docs.calls:
            action, resource, ctx = request(row, docs.role, **elsewhere)
            if resource == "*" and "region" not in elsewhere:
                continue  # authorised on "*" only (ValidateTemplate, metrics): region-limited, see README
            if "account" in elsewhere and not action.startswith("s3:"):
                continue  # every other ARN names this account; S3 ARNs name none (s3:ResourceAccount)
            if row[5] and not {"region", "account"} & set(elsewhere):
                continue  # the shared bucket and its SSM parameter are every stage's of the region
            if (group == "admin" and action == "s3:ListBucket" and not {"region", "account"} & set(elsewhere)
                    and resource.startswith("arn:aws:s3:::serverless-framework-deployments-")):
                # remove's HeadBucket is a ListBucket without prefix: admin may list the key names
                # of its region's shared bucket (README); objects stay out of reach (other rows).
                continue
            if iam_eval.allowed(docs[group], action, resource, ctx):
                reached.append((elsewhere, row[0], row[1], action, resource))
    assert not reached, f"{group} reaches: {reached}"


def test_the_call_list_cites_a_source_for_every_row_and_covers_every_command():
    for row in CALLS + ROLE_CALLS:
        assert row[6].startswith(("V3 ", "V4 ", "UTIL ", "packages/")) and any(c.isdigit() for c in row[6]), row
    for deployer in ("v3", "v4"):
        assert {c for d, c in commands() if d == deployer} == set(COMMANDS), deployer


def test_admin_lists_key_names_of_the_shared_bucket_but_reads_and_deletes_only_its_stage(docs):
    bucket = "arn:aws:s3:::" + fill(V4_BUCKET)
    ctx = {"aws:RequestedRegion": R, "s3:ResourceAccount": ACCOUNT}
    assert iam_eval.allowed(docs["admin"], "s3:ListBucket", bucket, ctx)
    assert not iam_eval.allowed(docs["developer"], "s3:ListBucket", bucket, ctx)
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
        for key in ("serverless/orders/dev2/1/x.zip", "serverless/billing/dev/1/x.zip", "other/orders/dev/1/x.zip"):
            assert not iam_eval.allowed(docs["admin"], action, f"{bucket}/{key}", ctx), (action, key)


@pytest.mark.parametrize("group", GROUPS)
def test_deploy_function_can_never_hand_a_function_a_role_outside_this_resource(cfn, iam, group):
    # UpdateFunctionConfiguration with a new Role needs iam:PassRole of that role (Lambda checks it):
    # only this resource's execution roles, and only to Lambda.
    assert cfn.create({"ServiceName": "orders", "Stage": "dev", "Functions": [{"Name": "api"}]})["Status"] == "SUCCESS"
    snap = iam_snapshot(iam)
    docs = group_docs(snap, group)
    own = snap["roles"]["orders-dev-us-east-1-api"]["arn"]
    to_lambda = {"iam:PassedToService": "lambda.amazonaws.com", "aws:RequestedRegion": R}
    assert iam_eval.allowed(docs, "iam:PassRole", own, to_lambda)
    for foreign in (f"arn:aws:iam::{ACCOUNT}:role/admin", f"arn:aws:iam::{ACCOUNT}:role/serverless-access/billing/dev/x/billing-dev-us-east-1-api",
                    own.replace("orders-dev-us-east-1-api", "orders-prod-us-east-1-api").replace("/dev/", "/prod/")):
        assert not iam_eval.allowed(docs, "iam:PassRole", foreign, to_lambda), foreign
    assert not iam_eval.allowed(docs, "iam:PassRole", own, dict(to_lambda, **{"iam:PassedToService": "ec2.amazonaws.com"}))
