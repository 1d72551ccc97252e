"""The real client: osls (Serverless Framework v3, the maintained line; npm, installed by
`make deployer`) with serverless-localstack pointing its endpoints at the local AWS, run with the
access keys of a member of each group. Every request the CLI makes is authorized against that
user's group policies by the authorizing proxy (deployer_authz.py): each command a group runs must
succeed with every call allowed; a command it does not run must be refused.

CloudFormation's own calls (moto does not make them with the deployment role's rights) are checked
by test_cloudformation_handlers.py; `invoke` is checked by the call list (moto runs functions in
Docker, which this machine lacks)."""
import json
import os
import shutil
import subprocess
import time

import pytest

from cfn_handler_permissions import stack_tags
from harness import ROOT, iam_snapshot

NODE_MODULES = ROOT / "tests" / "deployer" / "node_modules"
OSLS = NODE_MODULES / "osls" / "bin" / "serverless.js"
GROUPS = {"admin": "orders-dev-us-east-1-admin", "developer": "orders-dev-us-east-1-developer", "ci": "orders-dev-us-east-1-ci"}

# Refusals the CLI handles as designed: `remove` looks for the service's ECR repository and takes
# AccessDenied as "none" (osls lib/plugins/aws/lib/check-if-ecr-repository-exists.js:19-27;
# container images are outside what the groups support).
TOLERATED = {"ecr:DescribeRepositories"}


@pytest.fixture(scope="module", autouse=True)
def osls_installed():
    assert OSLS.exists(), "osls is missing: `make e2e` installs it (`make deployer`)"


class App:
    """A Serverless v3 service for orders/dev and the users who deploy it."""

    def __init__(self, path, proxy, keys, roles, deployment_role, stage="dev"):
        self.path, self.proxy, self.keys = path, proxy, keys
        self.deployment_role, self.stage = deployment_role, stage
        self.version = 0
        # The ownership tags every stage's service file sets (README, "Ownership tags").
        provider = {"name": "aws", "runtime": "nodejs20.x", "stage": stage, "region": "us-east-1",
                    "stackTags": stack_tags("orders", stage)}
        if deployment_role:
            provider["iam"] = {"deploymentRole": deployment_role}
        config = {
            "service": "orders", "frameworkVersion": "3", "provider": provider,
            "package": {"patterns": ["!node_modules/**", "!.serverless/**"]},
            "functions": {"api": {"handler": "handler.main", "role": roles["api"]}},
            "plugins": ["serverless-localstack"],
            "custom": {"localstack": {"stages": [stage], "host": "http://127.0.0.1", "edgePort": proxy.port}},
        }
        (path / "serverless.yml").write_text(json.dumps(config, indent=2))
        os.symlink(NODE_MODULES, path / "node_modules")
        self.change()

    def change(self):
        """A new version of the code, so that `deploy` has something to deploy."""
        self.version += 1
        (self.path / "handler.js").write_text(f"exports.main = async () => ({{version: {self.version}}});\n")

    def run(self, who, *args):
        # An IAM user's key pair, or a role session's (key, secret, session token), as
        # configure-aws-credentials exports them (AWS_SESSION_TOKEN; its src/helpers.ts).
        key, secret, *token = self.keys[who]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_SESSION_TOKEN": token[0]} if token else {})
        env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
                    "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off", "SLS_DEPRECATION_DISABLE": "*",
                    "SLS_INTERACTIVE_SETUP_DISABLE": "1", "HOME": str(self.path)})
        out = subprocess.run(["node", str(OSLS), *args, "--stage", self.stage], cwd=self.path, env=env,
                             capture_output=True, text=True, timeout=300)
        return out

    def ok(self, who, *args):
        before = len(self.proxy.refused())
        out = self.run(who, *args)
        window = self.proxy.refused()[before:]
        self.proxy.expect([d for d in window if d.action in TOLERATED])
        refused = [d for d in window if d.action not in TOLERATED]
        odd = self.proxy.unattributed + self.proxy.undecodable
        assert out.returncode == 0 and not refused and not odd, (
            f"{who}: serverless {' '.join(args)} failed (refused {refused}, unattributed or undecodable {odd}):\n"
            f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return out

    def refused(self, who, *args):
        before = len(self.proxy.refused())
        out = self.run(who, *args)
        refused = self.proxy.refused()[before:]
        assert out.returncode != 0 and refused, (f"{who} could run serverless {' '.join(args)}:\n{out.stdout[-3000:]}\n"
                                                 f"{out.stderr[-3000:]}\n{self.proxy.seen[-8:]}")
        self.proxy.expect(refused)  # provoked on purpose; what they were is asserted by the test
        return refused


@pytest.fixture(params=["role", "caller"])
def app(request, tmp_path, cfn, aws, iam, deployer_proxy):
    mode = request.param
    props = {"ServiceName": "orders", "Stage": "dev", "Functions": [{"Name": "api"}], "DeployWith": mode}
    a = cfn.create(props)
    assert a["Status"] == "SUCCESS", a
    snap = iam_snapshot(iam)
    keys, users = {}, {}
    for who, group in GROUPS.items():
        name = f"{who}-1"
        iam.create_user(UserName=name)
        iam.add_user_to_group(UserName=name, GroupName=group)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        keys[who] = (k["AccessKeyId"], k["SecretAccessKey"])
        users[k["AccessKeyId"]] = name
    proxy = deployer_proxy(users)
    roles = {"api": snap["roles"]["orders-dev-us-east-1-api"]["arn"]}
    deployment_role = a["Data"].get("DeploymentRoleArn")
    assert (deployment_role is not None) == (mode == "role")
    yield App(tmp_path, proxy, keys, roles, deployment_role)
    shutil.rmtree(tmp_path / ".serverless", ignore_errors=True)


def log_event(aws):
    """What `serverless logs` reads (the function never runs here)."""
    logs = aws.client("logs")
    group = "/aws/lambda/orders-dev-api"
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=f"2026/11/23/[$LATEST]{time.time_ns()}")
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][-1]["logStreamName"]
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello from orders"}])


def deployments(aws):
    s3 = aws.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("orders-dev-serverlessdeploymentbucket"))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="serverless/orders/dev/").get("Contents", [])]
    return sorted({k.split("/")[3].split("-")[0] for k in keys})


def test_osls_runs_each_groups_commands_and_is_refused_the_others(app, aws):
    # admin makes the stack; every group then deploys, deploys a function, reads.
    app.ok("admin", "deploy")
    for who in ("developer", "ci"):
        app.change()
        app.ok(who, "deploy")
        app.change()
        app.ok(who, "deploy", "function", "--function", "api")
        app.ok(who, "info")
        app.ok(who, "deploy", "list")
        app.ok(who, "deploy", "list", "functions")
    log_event(aws)
    app.ok("developer", "logs", "--function", "api")
    app.ok("developer", "metrics")
    # Back to the first deployment, by a developer.
    first = deployments(aws)[0]
    app.ok("developer", "rollback", "--timestamp", first)
    # What a group does not run is refused by IAM, not by the CLI.
    refused = app.refused("developer", "remove")
    assert {d.action for d in refused} - TOLERATED <= {"cloudformation:DeleteStack", "s3:ListBucketVersions", "s3:DeleteObjectVersion", "s3:DeleteObject"}
    assert {d.action for d in refused} - TOLERATED, "refused for what remove does, not only the ECR lookup"
    assert app.refused("ci", "logs", "--function", "api")
    app.ok("admin", "remove")
    # The stack writes the CLI made: with the deployment role, each named it and passed it to
    # CloudFormation; with the caller's rights, none named a role.
    writes = [d for d in app.proxy.decisions if d.action in ("cloudformation:CreateChangeSet", "cloudformation:DeleteStack") and d.allowed]
    assert len(writes) >= 5
    # CloudFormation read each template the CLI named by TemplateURL with the caller's rights.
    reads = [d for d in app.proxy.decisions if d.action == "s3:GetObject" and d.via == "cloudformation:CreateChangeSet"]
    assert reads and all(d.allowed and d.resource.endswith("/compiled-cloudformation-template.json") for d in reads)
    assert len(reads) >= 4, "every update after the first deploy named its template by URL"
    passes = [d for d in app.proxy.decisions if d.action == "iam:PassRole" and d.allowed]
    if app.deployment_role:
        assert all(d.context.get("cloudformation:RoleArn") == app.deployment_role for d in writes)
        assert {d.resource for d in passes} == {app.deployment_role}
    else:
        assert not any("cloudformation:RoleArn" in d.context for d in writes) and not passes
    stacks = aws.client("cloudformation").describe_stacks()["Stacks"]
    assert all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks if s["StackName"] == "orders-dev")
