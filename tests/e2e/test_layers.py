"""Layers (issue 19): the stage's functions may use its own `{service}-{stage}-*` layers and the exact versions
the stack names in `Layers`, nothing else, and whoever creates or updates them reads only those. Lambda
checks `lambda:GetLayerVersion` of every layer a function names with the caller's rights (Lambda developer
guide, permissions-user-layer: CloudFormation's caller is the deployment role, or the groups with
DeployWith caller; `deploy function`'s is the group), so a function with a layer is made when the caller
may both CreateFunction/UpdateFunctionConfiguration (with `lambda:Layer`) and GetLayerVersion each layer.
In role mode a `lambda:Layer` Deny repeats the fence on its own (the caller-mode deploy policies have no
room for it). Evaluated request by request, both directions, with the rendered DeploymentBoundary on the
deployment role.
"""
import pytest

import iam_eval
from harness import ACCOUNT, iam_snapshot
from template_render import Rendered

R = "us-east-1"
# AWS's Lambda Insights extension: a layer of an AWS account that its owner shares with every account.
INSIGHTS = f"arn:aws:lambda:{R}:580247275435:layer:LambdaInsightsExtension:53"
OWN = f"arn:aws:lambda:{R}:{ACCOUNT}:layer:orders-dev-deps:3"
# Another service's layer of this account, shared by its owner team.
SHARED = f"arn:aws:lambda:{R}:{ACCOUNT}:layer:billing-shared:4"
FOREIGN = {
    "another stage's layer": f"arn:aws:lambda:{R}:{ACCOUNT}:layer:orders-prod-deps:3",
    "a stage sharing the prefix": f"arn:aws:lambda:{R}:{ACCOUNT}:layer:orders-dev2-deps:3",
    "a nesting service's layer": f"arn:aws:lambda:{R}:{ACCOUNT}:layer:orders-api-dev-deps:3",
    "another version of a listed layer": f"arn:aws:lambda:{R}:580247275435:layer:LambdaInsightsExtension:54",
    "another account's unlisted layer": f"arn:aws:lambda:{R}:999988887777:layer:vendor-extension:1",
    "another service's unlisted layer": f"arn:aws:lambda:{R}:{ACCOUNT}:layer:billing-shared:5",
    "another region's copy": f"arn:aws:lambda:eu-west-1:580247275435:layer:LambdaInsightsExtension:53",
}
FUNCTION = f"arn:aws:lambda:{R}:{ACCOUNT}:function:orders-dev-api"
TEMPLATE = Rendered()


def props(key_arn, mode, layers):
    p = {"ServiceName": "orders", "Stage": "dev", "KmsKeyArn": key_arn, "DeployWith": mode,
         "Functions": [{"Name": "api"}], "Groups": ["admin", "developer", "ci"]}
    if layers is not None:
        p["Layers"] = layers
    return p


def principals(snap, mode):
    """Who creates or updates the stage's functions, with the actions each does: the deployment role
    (CloudFormation, role mode) or the groups (CloudFormation with the caller's rights), and the
    groups' `deploy function` (UpdateFunctionConfiguration) in role mode."""
    out = {}
    for name, g in snap["groups"].items():
        docs = list(g["inline"].values()) + [p["document"] for p in snap["policies"].values() if p["arn"] in g["attached"]]
        actions = ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"] if mode == "caller" else \
            ["lambda:UpdateFunctionConfiguration"]
        out[f"group {name}"] = (docs, None, actions, {}, mode == "role")
    for name, r in snap["deployment_roles"].items():
        out[f"deployment role {name}"] = (list(r["inline"].values()), [TEMPLATE.deployment_boundary_document()],
                                          ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"],
                                          {f"aws:PrincipalTag/{k}": v for k, v in r["tags"].items()}, True)
    assert len(out) == (4 if mode == "role" else 3), sorted(out)
    return out


def may(who, action, resource, ctx=None):
    docs, boundary, _, tags, _ = who
    # Every request carries the resource owner's account, as AWS's do.
    owner = {"aws:ResourceAccount": resource.split(":")[4]} if resource.startswith("arn:") else {}
    return iam_eval.allowed(docs, action, resource, dict({"aws:RequestedRegion": R}, **owner, **tags, **(ctx or {})), boundary)


def uses(who, action, layers):
    """What Lambda allows: the action with `lambda:Layer`, and GetLayerVersion of each layer."""
    ctx = {} if layers is None else {"lambda:Layer": layers}
    return may(who, action, FUNCTION, ctx) and all(may(who, "lambda:GetLayerVersion", layer) for layer in layers or [])


@pytest.fixture(params=["role", "caller"])
def listed(request, cfn, iam, key_arn):
    assert cfn.create(props(key_arn, request.param, [INSIGHTS, SHARED]))["Status"] == "SUCCESS"
    return request.param, principals(iam_snapshot(iam), request.param)


def test_a_stage_reads_and_uses_its_own_layers_and_the_listed_versions(listed):
    mode, who = listed
    for name, w in who.items():
        actions = w[2]
        for layer in (OWN, INSIGHTS, SHARED):
            assert may(w, "lambda:GetLayerVersion", layer), f"{name} ({mode}) cannot read {layer}"
        for action in actions:
            for layers in ([OWN], [INSIGHTS], [SHARED], [OWN, INSIGHTS, SHARED], None):
                assert uses(w, action, layers), f"{name} ({mode}) cannot {action} with {layers}"


def test_no_other_layer_is_read_or_put_into_a_function(listed):
    mode, who = listed
    for name, w in who.items():
        actions = w[2]
        for what, layer in FOREIGN.items():
            assert not may(w, "lambda:GetLayerVersion", layer), f"{name} ({mode}) reads {what}"
            for action in actions:
                # One foreign layer among allowed ones is enough to refuse the whole request.
                layers = [OWN, INSIGHTS, SHARED, layer]
                assert not uses(w, action, layers), f"{name} ({mode}) may {action} with {what}"
                if w[4]:  # the lambda:Layer Deny holds on its own
                    assert not may(w, action, FUNCTION, {"lambda:Layer": layers}), f"{name}: no fence on {what}"


@pytest.mark.parametrize("mode", ["role", "caller"])
def test_without_layers_listed_only_the_stages_own_are_usable(cfn, iam, key_arn, mode):
    assert cfn.create(props(key_arn, mode, None))["Status"] == "SUCCESS"
    for name, w in principals(iam_snapshot(iam), mode).items():
        actions = w[2]
        assert may(w, "lambda:GetLayerVersion", OWN), name
        assert not may(w, "lambda:GetLayerVersion", INSIGHTS), name
        for action in actions:
            assert not uses(w, action, [INSIGHTS]), f"{name}: {action}"


@pytest.mark.no_aws_calls  # refused before any AWS call: the proxy must see none
@pytest.mark.parametrize("layer, reason", [
    (FOREIGN["another stage's layer"], "another stage's layer"),
    (f"arn:aws:lambda:{R}:580247275435:layer:LambdaInsightsExtension:*", "an exact layer version"),
    (FOREIGN["another region's copy"], "of the function's region only"),
])
def test_a_layer_the_stage_may_not_name_fails_the_request_before_any_aws_call(cfn, layer, reason):
    answer = cfn.create(props("arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "role",
                              [layer]))
    assert answer["Status"] == "FAILED" and reason in answer["Reason"], answer
