"""What a stage may do to the account as a whole (issue 19), decided and pinned.

- **The default event bus.** A stage's rule there receives every event of the account its pattern
  matches, and CloudTrail delivers every principal's API calls to it (detail-type `AWS API Call via
  CloudTrail`, source `aws.{service}`: EventBridge user guide, eb-service-event-cloudtrail). Decision:
  the stage's rules may not name a CloudTrail detail-type, nor an AWS source without a detail-type
  (which matches that service's CloudTrail records too); `events:detail-type` and `events:source`
  are the pattern's values (eb-use-conditions). What IAM cannot see (a pattern naming neither, e.g. a
  content filter on `detail` alone) remains, written in the README.
- **Concurrency.** Reserved and provisioned concurrency come from the account's pool; IAM has no
  condition key on the amount (the catalog below), so a stage may reserve its own functions' share
  and so shrink the unreserved pool others use. Decision: only on the stage's own functions (as the
  enumeration proves); the amount is the account's quota and alarms' business (README). If AWS adds a
  key on the amount, the catalog test fails and the decision is to be revisited.

Evaluated on the documents `plan` generates, for every principal that creates rules or sets
concurrency: the deployment role under the rendered DeploymentBoundary (its principal tags in the
context) and the groups with DeployWith caller.
"""
import pytest

import iam_eval
from harness import ACCOUNT, REGION
from test_isolation_enumeration import TEMPLATE, base_props, catalog, run_plan  # noqa: F401 (catalog: fixture)

RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-nightly"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api"
OTHER_STAGES_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-api"


@pytest.fixture(scope="module")
def rule_makers(tmp_path_factory):
    """{name: (identity documents, boundary documents, principal tags)} of whoever creates the stage's rules."""
    out = {}
    for mode in ("role", "caller"):
        rc, plan = run_plan(base_props(mode, False), tmp_path_factory.mktemp(mode))
        assert rc == 0, plan
        if mode == "role":
            (r,) = [r for r in plan["roles"] if r["kind"] == "deployment"]
            out["deployment role"] = (list(r["inline"].values()), [TEMPLATE.deployment_boundary_document()],
                                      {f"aws:PrincipalTag/{k}": v for k, v in r["tags"].items()})
        else:
            managed = {m["arn"]: m["document"] for m in plan["managedPolicies"]}
            for g in plan["groups"]:
                if g["attached"] and not g["name"].endswith("-invoker"):
                    out[f"group {g['name']} (caller)"] = (
                        list(g["inline"].values()) + [managed[a] for a in g["attached"]], None, {})
    assert len(out) == 4, sorted(out)
    return out


def may(who, action, resource, ctx):
    docs, boundary, tags = who
    return iam_eval.allowed(docs, action, resource, {"aws:RequestedRegion": REGION, **tags, **ctx}, boundary)


@pytest.mark.parametrize("pattern", [
    {"events:detail-type": ["AWS API Call via CloudTrail"]},
    {"events:source": ["aws.iam"], "events:detail-type": ["AWS API Call via CloudTrail"]},
    {"events:detail-type": ["Object Created", "AWS Console Signin via CloudTrail"]},
    {"events:source": ["aws.iam"]},
    {"events:source": ["myapp.orders", "aws.sts"]},
], ids=["cloudtrail api calls", "a service's api calls", "a sign-in among others", "an aws source of any type",
        "an aws source among own ones"])
def test_no_stage_rule_reads_the_accounts_api_calls(rule_makers, pattern):
    for name, who in rule_makers.items():
        assert not may(who, "events:PutRule", RULE, pattern), f"{name} may create a rule on {pattern}"


@pytest.mark.parametrize("pattern", [
    {},  # a schedule: no pattern
    {"events:source": ["myapp.orders"]},
    {"events:source": ["aws.s3"], "events:detail-type": ["Object Created"]},
    {"events:source": ["aws.ec2"], "events:detail-type": ["EC2 Instance State-change Notification"]},
], ids=["schedule", "own source", "s3 notifications", "ec2 state changes"])
def test_the_stage_makes_schedules_and_rules_on_named_event_types(rule_makers, pattern):
    for name, who in rule_makers.items():
        assert may(who, "events:PutRule", RULE, pattern), f"{name} cannot create a rule on {pattern}"


def test_the_catalog_still_offers_the_keys_the_rule_fence_relies_on(catalog):
    keys = {k.lower() for k in catalog.actions["events:PutRule"]["keys"]}
    assert {"events:detail-type", "events:source"} <= keys, keys


# Every condition key the catalog gives these actions and their resource types today: the function's
# tags, none on the amount of concurrency. A new one fails here, and the decision is to be revisited.
FUNCTION_TAGS = {"aws:resourcetag/${tagkey}"}
CONCURRENCY_KEYS = {"lambda:PutFunctionConcurrency": FUNCTION_TAGS,
                    "lambda:PutProvisionedConcurrencyConfig": FUNCTION_TAGS,
                    "lambda:DeleteFunctionConcurrency": FUNCTION_TAGS}


def test_concurrency_has_no_key_on_the_amount_so_only_the_stages_own_functions_are_fenced(catalog, rule_makers):
    for action, known in CONCURRENCY_KEYS.items():
        a = catalog.actions[action]
        keys = {k.lower() for k in a["keys"]} | {k.lower() for rt in a["rtypes"] for k in rt["keys"]}
        assert keys == known, f"{action} now carries {keys - known}: can the amount be limited?"
    for name, who in rule_makers.items():
        assert may(who, "lambda:PutFunctionConcurrency", FUNCTION, {}), name
        assert not may(who, "lambda:PutFunctionConcurrency", OTHER_STAGES_FUNCTION, {}), name
