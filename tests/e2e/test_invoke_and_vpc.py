"""Invoke permissions as their own thing, and VPC access scoped to the stage's subnets and security
groups: proven by evaluating the generated documents request by request (both directions), and end
to end through Create, Update (changed, removed, unchanged) and Delete."""
import json

import pytest

import iam_eval
from harness import ACCOUNT, iam_snapshot
from test_access import writes_of_last_request
from template_render import Rendered
from test_policies import group_docs

TEMPLATE = Rendered()
# What IAM knows of the deployment role when CloudFormation acts as it: its ownership tags.
DEPLOYER_TAGS = {"aws:PrincipalTag/serverless-access:service": "orders", "aws:PrincipalTag/serverless-access:stage": "dev",
                 "aws:PrincipalTag/serverless-access:prefix": "orders-dev"}


def deployment_role_docs(snap):
    (role,) = snap["deployment_roles"].values()
    return list(role["inline"].values())

R = "us-east-1"
SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-1a2b3c4d"]
SGS = ["sg-0a1b2c3d4e5f60718"]
API = "a1b2c3d4e5"
FN = f"arn:aws:lambda:{R}:{ACCOUNT}:function:orders-dev"
EC2 = f"arn:aws:ec2:{R}:{ACCOUNT}"
GROUP = "orders-dev-us-east-1-{}"
INVOKE_POLICY = "orders-dev-us-east-1-invoke"


def props(stage="dev", **over):
    p = {
        "ServiceName": "orders", "Stage": stage, "Groups": ["admin", "developer", "ci", "invoker"],
        "InvokeApis": [{"ApiId": API, "Stage": stage}],
        "Functions": [
            {"Name": "api", "Invoke": "true", "InvokeUrl": "true",
             "Vpc": {"SubnetIds": SUBNETS, "SecurityGroupIds": SGS}},
            {"Name": "worker", "Vpc": "true"},
            {"Name": "cron"},
        ],
    }
    p.update(over)
    return p


def allowed(docs, action, resource, ctx=None):
    return iam_eval.allowed(docs, action, resource, dict(ctx or {}, **{"aws:RequestedRegion": R}))


@pytest.fixture()
def snap(cfn, iam):
    a = cfn.create(props())
    assert a["Status"] == "SUCCESS", a
    return iam_snapshot(iam)


def test_an_invoker_may_invoke_the_marked_functions_urls_and_api_stages(snap):
    docs = group_docs(snap, GROUP.format("invoker"))
    for resource in (f"{FN}-api", f"{FN}-api:live", f"{FN}-api:7", f"{FN}-api:$LATEST"):
        assert allowed(docs, "lambda:InvokeFunction", resource), resource
    assert allowed(docs, "lambda:InvokeFunctionUrl", f"{FN}-api", {"lambda:FunctionUrlAuthType": "AWS_IAM"})
    assert allowed(docs, "execute-api:Invoke", f"arn:aws:execute-api:{R}:{ACCOUNT}:{API}/dev/GET/orders/42")


def test_an_invoker_may_invoke_nothing_else_and_never_deploy(snap):
    docs = group_docs(snap, GROUP.format("invoker"))
    for resource in (f"{FN}-worker", f"{FN}-cron", f"{FN}-apix", f"{FN}-ap",
                     f"arn:aws:lambda:{R}:{ACCOUNT}:function:orders-prod-api",
                     f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:orders-dev-api",
                     f"arn:aws:lambda:{R}:210987654321:function:orders-dev-api"):
        assert not allowed(docs, "lambda:InvokeFunction", resource), resource
    # A URL with no IAM authorization, or one whose auth type the request does not carry.
    assert not allowed(docs, "lambda:InvokeFunctionUrl", f"{FN}-api", {"lambda:FunctionUrlAuthType": "NONE"})
    assert not allowed(docs, "lambda:InvokeFunctionUrl", f"{FN}-api")
    assert not allowed(docs, "lambda:InvokeFunctionUrl", f"{FN}-worker", {"lambda:FunctionUrlAuthType": "AWS_IAM"})
    for resource in (f"arn:aws:execute-api:{R}:{ACCOUNT}:{API}/prod/GET/orders",
                     f"arn:aws:execute-api:{R}:{ACCOUNT}:z9y8x7w6v5/dev/GET/orders",
                     f"arn:aws:execute-api:us-west-2:{ACCOUNT}:{API}/dev/GET/orders"):
        assert not allowed(docs, "execute-api:Invoke", resource), resource
    stack = f"arn:aws:cloudformation:{R}:{ACCOUNT}:stack/orders-dev/x"
    for action, resource in (("lambda:UpdateFunctionCode", f"{FN}-api"), ("lambda:UpdateFunctionConfiguration", f"{FN}-api"),
                             ("lambda:GetFunction", f"{FN}-api"), ("lambda:AddPermission", f"{FN}-api"),
                             ("cloudformation:CreateChangeSet", stack), ("cloudformation:DescribeStacks", stack),
                             ("logs:FilterLogEvents", f"arn:aws:logs:{R}:{ACCOUNT}:log-group:/aws/lambda/orders-dev-api"),
                             ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x")):
        assert not allowed(docs, action, resource), action


def test_the_roles_network_rights_match_the_declared_subnets_and_security_groups_only(snap):
    api = [d for d in snap["roles"]["orders-dev-us-east-1-api"]["inline"].values()]
    eni = f"{EC2}:network-interface/eni-0123456789abcdef0"
    assert allowed(api, "ec2:CreateNetworkInterface", eni)
    for s in SUBNETS:
        assert allowed(api, "ec2:CreateNetworkInterface", f"{EC2}:subnet/{s}")
    assert allowed(api, "ec2:CreateNetworkInterface", f"{EC2}:security-group/{SGS[0]}")
    assert allowed(api, "ec2:DeleteNetworkInterface", eni)
    assert not allowed(api, "ec2:CreateNetworkInterface", f"{EC2}:subnet/subnet-99999999")
    assert not allowed(api, "ec2:CreateNetworkInterface", f"{EC2}:security-group/sg-99999999")
    assert not allowed(api, "ec2:CreateNetworkInterface", f"arn:aws:ec2:us-west-2:{ACCOUNT}:subnet/{SUBNETS[0]}")
    # The wide form keeps every subnet of the region; a function without Vpc has no network rights.
    worker = list(snap["roles"]["orders-dev-us-east-1-worker"]["inline"].values())
    assert allowed(worker, "ec2:CreateNetworkInterface", f"{EC2}:subnet/subnet-99999999")
    cron = list(snap["roles"]["orders-dev-us-east-1-cron"]["inline"].values())
    assert not allowed(cron, "ec2:CreateNetworkInterface", eni)


@pytest.mark.parametrize("deployer", ["admin", "developer", "ci", "deployment role"])
def test_deployers_configure_a_scoped_function_only_with_its_declared_subnets_and_security_groups(snap, deployer):
    # The deployment role creates and reconfigures functions (CloudFormation); the groups
    # reconfigure them only directly (`deploy function`), and never create one.
    if deployer == "deployment role":
        docs, boundary = deployment_role_docs(snap), [TEMPLATE.deployment_boundary_document()]
        actions = ("lambda:CreateFunction", "lambda:UpdateFunctionConfiguration")
    else:
        docs, boundary = group_docs(snap, GROUP.format(deployer)), None
        actions = ("lambda:UpdateFunctionConfiguration",)
        assert not allowed(docs, "lambda:CreateFunction", f"{FN}-api")

    def may(action, resource, ctx=None):
        full = dict(ctx or {}, **{"aws:RequestedRegion": R}, **DEPLOYER_TAGS)
        return iam_eval.allowed(docs, action, resource, full, boundary)

    declared = {"lambda:SubnetIds": SUBNETS, "lambda:SecurityGroupIds": SGS}
    for action in actions:
        assert may(action, f"{FN}-api", declared), action
        assert may(action, f"{FN}-api", {"lambda:SubnetIds": SUBNETS[:1], "lambda:SecurityGroupIds": SGS})
        assert may(action, f"{FN}-api"), "a request without a VPC configuration"
        for ctx in ({"lambda:SubnetIds": [*SUBNETS, "subnet-99999999"], "lambda:SecurityGroupIds": SGS},
                    {"lambda:SubnetIds": ["subnet-99999999"], "lambda:SecurityGroupIds": SGS},
                    {"lambda:SubnetIds": SUBNETS, "lambda:SecurityGroupIds": ["sg-99999999"]},
                    {"lambda:SubnetIds": SUBNETS, "lambda:SecurityGroupIds": [*SGS, "sg-99999999"]}):
            assert not may(action, f"{FN}-api", ctx), (action, ctx)
        # The wide form leaves the choice to the deployer.
        assert may(action, f"{FN}-worker", {"lambda:SubnetIds": ["subnet-99999999"], "lambda:SecurityGroupIds": ["sg-99999999"]})


def test_invoke_marks_and_scoped_vpc_through_create_update_and_delete(cfn, iam, log_dir):
    p = props()
    a = cfn.create(p)
    assert a["Status"] == "SUCCESS", a
    snap = iam_snapshot(iam)
    invoke = snap["policies"][INVOKE_POLICY]
    assert a["Data"]["InvokePolicyArn"] == invoke["arn"]
    assert a["Data"]["InvokerGroupName"] == GROUP.format("invoker")
    assert snap["groups"][GROUP.format("invoker")]["attached"] == [invoke["arn"]]
    assert snap["groups"][GROUP.format("invoker")]["inline"] == {}
    first = iam.get_policy(PolicyArn=invoke["arn"])["Policy"]

    # Changed: another function marked, another subnet; the policy gets a new version, not a new policy.
    changed = props()
    changed["Functions"][2]["Invoke"] = "true"
    changed["Functions"][0]["Vpc"] = {"SubnetIds": SUBNETS[:1], "SecurityGroupIds": SGS}
    b = cfn.update(a["PhysicalResourceId"], changed, p)
    assert b["Status"] == "SUCCESS", b
    snap = iam_snapshot(iam)
    again = iam.get_policy(PolicyArn=invoke["arn"])["Policy"]
    assert again["PolicyId"] == first["PolicyId"] and again["DefaultVersionId"] != first["DefaultVersionId"]
    docs = group_docs(snap, GROUP.format("invoker"))
    assert allowed(docs, "lambda:InvokeFunction", f"{FN}-cron")
    api_role = list(snap["roles"]["orders-dev-us-east-1-api"]["inline"].values())
    assert not allowed(api_role, "ec2:CreateNetworkInterface", f"{EC2}:subnet/{SUBNETS[1]}")
    deploy = group_docs(snap, GROUP.format("ci"))
    assert not allowed(deploy, "lambda:UpdateFunctionConfiguration", f"{FN}-api",
                       {"lambda:SubnetIds": SUBNETS, "lambda:SecurityGroupIds": SGS})

    # Unchanged: no write at all.
    ev = cfn.event("Update", changed, physical_id=a["PhysicalResourceId"], old_props=changed)
    assert cfn.send(ev)["Status"] == "SUCCESS"
    assert writes_of_last_request(log_dir, ev["RequestId"]) == 0

    # Removed: the last mark and the API stages gone, the policy, the invoker group and the
    # attribute go with them (invoker may stay listed in Groups).
    removed = props(InvokeApis=[], Functions=[{"Name": "api", "Vpc": "true"}, {"Name": "worker"}, {"Name": "cron"}])
    c = cfn.update(a["PhysicalResourceId"], removed, changed)
    assert c["Status"] == "SUCCESS", c
    snap = iam_snapshot(iam)
    assert INVOKE_POLICY not in snap["policies"]
    assert GROUP.format("invoker") not in snap["groups"]
    assert "InvokePolicyArn" not in c["Data"] and "InvokerGroupName" not in c["Data"]
    assert sorted(snap["groups"]) == [GROUP.format(k) for k in ("admin", "ci", "developer")]
    sids = [st["Sid"] for st in deployment_role_docs(snap)[0]["Statement"]]
    assert not [s for s in sids if s.startswith(("DenyOtherSubnets", "DenyOtherSecurityGroups"))], "no scoped function left, no VPC Deny"
    sids = [st["Sid"] for st in snap["policies"]["orders-dev-us-east-1-deploy-functions"]["document"]["Statement"]]
    assert not [s for s in sids if s.startswith(("DenyOtherSubnets", "DenyOtherSecurityGroups"))], "no scoped function left, no VPC Deny"

    assert cfn.delete(a["PhysicalResourceId"], removed)["Status"] == "SUCCESS"
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_an_invoke_policy_a_consumer_attached_is_never_detached_and_blocks_its_removal(cfn, iam):
    # Consumers attach the invoke policy to their own roles; the provider never touches them, so
    # removing the last mark fails naming the consumer until they detach it.
    p = props()
    a = cfn.create(p)
    assert a["Status"] == "SUCCESS", a
    iam.create_role(RoleName="billing-caller", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName="billing-caller", PolicyArn=a["Data"]["InvokePolicyArn"])
    removed = props(InvokeApis=[], Functions=[{"Name": "api"}, {"Name": "worker"}, {"Name": "cron"}])
    b = cfn.update(a["PhysicalResourceId"], removed, p)
    assert b["Status"] == "FAILED" and "billing-caller" in b["Reason"], b
    attached = iam.list_attached_role_policies(RoleName="billing-caller")["AttachedPolicies"]
    assert [x["PolicyArn"] for x in attached] == [a["Data"]["InvokePolicyArn"]]
    iam.detach_role_policy(RoleName="billing-caller", PolicyArn=a["Data"]["InvokePolicyArn"])
    iam.delete_role(RoleName="billing-caller")
    assert cfn.update(a["PhysicalResourceId"], removed, p)["Status"] == "SUCCESS"
    assert cfn.delete(a["PhysicalResourceId"], removed)["Status"] == "SUCCESS"
