"""Attacks on the stage's APIs and event source mappings, whose ids are random: they are the
stage's by their ownership tags (`serverless-access:service`, `serverless-access:stage`, set from
the stack's tags, `provider.stackTags`), evaluated request by request with the IAM evaluator on
what CloudFormation acts as: the deployment role under its boundary (`DeployWith: role`) and each
deploying group (`caller`). Both directions: the stage's own tagged resources stay writable, what
an attacker tries is denied. The isolation enumeration proves the same over the whole catalog."""
import pytest

from cfn_handler_permissions import creating, existing, stack_tags
from harness import ACCOUNT, REGION
from iam_eval import allowed
from test_attacks import group_docs, plan, template  # noqa: F401 (template: the rendered provider template)

PROPS = {"ServiceName": "orders", "Stage": "dev", "Functions": [{"Name": "api"}],
         "Groups": ["admin", "developer", "ci"]}
API = f"arn:aws:apigateway:{REGION}::"
MAPPING = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:0f0f0f0f-1111-2222-3333-444444444444"
OWN_FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api"
OWN = stack_tags("orders", "dev")
FOREIGN = {"another stage": stack_tags("orders", "prod"), "a stage sharing the prefix": stack_tags("orders", "dev2"),
           "a service whose name nests": stack_tags("orders-api", "dev"), "another service": stack_tags("billing", "dev")}


@pytest.fixture(scope="module", params=["role", "caller"])
def deployers(request, template, tmp_path_factory):
    """(name, may) for whoever CloudFormation acts as; `may(action, resource, ctx)`."""
    p = plan(dict(PROPS, DeployWith=request.param), template, tmp_path_factory.mktemp("plan"))
    if request.param == "role":
        (role,) = [r for r in p["roles"] if r["kind"] == "deployment"]
        docs = list(role["inline"].values())
        tags = {f"aws:PrincipalTag/{k}": v for k, v in role["tags"].items()}
        boundary = [template.deployment_boundary_document()]
        return [("deployment role", lambda a, r, c: allowed(docs, a, r, dict(c, **tags), boundary))]
    return [(kind, lambda a, r, c, docs=group_docs(p, kind): allowed(docs, a, r, c)) for kind in ("admin", "developer", "ci")]


# What CloudFormation does for the stage's own APIs and mappings, with the stack's tags.
OWN_CALLS = [
    ("apigateway:POST", f"{API}/restapis", creating(OWN)),
    ("apigateway:POST", f"{API}/apis", creating(OWN)),
    ("apigateway:POST", f"{API}/restapis/a1b2c3d4e5/stages", dict(existing(OWN), **creating(OWN))),
    ("apigateway:PATCH", f"{API}/restapis/a1b2c3d4e5/stages/dev", existing(OWN)),
    ("apigateway:PATCH", f"{API}/restapis/a1b2c3d4e5/stages/dev",
     dict(existing(OWN), **{"apigateway:Request/AccessLoggingDestination":
                            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/api-gateway/orders-dev"})),
    ("apigateway:PUT", f"{API}/restapis/a1b2c3d4e5/resources/r1/methods/GET", existing(OWN)),
    ("apigateway:DELETE", f"{API}/apis/a1b2c3d4e5/routes/r1", existing(OWN)),
    ("apigateway:GET", f"{API}/restapis/a1b2c3d4e5", existing(OWN)),
    ("apigateway:PUT", f"{API}/tags/x", dict(existing(OWN), **creating(OWN))),  # a stack-tag change
    ("apigateway:DELETE", f"{API}/tags/x", dict(existing(OWN), **{"aws:TagKeys": ["team"]})),
    ("lambda:CreateEventSourceMapping", "*", dict(creating(OWN), **{"lambda:FunctionArn": OWN_FN})),
    ("lambda:TagResource", MAPPING, creating(OWN)),  # tag on create
    ("lambda:UpdateEventSourceMapping", MAPPING, dict(existing(OWN), **{"lambda:FunctionArn": OWN_FN})),
    ("lambda:DeleteEventSourceMapping", MAPPING, dict(existing(OWN), **{"lambda:FunctionArn": OWN_FN})),
]


def test_positive_control_the_stages_own_tagged_apis_and_mappings_stay_writable(deployers):
    for name, may in deployers:
        refused = [(a, r, c) for a, r, c in OWN_CALLS if not may(a, r, c)]
        assert not refused, f"{name} cannot: {refused}"


def test_attack_another_stages_or_services_api_with_its_tags_is_denied(deployers):
    for name, may in deployers:
        for who, tags in FOREIGN.items():
            for action in ("apigateway:GET", "apigateway:PATCH", "apigateway:PUT", "apigateway:POST", "apigateway:DELETE"):
                for path in ("/restapis/f0f0f0f0f0", "/restapis/f0f0f0f0f0/resources/r1/methods/GET",
                             "/apis/f0f0f0f0f0/routes/r1", "/restapis/f0f0f0f0f0/stages/prod"):
                    # Even when the request claims this stage's tags for what it sets.
                    for ctx in (existing(tags), dict(existing(tags), **creating(OWN))):
                        assert not may(action, API + path, ctx), (name, who, action, path)


def test_attack_an_untagged_api_is_denied(deployers):
    """An API nobody tagged (made before the stack had its tags, or by anyone else) is nobody's."""
    for name, may in deployers:
        for action in ("apigateway:GET", "apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE", "apigateway:POST"):
            for ctx in ({}, creating(OWN)):
                assert not may(action, f"{API}/restapis/f0f0f0f0f0/stages/prod", ctx), (name, action)


def test_attack_creating_an_api_or_mapping_tagged_for_another_stage_or_untagged_is_denied(deployers):
    for name, may in deployers:
        for collection in ("/restapis", "/apis"):
            assert not may("apigateway:POST", API + collection, {}), (name, collection, "untagged")
            assert not may("apigateway:POST", API + collection, creating({"serverless-access:service": "orders"}))
            for who, tags in FOREIGN.items():
                assert not may("apigateway:POST", API + collection, creating(tags)), (name, collection, who)
        fn = {"lambda:FunctionArn": OWN_FN}
        assert not may("lambda:CreateEventSourceMapping", "*", fn), (name, "untagged mapping")
        for who, tags in FOREIGN.items():
            assert not may("lambda:CreateEventSourceMapping", "*", dict(creating(tags), **fn)), (name, who)
            assert not may("lambda:TagResource", MAPPING, creating(tags)), (name, "tag on create", who)


def test_attack_retagging_the_own_api_or_mapping_to_another_stage_or_removing_the_tag_is_denied(deployers):
    for name, may in deployers:
        for who, tags in FOREIGN.items():
            foreign_values = dict(existing(OWN), **creating(tags))
            for action in ("apigateway:PUT", "apigateway:POST", "apigateway:PATCH"):
                assert not may(action, f"{API}/tags/x", foreign_values), (name, action, who)
            # A stage of the own API created tagged as another stage's.
            assert not may("apigateway:POST", f"{API}/restapis/a1b2c3d4e5/stages", foreign_values), (name, who)
            assert not may("lambda:TagResource", MAPPING, foreign_values), (name, who)
        for key in OWN:
            untag = dict(existing(OWN), **{"aws:TagKeys": [key]})
            assert not may("apigateway:DELETE", f"{API}/tags/x", untag), (name, key)
            assert not may("apigateway:DELETE", f"{API}/tags/x", dict(untag, **{"aws:TagKeys": ["team", key]})), name
            assert not may("lambda:UntagResource", MAPPING, untag), (name, key)


def test_attack_another_stages_mapping_is_neither_moved_nor_claimed(deployers):
    """UpdateEventSourceMapping names the function: naming this stage's on another stage's mapping
    would move that stage's queue or stream here. The mapping's tags refuse it, and tagging that
    mapping as this stage's is refused too."""
    for name, may in deployers:
        for who, tags in FOREIGN.items():
            for action in ("lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping"):
                assert not may(action, MAPPING, dict(existing(tags), **{"lambda:FunctionArn": OWN_FN})), (name, action, who)
            assert not may("lambda:TagResource", MAPPING, dict(existing(tags), **creating(OWN))), (name, who)
            assert not may("lambda:ListTags", MAPPING, existing(tags)), (name, who)
        # The own mapping is not moved to another stage's function either.
        other_fn = {"lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-api"}
        assert not may("lambda:UpdateEventSourceMapping", MAPPING, dict(existing(OWN), **other_fn)), name


def test_attack_access_logs_go_to_the_stages_log_groups_only(deployers):
    for name, may in deployers:
        for group in ("/aws/api-gateway/orders-prod", "/aws/api-gateway/orders-dev2", "/aws/lambda/orders-prod-api",
                      "/aws/api-gateway/orders-dev/../x", "audit"):
            ctx = dict(existing(OWN), **{"apigateway:Request/AccessLoggingDestination":
                                         f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"})
            assert not may("apigateway:PATCH", f"{API}/restapis/a1b2c3d4e5/stages/dev", ctx), (name, group)
        other_account = dict(existing(OWN), **{"apigateway:Request/AccessLoggingDestination":
                                               f"arn:aws:logs:{REGION}:210987654321:log-group:/aws/api-gateway/orders-dev"})
        assert not may("apigateway:PATCH", f"{API}/restapis/a1b2c3d4e5/stages/dev", other_account), name


def test_attack_account_level_api_gateway_settings_are_denied(deployers):
    """The account's CloudWatch role, API keys, usage plans, custom domains, VPC links: none is a
    stage's, and no deploy of the groups needs them."""
    for name, may in deployers:
        for action, path in (("apigateway:PATCH", "/account"), ("apigateway:POST", "/apikeys"),
                             ("apigateway:POST", "/usageplans"), ("apigateway:POST", "/domainnames"),
                             ("apigateway:POST", "/vpclinks"),
                             ("apigateway:UpdateRestApiPolicy", "/restapis/a1b2c3d4e5")):
            for ctx in ({}, creating(OWN)):
                assert not may(action, API + path, ctx), (name, action, path)
        # An API's resource policy is a permission writer: not even on the stage's own API.
        assert not may("apigateway:UpdateRestApiPolicy", f"{API}/restapis/a1b2c3d4e5", existing(OWN)), name
